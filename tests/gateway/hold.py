#!/usr/bin/env python3
"""tests/gateway/hold.py - a peer with a valid certificate that tries to
hold a gateway's resources (docs/security.md, "Bounds"): many connections,
or big frames sent slowly. For the tests of 72-gateway-shares.bats.

    hold.py --addr HOST:PORT --cert PATH --ca CA --cluster C --conns N
            [--hello-every S]
            [--announce BYTES --send BYTES --trickle-every S]
            [--reopen-every S] [--duration S]

PATH is a certificate without its .crt/.key. Each of N connections does a
TLS handshake and says hello to cluster C, then:

  --hello-every S   sends another hello every S seconds (default 0.3) and
                    reads its answer: a connection that looks busy;
  --announce B      sends the header of a GW_APPEND announcing B body bytes,
  --send K          then K bytes of it at once,
  --trickle-every S then one more byte every S seconds (default 0.3).

A connection that is closed or refused is opened again, at most every
--reopen-every seconds (default: --hello-every, or --trickle-every).
Prints one line per event, flushed, for the test to wait on:
"ready OPEN REFUSED" once every connection has had its first pass (and
the --send bytes of its frame: OPEN held, REFUSED refused), "refused:
STATUS MESSAGE" for a refusal
answered with a GW_RESULT, "closed after T s" when a connection with a
frame under way is closed by the gateway (T: since the frame's header).
Ends after --duration seconds (default 60).
"""

import argparse
import socket
import ssl
import struct
import sys
import time

GW_HELLO, GW_APPEND, GW_RESULT = 1, 4, 5


def out(*a):
    print(*a, flush=True)


def frame(kind, body, length=None):
    n = len(body) if length is None else length
    return b"SFG1" + struct.pack("<BBHI", kind, 0, 0, n) + body


def hello(cluster):
    c = cluster.encode()
    return frame(GW_HELLO, struct.pack("<HH", 1, len(c)) + c)


def read_result(s):
    """The next GW_RESULT: (status, message), or None if the connection
    ended first."""
    data = b""
    while True:
        if len(data) >= 12:
            n = struct.unpack("<I", data[8:12])[0]
            if len(data) >= 12 + n:
                body = data[12:12 + n]
                status = struct.unpack("<i", body[:4])[0]
                mlen = struct.unpack("<H", body[24:26])[0]
                return status, body[26:26 + mlen].decode(errors="replace")
        try:
            chunk = s.recv(4096)
        except (OSError, ssl.SSLError):
            return None
        if not chunk:
            return None
        data += chunk


class Conn:
    def __init__(self):
        self.s = None
        self.next_open = 0.0
        self.frame_start = None
        self.left = 0           # bytes of the big frame still to send at once


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--hello-every", type=float, default=0.3)
    ap.add_argument("--announce", type=int, default=0)
    ap.add_argument("--send", type=int, default=0)
    ap.add_argument("--trickle-every", type=float, default=0.3)
    ap.add_argument("--reopen-every", type=float, default=None)
    ap.add_argument("--duration", type=float, default=60)
    a = ap.parse_args()
    host, port = a.addr.rsplit(":", 1)
    every = a.trickle_every if a.announce else a.hello_every
    reopen = a.reopen_every if a.reopen_every is not None else every
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    ctx.load_cert_chain(a.cert + ".crt", a.cert + ".key")
    conns = [Conn() for _ in range(a.conns)]
    end = time.monotonic() + a.duration
    ready = False
    refusals = set()
    piece = b"x" * (256 << 10)

    def close(c):
        if c.frame_start is not None:
            out("closed after %.1f s" % (time.monotonic() - c.frame_start))
        try:
            c.s.close()
        except OSError:
            pass
        c.s = None
        c.frame_start = None
        c.left = 0
        c.next_open = time.monotonic() + reopen

    def open_one(c):
        """Handshake and hello, then the big frame's header if asked.
        Returns True if the connection is held."""
        try:
            raw = socket.create_connection((host, int(port)), timeout=5)
            c.s = ctx.wrap_socket(raw)
            c.s.settimeout(5)
            c.s.sendall(hello(a.cluster))
        except (OSError, ssl.SSLError):
            c.s = None
            c.next_open = time.monotonic() + reopen
            return False
        r = read_result(c.s)
        if r is None or r[0] < 0:
            if r is not None and r[1] not in refusals:
                refusals.add(r[1])
                out("refused:", r[0], r[1])
            close(c)
            return False
        if a.announce:
            try:
                c.frame_start = time.monotonic()
                c.s.sendall(frame(GW_APPEND, b"", a.announce))
                c.left = a.send
            except (OSError, ssl.SSLError):
                close(c)
                return False
        return True

    def keep(c):
        """One step of a held connection: a piece of the frame while
        some is left, else a trickled byte, or another hello."""
        if c.left > 0:
            n = min(c.left, len(piece))
            c.s.settimeout(5)
            c.s.sendall(piece[:n])
            c.left -= n
            return
        if a.announce:
            c.s.settimeout(0.05)
            try:
                c.s.send(b"x")
            except (socket.timeout, ssl.SSLWantWriteError):
                pass
            # The gateway's close shows as an end to read.
            c.s.settimeout(0.001)
            try:
                if c.s.recv(1) == b"":
                    raise ConnectionResetError()
            except (socket.timeout, ssl.SSLWantReadError):
                pass
            return
        c.s.settimeout(5)
        c.s.sendall(hello(a.cluster))
        if read_result(c.s) is None:
            raise ConnectionResetError()

    while time.monotonic() < end:
        t0 = time.monotonic()
        held = refused = 0
        for c in conns:
            if c.s is None and time.monotonic() >= c.next_open:
                open_one(c)
            elif c.s is not None:
                try:
                    keep(c)
                except (OSError, ssl.SSLError):
                    close(c)
            if c.s is None:
                refused += 1
            else:
                held += 1
        # Bulk first, on every connection in turn (so that none waits
        # long enough for the gateway to give up on it), then the pace.
        if any(c.s is not None and c.left > 0 for c in conns):
            continue
        if not ready:
            out("ready", held, refused)
            ready = True
        time.sleep(max(0.0, every - (time.monotonic() - t0)))


if __name__ == "__main__":
    main()
