#!/usr/bin/env bats
# 30-control.bats - the control files (docs/control-files.md): .replicas and .upstreams
# (add, update, -PATH, '>' as a difference, whole-write validation, limits,
# config then status after ' # ', round trip) and .info (JSON, read only).
# Refused writes are logged at level warn, one line each.

load helpers
load replication_helpers

# error messages and ls order as in the C locale
export LC_ALL=C

setup() {
	sfs_setup
	# A (sanfrancisco/a) replicates to B (newyork/a) and, in some tests,
	# to B2 (newyork/b); both accept A in their .upstreams.
	A=$M/sanfrancisco/a
	B=$M/newyork/a
	B2=$M/newyork/b
	mkdir "$A" "$B" "$B2"
	echo /mapr/sanfrancisco/a >>"$B/.upstreams"
	echo /mapr/sanfrancisco/a >>"$B2/.upstreams"
}

teardown() {
	sfs_teardown
}

# count_is N FILE: FILE exists and has N lines.
count_is() {
	[[ -e $2 ]] && [[ $(wc -l <"$2") -eq $1 ]]
}

# config_of FILE: a control file without its status (what follows ' # ').
config_of() {
	sed 's/ # .*//' "$1"
}

# warns: the number of warn lines in the daemon log so far.
warns() {
	grep -c ' warn: ' "$TMP/streamfs.log" || true
}

# write_once [-t] FILE DATA: append DATA (with -t: open with O_TRUNC, as
# '>' does) with exactly one write() call; on failure print the errno's
# message and fail.
write_once() {
	local flag=O_APPEND
	if [[ $1 == -t ]]; then
		flag=O_TRUNC
		shift
	fi
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | getattr(os, sys.argv[3]))
try:
    n = os.write(fd, sys.argv[2].encode())
    assert n == len(sys.argv[2].encode()), "short write %d" % n
except OSError as e:
    print(os.strerror(e.errno))
    sys.exit(1)
finally:
    try:
        os.close(fd)
    except OSError as e:
        print("close: " + os.strerror(e.errno))
        sys.exit(1)' "$1" "$2" "$flag"
}

# caught_up FILE: every replica listed in FILE shows pending=0 uptodate=true.
caught_up() {
	! grep -qv 'pending=0 uptodate=true' "$1"
}

# messages N FROM: append messages mFROM..m(FROM+N-1) to A's topic t.
messages() {
	local i
	for ((i = $2; i < $2 + $1; i++)); do
		echo "m$i"
	done >>"$A/t"
}

@test ".replicas: add a line, update paused=true and back, -PATH removes" {
	messages 3 1
	echo /mapr/newyork/a >>"$A/.replicas"
	run config_of "$A/.replicas"
	[ "$output" = "/mapr/newyork/a synchronous=false paused=false" ]
	wait_for count_is 3 "$B/t"
	[ "$(cat "$B/t")" = $'m1\nm2\nm3' ]
	wait_for caught_up "$A/.replicas"

	# update: pause; nothing more is sent
	echo "/mapr/newyork/a paused=true" >>"$A/.replicas"
	run config_of "$A/.replicas"
	[ "$output" = "/mapr/newyork/a synchronous=false paused=true" ]
	messages 2 4
	repl_quiet sanfrancisco/a
	# (shown if an assertion below fails)
	echo "B/t: $(tr '\n' ' ' <"$B/t")"
	cat "$A/.replicas"
	[ "$(wc -l <"$B/t")" -eq 3 ]
	[ "$(jq '.replicas[0].putsPending' "$A/.info")" -eq 2 ]
	[ "$(jq '.replicas[0].paused' "$A/.info")" = true ]
	# resume: it continues from where it was
	echo "/mapr/newyork/a paused=false" >>"$A/.replicas"
	wait_for count_is 5 "$B/t"
	[ "$(cat "$B/t")" = $'m1\nm2\nm3\nm4\nm5' ]

	# the real mountpoint prefix is accepted too, and shown as /mapr
	echo "$M/newyork/b" >>"$A/.replicas"
	run config_of "$A/.replicas"
	[ "$output" = $'/mapr/newyork/a synchronous=false paused=false\n/mapr/newyork/b synchronous=false paused=false' ]
	wait_for count_is 5 "$B2/t"

	# -PATH removes it; the replica keeps its data and gets nothing more
	echo "-/mapr/newyork/a" >>"$A/.replicas"
	run config_of "$A/.replicas"
	[ "$output" = "/mapr/newyork/b synchronous=false paused=false" ]
	messages 1 6
	wait_for count_is 6 "$B2/t"
	repl_quiet sanfrancisco/a
	echo "B/t: $(tr '\n' ' ' <"$B/t")"
	[ "$(cat "$B/t")" = $'m1\nm2\nm3\nm4\nm5' ]

	# .upstreams works the same way
	echo /mapr/newyork/b >>"$B/.upstreams"
	run config_of "$B/.upstreams"
	[ "$output" = $'/mapr/sanfrancisco/a\n/mapr/newyork/b' ]
	echo -/mapr/newyork/b >>"$B/.upstreams"
	run config_of "$B/.upstreams"
	[ "$output" = "/mapr/sanfrancisco/a" ]
}

