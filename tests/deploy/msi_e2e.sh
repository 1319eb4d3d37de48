#!/usr/bin/env bash
# End-to-end test of the MSI (ctest: deploy.msi_e2e), in a fresh Wine prefix of its own:
#   build the MSI (target msi) and a higher version of it; static checks of the package;
#   bad property values are refused and leave nothing behind;
#   install: files, service running with its Parameters, Event Log source, app-local stub;
#   a client call dispatched through the stub from the service's table;
#   an in-place major upgrade while a client process keeps calling: no failed call, the
#   administrator's changed Parameters kept;
#   uninstall: no service, no files, no keys, nothing running;
#   registration as a mail client (MAILCLIENT=default): entry with its UpstreamClient, recorded
#   previous default, a call from a process without app-local stub (system mapi32.dll -> the
#   registered stub -> the upstream client), the default restored at uninstall.
#
#   msi_e2e.sh BUILD_DIR SOURCE_DIR
# Prints one line per check and ends with "deploy e2e: N passed, M failed"; exit 0 only if none
# failed.
set -u
build="${1:?usage: msi_e2e.sh BUILD_DIR SOURCE_DIR}"
src="${2:?usage: msi_e2e.sh BUILD_DIR SOURCE_DIR}"
build="$(cd "$build" && pwd)"; src="$(cd "$src" && pwd)"
. "$src/cmake/wine-env.sh"
md_find_wine || exit 1
. "$src/deploy/scripts/wine-deploy-lib.sh"

