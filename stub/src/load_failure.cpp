// Copyright MapiDispatch authors.

#include "load_failure.h"

#include <windows.h>

#include <memory>
#include <system_error>
#include <vector>

#include "diagnostics.h"
#include "mapidispatch/dependencies.h"
#include "mapidispatch/dispatch.h"
#include "mapidispatch/file_system.h"
#include "mapidispatch/pe_image.h"
#include "mapidispatch/registry.h"
#include "mapidispatch/resolver.h"
#include "mapidispatch/text.h"
#include "mapidispatch/win32/registry_win.h"
#include "mapidispatch/win32/resolver_win.h"

namespace mapidispatch::stub {
namespace {

constexpr size_t kMaxPathEntries = 512;
constexpr size_t kMaxFindingsNamed = 4;    // the rest are counted

std::u16string u16(std::wstring_view w) { return {w.begin(), w.end()}; }  // wchar_t is UTF-16 here

std::u16string folder(UINT(WINAPI* get)(LPWSTR, UINT)) {
  wchar_t buf[MAX_PATH + 1];
  const UINT n = get(buf, MAX_PATH + 1);
  return n == 0 || n > MAX_PATH ? std::u16string() : u16(std::wstring_view(buf, n));
}

// This process's PATH entries, in order (split_path_variable: empty ones dropped, quotes and
// trailing separators removed; check_dependencies ignores relative ones).
std::vector<std::u16string> path_entries() {
  std::vector<std::u16string> out;
  const DWORD size = ::GetEnvironmentVariableW(L"PATH", nullptr, 0);
  if (size == 0 || size > 32768) return out;
  std::wstring path(size, L'\0');
  const DWORD n = ::GetEnvironmentVariableW(L"PATH", path.data(), size);
  if (n == 0 || n >= size) return out;
  path.resize(n);
  // As the service's walk splits the user's PATH (quotes and trailing separators too).
  return split_path_variable(u16(path), kMaxPathEntries);
}

// Where this process's loader looks for a provider's imports (dependencies.h).
DependencySearch this_process_search(PeMachine machine) {
  DependencySearch search;
  search.machine = machine;
  for (auto get : {&::GetSystemDirectoryW, &::GetWindowsDirectoryW}) {
    std::u16string dir = folder(get);
    if (!dir.empty()) search.directories.push_back(std::move(dir));
  }
  std::vector<std::u16string> path = path_entries();
  search.path_entries = path.size();
  search.directories.insert(search.directories.end(), path.begin(), path.end());
  search.path_origin = u"this process's PATH";
  search.known_dlls = read_known_dlls(win32::Win32Registry());  // the service's rule (resolver.h)
  search.already_loaded = [](std::u16string_view name) {
    const std::wstring w(name.begin(), name.end());
    return ::GetModuleHandleW(w.c_str()) != nullptr;
  };
  return search;
}

// The system's message for `error`, on one line.
std::string message_of(unsigned long error) {
  std::string m = std::system_category().message(static_cast<int>(error));
  while (!m.empty() && (m.back() == '\n' || m.back() == '\r' || m.back() == ' ')) m.pop_back();
  return m;
}

// What is wrong with the provider's imports, as this process would load them.
std::string dependency_diagnosis(const std::wstring& path) {
  const std::u16string path16 = u16(path);
  const WindowsPath where = analyze_windows_path(path16);
  if (where.kind != PathKind::kDriveAbsolute && where.kind != PathKind::kUnc)
    return "its imports are not checked (not a full path: the process's search order finds it)";
  win32::Win32FileSystem files;
  std::unique_ptr<ByteSource> bytes;
  if (const std::error_code ec = files.open(path16, &bytes)) return "it cannot be read: " + ec.message();
  PeInfo info;
  std::string reason;
  if (read_pe_image(*bytes, &info, &reason) != PeStatus::kOk) return "it is not a readable DLL: " + reason;
  const PeMachine self = machine_of(this_process_bitness());
  if (info.raw_machine != static_cast<uint16_t>(self))
    return "it is an " + describe_machine(info.raw_machine) + " DLL; this process is " +
           describe_machine(static_cast<uint16_t>(self));

  const DependencySearch search = this_process_search(self);
  const DependencyReport report = check_dependencies(files, path16, info.imports, search, nullptr);
  std::string out;
  size_t blocking = 0;
  for (const DependencyFinding& f : report.findings) {
    if (f.delay_load) continue;  // loaded on first call: not why the load failed
    if (++blocking > kMaxFindingsNamed) continue;
    if (!out.empty()) out += "; ";
    out += text::utf16_to_utf8(f.sentence(search));
  }
  if (blocking > kMaxFindingsNamed) out += "; and " + std::to_string(blocking - kMaxFindingsNamed) + " more";
  if (blocking == 0)
    out = "every DLL it imports was found for this process (the failure is elsewhere: a missing entry point, "
          "a DLL whose initialization failed, or a folder only the loader searches)";
  if (info.imports_status != PeStatus::kOk) out += "; its import table is damaged: " + info.imports_reason;
  if (!report.bad_imports.empty()) out += "; a damaged import table: " + text::utf16_to_utf8(report.bad_imports);
  if (report.truncated) out += "; (the check stopped at its depth or file limit)";
  return out;
}

}  // namespace

std::string describe_load_failure(const std::wstring& path, unsigned long error) noexcept {
  std::string text;
  try {
    text = narrow(path) + ": error " + std::to_string(error) + " (" + message_of(error) + ")";
    text += ": " + dependency_diagnosis(path);
  } catch (...) {
    // Out of memory on the way: what was said so far stands (std::string's += is all or nothing).
  }
  return text;
}

void debug_output(const std::string& line) noexcept {
  try {
    const std::u16string wide = u"MapiDispatch mapi32.dll: " + text::utf8_to_utf16(line) + u"\n";
    ::OutputDebugStringW(reinterpret_cast<const wchar_t*>(wide.c_str()));
  } catch (...) {
  }
}

}  // namespace mapidispatch::stub
