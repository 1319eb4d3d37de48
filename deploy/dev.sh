#!/usr/bin/env bash
# MapiDispatch: set-up, build and tests on a Debian 12 machine, in one script.
#
#   deploy/dev.sh deps    install the Debian packages that are missing (quick when none is)
#   deploy/dev.sh build   deps, then configure and build every preset that builds here
#   deploy/dev.sh test    deps, build, and run every suite: native, ASan+UBSan, TSan, the fuzz
#                         smoke run, Windows x64 and Windows x86 under Wine (x86 under WoW64)
#   deploy/dev.sh bench   deps, native build, and the benchmarks (figures, never pass/fail)
#   deploy/dev.sh demo    deps, build the MSI (mingw-x64, target msi), and the live demonstration in a
#                         fresh Wine prefix: install with msiexec, the service, client processes
#                         sending mail through the stub, a default switch, a refresh, status,
#                         uninstall; nothing is left running (deploy/scripts/demo.sh)
#   deploy/dev.sh evidence [--quick] [--out DIR]
#                         deps, then issue #7's evidence in one run (deploy/scripts/evidence.sh):
#                         builds native, native-fuzz and mingw-x64, runs every benchmark (Wine ones
#                         each in a fresh prefix), the fault scenarios and a 10-million-execution
#                         fuzz run; writes tests/evidence/results/ (results.json, summary.md, PNG
#                         plots drawn with gnuplot). About 20 minutes (the last run: 19);
#                         --quick checks the pipeline.
#
# Environment: PRESETS="native mingw-x64" limits the presets; MAPIDISPATCH_FUZZ_SECONDS sets the
# length of each fuzz smoke run in seconds (default 30; build and test configure native-fuzz
# with -DMAPIDISPATCH_FUZZ_SECONDS=<it or 30>, so an earlier value does not stick in the
# cache); JOBS sets build parallelism (default: number of cores).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

ALL_PRESETS="native native-asan native-tsan native-fuzz mingw-x64 mingw-x86"
PRESETS="${PRESETS:-$ALL_PRESETS}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

# Every package the build and the tests use. Keep in step with README.md.
PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev
  libboost-dev libspdlog-dev libfmt-dev nlohmann-json3-dev googletest libgtest-dev libbenchmark-dev
  g++-mingw-w64-x86-64-posix g++-mingw-w64-i686-posix binutils-mingw-w64-x86-64 binutils-mingw-w64-i686
  wine64 wine32:i386
  wixl msitools python3 llvm
  gnuplot-nox
)

say() { printf '\n=== %s\n' "$*"; }

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PACKAGES[@]} packages present"
    return 0
  fi
  say "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: not root and no sudo; install: ${missing[*]}" >&2; return 1; }
    sudo="sudo"
  fi
  # wine32:i386 (Wine's WoW64: the x86 stub and its tests run) needs the i386 architecture.
  if ! dpkg --print-foreign-architectures | grep -qx i386; then
    $sudo dpkg --add-architecture i386 || return 1
  fi
  $sudo apt-get update -q || return 1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" || return 1
}

build_preset() {
  local preset="$1" defs=()
  say "configure + build: $preset"
  # The fuzz smoke length is a cache variable of the fuzz preset only (tests/fuzz/CMakeLists.txt);
  # always passed, so a value given once does not outlive the command that gave it.
  if [ "$preset" = native-fuzz ]; then
    defs+=("-DMAPIDISPATCH_FUZZ_SECONDS=${MAPIDISPATCH_FUZZ_SECONDS:-30}")
  fi
  MAPIDISPATCH_WERROR=ON cmake --preset "$preset" "${defs[@]}" >"build-$preset.configure.log" 2>&1 || {
    cat "build-$preset.configure.log"; rm -f "build-$preset.configure.log"; return 1; }
  rm -f "build-$preset.configure.log"
  cmake --build --preset "$preset" -j "$JOBS"
}

