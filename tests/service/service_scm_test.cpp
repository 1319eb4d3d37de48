// Copyright MapiDispatch authors.
//
// The service for real: mapidispatch.exe installed under a unique name in the Service Control
// Manager (Wine's, in the test prefix), publishing into a unique Local\ section, driven through
// the registry and control codes, read as a stub reads it. Every wait has a deadline; the
// service is uninstalled whatever the test's outcome.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <thread>
#include <fstream>
#include <sstream>

#include "../support/test_main.h"
#include "dep_fixtures.h"
#include "mapidispatch/resolver.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table_layout.h"
#include "service_test_util.h"
#include "win/logging.h"

namespace mapidispatch::test {
namespace {

using namespace std::chrono_literals;

const std::wstring kMail = L"Software\\Clients\\Mail";

std::string narrow(const std::wstring& w) {
  std::string s;
  for (const wchar_t c : w) s += static_cast<char>(c < 0x80 ? c : '?');
  return s;
}

std::u16string u16w(const std::wstring& w) { return std::u16string(w.begin(), w.end()); }

// A build-tree file (a host path under Wine: Z:\...) as a Windows path.
std::wstring host_path(const char* unix_path) {
  std::wstring p = L"Z:";
  for (const char* c = unix_path; *c; ++c) p += *c == '/' ? L'\\' : static_cast<wchar_t>(*c);
  return p;
}

// Points HKLM's default mail client at a new client whose DLLPath is `dll`.
void set_client(const std::wstring& client, const std::wstring& dll) {
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + client, L"DLLPath", dll));
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, kMail, L"", client));
}

std::wstring unique_client(const char* stem) {
  static int n = 0;
  return L"MDTest." + std::wstring(stem, stem + std::strlen(stem)) + L"." + std::to_wstring(::GetCurrentProcessId()) +
         L"." + std::to_wstring(n++);
}

class ServiceTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const auto& c : clients_) reg_delete_tree(HKEY_LOCAL_MACHINE, kMail + L"\\" + c);
  }
  std::wstring client(const char* stem) {
    clients_.push_back(unique_client(stem));
    return clients_.back();
  }
  std::vector<std::wstring> clients_;
};

#define START_SERVICE(svc, probe)                                        \
  ASSERT_TRUE((svc).ok()) << (svc).error();                              \
  {                                                                      \
    const std::string started = (svc).start();                           \
    ASSERT_EQ(started, "") << started;                                   \
  }                                                                      \
  ASSERT_TRUE((probe).open()) << "the section " << (svc).section() << " never appeared"

