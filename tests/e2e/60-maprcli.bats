#!/usr/bin/env bats
# 60-maprcli.bats - maprcli (docs/maprcli.md): every verb of
# stream, stream topic, stream replica and stream upstream, carried out
# through the mount; the seed's autosetup command (with STREAMFS_MOUNT, and
# verbatim against a mount at /mapr in a private mount namespace) with
# messages flowing both ways; autosetup refusing an existing replica and
# undoing its steps; -wait; the table and MapR's JSON shapes (checked with
# jq -e); the errors (one line, exit status, JSON shape, nothing changed);
# mount discovery.
#
# MAPRCLI is the binary under test (default $STREAMFS_SRC/maprcli, built by
# `make maprcli`; it is built here if missing).

load helpers
load replication_helpers

bats_require_minimum_version 1.5.0
export LC_ALL=C

: "${MAPRCLI:=$STREAMFS_SRC/maprcli}"

setup_file() {
	if [[ ! -x $MAPRCLI ]]; then
		make -s -C "$STREAMFS_SRC" maprcli >&2 ||
			{ echo "cannot build $MAPRCLI (make maprcli)" >&2; return 1; }
	fi
}

setup() {
	[[ -x $MAPRCLI ]] || { echo "MAPRCLI=$MAPRCLI is not built (make maprcli)" >&2; return 1; }
	unset STREAMFS_MOUNT MAPRCLI_MOUNTS_FILE
	sfs_setup
	export STREAMFS_MOUNT=$M
	SF=$M/sanfrancisco/activity
	NY=$M/newyork/activity
}

teardown() {
	sfs_teardown
}

# mc ARGS...: maprcli.
mc() {
	"$MAPRCLI" "$@"
}

# nmsg FILE: messages in topic FILE (0 if it does not exist).
nmsg() {
	if [[ -e $1 ]]; then wc -l <"$1"; else echo 0; fi
}

# has_n FILE N: topic FILE holds exactly N messages.
has_n() {
	[[ $(nmsg "$1") -eq $2 ]]
}

# wait_n FILE N: wait (10 s) until FILE holds exactly N messages.
wait_n() {
	wait_for -t 10 has_n "$1" "$2" || {
		echo "expected $2 messages in $1, found $(nmsg "$1")" >&2
		return 1
	}
}

# snapshot: the configuration of every stream of both clusters (control
# files without their status part), to show that nothing changed.
snapshot() {
	local d
	for d in "$M"/*/*; do
		[[ -d $d ]] || continue
		echo "== $d"
		ls "$d"
		sed 's/ #.*//' "$d/.replicas" "$d/.upstreams"
	done
}

# json_ok SHAPE_FILTER: $output is MapR's OK shape and matches the filter.
json_ok() {
	jq -e '
		(.timestamp | type == "number") and
		(.timeofday | test("^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} GMT[+-][0-9]{4}$")) and
		.status == "OK" and (.total | type == "number") and
		(.data | type == "array") and .total == (.data | length) and
		(keys == ["data","status","timeofday","timestamp","total"])' <<<"$output" >/dev/null ||
		{ echo "not MapR's OK shape: $output" >&2; return 1; }
	[[ -z ${1:-} ]] || jq -e "$1" <<<"$output" >/dev/null ||
		{ echo "does not match $1: $output" >&2; return 1; }
}

# json_error REGEX: $output is MapR's ERROR shape, its desc matches REGEX.
json_error() {
	jq -e --arg re "$1" '
		(.timestamp | type == "number") and (.timeofday | type == "string") and
		.status == "ERROR" and (.errors | length) == 1 and
		(.errors[0].id | type == "number") and (.errors[0].id > 0) and
		(.errors[0].desc | test($re)) and (has("data") | not)' <<<"$output" >/dev/null ||
		{ echo "not MapR's ERROR shape with desc ~ /$1/: $output" >&2; return 1; }
}

# one_line: $stderr is exactly one line.
one_line() {
	[[ -n $stderr && $(wc -l <<<"$stderr") -eq 1 ]] ||
		{ echo "expected one line on stderr, got: $stderr" >&2; return 1; }
}

# ---------------------------------------------------------------- help

