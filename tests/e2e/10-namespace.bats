#!/usr/bin/env bats
# 10-namespace.bats - the namespace (docs/filesystem.md): clusters, streams and topics
# as directories and files, the naming rule, the dot files, what is refused,
# and owner/group/mode kept across restarts and enforced by the kernel.

load helpers

# error messages and ls order as in the C locale
export LC_ALL=C

setup() {
	sfs_setup
	C=$M/sanfrancisco
	S=$C/s
}

teardown() {
	sfs_teardown
}

# as_nobody CMD...: run CMD as user nobody (65534:65534, no other groups).
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# A name of N times 'a'.
long_name() {
	printf 'a%.0s' $(seq 1 "$1")
}

@test "ls of the mount lists the clusters; ls of a cluster lists its streams" {
	run ls "$M"
	[ "$status" -eq 0 ]
	[ "$output" = $'newyork\nsanfrancisco' ]
	run ls "$C"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	mkdir "$C/b" "$C/a" "$M/newyork/c"
	run ls "$C"
	[ "$output" = $'a\nb' ]
	run ls "$M/newyork"
	[ "$output" = "c" ]
	[ "$(stat -c %F "$C/a")" = "directory" ]
}

@test "mkdir creates a stream, rmdir deletes an empty one" {
	mkdir "$S"
	[ -d "$S" ]
	run ls "$C"
	[ "$output" = "s" ]
	rmdir "$S"
	[ ! -e "$S" ]
	run ls "$C"
	[ "$output" = "" ]
	# mkdir of an existing stream: EEXIST
	mkdir "$S"
	run mkdir "$S"
	[ "$status" -ne 0 ]
	[[ $output == *"File exists"* ]]
	# recreated after rmdir: a new, empty stream
	echo one >>"$S/t"
	rm "$S/t"
	rmdir "$S"
	mkdir "$S"
	run ls "$S"
	[ "$output" = "" ]
}

@test "rmdir of a stream with topics: ENOTEMPTY, nothing removed" {
	mkdir "$S"
	echo hello >>"$S/t"
	run rmdir "$S"
	[ "$status" -ne 0 ]
	[[ $output == *"Directory not empty"* ]]
	[ -d "$S" ]
	[ "$(cat "$S/t")" = "hello" ]
	# once its topics are gone it can be removed
	rm "$S/t"
	rmdir "$S"
	[ ! -e "$S" ]
}

@test "invalid stream names: EINVAL, nothing created (also after a restart)" {
	local name
	for name in ".x" "a b" "é" "a:b" "*" "-"$'\t'; do
		run mkdir "$C/$name"
		echo "mkdir '$name': status $status: $output"
		[ "$status" -ne 0 ]
		[[ $output == *"Invalid argument"* ]]
	done
	# ('a/b' cannot be a name: '/' separates path components, so
	# mkdir "$C/a/b" is a mkdir inside a non-existent stream a.)
	run mkdir "$C/a/b"
	[ "$status" -ne 0 ]
	[ ! -e "$C/a" ]
	run ls -a "$C"
	[ "$output" = $'.\n..' ]
	sfs_restart
	run ls -a "$C"
	[ "$output" = $'.\n..' ]
	# the limits themselves are fine: 255 characters, all allowed ones
	mkdir "$C/$(long_name 255)" "$C/A-z_0.9"
	run ls "$C"
	[ "$output" = "$(long_name 255)"$'\nA-z_0.9' ] ||
		[ "$output" = $'A-z_0.9\n'"$(long_name 255)" ]
}

@test "invalid topic names: EINVAL by touch, by create and by append, nothing created" {
	mkdir "$S"
	local name
	for name in ".x" "a b" "é" "a:b" "*"; do
		run touch "$S/$name"
		echo "touch '$name': status $status: $output"
		[ "$status" -ne 0 ]
		[[ $output == *"Invalid argument"* ]]
		run bash -c 'echo hi >>"$1"' _ "$S/$name"
		echo "append '$name': status $status: $output"
		[ "$status" -ne 0 ]
		[[ $output == *"Invalid argument"* ]]
	done
	run ls -a "$S"
	[ "$output" = $'.\n..\n.info\n.replicas\n.upstreams' ]
	# 255 characters is a good name
	echo ok >>"$S/$(long_name 255)"
	[ "$(cat "$S/$(long_name 255)")" = "ok" ]
}

