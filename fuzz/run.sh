#!/usr/bin/env bash
# fuzz/run.sh - run the libFuzzer targets (build/fuzz/fuzz_*) for a bounded
# time each and report one TAP line per target. See docs/fuzzing.md.
#
#   fuzz/run.sh [-t SECONDS] [-c CORPUS_DIR] [TARGET...]
#
#   -t SECONDS     time per target (default $FUZZ_SECONDS, else 60)
#   -c DIR         keep the inputs found in DIR/<target> (made if missing);
#                  default: a temporary directory, removed afterwards
#   TARGET         record, recovery, ... or fuzz_record, ...; default: every
#                  fuzz/fuzz_*.c
#
# Each target starts from its seeds and regression inputs,
# fuzz/corpus/<target>/ (read only). A crash, leak, UB report, timeout
# (-timeout=10 s per input) or out-of-memory fails the target; the input is
# saved as build/fuzz/artifacts/<target>/{crash,leak,timeout,oom}-<sha1>
# and the report is printed as "# " lines. The whole output of a target is
# kept in build/fuzz/logs/<target>.log.
#
# Output: "1..N", then "ok I fuzz_X - ..." or "not ok I fuzz_X - ...".
# Exit status 0 when every target passed.
#
# Environment: FUZZ_DIR (default build/fuzz), FUZZ_ARGS (more libFuzzer
# options, e.g. "-seed=1" or "-jobs=2"), FUZZ_MAX_LEN (default 4096).

set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

seconds=${FUZZ_SECONDS:-60}
corpus_root=
while getopts "t:c:" o; do
	case $o in
	t) seconds=$OPTARG ;;
	c) corpus_root=$OPTARG ;;
	*) echo "usage: $0 [-t SECONDS] [-c CORPUS_DIR] [TARGET...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

FUZZ_DIR=${FUZZ_DIR:-$ROOT/build/fuzz}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-4096}
read -r -a extra <<<"${FUZZ_ARGS:-}"

targets=()
if [[ $# -gt 0 ]]; then
	for t in "$@"; do
		t=${t#fuzz_}
		targets+=("${t%.c}")
	done
else
	for src in fuzz/fuzz_*.c; do
		[[ -e $src ]] || continue
		t=$(basename "$src" .c)
		targets+=("${t#fuzz_}")
	done
fi

# Scratch space: the fuzzers' temporary files (TMPDIR) and, without -c,
# their working corpora. On tmpfs when there is one: fuzzing writes files.
shm=/dev/shm
[[ -d $shm && -w $shm ]] || shm=${TMPDIR:-/tmp}
work=$(mktemp -d "$shm/streamfs-fuzz-run.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

mkdir -p "$FUZZ_DIR/logs"
echo "1..${#targets[@]}"
i=0 failed=0
for t in "${targets[@]}"; do
	i=$((i + 1))
	bin=$FUZZ_DIR/fuzz_$t
	# Written in the work directory, then moved into place: runs at the
	# same time (two `make test`s) do not interleave their logs.
	log=$work/$t.log
	keep=$FUZZ_DIR/logs/$t.log
	art=$FUZZ_DIR/artifacts/$t
	if [[ ! -x $bin ]]; then
		echo "not ok $i fuzz_$t - not built ($bin; make fuzzers)"
		failed=$((failed + 1))
		continue
	fi
	if [[ -n $corpus_root ]]; then
		corpus=$corpus_root/$t
	else
		corpus=$work/corpus-$t
	fi
	mkdir -p "$corpus" "$art" "$work/tmp-$t"
	seeds=()
	[[ -d fuzz/corpus/$t ]] && seeds=("fuzz/corpus/$t")

	TMPDIR=$work/tmp-$t \
	ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-detect_leaks=1} \
	UBSAN_OPTIONS=${FUZZ_UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		timeout -k 10 $((seconds + 60)) "$bin" \
		-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$FUZZ_MAX_LEN" -artifact_prefix="$art/" \
		${extra[@]+"${extra[@]}"} "$corpus" ${seeds[@]+"${seeds[@]}"} \
		>"$log" 2>&1
	rc=$?
	rm -rf "$work/tmp-$t"
	cp "$log" "$keep.$$" && mv -f "$keep.$$" "$keep"

	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n1)
	if ((rc == 0)) && [[ -n $done_line ]]; then
		runs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$done_line")
		cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")
		corp=$(sed -nE 's/.* corp: ([^ ]+).*/\1/p' <<<"$done_line")
		echo "ok $i fuzz_$t - ${seconds}s, $runs runs, cov $cov, corpus $corp"
		continue
	fi
	failed=$((failed + 1))
	unit=$(sed -nE "s/.*Test unit written to (.*)$/\1/p" "$log" | tail -n1)
	if ((rc == 124 || rc == 137)); then
		why="did not finish in $((seconds + 60))s"
	elif [[ -n $unit ]]; then
		why="$(basename "$unit" | sed 's/-.*//') found, reproducer $unit"
	else
		why="exit status $rc"
	fi
	echo "not ok $i fuzz_$t - $why"
	# The report: everything but libFuzzer's progress lines.
	grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED|RELOAD)|^INFO: |^"|^###### ' "$log" |
		tail -n 80 | sed 's/^/# /'
	echo "# whole log: $keep"
	[[ -n $unit ]] && echo "# reproduce: $bin $unit"
done
((failed == 0))
