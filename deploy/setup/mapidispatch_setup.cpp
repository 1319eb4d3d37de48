// Copyright MapiDispatch authors.
//
// mapidispatch-setup.exe: the MSI's custom-action helper (deploy/msi/MapiDispatch.wxs), also
// usable by hand. It does what the Windows Installer tables cannot express:
//
//   params          write the service's Parameters: the value given as an MSI property, else the
//                   value the previous installation had (read by AppSearch before it was removed),
//                   else the default. Bad values fail the installation with a clear message.
//   service-config  the service's recovery actions (restart after 5 s, 5 s, 60 s; reset after a day)
//   applocal-install / applocal-remove
//                   copy the stub of the right bitness beside the applications of the folders an
//                   administrator lists (APPLOCAL_DIRS), and remove exactly those copies again
//   mailclient-register / mailclient-unregister
//                   the Software\Clients\Mail\MapiDispatch entry, optionally made the machine's
//                   default mail client (the previous default is recorded, and restored at removal)
//   purge           what is left at a real uninstall: the setup records, the Parameters key, the
//                   Event Log source, the service's log folder
//
// Every command appends what it did to %SystemRoot%\Temp\MapiDispatch-setup.log (an exe custom
// action cannot write into the MSI log) and prints it. Exit codes: 0 done, 1 failed, 2 bad
// command line or bad property value.

#include <windows.h>
#include <shellapi.h>
#include <shlobj.h>

#include <algorithm>
#include <cstdio>
#include <cwctype>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr wchar_t kSetupKey[] = L"SOFTWARE\\MapiDispatch\\Setup";
constexpr wchar_t kSetupParentKey[] = L"SOFTWARE\\MapiDispatch";
constexpr wchar_t kMailKey[] = L"SOFTWARE\\Clients\\Mail";
constexpr wchar_t kClientName[] = L"MapiDispatch";
constexpr wchar_t kStubName[] = L"mapi32.dll";
constexpr wchar_t kAsideSuffix[] = L".mapidispatch-old";

// ---- output -----------------------------------------------------------------------------------

std::wstring g_log_path;
std::wstring g_command;

std::string utf8(const std::wstring& w) {
  if (w.empty()) return {};
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0, nullptr, nullptr);
  std::string s(static_cast<size_t>(n), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), s.data(), n, nullptr, nullptr);
  return s;
}

void log_line(const std::wstring& text, bool error = false) {
  const std::string line = "mapidispatch-setup " + utf8(g_command) + ": " + utf8(text) + "\n";
  std::fputs(line.c_str(), error ? stderr : stdout);
  if (g_log_path.empty()) return;
  HANDLE f = ::CreateFileW(g_log_path.c_str(), FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                           OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (f == INVALID_HANDLE_VALUE) return;
  SYSTEMTIME t;
  ::GetLocalTime(&t);
  char stamp[40];
  std::snprintf(stamp, sizeof stamp, "%04u-%02u-%02u %02u:%02u:%02u ", t.wYear, t.wMonth, t.wDay, t.wHour, t.wMinute,
                t.wSecond);
  const std::string all = stamp + line;
  DWORD written = 0;
  ::WriteFile(f, all.data(), static_cast<DWORD>(all.size()), &written, nullptr);
  ::CloseHandle(f);
}

int fail(const std::wstring& text, int code = kFailed) {
  log_line(L"error: " + text, true);
  return code;
}

std::wstring win_error_text(DWORD code) {
  wchar_t* buf = nullptr;
  const DWORD n = ::FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                       FORMAT_MESSAGE_IGNORE_INSERTS,
                                   nullptr, code, 0, reinterpret_cast<wchar_t*>(&buf), 0, nullptr);
  std::wstring text = n ? std::wstring(buf, n) : L"";
  if (buf) ::LocalFree(buf);
  while (!text.empty() && (text.back() == L'\n' || text.back() == L'\r' || text.back() == L' ' || text.back() == L'.'))
    text.pop_back();
  return L"error " + std::to_wstring(code) + (text.empty() ? L"" : L" (" + text + L")");
}

// ---- small helpers ------------------------------------------------------------------------------

std::wstring trim(std::wstring s) {
  while (!s.empty() && std::iswspace(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::iswspace(s[i])) ++i;
  return s.substr(i);
}

// A ';'-separated list as the MSI passes it ("[APPLOCAL_DIRS];"): blanks and ';' at the ends removed.
std::wstring clean_list(std::wstring s) {
  for (;;) {
    s = trim(s);
    if (!s.empty() && s.back() == L';') {
      s.pop_back();
    } else if (!s.empty() && s.front() == L';') {
      s.erase(0, 1);
    } else {
      return s;
    }
  }
}

std::wstring lower(std::wstring s) {
  for (auto& c : s) c = static_cast<wchar_t>(std::towlower(c));
  return s;
}

bool iequals(const std::wstring& a, const std::wstring& b) { return lower(a) == lower(b); }

std::vector<std::wstring> split(const std::wstring& s, wchar_t sep) {
  std::vector<std::wstring> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::wstring::npos ? std::wstring::npos : at - start));
    if (at == std::wstring::npos) return out;
    start = at + 1;
  }
}

std::wstring strip_slash(std::wstring p) {
  while (p.size() > 3 && (p.back() == L'\\' || p.back() == L'/')) p.pop_back();
  return p;
}

std::wstring full_path(const std::wstring& p) {
  wchar_t buf[MAX_PATH * 4];
  const DWORD n = ::GetFullPathNameW(p.c_str(), static_cast<DWORD>(std::size(buf)), buf, nullptr);
  if (n == 0 || n >= std::size(buf)) return p;
  return strip_slash(std::wstring(buf, n));
}

