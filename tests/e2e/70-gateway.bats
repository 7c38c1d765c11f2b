#!/usr/bin/env bats
# 70-gateway.bats - replication between hosts through the gateway
# (docs/gateway.md): every host is a network namespace with its own daemon
# (netns_helpers.bash). Each test checks the messages themselves on the
# other host's mount: counts, no duplicates, each origin's order. Links
# cut, daemons killed or frozen, synchronous mode and compression are in
# 71-gateway-faults.bats (the two run at once).

load helpers
load replication_helpers
load netns_helpers
load gateway_helpers

@test "A<->B across hosts: initial copy, then both masters write the same topic: the union, exactly once, in order" {
	hosts a b
	both_masters_union 100 1000 200
}

@test "three-host ring A->B->C->A with writers on all three: every stream holds the union, exactly once" {
	hosts a b c
	xrep "$A/s" "$B/s"
	xrep "$B/s" "$C/s"
	xrep "$C/s" "$A/s"
	bg_start append_each "$A/s/t" a 300
	local pa=$BG_PID
	bg_start append_each "$B/s/t" b 300
	local pb=$BG_PID
	append_each "$C/s/t" c 300
	wait "$pa"
	wait "$pb"
	for d in "$A" "$B" "$C"; do
		wait_count "$d/s/t" 900 30
		no_dups "$d/s/t"
		in_order "$d/s/t" a 300
		in_order "$d/s/t" b 300
		in_order "$d/s/t" c 300
	done
	# After a whole pass of every host's replication, nothing more has
	# arrived anywhere.
	on a repl_quiet sanfrancisco/s
	on b repl_quiet london/s
	on c repl_quiet tokyo/s
	for d in "$A" "$B" "$C"; do
		still_count "$d/s/t" 900
	done
}

@test "the remote's .upstreams is enforced by the remote: refused, shown on the source, nothing applies; then allowed" {
	hosts a b
	echo /mapr/sanfrancisco/other >"$B/s/.upstreams"
	echo /mapr/london/s >"$A/s/.replicas"
	append_each "$A/s/t" m 10
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=UNEXPECTED'
	[[ $(on a rinfo sanfrancisco/s london/s lastError) == *"/mapr/london/s/.upstreams"* ]]
	in_log b 'refused: refused by the replica: /mapr/sanfrancisco/s is not in /mapr/london/s/.upstreams'
	[ ! -e "$B/s/t" ]
	# A second refused replica on the same connection: each reason is
	# logged once, however often the source retries.
	echo /mapr/london/nosuch >>"$A/s/.replicas"
	wait_for -t 10 on a rline_match sanfrancisco/s london/nosuch 'state=UNEXPECTED'
	append_each "$A/s/t" more 20
	sleep 3
	[ "$(grep -c 'is not in /mapr/london/s/.upstreams' "$NH_DIR/b/streamfs.log")" -eq 1 ]
	[ "$(grep -c 'replica stream /mapr/london/nosuch does not exist' "$NH_DIR/b/streamfs.log")" -eq 1 ]
	echo -/mapr/london/nosuch >>"$A/s/.replicas"
	# Allowed now: everything arrives, once.
	echo /mapr/sanfrancisco/s >>"$B/s/.upstreams"
	wait_count "$B/s/t" 30 15
	in_order "$B/s/t" m 10
	in_order "$B/s/t" more 20
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=REPLICATING'
}

# rogue_host NAME CERT: host c at 198.18.0.3 claiming local cluster
# sanfrancisco (as host a) and replicating its stream s to london/s, with
# the certificate CERT (path without .crt/.key). Started.
rogue_host() {
	mkdir -p "$NH_DIR/c/mnt" "$NH_DIR/c/data"
	cat >"$NH_DIR/c/mount.conf" <<-EOF
		[cluster sanfrancisco]
		data = $NH_DIR/c/data/sanfrancisco
		[cluster london]
		gateway = 198.18.0.2:${NH_PORT:-5660}
		[gateway]
		cert = $2.crt
		key = $2.key
		ca = $NH_DIR/certs/ca.crt
		timeout_ms = $GW_TIMEOUT
	EOF
	nh_start c
	R=${NH_MNT[c]}/sanfrancisco
	mkdir "$R/s"
	echo /mapr/london/s >"$R/s/.replicas"
	append_each "$R/s/t" rogue 5
}

