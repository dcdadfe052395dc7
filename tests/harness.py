#!/usr/bin/env python3
"""The ckpt test harness.

Runs, one at a time:
  * every state program (build/tests/state/*, build/tests/static/*) in the
    modes "restart" and "live", a few in "rounds" and "pipe" as well;
  * the real programs of tests/real/ (interpreters and `sleep 600`);
  * every executable in build/tests/unit/;
  * every tests/cases/*.sh.
Prints `PASS name (mode)`, `FAIL name (mode): reason` or `SKIP name (mode):
reason` per case and, last, `N passed, N failed, N skipped`.  Exits 1 if any
case failed.  tests/README.md describes the protocol.  Standard library only.
"""

import argparse
import ctypes
import fnmatch
import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS_DIR)
SKIP_LIST = os.path.join(TESTS_DIR, "skip.txt")

CASE_TIMEOUT = 60.0
REAP_TIMEOUT = 10.0
ROUND_COUNT = 5
DEFAULT_MODES = ("restart", "live")
EXTRA_MODES = {
    "rounds": ("mem_heap", "cpu_regs", "fd_regular", "sys_nanosleep", "sys_poll", "proc_prctl",
               "thread_prctl", "proc_seccomp", "proc_seccomp_strict", "proc_sched"),
    "pipe": ("mem_heap", "cpu_avx"),
}
ALL_MODES = ("restart", "live", "rounds", "pipe", "plain")
# Programs that drop privileges after the harness gave them a root-only
# stderr: root's image of them in a root-owned file is trusted; read from a
# pipe it needs --trust-image (else refused: their user cannot open that file).
TRUSTED_IMAGES = ("proc_creds", "proc_securebits")

PR_SET_CHILD_SUBREAPER = 36
EXIT_SKIP = 77

# Syscalls a restored `sleep 600` may be seen in: nanosleep, clock_nanosleep,
# restart_syscall.
SLEEP_SYSCALLS = (35, 230, 219)


class CaseFailure(Exception):
    """The case failed; the message is the reason printed after FAIL."""


class CaseSkipped(Exception):
    """The case cannot run here; the message is the reason printed after SKIP."""


# ---------------------------------------------------------------- helpers


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def remaining(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return self.remaining() <= 0.0


def say(line):
    """Prints one line at once; a reader that went away (| head) is not an error."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def describe_status(status):
    if os.WIFEXITED(status):
        return "exit status %d" % os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "signal %d" % number
        return "killed by %s" % name
    return "status %#x" % status


def set_child_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def read_proc(pid, name):
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as proc_file:
            return proc_file.read().decode(errors="replace")
    except OSError:
        return None


def parent_of(pid):
    stat = read_proc(pid, "stat")
    if stat is None:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[1])


def process_state(pid):
    stat = read_proc(pid, "stat")
    if stat is None:
        return None
    return stat[stat.rfind(")") + 2:].split()[0]


def tracer_of(pid):
    status = read_proc(pid, "status") or ""
    match = re.search(r"^TracerPid:\s*(\d+)", status, re.M)
    return int(match.group(1)) if match else 0


def wait_until(predicate, deadline, interval=0.01):
    """Polls a condition on /proc (no event exists for it) until the deadline."""
    while not predicate():
        if deadline.expired():
            return False
        time.sleep(interval)
    return True


def write_quietly(fd, data):
    try:
        os.write(fd, data)
    except OSError:
        pass


def close_quietly(fd):
    if fd is None:
        return
    try:
        os.close(fd)
    except OSError:
        pass


# ---------------------------------------------------------------- processes


class LineReader:
    """Reads lines from a pipe, never blocking past a deadline."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""

    def read_line(self, deadline, waiting_for):
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], deadline.remaining())
            if not ready:
                raise CaseFailure("timeout waiting for %s" % waiting_for)
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def close(self):
        close_quietly(self.fd)


class Target:
    """A process under test: its pid, the pipe to its stdin and from its stdout."""

    def __init__(self, pid, stdin_writer, stdout_reader, popen=None):
        self.pid = pid
        self.stdin_writer = stdin_writer
        self.stdout = stdout_reader
        self.popen = popen
        self.pidfd = None
        self.status = None
        try:
            self.pidfd = os.pidfd_open(pid)
        except OSError:
            self.pidfd = None

    def read_line(self, deadline, waiting_for):
        line = self.stdout.read_line(deadline, waiting_for)
        if line is None:
            raise CaseFailure("end of output while waiting for %s%s"
                              % (waiting_for, self.exit_note(deadline)))
        return line

    def exit_note(self, deadline):
        status = self.wait_exit(Deadline(min(2.0, deadline.remaining())), required=False)
        return "" if status is None else " (%s)" % describe_status(status)

    def send_go(self):
        if self.stdin_writer is not None:
            write_quietly(self.stdin_writer, b"go\n")
        try:
            os.kill(self.pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass

    def is_alive(self):
        state = process_state(self.pid)
        return state is not None and state not in ("Z", "X")

    def wait_exit(self, deadline, required=True):
        """Reaps the process; returns its wait status (None if it did not end)."""
        if self.status is not None:
            return self.status
        if self.pidfd is not None:
            ready, _, _ = select.select([self.pidfd], [], [], deadline.remaining())
            if not ready:
                if required:
                    raise CaseFailure("timeout waiting for pid %d to exit" % self.pid)
                return None
        return self.reap(deadline, required)

    def reap(self, deadline, required):
        try:
            while True:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid == self.pid:
                    self.status = status
                    break
                if deadline.expired():
                    if required:
                        raise CaseFailure("timeout waiting for pid %d to exit" % self.pid)
                    return None
                time.sleep(0.01)
        except ChildProcessError:
            if required:
                raise CaseFailure("pid %d ended but is not a child of the harness"
                                  % self.pid) from None
            return None
        if self.popen is not None:
            self.popen.returncode = self.status
        return self.status

    def kill(self):
        """SIGKILL, unless reaped already or not a child of ours (never a stranger)."""
        if self.status is None and parent_of(self.pid) == os.getpid():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self):
        close_quietly(self.stdin_writer)
        self.stdin_writer = None
        self.stdout.close()
        close_quietly(self.pidfd)
        self.pidfd = None