bool is_dir(const std::wstring& p) {
  const DWORD a = ::GetFileAttributesW(p.c_str());
  return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

bool is_file(const std::wstring& p) {
  const DWORD a = ::GetFileAttributesW(p.c_str());
  return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

// The PE machine of an image: 0x8664 x64, 0x14c x86, 0xaa64 arm64; 0 if not a PE image.
WORD pe_machine(const std::wstring& path) {
  HANDLE f = ::CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           nullptr, OPEN_EXISTING, 0, nullptr);
  if (f == INVALID_HANDLE_VALUE) return 0;
  unsigned char buf[4096];
  DWORD got = 0;
  const BOOL ok = ::ReadFile(f, buf, sizeof buf, &got, nullptr);
  ::CloseHandle(f);
  if (!ok || got < 64 || buf[0] != 'M' || buf[1] != 'Z') return 0;
  const DWORD pe = buf[60] | (buf[61] << 8) | (buf[62] << 16) | (static_cast<DWORD>(buf[63]) << 24);
  if (pe > got - 6 || buf[pe] != 'P' || buf[pe + 1] != 'E' || buf[pe + 2] != 0 || buf[pe + 3] != 0) return 0;
  return static_cast<WORD>(buf[pe + 4] | (buf[pe + 5] << 8));
}

std::wstring machine_name(WORD m) {
  switch (m) {
    case IMAGE_FILE_MACHINE_AMD64: return L"x64";
    case IMAGE_FILE_MACHINE_I386: return L"x86";
    case 0xAA64: return L"arm64";
  }
  wchar_t buf[16];
  std::swprintf(buf, std::size(buf), L"0x%04x", m);
  return buf;
}

bool same_content(const std::wstring& a, const std::wstring& b) {
  auto read_all = [](const std::wstring& p, std::string* out) {
    HANDLE f = ::CreateFileW(p.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                             OPEN_EXISTING, 0, nullptr);
    if (f == INVALID_HANDLE_VALUE) return false;
    LARGE_INTEGER size{};
    if (!::GetFileSizeEx(f, &size) || size.QuadPart > (64 << 20)) {
      ::CloseHandle(f);
      return false;
    }
    out->resize(static_cast<size_t>(size.QuadPart));
    DWORD got = 0;
    const BOOL ok = out->empty() || ::ReadFile(f, out->data(), static_cast<DWORD>(out->size()), &got, nullptr);
    ::CloseHandle(f);
    return ok && got == out->size();
  };
  std::string x, y;
  return read_all(a, &x) && read_all(b, &y) && x == y;
}

// ---- registry -----------------------------------------------------------------------------------

struct Key {
  HKEY h = nullptr;
  Key() = default;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key() {
    if (h) ::RegCloseKey(h);
  }
};

LSTATUS open_key(const std::wstring& path, REGSAM access, Key* k) {
  return ::RegOpenKeyExW(HKEY_LOCAL_MACHINE, path.c_str(), 0, access | KEY_WOW64_64KEY, &k->h);
}

LSTATUS create_key(const std::wstring& path, Key* k) {
  return ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, path.c_str(), 0, nullptr, REG_OPTION_NON_VOLATILE,
                           KEY_READ | KEY_WRITE | KEY_WOW64_64KEY, nullptr, &k->h, nullptr);
}

std::optional<std::wstring> read_string(HKEY k, const wchar_t* name) {
  DWORD type = 0, size = 0;
  if (::RegQueryValueExW(k, name, nullptr, &type, nullptr, &size) != ERROR_SUCCESS) return std::nullopt;
  if (type != REG_SZ && type != REG_EXPAND_SZ) return std::nullopt;
  std::wstring s(size / sizeof(wchar_t) + 1, L'\0');
  size = static_cast<DWORD>(s.size() * sizeof(wchar_t));
  if (::RegQueryValueExW(k, name, nullptr, &type, reinterpret_cast<BYTE*>(s.data()), &size) != ERROR_SUCCESS)
    return std::nullopt;
  s.resize(size / sizeof(wchar_t));
  while (!s.empty() && s.back() == L'\0') s.pop_back();
  return s;
}