@test "a peer whose certificate comes from another CA is refused and logged; nothing it sends applies" {
	hosts a b rogue
	xrep "$A/s" "$B/s"
	# Its own CA, a certificate naming sanfrancisco all the same.
	bash "$STREAMFS_SRC/scripts/gateway-certs.sh" ca "$NH_DIR/rogue" >/dev/null 2>&1
	bash "$STREAMFS_SRC/scripts/gateway-certs.sh" cert "$NH_DIR/rogue" c sanfrancisco >/dev/null 2>&1
	rogue_host c "$NH_DIR/rogue/c"
	wait_for -t 10 in_log b 'gateway: 198\.18\.0\.3:[0-9]+: connection refused: .*(certificate|alert|handshake)'
	wait_for -t 10 on c rline_match sanfrancisco/s london/s 'state=UNEXPECTED'
	[[ $(on c rinfo sanfrancisco/s london/s lastError) == *"did not accept this daemon's certificate"* ]]
	# The rogue reconnects with backoff; the gateway says so once a minute.
	sleep 3
	[ "$(grep -c '198\.18\.0\.3:[0-9]*: connection refused' "$NH_DIR/b/streamfs.log")" -eq 1 ]
	# The real sanfrancisco still gets through.
	append_each "$A/s/t" good 5
	wait_count "$B/s/t" 5 15
	sleep 1
	! grep -q rogue "$B/s/t"
	in_order "$B/s/t" good 5
}

@test "a peer with another cluster's credentials is refused per request; nothing it sends applies" {
	hosts a b rogue
	xrep "$A/s" "$B/s"
	# Valid, from our CA, but it names newyork, not sanfrancisco.
	nh_cert c-ny newyork
	rogue_host c "$NH_DIR/certs/c-ny"
	wait_for -t 10 in_log b "refused: the sending daemon's certificate \(/CN=newyork\) does not name cluster sanfrancisco"
	wait_for -t 10 on c rline_match sanfrancisco/s london/s 'state=UNEXPECTED'
	[[ $(on c rinfo sanfrancisco/s london/s lastError) == *"does not name cluster sanfrancisco"* ]]
	append_each "$A/s/t" good 5
	wait_count "$B/s/t" 5 15
	! grep -q rogue "$B/s/t"
}

@test "plain TCP, a malformed frame and an oversized frame close that connection only, with a log line" {
	hosts a b
	xrep "$A/s" "$B/s"
	# Plain TCP: not a TLS handshake.
	nh_exec a timeout 10 bash -c 'exec 5<>/dev/tcp/198.18.0.2/5660; printf "SFG1 hello in clear\n" >&5; sleep 0.5' || true
	wait_for -t 10 in_log b 'gateway: 198\.18\.0\.1:[0-9]+: connection refused: TLS handshake failed'
	# Authenticated (host a's own certificate), then garbage.
	# -no_ign_eof: end when the input does, not at the timeout
	local tls=(openssl s_client -quiet -no_ign_eof -connect 198.18.0.2:5660 -cert "$NH_DIR/certs/a.crt"
		-key "$NH_DIR/certs/a.key" -CAfile "$NH_DIR/certs/ca.crt")
	printf 'XXXXthis is no frame' | nh_exec a timeout 10 "${tls[@]}" >/dev/null 2>&1 || true
	wait_for -t 10 in_log b 'malformed frame header: .*connection closed'
	# A header announcing 4 GiB - 1 of body.
	printf 'SFG1\004\000\000\000\377\377\377\377' | nh_exec a timeout 10 "${tls[@]}" >/dev/null 2>&1 || true
	wait_for -t 10 in_log b 'oversized frame: .*connection closed'
	# A well-formed header with a body that is not a request.
	printf 'SFG1\002\000\000\000\003\000\000\000abc' | nh_exec a timeout 10 "${tls[@]}" >/dev/null 2>&1 || true
	wait_for -t 10 in_log b 'malformed frame: .*connection closed'
	# The gateway goes on serving.
	append_each "$A/s/t" m 20
	wait_count "$B/s/t" 20 15
	in_order "$B/s/t" m 20
	nh_pid b >/dev/null
}

