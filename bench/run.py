#!/usr/bin/env python3
"""bench/run.py - the streamfs benchmark suite (`make bench`).

Runs every figure of docs/performance.md, each the median of BENCH_RUNS runs,
against its baselines measured in the same invocation, and writes the table
to bench/results/latest.txt (and bench/results/latest.png when gnuplot is
installed). Python 3 standard library only.

Figures (BENCH_ONLY names them):
  1   append, one message per write()      5   tail -f latency of a replica
  2   append, 64 KiB writes                6   storage overhead per message
  3   read (cat), cold and warm            7   start-up time and RSS
  4   replication in one daemon: catch-up, live latency
  4b  replication over the gateway: the same with two daemons on loopback
      (TLS, certificates made by scripts/gateway-certs.sh, which needs the
      openssl command), beside figure 4
  4c  synchronous replicas: write() latency, sync vs async, one daemon and
      over the gateway
  4d  replication beside unrelated topics: figure 4's live latency of one
      stream, and the daemon's idle CPU, before and after another stream
      gets 10,000 topics and a replica that refuses it
  8   fsync policies
  9   peer: NATS JetStream mirror, one server: figure 4's catch-up and live
      latency with nats-server (-js) and build/bench/natspeer (libnats),
      beside figure 4 when it runs too; "not measured" without them
  10  reads through the global namespace: cat of a topic another daemon
      serves (two daemons on loopback, TLS), beside the same cat on the
      serving daemon's own mount (floor) and an sshfs mount of a plain
      file of the same bytes over ssh on loopback (peer; "not measured"
      without sshd and sshfs)
  11  the NATS home (docs/nats.md), one server (R1) and a cluster of three
      (R3) on loopback: append one message per write and in 64 KiB writes,
      cat cold and cached, replication catch-up NATS -> local and local ->
      NATS, beside the local home in the same daemon, the FUSE passthrough
      (the floor) and raw JetStream publishes of the same messages
      (build/bench/natspeer publish: sync, sync with a headers-only
      consumer following the stream as every daemon does, sync as the
      home, async); "not measured" without nats-server or natspeer

Environment:
  BENCH_SCALE  multiplies the sizes (default 1; 0.1 is a quick run, 4 gives
               the 1 GiB read and start-up topic of issue 7)
  BENCH_RUNS   runs per figure (default 3)
  BENCH_ONLY   comma-separated figures to run (default: all of the above);
               e.g. BENCH_ONLY=4,4b,4c for replication only, BENCH_ONLY=4,9
               for streamfs beside NATS JetStream
  BENCH_DIR    where the temporary directories go (default /tmp; it must be
               on the disk you want to measure)
  BENCH_KEEP   1: keep the temporary directory (data and daemon logs)
  BENCH_OUT    the results file (default bench/results/latest.txt)
  BENCH_PIN    1: figure 11 pins the nats-servers to the last CPU and its
               clients (the daemon, bench/writer, natspeer, the passthrough)
               to the others, alike for the home and the raw figures
               (taskset; needs 2 CPUs or more); printed with the figure

Needs root for the cold-cache figures (drop_caches) and, with many topics,
to raise the daemon's descriptor limit. Mounts only in fresh temporary
directories, always unmounts, and stops only the processes it started.
"""

import concurrent.futures
import json
import os
import random
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bench")
STREAMFS = os.environ.get("BENCH_STREAMFS", os.path.join(ROOT, "streamfs"))
PASSTHROUGH = os.path.join(BIN, "passthrough")
WRITER = os.path.join(BIN, "writer")
LATENCY = os.path.join(BIN, "latency")
NATSPEER = os.path.join(BIN, "natspeer")   # figure 9 only: not required

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
RUNS = max(1, int(os.environ.get("BENCH_RUNS", "3")))
FIGURES = ["1", "2", "3", "4", "4b", "4c", "4d", "5", "6", "7", "8", "9", "10", "11"]   # in the order they run
ONLY = {x.lower() for x in os.environ.get("BENCH_ONLY", "").replace(" ", "").split(",") if x}
TMPBASE = os.environ.get("BENCH_DIR", "/tmp")
KEEP = os.environ.get("BENCH_KEEP", "") == "1"
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "bench", "results", "latest.txt"))
PIN = os.environ.get("BENCH_PIN", "") == "1"

MSG = 100                 # payload bytes of a message; each line is MSG + '\n'
LINE = MSG + 1
MiB = 1 << 20


def scaled(n, least=1):
    return max(least, int(n * SCALE))


# Sizes at BENCH_SCALE=1.
N_PERMSG = scaled(200_000, 1000)          # figure 1
N_BLOCK = scaled(2_000_000, 10_000)       # figure 2
READ_BYTES = scaled(256 * MiB, 4 * MiB)   # figure 3
N_CATCHUP = scaled(1_000_000, 10_000)     # figures 4 and 4b
N_LATENCY = scaled(1000, 200)             # figures 4, 4b, 4c: live samples per measurement
N_TAIL = scaled(12, 6)                    # figure 5, samples per tail mode
START_BYTES = scaled(1024 * MiB, 8 * MiB)  # figure 7a: the large topic (1 GiB), after 10x growth
START_TOPICS = scaled(10_000, 200)        # figure 7b
BESIDE_TOPICS = scaled(10_000, 1000)      # figure 4d: the unrelated topics
IDLE_SECONDS = max(1.0, min(3.0, 2.0 * SCALE))   # figure 4d: idle CPU window
START_TOPIC_MSGS = 10                     # messages per small topic
FSYNC_SECONDS = max(1.0, min(3.0, 2.0 * SCALE))  # figure 8, per measurement
FSYNC_WRITERS = 4

# ---- processes and mounts ---------------------------------------------------

_mounts = []      # every Mount started and not yet stopped
_children = []    # other processes we started (tail, nats-server)


def log(msg):
    print(msg, flush=True)


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if line.split()[4] == path:
                return True
    return False


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def nofile_for(nfds):
    """preexec_fn raising RLIMIT_NOFILE (soft and hard) to NFDS if needed."""
    def fn():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if nfds and nfds > hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nfds, nfds))
    return fn


