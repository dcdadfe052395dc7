"""A hash chain computed by a forked child and handed over a socketpair
(tests/README.md, "real").

Usage: python3 python_socketpair.py FILE TOTAL READY

The child computes every step of the chain (HASH = sha256("PREVIOUS STEP"),
PREVIOUS starting as 64 zeros) and sends each line, padded to a fixed
record size, over a socket.socketpair(); then it waits for "bye".  The
parent takes one record per step straight from the socket and appends the
line to FILE.  After step READY it prints "ready"; from then on every step
first reads one line from stdin, so at the checkpoint the rest of the chain
waits in the socket's queue and the child waits in recv().  At the end the
parent says "bye", reaps the child and prints "done".
"""

import hashlib
import os
import socket
import sys

RECORD = 96


def run_child(sock, total):
    previous = "0" * 64
    for step in range(1, total + 1):
        previous = hashlib.sha256(("%s %d" % (previous, step)).encode()).hexdigest()
        sock.sendall(("%d %s" % (step, previous)).encode().ljust(RECORD, b" "))
    if sock.recv(16) != b"bye":
        os._exit(3)
    os._exit(0)


def take_record(sock):
    record = b""
    while len(record) < RECORD:
        part = sock.recv(RECORD - len(record))
        if not part:
            return None
        record += part
    return record.decode().rstrip(" ")


def main(path, total, ready):
    parent_end, child_end = socket.socketpair()
    child = os.fork()
    if child == 0:
        parent_end.close()
        run_child(child_end, total)
    child_end.close()
    with open(path, "a") as chain:
        for step in range(1, total + 1):
            if step > ready and not sys.stdin.readline():
                print("stdin ended before step %d" % step, flush=True)
                return 1
            line = take_record(parent_end)
            if line is None:
                print("the child's socket ended before step %d" % step, flush=True)
                return 1
            chain.write(line + "\n")
            chain.flush()
            if step == ready:
                print("ready", flush=True)
    parent_end.sendall(b"bye")
    _, status = os.waitpid(child, 0)
    if status != 0:
        print("the child ended with status %#x" % status, flush=True)
        return 1
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
