#!/usr/bin/env python3
"""tests/crash/check.py - the randomized crash test's helper (used by
tests/e2e/45-crash.bats; see docs/testing.md, "crash-long").

Subcommands:

  params  --seed S --round R
      Print the seeded parameters of one round, one shell word each:
      RUN_MS FSYNC BATCH KILL2_MS WRITERS SEGMENT.  KILL2_MS is -1 when the
      round has no second kill during the catch-up after the restart.

  writer  --mount M --log FILE --id I --round R --seed S
          --streams a/s,b/s,c/s --topics t0,t1 [--deadline SECONDS]
      Append tagged messages "w<I>-<R>-<seq> <stream> <topic> <pad>" to
      random topics of random streams under M until a write fails (the
      daemon died), one write() per batch of 1-8 complete lines.  Before
      each write, log an intent line to FILE, after a write that returned
      the full count an ack line (each with one os.write() on an O_APPEND
      descriptor, so it is in the kernel before the next message is sent):
          T <round> <first> <last> <stream> <topic>
          A <round> <first> <last>
          E <round> <first> <last> <errno name>      (the write failed)
          S <round> <first> <last> <returned> <len>  (short write: a bug)
      Exits 0 when it stops on an error from the mount, 3 on a short write.

  wait    --mount M --topology T --topics t0,t1 [--timeout SECONDS]
      Wait (bounded) until replication has converged: for every origin
      stream O and topic t, the multiset of O's messages in t is the same
      on O and on every replica of O, and every .replicas line of the
      topology's streams says pending=0.  Exit 1 (saying what differs) at
      the timeout.

  check   --mount M --logs DIR[,DIR...] --topology T --topics t0,t1
          --seed S --round R [--summary ROUNDS]
      The verdict, over everything the writers logged in DIR (all rounds,
      every w<id>.log) and the topics listed: every
      acknowledged message is present exactly once in its topic on its
      origin stream and on every replica of it; no line is present twice
      anywhere; no line that no writer sent, no message where it must not
      be (echo, wrong topic, a replica of the wrong stream); per writer and
      origin, messages appear in increasing (round, seq) on every stream;
      the lines of one acknowledged write() are contiguous on the origin;
      messages of the write in flight at the kill (not acknowledged) are
      present at most once on the origin, and on a replica only if on the
      origin.  Prints one verdict line; exit 1 on any violation (details
      first, then "FAILED: seed S round R").

The topology is "ORIGIN=REPLICA,...;ORIGIN=..." where each list holds every
stream that must end up holding ORIGIN's messages, ORIGIN included, e.g.
"a/s=a/s,b/s,c/s;b/s=b/s,a/s,c/s;c/s=c/s".
"""

import argparse
import collections
import errno
import os
import random
import re
import sys
import time

MSG_RE = re.compile(r"^w(\d+)-(\d+)-(\d+) (\S+) (\S+) x*$")


def msg_text(wid, rnd, seq, stream, topic):
    """The exact line a writer sends for one message (without the \\n)."""
    pad = "x" * ((seq * 7 + wid * 3 + rnd) % 29)
    return f"w{wid}-{rnd}-{seq} {stream} {topic} {pad}"


def parse_topology(text):
    topo = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        origin, _, reps = part.partition("=")
        lst = [r for r in reps.split(",") if r]
        if origin not in lst:
            lst.insert(0, origin)
        topo[origin] = lst
    return topo


def all_streams(topo):
    out = []
    for o, reps in topo.items():
        for s in [o] + reps:
            if s not in out:
                out.append(s)
    return out


# ---------------------------------------------------------------- params

def cmd_params(a):
    rng = random.Random(f"streamfs-crash/{a.seed}/{a.round}/params")
    run_ms = rng.randint(100, 500)
    fsync = rng.choice(["os", "os", "os", "interval", "always"])
    batch = rng.choice([4096, 4096, 64, 7, 1])
    kill2 = rng.randint(0, 150) if rng.random() < 0.25 else -1
    writers = rng.choice([3, 4, 4])
    segment = rng.choice(["4K", "16K", "64M"])
    print(run_ms, fsync, batch, kill2, writers, segment)
    return 0


# ---------------------------------------------------------------- writer

