#!/usr/bin/env bats
# 80-service.bats - running streamfs as a service (docs/operating.md):
# make install into a DESTDIR (every file, every man page rendered, the
# systemd unit), mount -t fuse.streamfs and an fstab line through fuse3's
# mount.fuse3, --version, the messages for a missing -c and a stale mount,
# -o passed through, SIGHUP reopening the log, syslog when detached, /.info
# and the [metrics] endpoint scraped before and after appends.
#
# Mounts are only ever made on $TMP/mnt (a fresh mktemp directory), in this
# mount namespace or, for mount(8) and syslog, in a private one (unshare
# -m) that this test's own script leaves after unmounting.

load helpers
bats_require_minimum_version 1.5.0

setup() { sfs_mktemp; }
teardown() { sfs_teardown; }

# in_private_ns SCRIPT: run bash SCRIPT in a private mount namespace, where
# SCRIPT's own trap unmounts $M (exported) whatever happens.
in_private_ns() {
	unshare -m --propagation private bash -c "$1"
}

@test "--version on both programs; no -c says what to do" {
	run -0 "$STREAMFS" --version
	[[ $output == "streamfs "[0-9]* ]]
	run -0 "$STREAMFS_SRC/maprcli" --version
	[[ $output == "maprcli (streamfs) "[0-9]* ]]
	run -2 "$STREAMFS"
	[[ $output == *"no configuration file: give it with -c CONFIG"* ]]
	[[ $output == *"mount.conf(5)"* ]]
}

@test "a mount left by kill -9: the restart says how to clear it, and clears it itself under -o auto_unmount" {
	sfs_write_conf sanfrancisco
	sfs_start
	kill -9 "$SFS_PID"
	_sfs_reap
	run -1 "$STREAMFS" -c "$TMP/mount.conf" -f
	[[ $output == *"Transport endpoint is not connected"* ]]
	[[ $output == *"fusermount3 -u $M"* ]]
	# with -o auto_unmount (as the systemd unit starts it), a restart clears
	# the dead mount itself and serves
	"$STREAMFS" -c "$TMP/mount.conf" -f -l "$TMP/streamfs.log" -o auto_unmount \
		</dev/null >"$TMP/restart.err" 2>&1 3>&- &
	SFS_PID=$!
	wait_for -t 20 test -d "$M/sanfrancisco"
	grep -q "cleared the mount a killed daemon left (-o auto_unmount)" "$TMP/restart.err"
	# and that daemon killed in turn: fusermount3's watcher unmounts, or
	# (when it loses its race with the dying daemon) the next start does
	kill -9 "$SFS_PID"
	_sfs_reap
	"$STREAMFS" -c "$TMP/mount.conf" -f -l "$TMP/streamfs.log" -o auto_unmount \
		</dev/null >>"$TMP/streamfs.log" 2>&1 3>&- &
	SFS_PID=$!
	wait_for -t 20 test -d "$M/sanfrancisco"
	sfs_stop
	wait_for -t 20 is_unmounted "$M"
	# only a dead streamfs mount is cleared: a live one is still refused
	sfs_start
	run -1 "$STREAMFS" -c "$TMP/mount.conf" -f -o auto_unmount
	[[ $output == *"is busy (already mounted)"* ]]
	[ -d "$M/sanfrancisco" ]
}

