#!/usr/bin/env bats
# 72-gateway-shares.bats - what one peer with a valid certificate may hold
# of a gateway (docs/security.md, "Bounds"; replication/gwshares.h):
# connections and frame buffers shared out per peer cluster, a cluster
# that is no stream's upstream held to one connection and small frames,
# a deadline per frame, and a source told the real reason when its
# connection is refused. The attacker is tests/gateway/hold.py on host c,
# with a certificate of our CA; the real upstream is sanfrancisco on host
# a, replicating to london/s on host b, and each of its messages must
# arrive within a few seconds while the attack goes on.

load helpers
load replication_helpers
load netns_helpers
load gateway_helpers

# ns_bg HOST NAME CMD...: run CMD in HOST's namespace in the background;
# the PID of CMD itself (not of a shell around it) goes to $NH_DIR/NAME.pid,
# for ns_bg_stop.
ns_bg() {
	local h=$1 name=$2
	shift 2
	# shellcheck disable=SC2016	# $$ and $0 are the inner shell's
	bg_start nh_exec "$h" bash -c 'echo $$ >"$0"; exec "$@"' "$NH_DIR/$name.pid" "$@"
}

# ns_bg_stop NAME: end what ns_bg NAME started, by its PID, and wait until
# it is gone.
ns_bg_stop() {
	local f=${NH_DIR:-/nonexistent}/$1.pid pid
	[[ -f $f ]] || return 0
	pid=$(cat "$f")
	rm -f "$f"
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	kill "$pid" 2>/dev/null || true
	wait_for -t 5 eval "! kill -0 $pid 2>/dev/null" || true
}

teardown() {
	ns_bg_stop hold
	ns_bg_stop server
	bg_kill_all
	nh_teardown
}

# hold HOST CERT ARGS...: run tests/gateway/hold.py on HOST against host
# b's gateway with certificate CERT (a name under $NH_DIR/certs) in the
# background for HOLD_S seconds (default 60), its lines in
# $NH_DIR/hold.out; ns_bg_stop hold ends it.
hold() {
	local from=$1 cert=$2 s=${HOLD_S:-60}
	shift 2
	ns_bg "$from" hold timeout "$s" python3 "$STREAMFS_SRC/tests/gateway/hold.py" \
		--addr 198.18.0.2:5660 --cert "$NH_DIR/certs/$cert" --ca "$NH_DIR/certs/ca.crt" \
		--cluster london --duration "$s" "$@" >"$NH_DIR/hold.out" 2>&1
}