TEST_F(ServiceTest, InstallStartPublishStopFlagsTable) {
  TestService svc("lifecycle");
  TableProbe probe(svc.section());
  ASSERT_TRUE(svc.ok()) << svc.error();

  // install: recovery actions, failure-actions flag, Event Log source.
  SC_HANDLE scm = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
  ASSERT_NE(scm, nullptr);
  SC_HANDLE h = ::OpenServiceW(scm, svc.name().c_str(), SERVICE_QUERY_CONFIG);
  ASSERT_NE(h, nullptr) << win_error_text("OpenService", ::GetLastError());
  std::vector<BYTE> buf(8192);
  DWORD needed = 0;
  if (::QueryServiceConfig2W(h, SERVICE_CONFIG_FAILURE_ACTIONS, buf.data(), static_cast<DWORD>(buf.size()), &needed)) {
    const auto* fa = reinterpret_cast<const SERVICE_FAILURE_ACTIONSW*>(buf.data());
    ASSERT_EQ(fa->cActions, 3u);
    EXPECT_EQ(fa->lpsaActions[0].Type, SC_ACTION_RESTART);
    EXPECT_EQ(fa->lpsaActions[0].Delay, 5000u);
    EXPECT_EQ(fa->dwResetPeriod, 86400u);
  } else {
    // Wine's SCM accepts the recovery actions but cannot report them back.
    const DWORD e = ::GetLastError();
    ASSERT_TRUE(e == ERROR_INVALID_LEVEL || e == ERROR_CALL_NOT_IMPLEMENTED || e == ERROR_INVALID_PARAMETER)
        << win_error_text("QueryServiceConfig2(FAILURE_ACTIONS)", e);
    std::printf("note: this SCM cannot report failure actions back (%s)\n",
                win_error_text("QueryServiceConfig2", e).c_str());
  }
  std::vector<BYTE> cfg(8192);
  ASSERT_TRUE(::QueryServiceConfigW(h, reinterpret_cast<QUERY_SERVICE_CONFIGW*>(cfg.data()), static_cast<DWORD>(cfg.size()), &needed));
  const auto* qc = reinterpret_cast<const QUERY_SERVICE_CONFIGW*>(cfg.data());
  EXPECT_EQ(qc->dwServiceType & SERVICE_WIN32_OWN_PROCESS, static_cast<DWORD>(SERVICE_WIN32_OWN_PROCESS));
  EXPECT_NE(std::wstring(qc->lpBinaryPathName).find(L" service --service-name "), std::wstring::npos);
  ::CloseServiceHandle(h);
  ::CloseServiceHandle(scm);
  HKEY ev = nullptr;
  ASSERT_EQ(::RegOpenKeyExW(HKEY_LOCAL_MACHINE,
                            (L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" + svc.name()).c_str(), 0,
                            KEY_READ, &ev),
            ERROR_SUCCESS);
  ::RegCloseKey(ev);

  START_SERVICE(svc, probe);
  DWORD pid = 0;
  ASSERT_EQ(svc.state(&pid), static_cast<DWORD>(SERVICE_RUNNING));
  TableSnapshot snap;
  ASSERT_TRUE(probe.wait_generation_above(0, 10s, &snap));
  EXPECT_EQ(snap.info.writer_pid, pid);
  EXPECT_EQ(snap.info.flags & layout::kFlagWriterStopped, 0u);

  // status, as an administrator runs it: exit 0 and the generation.
  std::string out;
  EXPECT_EQ(run_mapidispatch({L"status", L"--service-name", svc.name(), L"--json"}, &out), 0) << out;
  const nlohmann::json status = nlohmann::json::parse(out);
  EXPECT_EQ(status.at("generation"), snap.info.generation) << out;
  EXPECT_EQ(status.at("stubs_use_table"), true) << out;
  EXPECT_EQ(run_mapidispatch({L"status", L"--service-name", svc.name()}, &out), 0) << out;
  EXPECT_NE(out.find("valid and kept up to date"), std::string::npos) << out;

  const std::string stopped = svc.stop();
  ASSERT_EQ(stopped, "");
  TableSnapshot after;
  EXPECT_EQ(probe.read(&after), TableError::kWriterStopped);
  EXPECT_EQ(after.info.generation, snap.info.generation);
  EXPECT_EQ(run_mapidispatch({L"status", L"--section", std::wstring(svc.section().begin(), svc.section().end())}, &out), 1)
      << out;
  EXPECT_NE(out.find("writer stopped"), std::string::npos) << out;

  // The log file says what happened.
  std::stringstream text;
  text << read_text_file(service::log_file_path(svc.name()));
  EXPECT_NE(text.str().find("published generation"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("MapiDispatch stopped"), std::string::npos) << text.str();
}

TEST_F(ServiceTest, RegistryChangePublishesNewGeneration) {
  TestService svc("change");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  const uint64_t g0 = probe.generation();
  ASSERT_GT(g0, 0u);
  const std::wstring c = client("change");
  const std::wstring dll = system_dll();
  set_client(c, dll);
  TableSnapshot snap;
  ASSERT_TRUE(probe.wait_generation_above(g0, 10s, &snap, [&](const TableSnapshot& s) {
    return s.machine.default_client == u16w(c);
  })) << "generation stayed " << probe.generation();
  EXPECT_EQ(snap.machine.simple.path, u16w(dll));
  // kernel32.dll is a real x64 DLL without MAPI exports: found on disk, machine recorded.
  EXPECT_NE(snap.machine.simple.status, TargetStatus::kMissing);
  EXPECT_EQ(snap.machine.simple.machine, PeMachine::kAmd64);
  ASSERT_EQ(svc.stop(), "");
}

bool has_override(const ScopeResolution& s, const std::wstring& module) {
  return std::any_of(s.overrides.begin(), s.overrides.end(),
                     [&](const AppOverride& o) { return o.module == u16w(module); });
}

TEST_F(ServiceTest, Wow64AnswersCarryTheThirtyTwoBitMsMapiApps) {
  // Windows' 32-bit stub reads MSMapiApps through WOW64 registry redirection (Wow6432Node); a
  // 64-bit one reads the other copy. The table carries both, each for its own processes.
  const std::wstring apps32 = L"Software\\Wow6432Node\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps";
  const std::wstring module = L"mdtest32." + std::to_wstring(::GetCurrentProcessId()) + L".exe";
  TestService svc("wow64");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  TableSnapshot w;
  ASSERT_TRUE(wait_until([&] { return probe.read(&w, TableView::kWow64) == TableError::kOk; }, 10s))
      << "no answers for 32-bit processes: " << make_error_code(probe.read(&w, TableView::kWow64)).message();
  std::string sys32 = narrow(std::wstring(w.machine.mapi32x.path.begin(), w.machine.mapi32x.path.end()));
  std::transform(sys32.begin(), sys32.end(), sys32.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
  EXPECT_NE(sys32.find("\\syswow64\\mapi32x.dll"), std::string::npos) << "32-bit processes' mapi32x.dll is in SysWOW64: " << sys32;
  const uint64_t g0 = probe.generation();

  const std::wstring c = client("wow64");
  set_client(c, system_dll());  // Clients\Mail is shared by both views: both see this default
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, apps32, module.c_str(), c));
  const ScopedRegValue cleanup{HKEY_LOCAL_MACHINE, apps32, module};
  // The Wow6432Node watch publishes it (no revalidation: that is minutes away).
  ASSERT_TRUE(wait_until([&] {
    return probe.read(&w, TableView::kWow64) == TableError::kOk && w.info.generation > g0 && has_override(w.machine, module);
  }, 10s)) << "the 32-bit MSMapiApps override never reached the table";
  TableSnapshot n;
  ASSERT_EQ(probe.read(&n), TableError::kOk);
  EXPECT_EQ(n.info.generation, w.info.generation);
  EXPECT_FALSE(has_override(n.machine, module)) << "64-bit processes do not see the 32-bit view's MSMapiApps";
  EXPECT_EQ(n.machine.default_client, u16w(c));
  EXPECT_EQ(w.machine.default_client, u16w(c)) << narrow(std::wstring(w.machine.default_client.begin(), w.machine.default_client.end())) << " / " << narrow(std::wstring(w.machine.simple.reason.begin(), w.machine.simple.reason.end()));

  // explain, for each kind of process.
  const std::wstring section(svc.section().begin(), svc.section().end());
  std::string out;
  ASSERT_EQ(run_mapidispatch({L"explain", L"--section", section, L"--bitness", L"x86", L"--module", module}, &out), 0) << out;
  EXPECT_NE(out.find("MSMapiApps override for " + narrow(module)), std::string::npos) << out;
  EXPECT_NE(out.find("answers for 32-bit processes"), std::string::npos) << out;
  ASSERT_EQ(run_mapidispatch({L"explain", L"--section", section, L"--bitness", L"x64", L"--module", module}, &out), 0) << out;
  EXPECT_EQ(out.find("MSMapiApps override"), std::string::npos) << out;
  // status shows where 32-bit processes differ.
  ASSERT_EQ(run_mapidispatch({L"status", L"--section", section, L"--service-name", svc.name()}, &out), 0) << out;
  const size_t wow64_part = out.find("32-bit processes (WOW64");
  ASSERT_NE(wow64_part, std::string::npos) << out;
  EXPECT_NE(out.find(narrow(module), wow64_part), std::string::npos) << out;
  EXPECT_EQ(out.find(narrow(module)), out.find(narrow(module), wow64_part)) << "listed for 32-bit processes only\n" << out;
  ASSERT_EQ(run_mapidispatch({L"status", L"--section", section, L"--json"}, &out), 0) << out;
  const nlohmann::json wow64 = nlohmann::json::parse(out).at("wow64_scopes");
  EXPECT_TRUE(wow64.is_array() && !wow64.empty() && wow64.at(0).is_object()) << out;
  // The log line names the change for 32-bit processes.
  EXPECT_NE(read_text_file(service::log_file_path(svc.name())).find("32-bit machine overrides:"), std::string::npos);

  // A real 32-bit process (under WoW64) through the x86 stub beside it: it reads the table's
  // WOW64 answers, so the 32-bit-only override applies to it, and sends its mail to the 32-bit
  // provider that override names.
  const std::wstring c32 = client("wow64-provider");
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + c32, L"DLLPath", host_path(MAPIDISPATCH_X86_PROVIDER)));
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, apps32, module.c_str(), c32));
  ASSERT_TRUE(wait_until([&] {
    return probe.read(&w, TableView::kWow64) == TableError::kOk && has_override(w.machine, module) &&
           w.machine.overrides[0].client == u16w(c32);
  }, 10s)) << "the override's new client never reached the table";
  wchar_t temp[MAX_PATH];
  ::GetTempPathW(MAX_PATH, temp);
  const std::wstring folder = std::wstring(temp) + L"md-wow64-client-" + std::to_wstring(::GetCurrentProcessId());
  ::CreateDirectoryW(folder.c_str(), nullptr);
  const std::wstring exe = folder + L"\\" + module;
  ASSERT_TRUE(::CopyFileW(host_path(MAPIDISPATCH_X86_CLIENT).c_str(), exe.c_str(), FALSE));
  ASSERT_TRUE(::CopyFileW(host_path(MAPIDISPATCH_X86_STUB).c_str(), (folder + L"\\mapi32.dll").c_str(), FALSE));
  const std::wstring trace = folder + L"\\trace.txt", calls = folder + L"\\provider.txt";
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_SECTION", section.c_str());
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_TRACE", trace.c_str());
  ::SetEnvironmentVariableW(L"MD_PROVIDER_LOG", calls.c_str());
  const int rc = run_program(exe, {L"--tag", L"wow64", L"--count", L"2", L"--interval-ms", L"0"}, &out);
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_SECTION", nullptr);
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_TRACE", nullptr);
  ::SetEnvironmentVariableW(L"MD_PROVIDER_LOG", nullptr);
  const std::string stub_trace = read_text_file(trace);
  EXPECT_EQ(rc, 0) << out << "\ntrace:\n" << stub_trace;
  EXPECT_NE(out.find("wow64: 2 calls, 0 failed"), std::string::npos) << out;
  EXPECT_NE(stub_trace.find("view=wow64"), std::string::npos) << stub_trace;
  EXPECT_NE(stub_trace.find("MSMapiApps override for loaded module " + narrow(module)), std::string::npos) << stub_trace;
  EXPECT_NE(stub_trace.find("via table generation"), std::string::npos) << stub_trace;
  const std::string provider_calls = read_text_file(calls);
  size_t sends = 0;
  for (size_t at = 0; (at = provider_calls.find("MAPISendMail", at)) != std::string::npos; ++at) ++sends;
  EXPECT_EQ(sends, 2u) << provider_calls;
  for (const wchar_t* f : {L"\\mapi32.dll", L"\\trace.txt", L"\\provider.txt"}) ::DeleteFileW((folder + f).c_str());
  ::DeleteFileW(exe.c_str());
  ::RemoveDirectoryW(folder.c_str());
  ASSERT_EQ(svc.stop(), "");
}

