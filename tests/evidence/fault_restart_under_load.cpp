// Copyright MapiDispatch authors.
//
// fault_bench, scenario restart-under-load (its description says what it injects). What a
// scenario gets from the harness and must report: fault_harness.h.

#include <windows.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fault_harness.h"

namespace mapidispatch::evidence {

using namespace std::chrono_literals;

ScenarioResult Bench::restart_under_load() {
  ScenarioResult r;
  r.name = "restart-under-load";
  const int clients = 64;
  const int cycles = opt_.quick ? 2 : 8;
  const int kills = opt_.quick ? 1 : 3;
  r.description = "service stop + start (" + std::to_string(cycles) + "x) and kill + start (" + std::to_string(kills) +
                  "x) while " + std::to_string(clients) + " client processes call continuously";
  const auto t_spawn = Clock::now();
  if (std::string e = begin_load(r.name, clients, 2, 10); !e.empty()) {
    r.harness_error = true;
    r.note = e;
    end_load();
    return r;
  }
  const double spawn_ms = ms_since(t_spawn);
  enum : uint32_t { kRunning = 0, kStopped = 1, kKilled = 2 };
  std::vector<std::string> shortfalls;
  std::vector<double> stop_ms, start_ms;
  uint64_t failures = 0;
  std::string first_error;
  ::Sleep(1000);
  for (int c = 0; c < cycles + kills && !service_lost(); ++c) {
    const bool kill = c >= cycles;
    TableSnapshot before;
    if (std::string e; !current_before(&before, &e)) {
      ++failures;
      if (first_error.empty()) first_error = "before cycle " + std::to_string(c) + ": " + e;
      continue;
    }
    set_phase(kill ? kKilled : kStopped);
    const auto t0 = Clock::now();
    if (kill) {
      if (!kill_pid(before.info.writer_pid)) ++failures;
    } else if (std::string e = svc_->stop(); !e.empty()) {
      ++failures;
      if (first_error.empty()) first_error = "stop: " + e;
    }
    stop_ms.push_back(ms_since(t0));
    ::Sleep(400);
    if (c % 2 == 1) advance();  // the default changes while nobody publishes
    ::Sleep(400);
    double ms = 0;
    if (std::string e = start_service(before.info.generation, n_.load(), &ms); !e.empty()) {
      ++failures;
      if (first_error.empty()) first_error = e;
    } else {
      start_ms.push_back(ms);
    }
    set_phase(kRunning);
    ::Sleep(800);
  }
  const Tally t = end_load();
  const RebindTally rb = rebinds();
  fill_common(&r, t, rb);
  r.iterations = static_cast<uint64_t>(cycles + kills);
  r.details.add("clients", static_cast<uint64_t>(clients));
  r.details.add("stop_start_cycles", static_cast<uint64_t>(cycles));
  r.details.add("kill_start_cycles", static_cast<uint64_t>(kills));
  r.details.add("calls_while_running", t.by_phase[kRunning].attempted);
  r.details.add("calls_while_stopped", t.by_phase[kStopped].attempted);
  r.details.add("calls_while_killed", t.by_phase[kKilled].attempted);
  r.details.add("service_failures", failures);
  r.details.add_ms("client_start_ms", spawn_ms);
  r.details.add_ms("stop_ms_median", percentile(stop_ms, 0.5));
  r.details.add_ms("start_to_current_table_ms_median", percentile(start_ms, 0.5));
  if (service_lost()) shortfalls.push_back("stopped early, the service is lost: " + lost_reason());
  if (failures) shortfalls.push_back(std::to_string(failures) + " stops/starts failed (" + first_error + ")");
  if (t.by_phase[kStopped].attempted == 0) shortfalls.push_back("no call was made while the service was stopped");
  r.note = std::to_string(clients) + " client processes (started in " + ms_text(spawn_ms) + ") made " +
           std::to_string(t.by_phase[kRunning].attempted) + " calls while the service ran, " +
           std::to_string(t.by_phase[kStopped].attempted) + " while it was stopped (table flagged 'writer stopped': "
           "stubs served from the registry) and " + std::to_string(t.by_phase[kKilled].attempted) +
           " while it was killed (the table stays valid and is used; nobody updates it). Stop took " +
           ms_text(percentile(stop_ms, 0.5)) + ", start to a current table " + ms_text(percentile(start_ms, 0.5)) +
           " (medians). Every other cycle changed the default while the service was down; the restarted service "
           "published it. " + rb.summary() + ".";
  judge(&r, t, shortfalls);
  return r;
}

}  // namespace mapidispatch::evidence