def start_target(argv, scratch, env=None):
    """Starts a program with stdin and stdout pipes; stderr goes to a file."""
    stdin_read, stdin_write = os.pipe()
    stdout_read, stdout_write = os.pipe()
    stderr_path = os.path.join(scratch, "stderr-%d" % time.monotonic_ns())
    with open(stderr_path, "wb") as stderr_file:
        popen = subprocess.Popen(argv, stdin=stdin_read, stdout=stdout_write,
                                 stderr=stderr_file, close_fds=True, cwd=ROOT, env=env)
    os.close(stdin_read)
    os.close(stdout_write)
    return Target(popen.pid, stdin_write, LineReader(stdout_read), popen)


# ---------------------------------------------------------------- ckpt


class Ckpt:
    """Runs the ckpt command; every failure becomes a CaseFailure with a reason."""

    def __init__(self, path, scratch):
        self.path = path
        self.scratch = scratch

    def require(self):
        if not os.path.isfile(self.path):
            raise CaseFailure("%s is missing (did the build fail?)" % self.path)
        if not os.access(self.path, os.X_OK):
            raise CaseFailure("%s is not executable" % self.path)

    def run(self, arguments, deadline, what):
        try:
            finished = subprocess.run([self.path] + arguments, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      timeout=deadline.remaining(), close_fds=True)
        except subprocess.TimeoutExpired:
            raise CaseFailure("ckpt %s timed out" % what) from None
        except OSError as error:
            raise CaseFailure("cannot run ckpt: %s" % error) from None
        if finished.returncode != 0:
            raise CaseFailure(ckpt_failure_reason(what, finished.stderr.decode(errors="replace"),
                                                  finished.returncode))
        return finished

    def checkpoint(self, target, image, deadline, kill):
        arguments = ["checkpoint"] + (["--kill"] if kill else []) + ["-o", image, str(target.pid)]
        self.run(arguments, deadline, "checkpoint" + (" --kill" if kill else ""))
        if not os.path.isfile(image) or os.path.getsize(image) == 0:
            raise CaseFailure("ckpt checkpoint succeeded but wrote no image")

    def restart_detached(self, image, deadline, expected_pid, from_pipe=False, trust=False,
                         extra_args=()):
        """Runs `ckpt restart --detach` with fresh pipes; returns the restored Target."""
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        reader = LineReader(stdout_read)
        try:
            self.run_restart(image, deadline, stdin_read, stdout_write, from_pipe, trust,
                             extra_args)
        except CaseFailure:
            close_quietly(stdin_write)
            reader.close()
            raise
        finally:
            close_quietly(stdin_read)
            close_quietly(stdout_write)
        if from_pipe:
            close_quietly(stdin_write)
            stdin_write = None
        pid = self.read_restored_pid(reader, deadline)
        target = Target(pid, stdin_write, reader)
        if pid != expected_pid:
            target.kill()
            raise CaseFailure("restored with pid %d, not the original %d" % (pid, expected_pid))
        check_running_untraced(target, "ckpt restart --detach")
        return target

    def run_restart(self, image, deadline, stdin_read, stdout_write, from_pipe, trust=False,
                    extra_args=()):
        stderr_path = os.path.join(self.scratch, "restart-stderr-%d" % time.monotonic_ns())
        with open(stderr_path, "wb") as stderr_file:
            if from_pipe:
                process = self.start_restart_from_pipe(image, stdout_write, stderr_file)
            else:
                process = subprocess.Popen([self.path, "restart", "--detach", image] +
                                           (["--trust-image"] if trust else []) + list(extra_args),
                                           stdin=stdin_read, stdout=stdout_write,
                                           stderr=stderr_file, close_fds=True)
            returncode = wait_popen(process, deadline, "ckpt restart --detach")
        with open(stderr_path, "rb") as stderr_file:
            stderr_text = stderr_file.read().decode(errors="replace")
        if returncode != 0:
            raise CaseFailure(ckpt_failure_reason("restart --detach", stderr_text, returncode))

    def start_restart_from_pipe(self, image, stdout_write, stderr_file):
        """`cat IMAGE | ckpt restart --detach`: the image arrives on stdin."""
        cat = subprocess.Popen(["cat", image], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, close_fds=True)
        try:
            process = subprocess.Popen([self.path, "restart", "--detach"], stdin=cat.stdout,
                                       stdout=stdout_write, stderr=stderr_file, close_fds=True)
        finally:
            cat.stdout.close()
        process.cat = cat
        return process

    @staticmethod
    def read_restored_pid(reader, deadline):
        line = reader.read_line(deadline, "the restored pid from ckpt restart --detach")
        if line is None:
            raise CaseFailure("ckpt restart --detach printed no pid")
        if not line.isdigit():
            raise CaseFailure("ckpt restart --detach printed %r, not a pid" % line[:80])
        return int(line)


