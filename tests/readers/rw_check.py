#!/usr/bin/env python3
"""tests/readers/rw_check.py - readers and writers on topics at once, and a
verdict on every byte the readers saw (docs/testing.md, "Readers and
writers").

    rw_check.py --write TOPIC[,TOPIC...] --read TOPIC[,TOPIC...]
                [--seconds S] [--lines N] [--every-ms MS]
                [--followers N] [--tails N] [--rereaders N]
                [--lines-per-write K] [--settle S]

Each --write TOPIC gets one writer, which appends N lines (default 50)
every MS milliseconds (default 20) for S seconds, K lines per write()
(default 1, as `echo` in a loop does), each line "w<W>-<seq>", seq from 0.
Every --read TOPIC (the same files, or replicas of them that replication
fills) is read at the same time by (topics written are created if missing;
a topic only read must exist, or appear within --settle seconds):

  followers   open once, read to the end, poll every 5 ms for more (what
              `tail -f` does, faster);
  tails       the real `tail -n +1 -f TOPIC`, read through a pipe;
  rereaders   open, read everything, close, again and again (a `cat` loop).

The verdict, for every reader: no NUL byte ever; every line is "w<W>-<seq>"
of a writer that writes that topic; each writer's lines appear in order,
each once, with no gap (a rereader checks every snapshot it read; a
follower and a tail must end with every line written). After the writers
stop, followers and tails get --settle seconds (default 10) to see the
rest (replication included). Prints one summary line and exits 0, or
prints what was wrong and exits 1.
"""

import argparse
import multiprocessing as mp
import os
import re
import select
import subprocess
import sys
import time

LINE = re.compile(rb"^w(\d+)-(\d+)$")


class Verdict:
    """Problems found, sent to the parent (each reader and writer is a
    process of its own, so that none slows another down)."""

    def __init__(self, queue):
        self.queue = queue

    def fail(self, who, msg):
        self.queue.put(("error", f"{who}: {msg}"))


class Checker:
    """Checks a byte stream as it arrives: whole lines, per-writer order."""

    def __init__(self, who, writers, verdict):
        self.who = who
        self.writers = writers  # writer ids that write this topic
        self.verdict = verdict
        self.buf = b""
        self.pos = 0  # bytes consumed so far
        self.next = {w: 0 for w in writers}
        self.lines = 0
        self.bad = False

    def feed(self, data):
        if self.bad:
            return
        nul = data.find(b"\0")
        if nul >= 0:
            self.verdict.fail(self.who, f"NUL byte at byte {self.pos + len(self.buf) + nul}: "
                              f"{data[max(0, nul - 16):nul + 16]!r}")
            self.bad = True
            return
        self.buf += data
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                break
            line = self.buf[:nl]
            self.buf = self.buf[nl + 1:]
            self.pos += nl + 1
            m = LINE.match(line)
            if not m:
                self.verdict.fail(self.who, f"line {self.lines}: not a written line: {line[:80]!r}")
                self.bad = True
                return
            w, seq = int(m.group(1)), int(m.group(2))
            if w not in self.next:
                self.verdict.fail(self.who, f"line {self.lines}: writer {w} does not write here")
                self.bad = True
                return
            if seq != self.next[w]:
                self.verdict.fail(self.who, f"line {self.lines}: w{w}-{seq} where w{w}-{self.next[w]} "
                                  f"was due ({'repeat' if seq < self.next[w] else 'gap'})")
                self.bad = True
                return
            self.next[w] += 1
            self.lines += 1

    def complete(self, written):
        """True when every writer's lines were all seen."""
        return all(self.next[w] >= written[w] for w in self.writers)


class Shared:
    """What the writers tell the readers: lines written so far per writer,
    whether they are done, and until when readers wait for the rest."""

    def __init__(self, nwriters):
        self.written = mp.Array("q", nwriters)
        self.done = mp.Value("b", 0)
        self.settle_until = mp.Value("d", 0.0)

    def counts(self):
        return {w: self.written[w] for w in range(len(self.written))}


def writer(wid, path, args, shared, stop_at, verdict):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    seq = 0
    try:
        next_t = time.monotonic()
        while time.monotonic() < stop_at:
            batch = [f"w{wid}-{seq + i}\n".encode() for i in range(args.lines)]
            for i in range(0, len(batch), args.lines_per_write):
                data = b"".join(batch[i:i + args.lines_per_write])
                n = os.write(fd, data)
                if n != len(data):
                    verdict.fail(f"writer {wid}", f"short write: {n} of {len(data)}")
                    return
            seq += args.lines
            shared.written[wid] = seq
            next_t += args.every_ms / 1000.0
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    except OSError as e:
        verdict.fail(f"writer {wid}", f"write failed: {e}")
    finally:
        os.close(fd)


def settled(ck, shared, who, verdict):
    """After the writers stopped: True when the reader may stop (it saw
    everything, or the settle time is over, which is a failure)."""
    if not shared.done.value:
        return False
    written = shared.counts()
    if ck.complete(written):
        return True
    if time.monotonic() > shared.settle_until.value:
        verdict.fail(who, f"saw {ck.lines} lines, not all of {sum(written[w] for w in ck.writers)}")
        return True
    return False


