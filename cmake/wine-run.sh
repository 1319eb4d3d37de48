#!/usr/bin/env bash
# CMAKE_CROSSCOMPILING_EMULATOR of the mingw-x64 build: runs one Windows program under Wine.
# The prefix is the one the ctest fixture `wine.prefix.setup` created (tests get WINEPREFIX from
# their environment).  Run by hand with WINEPREFIX set to a prefix of your own.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/wine-env.sh"
md_find_wine || exit 127
if [ -z "${WINEPREFIX:-}" ]; then
  echo "wine-run.sh: WINEPREFIX is not set; run through ctest (its fixture makes a prefix) or set one" >&2
  exit 127
fi
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "wine-run.sh: $WINEPREFIX is not an initialised Wine prefix" >&2
  exit 127
fi
exec "$WINE" "$@"