def ckpt_failure_reason(what, stderr_text, returncode):
    """ckpt's own line on stderr (it names the command), else its exit status."""
    line = first_line(stderr_text)
    if not line:
        return "ckpt %s: %s" % (what, describe_exit(returncode))
    if line.startswith("ckpt"):
        return line
    return "ckpt %s: %s" % (what, line)


def describe_exit(returncode):
    if returncode < 0:
        return "killed by signal %d" % -returncode
    return "exit status %d" % returncode


def wait_popen(process, deadline, what):
    try:
        returncode = process.wait(timeout=deadline.remaining())
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise CaseFailure("%s timed out" % what) from None
    finally:
        cat = getattr(process, "cat", None)
        if cat is not None:
            cat.kill()
            cat.wait()
    return returncode


def check_running_untraced(target, after_what):
    if not target.is_alive():
        raise CaseFailure("pid %d is not running after %s" % (target.pid, after_what))
    tracer = tracer_of(target.pid)
    if tracer != 0:
        raise CaseFailure("pid %d is still traced by %d after %s"
                          % (target.pid, tracer, after_what))
    if process_state(target.pid) in ("T", "t"):
        raise CaseFailure("pid %d is left stopped after %s" % (target.pid, after_what))


def reap_killed(target, deadline):
    status = target.wait_exit(deadline, required=False)
    if status is None:
        raise CaseFailure("pid %d still alive after ckpt checkpoint --kill" % target.pid)
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        raise CaseFailure("pid %d ended with %s during checkpoint --kill, not SIGKILL"
                          % (target.pid, describe_status(status)))
    reap_orphaned_zombies(deadline)


def reap_orphaned_zombies(deadline):
    """The killed target's descendants come back to us (we are their
    subreaper) as zombies: reap them, or their PIDs stay taken."""
    me = os.getpid()
    while not deadline.expired():
        zombies = [int(entry) for entry in os.listdir("/proc")
                   if entry.isdigit() and parent_of(int(entry)) == me
                   and process_state(int(entry)) == "Z"]
        if not zombies:
            return
        for pid in zombies:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


# ---------------------------------------------------------------- results


class Results:
    def __init__(self, prior_passed=0, prior_failed=0, prior_skipped=0):
        self.passed = prior_passed
        self.failed = prior_failed
        self.skipped = prior_skipped

    def report(self, outcome, name, reason=""):
        if outcome == "PASS":
            self.passed += 1
        elif outcome == "FAIL":
            self.failed += 1
        else:
            self.skipped += 1
        suffix = ": %s" % reason if reason else ""
        say("%s %s%s" % (outcome, name, suffix))

    def summary(self):
        return "%d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped)


def load_skip_list(path):
    """Maps a test key (`name`, `name:mode`, `real/NAME`, `unit/NAME`, ...) to a reason."""
    skips = {}
    if not os.path.isfile(path):
        return skips
    with open(path) as skip_file:
        for raw_line in skip_file:
            line = raw_line.split("#", 1)[0].strip()
            if not line:
                continue
            key, _, reason = line.partition(" ")
            skips[key] = reason.strip() or "in tests/skip.txt"
    return skips


# ---------------------------------------------------------------- runner


class Runner:
    def __init__(self, options, results):
        self.options = options
        self.results = results
        self.build = os.path.abspath(options.build)
        self.skips = load_skip_list(options.skip_list)
        self.scratch_root = tempfile.mkdtemp(prefix="ckpt-tests-", dir="/tmp")
        self.ckpt = Ckpt(os.path.join(self.build, "ckpt"), self.scratch_root)
        self.case_number = 0

    def wanted(self, name, mode):
        patterns = self.options.only
        if not patterns:
            return True
        keys = (name, "%s:%s" % (name, mode) if mode else name)
        return any(fnmatch.fnmatch(key, pattern) for pattern in patterns for key in keys)

    def skip_reason(self, name, mode):
        for key in (("%s:%s" % (name, mode)) if mode else None, name):
            if key is not None and key in self.skips:
                return self.skips[key]
        return None

    def run_case(self, name, mode, body):
        """Runs one case with its own scratch dir and cleanup; reports its outcome."""
        if not self.wanted(name, mode):
            return
        label = "%s (%s)" % (name, mode) if mode else name
        reason = self.skip_reason(name, mode)
        if reason is not None:
            self.results.report("SKIP", label, reason)
            return
        self.case_number += 1
        scratch = os.path.join(self.scratch_root, "case-%d" % self.case_number)
        os.makedirs(scratch)
        outcome, reason = self.outcome_of(body, scratch)
        kill_stray_children()
        if not self.options.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        self.results.report(outcome, label, reason)

    @staticmethod
    def outcome_of(body, scratch):
        try:
            body(scratch)
        except CaseFailure as failure:
            return "FAIL", str(failure)
        except CaseSkipped as skipped:
            return "SKIP", str(skipped)
        except Exception as error:  # a harness bug must not stop the other cases
            return "FAIL", "harness error: %s: %s" % (type(error).__name__, error)
        return "PASS", ""

    def finish(self):
        kill_stray_children()
        if self.options.keep:
            say("# scratch files kept in %s" % self.scratch_root)
        else:
            shutil.rmtree(self.scratch_root, ignore_errors=True)