@test "help: maprcli -h and each group's -h list what exists; a command's -h lists its options" {
	run -0 mc -h
	for v in "stream create" "stream delete" "stream info" "stream edit" \
		"stream topic create" "stream topic delete" "stream topic list" \
		"stream topic info" "stream replica add" "stream replica remove" \
		"stream replica list" "stream replica pause" "stream replica resume" \
		"stream replica edit" "stream replica autosetup" "stream upstream add" \
		"stream upstream remove" "stream upstream list"; do
		grep -q "maprcli $v " <<<"$output" || { echo "missing: $v" >&2; false; }
	done
	grep -q STREAMFS_MOUNT <<<"$output"
	grep -q -- "-mount DIR" <<<"$output"
	grep -q "Exit status" <<<"$output"

	run -0 mc stream -h
	grep -q "stream replica autosetup" <<<"$output"
	run -0 mc stream replica -h
	for v in add remove list pause resume edit autosetup; do
		grep -q "maprcli stream replica $v " <<<"$output"
	done
	[[ $output != *"stream topic"* ]]
	run -0 mc stream topic -h
	for v in create delete list info; do grep -q "maprcli stream topic $v " <<<"$output"; done
	run -0 mc stream upstream -h
	for v in add remove list; do grep -q "maprcli stream upstream $v " <<<"$output"; done

	run -0 mc stream replica autosetup -h
	for o in -path -replica -multimaster -synchronous -networkcompression -wait -timeout; do
		grep -q -- "$o " <<<"$output"
	done
	run -0 mc stream create -h
	grep -q "ignored" <<<"$output"
	grep -q -- "-produceperm" <<<"$output"

	# no command at all: help on stderr, usage status
	run -2 --separate-stderr mc
	grep -q "maprcli stream create" <<<"$stderr"
}

# ---------------------------------------------------------------- stream

@test "stream create: mkdir; MapR options accepted and ignored with a note; an existing stream is an error" {
	run -0 --separate-stderr mc stream create -path /mapr/sanfrancisco/activity
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ -d "$SF" ]
	[ -e "$SF/.info" ]

	run -0 --separate-stderr mc stream create -path /mapr/newyork/s2 -produceperm p \
		-consumeperm p -topicperm u:root -copyperm p -adminperm p -defaultpartitions 3 \
		-ttl 86400 -compression lz4 -autocreate false
	[ -d "$M/newyork/s2" ]
	[ "$(grep -c '^maprcli: note: -.* is accepted for MapR compatibility and ignored' <<<"$stderr")" -eq 9 ]
	grep -q -- "-ttl is accepted" <<<"$stderr"
	grep -q -- "-defaultpartitions is accepted.*one partition" <<<"$stderr"

	before=$(snapshot)
	run -1 --separate-stderr mc stream create -path /mapr/sanfrancisco/activity
	one_line
	[[ $stderr == *"stream /mapr/sanfrancisco/activity already exists"* ]]
	[ "$(snapshot)" = "$before" ]

	run -1 --separate-stderr mc stream create -path /mapr/paris/activity
	one_line
	[[ $stderr == *"cluster 'paris'"* ]]
	[ ! -e "$M/paris" ]

	# the real mountpoint form and -json
	run -0 mc stream create -path "$M/sanfrancisco/viareal" -json
	json_ok '.total == 0 and .data == []'
	[ -d "$M/sanfrancisco/viareal" ]
}

@test "stream info: a table with MapR field names, and -json; edit accepts and ignores its options" {
	mkdir "$SF"
	seq 10 >>"$SF/a"		# 10 messages, 21 bytes
	seq 3 >>"$SF/b"			# 3 messages, 6 bytes
	mkdir "$NY"
	echo /mapr/newyork/activity >>"$SF/.replicas"
	echo /mapr/newyork/activity >>"$SF/.upstreams"

	run -0 mc stream info -path /mapr/sanfrancisco/activity
	[ "${#lines[@]}" -eq 2 ]
	read -r -a head <<<"${lines[0]}"
	[ "${head[0]}" = path ]
	[[ " ${head[*]} " == *" numtopics "* && " ${head[*]} " == *" logicalsize "* ]]
	[[ " ${head[*]} " == *" uuid "* && " ${head[*]} " == *" numreplicas "* ]]
	[[ ${lines[1]} == "/mapr/sanfrancisco/activity "* ]]

	run -0 mc stream info -path /mapr/sanfrancisco/activity -json
	json_ok '.total == 1 and .data[0].path == "/mapr/sanfrancisco/activity"
		and .data[0].numtopics == 2 and .data[0].logicalsize == 27
		and .data[0].numreplicas == 1 and .data[0].numupstreams == 1
		and (.data[0].uuid | test("^[0-9a-f-]{36}$"))'
	uuid=$(jq -r .uuid "$SF/.info")
	jq -e --arg u "$uuid" '.data[0].uuid == $u' <<<"$output"

	run -0 mc stream info -path /mapr/sanfrancisco/activity -noheader
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "/mapr/sanfrancisco/activity "* ]]

	before=$(snapshot)
	run -0 --separate-stderr mc stream edit -path /mapr/sanfrancisco/activity -ttl 5 -produceperm p
	[ -z "$output" ]
	[ "$(grep -c 'ignored' <<<"$stderr")" -eq 2 ]
	run -0 mc stream edit -path /mapr/sanfrancisco/activity -json
	json_ok '.total == 0'
	[ "$(snapshot)" = "$before" ]
	run -1 mc stream edit -path /mapr/sanfrancisco/nope
}

