# A shell job on the caller's terminal: sys_read_pipe runs as the
# foreground job of a shell stand-in (a session leader on a pty, the job in
# a process group of its own, its stdin the terminal, whose master is
# outside the tree), blocked in read().  Checkpointed with --kill, then
# restarted by `ckpt restart` (not detached) run as the foreground job of
# the same session: the restored process, in its own group again, is given
# the terminal's foreground (else it would stop with SIGTTIN), reads the
# line typed there, and ckpt restart exits 0 and has the foreground back.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
need_file "$BUILD/tests/state/sys_read_pipe"
python3 - "$CKPT" "$BUILD/tests/state/sys_read_pipe" "$case_dir" <<'EOF' || exit 1
import fcntl, os, pty, select, signal, subprocess, sys, termios, time

ckpt, program, scratch = sys.argv[1:4]
READ_SYSCALL = 0


def fail(message):
    print(message)
    sys.exit(1)


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
    fail("process %d never blocked in read() (state %s)" % (pid, state_of(pid)))


def state_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


master, slave = pty.openpty()
leader_ready, leader_ready_w = os.pipe()
commands_r, commands_w = os.pipe()
results_r, results_w = os.pipe()
leader = os.fork()
if leader == 0:
    # The shell stand-in: a session on the slave; runs each command line as a
    # foreground job in a group of its own, reports "PID" then "STATUS".
    for unused in (commands_w, results_r, leader_ready, master):
        os.close(unused)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    os.write(leader_ready_w, b"x")
    for line in os.fdopen(commands_r):
        argv = line.split()
        out_r, out_w = os.pipe()
        job = os.fork()
        if job == 0:
            os.setpgid(0, 0)
            os.tcsetpgrp(slave, os.getpid())
            signal.signal(signal.SIGTTOU, signal.SIG_DFL)
            os.dup2(slave, 0)
            os.dup2(out_w, 1)
            os.closerange(3, 256)
            os.execv(argv[0], argv)
        os.setpgid(job, job)
        os.close(out_w)
        os.write(results_w, b"%d %d\n" % (job, out_r))
        _, status = os.waitpid(job, os.WUNTRACED)
        os.tcsetpgrp(slave, os.getpgrp())
        os.write(results_w, b"status %d\n" % status)
    os._exit(0)
os.read(leader_ready, 1)
results = os.fdopen(results_r, "rb", buffering=0)


def run_job(argv):
    os.write(commands_w, (" ".join(argv) + "\n").encode())
    pid, out = read_line(results.fileno(), "the job's pid").split()
    return int(pid), int(out)


def job_fd(out):
    return os.open("/proc/%d/fd/%d" % (leader, out), os.O_RDONLY)


target, out = run_job([program])
target_out = job_fd(out)
if read_line(target_out, "ready") != "ready":
    fail("the program did not say ready")
wait_in_read(target)
image = os.path.join(scratch, "image")
checkpoint = subprocess.run([ckpt, "checkpoint", "--kill", "-o", image, str(target)],
                            capture_output=True, text=True, timeout=60)
if checkpoint.returncode != 0:
    fail("checkpoint: %s" % checkpoint.stderr.strip())
read_line(results.fileno(), "the job's end")
os.close(target_out)

restart, out = run_job([ckpt, "restart", image])
restored_out = job_fd(out)
wait_in_read(target)
os.write(master, b"go\n")
verdict = read_line(restored_out, "the verdict of the restored program", 20)
status = read_line(results.fileno(), "ckpt restart's end", 20)
os.close(commands_w)
os.waitpid(leader, 0)
if verdict != "pass":
    fail("restored program: %s" % verdict)
if status != "status 0":
    fail("ckpt restart ended with %s" % status)
EOF
exit 0
