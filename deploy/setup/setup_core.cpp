// Copyright MapiDispatch authors.
//
// What the commands of mapidispatch-setup.exe share (setup_core.h).

#include "setup_core.h"

#include <windows.h>

#include <cstdio>
#include <cwctype>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mapidispatch::setup {
namespace {

std::string utf8(const std::wstring& w) {
  if (w.empty()) return {};
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0, nullptr, nullptr);
  std::string s(static_cast<size_t>(n), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), s.data(), n, nullptr, nullptr);
  return s;
}

std::wstring strip_slash(std::wstring p) {
  while (p.size() > 3 && (p.back() == L'\\' || p.back() == L'/')) p.pop_back();
  return p;
}

}  // namespace

// ---- output -----------------------------------------------------------------------------------

std::wstring g_log_path;
std::wstring g_command;

void log_line(const std::wstring& text, bool error) {
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

int fail(const std::wstring& text, int code) {
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

std::wstring lower(std::wstring s) {
  for (auto& c : s) c = static_cast<wchar_t>(std::towlower(c));
  return s;
}

bool iequals(const std::wstring& a, const std::wstring& b) { return lower(a) == lower(b); }

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

// ---- registry -----------------------------------------------------------------------------------
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

LSTATUS write_string(HKEY k, const wchar_t* name, const std::wstring& v, DWORD type) {
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

void delete_if_empty(const std::wstring& path) {
  Key k;
  if (open_key(path, KEY_READ, &k) != ERROR_SUCCESS) return;
  DWORD subkeys = 0, values = 0;
  if (::RegQueryInfoKeyW(k.h, nullptr, nullptr, nullptr, &subkeys, nullptr, nullptr, &values, nullptr, nullptr,
                         nullptr, nullptr) != ERROR_SUCCESS)
    return;
  if (subkeys == 0 && values == 0) ::RegDeleteKeyExW(HKEY_LOCAL_MACHINE, path.c_str(), KEY_WOW64_64KEY, 0);
}

void delete_setup_values(std::initializer_list<const wchar_t*> names) {
  Key k;
  if (open_key(kSetupKey, KEY_SET_VALUE, &k) != ERROR_SUCCESS) return;
  for (const wchar_t* name : names) ::RegDeleteValueW(k.h, name);
}

std::wstring service_key(const std::wstring& service) { return L"SYSTEM\\CurrentControlSet\\Services\\" + service; }
std::wstring parameters_key(const std::wstring& service) { return service_key(service) + L"\\Parameters"; }
std::wstring eventlog_key(const std::wstring& service) {
  return L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" + service;
}

// ---- command line -------------------------------------------------------------------------------
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

std::wstring opt(const Args& a, const wchar_t* name, const std::wstring& fallback) {
  const auto it = a.named.find(name);
  return it == a.named.end() ? fallback : it->second;
}

}  // namespace mapidispatch::setup