@test "stream delete: topics, replicas and upstreams go, then the stream; a missing stream is an error" {
	mkdir "$SF" "$NY"
	seq 5 >>"$SF/t1"
	seq 5 >>"$SF/t2"
	echo /mapr/sanfrancisco/activity >>"$NY/.upstreams"
	echo /mapr/newyork/activity >>"$SF/.replicas"
	echo /mapr/newyork/activity >>"$SF/.upstreams"
	wait_n "$NY/t1" 5

	run -0 --separate-stderr mc stream delete -path /mapr/sanfrancisco/activity
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ ! -e "$SF" ]
	[ "$(ls "$M/sanfrancisco")" = "" ]
	# the replica keeps its data
	has_n "$NY/t1" 5

	run -1 --separate-stderr mc stream delete -path /mapr/sanfrancisco/activity
	one_line
	[[ $stderr == *"stream /mapr/sanfrancisco/activity does not exist"* ]]
	run -1 mc stream delete -path /mapr/sanfrancisco/activity -json
	json_error 'does not exist'

	run -0 mc stream delete -path /mapr/newyork/activity -json
	json_ok '.total == 0'
	[ ! -e "$NY" ]
}

# ---------------------------------------------------------------- topics

@test "stream topic create, list, info, delete" {
	mkdir "$SF"
	run -0 --separate-stderr mc stream topic create -path /mapr/sanfrancisco/activity -topic clicks
	[ -z "$output$stderr" ]
	[ -f "$SF/clicks" ]
	[ "$(stat -c %s "$SF/clicks")" -eq 0 ]

	run -0 --separate-stderr mc stream topic create -path /mapr/sanfrancisco/activity -topic views -partitions 4
	grep -q -- "-partitions is accepted for MapR compatibility and ignored: streamfs topics have one partition" <<<"$stderr"
	seq 100 >>"$SF/views"

	run -1 --separate-stderr mc stream topic create -path /mapr/sanfrancisco/activity -topic views
	one_line
	[[ $stderr == *"topic 'views' already exists"* ]]
	has_n "$SF/views" 100
	run -1 --separate-stderr mc stream topic create -path /mapr/sanfrancisco/activity -topic .bad
	one_line
	[[ $stderr == *"invalid topic name"* ]]
	run -1 mc stream topic create -path /mapr/sanfrancisco/nope -topic t

	run -0 mc stream topic list -path /mapr/sanfrancisco/activity
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} =~ ^topic\ +partitions\ +logicalsize\ +maxoffset\ +messages$ ]]
	grep -Eq '^clicks +1 +0 +-1 +0$' <<<"$output"
	grep -Eq '^views +1 +292 +99 +100$' <<<"$output"

	run -0 mc stream topic list -path /mapr/sanfrancisco/activity -json
	json_ok '.total == 2 and
		([.data[] | select(.topic == "views")][0] |
			.partitions == 1 and .logicalsize == 292 and .maxoffset == 99 and .messages == 100) and
		([.data[] | select(.topic == "clicks")][0] | .maxoffset == -1 and .messages == 0)'

	run -0 mc stream topic info -path /mapr/sanfrancisco/activity -topic views -json
	json_ok '.total == 1 and .data[0].topic == "views" and .data[0].messages == 100
		and .data[0].maxoffset == 99 and .data[0].partitions == 1 and .data[0].mode == "0644"'
	run -0 mc stream topic info -path /mapr/sanfrancisco/activity -topic views
	[[ ${lines[0]} == topic* ]]
	[[ ${lines[1]} == views* ]]
	run -1 --separate-stderr mc stream topic info -path /mapr/sanfrancisco/activity -topic nope
	one_line
	[[ $stderr == *"topic 'nope' does not exist"* ]]

	run -0 --separate-stderr mc stream topic delete -path /mapr/sanfrancisco/activity -topic views
	[ -z "$output$stderr" ]
	[ ! -e "$SF/views" ]
	run -1 --separate-stderr mc stream topic delete -path /mapr/sanfrancisco/activity -topic views
	one_line
	[[ $stderr == *"topic 'views' does not exist"* ]]
	run -0 mc stream topic delete -path /mapr/sanfrancisco/activity -topic clicks -json
	json_ok '.total == 0'
	run -0 mc stream topic list -path /mapr/sanfrancisco/activity
	[ -z "$output" ]
	run -0 mc stream topic list -path /mapr/sanfrancisco/activity -json
	json_ok '.total == 0 and .data == []'
}

# ---------------------------------------------------------------- replicas

