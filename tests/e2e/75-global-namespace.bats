#!/usr/bin/env bats
# 75-global-namespace.bats - every cluster usable from every host
# (docs/global-namespace.md): host a (sanfrancisco) browses, reads, appends
# to and administers host b's cluster london under its own mount, through
# b's gateway, as far as b's [cluster sanfrancisco] access allows; b's
# daemon decides every request with its own rules, as the caller.

load helpers
load replication_helpers
load netns_helpers
load gateway_helpers
bats_require_minimum_version 1.5.0

# Host a's view of london, and b's own.
gn_hosts() {
	hosts a b
	RA=${NH_MNT[a]}/london
}

# gone PID: PID has exited (a zombie counts).
gone() {
	! _sfs_alive "$1"
}

# nlines_is FILE N: FILE has N lines.
nlines_is() {
	[ "$(wc -l <"$1")" -eq "$2" ]
}

# fails_with REGEX CMD...: CMD fails, and what it prints matches REGEX.
fails_with() {
	local want=$1
	shift
	run "$@"
	[ "$status" -ne 0 ] || { echo "succeeded: $*"; return 1; }
	[[ $output =~ $want ]] || { echo "wanted '$want', got: $output"; return 1; }
}

@test "ls /mapr lists every cluster; with access = read a remote cluster's streams, topics and control files read as on its host" {
	NH_ACCESS[b]=read
	gn_hosts
	seq -f 'm%.0f' 1 500 >>"$B/s/t"
	printf 'one\ntwo\n' >>"$B/s/u"
	echo /mapr/sanfrancisco/s >>"$B/s/.upstreams"
	run ls "${NH_MNT[a]}"
	[[ $output == *london* && $output == *sanfrancisco* ]]
	run ls -a "$RA/s"
	[ "$output" = "$(ls -a "$B/s")" ]
	[ "$(ls "$RA")" = s ]
	# bytes, sizes, positions: the same as there
	[ "$(stat -c %s "$RA/s/t")" = "$(stat -c %s "$B/s/t")" ]
	[ "$(stat -c '%a %u %g' "$RA/s/t")" = "$(stat -c '%a %u %g' "$B/s/t")" ]
	cmp "$RA/s/t" "$B/s/t"
	[ "$(dd if="$RA/s/t" bs=1 skip=1000 count=7 2>/dev/null)" = "$(dd if="$B/s/t" bs=1 skip=1000 count=7 2>/dev/null)" ]
	[ "$(cat "$RA/s/u")" = "$(printf 'one\ntwo')" ]
	cmp "$RA/s/.upstreams" "$B/s/.upstreams"
	grep -q '^/mapr/sanfrancisco/s' "$RA/s/.upstreams"
	[ "$(jq -r .path "$RA/s/.info")" = /mapr/london/s ]
	[ "$(jq -r .uuid "$RA/s/.info")" = "$(jq -r .uuid "$B/s/.info")" ]
	# the mount's /.info says london is reachable, and how
	[ "$(jq -r '.clusters[] | select(.name == "london") | "\(.home) \(.reachable)"' "${NH_MNT[a]}/.info")" = "remote true" ]
	# what does not exist there does not exist here
	fails_with "No such file" cat "$RA/s/nope"
	fails_with "No such file" ls "$RA/nope"
	# read is all: no append, no topic, no stream, no control file
	fails_with "Permission denied" bash -c "echo x >> '$RA/s/t'"
	fails_with "Permission denied" mkdir "$RA/s2"
	fails_with "Permission denied" bash -c "echo /mapr/x/y >> '$RA/s/.upstreams'"
	fails_with "Permission denied" rm "$RA/s/u"
	[ "$(wc -l <"$B/s/t")" -eq 500 ]
	[ -f "$B/s/u" ]
	# and each refusal is one line in the serving daemon's log
	in_log b 'refused: open /london/s/t as uid 0: Permission denied: open for writing needs access = write'
}

@test "access = replicate (the default) exposes nothing; the cluster is still listed" {
	gn_hosts
	echo secret >>"$B/s/t"
	run ls "${NH_MNT[a]}"
	[[ $output == *london* ]]
	fails_with "Permission denied" ls "$RA"
	fails_with "Permission denied" cat "$RA/s/t"
	in_log b 'refused: (getattr|readdir) /london as uid 0: Permission denied: (getattr|readdir) needs access = read'
}

