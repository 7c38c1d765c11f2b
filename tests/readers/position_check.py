#!/usr/bin/env python3
"""tests/readers/position_check.py - readers at random positions and
sequential readers of topics while a writer appends to each, every byte
read checked against its position (docs/testing.md, "Readers and
writers").

    position_check.py --from F --to T --per-write K
                      [--random R] [--reads N] [--sequential S] TOPIC...

Every TOPIC holds (or will hold) the numbered lines "line-%07d\\n" (13
bytes each) 0, 1, 2, ... so the byte at each position is known. Lines
F..T-1 are appended to each TOPIC by a writer of its own, K lines per
write(); lines 0..F-1 must be there already. Meanwhile R random readers
per topic pread 1 byte to 128 KiB at random positions below the topic's
size, at least N times each and until the writers are done, and S
sequential readers per topic read it from the start to line T's end.
Every read must be exactly the bytes at its position: a torn, stale,
shifted or invented byte shows. Prints "every read as stored" and exits
0, or prints the first differences and exits 1.
"""

import argparse
import os
import random
import sys
import threading

LINE = 13


def expected(n):
    return b"".join(b"line-%07d\n" % i for i in range(n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="first", type=int, required=True)
    ap.add_argument("--to", dest="last", type=int, required=True)
    ap.add_argument("--per-write", type=int, required=True)
    ap.add_argument("--random", type=int, default=4)
    ap.add_argument("--reads", type=int, default=100)
    ap.add_argument("--sequential", type=int, default=2)
    ap.add_argument("topics", nargs="+")
    a = ap.parse_args()
    full = expected(a.last)
    total = len(full)
    errors = []
    writing = threading.Event()
    writing.set()

    def check(what, pos, got):
        if got != full[pos:pos + len(got)]:
            at = next(k for k in range(len(got))
                      if pos + k >= total or got[k] != full[pos + k])
            errors.append("%s: at %d: %r" % (what, pos + at, got[at:at + 20]))

    def random_reader(src, seed):
        rng = random.Random(seed)
        fd = os.open(src, os.O_RDONLY)
        done = 0
        while done < a.reads or writing.is_set():
            size = os.fstat(fd).st_size
            if size:
                pos = rng.randrange(0, size)
                n = rng.choice([1, LINE, 4095, 4096, 4097, 65536, 100000, 131072])
                check("random reader %d of %s" % (seed, src), pos, os.pread(fd, n, pos))
                done += 1
        os.close(fd)

    def sequential_reader(src, i):
        fd = os.open(src, os.O_RDONLY)
        pos = 0
        while pos < total:
            b = os.read(fd, 131072)
            if not b:
                if not writing.is_set():
                    break
                continue
            check("sequential reader %d of %s" % (i, src), pos, b)
            pos += len(b)
        os.close(fd)

    def writer(src):
        with open(src, "ab", buffering=0) as f:
            for k in range(a.first, a.last, a.per_write):
                f.write(full[k * LINE:min(k + a.per_write, a.last) * LINE])

    ws = [threading.Thread(target=writer, args=(t,)) for t in a.topics]
    rs = [threading.Thread(target=random_reader, args=(t, k))
          for t in a.topics for k in range(a.random)]
    rs += [threading.Thread(target=sequential_reader, args=(t, k))
           for t in a.topics for k in range(a.sequential)]
    for t in ws + rs:
        t.start()
    for t in ws:
        t.join()
    writing.clear()
    for t in rs:
        t.join()
    if errors:
        print("\n".join(errors[:5]))
        sys.exit(1)
    print("every read as stored")


if __name__ == "__main__":
    main()
