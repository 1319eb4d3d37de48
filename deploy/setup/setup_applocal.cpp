// Copyright MapiDispatch authors.
//
// mapidispatch-setup applocal-install and applocal-remove: the app-local stubs (setup_actions.h).

#include <windows.h>

#include <algorithm>
#include <cwchar>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "setup_actions.h"
#include "setup_core.h"

namespace mapidispatch::setup {
namespace {

constexpr wchar_t kStubName[] = L"mapi32.dll";
constexpr wchar_t kAsideSuffix[] = L".mapidispatch-old";

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

}  // namespace

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
  delete_setup_values({L"AppLocalCopies", L"AppLocalDirs"});
  return rc;
}

}  // namespace mapidispatch::setup