TEST_F(ServiceTest, BurstOfWritesIsCoalesced) {
  TestService svc("burst", 250);
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  const std::wstring c = client("burst");
  set_client(c, L"C:\\burst\\start.dll");
  ASSERT_TRUE(probe.wait_generation_above(0, 10s, nullptr, [&](const TableSnapshot& s) {
    return s.machine.simple.path == u"C:\\burst\\start.dll";
  }));
  const uint64_t g0 = probe.generation();
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + c, L"DLLPath", L"C:\\burst\\" + std::to_wstring(i) + L".dll"));
  const auto written = std::chrono::steady_clock::now() - begin;
  TableSnapshot snap;
  ASSERT_TRUE(probe.wait_generation_above(g0, 20s, &snap, [&](const TableSnapshot& s) {
    return s.machine.simple.path == u"C:\\burst\\999.dll";
  })) << "final state never published; table has " << narrow(std::wstring(snap.machine.simple.path.begin(), snap.machine.simple.path.end()));
  // Let a trailing publish, if any, land before counting.
  std::this_thread::sleep_for(600ms);
  const uint64_t publishes = probe.generation() - g0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(written).count();
  std::printf("1000 writes in %lld ms -> %llu publishes (debounce 250 ms)\n", static_cast<long long>(ms),
              static_cast<unsigned long long>(publishes));
  // One publish per debounce window the burst spans, plus one for the writes during the last.
  EXPECT_LE(publishes, static_cast<uint64_t>(ms / 250 + 2));
  ASSERT_EQ(probe.read(&snap), TableError::kOk);
  EXPECT_EQ(snap.machine.simple.path, u"C:\\burst\\999.dll");
  ASSERT_EQ(svc.stop(), "");
}

TEST_F(ServiceTest, Control128ForcesPublishAndRefreshCommandSendsIt) {
  TestService svc("refresh");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  const uint64_t g0 = probe.generation();
  ASSERT_EQ(svc.control(128), "");
  ASSERT_TRUE(probe.wait_generation_above(g0, 10s)) << "no publish after control 128";
  const uint64_t g1 = probe.generation();
  std::string out;
  ASSERT_EQ(run_mapidispatch({L"refresh", L"--service-name", svc.name()}, &out), 0) << out;
  ASSERT_TRUE(probe.wait_generation_above(g1, 10s)) << "no publish after 'mapidispatch refresh'";
  ASSERT_EQ(svc.stop(), "");
  // refresh of a stopped service: a clear failure.
  EXPECT_EQ(run_mapidispatch({L"refresh", L"--service-name", svc.name()}, &out), 1) << out;
  EXPECT_NE(out.find("not running"), std::string::npos) << out;
}

TEST_F(ServiceTest, KillAndRestartKeepsGenerationGrowing) {
  TestService svc("kill");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  ASSERT_EQ(svc.control(128), "");
  ASSERT_TRUE(probe.wait_generation_above(1, 10s));
  const uint64_t g_before = probe.generation();
  ASSERT_EQ(svc.kill(), "");
  // Killed, not stopped: the table is intact but nobody keeps it; status says so.
  TableSnapshot snap;
  EXPECT_EQ(probe.read(&snap), TableError::kOk);
  std::string out;
  EXPECT_EQ(run_mapidispatch({L"status", L"--section", std::wstring(svc.section().begin(), svc.section().end())}, &out), 1)
      << out;
  EXPECT_NE(out.find("not running"), std::string::npos) << out;

  // Restarted while a reader still maps the section: it continues the count.
  ASSERT_EQ(svc.start(), "");
  ASSERT_TRUE(probe.wait_generation_above(g_before, 10s));
  const uint64_t g_restart = probe.generation();

  // Stopped, and nobody maps the section: it vanishes; the persisted generation continues it.
  ASSERT_EQ(svc.stop(), "");
  probe.close();
  ASSERT_EQ(svc.start(), "");
  ASSERT_TRUE(probe.open());
  ASSERT_TRUE(probe.wait_generation_above(g_restart, 10s)) << "generation went back to " << probe.generation();
  ASSERT_EQ(svc.stop(), "");
}

TEST_F(ServiceTest, CrashMidPublishIsNeverAcceptedAndRestartCompletesIt) {
  TestService svc("crash");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  const uint64_t g_before = probe.generation();
  // 50: the hook writes half of the next table's bytes, then dies (fault_bench draws 1 to 100).
  ASSERT_TRUE(svc.set_parameter(L"DebugCrashMidPublish", 50));
  ASSERT_EQ(svc.control(SERVICE_CONTROL_PARAMCHANGE), "");
  // PARAMCHANGE itself re-resolves (nothing changed: no publish); a registry change then
  // publishes, and the hook abandons that publish half-written.
  std::this_thread::sleep_for(300ms);
  const std::wstring c = client("crash");
  set_client(c, system_dll());
  ASSERT_TRUE(svc.wait_process_exit(30s)) << "the service did not die mid-publish";
  ASSERT_TRUE(svc.set_parameter(L"DebugCrashMidPublish", 0));

  // A reader never accepts the half-written state: the count is odd, reads give up (kBusy).
  TableSnapshot snap;
  EXPECT_EQ(probe.sequence() & 1u, 1u);
  for (int i = 0; i < 50; ++i) ASSERT_NE(probe.read(&snap), TableError::kOk) << "accepted a half-written table";

  // The SCM's recovery action may already be restarting it; start() accepts either.
  ASSERT_EQ(svc.start(), "");
  ASSERT_TRUE(probe.wait_generation_above(g_before, 10s, &snap, [&](const TableSnapshot& s) {
    return s.machine.default_client == u16w(c);
  })) << "generation " << probe.generation();
  EXPECT_EQ(probe.sequence() & 1u, 0u);
  EXPECT_GT(snap.info.generation, g_before + 1) << "the half-written generation must not be reused";
  ASSERT_EQ(svc.stop(), "");
}

TEST_F(ServiceTest, KeyDeletedAndRecreatedIsFollowed) {
  // Start with no Clients\Mail at all: the service watches Software\Clients until it appears.
  ASSERT_TRUE(reg_delete_tree(HKEY_LOCAL_MACHINE, kMail));
  TestService svc("delete");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  TableSnapshot snap;
  ASSERT_TRUE(probe.wait_generation_above(0, 10s, &snap));
  EXPECT_TRUE(snap.machine.default_client.empty());

  const std::wstring c1 = client("created");
  set_client(c1, system_dll());
  ASSERT_TRUE(probe.wait_generation_above(snap.info.generation, 10s, &snap, [&](const TableSnapshot& s) {
    return s.machine.default_client == u16w(c1);
  })) << "the key's creation was not seen";

  ASSERT_TRUE(reg_delete_tree(HKEY_LOCAL_MACHINE, kMail));
  ASSERT_TRUE(probe.wait_generation_above(snap.info.generation, 10s, &snap, [&](const TableSnapshot& s) {
    return s.machine.default_client.empty();
  })) << "the key's deletion was not seen";

  const std::wstring c2 = client("recreated");
  set_client(c2, system_dll(L"user32.dll"));
  ASSERT_TRUE(probe.wait_generation_above(snap.info.generation, 10s, &snap, [&](const TableSnapshot& s) {
    return s.machine.default_client == u16w(c2);
  })) << "the recreated key was not watched";
  EXPECT_EQ(snap.machine.simple.path, u16w(system_dll(L"user32.dll")));

  // And the watch stays on the recreated key: a value change is seen.
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + c2, L"DLLPath", system_dll(L"gdi32.dll")));
  ASSERT_TRUE(probe.wait_generation_above(snap.info.generation, 10s, &snap, [&](const TableSnapshot& s) {
    return s.machine.simple.path == u16w(system_dll(L"gdi32.dll"));
  }));
  ASSERT_EQ(svc.stop(), "");
}