@test "'>' replaces the set as a difference: a kept replica keeps its position (11 messages, not 21)" {
	messages 10 1
	echo /mapr/newyork/a >>"$A/.replicas"
	wait_for count_is 10 "$B/t"
	wait_for caught_up "$A/.replicas"
	printf '/mapr/newyork/a\n/mapr/newyork/b\n' >"$A/.replicas"
	run config_of "$A/.replicas"
	[ "$output" = $'/mapr/newyork/a synchronous=false paused=false\n/mapr/newyork/b synchronous=false paused=false' ]
	# the kept one has nothing to re-send
	[ "$(jq '.replicas[0].putsPending' "$A/.info")" -eq 0 ]
	[ "$(jq -r '.replicas[0].replicaState' "$A/.info")" = REPLICA_STATE_REPLICATING ]
	messages 1 11
	wait_for count_is 11 "$B2/t"
	wait_for count_is 11 "$B/t"
	wait_for caught_up "$A/.replicas"
	repl_quiet sanfrancisco/a
	[ "$(wc -l <"$B/t")" -eq 11 ]
	[ "$(cat "$B/t")" = "$(seq -f 'm%g' 1 11)" ]
	[ "$(cat "$B2/t")" = "$(seq -f 'm%g' 1 11)" ]

	# a replace that leaves one out removes it
	echo /mapr/newyork/b >"$A/.replicas"
	run config_of "$A/.replicas"
	[ "$output" = "/mapr/newyork/b synchronous=false paused=false" ]
	# an empty replace empties the set
	: >"$A/.replicas"
	[ "$(cat "$A/.replicas")" = "" ]
	# and the same for .upstreams
	printf '/mapr/sanfrancisco/a\n/mapr/newyork/b\n' >"$B/.upstreams"
	run config_of "$B/.upstreams"
	[ "$output" = $'/mapr/sanfrancisco/a\n/mapr/newyork/b' ]
	echo /mapr/newyork/b >"$B/.upstreams"
	run config_of "$B/.upstreams"
	[ "$output" = "/mapr/newyork/b" ]
}