@test "the client checks the gateway too: a gateway whose certificate names another cluster gets nothing" {
	nh_host a 198.18.0.1 sanfrancisco
	nh_host b 198.18.0.2 london
	NH_CONF_EXTRA[a]="timeout_ms = $GW_TIMEOUT\n"
	nh_setup
	# Host b presents a valid certificate of our CA that names paris.
	nh_cert b-paris paris
	NH_CERT[b]=b-paris
	nh_conf b
	nh_start a
	nh_start b
	A=${NH_MNT[a]}/sanfrancisco
	B=${NH_MNT[b]}/london
	mkdir "$A/s" "$B/s"
	xrep "$A/s" "$B/s"
	append_each "$A/s/t" m 5
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=UNEXPECTED'
	[[ $(on a rinfo sanfrancisco/s london/s lastError) == *"does not name cluster london"* ]]
	[ ! -e "$B/s/t" ]
}

# start_fails HOST REGEX: HOST's daemon, started by hand, exits non-zero
# at once with one line on stderr matching REGEX, and mounts nothing.
start_fails() {
	local out status
	out=$(timeout 20 nsenter --net="/run/netns/${NH_NS[$1]}" -- \
		"$STREAMFS" -c "$NH_DIR/$1/mount.conf" -f "$NH_DIR/$1/mnt" 2>&1) && status=0 || status=$?
	echo "status $status: $out" >&2
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[ "$(grep -c . <<<"$out")" -eq 1 ]
	[[ $out =~ $2 ]]
	is_unmounted "$NH_DIR/$1/mnt"
}

@test "bad credentials, credentials others could change or read, or a port in use stop the daemon at start-up with one line, nothing mounted" {
	nh_host a 198.18.0.1 sanfrancisco
	nh_host b 198.18.0.2 london
	nh_setup
	local conf=$NH_DIR/a/mount.conf
	cp "$conf" "$NH_DIR/good.conf"
	# A certificate file that does not exist.
	sed -i "s|^cert = .*|cert = $NH_DIR/nope.crt|" "$conf"
	start_fails a "\[gateway\]: $NH_DIR/nope.crt: "
	# A key that is not the certificate's.
	cp "$NH_DIR/good.conf" "$conf"
	sed -i "s|^key = .*|key = $NH_DIR/certs/b.key|" "$conf"
	start_fails a "\[gateway\]: $NH_DIR/certs/b.key: "
	# A CA file that is no certificate.
	cp "$NH_DIR/good.conf" "$conf"
	echo "not a certificate" >"$NH_DIR/junk.pem"
	sed -i "s|^ca = .*|ca = $NH_DIR/junk.pem|" "$conf"
	start_fails a "\[gateway\]: $NH_DIR/junk.pem: "
	# Files someone else could change, or read (the key): whoever could
	# change the CA could make certificates for any cluster; whoever reads
	# the key is this host to its peers. sshd's StrictModes, as for data.
	cp "$NH_DIR/good.conf" "$conf"
	cp "$NH_DIR/certs/a.key" "$NH_DIR/open.key"
	chmod 0644 "$NH_DIR/open.key"
	sed -i "s|^key = .*|key = $NH_DIR/open.key|" "$conf"
	start_fails a "\[gateway\]: $NH_DIR/open.key is a private key readable by others \(mode 0644\): chmod 600 it"
	chmod 0640 "$NH_DIR/open.key"
	start_fails a "open.key is a private key readable by its group"
	cp "$NH_DIR/good.conf" "$conf"
	cp "$NH_DIR/certs/ca.crt" "$NH_DIR/open-ca.crt"
	chmod 0666 "$NH_DIR/open-ca.crt"
	sed -i "s|^ca = .*|ca = $NH_DIR/open-ca.crt|" "$conf"
	start_fails a "open-ca.crt is writable by others \(mode 0666\): chmod go-w it"
	chmod 0644 "$NH_DIR/open-ca.crt"
	chown 65534 "$NH_DIR/open-ca.crt"
	start_fails a "open-ca.crt is owned by uid 65534 \(only root or uid 0 may own it\)"
	# in a directory others may write (no sticky bit): refused too
	mkdir -m 0777 "$NH_DIR/open"
	cp "$NH_DIR/certs/a.crt" "$NH_DIR/open/a.crt"
	cp "$NH_DIR/good.conf" "$conf"
	sed -i "s|^cert = .*|cert = $NH_DIR/open/a.crt|" "$conf"
	start_fails a "$NH_DIR/open is writable by others \(mode 0777\) without the sticky bit"
	# a symlink someone else owns, to good files: refused
	rm -r "$NH_DIR/open"
	ln -s "$NH_DIR/certs/a.crt" "$NH_DIR/link.crt"
	chown -h 65534 "$NH_DIR/link.crt"
	sed -i "s|^cert = .*|cert = $NH_DIR/link.crt|" "$conf"
	start_fails a "link.crt is a symlink owned by uid 65534"
	# The port is taken (by host a's own daemon, started properly).
	cp "$NH_DIR/good.conf" "$conf"
	nh_start a
	mkdir -p "$NH_DIR/a2/mnt"
	sed -e "s|$NH_DIR/a/data|$NH_DIR/a2/data|" "$conf" >"$NH_DIR/a2/mount.conf"
	local out status
	out=$(timeout 20 nsenter --net="/run/netns/${NH_NS[a]}" -- \
		"$STREAMFS" -c "$NH_DIR/a2/mount.conf" -f "$NH_DIR/a2/mnt" 2>&1) && status=0 || status=$?
	echo "status $status: $out" >&2
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ $out == *"listen = 198.18.0.1:5660: Address already in use"* ]]
	is_unmounted "$NH_DIR/a2/mnt"
	# The first daemon is unharmed.
	mkdir "${NH_MNT[a]}/sanfrancisco/s"
}

