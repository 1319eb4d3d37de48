// Copyright MapiDispatch authors.

#include "mapidispatch/win32/resolver_win.h"

#include <windows.h>
#include <msi.h>

#include <mutex>

#include <new>

#include "mapidispatch/win32/registry_win.h"
#include "mapidispatch/win32/unique_handle.h"

namespace mapidispatch::win32 {
namespace {

static_assert(sizeof(wchar_t) == sizeof(char16_t), "Windows wchar_t is UTF-16");

std::wstring wide(std::u16string_view s) { return std::wstring(s.begin(), s.end()); }
std::u16string narrow16(std::wstring_view s) { return std::u16string(s.begin(), s.end()); }
std::error_code last_error() { return {static_cast<int>(::GetLastError()), std::system_category()}; }

// The form Win32 file APIs take: normalized, and \\?\ above MAX_PATH (the resolver has already
// refused '.', '..' and relative forms, which \\?\ would not resolve).
std::wstring api_path(std::u16string_view path) {
  const WindowsPath w = analyze_windows_path(path);
  std::wstring p = wide(w.normalized);
  if (p.size() >= MAX_PATH) {
    if (w.kind == PathKind::kDriveAbsolute) p = L"\\\\?\\" + p;
    else if (w.kind == PathKind::kUnc) p = L"\\\\?\\UNC\\" + p.substr(2);
  }
  return p;
}

bool is_absent(DWORD e) {
  return e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND || e == ERROR_BAD_NETPATH || e == ERROR_BAD_NET_NAME ||
         e == ERROR_INVALID_NAME || e == ERROR_INVALID_DRIVE || e == ERROR_NOT_READY;
}

class Win32File final : public ByteSource {
 public:
  Win32File(UniqueKernelHandle file, uint64_t size) : file_(std::move(file)), size_(size) {}
  uint64_t size() const override { return size_; }
  bool read(uint64_t offset, std::span<uint8_t> out) const override {
    if (offset > size_ || out.size() > size_ - offset) return false;
    size_t done = 0;
    while (done < out.size()) {
      OVERLAPPED at{};
      const uint64_t pos = offset + done;
      at.Offset = static_cast<DWORD>(pos);
      at.OffsetHigh = static_cast<DWORD>(pos >> 32);
      const DWORD want = static_cast<DWORD>(std::min<size_t>(out.size() - done, 1u << 20));
      DWORD got = 0;
      if (!::ReadFile(file_.get(), out.data() + done, want, &got, &at) || got == 0) return false;
      done += got;
    }
    return true;
  }

