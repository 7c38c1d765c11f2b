#!/usr/bin/env bats
# 25-readers.bats - readers never see bytes that are not there: followers
# (what `tail -f` does), real `tail -n +1 -f`, and `cat` loops on a topic
# while writers append to it, locally and through replication, multi-master
# included (docs/filesystem.md, "Reading"; tests/readers/rw_check.py), and
# readers at random positions checked byte by byte against what each
# position holds (tests/readers/position_check.py).
#
# Before topics were read with direct_io, these readers saw whole messages
# as NUL bytes within seconds: the kernel's page cache served the zeros
# after the old end of the last cached page once the size had grown. The
# long version of this test is `make soak-readers` (minutes).

load helpers
load replication_helpers

RW_CHECK="$STREAMFS_SRC/tests/readers/rw_check.py"
POS_CHECK="$STREAMFS_SRC/tests/readers/position_check.py"
# Seconds of writing per case; the soak target sets more.
RW_SECONDS=${RW_SECONDS:-12}

teardown() {
	repl_teardown
}

@test "a writer, followers, tail -f and cat loops on one topic: no NUL byte, every line once, in order" {
	sfs_setup sanfrancisco
	mkdir "$M/sanfrancisco/s"
	: >"$M/sanfrancisco/s/t"
	run python3 "$RW_CHECK" --write "$M/sanfrancisco/s/t" --read "$M/sanfrancisco/s/t" \
		--seconds "$RW_SECONDS" --followers 2 --tails 2 --rereaders 2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"no NUL byte anywhere"* ]]
	# what the readers saw is what is stored: every line of the writer
	local n
	n=$(wc -l <"$M/sanfrancisco/s/t")
	[ "$n" -gt 0 ]
	[ "$(grep -c '^w0-' "$M/sanfrancisco/s/t")" -eq "$n" ]
	[ "$(tr -cd '\000' <"$M/sanfrancisco/s/t" | wc -c)" -eq 0 ]
}

# two_masters: sanfrancisco/s and newyork/s replicate to each other, a
# writer on each writes one topic (writes of 10 lines), followers, tail -f
# and cat loops read it on both sides (rw_check.py): no NUL byte, each
# origin's lines once and in order, both sides the same union.
two_masters() {
	# On NATS, a writer on a topic that replication also appends to may
	# lose several races for its place in a row (expected last subject
	# sequence): on a loaded host one append once took over the 5 s
	# default, failing the writer with EIO (twice in full runs). What
	# this case checks is what readers see, so the writers get 20 s.
	SFS_NATS_EXTRA=${SFS_NATS_EXTRA:-"nats_timeout_ms = 20000"}
	sfs_setup sanfrancisco newyork
	S=$M/sanfrancisco/s R=$M/newyork/s
	mkdir "$S" "$R"
	replicate sanfrancisco/s newyork/s
	replicate newyork/s sanfrancisco/s
	: >"$S/t"
	wait_for test -e "$R/t"
	# several writes of 10 lines each, a writer on each master; readers on
	# both sides see both writers' lines, half of them replicated
	run python3 "$RW_CHECK" --write "$S/t,$R/t" --read "$S/t,$R/t" \
		--seconds "$RW_SECONDS" --lines 20 --lines-per-write 10 \
		--followers 1 --tails 1 --rereaders 1 --settle 20
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"no NUL byte anywhere"* ]]
	# both sides hold the same union (each in its own order)
	diff <(sort "$S/t") <(sort "$R/t")
	[ "$(sort "$S/t" | uniq -d | wc -l)" -eq 0 ]
}

@test "two masters write one topic; readers on both sides: no NUL byte, each origin's lines once, in order" {
	two_masters
}

@test "-o max_read=4096 (every read cut into 4 KiB requests): two masters, writers and readers on both sides at once: no NUL byte, no torn or invented line, each origin's lines once, in order" {
	SFS_FUSE_OPTS=max_read=4096
	two_masters
	awk -v m="$M" '$2 == m' /proc/mounts | grep -q 'max_read=4096'
}

@test "160 readers of one user past its read-ahead bound while a writer appends and replication copies: every reader sees exactly the stored bytes" {
	sfs_setup sanfrancisco newyork
	S=$M/sanfrancisco/s R=$M/newyork/r
	mkdir "$S" "$R"
	replicate sanfrancisco/s newyork/r
	# 4 MB of numbered lines, then 160 descriptors each reading 128 KiB:
	# about 20 MiB of read-ahead wanted, past the user's 16 MiB, so the
	# later readers go on without it (fs/openfile.c)
	python3 -c '
import sys
with open(sys.argv[1], "ab") as f:
    for k in range(0, 300000, 1000):
        f.write(b"".join(b"line-%07d\n" % i for i in range(k, k + 1000)))' "$S/t"
	run timeout 120 python3 - "$S/t" "$R/t" <<'PY'
import os, sys, threading
src, rep = sys.argv[1], sys.argv[2]
def expect(n):
    return b"".join(b"line-%07d\n" % i for i in range(n))
fds = [os.open(src, os.O_RDONLY) for _ in range(160)]
got = [os.read(fd, 131072) for fd in fds]
def writer():
    with open(src, "ab", buffering=0) as f:
        for k in range(300000, 320000, 500):
            f.write(b"".join(b"line-%07d\n" % i for i in range(k, k + 500)))
w = threading.Thread(target=writer)
w.start()
def drain(i):
    while True:
        b = os.read(fds[i], 131072)
        if not b:
            break
        got[i] += b
# read while the writer appends, then to the end once it is done
for rnd in range(3):
    for i in range(len(fds)):
        drain(i)
w.join()
for i in range(len(fds)):
    drain(i)
full = expect(320000)
bad = [i for i, g in enumerate(got) if g != full]
for fd in fds:
    os.close(fd)
if bad:
    i = bad[0]
    g = got[i]
    at = next((k for k in range(min(len(g), len(full))) if g[k] != full[k]), min(len(g), len(full)))
    print("reader %d: %d bytes, first difference at %d: %r" % (i, len(g), at, g[at:at + 20]))
    sys.exit(1)
print("160 readers: every byte as stored")
PY
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"every byte as stored"* ]]
	# and replication copied the same bytes meanwhile
	wait_count "$R/t" 320000 60
	cmp "$S/t" "$R/t"
}