PASSED=0; FAILED=0; SKIPPED=0
ok() { PASSED=$((PASSED + 1)); echo "  ok    $*"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL  $*"; diagnose; }
# What a failed check leaves for whoever reads the log: the service's state, the prefix's processes,
# the ends of the service's and the setup helper's logs. A flaky check then explains itself.
diagnose() {
  [ -n "${WINEPREFIX:-}" ] && [ -d "$WINEPREFIX" ] || return 0
  echo "        --- at $(date +%T.%N | cut -c1-12): service MapiDispatch: $(md_service_state 2>/dev/null)"
  local pid
  for pid in $(pgrep -f -- '\.exe' 2>/dev/null); do
    if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "WINEPREFIX=$WINEPREFIX"; then
      echo "        process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-150)"
    fi
  done
  local f
  f="$(md_cpath 'C:\ProgramData\MapiDispatch\MapiDispatch.log' 2>/dev/null)"
  [ -f "$f" ] && { echo "        service log (last 8 lines):"; tail -n 8 "$f" | sed 's/^/          /'; }
  f="$(find "$WINEPREFIX/drive_c/windows" -maxdepth 2 -iname MapiDispatch-setup.log 2>/dev/null | head -n1)"
  [ -n "$f" ] && { echo "        setup helper log (last 5 lines):"; tail -n 5 "$f" | sed 's/^/          /'; }
  echo "        ---"
}
skip() { SKIPPED=$((SKIPPED + 1)); echo "  SKIP  $*"; }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
section() { printf '\n== %s\n' "$*"; }
finish() {
  echo
  echo "deploy e2e: $PASSED passed, $FAILED failed${SKIPPED:+, $SKIPPED skipped}"
  [ "$FAILED" -eq 0 ]
  exit $?
}

stage="$build/deploy/stage"
demo="$build/deploy/demo"
work="$(mktemp -d /tmp/mapidispatch-e2e.XXXXXX)"
export WINEPREFIX="$work/prefix"
cleanup() {
  # Client processes we started, then everything of the prefix.
  [ -n "${CLIENT_PID:-}" ] && kill "$CLIENT_PID" 2>/dev/null
  if [ -n "${MD_E2E_KEEP:-}" ]; then   # debugging: keep the prefix and logs, stop its processes
    "$WINESERVER" -k >/dev/null 2>&1; echo "kept $work"; return
  fi
  "$src/cmake/wine-prefix.sh" cleanup "$WINEPREFIX" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build --------------------------------------------------------------------------------------
section "build"
t0=$(date +%s)
if cmake --build "$build" --target msi >"$work/build.log" 2>&1; then
  ok "target msi builds ($(( $(date +%s) - t0 ))s)"
else
  bad "target msi builds"; tail -n 30 "$work/build.log"; finish
fi
msi1="$(ls "$build"/deploy/MapiDispatch-*-x64.msi 2>/dev/null | head -n1)"
version1="$(basename "$msi1" | sed -E 's/MapiDispatch-(.*)-x64\.msi/\1/')"
IFS=. read -r vmaj vmin vbld <<<"$version1"
version2="$vmaj.$vmin.$((vbld + 1))"
msi2="$work/MapiDispatch-$version2-x64.msi"
check "a higher version ($version2) builds from the same files" \
  bash -c "'$src/deploy/msi/build-msi.sh' '$stage' '$version2' '$msi2' >'$work/build2.log' 2>&1"

section "static checks"
objdump64=x86_64-w64-mingw32-objdump; objdump86=i686-w64-mingw32-objdump
check "x64 stub is pei-x86-64" bash -c "$objdump64 -f '$stage/mapi32-x64.dll' | grep -q 'file format pei-x86-64'"
check "x86 stub is pei-i386 (the 32-bit processes' stub)" \
  bash -c "$objdump86 -f '$stage/mapi32-x86.dll' | grep -q 'file format pei-i386'"
check "x86 stub exports MAPISendMail" bash -c "$objdump86 -p '$stage/mapi32-x86.dll' | grep -qE '\\] MAPISendMail$'"
if command -v msiinfo >/dev/null; then
  tables="$work/tables"; mkdir -p "$tables"
  for t in ServiceInstall ServiceControl Upgrade File Property LaunchCondition; do
    msiinfo export "$msi1" "$t" >"$tables/$t" 2>/dev/null
  done
  check "ServiceInstall: MapiDispatch, own process (16), automatic (2), LocalSystem" \
    grep -qP '^MapiDispatchService\tMapiDispatch\tMapiDispatch\t16\t2\t1\t\t\tLocalSystem\t' "$tables/ServiceInstall"
  check "ServiceControl: start at install, stop both, remove at uninstall (163), wait" \
    grep -qP '^MapiDispatchServiceControl\tMapiDispatch\t163\t\t1\t' "$tables/ServiceControl"
  check "Upgrade table: major upgrade of earlier versions, downgrades refused" \
    bash -c "grep -qP 'WIX_UPGRADE_DETECTED' '$tables/Upgrade' && grep -qP 'WIX_DOWNGRADE_DETECTED' '$tables/Upgrade'"
  check "File table: the exe, both stubs, the helper, ADMX and ADML" \
    bash -c "for f in mapidispatch.exe mapi32.dll mapidispatch-setup.exe MapiDispatch.admx MapiDispatch.adml; do grep -q \"\$f\" '$tables/File' || exit 1; done; [ \$(grep -c 'mapi32.dll' '$tables/File') -eq 2 ]"
  check "ProductVersion is $version1" grep -qP "^ProductVersion\t$version1" "$tables/Property"
  check "LaunchCondition: bad DEBOUNCEMS is refused with a message" grep -qF 'DEBOUNCEMS must be a whole number' "$tables/LaunchCondition"
else
  skip "msitools (msiinfo) not installed: table checks skipped"
fi

# ---- the prefix and the demo world ----------------------------------------------------------------
section "fresh Wine prefix"
t0=$(date +%s)
if "$src/cmake/wine-prefix.sh" setup "$WINEPREFIX" >"$work/prefix.log" 2>&1; then
  ok "prefix ready ($(( $(date +%s) - t0 ))s)"
else
  bad "prefix setup"; cat "$work/prefix.log"; finish
fi
md_setup_mail_clients "$demo" && md_setup_app "$demo" Billing && md_setup_app "$demo" Reports && md_setup_app32 "$demo" Billing32
check "mail clients Contoso Mail (default) and Fabrikam Mail registered" \
  test "$(md_reg_get 'HKLM\Software\Clients\Mail' '')" = "Contoso Mail"

prog="$(md_cpath 'C:\Program Files\MapiDispatch')"
prog86="$(md_cpath 'C:\Program Files (x86)\MapiDispatch')"
svckey='HKLM\SYSTEM\CurrentControlSet\Services\MapiDispatch'
params="$svckey\\Parameters"
evkey='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\MapiDispatch'
installed_products() { mdw reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s 2>/dev/null | tr -d '\r' | grep -c 'DisplayName.*REG_SZ.*MapiDispatch$'; }
nothing_installed() {
  [ "$(md_service_state)" = absent ] && [ ! -e "$prog" ] && [ ! -e "$prog86" ] && ! md_reg_key_exists "$svckey" \
    && ! md_reg_key_exists "$evkey" && ! md_reg_key_exists 'HKLM\SOFTWARE\MapiDispatch' && [ "$(installed_products)" = 0 ]
}
msiexec_i() { local msi="$1" log="$2"; shift 2; mdw msiexec /i "$(md_winpath "$msi")" /qn /l*v "$(md_winpath "$log")" "$@" >/dev/null 2>&1; }
msiexec_x() { local msi="$1" log="$2"; shift 2; mdw msiexec /x "$(md_winpath "$msi")" /qn /l*v "$(md_winpath "$log")" "$@" >/dev/null 2>&1; }
log_has() { iconv -f UTF-16LE -t UTF-8 "$1" 2>/dev/null | grep -qF -- "$2" || grep -qaF -- "$2" "$1"; }

# ---- bad input ----------------------------------------------------------------------------------
section "bad property values are refused"
msiexec_i "$msi1" "$work/bad1.log" DEBOUNCEMS=fast; rc=$?
check "DEBOUNCEMS=fast: msiexec fails (exit $rc)" test "$rc" -ne 0
# Wine's msiexec does not write a launch condition's message into the log under /qn (Windows does).
check "  ... stopped by the launch conditions" log_has "$work/bad1.log" "LaunchConditions. Return value 0"
check "  ... and nothing is installed" md_wait_until 20 nothing_installed
msiexec_i "$msi1" "$work/bad2.log" 'APPLOCAL_DIRS=C:\No\Such\Folder'; rc=$?
check "APPLOCAL_DIRS naming a missing folder: msiexec fails (exit $rc)" test "$rc" -ne 0
setup_log() { find "$WINEPREFIX/drive_c/windows" -maxdepth 2 -iname MapiDispatch-setup.log | head -n1; }
check "  ... the helper's log says which folder" \
  grep -qF "the folder 'C:\\No\\Such\\Folder' does not exist" "$(setup_log)"
check "  ... and the installation is rolled back: nothing installed" md_wait_until 20 nothing_installed

# ---- install ------------------------------------------------------------------------------------
section "install $version1 (APPLOCAL_DIRS=C:\\Apps\\Billing;C:\\Apps\\Billing32, DEBOUNCEMS=100)"
t0=$(date +%s)
msiexec_i "$msi1" "$work/install.log" 'APPLOCAL_DIRS=C:\Apps\Billing;C:\Apps\Billing32' DEBOUNCEMS=100; rc=$?
check "msiexec /i exits 0 (exit $rc, $(( $(date +%s) - t0 ))s)" test "$rc" -eq 0
for f in mapidispatch.exe mapi32.dll mapidispatch-setup.exe PolicyDefinitions/MapiDispatch.admx PolicyDefinitions/en-US/MapiDispatch.adml; do
  check "installed: Program Files\\MapiDispatch\\$f" test -f "$prog/$f"
done
check "installed: Program Files (x86)\\MapiDispatch\\mapi32.dll is the x86 stub" \
  bash -c "$objdump86 -f '$prog86/mapi32.dll' | grep -q pei-i386"
check "service MapiDispatch is RUNNING" md_wait_until 30 bash -c '[ "$(md_service_state)" = RUNNING ]'
# Wine's sc.exe has no qc: the SCM's configuration from its registry key.
check "service: automatic start (Start = 2)" test "$(md_reg_get "$svckey" Start)" = 0x2
check "service: LocalSystem" test "$(md_reg_get "$svckey" ObjectName)" = LocalSystem
check "service: own process (Type = 0x10)" test "$(md_reg_get "$svckey" Type)" = 0x10
check "service: image path runs 'service --service-name MapiDispatch'" \
  bash -c "md_reg_get '$svckey' ImagePath | grep -qE 'MapiDispatch\\\\mapidispatch.exe\"? service --service-name MapiDispatch\$'"
check "Parameters DebounceMs = 100 (from the property)" test "$(md_reg_get "$params" DebounceMs)" = 0x64
check "Parameters RevalidateMinutes = 15 (default)" test "$(md_reg_get "$params" RevalidateMinutes)" = 0xf
check "Parameters SectionSizeKB = 4096 (default)" test "$(md_reg_get "$params" SectionSizeKB)" = 0x1000
check "Parameters LogLevel = info (default)" test "$(md_reg_get "$params" LogLevel)" = info
check "Parameters AllowUncPaths = 0 (default)" test "$(md_reg_get "$params" AllowUncPaths)" = 0x0
check "Event Log source: EventMessageFile is the installed exe" \
  bash -c "[ \"\$(md_reg_get '$evkey' EventMessageFile)\" = 'C:\\Program Files\\MapiDispatch\\mapidispatch.exe' ]"
check "Event Log source: TypesSupported = 7" test "$(md_reg_get "$evkey" TypesSupported)" = 0x7
# Wine's SCM cannot report recovery actions back (QueryServiceConfig2): the helper's log says
# ChangeServiceConfig2 took them.
check "recovery: restart after 5 s, 5 s, 60 s, reset after a day (the helper's log)" \
  grep -qF 'recovery of MapiDispatch: restart after 5 s, 5 s, 60 s; count reset after 1 day' "$(setup_log)"
check "app-local: C:\\Apps\\Billing\\mapi32.dll is the x64 stub" cmp -s "$prog/mapi32.dll" "$(md_cpath 'C:\Apps\Billing\mapi32.dll')"
check "app-local: C:\\Apps\\Billing32 (a 32-bit program) got the x86 stub" cmp -s "$prog86/mapi32.dll" "$(md_cpath 'C:\Apps\Billing32\mapi32.dll')"
check "app-local: C:\\Apps\\Reports (not listed) has no stub" test ! -e "$(md_cpath 'C:\Apps\Reports\mapi32.dll')"
status_ok() { mdw "$prog/mapidispatch.exe" status >"$work/status.txt" 2>&1; }
if md_wait_until 30 status_ok; then
  ok "mapidispatch status: the table is valid and kept up to date (exit 0)"
else
  bad "mapidispatch status exits 0 (last output below)"; sed 's/^/        /' "$work/status.txt"
fi

# ---- a call through the stub ----------------------------------------------------------------------
section "a client call dispatched through the stub"
trace="$(md_cpath 'C:\trace.txt')"
before="$(md_outbox_count 'Contoso Mail' Billing)"
MAPIDISPATCH_TRACE='C:\trace.txt' mdw 'C:\Apps\Billing\Billing.exe' --tag Billing --count 3 --interval-ms 0 >"$work/call.txt" 2>&1; rc=$?
check "Billing.exe: 3 calls, none failed (exit $rc: $(tr -d '\r' <"$work/call.txt"))" test "$rc" -eq 0
check "  ... it loaded the app-local stub" grep -qiF 'loaded C:\Apps\Billing\mapi32.dll' "$work/call.txt"
check "  ... Contoso Mail (the default) delivered 3 messages" test "$(( $(md_outbox_count 'Contoso Mail' Billing) - before ))" -eq 3
check "  ... the stub bound through the service's table" grep -q 'bind simple: .*contoso.dll via table' "$trace"
# A 32-bit application: the x86 stub the package installed beside it reads the table's answers for
# 32-bit processes, where %ProgramFiles% is Program Files (x86): Contoso Mail's 32-bit DLL.
trace32="$(md_cpath 'C:\trace32.txt')"
MAPIDISPATCH_TRACE='C:\trace32.txt' mdw 'C:\Apps\Billing32\Billing32.exe' --tag Billing32 --count 3 --interval-ms 0 >"$work/call32.txt" 2>&1; rc=$?
check "Billing32.exe (32-bit): 3 calls, none failed (exit $rc: $(tr -d '\r' <"$work/call32.txt"))" test "$rc" -eq 0
check "  ... it loaded the app-local x86 stub" grep -qiF 'loaded C:\Apps\Billing32\mapi32.dll' "$work/call32.txt"
outbox32="$(md_cpath 'C:\Program Files (x86)\Contoso Mail\Outbox')"
check "  ... Contoso Mail's 32-bit DLL (Program Files (x86)) delivered 3 messages" \
  test "$(grep -l -s "^Subject: Billing32 " "$outbox32"/*.eml 2>/dev/null | wc -l)" -eq 3
check "  ... the x86 stub read the table's WOW64 answers" \
  bash -c "grep -q 'view=wow64' '$trace32' && grep -qi 'bind simple: .*Program Files (x86).*contoso.dll via table' '$trace32'"

# ---- upgrade while a client calls -----------------------------------------------------------------
section "in-place upgrade to $version2 while a client keeps calling"
md_reg_set "$params" DebounceMs REG_DWORD 250
md_reg_set "$params" LogLevel REG_SZ debug
md_reg_set "$params" SectionSizeKB REG_SZ oops    # a wrong type, kept as the administrator left it
calls="$(md_cpath 'C:\calls.txt')"; stop="$(md_cpath 'C:\stop-client')"
rm -f "$calls" "$stop"
"$WINE" 'C:\Apps\Billing\Billing.exe' --tag Upgrade --until-file 'C:\stop-client' --interval-ms 20 --log 'C:\calls.txt' \
  </dev/null >"$work/client.txt" 2>&1 &
CLIENT_PID=$!
lines() { [ -f "$calls" ] && wc -l <"$calls" || echo 0; }
md_wait_until 60 bash -c "[ \$(wc -l < '$calls' 2>/dev/null || echo 0) -ge 10 ]"
before_upgrade=$(lines)
check "the client is calling before the upgrade ($before_upgrade calls)" test "$before_upgrade" -ge 10
service_pid() { mdw "$prog/mapidispatch.exe" status 2>/dev/null | tr -d '\r' | sed -nE 's/^Service: .*pid ([0-9]+).*/\1/p'; }
pid_before="$(service_pid)"
t0=$(date +%s)
msiexec_i "$msi2" "$work/upgrade.log"; rc=$?
check "msiexec /i $version2 exits 0 (exit $rc, $(( $(date +%s) - t0 ))s)" test "$rc" -eq 0
after_install=$(lines)
md_wait_until 60 bash -c "[ \$(wc -l < '$calls') -ge $((after_install + 10)) ]"
touch "$stop"
wait "$CLIENT_PID"; rc=$?; CLIENT_PID=""
total=$(lines)
failed_calls=$(tr -d '\r' <"$calls" | awk '$2 != "0"' | wc -l)
check "the client kept calling during and after the upgrade ($before_upgrade before, $((after_install - before_upgrade)) during, $((total - after_install)) after)" \
  test "$((total - after_install))" -ge 10
check "no failed call: $failed_calls of $total failed (client exit $rc: $(tr -d '\r' <"$work/client.txt"))" \
  test "$failed_calls" -eq 0 -a "$rc" -eq 0
check "exactly one MapiDispatch product installed" test "$(installed_products)" = 1
check "the installed version is $version2" \
  bash -c "mdw reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s 2>/dev/null | tr -d '\r' | grep -q 'DisplayVersion.*$version2'"
check "service RUNNING after the upgrade" md_wait_until 30 bash -c '[ "$(md_service_state)" = RUNNING ]'
pid_after="$(service_pid)"
check "  ... a new service process (pid $pid_before -> $pid_after)" test -n "$pid_before" -a -n "$pid_after" -a "$pid_before" != "$pid_after"
check "administrator's DebounceMs = 250 kept" test "$(md_reg_get "$params" DebounceMs)" = 0xfa
check "administrator's LogLevel = debug kept" test "$(md_reg_get "$params" LogLevel)" = debug
check "administrator's SectionSizeKB (REG_SZ 'oops') kept as it was" test "$(md_reg_get "$params" SectionSizeKB)" = oops
check "untouched RevalidateMinutes still 15" test "$(md_reg_get "$params" RevalidateMinutes)" = 0xf
check "app-local stub still deployed in C:\\Apps\\Billing" cmp -s "$prog/mapi32.dll" "$(md_cpath 'C:\Apps\Billing\mapi32.dll')"
if md_wait_until 30 status_ok; then ok "mapidispatch status exit 0 after the upgrade"; else
  bad "mapidispatch status exit 0 after the upgrade"; sed 's/^/        /' "$work/status.txt"; fi

# ---- uninstall ----------------------------------------------------------------------------------
section "uninstall"
t0=$(date +%s)
msiexec_x "$msi2" "$work/uninstall.log"; rc=$?
check "msiexec /x exits 0 (exit $rc, $(( $(date +%s) - t0 ))s)" test "$rc" -eq 0
# msiexec returns once the SCM has said STOPPED; the service's process may still be exiting, and
# the SCM deletes a service (and its key) only once it has: wait for those end states rather than
# sample them once (a loaded machine showed that window).
check "no service MapiDispatch" md_wait_until 20 bash -c '[ "$(md_service_state)" = absent ]' 
check "no Program Files\\MapiDispatch" test ! -e "$prog"
check "no Program Files (x86)\\MapiDispatch" test ! -e "$prog86"
check "no app-local stub in C:\\Apps\\Billing32" test ! -e "$(md_cpath 'C:\Apps\Billing32\mapi32.dll')"
check "no app-local stub in C:\\Apps\\Billing (the application itself stays)" \
  bash -c "[ ! -e '$(md_cpath 'C:\Apps\Billing\mapi32.dll')' ] && [ -e '$(md_cpath 'C:\Apps\Billing\Billing.exe')' ] && ! ls '$(md_cpath 'C:\Apps\Billing')' | grep -q mapidispatch-old"
check "no ProgramData\\MapiDispatch (service log)" test ! -e "$(md_cpath 'C:\ProgramData\MapiDispatch')"
check "no key $svckey" md_wait_until 20 bash -c "! md_reg_key_exists '$svckey'"
check "no Event Log source key" bash -c "! md_reg_key_exists '$evkey'"
check "no key HKLM\\SOFTWARE\\MapiDispatch" bash -c "! md_reg_key_exists 'HKLM\\SOFTWARE\\MapiDispatch'"
check "no Clients\\Mail\\MapiDispatch, default mail client still Contoso Mail" \
  bash -c "! md_reg_key_exists 'HKLM\\Software\\Clients\\Mail\\MapiDispatch' && [ \"\$(md_reg_get 'HKLM\\Software\\Clients\\Mail' '')\" = 'Contoso Mail' ]"
check "no product registered" test "$(installed_products)" = 0
# In this shell, not `bash -c`: a child shell's own command line would name the program looked for.
no_service_process() { [ -z "$(md_prefix_pids 'mapidispatch.exe')" ]; }
check "no mapidispatch process left in the prefix" md_wait_until 20 no_service_process

# ---- registration as a mail client ----------------------------------------------------------------
section "registration as a mail client (MAILCLIENT=default)"
msiexec_i "$msi1" "$work/mail-bad.log" MAILCLIENT=default 'UPSTREAMCLIENT=Bad\Name'; rc=$?
check "UPSTREAMCLIENT with a backslash: msiexec fails (exit $rc), nothing installed" \
  bash -c "[ $rc -ne 0 ] && [ \"\$(md_reg_get 'HKLM\Software\Clients\Mail' '')\" = 'Contoso Mail' ]"
check "  ... and nothing is installed" md_wait_until 20 nothing_installed
msiexec_i "$msi1" "$work/mail.log" MAILCLIENT=default; rc=$?
check "msiexec /i MAILCLIENT=default exits 0 (exit $rc)" test "$rc" -eq 0
mk='HKLM\Software\Clients\Mail\MapiDispatch'
check "Clients\\Mail\\MapiDispatch DLLPath = %ProgramFiles%\\MapiDispatch\\mapi32.dll" \
  test "$(md_reg_get "$mk" DLLPath)" = '%ProgramFiles%\MapiDispatch\mapi32.dll'
check "  ... DLLPathEx the same" test "$(md_reg_get "$mk" DLLPathEx)" = '%ProgramFiles%\MapiDispatch\mapi32.dll'
check "  ... UpstreamClient = Contoso Mail (the default before)" test "$(md_reg_get "$mk" UpstreamClient)" = "Contoso Mail"
check "the machine's default mail client is MapiDispatch" test "$(md_reg_get 'HKLM\Software\Clients\Mail' '')" = MapiDispatch
check "the previous default is recorded: PreviousDefaultClient = Contoso Mail" \
  test "$(md_reg_get 'HKLM\SOFTWARE\MapiDispatch\Setup' PreviousDefaultClient)" = "Contoso Mail"
md_wait_until 30 status_ok
# Reports.exe has no app-local stub: it loads the system's mapi32.dll (Wine's), which loads the
# default client's DLLPath, the MapiDispatch stub, which dispatches to the upstream client.
rm -f "$trace"
before="$(md_outbox_count 'Contoso Mail' Reports)"
MAPIDISPATCH_TRACE='C:\trace.txt' mdw 'C:\Apps\Reports\Reports.exe' --tag Reports --count 2 --interval-ms 0 >"$work/call2.txt" 2>&1; rc=$?
check "Reports.exe through the registration: 2 calls, none failed (exit $rc: $(tr -d '\r' <"$work/call2.txt"))" test "$rc" -eq 0
check "  ... it loaded the system's mapi32.dll, which loaded the MapiDispatch stub" \
  bash -c "grep -qiF 'loaded C:\\windows\\system32\\mapi32.dll' '$work/call2.txt' && grep -q 'stub: mode=table' '$trace'"
check "  ... Contoso Mail (the upstream client) delivered 2 messages" test "$(( $(md_outbox_count 'Contoso Mail' Reports) - before ))" -eq 2
msiexec_x "$msi1" "$work/mail-x.log"; rc=$?
check "msiexec /x exits 0 (exit $rc)" test "$rc" -eq 0
check "the previous default mail client is restored (Contoso Mail)" \
  test "$(md_reg_get 'HKLM\Software\Clients\Mail' '')" = "Contoso Mail"
check "no Clients\\Mail\\MapiDispatch" bash -c "! md_reg_key_exists '$mk'"
check "nothing else left (service, files, keys, product)" md_wait_until 20 nothing_installed

section "registration as a mail client (MAILCLIENT=register, UPSTREAMCLIENT named)"
msiexec_i "$msi1" "$work/register.log" MAILCLIENT=register 'UPSTREAMCLIENT=Fabrikam Mail'; rc=$?
check "msiexec /i MAILCLIENT=register UPSTREAMCLIENT='Fabrikam Mail' exits 0 (exit $rc)" test "$rc" -eq 0
check "Clients\\Mail\\MapiDispatch registered, UpstreamClient = Fabrikam Mail (the administrator's)" \
  bash -c "md_reg_key_exists '$mk' && [ \"\$(md_reg_get '$mk' UpstreamClient)\" = 'Fabrikam Mail' ]"
check "  ... the default mail client is left alone (Contoso Mail)" \
  test "$(md_reg_get 'HKLM\Software\Clients\Mail' '')" = "Contoso Mail"
check "  ... no previous default recorded (register does not change it)" \
  bash -c "[ -z \"\$(md_reg_get 'HKLM\SOFTWARE\MapiDispatch\Setup' PreviousDefaultClient 2>/dev/null)\" ]"
# The administrator then makes it the default (Default Programs, Group Policy Preferences...).
md_reg_set 'HKLM\Software\Clients\Mail' '' REG_SZ MapiDispatch
default_published() { mdw "$prog/mapidispatch.exe" status 2>/dev/null | tr -d '\r' | grep -q 'Default client: *MapiDispatch'; }
check "the service publishes the new default (MapiDispatch)" md_wait_until 30 default_published
before="$(md_outbox_count 'Fabrikam Mail' Reports)"
MAPIDISPATCH_TRACE='C:\trace.txt' mdw 'C:\Apps\Reports\Reports.exe' --tag Reports --count 2 --interval-ms 0 >"$work/call3.txt" 2>&1; rc=$?
check "Reports.exe through the registration: 2 calls, none failed (exit $rc: $(tr -d '\r' <"$work/call3.txt"))" test "$rc" -eq 0
check "  ... Fabrikam Mail (the named upstream client) delivered 2 messages" \
  md_wait_until 10 bash -c "[ \$(( \$(md_outbox_count 'Fabrikam Mail' Reports) - $before )) -eq 2 ]"
# An in-place upgrade without the properties keeps the registration as it was.
msiexec_i "$msi2" "$work/register-upgrade.log"; rc=$?
check "upgrade to $version2 without properties exits 0 (exit $rc)" test "$rc" -eq 0
check "  ... the registration is kept: UpstreamClient = Fabrikam Mail, the default still MapiDispatch" \
  bash -c "[ \"\$(md_reg_get '$mk' UpstreamClient)\" = 'Fabrikam Mail' ] && [ \"\$(md_reg_get 'HKLM\Software\Clients\Mail' '')\" = MapiDispatch ]"
md_wait_until 30 default_published
before="$(md_outbox_count 'Fabrikam Mail' Reports)"
mdw 'C:\Apps\Reports\Reports.exe' --tag Reports --count 1 --interval-ms 0 >"$work/call4.txt" 2>&1; rc=$?
check "  ... Reports.exe still reaches Fabrikam Mail through it (exit $rc)" \
  bash -c "[ $rc -eq 0 ] && [ \$(( \$(md_outbox_count 'Fabrikam Mail' Reports) - $before )) -eq 1 ]"
msiexec_x "$msi2" "$work/register-x.log"; rc=$?
check "msiexec /x exits 0 (exit $rc)" test "$rc" -eq 0
default_now="$(md_reg_get 'HKLM\Software\Clients\Mail' '' 2>/dev/null)"
# reg prints a default value that does not exist as "(value not set)".
check "no Clients\\Mail\\MapiDispatch; the default that named it is unset, nothing was recorded to restore (now: '$default_now')" \
  bash -c "! md_reg_key_exists '$mk' && { [ -z '$default_now' ] || [ '$default_now' = '(value not set)' ]; }"
check "nothing else left (service, files, keys, product)" md_wait_until 20 nothing_installed

finish
