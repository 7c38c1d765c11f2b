#!/usr/bin/env bats
# 40-storage.bats - the message log (docs/storage.md): data survives a restart and
# a kill -9, a torn tail is cut at start-up, many segments, checksums.
#
# Layout used here (docs/storage.md, fs/local/segment_batch.c): a topic's segments
# are $TMP/data/<cluster>/<stream>/<topic>/<base offset, 20 digits>.seg, each
# a 32-byte header and then the topic file's bytes from the segment's first
# message on, exactly as readers see them; checksums are per batch (the
# lines of one write()), in the .idx beside it.

load helpers

# error messages and ls order as in the C locale
export LC_ALL=C

teardown() {
	if [[ -n ${WRITER_PID:-} ]]; then
		kill "$WRITER_PID" 2>/dev/null || true
		wait "$WRITER_PID" 2>/dev/null || true
	fi
	sfs_teardown
}

# start: mount (SFS_MOUNT_EXTRA as set by the test) and make stream s.
start() {
	sfs_setup
	S=$M/sanfrancisco/s
	T=$S/t
	TD=$TMP/data/sanfrancisco/s/t
	mkdir "$S"
}

# warns: the number of warn lines in the daemon log so far.
warns() {
	grep -c ' warn: ' "$TMP/streamfs.log" || true
}

