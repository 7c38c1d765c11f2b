#!/usr/bin/env bats
# 65-netns-harness.bats - the multi-host harness itself
# (tests/e2e/netns_helpers.bash) and scripts/gateway-certs.sh: hosts in
# network namespaces reach each other, a link is cut and restored, a daemon
# runs in a host's namespace with its mount visible here, it stops and dies
# without leaving a mount, and teardown leaves no namespace (docs/gateway.md).
# Skipped, saying why, where network namespaces cannot be made (not root).

load helpers
load netns_helpers
bats_require_minimum_version 1.5.0

CERTS=$STREAMFS_SRC/scripts/gateway-certs.sh

setup() {
	nh_host a 198.18.0.1 sanfrancisco
	nh_host b 198.18.0.2 london newyork
	nh_host c 198.18.0.3 paris
}

teardown() {
	nh_teardown
	if [[ -n ${SCRATCH:-} ]]; then
		rm -rf "$SCRATCH"
	fi
}

# ns_left TAG: print the namespaces named TAG-* that exist.
ns_left() {
	ip netns list | awk -v t="$1-" 'index($1, t) == 1 { print $1 }'
}

# mounts_under DIR: print what /proc/mounts has under DIR.
mounts_under() {
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts
}

# frozen PID: PID is stopped by a signal (state T).
frozen() {
	[[ $(awk '{ print $3 }' "/proc/$1/stat") == T ]]
}

# (bats does not fail a test on `! cmd`: these are the negations used)
no_ping() { ! nh_ping "$@"; }
not_frozen() { ! frozen "$1"; }
dead() { ! kill -0 "$1" 2>/dev/null; }

@test "hosts reach each other by ping, and have only their own address" {
	nh_setup
	nh_ping a b
	nh_ping b a
	nh_ping a c
	nh_ping c b
	nh_ping a a
	# each host: lo and eth0 only, IPv4 loopback and its own address only,
	# no IPv6, no default route
	local h
	for h in a b c; do
		# (stderr apart: ip may say "Peer netns reference is invalid"
		# while another test's namespace comes or goes)
		run --separate-stderr nh_exec "$h" ip -o link show
		[ "${#lines[@]}" -eq 2 ]
		run nh_exec "$h" ip -o addr show
		[ "${#lines[@]}" -eq 2 ]
		[[ ${lines[0]} == *" lo "*"inet 127.0.0.1/8 "* ]]
		[[ ${lines[1]} == *" eth0 "*"inet ${NH_ADDR[$h]}/24 "* ]]
		run nh_exec "$h" ip route show
		[ "$output" = "198.18.0.0/24 dev eth0 proto kernel scope link src ${NH_ADDR[$h]} " ] ||
			[ "$output" = "198.18.0.0/24 dev eth0 proto kernel scope link src ${NH_ADDR[$h]}" ]
	done
	# nothing outside the switch is reachable
	no_ping a 198.18.0.9
}

@test "nh_link_down cuts a host's link both ways, nh_link_up restores it" {
	nh_setup
	nh_ping a b
	nh_link_down b
	no_ping a b
	no_ping b a
	no_ping c b
	nh_ping a c		# the others still reach each other
	nh_link_up b
	wait_for -t 5 nh_ping a b
	nh_ping b a
	nh_ping c b
	# twice, and the other host
	nh_link_down a
	no_ping b a
	nh_link_up a
	wait_for -t 5 nh_ping b a
}

@test "nh_wire_bytes counts what crosses a host's link" {
	nh_setup
	local tx0 rx0 tx1 rx1
	tx0=$(nh_wire_bytes a)
	rx0=$(nh_wire_bytes a rx)
	[[ $tx0 =~ ^[0-9]+$ && $rx0 =~ ^[0-9]+$ ]]
	nh_exec a ping -n -q -c 3 -i 0.2 -s 1000 -W 1 "${NH_ADDR[b]}" >/dev/null
	tx1=$(nh_wire_bytes a)
	rx1=$(nh_wire_bytes a rx)
	# three 1000-byte pings out, three answers in (headers on top)
	((tx1 - tx0 >= 3000))
	((rx1 - rx0 >= 3000))
	((tx1 - tx0 < 6000))
	run nh_wire_bytes a sideways
	[ "$status" -ne 0 ]
}