TEST_F(ServiceTest, BadParametersKeepDefaultsAndServiceRuns) {
  TestService svc("badparams");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  const std::wstring params = svc.parameters_key();
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, params, L"DebounceMs", L"fast"));
  ASSERT_TRUE(reg_set_dword(HKEY_LOCAL_MACHINE, params, L"RevalidateMinutes", 0));
  ASSERT_TRUE(reg_set_dword(HKEY_LOCAL_MACHINE, params, L"LogLevel", 3));
  ASSERT_EQ(svc.control(SERVICE_CONTROL_PARAMCHANGE), "");
  const uint64_t g0 = probe.generation();
  const std::wstring c = client("params");
  set_client(c, system_dll());
  ASSERT_TRUE(probe.wait_generation_above(g0, 10s, nullptr, [&](const TableSnapshot& s) {
    return s.machine.default_client == u16w(c);
  })) << "the service stopped publishing after bad parameters";
  EXPECT_EQ(svc.state(), static_cast<DWORD>(SERVICE_RUNNING));
  ASSERT_EQ(svc.stop(), "");
  std::stringstream text;
  text << read_text_file(service::log_file_path(svc.name()));
  EXPECT_NE(text.str().find("parameter DebounceMs: has type REG_SZ, expected REG_DWORD; using the default"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("parameter RevalidateMinutes: 0 is out of range"), std::string::npos);
  EXPECT_NE(text.str().find("parameter LogLevel: has type REG_DWORD, expected REG_SZ"), std::string::npos);
}

// Group Policy: a value under HKLM\SOFTWARE\Policies\MapiDispatch takes effect when the policy
// key changes (a policy refresh), without PARAMCHANGE or a restart. Observed through the table: a
// UNC provider path is denied by default and resolved once policy allows UNC paths.
TEST_F(ServiceTest, GroupPolicyAppliesWithoutRestart) {
  const std::wstring policy = L"SOFTWARE\\Policies\\MapiDispatch";
  reg_delete_tree(HKEY_LOCAL_MACHINE, policy);
  struct Cleanup {
    std::wstring key;
    ~Cleanup() { reg_delete_tree(HKEY_LOCAL_MACHINE, key); }
  } cleanup{policy};
  TestService svc("policy");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  const std::wstring c = client("policy");
  set_client(c, L"\\\\fileserver\\mapi\\provider.dll");
  uint64_t g0 = probe.generation();
  ASSERT_TRUE(probe.wait_generation_above(g0, 10s, nullptr, [&](const TableSnapshot& s) {
    return s.machine.default_client == u16w(c) && s.machine.simple.status == TargetStatus::kDeniedByPolicy;
  })) << "a UNC path must be denied without the policy";
  g0 = probe.generation();
  ASSERT_TRUE(reg_set_dword(HKEY_LOCAL_MACHINE, policy, L"AllowUncPaths", 1));
  ASSERT_TRUE(probe.wait_generation_above(g0, 10s, nullptr, [&](const TableSnapshot& s) {
    return s.machine.default_client == u16w(c) && s.machine.simple.status != TargetStatus::kDeniedByPolicy;
  })) << "the policy change was not applied without a restart";
  EXPECT_EQ(svc.state(), static_cast<DWORD>(SERVICE_RUNNING));
  ASSERT_EQ(svc.stop(), "");
  const std::string log = read_text_file(service::log_file_path(svc.name()));
  EXPECT_NE(log.find("parameters reread (Group Policy change)"), std::string::npos) << log;
}

// An administrator edits Parameters and forgets PARAMCHANGE: status must not claim the new value
// is in effect.
TEST_F(ServiceTest, StatusSaysWhichParametersTheServiceHasNotApplied) {
  TestService svc("applied");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  auto debounce_line = [&](std::string* all) {
    EXPECT_EQ(run_mapidispatch({L"status", L"--service-name", svc.name()}, all), 0) << *all;
    const size_t at = all->find("  DebounceMs");
    return at == std::string::npos ? std::string() : all->substr(at, all->find('\n', at) - at);
  };
  std::string out;
  EXPECT_EQ(debounce_line(&out).find("NOT APPLIED"), std::string::npos) << out;
  ASSERT_TRUE(svc.set_parameter(L"DebounceMs", 77));
  std::string line = debounce_line(&out);
  EXPECT_NE(line.find("77"), std::string::npos) << out;
  EXPECT_NE(line.find("NOT APPLIED YET: the service runs with 50 (parameters)"), std::string::npos) << out;
  ASSERT_EQ(run_mapidispatch({L"status", L"--service-name", svc.name(), L"--json"}, &out), 0) << out;
  const nlohmann::json settings = nlohmann::json::parse(out).at("settings");
  const auto debounce = std::find_if(settings.begin(), settings.end(),
                                     [](const nlohmann::json& st) { return st.at("name") == "DebounceMs"; });
  ASSERT_NE(debounce, settings.end()) << out;
  EXPECT_EQ(debounce->at("value"), "77") << out;
  EXPECT_EQ(debounce->at("source"), "parameters") << out;
  EXPECT_EQ(debounce->at("applied").at("value"), "50") << out;
  ASSERT_EQ(svc.control(SERVICE_CONTROL_PARAMCHANGE), "");
  EXPECT_TRUE(wait_until([&] { return debounce_line(&out).find("NOT APPLIED") == std::string::npos; }, 10s)) << out;
  ASSERT_EQ(svc.stop(), "");
  // Stopped: nothing is applied; status shows what the next start reads, without comparison.
  ASSERT_TRUE(svc.set_parameter(L"DebounceMs", 88));
  run_mapidispatch({L"status", L"--service-name", svc.name()}, &out);
  EXPECT_EQ(out.find("NOT APPLIED"), std::string::npos) << out;
}

std::wstring temp_hive_path(const char* stem) {
  wchar_t temp[MAX_PATH];
  ::GetTempPathW(MAX_PATH, temp);
  return std::wstring(temp) + L"md-test-" + std::wstring(stem, stem + std::strlen(stem)) + L"-" +
         std::to_wstring(::GetCurrentProcessId()) + L".dat";
}

std::wstring test_user_sid(int n) {
  return L"S-1-5-21-1111111111-2222222222-3333333333-" + std::to_wstring(1000 + n * 10000 + ::GetCurrentProcessId() % 9000);
}

bool has_user(const TableSnapshot& s, const std::wstring& sid, const std::wstring& client) {
  return std::any_of(s.users.begin(), s.users.end(), [&](const ScopeResolution& u) {
    return u.sid == u16w(sid) && (client.empty() || u.default_client == u16w(client));
  });
}

