#!/usr/bin/env bash
# Issue #7's performance and robustness evidence in one run (`deploy/dev.sh evidence`, which
# first installs what is missing). Figures only: nothing here passes or fails on a number; the
# exit code is non-zero only if a step could not run or a run reported a torn read or a crash.
#
#   evidence.sh [--quick] [--out DIR]
#
#   --quick    small counts everywhere: checks the pipeline in a few minutes (not evidence)
#   --out DIR  where results go (default tests/evidence/results)
#
# Environment: MAPIDISPATCH_BUILD_ROOT (default build/): the presets are configured and built in
# $MAPIDISPATCH_BUILD_ROOT/<preset> (native, native-fuzz, mingw-x64), so a scratch tree can be
# used without touching build/; JOBS: build parallelism (default: number of cores);
# MAPIDISPATCH_FUZZ_TABLE_RUNS: executions of the table reader fuzzer (default 10,000,000, quick
# 100,000), bounded by MAPIDISPATCH_FUZZ_TABLE_SECONDS (default 900, quick 20: the whole run
# stays within 45 minutes on 2 cores; the report says when the bound cut the runs short);
# MAPIDISPATCH_FUZZ_REG_SECONDS: how long the .reg parser fuzzer runs beside it (default
# 300, quick 20; it is ~70 times slower per input: each one goes through the whole resolver),
# after which its core runs a second table reader until the first one's time is up.
#
# What runs, one after another (each Wine program in a fresh Wine prefix of its own):
#   table_size          native   bytes of the published table, 0..1000 user scopes
#   table_bench         native   Google Benchmark: seqlock fast path, reads, publishes
#   throughput_bench    native   reads/s quiet and under a 10 Hz writer (and under Wine)
#   stub_bench.exe      Wine     per-call cost direct / stub+table / stub+registry, first call
#   service_bench.exe   Wine     propagation to one reader, idle wake-ups, working set
#   propagation_bench   Wine     propagation to N = 1, 16, 64, 256 reader processes
#   farm_bench.exe      Wine     the service with N = 1, 10, 100, 500, 1000 user hives: start, one change, CPU, memory
#   fault_bench.exe     Wine     fault scenarios, if the mingw-x64 build has it
#   table_reader_fuzz, reg_parser_fuzz   libFuzzer, both at once (one per core), on scratch copies
#                                        of the committed corpora; then a second table reader on
#                                        the .reg parser's core for the rest of the table's time
# then deploy/scripts/evidence_report.py merges everything into DIR/results.json, writes
# DIR/summary.md and draws DIR/*.png with gnuplot. Logs: $MAPIDISPATCH_BUILD_ROOT/evidence-logs/.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

QUICK=0
OUT="$root/tests/evidence/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) [ $# -ge 2 ] || { echo "evidence: --out needs a folder" >&2; exit 2; }; OUT="$2"; shift ;;
    --out=*) OUT="${1#--out=}" ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "evidence: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT" || exit 1
OUT="$(cd "$OUT" && pwd)"
BUILD_ROOT="${MAPIDISPATCH_BUILD_ROOT:-$root/build}"
mkdir -p "$BUILD_ROOT" || exit 1
BUILD_ROOT="$(cd "$BUILD_ROOT" && pwd)"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
LOGS="$BUILD_ROOT/evidence-logs"
# The programs' own JSON and the fuzzers' corpora, kept for evidence_report.py to be re-run on.
RAW="$LOGS/raw"
rm -rf "$LOGS"; mkdir -p "$LOGS" "$RAW"
trap 'exit 130' INT TERM

if [ "$QUICK" -eq 1 ]; then
  FUZZ_TABLE_RUNS="${MAPIDISPATCH_FUZZ_TABLE_RUNS:-100000}"; FUZZ_REG_SECONDS="${MAPIDISPATCH_FUZZ_REG_SECONDS:-20}"
  FUZZ_TABLE_SECONDS="${MAPIDISPATCH_FUZZ_TABLE_SECONDS:-20}"
else
  FUZZ_TABLE_RUNS="${MAPIDISPATCH_FUZZ_TABLE_RUNS:-10000000}"; FUZZ_REG_SECONDS="${MAPIDISPATCH_FUZZ_REG_SECONDS:-300}"
  FUZZ_TABLE_SECONDS="${MAPIDISPATCH_FUZZ_TABLE_SECONDS:-900}"
fi

say() { printf '\n=== %s\n' "$*"; }
START=$(date +%s)
date -u +%Y-%m-%dT%H:%M:%SZ >"$RAW/started"
cat /proc/loadavg >"$RAW/load-start"