std::vector<std::wstring> read_multi(HKEY k, const wchar_t* name) {
  DWORD type = 0, size = 0;
  if (::RegQueryValueExW(k, name, nullptr, &type, nullptr, &size) != ERROR_SUCCESS || type != REG_MULTI_SZ) return {};
  std::wstring s(size / sizeof(wchar_t) + 2, L'\0');
  size = static_cast<DWORD>(s.size() * sizeof(wchar_t));
  if (::RegQueryValueExW(k, name, nullptr, &type, reinterpret_cast<BYTE*>(s.data()), &size) != ERROR_SUCCESS) return {};
  std::vector<std::wstring> out;
  for (size_t i = 0; i < s.size() && s[i] != L'\0';) {
    const size_t end = s.find(L'\0', i);
    out.push_back(s.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

LSTATUS write_string(HKEY k, const wchar_t* name, const std::wstring& v, DWORD type = REG_SZ) {
  return ::RegSetValueExW(k, name, 0, type, reinterpret_cast<const BYTE*>(v.c_str()),
                          static_cast<DWORD>((v.size() + 1) * sizeof(wchar_t)));
}

LSTATUS write_dword(HKEY k, const wchar_t* name, DWORD v) {
  return ::RegSetValueExW(k, name, 0, REG_DWORD, reinterpret_cast<const BYTE*>(&v), sizeof v);
}

LSTATUS write_multi(HKEY k, const wchar_t* name, const std::vector<std::wstring>& items) {
  std::wstring data;
  for (const auto& i : items) data += i + L'\0';
  data += L'\0';
  return ::RegSetValueExW(k, name, 0, REG_MULTI_SZ, reinterpret_cast<const BYTE*>(data.c_str()),
                          static_cast<DWORD>(data.size() * sizeof(wchar_t)));
}

// Deletes a key with its values and subkeys (RegDeleteTree with a subkey name removes the key too;
// some implementations leave the emptied key, hence the second step).
LSTATUS delete_tree(const std::wstring& path) {
  const LSTATUS rc = ::RegDeleteTreeW(HKEY_LOCAL_MACHINE, path.c_str());
  if (rc != ERROR_SUCCESS) return rc;
  const LSTATUS rc2 = ::RegDeleteKeyExW(HKEY_LOCAL_MACHINE, path.c_str(), KEY_WOW64_64KEY, 0);
  return rc2 == ERROR_FILE_NOT_FOUND ? ERROR_SUCCESS : rc2;
}

bool key_exists(const std::wstring& path) {
  Key k;
  return open_key(path, KEY_READ, &k) == ERROR_SUCCESS;
}

// Deletes `path` if it has neither values nor subkeys.
void delete_if_empty(const std::wstring& path) {
  Key k;
  if (open_key(path, KEY_READ, &k) != ERROR_SUCCESS) return;
  DWORD subkeys = 0, values = 0;
  if (::RegQueryInfoKeyW(k.h, nullptr, nullptr, nullptr, &subkeys, nullptr, nullptr, &values, nullptr, nullptr,
                         nullptr, nullptr) != ERROR_SUCCESS)
    return;
  if (subkeys == 0 && values == 0) ::RegDeleteKeyExW(HKEY_LOCAL_MACHINE, path.c_str(), KEY_WOW64_64KEY, 0);
}

std::wstring service_key(const std::wstring& service) { return L"SYSTEM\\CurrentControlSet\\Services\\" + service; }
std::wstring parameters_key(const std::wstring& service) { return service_key(service) + L"\\Parameters"; }
std::wstring eventlog_key(const std::wstring& service) {
  return L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" + service;
}

// ---- command line -------------------------------------------------------------------------------

struct Args {
  std::map<std::wstring, std::wstring> named;  // --name value
  std::vector<std::wstring> positional;
};

bool parse(const std::vector<std::wstring>& argv, const std::set<std::wstring>& known, Args* out, std::wstring* why) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::wstring& a = argv[i];
    if (a.size() > 2 && a.compare(0, 2, L"--") == 0) {
      std::wstring name = a, value;
      const size_t eq = a.find(L'=');
      if (eq != std::wstring::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
      } else {
        if (i + 1 >= argv.size()) {
          *why = L"option " + a + L" needs a value";
          return false;
        }
        value = argv[++i];
      }
      if (!known.count(name)) {
        *why = L"unknown option " + name;
        return false;
      }
      if (out->named.count(name)) {
        *why = L"option " + name + L" given more than once";
        return false;
      }
      out->named[name] = value;
    } else {
      out->positional.push_back(a);
    }
  }
  return true;
}

std::wstring opt(const Args& a, const wchar_t* name, const std::wstring& fallback = L"") {
  const auto it = a.named.find(name);
  return it == a.named.end() ? fallback : it->second;
}

// ---- params -------------------------------------------------------------------------------------

enum class Kind { kDword, kString };
struct ParamSpec {
  const wchar_t* name;
  Kind kind;
  const wchar_t* default_value;  // nullptr: written only when given or saved
  DWORD min, max;                // kDword
  const wchar_t* property;       // the MSI property an administrator sets
};

// Keep in step with README.md (Parameters, Group Policy).
const ParamSpec kParams[] = {
    {L"DebounceMs", Kind::kDword, L"200", 0, 60000, L"DEBOUNCEMS"},
    {L"RevalidateMinutes", Kind::kDword, L"15", 1, 1440, L"REVALIDATEMINUTES"},
    {L"SectionSizeKB", Kind::kDword, L"4096", 64, 262144, L"SECTIONSIZEKB"},
    {L"LogLevel", Kind::kString, L"info", 0, 0, L"LOGLEVEL"},
    {L"AllowUncPaths", Kind::kDword, L"0", 0, 1, L"ALLOWUNCPATHS"},
    // Not set through properties; kept across upgrades when an administrator (or a test) set them.
    {L"SectionName", Kind::kString, nullptr, 0, 0, nullptr},
    {L"DebugCrashMidPublish", Kind::kDword, nullptr, 0, 100, nullptr},
};

const wchar_t* const kLogLevels[] = {L"trace", L"debug", L"info", L"warn", L"warning", L"error", L"critical", L"off"};

bool parse_dword(const std::wstring& s, DWORD* out) {
  if (s.empty() || s.size() > 10) return false;
  unsigned long long v = 0;
  for (const wchar_t c : s) {
    if (c < L'0' || c > L'9') return false;
    v = v * 10 + static_cast<unsigned>(c - L'0');
  }
  if (v > 0xFFFFFFFFull) return false;
  *out = static_cast<DWORD>(v);
  return true;
}

// Validates a value an administrator gave as an MSI property.
bool validate_given(const ParamSpec& p, const std::wstring& v, std::wstring* why) {
  if (p.kind == Kind::kDword) {
    DWORD d = 0;
    if (!parse_dword(v, &d) || d < p.min || d > p.max) {
      *why = std::wstring(p.property) + L"='" + v + L"' is not valid: " + p.name + L" is a whole number from " +
             std::to_wstring(p.min) + L" to " + std::to_wstring(p.max);
      return false;
    }
    return true;
  }
  if (std::wstring(p.name) == L"LogLevel") {
    for (const auto* l : kLogLevels)
      if (iequals(v, l)) return true;
    *why = L"LOGLEVEL='" + v + L"' is not valid: use trace, debug, info, warn, error, critical or off";
    return false;
  }
  return true;
}

// A mail client name: a subkey of Software\Clients\Mail.
bool valid_client_name(const std::wstring& v) {
  return !v.empty() && v.size() <= 255 && v.find_first_of(L"\\/\"") == std::wstring::npos;
}

// Writes one value in Windows Installer's "raw" notation (what AppSearch reads back with
// Type="raw"): "#123" a REG_DWORD, "#%text" a REG_EXPAND_SZ, "#xA0B1" a REG_BINARY, "##text" a
// REG_SZ starting with '#', anything else a REG_SZ. A value saved from a previous installation is
// written back exactly as it was, even of a type the service rejects (the service then warns).
LSTATUS write_raw(HKEY k, const wchar_t* name, const std::wstring& raw, std::wstring* shown) {
  if (raw.size() >= 2 && raw[0] == L'#' && raw[1] == L'#') {
    *shown = L"REG_SZ '" + raw.substr(1) + L"'";
    return write_string(k, name, raw.substr(1));
  }
  if (raw.size() >= 2 && raw[0] == L'#' && raw[1] == L'%') {
    *shown = L"REG_EXPAND_SZ '" + raw.substr(2) + L"'";
    return write_string(k, name, raw.substr(2), REG_EXPAND_SZ);
  }
  if (raw.size() >= 2 && raw[0] == L'#' && (raw[1] == L'x' || raw[1] == L'X')) {
    std::vector<BYTE> bytes;
    for (size_t i = 2; i + 1 < raw.size(); i += 2) bytes.push_back(static_cast<BYTE>(std::stoul(raw.substr(i, 2), nullptr, 16)));
    *shown = L"REG_BINARY (" + std::to_wstring(bytes.size()) + L" bytes)";
    return ::RegSetValueExW(k, name, 0, REG_BINARY, bytes.data(), static_cast<DWORD>(bytes.size()));
  }
  if (raw.size() >= 2 && raw[0] == L'#') {
    // "#-5" or "#123": a DWORD (Windows Installer writes negative numbers as two's complement).
    long long v = 0;
    try {
      v = std::stoll(raw.substr(1));
    } catch (...) {
      *shown = L"REG_SZ '" + raw + L"'";
      return write_string(k, name, raw);
    }
    *shown = L"REG_DWORD " + std::to_wstring(static_cast<DWORD>(v));
    return write_dword(k, name, static_cast<DWORD>(v));
  }
  *shown = L"REG_SZ '" + raw + L"'";
  return write_string(k, name, raw);
}

// params --service NAME  VALUENAME GIVEN SAVED  [VALUENAME GIVEN SAVED]...
// GIVEN: the administrator's MSI property (empty: not given); SAVED: the previous installation's
// value in raw notation (empty: none). The MSI runs it once per group of values.
int cmd_params(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--service"}, &a, &why)) return fail(why, kUsage);
  const std::wstring service = opt(a, L"--service", L"MapiDispatch");
  if (a.positional.empty() || a.positional.size() % 3 != 0)
    return fail(L"expected groups of three arguments: VALUENAME GIVEN SAVED", kUsage);

  struct Plan {
    const ParamSpec* spec;
    std::wstring raw;
    std::wstring origin;
  };
  std::vector<Plan> plan;
  for (size_t i = 0; i < a.positional.size(); i += 3) {
    const std::wstring& name = a.positional[i];
    const std::wstring given = trim(a.positional[i + 1]);
    const std::wstring saved = a.positional[i + 2];
    const ParamSpec* spec = nullptr;
    for (const auto& p : kParams)
      if (iequals(name, p.name)) spec = &p;
    if (!spec) return fail(L"unknown parameter '" + name + L"'", kUsage);
    if (!given.empty()) {
      if (!spec->property) return fail(std::wstring(spec->name) + L" cannot be set through a property", kUsage);
      if (!validate_given(*spec, given, &why)) return fail(why, kUsage);
      std::wstring raw = spec->kind == Kind::kDword ? L"#" + given : given;
      if (spec->kind == Kind::kString && !raw.empty() && raw[0] == L'#') raw = L"#" + raw;
      plan.push_back({spec, raw, L"property " + std::wstring(spec->property)});
    } else if (!saved.empty()) {
      plan.push_back({spec, saved, L"kept from the previous installation"});
    } else if (spec->default_value) {
      plan.push_back({spec, spec->kind == Kind::kDword ? L"#" + std::wstring(spec->default_value) : spec->default_value,
                      L"default"});
    }
  }

  Key k;
  const LSTATUS rc = create_key(parameters_key(service), &k);
  if (rc != ERROR_SUCCESS) return fail(L"creating HKLM\\" + parameters_key(service) + L": " + win_error_text(rc));
  for (const auto& p : plan) {
    std::wstring shown;
    const LSTATUS w = write_raw(k.h, p.spec->name, p.raw, &shown);
    if (w != ERROR_SUCCESS) return fail(L"writing " + std::wstring(p.spec->name) + L": " + win_error_text(w));
    log_line(std::wstring(p.spec->name) + L" = " + shown + L" (" + p.origin + L")");
  }
  return kOk;
}

// ---- service-config -----------------------------------------------------------------------------

int cmd_service_config(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--service"}, &a, &why) || !a.positional.empty())
    return fail(why.empty() ? L"unexpected argument" : why, kUsage);
  const std::wstring name = opt(a, L"--service", L"MapiDispatch");
  SC_HANDLE scm = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
  if (!scm) return fail(L"OpenSCManager: " + win_error_text(::GetLastError()));
  SC_HANDLE svc = ::OpenServiceW(scm, name.c_str(), SERVICE_CHANGE_CONFIG | SERVICE_START);
  if (!svc) {
    const DWORD e = ::GetLastError();
    ::CloseServiceHandle(scm);
    return fail(L"OpenService(" + name + L"): " + win_error_text(e));
  }
  // Recovery: restart after 5 s, 5 s, then 60 s; the failure count resets after a day (as
  // `mapidispatch install` sets it).
  SC_ACTION actions[] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 60000}};
  SERVICE_FAILURE_ACTIONSW fa{};
  fa.dwResetPeriod = 24 * 60 * 60;
  fa.cActions = 3;
  fa.lpsaActions = actions;
  int rc = kOk;
  if (!::ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) {
    rc = fail(L"ChangeServiceConfig2(FAILURE_ACTIONS): " + win_error_text(::GetLastError()));
  } else {
    log_line(L"recovery of " + name + L": restart after 5 s, 5 s, 60 s; count reset after 1 day");
    SERVICE_FAILURE_ACTIONS_FLAG flag{TRUE};
    if (!::ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
      const DWORD e = ::GetLastError();
      if (e == ERROR_INVALID_LEVEL)  // Wine's SCM lacks this level
        log_line(L"warning: FAILURE_ACTIONS_FLAG is not supported here: restarts when the process dies, not when "
                 L"the service stops with an error");
      else
        rc = fail(L"ChangeServiceConfig2(FAILURE_ACTIONS_FLAG): " + win_error_text(e));
    }
  }
  ::CloseServiceHandle(svc);
  ::CloseServiceHandle(scm);
  return rc;
}