@test "access = write: appends return after the serving daemon stored them, lines of one write never interleave; topics made and removed; streams and control files need admin" {
	NH_ACCESS[b]=write
	gn_hosts
	# root here acts as nobody there (below admin): a stream all may use
	chmod 1777 "$B/s"
	echo first >>"$RA/s/t"
	# visible there at once: the append returned after b stored it
	[ "$(cat "$B/s/t")" = first ]
	# four writers here, each write() ten lines, while b appends too
	local w pids=()
	for w in 1 2 3 4; do
		# seq: one write(2) for the ten lines (stdio, fully buffered
		# to a file; bash's echo and printf write a line at a time)
		(for i in $(seq 1 40); do
			seq -f "w$w-$i-%.0f" 1 10 >>"$RA/s/t" || exit 1
		done) &
		pids+=($!)
	done
	(for i in $(seq 1 100); do echo "b-$i" >>"$B/s/t"; done) &
	pids+=($!)
	REPL_BG+=("${pids[@]}")
	for w in "${pids[@]}"; do
		wait "$w"
	done
	[ "$(wc -l <"$B/s/t")" -eq $((1 + 4 * 40 * 10 + 100)) ]
	# every write's ten lines are contiguous, in order
	for w in 1 2 3 4; do
		for i in 1 7 40; do
			grep -A9 -x "w$w-$i-1" "$B/s/t" | paste -sd' ' | grep -qx "w$w-$i-1 w$w-$i-2 w$w-$i-3 w$w-$i-4 w$w-$i-5 w$w-$i-6 w$w-$i-7 w$w-$i-8 w$w-$i-9 w$w-$i-10"
		done
	done
	cmp "$RA/s/t" "$B/s/t"
	# a line in pieces, finished by the close
	printf 'pie' >>"$RA/s/p"
	[ "$(cat "$RA/s/p")" = pie ]
	[ "$(cat "$B/s/p")" = pie ]
	# one byte over max_message there: refused whole
	fails_with "Message too long" bash -c "head -c 1048577 /dev/zero | tr '\\0' x >> '$RA/s/big'"
	[ "$(stat -c %s "$B/s/big")" -eq 0 ]
	# topics: made and removed; truncation refused as there
	touch "$RA/s/new"
	[ -f "$B/s/new" ]
	rm "$RA/s/new"
	[ ! -e "$B/s/new" ]
	fails_with "Operation not permitted" bash -c ": > '$RA/s/t'"
	# streams and control files: admin only
	fails_with "Permission denied" mkdir "$RA/s2"
	fails_with "Permission denied" rmdir "$RA/s"
	fails_with "Permission denied" bash -c "echo /mapr/x/y >> '$RA/s/.upstreams'"
	[ ! -s "$B/s/.upstreams" ] || ! grep -q /mapr/x/y "$B/s/.upstreams"
}

@test "access = admin: streams made and removed, control files validated whole by the serving daemon, chmod and chown; root stays root" {
	NH_ACCESS[b]=admin
	gn_hosts
	mkdir "$RA/s2"
	[ -d "$B/s2" ]
	echo /mapr/sanfrancisco/s >>"$RA/s2/.upstreams"
	grep -q '^/mapr/sanfrancisco/s' "$B/s2/.upstreams"
	# a bad line: refused whole, nothing changed, the reason there
	fails_with "Invalid argument" bash -c "printf '/mapr/a/b\\nnot a path\\n' >> '$RA/s2/.upstreams'"
	[ "$(grep -c '^/mapr' "$B/s2/.upstreams")" -eq 1 ]
	# a refused write leaves nothing for the close to send: neither what
	# follows its last newline, nor a line's start from a write before
	local chunks
	for chunks in 'not a path\n/mapr/sanfrancisco/q' '/mapr/sanfrancisco/r| x=y\n' \
		"/mapr/sanfrancisco/r|$(printf '%*s' 70000 '')"; do
		run python3 - "$RA/s2/.upstreams" "$chunks" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for c in sys.argv[2].replace("\\n", "\n").split("|"):
    try:
        os.write(fd, c.encode())
        print("ok")
    except OSError as e:
        print(os.strerror(e.errno))
os.close(fd)
print("closed")
PY
		[[ $output == *"Invalid argument"* ]]
		[ "${lines[-1]}" = closed ]
		[ "$(grep -c '^/mapr' "$B/s2/.upstreams")" -eq 1 ]
	done
	# a replace
	echo /mapr/sanfrancisco/p >"$RA/s2/.upstreams"
	[ "$(grep '^/mapr' "$B/s2/.upstreams" | cut -d' ' -f1)" = /mapr/sanfrancisco/p ]
	echo x >>"$RA/s2/t"
	chmod 640 "$RA/s2/t"
	[ "$(stat -c %a "$B/s2/t")" = 640 ]
	chown 1234:1234 "$RA/s2/t"
	[ "$(stat -c '%u %g' "$B/s2/t")" = "1234 1234" ]
	fails_with "Directory not empty" rmdir "$RA/s2"
	rm "$RA/s2/t"
	rmdir "$RA/s2"
	[ ! -e "$B/s2" ]
	# statfs answers for the remote cluster
	df "$RA" >/dev/null
}

