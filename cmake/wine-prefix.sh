#!/usr/bin/env bash
# ctest fixture for the Wine tests of one test run.
#   wine-prefix.sh setup DIR    make a fresh prefix in DIR, keep a persistent wineserver for it
#   wine-prefix.sh cleanup DIR  stop that wineserver (and every process of the prefix), delete DIR
# A persistent server (`wineserver -p`) matters: without it Wine stops services when the last
# client process exits, between two test programs.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/wine-env.sh"
md_find_wine || exit 1
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 setup|cleanup DIR" >&2; exit 2; }
export WINEPREFIX="$dir"
case "$cmd" in
  setup)
    if [ -d "$dir" ]; then "$WINESERVER" -k >/dev/null 2>&1 || true; rm -rf "$dir"; fi
    mkdir -p "$dir"
    start=$(date +%s)
    if ! "$WINE" wineboot -i >"$dir.wineboot.log" 2>&1; then
      echo "wineboot failed; its output:" >&2; cat "$dir.wineboot.log" >&2; exit 1
    fi
    "$WINESERVER" -w
    # Every process started here outlives this script: none may hold ctest's output pipe open,
    # or ctest waits for it until its timeout.
    "$WINESERVER" -p </dev/null >/dev/null 2>&1
    # Start Wine's system processes (services.exe and friends) now, detached from ctest's pipes;
    # the persistent server keeps them running for the test programs.
    "$WINE" cmd /c exit 0 </dev/null >"$dir.warmup.log" 2>&1 || true
    echo "wine prefix ready in $(( $(date +%s) - start ))s: $dir"
    ;;
  cleanup)
    "$WINESERVER" -k >/dev/null 2>&1 || true
    rm -rf "$dir" "$dir.wineboot.log" "$dir.warmup.log"
    echo "wine prefix removed: $dir"
    ;;
  *) echo "usage: $0 setup|cleanup DIR" >&2; exit 2 ;;
esac