@test "a write with one bad line changes nothing: unknown cluster, unknown stream, bad key, self reference" {
	echo /mapr/newyork/a >>"$A/.replicas"
	local before
	before=$(config_of "$A/.replicas")
	[ "$before" = "/mapr/newyork/a synchronous=false paused=false" ]

	run write_once "$A/.replicas" $'/mapr/newyork/b\n/mapr/nowhere/x\n'
	[ "$status" -ne 0 ]
	[ "$output" = "No such file or directory" ]
	[ "$(config_of "$A/.replicas")" = "$before" ]

	run write_once "$A/.replicas" $'/mapr/newyork/b\n/mapr/newyork/nosuchstream\n'
	[ "$status" -ne 0 ]
	[ "$output" = "No such file or directory" ]
	[ "$(config_of "$A/.replicas")" = "$before" ]

	run write_once "$A/.replicas" $'/mapr/newyork/a paused=true\n/mapr/newyork/b colour=blue\n'
	[ "$status" -ne 0 ]
	[ "$output" = "Invalid argument" ]
	[ "$(config_of "$A/.replicas")" = "$before" ]

	run write_once "$A/.replicas" $'/mapr/newyork/b\n/mapr/newyork/a paused=maybe\n'
	[ "$status" -ne 0 ]
	[ "$output" = "Invalid argument" ]
	[ "$(config_of "$A/.replicas")" = "$before" ]

	run write_once "$A/.replicas" $'-/mapr/newyork/a\n/mapr/sanfrancisco/a\n'
	[ "$status" -ne 0 ]
	[ "$output" = "Invalid argument" ]
	[ "$(config_of "$A/.replicas")" = "$before" ]

	run write_once "$A/.replicas" $'/mapr/newyork/b\nnot a path\n'
	[ "$status" -ne 0 ]
	[ "$output" = "Invalid argument" ]
	[ "$(config_of "$A/.replicas")" = "$before" ]

	# the same in .upstreams
	run write_once "$B/.upstreams" $'/mapr/newyork/b\n/mapr/nowhere/x\n'
	[ "$status" -ne 0 ]
	[ "$output" = "No such file or directory" ]
	run write_once "$B/.upstreams" $'/mapr/newyork/b\n/mapr/newyork/a\n'
	[ "$status" -ne 0 ]
	[ "$output" = "Invalid argument" ]
	[ "$(config_of "$B/.upstreams")" = "/mapr/sanfrancisco/a" ]

	# still working: a good write applies
	run write_once "$A/.replicas" $'/mapr/newyork/b # a comment\n'
	[ "$status" -eq 0 ]
	[ "$(config_of "$A/.replicas")" = $'/mapr/newyork/a synchronous=false paused=false\n/mapr/newyork/b synchronous=false paused=false' ]
}

@test "a refused write in a '>' replace changes nothing: the set is left as it was" {
	printf '/mapr/newyork/a\n/mapr/newyork/b paused=true\n' >>"$A/.replicas"
	local before
	before=$(config_of "$A/.replicas")
	[ "$before" = $'/mapr/newyork/a synchronous=false paused=false\n/mapr/newyork/b synchronous=false paused=true' ]
	# one write, opened with O_TRUNC like '>', with a bad line
	run write_once -t "$A/.replicas" $'/mapr/newyork/b\n/mapr/nowhere/x\n'
	[ "$status" -ne 0 ]
	[ "$output" = "No such file or directory" ]
	[ "$(config_of "$A/.replicas")" = "$before" ]
	# the same through the shell
	run bash -c 'echo "/mapr/newyork/a colour=blue" >"$1"' _ "$A/.replicas"
	[ "$status" -ne 0 ]
	[[ $output == *"Invalid argument"* ]]
	[ "$(config_of "$A/.replicas")" = "$before" ]
	run write_once -t "$B/.upstreams" $'/mapr/newyork/b\n/mapr/newyork/a\n'
	[ "$status" -ne 0 ]
	[ "$output" = "Invalid argument" ]
	[ "$(config_of "$B/.upstreams")" = "/mapr/sanfrancisco/a" ]
}