# segs: the topic's segment files, in offset order.
segs() {
	ls "$TD"/*.seg | sort
}

# expected N: the messages msg-00001 .. msg-N, 10 bytes a line.
expected() {
	seq -f 'msg-%05g' 1 "$1"
}

# append_each N FROM: append msg-FROM .. msg-(FROM+N-1) to $T, one write()
# per message.
append_each() {
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
for i in range(int(sys.argv[3]), int(sys.argv[3]) + int(sys.argv[2])):
    b = b"msg-%05d\n" % i
    assert os.write(fd, b) == len(b)
os.close(fd)' "$T" "$1" "$2"
}

# flip_byte FILE POS: xor the byte at POS of FILE with 0x01, in place.
flip_byte() {
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
pos = int(sys.argv[2])
b = os.pread(fd, 1, pos)
assert len(b) == 1
os.pwrite(fd, bytes([b[0] ^ 1]), pos)
os.close(fd)' "$1" "$2"
}

@test "data survives a clean stop and restart: contents, sizes and stream UUID unchanged" {
	start
	mkdir "$M/newyork/n"
	printf 'a\nbb\nccc\n' >>"$T"
	printf 'partial' >>"$T"
	echo other >>"$S/u"
	seq 1 1000 >>"$M/newyork/n/x"
	local uuid nuuid
	uuid=$(jq -r .uuid "$S/.info")
	nuuid=$(jq -r .uuid "$M/newyork/n/.info")
	cat "$T" >"$TMP/t.before"
	[ "$(cat "$TMP/t.before")" = $'a\nbb\nccc\npartial' ]
	sfs_stop
	[ "$SFS_STATUS" -eq 0 ]
	sfs_start
	cmp "$TMP/t.before" "$T"
	[ "$(stat -c %s "$T")" -eq 17 ]
	[ "$(cat "$S/u")" = other ]
	[ "$(seq 1 1000)" = "$(cat "$M/newyork/n/x")" ]
	[ "$(jq -r .uuid "$S/.info")" = "$uuid" ]
	[ "$(jq -r .uuid "$M/newyork/n/.info")" = "$nuuid" ]
	[ "$(jq '.topics[] | select(.name == "t") | .messages' "$S/.info")" -eq 4 ]
	# appends continue at the end
	echo d >>"$T"
	[ "$(cat "$T")" = $'a\nbb\nccc\npartial\nd' ]
	# twice in a row, still the same
	sfs_restart
	[ "$(cat "$T")" = $'a\nbb\nccc\npartial\nd' ]
	[ "$(jq -r .uuid "$S/.info")" = "$uuid" ]
}

@test "kill -9 during appends: every acknowledged message is there once, in order" {
	start
	touch "$T"
	# The writer records each line whose append returned success in a
	# file outside the mount, and stops at its first failure.
	(
		for ((i = 1; i <= 200000; i++)); do
			echo "line $i" >>"$T" || exit 0
			echo "line $i" >>"$TMP/acked"
		done
	) 3>&- &
	WRITER_PID=$!
	wait_for -t 20 bash -c '[[ -f $1 && $(wc -l <"$1") -ge 300 ]]' _ "$TMP/acked"
	sfs_kill9
	# the writer fails at its next append and stops
	wait_for -t 10 bash -c '! kill -0 "$1" 2>/dev/null' _ "$WRITER_PID"
	wait "$WRITER_PID" || true
	WRITER_PID=
	sfs_start
	local acked stored
	acked=$(wc -l <"$TMP/acked")
	cat "$T" >"$TMP/stored"
	stored=$(wc -l <"$TMP/stored")
	echo "acknowledged $acked, stored $stored"
	# every acknowledged line, in order, each once: the stored lines are
	# line 1 .. line N, N = acknowledged or (the write in flight when the
	# daemon died) one more
	[ "$stored" -ge "$acked" ]
	[ "$stored" -le $((acked + 1)) ]
	seq -f 'line %g' 1 "$stored" | cmp - "$TMP/stored"
	head -n "$acked" "$TMP/stored" | cmp - "$TMP/acked"
	[ "$(stat -c %s "$T")" -eq "$(wc -c <"$TMP/stored")" ]
	# and the topic takes appends again
	echo after >>"$T"
	[ "$(tail -n 1 "$T")" = after ]
	[ "$(wc -l <"$T")" -eq $((stored + 1)) ]
}

@test "a torn tail is cut at start-up with one warn line; the earlier messages are served" {
	start
	expected 50 >>"$T"
	sfs_stop
	local seg n
	seg=$(segs | tail -n 1)
	# garbage after the last batch, as a crash in the middle of a write
	# could leave (its data written, its index entry not)
	printf '\x13\x37\x00\x00\x05\x00\x00\x00garbage-garbage' >>"$seg"
	n=$(warns)
	sfs_start
	[ "$(warns)" -eq $((n + 1)) ]
	# it says which segment was cut
	grep ' warn: ' "$TMP/streamfs.log" | tail -n 1 | grep -F "$(basename "$seg")"
	cmp <(expected 50) "$T"
	[ "$(stat -c %s "$T")" -eq 500 ]
	# the cut is for good: no warning at the next start, appends continue
	echo after >>"$T"
	n=$(warns)
	sfs_restart
	[ "$(warns)" -eq "$n" ]
	[ "$(wc -l <"$T")" -eq 51 ]
	[ "$(tail -n 1 "$T")" = after ]

	# a torn last batch (its end missing): that batch is cut, the ones
	# before it are served
	sfs_stop
	seg=$(segs | tail -n 1)
	truncate -s -3 "$seg"
	n=$(warns)
	sfs_start
	[ "$(warns)" -eq $((n + 1)) ]
	cmp <(expected 50) "$T"
	[ "$(jq '.topics[0].messages' "$S/.info")" -eq 50 ]
}

@test "segment_bytes = 4K: 5000 messages span many segments, read back right, also after a restart" {
	SFS_MOUNT_EXTRA="segment_bytes = 4K"
	start
	append_each 5000 1
	local n
	n=$(segs | wc -l)
	echo "$n segments"
	[ "$n" -ge 12 ]
	# no segment much larger than segment_bytes
	! find "$TD" -name '*.seg' -size +8k | grep . || false
	expected 5000 >"$TMP/expect"
	cmp "$TMP/expect" "$T"
	[ "$(stat -c %s "$T")" -eq 50000 ]
	[ "$(wc -l <"$T")" -eq 5000 ]
	# reads in the middle, across segment boundaries
	local off
	for off in 0 9 4096 12345 33333 49990; do
		cmp <(dd if="$TMP/expect" bs=1 skip="$off" count=100 status=none) \
			<(dd if="$T" bs=1 skip="$off" count=100 status=none)
	done
	[ "$(dd if="$T" bs=10 skip=2500 count=3 status=none)" = $'msg-02501\nmsg-02502\nmsg-02503' ]
	sfs_restart
	cmp "$TMP/expect" "$T"
	[ "$(dd if="$T" bs=10 skip=4321 count=2 status=none)" = $'msg-04322\nmsg-04323' ]
	[ "$(jq '.topics[0].messages' "$S/.info")" -eq 5000 ]
	# appends continue after the restart, in a new or the last segment
	append_each 10 5001
	cmp <(expected 5010) "$T"
	[ "$(tail -n 1 "$T")" = msg-05010 ]
}

@test "a flipped byte in a stored record: reads of that region fail with EIO, never garbage" {
	SFS_MOUNT_EXTRA="segment_bytes = 4K"
	start
	append_each 5000 1
	expected 5000 >"$TMP/expect"
	cmp "$TMP/expect" "$T"
	sfs_stop
	# a segment in the middle; its first record is message number base
	# (0-based), at byte 10 * base of the topic
	local seg base later
	seg=$(segs | sed -n 5p)
	later=$(segs | sed -n 10p)
	base=$((10#$(basename "$seg" .seg)))
	later=$((10#$(basename "$later" .seg)))
	echo "segment $seg, base offset $base"
	[ "$base" -gt 0 ]
	# a byte of the segment's first message: 32 (segment header) + 3
	flip_byte "$seg" 35
	sfs_start
	# reading the whole topic fails, with EIO, after the good bytes only
	run bash -c 'cat "$1" >"$2"' _ "$T" "$TMP/got"
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	[ "$(stat -c %s "$TMP/got")" -le $((10 * base)) ]
	cmp "$TMP/got" <(head -c "$(stat -c %s "$TMP/got")" "$TMP/expect")
	# reading exactly that message fails
	run dd if="$T" bs=10 skip="$base" count=1 status=none
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	! grep -q "$(printf 'msg-%05d' $((base + 1)))" <<<"$output" || false
	# the messages before it are served
	cmp <(head -c $((10 * base)) "$T") <(head -c $((10 * base)) "$TMP/expect")
	# and those of a later segment too
	[ "$(dd if="$T" bs=10 skip="$later" count=2 status=none)" = \
		"$(printf 'msg-%05d\nmsg-%05d' $((later + 1)) $((later + 2)))" ]
	[ "$(tail -n 1 "$T")" = msg-05000 ]
	# st_size is unchanged
	[ "$(stat -c %s "$T")" -eq 50000 ]
}

@test "a byte flipped under the running daemon, before it first serves it: the read fails with EIO" {
	# A daemon checks each batch before it first serves it (and counts what
	# it appended itself as checked): docs/storage.md.
	start
	append_each 20 1
	sfs_restart
	local seg
	seg=$(segs | tail -n 1)
	# message 10 (0-based), a batch of its own: 32 + 10 lines of 10 bytes
	flip_byte "$seg" $((32 + 10 * 10 + 5))
	run cat "$T"
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	! grep -q 'msg-00011' <<<"$output" || false
	[ "$(head -n 10 "$T")" = "$(expected 10)" ]
	# put it back: served again (a damage is not remembered)
	flip_byte "$seg" $((32 + 10 * 10 + 5))
	cmp <(expected 20) "$T"
}

@test "a flipped byte in the last segment, then a restart: still EIO there, the messages after it kept" {
	# Only a torn tail may be cut at start-up (docs/storage.md); a damaged record
	# followed by good ones is not a torn tail: cutting there would drop
	# acknowledged messages and shrink st_size, which only ever grows (docs/filesystem.md).
	start
	append_each 20 1	# a batch per message
	sfs_stop
	local seg
	seg=$(segs | tail -n 1)
	flip_byte "$seg" $((32 + 10 * 10 + 5))	# message 10 (0-based)
	sfs_start
	[ "$(stat -c %s "$T")" -eq 200 ]
	run cat "$T"
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	[ "$(head -n 10 "$T")" = "$(expected 10)" ]
	[ "$(dd if="$T" bs=10 skip=11 count=9 status=none)" = "$(expected 20 | tail -n 9)" ]
}
