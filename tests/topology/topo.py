#!/usr/bin/env python3
"""tests/topology/topo.py - driver and checker of the randomized replication
topology test (tests/e2e/55-topology.bats; issue 5, item 2; docs/control-files.md, docs/replication.md;
docs/testing.md, "The topology test").  Python 3 standard library only.

A seed makes a random replication graph: 3-6 streams s0..s5 spread over 2-3
local clusters, wired as a pair, chain, ring, full mesh, many-to-one,
one-to-many or a mix of those (an edge X->Y: X lists Y in .replicas, Y
lists X in .upstreams).  Then TOPO_ROUNDS rounds: in each, concurrent
producers append tagged messages to several streams while the graph is
changed at random moments (pause, resume, add, remove, remove and re-add,
rewrite .replicas with what it says, replace it with `>`, take the source
out of the replica's .upstreams until the next round, switch synchronous
mode); the round ends
with nothing, a clean restart, a kill -9, or a restart armed with a fault
point (the sanitizer daemon kills itself at that point later on).  At the
end every edge is resumed, replication must go quiet (bounded), and the
checker compares every stream with the model.

Subcommands (STATE is the test's state directory):

  plan    --seed S --state STATE
      Make the seed's plan (STATE/plan.json) and print shell assignments:
      TOPO_CLUSTERS, TOPO_BATCH, TOPO_SEGMENT, TOPO_DESC.

  setup   --mount M --state STATE
      Create the streams and the initial edges.

  params  --state STATE --round R
      The round's fixed parameters, one shell word each:
      END KILL_MS FAULT DESC   (END: none|restart|kill|fault; FAULT is
      NAME:N or "-"; DESC a summary with no blanks).

  round   --mount M --state STATE --round R
      Run the round: producers (threads) and graph changes at their
      seeded moments.  Stops when the producers are done, or at the first
      error (the daemon died: a kill or a fault).  Exit 0, or 2 if
      anything failed (written to STATE/events.log).

  settle  --mount M --state STATE [--timeout S]
      Make every configured edge whole (upstream listed) and unpaused,
      then wait until replication is quiet: every .replicas line says
      pending=0 uptodate=true, and no topic grows between two passes.

  check   --mount M --state STATE [--save-counts F] [--expect-counts F]
      The verdict (below).  Exit 1 on any violation.

Messages are "s<stream>-<producer>-<seq>" plus a pad of x's; producer ids
are unique over the whole run, seq counts 1, 2, ... per producer over all
its topics.  Each producer logs to STATE/prod/p<id>.log, before each
write() "T FIRST LAST TOPIC", after it "A FIRST LAST" (acknowledged) or
"E FIRST LAST ERRNO" (failed: the daemon died; such messages may or may
not be stored).  Every edge the driver ever tries to add is logged in
STATE/ever before the attempt.

The model, per stream Y and topic T (final = the edges configured at the
end; ever = every edge that existed at any time):
  - every line is a message some producer sent to topic T, and is there
    once (no duplicates, hence no echo);
  - Y's own messages: every acknowledged one is there, in each producer's
    order, and an acknowledged multi-line write is contiguous;
  - messages of another origin O: O reaches Y through ever-edges, and they
    are exactly the first k messages of O's own messages in O's topic T,
    in the same order (every path delivers an origin's messages in order
    and without gaps);
  - if O reaches Y through final edges, k is all of them;
  - for every final edge X->Y and every origin O other than Y, Y holds at
    least as many of O's messages as X does (X's whole log was sent).
"""

import argparse
import collections
import errno
import json
import os
import random
import re
import sys
import threading
import time

CLUSTER_NAMES = ["sanfrancisco", "newyork", "paris"]
TAG_RE = re.compile(r"^s(\d+)-(\d+)-(\d+)(?: x*)?$")
# fault point, lowest and highest hit count (positions are saved at most
# once a second per stream while they move: positions_interval_ms)
FAULTS = [("repl-after-apply", 1, 30), ("repl-after-ack", 1, 30),
          ("repl-after-save", 1, 4), ("append-after-write", 20, 800)]
PATTERNS = ["pair", "chain", "ring", "mesh", "many-to-one", "one-to-many",
            "mix", "mix"]


def rng_for(seed, *parts):
    return random.Random("/".join(["streamfs-topology", str(seed)] +
                                  [str(p) for p in parts]))