# forge HOST ARGS...: send what tests/gateway/forge.py writes (a hello and
# one GW_APPEND) to host b's gateway from HOST, with host a's certificate:
# an authenticated, allowed upstream that lies.
forge() {
	local from=$1
	shift
	python3 "$STREAMFS_SRC/tests/gateway/forge.py" --dst-cluster london \
		--src-cluster sanfrancisco --src-stream s --dst-stream s "$@" |
		nh_exec "$from" timeout 10 openssl s_client -quiet -no_ign_eof \
			-connect 198.18.0.2:5660 -cert "$NH_DIR/certs/a.crt" \
			-key "$NH_DIR/certs/a.key" -CAfile "$NH_DIR/certs/ca.crt" >/dev/null 2>&1 || true
}

@test "an upstream cannot forge: a jump in an origin's offsets, an unseen origin past its start, the replica's own stream as origin, a message holding a newline or over max_message, is refused whole; the real messages go on" {
	NH_LOG_ALLOW='gateway|refused by the replica'
	hosts a b
	xrep "$A/s" "$B/s"
	append_each "$A/s/t" m 5
	wait_count "$B/s/t" 5 15
	local bu au at
	bu=$(jq -r .uuid "$B/s/.info")
	au=$(jq -r .uuid "$A/s/.info")
	at=$(jq -r '.topics[] | select(.name == "t") | .uuid' "$A/s/.info")
	# the real origin, at 2^62: would hide every later message of it
	forge a --expect "$bu" --topic t --origin-stream "$au" --origin-topic "$at" \
		--offset 4611686018427387904 --payload jump
	wait_for -t 10 in_log b 'jump from offset 4 to 4611686018427387904'
	# the replica's own stream as origin: would block its own messages
	forge a --expect "$bu" --topic t --origin-stream "$bu" --origin-topic "$at" \
		--offset 0 --payload self
	wait_for -t 10 in_log b 'claims this stream as its origin'
	# a jump behind known ones (3, 4) in one batch: all of it refused
	forge a --expect "$bu" --topic t --origin-stream "$au" --origin-topic "$at" \
		--offset 3,4,9 --payload gap
	wait_for -t 10 in_log b 'jump from offset 4 to 9'
	# an origin the replica has not seen, planted at 2^62 before its real
	# messages come: refused, it must start at its first message
	forge a --expect "$bu" --topic t --origin-stream "$au" \
		--origin-topic "$(cat /proc/sys/kernel/random/uuid)" \
		--offset 4611686018427387904 --payload plant
	wait_for -t 10 in_log b 'start at offset 4611686018427387904 here, not at its first'
	# a message is one line: one holding a newline would read as two
	# (counts and offsets no longer match what readers see), and none
	# is longer than this daemon's max_message (a reader holds one whole)
	forge a --expect "$bu" --topic t --origin-stream "$au" --origin-topic "$at" \
		--offset 5 --payload $'split\nline'
	wait_for -t 10 in_log b 'holds a newline'
	forge a --expect "$bu" --topic t --origin-stream "$au" --origin-topic "$at" \
		--offset 5 --payload-bytes $((1048576 + 1))
	wait_for -t 10 in_log b '1048577 bytes, more than this daemon.s max_message \(1048576\)'
	! grep -qE 'jump|self|gap|plant|split|line|xxxx' "$B/s/t" || false
	[ "$(wc -l <"$B/s/t")" -eq 5 ]
	# the real messages of that origin still arrive, none dropped
	append_each "$A/s/t" after 5
	wait_count "$B/s/t" 10 15
	in_order "$B/s/t" after 5
	[ "$(grep -c '^m-' "$B/s/t")" -eq 5 ]
}

