#!/usr/bin/env bats
# 01-layout.bats - the layout docs/architecture.md promises, checked on the
# sources: fs/ reaches replication only through its hooks (only the file
# that wires the daemon, fs/main.c, includes a header of replication/),
# and no module grows into a file that owns too much (about 700 lines).

SRC=${STREAMFS_SRC:-$BATS_TEST_DIRNAME/../..}

@test "fs/ includes no header of replication/, except fs/main.c" {
	run bash -c "cd '$SRC' && grep -ln 'include \"\\(\\.\\./\\)\\?replication/' fs/*.[ch] fs/*/*.[ch] | grep -v '^fs/main.c$'"
	echo "$output"
	[ -z "$output" ]
}

@test "no file in fs/ or replication/ over 750 lines" {
	run bash -c "cd '$SRC' && wc -l fs/*.[ch] fs/*/*.[ch] replication/*.[ch] | awk '\$2 != \"total\" && \$1 > 750'"
	echo "$output"
	[ -z "$output" ]
}

@test "docs and comments cite docs/ files, never the design contract's sections (not in the repository)" {
	run bash -c "cd '$SRC' && grep -rnE 'DESIGN|§' fs replication cli tests/unit tests/e2e docs README.md Makefile scripts bench fuzz/*.c 2>/dev/null | grep -v '01-layout.bats'"
	echo "$output"
	[ -z "$output" ]
}

@test "a home's headers are included only inside its folder, and fs/local/'s, fs/nats/'s and fs/remote/'s by fs/main.c, which wires the daemon" {
	# docs/architecture.md, "The cluster interface": everyone else reaches a
	# cluster, stream or topic through fs/cluster.h, fs/stream.h, fs/topic.h.
	# The in-memory home (fs/mem/) is for unit tests: no daemon file names it.
	run bash -c "cd '$SRC' && for h in local mem nats remote; do grep -lE \"include \\\"(\\.\\./)?(fs/)?\$h/\" fs/*.[ch] fs/*/*.[ch] replication/*.[ch] cli/*.[ch] | grep -v \"^fs/\$h/\"; done | grep -vx 'fs/main.c'"
	echo "$output"
	[ -z "$output" ]
	# and the allowed includes are there
	grep -q '^#include "local/localhome.h"' "$SRC/fs/main.c"
	grep -q '^#include "remote/remotehome.h"' "$SRC/fs/main.c"
	grep -q '^#include "nats/natshome.h"' "$SRC/fs/main.c"
}
