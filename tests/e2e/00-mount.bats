#!/usr/bin/env bats
# 00-mount.bats - the daemon mounts, shows its clusters, unmounts cleanly,
# and refuses a bad mount.conf with one line naming file and line (DESIGN §1).

load helpers

teardown() {
	sfs_teardown
}

@test "mount lists the local clusters and unmounts cleanly" {
	sfs_setup
	run ls "$M"
	[ "$status" -eq 0 ]
	[ "$output" = $'newyork\nsanfrancisco' ]
	sfs_stop
	[ "$SFS_STATUS" -eq 0 ]
	is_unmounted "$M"
}

@test "the clusters given to sfs_setup are the ones shown" {
	sfs_setup paris
	run ls "$M"
	[ "$status" -eq 0 ]
	[ "$output" = "paris" ]
}

@test "an unknown key: one line naming file and line, exit non-zero, nothing mounted" {
	sfs_mktemp
	cat >"$TMP/bad.conf" <<-CONF
	[mount]
	mountpoint = $M
	[cluster sanfrancisco]
	data = $TMP/data/sanfrancisco
	colour = blue
	CONF
	run timeout 10 "$STREAMFS" -c "$TMP/bad.conf" -f "$M"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]	# not the timeout: it must exit by itself
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"bad.conf:5"* ]]
	[[ "$output" == *"colour"* ]]
	is_unmounted "$M"
	# nothing written: the data directory was not created
	[ ! -e "$TMP/data/sanfrancisco" ]
}