def tag(stream, prod, seq):
    return f"s{stream}-{prod}-{seq}" + (" " + "x" * (seq * 7 % 23)
                                        if seq % 3 else "")


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e)


# ------------------------------------------------------------------- plan

def pattern_edges(name, nodes, rng):
    n = len(nodes)
    e = set()
    if name == "pair":
        a, b = nodes[:2]
        e |= {(a, b), (b, a)}
    elif name == "chain":
        k = rng.randint(3, n) if n >= 3 else n
        e |= {(nodes[i], nodes[i + 1]) for i in range(k - 1)}
    elif name == "ring":
        k = rng.randint(3, n) if n >= 3 else n
        e |= {(nodes[i], nodes[(i + 1) % k]) for i in range(k)}
    elif name == "mesh":
        k = rng.randint(3, min(n, 5)) if n >= 3 else n
        e |= {(x, y) for x in nodes[:k] for y in nodes[:k] if x != y}
    elif name == "many-to-one":
        k = rng.randint(3, n) if n >= 3 else n
        e |= {(x, nodes[0]) for x in nodes[1:k]}
    elif name == "one-to-many":
        k = rng.randint(3, n) if n >= 3 else n
        e |= {(nodes[0], y) for y in nodes[1:k]}
    return e


def make_plan(seed):
    rng = rng_for(seed, "plan")
    clusters = CLUSTER_NAMES[:rng.choice([2, 3])]
    n = rng.randint(3, 6)
    where = [clusters[i] if i < len(clusters) else rng.choice(clusters)
             for i in range(n)]
    rng.shuffle(where)
    streams = [f"{where[i]}/s{i}" for i in range(n)]
    topics = [f"t{i}" for i in range(rng.choice([1, 1, 2, 3]))]
    pattern = rng.choice(PATTERNS)
    nodes = list(range(n))
    rng.shuffle(nodes)
    if pattern == "mix":
        parts = rng.sample([p for p in PATTERNS if p != "mix"],
                           rng.randint(2, 3))
        edges = set()
        for p in parts:
            sub = rng.sample(nodes, rng.randint(min(3, n), n))
            edges |= pattern_edges(p, sub, rng)
        desc = "mix(" + "+".join(parts) + ")"
    else:
        edges = pattern_edges(pattern, nodes, rng)
        desc = pattern
    for _ in range(rng.choice([0, 0, 1, 2])):
        x, y = rng.sample(nodes, 2)
        edges.add((x, y))
    return {
        "seed": str(seed),
        "clusters": clusters,
        "streams": streams,
        "topics": topics,
        "pattern": desc,
        "edges": sorted(edges),
        "batch": rng.choice([4096, 4096, 64, 7, 1]),
        "segment": rng.choice(["64M", "64M", "16K"]),
    }


def load_plan(state):
    with open(os.path.join(state, "plan.json")) as f:
        return json.load(f)


def plan_desc(plan):
    e = " ".join(f"s{x}->s{y}" for x, y in plan["edges"])
    return (f"{len(plan['streams'])} streams ({', '.join(plan['streams'])}), "
            f"topics {','.join(plan['topics'])}, {plan['pattern']}: {e}; "
            f"batch_messages {plan['batch']}, segment_bytes {plan['segment']}")


def cmd_plan(a):
    plan = make_plan(a.seed)
    os.makedirs(os.path.join(a.state, "prod"), exist_ok=True)
    with open(os.path.join(a.state, "plan.json"), "w") as f:
        json.dump(plan, f, indent=1)
    print(f"TOPO_CLUSTERS='{' '.join(plan['clusters'])}'")
    print(f"TOPO_BATCH={plan['batch']}")
    print(f"TOPO_SEGMENT={plan['segment']}")
    print(f"TOPO_DESC='{plan_desc(plan)}'")
    return 0


# ------------------------------------------------------- the mounted graph

