# Terminals ckpt cannot save: a pty slave above fd 2 whose master is
# outside the checkpointed tree; a master in packet mode with a status
# change (TIOCPKT_FLUSHWRITE) not yet read; a pty that is the controlling
# terminal of a session whose leader has exited (its other members live
# outside the tree).  Each checkpoint must refuse with one line naming the
# terminal, exit 1, write nothing, and leave the process running with its
# terminal as it was (the status byte still pending, the slave still
# talking to the master).
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/pty_holder
cat >"$program" <<'EOF'
#!/usr/bin/env python3
import fcntl, os, select, signal, sys, termios

how = sys.argv[1]
TIOCPKT = 0x5420


def outsider(keep):
    """A process outside the tree (a double fork) holding keep until killed."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        if os.fork() == 0:
            os.close(reader)
            os.write(writer, str(os.getpid()).encode())
            os.close(writer)
            keep()
            signal.pause()
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    pid = int(os.read(reader, 32))
    os.close(reader)
    return pid


master, slave = os.openpty()
helper = None
if how == "outside-master":
    helper = outsider(lambda: None)  # it keeps the master it inherited
    os.dup2(slave, 7)
    os.close(slave)
    os.close(master)
elif how == "packet-status":
    fcntl.ioctl(master, TIOCPKT, b"\1\0\0\0")
    termios.tcflush(slave, termios.TCOFLUSH)
elif how == "leader-gone":
    def lead():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    helper = outsider(lead)
print("ready", flush=True)
sys.stdin.readline()
verdict = "pass"
if how == "packet-status":
    if not select.select([], [], [master], 0)[2]:
        verdict = "fail: the status byte is gone"
elif how == "outside-master":
    os.write(7, b"x")
    slave = None
elif how == "leader-gone":
    os.write(slave, b"y")
    if os.read(master, 1) != b"y":
        verdict = "fail: the slave no longer talks to the master"
if helper:
    os.kill(helper, signal.SIGKILL)
print(verdict, flush=True)
EOF
chmod +x "$program"

expect_checkpoint_refused "pty" outside-master "fd 7 of process .* is terminal /dev/pts/[0-9]*, whose master is outside the checkpointed tree"
expect_checkpoint_refused "pty" packet-status "packet mode with a status change (TIOCPKT) not yet read"
expect_checkpoint_refused "pty" leader-gone "is the controlling terminal of session [0-9]*, whose leader is not a live process of the tree"
exit 0