@test "positional config and -o: options reach libfuse, nosuid and nodev stay" {
	sfs_write_conf sanfrancisco
	"$STREAMFS" "$TMP/mount.conf" "$M" -f -l "$TMP/streamfs.log" -o fsname=mystreams,suid,dev \
		</dev/null >>"$TMP/streamfs.log" 2>&1 3>&- &
	SFS_PID=$!
	wait_for -t 10 is_mounted "$M"
	local line
	line=$(MT_PATH=$(_mount_escape "$M") awk '$2 == ENVIRON["MT_PATH"]' /proc/mounts)
	[[ $line == "mystreams "* ]]
	[[ $line == *nosuid* && $line == *nodev* ]]
	run -1 "$STREAMFS" "$TMP/mount.conf" "$M" -o no_such_option
	# an unknown option on a fresh mountpoint and data directory: refused
	# before anything is made
	mkdir "$TMP/m2"
	printf '[cluster fresh]\ndata = %s\n' "$TMP/fresh" >"$TMP/fresh.conf"
	run -1 "$STREAMFS" -c "$TMP/fresh.conf" -f "$TMP/m2" -o no_such_option
	[[ $output == *"unknown option"* ]]
	[[ $output == *"an option libfuse does not take"* ]]
	[ ! -e "$TMP/fresh" ]
	! is_mounted "$TMP/m2" || false
}

# mount_with CONF OPTS: the daemon on $M with -o OPTS, in the foreground
# (SFS_PID), mounted; MOUNT_LINE is its line of /proc/mounts.
mount_with() {
	"$STREAMFS" -c "$1" -f -l "$TMP/streamfs.log" -o "$2" "$M" \
		</dev/null >>"$TMP/streamfs.log" 2>&1 3>&- &
	SFS_PID=$!
	wait_for -t 10 is_mounted "$M" || return 1
	MOUNT_LINE=$(MT_PATH=$(_mount_escape "$M") awk '$2 == ENVIRON["MT_PATH"]' /proc/mounts)
}

@test "-o max_read=4096: the mount serves (libfuse needs init() to ask the same), reads come whole through 4 KiB requests" {
	sfs_write_conf sanfrancisco
	mount_with "$TMP/mount.conf" max_read=4096
	[[ $MOUNT_LINE == *max_read=4096* ]]
	mkdir "$M/sanfrancisco/s"
	seq 1 200000 | sed 's/^/line-/' >"$TMP/want"
	cat "$TMP/want" >>"$M/sanfrancisco/s/t"
	cmp "$TMP/want" "$M/sanfrancisco/s/t"
	dd if="$M/sanfrancisco/s/t" bs=1M status=none | cmp - "$TMP/want"
	_sfs_alive "$SFS_PID"
	! grep -q "different maximum read size\|FUSE session ended" "$TMP/streamfs.log" || false
}

@test "-o max_read with a value the kernel refuses (junk after the number, a bad octal digit, a sign, past 32 bits): refused before anything is made; 0x hex taken" {
	printf '[cluster fresh]\ndata = %s\n' "$TMP/fresh" >"$TMP/fresh.conf"
	local v
	for v in 4096abc 08192 -1 99999999999 '4096 ' 0x; do
		run -1 "$STREAMFS" -c "$TMP/fresh.conf" -f "$M" -o "fsname=x,max_read=$v"
		[ "$output" = "streamfs: -o max_read=$v: not a number the kernel takes (decimal, 0x hex or 0 octal, at most 4294967295); nothing was mounted or made" ]
		[ ! -e "$TMP/fresh" ]
		! is_mounted "$M" || false
	done
	# what the kernel reads in another base works: 0x2000 is 8192
	mount_with "$TMP/fresh.conf" max_read=0x2000
	[[ $MOUNT_LINE == *max_read=8192* ]]
	mkdir "$M/fresh/s"
	seq 1 20000 >"$TMP/want"
	cat "$TMP/want" >>"$M/fresh/s/t"
	cmp "$TMP/want" "$M/fresh/s/t"
	_sfs_alive "$SFS_PID"
	sfs_stop
}