@test "a peer picks no local owner or mode: a topic it makes belongs to the replica stream's owner, without setuid/setgid" {
	NH_LOG_ALLOW='gateway|refused by the replica'
	hosts a b
	xrep "$A/s" "$B/s"
	chown 1234:5678 "$B/s"
	local bu au
	bu=$(jq -r .uuid "$B/s/.info")
	au=$(jq -r .uuid "$A/s/.info")
	forge a --expect "$bu" --topic x --origin-stream "$au" \
		--origin-topic "$(cat /proc/sys/kernel/random/uuid)" --offset 0 \
		--uid 0 --gid 0 --mode 6777 --payload planted
	wait_for -t 10 test -e "$B/s/x"
	[ "$(stat -c '%u:%g %a' "$B/s/x")" = "1234:5678 777" ]
	# and a topic replicated the usual way: the source's mode, no setuid
	# (made while paused, so that it goes with its final mode)
	echo "/mapr/london/s paused=true" >>"$A/s/.replicas"
	echo a >>"$A/s/y"
	chmod 04750 "$A/s/y"
	echo "/mapr/london/s paused=false" >>"$A/s/.replicas"
	wait_count "$B/s/y" 1 15
	[ "$(stat -c '%u:%g %a' "$B/s/y")" = "1234:5678 750" ]
}

# replicates_promptly: A/s replicates to B/s (xrep), and each of 5
# messages appended to A/s/t reaches B/s/t in less than half the
# handshake timeout: held behind a slow handshake, it would wait
# GW_TIMEOUT (typically it takes milliseconds; the bound leaves room for
# a loaded machine). Then B/s/t holds m-1..m-5 in order.
replicates_promptly() {
	local i t0 t1
	xrep "$A/s" "$B/s"
	for ((i = 1; i <= 5; i++)); do
		t0=$(date +%s%N)
		echo "m-$i" >>"$A/s/t"
		wait_for -t 5 grep -qx "m-$i" "$B/s/t"
		t1=$(date +%s%N)
		echo "m-$i: $(((t1 - t0) / 1000000)) ms"
		[ $(((t1 - t0) / 1000000)) -lt $((GW_TIMEOUT / 2)) ] || return 1
	done
	in_order "$B/s/t" m 5
}

@test "200 slow TLS handshakes from 14 addresses neither hold a peer's slot nor delay it: each message replicates in less than half the handshake timeout" {
	# A handshake has this long as a whole: the slow ones hold on meanwhile.
	GW_TIMEOUT=5000
	hosts a b rogue
	# host c gets 14 more addresses: at most 16 handshakes at once come
	# from one (GATEWAY_MAX_HANDSHAKES_PER_ADDR), so 15 from each
	local i
	for ((i = 200; i < 214; i++)); do
		nh_exec c ip addr add "198.18.0.$i/24" dev eth0
	done
	# host c: 200 connections to b's gateway, each sending one byte of a
	# TLS record every 2 s, reopened when closed, for up to 40 s
	bg_start nh_exec c timeout 40 python3 -c '
import socket, time
conns = []
def opened(i):
    s = socket.create_connection(("198.18.0.2", 5660), timeout=5,
                                 source_address=("198.18.0.%d" % (200 + i % 14), 0))
    s.setblocking(False)
    return s
conns = [opened(i) for i in range(200)]
while True:
    for i, s in enumerate(conns):
        try:
            s.send(b"\x16")
        except OSError:
            conns[i] = opened(i)
    time.sleep(2)
'
	wait_for -t 20 eval "[ \$(nh_exec b ss -Htn state established '( sport = :5660 )' | wc -l) -ge 200 ]"
	# the peer connects now: its handshake goes through beside them
	replicates_promptly
	! in_log b 'too many connections|too many TLS handshakes' || false
}