// ---- service-stop -------------------------------------------------------------------------------

// Stops the service and waits (at most --wait seconds) for its process to end, so that the files
// and keys the removal deletes next are no longer in use. Windows Installer's StopServices waits
// for STOPPED; Wine's does not wait for the process, whose log file and image would stay behind.
int cmd_service_stop(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--service", L"--wait"}, &a, &why) || !a.positional.empty())
    return fail(why.empty() ? L"unexpected argument" : why, kUsage);
  const std::wstring name = opt(a, L"--service", L"MapiDispatch");
  DWORD wait_s = 30;
  if (a.named.count(L"--wait") && (!parse_dword(opt(a, L"--wait"), &wait_s) || wait_s > 600))
    return fail(L"--wait must be 0 to 600 seconds", kUsage);
  SC_HANDLE scm = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
  if (!scm) return fail(L"OpenSCManager: " + win_error_text(::GetLastError()));
  SC_HANDLE svc = ::OpenServiceW(scm, name.c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS);
  if (!svc) {
    const DWORD e = ::GetLastError();
    ::CloseServiceHandle(scm);
    if (e == ERROR_SERVICE_DOES_NOT_EXIST) {
      log_line(L"service " + name + L" is not installed");
      return kOk;
    }
    return fail(L"OpenService(" + name + L"): " + win_error_text(e));
  }
  SERVICE_STATUS_PROCESS sp{};
  DWORD needed = 0;
  int rc = kOk;
  if (::QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&sp), sizeof sp, &needed) &&
      sp.dwCurrentState != SERVICE_STOPPED) {
    HANDLE process = sp.dwProcessId ? ::OpenProcess(SYNCHRONIZE, FALSE, sp.dwProcessId) : nullptr;
    SERVICE_STATUS st{};
    if (!::ControlService(svc, SERVICE_CONTROL_STOP, &st)) {
      const DWORD e = ::GetLastError();
      if (e != ERROR_SERVICE_NOT_ACTIVE && e != ERROR_SERVICE_CANNOT_ACCEPT_CTRL)
        log_line(L"ControlService(STOP): " + win_error_text(e), true);
    }
    if (process) {
      if (::WaitForSingleObject(process, wait_s * 1000) == WAIT_OBJECT_0) {
        log_line(L"stopped " + name + L" (process " + std::to_wstring(sp.dwProcessId) + L" ended)");
      } else {
        rc = fail(L"the process of " + name + L" (" + std::to_wstring(sp.dwProcessId) + L") did not end within " +
                  std::to_wstring(wait_s) + L" s");
      }
      ::CloseHandle(process);
    }
  } else {
    log_line(L"service " + name + L" is not running");
  }
  ::CloseServiceHandle(svc);
  ::CloseServiceHandle(scm);
  return rc;
}