@test "stream replica add, list, pause, resume, edit, remove write .replicas lines" {
	mkdir "$SF" "$NY" "$M/newyork/b"
	echo /mapr/sanfrancisco/activity >>"$NY/.upstreams"
	seq 20 >>"$SF/t"

	run -0 --separate-stderr mc stream replica add -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/activity
	[ -z "$output$stderr" ]
	grep -q '^/mapr/newyork/activity synchronous=false paused=false' "$SF/.replicas"
	wait_n "$NY/t" 20

	run -0 mc stream replica add -path /mapr/sanfrancisco/activity -replica /mapr/newyork/b \
		-synchronous yes -paused TRUE -networkcompression zstd
	grep -q '^/mapr/newyork/b synchronous=true paused=true networkcompression=zstd' "$SF/.replicas"

	run -1 --separate-stderr mc stream replica add -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/activity
	one_line
	[[ $stderr == *"/mapr/newyork/activity is already a replica of /mapr/sanfrancisco/activity"* ]]

	wait_for grep -q '^/mapr/newyork/activity .*uptodate=true' "$SF/.replicas"
	run -0 mc stream replica list -path /mapr/sanfrancisco/activity
	[ "${#lines[@]}" -eq 3 ]
	read -r -a head <<<"${lines[0]}"
	[ "${head[*]:0:13}" = "cluster stream replicaPath replicaState paused synchronous degraded networkcompression isUptodate putsPending bytesPending oldestPendingTime lastError" ]
	grep -Eq '^newyork +activity +/mapr/newyork/activity +REPLICA_STATE_REPLICATING +false +false +false +off +true +0 +0 ' <<<"$output"
	grep -Eq '^newyork +b +/mapr/newyork/b +REPLICA_STATE_PAUSED +true +true +false +zstd +false ' <<<"$output"

	run -0 mc stream replica list -path /mapr/sanfrancisco/activity -json
	json_ok '.total == 2 and (.data[0] | keys_unsorted) == ["cluster","stream","replicaPath","replicaState","paused","synchronous","degraded","networkcompression","isUptodate","putsPending","bytesPending","oldestPendingTime","lastError","lastErrorTime"]
		and .data[0].replicaPath == "/mapr/newyork/activity" and .data[0].isUptodate == true
		and .data[1].paused == true and .data[1].synchronous == true
		and .data[1].putsPending == 20 and .data[1].networkcompression == "zstd"'

	run -0 mc stream replica pause -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity
	grep -q '^/mapr/newyork/activity synchronous=false paused=true' "$SF/.replicas"
	seq 5 >>"$SF/t"
	repl_quiet sanfrancisco/activity
	has_n "$NY/t" 20
	run -0 mc stream replica resume -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity
	grep -q '^/mapr/newyork/activity synchronous=false paused=false' "$SF/.replicas"
	wait_n "$NY/t" 25

	run -0 mc stream replica edit -path /mapr/sanfrancisco/activity -replica /mapr/newyork/b \
		-paused no -networkcompression lz4
	grep -q '^/mapr/newyork/b synchronous=true paused=false networkcompression=lz4' "$SF/.replicas"
	run -0 mc stream replica edit -path /mapr/sanfrancisco/activity -replica /mapr/newyork/b \
		-synchronous 0 -networkcompression off -json
	json_ok '.total == 0'
	grep -q '^/mapr/newyork/b synchronous=false paused=false # ' "$SF/.replicas"

	before=$(snapshot)
	run -2 --separate-stderr mc stream replica edit -path /mapr/sanfrancisco/activity -replica /mapr/newyork/b
	one_line
	[[ $stderr == *"nothing to change"* ]]
	run -2 --separate-stderr mc stream replica edit -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/b -networkcompression gzip
	one_line
	[[ $stderr == *"-networkcompression: 'gzip'"* ]]
	run -1 --separate-stderr mc stream replica pause -path /mapr/sanfrancisco/activity -replica /mapr/newyork/zzz
	one_line
	[[ $stderr == *"/mapr/newyork/zzz is not a replica of /mapr/sanfrancisco/activity"* ]]
	# the daemon's refusal, turned into a message with its reason
	run -1 --separate-stderr mc stream replica add -path /mapr/sanfrancisco/activity -replica /mapr/newyork/zzz
	one_line
	[[ $stderr == *"cannot add /mapr/newyork/zzz as a replica of /mapr/sanfrancisco/activity: No such file or directory"*"does not exist"* ]]
	run -1 mc stream replica add -path /mapr/sanfrancisco/activity -replica /mapr/newyork/zzz -json
	json_error 'No such file or directory'
	jq -e '.errors[0].id == 2' <<<"$output"
	run -1 --separate-stderr mc stream replica add -path /mapr/sanfrancisco/activity -replica /mapr/sanfrancisco/activity
	one_line
	[ "$(snapshot)" = "$before" ]

	run -0 --separate-stderr mc stream replica remove -path /mapr/sanfrancisco/activity -replica /mapr/newyork/b
	[ -z "$output$stderr" ]
	[ "$(grep -c '^/mapr/newyork/b' "$SF/.replicas")" -eq 0 ]
	run -1 --separate-stderr mc stream replica remove -path /mapr/sanfrancisco/activity -replica /mapr/newyork/b
	one_line
	[[ $stderr == *"not a replica"* ]]
	run -0 mc stream replica remove -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity -json
	json_ok '.total == 0'
	[ ! -s "$SF/.replicas" ]
	run -0 mc stream replica list -path /mapr/sanfrancisco/activity
	[ -z "$output" ]
	run -0 --separate-stderr mc stream replica list -path /mapr/sanfrancisco/activity -refreshnow true -json
	[[ $stderr == *"-refreshnow is accepted for MapR compatibility and ignored"* ]]
	json_ok '.total == 0'
}

