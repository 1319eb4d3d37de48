#!/usr/bin/env bash
# Builds the MapiDispatch MSI with wixl from a staged folder (the `msi` target's stage/).
#   build-msi.sh STAGE_DIR VERSION OUT.msi
# Used by deploy/CMakeLists.txt (target msi) and by the end-to-end test (which builds a second,
# higher version from the same files to test the major upgrade).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -eq 3 ] || { echo "usage: $0 STAGE_DIR VERSION OUT.msi" >&2; exit 2; }
stage="$1"; version="$2"; out="$3"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-msi.sh: VERSION must be major.minor.build, not '$version'" >&2; exit 2; }
for f in mapidispatch.exe mapi32-x64.dll mapi32-x86.dll mapidispatch-setup.exe MapiDispatch.admx en-US/MapiDispatch.adml; do
  [ -f "$stage/$f" ] || { echo "build-msi.sh: $stage/$f is missing (build the msi target)" >&2; exit 1; }
done
command -v wixl >/dev/null || { echo "build-msi.sh: wixl is not installed (apt-get install wixl)" >&2; exit 1; }
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
log="$(mktemp)"
# wixl 0.101 does not find files given by absolute paths: name them relative to the stage.
cd "$stage"
if ! wixl -a x64 -D Wixl=1 -D "Version=$version" \
     -D "ServiceExe=mapidispatch.exe" -D "Stub64=mapi32-x64.dll" -D "Stub86=mapi32-x86.dll" \
     -D "SetupExe=mapidispatch-setup.exe" -D "Admx=MapiDispatch.admx" \
     -D "Adml=en-US/MapiDispatch.adml" -o "$out.tmp" "$here/MapiDispatch.wxs" >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log" "$out.tmp"; exit 1
fi
# wixl reports what it does not understand only as warnings: none is expected.
if [ -s "$log" ]; then
  echo "build-msi.sh: wixl warned (the .wxs uses something wixl ignores):" >&2; cat "$log" >&2
  rm -f "$log" "$out.tmp"; exit 1
fi
rm -f "$log"
mv -f "$out.tmp" "$out"
echo "built $out ($(stat -c %s "$out") bytes, version $version)"
