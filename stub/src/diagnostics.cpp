// Copyright MapiDispatch authors.

#include "diagnostics.h"

#include <windows.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "mapidispatch/text.h"
#include "srw_lock.h"

namespace mapidispatch::stub {
namespace {

// Constant-initialized, nothing to construct or destroy: no function-local static, whose guard
// would start winpthreads on a process's first call (binding.cpp, g()).
struct Diagnostics {
  std::atomic<bool> prefirstrun_shown{false};
  SrwLock trace_lock;
  // MAPIDISPATCH_TRACE, read once, on the first slow path that asks.
  INIT_ONCE trace_once = INIT_ONCE_STATIC_INIT;
  wchar_t trace_path[1024] = {};
};
constinit Diagnostics g_diagnostics;

Diagnostics& diagnostics() { return g_diagnostics; }

}  // namespace

std::wstring env_var(const wchar_t* name) {
  wchar_t buf[1024];
  const DWORD n = ::GetEnvironmentVariableW(name, buf, 1024);
  if (n == 0 || n >= 1024) return {};
  return std::wstring(buf, n);
}

std::string narrow(const std::wstring& w) { return text::utf16_to_utf8(std::u16string_view(reinterpret_cast<const char16_t*>(w.data()), w.size())); }

void prefirstrun_once(const Decision& d) noexcept {
  if (diagnostics().prefirstrun_shown.exchange(true)) return;
  try {
    if (d.prefirstrun_message.empty()) return;
    trace("prefirstrun: " + narrow(d.prefirstrun_message) + " | " + narrow(d.prefirstrun_caption));
    // Never in session 0 (services) and never on an invisible window station: nobody could
    // answer the box, and the call would hang. user32 is loaded only here, so the stub does not
    // bring it into processes (services, consoles) that never show this box.
    DWORD session = 0;
    if (!::ProcessIdToSessionId(::GetCurrentProcessId(), &session) || session == 0) return;
    if (env_var(L"MAPIDISPATCH_NO_UI") == L"1") return;
    HMODULE user32 = ::LoadLibraryExW(L"user32.dll", nullptr, LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (user32 == nullptr) return;
    using GetWinsta = HWINSTA(WINAPI*)();
    using GetObjectInfo = BOOL(WINAPI*)(HANDLE, int, PVOID, DWORD, LPDWORD);
    using MsgBox = int(WINAPI*)(HWND, LPCWSTR, LPCWSTR, UINT);
    const auto get_winsta = reinterpret_cast<GetWinsta>(reinterpret_cast<void*>(::GetProcAddress(user32, "GetProcessWindowStation")));
    const auto get_info = reinterpret_cast<GetObjectInfo>(reinterpret_cast<void*>(::GetProcAddress(user32, "GetUserObjectInformationW")));
    const auto message_box = reinterpret_cast<MsgBox>(reinterpret_cast<void*>(::GetProcAddress(user32, "MessageBoxW")));
    if (get_winsta == nullptr || get_info == nullptr || message_box == nullptr) return;
    HWINSTA ws = get_winsta();
    USEROBJECTFLAGS flags{};
    if (ws == nullptr || !get_info(ws, UOI_FLAGS, &flags, sizeof flags, nullptr) || (flags.dwFlags & WSF_VISIBLE) == 0)
      return;
    message_box(nullptr, d.prefirstrun_message.c_str(),
                d.prefirstrun_caption.empty() ? L"Mail" : d.prefirstrun_caption.c_str(),
                MB_OK | MB_ICONINFORMATION | MB_SETFOREGROUND);
  } catch (...) {
  }
}

namespace {
// MAPIDISPATCH_TRACE, or "" (unset, or longer than 1023 characters, as env_var()).
BOOL CALLBACK read_trace_path(PINIT_ONCE, PVOID, PVOID*) {
  const DWORD n = ::GetEnvironmentVariableW(L"MAPIDISPATCH_TRACE", g_diagnostics.trace_path, 1024);
  if (n == 0 || n >= 1024) g_diagnostics.trace_path[0] = L'\0';
  return TRUE;
}
const wchar_t* trace_path() noexcept {
  ::InitOnceExecuteOnce(&g_diagnostics.trace_once, &read_trace_path, nullptr, nullptr);
  return g_diagnostics.trace_path;
}
int64_t ticks() noexcept {
  LARGE_INTEGER c;
  ::QueryPerformanceCounter(&c);
  return c.QuadPart;
}
// The time the trace itself has taken in this process (writing lines, formatting the phases),
// counted only when tracing.
std::atomic<int64_t> g_trace_ticks{0};
}  // namespace

bool trace_enabled() noexcept { return trace_path()[0] != L'\0'; }

PhaseClock::PhaseClock(bool on) noexcept : on_(on) {
  if (on_) last_ = ticks();
}

void PhaseClock::lap_slow(Phase phase) noexcept {
  const int64_t t = ticks();
  spent_[phase] += t - last_;
  last_ = t;
}

namespace {
std::string microseconds(int64_t t) {
  LARGE_INTEGER freq;
  ::QueryPerformanceFrequency(&freq);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f us", static_cast<double>(t) * 1e6 / static_cast<double>(freq.QuadPart));
  return buf;
}
}  // namespace

std::string PhaseClock::describe() const {
  static constexpr const char* kNames[kCount] = {"settings", "user-sid", "table-open", "trust", "table-read",
                                                 "registry", "decide", "provider-load", "publish", "trace"};
  const int64_t start = ticks();
  std::string s = "phases:";
  for (int i = 0; i < kCount; ++i) s += std::string(i ? ", " : " ") + kNames[i] + " " + microseconds(spent_[i]);
  s += ", bind " + total() + "; trace writes so far " + microseconds(g_trace_ticks.load(std::memory_order_relaxed));
  // Formatting this is the trace's own work too (counted from the next line on).
  g_trace_ticks.fetch_add(ticks() - start, std::memory_order_relaxed);
  return s;
}

std::string PhaseClock::total() const {
  int64_t sum = 0;
  for (const int64_t t : spent_) sum += t;
  return microseconds(sum);
}

void trace(const std::string& line) noexcept {
  try {
    const wchar_t* path = trace_path();
    if (path[0] == L'\0') return;
    const int64_t start = ticks();
    std::lock_guard<SrwLock> hold(diagnostics().trace_lock);
    HANDLE f = ::CreateFileW(path, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                             OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (f != INVALID_HANDLE_VALUE) {
      const std::string text = "[" + std::to_string(::GetCurrentProcessId()) + "] " + line + "\r\n";
      DWORD written = 0;
      ::WriteFile(f, text.data(), static_cast<DWORD>(text.size()), &written, nullptr);
      ::CloseHandle(f);
    }
    g_trace_ticks.fetch_add(ticks() - start, std::memory_order_relaxed);
  } catch (...) {
  }
}

}  // namespace mapidispatch::stub