@test "SIGHUP reopens the log and the mount keeps serving" {
	sfs_write_conf sanfrancisco
	sfs_start
	mkdir "$M/sanfrancisco/s"
	echo one >>"$M/sanfrancisco/s/t"
	mv "$TMP/streamfs.log" "$TMP/streamfs.log.1"
	kill -HUP "$SFS_PID"
	wait_for grep -q 'SIGHUP: log reopened' "$TMP/streamfs.log"
	echo two >>"$M/sanfrancisco/s/t"
	[ "$(cat "$M/sanfrancisco/s/t")" = $'one\ntwo' ]
	kill -0 "$SFS_PID"
	# and SIGTERM still stops it cleanly
	kill -TERM "$SFS_PID"
	_sfs_reap
	[ "$SFS_STATUS" -eq 0 ] || { echo "exit status $SFS_STATUS"; tail -n 30 "$TMP/streamfs.log"; false; }
	grep -q 'stopped cleanly' "$TMP/streamfs.log"
}

@test "/.info: version, clusters, counters, streams; read only" {
	sfs_write_conf sanfrancisco newyork
	sfs_start
	ls -a "$M" | grep -qx .info
	mkdir "$M/sanfrancisco/s"
	printf 'a\nb\n' >>"$M/sanfrancisco/s/t"
	cat "$M/sanfrancisco/s/t" >/dev/null
	jq -e '.version != null and .uptimeSeconds >= 0 and .pid > 0' "$M/.info"
	jq -e '[.clusters[] | .home] == ["local","local"] and all(.clusters[]; .reachable == true)' "$M/.info"
	jq -e '.counters.messagesAppended == 2 and .counters.bytesAppended == 4' "$M/.info"
	jq -e '.counters.messagesRead == 2 and .counters.bytesRead == 4' "$M/.info"
	jq -e '.streams[0].path == "/mapr/sanfrancisco/s" and .streams[0].messages == 2' "$M/.info"
	[ "$(stat -c %a "$M/.info")" = 444 ]
	! echo x >>"$M/.info"
}

@test "/.info: a data directory moved or replaced while mounted shows its cluster unreachable, saying why; moved back, reachable again" {
	sfs_write_conf sanfrancisco newyork
	sfs_start
	mkdir "$M/newyork/s"
	echo a >>"$M/newyork/s/t"
	local d=$TMP/data/newyork
	reach() { jq -r '.clusters[] | select(.name == "newyork") | "\(.reachable) \(.error)"' "$M/.info"; }
	[ "$(reach)" = "true " ]
	mv "$d" "$d.moved"
	run -0 reach
	[[ $output == "false data directory $d: No such file or directory (moved away while mounted? "* ]]
	# the other cluster is not concerned
	jq -e '.clusters[] | select(.name == "sanfrancisco") | .reachable == true' "$M/.info"
	# another directory under the name: not the one mounted
	mkdir "$d"
	run -0 reach
	[[ $output == "false data directory $d is not the one mounted (moved or replaced while mounted;"* ]]
	rmdir "$d"
	mv "$d.moved" "$d"
	[ "$(reach)" = "true " ]
	[ "$(cat "$M/newyork/s/t")" = a ]
}

@test "/.info and the metrics stay readable with a log file path and a remote cluster's gateway holding bytes that are not UTF-8 (shown as \\xNN)" {
	local port=$((20000 + RANDOM % 20000))
	SFS_CONF_EXTRA="[metrics]\nlisten = 127.0.0.1:$port"
	sfs_write_conf sanfrancisco
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=sanfrancisco \
		-keyout "$TMP/gw.key" -out "$TMP/gw.crt" -days 2 2>/dev/null
	printf '[cluster far]\ngateway = h\377.invalid:4000\n[gateway]\ncert = %s\nkey = %s\nca = %s\n' \
		"$TMP/gw.crt" "$TMP/gw.key" "$TMP/gw.crt" >>"$TMP/mount.conf"
	local log=$TMP/log$'\xff'.txt
	"$STREAMFS" -c "$TMP/mount.conf" -f -l "$log" "$M" </dev/null >>"$TMP/streamfs.log" 2>&1 3>&- &
	SFS_PID=$!
	wait_for -t 10 is_mounted "$M"
	mkdir "$M/sanfrancisco/s"
	run -0 jq -r '.log' "$M/.info"
	[ "$output" = "$TMP/log\\xFF.txt" ]
	run -0 jq -r '.clusters[] | select(.name == "far") | .gateway' "$M/.info"
	[ "$output" = 'h\xFF.invalid:4000' ]
	run -0 jq -r '.streams[].path' "$M/.info"
	[ "$output" = /mapr/sanfrancisco/s ]
	run -0 curl -sf --max-time 5 "http://127.0.0.1:$port/metrics"
	grep -q '^streamfs_cluster_reachable{cluster="sanfrancisco",home="local"} 1$' <<<"$output"
	_sfs_alive "$SFS_PID"
	sfs_stop
}