@test "names of 256 characters: EINVAL for streams and topics, nothing created" {
	# docs/filesystem.md: 1-255 characters; anything else EINVAL (the kernel lets
	# FUSE names up to 1024 bytes through, so this is the daemon's answer).
	run mkdir "$C/$(long_name 256)"
	echo "mkdir: status $status: $output"
	[ "$status" -ne 0 ]
	[[ $output == *"Invalid argument"* ]]
	mkdir "$S"
	run touch "$S/$(long_name 256)"
	echo "touch: status $status: $output"
	[ "$status" -ne 0 ]
	[[ $output == *"Invalid argument"* ]]
	run ls "$C"
	[ "$output" = "s" ]
	run ls "$S"
	[ "$output" = "" ]
}

@test "a topic is created by touch, by ': >>', by ': >' and by the first append" {
	mkdir "$S"
	touch "$S/t1"
	: >>"$S/t2"
	: >"$S/t3"
	echo first >>"$S/t4"
	run ls "$S"
	[ "$output" = $'t1\nt2\nt3\nt4' ]
	[ "$(stat -c '%F %s' "$S/t1")" = "regular empty file 0" ]
	[ "$(stat -c '%F %s' "$S/t2")" = "regular empty file 0" ]
	[ "$(stat -c '%F %s' "$S/t3")" = "regular empty file 0" ]
	[ "$(stat -c '%F %s' "$S/t4")" = "regular file 6" ]
	[ "$(cat "$S/t4")" = "first" ]
	# touch of an existing topic changes nothing
	touch "$S/t4"
	[ "$(cat "$S/t4")" = "first" ]
	# kept across a restart
	sfs_restart
	run ls "$S"
	[ "$output" = $'t1\nt2\nt3\nt4' ]
	[ "$(cat "$S/t4")" = "first" ]
}

@test "rm deletes a topic; a new topic of the same name starts empty" {
	mkdir "$S"
	printf 'a\nb\n' >>"$S/t"
	echo keep >>"$S/u"
	rm "$S/t"
	[ ! -e "$S/t" ]
	run cat "$S/t"
	[ "$status" -ne 0 ]
	[[ $output == *"No such file or directory"* ]]
	run ls "$S"
	[ "$output" = "u" ]
	touch "$S/t"
	[ "$(stat -c %s "$S/t")" = 0 ]
	[ "$(cat "$S/t")" = "" ]
	sfs_restart
	run ls "$S"
	[ "$output" = $'t\nu' ]
	[ "$(stat -c %s "$S/t")" = 0 ]
	[ "$(cat "$S/u")" = "keep" ]
}

@test "ls -a of a stream shows .replicas .upstreams .info; ls hides them" {
	mkdir "$S"
	echo x >>"$S/t"
	run ls -a "$S"
	[ "$status" -eq 0 ]
	[ "$output" = $'.\n..\n.info\n.replicas\n.upstreams\nt' ]
	run ls "$S"
	[ "$output" = "t" ]
	[ -f "$S/.replicas" ]
	[ -f "$S/.upstreams" ]
	[ -f "$S/.info" ]
	# control files cannot be removed
	run rm -f "$S/.replicas"
	[ "$status" -ne 0 ]
	[ -f "$S/.replicas" ]
}

@test "mkdir at the wrong level is refused, nothing created" {
	mkdir "$S"
	run mkdir "$M/x"		# a cluster cannot be made
	[ "$status" -ne 0 ]
	[ ! -e "$M/x" ]
	run mkdir "$S/x"		# nor a directory inside a stream
	[ "$status" -ne 0 ]
	[ ! -e "$S/x" ]
	run mkdir "$M/nocluster/s"	# nor a stream of an unknown cluster
	[ "$status" -ne 0 ]
	run ls "$M"
	[ "$output" = $'newyork\nsanfrancisco' ]
	run ls -a "$S"
	[ "$output" = $'.\n..\n.info\n.replicas\n.upstreams' ]
	# nor a regular file directly in a cluster or at the root
	run touch "$C/f"
	[ "$status" -ne 0 ]
	run touch "$M/f"
	[ "$status" -ne 0 ]
	run ls "$C"
	[ "$output" = "s" ]
}

