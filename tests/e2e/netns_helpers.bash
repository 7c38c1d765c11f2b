# tests/e2e/netns_helpers.bash - several streamfs "hosts" on one machine,
# for the gateway tests: each host is a network namespace with its own
# address, its own daemon and its own mount; a bridge in a "switch"
# namespace connects them all, and a host's link can be cut and restored.
#
# Use in a .bats file (after helpers.bash, whose wait_for, is_mounted and
# sfs_file_errors it uses):
#     load helpers
#     load netns_helpers
#     setup() {
#         nh_host a 198.18.0.1 sanfrancisco   # host a, local cluster sanfrancisco
#         nh_host b 198.18.0.2 london newyork # host b, two local clusters
#         nh_setup                            # namespaces, links, certs, mount.conf
#         nh_start a
#         nh_start b
#     }
#     teardown() { nh_teardown; }
#     @test "..." {
#         mkdir "${NH_MNT[a]}/sanfrancisco/s"
#         nh_link_down b; ...; nh_link_up b
#     }
#
# Topology: namespace NH_TAG-switch holds bridge br0; each host namespace
# NH_TAG-HOST holds lo and eth0 (its address, /24), the other end of a veth
# pair whose switch end, vHOST, is a port of br0. So every host reaches
# every other; nothing else is reachable (no route, no gateway). Only
# addresses of 198.18.0.0/24 and loopback are used; IPv6 is off in every
# namespace (no link-local addresses). NH_TAG is sfs<PID> (of the test
# process), unique per run; nh_teardown deletes every namespace it made.
#
# Each host's daemon runs in the host's network namespace but in the root
# mount namespace (nsenter --net, not `ip netns exec`, which would make a
# mount namespace of its own), so its mount is visible to the test.
#
# Functions (HOST is a name given to nh_host: letters and digits, 1-12):
#   nh_require                skip the test unless namespaces are usable
#   nh_host HOST ADDR [CLUSTER...]   declare a host (before nh_setup)
#   nh_setup [HOST...]        make $NH_DIR, the switch, every declared host
#                             (and HOSTs not declared: next free address,
#                             no local cluster), the certificates, mount.conf
#   nh_conf HOST              (re)write $NH_DIR/HOST/mount.conf
#   nh_cert NAME CLUSTER...   one more certificate in $NH_DIR/certs
#   nh_start HOST [VAR=VALUE...]  start HOST's daemon (with those environment
#                             variables), wait for its mount
#   nh_stop HOST              SIGTERM, wait for the exit, unmount; fails if
#                             it does not exit by itself with status 0
#   nh_kill9 HOST             kill -9, reap, lazy unmount
#   nh_restart HOST           nh_stop, nh_start
#   nh_stop_signal HOST STOP|CONT    freeze or thaw the daemon (SIGSTOP/CONT)
#   nh_pid HOST               print the daemon's PID (status 1 if none)
#   nh_link_down HOST / nh_link_up HOST   cut / restore HOST's link
#   nh_exec HOST CMD...       run CMD in HOST's network namespace
#   nh_ping FROM TO           one ping (1 s at most) from host FROM to host
#                             (or address) TO
#   nh_wire_bytes HOST [tx|rx]   bytes HOST's eth0 sent (or received)
#   nh_log_errors             print error lines of every daemon log
#   nh_teardown               for teardown(): stop everything, delete it all
#
# Before nh_setup / nh_conf a test may set (associative arrays, by HOST):
#   NH_MOUNT_EXTRA[HOST]  lines added to HOST's [mount] section
#   NH_ACCESS[HOST] or NH_ACCESS[HOST:CLUSTER]   what HOST lets the other
#                         hosts' clusters (or cluster CLUSTER) do through
#                         its gateway: replicate, read, write or admin
#   NH_CONF_EXTRA[HOST]   text appended to HOST's mount.conf, after the
#                         [gateway] section (so lines before any section
#                         header are [gateway] keys); printf %b: "\n" works
#   NH_NATS[HOST]         HOST's clusters (some of its local ones) kept in
#                         NATS JetStream instead of a data directory: nh_setup
#                         starts a nats-server with JetStream in HOST's
#                         namespace (127.0.0.1:4222 there, its store under
#                         $NH_DIR/HOST/nats; NH_NATS_PID[HOST] its PID) and
#                         those clusters get `nats = nats://127.0.0.1:4222`;
#                         nh_teardown stops it after the daemons
#   NH_CERT[HOST]         the certificate HOST's [gateway] uses: a NAME made
#                         by nh_cert (in $NH_DIR/certs), or a path without
#                         .crt/.key (default: NAME = HOST, which names
#                         HOST's local clusters)
# and (plain variables):
#   NH_PORT       the gateways' port (default 5660)
#   NH_LOG_ALLOW  an extended regex: log lines matching it are not errors
#   NH_KEEP=1     keep $NH_DIR after the test
# After nh_setup:
#   NH_DIR        the scratch directory: certs/ (ca.crt, HOST.crt, HOST.key),
#                 and per host HOST/mount.conf, HOST/mnt, HOST/data/CLUSTER,
#                 HOST/streamfs.log (the daemon's log, stdout and stderr)
#   NH_MNT[HOST]  HOST's mountpoint ($NH_DIR/HOST/mnt)
#   NH_ADDR[HOST] HOST's address; NH_NS[HOST] its namespace
#   NH_HOSTS      the hosts, in order
#   NH_STATUS[HOST]  exit status of HOST's daemon, once stopped or killed
#
# Every wait is bounded. Only the PIDs this library started are signalled.
# Call these from setup()/tests, not through `run` (a subshell would lose
# the PIDs), and not from setup_file().

