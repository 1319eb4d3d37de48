// Copyright MapiDispatch authors.
//
// fault_bench, scenario provider-replaced (its description says what it injects). What a
// scenario gets from the harness and must report: fault_harness.h.

#include <windows.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fault_harness.h"
#include "mapidispatch/json_writer.h"
#include "mapidispatch/table.h"

namespace mapidispatch::evidence {

using namespace std::chrono_literals;

namespace {

namespace provider_phase {
enum : int {
  kBaseline = 0,
  kReplaced = 1,           // renamed aside, another provider copied to the path; no refresh yet
  kReplacedRefreshed = 2,
  kDeleted = 3,            // the path gone; no refresh yet
  kDeletedRefreshed = 4,   // the table says "missing"
  kRestored = 5,           // the file back; no refresh yet
  kRestoredRefreshed = 6,
  kSetUp = 7,              // before the first round: not reported
};
// Each phase runs from its action (or the refresh request) to the next phase's.
const char* const kNames[] = {"baseline",
                              "replaced (old file renamed aside, provider B copied to the path), no refresh",
                              "replaced, refresh requested",
                              "deleted (path renamed away), no refresh",
                              "deleted, refresh requested (the table then says missing)",
                              "restored (provider A copied back), no refresh",
                              "restored, refresh requested"};
}  // namespace provider_phase

}  // namespace

ScenarioResult Bench::provider_replaced() {
  namespace pp = provider_phase;
  ScenarioResult r;
  r.name = "provider-replaced";
  r.description =
      "the provider DLL that client processes use is renamed aside and replaced by another provider, then deleted, "
      "then restored, each before and after a refresh, while long-running clients call and new processes start";
  const int rounds = opt_.quick ? 1 : 3;
  const int fresh_per_phase = 2;
  const int fresh_calls = 30;
  if (std::string e = begin_load(r.name, 6, 2, 2, pp::kSetUp); !e.empty()) {
    r.harness_error = true;
    r.note = e;
    end_load();
    return r;
  }
  std::vector<std::string> file_ops;
  auto record = [&](const std::string& what, bool ok) {
    const DWORD err = ::GetLastError();
    const std::string text = what + ": " + (ok ? std::string("ok") : win_error(err));
    if (std::find(file_ops.begin(), file_ops.end(), text) == file_ops.end()) file_ops.push_back(text);
    return ok;
  };
  uint64_t refresh_failures = 0;
  auto refresh = [&] {
    TableSnapshot now;
    read_now(&now);
    svc_->control(kControlRefresh);
    if (!wait_current(now.info.generation, n_.load(), 15s)) ++refresh_failures;
  };
  // Each phase is entered before its action, so that every call counts where it belongs; then
  // new processes start, and the long-running clients call on for a while.
  auto observe = [&] {
    for (int i = 0; i < fresh_per_phase; ++i) spawn_fresh(fresh_calls);
    wait_fresh(120s);
    ::Sleep(300);
  };
  std::string status_after_delete;
  for (int round = 0; round < rounds; ++round) {
    set_phase(pp::kSetUp);
    // The clients' provider: a file of provider A that no earlier round touched (p0, p2, p4),
    // the default's new target.
    const uint64_t file = static_cast<uint64_t>(2 * round) % kProviderFiles;
    advance();
    while (n_.load() % kProviderFiles != file) advance();
    if (!wait_current(0, n_.load(), 15s)) ++refresh_failures;
    ::Sleep(100);  // every long-running client rebinds to it at its next call
    const std::wstring path = provider_file(n_.load());
    const std::wstring aside = path + L".old" + std::to_wstring(round);
    const std::wstring gone = path + L".gone" + std::to_wstring(round);

    set_phase(pp::kBaseline);
    observe();

    set_phase(pp::kReplaced);
    record("rename the loaded provider aside (MoveFileEx)", ::MoveFileExW(path.c_str(), aside.c_str(), 0) != 0);
    record("copy provider B to its path (CopyFile)",
           ::CopyFileW((exe_dir() + L"\\fault_prov_b.dll").c_str(), path.c_str(), FALSE) != 0);
    observe();

    set_phase(pp::kReplacedRefreshed);
    refresh();
    observe();

    set_phase(pp::kDeleted);
    record("rename provider B's file away (MoveFileEx)", ::MoveFileExW(path.c_str(), gone.c_str(), 0) != 0);
    record("delete it (DeleteFile; no process has it loaded any more)", ::DeleteFileW(gone.c_str()) != 0);
    record("delete the renamed provider A that running clients have loaded (DeleteFile; Windows refuses too)",
           ::DeleteFileW(aside.c_str()) != 0);
    observe();

    set_phase(pp::kDeletedRefreshed);
    refresh();
    TableSnapshot snap;
    read_now(&snap);
    status_after_delete = std::string(to_string(snap.machine.simple.status));
    observe();

    set_phase(pp::kRestored);
    record("copy provider A back to the path (CopyFile)",
           ::CopyFileW((exe_dir() + L"\\fault_prov_a.dll").c_str(), path.c_str(), FALSE) != 0);
    observe();

    set_phase(pp::kRestoredRefreshed);
    refresh();
    observe();
  }
  set_phase(pp::kSetUp);
  // Windows' stub keeps the provider a process loaded, so every long-running client's call is
  // one it would serve; a new process needs the file: absent in the "deleted" phases.
  auto windows_would_fail = [](SlotKind kind, int p) {
    return kind == SlotKind::kFreshClient && (p == pp::kDeleted || p == pp::kDeletedRefreshed);
  };
  const Tally t = end_load(windows_would_fail);
  const RebindTally rb = rebinds();
  fill_common(&r, t, rb);
  r.iterations = static_cast<uint64_t>(rounds);
  std::string phases_json = "[";
  std::string text;
  auto failed_of = [](const PhaseCounts& c) { return c.rc_nonzero + c.no_ack; };
  for (int p = 0; p <= pp::kRestoredRefreshed; ++p) {
    const PhaseCounts& l = t.by_phase[p];
    const PhaseCounts& f = t.fresh_by_phase[p];
    auto counts = [&](const PhaseCounts& c) {
      return "{\"attempted\": " + std::to_string(c.attempted) + ", \"failed\": " + std::to_string(failed_of(c)) +
             ", \"served_by_A\": " + std::to_string(c.served_a) + ", \"served_by_B\": " + std::to_string(c.served_b) + "}";
    };
    phases_json += std::string(p ? ", " : "") + "{\"phase\": " + json_quote(std::string(pp::kNames[p])) +
                   ", \"long_running\": " + counts(l) + ", \"new_processes\": " + counts(f) +
                   ", \"windows_stub_fails_new_processes\": " +
                   (windows_would_fail(SlotKind::kFreshClient, p) ? "true" : "false") + "}";
    auto words = [&](const PhaseCounts& c) {
      if (c.attempted == 0) return std::string("no calls");
      const uint64_t failed = failed_of(c);
      std::string w = std::to_string(c.attempted) + " calls, ";
      if (failed == c.attempted) return w + "all failed";
      w += failed == 0 ? std::string("none failed") : std::to_string(failed) + " failed";
      if (c.served_a || c.served_b)
        w += ", served by " + std::string(c.served_a && c.served_b ? "A and B" : c.served_a ? "A" : "B");
      return w;
    };
    text += std::string(p ? "; " : "") + "[" + pp::kNames[p] + "] long-running: " + words(l) + "; new processes: " +
            words(f);
  }
  phases_json += "]";
  r.details.add_raw("phases", phases_json);
  std::string ops;
  for (const auto& o : file_ops) ops += (ops.empty() ? "" : "; ") + o;
  r.details.add_text("file_operations", ops);
  r.details.add("refresh_failures", refresh_failures);
  std::vector<std::string> shortfalls;
  if (refresh_failures) shortfalls.push_back(std::to_string(refresh_failures) + " refreshes did not publish in time");
  std::string gaps;
  if (failed_of(t.by_phase[pp::kDeletedRefreshed]) != 0)
    gaps += " (1) Once a refresh (or the periodic revalidation) has published the file as 'missing', processes "
            "that still have the provider loaded fail every call with MAPI_E_FAILURE: the stub follows the table's "
            "status and does not fall back to the module it already holds, while Windows' stub keeps calling the "
            "provider it loaded.";
  if (failed_of(t.by_phase[pp::kRestored]) + failed_of(t.fresh_by_phase[pp::kRestored]) != 0)
    gaps += std::string(gaps.empty() ? " (1)" : " (2)") +
            " After the file is back, the table still says 'missing' until the next refresh or revalidation "
            "(RevalidateMinutes, default 15; nothing watches provider files), so every process fails meanwhile; "
            "Windows' stub would load the file at once.";
  r.note = "Phase by phase (" + std::to_string(rounds) + " round(s)): " + text + ". File operations under Wine: " + ops +
           ". After the refresh of the deleted phase the table said '" + status_after_delete +
           "'. Running processes keep the provider module they loaded (the stub caches providers by path and never "
           "unloads them), so a replaced file reaches only new processes, with or without a refresh, as with "
           "Windows' stub; new processes fail while the file is gone, as with Windows' stub (failed_windows_too)." +
           (gaps.empty() ? std::string() : " Where the stub does worse than Windows' stub:" + gaps) + " " +
           rb.summary() + ".";
  judge(&r, t, shortfalls);
  return r;
}

}  // namespace mapidispatch::evidence