def kill_stray_children():
    """Kills and reaps every child left over (restored processes, husks, ...)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_of(int(entry)) == me:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = Deadline(REAP_TIMEOUT)
    while not deadline.expired():
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if not any(entry.isdigit() and parent_of(int(entry)) == me
                       for entry in os.listdir("/proc")):
                return
            time.sleep(0.01)


# ---------------------------------------------------------------- state programs


def state_program_env(scratch):
    env = dict(os.environ)
    env["TMPDIR"] = scratch
    return env


class StateCase:
    """One state program in one mode: the protocol of tests/README.md."""

    def __init__(self, runner, program, mode):
        self.runner = runner
        self.program = program
        self.mode = mode
        self.ckpt = runner.ckpt

    def __call__(self, scratch):
        if not os.path.isfile(self.program):
            raise CaseFailure("%s was not built" % os.path.relpath(self.program, ROOT))
        if self.mode != "plain":
            self.ckpt.require()
        deadline = Deadline(self.runner.options.timeout)
        target = start_target([self.program], scratch, state_program_env(scratch))
        try:
            self.expect_ready(target, deadline)
            target = self.move_through_ckpt(target, scratch, deadline)
            self.finish(target, deadline)
        finally:
            target.kill()
            target.close()

    def expect_ready(self, target, deadline):
        line = target.read_line(deadline, "\"ready\"")
        if line == "ready":
            return
        target.wait_exit(Deadline(min(5.0, deadline.remaining())), required=False)
        if line.startswith("skip:"):
            raise CaseSkipped(line[5:].strip())
        raise CaseFailure(line if line.startswith("fail:") else "said %r, not ready" % line[:80])

    def move_through_ckpt(self, target, scratch, deadline):
        image = os.path.join(scratch, "image")
        if self.mode == "plain":
            return target
        if self.mode == "live":
            self.ckpt.checkpoint(target, image, deadline, kill=False)
            check_running_untraced(target, "ckpt checkpoint")
            return target
        rounds = ROUND_COUNT if self.mode == "rounds" else 1
        for _ in range(rounds):
            target = self.checkpoint_kill_restart(target, image, deadline)
        return target

    def checkpoint_kill_restart(self, target, image, deadline):
        self.ckpt.checkpoint(target, image, deadline, kill=True)
        reap_killed(target, deadline)
        target.close()
        return self.ckpt.restart_detached(image, deadline, target.pid,
                                          from_pipe=self.mode == "pipe",
                                          trust=self.needs_trust())

    def needs_trust(self):
        """An image read from a pipe has no owner that vouches for it: root's
        own images of programs holding root-only files then need --trust-image
        (from a file that root owns they are trusted without it)."""
        return self.mode == "pipe" and os.path.basename(self.program) in TRUSTED_IMAGES

    @staticmethod
    def finish(target, deadline):
        target.send_go()
        line = target.read_line(deadline, "the result line")
        status = target.wait_exit(deadline)
        if line.startswith("fail"):
            raise CaseFailure(line[5:].strip() if line.startswith("fail:") else line)
        if line != "pass":
            raise CaseFailure("said %r instead of pass (%s)" % (line[:80], describe_status(status)))
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            raise CaseFailure("said pass but ended with %s" % describe_status(status))


def state_program_names(build):
    """(name, source, binary) of every state program, built or not."""
    programs = []
    for source_dir, binary_dir in (("state", "state"), (os.path.join("state", "static"), "static")):
        directory = os.path.join(TESTS_DIR, source_dir)
        if not os.path.isdir(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            if entry.endswith(".c"):
                name = entry[:-2]
                programs.append((name, os.path.join(build, "tests", binary_dir, name)))
    return programs


def run_state_programs(runner, modes):
    for name, binary in state_program_names(runner.build):
        for mode in ALL_MODES:
            if mode not in modes:
                continue
            if mode in EXTRA_MODES and name not in EXTRA_MODES[mode]:
                continue
            runner.run_case(name, mode, StateCase(runner, binary, mode))


# ---------------------------------------------------------------- real programs


HASH_CHAIN_TOTAL = 150
HASH_CHAIN_READY = 50


def sha256_chain(total):
    previous = "0" * 64
    chain = []
    for step in range(1, total + 1):
        previous = hashlib.sha256(("%s %d" % (previous, step)).encode()).hexdigest()
        chain.append("%d %s" % (step, previous))
    return chain


def arithmetic_chain(total):
    """The bash script's chain: builtins only, so plain 31-bit arithmetic."""
    previous = 1
    chain = []
    for step in range(1, total + 1):
        previous = (previous * 1103515245 + 12345 + step) % 2147483648
        previous ^= previous >> 7
        chain.append("%d %d" % (step, previous))
    return chain


def compiled_java(scratch):
    """HashChain.java compiled into scratch (a JVM running a source file
    directly holds a socket of its compiler, which ckpt does not save)."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        raise CaseSkipped("java or javac is not installed")
    compiled = subprocess.run(["javac", "-d", scratch, os.path.join(TESTS_DIR, "real", "HashChain.java")],
                              capture_output=True, text=True, timeout=120)
    if compiled.returncode != 0:
        raise CaseFailure("javac failed: %s" % compiled.stderr.strip()[:200])
    return ["java", "-cp", scratch, "HashChain"]


def node_command():
    """hash_chain.js in node (an event loop on epoll and eventfds)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise CaseSkipped("node is not installed")
    return [node, os.path.join(TESTS_DIR, "real", "hash_chain.js")]


