#!/usr/bin/env bats
# 20-topic.bats - topic files (docs/filesystem.md): reads, st_size, appends at the
# real end, partial lines, concurrent writers, truncation, max_message,
# tail -f, large and binary payloads.

load helpers

# error messages and ls order as in the C locale
export LC_ALL=C

teardown() {
	# a background tail -f of a test, if it is still there
	if [[ -n ${TAIL_PID:-} ]]; then
		kill "$TAIL_PID" 2>/dev/null || true
		wait "$TAIL_PID" 2>/dev/null || true
	fi
	sfs_teardown
}

# start [CLUSTER...]: mount (SFS_MOUNT_EXTRA as set by the test), make
# stream s in sanfrancisco; S is the stream, T its topic t.
start() {
	sfs_setup "$@"
	S=$M/sanfrancisco/s
	T=$S/t
	mkdir "$S"
}

@test "reads return the messages in order, each followed by a newline" {
	start
	echo one >>"$T"
	printf 'two\nthree\n' >>"$T"
	echo four >>"$T"
	run cat "$T"
	[ "$status" -eq 0 ]
	[ "$output" = $'one\ntwo\nthree\nfour' ]
	# the bytes exactly, with the last '\n'
	[ "$(od -An -c "$T" | tr -s ' ' | tr -d '\n')" = " o n e \n t w o \n t h r e e \n f o u r \n" ]
	# empty messages are messages too
	printf '\n\n' >>"$T"
	[ "$(wc -l <"$T")" -eq 6 ]
}

@test "st_size equals the bytes read, wc -l the message count, head and dd skip read the right bytes" {
	start
	local i
	for i in $(seq 1 20); do
		printf 'message-%02d\n' "$i"
	done >"$TMP/expect"			# 20 lines of 11 bytes
	cat "$TMP/expect" >>"$T"
	[ "$(stat -c %s "$T")" -eq 220 ]
	[ "$(cat "$T" | wc -c)" -eq 220 ]
	[ "$(wc -l <"$T")" -eq 20 ]
	cmp "$TMP/expect" "$T"
	[ "$(head -n 3 "$T")" = $'message-01\nmessage-02\nmessage-03' ]
	[ "$(head -c 5 "$T")" = "messa" ]
	# message 11 starts at byte 110
	[ "$(dd if="$T" bs=1 skip=110 count=10 status=none)" = "message-11" ]
	# from the middle of a message to the middle of the next one
	[ "$(dd if="$T" bs=1 skip=118 count=6 status=none)" = $'11\nmes' ]
	# past the end: nothing
	[ "$(dd if="$T" bs=1 skip=220 count=5 status=none | wc -c)" -eq 0 ]
	# .info counts them too
	[ "$(jq -r '.topics[] | select(.name == "t") | .messages' "$S/.info")" = 20 ]
	# one more message: size grows by its bytes and the newline
	echo x >>"$T"
	[ "$(stat -c %s "$T")" -eq 222 ]
	[ "$(tail -n 1 "$T")" = "x" ]
}

@test "appends go at the real end whatever the offset: dd seek=0 and pwrite at 0" {
	start
	printf 'a\nb\n' >>"$T"
	# dd opening with O_APPEND, seek=0, no truncation
	echo c | dd of="$T" seek=0 conv=notrunc oflag=append status=none
	[ "$(cat "$T")" = $'a\nb\nc' ]
	# an O_WRONLY descriptor (no O_APPEND), pwrite at offset 0
	run python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
n = os.pwrite(fd, b"d\n", 0)
os.close(fd)
print(n)' "$T"
	[ "$status" -eq 0 ]
	[ "$output" = 2 ]
	[ "$(cat "$T")" = $'a\nb\nc\nd' ]
	# a plain write at offset 1 of an O_RDWR descriptor after a seek
	run python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.lseek(fd, 1, os.SEEK_SET)
print(os.write(fd, b"e\n"))
os.close(fd)' "$T"
	[ "$status" -eq 0 ]
	[ "$output" = 2 ]
	[ "$(cat "$T")" = $'a\nb\nc\nd\ne' ]
	[ "$(stat -c %s "$T")" -eq 10 ]
}

