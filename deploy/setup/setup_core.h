// Copyright MapiDispatch authors.
//
//! \file
//! What the commands of mapidispatch-setup.exe (setup_actions.h) share: exit codes, the log,
//! string and file helpers, the registry, the command line.

#ifndef MAPIDISPATCH_DEPLOY_SETUP_SETUP_CORE_H_
#define MAPIDISPATCH_DEPLOY_SETUP_SETUP_CORE_H_

#include <windows.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mapidispatch::setup {

//! Exit codes: done; failed; bad command line or bad property value.
constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

//! The package's own records (app-local copies, mail client), under HKLM.
constexpr wchar_t kSetupKey[] = L"SOFTWARE\\MapiDispatch\\Setup";

// ---- output -----------------------------------------------------------------------------------

//! The command being run (main sets it), which every log line names.
extern std::wstring g_command;
//! The log file log_line() appends to, %SystemRoot%\Temp\MapiDispatch-setup.log (main sets it;
//! empty: none).
extern std::wstring g_log_path;

//! Prints "mapidispatch-setup COMMAND: TEXT" (to stderr if `error`) and appends it with a time
//! stamp to g_log_path: an exe custom action cannot write into the MSI log.
void log_line(const std::wstring& text, bool error = false);

//! Logs "error: TEXT" and returns `code`, for `return fail(...)`.
int fail(const std::wstring& text, int code = kFailed);

//! "error N (the system's message)".
std::wstring win_error_text(DWORD code);

// ---- small helpers ------------------------------------------------------------------------------

//! `s` without blanks at either end.
std::wstring trim(std::wstring s);
std::wstring lower(std::wstring s);
bool iequals(const std::wstring& a, const std::wstring& b);
//! The absolute form of `p` without trailing slashes ("C:\" keeps its own); `p` if that fails.
std::wstring full_path(const std::wstring& p);
bool is_dir(const std::wstring& p);
//! Decimal digits only, at most 10 of them, within a DWORD.
bool parse_dword(const std::wstring& s, DWORD* out);

// ---- registry -----------------------------------------------------------------------------------
// Paths are under HKEY_LOCAL_MACHINE, always in the 64-bit view.

struct Key {
  HKEY h = nullptr;
  Key() = default;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key() {
    if (h) ::RegCloseKey(h);
  }
};

LSTATUS open_key(const std::wstring& path, REGSAM access, Key* k);
//! Opens `path` for reading and writing, creating it if needed.
LSTATUS create_key(const std::wstring& path, Key* k);
//! A REG_SZ or REG_EXPAND_SZ value (not expanded); nullopt if absent or of another type.
std::optional<std::wstring> read_string(HKEY k, const wchar_t* name);
//! A REG_MULTI_SZ value's strings; none if absent or of another type.
std::vector<std::wstring> read_multi(HKEY k, const wchar_t* name);
LSTATUS write_string(HKEY k, const wchar_t* name, const std::wstring& v, DWORD type = REG_SZ);
LSTATUS write_dword(HKEY k, const wchar_t* name, DWORD v);
LSTATUS write_multi(HKEY k, const wchar_t* name, const std::vector<std::wstring>& items);
// Deletes a key with its values and subkeys (RegDeleteTree with a subkey name removes the key too;
// some implementations leave the emptied key, hence the second step).
LSTATUS delete_tree(const std::wstring& path);
bool key_exists(const std::wstring& path);
// Deletes `path` if it has neither values nor subkeys.
void delete_if_empty(const std::wstring& path);
//! Deletes the values `names` of the package's records (kSetupKey), where they exist.
void delete_setup_values(std::initializer_list<const wchar_t*> names);

//! A service's key, its Parameters key and its Event Log source (relative to HKLM).
std::wstring service_key(const std::wstring& service);
std::wstring parameters_key(const std::wstring& service);
std::wstring eventlog_key(const std::wstring& service);

// ---- command line -------------------------------------------------------------------------------

struct Args {
  std::map<std::wstring, std::wstring> named;  // --name value
  std::vector<std::wstring> positional;
};

//! Sorts `argv` into options ("--name value" or "--name=value", each a name in `known`, given at
//! most once) and positional arguments; false with `why` on anything else.
bool parse(const std::vector<std::wstring>& argv, const std::set<std::wstring>& known, Args* out, std::wstring* why);

//! The value of option `name`, or `fallback` when it was not given.
std::wstring opt(const Args& a, const wchar_t* name, const std::wstring& fallback = L"");

}  // namespace mapidispatch::setup

#endif  // MAPIDISPATCH_DEPLOY_SETUP_SETUP_CORE_H_
