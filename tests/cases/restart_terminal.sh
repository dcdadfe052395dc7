# A process blocked in read() on its terminal: sys_read_pipe runs with a
# pseudo-terminal as stdin (its controlling terminal, in a session of its
# own, as under an interactive shell) and a pipe as stdout.  Checkpointed
# with --kill while it waits, restarted by `ckpt restart` (not detached)
# from another session on a new terminal, it takes that terminal over,
# stays in its foreground process group (no SIGTTIN), reads exactly the
# line typed there, and ckpt restart exits with its status 0.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
need_file "$BUILD/tests/state/sys_read_pipe"
python3 - "$CKPT" "$BUILD/tests/state/sys_read_pipe" "$case_dir" <<'EOF' || exit 1
import fcntl, os, pty, select, subprocess, sys, termios, time

ckpt, program, scratch = sys.argv[1:4]
READ_SYSCALL = 0


def fail(message):
    print(message)
    sys.exit(1)


def on_terminal(slave):
    """For preexec_fn: a session of its own, with slave as controlling terminal."""
    def become_session_leader():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    return become_session_leader


def read_line(fd, what, seconds=30):
    data = b""
    deadline = time.monotonic() + seconds
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            fail("timeout waiting for %s (got %r)" % (what, data))
        chunk = os.read(fd, 1)
        if not chunk:
            fail("end of output waiting for %s (got %r)" % (what, data))
        data += chunk
    return data.decode().rstrip("\n")


def wait_in_read(pid):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/syscall" % pid) as syscall:
                if syscall.read().split()[0] == str(READ_SYSCALL):
                    return
        except OSError:
            pass
        time.sleep(0.01)
    fail("the program never blocked in read()")


def start(argv, slave):
    out_read, out_write = os.pipe()
    child = subprocess.Popen(argv, stdin=slave, stdout=out_write, stderr=subprocess.PIPE,
                             preexec_fn=on_terminal(slave), close_fds=True)
    os.close(out_write)
    return child, out_read


master, slave = pty.openpty()
target, target_out = start([program], slave)
if read_line(target_out, "ready") != "ready":
    fail("the program did not say ready")
wait_in_read(target.pid)
image = os.path.join(scratch, "image")
checkpoint = subprocess.run([ckpt, "checkpoint", "--kill", "-o", image, str(target.pid)],
                            capture_output=True, text=True, timeout=60)
if checkpoint.returncode != 0:
    fail("checkpoint: %s" % checkpoint.stderr.strip())
target.wait(timeout=30)
os.close(slave)
os.close(master)

master, slave = pty.openpty()
restart, restored_out = start([ckpt, "restart", image], slave)
wait_in_read(target.pid)
os.write(master, b"go\n")
verdict = read_line(restored_out, "the verdict of the restored program")
try:
    status = restart.wait(timeout=30)
except subprocess.TimeoutExpired:
    restart.kill()
    fail("ckpt restart did not end after its process did: %s" % verdict)
if verdict != "pass":
    fail("restored program: %s" % verdict)
if status != 0:
    fail("ckpt restart exited %d: %s" % (status, restart.stderr.read().decode().strip()))
EOF
exit 0