def cmd_writer(a):
    rng = random.Random(f"streamfs-crash/{a.seed}/{a.round}/w{a.id}")
    streams = a.streams.split(",")
    topics = a.topics.split(",")
    # most traffic on the masters (the first two), some on the others
    weights = [5 if i < 2 else 1 for i in range(len(streams))]
    hold = rng.random() < 0.3   # keep descriptors open across writes
    logfd = os.open(a.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def log(line):
        os.write(logfd, (line + "\n").encode())

    fds = {}
    seq = 0
    deadline = time.monotonic() + a.deadline
    rc = 0
    while time.monotonic() < deadline:
        if seq and rng.random() < 0.5:
            # keep the volume small enough for the checker: short pauses
            time.sleep(rng.uniform(0, 0.004))
        stream = rng.choices(streams, weights)[0]
        topic = rng.choice(topics)
        n = 1 if rng.random() < 0.6 else rng.randint(2, 8)
        first, last = seq + 1, seq + n
        seq = last
        data = "".join(msg_text(a.id, a.round, i, stream, topic) + "\n"
                       for i in range(first, last + 1)).encode()
        path = os.path.join(a.mount, stream, topic)
        log(f"T {a.round} {first} {last} {stream} {topic}")
        try:
            key = (stream, topic)
            fd = fds.get(key) if hold else None
            if fd is None:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                if hold:
                    fds[key] = fd
            got = os.write(fd, data)
            if got != len(data):
                log(f"S {a.round} {first} {last} {got} {len(data)}")
                rc = 3
                break
            log(f"A {a.round} {first} {last}")
        except OSError as e:
            log(f"E {a.round} {first} {last} "
                f"{errno.errorcode.get(e.errno, str(e.errno))}")
            break
        if not hold:
            try:
                os.close(fd)
            except OSError:
                break   # acknowledged already; the mount is going away
    for fd in fds.values():
        try:
            os.close(fd)
        except OSError:
            pass
    return rc


# ---------------------------------------------------------------- reading

def read_topic(path):
    """The lines of a topic file, and a problem (or None)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], None
    except OSError as e:
        return [], f"{path}: read failed: {e}"
    problem = None
    if data and not data.endswith(b"\n"):
        problem = f"{path}: does not end with a newline (torn?)"
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines, problem


def read_all(mount, streams, topics):
    files = {}
    problems = []
    for s in streams:
        for t in topics:
            lines, p = read_topic(os.path.join(mount, s, t))
            files[(s, t)] = lines
            if p:
                problems.append(p)
    return files, problems


def origin_of(line):
    m = MSG_RE.match(line)
    return m.group(4) if m else None


# ---------------------------------------------------------------- wait

def replicas_pending(mount, streams):
    """[(stream, replica line)] of .replicas lines not showing pending=0."""
    bad = []
    for s in streams:
        try:
            with open(os.path.join(mount, s, ".replicas")) as f:
                text = f.read()
        except OSError as e:
            bad.append((s, f"cannot read .replicas: {e}"))
            continue
        for line in text.splitlines():
            if not line.strip():
                continue
            if not re.search(r"\bpending=0\b", line) or "state=REPLICATING" not in line:
                bad.append((s, line))
    return bad


def divergence(files, topo, topics):
    """Descriptions of (origin, topic) whose message multisets differ
    between the streams that must hold them."""
    diffs = []
    for t in topics:
        per_stream = {}
        for (s, tt), lines in files.items():
            if tt != t:
                continue
            c = collections.defaultdict(collections.Counter)
            for ln in lines:
                c[origin_of(ln)][ln] += 1
            per_stream[s] = c
        for o, reps in topo.items():
            ref = per_stream.get(o, {}).get(o, collections.Counter())
            for r in reps:
                if r == o:
                    continue
                got = per_stream.get(r, {}).get(o, collections.Counter())
                if got != ref:
                    miss = sum((ref - got).values())
                    extra = sum((got - ref).values())
                    diffs.append(f"topic {t}: origin {o}: {r} has "
                                 f"{sum(got.values())} messages, {o} has "
                                 f"{sum(ref.values())} ({miss} missing, "
                                 f"{extra} extra)")
    return diffs


def cmd_wait(a):
    topo = parse_topology(a.topology)
    streams = all_streams(topo)
    topics = a.topics.split(",")
    deadline = time.monotonic() + a.timeout
    while True:
        files, problems = read_all(a.mount, streams, topics)
        diffs = divergence(files, topo, topics)
        pend = replicas_pending(a.mount, streams) if not diffs else []
        if not diffs and not pend and not problems:
            # equal: make sure it stays so for a moment (nothing in flight)
            time.sleep(0.1)
            files2, problems2 = read_all(a.mount, streams, topics)
            if files2 == files and not problems2:
                return 0
            continue
        if time.monotonic() >= deadline:
            print(f"replication did not converge within {a.timeout}s:")
            for d in problems + diffs:
                print("  " + d)
            for s, line in pend:
                print(f"  {s}/.replicas: {line}")
            return 1
        time.sleep(0.05)


# ---------------------------------------------------------------- check

class Intent:
    __slots__ = ("wid", "rnd", "first", "last", "stream", "topic", "state")

    def __init__(self, wid, rnd, first, last, stream, topic):
        self.wid, self.rnd = wid, rnd
        self.first, self.last = first, last
        self.stream, self.topic = stream, topic
        self.state = "inflight"   # -> "acked", "failed", "short"

    def texts(self):
        return [msg_text(self.wid, self.rnd, i, self.stream, self.topic)
                for i in range(self.first, self.last + 1)]


def read_logs(logdirs, problems):
    intents = []
    files = []
    for d in logdirs.split(","):
        files += [(d, name) for name in sorted(os.listdir(d))]
    for logdir, name in files:
        m = re.match(r"^w(\d+)\.log$", name)
        if not m:
            continue
        wid = int(m.group(1))
        cur = {}   # round -> last intent of that round
        with open(os.path.join(logdir, name)) as f:
            for lineno, line in enumerate(f, 1):
                p = line.split()
                if not p:
                    continue
                where = f"{name}:{lineno}"
                if p[0] == "T" and len(p) == 6:
                    rnd = int(p[1])
                    prev = cur.get(rnd)
                    if prev is not None and prev.state == "inflight":
                        problems.append(f"{where}: writer w{wid} sent a write "
                                        f"while write {prev.first}-{prev.last}"
                                        f" was unanswered (harness bug)")
                    it = Intent(wid, rnd, int(p[2]), int(p[3]), p[4], p[5])
                    intents.append(it)
                    cur[rnd] = it
                elif p[0] in "AES" and len(p) >= 4:
                    rnd = int(p[1])
                    it = cur.get(rnd)
                    if it is None or (it.first, it.last) != (int(p[2]), int(p[3])):
                        problems.append(f"{where}: {p[0]} line without its T line")
                        continue
                    it.state = {"A": "acked", "E": "failed", "S": "short"}[p[0]]
                    if p[0] == "S":
                        problems.append(f"{where}: SHORT WRITE: write() of "
                                        f"{p[5]} bytes to {it.stream}/{it.topic} "
                                        f"returned {p[4]} (messages "
                                        f"w{wid}-{rnd}-{it.first}..{it.last})")
                elif p[0] == "T":
                    # the writer was killed in the middle of its log line
                    problems.append(f"{where}: malformed log line {line!r}")
                else:
                    problems.append(f"{where}: malformed log line {line!r}")
    return intents


def limited(items, n=8):
    items = list(items)
    if len(items) <= n:
        return items
    return items[:n] + [f"... and {len(items) - n} more"]


def cmd_check(a):
    topo = parse_topology(a.topology)
    streams = all_streams(topo)
    topics = a.topics.split(",")
    problems = []
    intents = read_logs(a.logs, problems)
    files, p = read_all(a.mount, streams, topics)
    problems += p

    # what each line must be: text -> (intent, index in batch)
    sent = {}
    for it in intents:
        for i, txt in enumerate(it.texts()):
            sent[txt] = (it, i)

    lost, dups, foreign, misplaced, phantom, disorder, split = ([] for _ in range(7))
    partial = []
    # position of each line in each file
    pos = {}
    for (s, t), lines in files.items():
        cnt = collections.Counter(lines)
        for ln, c in cnt.items():
            if c > 1:
                dups.append(f"{s}/{t}: {ln!r} x{c}")
        idx = {}
        last = {}   # (wid, origin) -> (rnd, seq, line no)
        for n, ln in enumerate(lines):
            idx.setdefault(ln, n)
            if ln not in sent:
                foreign.append(f"{s}/{t} line {n + 1}: {ln[:120]!r}")
                continue
            it, _ = sent[ln]
            if it.topic != t or s not in topo.get(it.stream, [it.stream]):
                misplaced.append(f"{s}/{t} line {n + 1}: {ln.split(' ')[0]} "
                                 f"(sent to {it.stream}/{it.topic})")
            key = (it.wid, it.stream)
            m = MSG_RE.match(ln)
            order = (it.rnd, int(m.group(3)))
            if key in last and last[key][:2] >= order:
                pr, ps, pn = last[key]
                disorder.append(f"{s}/{t}: line {n + 1} w{it.wid}-{order[0]}-"
                                f"{order[1]} (origin {it.stream}) after line "
                                f"{pn + 1} w{it.wid}-{pr}-{ps}")
            last[key] = (order[0], order[1], n)
        pos[(s, t)] = (idx, cnt)

    acked_msgs = 0
    inflight = 0
    inflight_stored = 0
    rounds_acked = collections.Counter()
    for it in intents:
        texts = it.texts()
        o_idx, o_cnt = pos[(it.stream, it.topic)]
        if it.state == "acked":
            acked_msgs += len(texts)
            rounds_acked[it.rnd] += len(texts)
            for r in topo.get(it.stream, [it.stream]):
                _, cnt = pos[(r, it.topic)]
                for txt in texts:
                    if cnt.get(txt, 0) == 0:
                        lost.append(f"{r}/{it.topic}: {txt.split(' ')[0]} "
                                    f"(acknowledged, origin {it.stream})")
        else:
            inflight += len(texts)
            present = [txt for txt in texts if o_cnt.get(txt, 0) > 0]
            inflight_stored += len(present)
            if present and len(present) != len(texts):
                partial.append(f"{it.stream}/{it.topic}: {len(present)} of the "
                               f"{len(texts)} lines of unacknowledged write "
                               f"w{it.wid}-{it.rnd}-{it.first}..{it.last}")
            # on a replica only if on the origin
            for r in topo.get(it.stream, [it.stream]):
                if r == it.stream:
                    continue
                _, cnt = pos[(r, it.topic)]
                for txt in texts:
                    if cnt.get(txt, 0) > 0 and o_cnt.get(txt, 0) == 0:
                        phantom.append(f"{r}/{it.topic}: {txt.split(' ')[0]} "
                                       f"is on the replica, not on its origin "
                                       f"{it.stream}")
        # one write()'s lines are contiguous on the origin
        present_idx = [o_idx[txt] for txt in texts if txt in o_idx]
        if len(present_idx) > 1 and present_idx != list(
                range(present_idx[0], present_idx[0] + len(present_idx))):
            split.append(f"{it.stream}/{it.topic}: the lines of write "
                         f"w{it.wid}-{it.rnd}-{it.first}..{it.last} are at "
                         f"lines {[i + 1 for i in present_idx][:10]}")

    total_lines = sum(len(v) for v in files.values())
    head = f"round {a.round}:"
    bad = False
    for label, items in (("problem", problems), ("LOST", lost),
                         ("DUPLICATE", dups), ("FOREIGN LINE", foreign),
                         ("MISPLACED", misplaced), ("PHANTOM", phantom),
                         ("ORDER", disorder), ("NOT CONTIGUOUS", split)):
        if items:
            bad = True
            print(f"{head} {label}: {len(items)}")
            for x in limited(items):
                print(f"    {x}")
    if partial:
        # allowed (not acknowledged), but worth knowing
        print(f"{head} note: partially stored unacknowledged writes: {len(partial)}")
        for x in limited(partial, 3):
            print(f"    {x}")
    verdict = (f"{head} {'FAIL' if bad else 'OK'}: {acked_msgs} messages "
               f"acknowledged ({rounds_acked.get(a.round, 0)} this round), "
               f"{inflight} in flight at kills ({inflight_stored} stored), "
               f"{total_lines} lines in {len(files)} topic files, "
               f"{len(lost)} lost, {len(dups)} duplicated, "
               f"order {'BROKEN' if disorder or split else 'OK'}")
    print(verdict)
    if bad:
        print(f"FAILED: seed {a.seed} round {a.round}")
        return 1
    if a.summary is not None:
        print(f"crash test: seed {a.seed}, {a.summary} rounds, {acked_msgs} "
              f"messages acknowledged, {len(lost)} lost, {len(dups)} "
              f"duplicated, order OK")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("params")
    p.add_argument("--seed", required=True)
    p.add_argument("--round", type=int, required=True)

    p = sub.add_parser("writer")
    p.add_argument("--mount", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--id", type=int, required=True)
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--streams", required=True)
    p.add_argument("--topics", required=True)
    p.add_argument("--deadline", type=float, default=30)

    p = sub.add_parser("wait")
    p.add_argument("--mount", required=True)
    p.add_argument("--topology", required=True)
    p.add_argument("--topics", required=True)
    p.add_argument("--timeout", type=float, default=20)

    p = sub.add_parser("check")
    p.add_argument("--mount", required=True)
    p.add_argument("--logs", required=True)
    p.add_argument("--topology", required=True)
    p.add_argument("--topics", required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--summary", type=int)

    a = ap.parse_args()
    return {"params": cmd_params, "writer": cmd_writer, "wait": cmd_wait,
            "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