@test "nh_conf: local clusters, the other hosts' clusters as remote, [gateway]" {
	NH_CONF_EXTRA[a]="[replication]\nbatch_messages = 7"
	NH_MOUNT_EXTRA[b]="max_message = 4096"
	nh_setup
	local conf=$NH_DIR/a/mount.conf
	grep -qxF "mountpoint = $NH_DIR/a/mnt" "$conf"
	run awk '/^\[/ { s = $0; next } /=/ { print s " " $0 }' "$conf"
	[ "$output" = "[mount] mountpoint = $NH_DIR/a/mnt
[cluster sanfrancisco] data = $NH_DIR/a/data/sanfrancisco
[cluster london] gateway = 198.18.0.2:5660
[cluster newyork] gateway = 198.18.0.2:5660
[cluster paris] gateway = 198.18.0.3:5660
[gateway] listen = 198.18.0.1:5660
[gateway] cert = $NH_DIR/certs/a.crt
[gateway] key = $NH_DIR/certs/a.key
[gateway] ca = $NH_DIR/certs/ca.crt
[replication] batch_messages = 7" ]
	grep -qxF "max_message = 4096" "$NH_DIR/b/mount.conf"
	grep -qxF "[cluster newyork]" "$NH_DIR/b/mount.conf"
	grep -qxF "data = $NH_DIR/b/data/newyork" "$NH_DIR/b/mount.conf"
	grep -qxF "gateway = 198.18.0.1:5660" "$NH_DIR/b/mount.conf"
	# NH_CERT picks another certificate; nh_conf rewrites
	nh_cert rogue tokyo
	NH_CERT[c]=rogue
	nh_conf c
	grep -qxF "cert = $NH_DIR/certs/rogue.crt" "$NH_DIR/c/mount.conf"
	grep -qxF "key = $NH_DIR/certs/rogue.key" "$NH_DIR/c/mount.conf"
	# the daemons accept these files
	nh_start a
	nh_start b
	nh_start c
}

@test "each host's certificate names its clusters and verifies against the CA" {
	nh_setup
	run openssl x509 -in "$NH_DIR/certs/b.crt" -noout -ext subjectAltName
	[ "$status" -eq 0 ]
	[[ $output == *"DNS:london, DNS:newyork"* ]]
	run openssl verify -CAfile "$NH_DIR/certs/ca.crt" \
		"$NH_DIR/certs/a.crt" "$NH_DIR/certs/b.crt" "$NH_DIR/certs/c.crt"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
}

@test "a daemon in host a's namespace: mounted, visible here, serves its cluster" {
	nh_setup
	nh_start a SFS_TEST_MARK=harness
	local pid mnt=${NH_MNT[a]}
	pid=$(nh_pid a)
	# in a's network namespace, in our mount namespace
	[ "$(readlink "/proc/$pid/ns/net")" = "net:[$(stat -L -c %i "/run/netns/${NH_NS[a]}")]" ]
	[ "$(readlink "/proc/$pid/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ]
	[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ]
	# the process is streamfs itself (nsenter execs), with the variable
	[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$STREAMFS")" ]
	tr '\0' '\n' <"/proc/$pid/environ" | grep -qxF SFS_TEST_MARK=harness
	is_mounted "$mnt"
	run ls "$mnt"
	[ "$status" -eq 0 ]
	[[ " ${lines[*]} " == *" sanfrancisco "* ]]
	mkdir "$mnt/sanfrancisco/s"
	echo one >>"$mnt/sanfrancisco/s/t"
	echo two >>"$mnt/sanfrancisco/s/t"
	[ "$(cat "$mnt/sanfrancisco/s/t")" = $'one\ntwo' ]
	grep -q "mounted $NH_DIR/a/mount.conf" "$NH_DIR/a/streamfs.log"
	# a second one alongside
	nh_start b
	mkdir "${NH_MNT[b]}/london/s"
	echo three >>"${NH_MNT[b]}/london/s/t"
	[ "$(cat "${NH_MNT[b]}/london/s/t")" = three ]
	run nh_start a
	[ "$status" -ne 0 ]
	[[ $output == *"already running"* ]]
}

@test "nh_stop: clean exit, no mount left; nh_start again finds the data" {
	nh_setup
	nh_start a
	local pid
	pid=$(nh_pid a)
	mkdir "${NH_MNT[a]}/sanfrancisco/s"
	echo kept >>"${NH_MNT[a]}/sanfrancisco/s/t"
	nh_stop a
	[ "${NH_STATUS[a]}" -eq 0 ]
	is_unmounted "${NH_MNT[a]}"
	dead "$pid"
	run nh_pid a
	[ "$status" -ne 0 ]
	grep -q "stopped cleanly" "$NH_DIR/a/streamfs.log"
	nh_start a
	[ "$(cat "${NH_MNT[a]}/sanfrancisco/s/t")" = kept ]
	nh_restart a
	[ "$(cat "${NH_MNT[a]}/sanfrancisco/s/t")" = kept ]
}

@test "nh_kill9: the daemon dies, no mount left; it restarts on its data" {
	nh_setup
	nh_start a
	local pid
	pid=$(nh_pid a)
	mkdir "${NH_MNT[a]}/sanfrancisco/s"
	echo before >>"${NH_MNT[a]}/sanfrancisco/s/t"
	nh_kill9 a
	[ "${NH_STATUS[a]}" -eq 137 ]
	dead "$pid"
	is_unmounted "${NH_MNT[a]}"
	nh_start a
	[ "$(cat "${NH_MNT[a]}/sanfrancisco/s/t")" = before ]
}

@test "nh_stop_signal freezes and thaws a daemon" {
	nh_setup
	nh_start a
	local pid
	pid=$(nh_pid a)
	nh_stop_signal a STOP
	wait_for frozen "$pid"
	nh_stop_signal a CONT
	wait_for not_frozen "$pid"
	mkdir "${NH_MNT[a]}/sanfrancisco/s"
	echo thawed >>"${NH_MNT[a]}/sanfrancisco/s/t"
	[ "$(cat "${NH_MNT[a]}/sanfrancisco/s/t")" = thawed ]
	run nh_stop_signal a KILL
	[ "$status" -ne 0 ]
	# nh_stop stops a frozen daemon cleanly
	nh_stop_signal a STOP
	wait_for frozen "$pid"
	nh_stop a
	[ "${NH_STATUS[a]}" -eq 0 ]
	is_unmounted "${NH_MNT[a]}"
}

@test "nh_teardown: every daemon stopped (a frozen one too), no namespace, no mount" {
	nh_setup
	nh_start a
	nh_start b
	nh_start c
	local tag=$NH_TAG dir=$NH_DIR pa pb pc
	pa=$(nh_pid a) pb=$(nh_pid b) pc=$(nh_pid c)
	[ "$(ns_left "$tag" | wc -l)" -eq 4 ]	# the switch and three hosts
	nh_kill9 b
	nh_stop_signal c STOP
	nh_teardown
	[ -z "$(ns_left "$tag")" ]
	[ -z "$(mounts_under "$dir")" ]
	[ ! -e "$dir" ]
	dead "$pa"
	dead "$pb"
	dead "$pc"
	[ "${NH_STATUS[a]}" -eq 0 ]
	[ "${NH_STATUS[c]}" -eq 0 ]
	nh_teardown		# twice: nothing to do
}

@test "nh_teardown after a partial nh_setup deletes what was made" {
	# the certificates fail: namespaces and links exist by then
	nh_cert() { return 1; }
	if nh_setup; then
		false
	fi
	local tag=$NH_TAG dir=$NH_DIR
	[ -n "$tag" ]
	[ "$(ns_left "$tag" | wc -l)" -eq 4 ]
	nh_teardown
	[ -z "$(ns_left "$tag")" ]
	[ ! -e "$dir" ]
}

@test "nh_log_errors reports error lines per host, NH_LOG_ALLOW excuses them" {
	nh_setup
	nh_start a
	nh_start b
	echo "2026-01-01 00:00:00 streamfs error: something broke" >>"$NH_DIR/b/streamfs.log"
	run nh_log_errors
	[ "$status" -eq 1 ]
	[ "$output" = "host b: 2026-01-01 00:00:00 streamfs error: something broke" ]
	NH_LOG_ALLOW='something broke'
	nh_log_errors
}

@test "gateway-certs.sh: a CA, certificates naming their clusters, usage errors" {
	SCRATCH=$(mktemp -d "${BATS_TMPDIR:-/tmp}/certs.XXXXXX")
	local d=$SCRATCH/tls
	run "$CERTS"
	[ "$status" -ne 0 ]
	[[ $output == *usage:* ]]
	run "$CERTS" cert "$d" host-a	# no cluster
	[ "$status" -ne 0 ]
	[[ $output == *usage:* ]]
	run "$CERTS" cert "$d" host-a sanfrancisco	# no CA yet
	[ "$status" -ne 0 ]
	[[ $output == *"ca $d"* ]]
	run "$CERTS" frobnicate "$d"
	[ "$status" -ne 0 ]

	"$CERTS" ca "$d" 2>/dev/null
	[ -f "$d/ca.crt" ]
	[ "$(stat -c %a "$d/ca.key")" = 600 ]
	local sum
	sum=$(sha256sum <"$d/ca.crt")
	"$CERTS" ca "$d" 2>/dev/null		# kept as it is
	[ "$(sha256sum <"$d/ca.crt")" = "$sum" ]
	run openssl x509 -in "$d/ca.crt" -noout -ext basicConstraints
	[[ $output == *CA:TRUE* ]]

	"$CERTS" cert "$d" host-a sanfrancisco newyork 2>/dev/null
	[ "$(stat -c %a "$d/host-a.key")" = 600 ]
	run openssl x509 -in "$d/host-a.crt" -noout -ext subjectAltName
	[ "$status" -eq 0 ]
	[[ $output == *"DNS:sanfrancisco, DNS:newyork"* ]]
	run openssl x509 -in "$d/host-a.crt" -noout -subject
	[[ $output == *"CN = sanfrancisco"* ]]
	run openssl x509 -in "$d/host-a.crt" -noout -ext extendedKeyUsage
	[[ $output == *"TLS Web Server Authentication, TLS Web Client Authentication"* ]]
	# valid for 10 years (3650 days) from now, give or take a day
	local end
	end=$(date -d "$(openssl x509 -in "$d/host-a.crt" -noout -enddate | cut -d= -f2)" +%s)
	(((end - $(date +%s)) / 86400 >= 3649))
	run openssl verify -CAfile "$d/ca.crt" -purpose sslserver "$d/host-a.crt"
	[ "$status" -eq 0 ]
	run openssl verify -CAfile "$d/ca.crt" -purpose sslclient "$d/host-a.crt"
	[ "$status" -eq 0 ]
	# the key is the certificate's
	[ "$(openssl pkey -in "$d/host-a.key" -pubout)" = "$(openssl x509 -in "$d/host-a.crt" -noout -pubkey)" ]

	# another CA's certificate does not verify against this one
	"$CERTS" ca "$SCRATCH/other" 2>/dev/null
	"$CERTS" cert "$SCRATCH/other" rogue sanfrancisco 2>/dev/null
	run openssl verify -CAfile "$d/ca.crt" "$SCRATCH/other/rogue.crt"
	[ "$status" -ne 0 ]

	run "$CERTS" cert "$d" host-b 'lon/don'
	[ "$status" -ne 0 ]
	[[ $output == *"bad CLUSTER"* ]]
	[ ! -e "$d/host-b.crt" ]
	run "$CERTS" cert "$d" ca london
	[ "$status" -ne 0 ]
	[ "$(sha256sum <"$d/ca.crt")" = "$sum" ]
}
