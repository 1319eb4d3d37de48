// Copyright MapiDispatch authors.
//
// fault_bench: the fault half of issue #7 ("Evidence"). Each scenario is a repeatable fault
// injected into the real system under Wine -- mapidispatch.exe installed under the real Service
// Control Manager, the real mapi32.dll stub in real client processes, the real registry -- with
// counts of calls attempted, calls failed and torn reads seen.
//
//   fault_bench [--quick] [--json FILE] [--scenario NAME]... [--seed N]
//
// Scenarios (--quick runs the same ones with small counts):
//   kill-mid-publish   the service dies in the middle of a publish, hundreds of times: the
//                      DebugCrashMidPublish hook with a random percentage (1 to 100) of the next
//                      table written, then external TerminateProcess kills at random moments of
//                      publish bursts; the harness restarts the service each time.
//   corrupt-in-place   random bytes of the header, the directory and the records flipped in the
//                      live section (opened writable: Wine does not enforce the section's DACL),
//                      silently or as a writer would (count bumped), or the count left odd; then a
//                      refresh (control 128) or the next publish restores the table.
//   registry-flood     thousands of registry writes under Clients\Mail in one burst, hostile value
//                      types and lengths mixed in; the service must stay alive, coalesce, and
//                      converge to the last value.
//   provider-replaced  the provider DLL the clients use renamed aside and replaced by another
//                      provider, then deleted, then restored, each before and after a refresh,
//                      while long-running clients call and fresh processes start.
//   restart-under-load service stop + start and kill + start while 64 client processes call.
//
// Definitions of a call, a failed call and a torn read, and the goal: fault_harness.h, which
// also says what a scenario gets from the harness and must report. Each scenario has a file of
// its own (fault_<name>.cpp); the child processes are in fault_children.cpp.
//
// Output: a readable block per scenario and a summary table on stdout; --json FILE writes
// {"scenarios":[{"name", "description", "iterations", "calls_attempted", "calls_failed",
// "torn_reads", "reads_checked", "meets_goal", "note", "seconds", "details":{...}}], ...}.
// Exit code: 0 every scenario ran and met the goal; 1 a goal was missed; 2 a usage or harness
// error (the service could not be installed or started, a scenario could not run).
//
// The program re-launches itself for its children: `fault_bench --child client|reader ...`.

#include <windows.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fault_control.h"
#include "fault_harness.h"
#include "mapidispatch/json_writer.h"

namespace mapidispatch::evidence {
namespace {

// ---- Output -----------------------------------------------------------------------------------------

void print_result(const ScenarioResult& r) {
  std::printf("\n== %s ==\n  %s\n", r.name.c_str(), r.description.c_str());
  std::printf("  %-24s %llu\n", "iterations", static_cast<unsigned long long>(r.iterations));
  std::printf("  %-24s %llu\n", "calls attempted", static_cast<unsigned long long>(r.calls_attempted));
  std::printf("  %-24s %llu\n", "calls failed", static_cast<unsigned long long>(r.calls_failed));
  std::printf("  %-24s %llu\n", "torn reads", static_cast<unsigned long long>(r.torn_reads));
  std::printf("  %-24s %llu\n", "reads checked", static_cast<unsigned long long>(r.reads_checked));
  std::printf("  %-24s %.1f s\n", "time", r.seconds);
  std::printf("  %-24s %s\n", "verdict",
              r.harness_error ? "HARNESS ERROR" : r.meets_goal ? "meets goal" : "FALLS SHORT");
  for (const auto& [k, v] : r.details.items) std::printf("  %-40s %s\n", k.c_str(), v.c_str());
  std::printf("  note: %s\n", r.note.c_str());
  std::fflush(stdout);
}

void print_summary(const std::vector<ScenarioResult>& results) {
  std::printf("\n%-20s %6s %10s %7s %5s %9s %7s  %s\n", "scenario", "iter", "attempted", "failed", "torn", "checked",
              "time", "verdict");
  for (const auto& r : results) {
    std::string verdict = r.harness_error ? "HARNESS ERROR" : r.meets_goal ? "meets goal" : "FALLS SHORT";
    if (!r.meets_goal && !r.harness_error) {
      const size_t colon = r.note.find(": ");
      const size_t end = r.note.find(". ");
      if (colon != std::string::npos && end != std::string::npos && end > colon)
        verdict += ": " + r.note.substr(colon + 2, std::min<size_t>(end - colon - 2, 100));
    }
    std::printf("%-20s %6llu %10llu %7llu %5llu %9llu %6.0fs  %s\n", r.name.c_str(),
                static_cast<unsigned long long>(r.iterations), static_cast<unsigned long long>(r.calls_attempted),
                static_cast<unsigned long long>(r.calls_failed), static_cast<unsigned long long>(r.torn_reads),
                static_cast<unsigned long long>(r.reads_checked), r.seconds, verdict.c_str());
  }
  std::fflush(stdout);
}

std::string to_json(const std::vector<ScenarioResult>& results, const Options& opt, double seconds) {
  // By hand rather than with JsonWriter: the details are JSON already (numbers, strings, arrays).
  auto num = [](uint64_t v) { return std::to_string(v); };
  std::string o = "{\n";
  o += "  \"program\": \"fault_bench\",\n";
  o += "  \"mode\": " + json_quote(std::string(opt.quick ? "quick" : "full")) + ",\n";
  o += "  \"seed\": " + num(opt.seed) + ",\n";
  o += "  \"seconds\": " + num(static_cast<uint64_t>(seconds + 0.5)) + ",\n";
  o += "  \"definitions\": " + json_quote(definitions_note()) + ",\n";
  o += "  \"scenarios\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const ScenarioResult& r = results[i];
    o += std::string(i ? "," : "") + "\n    {\n";
    o += "      \"name\": " + json_quote(r.name) + ",\n";
    o += "      \"description\": " + json_quote(r.description) + ",\n";
    o += "      \"iterations\": " + num(r.iterations) + ",\n";
    o += "      \"calls_attempted\": " + num(r.calls_attempted) + ",\n";
    o += "      \"calls_failed\": " + num(r.calls_failed) + ",\n";
    o += "      \"torn_reads\": " + num(r.torn_reads) + ",\n";
    o += "      \"reads_checked\": " + num(r.reads_checked) + ",\n";
    o += "      \"meets_goal\": " + std::string(r.meets_goal ? "true" : "false") + ",\n";
    o += "      \"harness_error\": " + std::string(r.harness_error ? "true" : "false") + ",\n";
    o += "      \"note\": " + json_quote(r.note) + ",\n";
    o += "      \"seconds\": " + num(static_cast<uint64_t>(r.seconds + 0.5)) + ",\n";
    o += "      \"details\": {";
    for (size_t k = 0; k < r.details.items.size(); ++k)
      o += std::string(k ? "," : "") + "\n        " + json_quote(r.details.items[k].first) + ": " +
           r.details.items[k].second;
    o += "\n      }\n    }";
  }
  o += "\n  ]\n}\n";
  return o;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "%s%sUsage: fault_bench [--quick] [--json FILE] [--scenario NAME]... [--seed N]\n"
               "Scenarios: kill-mid-publish, corrupt-in-place, registry-flood, provider-replaced, restart-under-load.\n"
               "Exit code: 0 every scenario met the goal; 1 a goal was missed; 2 usage or harness error.\n",
               why ? why : "", why ? "\n" : "");
  return 2;
}