REAL_SCRIPTS = (
    ("python", lambda scratch: [sys.executable, os.path.join(TESTS_DIR, "real", "hash_chain.py")],
     sha256_chain),
    ("python_threads",
     lambda scratch: [sys.executable, os.path.join(TESTS_DIR, "real", "python_threads.py")],
     sha256_chain),
    ("python_socketpair",
     lambda scratch: [sys.executable, os.path.join(TESTS_DIR, "real", "python_socketpair.py")],
     sha256_chain),
    ("perl", lambda scratch: ["perl", os.path.join(TESTS_DIR, "real", "hash_chain.pl")], sha256_chain),
    ("bash", lambda scratch: ["bash", os.path.join(TESTS_DIR, "real", "hash_chain.sh")],
     arithmetic_chain),
    ("java", lambda scratch: compiled_java(scratch), sha256_chain),
    ("node", lambda scratch: node_command(), sha256_chain),
)


def read_chain_file(path):
    with open(path) as chain_file:
        return [line.rstrip("\n") for line in chain_file]


def compare_chain(lines, expected, upto):
    if len(lines) != upto:
        raise CaseFailure("chain file has %d lines, expected %d" % (len(lines), upto))
    for index, line in enumerate(lines):
        if line != expected[index]:
            raise CaseFailure("chain line %d is %r, expected %r"
                              % (index + 1, line[:80], expected[index][:80]))


class HashChainCase:
    """An interpreter appends a hash chain; checkpointed midway, restarted, finishes."""

    def __init__(self, runner, argv_factory, chain_function):
        self.runner = runner
        self.argv_factory = argv_factory
        self.chain_function = chain_function

    def __call__(self, scratch):
        self.runner.ckpt.require()
        argv = self.argv_factory(scratch)
        if shutil.which(argv[0]) is None and not os.path.isfile(argv[0]):
            raise CaseSkipped("%s is not installed" % argv[0])
        deadline = Deadline(self.runner.options.timeout)
        chain_path = os.path.join(scratch, "chain")
        expected = self.chain_function(HASH_CHAIN_TOTAL)
        target = start_target(argv + [chain_path, str(HASH_CHAIN_TOTAL), str(HASH_CHAIN_READY)],
                              scratch)
        try:
            target = self.checkpoint_midway(target, scratch, chain_path, expected, deadline)
            self.run_to_completion(target, deadline)
        finally:
            target.kill()
            target.close()
        compare_chain(read_chain_file(chain_path), expected, HASH_CHAIN_TOTAL)

    def checkpoint_midway(self, target, scratch, chain_path, expected, deadline):
        line = target.read_line(deadline, "\"ready\" after step %d" % HASH_CHAIN_READY)
        if line != "ready":
            raise CaseFailure("script said %r, not ready" % line[:80])
        image = os.path.join(scratch, "image")
        self.runner.ckpt.checkpoint(target, image, deadline, kill=True)
        reap_killed(target, deadline)
        compare_chain(read_chain_file(chain_path), expected, HASH_CHAIN_READY)
        target.close()
        return self.runner.ckpt.restart_detached(image, deadline, target.pid)

    @staticmethod
    def run_to_completion(target, deadline):
        steps_left = HASH_CHAIN_TOTAL - HASH_CHAIN_READY
        write_quietly(target.stdin_writer, b"step\n" * (steps_left + 10))
        close_quietly(target.stdin_writer)
        target.stdin_writer = None
        line = target.read_line(deadline, "\"done\"")
        status = target.wait_exit(deadline)
        if line != "done":
            raise CaseFailure("script said %r, not done" % line[:80])
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            raise CaseFailure("script ended with %s" % describe_status(status))


def current_syscall(pid):
    text = read_proc(pid, "syscall")
    if not text:
        return None
    field = text.split()[0]
    return int(field) if field.lstrip("-").isdigit() else None


def is_sleeping_in_nanosleep(pid):
    return process_state(pid) == "S" and current_syscall(pid) in SLEEP_SYSCALLS


class SleepCase:
    """`sleep 600`: checkpointed, killed, restarted, still asleep, then killed."""

    def __init__(self, runner):
        self.runner = runner

    def __call__(self, scratch):
        self.runner.ckpt.require()
        deadline = Deadline(self.runner.options.timeout)
        target = start_target(["sleep", "600"], scratch)
        try:
            if not wait_until(lambda: is_sleeping_in_nanosleep(target.pid), deadline):
                raise CaseFailure("sleep 600 never went to sleep")
            target = self.checkpoint_and_restart(target, scratch, deadline)
            self.check_still_sleeping(target, deadline)
        finally:
            target.kill()
            target.close()

    def checkpoint_and_restart(self, target, scratch, deadline):
        image = os.path.join(scratch, "image")
        self.runner.ckpt.checkpoint(target, image, deadline, kill=True)
        reap_killed(target, deadline)
        target.close()
        return self.runner.ckpt.restart_detached(image, deadline, target.pid)

    @staticmethod
    def check_still_sleeping(target, deadline):
        settle = Deadline(min(5.0, deadline.remaining()))
        if not wait_until(lambda: is_sleeping_in_nanosleep(target.pid), settle):
            raise CaseFailure("restored sleep is in state %s, syscall %s"
                              % (process_state(target.pid), current_syscall(target.pid)))
        cmdline = read_proc(target.pid, "cmdline") or ""
        if cmdline.split("\0")[:2] != ["sleep", "600"]:
            raise CaseFailure("restored process has cmdline %r" % cmdline[:80])
        os.kill(target.pid, signal.SIGKILL)
        status = target.wait_exit(deadline)
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            raise CaseFailure("restored sleep ended with %s before it was killed"
                              % describe_status(status))


