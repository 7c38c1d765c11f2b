#!/usr/bin/env bats
# 00-mount.bats - the daemon mounts, shows its clusters, unmounts cleanly,
# and refuses a bad mount.conf with one line naming file and line (docs/configuration.md).

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

@test "a missing mountpoint: one line naming it, exit non-zero, nothing written" {
	sfs_mktemp
	sfs_write_conf sanfrancisco
	run timeout 10 "$STREAMFS" -c "$TMP/mount.conf" -f "$TMP/no-such-dir"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"no-such-dir"* ]]
	[ ! -e "$TMP/data/sanfrancisco" ]
}

@test "a busy mountpoint: the second daemon says so and exits non-zero; the first keeps serving" {
	sfs_setup
	mkdir "$M/sanfrancisco/s"
	echo kept >>"$M/sanfrancisco/s/t"
	mkdir -p "$TMP/other"
	printf '[mount]\nmountpoint = %s\n[cluster x]\ndata = %s/other/x\n' "$M" "$TMP" >"$TMP/second.conf"
	run timeout 10 "$STREAMFS" -c "$TMP/second.conf" -f
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"busy"* ]]
	[ ! -e "$TMP/other/x" ]
	[ "$(cat "$M/sanfrancisco/s/t")" = kept ]
}

@test "a busy mountpoint whose path holds a space is reported busy too (the mount table escapes it)" {
	sfs_mktemp
	M="$TMP/mount point"
	mkdir "$M"
	sfs_write_conf sanfrancisco
	sfs_start
	printf '[mount]\nmountpoint = %s\n[cluster x]\ndata = %s/other/x\n' "$M" "$TMP" >"$TMP/second.conf"
	run timeout 10 "$STREAMFS" -c "$TMP/second.conf" -f
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[[ "$output" == *"busy"* ]]
	[ ! -e "$TMP/other/x" ]
	is_mounted "$M"
}

@test "a log file that is a symlink is refused at start-up: one line, nothing mounted" {
	sfs_mktemp
	sfs_write_conf sanfrancisco
	: >"$TMP/real.log"
	ln -s "$TMP/real.log" "$TMP/link.log"
	run timeout 10 "$STREAMFS" -c "$TMP/mount.conf" -f -l "$TMP/link.log" "$M"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"link.log"* ]]
	[ ! -s "$TMP/real.log" ]
	is_unmounted "$M"
}

@test "a data directory that cannot be created: one line naming the cluster, nothing mounted" {
	sfs_mktemp
	echo "a file" >"$TMP/data/blocker"
	printf '[mount]\nmountpoint = %s\n[cluster sanfrancisco]\ndata = %s/data/blocker/sf\n' "$M" "$TMP" >"$TMP/bad.conf"
	run timeout 10 "$STREAMFS" -c "$TMP/bad.conf" -f
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"sanfrancisco"* ]]
	[[ "$output" == *"bad.conf"* ]]
	is_unmounted "$M"
}

@test "a second daemon on the same data directory is refused" {
	sfs_setup sanfrancisco
	mkdir -p "$TMP/mnt2"
	printf '[mount]\nmountpoint = %s/mnt2\n[cluster sanfrancisco]\ndata = %s/data/sanfrancisco\n' "$TMP" "$TMP" >"$TMP/second.conf"
	run timeout 10 "$STREAMFS" -c "$TMP/second.conf" -f
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"in use"* ]]
	is_unmounted "$TMP/mnt2"
}

@test "a duplicate cluster name: one line naming file and line" {
	sfs_mktemp
	printf '[mount]\nmountpoint = %s\n[cluster a]\ndata = %s/data/a\n[cluster a]\ndata = %s/data/b\n' "$M" "$TMP" "$TMP" >"$TMP/dup.conf"
	run timeout 10 "$STREAMFS" -c "$TMP/dup.conf" -f
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"dup.conf:5"* ]]
	is_unmounted "$M"
	[ ! -e "$TMP/data/a" ]
}

@test "a data directory others could change is refused (StrictModes): a world-writable parent, another user's symlink, another user's directory" {
	[[ $EUID -eq 0 ]] || skip "needs root (chown)"
	sfs_mktemp
	local conf=$TMP/bad.conf
	try() { # try DATA: start on DATA, expect one line with REASON, nothing mounted or made
		printf '[mount]\nmountpoint = %s\n[cluster sanfrancisco]\ndata = %s\n' "$M" "$1" >"$conf"
		run timeout 10 "$STREAMFS" -c "$conf" -f
		echo "$output"
		[ "$status" -ne 0 ]
		[ "$status" -ne 124 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ $output == *"data directory $1 is not safe: "*"$2"* ]]
		is_unmounted "$M"
		[ ! -e "$1" ]
	}
	mkdir -m 0777 "$TMP/open"
	try "$TMP/open/sf" "$TMP/open is writable by others (mode 0777) without the sticky bit"
	mkdir -m 0775 "$TMP/grp"
	try "$TMP/grp/sf" "writable by its group"
	mkdir "$TMP/real"
	ln -s "$TMP/real" "$TMP/link"
	chown -h 65534 "$TMP/link"
	try "$TMP/link/sf" "$TMP/link is a symlink owned by uid 65534"
	mkdir "$TMP/theirs"
	chown 65534 "$TMP/theirs"
	try "$TMP/theirs/sf" "$TMP/theirs is owned by uid 65534"
	# sticky and world-writable (as /tmp) is fine, and so is root's symlink
	mkdir -m 1777 "$TMP/sticky"
	ln -s "$TMP/sticky" "$TMP/ours"
	printf '[mount]\nmountpoint = %s\n[cluster sanfrancisco]\ndata = %s/ours/sf\n' "$M" "$TMP" >"$TMP/mount.conf"
	sfs_start
	[ "$(ls "$M")" = sanfrancisco ]
}