@test "a partial line is stored as its own message when the file is closed" {
	start
	printf abc >>"$T"
	[ "$(od -An -c "$T" | tr -s ' ' | tr -d '\n')" = " a b c \n" ]
	[ "$(stat -c %s "$T")" -eq 4 ]
	printf 'x\ny' >>"$T"
	[ "$(cat "$T")" = $'abc\nx\ny' ]
	[ "$(wc -l <"$T")" -eq 3 ]
}

@test "in one open file, partial lines wait for the rest: 'ab' + 'c\\nd' gives abc and d" {
	start
	# (fd 7: bats owns fd 3)
	exec 7>>"$T"
	printf 'ab' >&7
	printf 'c\nd' >&7
	exec 7>&-
	run cat "$T"
	[ "$output" = $'abc\nd' ]
	[ "$(wc -l <"$T")" -eq 2 ]
}

@test "in one descriptor (python, no dup): 'ab' + 'c\\nd' gives abc and d" {
	start
	touch "$T"
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"ab")
os.write(fd, b"c\nd")
# the partial line is not visible before the close
with open(sys.argv[1], "rb") as r:
    assert r.read() == b"abc\n", "before close"
os.close(fd)' "$T"
	[ "$(cat "$T")" = $'abc\nd' ]
}

@test "concurrent writers: 8 x 500 writes of 3 lines, every line once, each write contiguous" {
	start
	touch "$T"
	local w pids=()
	for w in 0 1 2 3 4 5 6 7; do
		python3 -c '
import os, sys
w = int(sys.argv[2])
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for s in range(500):
    b = b"".join(b"w%d s%03d l%d\n" % (w, s, l) for l in range(3))
    assert os.write(fd, b) == len(b)
os.close(fd)' "$T" "$w" 3>&- &
		pids+=($!)
	done
	local p
	for p in "${pids[@]}"; do
		wait "$p"
	done
	cat "$T" >"$TMP/out"
	[ "$(wc -l <"$TMP/out")" -eq 12000 ]
	[ "$(sort -u "$TMP/out" | wc -l)" -eq 12000 ]
	[ "$(stat -c %s "$T")" -eq "$(wc -c <"$TMP/out")" ]
	# each l0 is followed by l1 and l2 of the same write
	run awk '
		{ split($0, f, " ") }
		n == 0 && f[3] == "l0" { want = f[1] " " f[2]; n = 1; next }
		n == 1 && $0 == want " l1" { n = 2; next }
		n == 2 && $0 == want " l2" { n = 0; next }
		{ print "line " NR " out of place: " $0; bad = 1; exit }
		END { exit bad }' "$TMP/out"
	echo "$output"
	[ "$status" -eq 0 ]
	# and each writer's writes are in its own order
	for w in 0 7; do
		grep "^w$w .* l0$" "$TMP/out" | awk '{ print $2 }' >"$TMP/seq$w"
		seq -f 's%03g' 0 499 | cmp - "$TMP/seq$w"
	done
}

@test "truncation: ': >' and truncate -s 0 fail with EPERM, data untouched; truncate to the size is a no-op" {
	start
	printf 'one\ntwo\n' >>"$T"
	run bash -c ': >"$1"' _ "$T"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]
	[ "$(cat "$T")" = $'one\ntwo' ]
	run truncate -s 0 "$T"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]
	[ "$(cat "$T")" = $'one\ntwo' ]
	run truncate -s 4 "$T"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]
	run truncate -s 100 "$T"
	[ "$status" -ne 0 ]
	[ "$(stat -c %s "$T")" -eq 8 ]
	truncate -s 8 "$T"
	[ "$(cat "$T")" = $'one\ntwo' ]
	# python open(..., "w") = O_TRUNC
	run python3 -c 'import sys; open(sys.argv[1], "w").write("x\n")' "$T"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]
	[ "$(cat "$T")" = $'one\ntwo' ]
	# survives a restart unchanged
	sfs_restart
	[ "$(cat "$T")" = $'one\ntwo' ]
}