// ---- app-local stubs ----------------------------------------------------------------------------

struct AppDir {
  std::wstring dir;
  std::wstring arch;  // x64 or x86
};

// Parses APPLOCAL_DIRS: "C:\Apps\Billing;D:\Legacy|x86". Every folder must exist; its bitness is
// the suffix, or that of the .exe files in it (all of one machine).
bool parse_app_dirs(const std::wstring& list, std::vector<AppDir>* out, std::wstring* why) {
  for (std::wstring item : split(list, L';')) {
    item = trim(item);
    if (item.empty()) continue;
    std::wstring arch;
    if (const size_t bar = item.rfind(L'|'); bar != std::wstring::npos) {
      arch = lower(trim(item.substr(bar + 1)));
      item = trim(item.substr(0, bar));
      if (arch != L"x64" && arch != L"x86") {
        *why = L"APPLOCAL_DIRS: '" + arch + L"' after '" + item + L"|' is not a bitness: use x64 or x86";
        return false;
      }
    }
    if (item.size() >= 2 && item.front() == L'"' && item.back() == L'"') item = item.substr(1, item.size() - 2);
    if (item.size() < 3 || item[1] != L':' || (item[2] != L'\\' && item[2] != L'/')) {
      *why = L"APPLOCAL_DIRS: '" + item + L"' is not an absolute folder path (like C:\\Apps\\Billing)";
      return false;
    }
    const std::wstring dir = full_path(item);
    if (!is_dir(dir)) {
      *why = L"APPLOCAL_DIRS: the folder '" + dir + L"' does not exist";
      return false;
    }
    if (arch.empty()) {
      std::set<std::wstring> machines;
      std::wstring examples;
      WIN32_FIND_DATAW fd;
      HANDLE h = ::FindFirstFileW((dir + L"\\*.exe").c_str(), &fd);
      if (h != INVALID_HANDLE_VALUE) {
        do {
          if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) continue;
          const WORD m = pe_machine(dir + L"\\" + fd.cFileName);
          if (m == 0) continue;
          machines.insert(machine_name(m));
          examples += (examples.empty() ? L"" : L", ") + std::wstring(fd.cFileName) + L" " + machine_name(m);
        } while (::FindNextFileW(h, &fd));
        ::FindClose(h);
      }
      if (machines.empty()) {
        *why = L"APPLOCAL_DIRS: no application (.exe) in '" + dir + L"' tells its bitness: write '" + dir +
               L"|x64' or '" + dir + L"|x86'";
        return false;
      }
      if (machines.size() > 1) {
        *why = L"APPLOCAL_DIRS: '" + dir + L"' holds applications of different bitness (" + examples +
               L"): one mapi32.dll cannot serve both; write '|x64' or '|x86' after the folder";
        return false;
      }
      arch = *machines.begin();
      if (arch != L"x64" && arch != L"x86") {
        *why = L"APPLOCAL_DIRS: the applications in '" + dir + L"' are " + arch + L": there is no " + arch + L" stub";
        return false;
      }
    }
    for (const auto& d : *out)
      if (iequals(d.dir, dir)) {
        *why = L"APPLOCAL_DIRS: '" + dir + L"' is listed twice";
        return false;
      }
    out->push_back({dir, arch});
  }
  return true;
}

std::vector<AppDir> recorded_app_dirs() {
  Key k;
  std::vector<AppDir> out;
  if (open_key(kSetupKey, KEY_READ, &k) != ERROR_SUCCESS) return out;
  for (const auto& entry : read_multi(k.h, L"AppLocalCopies")) {
    const size_t bar = entry.rfind(L'|');
    if (bar == std::wstring::npos) continue;
    out.push_back({entry.substr(0, bar), entry.substr(bar + 1)});
  }
  return out;
}

// Removes `path`; a DLL loaded by a running process cannot be deleted on Windows, but it can be
// renamed: it is moved aside and deleted now if possible, else at the next restart.
bool remove_file(const std::wstring& path, std::wstring* note) {
  if (!is_file(path)) return true;
  if (::DeleteFileW(path.c_str())) return true;
  const DWORD e = ::GetLastError();
  if (e != ERROR_ACCESS_DENIED && e != ERROR_SHARING_VIOLATION) {
    *note = L"cannot delete " + path + L": " + win_error_text(e);
    return false;
  }
  const std::wstring aside = path + kAsideSuffix + std::to_wstring(::GetTickCount64());
  if (!::MoveFileExW(path.c_str(), aside.c_str(), MOVEFILE_REPLACE_EXISTING)) {
    *note = L"cannot delete or rename " + path + L" (in use): " + win_error_text(::GetLastError());
    return false;
  }
  if (!::DeleteFileW(aside.c_str())) {
    ::MoveFileExW(aside.c_str(), nullptr, MOVEFILE_DELAY_UNTIL_REBOOT);
    *note = path + L" is in use by a running process: moved aside to " + aside + L", deleted at the next restart";
  }
  return true;
}