def follower(who, path, writers, shared, verdict):
    ck = Checker(who, writers, verdict)
    fd = os.open(path, os.O_RDONLY)
    try:
        while not ck.bad:
            data = os.read(fd, 1 << 20)
            if data:
                ck.feed(data)
                continue
            if settled(ck, shared, who, verdict):
                break
            time.sleep(0.005)
    finally:
        os.close(fd)
    verdict.queue.put(("lines", who, ck.lines))


def tail(who, path, writers, shared, verdict):
    ck = Checker(who, writers, verdict)
    p = subprocess.Popen(["tail", "-n", "+1", "-s", "0.05", "-f", path], stdout=subprocess.PIPE)
    try:
        fd = p.stdout.fileno()
        while not ck.bad:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                data = os.read(fd, 1 << 20)
                if not data:
                    verdict.fail(who, "tail ended")
                    break
                ck.feed(data)
                continue
            if settled(ck, shared, who, verdict):
                break
    finally:
        p.kill()
        p.wait()
    verdict.queue.put(("lines", who, ck.lines))


def rereader(who, path, writers, shared, verdict):
    rounds = 0
    while not shared.done.value:
        ck = Checker(f"{who} round {rounds}", writers, verdict)
        with open(path, "rb") as f:
            ck.feed(f.read())
        rounds += 1
        if ck.bad:
            break
    verdict.queue.put(("rounds", who, rounds))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", required=True)
    ap.add_argument("--read", required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--lines", type=int, default=50)
    ap.add_argument("--every-ms", type=float, default=20)
    ap.add_argument("--lines-per-write", type=int, default=1)
    ap.add_argument("--followers", type=int, default=2)
    ap.add_argument("--tails", type=int, default=2)
    ap.add_argument("--rereaders", type=int, default=1)
    ap.add_argument("--settle", type=float, default=10)
    args = ap.parse_args()

    wpaths = args.write.split(",")
    rpaths = args.read.split(",")
    # The topics written are made if missing; a topic read that is not
    # written here (a replica) must appear within --settle seconds.
    for wp in wpaths:
        try:
            os.close(os.open(wp, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        except OSError as e:
            sys.exit(f"rw_check: cannot create {wp}: {e.strerror}")
    appear_by = time.monotonic() + args.settle
    for rp in rpaths:
        while not os.path.exists(rp):
            if time.monotonic() > appear_by:
                sys.exit(f"rw_check: {rp} does not exist (a replica appears once replication "
                         f"has made it: set up replication first); waited {args.settle:.0f} s")
            time.sleep(0.05)
    writers = list(range(len(wpaths)))
    queue = mp.Queue()
    verdict = Verdict(queue)
    shared = Shared(len(writers))
    stop_at = time.monotonic() + args.seconds
    readers = []
    for rp in rpaths:
        for k in range(args.followers):
            readers.append(mp.Process(target=follower, args=(f"follower {k} of {rp}", rp, writers, shared, verdict)))
        for k in range(args.tails):
            readers.append(mp.Process(target=tail, args=(f"tail {k} of {rp}", rp, writers, shared, verdict)))
        for k in range(args.rereaders):
            readers.append(mp.Process(target=rereader, args=(f"rereader {k} of {rp}", rp, writers, shared, verdict)))
    wprocs = [mp.Process(target=writer, args=(w, wpaths[w], args, shared, stop_at, verdict)) for w in writers]
    for p in readers + wprocs:
        p.start()
    for p in wprocs:
        p.join()
    shared.settle_until.value = time.monotonic() + args.settle
    shared.done.value = 1
    errors, lines, rounds = [], {}, {}
    pending = set(readers)
    deadline = time.monotonic() + args.settle + 30
    while pending and time.monotonic() < deadline:
        try:
            kind, *rest = queue.get(timeout=0.2)
        except Exception:
            pending = {p for p in pending if p.is_alive()}
            continue
        if kind == "error":
            errors.append(rest[0])
        elif kind == "lines":
            lines[rest[0]] = rest[1]
        elif kind == "rounds":
            rounds[rest[0]] = rest[1]
    for p in readers:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            errors.append(f"{p.name}: did not stop")
    while True:     # whatever came in last
        try:
            kind, *rest = queue.get(timeout=0.1)
        except Exception:
            break
        if kind == "error":
            errors.append(rest[0])
        elif kind == "lines":
            lines[rest[0]] = rest[1]
        elif kind == "rounds":
            rounds[rest[0]] = rest[1]

    total = sum(shared.counts().values())
    if errors:
        for e in errors[:50]:
            print(f"rw_check: {e}")
        print(f"rw_check: FAILED ({len(errors)} problems; {total} lines written)")
        return 1
    expect = len(rpaths) * (args.followers + args.tails)
    if len(lines) != expect:
        print(f"rw_check: FAILED ({len(lines)} of {expect} followers/tails reported)")
        return 1
    print(f"rw_check: {total} lines written by {len(writers)} writers; "
          f"{len(lines)} followers/tails saw every line once, in order; "
          f"{sum(rounds.values())} full rereads; no NUL byte anywhere")
    return 0


if __name__ == "__main__":
    sys.exit(main())