struct ScenarioDef {
  const char* name;
  ScenarioResult (Bench::*run)();
};
const ScenarioDef kScenarios[] = {
    {"kill-mid-publish", &Bench::kill_mid_publish},
    {"corrupt-in-place", &Bench::corrupt_in_place},
    {"registry-flood", &Bench::registry_flood},
    {"provider-replaced", &Bench::provider_replaced},
    {"restart-under-load", &Bench::restart_under_load},
};

int bench_main(int argc, char** argv) {
  Options opt;
  opt.seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      opt.quick = true;
    } else if (a == "--json" && i + 1 < argc) {
      opt.json_path = argv[++i];
    } else if (a == "--scenario" && i + 1 < argc) {
      const std::string name = argv[++i];
      if (std::none_of(std::begin(kScenarios), std::end(kScenarios), [&](const ScenarioDef& d) { return name == d.name; }))
        return usage(("unknown scenario '" + name + "'").c_str());
      opt.scenarios.push_back(name);
    } else if (a == "--seed" && i + 1 < argc) {
      opt.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--help" || a == "-h") {
      usage(nullptr);
      return 0;
    } else {
      return usage(("unknown or incomplete argument '" + a + "'").c_str());
    }
  }
  std::printf("fault_bench: %s mode, seed %llu\n", opt.quick ? "quick" : "full", static_cast<unsigned long long>(opt.seed));
  std::fflush(stdout);
  const auto t0 = Clock::now();
  std::vector<ScenarioResult> results;
  int exit_code = 0;
  {
    Bench bench(opt);
    if (const std::string e = bench.setup(); !e.empty()) {
      std::fprintf(stderr, "fault_bench: setup failed: %s\n", e.c_str());
      return 2;
    }
    for (const auto& d : kScenarios) {
      if (!opt.scenarios.empty() && std::find(opt.scenarios.begin(), opt.scenarios.end(), d.name) == opt.scenarios.end())
        continue;
      if (bench.service_lost()) {
        // Every scenario needs a running service; reported, not run.
        ScenarioResult r;
        r.name = d.name;
        r.harness_error = true;
        r.note = "not run: the service is lost (" + bench.lost_reason() + ")";
        print_result(r);
        exit_code = 2;
        results.push_back(std::move(r));
        continue;
      }
      std::printf("\n-- running %s ...\n", d.name);
      std::fflush(stdout);
      const auto ts = Clock::now();
      ScenarioResult r = (bench.*d.run)();
      r.seconds = ms_since(ts) / 1000.0;
      print_result(r);
      if (r.harness_error) {
        exit_code = 2;
      } else if (!r.meets_goal && exit_code == 0) {
        exit_code = 1;
      }
      results.push_back(std::move(r));
    }
  }  // the service uninstalled, the registry restored
  const double seconds = ms_since(t0) / 1000.0;
  print_summary(results);
  std::printf("total %.0f s; exit code %d\n", seconds, exit_code);
  if (!opt.json_path.empty()) {
    std::ofstream out(opt.json_path, std::ios::binary);
    out << to_json(results, opt, seconds);
    if (!out) {
      std::fprintf(stderr, "fault_bench: cannot write %s\n", opt.json_path.c_str());
      return 2;
    }
  }
  return exit_code;
}

}  // namespace
}  // namespace mapidispatch::evidence

int main(int argc, char** argv) {
  using namespace mapidispatch::evidence;
  if (argc >= 3 && std::strcmp(argv[1], "--child") == 0) {
    const std::vector<std::string> args(argv + 3, argv + argc);
    if (std::strcmp(argv[2], "client") == 0) return client_main(args);
    if (std::strcmp(argv[2], "reader") == 0) return reader_main(args);
    return 125;
  }
  return bench_main(argc, argv);
}