// Deletes copies moved aside earlier (when no process holds them any more).
void sweep_aside(const std::wstring& dir) {
  WIN32_FIND_DATAW fd;
  HANDLE h = ::FindFirstFileW((dir + L"\\" + kStubName + kAsideSuffix + L"*").c_str(), &fd);
  if (h == INVALID_HANDLE_VALUE) return;
  do {
    ::DeleteFileW((dir + L"\\" + fd.cFileName).c_str());
  } while (::FindNextFileW(h, &fd));
  ::FindClose(h);
}

int cmd_applocal_install(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--dirs", L"--saved", L"--stub-x64", L"--stub-x86"}, &a, &why) || !a.positional.empty())
    return fail(why.empty() ? L"unexpected argument " + a.positional.front() : why, kUsage);
  const std::wstring given = clean_list(opt(a, L"--dirs"));
  const std::wstring list = given.empty() ? clean_list(opt(a, L"--saved")) : given;
  const std::wstring stub64 = opt(a, L"--stub-x64"), stub86 = opt(a, L"--stub-x86");
  if (pe_machine(stub64) != IMAGE_FILE_MACHINE_AMD64) return fail(L"--stub-x64 " + stub64 + L" is not an x64 DLL");
  if (pe_machine(stub86) != IMAGE_FILE_MACHINE_I386) return fail(L"--stub-x86 " + stub86 + L" is not an x86 DLL");

  std::vector<AppDir> wanted;
  if (!parse_app_dirs(list, &wanted, &why)) return fail(why, kUsage);
  std::vector<AppDir> recorded = recorded_app_dirs();
  auto is_recorded = [&](const std::wstring& dir) {
    return std::any_of(recorded.begin(), recorded.end(), [&](const AppDir& r) { return iequals(r.dir, dir); });
  };

  // Check everything before changing anything: a foreign mapi32.dll is never overwritten.
  for (const auto& d : wanted) {
    const std::wstring target = d.dir + L"\\" + kStubName;
    const std::wstring& ours = d.arch == L"x64" ? stub64 : stub86;
    if (is_file(target) && !is_recorded(d.dir) && !same_content(target, ours))
      return fail(L"APPLOCAL_DIRS: " + target + L" exists and was not put there by MapiDispatch: it is left alone; "
                  L"move it away (or remove the folder from APPLOCAL_DIRS) and install again");
  }

  // Copies recorded earlier that are no longer wanted are removed.
  std::vector<std::wstring> kept;
  for (const auto& r : recorded) {
    const bool still = std::any_of(wanted.begin(), wanted.end(), [&](const AppDir& w) { return iequals(w.dir, r.dir); });
    if (still) continue;
    std::wstring note;
    if (remove_file(r.dir + L"\\" + kStubName, &note))
      log_line(L"removed the stub from " + r.dir + L" (no longer in APPLOCAL_DIRS)");
    if (!note.empty()) log_line(note);
  }

  std::vector<std::wstring> record;
  for (const auto& d : wanted) {
    const std::wstring target = d.dir + L"\\" + kStubName;
    const std::wstring& ours = d.arch == L"x64" ? stub64 : stub86;
    sweep_aside(d.dir);
    if (is_file(target) && same_content(target, ours)) {
      log_line(L"" + target + L" is already the " + d.arch + L" stub of this version");
    } else {
      std::wstring note;
      if (!remove_file(target, &note)) return fail(note);
      if (!note.empty()) log_line(note);
      if (!::CopyFileW(ours.c_str(), target.c_str(), FALSE))
        return fail(L"copying the " + d.arch + L" stub to " + target + L": " + win_error_text(::GetLastError()));
      log_line(L"copied the " + d.arch + L" stub to " + target);
    }
    record.push_back(d.dir + L"|" + d.arch);
  }

  Key k;
  LSTATUS rc = create_key(kSetupKey, &k);
  if (rc == ERROR_SUCCESS) rc = write_multi(k.h, L"AppLocalCopies", record);
  if (rc == ERROR_SUCCESS) rc = write_string(k.h, L"AppLocalDirs", list);
  if (rc != ERROR_SUCCESS) return fail(L"recording the app-local copies under HKLM\\" + std::wstring(kSetupKey) + L": " + win_error_text(rc));
  if (wanted.empty()) log_line(L"no application folders listed (APPLOCAL_DIRS is empty)");
  return kOk;
}

int cmd_applocal_remove(const std::vector<std::wstring>& argv) {
  if (!argv.empty()) return fail(L"applocal-remove takes no arguments", kUsage);
  int rc = kOk;
  for (const auto& r : recorded_app_dirs()) {
    std::wstring note;
    const std::wstring target = r.dir + L"\\" + kStubName;
    if (!is_file(target)) {
      log_line(target + L" is already gone");
    } else if (remove_file(target, &note)) {
      log_line(L"removed " + target);
    } else {
      rc = kFailed;
    }
    if (!note.empty()) log_line(note, rc != kOk);
    sweep_aside(r.dir);
  }
  Key k;
  if (open_key(kSetupKey, KEY_SET_VALUE, &k) == ERROR_SUCCESS) {
    ::RegDeleteValueW(k.h, L"AppLocalCopies");
    ::RegDeleteValueW(k.h, L"AppLocalDirs");
  }
  return rc;
}

// ---- registration as a mail client --------------------------------------------------------------

std::wstring expand(const std::wstring& s) {
  wchar_t buf[MAX_PATH * 4];
  const DWORD n = ::ExpandEnvironmentStringsW(s.c_str(), buf, static_cast<DWORD>(std::size(buf)));
  return n == 0 || n > std::size(buf) ? s : std::wstring(buf);
}

