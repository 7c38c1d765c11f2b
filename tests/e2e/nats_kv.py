#!/usr/bin/env python3
"""tests/e2e/nats_kv.py - read or write one key of a NATS key-value bucket,
for the e2e tests that look at what a NATS-backed cluster keeps
(docs/nats.md, "What is kept where"), the way other tests look at a
local cluster's files. Speaks the NATS client protocol itself (one
request over a socket), so it needs nothing but Python.

    nats_kv.py get  nats://HOST:PORT BUCKET KEY   print the value; exit 1 if none
    nats_kv.py put  nats://HOST:PORT BUCKET KEY   store stdin as the value

Every wait is bounded (5 s).
"""
import base64
import json
import socket
import sys
import time

TIMEOUT = 5.0


def connect(url):
    hostport = url.split("//", 1)[-1].split(",")[0]
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    f = s.makefile("rb")
    if not f.readline().startswith(b"INFO "):
        sys.exit("nats_kv: no INFO from the server")
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
              b'"no_responders":true,"protocol":1}\r\n')
    return s, f


def request(url, subject, payload):
    """The payload of the first reply to PAYLOAD published on SUBJECT."""
    s, f = connect(url)
    inbox = "_INBOX.nats_kv.%d" % int(time.time() * 1e6)
    s.sendall(b"SUB %s 1\r\nPUB %s %s %d\r\n%s\r\nPING\r\n"
              % (inbox.encode(), subject.encode(), inbox.encode(), len(payload), payload))
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = f.readline()
        if not line:
            break
        parts = line.split()
        if parts[:1] == [b"PING"]:
            s.sendall(b"PONG\r\n")
        elif parts[:1] == [b"MSG"]:
            body = f.read(int(parts[-1]) + 2)[:-2]
            s.close()
            return body
        elif parts[:1] == [b"HMSG"]:
            body = f.read(int(parts[-1]) + 2)[:-2]
            s.close()
            return body[int(parts[-2]):]
        elif parts[:1] == [b"-ERR"]:
            sys.exit("nats_kv: %s" % line.decode().strip())
    sys.exit("nats_kv: no answer on %s" % subject)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("get", "put"):
        sys.exit(__doc__)
    verb, url, bucket, key = sys.argv[1:]
    subject = "$KV.%s.%s" % (bucket, key)
    if verb == "get":
        ans = json.loads(request(url, "$JS.API.STREAM.MSG.GET.KV_" + bucket,
                                 json.dumps({"last_by_subj": subject}).encode()))
        msg = ans.get("message")
        if not msg or not msg.get("data"):
            return 1
        sys.stdout.buffer.write(base64.b64decode(msg["data"]))
        return 0
    ans = json.loads(request(url, subject, sys.stdin.buffer.read()))
    if "error" in ans:
        sys.exit("nats_kv: %s" % ans["error"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