@test "a line refused in a later write than its start changes nothing, also at the close; one warn line" {
	echo /mapr/newyork/a >>"$A/.replicas"
	local before n
	before=$(config_of "$A/.replicas")
	# write_chunks FILE CHUNK...: one write() per chunk, each one's result,
	# then the close's
	write_chunks() {
		python3 - "$@" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for c in sys.argv[2:]:
    try:
        print(os.write(fd, c.encode()))
    except OSError as e:
        print(os.strerror(e.errno))
try:
    os.close(fd)
    print("closed")
except OSError as e:
    print("close: " + os.strerror(e.errno))
PY
	}
	# the start of the line would add a replica, or remove one, on its own
	n=$(warns)
	run write_chunks "$A/.replicas" /mapr/newyork/b $' paused=maybe
'
	[ "${lines[0]}" = 15 ]
	[ "${lines[1]}" = "Invalid argument" ]
	[ "${lines[2]}" = closed ]
	[ "$(config_of "$A/.replicas")" = "$before" ]
	[ "$(warns)" -eq $((n + 1)) ]
	run write_chunks "$A/.replicas" -/mapr/newyork/a $' paused=true
'
	[ "${lines[1]}" = "Invalid argument" ]
	[ "${lines[2]}" = closed ]
	[ "$(config_of "$A/.replicas")" = "$before" ]
	# a line too long to hold: what was held before it is dropped too
	run write_chunks "$A/.replicas" -/mapr/newyork/a "$(printf '%*s' 70000 '')"
	[ "${lines[1]}" = "Invalid argument" ]
	[ "${lines[2]}" = closed ]
	[ "$(config_of "$A/.replicas")" = "$before" ]
	# a refused line and the start of the next in one write: none of it
	run write_chunks "$B/.upstreams" $'/mapr/nowhere/x
/mapr/newyork/b'
	[ "${lines[0]}" = "No such file or directory" ]
	[ "${lines[1]}" = closed ]
	[ "$(config_of "$B/.upstreams")" = /mapr/sanfrancisco/a ]
	# a later write after a refusal starts a new line
	run write_chunks "$A/.replicas" /mapr/newyork/b $' colour=blue
' $'/mapr/newyork/a paused=true
'
	[ "${lines[1]}" = "Invalid argument" ]
	[ "${lines[2]}" = 28 ]
	[ "$(config_of "$A/.replicas")" = "/mapr/newyork/a synchronous=false paused=true" ]
}

@test "64 replicas and 64 upstreams work, the 65th fails with ENOSPC" {
	local i list=
	for i in $(seq 1 65); do
		mkdir "$M/newyork/r$i"
	done
	for i in $(seq 1 64); do
		list+="/mapr/newyork/r$i"$'\n'
	done
	# 65 in one write into an empty set: refused, nothing added
	run write_once "$A/.replicas" "$list/mapr/newyork/r65"$'\n'
	[ "$status" -ne 0 ]
	[ "$output" = "No space left on device" ]
	[ "$(cat "$A/.replicas")" = "" ]
	# 64 work
	run write_once "$A/.replicas" "$list"
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$A/.replicas")" -eq 64 ]
	# the 65th does not
	run bash -c 'echo /mapr/newyork/r65 >>"$1"' _ "$A/.replicas"
	[ "$status" -ne 0 ]
	[[ $output == *"No space left on device"* ]]
	[ "$(wc -l <"$A/.replicas")" -eq 64 ]
	! grep -q r65 "$A/.replicas" || false
	# updating one of the 64 is fine
	echo "/mapr/newyork/r64 paused=true" >>"$A/.replicas"
	grep -q '^/mapr/newyork/r64 synchronous=false paused=true' "$A/.replicas"

	# upstreams: the same limit (B2 lists A already: 63 more make 64)
	list=
	for i in $(seq 1 63); do
		list+="/mapr/newyork/r$i"$'\n'
	done
	run write_once "$B2/.upstreams" "$list"
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$B2/.upstreams")" -eq 64 ]
	run bash -c 'echo /mapr/newyork/r64 >>"$1"' _ "$B2/.upstreams"
	[ "$status" -ne 0 ]
	[[ $output == *"No space left on device"* ]]
	[ "$(wc -l <"$B2/.upstreams")" -eq 64 ]
	# kept across a restart
	sfs_restart
	[ "$(wc -l <"$A/.replicas")" -eq 64 ]
	[ "$(wc -l <"$B2/.upstreams")" -eq 64 ]
}

