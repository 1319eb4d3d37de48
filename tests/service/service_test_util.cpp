// Copyright MapiDispatch authors.

#include "service_test_util.h"

#include "../support/win_process.h"

#include <tlhelp32.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef MAPIDISPATCH_EXE
#error "MAPIDISPATCH_EXE must name the built mapidispatch.exe"
#endif

namespace mapidispatch::test {
namespace {

std::wstring widen(const std::string& s) {
  std::wstring w;
  for (const char c : s) w += static_cast<wchar_t>(static_cast<unsigned char>(c));
  return w;
}

std::wstring quote(const std::wstring& s) {
  if (!s.empty() && s.find_first_of(L" \t\"") == std::wstring::npos) return s;
  std::wstring q = L"\"";
  for (const wchar_t c : s) {
    if (c == L'"') q += L'\\';
    q += c;
  }
  return q + L"\"";
}

struct ScHandle {
  SC_HANDLE h = nullptr;
  explicit ScHandle(SC_HANDLE x) : h(x) {}
  ~ScHandle() {
    if (h) ::CloseServiceHandle(h);
  }
  ScHandle(const ScHandle&) = delete;
  ScHandle& operator=(const ScHandle&) = delete;
};

}  // namespace

std::wstring mapidispatch_exe() {
  std::string p = MAPIDISPATCH_EXE;
  if (!p.empty() && p[0] == '/') {
    // A host path under Wine: the Z: drive maps the host's root.
    for (char& c : p)
      if (c == '/') c = '\\';
    p = "Z:" + p;
  }
  return widen(p);
}

std::string win_error_text(const char* op, DWORD code) {
  char buf[512] = {};
  DWORD n = ::FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0, buf,
                             sizeof buf, nullptr);
  while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';  // the message's line end
  return std::string(op) + " failed: " + std::to_string(code) + " " + buf;
}

int run_mapidispatch(const std::vector<std::wstring>& args, std::string* output, std::chrono::milliseconds timeout) {
  return run_program(mapidispatch_exe(), args, output, timeout);
}

int run_program(const std::wstring& exe, const std::vector<std::wstring>& args, std::string* output,
                std::chrono::milliseconds timeout) {
  static std::atomic<int> counter{0};
  wchar_t temp[MAX_PATH];
  ::GetTempPathW(MAX_PATH, temp);
  const std::wstring out_path = std::wstring(temp) + L"md-test-out-" + std::to_wstring(::GetCurrentProcessId()) + L"-" +
                                std::to_wstring(counter++) + L".txt";
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
  HANDLE file = ::CreateFileW(out_path.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, CREATE_ALWAYS,
                              FILE_ATTRIBUTE_NORMAL, nullptr);
  if (file == INVALID_HANDLE_VALUE) return -1;
  std::wstring cmd = quote(exe);
  for (const auto& a : args) cmd += L" " + quote(a);
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdOutput = file;
  si.hStdError = file;
  si.hStdInput = nullptr;
  PROCESS_INFORMATION pi{};
  const bool started = test::create_process_retrying(cmd, true, &si, &pi);
  ::CloseHandle(file);
  if (!started) {
    if (output) *output = win_error_text("CreateProcess", ::GetLastError());
    return -1;
  }
  ::CloseHandle(pi.hThread);
  DWORD code = static_cast<DWORD>(-1);
  if (::WaitForSingleObject(pi.hProcess, static_cast<DWORD>(timeout.count())) == WAIT_OBJECT_0) {
    ::GetExitCodeProcess(pi.hProcess, &code);
  } else {
    ::TerminateProcess(pi.hProcess, 1);
  }
  ::CloseHandle(pi.hProcess);
  if (output) {
    *output = read_text_file(out_path);
  }
  ::DeleteFileW(out_path.c_str());
  return static_cast<int>(code);
}