# ---------------------------------------------------------------- upstreams

@test "stream upstream add, list, remove write .upstreams lines" {
	mkdir "$SF" "$NY"
	run -0 --separate-stderr mc stream upstream add -path /mapr/newyork/activity -upstream /mapr/sanfrancisco/activity
	[ -z "$output$stderr" ]
	grep -q '^/mapr/sanfrancisco/activity # uuid=' "$NY/.upstreams"

	run -0 mc stream upstream list -path /mapr/newyork/activity
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} =~ ^cluster\ +stream\ +uuid$ ]]
	uuid=$(jq -r .uuid "$SF/.info")
	[[ ${lines[1]} =~ ^sanfrancisco\ +activity\ +$uuid$ ]]
	run -0 mc stream upstream list -path /mapr/newyork/activity -json
	json_ok '.total == 1 and .data[0] == {"cluster":"sanfrancisco","stream":"activity","uuid":"'"$uuid"'"}'

	run -1 --separate-stderr mc stream upstream add -path /mapr/newyork/activity -upstream /mapr/sanfrancisco/activity
	one_line
	[[ $stderr == *"already an upstream"* ]]
	run -1 --separate-stderr mc stream upstream add -path /mapr/newyork/activity -upstream /mapr/sanfrancisco/nope
	one_line
	[[ $stderr == *"No such file or directory"*"/mapr/sanfrancisco/nope does not exist"* ]]

	# it works: a replica is accepted
	echo /mapr/newyork/activity >>"$SF/.replicas"
	seq 7 >>"$SF/t"
	wait_n "$NY/t" 7

	run -0 mc stream upstream remove -path /mapr/newyork/activity -upstream /mapr/sanfrancisco/activity
	[ ! -s "$NY/.upstreams" ]
	run -1 --separate-stderr mc stream upstream remove -path /mapr/newyork/activity -upstream /mapr/sanfrancisco/activity
	one_line
	[[ $stderr == *"not an upstream"* ]]
	run -0 mc stream upstream list -path /mapr/newyork/activity -json
	json_ok '.total == 0'
	run -0 mc stream upstream add -path "$M/newyork/activity" -upstream "$M/sanfrancisco/activity" -json
	json_ok '.total == 0'
	grep -q '^/mapr/sanfrancisco/activity ' "$NY/.upstreams"
}

# ---------------------------------------------------------------- autosetup

@test "the seed's command (STREAMFS_MOUNT=\$M): multi-master set up, messages flow both ways exactly once" {
	mkdir "$SF"
	seq -f 'sf-old-%g' 50 >>"$SF/logins"

	run -0 --separate-stderr maprcli_seed
	[ -z "$output$stderr" ]

	[ -d "$NY" ]
	grep -q '^/mapr/newyork/activity synchronous=false paused=false' "$SF/.replicas"
	grep -q '^/mapr/newyork/activity ' "$SF/.upstreams"
	grep -q '^/mapr/sanfrancisco/activity synchronous=false paused=false' "$NY/.replicas"
	grep -q '^/mapr/sanfrancisco/activity ' "$NY/.upstreams"

	wait_n "$NY/logins" 50		# the initial copy
	echo "from-sf" >>"$SF/logins"
	echo "from-ny" >>"$NY/logins"
	seq -f 'ny-new-%g' 10 >>"$NY/clicks"	# a new topic on the replica side
	wait_n "$SF/logins" 52
	wait_n "$NY/logins" 52
	wait_n "$SF/clicks" 10
	repl_quiet sanfrancisco/activity newyork/activity
	has_n "$SF/logins" 52
	has_n "$NY/logins" 52
	has_n "$SF/clicks" 10
	[ "$(sort "$SF/logins")" = "$(sort "$NY/logins")" ]
	[ "$(grep -c '^from-ny$' "$SF/logins")" -eq 1 ]
	[ "$(grep -c '^from-sf$' "$NY/logins")" -eq 1 ]

	run -0 mc stream replica list -path /mapr/newyork/activity -json
	json_ok '.total == 1 and .data[0].replicaPath == "/mapr/sanfrancisco/activity"'
}

