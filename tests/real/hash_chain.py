"""A long computation for ckpt to checkpoint midway (tests/README.md, "real").

Usage: python3 hash_chain.py FILE TOTAL READY

Appends TOTAL lines "STEP HASH" to FILE, HASH = sha256("PREVIOUS STEP") with
PREVIOUS starting as 64 zeros.  After step READY it prints "ready"; from then
on every step first reads one line from stdin, so the harness sets the pace
and knows the program is between steps READY and READY+1 when it checkpoints.
At the end it prints "done".
"""

import hashlib
import sys


def main(path, total, ready):
    previous = "0" * 64
    with open(path, "a") as chain:
        for step in range(1, total + 1):
            if step > ready and not sys.stdin.readline():
                print("stdin ended before step %d" % step, flush=True)
                return 1
            previous = hashlib.sha256(("%s %d" % (previous, step)).encode()).hexdigest()
            chain.write("%d %s\n" % (step, previous))
            chain.flush()
            if step == ready:
                print("ready", flush=True)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
