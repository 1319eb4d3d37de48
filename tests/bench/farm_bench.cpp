// Copyright MapiDispatch authors.
//
// The service on a terminal-server farm (issue #12), figures only, never pass/fail: with N user
// hives loaded under HKEY_USERS (half of them with a Clients\Mail default of their own), for each
// N of --sizes:
//  - start: StartService to the first table that carries every user scope;
//  - one user's change: a write of that user's default to the table showing it (p50, p99 over
//    --changes isolated changes, each after a quiet debounce window), and the service's CPU time
//    per change (the service's own GetProcessTimes, control 129: the change, its publish, and
//    the two counter requests);
//  - a machine-wide change: HKLM's default flipped between two clients of HKLM's, to the table
//    showing it (p50, p99 over --changes), and the service's CPU time per change: the machine
//    scope and only the users whose HKLM reads changed are resolved again (registry_reads.h);
//  - the service's working set, threads and handles with N hives watched, and threads and
//    handles per hive (above those of a service started before any hive is loaded: the
//    prefix's own user hive and the machine-wide watches);
//  - the table's size, and the time of `mapidispatch status`.
//
//   farm_bench [--sizes 1,10,100,500,1000] [--changes 20] [--json FILE]
//
// Runs the real service under the real SCM (like service_bench); Windows x64 / Wine only. The
// hives are copies of two template hive files, loaded as S-1-5-21-7777777-7777777-7777777-<n>.

#include <windows.h>
#include <psapi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "service_test_util.h"

namespace {

using namespace mapidispatch;
using namespace mapidispatch::test;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

std::wstring farm_sid(int n) { return L"S-1-5-21-7777777-7777777-7777777-" + std::to_wstring(2000 + n); }

std::wstring temp_path(const std::wstring& name) {
  wchar_t temp[MAX_PATH];
  ::GetTempPathW(MAX_PATH, temp);
  return std::wstring(temp) + name;
}

// The service process's CPU time (user + kernel) in ms, as it reports it (control 129); -1 if
// it cannot be read.
double cpu_ms(TestService& svc) {
  uint64_t us = 0;
  return service_counter(svc, L"CpuMicroseconds", &us) ? static_cast<double>(us) / 1000.0 : -1;
}

bool user_default_is(const TableSnapshot& s, const std::wstring& sid, const std::wstring& client) {
  return std::any_of(s.users.begin(), s.users.end(), [&](const ScopeResolution& u) {
    return u.sid == std::u16string(sid.begin(), sid.end()) && u.default_client == std::u16string(client.begin(), client.end());
  });
}

// HKLM's default client, or "" if there is none.
std::wstring machine_default() {
  wchar_t buf[512];
  DWORD bytes = sizeof buf;
  if (::RegGetValueW(HKEY_LOCAL_MACHINE, L"Software\\Clients\\Mail", L"", RRF_RT_REG_SZ | RRF_SUBKEY_WOW6464KEY, nullptr,
                     buf, &bytes) != ERROR_SUCCESS)
    return {};
  return buf;
}

// The mean of `v` (Wine counts CPU time in 10 ms ticks, so single changes read 0 or 10), or -1.
double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? -1 : sum / static_cast<double>(v.size());
}

