#!/usr/bin/env bats
# 77-nats-gateway.bats - a cluster kept in NATS JetStream (docs/nats.md)
# meets the gateway (docs/gateway.md, docs/global-namespace.md): host a's
# cluster sanfrancisco lives in a nats-server of a's own namespace, host
# b's london on b's disk. Replication runs both ways between the two homes
# across the hosts, and b uses a's NATS-backed cluster through the global
# namespace. Each test checks the messages themselves on both mounts.

load helpers
load replication_helpers
load netns_helpers
load gateway_helpers

@test "NATS-backed A <-> local B across hosts: initial copy, then both masters write the same topic: the union, exactly once, in order, nothing echoed" {
	NH_NATS[a]=sanfrancisco
	hosts a b
	# a keeps sanfrancisco in its nats-server, not on its disk.
	jq -e '.clusters[] | select(.name == "sanfrancisco") | .home == "nats"' "${NH_MNT[a]}/.info"
	[ ! -e "$NH_DIR/a/data/sanfrancisco" ]
	append_each "$A/s/pre" pre 100
	xrep "$A/s" "$B/s"
	xrep "$B/s" "$A/s"
	wait_count "$B/s/pre" 100 20
	same_content "$A/s/pre" "$B/s/pre"

	bg_start append_each "$A/s/t" a 500
	local wa=$BG_PID
	bg_start append_each "$B/s/t" b 500
	local wb=$BG_PID
	append_each "$A/s/own-a" oa 100
	append_each "$B/s/own-b" ob 100
	wait "$wa"
	wait "$wb"
	wait_count "$A/s/t" 1000 30
	wait_count "$B/s/t" 1000 30
	for f in "$A/s/t" "$B/s/t"; do
		no_dups "$f"
		in_order "$f" a 500
		in_order "$f" b 500
	done
	wait_count "$B/s/own-a" 100 20
	wait_count "$A/s/own-b" 100 20
	in_order "$B/s/own-a" oa 100
	in_order "$A/s/own-b" ob 100
	# Nothing came back to its origin.
	still_count "$A/s/pre" 100
	still_count "$B/s/pre" 100
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=REPLICATING pending=0 uptodate=true'
	wait_for -t 10 on b rline_match london/s sanfrancisco/s 'state=REPLICATING pending=0 uptodate=true'
	[ -z "$(nh_log_errors)" ]
}

@test "host b uses host a's NATS-backed cluster through the global namespace: streams listed, appends from both hosts in one topic, the same bytes read on both" {
	NH_NATS[a]=sanfrancisco
	NH_ACCESS[a]=admin
	hosts a b
	local RA=${NH_MNT[b]}/sanfrancisco
	append_each "$A/s/t" a 50
	# b lists and reads a's cluster.
	wait_for -t 10 test -d "$RA/s"
	[ "$(ls "$RA/s")" = t ]
	[ "$(wc -l <"$RA/s/t")" -eq 50 ]
	# b makes a stream and appends; a sees it in NATS at once.
	mkdir "$RA/s2"
	append_each "$RA/s2/u" rb 30
	[ "$(wc -l <"$A/s2/u")" -eq 30 ]
	in_order "$A/s2/u" rb 30
	# Writers on both hosts into one topic at once.
	bg_start append_each "$A/s/t" a2 200
	local wa=$BG_PID
	append_each "$RA/s/t" b2 200
	wait "$wa"
	[ "$(wc -l <"$A/s/t")" -eq 450 ]
	no_dups "$A/s/t"
	in_order "$A/s/t" a2 200
	in_order "$A/s/t" b2 200
	cmp "$A/s/t" "$RA/s/t"
	[ -z "$(nh_log_errors)" ]
}