build() {
  local failed=0
  for p in $PRESETS; do build_preset "$p" || { echo "BUILD FAILED: $p"; failed=1; }; done
  return $failed
}

# Runs one preset's ctest; adds its counts to the totals.
TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()
test_preset() {
  local preset="$1" log start secs passed failed total line
  log="$(mktemp)"
  say "test: $preset"
  start=$(date +%s)
  ( cd "build/$preset" && ctest --output-on-failure --timeout 900 -LE bench ) 2>&1 | tee "$log"
  secs=$(( $(date +%s) - start ))
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1)
  if [ -n "$line" ]; then
    failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    total=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
    passed=$(( total - failed ))
  else
    passed=0; failed=1   # ctest did not finish: count the preset as one failure
  fi
  rm -f "$log"
  TOTAL_PASSED=$(( TOTAL_PASSED + passed ))
  TOTAL_FAILED=$(( TOTAL_FAILED + failed ))
  SUMMARY+=("$(printf '%-12s %4d passed %4d failed %5ds' "$preset" "$passed" "$failed" "$secs")")
}

run_tests() {
  local start failed_builds=()
  start=$(date +%s)
  for p in $PRESETS; do
    if build_preset "$p"; then
      test_preset "$p"
    else
      failed_builds+=("$p")
      TOTAL_FAILED=$(( TOTAL_FAILED + 1 ))
      SUMMARY+=("$(printf '%-12s build failed' "$p")")
    fi
  done
  say "summary ($(( $(date +%s) - start ))s)"
  printf '%s\n' "${SUMMARY[@]}"
  echo "total: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
  [ "$TOTAL_FAILED" -eq 0 ]
}

# Runs a command with a temporary Wine prefix of its own (persistent server; removed afterwards).
with_wine_prefix() {
  local prefix rc
  prefix="$(mktemp -d /tmp/mapidispatch-wine.XXXXXX)"
  "$root/cmake/wine-prefix.sh" setup "$prefix" || return 1
  ( . "$root/cmake/wine-env.sh" && md_find_wine && export WINEPREFIX="$prefix" && "$@" )
  rc=$?
  "$root/cmake/wine-prefix.sh" cleanup "$prefix" >/dev/null
  return $rc
}

run_stub_bench() { "$WINE" build/mingw-x64/tests/stub/stub_bench.exe "$@"; }

bench() {
  PRESETS="native mingw-x64" build || return 1
  say "table benchmarks, native (build/native/tests/bench/table_bench)"
  build/native/tests/bench/table_bench --benchmark_counters_tabular=true
  say "stub benchmarks, Windows x64 under Wine (build/mingw-x64/tests/stub/stub_bench.exe)"
  with_wine_prefix run_stub_bench
}

# The live demonstration: the MSI built by the mingw-x64 preset, then deploy/scripts/demo.sh.
demo() {
  local start
  start=$(date +%s)
  say "building the MSI (preset mingw-x64, target msi; log: build/mingw-x64.demo-build.log)"
  mkdir -p build
  if ! { MAPIDISPATCH_WERROR=ON cmake --preset mingw-x64 && cmake --build --preset mingw-x64 --target msi -j "$JOBS"; } \
       >build/mingw-x64.demo-build.log 2>&1; then
    tail -n 40 build/mingw-x64.demo-build.log
    echo "demo: the build failed (whole log: build/mingw-x64.demo-build.log)"
    return 1
  fi
  echo "   $(grep -o 'built .*MapiDispatch-.*\.msi.*' build/mingw-x64.demo-build.log | tail -n1 | sed "s|$root/||") in $(( $(date +%s) - start ))s"
  bash "$here/scripts/demo.sh" build/mingw-x64
}

case "${1:-}" in
  deps) deps ;;
  build) deps && build ;;
  test) deps && run_tests ;;
  bench) deps && bench ;;
  demo) deps && demo ;;
  evidence) shift; deps && bash "$here/scripts/evidence.sh" "$@" ;;
  *)
    sed -n '2,24p' "$0"
    exit 2 ;;
esac
