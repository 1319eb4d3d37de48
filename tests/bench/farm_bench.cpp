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
//  - the same change seen by --readers reader processes (64 by default): from the write until
//    the last of them has seen the user's new default, p50 and p99 over --changes changes.
//    Each reader is a child process of this program that maps the table read-only and behaves
//    like a stub between calls: it loads the sequence count every --poll-ms (5: 64 processes
//    spinning would starve the service on two cores, so the figure includes up to one poll
//    interval), and reads the changed user's scope only when the count moved. Readers
//    timestamp with QueryPerformanceCounter, one clock for every process of the machine;
//  - a machine-wide change: HKLM's default flipped between two clients of HKLM's, to the table
//    showing it (p50, p99 over --changes), and the service's CPU time per change: the machine
//    scope and only the users whose HKLM reads changed are resolved again (registry_reads.h);
//  - the service's working set, threads and handles with N hives watched, and threads and
//    handles per hive (above those of a service started before any hive is loaded: the
//    prefix's own user hive and the machine-wide watches);
//  - the table's size, and the time of `mapidispatch status`.
//
//   farm_bench [--sizes 1,10,100,500,1000] [--changes 20] [--readers 64] [--poll-ms 5] [--json FILE]
//
// Runs the real service under the real SCM (like service_bench); Windows x64 / Wine only. The
// hives are copies of two template hive files, loaded as S-1-5-21-7777777-7777777-7777777-<n>.

#include <windows.h>
#include <psapi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/cross_process.h"
#include "../support/win_process.h"
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

// Waits, as a stub would between calls, until the table shows `client` as the default of user
// `sid` (empty: of the machine scope): the sequence count every millisecond, and a read of that
// one scope only when it moved. (A read of every scope of a farm each millisecond took a core
// of the two and slowed the service it measures.)
bool wait_default(const TableProbe& probe, const std::wstring& sid, const std::wstring& client,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const std::u16string sid16(sid.begin(), sid.end()), client16(client.begin(), client.end());
  uint32_t last = 1;  // odd: no accepted read has it, so the first check reads
  TableSnapshot s;
  return wait_until(
      [&] {
        if (probe.sequence() == last || probe.read_scope(sid16, &s) != TableError::kOk) return false;
        last = s.info.sequence;
        return (sid.empty() ? s.machine.default_client : s.user ? s.user->default_client : std::u16string()) == client16;
      },
      timeout, std::chrono::milliseconds(1));
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

// ---- Reader processes -------------------------------------------------------------------------

constexpr int kMaxChanges = 256;

// The plan of the readers' phase, written before the readers start: change k sets user
// plan[k].sid's default to plan[k].client. Then the harness announces each change (`current`)
// before it writes it, and each reader timestamps the first read that shows it.
struct PlannedChange {
  wchar_t sid[64];
  wchar_t client[16];
};
struct ReadersControl {
  int64_t current;  // the change being made (-1: none yet); set before the registry write
  int64_t stop;     // 1: readers finish
  int64_t ready;    // readers that have mapped the table and read it once
  int64_t changes;
  PlannedChange plan[kMaxChanges];
};
struct ReaderSlot {
  int64_t seen_qpc[kMaxChanges];  // QPC of the first read showing change k; 0: not yet
  int64_t reads, errors;
};
struct ReadersSection {
  ReadersControl control;
  ReaderSlot& reader(int i) {
    return reinterpret_cast<ReaderSlot*>(reinterpret_cast<std::byte*>(this) + sizeof(ReadersControl))[i];
  }
  static size_t bytes(int n) { return sizeof(ReadersControl) + sizeof(ReaderSlot) * static_cast<size_t>(n); }
};

std::wstring widen(const std::string& s) { return std::wstring(s.begin(), s.end()); }

// --reader RESULTS SECTION INDEX POLL_MS PARENT_PID
int reader_main(char** argv) {
  const std::string results_name = argv[0], section = argv[1];
  const int index = std::atoi(argv[2]);
  const DWORD poll_ms = static_cast<DWORD>(std::atoi(argv[3]));
  HANDLE parent = ::OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(std::atoll(argv[4])));
  HANDLE map = ::OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, results_name.c_str());
  if (map == nullptr) return 10;
  auto* results = static_cast<ReadersSection*>(::MapViewOfFile(map, FILE_MAP_ALL_ACCESS, 0, 0, 0));
  if (results == nullptr) return 11;
  ReadersControl& ctl = results->control;
  ReaderSlot& me = results->reader(index);
  // The plan was written before this process started: plain reads.
  const int64_t changes = ctl.changes;
  std::vector<std::u16string> sids, clients;
  for (int64_t k = 0; k < changes; ++k) {
    const std::wstring sid = ctl.plan[k].sid, client = ctl.plan[k].client;
    sids.emplace_back(sid.begin(), sid.end());
    clients.emplace_back(client.begin(), client.end());
  }
  std::unique_ptr<ReadOnlySection> mapping;
  if (ReadOnlySection::open(section, &mapping)) return 12;
  const TableReader reader(mapping->bytes());
  TableSnapshot snap;
  for (;;) {  // the first read, as a stub's first call does
    if (reader.read(u"", &snap) == TableError::kOk) break;
    if (at(ctl.stop).load(std::memory_order_relaxed)) return 13;
    ::Sleep(poll_ms);
  }
  uint32_t seen = snap.info.sequence;
  at(ctl.ready).fetch_add(1, std::memory_order_acq_rel);
  int64_t polls = 0;
  while (at(ctl.stop).load(std::memory_order_relaxed) == 0) {
    const uint32_t s = reader.sequence();  // a stub's per-call check
    // Acquire: the plan entry of `k` was written before the harness stored k.
    const int64_t k = at(ctl.current).load(std::memory_order_acquire);
    if (s != seen && k >= 0 && k < changes) {
      const TableError e = reader.read(sids[static_cast<size_t>(k)], &snap);
      at(me.reads).fetch_add(1, std::memory_order_relaxed);
      if (e == TableError::kOk) {
        seen = snap.info.sequence;
        if (snap.user && snap.user->default_client == clients[static_cast<size_t>(k)] &&
            at(me.seen_qpc[k]).load(std::memory_order_relaxed) == 0)
          at(me.seen_qpc[k]).store(qpc(), std::memory_order_release);
      } else if (e != TableError::kBusy) {  // busy: retried at the next poll
        at(me.errors).fetch_add(1, std::memory_order_relaxed);
        seen = s;
      }
    }
    if ((++polls & 255) == 0 && parent != nullptr && ::WaitForSingleObject(parent, 0) == WAIT_OBJECT_0) break;
    ::Sleep(poll_ms);
  }
  if (parent != nullptr) ::CloseHandle(parent);
  return 0;
}