std::string read_text_file(const std::wstring& path) {
  std::ifstream in(std::filesystem::path(path), std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout, std::chrono::milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

// ---- TestService ---------------------------------------------------------------------------

TestService::TestService(const std::string& stem, DWORD debounce_ms) {
  static std::atomic<int> counter{0};
  const std::string unique = stem + "." + std::to_string(::GetCurrentProcessId()) + "." + std::to_string(counter++);
  name_ = widen("MapiDispatchTest." + unique);
  section_ = "Local\\MapiDispatchTest." + unique;
  std::string out;
  const int rc = run_mapidispatch({L"install", L"--service-name", name_, L"--section", widen(section_), L"--start", L"demand"},
                                  &out);
  if (rc != 0) {
    error_ = "install exited " + std::to_string(rc) + ": " + out;
    return;
  }
  installed_ = true;
  if (!set_parameter(L"DebounceMs", debounce_ms)) error_ = "cannot write DebounceMs";
}

TestService::~TestService() {
  if (!installed_) return;
  std::string out;
  const int rc = run_mapidispatch({L"uninstall", L"--service-name", name_}, &out);
  if (rc != 0) std::fprintf(stderr, "teardown: uninstall exited %d: %s\n", rc, out.c_str());
}

std::wstring TestService::parameters_key() const { return L"SYSTEM\\CurrentControlSet\\Services\\" + name_ + L"\\Parameters"; }
std::wstring TestService::state_key() const { return L"SYSTEM\\CurrentControlSet\\Services\\" + name_ + L"\\State"; }

bool TestService::set_parameter(const wchar_t* name, DWORD value) {
  return reg_set_dword(HKEY_LOCAL_MACHINE, parameters_key(), name, value);
}

DWORD TestService::state(DWORD* pid) const {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm.h) return 0;
  ScHandle svc(::OpenServiceW(scm.h, name_.c_str(), SERVICE_QUERY_STATUS));
  if (!svc.h) return 0;
  SERVICE_STATUS_PROCESS sp{};
  DWORD needed = 0;
  if (!::QueryServiceStatusEx(svc.h, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&sp), sizeof sp, &needed)) return 0;
  if (pid) *pid = sp.dwProcessId;
  return sp.dwCurrentState;
}

std::string TestService::start(std::chrono::milliseconds timeout) {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm.h) return win_error_text("OpenSCManager", ::GetLastError());
  ScHandle svc(::OpenServiceW(scm.h, name_.c_str(), SERVICE_START | SERVICE_QUERY_STATUS));
  if (!svc.h) return win_error_text("OpenService", ::GetLastError());
  if (!::StartServiceW(svc.h, 0, nullptr) && ::GetLastError() != ERROR_SERVICE_ALREADY_RUNNING)
    return win_error_text("StartService", ::GetLastError());
  DWORD s = 0;
  const bool running = wait_until(
      [&] {
        s = state(&last_pid_);
        return s == SERVICE_RUNNING || s == SERVICE_STOPPED;
      },
      timeout, std::chrono::milliseconds(20));
  if (s == SERVICE_RUNNING) return {};
  return running ? "the service stopped during start-up" : "the service did not reach RUNNING in time (state " +
                                                               std::to_string(s) + ")";
}

std::string TestService::control(DWORD code) {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm.h) return win_error_text("OpenSCManager", ::GetLastError());
  ScHandle svc(::OpenServiceW(scm.h, name_.c_str(),
                              SERVICE_STOP | SERVICE_USER_DEFINED_CONTROL | SERVICE_PAUSE_CONTINUE | SERVICE_QUERY_STATUS));
  if (!svc.h) return win_error_text("OpenService", ::GetLastError());
  SERVICE_STATUS st{};
  if (!::ControlService(svc.h, code, &st)) return win_error_text("ControlService", ::GetLastError());
  return {};
}

std::string TestService::stop(std::chrono::milliseconds timeout) {
  DWORD pid = 0;
  state(&pid);
  if (std::string e = control(SERVICE_CONTROL_STOP); !e.empty()) return e;
  if (!wait_until([&] { return state() == SERVICE_STOPPED; }, timeout, std::chrono::milliseconds(20)))
    return "the service did not reach STOPPED in time";
  // The process ends right after reporting STOPPED; a restart must not race it.
  HANDLE h = ::OpenProcess(SYNCHRONIZE, FALSE, pid);
  if (h) {
    ::WaitForSingleObject(h, 30000);
    ::CloseHandle(h);
  }
  return {};
}

bool TestService::wait_process_exit(std::chrono::milliseconds timeout) {
  DWORD pid = last_pid_;
  if (pid == 0) state(&pid);
  HANDLE h = ::OpenProcess(SYNCHRONIZE, FALSE, pid);
  if (!h) return true;
  const bool done = ::WaitForSingleObject(h, static_cast<DWORD>(timeout.count())) == WAIT_OBJECT_0;
  ::CloseHandle(h);
  return done;
}

std::string TestService::kill() {
  DWORD pid = 0;
  if (state(&pid) != SERVICE_RUNNING || pid == 0) return "the service is not running";
  HANDLE h = ::OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, FALSE, pid);
  if (!h) return win_error_text("OpenProcess", ::GetLastError());
  ::TerminateProcess(h, 9);
  const bool gone = ::WaitForSingleObject(h, 30000) == WAIT_OBJECT_0;
  ::CloseHandle(h);
  if (!gone) return "the killed process did not end";
  // Windows' SCM sees the death (and its recovery action restarts the service after 5 s);
  // Wine's keeps reporting RUNNING but starts the service again on StartService. Either way
  // start() works next; give the SCM a moment to notice, without requiring it.
  wait_until([&] { return state() != SERVICE_RUNNING; }, std::chrono::seconds(2), std::chrono::milliseconds(20));
  return {};
}

