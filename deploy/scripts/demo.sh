#!/usr/bin/env bash
# The live demonstration of MapiDispatch in a Wine prefix (run by `deploy/dev.sh demo`, which first
# installs what is missing and builds the MSI):
#   a fresh prefix; two mail clients (Contoso Mail, the default, and Fabrikam Mail) that deliver
#   into Outbox folders; the MSI installed with msiexec; three application processes sending mail
#   through the app-local stub; the default mail client switched in the registry while they run;
#   a forced refresh; `mapidispatch status`; registration as a mail client; uninstall; nothing left.
#
#   demo.sh BUILD_DIR     (BUILD_DIR: the mingw-x64 build that made the `msi` target)
set -u
build="$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$root/cmake/wine-env.sh"
md_find_wine || exit 1
. "$root/deploy/scripts/wine-deploy-lib.sh"

msi="$(ls "$build"/deploy/MapiDispatch-*-x64.msi 2>/dev/null | head -n1)"
demo="$build/deploy/demo"
[ -f "$msi" ] || { echo "demo: no MSI in $build/deploy (build the msi target)" >&2; exit 1; }

work="$(mktemp -d /tmp/mapidispatch-demo.XXXXXX)"
export WINEPREFIX="$work/prefix"
CLIENT_PIDS=()
cleanup() {
  local p
  for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  "$root/cmake/wine-prefix.sh" cleanup "$WINEPREFIX" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

STEP=0
if [ -t 1 ]; then B=$'\033[1m' D=$'\033[2m' N=$'\033[0m'; else B="" D="" N=""; fi
step() { STEP=$((STEP + 1)); printf '\n%s%d. %s%s\n' "$B" "$STEP" "$*" "$N"; }
say() { printf '   %s\n' "$*"; }
cmd() { printf '   %s> %s%s\n' "$D" "$*" "$N"; }
indent() { sed 's/^/     /'; }
die() { printf '   FAILED: %s\n' "$*"; exit 1; }
now_ms() { date +%s%3N; }

prog='C:\Program Files\MapiDispatch'
mdx() { mdw "$prog\\mapidispatch.exe" "$@" 2>&1 | tr -d '\r'; }
generation() { mdx status | sed -nE 's/^Generation: *([0-9]+).*/\1/p'; }

printf '\n%sMapiDispatch: live demonstration%s\n' "$B" "$N"
say "package: $(basename "$msi") ($(stat -c %s "$msi") bytes)"

# ---------------------------------------------------------------------------------------------
step "A fresh Wine prefix (a Windows machine of our own)"
t0=$(date +%s)
"$root/cmake/wine-prefix.sh" setup "$WINEPREFIX" >"$work/prefix.log" 2>&1 || { cat "$work/prefix.log"; die "wineboot"; }
say "ready in $(( $(date +%s) - t0 ))s: $WINEPREFIX (64-bit Windows, Wine $("$WINE" --version 2>/dev/null | sed 's/^wine-//'))"

step "Two mail clients and four applications"
md_setup_mail_clients "$demo" || die "registering the mail clients"
for app in Billing Reports Archive; do md_setup_app "$demo" "$app"; done
md_setup_app32 "$demo" Ledger32
say "Mail clients (HKLM\\Software\\Clients\\Mail), each delivering into its Outbox folder, each with a 64-bit"
say "and a 32-bit DLL (DLLPath %ProgramFiles%\\<client>\\<dll>: Program Files (x86) in a 32-bit process):"
say "  Contoso Mail   %ProgramFiles%\\Contoso Mail\\contoso.dll     <- the default"
say "  Fabrikam Mail  %ProgramFiles%\\Fabrikam Mail\\fabrikam.dll"
say "Applications that send mail with MAPISendMail: C:\\Apps\\Billing\\Billing.exe, C:\\Apps\\Reports\\Reports.exe,"
say "C:\\Apps\\Ledger32\\Ledger32.exe (a 32-bit program), C:\\Apps\\Archive\\Archive.exe (Archive gets no"
say "app-local stub: it shows the registration way later)."

step "Install the MSI"
cmd "msiexec /i $(basename "$msi") /qn APPLOCAL_DIRS=\"C:\\Apps\\Billing;C:\\Apps\\Reports;C:\\Apps\\Ledger32\" MAILCLIENT=register"
t0=$(date +%s)
mdw msiexec /i "$(md_winpath "$msi")" /qn /l*v 'C:\install.log' 'APPLOCAL_DIRS=C:\Apps\Billing;C:\Apps\Reports;C:\Apps\Ledger32' MAILCLIENT=register \
  >"$work/msiexec.out" 2>&1 || { tail -n 20 "$work/msiexec.out"; die "msiexec exited $?"; }
say "installed in $(( $(date +%s) - t0 ))s:"
say "  C:\\Program Files\\MapiDispatch\\        mapidispatch.exe, mapi32.dll (x64 stub), mapidispatch-setup.exe, PolicyDefinitions\\"
say "  C:\\Program Files (x86)\\MapiDispatch\\  mapi32.dll (x86 stub, for 32-bit processes)"
for app in Billing Reports; do
  cmp -s "$(md_cpath "$prog\\mapi32.dll")" "$(md_cpath "C:\\Apps\\$app\\mapi32.dll")" && say "  C:\\Apps\\$app\\mapi32.dll  (app-local x64 stub)"
done
cmp -s "$(md_cpath 'C:\Program Files (x86)\MapiDispatch\mapi32.dll')" "$(md_cpath 'C:\Apps\Ledger32\mapi32.dll')" && \
  say "  C:\\Apps\\Ledger32\\mapi32.dll  (app-local x86 stub: the package saw a 32-bit program there)"
md_reg_key_exists 'HKLM\Software\Clients\Mail\MapiDispatch' && \
  say "  HKLM\\Software\\Clients\\Mail\\MapiDispatch  DLLPath = $(md_reg_get 'HKLM\Software\Clients\Mail\MapiDispatch' DLLPath)"
md_wait_until 30 bash -c '[ "$(md_service_state)" = RUNNING ]' || die "the service did not start"
say "service MapiDispatch: $(md_service_state) (automatic start, LocalSystem); Parameters:"
mdw reg query 'HKLM\SYSTEM\CurrentControlSet\Services\MapiDispatch\Parameters' 2>/dev/null | tr -d '\r' | grep REG_ | sed -E 's/^ +//; s/ {4}/  /g' | indent

step "What the service published: mapidispatch status"
md_wait_until 30 bash -c "mdw '$prog\\mapidispatch.exe' status" || true
cmd "mapidispatch status"
mdx status | indent

# ---------------------------------------------------------------------------------------------
step "Four client processes send mail through the stub, one of them 32-bit"
start_client() {  # TAG APP
  "$WINE" "C:\\Apps\\$2\\$2.exe" --tag "$1" --until-file 'C:\stop-clients' --interval-ms 250 --log "C:\\$1.calls" \
    </dev/null >"$work/$1.out" 2>&1 &
  CLIENT_PIDS+=($!)
}
CLIENTS="Billing-1 Billing-2 Reports-1 Ledger32-1"
start_client Billing-1 Billing; start_client Billing-2 Billing; start_client Reports-1 Reports; start_client Ledger32-1 Ledger32
calls() { local f; f="$(md_cpath "C:\\$1.calls")"; [ -f "$f" ] && wc -l <"$f" || echo 0; }
md_wait_until 60 bash -c "for c in $CLIENTS; do [ -s \"\$(md_cpath \"C:\\\\\$c.calls\")\" ] || exit 1; done" || die "the clients do not call"
sleep 3
table() {
  printf '     %-11s %6s %14s %14s\n' client calls "Contoso Mail" "Fabrikam Mail"
  for c in $CLIENTS; do
    printf '     %-11s %6s %14s %14s\n' "$c" "$(calls "$c")" "$(md_outbox_count 'Contoso Mail' "$c")" "$(md_outbox_count 'Fabrikam Mail' "$c")"
  done
}
say "every 250 ms each calls MAPISendMail; the stub (C:\\Apps\\...\\mapi32.dll) reads the service's table and"
say "forwards to the default client's DLL of the process's bitness (Ledger32's x86 stub reads the table's"
say "answers for 32-bit processes), which writes an .eml file into its Outbox:"
table

step "Switch the machine's default mail client while they run"
cmd "reg add HKLM\\Software\\Clients\\Mail /ve /d \"Fabrikam Mail\" /f"
gen_before="$(generation)"
switch_ms=$(now_ms)
md_reg_set 'HKLM\Software\Clients\Mail' "" REG_SZ "Fabrikam Mail" || die "reg add"
md_wait_until 60 bash -c "for c in $CLIENTS; do [ \$(md_outbox_count 'Fabrikam Mail' \$c) -gt 0 ] || exit 1; done" \
  || die "not every client reached Fabrikam Mail within 60 s"
say "the service saw the change and published generation $(generation) (was $gen_before); each client's next call"
say "went to Fabrikam Mail, without restarting anything:"
for c in $CLIENTS; do
  dir="$(md_cpath 'C:\Program Files\Fabrikam Mail\Outbox')" dir86="$(md_cpath 'C:\Program Files (x86)\Fabrikam Mail\Outbox')"
  first="$(grep -l -s "^Subject: $c " "$dir"/*.eml "$dir86"/*.eml | sort | head -n1)"
  subj="$(sed -nE 's/^Subject: (.*)\r?$/\1/p' "$first" | tr -d '\r')"
  when="$(sed -nE 's/^Date: (.*) UTC\r?$/\1/p' "$first" | tr -d '\r')"
  ms=$(( $(date -u -d "$when" +%s%3N) - switch_ms ))
  last_c="$(grep -l -s "^Subject: $c " "$(md_cpath 'C:\Program Files\Contoso Mail\Outbox')"/*.eml \
             "$(md_cpath 'C:\Program Files (x86)\Contoso Mail\Outbox')"/*.eml | sort | tail -n1)"
  printf '     %-10s last to Contoso: %-22s first to Fabrikam: %-22s (%d ms after the switch)\n' "$c" \
    "\"$(sed -nE 's/^Subject: [^ ]+ (.*)\r?$/\1/p' "$last_c" | tr -d '\r')\"" "\"${subj#* }\"" "$ms"
done
sleep 2
table

step "A forced refresh (sc control MapiDispatch 128)"
cmd "mapidispatch refresh"
g1="$(generation)"
mdx refresh | indent
md_wait_until 30 bash -c "[ \"\$(mdw '$prog\\mapidispatch.exe' status 2>/dev/null | tr -d '\r' | sed -nE 's/^Generation: *([0-9]+).*/\1/p')\" -gt $g1 ]" \
  && say "generation $g1 -> $(generation): everything re-resolved and republished; the clients keep calling" \
  || say "the generation did not move within 30 s (the service's refresh is in progress)"

step "Stop the clients"
touch "$(md_cpath 'C:\stop-clients')"
failed_any=0
for p in "${CLIENT_PIDS[@]}"; do wait "$p" || failed_any=1; done
CLIENT_PIDS=()
for c in $CLIENTS; do say "$(tr -d '\r' <"$work/$c.out")"; done
table
[ "$failed_any" -eq 0 ] && say "no call failed." || say "SOME CALLS FAILED (see above)."
say "one of the messages, as Fabrikam Mail delivered it:"
sed 's/\r$//' "$(ls "$(md_cpath 'C:\Program Files\Fabrikam Mail\Outbox')"/*.eml | tail -n1)" | indent

step "mapidispatch status, explain and the service's log"
cmd "mapidispatch status"
mdx status | indent
cmd "mapidispatch explain --module Billing.exe"
mdx explain --module Billing.exe | indent
log="$(md_cpath 'C:\ProgramData\MapiDispatch\MapiDispatch.log')"
if [ -f "$log" ]; then
  say "C:\\ProgramData\\MapiDispatch\\MapiDispatch.log (last lines):"
  tail -n 6 "$log" | cut -c1-200 | indent
fi

# ---------------------------------------------------------------------------------------------
step "The other way in: registration as a mail client"
say "Archive.exe has no app-local stub: it loads the system's mapi32.dll (here Wine's), which loads the default"
say "mail client's DLLPath. MAILCLIENT=register added the MapiDispatch client; its UpstreamClient (the default"
say "mail client at installation) serves the calls that reach the stub this way:"
cmd "reg query HKLM\\Software\\Clients\\Mail\\MapiDispatch"
mdw reg query 'HKLM\Software\Clients\Mail\MapiDispatch' 2>/dev/null | tr -d '\r' | grep REG_ | sed -E 's/^ +//; s/ {4}/  /g' | indent
cmd "reg add HKLM\\Software\\Clients\\Mail /ve /d MapiDispatch /f   (what MAILCLIENT=default does at install)"
g1="$(generation)"
md_reg_set 'HKLM\Software\Clients\Mail' "" REG_SZ MapiDispatch
md_wait_until 30 bash -c "[ \"\$(mdw '$prog\\mapidispatch.exe' status 2>/dev/null | tr -d '\r' | sed -nE 's/^Generation: *([0-9]+).*/\\1/p')\" -gt $g1 ]" || true
mdx status | sed -n '/^Scope machine/,/why:/p' | indent
before="$(md_outbox_count 'Contoso Mail' Archive)"
MAPIDISPATCH_TRACE='C:\archive-trace.txt' mdw 'C:\Apps\Archive\Archive.exe' --tag Archive --count 3 --interval-ms 0 >"$work/archive.out" 2>&1
rc=$?
say "$(tr -d '\r' <"$work/archive.out")"
if [ "$rc" -eq 0 ] && [ "$(md_outbox_count 'Contoso Mail' Archive)" -eq $((before + 3)) ]; then
  say "-> the system's mapi32.dll loaded the MapiDispatch stub, which sent the 3 messages to Contoso Mail (the upstream)."
else
  failed_any=1
  say "-> NOT delivered as expected. The stub's trace says:"
  tr -d '\r' <"$(md_cpath 'C:\archive-trace.txt')" | grep 'bind' | tail -n1 | sed -E 's/^\[[0-9]+\] //' | fold -s -w 100 | indent
fi
md_reg_set 'HKLM\Software\Clients\Mail' "" REG_SZ "Fabrikam Mail"

# ---------------------------------------------------------------------------------------------
step "Uninstall"
cmd "msiexec /x $(basename "$msi") /qn"
t0=$(date +%s)
mdw msiexec /x "$(md_winpath "$msi")" /qn >/dev/null 2>&1 || die "msiexec /x exited $?"
say "removed in $(( $(date +%s) - t0 ))s. What is left of MapiDispatch:"
left=0
[ "$(md_service_state)" = absent ] && say "  service MapiDispatch: none" || { say "  service MapiDispatch: $(md_service_state)"; left=1; }
for d in 'C:\Program Files\MapiDispatch' 'C:\Program Files (x86)\MapiDispatch' 'C:\ProgramData\MapiDispatch' 'C:\Apps\Billing\mapi32.dll' 'C:\Apps\Reports\mapi32.dll' 'C:\Apps\Ledger32\mapi32.dll'; do
  [ -e "$(md_cpath "$d")" ] && { say "  $d: STILL THERE"; left=1; }
done
for k in 'HKLM\SYSTEM\CurrentControlSet\Services\MapiDispatch' 'HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\MapiDispatch' \
         'HKLM\SOFTWARE\MapiDispatch' 'HKLM\Software\Clients\Mail\MapiDispatch'; do
  md_reg_key_exists "$k" && { say "  $k: STILL THERE"; left=1; }
done
[ "$left" -eq 0 ] && say "  files and keys: none"
say "  the mail clients and applications stay: default mail client '$(md_reg_get 'HKLM\Software\Clients\Mail' '')'"

step "Shut the Wine prefix down"
"$WINESERVER" -k >/dev/null 2>&1
"$WINESERVER" -w >/dev/null 2>&1
running="$(md_prefix_pids 'wine|\.exe')"
[ -z "$running" ] && say "wineserver stopped; no process of the prefix is running" || say "still running: $running"
"$root/cmake/wine-prefix.sh" cleanup "$WINEPREFIX" >/dev/null 2>&1
rm -rf "$work"
trap - EXIT
say "prefix deleted: $WINEPREFIX"

printf '\n%sSummary%s\n' "$B" "$N"
say "client calls: $([ "$failed_any" -eq 0 ] && echo "none failed" || echo "SOME FAILED")"
say "default switch: each running client's next call reached the new mail client (no restart)"
say "uninstall: $([ "$left" -eq 0 ] && echo "nothing of MapiDispatch left" || echo "SOMETHING WAS LEFT (see step 11)"); nothing running"
[ "$left" -eq 0 ] && [ "$failed_any" -eq 0 ]