SLEEP_LOOP_STEPS = 5
SLEEP_LOOP_READY = 2
SLEEP_LOOP_SECONDS = 1
WAIT4_SYSCALL = 61


def is_waiting_for_sleep(pid):
    """The shell is in wait4() and its child `sleep` in nanosleep."""
    if current_syscall(pid) != WAIT4_SYSCALL:
        return False
    children = (read_proc(pid, "task/%d/children" % pid) or "").split()
    return any((read_proc(int(child), "comm") or "").strip() == "sleep"
               and is_sleeping_in_nanosleep(int(child)) for child in children)


class SleepLoopCase(SleepCase):
    """bash runs `sleep` in the foreground in a loop: checkpointed with the
    sleep it waits for, restarted; the sleep ends no earlier than it would
    have, and the steps go on with no gap or repeat."""

    def __call__(self, scratch):
        self.runner.ckpt.require()
        deadline = Deadline(self.runner.options.timeout)
        script = os.path.join(TESTS_DIR, "real", "sleep_loop.sh")
        target = start_target(["bash", script, str(SLEEP_LOOP_STEPS), str(SLEEP_LOOP_READY),
                               str(SLEEP_LOOP_SECONDS)], scratch)
        try:
            lines = self.read_through(target, "ready", deadline)
            sleep_started = time.monotonic()
            if not wait_until(lambda: is_waiting_for_sleep(target.pid), deadline):
                raise CaseFailure("bash never waited for its sleep")
            target = self.checkpoint_and_restart(target, scratch, deadline)
            lines.append(target.read_line(deadline, "the step after the sleep"))
            slept = time.monotonic() - sleep_started
            lines += self.read_through(target, "done", deadline)
            status = target.wait_exit(deadline)
        finally:
            target.kill()
            target.close()
        self.compare(lines)
        if slept < SLEEP_LOOP_SECONDS:
            raise CaseFailure("bash went on %.2f s after ready, before its sleep ended" % slept)
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            raise CaseFailure("bash ended with %s" % describe_status(status))

    @staticmethod
    def read_through(target, last, deadline):
        lines = []
        while not lines or lines[-1] != last:
            lines.append(target.read_line(deadline, "\"%s\"" % last))
        return lines

    @staticmethod
    def compare(lines):
        expected = ["step %d" % step for step in range(1, SLEEP_LOOP_STEPS + 1)] + ["done"]
        expected.insert(SLEEP_LOOP_READY, "ready")
        if lines != expected:
            raise CaseFailure("bash printed %r, expected %r" % (lines[:12], expected))


# The counter runs as one foreground job (a child bash and its sleeps, all in
# the job's group), so that ^C always finds the group it is meant for.
PTY_SHELL_COUNTER = "bash -c 'i=0; while :; do i=$((i+1)); echo count-$i; sleep 0.1; done'\n"


class PtyShellCase(SleepLoopCase):
    """An interactive bash with job control inside `script`, on a
    pseudo-terminal whose both ends are in the tree, runs a counter loop;
    checkpointed with --kill, restarted; the counter goes on from where it
    was, ^C written through script reaches the loop's foreground job (its
    echo comes back: only then is the next command typed, since script and
    bash may lose a ^C typed together with more input, with or without
    ckpt), and a command typed next runs."""

    def __call__(self, scratch):
        self.runner.ckpt.require()
        if shutil.which("script") is None:
            raise CaseSkipped("script (util-linux) is not installed")
        deadline = Deadline(self.runner.options.timeout)
        env = dict(os.environ, TERM="dumb", PS1="$ ")
        target = start_target(["script", "-q", "-c", "bash --norc --noprofile -i", "/dev/null"],
                              scratch, env)
        try:
            write_quietly(target.stdin_writer, PTY_SHELL_COUNTER.encode())
            before = self.read_count(target, deadline, lambda count: count >= 5)
            target = self.checkpoint_and_restart(target, scratch, deadline)
            after = self.read_count(target, deadline, lambda count: True)
            if after <= before:
                raise CaseFailure("the counter went from %d back to %d" % (before, after))
            self.read_count(target, deadline, lambda count: count >= after + 3)
            write_quietly(target.stdin_writer, b"\x03")
            self.read_until(target, deadline, "^C")
            write_quietly(target.stdin_writer, b"echo after-$((6*7))\n")
            self.read_until(target, deadline, "after-42")
        finally:
            target.kill()
            target.close()

    @staticmethod
    def read_count(target, deadline, enough):
        while True:
            line = target.read_line(deadline, "the counter").strip("\r\n $")
            if line.startswith("count-") and line[6:].isdigit() and enough(int(line[6:])):
                return int(line[6:])

    @staticmethod
    def read_until(target, deadline, wanted):
        seen = []
        while True:
            try:
                line = target.read_line(deadline, wanted).strip("\r\n $")
            except CaseFailure as failure:
                raise CaseFailure("%s; the last lines: %r" % (failure, seen[-4:]))
            seen.append(line)
            if line.startswith(wanted):
                return line


def sha3_chain(total):
    previous = "0" * 64
    chain = []
    for step in range(1, total + 1):
        previous = hashlib.sha3_256(("%s %d" % (previous, step)).encode()).hexdigest()
        chain.append("%d %s" % (step, previous))
    return chain