// ---- TableProbe ----------------------------------------------------------------------------

bool TableProbe::open(std::chrono::milliseconds timeout) {
  return wait_until([&] { return !ReadOnlySection::open(section_, &mapping_); }, timeout, std::chrono::milliseconds(10));
}

TableError TableProbe::read(TableSnapshot* snap, TableView view) const {
  if (!mapping_) return TableError::kNotInitialized;
  return TableReader(mapping_->bytes()).read_all(snap, {}, view);
}

TableError TableProbe::read_scope(std::u16string_view sid, TableSnapshot* snap, TableView view) const {
  if (!mapping_) return TableError::kNotInitialized;
  return TableReader(mapping_->bytes()).read(sid, snap, {}, view);
}

uint32_t TableProbe::sequence() const { return mapping_ ? TableReader(mapping_->bytes()).sequence() : 0; }

uint64_t TableProbe::generation() const {
  TableSnapshot s;
  const TableError e = read(&s);
  return (e == TableError::kOk || e == TableError::kWriterStopped) ? s.info.generation : 0;
}

bool TableProbe::wait_generation_above(uint64_t above, std::chrono::milliseconds timeout, TableSnapshot* snap,
                                       const std::function<bool(const TableSnapshot&)>& pred) const {
  TableSnapshot local;
  TableSnapshot* s = snap ? snap : &local;
  return wait_until(
      [&] { return read(s) == TableError::kOk && s->info.generation > above && (!pred || pred(*s)); }, timeout,
      std::chrono::milliseconds(2));
}

// ---- Registry ------------------------------------------------------------------------------

bool reg_set_sz(HKEY root, const std::wstring& key, const wchar_t* name, const std::wstring& value) {
  HKEY k = nullptr;
  if (::RegCreateKeyExW(root, key.c_str(), 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, &k, nullptr) !=
      ERROR_SUCCESS)
    return false;
  const LSTATUS rc = ::RegSetValueExW(k, name, 0, REG_SZ, reinterpret_cast<const BYTE*>(value.c_str()),
                                      static_cast<DWORD>((value.size() + 1) * sizeof(wchar_t)));
  ::RegCloseKey(k);
  return rc == ERROR_SUCCESS;
}

bool reg_set_dword(HKEY root, const std::wstring& key, const wchar_t* name, DWORD value) {
  HKEY k = nullptr;
  if (::RegCreateKeyExW(root, key.c_str(), 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, &k, nullptr) !=
      ERROR_SUCCESS)
    return false;
  const LSTATUS rc = ::RegSetValueExW(k, name, 0, REG_DWORD, reinterpret_cast<const BYTE*>(&value), sizeof value);
  ::RegCloseKey(k);
  return rc == ERROR_SUCCESS;
}

bool reg_delete_tree(HKEY root, const std::wstring& key) {
  const LSTATUS rc = ::RegDeleteTreeW(root, key.c_str());
  if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND) return false;
  const LSTATUS rc2 = ::RegDeleteKeyExW(root, key.c_str(), KEY_WOW64_64KEY, 0);
  return rc2 == ERROR_SUCCESS || rc2 == ERROR_FILE_NOT_FOUND;
}

bool reg_delete_value(HKEY root, const std::wstring& key, const wchar_t* name) {
  HKEY k = nullptr;
  const LSTATUS opened = ::RegOpenKeyExW(root, key.c_str(), 0, KEY_SET_VALUE | KEY_WOW64_64KEY, &k);
  if (opened == ERROR_FILE_NOT_FOUND) return true;
  if (opened != ERROR_SUCCESS) return false;
  const LSTATUS rc = ::RegDeleteValueW(k, name);
  ::RegCloseKey(k);
  return rc == ERROR_SUCCESS || rc == ERROR_FILE_NOT_FOUND;
}

std::wstring system_dll(const wchar_t* name) {
  wchar_t sys[MAX_PATH];
  const UINT n = ::GetSystemDirectoryW(sys, MAX_PATH);
  return std::wstring(sys, n) + L"\\" + name;
}

bool service_counter(TestService& svc, const wchar_t* name, uint64_t* value) {
  auto read = [&] {
    HKEY k = nullptr;
    if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, svc.state_key().c_str(), 0, KEY_QUERY_VALUE | KEY_SET_VALUE | KEY_WOW64_64KEY,
                        &k) != ERROR_SUCCESS)
      return false;
    DWORD type = 0, size = sizeof *value;
    const LSTATUS rc = ::RegQueryValueExW(k, name, nullptr, &type, reinterpret_cast<BYTE*>(value), &size);
    ::RegCloseKey(k);
    return rc == ERROR_SUCCESS && type == REG_QWORD;
  };
  // The old value goes first, so that what is read below is the answer to this request.
  reg_delete_value(HKEY_LOCAL_MACHINE, svc.state_key(), name);
  if (!svc.control(129).empty()) return false;
  return wait_until(read, std::chrono::seconds(10));
}