@test "one address opening TLS handshakes as fast as it can has 16 at once: the rest are closed before any TLS, logged once a minute, and a peer beside them replicates at once" {
	GW_TIMEOUT=5000
	hosts a b rogue
	# 100 connections at once from host c, each sending a byte of a TLS
	# record: 16 are taken into handshakes (and held: one byte is no
	# hello), the other 84 closed at once; counted after 3 s
	local flood='
import socket, sys, time
def opened():
    return socket.create_connection(("198.18.0.2", 5660), timeout=5)
conns = [opened() for _ in range(100)]
for s in conns:
    try:
        s.send(b"\x16")
    except OSError:
        pass
deadline = time.time() + 3
closed = 0
for s in conns:
    s.settimeout(max(0.01, deadline - time.time()))
    try:
        if s.recv(1) == b"":
            closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
print(closed)
'
	run nh_exec c timeout 30 python3 -c "$flood"
	[ "$status" -eq 0 ]
	[ "$output" = 84 ]
	wait_for -t 5 in_log b '198\.18\.0\.3:[0-9]+: connection refused: too many TLS handshakes at once from this address \(16 at most\)'
	# the same flood again, beside a peer's replication: the peer's
	# handshakes go through, each message in less than half the timeout
	bg_start nh_exec c timeout 40 python3 -c '
import socket, time
end = time.time() + 30
conns = []
while time.time() < end:
    try:
        s = socket.create_connection(("198.18.0.2", 5660), timeout=5)
        s.send(b"\x16")
        conns.append(s)
    except OSError:
        pass
    conns = conns[-200:]
'
	replicates_promptly
	# logged once a minute for that address and reason, not per connection
	[ "$(grep -c 'too many TLS handshakes at once from this address' "$NH_DIR/b/streamfs.log")" -eq 1 ]
	! in_log b 'too many connections' || false
}

# rss HOST: the resident memory of HOST's daemon, KiB.
rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$(nh_pid "$1")/status"
}

@test "frames are bounded per type and read as they come: announced 80 MiB bodies pin nothing; a connection logged closed is closed" {
	NH_LOG_ALLOW='gateway'
	hosts a b rogue
	xrep "$A/s" "$B/s"
	append_each "$A/s/t" m 3
	wait_count "$B/s/t" 3 15
	local tls=(openssl s_client -quiet -no_ign_eof -connect 198.18.0.2:5660 -cert "$NH_DIR/certs/a.crt"
		-key "$NH_DIR/certs/a.key" -CAfile "$NH_DIR/certs/ca.crt")
	# a hello announcing more than a hello can hold: refused before its body
	printf 'SFG1\001\000\000\000\000\020\000\000' | nh_exec c timeout 10 "${tls[@]}" >/dev/null 2>&1 || true
	wait_for -t 10 in_log b '198\.18\.0\.3:[0-9]+ .*oversized frame: .*connection closed'
	# and the connection is gone at once, not at the next accept
	wait_for -t 5 eval "[ \$(nh_exec b ss -Htn state established '( sport = :5660 and dst 198.18.0.3 )' | wc -l) -eq 0 ]"
	# 7 connections (the most its peer has beside the real one, gwshares.h)
	# each announce an 80 MiB batch, send 256 KiB of it, and stall
	local before after
	before=$(rss b)
	bg_start nh_exec c timeout 30 python3 -c '
import socket, ssl, struct, time
ctx = ssl.create_default_context(cafile="'"$NH_DIR"'/certs/ca.crt")
ctx.check_hostname = False
ctx.load_cert_chain("'"$NH_DIR"'/certs/a.crt", "'"$NH_DIR"'/certs/a.key")
conns = []
for i in range(7):
    s = ctx.wrap_socket(socket.create_connection(("198.18.0.2", 5660)))
    hello = struct.pack("<H", 1) + struct.pack("<H", 6) + b"london"
    s.sendall(b"SFG1" + struct.pack("<BBHI", 1, 0, 0, len(hello)) + hello)
    s.recv(4096)
    s.sendall(b"SFG1" + struct.pack("<BBHI", 4, 0, 0, 80 << 20) + b"x" * (256 << 10))
    conns.append(s)
print("sent", flush=True)
time.sleep(25)
' >"$NH_DIR/stall.out"
	wait_for -t 20 grep -q sent "$NH_DIR/stall.out"
	sleep 1
	after=$(rss b)
	echo "rss of b: $before KiB before, $after KiB with 7 stalled 80 MiB frames"
	[ $((after - before)) -lt 65536 ]
	# the gateway goes on serving
	append_each "$A/s/t" n 3
	wait_count "$B/s/t" 6 15
}