@test "the caller's uid and gids travel: the serving daemon checks its modes; root is squashed below admin" {
	NH_ACCESS[b]=write
	gn_hosts
	echo private >>"$B/s/mine"
	chown 1000:1000 "$B/s/mine"
	chmod 600 "$B/s/mine"
	echo shared >>"$B/s/grp"
	chown 0:2000 "$B/s/grp"
	chmod 640 "$B/s/grp"
	chmod 1777 "$B/s"
	# users other than root reach host a's mount
	chmod 755 "$NH_DIR" "$NH_DIR/a"
	# the owner reads it, another user does not
	[ "$(setpriv --reuid 1000 --regid 1000 --clear-groups cat "$RA/s/mine")" = private ]
	fails_with "Permission denied" setpriv --reuid 1001 --regid 1001 --clear-groups cat "$RA/s/mine"
	# a supplementary group counts
	[ "$(setpriv --reuid 1001 --regid 1001 --groups 2000 cat "$RA/s/grp")" = shared ]
	fails_with "Permission denied" setpriv --reuid 1001 --regid 1001 --clear-groups cat "$RA/s/grp"
	# root here is nobody there: it cannot read the user's 600 topic
	fails_with "Permission denied" cat "$RA/s/mine"
	# nor is group 0 root's group there (knfsd's root_squash squashes it)
	echo rootgrp >>"$B/s/rootgrp"
	chmod 640 "$B/s/rootgrp"
	fails_with "Permission denied" setpriv --reuid 4242 --regid 0 --clear-groups cat "$RA/s/rootgrp"
	fails_with "Permission denied" setpriv --reuid 4242 --regid 4242 --groups 0 cat "$RA/s/rootgrp"
	# what a user makes there is theirs
	setpriv --reuid 1001 --regid 1001 --clear-groups bash -c "echo hi >> '$RA/s/his'"
	[ "$(stat -c '%u %g' "$B/s/his")" = "1001 1001" ]
}

@test "a daemon whose certificate comes from another CA gets nothing" {
	NH_ACCESS[b]=admin
	gn_hosts
	echo secret >>"$B/s/t"
	nh_stop a
	bash "$STREAMFS_SRC/scripts/gateway-certs.sh" ca "$NH_DIR/rogue" >/dev/null 2>&1
	bash "$STREAMFS_SRC/scripts/gateway-certs.sh" cert "$NH_DIR/rogue" a sanfrancisco >/dev/null 2>&1
	NH_CERT[a]=$NH_DIR/rogue/a
	nh_conf a
	nh_start a
	fails_with "Host is down" cat "${NH_MNT[a]}/london/s/t"
	fails_with "Host is down" ls "${NH_MNT[a]}/london"
	run ls "${NH_MNT[a]}"
	[[ $output == *london* ]]
}

# fuse_waiting PID: PID waits for a FUSE answer (in the kernel's
# request_wait_answer).
fuse_waiting() {
	[[ $(cat "/proc/$1/wchan" 2>/dev/null) == request_wait_answer ]]
}