long process_handle_count(DWORD pid) {
  if (HANDLE process = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid)) {
    DWORD n = 0;
    const BOOL ok = ::GetProcessHandleCount(process, &n);
    ::CloseHandle(process);
    if (ok && n != 0) return static_cast<long>(n);
  }
  // Every handle of the system, with its owner (Wine implements this class; it answers
  // GetProcessHandleCount for another process with 0).
  struct Entry {
    ULONG owner_pid;
    BYTE object_type, flags;
    USHORT handle;
    void* object;
    ACCESS_MASK access;
  };
  struct Info {
    ULONG count;
    Entry entries[1];
  };
  using Query = LONG(WINAPI*)(ULONG, void*, ULONG, ULONG*);
  const auto query = reinterpret_cast<Query>(
      reinterpret_cast<void*>(::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "NtQuerySystemInformation")));
  if (query == nullptr) return -1;
  constexpr ULONG kSystemHandleInformation = 16;
  constexpr LONG kInfoLengthMismatch = static_cast<LONG>(0xC0000004);
  std::vector<std::byte> buf(1 << 20);
  for (int attempt = 0; attempt < 8; ++attempt) {
    ULONG needed = 0;
    const LONG status = query(kSystemHandleInformation, buf.data(), static_cast<ULONG>(buf.size()), &needed);
    if (status == kInfoLengthMismatch) {
      buf.resize(std::max<size_t>(buf.size() * 2, needed + 65536));
      continue;
    }
    if (status < 0) return -1;
    const auto* info = reinterpret_cast<const Info*>(buf.data());
    long n = 0;
    for (ULONG i = 0; i < info->count; ++i) n += info->entries[i].owner_pid == pid;
    return n;
  }
  return -1;
}

int process_thread_count(DWORD pid) {
  HANDLE snap = ::CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
  if (snap == INVALID_HANDLE_VALUE) return -1;
  THREADENTRY32 te{};
  te.dwSize = sizeof te;
  int n = 0;
  for (BOOL ok = ::Thread32First(snap, &te); ok; ok = ::Thread32Next(snap, &te)) n += te.th32OwnerProcessID == pid;
  ::CloseHandle(snap);
  return n;
}

bool enable_hive_privileges() {
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token)) return false;
  for (const wchar_t* priv : {SE_RESTORE_NAME, SE_BACKUP_NAME}) {
    TOKEN_PRIVILEGES tp{};
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    ::LookupPrivilegeValueW(nullptr, priv, &tp.Privileges[0].Luid);
    ::AdjustTokenPrivileges(token, FALSE, &tp, 0, nullptr, nullptr);
  }
  ::CloseHandle(token);
  return true;
}

std::string make_hive_file(const std::wstring& client, const std::wstring& hive, const std::wstring& dll,
                           const std::wstring& client2) {
  // Built in a scratch key of this user's hive, saved, deleted.
  const std::wstring scratch = L"Software\\MapiDispatchTest\\Hive." + std::to_wstring(::GetCurrentProcessId());
  bool ok = reg_set_sz(HKEY_CURRENT_USER, scratch + L"\\Software\\MapiDispatchTest", L"", L"a user hive");
  if (!client.empty()) {
    ok = ok && reg_set_sz(HKEY_CURRENT_USER, scratch + L"\\Software\\Clients\\Mail", L"", client) &&
         reg_set_sz(HKEY_CURRENT_USER, scratch + L"\\Software\\Clients\\Mail\\" + client, L"DLLPath", dll);
    if (!client2.empty())
      ok = ok && reg_set_sz(HKEY_CURRENT_USER, scratch + L"\\Software\\Clients\\Mail\\" + client2, L"DLLPath", dll);
  }
  if (!ok) {
    reg_delete_tree(HKEY_CURRENT_USER, scratch);
    return "writing the scratch key failed";
  }
  ::DeleteFileW(hive.c_str());
  HKEY k = nullptr;
  if (::RegOpenKeyExW(HKEY_CURRENT_USER, scratch.c_str(), 0, KEY_READ, &k) != ERROR_SUCCESS) return "cannot open the scratch key";
  const LSTATUS saved = ::RegSaveKeyW(k, hive.c_str(), nullptr);
  ::RegCloseKey(k);
  reg_delete_tree(HKEY_CURRENT_USER, scratch);
  return saved == ERROR_SUCCESS ? std::string() : win_error_text("RegSaveKey", static_cast<DWORD>(saved));
}

}  // namespace mapidispatch::test
