#!/usr/bin/env bats
# 85-nats-purge.bats - a removal never makes a follower skip what it has
# not delivered yet (docs/nats.md, "Creation, removal and races between
# daemons"). nats-server 2.9.10 moves every consumer whose filter covers
# a purged subject to the end of its stream (fixed upstream in 2.9.15): a
# daemon whose data-stream consumer, or whose bucket watcher, had not
# delivered everything when another topic or stream was removed would
# never see the rest. Each case holds a durable pull consumer that
# fetches nothing (as far behind as a follower can be), asked through the
# JetStream API (tests/e2e/natsq.py), and checks that what it has still to
# deliver is all there after the removal. The real follower, a second
# daemon making the stream just as topics are removed, is 85-nats.bats'
# "attack2: a topic removed (and one made again) ..." case.

SFS_HOME=nats
load helpers
load nats_helpers

export LC_ALL=C

teardown() {
	local fail=0
	stop_second || fail=1
	sfs_teardown || fail=1
	return "$fail"
}

# js SUBJECT [PAYLOAD]: one JetStream API request to the test's server.
js() {
	python3 "$STREAMFS_SRC/tests/e2e/natsq.py" "127.0.0.1:$SFS_NATS_PORT" "$1" "${2:-}"
}

# lagging STREAM FILTER: a durable pull consumer "lag" on STREAM, from its
# first message, that nobody fetches from.
lagging() {
	js "\$JS.API.CONSUMER.DURABLE.CREATE.$1.lag" \
		"{\"stream_name\":\"$1\",\"config\":{\"durable_name\":\"lag\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"filter_subject\":\"$2\"}}" |
		jq -e '.config.durable_name == "lag"' >/dev/null
}

# pending STREAM: how many messages consumer "lag" of STREAM has still to
# deliver.
pending() {
	js "\$JS.API.CONSUMER.INFO.$1.lag" | jq -r .num_pending
}

@test "a topic removed: a consumer of the data stream that had delivered nothing yet still has every other topic's chunk to deliver" {
	sfs_setup tokyo
	A=$M/tokyo
	mkdir "$A/s"
	local i su
	for i in 1 2 3; do echo "v$i" >>"$A/s/v"; done
	echo t1 >>"$A/s/t"
	su=$(jq -r .uuid "$A/s/.info")
	lagging "SFS-$su" "sfs.$su.>"
	[ "$(pending "SFS-$su")" = 4 ]
	rm "$A/s/t"
	# t's chunk is gone, v's three are still to be delivered (0 before
	# the fix: the consumer was moved past them)
	[ "$(pending "SFS-$su")" = 3 ]
	[ "$(cat "$A/s/v")" = "$(printf 'v1\nv2\nv3')" ]
}

@test "a stream removed: a consumer of the bucket that had delivered nothing yet still has every other key's change to deliver" {
	sfs_setup tokyo
	A=$M/tokyo
	mkdir "$A/keep" "$A/gone"
	echo one >>"$A/keep/t"
	echo two >>"$A/gone/u"
	lagging KV_SFS_tokyo '$KV.SFS_tokyo.>'
	local before
	before=$(pending KV_SFS_tokyo)
	[ "$before" -ge 4 ]
	rm "$A/gone/u"
	rmdir "$A/gone"
	# the removal's own changes come on top: nothing earlier is skipped
	# (1 before the fix: the consumer was moved to the last purge marker)
	[ "$(pending KV_SFS_tokyo)" -ge "$before" ]
}
