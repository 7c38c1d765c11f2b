#!/usr/bin/env python3
"""tests/gateway/forge.py - write gateway frames (replication/frame.h) to
stdout, to be sent through `openssl s_client` by a test that plays a peer
sending what a daemon never would: a hello, then one GW_APPEND of messages
with the origin and offsets the test chooses.

    forge.py --dst-cluster C --src-cluster C --src-stream S --dst-stream S
             --expect UUID --topic T --origin-stream UUID --origin-topic UUID
             --offset N[,N...] [--count K] [--payload TEXT]
             [--uid N] [--gid N] [--mode OCTAL] [--payload-bytes N]

K messages (default 1) get origin offsets N, N+1, ...; with a list, one
message per offset of the list. Payloads TEXT-0, TEXT-1, ... Integers are
little-endian, strings a u16 length and bytes, UUIDs 16 raw bytes. With
--payload-bytes N, each payload is N bytes "x" instead.

    forge.py --open --dst-cluster C --src-cluster C --src-stream S --dst-stream S
        a hello and a GW_OPEN instead
    forge.py --results [--messages]
        read frames from stdin (what s_client printed) and print one line per
        GW_RESULT: its status and its UUID (and its message)

    forge.py --fs OP,STREAM,NAME[,DATA] [--fs ...] --dst-cluster C [--uid N] [--gid N]
        a hello and one GW_FS file operation per --fs (OP: getattr, read,
        append, writectl, ...; DATA with \\n escapes), as a peer's daemon
        asking for its user could, or a forged one would
    forge.py --fsresults
        read frames from stdin and print one line per GW_FSREPLY: its
        status and its message
"""

import argparse
import struct
import sys
import uuid

GW_HELLO, GW_OPEN, GW_APPEND, GW_FS = 1, 2, 4, 6
FS_OPS = dict(getattr=1, readdir=2, read=3, append=4, create=5, unlink=6, mkdir=7,
              rmdir=8, chmod=9, chown=10, writectl=11, statfs=12, open=13)
GW_VERSION = 1


def s(text):
    b = text.encode()
    return struct.pack("<H", len(b)) + b


def frame(kind, body):
    return b"SFG1" + struct.pack("<BBHI", kind, 0, 0, len(body)) + body


def results():
    data = sys.stdin.buffer.read()
    while len(data) >= 12:
        kind, _, _, n = struct.unpack("<BBHI", data[4:12])
        body, data = data[12:12 + n], data[12 + n:]
        if kind == 5 and len(body) >= 24:
            status = struct.unpack("<i", body[:4])[0]
            line = [status, uuid.UUID(bytes=body[8:24])]
            if "--messages" in sys.argv and len(body) >= 26:
                n = struct.unpack("<H", body[24:26])[0]
                line.append(body[26:26 + n].decode(errors="replace"))
            print(*line)


def fsresults():
    data = sys.stdin.buffer.read()
    while len(data) >= 12:
        kind, _, _, n = struct.unpack("<BBHI", data[4:12])
        body, data = data[12:12 + n], data[12 + n:]
        if kind == 5 and len(body) >= 4:      # the hello's answer
            print("hello", struct.unpack("<i", body[:4])[0])
        if kind == 7 and len(body) >= 136:
            status = struct.unpack("<i", body[:4])[0]
            dlen = struct.unpack("<I", body[132:136])[0]
            mlen = struct.unpack("<H", body[136 + dlen:138 + dlen])[0]
            print(status, body[138 + dlen:138 + dlen + mlen].decode(errors="replace"))


def fs_frames(a):
    out = frame(GW_HELLO, struct.pack("<H", GW_VERSION) + s(a.dst_cluster))
    for spec in a.fs:
        f = spec.split(",", 3)
        op, stream, name = f[0], f[1], f[2]
        data = f[3].encode().decode("unicode_escape").encode("latin1") if len(f) > 3 else b""
        body = struct.pack("<BIIB", FS_OPS[op], a.uid, a.gid, 0)
        body += s(a.dst_cluster) + s(stream) + s(name)
        size = 4096 if op == "read" else 0
        body += struct.pack("<QIIIII", 0, size, 0, 0xffffffff, 0xffffffff, 0)
        body += bytes(16) + struct.pack("<I", len(data)) + data
        out += frame(GW_FS, body)
    return out


def main():
    if "--results" in sys.argv:
        return results()
    if "--fsresults" in sys.argv:
        return fsresults()
    if "--fs" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--fs", action="append", required=True)
        ap.add_argument("--dst-cluster", required=True)
        ap.add_argument("--uid", type=int, default=0)
        ap.add_argument("--gid", type=int, default=0)
        sys.stdout.buffer.write(fs_frames(ap.parse_args()))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--open", action="store_true")
    for a in ("dst-cluster", "src-cluster", "src-stream", "dst-stream"):
        ap.add_argument("--" + a, required=True)
    for a in ("expect", "topic", "origin-stream", "origin-topic"):
        ap.add_argument("--" + a, required="--open" not in sys.argv)
    ap.add_argument("--offset", required="--open" not in sys.argv)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--payload", default="forged")
    ap.add_argument("--payload-bytes", type=int)
    ap.add_argument("--uid", type=int, default=0)
    ap.add_argument("--gid", type=int, default=0)
    ap.add_argument("--mode", type=lambda x: int(x, 8), default=0o644)
    a = ap.parse_args()
    out = frame(GW_HELLO, struct.pack("<H", GW_VERSION) + s(a.dst_cluster))
    if a.open:
        out += frame(GW_OPEN, s(a.src_cluster) + s(a.src_stream) + s(a.dst_stream))
        sys.stdout.buffer.write(out)
        return
    offsets = [int(x) for x in a.offset.split(",")]
    if len(offsets) == 1:
        offsets = [offsets[0] + i for i in range(a.count)]
    body = (s(a.src_cluster) + s(a.src_stream) + s(a.dst_stream) + uuid.UUID(a.expect).bytes
            + s(a.topic) + struct.pack("<III", a.uid, a.gid, a.mode) + struct.pack("<I", len(offsets)))
    for i, off in enumerate(offsets):
        p = b"x" * a.payload_bytes if a.payload_bytes is not None else f"{a.payload}-{i}".encode()
        body += (uuid.UUID(a.origin_stream).bytes + uuid.UUID(a.origin_topic).bytes
                 + struct.pack("<QQI", off, 1, len(p)) + p)
    out += frame(GW_APPEND, body)
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
