#!/bin/bash
# run.sh: every libFuzzer target for SECONDS each
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   tests/fuzz/run.sh SECONDS [TARGET...]
#
# Builds the targets with clang 14 and -Dfuzzing=true in build-fuzz/ (ASan
# and UBSan on, libFuzzer's coverage in the library too), then runs each,
# one at a time and niced, for SECONDS on a scratch copy of its committed
# corpus (tests/fuzz/corpus/TARGET/), and prints per target the executions
# and the coverage (cov: edges, ft: features) of libFuzzer's final stats.
# A crash, leak or sanitizer report stops that target, leaves the input in
# build-fuzz/artifacts/ and makes the script fail. New inputs stay in
# build-fuzz/corpus/TARGET/; to keep the interesting ones, minimize them
# into the committed corpus:
#   build-fuzz/tests/TARGET -merge=1 tests/fuzz/corpus/TARGET build-fuzz/corpus/TARGET
# FUZZ_RUNS=N stops a target after N executions instead, if sooner (the
# issue's bar is FUZZ_RUNS=10000000 with SECONDS large). FUZZ_TIMEOUT
# (seconds, default 10) is how long one input may take: libFuzzer counts
# wall time, so a run paused (SIGSTOP, for a benchmark) needs more.
# FUZZ_JOBS=N runs N processes of a target at once on its corpus (each
# picks up what the others add to it; FUZZ_RUNS counts per process); the
# line then sums their executions and reports the highest coverage, and
# each process's log is build-fuzz/TARGET.N.log.
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS=-entropic=0: the
# entropic scheduler's bookkeeping is about half of fuzz-backend's time
# once its corpus has some 30,000 features, so it doubles the rate.
#
# A campaign may take several runs (a run stopped with SIGINT or SIGTERM
# still writes its final stats). Each log starts with a line naming the
# binary that ran (the first 16 hex digits of its SHA-256), and a run
# moves the logs before it to build-fuzz/logs/. So
#   tests/fuzz/run.sh --tally [TARGET...]
# sums, per target, the executions of every log of the binary built now,
# this run's and the earlier ones', and reports any log with a crash,
# leak or sanitizer report in it. It builds nothing: build first.
# Needs clang-14 and libFuzzer (Debian: apt-get install clang-14 libfuzzer-14-dev).
set -uo pipefail

seconds=${1:?usage: $0 SECONDS [TARGET...] | $0 --tally [TARGET...]}
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build-fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz-codec fuzz-backend fuzz-frontend fuzz-split fuzz-packed fuzz-inflight fuzz-memtable fuzz-iotlb
           fuzz-driver-ring)
fi

binary_id() {
  sha256sum "$1" | cut -c1-16
}

# The executions a log records: the final stats of a run that ended,
# else the last status line's count (a lower bound).
log_executions() {
  local n
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1")
  [ -z "$n" ] && n=$(grep -E '^#[0-9]+' "$1" | tail -n 1 | sed 's/^#\([0-9]*\).*/\1/')
  echo "${n:-0}"
}

if [ "$seconds" = --tally ]; then
  printf '%-14s %12s %5s %8s  %s\n' target executions logs failed binary
  for t in "${targets[@]}"; do
    exe=$build/tests/$t
    if [ ! -x "$exe" ]; then
      printf '%-14s %12s %5s %8s  %s\n' "$t" - - - "not built"
      continue
    fi
    id=$(binary_id "$exe")
    execs=0 n=0 bad=()
    for log in "$build/$t".log "$build/$t".[0-9]*.log "$build/logs/$t".*.log; do
      [ -f "$log" ] || continue
      head -n 1 "$log" | grep -q "^# fuzz-run $t binary $id " || continue
      execs=$((execs + $(log_executions "$log"))) n=$((n + 1))
      if grep -qE '^==[0-9]+==ERROR|^SUMMARY: |deadly signal|Test unit written to .*-(crash|leak|oom|timeout)-|^ERROR: libFuzzer' "$log"; then
        bad+=("$log")
      fi
    done
    printf '%-14s %12s %5s %8s  %s\n' "$t" "$execs" "$n" "${#bad[@]}" "$id"
    for log in "${bad[@]}"; do
      echo "  failed: $log"
    done
  done
  exit 0
fi

if [ ! -d "$build" ]; then
  CC=${CC:-clang-14} meson setup "$build" "$src" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dintrospection=disabled -Ddocumentation=disabled >/dev/null || exit 1
fi
built=()
for t in "${targets[@]}"; do
  built+=("tests/$t")
done
nice meson compile -C "$build" "${built[@]}" >/dev/null || { echo "build failed" >&2; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$src/tests/lsan.supp
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export G_SLICE=always-malloc
export G_DEBUG=fatal-warnings
mkdir -p "$build/artifacts"
failed=0
printf '%-14s %12s %8s %8s %8s  %s\n' target executions exec/s cov ft result
for t in "${targets[@]}"; do
  exe=$build/tests/$t
  log=$build/$t.log
  mkdir -p "$build/corpus/$t"
  dirs=("$build/corpus/$t")
  [ -d "$src/tests/fuzz/corpus/$t" ] && dirs+=("$src/tests/fuzz/corpus/$t")
  jobs=${FUZZ_JOBS:-1}
  logs=()
  pids=()
  rc=0
  mkdir -p "$build/logs"
  for old in "$build/$t".log "$build/$t".[0-9]*.log; do
    [ -f "$old" ] && mv "$old" "$build/logs/$(basename "$old" .log).$(date -r "$old" +%Y%m%dT%H%M%S).log"
  done
  header="# fuzz-run $t binary $(binary_id "$exe") commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null) $(date -u +%FT%TZ)"
  for ((j = 0; j < jobs; j++)); do
    [ "$jobs" -gt 1 ] && log=$build/$t.$j.log
    logs+=("$log")
    echo "$header" >"$log"
    nice "$exe" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} ${FUZZ_ARGS:-} -timeout="${FUZZ_TIMEOUT:-10}" -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$t-" "${dirs[@]}" >>"$log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p" || rc=1
  done
  execs=0 rate=0 cov=0 ft=0
  for log in "${logs[@]}"; do
    n=$(log_executions "$log")
    r=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    c=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    f=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    execs=$((execs + ${n:-0})) rate=$((rate + ${r:-0}))
    [ "${c:-0}" -gt "$cov" ] && cov=$c
    [ "${f:-0}" -gt "$ft" ] && ft=$f
  done
  log=${logs[0]}
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="FAILED (${logs[*]})"
    failed=1
  fi
  printf '%-14s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $failed