// mailclient-register --mode register|default --saved MODE --upstream NAME --saved-upstream NAME
//                     --saved-default NAME --install-dir DIR --x86-dir DIR
// The entry's UpstreamClient value names the client that serves the calls reaching MapiDispatch
// through the registration (the resolver follows it, in the service and in the stub's own
// registry fallback): --upstream, else the value of the installation being upgraded, else the
// machine's default mail client before MapiDispatch (recorded as PreviousDefaultClient).
// --saved-default: the machine's default mail client before the installation being upgraded was
// removed. With `register`, an administrator may have made MapiDispatch the default by hand; if
// that removal unset it (Windows skips it during an upgrade, Wine's msiexec runs it in full), the
// upgrade puts it back.
int cmd_mailclient_register(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--mode", L"--saved", L"--upstream", L"--saved-upstream", L"--saved-default", L"--install-dir",
                    L"--x86-dir"},
             &a, &why) ||
      !a.positional.empty())
    return fail(why.empty() ? L"unexpected argument" : why, kUsage);
  std::wstring mode = lower(trim(opt(a, L"--mode")));
  if (mode.empty()) mode = lower(trim(opt(a, L"--saved")));
  if (mode.empty()) {
    log_line(L"MAILCLIENT is not set: MapiDispatch is not registered as a mail client");
    return kOk;
  }
  if (mode != L"register" && mode != L"default")
    return fail(L"MAILCLIENT='" + mode + L"' is not valid: use register (add the Clients\\Mail entry) or default "
                L"(add it and make it the machine's default mail client)", kUsage);
  const std::wstring given_upstream = trim(opt(a, L"--upstream"));
  if (!given_upstream.empty() && (!valid_client_name(given_upstream) || iequals(given_upstream, kClientName)))
    return fail(L"UPSTREAMCLIENT='" + given_upstream + L"' is not valid: the name of another mail client (a subkey of "
                L"Software\\Clients\\Mail) of at most 255 characters without \\, / or \"", kUsage);

  // One DLLPath serves 32-bit and 64-bit processes (HKLM\Software\Clients is shared between the
  // registry views): %ProgramFiles% expands to "Program Files" in a 64-bit process and to
  // "Program Files (x86)" in a 32-bit one, so the stubs must sit in the two MapiDispatch folders.
  const std::wstring x64 = full_path(opt(a, L"--install-dir"));
  const std::wstring x86 = full_path(opt(a, L"--x86-dir"));
  const std::wstring pf64 = full_path(expand(L"%ProgramW6432%\\MapiDispatch"));
  const std::wstring pf86 = full_path(expand(L"%ProgramFiles(x86)%\\MapiDispatch"));
  if (!iequals(x64, pf64) || !iequals(x86, pf86))
    return fail(L"MAILCLIENT needs the default folders (" + pf64 + L" and " + pf86 + L"), not " + x64 + L" and " +
                x86 + L": the Clients\\Mail entry names the stub as %ProgramFiles%\\MapiDispatch\\mapi32.dll, which "
                L"is the x64 stub for 64-bit processes and the x86 stub for 32-bit ones", kUsage);
  const std::wstring dll = L"%ProgramFiles%\\MapiDispatch\\mapi32.dll";

  Key mail;
  LSTATUS rc = create_key(kMailKey, &mail);
  if (rc != ERROR_SUCCESS) return fail(L"opening HKLM\\" + std::wstring(kMailKey) + L": " + win_error_text(rc));
  Key setup;
  rc = create_key(kSetupKey, &setup);
  if (rc != ERROR_SUCCESS) return fail(L"opening HKLM\\" + std::wstring(kSetupKey) + L": " + win_error_text(rc));
  const std::wstring current = read_string(mail.h, nullptr).value_or(L"");
  const std::wstring recorded = read_string(setup.h, L"PreviousDefaultClient").value_or(L"");
  std::wstring upstream = given_upstream, upstream_origin = L"property UPSTREAMCLIENT";
  if (upstream.empty()) {
    upstream = trim(opt(a, L"--saved-upstream"));
    upstream_origin = L"kept from the previous installation";
  }
  if (upstream.empty() && !current.empty() && !iequals(current, kClientName)) {
    upstream = current;
    upstream_origin = L"the default mail client before MapiDispatch";
  }
  if (upstream.empty() && !recorded.empty()) {
    upstream = recorded;
    upstream_origin = L"the recorded previous default";
  }
  const std::wstring client_key = std::wstring(kMailKey) + L"\\" + kClientName;
  Key client;
  rc = create_key(client_key, &client);
  if (rc == ERROR_SUCCESS) rc = write_string(client.h, nullptr, L"MapiDispatch (dispatches to the upstream mail client)");
  if (rc == ERROR_SUCCESS) rc = write_string(client.h, L"DLLPath", dll, REG_EXPAND_SZ);
  if (rc == ERROR_SUCCESS) rc = write_string(client.h, L"DLLPathEx", dll, REG_EXPAND_SZ);
  if (rc == ERROR_SUCCESS && !upstream.empty()) rc = write_string(client.h, L"UpstreamClient", upstream);
  if (rc != ERROR_SUCCESS) return fail(L"writing HKLM\\" + client_key + L": " + win_error_text(rc));
  log_line(L"registered the mail client HKLM\\" + client_key + L": DLLPath = DLLPathEx = " + dll);
  if (!upstream.empty()) {
    if (!key_exists(std::wstring(kMailKey) + L"\\" + upstream))
      log_line(L"warning: the upstream client '" + upstream + L"' is not installed (no HKLM\\" +
               std::wstring(kMailKey) + L"\\" + upstream + L"): calls through the registration fail until it is");
    log_line(L"UpstreamClient = '" + upstream + L"' (" + upstream_origin + L")");
  } else {
    log_line(L"warning: no upstream client (no UPSTREAMCLIENT and no default mail client before): calls through the "
             L"registration fail until UpstreamClient is set in HKLM\\" + client_key);
  }

  if (mode == L"register" && current.empty() && iequals(trim(opt(a, L"--saved-default")), kClientName)) {
    rc = write_string(mail.h, nullptr, kClientName);
    if (rc != ERROR_SUCCESS) return fail(L"setting the default mail client back: " + win_error_text(rc));
    log_line(L"MapiDispatch was the default mail client before the upgrade, and the removal of the previous "
             L"version unset it: the default is MapiDispatch again");
  }
  if (mode == L"default") {
    const std::wstring& previous = current;
    if (!previous.empty() && !iequals(previous, kClientName)) {
      rc = write_string(setup.h, L"PreviousDefaultClient", previous);
      if (rc != ERROR_SUCCESS) return fail(L"recording PreviousDefaultClient: " + win_error_text(rc));
      log_line(L"recorded the previous default mail client: PreviousDefaultClient = '" + previous + L"'");
    } else if (previous.empty()) {
      log_line(L"there was no default mail client before (nothing recorded)");
    } else {
      log_line(L"MapiDispatch already is the default mail client (PreviousDefaultClient kept as it is)");
    }
    rc = write_string(mail.h, nullptr, kClientName);
    if (rc != ERROR_SUCCESS) return fail(L"setting the default mail client: " + win_error_text(rc));
    log_line(L"the machine's default mail client is now MapiDispatch (HKLM\\Software\\Clients\\Mail)");
  }
  rc = write_string(setup.h, L"MailClient", mode);
  if (rc != ERROR_SUCCESS) return fail(L"recording MailClient: " + win_error_text(rc));
  return kOk;
}

