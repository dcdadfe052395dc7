"""The hash chain of hash_chain.py, built by several Python threads.

Usage: python3 python_threads.py FILE TOTAL READY

WORKERS threads share one list under a threading.Lock (through a Condition
on it).  Step N is done by thread N % WORKERS, when it is its turn and the
main thread allows it: it computes HASH = sha256("PREVIOUS N") from the last
entry of the shared list, appends (N, HASH, its name) to the list and the
line "N HASH" to FILE.  The main thread allows steps 1..READY at once, waits
for them, prints "ready", then allows one step per line read from stdin, so
the harness knows the program is between steps READY and READY+1 when it
checkpoints, with every worker waiting on the condition and main in read().
At the end main joins the workers, checks the shared list (steps 1..TOTAL
in order, each by the right thread, each hash from the one before) and
prints "done", or a line saying what is wrong.
"""

import hashlib
import sys
import threading

WORKERS = 4


class Chain:
    def __init__(self, path):
        self.entries = []
        self.allowed = 0
        self.stopping = False
        self.turn = threading.Condition(threading.Lock())
        self.file = open(path, "a")

    def next_hash(self, step):
        previous = self.entries[-1][1] if self.entries else "0" * 64
        return hashlib.sha256(("%s %d" % (previous, step)).encode()).hexdigest()

    def may_work(self, index):
        step = len(self.entries) + 1
        return self.stopping or (step <= self.allowed and step % WORKERS == index)

    def work(self, index):
        name = threading.current_thread().name
        while True:
            with self.turn:
                self.turn.wait_for(lambda: self.may_work(index))
                if self.stopping:
                    return
                step = len(self.entries) + 1
                digest = self.next_hash(step)
                self.entries.append((step, digest, name))
                self.file.write("%d %s\n" % (step, digest))
                self.file.flush()
                self.turn.notify_all()

    def allow(self, steps):
        with self.turn:
            self.allowed = steps
            self.turn.notify_all()

    def wait_for_steps(self, steps):
        with self.turn:
            self.turn.wait_for(lambda: len(self.entries) >= steps)

    def stop(self):
        with self.turn:
            self.stopping = True
            self.turn.notify_all()


def first_problem(entries, total):
    if len(entries) != total:
        return "the shared list has %d entries, expected %d" % (len(entries), total)
    previous = "0" * 64
    for position, (step, digest, name) in enumerate(entries):
        expected = hashlib.sha256(("%s %d" % (previous, position + 1)).encode()).hexdigest()
        if step != position + 1:
            return "entry %d is step %d" % (position + 1, step)
        if digest != expected:
            return "step %d has a wrong hash" % step
        if name != "worker-%d" % (step % WORKERS):
            return "step %d was done by %s" % (step, name)
        previous = digest
    return None


def main(path, total, ready):
    chain = Chain(path)
    workers = [threading.Thread(target=chain.work, args=(index,), name="worker-%d" % index)
               for index in range(WORKERS)]
    for worker in workers:
        worker.start()
    chain.allow(ready)
    chain.wait_for_steps(ready)
    print("ready", flush=True)
    for step in range(ready + 1, total + 1):
        if not sys.stdin.readline():
            chain.stop()
            print("stdin ended before step %d" % step, flush=True)
            return 1
        chain.allow(step)
    chain.wait_for_steps(total)
    chain.stop()
    for worker in workers:
        worker.join()
    problem = first_problem(chain.entries, total)
    print(problem or "done", flush=True)
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
