# Shell functions shared by the live demonstration (deploy/dev.sh demo, deploy/scripts/demo.sh) and
# the end-to-end test of the MSI (tests/deploy/msi_e2e.sh). Sourced, not run. Needs WINE, WINESERVER
# and WINEPREFIX (cmake/wine-env.sh's md_find_wine sets the first two).

# Runs a Windows program of the prefix; never lets it read our stdin.
mdw() { "$WINE" "$@" </dev/null; }

# A Unix path as Wine sees it (Z:\...), for msiexec and friends.
md_winpath() { local p; p="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; printf 'Z:%s' "${p//\//\\}"; }

# The Unix path of a path on the prefix's C: drive ("C:\Program Files\X" -> $WINEPREFIX/drive_c/Program Files/X).
md_cpath() { local p="${1#[Cc]:}"; p="${p//\\//}"; printf '%s/drive_c%s' "$WINEPREFIX" "$p"; }

# md_reg_set KEY NAME TYPE DATA   (NAME "" = the key's default value)
md_reg_set() {
  local key="$1" name="$2" type="$3" data="$4"
  if [ -z "$name" ]; then
    mdw reg add "$key" /ve /t "$type" /d "$data" /f >/dev/null 2>&1
  else
    mdw reg add "$key" /v "$name" /t "$type" /d "$data" /f >/dev/null 2>&1
  fi
}

md_reg_delete_value() { mdw reg delete "$1" /v "$2" /f >/dev/null 2>&1; }
md_reg_delete_key() { mdw reg delete "$1" /f >/dev/null 2>&1; }
md_reg_key_exists() { mdw reg query "$1" >/dev/null 2>&1; }

# md_reg_get KEY NAME: prints the value's data ("" for the default value); status 1 if absent.
# DWORDs come as 0x... (reg's notation).
md_reg_get() {
  local key="$1" name="$2" out line
  if [ -z "$name" ]; then
    out="$(mdw reg query "$key" /ve 2>/dev/null)" || return 1
    line="$(printf '%s\n' "$out" | tr -d '\r' | grep -E '^\s+\(Default\)\s+REG_' | head -n1)"
  else
    out="$(mdw reg query "$key" /v "$name" 2>/dev/null)" || return 1
    line="$(printf '%s\n' "$out" | tr -d '\r' | grep -E "^\s+${name}\s+REG_" | head -n1)"
  fi
  [ -n "$line" ] || return 1
  printf '%s\n' "$line" | sed -E 's/^\s+\S+(\s\S+)*\s+REG_[A-Z_]+\s*//' 
}

# The service's state word (RUNNING, STOPPED, ...), or "absent".
md_service_state() {
  local out
  out="$(mdw sc query "${1:-MapiDispatch}" 2>/dev/null | tr -d '\r')"
  if ! printf '%s\n' "$out" | grep -q 'STATE'; then echo absent; return; fi
  printf '%s\n' "$out" | sed -nE 's/.*STATE\s*:\s*[0-9]+\s+(\S+).*/\1/p' | head -n1
}

# md_wait_until SECONDS COMMAND...: runs COMMAND every half second until it succeeds; status 1 if it
# never did. (A bounded wait for a condition, not a timing measurement.)
md_wait_until() {
  local limit=$(( $1 * 2 )) i=0; shift
  while ! "$@" >/dev/null 2>&1; do
    i=$(( i + 1 )); [ "$i" -ge "$limit" ] && return 1
    sleep 0.5
  done
}

# The demo world: two mail clients ("Contoso Mail", "Fabrikam Mail") whose DLLs deliver into
# their Outbox folders, "Contoso Mail" the machine's default; application folders C:\Apps\NAME
# with the client program as NAME.exe.
#   md_setup_mail_clients DEMO_BUILD_DIR
# Each client installs its DLL for both bitnesses, as a dual-bitness mail client does: the x64 one
# in Program Files, the x86 one (DEMO_BUILD_DIR/x86) in Program Files (x86); DLLPath is
# %ProgramFiles%\<client>\<file>.dll (REG_EXPAND_SZ), which names each process's own.
md_setup_mail_clients() {
  local demo="$1" c
  for c in "Contoso Mail:contoso" "Fabrikam Mail:fabrikam"; do
    local name="${c%%:*}" file="${c##*:}"
    mkdir -p "$(md_cpath "C:\\Program Files\\$name")" "$(md_cpath "C:\\Program Files (x86)\\$name")"
    cp "$demo/$file.dll" "$(md_cpath "C:\\Program Files\\$name\\$file.dll")"
    cp "$demo/x86/$file.dll" "$(md_cpath "C:\\Program Files (x86)\\$name\\$file.dll")" || return 1
    md_reg_set "HKLM\\Software\\Clients\\Mail\\$name" "" REG_SZ "$name" || return 1
    md_reg_set "HKLM\\Software\\Clients\\Mail\\$name" DLLPath REG_EXPAND_SZ "%ProgramFiles%\\$name\\$file.dll" || return 1
  done
  md_reg_set 'HKLM\Software\Clients\Mail' "" REG_SZ "Contoso Mail"
}

# md_setup_app32 DEMO_BUILD_DIR NAME: C:\Apps\NAME\NAME.exe, the 32-bit client
md_setup_app32() {
  mkdir -p "$(md_cpath "C:\\Apps\\$2")"
  cp "$1/x86/mapi_client.exe" "$(md_cpath "C:\\Apps\\$2\\$2.exe")"
}

# md_setup_app DEMO_BUILD_DIR NAME: C:\Apps\NAME\NAME.exe
md_setup_app() {
  mkdir -p "$(md_cpath "C:\\Apps\\$2")"
  cp "$1/mapi_client.exe" "$(md_cpath "C:\\Apps\\$2\\$2.exe")"
}

# Number of messages in a mail client's Outbox (optionally only those whose subject starts with TAG).
# Both of its DLLs' Outboxes count (Program Files and Program Files (x86)).
md_outbox_count() {
  local dirs=() d
  for d in "C:\\Program Files\\$1\\Outbox" "C:\\Program Files (x86)\\$1\\Outbox"; do
    d="$(md_cpath "$d")"; [ -d "$d" ] && dirs+=("$d")
  done
  [ ${#dirs[@]} -gt 0 ] || { echo 0; return; }
  if [ -n "${2:-}" ]; then
    for d in "${dirs[@]}"; do grep -l -s "^Subject: $2 " "$d"/*.eml 2>/dev/null; done | wc -l
  else
    find "${dirs[@]}" -name '*.eml' | wc -l
  fi
}

# Processes of this prefix whose command line mentions PATTERN (pids, one per line).
md_prefix_pids() {
  local pattern="$1" pid
  for pid in $(pgrep -f -- "$pattern" 2>/dev/null); do
    if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "WINEPREFIX=$WINEPREFIX"; then echo "$pid"; fi
  done
}

# For `bash -c` checks and waits.
export -f mdw md_winpath md_cpath md_reg_set md_reg_delete_value md_reg_delete_key md_reg_key_exists md_reg_get \
  md_service_state md_wait_until md_outbox_count md_prefix_pids