// Work proportional to what changed, proven equal to the full answer: a long random sequence of
// registry changes (user hives loaded and unloaded, users' defaults and client keys changed or
// deleted, the machine's default and client keys changed, MSMapiApps edited). After every step,
// once the service has settled, its table (incremental: a user's change re-resolves that user
// only) must equal the table a forced full re-resolve (control 128) publishes next.
// Provider files are not part of the sequence: no notification covers them, in either path; the
// revalidation does.
TEST_F(ServiceTest, IncrementalAnswersEqualAFullResolveAfterEveryStep) {
  ASSERT_TRUE(enable_hive_privileges());
  constexpr int kHives = 4, kSteps = 36;
  const unsigned seed = static_cast<unsigned>(::GetTickCount64() % 100000);
  std::printf("random sequence seed %u (%d steps)\n", seed, kSteps);
  std::mt19937 rng(seed);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<std::wstring> dlls = {system_dll(), system_dll(L"user32.dll"), L"C:\\nowhere\\gone.dll"};
  std::vector<std::wstring> machine_clients;
  for (int i = 0; i < 3; ++i) {
    machine_clients.push_back(client("inc"));
    ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + machine_clients.back(), L"DLLPath", dlls[i]));
  }
  set_client(machine_clients[0], dlls[0]);
  std::vector<std::wstring> sids, hives;
  std::vector<bool> loaded(kHives, false);
  for (int i = 0; i < kHives; ++i) {
    sids.push_back(test_user_sid(10 + i));
    hives.push_back(temp_hive_path(("inc" + std::to_string(i)).c_str()));
    ASSERT_EQ(make_hive_file(machine_clients[i % 3], hives.back()), "");
  }
  struct Unload {
    std::vector<std::wstring>* sids;
    std::vector<bool>* loaded;
    std::vector<std::wstring>* hives;
    ~Unload() {
      for (size_t i = 0; i < sids->size(); ++i) {
        if ((*loaded)[i]) ::RegUnLoadKeyW(HKEY_USERS, (*sids)[i].c_str());
        ::DeleteFileW((*hives)[i].c_str());
      }
    }
  } unload{&sids, &loaded, &hives};
  const std::wstring apps = L"Software\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps";
  const std::wstring module = L"mdinc." + std::to_wstring(::GetCurrentProcessId()) + L".exe";
  const ScopedRegValue cleanup{HKEY_LOCAL_MACHINE, apps, module};

  // Every user logged on at first; the sequence logs them off and on.
  for (int i = 0; i < kHives; ++i) {
    ASSERT_EQ(::RegLoadKeyW(HKEY_USERS, sids[static_cast<size_t>(i)].c_str(), hives[static_cast<size_t>(i)].c_str()), ERROR_SUCCESS);
    loaded[static_cast<size_t>(i)] = true;
  }
  TestService svc("incremental", 50);
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, svc.parameters_key(), L"LogLevel", L"debug"));
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  ASSERT_TRUE(probe.wait_generation_above(0, 10s));

  // The table once nothing has been published for a while after the step.
  auto settled = [&](TableSnapshot* native, TableSnapshot* wow64) {
    std::this_thread::sleep_for(300ms);
    uint64_t g = probe.generation();
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(250ms);
      const uint64_t now = probe.generation();
      if (now == g) break;
      g = now;
    }
    return probe.read(native) == TableError::kOk && probe.read(wow64, TableView::kWow64) == TableError::kOk;
  };
  auto same = [](const TableSnapshot& a, const TableSnapshot& b) { return a.machine == b.machine && a.users == b.users; };
  int user_steps = 0;
  for (int step = 0; step < kSteps; ++step) {
    const int any = pick(kHives);  // a logon or logoff: any user
    int h = any;
    // Users' own changes need a loaded hive: the next loaded one, if any.
    for (int i = 0; i < kHives && !loaded[static_cast<size_t>(h)]; ++i) h = (h + 1) % kHives;
    const std::wstring user_mail = sids[h] + L"\\Software\\Clients\\Mail";
    std::string what;
    switch (pick(7)) {
      case 0:  // a logon or a logoff
        if (!loaded[any]) {
          ASSERT_EQ(::RegLoadKeyW(HKEY_USERS, sids[any].c_str(), hives[any].c_str()), ERROR_SUCCESS);
          loaded[any] = true;
          what = "load hive " + std::to_string(any);
        } else {
          ASSERT_EQ(::RegUnLoadKeyW(HKEY_USERS, sids[any].c_str()), ERROR_SUCCESS);
          loaded[any] = false;
          what = "unload hive " + std::to_string(any);
        }
        break;
      case 1:  // a user's own default: a machine client, or a client key of the user's own
      case 2: {
        if (!loaded[h]) continue;
        const int c = pick(4);
        if (c == 3) {
          ASSERT_TRUE(reg_set_sz(HKEY_USERS, user_mail + L"\\Own", L"DLLPath", dlls[static_cast<size_t>(pick(3))]));
          ASSERT_TRUE(reg_set_sz(HKEY_USERS, user_mail, L"", L"Own"));
        } else {
          ASSERT_TRUE(reg_set_sz(HKEY_USERS, user_mail, L"", machine_clients[static_cast<size_t>(c)]));
        }
        what = "user " + std::to_string(h) + " default -> " + std::to_string(c);
        ++user_steps;
        break;
      }
      case 3:  // a user's Clients\Mail deleted (the scope goes) or recreated
        if (!loaded[h]) continue;
        if (pick(2) == 0) {
          reg_delete_tree(HKEY_USERS, user_mail);
          what = "user " + std::to_string(h) + " Clients\\Mail deleted";
        } else {
          ASSERT_TRUE(reg_set_sz(HKEY_USERS, user_mail, L"", machine_clients[static_cast<size_t>(pick(3))]));
          what = "user " + std::to_string(h) + " Clients\\Mail set";
        }
        ++user_steps;
        break;
      case 4:  // the machine's default
        set_client(machine_clients[static_cast<size_t>(pick(3))], dlls[static_cast<size_t>(pick(3))]);
        what = "machine default changed";
        break;
      case 5: {  // a machine client key's DLL (users naming it follow)
        const size_t c = static_cast<size_t>(pick(3));
        ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + machine_clients[c], L"DLLPath",
                               dlls[static_cast<size_t>(pick(3))]));
        what = "machine client " + std::to_string(c) + " DLLPath changed";
        break;
      }
      case 6:  // MSMapiApps edited
        if (pick(2) == 0) {
          ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, apps, module.c_str(), machine_clients[static_cast<size_t>(pick(3))]));
          what = "MSMapiApps override set";
        } else {
          ASSERT_TRUE(reg_delete_value(HKEY_LOCAL_MACHINE, apps, module.c_str()));
          what = "MSMapiApps override removed";
        }
        break;
    }
    TableSnapshot a, a32, b, b32;
    ASSERT_TRUE(settled(&a, &a32)) << "step " << step << " (" << what << "): no valid table";
    std::string out;
    ASSERT_EQ(run_mapidispatch({L"refresh", L"--service-name", svc.name()}, &out), 0) << out;
    ASSERT_TRUE(probe.wait_generation_above(a.info.generation, 10s)) << "step " << step << ": no publish after the refresh";
    ASSERT_TRUE(settled(&b, &b32));
    EXPECT_TRUE(same(a, b)) << "seed " << seed << ", step " << step << " (" << what
                            << "): the incremental answers differ from a full re-resolve (" << a.users.size() << " vs "
                            << b.users.size() << " user scopes)";
    EXPECT_TRUE(same(a32, b32)) << "seed " << seed << ", step " << step << " (" << what << "): 32-bit answers differ";
    if (::testing::Test::HasFailure()) break;
  }
  // The user-only steps really took the incremental path.
  const std::string log = read_text_file(service::log_file_path(svc.name()));
  if (user_steps > 0) {
    EXPECT_NE(log.find("user scope(s) (registry change)"), std::string::npos) << "no incremental resolve logged";
  }
  std::printf("%d user-only steps of %d\n", user_steps, kSteps);
  ASSERT_EQ(svc.stop(), "");
}