# The seed's command, word for word.
maprcli_seed() {
	"$MAPRCLI" stream replica autosetup -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity -multimaster yes
}

@test "the seed's command verbatim against a mount at /mapr (private mount namespace, no STREAMFS_MOUNT)" {
	[[ $EUID -eq 0 ]] || skip "needs root for a private mount namespace"
	command -v unshare >/dev/null || skip "no unshare"
	unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace here"
	mkdir "$SF"
	seq 30 >>"$SF/logins"
	made=
	if [[ ! -e /mapr ]]; then
		mkdir /mapr
		made=1
	fi
	run unshare -m --propagation private env -u STREAMFS_MOUNT bash -c '
		mount --bind "$1" /mapr || exit 99
		"$2" stream replica autosetup -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity -multimaster yes || exit $?
		echo from-ny >>/mapr/newyork/activity/logins
		"$2" stream replica list -path /mapr/sanfrancisco/activity -noheader
	' _ "$M" "$MAPRCLI"
	[[ -n $made ]] && rmdir /mapr
	[ "$status" -eq 0 ]
	[[ $output == newyork*activity*/mapr/newyork/activity* ]]
	wait_n "$NY/logins" 31
	wait_n "$SF/logins" 31
}

@test "autosetup -synchronous yes without -multimaster: one direction, synchronous" {
	mkdir "$SF"
	run -0 mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/activity -synchronous yes -multimaster no
	grep -q '^/mapr/newyork/activity synchronous=true paused=false' "$SF/.replicas"
	grep -q '^/mapr/sanfrancisco/activity ' "$NY/.upstreams"
	[ ! -s "$SF/.upstreams" ]
	[ ! -s "$NY/.replicas" ]
	echo one >>"$SF/t"
	wait_n "$NY/t" 1
	echo back >>"$NY/t"
	repl_quiet sanfrancisco/activity newyork/activity
	has_n "$SF/t" 1
}

@test "autosetup fails when the replica stream exists, changing nothing (also with -json)" {
	mkdir "$SF" "$NY"
	seq 5 >>"$SF/t"
	before=$(snapshot)
	run -1 --separate-stderr mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/activity -multimaster yes
	one_line
	[[ $stderr == *"replica stream /mapr/newyork/activity already exists"* ]]
	[ -z "$output" ]
	[ "$(snapshot)" = "$before" ]
	run -1 mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/activity -json
	json_error 'already exists'
	jq -e '.errors[0].id == 17' <<<"$output"
	[ "$(snapshot)" = "$before" ]
	repl_quiet sanfrancisco/activity newyork/activity
	has_n "$NY/t" 0

	# a source that does not exist: nothing is created
	run -1 --separate-stderr mc stream replica autosetup -path /mapr/sanfrancisco/nope \
		-replica /mapr/newyork/new
	one_line
	[[ $stderr == *"stream /mapr/sanfrancisco/nope does not exist"* ]]
	[ ! -e "$M/newyork/new" ]
}

@test "autosetup undoes its earlier steps when a later one is refused" {
	mkdir "$SF"
	echo m >>"$SF/t"
	# the source already has 64 replicas: adding one more is refused (ENOSPC)
	for i in $(seq 64); do
		mkdir "$M/newyork/r$i"
		echo "/mapr/newyork/r$i" >>"$SF/.replicas"
	done
	before=$(snapshot)
	run -1 --separate-stderr mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/activity -multimaster yes
	one_line
	[[ $stderr == *"failed adding the replica to the source's .replicas"*"more than 64 replicas"*"undone"* ]]
	[ ! -e "$NY" ]
	[ "$(snapshot)" = "$before" ]

	# the source accepts 64 upstreams already: step 4 is refused, 1-3 undone
	mkdir "$M/sanfrancisco/u"
	for i in $(seq 64); do
		echo "/mapr/newyork/r$i" >>"$M/sanfrancisco/u/.upstreams"
	done
	seq 100 >>"$M/sanfrancisco/u/t"
	before=$(snapshot)
	run -1 mc stream replica autosetup -path /mapr/sanfrancisco/u \
		-replica /mapr/newyork/u -multimaster yes -json
	json_error "failed adding the replica to the source's .upstreams.*undone"
	jq -e '.errors[0].id == 28' <<<"$output"
	[ ! -e "$M/newyork/u" ]
	[ "$(snapshot)" = "$before" ]
}

@test "autosetup -wait returns once 1000 existing messages are copied and the replica is up to date" {
	mkdir "$SF"
	seq -f 'm-%g' 600 >>"$SF/logins"
	seq -f 'c-%g' 400 >>"$SF/clicks"
	run -0 --separate-stderr mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/activity -multimaster yes -wait -timeout 60
	[ -z "$output" ]
	[ -z "$stderr" ]		# not a terminal: no progress bar
	# already there when it returns, no waiting here
	has_n "$NY/logins" 600
	has_n "$NY/clicks" 400
	cmp "$SF/logins" "$NY/logins"
	cmp "$SF/clicks" "$NY/clicks"
	jq -e '.replicas[0].isUptodate == true and .replicas[0].putsPending == 0' "$SF/.info"

	run -0 mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/sanfrancisco/copy -wait true -json
	json_ok '.total == 0'
	has_n "$M/sanfrancisco/copy/logins" 600
}