@test "max_message = 64: a 65-byte message fails with EMSGSIZE and nothing is stored, 64 bytes work" {
	SFS_MOUNT_EXTRA="max_message = 64"
	start
	local m64 m65
	m64=$(printf 'b%.0s' $(seq 1 64))
	m65=$(printf 'c%.0s' $(seq 1 65))
	echo first >>"$T"
	run bash -c 'echo "$2" >>"$1"' _ "$T" "$m65"
	[ "$status" -ne 0 ]
	[[ $output == *"Message too long"* ]]
	[ "$(cat "$T")" = "first" ]
	[ "$(stat -c %s "$T")" -eq 6 ]
	# in a write with good lines around it: nothing of that write stored
	# (one write() call: bash's printf would write piece by piece)
	run python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"ok1\n" + sys.argv[2].encode() + b"\nok2\n")
except OSError as e:
    print(os.strerror(e.errno))
    sys.exit(1)' "$T" "$m65"
	[ "$status" -ne 0 ]
	[ "$output" = "Message too long" ]
	[ "$(cat "$T")" = "first" ]
	# a 65-byte partial line stored at close: refused too
	run bash -c 'printf "%s" "$2" >>"$1"' _ "$T" "$m65"
	echo "partial: status $status: $output"
	[ "$status" -ne 0 ]
	[[ $output == *"Message too long"* ]]
	cat "$T"
	[ "$(cat "$T")" = "first" ]
	echo "$m64" >>"$T"
	[ "$(cat "$T")" = "first"$'\n'"$m64" ]
	[ "$(stat -c %s "$T")" -eq 71 ]
}

# w_script: python that writes the pieces given as arguments through one
# O_APPEND descriptor, each piece as ITEM*COUNT[+nl] (e.g. "b*1048577+nl"),
# one os.write() per piece, and prints per piece the count or the error.
w_script() {
	python3 - "$@" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for spec in sys.argv[2:]:
    nl = spec.endswith("+nl")
    item, count = spec.removesuffix("+nl").split("*")
    data = item.encode() * int(count) + (b"\n" if nl else b"")
    try:
        print(os.write(fd, data))
    except OSError as e:
        print(e.strerror)
os.close(fd)
PY
}

@test "a message one byte over max_message is refused whole, however the kernel splits its write" {
	start
	echo first >>"$T"
	# dd bs=2M of one line of 1 MiB + 1 bytes: the kernel sends 1 MiB, then
	# "b\n"; dd gets a short count, sends the rest again, and fails
	python3 -c 'import sys; sys.stdout.buffer.write(b"b" * 1048577 + b"\n")' >"$TMP/long"
	run dd if="$TMP/long" of="$T" bs=2M oflag=append conv=notrunc status=none
	echo "dd: $status: $output"
	[ "$status" -ne 0 ]
	[[ $output == *"Message too long"* ]]
	[ "$(cat "$T")" = first ]
	# Python's os.write: a short count (the kernel's first piece, up to
	# 1 MiB); the rest sent again is refused, and sent once more too; the
	# next message is stored
	run python3 - "$T" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
data = b"b" * 1048577 + b"\n"
n = os.write(fd, data)
print(n)
for _ in range(2):
    try:
        print(os.write(fd, data[n:]))
    except OSError as e:
        print(e.strerror)
print(os.write(fd, b"ok\n"))
PY
	echo "$output"
	[ "${lines[0]}" -gt 0 ]
	[ "${lines[0]}" -le 1048576 ]
	[ "${lines[1]}" = "Message too long" ]
	[ "${lines[2]}" = "Message too long" ]
	[ "${lines[3]}" = 3 ]
	[ "$(cat "$T")" = $'first\nok' ]
	# Python's buffered file sends the rest itself: the write fails
	run python3 -c '
import sys
with open(sys.argv[1], "ab") as f:
    f.write(b"c" * 1048600 + b"\n")' "$T"
	[ "$status" -ne 0 ]
	[[ $output == *"Message too long"* ]]
	[ "$(cat "$T")" = $'first\nok' ]
	# exactly max_message, in two pieces of the kernel: stored
	run w_script "$T" "m*1048576+nl"
	[ "${lines[0]}" = 1048577 ]
	[ "$(sed -n 3p "$T" | wc -c)" -eq 1048577 ]
	[ "$(wc -l <"$T")" -eq 3 ]
}