// A new SectionName whose section cannot be taken over (another writer holds it): the service
// keeps its section, and status must say the new SectionName and SectionSizeKB are not applied.
TEST_F(ServiceTest, StatusShowsTheKeptSectionWhenTheNewOneCannotBeOpened) {
  TestService svc("keepsect");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  const std::string held = svc.section() + ".Held";
  std::unique_ptr<WritableSection> other;
  ASSERT_FALSE(WritableSection::create(held, 64 * 1024, &other));
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, svc.parameters_key(), L"SectionName", std::wstring(held.begin(), held.end())));
  ASSERT_TRUE(svc.set_parameter(L"SectionSizeKB", 128));
  ASSERT_EQ(svc.control(SERVICE_CONTROL_PARAMCHANGE), "");
  const std::wstring log_path = service::log_file_path(svc.name());
  ASSERT_TRUE(wait_until([&] { return read_text_file(log_path).find("keeping section") != std::string::npos; }, 10s))
      << read_text_file(log_path);
  std::string out;
  // status reads the section the service writes, not the one the parameter names.
  ASSERT_EQ(run_mapidispatch({L"status", L"--service-name", svc.name()}, &out), 0) << out;
  const size_t shown = out.find("Section:    " + svc.section());
  ASSERT_NE(shown, std::string::npos) << out;
  EXPECT_TRUE(std::isspace(static_cast<unsigned char>(out[shown + 12 + svc.section().size()]))) << out;
  for (const char* name : {"  SectionName", "  SectionSizeKB"}) {
    const size_t at = out.find(name);
    ASSERT_NE(at, std::string::npos) << out;
    EXPECT_NE(out.substr(at, out.find('\n', at) - at).find("NOT APPLIED YET"), std::string::npos) << name << "\n" << out;
  }
  EXPECT_NE(out.find("the service runs with " + svc.section()), std::string::npos) << out;
  EXPECT_NE(out.find("the service runs with 4096"), std::string::npos) << out;
  ASSERT_EQ(svc.stop(), "");
}

// Issue #14: a provider that exists, has the right machine and every export, and still cannot
// load because a DLL it imports is missing, is named before anybody calls: the table's reason
// (status, status --json, explain), the log, one warning when it starts and an information entry
// when it is fixed. The status stays loadable: the stub still loads it (a finding, not a refusal).
TEST_F(ServiceTest, AProviderWhoseImportIsMissingIsNamedBeforeAnybodyCalls) {
  TestService svc("deps");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  const std::wstring section(svc.section().begin(), svc.section().end());
  const std::wstring c = client("deps");
  TableSnapshot snap;
  // Points the default at a fixture and waits for the table to answer with it.
  auto use = [&](const wchar_t* fixture) {
    const std::wstring dll = std::wstring(MD_DEPS_DIR) + L"\\" + fixture + L"\\" + MD_DEPS_PROVIDER;
    set_client(c, dll);
    return probe.wait_generation_above(0, 15s, &snap, [&](const TableSnapshot& t) {
      return t.machine.default_client == u16w(c) && t.machine.simple.path == u16w(dll);
    });
  };
  auto reason = [&] { return narrow(std::wstring(snap.machine.simple.reason.begin(), snap.machine.simple.reason.end())); };
  const std::string dir = narrow(MD_DEPS_DIR);

  // Missing.
  ASSERT_TRUE(use(L"missing")) << "the table never named the fixture";
  EXPECT_EQ(snap.machine.simple.status, TargetStatus::kFound) << reason();
  EXPECT_TRUE(reports_unloadable_dependency(snap.machine.simple)) << reason();
  const std::string expected = "warning: will not load here: depprov.dll imports mdnotthere1.dll: not found in " + dir +
                               "\\missing, C:\\windows\\system32, C:\\windows, PATH (";
  EXPECT_EQ(reason().rfind(expected, 0), 0u) << reason() << "\nexpected to start with\n" << expected;
  std::printf("note: the table's reason: %s\n", reason().c_str());
  // The same for 32-bit processes? This x64 provider is not theirs: the WOW64 answer records the
  // machine and each x86 stub refuses it; the dependency check follows the provider's machine.
  std::string out;
  ASSERT_EQ(run_mapidispatch({L"status", L"--section", section, L"--service-name", svc.name()}, &out), 0) << out;
  EXPECT_NE(out.find("why: warning: will not load here: depprov.dll imports mdnotthere1.dll"), std::string::npos) << out;
  ASSERT_EQ(run_mapidispatch({L"status", L"--section", section, L"--json"}, &out), 0) << out;
  const nlohmann::json machine = nlohmann::json::parse(out).at("scopes").at(0);
  EXPECT_EQ(machine.at("simple").at("dependency_blocks_load"), true) << out;
  EXPECT_NE(machine.at("simple").at("reason").get<std::string>().find("mdnotthere1.dll"), std::string::npos) << out;
  ASSERT_EQ(run_mapidispatch({L"explain", L"--section", section, L"--bitness", L"x64"}, &out), 0) << out;
  EXPECT_NE(out.find("depprov.dll imports mdnotthere1.dll: not found in"), std::string::npos) << out;
  EXPECT_NE(out.find("The stub still loads it when called"), std::string::npos) << out;

  // A chain: the bottom one and who imports it.
  ASSERT_TRUE(use(L"chain"));
  EXPECT_NE(reason().find("will not load here: depprov.dll -> mdlevel1.dll imports mdlevel2missing.dll: not found in " +
                          dir + "\\chain"),
            std::string::npos) << reason();
  // The other machine's copy earlier in the order, and none of the right machine.
  ASSERT_TRUE(use(L"wrong_bitness"));
  EXPECT_NE(reason().find("depprov.dll imports mdhelper2.dll: only " + dir +
                          "\\wrong_bitness\\mdhelper2.dll was found, an x86 DLL that an x64 process cannot load"),
            std::string::npos) << reason();
  // Delay-loaded: a warning, and it does not block the load.
  ASSERT_TRUE(use(L"delay"));
  EXPECT_FALSE(reports_unloadable_dependency(snap.machine.simple)) << reason();
  EXPECT_NE(reason().find("depprov.dll delay-loads mdnotthere2.dll: not found in"), std::string::npos) << reason();
  EXPECT_NE(reason().find("only the calls that need it fail"), std::string::npos) << reason();
  // Found: beside the provider (LOAD_WITH_ALTERED_SEARCH_PATH), or an API set.
  for (const wchar_t* fine : {L"own_folder", L"apiset"}) {
    ASSERT_TRUE(use(fine));
    EXPECT_EQ(reason().find("warning"), std::string::npos) << narrow(fine) << ": " << reason();
  }

  // An x86 provider: checked in the answers for 32-bit processes, with their folders (SysWOW64),
  // and not in the native answers (no 64-bit process can load it; System32 holds no x86 DLLs).
  const std::wstring dll86 = std::wstring(MD_DEPS_DIR) + L"\\other\\missing\\" + MD_DEPS_PROVIDER;
  set_client(c, dll86);
  TableSnapshot w;
  ASSERT_TRUE(wait_until([&] {
    return probe.read(&w, TableView::kWow64) == TableError::kOk && w.machine.simple.path == u16w(dll86) &&
           probe.read(&snap) == TableError::kOk && snap.machine.simple.path == u16w(dll86);
  }, 15s)) << "the x86 fixture never reached both views";
  const std::string reason86 = narrow(std::wstring(w.machine.simple.reason.begin(), w.machine.simple.reason.end()));
  EXPECT_EQ(w.machine.simple.machine, PeMachine::kI386);
  EXPECT_TRUE(reports_unloadable_dependency(w.machine.simple)) << reason86;
  EXPECT_NE(reason86.find("depprov.dll imports mdnotthere1.dll: not found in " + dir + "\\other\\missing, C:\\windows\\syswow64, C:\\windows, PATH"),
            std::string::npos) << reason86;
  EXPECT_FALSE(reports_unloadable_dependency(snap.machine.simple)) << reason();
  ASSERT_EQ(run_mapidispatch({L"explain", L"--section", section, L"--bitness", L"x86"}, &out), 0) << out;
  EXPECT_NE(out.find("depprov.dll imports mdnotthere1.dll: not found in"), std::string::npos) << out;
  ASSERT_EQ(run_mapidispatch({L"status", L"--section", section, L"--json"}, &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out).at("wow64_scopes").at(0).at("simple").at("dependency_blocks_load"), true) << out;

  // The file replaced in place (a repaired install): a refresh reads it again (its stamp changed)
  // and the warning goes, without any registry change.
  wchar_t temp[MAX_PATH];
  ::GetTempPathW(MAX_PATH, temp);
  const std::wstring folder = std::wstring(temp) + L"md-deps-repair-" + std::to_wstring(::GetCurrentProcessId());
  ::CreateDirectoryW(folder.c_str(), nullptr);
  const std::wstring repaired = folder + L"\\" + MD_DEPS_PROVIDER;
  ASSERT_TRUE(::CopyFileW(MD_DEPS_FIXTURE(L"missing"), repaired.c_str(), FALSE));
  set_client(c, repaired);
  ASSERT_TRUE(probe.wait_generation_above(0, 15s, &snap, [&](const TableSnapshot& t) {
    return t.machine.simple.path == u16w(repaired) && reports_unloadable_dependency(t.machine.simple);
  })) << reason();
  ASSERT_TRUE(::CopyFileW(MD_DEPS_FIXTURE(L"own_folder"), repaired.c_str(), FALSE));
  ASSERT_TRUE(::CopyFileW((std::wstring(MD_DEPS_DIR) + L"\\own_folder\\mdhelper.dll").c_str(),
                          (folder + L"\\mdhelper.dll").c_str(), FALSE));
  const uint64_t before_refresh = snap.info.generation;
  ASSERT_EQ(svc.control(128), "");
  ASSERT_TRUE(probe.wait_generation_above(before_refresh, 15s, &snap, [&](const TableSnapshot& t) {
    return t.machine.simple.path == u16w(repaired) && !reports_unloadable_dependency(t.machine.simple);
  })) << "the repaired provider still has its warning: " << reason();
  ASSERT_EQ(svc.stop(), "");
  for (const wchar_t* f : {L"\\mdhelper.dll", L"\\depprov.dll"}) ::DeleteFileW((folder + f).c_str());
  ::RemoveDirectoryW(folder.c_str());

  // The log: one warning per provider that became unloadable (with the Event Log's level), and
  // an information entry when it no longer was.
  const std::string log = read_text_file(service::log_file_path(svc.name()));
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = 0; (at = log.find(needle, at)) != std::string::npos; ++at) ++n;
    return n;
  };
  const std::string broken = "] provider " + dir + "\\missing\\depprov.dll: warning: will not load here";
  const std::string fixed = "] provider " + dir + "\\missing\\depprov.dll loads again";
  EXPECT_EQ(count(broken), 1u) << log;
  EXPECT_EQ(count(fixed), 1u) << log;
  auto line_of = [&](const std::string& needle) {
    const size_t at = log.find(needle);
    if (at == std::string::npos) return std::string();
    const size_t begin = log.rfind('\n', at);
    return log.substr(begin == std::string::npos ? 0 : begin + 1, at - (begin == std::string::npos ? 0 : begin + 1));
  };
  EXPECT_NE(line_of(broken).find("[warning]"), std::string::npos) << log;
  EXPECT_NE(line_of(fixed).find("[info]"), std::string::npos) << log;
  EXPECT_EQ(count("provider " + dir + "\\delay\\depprov.dll"), 0u) << "a delay-load is no load failure\n" << log;
  EXPECT_EQ(count("] provider " + dir + "\\other\\missing\\depprov.dll (for 32-bit processes): warning: will not load here"), 1u)
      << log;
}

