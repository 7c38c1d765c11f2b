#!/usr/bin/env python3
"""natsq.py - one request to a NATS server over its text protocol, for
the tests (there is no `nats` CLI in Debian): connect to HOST:PORT,
publish PAYLOAD (default empty) to SUBJECT with a reply inbox, print the
first reply's payload on stdout. Exit 0 with a reply, 1 when the server
cannot be reached or no reply came within TIMEOUT seconds (default 2).

    natsq.py 127.0.0.1:4222 '$JS.API.STREAM.INFO.KV_SFS_tokyo'
    natsq.py --timeout 1 127.0.0.1:4222 '$JS.API.INFO'

Talks to 127.0.0.1 only in the tests (their own nats-servers).
"""
import argparse
import socket
import sys
import time


def request(addr, subject, payload, timeout):
    host, port = addr.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    s = socket.create_connection((host, int(port)), timeout=timeout)
    buf = b""

    def fill():
        nonlocal buf
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        s.settimeout(left)
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        buf += d

    while b"\r\n" not in buf:
        fill()
    line, buf = buf.split(b"\r\n", 1)
    if not line.startswith(b"INFO"):
        raise ConnectionError("not a NATS server")
    inbox = "_INBOX.natsq%d" % int(time.time() * 1e6)
    data = payload.encode()
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
              b'"no_responders":true}\r\n' +
              ("SUB %s 1\r\n" % inbox).encode() +
              ("PUB %s %s %d\r\n" % (subject, inbox, len(data))).encode() +
              data + b"\r\n")
    while True:
        while b"\r\n" not in buf:
            fill()
        line, rest = buf.split(b"\r\n", 1)
        words = line.split()
        if not words:
            buf = rest
            continue
        if words[0] == b"PING":
            s.sendall(b"PONG\r\n")
            buf = rest
        elif words[0] in (b"MSG", b"HMSG"):
            total = int(words[-1])
            while len(rest) < total + 2:
                fill()
                rest = buf.split(b"\r\n", 1)[1]
            body = rest[:total]
            if words[0] == b"HMSG":
                hlen = int(words[-2])
                if b" 503" in body[:hlen].split(b"\r\n", 1)[0]:
                    raise ConnectionError("no responders")
                body = body[hlen:]
            s.close()
            return body
        elif words[0] == b"-ERR":
            raise ConnectionError(line.decode(errors="replace"))
        else:
            buf = rest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("addr")
    ap.add_argument("subject")
    ap.add_argument("payload", nargs="?", default="")
    a = ap.parse_args()
    try:
        body = request(a.addr, a.subject, a.payload, a.timeout)
    except (OSError, TimeoutError, ConnectionError, ValueError) as e:
        print("natsq: %s: %s" % (a.addr, e or type(e).__name__), file=sys.stderr)
        return 1
    sys.stdout.write(body.decode(errors="replace") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
