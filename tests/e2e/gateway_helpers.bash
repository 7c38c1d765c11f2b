# tests/e2e/gateway_helpers.bash - what the gateway tests (70-gateway.bats,
# 71-gateway-faults.bats) share: hosts a, b, c as network namespaces with
# their own daemons (netns_helpers.bash), their setup and teardown, and
# helpers to wire replication between them. Load after helpers,
# replication_helpers and netns_helpers.
#
# Hosts: a = 198.18.0.1 (sanfrancisco), b = 198.18.0.2 (london),
# c = 198.18.0.3 (tokyo) where a third host is needed.

setup() {
	nh_require
	# A stalled or cut peer is noticed after this long (and a daemon
	# stopping while a peer is gone logs the lost connection).
	GW_TIMEOUT=1000
	NH_LOG_ALLOW='gateway'
}

teardown() {
	bg_kill_all
	nh_teardown
}

# hosts HOST...: declare the usual hosts, set up, start them, and make
# stream s in each host's local clusters. Sets A, B, C, P (cluster dirs).
# Host "rogue" is c without clusters, set up but not started (rogue_host).
# A_CLUSTERS (default sanfrancisco) are host a's clusters; whatever
# NH_CONF_EXTRA[HOST] holds already follows the [gateway] timeout.
hosts() {
	local h
	for h in "$@"; do
		case $h in
		a) nh_host a 198.18.0.1 ${A_CLUSTERS:-sanfrancisco} ;;
		b) nh_host b 198.18.0.2 london ;;
		c) nh_host c 198.18.0.3 tokyo ;;
		rogue) nh_host c 198.18.0.3 ;;
		esac
		NH_CONF_EXTRA[$h]="timeout_ms = $GW_TIMEOUT\n${NH_CONF_EXTRA[$h]:-}"
	done
	nh_setup
	A=${NH_MNT[a]:-}/sanfrancisco
	B=${NH_MNT[b]:-}/london
	C=${NH_MNT[c]:-}/tokyo
	P=${NH_MNT[a]:-}/paris
	for h in "$@"; do
		[[ $h == rogue ]] && continue
		nh_start "$h"
		case $h in
		a) mkdir "$A/s"; [[ ${A_CLUSTERS:-} != *paris* ]] || mkdir "$P/s" ;;
		b) mkdir "$B/s" ;;
		c) mkdir "$C/s" ;;
		esac
	done
}

# xrep SRCDIR/STREAM DSTDIR/STREAM [SETTINGS]: the destination accepts the
# source (.upstreams), the source sends to it (.replicas). Paths are
# cluster directories under a mount, e.g. "$A/s" "$B/s".
xrep() {
	local src=$1 dst=$2
	local sname dname
	sname=$(basename "$(dirname "$src")")/$(basename "$src")
	dname=$(basename "$(dirname "$dst")")/$(basename "$dst")
	echo "/mapr/$sname" >>"$dst/.upstreams" &&
		echo "/mapr/$dname${3:+ $3}" >>"$src/.replicas"
}

# on HOST CMD...: run CMD with M set to HOST's mountpoint, for the helpers
# of replication_helpers.bash (rline_match, rinfo), which look under $M.
on() {
	local M=${NH_MNT[$1]}
	shift
	"$@"
}

# in_log HOST REGEX: HOST's daemon log has a line matching REGEX.
in_log() {
	grep -Eq -- "$2" "$NH_DIR/$1/streamfs.log"
}

# send_batches FILE PREFIX BATCHES SIZE: append PREFIX-1 ... PREFIX-(B*S)
# to FILE, SIZE messages per write.
send_batches() {
	local f=$1 p=$2 nb=$3 sz=$4 i
	for ((i = 0; i < nb; i++)); do
		seq -f "$p-%.0f" $((i * sz + 1)) $(((i + 1) * sz)) >>"$f" || return 1
	done
}

# both_masters_union PRE N OWN: the multi-master case of 70-gateway.bats
# (and of 77-nats-gateway.bats, a NATS-backed A): PRE messages in A/s/pre
# before replication is set up both ways between A/s and B/s (the initial
# copy crosses the network); then N messages from each master into the
# same topic t at once and OWN into a topic of each side's own. Each side
# ends with the union, exactly once, each origin in order; nothing comes
# back to its origin; both replicas end up to date; no log errors.
both_masters_union() {
	local pre=$1 n=$2 own=$3 wa wb f
	append_each "$A/s/pre" pre "$pre"
	xrep "$A/s" "$B/s"
	xrep "$B/s" "$A/s"
	wait_count "$B/s/pre" "$pre" 20
	same_content "$A/s/pre" "$B/s/pre"

	bg_start append_each "$A/s/t" a "$n"
	wa=$BG_PID
	bg_start append_each "$B/s/t" b "$n"
	wb=$BG_PID
	append_each "$A/s/own-a" oa "$own"
	append_each "$B/s/own-b" ob "$own"
	wait "$wa"
	wait "$wb"
	wait_count "$A/s/t" $((2 * n)) 30
	wait_count "$B/s/t" $((2 * n)) 30
	for f in "$A/s/t" "$B/s/t"; do
		no_dups "$f"
		in_order "$f" a "$n"
		in_order "$f" b "$n"
	done
	wait_count "$B/s/own-a" "$own" 20
	wait_count "$A/s/own-b" "$own" 20
	in_order "$B/s/own-a" oa "$own"
	in_order "$A/s/own-b" ob "$own"
	# Nothing came back to its origin.
	still_count "$A/s/pre" "$pre"
	still_count "$B/s/pre" "$pre"
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=REPLICATING pending=0 uptodate=true'
	wait_for -t 10 on b rline_match london/s sanfrancisco/s 'state=REPLICATING pending=0 uptodate=true'
	[ -z "$(nh_log_errors)" ]
}