struct ReadersResult {
  int spawned = 0, lost = 0, errors = 0;
  double spawn_s = -1, all_p50_ms = -1, all_p99_ms = -1, publish_p50_ms = -1;
};

// Makes `changes` isolated changes of distinct users with a default of their own (even hive
// indices below `hives`), each seen by `readers` reader processes of the table `probe` reads.
ReadersResult run_readers(TableProbe& probe, const std::string& section, int hives, int readers, int changes,
                          DWORD poll_ms) {
  ReadersResult out;
  const std::string name = "Local\\MDFarmReaders." + std::to_string(::GetCurrentProcessId()) + "." + std::to_string(hives);
  const size_t bytes = ReadersSection::bytes(readers);
  HANDLE map = ::CreateFileMappingA(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0, static_cast<DWORD>(bytes), name.c_str());
  if (map == nullptr) return out;
  auto* results = static_cast<ReadersSection*>(::MapViewOfFile(map, FILE_MAP_ALL_ACCESS, 0, 0, 0));
  if (results == nullptr) {
    ::CloseHandle(map);
    return out;
  }
  std::memset(static_cast<void*>(results), 0, bytes);
  ReadersControl& ctl = results->control;
  ctl.current = -1;
  // The plan: distinct users, each to the client it does not have now.
  TableSnapshot now;
  if (probe.read(&now) != TableError::kOk) {
    ::UnmapViewOfFile(results);
    ::CloseHandle(map);
    return out;
  }
  changes = std::min({changes, kMaxChanges, std::max(1, (hives + 1) / 2)});
  ctl.changes = changes;
  for (int k = 0; k < changes; ++k) {
    const int u = ((k * 7919) % ((hives + 1) / 2)) * 2;
    const std::wstring sid = farm_sid(u);
    const std::wstring next = user_default_is(now, sid, L"FarmA") ? L"FarmB" : L"FarmA";
    wcsncpy(ctl.plan[k].sid, sid.c_str(), 63);
    wcsncpy(ctl.plan[k].client, next.c_str(), 15);
  }
  wchar_t exe[MAX_PATH * 2];
  ::GetModuleFileNameW(nullptr, exe, MAX_PATH * 2);
  std::vector<HANDLE> children;
  const int64_t spawn0 = qpc();
  for (int r = 0; r < readers; ++r) {
    const std::wstring cmd = L"\"" + std::wstring(exe) + L"\" --reader " + widen(name) + L" " + widen(section) + L" " +
                             std::to_wstring(r) + L" " + std::to_wstring(poll_ms) + L" " +
                             std::to_wstring(::GetCurrentProcessId());
    STARTUPINFOW si{};
    si.cb = sizeof si;
    PROCESS_INFORMATION pi{};
    if (!create_process_retrying(cmd, false, &si, &pi)) {
      std::fprintf(stderr, "reader %d: CreateProcessW failed: %lu\n", r, ::GetLastError());
      continue;
    }
    ::CloseHandle(pi.hThread);
    children.push_back(pi.hProcess);
  }
  out.spawned = static_cast<int>(children.size());
  const bool ready = wait_until([&] { return at(ctl.ready).load(std::memory_order_acquire) >= out.spawned; },
                                std::chrono::seconds(120 + 2 * readers), std::chrono::milliseconds(20));
  out.spawn_s = qpc_ms(qpc() - spawn0) / 1000.0;
  ::Sleep(500);  // the start-up of the last processes settles
  std::vector<double> all_ms, publish_ms;
  for (int k = 0; k < changes && ready; ++k) {
    const std::wstring sid = ctl.plan[k].sid, client = ctl.plan[k].client;
    at(ctl.current).store(k, std::memory_order_release);  // announced before it can be published
    const int64_t t0 = qpc();
    if (!reg_set_sz(HKEY_USERS, sid + L"\\Software\\Clients\\Mail", L"", client)) {
      ++out.lost;
      continue;
    }
    // The publish, as this process sees it (polling every millisecond), then every reader.
    if (wait_default(probe, sid, client, std::chrono::seconds(30))) publish_ms.push_back(qpc_ms(qpc() - t0));
    std::vector<int64_t> seen(static_cast<size_t>(out.spawned), 0);
    const bool all = wait_until(
        [&] {
          bool done = true;
          for (int r = 0; r < out.spawned; ++r) {
            if (seen[r] == 0) seen[r] = at(results->reader(r).seen_qpc[k]).load(std::memory_order_acquire);
            done = done && seen[r] != 0;
          }
          return done;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(1));
    if (all) all_ms.push_back(qpc_ms(*std::max_element(seen.begin(), seen.end()) - t0));
    else ++out.lost;
    ::Sleep(150);  // a quiet window before the next: isolated changes
  }
  at(ctl.stop).store(1, std::memory_order_release);
  for (HANDLE h : children) {
    if (::WaitForSingleObject(h, 30000) != WAIT_OBJECT_0) ::TerminateProcess(h, 1);
    DWORD code = 0;
    if (::GetExitCodeProcess(h, &code) && code != 0) ++out.errors;
    ::CloseHandle(h);
  }
  for (int r = 0; r < out.spawned; ++r) out.errors += static_cast<int>(at(results->reader(r).errors).load());
  out.all_p50_ms = percentile(all_ms, 0.5);
  out.all_p99_ms = percentile(all_ms, 0.99);
  out.publish_p50_ms = percentile(publish_ms, 0.5);
  ::UnmapViewOfFile(results);
  ::CloseHandle(map);
  return out;
}

struct Row {
  int hives = 0, scopes = 0;
  double start_ms = -1, change_p50_ms = -1, change_p99_ms = -1, cpu_per_change_ms = -1, status_ms = -1;
  double machine_p50_ms = -1, machine_p99_ms = -1, machine_cpu_ms = -1;
  double start_cpu_ms = -1;  // the service's CPU time from its start to the first complete table
  double working_set_mb = -1;
  ReadersResult readers;
  int threads = -1;
  long handles = -1;  // -1: not reported (process_handle_count: Wine answers through SystemHandleInformation)
  uint32_t table_bytes = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::strcmp(argv[1], "--reader") == 0) return reader_main(argv + 2);
  std::vector<int> sizes = {1, 10, 100, 500, 1000};
  int changes = 20, readers = 64;
  DWORD poll_ms = 5;
  const char* json = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::stringstream ss(argv[++i]);
      for (std::string n; std::getline(ss, n, ',');) sizes.push_back(std::atoi(n.c_str()));
    } else if (a == "--changes" && i + 1 < argc) {
      changes = std::atoi(argv[++i]);
    } else if (a == "--readers" && i + 1 < argc) {
      readers = std::atoi(argv[++i]);
    } else if (a == "--poll-ms" && i + 1 < argc) {
      poll_ms = static_cast<DWORD>(std::atoi(argv[++i]));
    } else if (a == "--json" && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: farm_bench [--sizes 1,10,100] [--changes N] [--readers N] [--poll-ms MS] [--json FILE]\n");
      return 2;
    }
  }
  if (changes < 1 || changes > kMaxChanges || readers < 0 || readers > 1024 || poll_ms < 1 || poll_ms > 1000) {
    std::fprintf(stderr, "farm_bench: --changes 1..%d, --readers 0..1024, --poll-ms 1..1000\n", kMaxChanges);
    return 2;
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
      if (!wait_default(probe, sid, next)) continue;
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
      const double cpu0 = cpu_ms(svc);
      const auto tw = Clock::now();
      if (!reg_set_sz(HKEY_LOCAL_MACHINE, L"Software\\Clients\\Mail", L"", next)) continue;
      if (!wait_default(probe, L"", next)) continue;
      machine_latencies.push_back(ms_since(tw));
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      machine_cpu.push_back(cpu_ms(svc) - cpu0);
    }
    row.machine_p50_ms = percentile(machine_latencies, 0.5);
    row.machine_p99_ms = percentile(machine_latencies, 0.99);
    row.machine_cpu_ms = mean(machine_cpu);
    PROCESS_MEMORY_COUNTERS pmc{};
    if (::GetProcessMemoryInfo(process, &pmc, sizeof pmc)) row.working_set_mb = static_cast<double>(pmc.WorkingSetSize) / 1048576.0;
    // Last: the readers' polling costs the machine CPU that the figures above do not include.
    if (readers > 0) row.readers = run_readers(probe, svc.section(), n, readers, changes, poll_ms);
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
    if (readers > 0)
      std::printf("  %d readers (spawned in %.1f s): the table's publish p50 %.1f ms; the last reader seeing it p50 %.1f ms "
                  "p99 %.1f ms; %d change(s) lost, %d reader error(s)\n",
                  row.readers.spawned, row.readers.spawn_s, row.readers.publish_p50_ms, row.readers.all_p50_ms,
                  row.readers.all_p99_ms, row.readers.lost, row.readers.errors);
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
  std::printf("(readers p50/p99: one user's change until all %d reader processes saw it, polling every %lu ms)\n", readers,
              static_cast<unsigned long>(poll_ms));
  std::printf("%7s %7s %10s %12s %12s %12s %12s %12s %12s %12s %12s %9s %8s %8s %13s %13s %11s %10s\n", "hives", "scopes",
              "start ms", "change p50", "change p99", "CPU/change", "readers p50", "readers p99", "HKLM p50", "HKLM p99",
              "CPU/HKLM", "WS MB", "threads", "handles", "threads/hive", "handles/hive", "table B", "status ms");
  for (const Row& r : rows)
    std::printf("%7d %7d %10.0f %12.1f %12.1f %12.1f %12.1f %12.1f %12.1f %12.1f %12.1f %9.1f %8d %8ld %13.3f %13.2f %11u %10.0f\n",
                r.hives, r.scopes, r.start_ms, r.change_p50_ms, r.change_p99_ms, r.cpu_per_change_ms, r.readers.all_p50_ms,
                r.readers.all_p99_ms, r.machine_p50_ms, r.machine_p99_ms, r.machine_cpu_ms, r.working_set_mb, r.threads, r.handles,
                per_hive(r.threads, base_threads, r.hives), per_hive(static_cast<double>(r.handles),
                static_cast<double>(base_handles), r.hives), r.table_bytes, r.status_ms);
  if (json != nullptr) {
    std::ofstream j(json);
    j << "{\"farm\": [";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      j << (i ? ",\n  " : "\n  ") << "{\"hives\": " << r.hives << ", \"scopes\": " << r.scopes << ", \"start_ms\": " << r.start_ms << ", \"start_cpu_ms\": " << r.start_cpu_ms
        << ", \"change_p50_ms\": " << r.change_p50_ms << ", \"change_p99_ms\": " << r.change_p99_ms
        << ", \"cpu_per_change_ms\": " << r.cpu_per_change_ms << ", \"readers\": " << r.readers.spawned
        << ", \"readers_p50_ms\": " << r.readers.all_p50_ms << ", \"readers_p99_ms\": " << r.readers.all_p99_ms
        << ", \"readers_lost\": " << r.readers.lost << ", \"reader_errors\": " << r.readers.errors
        << ", \"machine_change_p50_ms\": " << r.machine_p50_ms
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
