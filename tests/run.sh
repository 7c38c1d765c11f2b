#!/usr/bin/env bash
# tests/run.sh - run the unit tests (cmocka), the fuzz smoke run (libFuzzer)
# and the end-to-end tests (bats) and close with one line
# "N passed, N failed" over every test case of them all.
#
#   tests/run.sh            units, then e2e with the fuzz smoke run beside
#   tests/run.sh --unit     units only
#   tests/run.sh --e2e      e2e only
#   tests/run.sh --fuzz     fuzz smoke run only (make fuzz-smoke)
#   tests/run.sh [--unit|--e2e|--fuzz] ARG...   only these: a unit test name
#                           (test_config), its binary, a .bats file, or a
#                           fuzz target (fuzz_record)
#
# Called by `make test` / `make unit` / `make e2e`, which build first; run by
# hand it uses whatever is built. Environment:
#   STREAMFS      the daemon the e2e tests mount (default build/asan/streamfs)
#   STREAMFS_SRC  the source tree (default: this repository)
#   UNIT_TIMEOUT  seconds for one unit binary (default 120)
#   E2E_JOBS      .bats files run at once (default: 2 per CPU; the tests
#                 mostly wait on daemons, timers and the network)
#   E2E_FILE_TIMEOUT  seconds for one .bats file (default 420)
#   BATS_TEST_TIMEOUT  seconds for one bats test (default 120)
#   FUZZ_SMOKE_SECONDS seconds of fuzzing per target (default 10)
#
# Counting. A unit binary is test_*; its cases are counted from cmocka's
# output: "[       OK ]" lines pass, the "[  SKIPPED ] N test(s)" summary
# skips, and every other case announced by "Running N test(s)" fails (so a
# crash mid-run fails the cases that never finished). A binary that exits
# non-zero with no failed case (a LeakSanitizer report at exit, say) counts
# one more failure. bats runs each .bats file on its own, E2E_JOBS files at
# once (the longest first), with TAP output: "ok" lines pass ("# skip" ones
# are skipped), "not ok" lines fail; cases of a file's "1..N" plan that
# never reported, because the file ran out of E2E_FILE_TIMEOUT, are "not
# run": listed with that variable, counted apart ("N not run" after the
# failed count) and they fail the run. Each file's output is printed
# whole when it ends, so files never interleave. The fuzz smoke run
# (fuzz/run.sh, docs/fuzzing.md), run beside the e2e files and printed
# after them, is one test per libFuzzer target, counted
# from its TAP lines the same way. The exit status is non-zero if anything
# failed.

set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export STREAMFS=${STREAMFS:-$ROOT/build/asan/streamfs}
export STREAMFS_SRC=${STREAMFS_SRC:-$ROOT}
UNIT_DIR=${UNIT_DIR:-$ROOT/build/asan/tests}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-120}
NCPU=$(nproc 2>/dev/null || echo 2)
E2E_JOBS=${E2E_JOBS:-$((NCPU * 2))}
E2E_FILE_TIMEOUT=${E2E_FILE_TIMEOUT:-420}
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}
FUZZ_SMOKE_SECONDS=${FUZZ_SMOKE_SECONDS:-10}

do_unit=1 do_e2e=1 do_fuzz=1
units=() bats_files=() fuzzers=()
for a in "$@"; do
	case $a in
	--unit) do_e2e=0 do_fuzz=0 ;;
	--e2e) do_unit=0 do_fuzz=0 ;;
	--fuzz) do_unit=0 do_e2e=0 ;;
	*.bats) bats_files+=("$a") ;;
	fuzz_*) fuzzers+=("$a") ;;
	*) units+=("$a") ;;
	esac