SQLITE_SETUP = (b"PRAGMA temp_store = MEMORY;\n"
                b"CREATE TABLE chain(step INTEGER PRIMARY KEY, hash TEXT);\n"
                b"CREATE TEMP TABLE last(step INTEGER PRIMARY KEY, hash TEXT);\n"
                b"INSERT INTO last VALUES (0, '" + b"0" * 64 + b"');\n")
SQLITE_STEP = (b"INSERT INTO last SELECT step + 1, lower(hex(sha3(hash || ' ' || (step + 1), 256)))"
               b" FROM last ORDER BY step DESC LIMIT 1;\n"
               b"INSERT INTO chain SELECT * FROM last ORDER BY step DESC LIMIT 1;\n")


class SqliteCase(HashChainCase):
    """sqlite3's shell builds a sha3 hash chain in SQL, in a table of its
    database file and in an in-memory temporary table; checkpointed midway,
    restarted; the steps go on, and the file's table and the in-memory one
    agree with the chain computed here, with no gap or repeat."""

    def __init__(self, runner):
        super().__init__(runner, None, sha3_chain)

    def __call__(self, scratch):
        self.runner.ckpt.require()
        if shutil.which("sqlite3") is None:
            raise CaseSkipped("sqlite3 is not installed")
        deadline = Deadline(self.runner.options.timeout)
        database = os.path.join(scratch, "chain.db")
        target = start_target(["sqlite3", "-batch", database], scratch)
        try:
            write_quietly(target.stdin_writer,
                          SQLITE_SETUP + SQLITE_STEP * HASH_CHAIN_READY + b".print ready\n")
            line = target.read_line(deadline, "\"ready\" after step %d" % HASH_CHAIN_READY)
            if line != "ready":
                raise CaseFailure("sqlite3 said %r, not ready" % line[:80])
            target = self.restart_killed(target, scratch, deadline)
            memory_line = self.finish(target, deadline)
        finally:
            target.kill()
            target.close()
        if memory_line != "%d|%d" % (HASH_CHAIN_TOTAL + 1, HASH_CHAIN_TOTAL):
            raise CaseFailure("the in-memory table holds %r rows|last step" % memory_line[:80])
        compare_chain(self.chain_in_file(database), sha3_chain(HASH_CHAIN_TOTAL), HASH_CHAIN_TOTAL)

    def restart_killed(self, target, scratch, deadline):
        image = os.path.join(scratch, "image")
        self.runner.ckpt.checkpoint(target, image, deadline, kill=True)
        reap_killed(target, deadline)
        target.close()
        return self.runner.ckpt.restart_detached(image, deadline, target.pid)

    @staticmethod
    def finish(target, deadline):
        steps_left = HASH_CHAIN_TOTAL - HASH_CHAIN_READY
        write_quietly(target.stdin_writer, SQLITE_STEP * steps_left +
                      b"SELECT count(*), max(step) FROM last;\n.print done\n.quit\n")
        memory_line = target.read_line(deadline, "the in-memory table's row count")
        line = target.read_line(deadline, "\"done\"")
        status = target.wait_exit(deadline)
        if line != "done":
            raise CaseFailure("sqlite3 said %r, not done" % line[:80])
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            raise CaseFailure("sqlite3 ended with %s" % describe_status(status))
        return memory_line

    @staticmethod
    def chain_in_file(database):
        query = subprocess.run(["sqlite3", database, "SELECT step || ' ' || hash FROM chain ORDER BY step"],
                               capture_output=True, text=True, timeout=30)
        if query.returncode != 0:
            raise CaseFailure("reading the database: %s" % query.stderr.strip()[:200])
        return query.stdout.splitlines()


PIPELINE_TOTAL = 100000
PIPELINE_READY = 20000


class PipelineCase(SleepCase):
    """`seq | while read; done > log` checkpointed mid-stream with the pipe
    between seq and the loop full, killed, restarted with --inherit-fd for
    the script's own stdin and stdout copies; the log ends up holding
    1..TOTAL with no gap and no repeat."""

    def __call__(self, scratch):
        self.runner.ckpt.require()
        deadline = Deadline(self.runner.options.timeout)
        log = os.path.join(scratch, "log")
        script = os.path.join(TESTS_DIR, "real", "pipeline.sh")
        target = start_target(["bash", script, log, str(PIPELINE_TOTAL), str(PIPELINE_READY)],
                              scratch)
        try:
            line = target.read_line(deadline, "\"ready\"")
            if line != "ready":
                raise CaseFailure("pipeline said %r, not ready" % line[:80])
            image = os.path.join(scratch, "image")
            self.runner.ckpt.checkpoint(target, image, deadline, kill=True)
            reap_killed(target, deadline)
            target.close()
            target = self.runner.ckpt.restart_detached(
                image, deadline, target.pid, extra_args=("--inherit-fd", "4=1", "--inherit-fd", "5=0"))
            write_quietly(target.stdin_writer, b"go\n")
            line = target.read_line(deadline, "\"done\"")
            status = target.wait_exit(deadline)
        finally:
            target.kill()
            target.close()
        if line != "done" or not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            raise CaseFailure("pipeline said %r and ended with %s" % (line[:80], describe_status(status)))
        self.compare_log(log)

    @staticmethod
    def compare_log(log):
        with open(log) as log_file:
            numbers = [line.rstrip("\n") for line in log_file]
        expected = [str(number) for number in range(1, PIPELINE_TOTAL + 1)]
        if numbers != expected:
            first = next((i for i, (a, b) in enumerate(zip(numbers, expected)) if a != b),
                         min(len(numbers), len(expected)))
            raise CaseFailure("log has %d lines; line %d is %r, expected %r"
                              % (len(numbers), first + 1, numbers[first] if first < len(numbers) else None,
                                 expected[first] if first < len(expected) else None))