# forged_open DST [--messages]: the results of a hello and a GW_OPEN of
# london/DST from sanfrancisco/s, sent from host a with its certificate.
forged_open_once() {
	python3 "$STREAMFS_SRC/tests/gateway/forge.py" --open --dst-cluster london \
		--src-cluster sanfrancisco --src-stream s --dst-stream "$1" |
		nh_exec a timeout 10 openssl s_client -quiet -no_ign_eof \
			-connect 198.18.0.2:5660 -cert "$NH_DIR/certs/a.crt" \
			-key "$NH_DIR/certs/a.key" -CAfile "$NH_DIR/certs/ca.crt" 2>/dev/null |
		python3 "$STREAMFS_SRC/tests/gateway/forge.py" --results $2
}

# forged_open DST_STREAM [--messages]: forged_open_once, again while its
# hello is refused for the share of a cluster that is no stream's
# upstream (one connection): the gateway may not have seen the previous
# forged connection close yet.
forged_open() {
	local i out
	for ((i = 0; i < 50; i++)); do
		out=$(forged_open_once "$@")
		[[ $(head -n 1 <<<"$out") == "0 "* ]] && break
		sleep 0.1
	done
	printf '%s\n' "$out"
}

@test "a refused request learns no UUID, nor whether the stream exists: an open of a replica that does not allow the source, or that does not exist, gets the same answer, zeros for its UUID" {
	NH_LOG_ALLOW='gateway'
	hosts a b
	# london/s does not list sanfrancisco/s in .upstreams
	local out bu
	bu=$(jq -r .uuid "$B/s/.info")
	out=$(python3 "$STREAMFS_SRC/tests/gateway/forge.py" --open --dst-cluster london \
		--src-cluster sanfrancisco --src-stream s --dst-stream s |
		nh_exec a timeout 10 openssl s_client -quiet -no_ign_eof \
			-connect 198.18.0.2:5660 -cert "$NH_DIR/certs/a.crt" \
			-key "$NH_DIR/certs/a.key" -CAfile "$NH_DIR/certs/ca.crt" 2>/dev/null |
		python3 "$STREAMFS_SRC/tests/gateway/forge.py" --results)
	echo "$out"
	# the hello, then the open: refused (EACCES), and no UUID
	[ "$(sed -n 2p <<<"$out")" = "-13 00000000-0000-0000-0000-000000000000" ]
	[[ $out != *"$bu"* ]]
	# a stream that does not exist is refused exactly alike (status, UUID
	# and words, but for its name): no probing of stream names; the log
	# of the replica's side says which
	local no yes
	yes=$(forged_open s --messages | sed -n 2p)
	no=$(forged_open nosuch --messages | sed -n 2p)
	echo "$yes"
	echo "$no"
	[[ $yes == "-13 00000000-0000-0000-0000-000000000000 refused by the replica:"* ]]
	[ "${no//nosuch/s}" = "$yes" ]
	in_log b 'refused: replica stream /mapr/london/nosuch does not exist'
	in_log b 'refused: refused by the replica: /mapr/sanfrancisco/s is not in /mapr/london/s/.upstreams'
	# allowed: the open gets the UUID
	echo /mapr/sanfrancisco/s >>"$B/s/.upstreams"
	out=$(forged_open s --messages)
	echo "allowed: $out"
	[ "$(sed -n 2p <<<"$out" | cut -d' ' -f1-2)" = "0 $bu" ]
}