@test "an over-long message in several writes: refused from the write that goes over to the one with its newline" {
	start
	echo first >>"$T"
	# 400 KiB three times: the third goes over 1 MiB; the fourth ends it
	run w_script "$T" "a*409600" "a*409600" "a*409600" "a*10+nl" "ok*1+nl"
	echo "$output"
	[ "${lines[0]}" = 409600 ]
	[ "${lines[1]}" = 409600 ]
	[ "${lines[2]}" = "Message too long" ]
	[ "${lines[3]}" = "Message too long" ]
	[ "${lines[4]}" = 3 ]
	[ "$(cat "$T")" = $'first\nok' ]
	# a line that starts in one write and ends three later, within the limit
	run w_script "$T" "x*262144" "x*262144" "x*262144" "x*262144+nl"
	[ "${lines[3]}" = 262145 ]
	[ "$(sed -n 3p "$T" | wc -c)" -eq 1048577 ]
}

@test "max_message = 64: a write with an over-long line stores nothing, not even the line held back" {
	SFS_MOUNT_EXTRA="max_message = 64"
	start
	touch "$T"
	# "hhhhh" waits for its newline; the next write completes it and has
	# an over-long line: nothing of it is stored, and "hhhhh" is dropped
	# (it could only be stored cut short); the next write is a new line
	run python3 - "$T" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for data in (b"hhhhh", b"hhhhh\n" + b"y" * 65 + b"\nok\n", b"z\n"):
    try:
        print(os.write(fd, data))
    except OSError as e:
        print(e.strerror)
os.close(fd)
PY
	echo "$output"
	[ "${lines[0]}" = 5 ]
	[ "${lines[1]}" = "Message too long" ]
	[ "${lines[2]}" = 2 ]
	[ "$(cat "$T")" = z ]
}

@test "max_message = 10: the write that ends a refused message ends it; the refused bytes sent again are dropped, nothing else" {
	SFS_MOUNT_EXTRA="max_message = 10"
	start
	touch "$T"
	# os.write pieces: the third goes over and ends the message; the next
	# line is a message of its own
	run w_script "$T" "01234*1" "56789*1" "X*1+nl" "ok*1+nl"
	echo "$output"
	[ "$output" = $'5\n5\nMessage too long\n3' ]
	[ "$(cat "$T")" = ok ]
	# Python's buffered file keeps the bytes a failed flush refused and
	# sends them with the next: they are dropped, "after" is stored alone
	run python3 - "$T" <<'PY'
import sys
f = open(sys.argv[1], "ab")
f.write(b"b" * 11 + b"\n")
for data in (None, b"after\n"):
    if data:
        f.write(data)
    try:
        f.flush()
        print("flushed")
    except OSError as e:
        print(e.strerror)
f.close()
PY
	echo "$output"
	[ "$output" = $'Message too long\nflushed' ]
	[ "$(cat "$T")" = $'ok\nafter' ]
	# the same bytes sent twice more, then new ones: refused, refused, kept
	run w_script "$T" "y*20+nl" "y*20+nl" "y*20+nl" "z*1+nl"
	[ "$output" = $'Message too long\nMessage too long\nMessage too long\n2' ]
	[ "$(cat "$T")" = $'ok\nafter\nz' ]
	# anything else after a refusal is new data
	run w_script "$T" "y*20+nl" "new*1+nl"
	[ "$output" = $'Message too long\n4' ]
	[ "$(cat "$T")" = $'ok\nafter\nz\nnew' ]
}

@test "Python's buffered file: an over-long line refused at flush, the next line stored alone" {
	start
	touch "$T"
	run python3 - "$T" <<'PY'
import sys
f = open(sys.argv[1], "ab")
f.write(b"b" * 1048577 + b"\n")
try:
    f.flush()
    print("flushed")
except OSError as e:
    print(e.strerror)
f.write(b"after\n")
f.flush()
print("flushed")
f.close()
PY
	echo "$output"
	[ "$output" = $'Message too long\nflushed' ]
	[ "$(cat "$T")" = after ]
}

