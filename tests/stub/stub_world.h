// Copyright MapiDispatch authors.
//
//! \file
//! The plumbing of the stub's run-time tests (stub_test, compat_test): a scenario's World (its own
//! table section, written by the test process; the provider log; the stub's trace; the stub
//! loaded beside the test program), the registry mode's HKCU client, the MAPI signatures the
//! tests call, and check macros that count failures instead of aborting (a scenario runs in a
//! child process and reports its failures as its exit code).

#ifndef MAPIDISPATCH_TESTS_STUB_STUB_WORLD_H_
#define MAPIDISPATCH_TESTS_STUB_STUB_WORLD_H_

#include <windows.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../support/test_main.h"
#include "hkcu_mail_client.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "mapidispatch/win32/simple_mapi.h"

namespace mapidispatch {

// ---- Scenario plumbing ------------------------------------------------------------------------

inline int g_failures = 0;
#define CHECK_THAT(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
      ++g_failures;                                                                       \
    }                                                                                     \
  } while (0)
#define CHECK_EQ_U(a, b)                                                                                  \
  do {                                                                                                    \
    const unsigned long long va = static_cast<uint32_t>(a), vb = (b);                                                         \
    if (va != vb) {                                                                                       \
      std::fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n", __FILE__, __LINE__, #a, va, #b, vb); \
      ++g_failures;                                                                                       \
    }                                                                                                     \
  } while (0)

inline std::wstring exe_dir() {
  wchar_t buf[MAX_PATH * 2];
  const DWORD n = GetModuleFileNameW(nullptr, buf, MAX_PATH * 2);
  std::wstring p(buf, n);
  return p.substr(0, p.find_last_of(L'\\'));
}

inline std::u16string u16(const std::wstring& w) { return {w.begin(), w.end()}; }
inline std::wstring provider_path(const wchar_t* name) { return exe_dir() + L"\\" + name + L".dll"; }

template <typename F>
inline F proc_cast(FARPROC p) {
  return reinterpret_cast<F>(reinterpret_cast<void*>(p));
}

inline std::string read_file(const std::wstring& path) {
  std::ifstream in(std::filesystem::path(path), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// This test program's bitness, and the provider of the other one (built beside it).
#if defined(_M_IX86) || defined(__i386__)
constexpr PeMachine kThisMachine = PeMachine::kI386;
constexpr PeMachine kOtherMachine = PeMachine::kAmd64;
constexpr const wchar_t* kOtherProvider = L"prov_x64";
constexpr const char* kWrongBitnessTrace = "wrong-bitness (a x64 DLL; this process is x86)";
#else
constexpr PeMachine kThisMachine = PeMachine::kAmd64;
constexpr PeMachine kOtherMachine = PeMachine::kI386;
constexpr const wchar_t* kOtherProvider = L"prov_x86";
constexpr const char* kWrongBitnessTrace = "wrong-bitness (a x86 DLL; this process is x64)";
#endif

inline Target found(const wchar_t* provider, PeMachine machine = kThisMachine) {
  return {TargetStatus::kFound, machine, ValueSource::kHklm, u16(provider_path(provider)), u"Test Client", u"test"};
}

inline ScopeResolution machine_scope(const wchar_t* simple, const wchar_t* extended) {
  ScopeResolution s;
  s.default_client = u"Test Client";
  s.default_source = ValueSource::kHklm;
  if (simple) s.simple = found(simple);
  if (extended) s.extended = found(extended);
  return s;
}

// One scenario's world: its own table section (this process writes it), the provider log, the
// stub's trace, and the stub itself.
class World {
 public:
  World() {
    section_ = test::unique_name("mdstub");
    const std::error_code ec = WritableSection::create(section_, 1 << 20, &ws_);
    if (ec) {
      std::fprintf(stderr, "cannot create the table section: %s\n", ec.message().c_str());
      std::exit(90);
    }
    writer_.emplace(ws_->bytes(), GetCurrentProcessId(), 0);
    wchar_t tmp[MAX_PATH];
    GetTempPathW(MAX_PATH, tmp);
    const std::wstring stem = std::wstring(tmp) + L"mdstub." + std::to_wstring(GetCurrentProcessId());
    log_ = stem + L".provider.log";
    trace_ = stem + L".trace.log";
    DeleteFileW(log_.c_str());
    DeleteFileW(trace_.c_str());
    SetEnvironmentVariableW(L"MAPIDISPATCH_SECTION", std::wstring(section_.begin(), section_.end()).c_str());
    SetEnvironmentVariableW(L"MD_PROVIDER_LOG", log_.c_str());
    SetEnvironmentVariableW(L"MAPIDISPATCH_TRACE", trace_.c_str());
    SetEnvironmentVariableW(L"MAPIDISPATCH_NO_UI", L"1");
  }
  ~World() {
    DeleteFileW(log_.c_str());
    DeleteFileW(trace_.c_str());
  }

  // The x64 stub reads the table's native view; the x86 stub under WOW64 reads the WOW64 view
  // (kWow64), so a 32-bit test publishes the same answers in both.
  void publish(const ScopeResolution& machine) {
    std::vector<ScopeResolution> scopes{machine};
#if defined(_WIN64)
    const std::error_code ec = writer_->publish(scopes);
#else
    const std::error_code ec = writer_->publish(scopes, scopes);  // the WOW64 view last
#endif
    if (ec) {
      std::fprintf(stderr, "publish failed\n");
      std::exit(91);
    }
  }
  TableWriter& writer() { return *writer_; }
  std::span<std::byte> table_bytes() { return ws_->bytes(); }
  void use_section(const std::string& name) {
    SetEnvironmentVariableW(L"MAPIDISPATCH_SECTION", std::wstring(name.begin(), name.end()).c_str());
  }

  HMODULE stub() {
    if (stub_ == nullptr) {
      const std::wstring path = exe_dir() + L"\\mapi32.dll";
      stub_ = LoadLibraryW(path.c_str());
      if (stub_ == nullptr) {
        std::fprintf(stderr, "cannot load the stub (%lu)\n", GetLastError());
        std::exit(92);
      }
    }
    return stub_;
  }
  template <typename F>
  F by_name(const char* name) {
    auto f = proc_cast<F>(GetProcAddress(stub(), name));
    if (f == nullptr) {
      std::fprintf(stderr, "the stub does not export %s\n", name);
      std::exit(93);
    }
    return f;
  }
  template <typename F>
  F by_ordinal(int ordinal) {
    auto f = proc_cast<F>(GetProcAddress(stub(), MAKEINTRESOURCEA(ordinal)));
    if (f == nullptr) std::exit(94);
    return f;
  }

  // The provider lines so far: "<provider> <function> <details...>" (the pid dropped).
  std::vector<std::string> calls() {
    std::vector<std::string> out;
    for (const auto& l : lines_of(read_file(log_))) {
      std::istringstream in(l);
      std::string provider, pid, rest;
      in >> provider >> pid;
      std::getline(in, rest);
      out.push_back(provider + rest);
    }
    return out;
  }
  std::string last_call() {
    auto c = calls();
    return c.empty() ? std::string() : c.back();
  }
  std::string trace() { return read_file(trace_); }
  const std::wstring& log_path() const { return log_; }

 private:
  std::string section_;
  std::unique_ptr<WritableSection> ws_;
  std::optional<TableWriter> writer_;
  std::wstring log_, trace_;
  HMODULE stub_ = nullptr;
};

inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// The registry mode's client: HKCU\Software\Clients\Mail pointing at a test provider.
class RegistryClient : public test::HkcuMailClient {
 public:
  explicit RegistryClient(const wchar_t* provider) : HkcuMailClient(L"MapiDispatch Stub Test", provider_path(provider)) {}
  void point_at(const wchar_t* provider) { HkcuMailClient::point_at(provider_path(provider)); }
};

using simple_mapi::MessageA;
using simple_mapi::MessageW;

using SendMail = ULONG(WINAPI*)(ULONG_PTR, ULONG_PTR, MessageA*, ULONG, ULONG);
using SendMailW = ULONG(WINAPI*)(ULONG_PTR, ULONG_PTR, MessageW*, ULONG, ULONG);
using Logon = ULONG(WINAPI*)(ULONG_PTR, LPSTR, LPSTR, ULONG, ULONG, ULONG_PTR*);
using Logoff = ULONG(WINAPI*)(ULONG_PTR, ULONG_PTR, ULONG, ULONG);
using ReadMail = ULONG(WINAPI*)(ULONG_PTR, ULONG_PTR, LPSTR, ULONG, ULONG, MessageA**);
using FreeBuffer = ULONG(WINAPI*)(void*);
using AllocateBuffer = HRESULT(WINAPI*)(ULONG, void**);
using Initialize = HRESULT(WINAPI*)(void*);
using Uninitialize = void(WINAPI*)();
using QueryAllRows = HRESULT(WINAPI*)(void*, void*, void*, void*, LONG, void**);
using AddFt = FILETIME(WINAPI*)(FILETIME, FILETIME);
using CmcLogon = ULONG(WINAPI*)(LPSTR, LPSTR, LPSTR, void*, ULONG, USHORT, ULONG, ULONG*, void*);
using CmcLogoff = ULONG(WINAPI*)(ULONG, ULONG, ULONG, void*);
// cmc_send's session as a whole register: the test leaves the upper half dirty, as an x64
// caller may for a 32-bit CMC_session_id.
using CmcSendWide = ULONG(WINAPI*)(ULONG_PTR, void*, ULONG, ULONG, void*);
using CmcList = ULONG(WINAPI*)(ULONG, LPSTR, ULONG, void*, ULONG*, ULONG, void**, void*);
using CmcFree = ULONG(WINAPI*)(void*);
using CmcSendDocuments = ULONG(WINAPI*)(LPSTR, LPSTR, LPSTR, ULONG, LPSTR, LPSTR, LPSTR, ULONG);

inline ULONG send(World& w, const char* subject, ULONG_PTR session = 0) {
  MessageA m{};
  m.subject = const_cast<LPSTR>(subject);
  return w.by_name<SendMail>("MAPISendMail")(session, 0, &m, 0, 0);
}

inline std::string hex(const char* s) {
  std::string out;
  char buf[4];
  for (; *s; ++s) {
    std::snprintf(buf, sizeof buf, "%02X", static_cast<unsigned char>(*s));
    out += buf;
  }
  return out;
}

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_TESTS_STUB_STUB_WORLD_H_