class Mount:
    """A FUSE daemon we start in the foreground, on a fresh mountpoint."""

    def __init__(self, argv, mnt, logfile, nfds=0):
        self.argv, self.mnt, self.logfile, self.nfds = argv, mnt, logfile, nfds
        self.proc = None
        self.startup = None

    def start(self, timeout=120):
        os.makedirs(self.mnt, exist_ok=True)
        if mounted(self.mnt):
            raise RuntimeError(f"{self.mnt} is already a mount point")
        out = open(self.logfile, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     preexec_fn=nofile_for(self.nfds))
        out.close()
        _mounts.append(self)
        while not mounted(self.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode} "
                                   f"before mounting; see {self.logfile}")
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{self.mnt} not mounted after {timeout} s")
            time.sleep(0.0005)
        self.startup = time.monotonic() - t0
        return self

    def kb(self, key):
        return status_kb(self.proc.pid, key)

    def stop(self):
        if self.proc is None:
            return
        if mounted(self.mnt):
            for attempt in range(20):
                r = subprocess.run(["fusermount3", "-u", self.mnt],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if r.returncode == 0 or not mounted(self.mnt):
                    break
                time.sleep(0.25)
            else:
                subprocess.run(["fusermount3", "-uz", self.mnt],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGTERM)   # our own child only
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in _mounts:
            _mounts.remove(self)
        rc = self.proc.returncode
        self.proc = None
        if rc != 0:
            log(f"  warning: {self.argv[0]} exited with status {rc}; see {self.logfile}")

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def cleanup_all():
    for p in list(_children):
        if p.poll() is None:
            p.kill()
            p.wait()
        _children.remove(p)
    for m in list(_mounts):
        m.stop()


class Bench:
    """The temporary directory of this invocation."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="streamfs-bench.", dir=TMPBASE)
        self.n = 0

    def fresh(self, name):
        self.n += 1
        d = os.path.join(self.dir, f"{self.n:03d}-{name}")
        os.makedirs(d)
        return d

    def streamfs(self, d, fsync="os", nfds=0, clusters=("a", "b"), extra=""):
        """A streamfs daemon on D/mnt with data under D/data/<cluster>."""
        conf = os.path.join(d, "mount.conf")
        if not os.path.exists(conf):
            with open(conf, "w") as f:
                f.write(f"[mount]\nmountpoint = {d}/mnt\nfsync = {fsync}\n{extra}")
                for c in clusters:
                    f.write(f"[cluster {c}]\ndata = {d}/data/{c}\n")
        return Mount([STREAMFS, "-f", "-c", conf, "-l", os.path.join(d, "streamfs.log")],
                     os.path.join(d, "mnt"), os.path.join(d, "streamfs.out"), nfds)

    def passthrough(self, d, cache=False):
        """The passthrough of D/src on D/ptmnt (D/ptcache with --cache)."""
        os.makedirs(os.path.join(d, "src"), exist_ok=True)
        name = "ptcache" if cache else "ptmnt"
        argv = [PASSTHROUGH] + (["--cache"] if cache else []) + [os.path.join(d, "src"),
                                                                  os.path.join(d, name)]
        return Mount(argv, os.path.join(d, name), os.path.join(d, name + ".out"))

    def remove(self, d):
        if not KEEP:
            shutil.rmtree(d, ignore_errors=True)


# ---- measuring helpers ------------------------------------------------------

def run_tool(argv, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip() or r.returncode}")
    # key=value words; a leading word without '=' (natspeer's) names the line.
    return dict(kv.split("=", 1) for kv in r.stdout.split() if "=" in kv)


def writer(path, n=None, seconds=None, block=None, threads=1, sync_each=False, pin=None):
    argv = (["taskset", "-c", pin] if pin else []) + [WRITER, "-m", str(MSG)]
    argv += ["-n", str(n)] if n else ["-t", str(seconds)]
    if block:
        argv += ["-b", str(block)]
    if threads > 1:
        argv += ["-j", str(threads)]
    if sync_each:
        argv.append("-S")
    r = run_tool(argv + [path])
    return {k: float(v) for k, v in r.items()}


def can_drop_caches():
    return os.access("/proc/sys/vm/drop_caches", os.W_OK)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


READ_AHEAD_KIB = 1024   # streamfs's default [mount] read_ahead, in KiB


def set_read_ahead(mnt, kib):
    """Give the FUSE mount at MNT the kernel read-ahead streamfs gives its own
    mount; False if sysfs is not writable (not root)."""
    st = os.stat(mnt)      # a request: the kernel's INIT is answered by now
    path = f"/sys/class/bdi/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/read_ahead_kb"
    try:
        with open(path, "w") as f:
            f.write(f"{kib}\n")
        return True
    except OSError:
        return False


def timed_cat(path):
    t0 = time.monotonic()
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
    return time.monotonic() - t0


def ctl_append(path, line, create=False):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0), 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def du(path, apparent):
    argv = ["du", "-s", "--block-size=1"] + (["--apparent-size"] if apparent else []) + [path]
    return int(subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True).stdout.split()[0])


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def f_rate(x):
    return f"{x:,.0f}"


def f_ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"


def f_mb(kb):
    return f"{kb / 1024:.1f} MiB"


def pct(xs, p):
    s = sorted(xs)
    i = max(0, min(len(s) - 1, int(p / 100 * len(s) + 0.999999) - 1))
    return s[i]


# ---- results ----------------------------------------------------------------

class Results:
    def __init__(self):
        self.sections = []     # (title, [lines])
        self.targets = []      # (target, measured, met or None)
        self.notes = []
        self.plot = {}         # label -> (streamfs/passthrough ratio)
        self.data = {}         # figure -> its summary, for a later figure to show beside its own
        self.infos = []        # comparisons with peers: information, not issue 7 targets

    def section(self, title, lines):
        self.sections.append((title, lines))
        log("")
        log(title)
        for line in lines:
            log("  " + line)

    def target(self, what, measured, met):
        self.targets.append((what, measured, met))

    def info(self, text):
        self.infos.append(text)
        log("  info: " + text)

    def note(self, text):
        self.notes.append(text)
        log("  note: " + text)


def table(header, rows):
    cols = [header] + rows
    w = [max(len(str(r[i])) for r in cols) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).rjust(w[i]) if i else str(c).ljust(w[i])
                              for i, c in enumerate(r))
    return [fmt(header), "  ".join("-" * x for x in w)] + [fmt(r) for r in rows]


# ---- the figures ------------------------------------------------------------

def fig_append(b, res, number, title, n, block):
    """Figures 1 and 2: append N messages, one per write() or BLOCK at a time."""
    rates = {"direct file": [], "passthrough": [], "streamfs": []}
    hwm = {"passthrough": [], "streamfs": []}
    storage = None
    for run in range(RUNS):
        d = b.fresh(f"fig{number}")
        os.makedirs(os.path.join(d, "plain"))
        rates["direct file"].append(writer(os.path.join(d, "plain", "f"), n=n, block=block))
        os.sync()
        with b.passthrough(d).start() as pt:
            rates["passthrough"].append(writer(os.path.join(pt.mnt, "f"), n=n, block=block))
            hwm["passthrough"].append(pt.kb("VmHWM"))
        os.sync()
        with b.streamfs(d).start() as sf:
            os.mkdir(os.path.join(sf.mnt, "a", "s"))
            topic = os.path.join(sf.mnt, "a", "s", "t")
            rates["streamfs"].append(writer(topic, n=n, block=block))
            if os.stat(topic).st_size != n * LINE:
                raise RuntimeError(f"figure {number}: topic has {os.stat(topic).st_size} bytes, "
                                   f"expected {n * LINE}")
            hwm["streamfs"].append(sf.kb("VmHWM"))
        os.sync()
        tdir = os.path.join(d, "data", "a", "s", "t")
        storage = (du(tdir, False), du(tdir, True), du(os.path.join(d, "plain", "f"), False))
        b.remove(d)
    m = {k: med([r["msgs_per_s"] for r in v]) for k, v in rates.items()}
    mb = {k: med([r["mb_per_s"] for r in v]) for k, v in rates.items()}
    rows = []
    for k in rates:
        rows.append([k, f_rate(m[k]), f"{mb[k]:.1f}",
                     f_ratio(m["streamfs"], m[k]) if k != "streamfs" else "",
                     f_mb(med(hwm[k])) if k in hwm else ""])
    lines = table(["", "messages/s", "MB/s", "streamfs ratio", "peak RSS"], rows)
    lines.append(f"streamfs / passthrough = {m['streamfs'] / m['passthrough']:.2f}, "
                 f"streamfs / direct file = {m['streamfs'] / m['direct file']:.2f}")
    lines.append("runs (messages/s): " + "; ".join(
        f"{k}: " + ", ".join(f_rate(r["msgs_per_s"]) for r in v) for k, v in rates.items()))
    res.section(f"{number}. {title} ({n:,} messages of {MSG} bytes, median of {RUNS})", lines)
    return m, storage


def fig1(b, res):
    m, _ = fig_append(b, res, 1, "Append, one message per write()", N_PERMSG, None)
    r = m["streamfs"] / m["passthrough"]
    res.plot["1 msg/write"] = (r, 0.9)
    res.target("one message per write() >= 0.9x passthrough", f"{r:.2f}x", r >= 0.9)


def fig2(b, res):
    m, storage = fig_append(b, res, 2, "Append, 64 KiB writes of 101-byte lines",
                            N_BLOCK, 65536)
    r = m["streamfs"] / m["passthrough"]
    res.plot["64 KiB writes"] = (r, 0.8)
    res.target("64 KiB writes >= 0.8x passthrough", f"{r:.2f}x", r >= 0.8)
    return storage


def fig3(b, res):
    n = READ_BYTES // LINE
    size = n * LINE
    d = b.fresh("fig3")
    plain = os.path.join(d, "src")       # the passthroughs serve this directory
    os.makedirs(plain)
    writer(os.path.join(plain, "r"), n=n, block=65536)
    cold_ok = can_drop_caches()
    kinds = ("direct file", "passthrough", "passthrough, page cache", "streamfs")
    times = {(k, c): [] for k in kinds for c in ("cold", "warm")}
    with b.streamfs(d).start() as sf, b.passthrough(d).start() as pt, \
            b.passthrough(d, cache=True).start() as ptc:
        ra_ok = set_read_ahead(ptc.mnt, READ_AHEAD_KIB)
        os.mkdir(os.path.join(sf.mnt, "a", "s"))
        topic = os.path.join(sf.mnt, "a", "s", "r")
        writer(topic, n=n, block=65536)
        paths = {"direct file": os.path.join(plain, "r"),
                 "passthrough": os.path.join(pt.mnt, "r"),
                 "passthrough, page cache": os.path.join(ptc.mnt, "r"), "streamfs": topic}
        for k, p in paths.items():
            if os.stat(p).st_size != size:
                raise RuntimeError(f"figure 3: {p} has {os.stat(p).st_size} bytes, not {size}")
        for run in range(RUNS):
            for k, p in paths.items():
                if cold_ok:
                    drop_caches()
                    times[(k, "cold")].append(timed_cat(p))
                timed_cat(p)                        # warm the caches
                times[(k, "warm")].append(timed_cat(p))
        hwm = {"streamfs": sf.kb("VmHWM"), "passthrough": pt.kb("VmHWM"),
               "passthrough, page cache": ptc.kb("VmHWM")}
    b.remove(d)
    rate = {key: size / med(v) / 1e6 for key, v in times.items() if v}
    rows = []
    for k in kinds:
        row = [k]
        for c in ("cold", "warm"):
            if (k, c) in rate:
                row += [f"{rate[(k, c)]:.0f}",
                        f_ratio(rate[("streamfs", c)], rate[(k, c)]) if k != "streamfs" else ""]
            else:
                row += ["n/a", ""]
        row.append(f_mb(hwm[k]) if k in hwm else "")
        rows.append(row)
    lines = table(["", "cold MB/s", "streamfs ratio", "warm MB/s", "streamfs ratio", "peak RSS"], rows)
    if not cold_ok:
        lines.append("cold: not measured (writing /proc/sys/vm/drop_caches needs root)")
    lines.append("cold = after sync; echo 3 > /proc/sys/vm/drop_caches; warm = second cat in a row")
    lines.append("passthrough: direct_io, each read() reaches the daemon; passthrough, page cache:")
    lines.append("  opened as streamfs opens a topic read-only (keep_cache, auto_inval_data), read-ahead "
                 + (f"{READ_AHEAD_KIB} KiB as streamfs's" if ra_ok else "left at the kernel's (sysfs not writable)"))
    res.section(f"3. Read: cat of a {size / MiB:.0f} MiB topic ({n:,} messages), median of {RUNS}", lines)
    for c in ("cold", "warm"):
        if ("streamfs", c) not in rate:
            continue
        for k, label in (("passthrough", "passthrough"),
                         ("passthrough, page cache", "page-cache passthrough")):
            r = rate[("streamfs", c)] / rate[(k, c)]
            res.plot[f"cat {c}" + ("" if k == "passthrough" else ", pc")] = (r, 0.9)
            res.target(f"read ({c}) >= 0.9x {label}", f"{r:.2f}x", r >= 0.9)


def info_replica(path, replica=None):
    """The replica of the stream whose .info is PATH: the first, or the one
    whose replicaPath is REPLICA (/mapr/<cluster>/<stream>); None if none."""
    with open(path) as f:
        j = json.load(f)
    for r in j.get("replicas") or []:
        if replica is None or r.get("replicaPath") == replica:
            return r
    return None


def setup_pair(mnt, n):
    """a/s with N messages in topic t, b/s allowing a/s as upstream."""
    os.mkdir(os.path.join(mnt, "a", "s"))
    os.mkdir(os.path.join(mnt, "b", "s"))
    if n:
        writer(os.path.join(mnt, "a", "s", "t"), n=n, block=65536)
    ctl_append(os.path.join(mnt, "b", "s", ".upstreams"), "/mapr/a/s")


def wait_caught_up(info, what, t0, timeout=600, replica=None):
    """Poll the source's .info every 10 ms until its replica (the first, or
    the one named REPLICA) is REPLICATING with putsPending 0. A replica
    failing (UNEXPECTED) for 30 s in a row stops the figure with its
    lastError."""
    failing = None
    while True:
        r = info_replica(info, replica)
        if r and r["replicaState"] == "REPLICA_STATE_REPLICATING" and r["putsPending"] == 0:
            return
        now = time.monotonic()
        if r and r["replicaState"] == "REPLICA_STATE_UNEXPECTED":
            failing = failing or now
            if now - failing > 30:
                raise RuntimeError(f"{what}: replica failing: {r.get('lastError')}")
        else:
            failing = None
        if now - t0 > timeout:
            raise RuntimeError(f"{what}: catch-up not done after {timeout} s")
        time.sleep(0.01)


def live_latency(src, rep):
    """bench/latency: N_LATENCY appends to SRC, each timed until readable in REP."""
    r = run_tool([LATENCY, "-n", str(N_LATENCY), "-m", str(MSG), src, rep])
    return {k: float(v) for k, v in r.items()}


def free_ports(n):
    """N distinct free TCP ports of 127.0.0.1: bound to port 0 together, then
    closed (nothing listened on them, so they are free again at once)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def gateway_certs(b):
    """The CA and the two daemons' certificates, made once per invocation in
    the temporary directory by scripts/gateway-certs.sh: d1 names cluster a,
    d2 names cluster b."""
    d = os.path.join(b.dir, "certs")
    if not os.path.exists(os.path.join(d, "d2.crt")):
        script = os.path.join(ROOT, "scripts", "gateway-certs.sh")
        for args in (["ca", d], ["cert", d, "d1", "a"], ["cert", d, "d2", "b"]):
            r = subprocess.run([script] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
            if r.returncode != 0:
                raise RuntimeError(f"gateway-certs.sh {' '.join(args)}: {r.stderr.strip()}")
    return d


def gateway_pair(b, d, access=None):
    """Two daemons as two hosts on loopback, not started: D/d1 serves cluster a
    and reaches b through d2's gateway, D/d2 serves b and reaches a through
    d1's. Each listens on its own free port with its own certificate. With
    ACCESS, each lets the other's cluster do that much (the global namespace:
    [cluster] access)."""
    certs = gateway_certs(b)
    ports = dict(zip(("d1", "d2"), free_ports(2)))
    mounts = []
    for name, local, peer, remote in (("d1", "a", "d2", "b"), ("d2", "b", "d1", "a")):
        dd = os.path.join(d, name)
        os.makedirs(dd)
        with open(os.path.join(dd, "mount.conf"), "w") as f:
            f.write(f"[mount]\nmountpoint = {dd}/mnt\nfsync = os\n"
                    f"[cluster {local}]\ndata = {dd}/data/{local}\n"
                    f"[cluster {remote}]\ngateway = 127.0.0.1:{ports[peer]}\n"
                    + (f"access = {access}\n" if access else "") +
                    f"[gateway]\nlisten = 127.0.0.1:{ports[name]}\n"
                    f"cert = {certs}/{name}.crt\nkey = {certs}/{name}.key\nca = {certs}/ca.crt\n")
        mounts.append(b.streamfs(dd))
    return mounts


def catchup_and_latency(mnt_a, mnt_b, what):
    """On a/s (under MNT_A) with N_CATCHUP messages in t, and b/s (under MNT_B)
    accepting a/s: add b/s as a replica of a/s and time the initial copy, then
    measure live latency. Returns (messages/s, latency figures)."""
    info = os.path.join(mnt_a, "a", "s", ".info")
    os.sync()
    t0 = time.monotonic()
    ctl_append(os.path.join(mnt_a, "a", "s", ".replicas"), "/mapr/b/s")
    wait_caught_up(info, what, t0)
    secs = time.monotonic() - t0
    got = os.stat(os.path.join(mnt_b, "b", "s", "t")).st_size
    if got != N_CATCHUP * LINE:
        raise RuntimeError(f"{what}: replica has {got} bytes, expected {N_CATCHUP * LINE}")
    os.sync()   # the copy's dirty pages out of the way of the live figure
    lat = live_latency(os.path.join(mnt_a, "a", "s", "t"), os.path.join(mnt_b, "b", "s", "t"))
    return N_CATCHUP / secs, lat


def repl_summary(rates, lat):
    """Medians over runs (max: the worst run) of a catch-up and live-latency figure."""
    return {"rate": med(rates), "mbps": med(rates) * LINE / 1e6,
            "p50": med([x["p50_us"] for x in lat]), "p90": med([x["p90_us"] for x in lat]),
            "p99": med([x["p99_us"] for x in lat]), "max": max(x["max_us"] for x in lat),
            "w50": med([x["write_p50_us"] for x in lat])}


def fig4(b, res):
    rates, lat, hwm, rep_storage = [], [], [], None
    for run in range(RUNS):
        d = b.fresh("fig4")
        with b.streamfs(d).start() as sf:
            setup_pair(sf.mnt, N_CATCHUP)
            rate, l = catchup_and_latency(sf.mnt, sf.mnt, "figure 4")
            rates.append(rate)
            lat.append(l)
            hwm.append(sf.kb("VmHWM"))
        os.sync()
        rep_storage = du(os.path.join(d, "data", "b", "s", "t"), False)
        b.remove(d)
    s = repl_summary(rates, lat)
    s["rss"] = f_mb(med(hwm))
    s["rss_kb"] = med(hwm)
    res.data["4"] = s
    cu, p50, p99, mx = s["rate"], s["p50"], s["p99"], s["max"]
    lines = [f"catch-up (initial copy of {N_CATCHUP:,} messages, A -> B in one daemon): "
             f"{f_rate(cu)} messages/s, {s['mbps']:.0f} MB/s   "
             f"(runs: {', '.join(f_rate(x) for x in rates)} messages/s)",
             "  timed from the write to A/.replicas until A/.info shows B REPLICATING with "
             f"putsPending 0 (polled every 10 ms); MB/s of topic bytes ({LINE} per message)",
             f"live latency, append on A to readable on B ({N_LATENCY} samples per run, 1 ms apart):",
             f"  p50 {p50:.0f} us   p90 {s['p90']:.0f} us   p99 {p99:.0f} us   "
             f"max {mx:.0f} us   (median over runs; max = worst run)",
             f"  of which the write() on A alone: p50 {s['w50']:.0f} us",
             "  runs p50/p99/max us: " + "; ".join(
                 f"{x['p50_us']:.0f}/{x['p99_us']:.0f}/{x['max_us']:.0f}" for x in lat),
             f"daemon peak RSS: {s['rss']}",
             "the same over the gateway, two daemons: figure 4b"]
    res.section(f"4. Replication in one daemon, median of {RUNS}", lines)
    res.target("replication catch-up >= 1,000,000 messages/s in one daemon",
               f"{f_rate(cu)} msg/s", cu >= 1e6)
    res.target("live replication latency p99 < 1 ms in one daemon", f"p99 {p99 / 1000:.2f} ms",
               p99 < 1000)
    return rep_storage


def fig4b(b, res):
    """Figure 4 over the gateway: a/s on daemon 1, its replica b/s on daemon 2."""
    rates, lat, hwm1, hwm2 = [], [], [], []
    for run in range(RUNS):
        d = b.fresh("fig4b")
        m1, m2 = gateway_pair(b, d)
        with m2.start() as sf2, m1.start() as sf1:
            os.mkdir(os.path.join(sf1.mnt, "a", "s"))
            os.mkdir(os.path.join(sf2.mnt, "b", "s"))
            writer(os.path.join(sf1.mnt, "a", "s", "t"), n=N_CATCHUP, block=65536)
            ctl_append(os.path.join(sf2.mnt, "b", "s", ".upstreams"), "/mapr/a/s")
            rate, l = catchup_and_latency(sf1.mnt, sf2.mnt, "figure 4b")
            rates.append(rate)
            lat.append(l)
            hwm1.append(sf1.kb("VmHWM"))
            hwm2.append(sf2.kb("VmHWM"))
        os.sync()
        b.remove(d)
    g = repl_summary(rates, lat)
    g["rss"] = f"{f_mb(med(hwm1))} + {f_mb(med(hwm2))}"
    one = res.data.get("4")
    rows = []
    for label, s in (("one daemon (figure 4)", one), ("two daemons, gateway", g)):
        if s:
            rows.append([label, f_rate(s["rate"]), f"{s['mbps']:.0f}", f"{s['p50']:.0f}",
                         f"{s['p90']:.0f}", f"{s['p99']:.0f}", f"{s['max']:.0f}",
                         f"{s['w50']:.0f}", s["rss"]])
        else:
            rows.append([label, "not run", "", "", "", "", "", "", ""])
    if one:
        rows.append(["gateway / one daemon", f_ratio(g["rate"], one["rate"]),
                     f_ratio(g["mbps"], one["mbps"]), f_ratio(g["p50"], one["p50"]),
                     f_ratio(g["p90"], one["p90"]), f_ratio(g["p99"], one["p99"]),
                     f_ratio(g["max"], one["max"]), f_ratio(g["w50"], one["w50"]), ""])
    lines = table(["", "catch-up msg/s", "MB/s", "p50 us", "p90 us", "p99 us", "max us",
                   "write p50 us", "peak RSS"], rows)
    lines += [f"catch-up: initial copy of {N_CATCHUP:,} messages of {MSG} bytes, timed as in "
              "figure 4; latency: append on A to readable on B,",
              f"  {N_LATENCY} samples per run, 1 ms apart, median over runs (max = worst run); "
              "write p50 = the write() on A alone.",
              "two daemons = two hosts on loopback: daemon 1 serves cluster a and declares b "
              "remote (gateway = 127.0.0.1:P2),",
              "  daemon 2 serves b and declares a remote; each has a [gateway] listener on a free "
              "port of 127.0.0.1, with mutual TLS",
              "  (certificates by scripts/gateway-certs.sh). Peak RSS: daemon 1 (source) + daemon 2 "
              "(replica)."]
    if not one:
        lines.append("one daemon: run figure 4 too (BENCH_ONLY=4,4b) to see it beside")
    lines.append("runs over the gateway, catch-up msg/s: " + ", ".join(f_rate(x) for x in rates) +
                 "; p50/p99/max us: " + "; ".join(
                     f"{x['p50_us']:.0f}/{x['p99_us']:.0f}/{x['max_us']:.0f}" for x in lat))
    res.section(f"4b. Replication over the gateway (two daemons, TLS on loopback), "
                f"median of {RUNS}", lines)
    ok = g["rate"] >= 500_000 and g["p99"] < 2000
    res.target("catch-up >= 500,000 msg/s and p99 < 2 ms over the gateway",
               f"{f_rate(g['rate'])} msg/s, p99 {g['p99'] / 1000:.2f} ms", ok)


def sync_vs_async(mnt_a, mnt_b, where, out, degraded):
    """a/s (under MNT_A) replicated to b/s (under MNT_B), caught up: live
    latency with the replica asynchronous, then synchronous=true."""
    os.mkdir(os.path.join(mnt_a, "a", "s"))
    os.mkdir(os.path.join(mnt_b, "b", "s"))
    ctl_append(os.path.join(mnt_b, "b", "s", ".upstreams"), "/mapr/a/s")
    src = os.path.join(mnt_a, "a", "s", "t")
    rep = os.path.join(mnt_b, "b", "s", "t")
    ctl_append(src, "first " + "f" * (MSG - 6), create=True)
    replicas = os.path.join(mnt_a, "a", "s", ".replicas")
    info = os.path.join(mnt_a, "a", "s", ".info")
    ctl_append(replicas, "/mapr/b/s")
    wait_caught_up(info, f"figure 4c ({where})", time.monotonic(), timeout=60)
    os.sync()
    out[(where, "async")].append(live_latency(src, rep))
    ctl_append(replicas, "/mapr/b/s synchronous=true")
    r = info_replica(info)
    if not r or not r.get("synchronous"):
        raise RuntimeError(f"figure 4c ({where}): the replica did not become synchronous")
    out[(where, "sync")].append(live_latency(src, rep))
    r = info_replica(info)
    degraded[where].append(bool(r.get("degraded")) or r["replicaState"] != "REPLICA_STATE_REPLICATING")


def cpu_seconds(pid):
    """User + system CPU seconds of process PID so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(pid, seconds):
    """The share of one CPU process PID uses over SECONDS with nothing asked
    of it (0.25 = a quarter of a core)."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def fig4d(b, res):
    """Figure 4's live latency of a/s -> b/s in one daemon, and the daemon's
    idle CPU, before and after stream a/big gets BESIDE_TOPICS topics of one
    message and a replica (b/refused) that does not accept it: the replication
    of a/s must not pay for topics it has nothing to do with (issue 13.5)."""
    out = {"without": [], "with": []}
    cpu = {"without": [], "with": []}
    for run in range(RUNS):
        d = b.fresh("fig4d")
        with b.streamfs(d).start() as sf:
            m = sf.mnt
            os.mkdir(os.path.join(m, "a", "s"))
            os.mkdir(os.path.join(m, "b", "s"))
            ctl_append(os.path.join(m, "b", "s", ".upstreams"), "/mapr/a/s")
            src, rep = os.path.join(m, "a", "s", "t"), os.path.join(m, "b", "s", "t")
            ctl_append(src, "first " + "f" * (MSG - 6), create=True)
            info = os.path.join(m, "a", "s", ".info")
            ctl_append(os.path.join(m, "a", "s", ".replicas"), "/mapr/b/s")
            wait_caught_up(info, "figure 4d", time.monotonic(), timeout=60)
            os.sync()
            cpu["without"].append(idle_cpu(sf.proc.pid, IDLE_SECONDS))
            out["without"].append(live_latency(src, rep))
            os.mkdir(os.path.join(m, "a", "big"))
            os.mkdir(os.path.join(m, "b", "refused"))
            make_topics(m, "big", 0, BESIDE_TOPICS, 1)
            ctl_append(os.path.join(m, "a", "big", ".replicas"), "/mapr/b/refused")
            big_info = os.path.join(m, "a", "big", ".info")
            t0 = time.monotonic()
            while True:
                r = info_replica(big_info)
                if r and r["replicaState"] == "REPLICA_STATE_UNEXPECTED":
                    break
                if time.monotonic() - t0 > 120:
                    raise RuntimeError("figure 4d: a/big's replica was not refused after 120 s")
                time.sleep(0.05)
            os.sync()
            cpu["with"].append(idle_cpu(sf.proc.pid, IDLE_SECONDS))
            out["with"].append(live_latency(src, rep))
        b.remove(d)
    m = {k: {f: med([x[f] for x in v]) for f in ("p50_us", "p90_us", "p99_us")}
         for k, v in out.items()}
    mx = {k: max(x["max_us"] for x in v) for k, v in out.items()}
    c = {k: med(v) for k, v in cpu.items()}
    rows = [[f"{BESIDE_TOPICS:,} other topics" if k == "with" else "no other topics",
             f"{m[k]['p50_us']:.0f}", f"{m[k]['p90_us']:.0f}", f"{m[k]['p99_us']:.0f}",
             f"{mx[k]:.0f}", f"{100 * c[k]:.1f}%"] for k in ("without", "with")]
    rows.append(["with / without", f_ratio(m["with"]["p50_us"], m["without"]["p50_us"]),
                 f_ratio(m["with"]["p90_us"], m["without"]["p90_us"]),
                 f_ratio(m["with"]["p99_us"], m["without"]["p99_us"]),
                 f_ratio(mx["with"], mx["without"]), ""])
    lines = table(["a/s -> b/s, one daemon", "p50 us", "p90 us", "p99 us", "max us",
                   "idle CPU"], rows)
    lines += [f"latency as in figure 4 ({N_LATENCY} samples per run, 1 ms apart, median over "
              "runs; max = worst run);",
              f"  idle CPU: the daemon's user+system time over {IDLE_SECONDS:.0f} s with no "
              "request, in % of one core;",
              f"  other topics: stream a/big with {BESIDE_TOPICS:,} topics of one message, "
              "replicated to b/refused, which does not",
              "  accept a/big as an upstream (the replica stays UNEXPECTED and is retried); "
              "both rows measured in the same daemon",
              "runs p50/p99/max us, without: " + "; ".join(
                  f"{x['p50_us']:.0f}/{x['p99_us']:.0f}/{x['max_us']:.0f}" for x in out["without"]) +
              "; with: " + "; ".join(
                  f"{x['p50_us']:.0f}/{x['p99_us']:.0f}/{x['max_us']:.0f}" for x in out["with"])]
    res.section(f"4d. Replication beside {BESIDE_TOPICS:,} unrelated topics, median of {RUNS}",
                lines)
    ok = m["with"]["p99_us"] < 2 * max(m["without"]["p99_us"], 500) and c["with"] < 0.05
    res.target(f"beside {BESIDE_TOPICS:,} unrelated topics with a refused replica: live p99 "
               "within 2x (or 1 ms) of without, idle CPU < 5%",
               f"p99 {m['with']['p99_us'] / 1000:.2f} ms vs {m['without']['p99_us'] / 1000:.2f} ms, "
               f"idle CPU {100 * c['with']:.1f}%", ok)


def fig4c(b, res):
    """write() latency with a synchronous replica, against an asynchronous one,
    in one daemon and over the gateway."""
    where = ("one daemon", "gateway")
    out = {(w, m): [] for w in where for m in ("async", "sync")}
    degraded = {w: [] for w in where}
    for run in range(RUNS):
        d = b.fresh("fig4c-local")
        with b.streamfs(d).start() as sf:
            sync_vs_async(sf.mnt, sf.mnt, "one daemon", out, degraded)
        b.remove(d)
        d = b.fresh("fig4c-gateway")
        m1, m2 = gateway_pair(b, d)
        with m2.start() as sf2, m1.start() as sf1:
            sync_vs_async(sf1.mnt, sf2.mnt, "gateway", out, degraded)
        b.remove(d)
    m = {k: {f: med([x[f] for x in v]) for f in ("write_p50_us", "write_p99_us", "p50_us", "p99_us")}
         for k, v in out.items()}
    rows = [[f"{w}, {mode}", f"{m[(w, mode)]['write_p50_us']:.0f}",
             f"{m[(w, mode)]['write_p99_us']:.0f}", f"{m[(w, mode)]['p50_us']:.0f}",
             f"{m[(w, mode)]['p99_us']:.0f}"]
            for w in where for mode in ("async", "sync")]
    lines = table(["replica", "write p50 us", "write p99 us", "A->B p50 us", "A->B p99 us"], rows)
    for w in where:
        a, s = m[(w, "async")], m[(w, "sync")]
        lines.append(f"sync / async, {w}: write p50 "
                     f"{f_ratio(s['write_p50_us'], a['write_p50_us'])}, write p99 "
                     f"{f_ratio(s['write_p99_us'], a['write_p99_us'])}")
    lines += [f"write = the write() of one {MSG}-byte message on A (bench/latency, {N_LATENCY} "
              "samples per run, 1 ms apart), median over runs;",
              "A->B = from before that write() until the message is readable on B. The same "
              "streams, caught up, are measured async first,",
              "then after `/mapr/b/s synchronous=true` is appended to a/s/.replicas. "
              "A sync write() returns once B has applied it.",
              "degraded after the sync measurement (sync_timeout_ms missed): " + "; ".join(
                  f"{w}: {sum(degraded[w])} of {len(degraded[w])} runs" for w in where)]
    res.section(f"4c. Synchronous replicas: write() latency, median of {RUNS}", lines)


def tail_samples(src, replica, nsamples, sleep_arg, max_gap):
    """Append to SRC, time the line appearing in `tail -f` of REPLICA."""
    argv = ["tail", "-n", "0", "-f"] + (["-s", sleep_arg] if sleep_arg else []) + [replica]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _children.append(p)
    out = []
    buf = b""
    fd = os.open(src, os.O_WRONLY | os.O_APPEND)
    try:
        time.sleep(1.5)     # let tail start following
        for i in range(nsamples):
            time.sleep(random.uniform(0, max_gap))
            mark = f"tail-sample {i:06d} ".encode()
            line = mark + b"y" * (MSG - len(mark)) + b"\n"
            t0 = time.monotonic()
            os.write(fd, line)
            while mark not in buf:
                r, _, _ = select.select([p.stdout], [], [], 10)
                if not r:
                    raise RuntimeError("figure 5: tail -f showed nothing for 10 s")
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("figure 5: tail -f exited")
                buf += chunk
            out.append((time.monotonic() - t0) * 1000)
            buf = buf[buf.index(mark) + len(line):]
    finally:
        os.close(fd)
        p.kill()
        p.wait()
        _children.remove(p)
    return out


def fig5(b, res):
    d = b.fresh("fig5")
    with b.streamfs(d).start() as sf:
        setup_pair(sf.mnt, 0)
        src = os.path.join(sf.mnt, "a", "s", "t")
        ctl_append(src, "first", create=True)
        ctl_append(os.path.join(sf.mnt, "a", "s", ".replicas"), "/mapr/b/s")
        rep = os.path.join(sf.mnt, "b", "s", "t")
        t0 = time.monotonic()
        while not os.path.exists(rep) or os.stat(rep).st_size < 6:
            if time.monotonic() - t0 > 30:
                raise RuntimeError("figure 5: replica topic did not appear")
            time.sleep(0.01)
        dflt = tail_samples(src, rep, N_TAIL * RUNS, None, 1.0)
        fast = tail_samples(src, rep, N_TAIL * RUNS, "0.01", 0.05)
        hwm = sf.kb("VmHWM")
    b.remove(d)
    rows = [[name, f"{med(v):.0f}", f"{pct(v, 90):.0f}", f"{max(v):.0f}", f"{min(v):.0f}", len(v)]
            for name, v in (("tail -f (polls every 1 s)", dflt),
                            ("tail -f -s 0.01", fast))]
    lines = table(["", "p50 ms", "p90 ms", "max ms", "min ms", "samples"], rows)
    lines += ["coreutils tail treats FUSE as a remote filesystem: no inotify, it re-reads the",
              "file every --sleep-interval (1 s by default). Appends come at random moments,",
              "so the default mode shows a uniform 0-1 s wait; -s 0.01 shows what the",
              f"daemon itself adds. Daemon peak RSS: {f_mb(hwm)}"]
    res.section("5. tail -f latency: append on cluster A to the line in `tail -f` of its replica on B",
                lines)


def fig6(b, res, storage, rep_storage):
    lines = []
    if storage:
        alloc, apparent, plain = storage
        n = N_BLOCK
        lines += table(["", "bytes on disk", "bytes/message", "overhead/message"], [
            ["streamfs topic (allocated)", f"{alloc:,}", f"{alloc / n:.1f}", f"{alloc / n - MSG:.1f}"],
            ["streamfs topic (apparent)", f"{apparent:,}", f"{apparent / n:.1f}", f"{apparent / n - MSG:.1f}"],
            ["plain file, one line each", f"{plain:,}", f"{plain / n:.1f}", f"{plain / n - MSG:.1f}"],
        ] + ([["replica topic (allocated)", f"{rep_storage:,}",
               f"{rep_storage / N_CATCHUP:.1f}", f"{rep_storage / N_CATCHUP - MSG:.1f}"]]
             if rep_storage else []))
        lines += [f"topic of figure 2 ({n:,} messages of {MSG} bytes); du -s of its directory "
                  "(segments, index, origin table, checkpoint, metadata).",
                  "overhead = bytes/message - 100 (the payload); segments of format 2 keep the "
                  "lines as they are, the index one 64-byte entry per write() (docs/storage.md).",
                  "peak RSS of the daemon: see each figure."]
        ov = alloc / n - MSG
        res.target("storage overhead < 32 bytes/message", f"{ov:.1f} bytes", ov < 32)
    else:
        lines.append("not measured (needs figure 2)")
    res.section("6. Storage overhead per message of 100 bytes", lines)


def make_topics(mnt, stream, first, last, nmsgs):
    """Create (or append to) topics t<first>..t<last-1>, NMSGS messages each."""
    payload = b"".join(f"m{i:04d} ".encode() + b"z" * (MSG - 6) + b"\n" for i in range(nmsgs))
    sdir = os.path.join(mnt, "a", stream)

    def one(i):
        fd = os.open(os.path.join(sdir, f"t{i:06d}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, payload)
        finally:
            os.close(fd)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(one, range(first, last)))


def measure_startups(b, d, nfds):
    """Start-up time to mount and RSS after mount: cold and warm, RUNS each."""
    out = {"cold": [], "warm": []}
    for mode in ("cold", "warm"):
        if mode == "cold" and not can_drop_caches():
            continue
        for run in range(RUNS):
            if mode == "cold":
                drop_caches()
            with b.streamfs(d, nfds=nfds, clusters=("a",)).start() as sf:
                out[mode].append((sf.startup, sf.kb("VmRSS")))
    return out


def fig7(b, res):
    rows = []
    flat = []

    def record(label, data_bytes, r):
        row = [label, f"{data_bytes / MiB:,.1f} MiB"]
        for mode in ("cold", "warm"):
            if r[mode]:
                row += [f"{med([x[0] for x in r[mode]]) * 1000:.0f}",
                        f_mb(med([x[1] for x in r[mode]]))]
            else:
                row += ["n/a", ""]
        rows.append(row)
        return r

    # (a) one topic, then 10x the data in the same topic.
    d = b.fresh("fig7-one-topic")
    small_n = max(1, START_BYTES // 10 // LINE)
    big_n = START_BYTES // LINE
    with b.streamfs(d, clusters=("a",)).start() as sf:
        os.mkdir(os.path.join(sf.mnt, "a", "s"))
        writer(os.path.join(sf.mnt, "a", "s", "t"), n=small_n, block=65536)
    os.sync()
    ra1 = record(f"1 topic, {small_n:,} msgs", small_n * LINE, measure_startups(b, d, 0))
    with b.streamfs(d, clusters=("a",)).start() as sf:
        writer(os.path.join(sf.mnt, "a", "s", "t"), n=big_n - small_n, block=65536)
    os.sync()
    ra2 = record(f"1 topic, {big_n:,} msgs", big_n * LINE, measure_startups(b, d, 0))
    flat.append(("one topic, 10x data", ra1, ra2))
    b.remove(d)

    # (b) T/10 topics, T topics, then T topics with 10x the data each.
    d = b.fresh("fig7-many-topics")
    t_big = START_TOPICS
    # The daemon keeps a descriptor budget under its limit (topics open
    # their segment files on use), so any number of topics fits.
    nfds = 0
    t_small = max(1, t_big // 10)
    with b.streamfs(d, clusters=("a",), nfds=nfds).start() as sf:
        os.mkdir(os.path.join(sf.mnt, "a", "s"))
        make_topics(sf.mnt, "s", 0, t_small, START_TOPIC_MSGS)
    os.sync()
    per = START_TOPIC_MSGS * LINE
    rb1 = record(f"{t_small:,} topics x {START_TOPIC_MSGS} msgs", t_small * per,
                 measure_startups(b, d, nfds))
    with b.streamfs(d, clusters=("a",), nfds=nfds).start() as sf:
        make_topics(sf.mnt, "s", t_small, t_big, START_TOPIC_MSGS)
    os.sync()
    rb2 = record(f"{t_big:,} topics x {START_TOPIC_MSGS} msgs", t_big * per,
                 measure_startups(b, d, nfds))
    with b.streamfs(d, clusters=("a",), nfds=nfds).start() as sf:
        make_topics(sf.mnt, "s", 0, t_big, 9 * START_TOPIC_MSGS)
    os.sync()
    rb3 = record(f"{t_big:,} topics x {10 * START_TOPIC_MSGS} msgs", t_big * per * 10,
                 measure_startups(b, d, nfds))
    flat.append(("10x topics", rb1, rb2))
    flat.append(("same topics, 10x data each", rb2, rb3))
    b.remove(d)

    lines = table(["data set", "data", "cold ms", "cold RSS", "warm ms", "warm RSS"], rows)
    lines.append("time = from exec of the daemon to its mount in /proc/self/mountinfo; "
                 "RSS = VmRSS right after; cold = caches dropped first")
    for what, r1, r2 in flat:
        parts = []
        for mode in ("cold", "warm"):
            if r1[mode] and r2[mode]:
                t = med([x[0] for x in r2[mode]]) / med([x[0] for x in r1[mode]])
                m = med([x[1] for x in r2[mode]]) / med([x[1] for x in r1[mode]])
                parts.append(f"{mode}: time {t:.2f}x, RSS {m:.2f}x")
        lines.append(f"growth, {what}: " + "; ".join(parts))
    res.section(f"7. Start-up (issue 4.5), median of {RUNS}", lines)


def writers_apart(paths, seconds, sync_each=False):
    """One writer process per path, all at once, one message per write():
    the sum of their messages/s."""
    procs = [subprocess.Popen([WRITER, "-m", str(MSG), "-t", str(seconds)] +
                              (["-S"] if sync_each else []) + [p],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for p in paths]
    total = 0.0
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"writer: {err.strip()}")
        total += float(dict(kv.split("=", 1) for kv in out.split())["msgs_per_s"])
    return total


def fig8(b, res):
    """fsync policies: FSYNC_WRITERS writers on one topic, and on as many topics."""
    rates = {}       # label -> ([one topic], [separate topics])
    hwm = {}
    W = FSYNC_WRITERS

    def add(label, one, apart):
        r = rates.setdefault(label, ([], []))
        r[0].append(one)
        r[1].append(apart)

    for run in range(RUNS):
        d = b.fresh("fig8")
        plain = os.path.join(d, "plain")
        os.makedirs(plain)
        for label, sync in (("direct file", False), ("direct file + fdatasync each", True)):
            one = writer(os.path.join(plain, f"f{int(sync)}"), seconds=FSYNC_SECONDS,
                         threads=W, sync_each=sync)["msgs_per_s"]
            apart = writers_apart([os.path.join(plain, f"g{int(sync)}{i}") for i in range(W)],
                                  FSYNC_SECONDS, sync)
            add(label, one, apart)
        with b.passthrough(d).start() as pt:
            one = writer(os.path.join(pt.mnt, "f"), seconds=FSYNC_SECONDS, threads=W)["msgs_per_s"]
            apart = writers_apart([os.path.join(pt.mnt, f"g{i}") for i in range(W)], FSYNC_SECONDS)
            add("passthrough", one, apart)
        for policy in ("os", "interval", "always"):
            sd = os.path.join(d, policy)
            os.makedirs(sd)
            os.sync()
            with b.streamfs(sd, fsync=policy).start() as sf:
                s = os.path.join(sf.mnt, "a", "s")
                os.mkdir(s)
                one = writer(os.path.join(s, "t"), seconds=FSYNC_SECONDS, threads=W)["msgs_per_s"]
                apart = writers_apart([os.path.join(s, f"t{i}") for i in range(W)], FSYNC_SECONDS)
                add(f"streamfs fsync={policy}", one, apart)
                hwm.setdefault(policy, []).append(sf.kb("VmHWM"))
        os.sync()
        b.remove(d)
    base = [med(x) for x in rates["streamfs fsync=os"]]
    rows = []
    for k, (one, apart) in rates.items():
        pol = k.split("=")[1] if "=" in k else None
        rows.append([k, f_rate(med(one)), f_ratio(med(one), base[0]),
                     f_rate(med(apart)), f_ratio(med(apart), base[1]),
                     f_mb(med(hwm[pol])) if pol else ""])
    lines = table(["", f"{W} on 1 topic", "vs os", f"{W} on {W} topics", "vs os", "peak RSS"], rows)
    lines.append(f"messages/s, {W} writers each with its own descriptor, one message per write(), "
                 f"{FSYNC_SECONDS:g} s per measurement;")
    lines.append("'1 topic': threads of one process on one topic (file); "
                 f"'{W} topics': {W} processes, one topic (file) each.")
    lines.append("interval = fsync_interval_ms 1000 (the default); 'direct file + fdatasync each' "
                 "is the plain-file reference for always.")
    res.section(f"8. fsync policies (issue 4.6), median of {RUNS}", lines)


# ---- figure 9: a peer, NATS JetStream ---------------------------------------

NATS_WINDOW = 4000   # natspeer's PUB_WINDOW: async publishes awaiting their ack, at most


def nats_server_path():
    """nats-server from PATH, or from /usr/sbin where Debian puts it (not in
    a non-root user's PATH); None if not installed."""
    return shutil.which("nats-server") or shutil.which("nats-server",
                                                       path="/usr/sbin:/usr/local/sbin")


def spawn_listener(argv, logfile, port, what, timeout=30):
    """Start ARGV (its output appended to LOGFILE), one of our children, and
    wait (up to TIMEOUT s) until it accepts connections on 127.0.0.1:PORT.
    Returns the process; raises if it exits or does not listen in time."""
    out = open(logfile, "ab")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    _children.append(proc)
    t0 = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before accepting "
                               f"connections; see {logfile}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            pass
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{what} not accepting connections after {timeout} s")
        time.sleep(0.01)


def stop_child(proc):
    """SIGTERM (a clean shutdown) to our own child PROC, SIGKILL after 30 s;
    returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in _children:
        _children.remove(proc)
    return proc.returncode


class NatsServer:
    """A nats-server with JetStream that we start on a free port of 127.0.0.1,
    its store in D/store (a fresh directory), its log in D/nats-server.log.
    With CLUSTER, (name, route port, every member's route port), it is one
    member of a JetStream cluster (figure 11's R3): D/nats.conf names it and
    its routes, and its monitoring port (self.http) says when the cluster
    has a meta leader."""

    def __init__(self, exe, d, cluster=None, pin=None):
        self.exe = exe
        self.pin = pin     # taskset CPU list, or None
        self.dir = d
        self.port, self.http = free_ports(2)
        self.url = f"nats://127.0.0.1:{self.port}"
        self.logfile = os.path.join(d, "nats-server.log")
        self.cluster = cluster
        self.proc = None

    def start(self, timeout=30):
        """Start it and wait (up to TIMEOUT s) until it accepts connections."""
        argv = [self.exe, "-js", "-sd", os.path.join(self.dir, "store"),
                "-a", "127.0.0.1", "-p", str(self.port)]
        if self.cluster:
            name, cport, cports = self.cluster
            conf = os.path.join(self.dir, "nats.conf")
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in cports)
            with open(conf, "w") as f:
                f.write(f"server_name: {name}\n"
                        f"cluster {{\n  name: sfsbench\n  listen: 127.0.0.1:{cport}\n"
                        f"  routes: [{routes}]\n}}\n")
            argv += ["-c", conf, "-m", str(self.http)]
        if self.pin:
            argv = ["taskset", "-c", self.pin] + argv
        self.proc = spawn_listener(argv, self.logfile, self.port, "nats-server", timeout)
        return self

    def meta_leader(self):
        """The JetStream meta leader this member knows of (its /jsz), or ''."""
        import urllib.request
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/jsz", timeout=2) as r:
                return (json.load(r).get("meta_cluster") or {}).get("leader") or ""
        except (OSError, ValueError):
            return ""

    def kb(self, key):
        return status_kb(self.proc.pid, key)

    def stop(self):
        """SIGTERM (a clean shutdown) to our own child, SIGKILL after 30 s."""
        if self.proc is None:
            return
        rc = stop_child(self.proc)
        self.proc = None
        if rc not in (0, 1, -signal.SIGTERM):
            log(f"  warning: nats-server exited with status {rc}; see {self.logfile}")

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


class Sshd:
    """An sshd of our own on a free port of 127.0.0.1 (its keys, config and
    log in D/ssh), taking root's login with a key made here, for sshfs."""

    def __init__(self, d):
        self.dir = os.path.join(d, "ssh")
        os.makedirs(self.dir, mode=0o700)
        self.port = free_ports(1)[0]
        self.proc = None

    def start(self, timeout=30):
        k = self.dir
        for name in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            os.path.join(k, name)], check=True)
        shutil.copy(os.path.join(k, "client.pub"), os.path.join(k, "authorized_keys"))
        argv = [SSHD, "-D", "-e", "-f", "/dev/null", "-o", f"Port={self.port}",
                "-o", "ListenAddress=127.0.0.1", "-o", f"HostKey={k}/host",
                "-o", f"AuthorizedKeysFile={k}/authorized_keys", "-o", "StrictModes=no",
                "-o", "PermitRootLogin=prohibit-password", "-o", "UsePAM=no",
                "-o", "PidFile=none", "-o", "Subsystem=sftp internal-sftp"]
        self.proc = spawn_listener(argv, os.path.join(k, "sshd.log"), self.port, "sshd", timeout)
        return self

    def sshfs(self, remote_dir, mnt):
        """A Mount of REMOTE_DIR over sshfs on MNT (sshfs -f: ours to stop)."""
        k = self.dir
        argv = ["sshfs", "-f", "-p", str(self.port), "-o", f"IdentityFile={k}/client",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", f"root@127.0.0.1:{remote_dir}", mnt]
        return Mount(argv, mnt, os.path.join(k, "sshfs.out"))

    def stop(self):
        if self.proc is None:
            return
        stop_child(self.proc)
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


SSHD = "/usr/sbin/sshd"


def fig10(b, res):
    """cat of a topic served by another daemon (the global namespace), beside
    the serving daemon's own cat (floor) and sshfs of the same bytes (peer)."""
    title = "10. Reads through the global namespace (two daemons, TLS on loopback)"
    n = READ_BYTES // LINE
    size = n * LINE
    have_peer = os.access(SSHD, os.X_OK) and shutil.which("sshfs") and shutil.which("ssh-keygen")
    times = {k: [] for k in ("serving daemon's own mount", "global namespace", "sshfs")}
    d = b.fresh("fig10")
    m1, m2 = gateway_pair(b, d, access="read")
    plain = os.path.join(d, "plain")
    os.makedirs(plain)
    writer(os.path.join(plain, "r"), n=n, block=65536)
    with m2.start() as sf2, m1.start() as sf1:
        os.mkdir(os.path.join(sf2.mnt, "b", "s"))
        local = os.path.join(sf2.mnt, "b", "s", "r")
        writer(local, n=n, block=65536)
        remote = os.path.join(sf1.mnt, "b", "s", "r")
        paths = {"serving daemon's own mount": local, "global namespace": remote}
        sshd = Sshd(d) if have_peer else None
        try:
            if sshd:
                sshd.start()
                sm = sshd.sshfs(plain, os.path.join(d, "sshfsmnt")).start()
                paths["sshfs"] = os.path.join(sm.mnt, "r")
            for k, p in paths.items():
                if os.stat(p).st_size != size:
                    raise RuntimeError(f"figure 10: {p} has {os.stat(p).st_size} bytes, not {size}")
            for run in range(RUNS):
                for k, p in paths.items():
                    timed_cat(p)                    # each side's caches as warm as they get
                    times[k].append(timed_cat(p))
        finally:
            if sshd:
                for m in list(_mounts):
                    if m.mnt.endswith("sshfsmnt"):
                        m.stop()
                sshd.stop()
    b.remove(d)
    rate = {k: size / med(v) / 1e6 for k, v in times.items() if v}
    rows = []
    gn = rate["global namespace"]
    for k in times:
        if k in rate:
            rows.append([k, f"{rate[k]:.0f}", "" if k == "global namespace" else f_ratio(gn, rate[k])])
        else:
            rows.append([k, "not measured", ""])
    lines = table(["", "MB/s", "global namespace / this"], rows)
    lines += [f"cat of one topic of {size / MiB:.0f} MiB ({n:,} messages of {MSG} bytes), second read "
              f"of each run, median of {RUNS}; the global namespace reads it on daemon 1 from",
              "  daemon 2, which serves it (one request of up to 1 MiB per read, over mutual TLS); "
              "sshfs reads a plain file of the same bytes",
              "  through an sshd of our own on 127.0.0.1 (sftp)."]
    if not have_peer:
        lines.append("sshfs: not measured (needs /usr/sbin/sshd, sshfs and ssh-keygen: "
                     "make bench installs sshfs and openssh-client; openssh-server, which "
                     "starts the system's sshd, is yours to install)")
    res.section(title, lines)
    if "sshfs" in rate:
        res.target("reads through the global namespace at least as fast as sshfs",
                   f"{f_ratio(gn, rate['sshfs'])} of sshfs", gn >= rate["sshfs"])


def natspeer(cmd, url, n):
    """build/bench/natspeer CMD (catchup or latency) against URL, N messages of MSG bytes."""
    r = run_tool([NATSPEER, cmd, url, str(n), str(MSG)], timeout=900)
    return {k: float(v) for k, v in r.items()}


def tool_version(argv):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return r.stdout.strip() or "?"
    except OSError:
        return "?"


def nats_tools(res, title):
    """nats-server's path when it and build/bench/natspeer are there (figures
    9 and 11); else None, with the figure's section saying what is missing."""
    missing = []
    exe = nats_server_path()
    if not exe:
        missing.append("nats-server not found in PATH or /usr/sbin (Debian nats-server; "
                       "make bench installs it)")
    if not os.access(NATSPEER, os.X_OK):
        missing.append(f"{os.path.relpath(NATSPEER, ROOT)} is missing (make bench builds it)")
    if missing:
        res.section(title, ["not measured: " + "; ".join(missing)])
        return None
    return exe


def fig9(b, res):
    """Figure 4 with NATS JetStream: stream B a mirror of stream A on one
    nats-server, beside figure 4 if it ran in this invocation."""
    title = "9. Peer: NATS JetStream mirror, one server"
    exe = nats_tools(res, title)
    if not exe:
        return
    version = tool_version([exe, "--version"]).replace("nats-server: ", "")
    libnats = tool_version(["pkg-config", "--modversion", "libnats"])
    rates, fills, lat, hwm = [], [], [], []
    for run in range(RUNS):
        d = b.fresh("fig9")
        with NatsServer(exe, d).start() as srv:
            c = natspeer("catchup", srv.url, N_CATCHUP)
            os.sync()   # as figure 4: the copy's dirty pages out of the way
            lat.append(natspeer("latency", srv.url, N_LATENCY))
            rates.append(c["msgs_per_s"])
            fills.append(c["fill_msgs_per_s"])
            hwm.append(srv.kb("VmHWM"))
        os.sync()
        b.remove(d)
    n = {"rate": med(rates), "p50": med([x["p50_us"] for x in lat]),
         "p90": med([x["p90_us"] for x in lat]), "p99": med([x["p99_us"] for x in lat]),
         "max": max(x["max_us"] for x in lat), "w50": med([x["publish_p50_us"] for x in lat]),
         "rss_kb": med(hwm), "rss": f_mb(med(hwm))}
    res.data["9"] = n
    one = res.data.get("4")
    cols = ("p50", "p90", "p99", "max", "w50")

    def row(label, s):
        return [label, f_rate(s["rate"])] + [f"{s[k]:.0f}" for k in cols] + [s["rss"]]
    rows = [row("streamfs, one daemon (figure 4)", one) if one else
            ["streamfs, one daemon (figure 4)", "not run", "", "", "", "", "", ""],
            row("NATS JetStream mirror, one server", n)]
    if one:
        rows.append(["streamfs advantage (>1: streamfs better)", f_ratio(one["rate"], n["rate"])] +
                    [f_ratio(n[k], one[k]) for k in cols] +
                    [f_ratio(n["rss_kb"], one["rss_kb"]) if one.get("rss_kb") else ""])
    lines = table(["", "catch-up msg/s", "p50 us", "p90 us", "p99 us", "max us",
                   "write/publish p50 us", "peak RSS"], rows)
    if one:
        lines += ["streamfs advantage: catch-up = streamfs / NATS (messages/s); latencies, "
                  "write/publish and peak RSS = NATS / streamfs;",
                  "  so in every column above 1.00x streamfs is better, below 1.00x NATS is."]
    else:
        lines.append("figure 4: run it too (BENCH_ONLY=4,9) to see streamfs beside and the ratios")
    lines += [f"server: nats-server {version}, one server (the analogue of one streamfs daemon): "
              "nats-server -js -sd <fresh dir> -a 127.0.0.1 -p <free port>,",
              "  a fresh server and store per run; file storage; default sync (JetStream fsyncs "
              "every 2 min; streamfs fsync=os leaves it to the OS);",
              f"  loopback TCP without TLS. Client: build/bench/natspeer, NATS C client libnats "
              f"{libnats}. Peak RSS = VmHWM of nats-server.",
              f"catch-up: {N_CATCHUP:,} messages of {MSG} bytes stored in stream A (subject a.t; "
              f"js_PublishAsync, at most {NATS_WINDOW:,} unacknowledged, every ack",
              "  awaited, then sync), then stream B created as a mirror of A (js_AddStream, "
              "Mirror = A); timed from js_AddStream(B) until",
              f"  js_GetStreamInfo(B), polled every 10 ms, shows {N_CATCHUP:,} messages. "
              f"Storing A (not timed): {f_rate(med(fills))} msg/s.",
              f"latency: js_Publish of one {MSG}-byte message to A (returns on A's ack: stored) "
              "until natsSubscription_NextMsg returns it",
              "  from B: an ordered push consumer on B (js_SubscribeSync, deliver-new, no acks), "
              "one connection with SendAsap;",
              f"  {N_LATENCY} samples per run, 1 ms apart, after 10 warm-up messages; median over "
              "runs (max = worst run); publish p50 = js_Publish",
              "  alone, the analogue of figure 4's write() on A alone.",
              "runs, catch-up msg/s: " + ", ".join(f_rate(x) for x in rates) +
              "; p50/p99/max us: " + "; ".join(
                  f"{x['p50_us']:.0f}/{x['p99_us']:.0f}/{x['max_us']:.0f}" for x in lat)]
    res.section(f"{title}, median of {RUNS}", lines)
    if one:
        res.info(f"streamfs vs NATS JetStream mirror: catch-up {one['rate'] / n['rate']:.2f}x, "
                 f"live p99 {n['p99'] / one['p99']:.2f}x, live p50 {n['p50'] / one['p50']:.2f}x "
                 "(>1: streamfs better; catch-up streamfs/NATS msg/s, latency NATS/streamfs us)")
    else:
        res.info(f"NATS JetStream mirror: catch-up {f_rate(n['rate'])} msg/s, live p99 "
                 f"{n['p99']:.0f} us (figure 4 not run: no ratio)")


# ---- figure 11: the NATS home (issue 16.6) ----------------------------------

N11_PERMSG = scaled(3000, 1000)      # figure 11: one message per write()
N11_BLOCK = scaled(300_000, 20_000)  # figure 11: 64 KiB writes; also read and replicated
GOAL11 = 1.5                         # figure 11's goals: within 1.5x


class NatsCluster:
    """R nats-servers with JetStream on loopback, under D/n1..: one plain
    server for R = 1, else a JetStream cluster of R members whose routes
    name each other. start() waits (up to TIMEOUT s) until every member
    knows the meta leader; stop() stops each by its PID."""

    def __init__(self, exe, d, r, pin=None):
        self.servers = []
        cports = free_ports(r) if r > 1 else []
        for i in range(r):
            sd = os.path.join(d, f"n{i + 1}")
            os.makedirs(sd)
            self.servers.append(NatsServer(exe, sd, (f"n{i + 1}", cports[i], cports)
                                           if r > 1 else None, pin))
        self.urls = ",".join(s.url for s in self.servers)

    def start(self, timeout=60):
        try:
            for s in self.servers:
                s.start(timeout)
            t0 = time.monotonic()
            while len(self.servers) > 1 and not all(s.meta_leader() for s in self.servers):
                if time.monotonic() - t0 > timeout:
                    raise RuntimeError(f"no JetStream meta leader after {timeout} s; "
                                       f"see {self.servers[0].logfile}")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        return self

    def kb(self, key):
        return sum(s.kb(key) for s in self.servers)

    def stop(self):
        for s in self.servers:
            s.stop()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def raw_publish(url, n, block, mode, replicas, pin=None):
    """build/bench/natspeer publish: N lines of MSG bytes to a fresh stream of
    REPLICAS replicas, one per publish (BLOCK 0) or the complete lines of
    each BLOCK-byte write per publish; MODE sync, follow, home or async;
    PIN a taskset CPU list or None."""
    r = run_tool((["taskset", "-c", pin] if pin else []) +
                 [NATSPEER, "publish", url, str(n), str(MSG), str(block), mode,
                  str(replicas)], timeout=900)
    return {k: float(v) for k, v in r.items()}


def fig11_pins():
    """BENCH_PIN's CPU lists for figure 11: (clients, servers), or (None,
    None) when not pinning (or with fewer than 2 CPUs)."""
    cpus = sorted(os.sched_getaffinity(0))
    if not PIN or len(cpus) < 2:
        return None, None
    return ",".join(str(c) for c in cpus[:-1]), str(cpus[-1])


def fig11_run(b, exe, r, out):
    """One run of figure 11 on R nats-servers: a daemon with local clusters
    a and b and NATS cluster n; appends, reads and catch-ups on both homes,
    the passthrough's appends and the raw publishes; each measure appended
    to OUT[key]."""
    d = b.fresh(f"fig11-r{r}")
    add = lambda k, v: out.setdefault(k, []).append(v)
    cpin, spin = fig11_pins()
    with NatsCluster(exe, d, r, spin).start() as nc:
        conf = os.path.join(d, "mount.conf")
        with open(conf, "w") as f:
            f.write(f"[mount]\nmountpoint = {d}/mnt\nfsync = os\n"
                    f"[cluster a]\ndata = {d}/data/a\n[cluster b]\ndata = {d}/data/b\n"
                    f"[cluster n]\nnats = {nc.urls}\nnats_replicas = {r}\n"
                    "nats_timeout_ms = 30000\n")
        pre = ["taskset", "-c", cpin] if cpin else []
        mount = Mount(pre + [STREAMFS, "-f", "-c", conf, "-l", os.path.join(d, "streamfs.log")],
                      os.path.join(d, "mnt"), os.path.join(d, "streamfs.out"))
        url = nc.servers[0].url    # natspeer learns the others from it
        # The floor: the same writes through the FUSE passthrough.
        pt = b.passthrough(d)
        pt.argv = pre + pt.argv
        with pt.start():
            for key, n, block in (("permsg", N11_PERMSG, None), ("block", N11_BLOCK, 65536)):
                p = os.path.join(pt.mnt, f"pt-{key}")
                add(("passthrough", key), writer(p, n=n, block=block, pin=cpin)["msgs_per_s"])
                os.unlink(p)
        with mount.start() as sf:
            m = sf.mnt
            for c in ("a", "n"):
                os.mkdir(os.path.join(m, c, "w"))
                os.mkdir(os.path.join(m, c, "s"))
            # Appends: the same writer, the same messages, on both homes.
            for c, home in (("a", "local"), ("n", "nats")):
                for key, path, n, block in (("permsg", f"{c}/w/t", N11_PERMSG, None),
                                            ("block", f"{c}/s/t", N11_BLOCK, 65536)):
                    p = os.path.join(m, path)
                    w = writer(p, n=n, block=block, pin=cpin)
                    if os.stat(p).st_size != n * LINE:
                        raise RuntimeError(f"figure 11: {p} has {os.stat(p).st_size} bytes, "
                                           f"expected {n * LINE}")
                    add((home, key), w["msgs_per_s"])
            for key, n, block in (("permsg", N11_PERMSG, 0), ("block", N11_BLOCK, 65536)):
                for mode in ("sync", "follow", "home", "homefollow", "notice", "async"):
                    add((f"raw {mode}", key),
                        raw_publish(url, n, block, mode, r, cpin)["msgs_per_s"])
            # Issue 16's raw figure: the same messages as the 64 KiB
            # writes, each its own JetStream message, as a JetStream user
            # publishes them (async: the C client's fastest).
            add(("raw async", "same"),
                raw_publish(url, N11_BLOCK, 0, "async", r, cpin)["msgs_per_s"])
            # Reads: the 64 KiB-write topic, cold (caches dropped: the
            # servers' files too) and once cached (the second cat in a
            # row); the one-per-write topic once cached.
            for c, home in (("a", "local"), ("n", "nats")):
                p = os.path.join(m, c, "s", "t")
                if can_drop_caches():
                    drop_caches()
                    add((home, "cold"), N11_BLOCK * LINE / timed_cat(p) / 1e6)
                timed_cat(p)
                add((home, "warm"), N11_BLOCK * LINE / timed_cat(p) / 1e6)
                p = os.path.join(m, c, "w", "t")
                timed_cat(p)
                add((home, "warm1"), N11_PERMSG * LINE / timed_cat(p) / 1e6)
            # Catch-up of the 64 KiB-write stream: local -> local, NATS ->
            # local, local -> NATS; each a fresh replica, one at a time.
            for key, src, dst in (("local->local", "a/s", "b/ls"),
                                  ("nats->local", "n/s", "b/ns"),
                                  ("local->nats", "a/s", "n/ln")):
                os.mkdir(os.path.join(m, dst))
                ctl_append(os.path.join(m, dst, ".upstreams"), f"/mapr/{src}")
                os.sync()
                t0 = time.monotonic()
                ctl_append(os.path.join(m, src, ".replicas"), f"/mapr/{dst}")
                wait_caught_up(os.path.join(m, src, ".info"), f"figure 11 ({key})", t0,
                               timeout=300, replica=f"/mapr/{dst}")
                secs = time.monotonic() - t0
                got = os.stat(os.path.join(m, dst, "t")).st_size
                if got != N11_BLOCK * LINE:
                    raise RuntimeError(f"figure 11 ({key}): replica has {got} bytes, "
                                       f"expected {N11_BLOCK * LINE}")
                add(("catchup", key), N11_BLOCK / secs)
            add(("rss", "daemon"), sf.kb("VmHWM"))
        add(("rss", "servers"), nc.kb("VmHWM"))
    b.remove(d)


def fig11(b, res):
    """The NATS home (docs/nats.md) beside the local home and beside raw
    JetStream publishes of the same messages, on one server (R1) and on a
    cluster of three (R3)."""
    title = "11. NATS home: a cluster kept in NATS JetStream, beside the local home and raw JetStream"
    exe = nats_tools(res, title)
    if not exe:
        return
    version = tool_version([exe, "--version"]).replace("nats-server: ", "")
    lines = []
    for r in (1, 3):
        out = {}
        for run in range(RUNS):
            fig11_run(b, exe, r, out)
        v = {k: med(x) for k, x in out.items()}
        rows = []
        for label, home in (("FUSE passthrough (the floor)", "passthrough"),
                            ("local home", "local"), ("NATS home", "nats"),
                            ("raw JetStream, sync (each publish acked before the next)",
                             "raw sync"),
                            ("raw JetStream, sync + a headers-only consumer (as a daemon)",
                             "raw follow"),
                            ("raw JetStream, sync as the home (+ expected seq, Sfs-* headers)",
                             "raw home"),
                            ("raw JetStream, as the home + consumer (all but FUSE and the daemon)",
                             "raw homefollow"),
                            ("raw JetStream, no consumer: stream seq expected + a notice (a design)",
                             "raw notice"),
                            (f"raw JetStream, async (window {NATS_WINDOW:,}, 16 MiB)", "raw async")):
            pm, bl = v[(home, "permsg")], v[(home, "block")]
            rows.append([label, f_rate(pm), f_rate(bl), f"{bl * LINE / 1e6:.1f}",
                         f"{v[(home, 'cold')]:.0f}" if (home, "cold") in v else "",
                         f"{v[(home, 'warm')]:.0f}" if (home, "warm") in v else "",
                         f"{v[(home, 'warm1')]:.1f}" if (home, "warm1") in v else ""])
        nats, loc = "nats", "local"
        rows.append(["NATS home / raw sync", f_ratio(v[(nats, "permsg")], v[("raw sync", "permsg")]),
                     f_ratio(v[(nats, "block")], v[("raw sync", "block")]), "", "", "", ""])
        rows.append(["NATS home / raw sync + consumer",
                     f_ratio(v[(nats, "permsg")], v[("raw follow", "permsg")]),
                     f_ratio(v[(nats, "block")], v[("raw follow", "block")]), "", "", "", ""])
        rows.append(["NATS home / raw sync as the home",
                     f_ratio(v[(nats, "permsg")], v[("raw home", "permsg")]),
                     f_ratio(v[(nats, "block")], v[("raw home", "block")]), "", "", "", ""])
        rows.append(["raw notice design / raw sync",
                     f_ratio(v[("raw notice", "permsg")], v[("raw sync", "permsg")]),
                     f_ratio(v[("raw notice", "block")], v[("raw sync", "block")]), "", "", "", ""])
        rows.append(["NATS home / raw async", f_ratio(v[(nats, "permsg")], v[("raw async", "permsg")]),
                     f_ratio(v[(nats, "block")], v[("raw async", "block")]), "", "", "", ""])
        rows.append(["NATS home / local home", f_ratio(v[(nats, "permsg")], v[(loc, "permsg")]),
                     f_ratio(v[(nats, "block")], v[(loc, "block")]), "",
                     f_ratio(v[(nats, "cold")], v[(loc, "cold")]) if (nats, "cold") in v else "",
                     f_ratio(v[(nats, "warm")], v[(loc, "warm")]),
                     f_ratio(v[(nats, "warm1")], v[(loc, "warm1")])])
        lines.append(f"R{r}: " + ("one nats-server" if r == 1 else
                                  f"a JetStream cluster of {r} nats-servers") +
                     f", stream and bucket replicas {r}")
        lines += ["  " + x for x in table(
            ["", "1 msg/write msg/s", "64 KiB writes msg/s", "MB/s", "cat cold MB/s",
             "cat cached MB/s", "cat 1/write MB/s"], rows)]
        cu = [[k, f_rate(v[("catchup", k)]), f"{v[('catchup', k)] * LINE / 1e6:.0f}",
               f_ratio(v[("catchup", k)], v[("catchup", "local->local")]) if k != "local->local" else ""]
              for k in ("local->local", "nats->local", "local->nats")]
        lines += ["  " + x for x in table(["catch-up", "msg/s", "MB/s", "/ local->local"], cu)]
        lines.append(f"  peak RSS: daemon {f_mb(v[('rss', 'daemon')])}, nats-servers "
                     f"{f_mb(v[('rss', 'servers')])} (sum)")
        lines.append("  runs (msg/s): NATS home 1/write " + ", ".join(f_rate(x) for x in out[(nats, "permsg")]) +
                     "; 64 KiB " + ", ".join(f_rate(x) for x in out[(nats, "block")]) +
                     "; raw sync 64 KiB " + ", ".join(f_rate(x) for x in out[("raw sync", "block")]) +
                     "; raw sync + consumer 64 KiB " +
                     ", ".join(f_rate(x) for x in out[("raw follow", "block")]) +
                     "; raw as the home 64 KiB " + ", ".join(f_rate(x) for x in out[("raw home", "block")]))
        same = v[("raw async", "same")]
        rs = v[(nats, "block")] / same
        lines.append(f"  the same {N11_BLOCK:,} messages published each as its own JetStream "
                     f"message (js_PublishAsync): {f_rate(same)} msg/s; NATS home 64 KiB writes "
                     f"/ it: {rs:.2f}x")
        res.target(f"NATS home R{r}, 64 KiB writes within {GOAL11}x of raw JetStream publishing "
                   "the same messages",
                   f"{rs:.2f}x of them published one each (async)", rs >= 1 / GOAL11)
        rb = v[(nats, "block")] / v[("raw sync", "block")]
        res.info(f"NATS home R{r}, 64 KiB writes / raw JetStream publishing the home's own chunks "
                 f"(one JetStream message per write, each acked before the next): {rb:.2f}x; "
                 f"{v[(nats, 'block')] / v[('raw follow', 'block')]:.2f}x with a consumer following "
                 "them as every daemon does (stricter than issue 16's goal: docs/performance.md)")
        rw = v[(nats, "warm")] / v[(loc, "warm")]
        res.target(f"NATS home R{r}, cached read within {GOAL11}x of the local home",
                   f"{rw:.2f}x of local", rw >= 1 / GOAL11)
        res.data[f"11-r{r}"] = v
    lines += [f"sizes: 1 msg/write {N11_PERMSG:,} messages of {MSG} bytes; 64 KiB writes "
              f"{N11_BLOCK:,} messages ({N11_BLOCK * LINE / MiB:.0f} MiB; each write's complete "
              "lines one NATS message, about 649);",
              "  both homes written by build/bench/writer through one daemon (clusters a, b local; "
              "n in NATS, nats_timeout_ms 30000).",
              "raw JetStream: build/bench/natspeer publish, the same lines and batching to a fresh "
              "stream of the same replicas, no headers (the home's chunks carry",
              "  about 300 bytes of Sfs-* headers); sync = js_Publish, each waiting for its ack, "
              "as a NATS-home append must before write() returns;",
              "  sync + consumer = sync with an ordered headers-only push consumer on the stream "
              "(as each daemon follows its data streams), each publish",
              "  waiting for its ack and then for its consumer to deliver it (as a NATS-home "
              "append waits for its daemon's index: read your writes);",
              "  sync as the home = sync with the home's expected last subject sequence and "
              "eight Sfs-* headers and Nats-Msg-Id, without FUSE and the daemon's consumer;",
              "  as the home + consumer = both: what the home's appends ask of NATS, without FUSE "
              "and the daemon;",
              f"  async = js_PublishAsync, at most {NATS_WINDOW:,} and 16 MiB unacknowledged (the "
              "best raw figure: no write() could return that early).",
              "the same messages one each = natspeer publish of the 64 KiB writes' lines, each its "
              "own JetStream message, async: issue 16's raw figure, what",
              "  a JetStream user publishing these messages does (the rows above publish the home's "
              "own chunks instead: stricter, docs/performance.md).",
              "cat: of the 64 KiB-write topic; cold after sync and drop_caches (the servers' "
              "files too), cached = the second cat in a row (a NATS-home",
              "  topic is direct_io: every read reaches the daemon, which fetches each chunk from "
              "JetStream); cat 1/write: the one-per-write topic, second cat.",
              "catch-up: the 64 KiB-write stream to a fresh replica, timed as figure 4 (.info of "
              "the source, replica REPLICATING, putsPending 0).",
              f"server: nats-server {version} on 127.0.0.1, file storage; a fresh cluster, store "
              f"and daemon per run; median of {RUNS} runs.",
              "passthrough: bench/passthrough, the same writes (the FUSE floor).",
              (f"pinned (BENCH_PIN=1, taskset): nats-servers on CPU {fig11_pins()[1]}; the daemon, "
               f"the passthrough, bench/writer and natspeer on CPUs {fig11_pins()[0]}"
               if fig11_pins()[0] else
               "not pinned (BENCH_PIN=1 pins the nats-servers to one CPU and every client to the "
               "others)")]
    if not can_drop_caches():
        lines.append("cold: not measured (writing /proc/sys/vm/drop_caches needs root)")
    res.section(f"{title}, median of {RUNS}", lines)


# ---- machine, output --------------------------------------------------------

def machine():
    def sh(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True).stdout.strip()
        except OSError:
            return "?"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    fs = sh(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", TMPBASE])
    commit = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    return [f"date:     {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
            f"machine:  {os.cpu_count()} CPUs (nproc {sh(['nproc'])}), {cpu}, {mem:,} MiB RAM",
            f"kernel:   {os.uname().release}",
            f"disk:     {TMPBASE} on {fs}",
            f"libfuse:  {sh(['pkg-config', '--modversion', 'fuse3'])}; coreutils "
            f"{sh(['tail', '--version']).splitlines()[0].split()[-1] if sh(['tail', '--version']) else '?'}",
            f"streamfs: {commit}{' (with local changes)' if dirty else ''}",
            f"settings: BENCH_SCALE={SCALE:g} BENCH_RUNS={RUNS}"
            f"{' BENCH_ONLY=' + ','.join(sorted(ONLY, key=FIGURES.index)) if ONLY else ''}",
            f"load:     {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, at start)"]


def write_results(res, head, elapsed):
    lines = ["streamfs benchmarks (make bench; see docs/performance.md)", ""] + head + \
            [f"elapsed:  {elapsed:.0f} s", ""]
    for title, body in res.sections:
        lines += [title] + ["  " + x for x in body] + [""]
    if res.targets:
        lines.append("Targets (issue 7; issue 13.5 for figure 4d; issue 16.6 for figure 11)")
        lines += ["  " + x for x in table(["target", "measured", "met"],
                  [[w, m, "yes" if ok else ("n/a" if ok is None else "NO")]
                   for w, m, ok in res.targets])]
        lines.append("")
    if res.infos:
        lines.append("Peers (information, not issue 7 targets)")
        lines += ["  " + x for x in res.infos]
        lines.append("")
    if res.notes:
        lines.append("Notes")
        lines += ["  " + n for n in res.notes]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    # The verdicts on the terminal too, not only in the file.
    first = next((i for i, l in enumerate(lines) if l.startswith("Targets")), len(lines))
    tail = lines[first:]
    for line in tail:
        log(line)
    log("")
    log(f"results written to {os.path.relpath(OUT, os.getcwd())}")
    plot(res)


def plot(res):
    """bench/results/latest.png: streamfs / passthrough per figure, with the
    issue 7 target of each, if gnuplot is installed."""
    png = os.path.splitext(OUT)[0] + ".png"
    if not res.plot or not shutil.which("gnuplot"):
        # No plot for this run: a picture of an older one must not stay
        # beside its results.
        if os.path.exists(png):
            os.unlink(png)
            log(f"no plot for this run ({os.path.relpath(png, os.getcwd())} of an earlier run removed)")
        return
    data = "\n".join(f'"{k}" {v:.6f} {t}' for k, (v, t) in res.plot.items())
    script = f"""set terminal pngcairo size 1000,450 noenhanced
set output "{png}"
set title "streamfs / FUSE passthrough on this machine (1.0 = the FUSE floor; red: target; pc: vs the page-cache passthrough)"
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:{max([1.3] + [v * 1.15 for v, t in res.plot.values()]):.2f}]
set xrange [-0.6:{len(res.plot) - 0.4}]
set grid ytics
set key off
$d << EOD
{data}
EOD
plot $d using 0:2:xtic(1) with boxes lc rgb "#4477aa", \\
     $d using ($0-0.4):3:(0.8):(0) with vectors nohead lw 2 lc rgb "#cc3333", \\
     $d using 0:2:(sprintf("%.2f", $2)) with labels offset 0,1
"""
    r = subprocess.run(["gnuplot"], input=script, text=True, stderr=subprocess.PIPE)
    if r.returncode == 0:
        log(f"plot written to {os.path.relpath(png, os.getcwd())}")
    else:
        log("gnuplot failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])


def main():
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__.strip())
        return
    unknown = ONLY - set(FIGURES)
    if unknown:
        sys.exit(f"bench: BENCH_ONLY: unknown figure {', '.join(sorted(unknown))} "
                 f"(figures: {', '.join(FIGURES)})")
    for p in (STREAMFS, PASSTHROUGH, WRITER, LATENCY):
        if not os.access(p, os.X_OK):
            sys.exit(f"bench: {p} is missing: run `make bench` (it builds everything first)")
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    head = machine()
    log("\n".join(head))
    if os.geteuid() != 0:
        log("note: not root: cold-cache figures are skipped")
    want = lambda n: not ONLY or str(n) in ONLY
    b = Bench()
    res = Results()
    t0 = time.monotonic()
    storage = rep_storage = None
    failed = None
    try:
        if want(1):
            fig1(b, res)
        if want(2) or want(6):
            storage = fig2(b, res)
        if want(3):
            fig3(b, res)
        if want(4) or want(6):
            rep_storage = fig4(b, res)
        if want("4b"):
            fig4b(b, res)
        if want("4c"):
            fig4c(b, res)
        if want("4d"):
            fig4d(b, res)
        if want(5):
            fig5(b, res)
        if want(6):
            fig6(b, res, storage, rep_storage)
        if want(7):
            fig7(b, res)
        if want(8):
            fig8(b, res)
        if want(9):
            fig9(b, res)
        if want(10):
            fig10(b, res)
        if want(11):
            fig11(b, res)
    except Exception as e:     # keep what was measured; say what failed
        failed = e
        res.note(f"the run stopped early: {type(e).__name__}: {e}")
    finally:
        cleanup_all()
        if KEEP:
            log(f"kept {b.dir}")
        else:
            shutil.rmtree(b.dir, ignore_errors=True)
    write_results(res, head, time.monotonic() - t0)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
