#!/usr/bin/env bats
# 22-posix.bats - POSIX details an external POSIX test suite checks, as a
# local filesystem (ext4) answers them (docs/filesystem.md): setuid/setgid
# bits cleared by a write, nosuid,nodev; fstat of a topic removed while
# open; posix_fallocate stores nothing; ctime on chmod/chown, a stream's
# mtime/ctime on topic create/remove, the group of a setgid stream.

load helpers

setup() {
	sfs_setup sanfrancisco
	S=$M/sanfrancisco/s
	mkdir "$S"
	T=$S/t
}

teardown() {
	sfs_teardown
}

# as_nobody CMD...: run CMD as user nobody (65534:65534, no other groups).
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# mode FILE: the permission bits of FILE, in octal.
mode() {
	stat -c %a "$1"
}

# ns FIELD FILE: os.stat(FILE).FIELD (st_mtime_ns, st_ctime_ns, st_gid ...).
ns() {
	python3 -c 'import os, sys; print(getattr(os.stat(sys.argv[2]), sys.argv[1]))' "$1" "$2"
}

@test "a write by anyone but root clears setuid, and setgid with group-execute; root's keeps them; mounted nosuid,nodev" {
	[[ $EUID -eq 0 ]] || skip "needs root (setpriv, other users)"
	chmod 0755 "$TMP"	# mktemp -d made it 0700: let nobody reach $M
	awk -v m="$M" '$2 == m { print $4 }' /proc/mounts | grep -E '(^|,)nosuid(,|$)'
	awk -v m="$M" '$2 == m { print $4 }' /proc/mounts | grep -E '(^|,)nodev(,|$)'
	echo root >>"$T"
	chmod 06777 "$T"
	[ "$(mode "$T")" = 6777 ]
	echo root-again >>"$T"
	[ "$(mode "$T")" = 6777 ]
	as_nobody sh -c 'echo nobody >>"$1"' sh "$T"
	[ "$(mode "$T")" = 777 ]
	[ "$(tail -n 1 "$T")" = nobody ]
	# setgid without group-execute is not the setgid of a program: kept
	chmod 06767 "$T"
	as_nobody sh -c 'echo nobody >>"$1"' sh "$T"
	[ "$(mode "$T")" = 2767 ]
	# and it stays so across a restart
	sfs_restart
	[ "$(mode "$T")" = 2767 ]
}

@test "fstat of a topic removed while open answers from the open file; reads go on, writes fail, the name is gone" {
	printf 'a\nb\n' >>"$T"
	run python3 - "$T" "$S" <<'PY'
import errno, os, sys
path, stream = sys.argv[1], sys.argv[2]
rfd = os.open(path, os.O_RDONLY)
wfd = os.open(path, os.O_WRONLY | os.O_APPEND)
os.unlink(path)
st = os.fstat(rfd)
print("fstat", st.st_size, st.st_nlink)
print("read", os.read(rfd, 100))
try:
    os.write(wfd, b"c\n")
    print("write ok")
except OSError as e:
    print("write", errno.errorcode[e.errno])
print("exists", os.path.exists(path))
print("listed", sorted(n for n in os.listdir(stream) if not n.startswith(".")))
os.close(rfd)
os.close(wfd)
print("after close", sorted(os.listdir(stream)))
PY
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "fstat 4 0" ]
	[ "${lines[1]}" = "read b'a\\nb\\n'" ]
	[ "${lines[2]}" = "write ENOENT" ]
	[ "${lines[3]}" = "exists False" ]
	[ "${lines[4]}" = "listed []" ]
	[ "${lines[5]}" = "after close ['.info', '.replicas', '.upstreams']" ]
	# a new topic of that name is a new, empty one
	echo new >>"$T"
	[ "$(cat "$T")" = new ]
	# tail -f of a removed topic keeps polling it without an error
	tail -f "$T" >"$TMP/tail.out" 2>"$TMP/tail.err" 3>&- &
	local pid=$!
	wait_for grep -qx new "$TMP/tail.out"
	rm "$T"
	sleep 1.5
	kill "$pid"
	wait "$pid" || true
	cat "$TMP/tail.err"
	! grep -qi 'stale' "$TMP/tail.err" || false
}

@test "posix_fallocate stores nothing: within the topic 0, past its end EPERM; punching holes EOPNOTSUPP" {
	printf 'a\nb\n' >>"$T"
	run python3 - "$T" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for off, n in ((0, 4), (0, 4096)):
    try:
        os.posix_fallocate(fd, off, n)
        print(off, n, "ok")
    except OSError as e:
        print(off, n, errno.errorcode[e.errno])
os.close(fd)
PY
	echo "$output"
	[ "${lines[0]}" = "0 4 ok" ]
	[ "${lines[1]}" = "0 4096 EPERM" ]
	run fallocate -l 1M "$T"
	[ "$status" -ne 0 ]
	run fallocate -n -l 1M "$T"	# keep size: nothing to change
	[ "$status" -eq 0 ]
	run fallocate -p -o 0 -l 2 "$T"
	[ "$status" -ne 0 ]
	[[ $output == *"unsupported"* || $output == *"not supported"* ]]
	# the topic is as it was: two messages, four bytes, no NUL
	[ "$(cat "$T")" = $'a\nb' ]
	[ "$(stat -c %s "$T")" -eq 4 ]
	[ "$(tr -cd '\000' <"$T" | wc -c)" -eq 0 ]
	grep -q 'fallocate .*refused: topics are append-only' "$TMP/streamfs.log"
}