# Each step appends "name<TAB>status<TAB>seconds<TAB>note" to steps.tsv for the report.
FAILED=0
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$RAW/steps.tsv"; }
# step NAME LOG COMMAND...: runs, logs (tee), records status and duration.
step() {
  local name="$1" log="$2" t0 rc; shift 2
  say "$name"
  t0=$(date +%s)
  "$@" 2>&1 | tee "$LOGS/$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then record "$name" ok $(( $(date +%s) - t0 )); else
    record "$name" "failed (exit $rc)" $(( $(date +%s) - t0 )) "log: $LOGS/$log"; FAILED=1; fi
  return "$rc"
}

# ---- Build -------------------------------------------------------------------------------------

# build PRESET TARGET...: configure into $BUILD_ROOT/PRESET and build the targets.
build() {
  local preset="$1"; shift
  local dir="$BUILD_ROOT/$preset"
  MAPIDISPATCH_WERROR=ON cmake --preset "$preset" -B "$dir" >"$LOGS/build-$preset.log" 2>&1 &&
    cmake --build "$dir" -j "$JOBS" --target "$@" >>"$LOGS/build-$preset.log" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || tail -n 30 "$LOGS/build-$preset.log"
  return $rc
}
NATIVE="$BUILD_ROOT/native"; FUZZ="$BUILD_ROOT/native-fuzz"; MINGW="$BUILD_ROOT/mingw-x64"
step "build native" build.log build native table_bench throughput_bench table_size
step "build native-fuzz" build-fuzz.log build native-fuzz table_reader_fuzz reg_parser_fuzz
step "build mingw-x64" build-mingw.log build mingw-x64 stub_bench service_bench propagation_bench throughput_bench farm_bench
# fault_bench belongs to tests/evidence/faults.cmake, written separately: built when it is there.
if [ -f "$root/tests/evidence/faults.cmake" ]; then
  step "build fault_bench" build-fault.log cmake --build "$MINGW" -j "$JOBS" --target fault_bench
fi

# ---- Runs ---------------------------------------------------------------------------------------

. "$root/cmake/wine-env.sh"
md_find_wine || exit 1
# wine_run PROGRAM ARGS...: the Windows program in a Wine prefix made for it and removed after.
wine_run() {
  local prefix rc
  prefix="$(mktemp -d /tmp/mapidispatch-evidence-wine.XXXXXX)"
  "$root/cmake/wine-prefix.sh" setup "$prefix" >/dev/null || { rm -rf "$prefix"; return 1; }
  WINEPREFIX="$prefix" "$WINE" "$@"
  rc=$?
  "$root/cmake/wine-prefix.sh" cleanup "$prefix" >/dev/null
  return $rc
}

if [ "$QUICK" -eq 1 ]; then
  BENCH_ARGS=(--benchmark_min_time=0.05)
  TP_ARGS=(--quick); SVC_ARGS=(--samples 10 --idle-seconds 10); PROP_ARGS=(--quick); FAULT_ARGS=(--quick)
  FARM_ARGS=(--sizes 1,10,100 --changes 5)
else
  BENCH_ARGS=()
  TP_ARGS=(); SVC_ARGS=(); PROP_ARGS=(); FAULT_ARGS=(); FARM_ARGS=(--changes 100)
fi

step "table size" table_size.log "$NATIVE/tests/evidence/table_size" --json "$RAW/table_size.json"
step "table_bench (native)" table_bench.log "$NATIVE/tests/bench/table_bench" --benchmark_counters_tabular=true \
  --benchmark_out="$RAW/table_bench.json" --benchmark_out_format=json "${BENCH_ARGS[@]}"
step "throughput (native)" throughput.log "$NATIVE/tests/evidence/throughput_bench" "${TP_ARGS[@]}" --json "$RAW/throughput_native.json"
step "throughput (Wine)" throughput-wine.log wine_run "$MINGW/tests/evidence/throughput_bench.exe" "${TP_ARGS[@]}" \
  --json "$RAW/throughput_wine.json"
step "stub per-call and first-call cost (Wine)" stub_bench.log wine_run "$MINGW/tests/stub/stub_bench.exe" \
  --json "$RAW/stub_bench.json"
step "service: propagation to one reader, idle cost (Wine)" service_bench.log wine_run \
  "$MINGW/tests/service/service_bench.exe" "${SVC_ARGS[@]}" --json "$RAW/service_bench.json"
step "propagation to N reader processes (Wine)" propagation.log wine_run \
  "$MINGW/tests/evidence/propagation_bench.exe" "${PROP_ARGS[@]}" --json "$RAW/propagation.json"
step "the farm: 1 to 1,000 user hives (Wine)" farm_bench.log wine_run \
  "$MINGW/tests/service/farm_bench.exe" "${FARM_ARGS[@]}" --json "$RAW/farm.json"
