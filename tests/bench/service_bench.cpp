// Copyright MapiDispatch authors.
//
// The service's figures (prints them; never pass/fail on numbers):
//  - propagation latency: a registry write under HKLM\Software\Clients\Mail to the new
//    generation being visible to a reader of the table (p50, p90, p99, max), with the
//    service's default debounce unless --debounce-ms says otherwise;
//  - idle cost over --idle-seconds: the event loop's wake-ups (the service counts them; control
//    code 129 writes the counters to its State key) and the process's working set.
//
//   service_bench [--samples N] [--idle-seconds S] [--debounce-ms MS] [--quick] [--json FILE]
//
// --json also writes the figures to FILE (deploy/scripts/evidence.sh merges it); a figure that
// could not be measured is null there.
//
// Runs the real service under the real SCM (like service_scm_test); Windows x64 / Wine only.

#include <windows.h>
#include <psapi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "service_test_util.h"

namespace {

using namespace mapidispatch;
using namespace mapidispatch::test;
using Clock = std::chrono::steady_clock;

const std::wstring kMail = L"Software\\Clients\\Mail";

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 200;
  int idle_seconds = 60;
  DWORD debounce_ms = 200;  // the service's default
  const char* json = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> long {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "service_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::strtol(argv[++i], nullptr, 10);
    };
    if (a == "--samples") samples = static_cast<int>(next());
    else if (a == "--idle-seconds") idle_seconds = static_cast<int>(next());
    else if (a == "--debounce-ms") debounce_ms = static_cast<DWORD>(next());
    else if (a == "--quick") { samples = 30; idle_seconds = 20; }
    else if (a == "--json" && i + 1 < argc) json = argv[++i];
    else {
      std::fprintf(stderr, "usage: service_bench [--samples N] [--idle-seconds S] [--debounce-ms MS] [--quick] [--json FILE]\n");
      return 2;
    }
  }

  // Wine maps its own runtime into every process: this process's working set before any work is
  // the floor every Windows program has here, to tell the service's own cost from it.
  PROCESS_MEMORY_COUNTERS_EX floor_mem{};
  const bool have_floor = ::K32GetProcessMemoryInfo(::GetCurrentProcess(), reinterpret_cast<PROCESS_MEMORY_COUNTERS*>(&floor_mem),
                                                    sizeof floor_mem) != 0;

  TestService svc("bench", debounce_ms);
  if (!svc.ok()) {
    std::fprintf(stderr, "install failed: %s\n", svc.error().c_str());
    return 1;
  }
  const std::wstring client = L"MDBench." + std::to_wstring(::GetCurrentProcessId());
  reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + client, L"DLLPath", L"C:\\bench\\start.dll");
  reg_set_sz(HKEY_LOCAL_MACHINE, kMail, L"", client);
  if (const std::string e = svc.start(); !e.empty()) {
    std::fprintf(stderr, "start failed: %s\n", e.c_str());
    return 1;
  }
  TableProbe probe(svc.section());
  if (!probe.open()) {
    std::fprintf(stderr, "no section\n");
    return 1;
  }

  // ---- Propagation latency ----
  std::vector<double> latencies;
  int lost = 0;
  for (int i = 0; i < samples; ++i) {
    const std::wstring path = L"C:\\bench\\" + std::to_wstring(i) + L".dll";
    const std::u16string want(path.begin(), path.end());
    const uint64_t g = probe.generation();
    const auto t0 = Clock::now();
    reg_set_sz(HKEY_LOCAL_MACHINE, kMail + L"\\" + client, L"DLLPath", path);
    TableSnapshot snap;
    uint32_t seen = probe.sequence();
    bool ok = false;
    // A stub's fast path: one load of the sequence count; a full read only when it moved.
    while (Clock::now() - t0 < std::chrono::seconds(10)) {
      const uint32_t s = probe.sequence();
      if (s != seen && !(s & 1u)) {
        seen = s;
        if (probe.read(&snap) == TableError::kOk && snap.info.generation > g && snap.machine.simple.path == want) {
          ok = true;
          break;
        }
      }
      // A short sleep, not a spin: the service shares the CPU with this reader.
      std::this_thread::sleep_for(std::chrono::microseconds(250));
    }
    const auto t1 = Clock::now();
    if (!ok) {
      ++lost;
      continue;
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    // Let the debounce window close so samples are independent.
    std::this_thread::sleep_for(std::chrono::milliseconds(debounce_ms + 50));
  }

  // ---- Idle cost ----
  uint64_t w0 = 0, w1 = 0;
  const bool have_w0 = service_counter(svc, L"WakeUps", &w0);
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  const bool have_w1 = service_counter(svc, L"WakeUps", &w1);
  DWORD pid = 0;
  svc.state(&pid);
  PROCESS_MEMORY_COUNTERS_EX mem{};
  bool have_mem = false;
  if (HANDLE h = ::OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, FALSE, pid)) {
    have_mem = ::K32GetProcessMemoryInfo(h, reinterpret_cast<PROCESS_MEMORY_COUNTERS*>(&mem), sizeof mem) != 0;
    ::CloseHandle(h);
  }

  std::printf("MapiDispatch service benchmark (Wine or Windows; service pid %lu)\n", pid);
  std::printf("propagation latency, registry write -> new generation visible to a reader\n");
  std::printf("  debounce          %lu ms\n", debounce_ms);
  std::printf("  samples           %zu (lost %d)\n", latencies.size(), lost);
  std::printf("  p50               %.1f ms\n", percentile(latencies, 0.50));
  std::printf("  p90               %.1f ms\n", percentile(latencies, 0.90));
  std::printf("  p99               %.1f ms\n", percentile(latencies, 0.99));
  std::printf("  max               %.1f ms\n", latencies.empty() ? 0.0 : *std::max_element(latencies.begin(), latencies.end()));
  std::printf("  p99 - debounce    %.1f ms (target: within 50 ms)\n", percentile(latencies, 0.99) - debounce_ms);
  std::printf("idle cost over %d s\n", idle_seconds);
  if (have_w0 && have_w1) {
    // The second stats request is itself one wake-up.
    const double per_min = static_cast<double>(w1 - w0 - 1) * 60.0 / idle_seconds;
    std::printf("  event-loop wake-ups  %llu (%.2f per minute; the revalidation timer fires once per RevalidateMinutes)\n",
                static_cast<unsigned long long>(w1 - w0 - 1), per_min);
  } else {
    std::printf("  event-loop wake-ups  unavailable (control 129 not answered)\n");
  }
  if (have_mem) {
    std::printf("  working set          %.1f MB (peak %.1f MB, private %.1f MB)\n", mem.WorkingSetSize / 1048576.0,
                mem.PeakWorkingSetSize / 1048576.0, mem.PrivateUsage / 1048576.0);
  } else {
    std::printf("  working set          unavailable\n");
  }
  if (have_floor)
    std::printf("  floor (this process before any work) %.1f MB: the service's own share is the difference\n",
                floor_mem.WorkingSetSize / 1048576.0);
  if (json != nullptr) {
    std::ofstream j(json);
    j.precision(10);
    const auto mb = [](bool have, SIZE_T bytes) { return have ? std::to_string(bytes / 1048576.0) : std::string("null"); };
    j << "{\n  \"debounce_ms\": " << debounce_ms << ",\n  \"samples\": " << latencies.size() << ",\n  \"lost\": " << lost
      << ",\n  \"propagation_p50_ms\": " << percentile(latencies, 0.50) << ",\n  \"propagation_p90_ms\": "
      << percentile(latencies, 0.90) << ",\n  \"propagation_p99_ms\": " << percentile(latencies, 0.99)
      << ",\n  \"propagation_max_ms\": " << (latencies.empty() ? 0.0 : *std::max_element(latencies.begin(), latencies.end()))
      << ",\n  \"idle_seconds\": " << idle_seconds << ",\n  \"idle_wakeups\": ";
    if (have_w0 && have_w1) j << (w1 - w0 - 1) << ",\n  \"idle_wakeups_per_minute\": " << static_cast<double>(w1 - w0 - 1) * 60.0 / idle_seconds;
    else j << "null,\n  \"idle_wakeups_per_minute\": null";
    j << ",\n  \"working_set_mb\": " << mb(have_mem, mem.WorkingSetSize) << ",\n  \"peak_working_set_mb\": "
      << mb(have_mem, mem.PeakWorkingSetSize) << ",\n  \"private_mb\": " << mb(have_mem, mem.PrivateUsage)
      << ",\n  \"floor_working_set_mb\": " << mb(have_floor, floor_mem.WorkingSetSize) << "\n}\n";
  }
  svc.stop();
  reg_delete_tree(HKEY_LOCAL_MACHINE, kMail + L"\\" + client);
  return 0;
}
