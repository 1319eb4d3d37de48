// Copyright MapiDispatch authors.
//
// fault_bench, scenario registry-flood (its description says what it injects). What a
// scenario gets from the harness and must report: fault_harness.h.

#include <windows.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fault_harness.h"

namespace mapidispatch::evidence {

using namespace std::chrono_literals;

ScenarioResult Bench::registry_flood() {
  ScenarioResult r;
  r.name = "registry-flood";
  r.description =
      "thousands of registry writes under Clients\\Mail in one burst (each step a new client key and the default "
      "pointed at it), hostile value types and lengths mixed in where they must not change an answer, clients "
      "calling throughout; the service stays alive, coalesces, and converges to the last value";
  const int steps = opt_.quick ? 1000 : 10000;
  if (std::string e = begin_load(r.name, 8, 2, 2); !e.empty()) {
    r.harness_error = true;
    r.note = e;
    end_load();
    return r;
  }
  TableSnapshot start;
  wait_current(0, n_.load(), 30s, &start);
  const auto stats0 = service_stats();
  const uint64_t writes0 = writes_;
  uint64_t hostile = 0;
  const auto t0 = Clock::now();
  uint64_t hostile_steps = 0;
  for (int i = 0; i < steps; ++i) {
    advance();
    if (i % 2 == 0) hostile += static_cast<uint64_t>(hostile_write(hostile_steps++));  // every kind in turn
  }
  const double burst_ms = ms_since(t0);
  const uint64_t final_n = n_.load();
  const auto t1 = Clock::now();
  TableSnapshot end;
  const bool converged = wait_current(start.info.generation, final_n, 30s, &end) && n_of(end) == final_n;
  const double converge_ms = ms_since(t1);
  ::Sleep(kDebounceMs * 10);
  TableSnapshot settled;
  read_now(&settled);
  const auto stats1 = service_stats();
  DWORD pid_now = 0;
  const DWORD state = svc_->state(&pid_now);
  const bool alive = state == SERVICE_RUNNING && settled.info.writer_pid == start.info.writer_pid &&
                     settled.info.writer_pid != 0;
  const uint64_t writes = writes_ - writes0;
  const uint64_t publishes_gen = settled.info.generation - start.info.generation;
  auto delta = [&](const wchar_t* k) -> uint64_t {
    const auto a = stats0.find(k), b = stats1.find(k);
    return (a != stats0.end() && b != stats1.end() && b->second >= a->second) ? b->second - a->second : 0;
  };
  // The hostile values go, so that later scenarios publish small tables again.
  HKEY apps = nullptr;
  if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, &apps) == ERROR_SUCCESS) {
    for (const auto& v : hostile_values_) ::RegDeleteValueW(apps, v.c_str());
    ::RegCloseKey(apps);
  }
  for (int j = 0; j < 8; ++j)
    ::RegDeleteTreeW(mail_, (L"MDFault." + std::to_wstring(pid_) + L".junk" + std::to_wstring(j)).c_str());
  ::Sleep(kDebounceMs * 10);
  wait_current(0, final_n, 30s);
  const Tally t = end_load();
  fill_common(&r, t, rebinds());
  r.iterations = static_cast<uint64_t>(steps);
  r.details.add("registry_writes", writes);
  r.details.add("hostile_writes", hostile);
  r.details.add_ms("burst_ms", burst_ms);
  r.details.add("publishes", publishes_gen);
  r.details.add("service_notifications", delta(L"Notifications"));
  r.details.add("service_resolves", delta(L"Resolves"));
  r.details.add("service_publishes", delta(L"Publishes"));
  r.details.add_ms("converged_after_last_write_ms", converge_ms);
  r.details.add("converged", converged ? 1u : 0u);
  r.details.add("service_alive_same_process", alive ? 1u : 0u);
  r.details.add("debounce_ms", kDebounceMs);
  std::vector<std::string> shortfalls;
  if (!converged)
    shortfalls.push_back("the table did not converge to the last client within 30 s (it shows client " +
                         std::to_string(n_of(end)) + ", last written " + std::to_string(final_n) + ")");
  if (!alive) shortfalls.push_back("the service did not survive the flood in the same process");
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.0f", burst_ms > 0 ? static_cast<double>(writes) * 1000.0 / burst_ms : 0.0);
  r.note = std::to_string(writes) + " registry writes (" + std::to_string(hostile) + " of them hostile: binary, "
           "DWORD and multi-string DLLPaths, 40,000-character and unterminated strings, undefined environment "
           "variables, 16,383-character value names, MSMapiApps entries of every type) in " + ms_text(burst_ms) +
           " (" + rate + " per second); the service saw " + std::to_string(delta(L"Notifications")) +
           " notifications, resolved " + std::to_string(delta(L"Resolves")) + " times and published " +
           std::to_string(publishes_gen) + " generations (debounce " + std::to_string(kDebounceMs) +
           " ms), stayed in the same process, and showed the last client " + ms_text(converge_ms) +
           " after the last write.";
  judge(&r, t, shortfalls);
  return r;
}

}  // namespace mapidispatch::evidence