FAULT_BENCH="$(find "$MINGW" -name fault_bench.exe -type f 2>/dev/null | head -n1)"
if [ -n "$FAULT_BENCH" ]; then
  # fault_bench exits non-zero when a scenario falls short of its goal: a figure, reported under
  # "faults"; only a run that wrote no JSON is a failed step.
  say "fault scenarios (Wine)"
  t0=$(date +%s)
  wine_run "$FAULT_BENCH" "${FAULT_ARGS[@]}" --json "$RAW/faults.json" 2>&1 | tee "$LOGS/fault_bench.log"
  rc=${PIPESTATUS[0]}
  if [ -s "$RAW/faults.json" ]; then
    record "fault scenarios (Wine)" ok $(( $(date +%s) - t0 )) "$([ "$rc" -eq 0 ] || echo "exit $rc: a scenario falls short of its goal")"
  else
    record "fault scenarios (Wine)" "failed (exit $rc)" $(( $(date +%s) - t0 )) "log: $LOGS/fault_bench.log"; FAILED=1
  fi
else
  record "fault scenarios (Wine)" missing 0 "no fault_bench.exe in $MINGW"
  say "fault scenarios: no fault_bench.exe in $MINGW; skipped"
fi

# Fuzzing: both targets at once (one per core), each on a scratch copy of its committed corpus
# (libFuzzer adds new inputs to its first corpus folder; the committed seeds stay as they are).
# When the .reg parser's time is up, its core runs a second table reader on the first one's
# corpus folder for the rest of the table reader's time, as libFuzzer's -jobs would: each
# instance reads the units the other added when it starts.
# fuzz_one LABEL PROGRAM CORPUS SEEDS LIBFUZZER-OPTIONS...: raw results under fuzz-LABEL.
fuzz_one() {
  local label="$1" program="$2" corpus="$3" seeds="$4"; shift 4
  mkdir -p "$corpus" "$RAW/fuzz-$label/artifacts"
  cp "$seeds"/* "$corpus/"
  ls "$corpus" | wc -l >"$RAW/fuzz-$label/seed_files"
  "$FUZZ/tests/fuzz/$program" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$RAW/fuzz-$label/artifacts/" "$@" "$corpus" >"$LOGS/fuzz-$label.log" 2>&1
  echo $? >"$RAW/fuzz-$label/exit"
  ls "$corpus" | wc -l >"$RAW/fuzz-$label/corpus_files"
  du -sb "$corpus" | cut -f1 >"$RAW/fuzz-$label/corpus_bytes"
  cp "$LOGS/fuzz-$label.log" "$RAW/fuzz-$label/log"
}
fuzz_both() {
  # The table reader: a number of executions, bounded by a time; the .reg parser: a time.
  local table_corpus="$RAW/fuzz-table_reader_fuzz/corpus" t0 left
  t0=$(date +%s)
  fuzz_one table_reader_fuzz table_reader_fuzz "$table_corpus" "$root/tests/fuzz/corpus/table" \
    -runs="$FUZZ_TABLE_RUNS" -max_total_time="$FUZZ_TABLE_SECONDS" &
  local a=$!
  fuzz_one reg_parser_fuzz reg_parser_fuzz "$RAW/fuzz-reg_parser_fuzz/corpus" "$root/tests/fuzz/corpus/reg" \
    -max_total_time="$FUZZ_REG_SECONDS" -max_len=65536
  left=$(( FUZZ_TABLE_SECONDS - ($(date +%s) - t0) ))
  local labels="table_reader_fuzz reg_parser_fuzz"
  # Only while the first has time left (and is still running: it also stops at its run count).
  if [ "$left" -ge 10 ] && kill -0 "$a" 2>/dev/null; then
    fuzz_one table_reader_fuzz.2 table_reader_fuzz "$table_corpus" "$root/tests/fuzz/corpus/table" \
      -runs="$FUZZ_TABLE_RUNS" -max_total_time="$left"
    labels="$labels table_reader_fuzz.2"
  fi
  wait $a
  local rc=0 n
  for n in $labels; do
    echo "$n: exit $(cat "$RAW/fuzz-$n/exit"); $(grep -E '^stat::number_of_executed_units|^Done' "$LOGS/fuzz-$n.log" | tr '\n' ' ')"
    [ "$(cat "$RAW/fuzz-$n/exit")" = 0 ] || rc=1
  done
  return $rc
}
step "fuzzing ($FUZZ_TABLE_RUNS table reader executions or $FUZZ_TABLE_SECONDS s, $FUZZ_REG_SECONDS s of .reg parser)" \
  fuzz.log fuzz_both

# ---- Report -------------------------------------------------------------------------------------

cat /proc/loadavg >"$RAW/load-end"
echo $(( $(date +%s) - START )) >"$RAW/seconds"
say "report: $OUT"
python3 "$here/evidence_report.py" --raw "$RAW" --out "$OUT" --quick "$QUICK" --wine "$WINE" --logs "$LOGS" || FAILED=1
[ -f "$OUT/summary.md" ] && sed -n '1,40p' "$OUT/summary.md"
echo "evidence: $(( $(date +%s) - START ))s; results in $OUT (logs: $LOGS)"
exit $FAILED
