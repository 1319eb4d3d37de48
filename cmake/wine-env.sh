# Sourced by wine-run.sh and wine-prefix.sh: finds Debian's Wine 64-bit loader and server.
# Debian's wine64 package installs them under /usr/lib/wine; the `wine` package adds /usr/bin links.
md_find_wine() {
  for c in "${MAPIDISPATCH_WINE:-}" /usr/lib/wine/wine64 "$(command -v wine64 2>/dev/null)" "$(command -v wine 2>/dev/null)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then WINE="$c"; break; fi
  done
  for c in "${MAPIDISPATCH_WINESERVER:-}" /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver "$(command -v wineserver 2>/dev/null)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then WINESERVER="$c"; break; fi
  done
  if [ -z "${WINE:-}" ] || [ -z "${WINESERVER:-}" ]; then
    echo "wine: no wine64 loader/wineserver found (apt-get install wine64)" >&2
    return 1
  fi
  export WINE WINESERVER
  export WINEDEBUG="${WINEDEBUG:--all}"
  # No desktop integration, no Mono/Gecko download prompts in a headless prefix; and mapi32 native
  # first: Wine has a builtin mapi32.dll that it otherwise loads even for a full path to ours.
  export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=;winemenubuilder.exe=d;mapi32=n,b}"
}
