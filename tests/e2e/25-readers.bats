#!/usr/bin/env bats
# 25-readers.bats - readers never see bytes that are not there: followers
# (what `tail -f` does), real `tail -n +1 -f`, and `cat` loops on a topic
# while writers append to it, locally and through replication, multi-master
# included (docs/filesystem.md, "Reading"; tests/readers/rw_check.py).
#
# Before topics were read with direct_io, these readers saw whole messages
# as NUL bytes within seconds: the kernel's page cache served the zeros
# after the old end of the last cached page once the size had grown. The
# long version of this test is `make soak-readers` (minutes).

load helpers
load replication_helpers

RW_CHECK="$STREAMFS_SRC/tests/readers/rw_check.py"
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

@test "two masters write one topic; readers on both sides: no NUL byte, each origin's lines once, in order" {
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
