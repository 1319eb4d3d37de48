// Copyright MapiDispatch authors.
//
// The stub against the dependency fixtures (CMakeLists.txt here: providers that exist, have this
// process's machine and every export, and load or not because of a DLL they import), x64 and x86
// (under Wine's WoW64), in registry mode (MAPIDISPATCH_MODE=registry: HKCU's default client names
// the fixture). Each case runs in a fresh process, which first loads the provider itself,
// LoadLibraryExW(provider, nullptr, LOAD_WITH_ALTERED_SEARCH_PATH), and frees it, then calls
// MAPISendMail and MAPIInitialize through the stub:
// - the direct load failed: the stub's calls fail as Windows' stub fails them for a provider that
//   does not load (MAPI_E_FAILURE, MAPI_E_CALL_FAILED), and the trace's line (and the debugger's,
//   OutputDebugStringW, read here as DebugView reads it: the DBWIN_BUFFER section) names the
//   loader's error and the DLL that is missing or of the wrong machine, and who imports it;
// - the direct load succeeded: the stub's calls reach the provider (MAPISendMail returns 0 and
//   the provider is loaded from that folder).
// What the direct load gives is also checked against what each fixture is built to do, except for
// wrong_then_right, where it is the loader's choice (printed).

#include <gtest/gtest.h>

#include <windows.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../stub/stub_world.h"
#include "dep_fixtures.h"
#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

std::string utf8(const std::wstring& w) { return text::utf16_to_utf8(std::u16string(w.begin(), w.end())); }
std::string bits() { return sizeof(void*) == 8 ? "x64" : "x86"; }
#if defined(_WIN64)
constexpr const char* kOtherMachineName = "x86";
#else
constexpr const char* kOtherMachineName = "x64";
#endif

// What a DebugView-style monitor receives: the DBWIN_BUFFER protocol (a 4 KiB section holding the
// sender's pid and its ANSI text, handed over with two events), this process's lines only.
class DebugMonitor {
 public:
  DebugMonitor() {
    buffer_ready_ = CreateEventW(nullptr, FALSE, FALSE, L"DBWIN_BUFFER_READY");
    if (GetLastError() == ERROR_ALREADY_EXISTS) return;  // another monitor: leave it alone
    data_ready_ = CreateEventW(nullptr, FALSE, FALSE, L"DBWIN_DATA_READY");
    mapping_ = CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0, 4096, L"DBWIN_BUFFER");
    if (buffer_ready_ == nullptr || data_ready_ == nullptr || mapping_ == nullptr) return;
    view_ = static_cast<const char*>(MapViewOfFile(mapping_, FILE_MAP_READ, 0, 0, 4096));
    if (view_ == nullptr) return;
    thread_ = std::thread([this] { run(); });
  }
  ~DebugMonitor() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (view_ != nullptr) UnmapViewOfFile(view_);
    for (HANDLE h : {mapping_, data_ready_, buffer_ready_})
      if (h != nullptr) CloseHandle(h);
  }
  bool listening() const { return thread_.joinable(); }
  std::string text() {
    std::lock_guard<std::mutex> hold(lock_);
    return text_;
  }

 private:
  void run() {
    SetEvent(buffer_ready_);
    while (!stop_) {
      if (WaitForSingleObject(data_ready_, 50) != WAIT_OBJECT_0) continue;
      DWORD pid = 0;
      std::memcpy(&pid, view_, sizeof pid);
      if (pid == GetCurrentProcessId()) {
        std::lock_guard<std::mutex> hold(lock_);
        text_.append(view_ + sizeof pid, strnlen(view_ + sizeof pid, 4096 - sizeof pid));
      }
      SetEvent(buffer_ready_);
    }
  }
  HANDLE buffer_ready_ = nullptr, data_ready_ = nullptr, mapping_ = nullptr;
  const char* view_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex lock_;
  std::string text_;
  std::thread thread_;
};

enum class Load { kFails, kLoads, kLoaderDecides };

struct Case {
  const char* name;
  Load load;
  // For a failed load: what the stub's line must say besides the error (UTF-8; `{dir}` is this
  // case's folder, `{other}` the other machine's name).
  std::vector<std::string> says;
};

const Case kCases[] = {
    {"missing", Load::kFails, {"depprov.dll imports mdnotthere1.dll: not found in {dir}, "}},
    {"own_folder", Load::kLoads, {}},
    {"wrong_bitness", Load::kFails,
     {"depprov.dll imports mdhelper2.dll: ", "{dir}\\mdhelper2.dll", "an {other} DLL", "cannot load"}},
    {"wrong_then_right", Load::kLoaderDecides,
     {"depprov.dll imports mdhelper2.dll: ", "{dir}\\mdhelper2.dll", "an {other} DLL", "cannot load"}},
    {"chain", Load::kFails, {"depprov.dll -> mdlevel1.dll imports mdlevel2missing.dll: not found in {dir}, "}},
    {"delay", Load::kLoads, {}},
    {"apiset", Load::kLoads, {}},
};