@test "reading .replicas: the configuration, then the status after ' # '" {
	mkdir "$M/sanfrancisco/activity" "$M/newyork/activity"
	echo /mapr/sanfrancisco/activity >>"$M/newyork/activity/.upstreams"
	echo hello >>"$M/sanfrancisco/activity/t"
	echo /mapr/newyork/activity >>"$M/sanfrancisco/activity/.replicas"
	wait_for count_is 1 "$M/newyork/activity/t"
	wait_for caught_up "$M/sanfrancisco/activity/.replicas"
	run cat "$M/sanfrancisco/activity/.replicas"
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} =~ ^/mapr/newyork/activity\ synchronous=false\ paused=false\ #\ state=REPLICATING\ pending=0\ uptodate=true( |$) ]]
	# st_size is the length of what is read
	[ "$(stat -c %s "$M/sanfrancisco/activity/.replicas")" -eq "$(cat "$M/sanfrancisco/activity/.replicas" | wc -c)" ]
	# .upstreams shows its configuration the same way
	[ "$(config_of "$M/newyork/activity/.upstreams")" = /mapr/sanfrancisco/activity ]
	# paused shows in both parts
	echo "/mapr/newyork/activity paused=true" >>"$M/sanfrancisco/activity/.replicas"
	run cat "$M/sanfrancisco/activity/.replicas"
	[[ ${lines[0]} =~ ^/mapr/newyork/activity\ synchronous=false\ paused=true\ #\ state=PAUSED( |$) ]]
}

@test "round trip: cat .replicas > f; cat f > .replicas changes nothing and replication continues" {
	messages 2 1
	printf '/mapr/newyork/a\n/mapr/newyork/b paused=true\n' >>"$A/.replicas"
	wait_for count_is 2 "$B/t"
	wait_for bash -c '[[ $(grep -c "pending=0 uptodate=true" "$1") -eq 1 ]]' _ "$A/.replicas"
	cat "$A/.replicas" >"$TMP/f"
	cat "$TMP/f" >"$A/.replicas"
	cat "$A/.replicas" >"$TMP/g"
	diff "$TMP/f" "$TMP/g"
	cat "$B/.upstreams" >"$TMP/u"
	cat "$TMP/u" >"$B/.upstreams"
	diff "$TMP/u" <(cat "$B/.upstreams")
	# replication continues, from where it was
	messages 1 3
	wait_for count_is 3 "$B/t"
	repl_quiet sanfrancisco/a
	[ "$(cat "$B/t")" = $'m1\nm2\nm3' ]
	[ ! -e "$B2/t" ]	# still paused
}

@test ".info is JSON with uuid, topics and message counts, replicas with state and pending, last error; it is read only" {
	messages 4 1
	echo x >>"$A/u"
	echo /mapr/newyork/a >>"$A/.replicas"
	wait_for count_is 4 "$B/t"
	wait_for caught_up "$A/.replicas"
	jq . "$A/.info" >/dev/null
	[[ $(jq -r .uuid "$A/.info") =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]
	# B is a different stream with a different UUID
	[ "$(jq -r .uuid "$B/.info")" != "$(jq -r .uuid "$A/.info")" ]
	[ "$(jq -c '[.topics[] | {name, messages}] | sort_by(.name)' "$A/.info")" = \
		'[{"name":"t","messages":4},{"name":"u","messages":1}]' ]
	[ "$(jq -c '[.replicas[] | {replicaState, putsPending}]' "$A/.info")" = \
		'[{"replicaState":"REPLICA_STATE_REPLICATING","putsPending":0}]' ]
	[ "$(jq -r .lastError "$A/.info")" = "" ]
	# pending messages of a paused replica are counted
	echo "/mapr/newyork/a paused=true" >>"$A/.replicas"
	messages 3 5
	[ "$(jq '.replicas[0].putsPending' "$A/.info")" -eq 3 ]
	[ "$(jq '.topics[] | select(.name == "t") | .messages' "$A/.info")" -eq 7 ]
	# the last refused write shows in lastError
	run bash -c 'echo /mapr/nowhere/x >>"$1"' _ "$A/.replicas"
	[ "$status" -ne 0 ]
	[[ $(jq -r .lastError "$A/.info") == *nowhere* ]]
	run bash -c 'echo "/mapr/newyork/a colour=blue" >>"$1"' _ "$A/.replicas"
	[ "$status" -ne 0 ]
	[[ $(jq -r .lastError "$A/.info") == *colour* ]]
	# writing .info fails, whether '>' or '>>'
	cp "$A/.info" "$TMP/info.before"
	run bash -c 'echo "{}" >"$1"' _ "$A/.info"
	[ "$status" -ne 0 ]
	run bash -c 'echo "{}" >>"$1"' _ "$A/.info"
	[ "$status" -ne 0 ]
	run truncate -s 0 "$A/.info"
	[ "$status" -ne 0 ]
	jq . "$A/.info" >/dev/null
	[ "$(jq -c '.topics' "$A/.info")" = "$(jq -c '.topics' "$TMP/info.before")" ]
}

@test "a refused write holding bytes that are not UTF-8, or terminal escapes, leaves .info readable: lastError shows such bytes as \\xNN and holds no escape character; the stream stays in /.info (maprcli reads .info)" {
	echo /mapr/newyork/a >>"$A/.replicas"
	local bad
	for bad in $'\xff' $'/mapr/newyork/a paused=\xfe' $'\e[31mred'; do
		run bash -c 'printf "%s\n" "$2" >>"$1"' _ "$A/.replicas" "$bad"
		[ "$status" -ne 0 ]
		jq . "$A/.info" >/dev/null
	done
	# the last one: no ESC left in it
	[[ $(jq -r .lastError "$A/.info") == *'[31mred'* ]]
	[[ $(jq -r .lastError "$A/.info") != *$'\e'* ]]
	run bash -c 'printf "\xff\n" >>"$1"' _ "$A/.upstreams"
	[ "$status" -ne 0 ]
	[[ $(jq -r .lastError "$A/.info") == *'\xFF'* ]]
	jq -e '.streams[] | select(.path == "/mapr/sanfrancisco/a")' "$M/.info" >/dev/null
	# nothing changed: the one replica, replicating
	[ "$(jq -c '[.replicas[] | {replicaPath, paused}]' "$A/.info")" = \
		'[{"replicaPath":"/mapr/newyork/a","paused":false}]' ]
	! grep -q $'\033' "$TMP/streamfs.log" || false
}

@test "each refused write logs exactly one warn line" {
	echo /mapr/newyork/a >>"$A/.replicas"
	local n bad
	for bad in /mapr/nowhere/x /mapr/newyork/nosuchstream "/mapr/newyork/b colour=blue" \
		/mapr/sanfrancisco/a "not a path"; do
		n=$(warns)
		run bash -c 'echo "$2" >>"$1"' _ "$A/.replicas" "$bad"
		[ "$status" -ne 0 ]
		echo "'$bad': $(($(warns) - n)) warn lines"
		[ "$(warns)" -eq $((n + 1)) ]
	done
	# a two-line write with one bad line: one line too
	n=$(warns)
	run write_once "$A/.upstreams" $'/mapr/newyork/b\n/mapr/nowhere/x\n'
	[ "$status" -ne 0 ]
	[ "$(warns)" -eq $((n + 1)) ]
	# the 65th upstream
	local i list=
	for i in $(seq 1 65); do
		mkdir "$M/sanfrancisco/r$i"
		list+="/mapr/sanfrancisco/r$i"$'\n'
	done
	n=$(warns)
	run write_once "$B/.upstreams" "$list"
	[ "$status" -ne 0 ]
	[ "$(warns)" -eq $((n + 1)) ]
	# the log line gives the reason
	tail -n 1 "$TMP/streamfs.log" | grep -q ' warn: '
	# writing .info
	n=$(warns)
	run bash -c 'echo x >>"$1"' _ "$A/.info"
	[ "$status" -ne 0 ]
	[ "$(warns)" -eq $((n + 1)) ]
	# and a good write logs no warning
	n=$(warns)
	echo "/mapr/newyork/a paused=true" >>"$A/.replicas"
	[ "$(warns)" -eq "$n" ]
}

@test "'>' on a control file holds at most 1 MiB: past it the write fails with EFBIG and nothing changes; each line is parsed once" {
	echo /mapr/newyork/a >>"$A/.replicas"
	cat "$A/.replicas" >"$TMP/before"
	# 2 MiB of comments and a valid line: refused, the set unchanged
	python3 -c '
import sys
line = b"# " + b"x" * 98 + b"\n"
sys.stdout.buffer.write(line * 20000 + b"/mapr/newyork/b\n")' >"$TMP/big"
	run bash -c 'cat "$1" >"$2"' _ "$TMP/big" "$A/.replicas"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"File too large"* ]]
	diff <(config_of "$A/.replicas") <(config_of "$TMP/before")
	grep -q "more than 1048576 bytes" "$TMP/streamfs.log"
	# 900 KiB of comments around two lines, written in 4 KiB pieces: fine,
	# and the set is exactly those two
	python3 -c '
import sys
line = b"# " + b"y" * 98 + b"\n"
sys.stdout.buffer.write(line * 4600 + b"/mapr/newyork/b\n" + line * 4600 + b"/mapr/newyork/a paused=true\n")' >"$TMP/ok"
	dd if="$TMP/ok" of="$A/.replicas" bs=4096 status=none
	run config_of "$A/.replicas"
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "/mapr/newyork/b synchronous=false paused=false" ]
	[ "${lines[1]}" = "/mapr/newyork/a synchronous=false paused=true" ]
	# an error names its line counted from the first line of the file
	printf '# one\n# two\n/mapr/newyork/b\n/mapr/nosuchcluster/x\n' >"$TMP/bad"
	run dd if="$TMP/bad" of="$A/.replicas" bs=8 status=none
	[ "$status" -ne 0 ]
	grep -q 'line 4: ' "$TMP/streamfs.log"
}