@test "autosetup -wait on a terminal draws a progress bar of copied/total messages" {
	command -v script >/dev/null || skip "no script(1)"
	mkdir "$SF"
	seq 1000 >>"$SF/t"
	run script -qec "'$MAPRCLI' stream replica autosetup -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity -wait" /dev/null
	[ "$status" -eq 0 ]
	[[ $output == *"/mapr/newyork/activity ["*"1000/1000 messages 100%"* ]]
	has_n "$NY/t" 1000
}

@test "autosetup -wait times out with a non-zero status; -timeout needs -wait and a number" {
	mkdir "$SF"
	seq 1000000 >>"$SF/big"
	run -1 --separate-stderr mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/activity -wait -timeout 0.05
	one_line
	[[ $stderr == *"timed out after 0.05 s waiting for /mapr/newyork/activity"* ]]
	# the setup itself stays: the copy goes on (stop it, not to slow down
	# the unmount)
	grep -q '^/mapr/newyork/activity ' "$SF/.replicas"
	run -0 mc stream replica remove -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity

	run -2 --separate-stderr mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/other -timeout 5
	one_line
	[[ $stderr == *"-timeout needs -wait"* ]]
	run -2 --separate-stderr mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/other -wait -timeout soon
	one_line
	[ ! -e "$M/newyork/other" ]
}

# ---------------------------------------------------------------- errors

@test "errors: unknown verb or option, missing -path, outside the mount, no such stream, not a boolean: one line, exit status, JSON shape, nothing changed" {
	mkdir "$SF" "$NY"
	before=$(snapshot)

	# usage errors: status 2
	run -2 --separate-stderr mc stream replica frobnicate -path /mapr/sanfrancisco/activity
	one_line
	[[ $stderr == "maprcli: unknown verb 'frobnicate' for 'maprcli stream replica'"* ]]
	run -2 mc stream replica frobnicate -path /mapr/sanfrancisco/activity -json
	json_error "unknown verb 'frobnicate'"
	jq -e '.errors[0].id == 22' <<<"$output"
	run -2 --separate-stderr mc volume create -path x
	one_line
	[[ $stderr == *"unknown command 'volume create'"* ]]
	run -2 --separate-stderr mc stream replica
	one_line
	[[ $stderr == *"needs a verb"* ]]

	run -2 --separate-stderr mc stream create -path /mapr/sanfrancisco/x -colour blue
	one_line
	[[ $stderr == *"unknown option -colour"* ]]
	run -2 mc stream create -path /mapr/sanfrancisco/x -colour blue -json
	json_error 'unknown option -colour'

	run -2 --separate-stderr mc stream replica add -replica /mapr/newyork/activity
	one_line
	[[ $stderr == *"missing option -path"* ]]
	run -2 mc stream info -json
	json_error 'missing option -path'
	run -2 --separate-stderr mc stream info -path
	one_line
	[[ $stderr == *"-path needs a value"* ]]

	run -2 --separate-stderr mc stream replica autosetup -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/x -multimaster maybe
	one_line
	[[ $stderr == *"-multimaster: 'maybe' is not a boolean"* ]]
	run -2 mc stream replica add -path /mapr/sanfrancisco/activity \
		-replica /mapr/newyork/activity -paused sometimes -json
	json_error "'sometimes' is not a boolean"
	run -2 --separate-stderr mc stream create -path /mapr/sanfrancisco/x -path /mapr/sanfrancisco/y
	one_line
	[[ $stderr == *"given twice"* ]]

	# failures: status 1
	run -1 --separate-stderr mc stream create -path /tmp/elsewhere/activity
	one_line
	[[ $stderr == *"-path /tmp/elsewhere/activity is outside the streamfs mount"* ]]
	run -1 mc stream create -path /tmp/elsewhere/activity -json
	json_error 'outside the streamfs mount'
	run -1 --separate-stderr mc stream create -path /mapr/sanfrancisco
	one_line
	[[ $stderr == *"not a stream path"* ]]
	run -1 --separate-stderr mc stream create -path "/mapr/sanfrancisco/bad name"
	one_line
	[[ $stderr == *"invalid stream name"* ]]
	run -1 --separate-stderr mc stream replica add -path /mapr/sanfrancisco/nope -replica /mapr/newyork/activity
	one_line
	[[ $stderr == *"stream /mapr/sanfrancisco/nope does not exist"* ]]
	run -1 mc stream replica list -path /mapr/sanfrancisco/nope -json
	json_error 'stream /mapr/sanfrancisco/nope does not exist'
	jq -e '.errors[0].id == 2' <<<"$output"
	run -1 mc stream upstream list -path /mapr/sanfrancisco/nope
	run -1 mc stream topic list -path /mapr/sanfrancisco/nope

	[ "$(snapshot)" = "$before" ]
	[ ! -e "$M/sanfrancisco/x" ]
}