const Case* find_case(const std::string& name) {
  for (const Case& c : kCases)
    if (name == c.name) return &c;
  return nullptr;
}

std::string expand(std::string s, const std::string& dir) {
  for (size_t p; (p = s.find("{dir}")) != std::string::npos;) s.replace(p, 5, dir);
  for (size_t p; (p = s.find("{other}")) != std::string::npos;) s.replace(p, 7, kOtherMachineName);
  return s;
}

bool contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return true;
  std::fprintf(stderr, "expected to find: %s\n", needle.c_str());
  return false;
}

MD_CHILD_MAIN(deps_case) {
  const Case* c = args.empty() ? nullptr : find_case(args[0]);
  if (c == nullptr) return 97;
  World w;
  SetEnvironmentVariableW(L"MAPIDISPATCH_MODE", L"registry");
  const std::wstring dir = std::wstring(MD_DEPS_DIR) + L"\\" + std::wstring(c->name, c->name + std::strlen(c->name));
  const std::wstring provider = dir + L"\\" + MD_DEPS_PROVIDER;
  if (std::string(c->name) == "wrong_then_right") {
    // The right-machine mdhelper2.dll, on this process's PATH: after the provider's folder.
    std::wstring old(32767, L'\0');
    const DWORD n = GetEnvironmentVariableW(L"PATH", old.data(), static_cast<DWORD>(old.size()));
    old.resize(n < old.size() ? n : 0);
    SetEnvironmentVariableW(L"PATH", (dir + L"\\path;" + old).c_str());
  }
  test::HkcuMailClient client(L"MapiDispatch Deps Test", provider);
  DebugMonitor debugger;

  // The loader's own verdict, in this process, with the stub's flags.
  HMODULE direct = LoadLibraryExW(provider.c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  const DWORD direct_error = direct != nullptr ? 0 : GetLastError();
  std::string helper_from;
  if (direct != nullptr) {
    if (HMODULE h = GetModuleHandleW(L"mdhelper2.dll")) {
      wchar_t buf[MAX_PATH];
      helper_from = utf8(std::wstring(buf, GetModuleFileNameW(h, buf, MAX_PATH)));
    }
    FreeLibrary(direct);
  }
  CHECK_THAT(GetModuleHandleW(provider.c_str()) == nullptr);  // the stub loads it afresh
  std::printf("%s %s: LoadLibraryExW(LOAD_WITH_ALTERED_SEARCH_PATH): %s%s%s\n", bits().c_str(), c->name,
              direct != nullptr ? "loaded" : ("error " + std::to_string(direct_error)).c_str(),
              helper_from.empty() ? "" : "; mdhelper2.dll from ", helper_from.c_str());
  if (c->load == Load::kFails) CHECK_THAT(direct == nullptr);
  if (c->load == Load::kLoads) CHECK_THAT(direct != nullptr);

  // The stub.
  const ULONG sent = send(w, "deps");
  const HRESULT initialized = w.by_name<Initialize>("MAPIInitialize")(nullptr);
  if (SUCCEEDED(initialized)) w.by_name<Uninitialize>("MAPIUninitialize")();
  const std::string trace = w.trace();
  if (direct != nullptr) {
    CHECK_EQ_U(sent, 0u);  // the provider's answer
    CHECK_EQ_U(static_cast<uint32_t>(initialized), 0u);
    CHECK_THAT(GetModuleHandleW(provider.c_str()) != nullptr);
    CHECK_THAT(contains(trace, "bind simple: " + utf8(provider) + " via registry (forced)"));
    CHECK_THAT(trace.find("LoadLibraryEx failed") == std::string::npos);
    if (std::string(c->name) == "wrong_then_right") {
      // Loaded: the right-machine copy on PATH served, for the stub's load as for the direct one.
      CHECK_THAT(contains(helper_from, utf8(dir) + "\\path\\mdhelper2.dll"));
      wchar_t buf[MAX_PATH];
      HMODULE h = GetModuleHandleW(L"mdhelper2.dll");
      CHECK_THAT(h != nullptr && contains(utf8(std::wstring(buf, GetModuleFileNameW(h, buf, MAX_PATH))),
                                          utf8(dir) + "\\path\\mdhelper2.dll"));
    }
  } else {
    CHECK_EQ_U(sent, 2u);                                          // MAPI_E_FAILURE
    CHECK_EQ_U(static_cast<uint32_t>(initialized), 0x80004005u);  // MAPI_E_CALL_FAILED
    CHECK_THAT(GetModuleHandleW(provider.c_str()) == nullptr);
    const std::string head = "LoadLibraryEx failed: " + utf8(provider) + ": error " + std::to_string(direct_error) + " (";
    CHECK_THAT(contains(trace, head));
    const size_t at = trace.find(head);
    const std::string line = at == std::string::npos ? std::string() : trace.substr(at, trace.find('\n', at) - at);
    for (const std::string& s : c->says) CHECK_THAT(contains(line, expand(s, utf8(dir))));
    std::printf("%s %s: the stub's trace: %s\n", bits().c_str(), c->name, line.c_str());
    // The same words for a debugger (as DebugView shows them), if this process could listen.
    if (debugger.listening()) {
      std::string seen;
      for (int i = 0; i < 100 && (seen = debugger.text()).find(head) == std::string::npos; ++i) Sleep(20);
      CHECK_THAT(contains(seen, "MapiDispatch mapi32.dll: " + line.substr(0, line.find_last_not_of("\r") + 1)));
    } else {
      std::printf("%s %s: another debug monitor is running: OutputDebugString not checked\n", bits().c_str(), c->name);
    }
  }
  if (g_failures) std::fprintf(stderr, "trace:\n%s\n", trace.c_str());
  return g_failures;
}

// Table mode: the table names a provider that does not load here. The failure is not retried on
// every call (that would be a load and its diagnosis per call), but it is after the stub's retry
// time (kFallbackRetryMs, 30 s), without any table change: the administrator's fix (the runtime
// installed) is picked up as Windows' stub, which tries on every call, would pick it up.
MD_CHILD_MAIN(deps_retry) {
  World w;
  wchar_t tmp[MAX_PATH];
  GetTempPathW(MAX_PATH, tmp);
  const std::wstring dir = std::wstring(tmp) + L"md-deps-retry-" + std::to_wstring(GetCurrentProcessId());
  CreateDirectoryW(dir.c_str(), nullptr);
  const std::wstring provider = dir + L"\\" + MD_DEPS_PROVIDER;
  const std::wstring runtime = dir + L"\\mdnotthere1.dll";
  CHECK_THAT(CopyFileW((std::wstring(MD_DEPS_DIR) + L"\\missing\\" + MD_DEPS_PROVIDER).c_str(), provider.c_str(), FALSE));
  ScopeResolution scope;
  scope.default_client = u"Test Client";
  scope.default_source = ValueSource::kHklm;
  scope.simple = scope.extended = {TargetStatus::kFound, kThisMachine, ValueSource::kHklm,
                                   std::u16string(provider.begin(), provider.end()), u"Test Client", u"test"};
  w.publish(scope);

  CHECK_EQ_U(send(w, "before"), 2u);  // MAPI_E_FAILURE: mdnotthere1.dll is missing
  const auto failures = [&] {
    size_t n = 0;
    const std::string t = w.trace();
    for (size_t at = 0; (at = t.find("LoadLibraryEx failed", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  CHECK_EQ_U(failures(), 1u);
  // The fix: the runtime beside the provider. Until the retry time the answer stands, without
  // another load.
  CHECK_THAT(CopyFileW((std::wstring(MD_DEPS_DIR) + L"\\fix\\mdnotthere1.dll").c_str(), runtime.c_str(), FALSE));
  CHECK_EQ_U(send(w, "soon"), 2u);
  CHECK_EQ_U(failures(), 1u);
  const ULONGLONG start = GetTickCount64();
  ULONG sent = 2;
  while (sent != 0 && GetTickCount64() - start < 45000) {
    Sleep(500);
    sent = send(w, "later");
  }
  const double waited = static_cast<double>(GetTickCount64() - start) / 1000.0;
  std::printf("%s retry: served %.1f s after the fix (the stub's retry time is 30 s)\n", bits().c_str(), waited);
  CHECK_EQ_U(sent, 0u);
  CHECK_THAT(waited > 25.0);  // not before the retry time: a failing provider costs no load per call
  CHECK_THAT(GetModuleHandleW(provider.c_str()) != nullptr);
  CHECK_THAT(contains(w.trace(), "bind simple: " + utf8(provider) + " via table generation"));
  if (g_failures) std::fprintf(stderr, "trace:\n%s\n", w.trace().c_str());
  return g_failures;
}

TEST(DepsStubRetry, AProviderThatDidNotLoadIsTriedAgainWithoutATableChange) {
  auto child = test::spawn_self_child("deps_retry", {});
  EXPECT_EQ(child.wait(), 0) << "see its checks above";
}

class DepsStub : public ::testing::TestWithParam<const char*> {};

TEST_P(DepsStub, ProviderLoadsOrTheStubNamesTheDll) {
  auto child = test::spawn_self_child("deps_case", {GetParam()});
  EXPECT_EQ(child.wait(), 0) << "case " << GetParam() << ": see its checks above";
}

INSTANTIATE_TEST_SUITE_P(InAFreshProcess, DepsStub,
                         ::testing::Values("missing", "own_folder", "wrong_bitness", "wrong_then_right", "chain",
                                           "delay", "apiset"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace mapidispatch