@test ".upstreams and .info show an upstream's UUID only to those who may read that stream; the log escapes bytes outside printable ASCII" {
	[[ $EUID -eq 0 ]] || skip "needs root (setpriv, chmod of others' streams)"
	chmod 0755 "$TMP"
	local P=$M/sanfrancisco/private u
	mkdir "$P"
	chmod 0700 "$P"
	u=$(jq -r .uuid "$P/.info")
	echo /mapr/sanfrancisco/private >>"$B/.upstreams"
	# root reads it
	grep -q "^/mapr/sanfrancisco/private # uuid=$u" "$B/.upstreams"
	# nobody may not read sanfrancisco/private: no UUID for nobody
	run setpriv --reuid=65534 --regid=65534 --clear-groups cat "$B/.upstreams"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"/mapr/sanfrancisco/private # uuid=hidden"* ]]
	[[ $output != *"$u"* ]]
	run setpriv --reuid=65534 --regid=65534 --clear-groups cat "$B/.info"
	[ "$status" -eq 0 ]
	[[ $output != *"$u"* ]]
	# readable to others: shown to nobody too
	chmod 0755 "$P"
	run setpriv --reuid=65534 --regid=65534 --clear-groups cat "$B/.upstreams"
	[[ $output == *"uuid=$u"* ]]
	# a name with control characters (and a newline) refused: escaped in
	# the log, one line
	run touch "$B/bad"$'\033[31mred\nforged line'
	[ "$status" -ne 0 ]
	grep -F 'bad\x1b[31mred\x0aforged line' "$TMP/streamfs.log"
	! grep -q $'\033' "$TMP/streamfs.log" || false
	! grep -q '^forged line' "$TMP/streamfs.log" || false
}