int cmd_mailclient_unregister(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {}, &a, &why) || !a.positional.empty()) return fail(why.empty() ? L"takes no arguments" : why, kUsage);
  const std::wstring client_key = std::wstring(kMailKey) + L"\\" + kClientName;
  Key mail;
  if (open_key(kMailKey, KEY_READ | KEY_WRITE, &mail) == ERROR_SUCCESS) {
    const auto current = read_string(mail.h, nullptr);
    if (current && iequals(*current, kClientName)) {
      Key setup_read;
      std::wstring previous;
      if (open_key(kSetupKey, KEY_READ, &setup_read) == ERROR_SUCCESS)
        previous = read_string(setup_read.h, L"PreviousDefaultClient").value_or(L"");
      if (!previous.empty() && key_exists(std::wstring(kMailKey) + L"\\" + previous)) {
        write_string(mail.h, nullptr, previous);
        log_line(L"restored the previous default mail client '" + previous + L"'");
      } else {
        ::RegDeleteValueW(mail.h, nullptr);
        log_line(previous.empty() ? L"no previous default mail client was recorded: the default is now unset"
                                  : L"the previous default mail client '" + previous +
                                        L"' is no longer installed: the default is now unset");
      }
    }
  }
  if (key_exists(client_key)) {
    const LSTATUS rc = delete_tree(client_key);
    if (rc != ERROR_SUCCESS) return fail(L"deleting HKLM\\" + client_key + L": " + win_error_text(rc));
    log_line(L"removed HKLM\\" + client_key);
  }
  Key setup;
  if (open_key(kSetupKey, KEY_SET_VALUE, &setup) == ERROR_SUCCESS) {
    ::RegDeleteValueW(setup.h, L"MailClient");
    ::RegDeleteValueW(setup.h, L"PreviousDefaultClient");
  }
  return kOk;
}

// ---- purge --------------------------------------------------------------------------------------

bool remove_tree_dir(const std::wstring& dir) {
  WIN32_FIND_DATAW fd;
  HANDLE h = ::FindFirstFileW((dir + L"\\*").c_str(), &fd);
  if (h != INVALID_HANDLE_VALUE) {
    do {
      const std::wstring name = fd.cFileName;
      if (name == L"." || name == L"..") continue;
      const std::wstring p = dir + L"\\" + name;
      if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
        remove_tree_dir(p);
      else
        ::DeleteFileW(p.c_str());
    } while (::FindNextFileW(h, &fd));
    ::FindClose(h);
  }
  return ::RemoveDirectoryW(dir.c_str()) != 0;
}

int cmd_purge(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--service", L"--keep-logs"}, &a, &why) || !a.positional.empty()) return fail(why, kUsage);
  const std::wstring service = opt(a, L"--service", L"MapiDispatch");
  for (const std::wstring& key : {std::wstring(kSetupKey), parameters_key(service), service_key(service) + L"\\State",
                                  eventlog_key(service)}) {
    if (!key_exists(key)) continue;
    const LSTATUS rc = delete_tree(key);
    log_line(rc == ERROR_SUCCESS ? L"removed HKLM\\" + key : L"could not remove HKLM\\" + key + L": " + win_error_text(rc));
  }
  delete_if_empty(kSetupParentKey);
  if (opt(a, L"--keep-logs") != L"1") {
    wchar_t* data = nullptr;
    if (SUCCEEDED(::SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &data))) {
      const std::wstring dir = std::wstring(data) + L"\\MapiDispatch";
      ::CoTaskMemFree(data);
      if (is_dir(dir)) log_line(remove_tree_dir(dir) ? L"removed " + dir : L"could not remove all of " + dir);
    }
  }
  return kOk;
}

const char kUsageText[] =
    "Usage: mapidispatch-setup COMMAND ...   (the MapiDispatch MSI's custom-action helper)\n"
    "  params [--service NAME] VALUENAME GIVEN SAVED [VALUENAME GIVEN SAVED]...\n"
    "  service-config [--service NAME]\n"
    "  service-stop [--service NAME] [--wait SECONDS]\n"
    "  applocal-install --dirs LIST [--saved LIST] --stub-x64 DLL --stub-x86 DLL\n"
    "  applocal-remove\n"
    "  mailclient-register --mode register|default [--saved MODE] [--upstream NAME] [--saved-upstream NAME]\n"
    "                      --install-dir DIR --x86-dir DIR\n"
    "  mailclient-unregister\n"
    "  purge [--service NAME] [--keep-logs 1]\n"
    "LIST: folders separated by ';', each optionally followed by |x64 or |x86.\n"
    "Log: %SystemRoot%\\Temp\\MapiDispatch-setup.log\n";

}  // namespace

int main() {
  int argc = 0;
  wchar_t** wargv = ::CommandLineToArgvW(::GetCommandLineW(), &argc);
  std::vector<std::wstring> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(wargv[i]);
  ::LocalFree(wargv);
  if (args.empty() || args[0] == L"help" || args[0] == L"--help" || args[0] == L"/?") {
    std::fputs(kUsageText, args.empty() ? stderr : stdout);
    return args.empty() ? kUsage : kOk;
  }
  g_command = args[0];
  wchar_t windir[MAX_PATH];
  if (::GetWindowsDirectoryW(windir, MAX_PATH)) {
    const std::wstring temp = std::wstring(windir) + L"\\Temp";
    ::CreateDirectoryW(temp.c_str(), nullptr);  // exists on Windows; not always under Wine
    g_log_path = temp + L"\\MapiDispatch-setup.log";
  }
  const std::vector<std::wstring> rest(args.begin() + 1, args.end());
  if (g_command == L"params") return cmd_params(rest);
  if (g_command == L"service-config") return cmd_service_config(rest);
  if (g_command == L"service-stop") return cmd_service_stop(rest);
  if (g_command == L"applocal-install") return cmd_applocal_install(rest);
  if (g_command == L"applocal-remove") return cmd_applocal_remove(rest);
  if (g_command == L"mailclient-register") return cmd_mailclient_register(rest);
  if (g_command == L"mailclient-unregister") return cmd_mailclient_unregister(rest);
  if (g_command == L"purge") return cmd_purge(rest);
  std::fputs(kUsageText, stderr);
  return fail(L"unknown command", kUsage);
}
