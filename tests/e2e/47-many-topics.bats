#!/usr/bin/env bats
# 47-many-topics.bats - a topic's segment files are open only while it is
# in use (a descriptor budget closes those of the topics opened longest
# ago), so there can be more topics than file descriptors; a topic that
# could not be loaded would vanish from the namespace. With that many
# topics, .info is big: what open control files hold is bounded per user.

load helpers

setup() {
	sfs_mktemp
	sfs_write_conf sanfrancisco
	# Both limits, so the daemon cannot raise its own.
	ulimit -n 600
	sfs_start
}

teardown() {
	sfs_teardown
}

@test "1,000 topics with a descriptor limit of 600: created, kept across a restart, all served" {
	local S=$M/sanfrancisco/s i
	mkdir "$S"
	for ((i = 1; i <= 1000; i++)); do
		echo "m$i" >>"$S/t$i"
	done
	[ "$(ls "$S" | wc -l)" -eq 1000 ]
	sfs_stop
	sfs_start
	[ "$(ls "$S" | wc -l)" -eq 1000 ]
	# Each topic read whole, in one process (a cat each cost 2,000 forks,
	# most of this case's time on a loaded host).
	run python3 -c '
import sys
bad = [i for i in range(1, 1001)
       if open("%s/t%d" % (sys.argv[1], i), "rb").read() != b"m%d\n" % i]
print("wrong:", bad[:10] if bad else "none")' "$S"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "wrong: none" ]
	echo more >>"$S/t1000"
	[ "$(wc -l <"$S/t1000")" -eq 2 ]
	! grep -q "cannot be loaded" "$TMP/streamfs.log"
	# What open control files hold for readers is bounded per user: the
	# .info of 1,000 topics is about 130 KB, rendered at each open, so
	# nobody's opens pass its 16 MiB before 400; root's still work.
	[[ $EUID -eq 0 ]] || return 0
	chmod 0755 "$TMP"
	run setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import errno, os, sys
fds, res = [], "no refusal"
for i in range(400):
    try:
        fds.append(os.open(sys.argv[1], os.O_RDONLY))
    except OSError as e:
        res = ("ENOBUFS after %d" % len(fds)) if e.errno == errno.ENOBUFS else e.strerror
        break
print(res)' "$S/.info"
	echo "$output"
	[[ $output == "ENOBUFS after "* ]]
	grep -q 'would hold more than .* bytes for reading' "$TMP/streamfs.log"
	grep -q '"numtopics": 1000' "$S/.info"
}