@test "rename of a topic or a stream: EPERM, nothing changed" {
	mkdir "$S"
	echo data >>"$S/t"
	run mv "$S/t" "$S/u"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]
	run mv "$S" "$C/s2"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]
	run python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$S/t" "$M/newyork/x"
	[ "$status" -ne 0 ]
	run ls "$C"
	[ "$output" = "s" ]
	run ls "$S"
	[ "$output" = "t" ]
	[ "$(cat "$S/t")" = "data" ]
}

@test "chmod and chown of streams and topics, kept across a restart" {
	mkdir "$S"
	echo x >>"$S/t"
	# defaults: the creator (root) owns them
	[ "$(stat -c '%u:%g' "$S")" = "0:0" ]
	[ "$(stat -c '%u:%g' "$S/t")" = "0:0" ]
	chmod 0750 "$S"
	chown 65534:65534 "$S"
	chmod 0640 "$S/t"
	chown 65534:0 "$S/t"
	[ "$(stat -c '%a %u:%g' "$S")" = "750 65534:65534" ]
	[ "$(stat -c '%a %u:%g' "$S/t")" = "640 65534:0" ]
	sfs_restart
	[ "$(stat -c '%a %u:%g' "$S")" = "750 65534:65534" ]
	[ "$(stat -c '%a %u:%g' "$S/t")" = "640 65534:0" ]
	[ "$(cat "$S/t")" = "x" ]
	# a kill -9 keeps them too (the metadata is written when changed)
	chmod 0705 "$S"
	chmod 0604 "$S/t"
	sfs_kill9
	sfs_start
	[ "$(stat -c '%a %u:%g' "$S")" = "705 65534:65534" ]
	[ "$(stat -c '%a %u:%g' "$S/t")" = "604 65534:0" ]
}

@test "the kernel enforces modes: nobody cannot append to 0644 or read 0600, can after chmod 0666" {
	chmod 0755 "$TMP"	# mktemp -d made it 0700: let nobody reach $M
	mkdir "$S"
	echo root-line >>"$S/t"
	echo secret >>"$S/p"
	chmod 0644 "$S/t"
	chmod 0600 "$S/p"
	[ "$(stat -c '%a %u:%g' "$S/t")" = "644 0:0" ]
	# reading the 0644 topic works
	run as_nobody cat "$S/t"
	[ "$status" -eq 0 ]
	[ "$output" = "root-line" ]
	# appending to it does not
	run as_nobody sh -c 'echo nobody-line >>"$1"' sh "$S/t"
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
	# reading the 0600 topic does not
	run as_nobody cat "$S/p"
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
	# after chmod 0666 the append works
	chmod 0666 "$S/t"
	run as_nobody sh -c 'echo nobody-line >>"$1"' sh "$S/t"
	[ "$status" -eq 0 ]
	[ "$(cat "$S/t")" = $'root-line\nnobody-line' ]
	# still enforced after a restart
	sfs_restart
	run as_nobody cat "$S/p"
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
	run as_nobody sh -c 'echo again >>"$1"' sh "$S/t"
	[ "$status" -eq 0 ]
	# a stream not writable by nobody: it cannot create topics there
	run as_nobody touch "$S/new"
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
	[ ! -e "$S/new" ]
}

@test "a topic created by another user is owned by that user" {
	chmod 0755 "$TMP"
	mkdir "$S"
	chmod 0777 "$S"
	run as_nobody sh -c 'echo mine >>"$1"' sh "$S/n"
	[ "$status" -eq 0 ]
	[ "$(stat -c '%u:%g' "$S/n")" = "65534:65534" ]
	[ "$(cat "$S/n")" = "mine" ]
	sfs_restart
	[ "$(stat -c '%u:%g' "$S/n")" = "65534:65534" ]
}