// Issue #12 item 3: only what can change an answer wakes the service. A user whose hive has no
// Clients\Mail yet is watched from an ancestor; a write beside it (a vendor's key) re-arms that
// watch and costs no resolve; creating Clients\Mail costs one.
TEST_F(ServiceTest, AWriteBesideAMissingMailKeyCostsNoResolve) {
  ASSERT_TRUE(enable_hive_privileges());
  const std::wstring hive = temp_hive_path("quiet");
  ASSERT_EQ(make_hive_file(L"", hive), "");
  const std::wstring sid = test_user_sid(3);
  const LSTATUS loaded = ::RegLoadKeyW(HKEY_USERS, sid.c_str(), hive.c_str());
  ASSERT_EQ(loaded, ERROR_SUCCESS) << win_error_text("RegLoadKey", static_cast<DWORD>(loaded));
  struct Unload {
    std::wstring sid, hive;
    ~Unload() {
      ::RegUnLoadKeyW(HKEY_USERS, sid.c_str());
      ::DeleteFileW(hive.c_str());
    }
  } unload{sid, hive};

  TestService svc("quiet");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  TableSnapshot snap;
  ASSERT_TRUE(probe.wait_generation_above(0, 10s, &snap));
  uint64_t r0 = 0, r1 = 0, r2 = 0;
  ASSERT_TRUE(service_counter(svc, L"Resolves", &r0));
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(reg_set_sz(HKEY_USERS, sid + L"\\Software\\SomeVendor\\App" + std::to_wstring(i), L"Setting", L"x"));
  std::this_thread::sleep_for(1s);  // past the debounce window: a resolve would have run by now
  ASSERT_TRUE(service_counter(svc, L"Resolves", &r1));
  EXPECT_EQ(r1, r0) << "a write that is not Clients\\Mail woke a resolve";
  const std::wstring c = client("quiet");
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + c, L"DLLPath", system_dll()));
  ASSERT_TRUE(reg_set_sz(HKEY_USERS, sid + L"\\" + kMail, L"", c));
  ASSERT_TRUE(probe.wait_generation_above(snap.info.generation, 15s, &snap,
                                          [&](const TableSnapshot& t) { return has_user(t, sid, c); }))
      << "the user's new Clients\\Mail was not followed";
  ASSERT_TRUE(service_counter(svc, L"Resolves", &r2));
  EXPECT_GE(r2, r1 + 1);
  std::printf("note: resolves: %llu at start, %llu after 5 writes beside the key, %llu after the key was created\n",
              static_cast<unsigned long long>(r0), static_cast<unsigned long long>(r1),
              static_cast<unsigned long long>(r2));
  ASSERT_EQ(svc.stop(), "");
}