@test "after a restart (no batch checked yet): readers at random positions, sequential readers, a writer and the initial copy at once see exactly the stored bytes" {
	# Reads of batches not yet checked go through segment_check, under the
	# topic's lock shared with the other readers, while appends take it
	# exclusively (fs/local/logtopic_read.c, docs/storage.md "Checks").
	SFS_MOUNT_EXTRA="segment_bytes = 1M"
	sfs_setup sanfrancisco newyork
	S=$M/sanfrancisco/s R=$M/newyork/r
	mkdir "$S" "$R"
	python3 -c '
import sys
with open(sys.argv[1], "ab") as f:
    for k in range(0, 300000, 1000):
        f.write(b"".join(b"line-%07d\n" % i for i in range(k, k + 1000)))' "$S/t"
	sfs_restart
	replicate sanfrancisco/s newyork/r
	run timeout 120 python3 "$POS_CHECK" --from 300000 --to 320000 --per-write 500 \
		--random 6 --reads 300 --sequential 3 "$S/t"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"every read as stored"* ]]
	cmp <(python3 -c 'import sys; sys.stdout.buffer.write(b"".join(b"line-%07d\n" % i for i in range(320000)))') "$S/t"
	wait_count "$R/t" 320000 60
	cmp "$S/t" "$R/t"
}

@test "64 KiB writes to two topics (a NATS home keeps each chunk in 4 KiB blocks of a cache smaller than the data), readers at random positions, sequential readers and replication at once: every read as stored" {
	# On a NATS home a chunk of 16 KiB or more is cached in blocks of the
	# cache's pool (fs/nats/natscache.c); nats_cache of 16 MiB for 2 x 9.8
	# MB written evicts blocks while writers, readers and replication reuse
	# them. Each byte is a function of its position, so a torn, stale or
	# misplaced copy shows. On a local home: the same writes and reads.
	SFS_NATS_EXTRA="nats_cache = 16M"
	sfs_setup sanfrancisco newyork
	S=$M/sanfrancisco/s R=$M/newyork/r
	mkdir "$S" "$R"
	: >"$S/t1"
	: >"$S/t2"
	replicate sanfrancisco/s newyork/r
	# 5,041 lines of 13 bytes: 65,533 bytes, a 64 KiB write's whole lines
	run timeout 180 python3 "$POS_CHECK" --from 0 --to $((5041 * 150)) --per-write 5041 \
		--random 2 --reads 50 --sequential 1 "$S/t1" "$S/t2"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"every read as stored"* ]]
	want() { python3 -c 'import sys; sys.stdout.buffer.write(b"".join(b"line-%07d\n" % i for i in range(5041 * 150)))'; }
	cmp <(want) "$S/t1"
	cmp <(want) "$S/t2"
	wait_count "$R/t1" $((5041 * 150)) 90
	wait_count "$R/t2" $((5041 * 150)) 90
	cmp "$S/t1" "$R/t1"
	cmp "$S/t2" "$R/t2"
}

@test "lines that only the close finishes, with readers and replication at once: each is readable as soon as close() returns, whole, once" {
	sfs_setup sanfrancisco newyork
	S=$M/sanfrancisco/s R=$M/newyork/s
	mkdir "$S" "$R"
	replicate sanfrancisco/s newyork/s
	: >"$S/t"
	wait_for test -e "$R/t"
	# readers: cat loops on both sides record any line that is not a
	# whole "pW-I" (torn, NUL, invented)
	local pids=() w r
	for r in "$S/t" "$R/t"; do
		(while [[ ! -e $TMP/stop ]]; do
			cat "$r" | grep -av '^p[12]-[0-9]*$' >>"$TMP/bad" || true
		done) &
		pids+=($!)
	done
	REPL_BG+=("${pids[@]}")
	# writers: each line one write(2) without '\n', finished by the close
	# (the release stores it); a read right after the close must see it
	local wp=()
	for w in 1 2; do
		(for ((i = 1; i <= 150; i++)); do
			printf "p$w-$i" >>"$S/t" || exit 1
			grep -qx "p$w-$i" "$S/t" || { echo "p$w-$i missing right after its close" >&2; exit 1; }
		done) &
		wp+=($!)
	done
	REPL_BG+=("${wp[@]}")
	for w in "${wp[@]}"; do
		wait "$w"
	done
	touch "$TMP/stop"
	for r in "${pids[@]}"; do
		wait "$r" || true
	done
	[ ! -s "$TMP/bad" ]
	[ "$(wc -l <"$S/t")" -eq 300 ]
	[ "$(sort "$S/t" | uniq -d | wc -l)" -eq 0 ]
	wait_for -t 30 bash -c "[ \$(wc -l <'$R/t') -eq 300 ]"
	diff <(sort "$S/t") <(sort "$R/t")
}