@test "chmod and chown move ctime; creating and removing a topic move its stream's mtime and ctime" {
	echo a >>"$T"
	local c0 c1 m0 m1
	c0=$(ns st_ctime_ns "$T")
	sleep 0.05
	chmod 0600 "$T"
	c1=$(ns st_ctime_ns "$T")
	[ "$c1" -gt "$c0" ]
	sleep 0.05
	chown 0:0 "$T"
	[ "$(ns st_ctime_ns "$T")" -gt "$c1" ]
	# the stream directory
	m0=$(ns st_mtime_ns "$S")
	c0=$(ns st_ctime_ns "$S")
	sleep 0.05
	: >"$S/u"
	m1=$(ns st_mtime_ns "$S")
	[ "$m1" -gt "$m0" ]
	[ "$(ns st_ctime_ns "$S")" -ge "$m1" ]
	sleep 0.05
	rm "$S/u"
	[ "$(ns st_mtime_ns "$S")" -gt "$m1" ]
	m1=$(ns st_mtime_ns "$S")
	sleep 0.05
	chmod 0750 "$S"
	[ "$(ns st_ctime_ns "$S")" -gt "$m1" ]
	[ "$(ns st_mtime_ns "$S")" -eq "$m1" ]
	# kept across a restart
	sfs_restart
	[ "$(ns st_mtime_ns "$S")" -eq "$m1" ]
}

@test "a topic created in a setgid stream takes the stream's group; a stream in a setgid cluster takes its group and setgid" {
	[[ $EUID -eq 0 ]] || skip "needs root (chgrp)"
	chgrp 4242 "$S"
	chmod 2775 "$S"
	echo a >>"$S/g"
	[ "$(ns st_gid "$S/g")" -eq 4242 ]
	# without setgid, the creator's group (chmod keeps a directory's
	# setgid unless told: g-s)
	chmod g-s "$S"
	echo a >>"$S/h"
	[ "$(ns st_gid "$S/h")" -eq 0 ]
	# a setgid cluster
	chgrp 4243 "$M/sanfrancisco"
	chmod 2775 "$M/sanfrancisco"
	mkdir "$M/sanfrancisco/x"
	[ "$(ns st_gid "$M/sanfrancisco/x")" -eq 4243 ]
	[ "$(stat -c %a "$M/sanfrancisco/x")" -ge 2000 ]
}

@test "rename is refused, also to the name libfuse gives a removed open file; only libfuse's own hiding removes" {
	echo a >>"$T"
	exec 7<"$T"
	run python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$T" "$S/.fuse_hidden123"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]
	run python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$T" "$S/.fuse_hidden0000000100000002x"
	[ "$status" -ne 0 ]
	[ "$(cat "$T")" = a ]
	grep -q "rename /sanfrancisco/s/t to /sanfrancisco/s/.fuse_hidden123: refused" "$TMP/streamfs.log"
	# rm while open: libfuse hides it; it reads on through the descriptor
	rm "$T"
	[ ! -e "$T" ]
	[ "$(cat <&7)" = a ]
	exec 7<&-
}

@test "an open racing rm of the topic: O_CREAT makes a new topic, never ENOENT" {
	# One process opens with O_CREAT and writes, 300 times; another
	# removes the topic as fast as it can. An open must never fail with
	# ENOENT (the kernel looks the name up again after ESTALE); a write
	# that loses the race to rm fails with ENOENT (docs/filesystem.md).
	run timeout 60 python3 - "$T" <<'PY'
import errno, os, sys, threading
path = sys.argv[1]
stop = False
def remover():
    while not stop:
        try:
            os.unlink(path)
        except OSError:
            pass
th = threading.Thread(target=remover)
th.start()
opens = writes = 0
try:
    for i in range(300):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            opens += 1
            print("open", errno.errorcode[e.errno])
            continue
        try:
            os.write(fd, b"x\n")
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise
            writes += 1
        os.close(fd)
finally:
    stop = True
    th.join()
print("open failures", opens, "writes refused", writes)
PY
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == "open failures 0 "* ]]
}

@test "a stream removed while a topic of it is open: reads through the descriptor go on" {
	printf 'a\nb\n' >>"$T"
	run python3 - "$T" "$S" <<'PY'
import errno, os, sys
path, stream = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
os.unlink(path)
os.rmdir(stream)
print("read", os.pread(fd, 100, 0))
try:
    os.fstat(fd)
    print("fstat ok")
except OSError as e:
    print("fstat", errno.errorcode[e.errno])
os.close(fd)
print("exists", os.path.exists(stream))
PY
	echo "$output"
	[ "${lines[0]}" = "read b'a\\nb\\n'" ]
	# libfuse cannot name a file whose directory is gone: documented
	[ "${lines[1]}" = "fstat ESTALE" ]
	[ "${lines[2]}" = "exists False" ]
}