// A user hive loaded into HKEY_USERS (as at a logon) with its own Clients\Mail default, then
// unloaded (logoff).
TEST_F(ServiceTest, UserHiveAppearsAndDisappears) {
  ASSERT_TRUE(enable_hive_privileges());
  const std::wstring c = client("user");
  const std::wstring hive = temp_hive_path("hive");
  ASSERT_EQ(make_hive_file(c, hive), "");

  TestService svc("hive");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  const std::wstring sid = test_user_sid(0);
  TableSnapshot snap;
  ASSERT_TRUE(probe.wait_generation_above(0, 10s, &snap));
  const uint64_t g0 = snap.info.generation;

  const LSTATUS loaded = ::RegLoadKeyW(HKEY_USERS, sid.c_str(), hive.c_str());
  ASSERT_EQ(loaded, ERROR_SUCCESS) << win_error_text("RegLoadKey", static_cast<DWORD>(loaded));
  const bool appeared = probe.wait_generation_above(g0, 15s, &snap, [&](const TableSnapshot& s) { return has_user(s, sid, c); });
  const LSTATUS unloaded = ::RegUnLoadKeyW(HKEY_USERS, sid.c_str());
  ::DeleteFileW(hive.c_str());
  ASSERT_TRUE(appeared) << "the user scope never appeared";
  ASSERT_EQ(unloaded, ERROR_SUCCESS) << win_error_text("RegUnLoadKey", static_cast<DWORD>(unloaded));
  ASSERT_TRUE(probe.wait_generation_above(snap.info.generation, 15s, &snap, [&](const TableSnapshot& s) {
    return !has_user(s, sid, L"");
  })) << "the user scope stayed after the hive unloaded";
  ASSERT_EQ(svc.stop(), "");
}

// What a logoff does (SERVICE_CONTROL_SESSIONCHANGE / WTS_SESSION_LOGOFF, which Wine never sends;
// control 130 runs the same code): every user-hive watch is released so the profile service can
// unload the hive; the logoff completes when a released hive unloads, and the users still logged
// on are watched again.
TEST_F(ServiceTest, LogoffReleasesUserHivesAndWatchesTheRemainingOnesAgain) {
  ASSERT_TRUE(enable_hive_privileges());
  const std::wstring leaving = client("leaving"), staying = client("staying"), later = client("later");
  const std::wstring hive_leaving = temp_hive_path("leaving"), hive_staying = temp_hive_path("staying");
  ASSERT_EQ(make_hive_file(leaving, hive_leaving), "");
  ASSERT_EQ(make_hive_file(staying, hive_staying), "");
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + later, L"DLLPath", system_dll()));
  const std::wstring sid_leaving = test_user_sid(1), sid_staying = test_user_sid(2);
  struct Unload {
    std::wstring sid, file;
    ~Unload() {
      ::RegUnLoadKeyW(HKEY_USERS, sid.c_str());
      ::DeleteFileW(file.c_str());
    }
  } u1{sid_leaving, hive_leaving}, u2{sid_staying, hive_staying};

  TestService svc("logoff");
  TableProbe probe(svc.section());
  START_SERVICE(svc, probe);
  ASSERT_EQ(::RegLoadKeyW(HKEY_USERS, sid_leaving.c_str(), hive_leaving.c_str()), ERROR_SUCCESS);
  ASSERT_EQ(::RegLoadKeyW(HKEY_USERS, sid_staying.c_str(), hive_staying.c_str()), ERROR_SUCCESS);
  TableSnapshot snap;
  ASSERT_TRUE(probe.wait_generation_above(0, 15s, &snap, [&](const TableSnapshot& s) {
    return has_user(s, sid_leaving, leaving) && has_user(s, sid_staying, staying);
  })) << "the user scopes never appeared";
  const std::wstring log_path = service::log_file_path(svc.name());
  const std::wstring staying_mail = sid_staying + L"\\Software\\Clients\\Mail";

  ASSERT_EQ(svc.control(130), "");
  ASSERT_TRUE(wait_until([&] { return read_text_file(log_path).find("released the watches of ") != std::string::npos; }, 10s))
      << read_text_file(log_path);
  // (The prefix's own user hive is among them.) Released: a change in a hive that stays loaded
  // is not seen now (no handle, no notification).
  // The release is followed by a resolve (one debounce window later) that finds nothing new: let
  // it pass before changing anything, or it would pick the change up.
  std::this_thread::sleep_for(500ms);
  const uint64_t g_released = probe.generation();
  ASSERT_TRUE(reg_set_sz(HKEY_USERS, staying_mail, L"", later));
  std::this_thread::sleep_for(1500ms);  // 30 debounce windows
  EXPECT_EQ(probe.generation(), g_released) << "a released hive's change was published: its watch was kept";

  // The leaving user's hive unloads: the logoff is complete, the staying user is watched again
  // (and resolved again: the change made meanwhile is published).
  ASSERT_EQ(::RegUnLoadKeyW(HKEY_USERS, sid_leaving.c_str()), ERROR_SUCCESS);
  ASSERT_TRUE(probe.wait_generation_above(g_released, 15s, &snap, [&](const TableSnapshot& s) {
    return !has_user(s, sid_leaving, L"") && has_user(s, sid_staying, later);
  })) << "after the unload: the leaving user must be gone and the staying user's change published";
  EXPECT_NE(read_text_file(log_path).find("the logoff is complete"), std::string::npos);
  // Watched again: the next change is noticed by its own watch.
  ASSERT_TRUE(reg_set_sz(HKEY_USERS, staying_mail, L"", staying));
  EXPECT_TRUE(probe.wait_generation_above(snap.info.generation, 10s, &snap, [&](const TableSnapshot& s) {
    return has_user(s, sid_staying, staying);
  })) << "the staying user's hive is not watched again";
  ASSERT_EQ(svc.stop(), "");
}

TEST(ServiceCommandLine, BadCommandLinesAreUsageErrors) {
  std::string out;
  EXPECT_EQ(run_mapidispatch({L"frobnicate"}, &out), 2) << out;
  EXPECT_NE(out.find("unknown command"), std::string::npos) << out;
  EXPECT_EQ(run_mapidispatch({L"status", L"--json", L"--json"}, &out), 2) << out;
  EXPECT_EQ(run_mapidispatch({L"install", L"--start", L"sometimes", L"--service-name", L"X"}, &out), 2) << out;
  EXPECT_EQ(run_mapidispatch({L"status", L"--section", L"NoPrefix"}, &out), 2) << out;
  EXPECT_EQ(run_mapidispatch({L"run"}, &out), 2) << out;
  EXPECT_EQ(run_mapidispatch({L"explain", L"--bitness", L"x128"}, &out), 2) << out;
  EXPECT_EQ(run_mapidispatch({L"service"}, &out), 2) << out;  // not started by the SCM
  EXPECT_EQ(run_mapidispatch({}, &out), 2) << out;
  EXPECT_EQ(run_mapidispatch({L"help"}, &out), 0) << out;
  EXPECT_NE(out.find("refresh"), std::string::npos);
}

TEST(ServiceCommandLine, ExplainReadsTheTableOrTheRegistry) {
  std::string out;
  // No table under this name: explain falls back to the registry, as a stub would.
  EXPECT_EQ(run_mapidispatch({L"explain", L"--section", L"Local\\MapiDispatchTest.NoTable", L"--module", L"outlook.exe",
                              L"--bitness", L"x86"},
                             &out),
            0)
      << out;
  EXPECT_NE(out.find("the registry, as stubs do"), std::string::npos) << out;
  EXPECT_NE(out.find("Simple MAPI"), std::string::npos) << out;
  EXPECT_NE(out.find("Extended MAPI"), std::string::npos) << out;
}

}  // namespace
}  // namespace mapidispatch::test