 private:
  UniqueKernelHandle file_;
  uint64_t size_;
};

UniqueKernelHandle open_for(std::u16string_view path, DWORD access) {
  return UniqueKernelHandle(::CreateFileW(api_path(path).c_str(), access,
                                          FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                          OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
}

}  // namespace

FileKind Win32FileSystem::stat(std::u16string_view path, std::error_code* ec) const {
  ec->clear();
  const DWORD attrs = ::GetFileAttributesW(api_path(path).c_str());
  if (attrs == INVALID_FILE_ATTRIBUTES) {
    const DWORD e = ::GetLastError();
    if (!is_absent(e)) *ec = {static_cast<int>(e), std::system_category()};
    return FileKind::kMissing;
  }
  if (attrs & FILE_ATTRIBUTE_DIRECTORY) return FileKind::kDirectory;
  if (attrs & FILE_ATTRIBUTE_DEVICE) return FileKind::kOther;
  return FileKind::kFile;
}

std::error_code Win32FileSystem::open(std::u16string_view path, std::unique_ptr<ByteSource>* out) const {
  UniqueKernelHandle file = open_for(path, GENERIC_READ);
  if (!file) return last_error();
  LARGE_INTEGER size{};
  if (!::GetFileSizeEx(file.get(), &size)) return last_error();
  *out = std::make_unique<Win32File>(std::move(file), static_cast<uint64_t>(size.QuadPart));
  return {};
}

bool Win32FileSystem::same_file(std::u16string_view a, std::u16string_view b) const {
  if (same_windows_path(a, b)) return true;
  const UniqueKernelHandle fa = open_for(a, FILE_READ_ATTRIBUTES);
  const UniqueKernelHandle fb = open_for(b, FILE_READ_ATTRIBUTES);
  if (!fa || !fb) return false;
  BY_HANDLE_FILE_INFORMATION ia{}, ib{};
  if (!::GetFileInformationByHandle(fa.get(), &ia) || !::GetFileInformationByHandle(fb.get(), &ib)) return false;
  return ia.dwVolumeSerialNumber == ib.dwVolumeSerialNumber && ia.nFileIndexHigh == ib.nFileIndexHigh &&
         ia.nFileIndexLow == ib.nFileIndexLow;
}

std::optional<FileStamp> Win32FileSystem::stamp(std::u16string_view path) const {
  const UniqueKernelHandle f = open_for(path, FILE_READ_ATTRIBUTES);
  BY_HANDLE_FILE_INFORMATION i{};
  if (!f || !::GetFileInformationByHandle(f.get(), &i)) return std::nullopt;
  FileStamp s;
  s.volume = i.dwVolumeSerialNumber;
  s.index = (uint64_t{i.nFileIndexHigh} << 32) | i.nFileIndexLow;
  s.size = (uint64_t{i.nFileSizeHigh} << 32) | i.nFileSizeLow;
  s.write_time = (uint64_t{i.ftLastWriteTime.dwHighDateTime} << 32) | i.ftLastWriteTime.dwLowDateTime;
  return s;
}

namespace {

using ProvideQualifiedComponentFn = UINT(WINAPI*)(LPCWSTR, LPCWSTR, DWORD, LPWSTR, LPDWORD);

// msi.dll is loaded on the first MSIComponentID lookup, from System32 only, and stays loaded.
// Linking it would load it, and its dependencies, into every process that loads the stub and
// into the service, whether or not any client uses Windows Installer: under Wine that is about
// 18 MB of working set per process.
ProvideQualifiedComponentFn provide_qualified_component_entry(DWORD* error) {
  static std::once_flag once;
  static ProvideQualifiedComponentFn fn = nullptr;
  static DWORD load_error = ERROR_SUCCESS;
  std::call_once(once, [] {
    HMODULE m = ::LoadLibraryExW(L"msi.dll", nullptr, LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (m == nullptr) {
      load_error = ::GetLastError();
      return;
    }
    fn = reinterpret_cast<ProvideQualifiedComponentFn>(
        reinterpret_cast<void*>(::GetProcAddress(m, "MsiProvideQualifiedComponentW")));
    if (fn == nullptr) load_error = ::GetLastError();
  });
  *error = load_error;
  return fn;
}

}  // namespace

MsiAnswer Win32MsiComponents::provide_qualified_component(std::u16string_view category,
                                                          std::u16string_view qualifier) const {
  MsiAnswer a;
  DWORD load_error = ERROR_SUCCESS;
  const ProvideQualifiedComponentFn provide = provide_qualified_component_entry(&load_error);
  if (provide == nullptr) {
    a.status = MsiStatus::kError;
    a.error = {static_cast<int>(load_error != ERROR_SUCCESS ? load_error : ERROR_PROC_NOT_FOUND), std::system_category()};
    return a;
  }
  const std::wstring c = wide(category);
  const std::wstring q = wide(qualifier);
  std::wstring buf(MAX_PATH + 1, L'\0');
  for (int attempt = 0; attempt < 3; ++attempt) {
    DWORD len = static_cast<DWORD>(buf.size());
    // INSTALLMODE_EXISTING, never INSTALLMODE_DEFAULT: this must not install or repair anything.
    const UINT rc = provide(c.c_str(), q.c_str(), INSTALLMODE_EXISTING, buf.data(), &len);
    switch (rc) {
      case ERROR_SUCCESS:
        a.status = MsiStatus::kFound;
        a.path = narrow16(std::wstring_view(buf.data(), std::min<size_t>(len, buf.size())));
        return a;
      case ERROR_MORE_DATA:
        if (len >= kMaxPathChars) {
          a.status = MsiStatus::kError;
          a.error = {static_cast<int>(rc), std::system_category()};
          return a;
        }
        buf.assign(len + 1, L'\0');
        continue;
      case ERROR_UNKNOWN_COMPONENT:
        a.status = MsiStatus::kNotInstalled;
        a.error = {static_cast<int>(rc), std::system_category()};
        return a;
      case ERROR_FILE_NOT_FOUND:
        // With INSTALLMODE_EXISTING: this qualifier's feature is absent or broken. Another
        // qualifier of the category may name another, installed, feature.
        a.status = MsiStatus::kFeatureAbsent;
        a.error = {static_cast<int>(rc), std::system_category()};
        return a;
      case ERROR_INDEX_ABSENT:
        a.status = MsiStatus::kQualifierAbsent;
        a.error = {static_cast<int>(rc), std::system_category()};
        return a;
      default:
        a.status = MsiStatus::kError;
        a.error = {static_cast<int>(rc), std::system_category()};
        return a;
    }
  }
  a.status = MsiStatus::kError;
  a.error = {ERROR_MORE_DATA, std::system_category()};
  return a;
}

std::optional<std::u16string> Win32Environment::lookup(std::u16string_view name) const {
  const std::wstring n = wide(name);
  std::wstring buf(256, L'\0');
  for (int attempt = 0; attempt < 3; ++attempt) {
    ::SetLastError(ERROR_SUCCESS);
    const DWORD len = ::GetEnvironmentVariableW(n.c_str(), buf.data(), static_cast<DWORD>(buf.size()));
    if (len == 0) {
      if (::GetLastError() == ERROR_ENVVAR_NOT_FOUND) return std::nullopt;
      return std::u16string();  // set but empty
    }
    if (len < buf.size()) return narrow16(std::wstring_view(buf.data(), len));
    buf.assign(len, L'\0');
  }
  return std::nullopt;
}

ExpandStatus Win32Environment::expand(std::u16string_view in, size_t max_chars, std::u16string* out,
                                      std::u16string* undefined) const {
  out->clear();
  undefined->clear();
  const std::wstring src = wide(in);
  const DWORD needed = ::ExpandEnvironmentStringsW(src.c_str(), nullptr, 0);
  if (needed == 0 || needed - 1 > max_chars) {
    // Beyond what the API expands (32K) or what the caller accepts.
    return needed == 0 ? Environment::expand(in, max_chars, out, undefined) : ExpandStatus::kTooLong;
  }
  std::wstring buf(needed, L'\0');
  const DWORD got = ::ExpandEnvironmentStringsW(src.c_str(), buf.data(), needed);
  if (got == 0 || got > needed) return Environment::expand(in, max_chars, out, undefined);
  *out = narrow16(std::wstring_view(buf.data(), got - 1));
  const std::vector<std::u16string> missing = undefined_variables(*this, in, 1);
  if (!missing.empty()) {
    *undefined = missing.front();
    return ExpandStatus::kUndefined;
  }
  return ExpandStatus::kOk;
}

std::u16string system_directory() {
  wchar_t buf[MAX_PATH + 1];
  const UINT n = ::GetSystemDirectoryW(buf, MAX_PATH + 1);
  if (n == 0 || n > MAX_PATH) return {};
  return narrow16(std::wstring_view(buf, n));
}

std::vector<std::u16string> default_stub_paths() {
  std::vector<std::u16string> paths;
  const std::u16string sys = system_directory();
  if (!sys.empty()) paths.push_back(sys + u"\\mapi32.dll");
  const std::u16string wow64 = wow64_system_directory();
  if (!wow64.empty()) paths.push_back(wow64 + u"\\mapi32.dll");
  return paths;
}

namespace {

// The registry a live resolution reads: the user's reads shared with the scope's other resolution
// (ResolverOptions::user_reads), the HKLM reads recorded (ResolverOptions::machine_reads), else
// the registry itself.
class LiveRegistry {
 public:
  explicit LiveRegistry(const ResolverOptions& options)
      : cached_(live_, options.user_reads),
        base_(options.user_reads ? static_cast<const Registry&>(cached_) : live_),
        recording_(base_, RegRoot::kLocalMachine, options.machine_reads),
        registry_(options.machine_reads ? static_cast<const Registry&>(recording_) : base_) {}
  LiveRegistry(const LiveRegistry&) = delete;
  LiveRegistry& operator=(const LiveRegistry&) = delete;
  const Registry& get() const { return registry_; }

 private:
  const Win32Registry live_;
  const CachingRegistry cached_;
  const Registry& base_;
  const RecordingRegistry recording_;
  const Registry& registry_;
};

}  // namespace

ResolveStatus resolve_live(const ScopeRequest& request, ResolverOptions options, ScopeResolution* out,
                           Explanation* explanation) noexcept {
  try {
    if (options.system_directory.empty()) options.system_directory = system_directory();
    if (options.stub_paths.empty()) options.stub_paths = default_stub_paths();
    const LiveRegistry live_registry(options);
    const Registry& registry = live_registry.get();
    const Win32FileSystem files;
    const Win32MsiComponents msi;
    if (request.kind == ScopeKind::kUser && request.user_hive.root == RegRoot::kUsers) {
      // Another user's hive (the service): this process's variables are not that user's.
      MapEnvironment env = options.machine_environments ? options.machine_environments->native
                                                         : make_machine_environment(registry, options.process_machine);
      add_user_environment(registry, request.user_hive, request.sid, &env);
      return resolve_scope(request, ResolverServices{registry, files, msi, env}, options, out, explanation);
    }
    const Win32Environment env;
    return resolve_scope(request, ResolverServices{registry, files, msi, env}, options, out, explanation);
  } catch (const std::bad_alloc&) {
    return ResolveStatus::kOutOfMemory;
  } catch (...) {
    return ResolveStatus::kInternalError;
  }
}

std::u16string wow64_system_directory() {
  wchar_t buf[MAX_PATH + 1];
  const UINT n = ::GetSystemWow64DirectoryW(buf, MAX_PATH + 1);
  if (n == 0 || n > MAX_PATH) return {};
  return narrow16(std::wstring_view(buf, n));
}

ResolveStatus resolve_live_wow64(const ScopeRequest& request, ResolverOptions options, ScopeResolution* out,
                                 Explanation* explanation) noexcept {
  try {
    wchar_t windows[MAX_PATH + 1];
    const UINT n = ::GetSystemWindowsDirectoryW(windows, MAX_PATH + 1);
    if (n == 0 || n > MAX_PATH) return ResolveStatus::kInternalError;
    options.view = RegView::k32;
    options.system_directory = wow64_system_directory();
    if (options.system_directory.empty()) return ResolveStatus::kInternalError;  // not 64-bit Windows
    if (options.stub_paths.empty()) options.stub_paths = default_stub_paths();
    const LiveRegistry live_registry(options);
    const Registry& registry = live_registry.get();
    const Win32FileSystem native_files;
    const Wow64FileSystem files(native_files, narrow16(std::wstring_view(windows, n)));
    const Win32MsiComponents msi;
    const HivePath* user = request.kind == ScopeKind::kUser ? &request.user_hive : nullptr;
    MapEnvironment env = options.machine_environments ? options.machine_environments->x86
                                                       : make_machine_environment(registry, PeMachine::kI386);
    if (user != nullptr) add_user_environment(registry, *user, request.sid, &env);
    return resolve_scope(request, ResolverServices{registry, files, msi, env}, options, out, explanation);
  } catch (const std::bad_alloc&) {
    return ResolveStatus::kOutOfMemory;
  } catch (...) {
    return ResolveStatus::kInternalError;
  }
}

}  // namespace mapidispatch::win32