@test "/.info shows a user only the streams the user could list and read" {
	[[ $EUID -eq 0 ]] || skip "needs root (setpriv, other users)"
	sfs_write_conf sanfrancisco newyork
	sfs_start
	chmod 0755 "$TMP"
	mkdir "$M/sanfrancisco/open" "$M/sanfrancisco/secret" "$M/newyork/n"
	echo hi >>"$M/sanfrancisco/secret/plans"
	chmod 700 "$M/sanfrancisco/secret"
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	# root sees all three; nobody not the mode-700 stream
	[ "$(jq -r '[.streams[].path] | sort | join(" ")' "$M/.info")" = \
		"/mapr/newyork/n /mapr/sanfrancisco/open /mapr/sanfrancisco/secret" ]
	run -0 as_nobody cat "$M/.info"
	[ "$(jq -r '[.streams[].path] | sort | join(" ")' <<<"$output")" = \
		"/mapr/newyork/n /mapr/sanfrancisco/open" ]
	# a cluster nobody may list hides its streams too
	chmod 700 "$M/sanfrancisco"
	run -0 as_nobody cat "$M/.info"
	[ "$(jq -r '[.streams[].path] | join(" ")' <<<"$output")" = "/mapr/newyork/n" ]
	! grep -q secret <<<"$output"
}

@test "[metrics] listen: Prometheus text, scraped before and after appends" {
	local port=$((20000 + RANDOM % 20000))
	SFS_CONF_EXTRA="[metrics]\nlisten = 127.0.0.1:$port"
	sfs_write_conf sanfrancisco newyork
	sfs_start
	mkdir "$M/sanfrancisco/s" "$M/newyork/r"
	echo /mapr/sanfrancisco/s >>"$M/newyork/r/.upstreams"
	echo /mapr/newyork/r >>"$M/sanfrancisco/s/.replicas"
	local before after
	before=$(curl -sf "http://127.0.0.1:$port/metrics")
	grep -q '^streamfs_appended_messages_total 0$' <<<"$before"
	grep -q '^streamfs_stream_messages{cluster="sanfrancisco",stream="s"} 0$' <<<"$before"
	printf 'x\ny\nz\n' >>"$M/sanfrancisco/s/t"
	wait_for -t 5 bash -c "curl -sf http://127.0.0.1:$port/metrics | grep -q '^streamfs_replication_applied_messages_total 3$'"
	after=$(curl -sf "http://127.0.0.1:$port/metrics")
	grep -q '^streamfs_appended_messages_total 3$' <<<"$after"
	grep -q '^streamfs_appended_bytes_total 6$' <<<"$after"
	grep -q '^streamfs_stream_messages{cluster="sanfrancisco",stream="s"} 3$' <<<"$after"
	grep -q '^streamfs_stream_messages{cluster="newyork",stream="r"} 3$' <<<"$after"
	grep -q '^streamfs_replication_sent_messages_total 3$' <<<"$after"
	grep -q '^streamfs_replica_pending_messages{cluster="sanfrancisco",stream="s",replica="/mapr/newyork/r"} 0$' <<<"$after"
	grep -q '^streamfs_replica_lag_seconds{cluster="sanfrancisco",stream="s",replica="/mapr/newyork/r"} ' <<<"$after"
	grep -q '^streamfs_replica_last_error_time_seconds{.*} 0$' <<<"$after"
	grep -q '^streamfs_cluster_reachable{cluster="newyork",home="local"} 1$' <<<"$after"
	# uptime in milliseconds (.info's is whole seconds): of two scrapes,
	# not both on a whole second
	local up1 up2
	up1=$(grep '^streamfs_uptime_seconds ' <<<"$before" | cut -d' ' -f2)
	up2=$(grep '^streamfs_uptime_seconds ' <<<"$after" | cut -d' ' -f2)
	[[ $up1 =~ ^[0-9]+\.[0-9]{3}$ && $up2 =~ ^[0-9]+\.[0-9]{3}$ ]]
	[[ $up1 != *.000 || $up2 != *.000 ]]
	# bounded: other paths 404, other methods 405, a huge request 431
	run -0 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/"
	[ "$output" = 404 ]
	run -0 curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics"
	[ "$output" = 405 ]
	run -0 curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" \
		"http://127.0.0.1:$port/metrics"
	[ "$output" = 431 ]
	# 40 clients that connect and send nothing (or a byte now and then)
	# do not hold up a scrape: it is answered at once, not after them
	python3 - "$port" <<'PY' &
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(40)]
for _ in range(6):
    for s in socks:
        try:
            s.send(b"G")
        except OSError:
            pass
    time.sleep(0.5)
