#!/usr/bin/env bats
# 58-pinned.bats - replication never widens access (docs/security.md): a
# replica is pinned to the stream it was set up with, so a stream made
# again under its name, by anyone, gets nothing until .replicas names it
# again; topics made by replication belong to the replica stream's owner
# and never carry setuid/setgid.

load helpers
load replication_helpers

setup() {
	sfs_setup
	S=$M/sanfrancisco/s
	R=$M/newyork/r
	mkdir "$S" "$R"
}

teardown() {
	sfs_teardown
}

# as_nobody CMD...: run CMD as user nobody (65534:65534, no other groups).
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

@test "a replica stream removed and made again by another user gets nothing, mode-600 topics included, until .replicas names it again" {
	[[ $EUID -eq 0 ]] || skip "needs root (setpriv, other users)"
	chmod 0755 "$TMP"
	echo secret >>"$S/private"
	chmod 0600 "$S/private"
	echo hello >>"$S/public"
	replicate sanfrancisco/s newyork/r
	wait_count "$R/private" 1
	wait_count "$R/public" 1
	[ "$(stat -c %a "$R/private")" = 600 ]
	# the replica goes; anyone may make streams in newyork
	rm "$R/private" "$R/public"
	rmdir "$R"
	chmod 0777 "$M/newyork"
	as_nobody mkdir "$R"
	as_nobody sh -c 'echo /mapr/sanfrancisco/s >>"$1"' sh "$R/.upstreams"
	echo more >>"$S/private"
	repl_quiet sanfrancisco/s
	[ -z "$(ls "$R")" ]
	[[ $(jq -r '.replicas[0].lastError' "$S/.info") == *"not the stream this replica was set up with"* ]]
	[ "$(jq -r '.replicas[0].replicaState' "$S/.info")" = REPLICA_STATE_UNEXPECTED ]
	# a restart does not forget the pin
	sfs_restart
	repl_quiet sanfrancisco/s
	[ -z "$(ls "$R")" ]
	# the source's owner names it again: everything goes, owned by the
	# replica stream's owner (nobody), modes kept
	echo /mapr/newyork/r >>"$S/.replicas"
	wait_count "$R/private" 2
	[ "$(stat -c '%u %a' "$R/private")" = "65534 600" ]
	wait_for grep -q 'state=REPLICATING pending=0 uptodate=true' "$S/.replicas"
}

@test "topics made by replication: the replica stream's owner and group, the source's mode without setuid, setgid or sticky" {
	[[ $EUID -eq 0 ]] || skip "needs root (chown)"
	chown 1234:5678 "$R"
	echo a >>"$S/t"
	chmod 06775 "$S/t"
	chown 42:43 "$S/t"
	replicate sanfrancisco/s newyork/r
	wait_count "$R/t" 1
	[ "$(stat -c '%u:%g %a' "$R/t")" = "1234:5678 775" ]
	# a topic that exists on the replica keeps its own owner and mode
	: >"$R/u"
	chmod 0600 "$R/u"
	echo b >>"$S/u"
	chmod 0666 "$S/u"
	wait_count "$R/u" 1
	[ "$(stat -c '%u:%g %a' "$R/u")" = "0:0 600" ]
	# writing back what was read keeps the pin (a replace, not a naming)
	cat "$S/.replicas" >"$TMP/saved"
	cat "$TMP/saved" >"$S/.replicas"
	grep -q '^/mapr/newyork/r synchronous=false paused=false' "$S/.replicas"
}