done
if [[ ${#units[@]} -gt 0 || ${#bats_files[@]} -gt 0 || ${#fuzzers[@]} -gt 0 ]]; then
	[[ ${#units[@]} -gt 0 ]] || do_unit=0
	[[ ${#bats_files[@]} -gt 0 ]] || do_e2e=0
	[[ ${#fuzzers[@]} -gt 0 ]] || do_fuzz=0
fi

passed=0 failed=0 skipped=0 notrun=0
problems=()

note() { problems+=("$*"); }

# run_unit BIN: run one cmocka binary and add its counts.
run_unit() {
	local bin=$1 name out rc
	name=$(basename "$bin")
	out=$(mktemp)
	echo "# unit: $name"
	if [[ ! -x $bin ]]; then
		echo "# $bin: not built"
		failed=$((failed + 1))
		note "$name: not built"
		rm -f "$out"
		return
	fi
	ASAN_OPTIONS=${UNIT_ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	UBSAN_OPTIONS=${UNIT_UBSAN_OPTIONS:-print_stacktrace=1} \
		timeout -k 5 "$UNIT_TIMEOUT" "$bin" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}

	local total ok skip fail
	total=$(sed -nE 's/^\[==========\] .*Running ([0-9]+) test.*/\1/p' "$out" |
		awk '{ s += $1 } END { print s + 0 }')
	ok=$(grep -c '^\[       OK \]' "$out")
	skip=$(sed -nE 's/^\[  SKIPPED \] ([0-9]+) test\(s\), listed below:.*/\1/p' "$out" |
		awk '{ s += $1 } END { print s + 0 }')
	fail=$((total - ok - skip))
	((fail < 0)) && fail=0
	if ((total == 0)); then
		fail=1
		note "$name: ran no test (exit status $rc)"
	elif ((rc == 124 || rc == 137)); then
		((fail == 0)) && fail=1
		note "$name: timed out after ${UNIT_TIMEOUT}s"
	elif ((rc != 0 && fail == 0)); then
		fail=1
		note "$name: exit status $rc after its tests (sanitizer report?)"
	elif ((fail > 0)); then
		note "$name: $fail failed"
	fi
	passed=$((passed + ok))
	failed=$((failed + fail))
	skipped=$((skipped + skip))
	rm -f "$out"
}

# The .bats files that take longest, started first so that the run ends
# soon after the longest one (the rest are short and fill in around them):
# longest first, as a make test on 2 CPUs timed them (December 2026).
E2E_SLOW=(87-nats-cluster2 85-nats 71-gateway-faults 70-gateway 87-nats-cluster 88-nats-replication-suite
	45-crash 55-topology 85-nats-crash2 50-replication 75-global-namespace 25-readers 84-nats-readers
	85-nats-attack3 86-nats-replication 88-nats-replication-control 82-nats-topic
	72-gateway-shares 51-replication-control 83-nats-control 65-netns-harness 47-many-topics)

# order_bats FILE...: the files, the slow ones first.
order_bats() {
	local f s
	for s in "${E2E_SLOW[@]}"; do
		for f in "$@"; do
			[[ $(basename "$f" .bats) == "$s" ]] && echo "$f"
		done
	done
	for f in "$@"; do
		s=$(basename "$f" .bats)
		[[ " ${E2E_SLOW[*]} " == *" $s "* ]] || echo "$f"
	done
}

# bats_one FILE OUT: run one .bats file with TAP output into OUT, bounded
# by E2E_FILE_TIMEOUT; OUT.rc gets the exit status, OUT.secs the time.
bats_one() {
	local f=$1 out=$2 t0=$SECONDS rc
	ASAN_OPTIONS=${E2E_ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	LSAN_OPTIONS=${E2E_LSAN_OPTIONS:-suppressions=$STREAMFS_SRC/tests/lsan.supp:print_suppressions=0} \
	UBSAN_OPTIONS=${E2E_UBSAN_OPTIONS:-print_stacktrace=1} \
		timeout -k 10 "$E2E_FILE_TIMEOUT" bats --tap --print-output-on-failure \
		"$f" </dev/null >"$out" 2>&1
	rc=$?
	echo $((SECONDS - t0)) >"$out.secs"
	echo "$rc" >"$out.rc"
}

# count_bats FILE OUT: print OUT and add its counts.
count_bats() {
	local f=$1 out=$2 rc name plan ok skip notok missing
	name=$(basename "$f")
	rc=$(cat "$out.rc" 2>/dev/null || echo 1)
	echo "# e2e: $name ($(cat "$out.secs" 2>/dev/null || echo '?') s)"
	cat "$out"
	plan=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$out" | head -n1)
	plan=${plan:-0}
	ok=$(grep -E '^ok [0-9]+' "$out" | grep -vcE '# (skip|SKIP)')
	skip=$(grep -E '^ok [0-9]+' "$out" | grep -cE '# (skip|SKIP)')
	notok=$(grep -cE '^not ok [0-9]+' "$out")
	missing=$((plan - ok - skip - notok))
	((missing < 0)) && missing=0
	if ((rc == 124 || rc == 137)); then
		note "$name: $missing not run: the file ran out of E2E_FILE_TIMEOUT=${E2E_FILE_TIMEOUT}s (raise it on a slow machine)"
		notrun=$((notrun + missing))
		((missing == 0 && notok == 0)) && notok=1
	elif ((plan == 0 && rc != 0)); then
		notok=1
		note "$name: failed before running any test (exit status $rc)"
	elif ((rc != 0 && notok == 0 && missing == 0)); then
		notok=1
		note "$name: exit status $rc with no failed test"
	else
		((missing > 0)) && { notok=$((notok + missing)); note "$name: $missing never reported (exit status $rc)"; }
	fi
	((notok > 0)) && note "$name: $notok failed: $(sed -nE 's/^not ok [0-9]+ //p' "$out" | paste -sd ';' -)"
	passed=$((passed + ok))
	failed=$((failed + notok))
	skipped=$((skipped + skip))
}

# run_bats FILE...: every file, E2E_JOBS at a time; each is printed and
# counted as soon as it ends.
run_bats() {
	if ! command -v bats >/dev/null; then
		failed=$((failed + 1))
		note "bats: not installed (make deps)"
		return
	fi
	if [[ ! -x $STREAMFS ]]; then
		echo "# warning: STREAMFS=$STREAMFS is not an executable"
	fi
	local dir files=() i next=0 running done_=() n
	dir=$(mktemp -d)
	mapfile -t files < <(order_bats "$@")
	n=${#files[@]}
	echo "# e2e: $n files, $E2E_JOBS at a time, E2E_FILE_TIMEOUT=${E2E_FILE_TIMEOUT}s, BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT}s"
	local finished=0
	while ((finished < n)); do
		# start files while there is room
		running=0
		for ((i = 0; i < next; i++)); do
			[[ -z ${done_[$i]:-} && ! -e $dir/$i.rc ]] && running=$((running + 1))
		done
		while ((next < n && running < E2E_JOBS)); do
			bats_one "${files[$next]}" "$dir/$next" &
			next=$((next + 1))
			running=$((running + 1))
		done
		# print what ended
		for ((i = 0; i < next; i++)); do
			if [[ -z ${done_[$i]:-} && -e $dir/$i.rc ]]; then
				count_bats "${files[$i]}" "$dir/$i"
				done_[$i]=1
				finished=$((finished + 1))
			fi
		done
		((finished < n)) && { wait -n 2>/dev/null || sleep 0.2; }
	done
	wait
	rm -rf "$dir"
}

# run_fuzz [TARGET...]: the fuzz smoke run, FUZZ_SMOKE_SECONDS per target;
# fuzz/run.sh prints TAP, one case per target. start_fuzz runs it in the
# background into a file (beside the e2e files: it keeps one CPU busy
# for a minute, which make test's 8 minutes on 2 CPUs cannot spend on
# it alone); finish_fuzz waits for it, prints it and counts it.
FUZZ_OUT= FUZZ_PID=
start_fuzz() {
	FUZZ_OUT=$(mktemp)
	((do_e2e)) && echo "# fuzz: smoke run started beside the e2e files, printed after them"
	# its status in a file: run_bats's waits may reap it first
	{
		bash fuzz/run.sh -t "$FUZZ_SMOKE_SECONDS" "$@" </dev/null >"$FUZZ_OUT" 2>&1
		echo $? >"$FUZZ_OUT.rc"
	} &
	FUZZ_PID=$!
}

finish_fuzz() {
	local out=$FUZZ_OUT rc
	wait "$FUZZ_PID" 2>/dev/null || true
	rc=$(cat "$out.rc" 2>/dev/null || echo 1)
	echo "# fuzz: smoke run, ${FUZZ_SMOKE_SECONDS}s per target"
	cat "$out"

	local plan ok notok missing
	plan=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$out" | head -n1)
	plan=${plan:-0}
	ok=$(grep -cE '^ok [0-9]+' "$out")
	notok=$(grep -cE '^not ok [0-9]+' "$out")
	missing=$((plan - ok - notok))
	((missing < 0)) && missing=0
	local fail=$((notok + missing))
	if ((plan == 0 && rc != 0)); then
		fail=1
		note "fuzz: failed before running any target (exit status $rc)"
	elif ((rc != 0 && fail == 0)); then
		fail=1
		note "fuzz: exit status $rc with no failed target"
	elif ((fail > 0)); then
		note "fuzz: $fail failed: $(sed -nE 's/^not ok [0-9]+ //p' "$out" | paste -sd ';' -)"
	fi
	passed=$((passed + ok))
	failed=$((failed + fail))
	rm -f "$out" "$out.rc"
}

if ((do_unit)); then
	if [[ ${#units[@]} -eq 0 ]]; then
		for src in tests/unit/test_*.c; do
			[[ -e $src ]] || continue
			units+=("$UNIT_DIR/$(basename "$src" .c)")
		done
	fi
	for u in "${units[@]}"; do
		[[ $u == */* ]] || u=$UNIT_DIR/$u
		run_unit "$u"
	done
fi

if ((do_fuzz)); then
	start_fuzz ${fuzzers[@]+"${fuzzers[@]}"}
fi

if ((do_e2e)); then
	if [[ ${#bats_files[@]} -eq 0 ]]; then
		for f in tests/e2e/*.bats; do
			[[ -e $f ]] && bats_files+=("$f")
		done
	fi
	if [[ ${#bats_files[@]} -gt 0 ]]; then
		run_bats "${bats_files[@]}"
	fi
fi

if ((do_fuzz)); then
	finish_fuzz
fi

echo
for p in "${problems[@]}"; do
	echo "# FAILED: $p"
done
((skipped > 0)) && echo "# $skipped skipped"
if ((notrun > 0)); then
	echo "$passed passed, $failed failed, $notrun not run"
else
	echo "$passed passed, $failed failed"
fi
((failed == 0 && notrun == 0))