PY
	local slow=$!
	run -0 curl -sf --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics"
	[ "$output" = 200 ]
	wait "$slow" || true
	# a port in use (this daemon's) is a start-up error, nothing mounted
	local m2=$TMP/mnt2
	mkdir "$m2"
	run -1 "$STREAMFS" -c "$TMP/mount.conf" -f "$m2"
	[[ $output == *"[metrics] listen = 127.0.0.1:$port"* ]]
	is_unmounted "$m2"
}

@test "make install (DESTDIR): every file, man pages render, mount -t fuse.streamfs and fstab, make uninstall" {
	local dest=$TMP/dest
	run -0 make -s -C "$STREAMFS_SRC" install DESTDIR="$dest"
	local f
	for f in usr/local/bin/streamfs usr/local/bin/maprcli; do [ -x "$dest/$f" ]; done
	for f in usr/local/share/man/man8/streamfs.8 usr/local/share/man/man1/maprcli.1 \
		usr/local/share/man/man5/mount.conf.5 usr/local/lib/systemd/system/streamfs.service \
		etc/streamfs/mount.conf; do
		[ -s "$dest/$f" ]
	done
	for f in "$dest"/usr/local/share/man/man*/*; do
		run -0 bash -c "MANWIDTH=80 man --warnings -l '$f' 2>&1 >/dev/null"
		[ -z "$output" ]
		MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q 'SEE ALSO'
	done
	grep -qx 'ExecStart=/usr/local/bin/streamfs -f -o auto_unmount -c /etc/streamfs/mount.conf' \
		"$dest/usr/local/lib/systemd/system/streamfs.service"
	grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$dest/usr/local/lib/systemd/system/streamfs.service"
	"$dest/usr/local/bin/streamfs" --version
	# mount(8) runs fuse3's mount.fuse3, which runs `streamfs` from the
	# default PATH: in a private mount namespace the DESTDIR's bin is
	# bound over /usr/local/bin, as if installed there.
	printf '[mount]\nlog = %s\n[cluster sanfrancisco]\ndata = %s\n' \
		"$TMP/streamfs.log" "$TMP/data/sanfrancisco" >"$TMP/mount.conf"
	printf '%s %s fuse.streamfs defaults,noatime,_netdev 0 0\n' "$TMP/mount.conf" "$M" >"$TMP/fstab"
	export M TMP dest
	run in_private_ns '
		set -e
		trap "fusermount3 -u \"$M\" 2>/dev/null || fusermount3 -uz \"$M\" 2>/dev/null || true" EXIT
		mount --bind "$dest/usr/local/bin" /usr/local/bin
		pid_of() { sed -n "s/.*streamfs\[\([0-9]*\)\] info: streamfs .* mounted.*/\1/p" "$TMP/streamfs.log" | tail -n 1; }
		gone() { ! kill -0 "$1" 2>/dev/null; }
		for how in type fstab; do
			: >"$TMP/streamfs.log"
			if [ $how = type ]; then
				mount -t fuse.streamfs "$TMP/mount.conf" "$M"
			else
				mount -T "$TMP/fstab" "$M"
			fi
			grep -q " $M fuse.streamfs " /proc/mounts
			mkdir "$M/sanfrancisco/s$how"
			echo hello >>"$M/sanfrancisco/s$how/t"
			[ "$(cat "$M/sanfrancisco/s$how/t")" = hello ]
			pid=$(pid_of)
			umount "$M"
			for i in $(seq 100); do gone "$pid" && break; sleep 0.05; done
			gone "$pid"
			grep -q "stopped cleanly" "$TMP/streamfs.log"
			echo "$how ok"
		done'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"type ok"*"fstab ok"* ]]
	is_unmounted "$M"
	run -0 make -s -C "$STREAMFS_SRC" uninstall DESTDIR="$dest"
	[ -z "$(find "$dest" -type f ! -path '*/etc/streamfs/*')" ]
	[ -f "$dest/etc/streamfs/mount.conf" ]
}