# ---------------------------------------------------------------- mounts

@test "mount discovery: STREAMFS_MOUNT, -mount, a path under the mountpoint, the only streamfs mount, and the errors" {
	mkdir "$SF"
	unset STREAMFS_MOUNT
	# -mount
	run -0 mc stream info -path /mapr/sanfrancisco/activity -mount "$M" -noheader
	[[ $output == /mapr/sanfrancisco/activity* ]]
	# a path under the real mountpoint: that mount, whatever else is mounted
	run -0 mc stream info -path "$M/sanfrancisco/activity" -noheader
	[[ $output == /mapr/sanfrancisco/activity* ]]
	run -0 mc stream info -path "$M/sanfrancisco/./../sanfrancisco/activity/" -noheader
	# relative to the working directory
	run -0 bash -c 'cd "$1/sanfrancisco" && "$2" stream info -path activity -noheader' _ "$M" "$MAPRCLI"
	[[ $output == /mapr/sanfrancisco/activity* ]]

	# /mapr/... with no mount named: the only fuse.streamfs mount is used
	fake=$TMP/mounts
	printf 'proc /proc proc rw 0 0\nstreamfs %s fuse.streamfs rw 0 0\n' "$M" >"$fake"
	MAPRCLI_MOUNTS_FILE=$fake run -0 mc stream create -path /mapr/newyork/found
	[ -d "$M/newyork/found" ]
	# several and none at /mapr: an error naming them, nothing done
	printf 'streamfs %s fuse.streamfs rw 0 0\nstreamfs /srv/other\\040mnt fuse.streamfs rw 0 0\n' "$M" >"$fake"
	MAPRCLI_MOUNTS_FILE=$fake run -1 --separate-stderr mc stream create -path /mapr/newyork/several
	one_line
	[[ $stderr == *"2 streamfs filesystems are mounted ($M, /srv/other mnt) and none at /mapr"*"-mount DIR or STREAMFS_MOUNT"* ]]
	[ ! -e "$M/newyork/several" ]
	# none at all
	printf 'proc /proc proc rw 0 0\n' >"$fake"
	MAPRCLI_MOUNTS_FILE=$fake run -1 --separate-stderr mc stream info -path /mapr/newyork/found
	one_line
	[[ $stderr == *"no streamfs filesystem is mounted"* ]]
	MAPRCLI_MOUNTS_FILE=$fake run -1 mc stream info -path /mapr/newyork/found -json
	json_error 'no streamfs filesystem is mounted'

	# -mount / STREAMFS_MOUNT naming something that is not a streamfs mount
	run -1 --separate-stderr mc stream info -path /mapr/sanfrancisco/activity -mount "$TMP"
	one_line
	[[ $stderr == *"-mount $TMP is not a streamfs mount"* ]]
	STREAMFS_MOUNT=$TMP/data run -1 --separate-stderr mc stream info -path /mapr/sanfrancisco/activity
	one_line
	[[ $stderr == *"STREAMFS_MOUNT $TMP/data is not a streamfs mount"* ]]
	STREAMFS_MOUNT=$TMP/nowhere run -1 --separate-stderr mc stream info -path /mapr/sanfrancisco/activity
	one_line
	# a path outside any mount, nothing named
	run -1 --separate-stderr mc stream create -path "$TMP/data/x"
	one_line
	[[ $stderr == *"outside any streamfs mount"* ]]
	[ ! -e "$TMP/data/x" ]
}

@test "review fixes: a forgotten value is a usage error, not a name; MapR's throttle, encryption and codecs are accepted" {
	mc stream create -path /mapr/sanfrancisco/activity
	run mc stream topic create -path /mapr/sanfrancisco/activity -topic -json
	[ "$status" -eq 2 ]
	[[ $output == *"option -topic needs a value"* ]]
	[ ! -e "$SF/-json" ]
	run mc stream create -path -noheader
	[ "$status" -eq 2 ]
	[ ! -e "$M/sanfrancisco/-noheader" ]
	mc stream create -path /mapr/newyork/activity
	echo /mapr/sanfrancisco/activity >>"$NY/.upstreams"
	run mc stream replica add -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity \
		-throttle true -networkencryption true -networkcompression zlib
	[ "$status" -eq 0 ]
	[[ $output == *"throttle"* ]]
	grep -q '^/mapr/newyork/activity synchronous=false paused=false networkcompression=lz4' "$SF/.replicas"
}