NH_PORT=${NH_PORT:-5660}
NH_SUBNET=198.18.0		# every address is NH_SUBNET.N/24
NH_EXIT_TIMEOUT=${NH_EXIT_TIMEOUT:-${SFS_EXIT_TIMEOUT:-10}}
NH_MOUNT_TIMEOUT=${NH_MOUNT_TIMEOUT:-${SFS_MOUNT_TIMEOUT:-10}}

NH_DIR=
NH_TAG=
NH_SWITCH=
NH_HOSTS=()
NH_NETNS=()			# namespaces made, in order (teardown deletes them)
# (declare -g: bats loads this file inside a function)
declare -gA NH_ADDR=() NH_CLUSTERS=() NH_NS=() NH_MNT=() NH_PID=() \
	NH_STATUS=() NH_MOUNT_EXTRA=() NH_CONF_EXTRA=() NH_CERT=() NH_ACCESS=() \
	NH_NATS=() NH_NATS_PID=()

_nh_err() {
	echo "netns_helpers: $*" >&2
}

# _nh_known HOST: HOST was declared (message if not).
_nh_known() {
	if [[ -z ${1:-} || -z ${NH_ADDR[$1]+x} ]]; then
		_nh_err "unknown host '${1:-}' (hosts: ${NH_HOSTS[*]:-none})"
		return 1
	fi
}

# _nh_ready HOST: HOST was declared and nh_setup made it.
_nh_ready() {
	_nh_known "$1" || return 1
	if [[ -z ${NH_NS[$1]:-} ]]; then
		_nh_err "host $1: nh_setup has not run"
		return 1
	fi
}

# nh_require: skip the test, saying why, unless this process can make
# network namespaces (root, iproute2, nsenter, and the kernel allows it).
nh_require() {
	local c
	if [[ $(id -u) -ne 0 ]]; then
		skip "network namespaces need root (run the multi-host tests as root)"
	fi
	for c in ip nsenter fusermount3 openssl jq; do
		command -v "$c" >/dev/null ||
			skip "'$c' is missing (make deps installs it)"
	done
	local probe="sfs$$probe" out
	if ! out=$(ip netns add "$probe" 2>&1); then
		skip "ip netns add does not work here: $out"
	fi
	ip netns del "$probe" 2>/dev/null || true
}