class Graph:
    """The configuration as the control files show it: rep[x] = {y: paused}
    (x lists y in .replicas), up[y] = {x} (y lists x in .upstreams)."""

    def __init__(self, mount, plan):
        self.mount = mount
        self.streams = plan["streams"]
        self.index = {"/mapr/" + s: i for i, s in enumerate(self.streams)}
        self.rep = {i: {} for i in range(len(self.streams))}
        self.up = {i: set() for i in range(len(self.streams))}

    def path(self, i, name=""):
        return os.path.join(self.mount, self.streams[i], name)

    def gpath(self, i):
        return "/mapr/" + self.streams[i]

    def read(self):
        for i in range(len(self.streams)):
            self.rep[i] = {}
            with open(self.path(i, ".replicas")) as f:
                for line in f:
                    conf = line.split("#", 1)[0].split()
                    if not conf:
                        continue
                    y = self.index.get(conf[0])
                    if y is None:
                        raise RuntimeError(f"{self.streams[i]}/.replicas: "
                                           f"unexpected line {line!r}")
                    self.rep[i][y] = "paused=true" in conf[1:]
            self.up[i] = set()
            with open(self.path(i, ".upstreams")) as f:
                for line in f:
                    conf = line.split("#", 1)[0].split()
                    if conf:
                        x = self.index.get(conf[0])
                        if x is None:
                            raise RuntimeError(f"{self.streams[i]}/.upstreams:"
                                               f" unexpected line {line!r}")
                        self.up[i].add(x)

    def edges(self):
        """Configured edges (both halves present): {(x, y): paused}."""
        return {(x, y): p for x in self.rep for y, p in self.rep[x].items()
                if x in self.up[y]}

    def append(self, i, name, text):
        fd = os.open(self.path(i, name), os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def replace(self, i, name, text):
        fd = os.open(self.path(i, name), os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


class Log:
    """STATE/events.log and STATE/ever, one os.write per line."""

    def __init__(self, state, rnd):
        self.rnd = rnd
        self.t0 = time.monotonic()
        self.fd = os.open(os.path.join(state, "events.log"),
                          os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.ever = os.open(os.path.join(state, "ever"),
                            os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.lock = threading.Lock()
        self.errors = []

    def __call__(self, text):
        with self.lock:
            os.write(self.fd, (f"round {self.rnd} "
                               f"+{time.monotonic() - self.t0:.3f}s "
                               f"{text}\n").encode())

    def error(self, text):
        self(f"ERROR {text}")
        with self.lock:
            self.errors.append(text)

    def ever_edge(self, x, y):
        os.write(self.ever, f"{x} {y}\n".encode())


def add_edge(g, log, x, y, paused=False):
    log.ever_edge(x, y)
    g.append(y, ".upstreams", g.gpath(x) + "\n")
    g.up[y].add(x)
    g.append(x, ".replicas", g.gpath(y) + (" paused=true" if paused else "")
             + "\n")
    g.rep[x][y] = paused


def remove_edge(g, x, y):
    g.append(x, ".replicas", "-" + g.gpath(y) + "\n")
    del g.rep[x][y]
    g.append(y, ".upstreams", "-" + g.gpath(x) + "\n")
    g.up[y].discard(x)


def repair(g, log, unpause=False):
    """Give every replica its upstream (a kill may have cut an add or a
    remove in half) and, with unpause, resume every paused one."""
    for x in sorted(g.rep):
        for y, paused in sorted(g.rep[x].items()):
            if x not in g.up[y]:
                log(f"repair: s{y}/.upstreams += s{x}")
                log.ever_edge(x, y)
                g.append(y, ".upstreams", g.gpath(x) + "\n")
                g.up[y].add(x)
            if unpause and paused:
                log(f"resume s{x}->s{y} (settle)")
                g.append(x, ".replicas", g.gpath(y) + " paused=false\n")
                g.rep[x][y] = False


def cmd_setup(a):
    plan = load_plan(a.state)
    g = Graph(a.mount, plan)
    log = Log(a.state, 0)
    for s in plan["streams"]:
        os.mkdir(os.path.join(a.mount, s))
    for x, y in plan["edges"]:
        add_edge(g, log, x, y)
        log(f"add s{x}->s{y} (initial)")
    return 0


# ------------------------------------------------------------------ rounds

def round_params(plan, rnd):
    rng = rng_for(plan["seed"], "round", rnd)
    n = len(plan["streams"])
    dur = rng.uniform(1.0, 2.5)
    end = rng.choices(["none", "restart", "kill", "fault"],
                      [35, 25, 25, 15])[0]
    kill_ms = int(rng.uniform(0.15, 1.0) * dur * 1000)
    name, lo, hi = rng.choice(FAULTS)
    fault = f"{name}:{rng.randint(lo, hi)}"
    prods = []
    for j in range(rng.randint(2, min(4, n))):
        prods.append({
            "id": rnd * 10 + j,
            "stream": rng.randrange(n),
            "budget": rng.randint(60, 300),
            # steady: spread over the round; burst: as fast as it can
            "burst": rng.random() < 0.25,
            "hold": rng.random() < 0.4,
            "topics": rng.sample(plan["topics"],
                                 rng.randint(1, len(plan["topics"]))),
        })
    acts = sorted(rng.uniform(0, dur) for _ in range(rng.randint(1, 4)))
    return {"dur": dur, "end": end, "kill_ms": kill_ms,
            "fault": fault if end == "fault" else "-",
            "producers": prods, "actions": acts}


def cmd_params(a):
    plan = load_plan(a.state)
    p = round_params(plan, a.round)
    desc = (f"{len(p['producers'])}_producers_on_"
            + ",".join(f"s{q['stream']}" for q in p["producers"])
            + f",_{len(p['actions'])}_graph_changes")
    print(p["end"], p["kill_ms"], p["fault"], desc)
    return 0


def producer(mount, state, plan, q, dur, log, stop):
    rng = rng_for(plan["seed"], "producer", q["id"])
    stream = plan["streams"][q["stream"]]
    lfd = os.open(os.path.join(state, "prod", f"p{q['id']}.log"),
                  os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def plog(line):
        os.write(lfd, (line + "\n").encode())

    plog(f"P {q['id']} {q['stream']}")
    fds = {}
    seq = 0
    writes = 0
    t0 = time.monotonic()
    deadline = t0 + dur
    if q["burst"]:
        stop.wait(rng.uniform(0, dur * 0.7))
    try:
        while (writes < q["budget"] and time.monotonic() < deadline
               and not stop.is_set()):
            topic = rng.choice(q["topics"])
            n = 1 if rng.random() < 0.7 else rng.randint(2, 4)
            first, last = seq + 1, seq + n
            seq = last
            data = "".join(tag(q["stream"], q["id"], i) + "\n"
                           for i in range(first, last + 1)).encode()
            plog(f"T {first} {last} {topic}")
            try:
                fd = fds.get(topic)
                if fd is None:
                    fd = os.open(os.path.join(mount, stream, topic),
                                 os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                    if q["hold"]:
                        fds[topic] = fd
                got = os.write(fd, data)
                if got != len(data):
                    plog(f"E {first} {last} SHORT")
                    log.error(f"producer {q['id']} ({stream}/{topic}): "
                              f"short write {got} of {len(data)}")
                    return
                plog(f"A {first} {last}")
                if not q["hold"]:
                    os.close(fd)
            except OSError as e:
                plog(f"E {first} {last} {ename(e)}")
                log.error(f"producer {q['id']} ({stream}/{topic}): write of "
                          f"{first}..{last}: {ename(e)}")
                return
            writes += 1
            if not q["burst"]:
                # the next write's moment, with some jitter
                delay = (t0 + dur * (writes + rng.uniform(-0.5, 0.5))
                         / q["budget"] - time.monotonic())
                if delay > 0:
                    time.sleep(delay)
    finally:
        for fd in fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        os.close(lfd)


def act(g, log, rng):
    """One random change of the graph (chosen from its current state)."""
    n = len(g.streams)
    edges = g.edges()
    unpaused = sorted(e for e, p in edges.items() if not p)
    paused = sorted(e for e, p in edges.items() if p)
    absent = [(x, y) for x in range(n) for y in range(n)
              if x != y and y not in g.rep[x]]
    kinds = []
    if unpaused:
        kinds += ["pause"] * 3
    if paused:
        kinds += ["resume"] * (3 + 2 * len(paused))
    if absent:
        kinds += ["add"] * (3 + max(0, n - len(edges)))
    if edges:
        kinds += ["remove"] * (1 + len(edges) // 4)
        kinds += ["readd", "rewrite", "unlist", "sync"]
    if edges or absent:
        kinds += ["replace"]
    kind = rng.choice(kinds)
    if kind == "pause":
        x, y = rng.choice(unpaused)
        log(f"pause s{x}->s{y}")
        g.append(x, ".replicas", g.gpath(y) + " paused=true\n")
        g.rep[x][y] = True
    elif kind == "resume":
        x, y = rng.choice(paused)
        log(f"resume s{x}->s{y}")
        g.append(x, ".replicas", g.gpath(y) + " paused=false\n")
        g.rep[x][y] = False
    elif kind == "add":
        x, y = rng.choice(absent)
        p = rng.random() < 0.2
        log(f"add s{x}->s{y}" + (" paused" if p else ""))
        add_edge(g, log, x, y, p)
    elif kind == "remove":
        x, y = rng.choice(sorted(edges))
        log(f"remove s{x}->s{y}")
        remove_edge(g, x, y)
    elif kind == "readd":
        x, y = rng.choice(sorted(edges))
        log(f"remove and add again s{x}->s{y}")
        remove_edge(g, x, y)
        add_edge(g, log, x, y)
    elif kind == "unlist":
        # the replica refuses the source until the next round's repair
        x, y = rng.choice(sorted(edges))
        log(f"unlist s{x} from s{y}/.upstreams (s{x}->s{y} refused)")
        g.append(y, ".upstreams", "-" + g.gpath(x) + "\n")
        g.up[y].discard(x)
    elif kind == "sync":
        x, y = rng.choice(sorted(edges))
        v = rng.choice(["true", "false"])
        log(f"synchronous={v} s{x}->s{y}")
        g.append(x, ".replicas", g.gpath(y) + f" synchronous={v}\n")
    elif kind == "rewrite":
        # cat .replicas > f; cat f > .replicas: changes nothing
        x = rng.choice(sorted({e[0] for e in edges}))
        with open(g.path(x, ".replicas")) as f:
            text = f.read()
        log(f"rewrite s{x}/.replicas with what it says")
        g.replace(x, ".replicas", text)
    else:
        # s{x}/.replicas > with one replica fewer and/or one more
        x = rng.randrange(n)
        keep = dict(g.rep[x])
        drop = rng.choice(sorted(keep)) if keep and rng.random() < 0.6 else None
        cands = [y for y in range(n) if y != x and y not in keep]
        new = rng.choice(cands) if cands and rng.random() < 0.6 else None
        if drop is not None:
            del keep[drop]
        if new is not None:
            log.ever_edge(x, new)
            g.append(new, ".upstreams", g.gpath(x) + "\n")
            g.up[new].add(x)
            keep[new] = False
        # (an empty set still gets a line written, a comment, so that the
        # replace applies at close rather than at the later release)
        text = "".join(g.gpath(y) + (" paused=true" if p else "") + "\n"
                       for y, p in sorted(keep.items())) or "# none\n"
        log(f"replace s{x}/.replicas (>): "
            + (f"drop s{drop} " if drop is not None else "")
            + (f"add s{new} " if new is not None else "")
            + f"-> {' '.join(f's{y}' for y in sorted(keep)) or 'empty'}")
        g.replace(x, ".replicas", text)
        g.rep[x] = keep
        if drop is not None:
            g.append(drop, ".upstreams", "-" + g.gpath(x) + "\n")
            g.up[drop].discard(x)


def actions(g, log, plan, rnd, times, stop):
    rng = rng_for(plan["seed"], "actions", rnd)
    t0 = time.monotonic()
    for t in times:
        delay = t0 + t - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return
        try:
            act(g, log, rng)
        except OSError as e:
            log.error(f"graph change: {e}")
            return


def cmd_round(a):
    plan = load_plan(a.state)
    p = round_params(plan, a.round)
    log = Log(a.state, a.round)
    g = Graph(a.mount, plan)
    try:
        g.read()
        repair(g, log)
    except OSError as e:
        log.error(f"reading the graph at the start of the round: {e}")
        print(f"round {a.round}: could not read the graph: {e}")
        return 2
    log(f"start: edges {' '.join(f's{x}->s{y}' + ('(p)' if q else '') for (x, y), q in sorted(g.edges().items()))}")
    stop = threading.Event()
    threads = [threading.Thread(target=producer, args=(a.mount, a.state, plan,
                                                      q, p["dur"], log, stop))
               for q in p["producers"]]
    threads.append(threading.Thread(target=actions,
                                    args=(g, log, plan, a.round,
                                          p["actions"], stop)))
    for t in threads:
        t.start()
    # one failure (the daemon died) stops everybody
    while any(t.is_alive() for t in threads):
        if log.errors:
            stop.set()
        time.sleep(0.02)
    for t in threads:
        t.join()
    log("end" + (f" after {len(log.errors)} errors" if log.errors else ""))
    return 2 if log.errors else 0


# ------------------------------------------------------------------ settle

def snapshot(mount, plan):
    """({stream/topic: size}, [.replicas lines not quiet])."""
    sizes = {}
    busy = []
    for s in plan["streams"]:
        d = os.path.join(mount, s)
        for name in sorted(os.listdir(d)):
            if not name.startswith("."):
                sizes[f"{s}/{name}"] = os.stat(os.path.join(d, name)).st_size
        with open(os.path.join(d, ".replicas")) as f:
            for line in f:
                if not line.strip():
                    continue
                if (not re.search(r"\bpending=0\b", line)
                        or "uptodate=true" not in line
                        or "paused=true" in line):
                    busy.append(f"{s}/.replicas: {line.rstrip()}")
    return sizes, busy


def cmd_settle(a):
    plan = load_plan(a.state)
    log = Log(a.state, "end")
    g = Graph(a.mount, plan)
    g.read()
    repair(g, log, unpause=True)
    log("settle: edges " + " ".join(f"s{x}->s{y}"
                                    for x, y in sorted(g.edges())))
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    prev = None
    while True:
        sizes, busy = snapshot(a.mount, plan)
        if not busy and sizes == prev:
            log(f"quiet after {time.monotonic() - t0:.1f}s")
            print(f"replication quiet after {time.monotonic() - t0:.1f}s")
            return 0
        prev = None if busy else sizes
        if time.monotonic() > deadline:
            print(f"replication not quiet after {a.timeout:.0f}s:")
            for b in busy:
                print("  " + b)
            return 1
        time.sleep(0.15)


# ------------------------------------------------------------------- check

class Producer:
    def __init__(self, pid, stream):
        self.id, self.stream = pid, stream
        self.topic = {}      # seq -> topic
        self.acked = set()   # seqs acknowledged
        self.writes = []     # (first, last, topic, acked)


def read_producers(state, problems):
    prods = {}
    d = os.path.join(state, "prod")
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name)) as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        pr = None
        pending = None
        for n, line in enumerate(lines, 1):
            w = line.split()
            if w and w[0] == "P" and len(w) == 3:
                pr = prods[int(w[1])] = Producer(int(w[1]), int(w[2]))
            elif pr is None:
                problems.append(f"{name}:{n}: no P line first")
                break
            elif w and w[0] == "T" and len(w) == 4:
                first, last = int(w[1]), int(w[2])
                for s in range(first, last + 1):
                    pr.topic[s] = w[3]
                pending = (first, last, w[3])
            elif w and w[0] in "AE" and len(w) >= 3 and pending and \
                    pending[:2] == (int(w[1]), int(w[2])):
                ok = w[0] == "A"
                if ok:
                    pr.acked.update(range(pending[0], pending[1] + 1))
                pr.writes.append(pending + (ok,))
                pending = None
            elif n == len(lines):
                pass   # the driver died in the middle of its log line
            else:
                problems.append(f"{name}:{n}: malformed line {line!r}")
        if pending:
            pr.writes.append(pending + (False,))
    return prods


def reach(n, edges):
    """r[y] = the streams with a path to y (y excluded)."""
    into = collections.defaultdict(set)
    for x, y in edges:
        into[y].add(x)
    r = {}
    for y in range(n):
        seen, todo = set(), [y]
        while todo:
            for x in into[todo.pop()]:
                if x not in seen:
                    seen.add(x)
                    todo.append(x)
        seen.discard(y)
        r[y] = seen
    return r


def read_topic(path):
    with open(path, "rb") as f:
        data = f.read()
    torn = bool(data) and not data.endswith(b"\n")
    lines = data.decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines, torn


def cmd_check(a):
    plan = load_plan(a.state)
    seed = plan["seed"]
    streams = plan["streams"]
    n = len(streams)
    problems = []
    V = collections.defaultdict(list)    # kind -> [text]

    def bad(kind, text):
        V[kind].append(text)

    prods = read_producers(a.state, problems)
    g = Graph(a.mount, plan)
    g.read()
    final = g.edges()
    for (x, y), p in final.items():
        if p:
            problems.append(f"s{x}->s{y} is still paused (settle first)")
    half = [(x, y) for x in g.rep for y in g.rep[x] if x not in g.up[y]]
    for x, y in half:
        problems.append(f"s{x} lists s{y} in .replicas but s{y} does not "
                        f"list s{x} in .upstreams (settle first)")
    ever = set(map(tuple, plan["edges"])) | set(final)
    with open(os.path.join(a.state, "ever")) as f:
        for line in f:
            w = line.split()
            if len(w) == 2:
                ever.add((int(w[0]), int(w[1])))
    may = reach(n, ever)
    must = reach(n, final)

    # read everything
    content = {}   # (y, topic) -> [lines]
    topics = set()
    for y, s in enumerate(streams):
        for name in sorted(os.listdir(os.path.join(a.mount, s))):
            if name.startswith("."):
                continue
            lines, torn = read_topic(os.path.join(a.mount, s, name))
            if torn:
                bad("TORN", f"{s}/{name} does not end with a newline")
            content[(y, name)] = lines
            topics.add(name)
    for t in sorted(topics - set(plan["topics"])):
        bad("UNKNOWN TOPIC", f"topic {t} exists, no producer wrote to it")
    topics = sorted(topics)

    # per stream and topic: each origin's messages in order (duplicates
    # and foreign lines reported and left out)
    seq_of = {}    # (y, t) -> {origin: [line]}
    where = {}     # (y, t) -> {line: index}
    for (y, t), lines in content.items():
        s = streams[y]
        per = collections.defaultdict(list)
        idx = {}
        for k, line in enumerate(lines):
            m = TAG_RE.match(line)
            if not m:
                bad("FOREIGN LINE", f"{s}/{t} line {k + 1}: {line[:80]!r}")
                continue
            o, pid, q = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if line in idx:
                bad("DUPLICATE", f"{s}/{t}: {line.split()[0]} at lines "
                    f"{idx[line] + 1} and {k + 1} (origin s{o})")
                continue
            idx[line] = k
            pr = prods.get(pid)
            if pr is None or pr.stream != o or q not in pr.topic or \
                    line != tag(o, pid, q):
                bad("NEVER SENT", f"{s}/{t} line {k + 1}: {line[:80]!r}")
                continue
            if pr.topic[q] != t:
                bad("WRONG TOPIC", f"{s}/{t} line {k + 1}: {line.split()[0]}"
                    f" was written to topic {pr.topic[q]}")
                continue
            if o != y and o not in may[y]:
                bad("NO PATH", f"{s}/{t} line {k + 1}: {line.split()[0]} "
                    f"from s{o}, which never had a path to s{y}")
                continue
            per[o].append(line)
        seq_of[(y, t)] = per
        where[(y, t)] = idx

    def own(o, t):
        return seq_of.get((o, t), {}).get(o, [])

    # the origin: every acknowledged message, each producer's order, and
    # an acknowledged write's lines together
    acked = inflight = inflight_stored = 0
    for pr in prods.values():
        y, s = pr.stream, streams[pr.stream]
        for first, last, t, ok in pr.writes:
            idx = where.get((y, t), {})
            texts = [tag(y, pr.id, q) for q in range(first, last + 1)]
            pos = [idx[x] for x in texts if x in idx]
            if ok:
                acked += len(texts)
                for x in texts:
                    if x not in idx:
                        bad("LOST", f"{s}/{t}: {x.split()[0]} was "
                            f"acknowledged and is not on its origin")
                if len(pos) > 1 and pos != list(range(pos[0],
                                                      pos[0] + len(pos))):
                    bad("SPLIT WRITE", f"{s}/{t}: the lines of one write "
                        f"s{y}-{pr.id}-{first}..{last} are at lines "
                        f"{[p + 1 for p in pos]}")
            else:
                inflight += len(texts)
                inflight_stored += len(pos)
    for (y, t), per in seq_of.items():
        last = {}
        for line in per.get(y, []):
            m = TAG_RE.match(line)
            pid, q = int(m.group(2)), int(m.group(3))
            if pid in last and last[pid] >= q:
                bad("ORDER", f"{streams[y]}/{t}: s{y}-{pid}-{q} after "
                    f"s{y}-{pid}-{last[pid]}")
            last[pid] = q

    # other origins: a prefix of the origin's own messages, in order
    k = {}   # (y, t, o) -> how many of o's first messages y holds
    for (y, t), per in seq_of.items():
        for o, got in per.items():
            if o == y:
                continue
            ref = own(o, t)
            j = 0
            while j < len(got) and j < len(ref) and got[j] == ref[j]:
                j += 1
            k[(y, t, o)] = j
            if j < len(got):
                if j < len(ref):
                    why = (f"the origin's message #{j + 1} is "
                           f"{ref[j].split()[0]}")
                else:
                    why = f"the origin has only {len(ref)}"
                bad("ORDER/GAP", f"{streams[y]}/{t}: message #{j + 1} from "
                    f"s{o} is {got[j].split()[0]}; {why} (s{y} must hold a "
                    f"prefix of s{o}'s own messages, in order)")

    # final reachability: all of them
    missing_total = 0
    for y in range(n):
        for o in sorted(must[y]):
            for t in topics:
                ref = own(o, t)
                have = k.get((y, t, o), 0)
                if have < len(ref):
                    missing_total += len(ref) - have
                    bad("MISSING", f"{streams[y]}/{t}: holds {have} of the "
                        f"{len(ref)} messages of s{o} (which reaches it through "
                        f"the final edges); first missing: "
                        f"{ref[have].split()[0]}")
    # every final edge x->y: y holds all x holds (but y's own)
    for x, y in sorted(final):
        for t in topics:
            for o in seq_of.get((x, t), {}):
                if o == y:
                    continue
                hx = len(own(o, t)) if o == x else k.get((x, t, o), 0)
                hy = k.get((y, t, o), 0)
                if hy < hx:
                    bad("EDGE", f"s{x}->s{y}, topic {t}: s{x} holds {hx} "
                        f"messages of s{o}, s{y} only {hy} (first missing: "
                        f"{own(o, t)[hy].split()[0]})")

    stored = sum(len(v) for v in content.values())
    counts = {f"{streams[y]}/{t}": len(v) for (y, t), v in content.items()}
    if a.save_counts:
        with open(a.save_counts, "w") as f:
            json.dump(counts, f, indent=1, sort_keys=True)
    if a.expect_counts:
        with open(a.expect_counts) as f:
            before = json.load(f)
        for key in sorted(set(before) | set(counts)):
            if before.get(key, 0) != counts.get(key, 0):
                bad("CHANGED", f"{key}: {before.get(key, 0)} messages before "
                    f"the restart, {counts.get(key, 0)} after")

    label = f"topology check, seed {seed}"
    for p in problems:
        print(f"{label}: problem: {p}")
    nv = sum(len(v) for v in V.values())
    for kind in sorted(V):
        items = V[kind]
        print(f"{label}: {kind}: {len(items)}")
        for x in items[:10]:
            print(f"    {x}")
        if len(items) > 10:
            print(f"    ... and {len(items) - 10} more")
    fe = " ".join(f"s{x}->s{y}" for x, y in sorted(final)) or "none"
    dups = len(V.get("DUPLICATE", []))
    lost = len(V.get("LOST", [])) + missing_total
    print(f"{label}: {'FAILED' if nv or problems else 'OK'}: "
          f"{n} streams, final edges {fe} ({len(ever)} ever); "
          f"{acked} messages acknowledged, {inflight} in flight at kills "
          f"({inflight_stored} stored), {stored} stored in "
          f"{len(content)} topic files; {lost} lost, {dups} duplicated, "
          f"order {'BROKEN' if V.get('ORDER') or V.get('ORDER/GAP') else 'OK'}")
    if nv or problems:
        print(f"FAILED: seed {seed} (SEED={seed} bats tests/e2e/55-topology.bats)")
        return 1
    return 0


# -------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan")
    p.add_argument("--seed", required=True)
    p.add_argument("--state", required=True)
    for name in ("setup", "round", "settle", "check"):
        p = sub.add_parser(name)
        p.add_argument("--mount", required=True)
        p.add_argument("--state", required=True)
        if name == "round":
            p.add_argument("--round", type=int, required=True)
        if name == "settle":
            p.add_argument("--timeout", type=float, default=30)
        if name == "check":
            p.add_argument("--save-counts")
            p.add_argument("--expect-counts")
    p = sub.add_parser("params")
    p.add_argument("--state", required=True)
    p.add_argument("--round", type=int, required=True)
    a = ap.parse_args()
    return {"plan": cmd_plan, "setup": cmd_setup, "params": cmd_params,
            "round": cmd_round, "settle": cmd_settle,
            "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