@test "detached without a log file: the log goes to syslog (LOG_DAEMON)" {
	sfs_write_conf sanfrancisco
	# A syslog socket of our own, bound over /dev/log in a private mount
	# namespace (on a copy of the device nodes the daemon needs).
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")' "$TMP/log.sock" "$TMP/syslog.txt" 3>&- &
	local listener=$!
	wait_for test -S "$TMP/log.sock"
	export M TMP STREAMFS
	run in_private_ns '
		set -e
		trap "fusermount3 -u \"$M\" 2>/dev/null || fusermount3 -uz \"$M\" 2>/dev/null || true" EXIT
		mkdir "$TMP/dev"
		for n in null zero full random urandom fuse; do
			touch "$TMP/dev/$n"
			mount --bind "/dev/$n" "$TMP/dev/$n"
		done
		ln -s /proc/self/fd "$TMP/dev/fd"
		touch "$TMP/dev/log"
		mount --bind "$TMP/log.sock" "$TMP/dev/log"
		mount --rbind "$TMP/dev" /dev
		"$STREAMFS" -c "$TMP/mount.conf" 3>&-
		grep -q " $M fuse" /proc/mounts
		mkdir "$M/sanfrancisco/.bad" 2>/dev/null || true
		for i in $(seq 100); do grep -q " warn: " "$TMP/syslog.txt" && break; sleep 0.05; done
		pid=$(sed -n "s/.*streamfs\[\([0-9]*\)\]: info: streamfs .* mounted.*/\1/p" "$TMP/syslog.txt")
		fusermount3 -u "$M"
		for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		! kill -0 "$pid" 2>/dev/null'
	kill "$listener"
	echo "$output"
	cat "$TMP/syslog.txt"
	[ "$status" -eq 0 ]
	# <30>: LOG_DAEMON (3 << 3) | LOG_INFO (6); <28>: LOG_DAEMON | LOG_WARNING (4)
	grep -q '^<30>.*streamfs\[[0-9]*\]: info: streamfs .* mounted .*log: syslog' "$TMP/syslog.txt"
	grep -q '^<28>.*streamfs\[[0-9]*\]: warn: ' "$TMP/syslog.txt"
	grep -q 'stopped cleanly' "$TMP/syslog.txt"
}