# nh_host HOST ADDR [CLUSTER...]: declare HOST, with address ADDR (in
# 198.18.0.0/24) and these local clusters. Every other host's clusters are
# remote clusters of HOST.
nh_host() {
	local h=${1:-} addr=${2:-} c o
	if [[ -n $NH_DIR ]]; then
		_nh_err "nh_host $h: declare hosts before nh_setup"
		return 1
	fi
	if ! [[ $h =~ ^[A-Za-z0-9]{1,12}$ && $h != switch ]]; then
		_nh_err "bad host name '$h' (1-12 letters or digits, not 'switch')"
		return 1
	fi
	if [[ -n ${NH_ADDR[$h]+x} ]]; then
		_nh_err "host $h declared twice"
		return 1
	fi
	if ! [[ $addr =~ ^198\.18\.0\.([1-9][0-9]{0,2})$ ]] ||
		((BASH_REMATCH[1] > 254)); then
		_nh_err "host $h: address '$addr' is not in 198.18.0.1-254"
		return 1
	fi
	for o in "${NH_HOSTS[@]}"; do
		if [[ ${NH_ADDR[$o]} == "$addr" ]]; then
			_nh_err "host $h: address $addr is host $o's"
			return 1
		fi
	done
	shift 2
	for c in "$@"; do
		if ! [[ $c =~ ^[A-Za-z0-9._-]+$ ]]; then
			_nh_err "host $h: bad cluster name '$c'"
			return 1
		fi
		for o in "${NH_HOSTS[@]}"; do
			if [[ " ${NH_CLUSTERS[$o]} " == *" $c "* ]]; then
				_nh_err "host $h: cluster $c is already host $o's"
				return 1
			fi
		done
	done
	NH_HOSTS+=("$h")
	NH_ADDR[$h]=$addr
	NH_CLUSTERS[$h]="$*"
}

# _nh_free_addr: print the lowest NH_SUBNET address no host has.
_nh_free_addr() {
	local i h used
	for ((i = 1; i <= 254; i++)); do
		used=
		for h in "${NH_HOSTS[@]}"; do
			[[ ${NH_ADDR[$h]} == "$NH_SUBNET.$i" ]] && used=1
		done
		[[ -z $used ]] && { echo "$NH_SUBNET.$i"; return 0; }
	done
	return 1
}

# _nh_netns_add NAME: make namespace NAME (remembered for teardown) with
# IPv6 off, for every device made in it later too.
_nh_netns_add() {
	ip netns add "$1" || return 1
	NH_NETNS+=("$1")
	if [[ -e /proc/sys/net/ipv6 ]]; then
		nsenter --net="/run/netns/$1" -- sh -c '
			echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 &&
			echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6' || return 1
	fi
	ip -n "$1" link set lo up
}

# _nh_oper NS DEV STATE: DEV's operstate in namespace NS is STATE.
_nh_oper() {
	[[ $(ip -n "$1" -j link show "$2" 2>/dev/null |
		jq -r '.[0].operstate') == "$3" ]]
}

