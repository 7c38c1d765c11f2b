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
	both_masters_union 100 500 100
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
