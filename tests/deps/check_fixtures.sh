#!/usr/bin/env bash
# Static check of the dependency fixtures (CMakeLists.txt here): each depprov.dll and helper has
# this build's machine and imports what its case says; mdhelper2.dll of wrong_bitness is of the
# other machine; the delay fixture's Delay Import directory is set and names mdnotthere2.dll.
#   check_fixtures.sh OBJDUMP DEPS_DIR x64|x86
set -uo pipefail
objdump="$1"; dir="$2"; arch="$3"
if [ "$arch" = x64 ]; then this=8664; other=014c; else this=014c; other=8664; fi
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# IMAGE_FILE_HEADER.Machine, read from the file (one objdump reads only its own machine's images).
format_is() {
  local lfanew machine
  lfanew=$(od -An -tu4 -j60 -N4 "$1" 2>/dev/null | tr -d ' ')
  machine=$(od -An -tx2 -j $((${lfanew:-0} + 4)) -N2 "$1" 2>/dev/null | tr -d ' ')
  [ "$machine" = "$2" ] || bad "$1 has machine ${machine:-?}, not $2"
}
imports() { "$objdump" -p "$1" 2>/dev/null | sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z'; }
imports_has() { imports "$1" | grep -qx "$2" || bad "$1 does not import $2 (imports: $(imports "$1" | tr '\n' ' '))"; }
imports_lacks() { ! imports "$1" | grep -qx "$2" || bad "$1 imports $2"; }
for c in missing own_folder wrong_bitness wrong_then_right chain delay apiset; do
  [ -f "$dir/$c/depprov.dll" ] || { bad "$dir/$c/depprov.dll is missing"; continue; }
  format_is "$dir/$c/depprov.dll" $this
done
imports_has "$dir/missing/depprov.dll" mdnotthere1.dll
imports_has "$dir/own_folder/depprov.dll" mdhelper.dll
format_is "$dir/own_folder/mdhelper.dll" $this
for c in wrong_bitness wrong_then_right; do
  imports_has "$dir/$c/depprov.dll" mdhelper2.dll
  format_is "$dir/$c/mdhelper2.dll" $other
done
format_is "$dir/wrong_then_right/path/mdhelper2.dll" $this
[ -e "$dir/wrong_bitness/path" ] && bad "wrong_bitness must have no right-machine copy"
imports_has "$dir/chain/depprov.dll" mdlevel1.dll
imports_has "$dir/chain/mdlevel1.dll" mdlevel2missing.dll
[ -e "$dir/chain/mdlevel2missing.dll" ] && bad "chain/mdlevel2missing.dll must not exist"
imports_has "$dir/apiset/depprov.dll" api-ms-win-core-synch-l1-2-0.dll
imports_lacks "$dir/delay/depprov.dll" mdnotthere2.dll
delay_dir=$("$objdump" -p "$dir/delay/depprov.dll" | awk '/Delay Import Directory/ { print $3, $4 }')
case "$delay_dir" in
  ""|"0000000000000000 00000000"|"00000000 00000000") bad "delay/depprov.dll: no Delay Import directory ($delay_dir)" ;;
esac
grep -qa "mdnotthere2.dll" "$dir/delay/depprov.dll" || bad "delay/depprov.dll does not name mdnotthere2.dll"
for f in mdnotthere1.dll mdnotthere2.dll mdlevel2missing.dll; do
  # fix/ holds mdnotthere1.dll for the retry test, which copies it elsewhere: never searched.
  found=$(find "$dir" -path "$dir/fix" -prune -o -iname "$f" -print | head -1)
  [ -z "$found" ] || bad "$found must not exist"
done
[ $fail = 0 ] && echo "the dependency fixtures are as documented ($arch)"
exit $fail