struct Row {
  int hives = 0, scopes = 0;
  double start_ms = -1, change_p50_ms = -1, change_p99_ms = -1, cpu_per_change_ms = -1, status_ms = -1;
  double machine_p50_ms = -1, machine_p99_ms = -1, machine_cpu_ms = -1;
  double start_cpu_ms = -1;  // the service's CPU time from its start to the first complete table
  double working_set_mb = -1;
  int threads = -1;
  long handles = -1;  // -1: not reported (process_handle_count: Wine answers through SystemHandleInformation)
  uint32_t table_bytes = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {1, 10, 100, 500, 1000};
  int changes = 20;
  const char* json = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::stringstream ss(argv[++i]);
      for (std::string n; std::getline(ss, n, ',');) sizes.push_back(std::atoi(n.c_str()));
    } else if (a == "--changes" && i + 1 < argc) {
      changes = std::atoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: farm_bench [--sizes 1,10,100] [--changes N] [--json FILE]\n");
      return 2;
    }
  }
  if (!enable_hive_privileges()) {
    std::fprintf(stderr, "cannot enable the hive privileges\n");
    return 1;
  }
  // Two template hives: a user with a default of their own (clients FarmA and FarmB), and one
  // without Clients\Mail.
  const std::wstring with = temp_path(L"md-farm-with.dat"), without = temp_path(L"md-farm-without.dat");
  for (const auto& [file, client] : {std::pair{with, std::wstring(L"FarmA")}, std::pair{without, std::wstring()}}) {
    const std::string err = make_hive_file(client, file, system_dll(L"user32.dll"), client.empty() ? L"" : L"FarmB");
    if (!err.empty()) {
      std::fprintf(stderr, "hive template: %s\n", err.c_str());
      return 1;
    }
  }
  // Two HKLM clients for the machine-wide changes; HKLM's default restored at the end.
  const std::wstring old_default = machine_default();
  for (const wchar_t* c : {L"FarmM1", L"FarmM2"})
    reg_set_sz(HKEY_LOCAL_MACHINE, std::wstring(L"Software\\Clients\\Mail\\") + c, L"DLLPath", system_dll(L"user32.dll"));
  std::vector<std::wstring> loaded_files;
  int loaded = 0;
  auto load_up_to = [&](int n) {
    for (; loaded < n; ++loaded) {
      const std::wstring file = temp_path(L"md-farm-" + std::to_wstring(loaded) + L".dat");
      ::CopyFileW((loaded % 2 == 0 ? with : without).c_str(), file.c_str(), FALSE);
      const LSTATUS rc = ::RegLoadKeyW(HKEY_USERS, farm_sid(loaded).c_str(), file.c_str());
      if (rc != ERROR_SUCCESS) {
        std::fprintf(stderr, "RegLoadKey %d: %ld\n", loaded, static_cast<long>(rc));
        return false;
      }
      loaded_files.push_back(file);
    }
    return true;
  };

  // The base of the per-hive figures: the service with no farm hive loaded.
  int base_threads = -1;
  long base_handles = -1;
  {
    TestService svc("farm-base");
    TableProbe probe(svc.section());
    if (svc.ok() && svc.start(std::chrono::seconds(120)).empty() && probe.open() &&
        probe.wait_generation_above(0, std::chrono::seconds(30))) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      DWORD pid = 0;
      svc.state(&pid);
      base_handles = process_handle_count(pid);
      base_threads = process_thread_count(pid);
      svc.stop(std::chrono::seconds(120));
    }
    std::printf("no farm hive loaded: %d threads, %ld handles\n", base_threads, base_handles);
  }
  auto per_hive = [](double now, double base, int hives) { return now < 0 || base < 0 ? -1.0 : (now - base) / hives; };

  std::vector<Row> rows;
  for (const int n : sizes) {
    const auto t_load = Clock::now();
    if (!load_up_to(n)) break;
    std::printf("N = %d hives loaded (%.0f ms to load)\n", n, ms_since(t_load));
    std::fflush(stdout);
    Row row;
    row.hives = n;
    const int user_scopes = (n + 1) / 2;
    TestService svc("farm");  // debounce 50 ms: isolated changes below wait longer than it
    if (!svc.ok()) {
      std::fprintf(stderr, "install: %s\n", svc.error().c_str());
      break;
    }
    TableProbe probe(svc.section());
    const auto t0 = Clock::now();
    const std::string started = svc.start(std::chrono::seconds(600));
    if (!started.empty() || !probe.open()) {
      std::fprintf(stderr, "start: %s\n", started.c_str());
      break;
    }
    TableSnapshot snap;
    if (!probe.wait_generation_above(0, std::chrono::seconds(600), &snap,
                                     [&](const TableSnapshot& s) { return static_cast<int>(s.users.size()) >= user_scopes; })) {
      std::fprintf(stderr, "N = %d: the table never carried the %d user scopes\n", n, user_scopes);
      break;
    }
    row.start_ms = ms_since(t0);
    row.start_cpu_ms = cpu_ms(svc);  // also the counter request's, a few ms
    row.scopes = static_cast<int>(snap.users.size()) + 1;
    DWORD pid = 0;
    svc.state(&pid);
    HANDLE process = ::OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, FALSE, pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    // Isolated changes of users with a default of their own, spread over the hives.
    std::vector<double> latencies, cpu;
    for (int c = 0; c < changes; ++c) {
      const int user = (c * 2 * 7919) % std::max(1, n);
      const int u = user - user % 2;  // an even index: a user with Clients\Mail
      const std::wstring sid = farm_sid(u);
      TableSnapshot now;
      if (probe.read(&now) != TableError::kOk) continue;
      const bool is_a = user_default_is(now, sid, L"FarmA");
      const std::wstring next = is_a ? L"FarmB" : L"FarmA";
      const double cpu0 = cpu_ms(svc);
      const auto tw = Clock::now();
      if (!reg_set_sz(HKEY_USERS, sid + L"\\Software\\Clients\\Mail", L"", next)) continue;
      if (!wait_until([&] { return probe.read(&now) == TableError::kOk && user_default_is(now, sid, next); },
                      std::chrono::seconds(60), std::chrono::milliseconds(1)))
        continue;
      latencies.push_back(ms_since(tw));
      std::this_thread::sleep_for(std::chrono::milliseconds(150));  // a quiet window before the next
      cpu.push_back(cpu_ms(svc) - cpu0);
    }
    row.change_p50_ms = percentile(latencies, 0.5);
    row.change_p99_ms = percentile(latencies, 0.99);
    row.cpu_per_change_ms = mean(cpu);

    // Machine-wide changes: HKLM's default flipped between FarmM1 and FarmM2 (HKLM clients no
    // user names; the users' own clients live in their hives).
    std::vector<double> machine_latencies, machine_cpu;
    for (int c = 0; c < changes; ++c) {
      const std::wstring next = c % 2 ? L"FarmM1" : L"FarmM2";
      const std::u16string next16(next.begin(), next.end());
      TableSnapshot now;
      const double cpu0 = cpu_ms(svc);
      const auto tw = Clock::now();
      if (!reg_set_sz(HKEY_LOCAL_MACHINE, L"Software\\Clients\\Mail", L"", next)) continue;
      if (!wait_until([&] { return probe.read(&now) == TableError::kOk && now.machine.default_client == next16; },
                      std::chrono::seconds(60), std::chrono::milliseconds(1)))
        continue;
      machine_latencies.push_back(ms_since(tw));
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      machine_cpu.push_back(cpu_ms(svc) - cpu0);
    }
    row.machine_p50_ms = percentile(machine_latencies, 0.5);
    row.machine_p99_ms = percentile(machine_latencies, 0.99);
    row.machine_cpu_ms = mean(machine_cpu);
    PROCESS_MEMORY_COUNTERS pmc{};
    if (::GetProcessMemoryInfo(process, &pmc, sizeof pmc)) row.working_set_mb = static_cast<double>(pmc.WorkingSetSize) / 1048576.0;
    row.handles = process_handle_count(pid);
    row.threads = process_thread_count(pid);
    if (probe.read(&snap) == TableError::kOk) row.table_bytes = snap.info.payload_end;
    const std::wstring section(svc.section().begin(), svc.section().end());
    std::string out;
    const auto ts = Clock::now();
    run_mapidispatch({L"status", L"--section", section}, &out, std::chrono::seconds(300));
    row.status_ms = ms_since(ts);
    ::CloseHandle(process);
    svc.stop(std::chrono::seconds(300));
    rows.push_back(row);
    std::printf("  start %.0f ms (service CPU %.0f ms); one user's change p50 %.1f ms p99 %.1f ms, service CPU %.1f ms; a machine-wide change "
                "p50 %.1f ms p99 %.1f ms, service CPU %.1f ms; working set %.1f MB, %d threads, %ld handles; table %u "
                "bytes; status %.0f ms\n",
                row.start_ms, row.start_cpu_ms, row.change_p50_ms, row.change_p99_ms, row.cpu_per_change_ms, row.machine_p50_ms,
                row.machine_p99_ms, row.machine_cpu_ms, row.working_set_mb, row.threads, row.handles, row.table_bytes,
                row.status_ms);
    std::fflush(stdout);
  }
  if (old_default.empty()) reg_delete_value(HKEY_LOCAL_MACHINE, L"Software\\Clients\\Mail", L"");
  else reg_set_sz(HKEY_LOCAL_MACHINE, L"Software\\Clients\\Mail", L"", old_default);
  for (const wchar_t* c : {L"FarmM1", L"FarmM2"})
    reg_delete_tree(HKEY_LOCAL_MACHINE, std::wstring(L"Software\\Clients\\Mail\\") + c);
  for (int i = loaded - 1; i >= 0; --i) ::RegUnLoadKeyW(HKEY_USERS, farm_sid(i).c_str());
  for (const auto& f : loaded_files) ::DeleteFileW(f.c_str());
  ::DeleteFileW(with.c_str());
  ::DeleteFileW(without.c_str());

  std::printf("\nfarm_bench (Wine: %s)\n", ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "wine_get_version") ? "yes" : "no");
  std::printf("(threads/hive and handles/hive: above the %d threads and %ld handles of the service with no farm hive)\n",
              base_threads, base_handles);
  std::printf("%7s %7s %10s %12s %12s %12s %12s %12s %12s %9s %8s %8s %13s %13s %11s %10s\n", "hives", "scopes",
              "start ms", "change p50", "change p99", "CPU/change", "HKLM p50", "HKLM p99", "CPU/HKLM", "WS MB",
              "threads", "handles", "threads/hive", "handles/hive", "table B", "status ms");
  for (const Row& r : rows)
    std::printf("%7d %7d %10.0f %12.1f %12.1f %12.1f %12.1f %12.1f %12.1f %9.1f %8d %8ld %13.3f %13.2f %11u %10.0f\n",
                r.hives, r.scopes, r.start_ms, r.change_p50_ms, r.change_p99_ms, r.cpu_per_change_ms, r.machine_p50_ms,
                r.machine_p99_ms, r.machine_cpu_ms, r.working_set_mb, r.threads, r.handles,
                per_hive(r.threads, base_threads, r.hives), per_hive(static_cast<double>(r.handles),
                static_cast<double>(base_handles), r.hives), r.table_bytes, r.status_ms);
  if (json != nullptr) {
    std::ofstream j(json);
    j << "{\"farm\": [";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      j << (i ? ",\n  " : "\n  ") << "{\"hives\": " << r.hives << ", \"scopes\": " << r.scopes << ", \"start_ms\": " << r.start_ms << ", \"start_cpu_ms\": " << r.start_cpu_ms
        << ", \"change_p50_ms\": " << r.change_p50_ms << ", \"change_p99_ms\": " << r.change_p99_ms
        << ", \"cpu_per_change_ms\": " << r.cpu_per_change_ms << ", \"machine_change_p50_ms\": " << r.machine_p50_ms
        << ", \"machine_change_p99_ms\": " << r.machine_p99_ms << ", \"cpu_per_machine_change_ms\": " << r.machine_cpu_ms
        << ", \"working_set_mb\": " << r.working_set_mb
        << ", \"threads\": " << r.threads << ", \"handles\": " << r.handles
        << ", \"threads_per_hive\": " << per_hive(r.threads, base_threads, r.hives)
        << ", \"handles_per_hive\": " << per_hive(static_cast<double>(r.handles), static_cast<double>(base_handles), r.hives)
        << ", \"table_bytes\": " << r.table_bytes
        << ", \"status_ms\": " << r.status_ms << "}";
    }
    j << "\n]}\n";
  }
  return 0;
}