# nh_setup [HOST...]: make everything: $NH_DIR, the switch, each host's
# namespace and link, the certificates (a CA, and HOST.crt naming HOST's
# local clusters), and each host's mount.conf. Daemons are not started.
# HOSTs not declared by nh_host are declared with the next free address and
# no local cluster. Skips the test if namespaces cannot be used.
nh_setup() {
	local h
	if [[ -n $NH_DIR ]]; then
		_nh_err "nh_setup: already set up ($NH_DIR)"
		return 1
	fi
	nh_require
	for h in "$@"; do
		[[ -n ${NH_ADDR[$h]+x} ]] || nh_host "$h" "$(_nh_free_addr)" || return 1
	done
	if [[ ${#NH_HOSTS[@]} -eq 0 ]]; then
		_nh_err "nh_setup: no host (nh_host HOST ADDR CLUSTER... first)"
		return 1
	fi
	NH_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/nh.XXXXXX") || return 1
	export NH_DIR

	# A tag no namespace has (a PID can be reused after a crashed run).
	NH_TAG=sfs$$
	while compgen -G "/run/netns/$NH_TAG-*" >/dev/null; do
		NH_TAG=sfs$$r$RANDOM
	done
	NH_SWITCH=$NH_TAG-switch
	_nh_netns_add "$NH_SWITCH" || return 1
	ip -n "$NH_SWITCH" link add br0 type bridge stp_state 0 || return 1
	ip -n "$NH_SWITCH" link set br0 up || return 1

	local ns
	for h in "${NH_HOSTS[@]}"; do
		ns=$NH_TAG-$h
		_nh_netns_add "$ns" || return 1
		NH_NS[$h]=$ns
		ip -n "$ns" link add eth0 type veth peer name "v$h" \
			netns "$NH_SWITCH" || return 1
		ip -n "$NH_SWITCH" link set "v$h" master br0 up || return 1
		ip -n "$ns" addr add "${NH_ADDR[$h]}/24" dev eth0 || return 1
		ip -n "$ns" link set eth0 up || return 1
	done
	for h in "${NH_HOSTS[@]}"; do
		wait_for _nh_oper "${NH_NS[$h]}" eth0 UP || return 1
	done

	mkdir -p "$NH_DIR/certs"
	"$STREAMFS_SRC/scripts/gateway-certs.sh" ca "$NH_DIR/certs" 2>/dev/null ||
		return 1
	for h in "${NH_HOSTS[@]}"; do
		# a host without local cluster still needs a certificate
		# shellcheck disable=SC2086	# the cluster list is words
		nh_cert "$h" ${NH_CLUSTERS[$h]:-$h} || return 1
		NH_MNT[$h]=$NH_DIR/$h/mnt
		mkdir -p "$NH_DIR/$h/mnt" "$NH_DIR/$h/data"
		if [[ -n ${NH_NATS[$h]:-} ]]; then
			_nh_nats_start "$h" || return 1
		fi
		nh_conf "$h" || return 1
	done
}

# _nh_nats_start HOST: a nats-server with JetStream in HOST's namespace on
# 127.0.0.1:4222 (the namespace's own loopback: no other test can hold the
# port), its store and log under $NH_DIR/HOST/nats, max_payload 8 MiB (as
# sfs_nats_start in helpers.bash); waits (bounded) until it is ready.
_nh_nats_start() {
	local h=$1 d=$NH_DIR/$1/nats i
	mkdir -p "$d"
	printf 'max_payload: 8MB\n' >"$d/nats.conf"
	: >"$d/nats.log"
	nsenter --net="/run/netns/${NH_NS[$h]}" -- nats-server -c "$d/nats.conf" -js \
		-sd "$d/js" -a 127.0.0.1 -p 4222 -l "$d/nats.log" \
		</dev/null >/dev/null 2>&1 3>&- &
	NH_NATS_PID[$h]=$!
	for ((i = 0; i < 200; i++)); do
		grep -q 'Server is ready' "$d/nats.log" && return 0
		_sfs_alive "${NH_NATS_PID[$h]}" || break
		sleep 0.05
	done
	_nh_err "host $h: nats-server did not start:"
	tail -n 20 "$d/nats.log" >&2
	return 1
}

# _nh_nats_stop: stop every nats-server of _nh_nats_start (SIGTERM, then
# SIGKILL after 10 s), by PID.
_nh_nats_stop() {
	local h pid
	for h in "${!NH_NATS_PID[@]}"; do
		pid=${NH_NATS_PID[$h]}
		[[ -n $pid ]] || continue
		stop_pid "$pid"
		NH_NATS_PID[$h]=
	done
}

# nh_cert NAME CLUSTER...: make $NH_DIR/certs/NAME.{crt,key}, signed by the
# test's CA, naming these clusters (e.g. a certificate naming the wrong
# cluster, for NH_CERT[HOST]=NAME).
nh_cert() {
	if [[ -z $NH_DIR ]]; then
		_nh_err "nh_cert: nh_setup has not run"
		return 1
	fi
	"$STREAMFS_SRC/scripts/gateway-certs.sh" cert "$NH_DIR/certs" "$@" \
		2>/dev/null || {
		_nh_err "nh_cert $*: scripts/gateway-certs.sh failed"
		return 1
	}
}

# nh_conf HOST: (re)write $NH_DIR/HOST/mount.conf: HOST's local clusters
# (data under $NH_DIR/HOST/data/), every other host's clusters as remote
# (gateway = ADDR:NH_PORT), and [gateway] (listen on HOST's address, its
# certificate, the test's CA), then NH_CONF_EXTRA[HOST]. Takes effect at
# the next nh_start.
nh_conf() {
	local h=$1 o c cert a
	_nh_ready "$h" || return 1
	cert=${NH_CERT[$h]:-$h}
	[[ $cert == */* ]] || cert=$NH_DIR/certs/$cert
	{
		echo "; written by tests/e2e/netns_helpers.bash: host $h (${NH_ADDR[$h]})"
		echo "[mount]"
		echo "mountpoint = $NH_DIR/$h/mnt"
		[[ -n ${NH_MOUNT_EXTRA[$h]:-} ]] && printf '%b\n' "${NH_MOUNT_EXTRA[$h]}"
		for c in ${NH_CLUSTERS[$h]}; do
			echo "[cluster $c]"
			if [[ " ${NH_NATS[$h]:-} " == *" $c "* ]]; then
				echo "nats = nats://127.0.0.1:4222"
			else
				echo "data = $NH_DIR/$h/data/$c"
			fi
		done
		for o in "${NH_HOSTS[@]}"; do
			[[ $o == "$h" ]] && continue
			for c in ${NH_CLUSTERS[$o]}; do
				echo "; host $o"
				echo "[cluster $c]"
				echo "gateway = ${NH_ADDR[$o]}:$NH_PORT"
				a=${NH_ACCESS[$h:$c]:-${NH_ACCESS[$h]:-}}
				[[ -z $a ]] || echo "access = $a"
			done
		done
		echo "[gateway]"
		echo "listen = ${NH_ADDR[$h]}:$NH_PORT"
		echo "cert = $cert.crt"
		echo "key = $cert.key"
		echo "ca = $NH_DIR/certs/ca.crt"
		[[ -n ${NH_CONF_EXTRA[$h]:-} ]] && printf '%b\n' "${NH_CONF_EXTRA[$h]}"
		true
	} >"$NH_DIR/$h/mount.conf"
}

# _nh_log_tail HOST: print HOST's daemon log (for failure messages).
_nh_log_tail() {
	local log=$NH_DIR/$1/streamfs.log
	[[ -f $log ]] || return 0
	echo "---- host $1: $log (last 60 lines) ----" >&2
	tail -n 60 "$log" >&2
	echo "---- end of log ----" >&2
}

# nh_pid HOST: print the PID of HOST's daemon; status 1 if it has none.
nh_pid() {
	_nh_known "$1" || return 1
	[[ -n ${NH_PID[$1]:-} ]] || return 1
	echo "${NH_PID[$1]}"
}

# nh_start HOST [VAR=VALUE...]: start HOST's daemon in HOST's network
# namespace (the root mount namespace), with these environment variables
# (e.g. STREAMFS_FAULT=...), and wait (bounded) for its mount.
nh_start() {
	local h=${1:-} log mnt pid
	_nh_ready "$h" || return 1
	shift
	if [[ -n ${NH_PID[$h]:-} ]]; then
		if _sfs_alive "${NH_PID[$h]}"; then
			_nh_err "nh_start $h: already running (pid ${NH_PID[$h]})"
			return 1
		fi
		_nh_reap "$h"	# it exited by itself: collect its status
	fi
	if [[ ! -x $STREAMFS ]]; then
		_nh_err "STREAMFS=$STREAMFS is not an executable (make asan)"
		return 1
	fi
	log=$NH_DIR/$h/streamfs.log mnt=${NH_MNT[$h]}
	# nsenter --net enters the namespace and execs (no fork): $! is the
	# daemon itself. 3>&- : bats waits for whatever holds its fd 3 open.
	nsenter --net="/run/netns/${NH_NS[$h]}" -- env "$@" \
		"$STREAMFS" -c "$NH_DIR/$h/mount.conf" -f -l "$log" "$mnt" \
		</dev/null >>"$log" 2>&1 3>&- &
	pid=$!
	NH_PID[$h]=$pid
	NH_STATUS[$h]=
	local i
	for ((i = 0; i < NH_MOUNT_TIMEOUT * 20; i++)); do
		is_mounted "$mnt" && return 0
		if ! _sfs_alive "$pid"; then
			_nh_reap "$h"
			_nh_err "nh_start $h: streamfs exited with status" \
				"${NH_STATUS[$h]} before mounting"
			_nh_log_tail "$h"
			return 1
		fi
		sleep 0.05
	done
	_nh_err "nh_start $h: $mnt not mounted after ${NH_MOUNT_TIMEOUT}s"
	_nh_log_tail "$h"
	return 1
}

# _nh_reap HOST: wait (bounded) for HOST's daemon to exit; collect its
# status in NH_STATUS[HOST] and forget its PID. Status 1 if it still runs.
_nh_reap() {
	local h=$1 pid=${NH_PID[$1]:-} st=0
	[[ -n $pid ]] || return 0
	wait_for -t "$NH_EXIT_TIMEOUT" _nh_gone "$pid" 2>/dev/null || return 1
	wait "$pid" 2>/dev/null || st=$?
	# 127: not a child of this shell; status unknown
	[[ $st -eq 127 ]] && st=0
	NH_STATUS[$h]=$st
	NH_PID[$h]=
}

# _nh_gone PID: PID has exited (a zombie counts as exited).
_nh_gone() {
	! _sfs_alive "$1"
}

# _nh_frozen PID: PID is stopped by a signal (state T).
_nh_frozen() {
	[[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) == T ]]
}

# _nh_thaw PID: SIGCONT PID and wait (2 s at most) until it runs again.
# Before a SIGTERM: one sent to a stopped process is taken, once it runs,
# by whichever of its threads comes first, and libfuse's loop only ends by
# itself when its main thread or a FUSE worker takes it.
_nh_thaw() {
	kill -CONT "$1" 2>/dev/null || return 0
	_nh_frozen "$1" || return 0
	wait_for -t 2 eval "! _nh_frozen $1" 2>/dev/null || true
}

# _nh_unmount DIR: unmount DIR if mounted: cleanly, else lazily; wait
# (bounded) until it is gone. Status 1 if it is still mounted.
_nh_unmount() {
	is_unmounted "$1" && return 0
	fusermount3 -u "$1" 2>/dev/null ||
		fusermount3 -uz "$1" 2>/dev/null ||
		umount -l "$1" 2>/dev/null || true
	wait_for -t "$NH_EXIT_TIMEOUT" is_unmounted "$1"
}

# nh_stop HOST: SIGTERM HOST's daemon, wait (bounded) for it to exit, then
# unmount if it left its mount. Fails if it does not exit in time (it is
# then killed) or exits with a non-zero status.
nh_stop() {
	local h=${1:-} pid
	_nh_ready "$h" || return 1
	pid=${NH_PID[$h]:-}
	if [[ -n $pid ]]; then
		_nh_thaw "$pid"		# if frozen
		kill -TERM "$pid" 2>/dev/null || true
		if ! _nh_reap "$h"; then
			_nh_err "nh_stop $h: streamfs (pid $pid) still running" \
				"${NH_EXIT_TIMEOUT}s after SIGTERM; killing it"
			_nh_log_tail "$h"
			nh_kill9 "$h"
			return 1
		fi
	fi
	_nh_unmount "${NH_MNT[$h]}" || return 1
	if [[ -n $pid && ${NH_STATUS[$h]} -ne 0 ]]; then
		_nh_err "nh_stop $h: streamfs exited with status ${NH_STATUS[$h]}"
		_nh_log_tail "$h"
		return 1
	fi
}

# nh_kill9 HOST: kill -9 HOST's daemon (a crash), reap it, and detach the
# dead mount.
nh_kill9() {
	local h=${1:-} pid
	_nh_ready "$h" || return 1
	pid=${NH_PID[$h]:-}
	if [[ -n $pid ]]; then
		kill -KILL "$pid" 2>/dev/null || true
		if ! _nh_reap "$h"; then
			_nh_err "nh_kill9 $h: pid $pid survived kill -9"
			return 1
		fi
	fi
	if ! is_unmounted "${NH_MNT[$h]}"; then
		fusermount3 -uz "${NH_MNT[$h]}" 2>/dev/null ||
			umount -l "${NH_MNT[$h]}" 2>/dev/null || true
	fi
	wait_for -t "$NH_EXIT_TIMEOUT" is_unmounted "${NH_MNT[$h]}"
}

# nh_restart HOST: clean stop, then start again on the same data.
nh_restart() {
	nh_stop "$1" && nh_start "$1"
}

# nh_stop_signal HOST STOP|CONT: freeze (SIGSTOP) or thaw (SIGCONT) HOST's
# daemon: a host that hangs without closing its connections.
nh_stop_signal() {
	local h=${1:-} sig=${2:-}
	_nh_ready "$h" || return 1
	if [[ $sig != STOP && $sig != CONT ]]; then
		_nh_err "nh_stop_signal $h: STOP or CONT, not '$sig'"
		return 1
	fi
	if [[ -z ${NH_PID[$h]:-} ]]; then
		_nh_err "nh_stop_signal $h: no daemon running"
		return 1
	fi
	kill "-$sig" "${NH_PID[$h]}"
}

# nh_link_down HOST: cut HOST's link (its port on the switch goes down):
# from then on, what HOST sends and what is sent to it is lost, silently,
# as with a pulled cable; HOST keeps its address. Waits until HOST's eth0
# has lost its carrier.
nh_link_down() {
	_nh_ready "${1:-}" || return 1
	ip -n "$NH_SWITCH" link set "v$1" down || return 1
	wait_for _nh_oper "${NH_NS[$1]}" eth0 DOWN
}

# nh_link_up HOST: restore HOST's link; waits until it carries traffic.
nh_link_up() {
	_nh_ready "${1:-}" || return 1
	ip -n "$NH_SWITCH" link set "v$1" up || return 1
	wait_for _nh_oper "${NH_NS[$1]}" eth0 UP &&
		wait_for _nh_port_forwarding "v$1"
}

# _nh_port_forwarding PORT: switch port PORT forwards.
_nh_port_forwarding() {
	[[ $(ip -n "$NH_SWITCH" -d -j link show "$1" 2>/dev/null |
		jq -r '.[0].linkinfo.info_slave_data.state') == forwarding ]]
}

# nh_exec HOST CMD...: run CMD in HOST's network namespace (only: the mount
# namespace and everything else stay the test's).
nh_exec() {
	_nh_ready "${1:-}" || return 1
	local ns=${NH_NS[$1]}
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# nh_ping FROM TO: one ping from host FROM to host TO (or to address TO),
# waiting 1 s at most for the answer. Quiet; status 0 if answered.
nh_ping() {
	local to=${2:-}
	[[ -n ${NH_ADDR[$to]+x} ]] && to=${NH_ADDR[$to]}
	if ! command -v ping >/dev/null; then
		_nh_err "nh_ping: 'ping' is missing (iputils-ping; make deps)"
		return 1
	fi
	nh_exec "${1:-}" ping -n -q -c 1 -W 1 "$to" >/dev/null 2>&1
}

# nh_wire_bytes HOST [tx|rx]: print how many bytes HOST's eth0 has sent
# (tx, the default) or received (rx) since nh_setup: everything on the
# wire, headers, ARP and TLS included.
nh_wire_bytes() {
	local dir=${2:-tx}
	_nh_ready "${1:-}" || return 1
	if [[ $dir != tx && $dir != rx ]]; then
		_nh_err "nh_wire_bytes: tx or rx, not '$dir'"
		return 1
	fi
	# (sysfs would show the root namespace's devices: ask ip instead)
	ip -n "${NH_NS[$1]}" -s -j link show eth0 |
		jq -e --arg d "$dir" '.[0].stats64[$d].bytes'
}

# nh_log_errors: print the error lines (see SFS_LOG_ERROR_RE in
# helpers.bash) of every host's daemon log, less those matching
# NH_LOG_ALLOW, each prefixed with its host. Status 0 if there are none.
nh_log_errors() {
	local h bad fail=0
	[[ -n $NH_DIR ]] || return 0
	for h in "${NH_HOSTS[@]}"; do
		if ! bad=$(sfs_file_errors "$NH_DIR/$h/streamfs.log" \
			"${NH_LOG_ALLOW:-}"); then
			printf '%s\n' "$bad" | sed "s/^/host $h: /"
			fail=1
		fi
	done
	return "$fail"
}

# nh_teardown: for teardown(). Background jobs of bg_start (if
# replication_helpers is loaded) are killed first; then every daemon this
# library started gets SIGCONT (if frozen) and SIGTERM, its mount is
# unmounted (fusermount3 -u, else -uz), and it must exit in time (else it is
# killed with SIGKILL and the test fails). Every namespace made is deleted.
# The test fails if a daemon exited non-zero, if a mount is left under
# $NH_DIR (it is then detached), or if a log has an error line (the logs
# are then printed). Removes $NH_DIR unless NH_KEEP=1. Safe after a
# partial nh_setup, and when called twice.
nh_teardown() {
	local fail=0 h pid ns m errs
	if declare -F bg_kill_all >/dev/null; then
		bg_kill_all
	fi
	# Stop every daemon at once (thawed first, if frozen: see _nh_thaw),
	# unmount, then wait for them all.
	for h in "${NH_HOSTS[@]}"; do
		pid=${NH_PID[$h]:-}
		[[ -n $pid ]] || continue
		_nh_thaw "$pid"
		kill -TERM "$pid" 2>/dev/null || true
	done
	for h in "${NH_HOSTS[@]}"; do
		m=${NH_MNT[$h]:-}
		if [[ -n $m ]] && ! is_unmounted "$m"; then
			fusermount3 -u "$m" 2>/dev/null ||
				fusermount3 -uz "$m" 2>/dev/null || true
		fi
	done
	for h in "${NH_HOSTS[@]}"; do
		pid=${NH_PID[$h]:-}
		[[ -n $pid ]] || continue
		if ! _nh_reap "$h"; then
			_nh_err "nh_teardown: host $h: streamfs (pid $pid) still" \
				"running ${NH_EXIT_TIMEOUT}s after SIGTERM; killing it"
			fail=1
			kill -KILL "$pid" 2>/dev/null || true
			_nh_reap "$h" || _nh_err "nh_teardown: pid $pid survived kill -9"
		elif [[ ${NH_STATUS[$h]} -ne 0 ]]; then
			_nh_err "nh_teardown: host $h: streamfs exited with status" \
				"${NH_STATUS[$h]}"
			fail=1
		fi
	done
	# Mounts left behind: the hosts' and anything else under $NH_DIR.
	if [[ -n $NH_DIR ]]; then
		while read -r m; do
			_nh_err "nh_teardown: $m is still mounted; unmounting it"
			fail=1
			_nh_unmount "$m" ||
				_nh_err "nh_teardown: cannot unmount $m"
		done < <(awk -v d="$NH_DIR/" 'index($2, d) == 1 { print $2 }' \
			/proc/mounts)
	fi
	# The hosts' nats-servers, once their daemons are gone.
	_nh_nats_stop
	# Namespaces, hosts first (their veth ends go with them), the switch
	# last.
	local i
	for ((i = ${#NH_NETNS[@]} - 1; i >= 0; i--)); do
		ns=${NH_NETNS[i]}
		if ! ip netns del "$ns"; then
			_nh_err "nh_teardown: cannot delete namespace $ns"
			fail=1
		fi
	done
	NH_NETNS=()
	if ! errs=$(nh_log_errors); then
		_nh_err "nh_teardown: daemon logs have errors:"
		printf '%s\n' "$errs" >&2
		fail=1
	fi
	if ((fail)); then
		for h in "${NH_HOSTS[@]}"; do
			[[ -n $NH_DIR ]] && _nh_log_tail "$h"
		done
	fi
	if [[ -n $NH_DIR ]]; then
		if [[ ${NH_KEEP:-0} == 1 ]]; then
			_nh_err "nh_teardown: kept $NH_DIR"
		elif ! awk -v d="$NH_DIR/" 'index($2, d) == 1 { f = 1 } END { exit !f }' \
			/proc/mounts; then
			# --one-file-system: never reach into a mount
			rm -rf --one-file-system "$NH_DIR"
		fi
	fi
	NH_DIR=
	for h in "${NH_HOSTS[@]}"; do
		NH_NS[$h]=
	done
	return "$fail"
}