@test "tail -f prints a message appended afterwards within 2 s" {
	start
	echo before >>"$T"
	tail -n +1 -f "$T" >"$TMP/tail.out" 2>&1 3>&- &
	TAIL_PID=$!
	# tail's start (a fork and exec on a loaded machine) is not what is
	# timed; what it prints of later appends is. On a FUSE file tail
	# polls once a second (coreutils counts FUSE as remote: no inotify).
	wait_for -t 10 grep -qx before "$TMP/tail.out"
	echo after >>"$T"
	wait_for -t 2 grep -qx after "$TMP/tail.out"
	printf 'x\ny\n' >>"$T"
	wait_for -t 2 grep -qx y "$TMP/tail.out"
	kill "$TAIL_PID"
	wait "$TAIL_PID" || true
	TAIL_PID=
	[ "$(cat "$TMP/tail.out")" = $'before\nafter\nx\ny' ]
}

@test "a 5 MB file of lines appended with cat reads back identical" {
	start
	head -c 3900000 /dev/urandom | base64 -w 100 >"$TMP/big"
	[ "$(stat -c %s "$TMP/big")" -gt 5000000 ]
	cat "$TMP/big" >>"$T"
	cmp "$TMP/big" "$T"
	[ "$(stat -c %s "$T")" -eq "$(stat -c %s "$TMP/big")" ]
	[ "$(wc -l <"$T")" -eq "$(wc -l <"$TMP/big")" ]
	# and again after a restart, with a read in the middle
	sfs_restart
	cmp "$TMP/big" "$T"
	cmp <(dd if="$TMP/big" bs=4096 skip=617 count=3 status=none) \
		<(dd if="$T" bs=4096 skip=617 count=3 status=none)
}

@test "payload bytes other than newline round-trip, binary included" {
	start
	# every byte value except '\n', twice, in one message; then a few others
	python3 -c '
import sys
b = bytes(x for x in range(256) if x != 10)
sys.stdout.buffer.write(b + b + b"\n" + b"\x00\n" + b"\r\n" + b"\xff\xfe\n")' >"$TMP/bin"
	cat "$TMP/bin" >>"$T"
	cmp "$TMP/bin" "$T"
	[ "$(wc -l <"$T")" -eq 4 ]
	[ "$(stat -c %s "$T")" -eq $((255 * 2 + 1 + 2 + 2 + 3)) ]
	sfs_restart
	cmp "$TMP/bin" "$T"
}

@test "read_ahead, accepted from older configurations, has no effect and says so" {
	SFS_MOUNT_EXTRA="read_ahead = 4M"
	start
	echo x >>"$T"
	[ "$(cat "$T")" = x ]
	grep -F "read_ahead has no effect" "$TMP/streamfs.log"
}

# rchar PID: bytes the process has read with read()/pread() so far.
rchar() {
	awk '/^rchar:/ { print $2 }' "/proc/$1/io"
}

@test "a first cat reads each segment byte about once (read windows sized to the request)" {
	[[ -r /proc/self/io ]] || skip "no /proc/PID/io"
	sfs_local_only "counts the bytes read from a local cluster's segment files"
	# cat's 128 KiB requests, where a fixed 256 KiB window read 1.56x the data
	start
	awk 'BEGIN { for (i = 0; i < 200000; i++) printf "%099d\n", i }' >>"$T"
	local seg before after
	seg=$(find "$TMP/data/sanfrancisco/s/t" -name '*.seg' -printf '%s\n' | awk '{ n += $1 } END { print n }')
	[ "$seg" -gt 20000000 ]
	before=$(rchar "$SFS_PID")
	[ "$(wc -l <"$T")" -eq 200000 ]
	after=$(rchar "$SFS_PID")
	echo "segments $seg bytes, daemon read $((after - before))"
	# every byte was read from the segments (nothing cached yet) ...
	[ $((after - before)) -ge "$seg" ]
	# ... and not much more than once
	[ $((after - before)) -le $((seg * 115 / 100)) ]
}