# sigint_waiting_fuse PID: PID no longer ignores SIGINT and waits for a
# FUSE answer.
sigint_waiting_fuse() {
	local ign
	ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null) || return 1
	[[ -n $ign ]] && ((!(16#$ign & 2))) && fuse_waiting "$1"
}

@test "a signal ends an operation waiting for a remote that does not answer" {
	NH_ACCESS[b]=read
	GW_TIMEOUT=20000
	gn_hosts
	echo one >>"$B/s/t"
	[ "$(cat "$RA/s/t")" = one ]
	nh_stop_signal b STOP
	# a reader as a terminal's would be: SIGINT kills it (a background
	# job of a shell without job control starts with SIGINT ignored)
	python3 -c 'import signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
sys.stdout.buffer.write(open(sys.argv[1], "rb").read())' "$RA/s/t" >/dev/null 2>&1 &
	local catpid=$!
	REPL_BG+=("$catpid")
	# it has made SIGINT deadly again (python starts slowly on a loaded
	# machine; a SIGINT before that would be ignored) and waits for the
	# daemon's answer (which may take timeout_ms, 20 s)...
	wait_for -t 20 sigint_waiting_fuse "$catpid"
	_sfs_alive "$catpid"
	# ...until Ctrl-C: it ends long before the 20 s (5 s: a loaded machine)
	kill -INT "$catpid"
	wait_for -t 5 gone "$catpid"
	nh_stop_signal b CONT
	[ "$(cat "$RA/s/t")" = one ]
	# and this daemon's stop (SIGTERM) ends such a wait too: it does not
	# sit out the 20 s
	nh_stop_signal b STOP
	cat "$RA/s/t" >/dev/null 2>&1 &
	catpid=$!
	REPL_BG+=("$catpid")
	wait_for -t 20 fuse_waiting "$catpid"
	local t0=$SECONDS
	nh_stop a
	((SECONDS - t0 <= 8))
	wait_for -t 5 gone "$catpid"
	nh_stop_signal b CONT
}

@test "a remote that cannot be reached fails within timeout_ms, local clusters go on; tail -f carries on after the link returns" {
	NH_ACCESS[b]=read
	GW_TIMEOUT=2000
	gn_hosts
	seq -f 'n%.0f' 1 50 >>"$B/s/t"
	tail -n +1 -f "$RA/s/t" >"$NH_DIR/tail.out" 2>"$NH_DIR/tail.err" &
	local tailpid=$!
	REPL_BG+=("$tailpid")
	wait_for -t 10 nlines_is "$NH_DIR/tail.out" 50
	# b frozen: an operation fails within timeout_ms, never hangs
	nh_stop_signal b STOP
	local t0=$SECONDS
	fails_with "Connection timed out|Host is down" stat "$RA/s/t"
	((SECONDS - t0 <= 6))
	# the cluster is still listed; the local one is untouched
	run ls "${NH_MNT[a]}"
	[[ $output == *london* ]]
	echo local >>"$A/s/t"
	[ "$(cat "$A/s/t")" = local ]
	nh_stop_signal b CONT
	# the link cut, b appends on; tail waits, then picks up where it was
	nh_link_down b
	seq -f 'n%.0f' 51 100 >>"$B/s/t"
	fails_with "Connection timed out|Host is down" stat "$RA/s/t"
	nh_link_up b
	wait_for -t 20 nlines_is "$NH_DIR/tail.out" 100 || {
		wc -l "$NH_DIR/tail.out"
		cat "$NH_DIR/tail.err"
		stat "$RA/s/t"
		false
	}
	kill "$tailpid"
	wait "$tailpid" 2>/dev/null || true
	[ "$(cat "$NH_DIR/tail.out")" = "$(seq -f 'n%.0f' 1 100)" ]
}

@test "the seed's command verbatim, run on the sanfrancisco host, sets up multi-master with newyork on another host; again it fails clearly" {
	# hosts a (sanfrancisco) and b (newyork), each letting the other
	# administer: MapR's "logged into both clusters"
	nh_host a 198.18.0.1 sanfrancisco
	nh_host b 198.18.0.2 newyork
	NH_ACCESS[a]=admin
	NH_ACCESS[b]=admin
	NH_CONF_EXTRA[a]="timeout_ms = $GW_TIMEOUT"
	NH_CONF_EXTRA[b]="timeout_ms = $GW_TIMEOUT"
	nh_setup
	nh_start a
	nh_start b
	local SF=${NH_MNT[a]}/sanfrancisco/activity NY=${NH_MNT[b]}/newyork/activity
	mkdir "$SF"
	seq -f 'sf-old-%.0f' 1 200 >>"$SF/logins"
	# never "cluster 'newyork' does not exist"
	run env STREAMFS_MOUNT="${NH_MNT[a]}" "$STREAMFS_SRC/maprcli" stream info -path /mapr/newyork/nope
	[[ $output != *"cluster 'newyork' does not exist"* ]]
	[[ $output == *"stream /mapr/newyork/nope does not exist"* ]]
	# the seed's command, word for word, with -wait showing the copy
	run -0 env STREAMFS_MOUNT="${NH_MNT[a]}" "$STREAMFS_SRC/maprcli" stream replica autosetup -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity -multimaster yes -wait -timeout 60
	[ -d "$NY" ]
	grep -q '^/mapr/newyork/activity ' "$SF/.replicas"
	grep -q '^/mapr/sanfrancisco/activity ' "$NY/.replicas"
	grep -q '^/mapr/newyork/activity' "$SF/.upstreams"
	grep -q '^/mapr/sanfrancisco/activity' "$NY/.upstreams"
	# -wait returned after the copy: all 200 are there
	[ "$(wc -l <"$NY/logins")" -eq 200 ]
	# both ways, exactly once
	echo from-ny >>"$NY/logins"
	echo from-sf >>"$SF/logins"
	wait_for -t 20 nlines_is "$SF/logins" 202
	wait_for -t 20 nlines_is "$NY/logins" 202
	[ "$(sort "$SF/logins")" = "$(sort "$NY/logins")" ]
	# again: fails clearly, changes nothing
	run -1 env STREAMFS_MOUNT="${NH_MNT[a]}" "$STREAMFS_SRC/maprcli" stream replica autosetup -path /mapr/sanfrancisco/activity -replica /mapr/newyork/activity -multimaster yes
	[[ $output == *"already exists"* ]]
	# and the replica lists from sanfrancisco's host as from its own
	run -0 env STREAMFS_MOUNT="${NH_MNT[a]}" "$STREAMFS_SRC/maprcli" stream replica list -path /mapr/newyork/activity -json
	[[ $output == *'"replicaPath":"/mapr/sanfrancisco/activity"'* ]]
}

@test "maprcli on a remote cluster: every verb, as on its host" {
	NH_ACCESS[b]=admin
	gn_hosts
	mc() { env STREAMFS_MOUNT="${NH_MNT[a]}" "$STREAMFS_SRC/maprcli" "$@"; }
	run -0 mc stream create -path /mapr/london/m
	[ -d "$B/m" ]
	run -0 mc stream info -path /mapr/london/m -json
	[[ $output == *'"path":"/mapr/london/m"'* ]]
	run -0 mc stream topic create -path /mapr/london/m -topic t1
	[ -f "$B/m/t1" ]
	echo hello >>"$B/m/t1"
	run -0 mc stream topic list -path /mapr/london/m -json
	[[ $output == *'"topic":"t1"'* ]]
	run -0 mc stream topic info -path /mapr/london/m -topic t1 -json
	run -0 mc stream upstream add -path /mapr/london/m -upstream /mapr/sanfrancisco/s
	grep -q '^/mapr/sanfrancisco/s' "$B/m/.upstreams"
	run -0 mc stream upstream list -path /mapr/london/m -json
	[[ $output == *sanfrancisco* ]]
	run -0 mc stream replica add -path /mapr/london/m -replica /mapr/sanfrancisco/s -paused true
	grep -q '^/mapr/sanfrancisco/s .*paused=true' "$B/m/.replicas"
	run -0 mc stream replica resume -path /mapr/london/m -replica /mapr/sanfrancisco/s
	run -0 mc stream replica pause -path /mapr/london/m -replica /mapr/sanfrancisco/s
	run -0 mc stream replica edit -path /mapr/london/m -replica /mapr/sanfrancisco/s -synchronous true
	grep -q '^/mapr/sanfrancisco/s synchronous=true paused=true' "$B/m/.replicas"
	run -0 mc stream replica list -path /mapr/london/m -json
	[[ $output == *'"replicaPath":"/mapr/sanfrancisco/s"'* ]]
	run -0 mc stream replica remove -path /mapr/london/m -replica /mapr/sanfrancisco/s
	! grep -q '^/mapr/sanfrancisco/s' "$B/m/.replicas"
	run -0 mc stream upstream remove -path /mapr/london/m -upstream /mapr/sanfrancisco/s
	run -0 mc stream topic delete -path /mapr/london/m -topic t1
	[ ! -e "$B/m/t1" ]
	run -0 mc stream delete -path /mapr/london/m
	[ ! -e "$B/m" ]
	# what does not exist there is named as such, never the cluster
	run -1 mc stream info -path /mapr/london/nope
	[[ $output == *"stream /mapr/london/nope does not exist"* ]]
}

# forge_fs HOST_CERT ARGS...: a hello to london and GW_FS requests
# (tests/gateway/forge.py --fs) sent from host a with certificate
# HOST_CERT, the answers one per line. The input stays open 3 s after the
# requests (s_client -no_ign_eof ends when it does): on a loaded host an
# answer could come after s_client had gone, and the case saw none.
forge_fs() {
	local cert=$1
	shift
	{
		python3 "$STREAMFS_SRC/tests/gateway/forge.py" --dst-cluster london "$@"
		sleep 3
	} |
		nh_exec a timeout 10 openssl s_client -quiet -no_ign_eof \
			-connect 198.18.0.2:5660 -cert "$NH_DIR/certs/$cert.crt" \
			-key "$NH_DIR/certs/$cert.key" -CAfile "$NH_DIR/certs/ca.crt" 2>/dev/null |
		python3 "$STREAMFS_SRC/tests/gateway/forge.py" --fsresults
}

@test "a peer with access = write changes no control file, however its daemon asks" {
	NH_ACCESS[b]=write
	gn_hosts
	chmod 1777 "$B/s"
	echo /mapr/sanfrancisco/s >>"$B/s/.upstreams"
	local before
	before=$(cat "$B/s/.upstreams")
	# what a daemon sends for "> .upstreams": refused for its level
	run forge_fs a --fs 'writectl,s,.upstreams,/mapr/sanfrancisco/evil\n'
	[[ $output == *"-13 write needs access = admin"* ]]
	# an append, a create or an unlink naming a control file: no daemon
	# sends it; refused as a protocol violation, the connection closed
	run forge_fs a --fs 'append,s,.upstreams,/mapr/sanfrancisco/evil\n'
	echo "append: $output" >&2
	[[ $output == "hello 0" ]]
	run forge_fs a --fs 'unlink,s,.replicas'
	echo "unlink: $output" >&2
	[[ $output == "hello 0" ]]
	[ "$(cat "$B/s/.upstreams")" = "$before" ]
	[ ! -s "$B/s/.replicas" ] || ! grep -q evil "$B/s/.replicas"
	in_log b 'malformed frame'
}

@test "an open remote topic removed and made again there: its reader finds it gone, never the new topic's bytes" {
	NH_ACCESS[b]=read
	gn_hosts
	seq -f 'old-%06.0f' 1 300000 >>"$B/s/t"	# 3.3 MB: past the read-ahead
	cp "$B/s/t" "$NH_DIR/old"
	# a reader holds it open, has read part of it
	python3 - "$RA/s/t" "$NH_DIR/reader.out" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
out = open(sys.argv[2] + ".tmp", "w")
first = os.read(fd, 5000)
out.write("first %d\n" % len(first)); out.flush()
open(sys.argv[2] + ".started", "w").close()
while not os.path.exists(sys.argv[2] + ".go"):
    time.sleep(0.05)
# on through what it has (the open file's read-ahead of its own topic),
# until the topic is found gone
got = first
try:
    while True:
        more = os.read(fd, 65536)
        if not more:
            out.write("eof\n")
            break
        got += more
except OSError as e:
    out.write("error %d\n" % e.errno)
open(sys.argv[2] + ".bytes", "wb").write(got)
out.close()
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
PY
	local rpid=$!
	REPL_BG+=("$rpid")
	wait_for -t 10 test -e "$NH_DIR/reader.out.started"
	rm "$B/s/t"
	seq -f 'new-%06.0f' 1 3000 >>"$B/s/t"
	touch "$NH_DIR/reader.out.go"
	wait_for -t 20 gone "$rpid"
	cat "$NH_DIR/reader.out"
	# ENOENT (2) once past what it had, never a byte of new-*: what it
	# read is the start of the old topic, byte for byte
	grep -qx 'error 2' "$NH_DIR/reader.out"
	! grep -q new- "$NH_DIR/reader.out.bytes"
	cmp -n "$(stat -c %s "$NH_DIR/reader.out.bytes")" "$NH_DIR/reader.out.bytes" "$NH_DIR/old"
	[ "$(stat -c %s "$NH_DIR/reader.out.bytes")" -lt "$(stat -c %s "$NH_DIR/old")" ]
}

@test "names no daemon takes name nothing under a remote cluster, as under a local one" {
	NH_ACCESS[b]=admin
	gn_hosts
	local long
	long=$(printf 'a%.0s' $(seq 1 256))
	fails_with "No such file" stat "$RA/$long"
	fails_with "No such file" stat "$RA/s/$long"
	fails_with "No such file" ls "$RA/$long"
	fails_with "Invalid argument" mkdir "$RA/$long"
	fails_with "No such file" stat "$RA/s/.hidden"
	fails_with "No such file" stat "$RA/.x"
	fails_with "Invalid argument" mkdir "$RA/.s"
	fails_with "Invalid argument" touch "$RA/s/.hidden"
	# and the gateway stays up: nothing of this was sent as a request
	run ls "$RA"
	[ "$status" -eq 0 ]
}

@test "readers here, writers on both hosts and replication at once: every reader of the remote topic sees whole lines, each writer's in order, none twice, none invented, and at the end all of them" {
	NH_ACCESS[b]=write
	gn_hosts
	chmod 1777 "$B/s"
	touch "$B/s/t"
	chmod 666 "$B/s/t"	# root on a writes as nobody there
	# and replication at once: london/s to sanfrancisco/s, over the gateway
	xrep "$B/s" "$A/s"
	local n=400 pids=() w
	# readers on host a, through the global namespace: odd read sizes
	# across the read-ahead, following the end as tail -f does
	for r in 1 2 3; do
		python3 - "$RA/s/t" "$NH_DIR/reader$r.out" "$((4 * n))" "$r" <<'PY' &
import os, random, sys, time
path, out, want, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
fd = os.open(path, os.O_RDONLY)
data = b""
deadline = time.monotonic() + 100
while data.count(b"\n") < want and time.monotonic() < deadline:
    chunk = os.read(fd, rnd.choice([1, 7, 4096, 65536, 131072, 300000]))
    if not chunk:
        time.sleep(0.01)
    data += chunk
open(out, "wb").write(data)
PY
		pids+=($!)
	done
	# writers: two on b itself, two on a through the gateway; ten lines
	# per write(2) (seq: stdio, one write)
	for w in 1 2; do
		(for ((i = 0; i < n / 10; i++)); do
			seq -f "b$w-%05.0f-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" $((i * 10 + 1)) $((i * 10 + 10)) >>"$B/s/t" || exit 1
		done) &
		pids+=($!)
		(for ((i = 0; i < n / 10; i++)); do
			seq -f "a$w-%05.0f-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy" $((i * 10 + 1)) $((i * 10 + 10)) >>"$RA/s/t" || exit 1
		done) &
		pids+=($!)
	done
	REPL_BG+=("${pids[@]}")
	for w in "${pids[@]}"; do
		wait "$w"
	done
	[ "$(wc -l <"$B/s/t")" -eq $((4 * n)) ]
	# each reader: exactly the topic's bytes (a prefix of them while it
	# read, all of them at the end), so nothing torn, stale, invented,
	# repeated or out of order
	for r in 1 2 3; do
		cmp "$NH_DIR/reader$r.out" "$B/s/t"
	done
	# the replica got the same, in the same order
	wait_for -t 60 nlines_is "$A/s/t" $((4 * n))
	cmp "$A/s/t" "$B/s/t"
	# and within the topic, each writer's lines in order, once each
	python3 - "$B/s/t" "$n" <<'PY'
import sys
last = {}
for line in open(sys.argv[1]):
    w, seq, _ = line.split("-", 2)
    seq = int(seq)
    assert seq == last.get(w, 0) + 1, (w, seq, last.get(w))
    last[w] = seq
assert sorted(last) == ["a1", "a2", "b1", "b2"] and all(v == int(sys.argv[2]) for v in last.values()), last
PY
}
