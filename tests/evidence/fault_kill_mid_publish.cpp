// Copyright MapiDispatch authors.
//
// fault_bench, scenario kill-mid-publish (its description says what it injects). What a
// scenario gets from the harness and must report: fault_harness.h.

#include <windows.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "fault_harness.h"

namespace mapidispatch::evidence {

using namespace std::chrono_literals;

ScenarioResult Bench::kill_mid_publish() {
  ScenarioResult r;
  r.name = "kill-mid-publish";
  r.description =
      "the real service killed at random points of a publish: the DebugCrashMidPublish hook with a random "
      "percentage (1-100) of the next table written, and external TerminateProcess kills at random moments of "
      "publish bursts; restarted by the harness each time, while client processes call and readers read";
  const int hook_kills = opt_.quick ? 12 : 250;
  const int external_kills = opt_.quick ? 4 : 40;
  if (std::string e = begin_load(r.name, 8, 2, 2); !e.empty()) {
    r.harness_error = true;
    r.note = e;
    end_load();
    return r;
  }
  std::vector<std::string> shortfalls;
  std::vector<double> restart_ms;
  uint64_t hook_fired = 0, odd_after = 0, hook_timeouts = 0, restart_failures = 0, generation_reused = 0;
  uint64_t ext_done = 0, ext_odd = 0, ext_targeted_odd = 0, percent_sum = 0;
  std::string first_restart_error;
  for (int i = 0; i < hook_kills && !service_lost(); ++i) {
    TableSnapshot before;
    if (std::string e; !current_before(&before, &e)) {
      ++restart_failures;
      if (first_restart_error.empty()) first_restart_error = "before hook kill " + std::to_string(i) + ": " + e;
      continue;
    }
    const auto percent = static_cast<DWORD>(rand_in(1, 100));
    percent_sum += percent;
    HANDLE service = ::OpenProcess(SYNCHRONIZE, FALSE, before.info.writer_pid);
    svc_->set_parameter(L"DebugCrashMidPublish", percent);
    svc_->control(SERVICE_CONTROL_PARAMCHANGE);
    // PARAMCHANGE is handled before the notification of this change: the publish it causes
    // is the one the hook abandons.
    advance();
    const bool died = service && ::WaitForSingleObject(service, 15000) == WAIT_OBJECT_0;
    if (service) ::CloseHandle(service);
    svc_->set_parameter(L"DebugCrashMidPublish", 0);
    if (!died) {
      ++hook_timeouts;
      svc_->control(SERVICE_CONTROL_PARAMCHANGE);
      continue;
    }
    ++hook_fired;
    if (probe_->sequence() & 1u) ++odd_after;
    ::Sleep(static_cast<DWORD>(rand_in(0, 50)));  // the dead writer's odd count, while clients call
    double ms = 0;
    if (std::string e = start_service(before.info.generation, n_.load(), &ms); !e.empty()) {
      ++restart_failures;
      if (first_restart_error.empty()) first_restart_error = e;
      continue;
    }
    restart_ms.push_back(ms);
    TableSnapshot after;
    if (read_now(&after) == TableError::kOk && after.info.generation == before.info.generation + 1) ++generation_reused;
  }
  // External kills. A table of a few KB is written in microseconds, so a kill at a random moment
  // almost never lands inside a publish. With ~1000 MSMapiApps overrides the table grows to
  // about a megabyte, and every other kill waits for the count to turn odd (a publish has begun)
  // and kills at once; the others land at a random moment of the burst.
  // Nothing of this needs doing for a service that cannot be started again.
  const uint32_t big_bytes = service_lost() ? 0 : set_big_table(true);
  // How long a publish of that table keeps the count odd: the window a kill must hit. A spinning
  // reader sees it only when it happens to be on a CPU then (two cores, a dozen busy threads),
  // so a few publishes are sampled.
  std::vector<double> window_us;
  for (int m = 0; m < 12 && window_us.size() < 3 && !service_lost(); ++m) {
    const uint32_t count0 = probe_->sequence();
    advance();
    // Until the count turns odd, or moved on to the next even value (the window was missed).
    const auto until = Clock::now() + 2s;
    uint32_t c = count0;
    while ((c = probe_->sequence()) == count0 && Clock::now() < until) {
    }
    if (c & 1u) {
      const auto odd_at = Clock::now();
      while ((probe_->sequence() & 1u) != 0 && Clock::now() < until) {
      }
      if (Clock::now() < until) window_us.push_back(ms_since(odd_at) * 1000.0);
    }
    wait_current(0, n_.load(), 30s);
  }
  for (int i = 0; i < external_kills && !service_lost(); ++i) {
    TableSnapshot before;
    if (std::string e; !current_before(&before, &e)) {
      ++restart_failures;
      if (first_restart_error.empty()) first_restart_error = "before external kill " + std::to_string(i) + ": " + e;
      continue;
    }
    const bool targeted = i % 2 == 0;
    // A burst of changes, each a publish after the debounce, until the kill.
    std::atomic<bool> killed_now{false};
    const DWORD gap = static_cast<DWORD>(rand_in(1, 8));
    std::thread burst([&] {
      while (!killed_now) {
        advance();
        ::Sleep(gap);
      }
    });
    if (targeted) {
      const auto until = Clock::now() + 2s;
      while ((probe_->sequence() & 1u) == 0 && Clock::now() < until) {
      }
    } else {
      ::Sleep(static_cast<DWORD>(rand_in(20, 1000)));
    }
    const bool killed = kill_pid(before.info.writer_pid);
    const bool odd = (probe_->sequence() & 1u) != 0;
    killed_now = true;
    burst.join();
    if (!killed) {
      ++restart_failures;
      continue;
    }
    ++ext_done;
    if (odd) ++(targeted ? ext_targeted_odd : ext_odd);
    double ms = 0;
    if (std::string e = start_service(before.info.generation, n_.load(), &ms); !e.empty()) {
      ++restart_failures;
      if (first_restart_error.empty()) first_restart_error = e;
      continue;
    }
    restart_ms.push_back(ms);
  }
  if (!service_lost()) {
    set_big_table(false);
    wait_current(0, n_.load(), 30s);
  }
  ::Sleep(200);
  const Tally t = end_load();
  fill_common(&r, t, rebinds());
  r.iterations = hook_fired + ext_done;
  r.details.add("hook_kills", hook_fired);
  r.details.add("hook_kills_requested", static_cast<uint64_t>(hook_kills));
  r.details.add("hook_percent_mean", percent_sum / std::max<uint64_t>(hook_fired + hook_timeouts, 1));
  r.details.add("odd_count_after_hook_kill", odd_after);
  r.details.add("generation_reused_after_hook_kill", generation_reused);
  r.details.add("external_kills", ext_done);
  r.details.add("external_kills_at_the_odd_count_that_landed_mid_publish", ext_targeted_odd);
  r.details.add("external_kills_at_random_that_landed_mid_publish", ext_odd);
  r.details.add("table_bytes_during_external_kills", big_bytes);
  r.details.add_ms("publish_write_window_us_median", percentile(window_us, 0.5));
  r.details.add("restart_failures", restart_failures);
  r.details.add_ms("restart_to_current_table_p50_ms", percentile(restart_ms, 0.5));
  r.details.add_ms("restart_to_current_table_max_ms", percentile(restart_ms, 1.0));
  if (service_lost()) shortfalls.push_back("stopped early, the service is lost: " + lost_reason());
  if (hook_timeouts) shortfalls.push_back(std::to_string(hook_timeouts) + " hook kills did not happen within 15 s");
  if (restart_failures)
    shortfalls.push_back(std::to_string(restart_failures) + " restarts did not give a current table (" +
                         first_restart_error + ")");
  r.note = std::to_string(hook_fired) + " kills by the hook (" + std::to_string(odd_after) +
           " left the count odd, as a death mid-publish must), " + std::to_string(ext_done) +
           " external TerminateProcess kills during publish bursts of a " + std::to_string(big_bytes / 1024) +
           " KB table (" + std::to_string(ext_targeted_odd) + " of the " + std::to_string((ext_done + 1) / 2) +
           " kills sent as soon as a publish began landed inside it; " + std::to_string(ext_odd) +
           " of the kills at random moments did, the others fell between publishes: " +
           (window_us.empty() ? std::string("a reader spinning on the count did not even see it odd in 12 publishes")
                              : "a publish of that table keeps the count odd for about " +
                                    std::to_string(static_cast<int>(percentile(window_us, 0.5))) + " us") +
           ", shorter than a TerminateProcess takes to arrive under Wine, which is why the hook exists). Each "
           "restart published a current table " + ms_text(percentile(restart_ms, 0.5)) +
           " (median) after StartService. " + std::to_string(generation_reused) +
           " restarts published the same generation number as the abandoned write: the hook had died before the "
           "header's generation field was written, so nothing outside the dead process knew it (no reader accepted "
           "it). While the writer was dead, and until the restarted one published, stubs fell back to the registry "
           "(busy: the odd count; bad checksum: the abandoned bytes, flagged stopped by the restarted writer): " +
           rebinds().summary() + ".";
  judge(&r, t, shortfalls);
  return r;
}

}  // namespace mapidispatch::evidence