# holding: the holder started by hold is still running.
holding() {
	local pid
	pid=$(cat "$NH_DIR/hold.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# drained: what host c sent to b's gateway has been read by the gateway:
# nothing waits in c's send queues nor in b's receive queues (the bytes of
# a frame are taken, and counted, as the gateway reads them).
drained() {
	local q
	q=$(nh_exec c ss -Htn state established '( dport = :5660 )' | awk '{ s += $2 } END { print s + 0 }')
	[ "$q" -eq 0 ] || return 1
	q=$(nh_exec b ss -Htn state established '( sport = :5660 and dst 198.18.0.3 )' |
		awk '{ s += $1 } END { print s + 0 }')
	[ "$q" -eq 0 ]
}

# arrives N: messages m-1 .. m-N appended to sanfrancisco/s/t one at a time,
# each on london/s/t within 5 s.
arrives() {
	local i t0 t1
	for ((i = 1; i <= $1; i++)); do
		t0=$(date +%s%N)
		echo "m-$i" >>"$A/s/t"
		wait_for -t 5 grep -qx "m-$i" "$B/s/t"
		t1=$(date +%s%N)
		echo "m-$i: $(((t1 - t0) / 1000000)) ms"
	done
	in_order "$B/s/t" m "$1"
}

@test "a third cluster's certificate holding 70 connections, a hello every 0.3 s each, gets one; the real upstream connects and replicates" {
	hosts a b rogue
	nh_cert c-tokyo tokyo
	hold c c-tokyo --conns 70 --hello-every 0.3
	wait_for -t 30 grep -q '^ready' "$NH_DIR/hold.out"
	cat "$NH_DIR/hold.out"
	# the upstream connects now, while the attacker keeps trying
	xrep "$A/s" "$B/s"
	arrives 5
	# tokyo is no stream's upstream here: one connection, the rest told
	# why and closed, logged once a minute
	grep -q '^ready 1 69$' "$NH_DIR/hold.out"
	grep -q '^refused: -87 too many connections from this cluster (tokyo: 1,' "$NH_DIR/hold.out"
	[ "$(grep -c 'connection refused: too many connections from this cluster (tokyo' "$NH_DIR/b/streamfs.log")" -eq 1 ]
	! in_log b 'too many connections.*sanfrancisco' || false
}

@test "a third cluster's certificate announcing 80 MiB batches on 4 connections, 63 MiB sent, then a byte every 0.3 s, pins no buffer; the real upstream replicates" {
	hosts a b rogue
	nh_cert c-tokyo tokyo
	hold c c-tokyo --conns 4 --announce $((80 << 20)) --send $((63 << 20)) --trickle-every 0.3 --reopen-every 1
	wait_for -t 40 grep -q '^ready' "$NH_DIR/hold.out"
	wait_for -t 40 drained
	cat "$NH_DIR/hold.out"
	xrep "$A/s" "$B/s"
	arrives 5
	# closed at the header, before any buffer
	in_log b "198\.18\.0\.3:[0-9]+ .*a batch from a peer that is no stream's upstream here: 83886080 bytes announced"
	! in_log b 'frame buffers' || false
}

@test "an upstream's certificate pinning 32 MiB on each of 8 connections (the whole budget before) gets its share (64 MiB) only; the other upstream replicates" {
	hosts a b c
	# tokyo is an upstream of london/s too: 8 connections, a 64 MiB share
	echo /mapr/tokyo/s >>"$B/s/.upstreams"
	# 31 MiB sent: the gateway's buffer takes the next 1 MiB step at once.
	# Two connections fill the share; the gateway closes each other one
	# when it asks for more, and the holder opens it again every second.
	HOLD_S=240 hold c c --conns 8 --announce $((80 << 20)) --send $((31 << 20)) --trickle-every 0.3 --reopen-every 1
	# The share reached (what the holder's lines say depends on how fast
	# it gets its 248 MiB through TLS: the gateway's log line does not).
	wait_for -t 120 in_log b "198\.18\.0\.3:[0-9]+ .*frame buffers of this peer's connections at its share"
	# and, while the holder keeps at it, the real upstream replicates
	xrep "$A/s" "$B/s"
	arrives 5
	holding
	cat "$NH_DIR/hold.out"
	! in_log b 'frame buffers of all connections' || false
}

@test "a frame trickled a byte every 0.3 s is cut at its deadline (timeout_ms + its size at 1 MiB/s), logged once" {
	hosts a b c
	echo /mapr/tokyo/s >>"$B/s/.upstreams"
	# 4 MiB announced, 1 MiB sent: whole within 1 s + 4 s, or closed
	hold c c --conns 1 --announce $((4 << 20)) --send $((1 << 20)) --trickle-every 0.3 --reopen-every 30
	wait_for -t 20 grep -q '^closed after' "$NH_DIR/hold.out"
	cat "$NH_DIR/hold.out"
	local t
	t=$(sed -n 's/^closed after \([0-9]*\)\..*/\1/p' "$NH_DIR/hold.out" | head -1)
	[ "$t" -ge 4 ] && [ "$t" -le 8 ]
	in_log b "198\.18\.0\.3:[0-9]+ .*frame too slow: .* of 4194304 body bytes after [0-9]+ ms.*connection closed"
	[ "$(grep -c 'frame too slow' "$NH_DIR/b/streamfs.log")" -eq 1 ]
	# meanwhile the real upstream is served
	xrep "$A/s" "$B/s"
	arrives 3
}

@test "a source refused for its cluster's share is told so: its status says too many connections from this cluster, not its certificate" {
	hosts a b c
	# tokyo is nobody's upstream on b: one connection, which the attacker
	# (tokyo's certificate, stolen) holds
	hold c c --conns 1 --hello-every 0.3
	wait_for -t 20 grep -q '^ready 1 0$' "$NH_DIR/hold.out"
	echo /mapr/london/s >"$C/s/.replicas"
	append_each "$C/s/t" m 3
	wait_for -t 10 on c rline_match tokyo/s london/s 'state=UNEXPECTED'
	local err
	err=$(on c rinfo tokyo/s london/s lastError)
	echo "$err"
	[[ $err == *"too many connections from this cluster (tokyo: 1,"* ]]
	[[ $err != *certificate* ]]
	# the attacker gone, the source gets through to the real refusal
	ns_bg_stop hold
	wait_for -t 15 eval '[[ $(on c rinfo tokyo/s london/s lastError) == *"/mapr/london/s/.upstreams"* ]]'
}

@test "a gateway that closes the connection after the handshake, without a word: the source says so, and does not blame its certificate" {
	nh_host a 198.18.0.1 sanfrancisco
	nh_host b 198.18.0.2 london
	NH_CONF_EXTRA[a]="timeout_ms = $GW_TIMEOUT\n"
	nh_setup
	nh_start a
	A=${NH_MNT[a]}/sanfrancisco
	mkdir "$A/s"
	# host b: no daemon, a TLS server with b's certificate that takes the
	# handshake (checking the client's certificate), reads, and closes
	ns_bg b server timeout 60 python3 -c '
import socket, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("'"$NH_DIR"'/certs/b.crt", "'"$NH_DIR"'/certs/b.key")
ctx.load_verify_locations("'"$NH_DIR"'/certs/ca.crt")
ctx.verify_mode = ssl.CERT_REQUIRED
ls = socket.create_server(("198.18.0.2", 5660))
while True:
    c, _ = ls.accept()
    try:
        s = ctx.wrap_socket(c, server_side=True)
        s.recv(4096)
        s.close()
    except (OSError, ssl.SSLError):
        c.close()
' >"$NH_DIR/server.out" 2>&1
	wait_for -t 10 eval "[ \$(nh_exec b ss -Htln '( sport = :5660 )' | wc -l) -ge 1 ]"
	echo /mapr/london/s >"$A/s/.replicas"
	append_each "$A/s/t" m 3
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=UNEXPECTED'
	local err
	err=$(on a rinfo sanfrancisco/s london/s lastError)
	echo "$err"
	[[ $err == *"connection closed by the replica's gateway"* ]]
	[[ $err != *"did not accept"* ]]
}