def run_real_programs(runner):
    if "restart" not in runner.options.modes:
        return
    for name, argv_factory, chain_function in REAL_SCRIPTS:
        runner.run_case("real/" + name, "restart",
                        HashChainCase(runner, argv_factory, chain_function))
    runner.run_case("real/sqlite3", "restart", SqliteCase(runner))
    runner.run_case("real/sleep", "restart", SleepCase(runner))
    runner.run_case("real/bash_sleep_loop", "restart", SleepLoopCase(runner))
    runner.run_case("real/shell_pipeline", "restart", PipelineCase(runner))
    runner.run_case("real/bash_in_script", "restart", PtyShellCase(runner))


# ---------------------------------------------------------------- unit tests and cases


def test_environment(runner, scratch):
    env = dict(os.environ)
    env["CKPT"] = runner.ckpt.path
    env["BUILD"] = runner.build
    env["TMPDIR"] = scratch
    return env


class CommandCase:
    """An executable test: exit 0 passes, 77 skips, anything else fails."""

    def __init__(self, runner, argv):
        self.runner = runner
        self.argv = argv
        self.timeout = max(runner.options.timeout, declared_timeout(argv[-1]))

    def __call__(self, scratch):
        output_path = os.path.join(scratch, "output")
        with open(output_path, "wb") as output:
            process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT, cwd=ROOT, close_fds=True,
                                       env=test_environment(self.runner, scratch),
                                       start_new_session=True)
            returncode = self.wait(process)
        with open(output_path, "rb") as output:
            text = output.read().decode(errors="replace")
        if returncode == EXIT_SKIP:
            raise CaseSkipped(last_line(text) or "exit status 77")
        if returncode != 0:
            raise CaseFailure(last_line(text) or describe_exit(returncode))

    def wait(self, process):
        try:
            return process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise CaseFailure("timeout after %d s" % self.timeout) from None


def declared_timeout(path):
    """A case whose work is bounded by a count, not by time, may declare a
    wider limit in its first lines: `# case-timeout: SECONDS`."""
    try:
        with open(path, errors="replace") as script:
            for line in script.readlines()[:30]:
                match = re.match(r"#\s*case-timeout:\s*(\d+)", line)
                if match:
                    return float(match.group(1))
    except OSError:
        pass
    return 0.0


def run_unit_tests(runner):
    directory = os.path.join(runner.build, "tests", "unit")
    if not os.path.isdir(directory):
        return
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            runner.run_case("unit/" + entry, None, CommandCase(runner, [path]))


def run_case_scripts(runner):
    directory = os.path.join(TESTS_DIR, "cases")
    if not os.path.isdir(directory):
        return
    for entry in sorted(os.listdir(directory)):
        if entry.endswith(".sh"):
            path = os.path.join(directory, entry)
            runner.run_case("cases/" + entry[:-3], None, CommandCase(runner, ["bash", path]))


# ---------------------------------------------------------------- main


def parse_options(argv):
    parser = argparse.ArgumentParser(description="Run the ckpt tests (see tests/README.md).")
    parser.add_argument("--build", default=os.environ.get("BUILD", os.path.join(ROOT, "build")),
                        help="build directory holding ckpt and tests/ (default: build)")
    parser.add_argument("--only", action="append", default=[], metavar="GLOB",
                        help="run only cases whose name or name:mode matches (repeatable)")
    parser.add_argument("--modes", default=",".join(DEFAULT_MODES + tuple(EXTRA_MODES)),
                        help="comma-separated modes among %s" % ", ".join(ALL_MODES))
    parser.add_argument("--timeout", type=float, default=CASE_TIMEOUT,
                        help="seconds per case (default %d)" % CASE_TIMEOUT)
    parser.add_argument("--skip-list", default=SKIP_LIST, help="default: tests/skip.txt")
    parser.add_argument("--keep", action="store_true", help="keep images and scratch files")
    parser.add_argument("--no-real", action="store_true", help="leave out tests/real")
    parser.add_argument("--no-unit", action="store_true", help="leave out build/tests/unit")
    parser.add_argument("--no-cases", action="store_true", help="leave out tests/cases")
    for kind in ("passed", "failed", "skipped"):
        parser.add_argument("--prior-" + kind, type=int, default=0, metavar="N",
                            help="add N %s cases counted elsewhere (tests/run's builds)" % kind)
    options = parser.parse_args(argv)
    options.modes = tuple(mode.strip() for mode in options.modes.split(",") if mode.strip())
    unknown = [mode for mode in options.modes if mode not in ALL_MODES]
    if unknown:
        parser.error("unknown mode(s): %s" % ", ".join(unknown))
    return options


def main(argv):
    options = parse_options(argv)
    results = Results(options.prior_passed, options.prior_failed, options.prior_skipped)
    set_child_subreaper()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    runner = Runner(options, results)
    try:
        run_state_programs(runner, options.modes)
        if not options.no_real:
            run_real_programs(runner)
        if not options.no_unit:
            run_unit_tests(runner)
        if not options.no_cases:
            run_case_scripts(runner)
    finally:
        runner.finish()
        say(results.summary())
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
