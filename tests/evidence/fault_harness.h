// Copyright MapiDispatch authors.
//
//! \file
//! fault_bench's harness (issue #7, "Evidence", faults), and what a scenario gets from it and
//! must report. The program and its options: fault_bench.cpp.
//!
//! The harness (Bench) holds one run of the real system under Wine: mapidispatch.exe installed
//! under the real Service Control Manager with a short debounce (kDebounceMs), the machine's
//! default mail client in HKLM\Software\Clients\Mail pointed at the bench's clients (saved by
//! setup(), restored by teardown()), the providers p0..p7.dll in a run folder, and the child
//! processes (fault_children.cpp) that call through the real stub or read the table, each
//! reporting into its slot of the control block (fault_control.h).
//!
//! A scenario is a member function of Bench, `ScenarioResult name()`, in a file of its own
//! (fault_<name>.cpp) and listed in kScenarios (fault_bench.cpp). It runs after setup(), in the
//! same run as the other scenarios, and gets:
//!   - opt_ (opt_.quick: small counts) and rand_in() (seeded by --seed);
//!   - the registry: advance() points the default at the next client n (n_ holds the last one
//!     written), hostile_write(), set_big_table(); client_name(), provider_file();
//!   - the service: svc_ (stop, start, control codes, parameters), start_service(), kill_pid(),
//!     service_stats(); the table as the stub reads it: read_now(), wait_current(), n_of(),
//!     probe_ (its sequence count);
//!   - the load: begin_load() starts reader and client processes and the harness's reader
//!     thread; set_phase() files the calls that follow under a phase; spawn_fresh() and
//!     wait_fresh() start new processes meanwhile; end_load() stops them all and sums their slots
//!     into a Tally (`windows_would_fail` says which failed calls Windows' stub would have failed
//!     too); rebinds() reads the clients' stub traces.
//! It must return a ScenarioResult with its name and description; the Tally and the rebinds
//! through fill_common(); iterations, its own details and a note that says what happened; and
//! last judge(), which sets meets_goal from the goal below and from the scenario's own shortfalls
//! and completes the note. A scenario that cannot run sets harness_error and says why in note
//! (calling end_load() if begin_load() was called). It leaves the service running, with a table
//! of the last client written, for the scenarios after it. fault_bench.cpp times it (seconds),
//! prints it and writes its JSON.
//!
//! Definitions (also in every scenario's JSON "note"):
//!   - A call is session-less MAPISendMail through the stub (mapi32.dll loaded by a client
//!     process) to a provider DLL that exists and returns SUCCESS_SUCCESS (fault_provider.cpp). It
//!     FAILS when it returns non-zero or the provider did not receive it (the provider writes its
//!     identity into the caller's message; no identity = not received). A failure counts against
//!     the goal only where Windows' own stub would have served the call: that stub resolves the
//!     registry when a process first calls and keeps the provider it loaded, so it serves every
//!     call of a process that has its provider loaded, and a new process whenever the registry's
//!     DLLPath names a loadable file. Failures where it would fail too (a new process while the
//!     provider file is gone) are counted apart ("failed_windows_too").
//!   - A TORN READ is a snapshot a reader ACCEPTED (TableReader returned kOk) whose contents are
//!     inconsistent by a check independent of the table's own checksums: the harness only ever
//!     points Clients\Mail at clients named "MDFault.<pid>.<n>" whose DLLPath and DLLPathEx are
//!     both <run dir>\p<n mod 8>.dll, so in every scope of every accepted snapshot the default
//!     client, the Simple and Extended targets' client names, both paths and the reasons must all
//!     name the same n. Readers (two processes reading as a stub does, one harness thread reading
//!     every scope) check this on every accepted read; they also count an accepted generation or
//!     n lower than one they accepted before (the registry's n only grows) as an ordering
//!     violation, which fails the goal as a torn read does.
//!   The goal: zero failed calls that Windows' stub would have served, zero torn reads, zero
//!   ordering violations. A scenario that misses it says "FALLS SHORT" and why.

#ifndef MAPIDISPATCH_TESTS_EVIDENCE_FAULT_HARNESS_H_
#define MAPIDISPATCH_TESTS_EVIDENCE_FAULT_HARNESS_H_

#include <windows.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fault_control.h"
#include "mapidispatch/json_writer.h"
#include "mapidispatch/table.h"
#include "service_test_util.h"

namespace mapidispatch::evidence {

using Clock = std::chrono::steady_clock;

// Control codes of the service (service/src/win/dispatcher.h).
constexpr DWORD kControlRefresh = 128;
constexpr DWORD kControlWriteStats = 129;

constexpr wchar_t kMsMapiAppsKey[] = L"Software\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps";
// p0..p7: copies of provider A (even) and B (odd). Eight, so that each round of provider-replaced
// works on a file no earlier round touched.
constexpr int kProviderFiles = 8;
constexpr DWORD kDebounceMs = 20;

// ---- Small helpers ----------------------------------------------------------------------------
// ASCII conversions (the bench's names and paths are ASCII; narrow() and narrow16() write '?'
// for the rest).

std::wstring widen(const std::string& s);
std::string narrow(const std::wstring& w);
std::string narrow16(const std::u16string& w);
std::u16string u16(const std::wstring& w);

//! This program's path, and its folder (where the stub and the providers are).
std::wstring exe_path();
std::wstring exe_dir();

double ms_since(Clock::time_point t);

//! "<code> <message>" of a Windows error code.
std::string win_error(DWORD code);

// ---- The consistency check of an accepted snapshot --------------------------------------------

struct Expectation {
  std::u16string prefix;  // u"MDFault.<pid>."
  std::u16string dir;     // the run folder holding p0..p7.dll
};

//! The n a client name encodes, if it is one of the bench's.
std::optional<uint64_t> client_number(const Expectation& x, const std::u16string& client);

//! Checks accepted snapshots one after the other, as one reader sees them.
class Checker {
 public:
  explicit Checker(Expectation x) : x_(std::move(x)) {}

  //! "" if consistent. Ordering violations are counted apart (order_violations()).
  std::string check(const TableSnapshot& snap);
  uint64_t order_violations() const { return order_violations_; }
  const std::string& last_order_problem() const { return last_order_problem_; }

 private:
  Expectation x_;
  uint64_t last_generation_ = 0;
  uint64_t last_n_ = 0;
  uint64_t order_violations_ = 0;
  std::string last_order_problem_;
};

// ---- Results ------------------------------------------------------------------------------------

struct Details {
  std::vector<std::pair<std::string, std::string>> items;  // value already JSON-encoded
  void add(const std::string& k, uint64_t v) { items.emplace_back(k, std::to_string(v)); }
  void add_text(const std::string& k, const std::string& v) { items.emplace_back(k, json_quote(v)); }
  void add_ms(const std::string& k, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    items.emplace_back(k, buf);
  }
  void add_raw(const std::string& k, const std::string& json) { items.emplace_back(k, json); }
};

//! What a scenario reports; fault_bench.cpp prints it and writes it to the JSON.
struct ScenarioResult {
  std::string name;
  std::string description;
  uint64_t iterations = 0;
  uint64_t calls_attempted = 0;
  uint64_t calls_failed = 0;
  uint64_t torn_reads = 0;
  uint64_t reads_checked = 0;
  bool meets_goal = false;
  bool harness_error = false;
  std::string note;
  double seconds = 0;
  Details details;
};

//! The definitions above, in a sentence or two: the end of every scenario's note, and the JSON's.
std::string definitions_note();

//! Sums of the children's slots, split by phase and by whether Windows' stub would have served.
struct Tally {
  PhaseCounts by_phase[kPhases] = {};
  PhaseCounts fresh_by_phase[kPhases] = {};
  uint64_t attempted = 0;
  uint64_t failed = 0;             // failures Windows' stub would not have had
  uint64_t failed_windows_too = 0;
  uint64_t rc_counts[kRcBuckets] = {};
  uint64_t reads_ok = 0;
  uint64_t reads_torn = 0;
  uint64_t order_violations = 0;
  uint64_t reads_rejected[kErrorBuckets] = {};
  uint64_t child_crashes = 0;
  std::vector<std::string> problems;
};

//! What the stub's trace says about its rebinds: from the table, or from the registry and why.
struct RebindTally {
  uint64_t via_table = 0;
  std::map<std::string, uint64_t> via_registry;  // short reason -> count
  std::string summary() const;
};

// ---- The harness ----------------------------------------------------------------------------------

struct Options {
  bool quick = false;
  std::string json_path;
  std::vector<std::string> scenarios;
  uint64_t seed = 0;
};

struct ChildProc {
  HANDLE process = nullptr;
  int slot = -1;
  SlotKind kind = SlotKind::kNone;
};

//! One run: setup() installs and starts the service and points the registry at the bench's
//! clients; teardown() (also the destructor) undoes it all. The scenarios are its members.
class Bench {
 public:
  explicit Bench(const Options& o) : opt_(o), rng_(o.seed) {}
  ~Bench() { teardown(); }

  std::string setup();
  void teardown();

  ScenarioResult kill_mid_publish();
  ScenarioResult corrupt_in_place();
  ScenarioResult registry_flood();
  ScenarioResult provider_replaced();
  ScenarioResult restart_under_load();

  //! The service could not be started kStartFailuresToGiveUp times in a row (start_service), and
  //! why: no later scenario can run.
  bool service_lost() const { return start_failures_in_a_row_ >= kStartFailuresToGiveUp; }
  const std::string& lost_reason() const { return lost_reason_; }

 private:
  // Registry.
  std::wstring client_name(uint64_t n) const { return L"MDFault." + std::to_wstring(pid_) + L"." + std::to_wstring(n); }
  std::wstring provider_file(uint64_t n) const {
    return run_dir_ + L"\\p" + std::to_wstring(n % kProviderFiles) + L".dll";
  }
  bool set_sz(HKEY key, const wchar_t* name, const std::wstring& value);  // REG_SZ, counted
  //! Points the machine default at a new client n+1 (key and values first, the default last).
  bool advance();
  //! One hostile registry write that must not change any answer; returns the writes made.
  int hostile_write(uint64_t i);
  //! Adds (or removes) ~1000 MSMapiApps overrides for modules nobody loads, so that the table
  //! grows to about a megabyte: the longest publish, the widest window an external kill can hit.
  //! Waits for the publish and returns the table's size in bytes.
  uint32_t set_big_table(bool big);

  // Service.
  uint64_t n_of(const TableSnapshot& s) const { return client_number(x_, s.machine.default_client).value_or(0); }
  //! A table a live writer keeps: kOk, generation above `above`, machine client >= `want_n`.
  bool wait_current(uint64_t above, uint64_t want_n, std::chrono::milliseconds timeout, TableSnapshot* out = nullptr);
  TableError read_now(TableSnapshot* s) const { return probe_->read(s); }
  //! StartService, then a current table (generation above `above`, machine client >= `want_n`):
  //! "" and the time to it in `ms`, or why not. A failed start says whether this bench can still
  //! create a process in the prefix (diagnose_start_failure). After kStartFailuresToGiveUp
  //! failures in a row the service is lost: service_lost() holds, scenarios stop their loops,
  //! and fault_bench runs no further scenario.
  std::string start_service(uint64_t above, uint64_t want_n, double* ms);
  std::string diagnose_start_failure();
  //! A current table at the top of an iteration, in `before`: wait_current(0, n_, 30 s) while
  //! the service runs. When it does not (an earlier restart failed), starts it first
  //! (start_service, counted towards service_lost()) instead of waiting out the timeout. False
  //! with why in `error`.
  bool current_before(TableSnapshot* before, std::string* error);
  bool kill_pid(DWORD pid);
  std::map<std::wstring, uint64_t> service_stats();

  // Children.
  void reset_control();
  int spawn(SlotKind kind, const std::vector<std::string>& args, const std::wstring& trace);
  //! Starts `readers` reader processes, `clients` client processes calling every `pace_ms`, and the
  //! harness's reader thread; calls count in phase `phase` until set_phase().
  std::string begin_load(const std::string& scenario, int clients, int readers, DWORD pace_ms, uint32_t phase = 0);
  int spawn_fresh(int calls);
  void wait_fresh(std::chrono::milliseconds timeout);
  void set_phase(uint32_t p) { st(ctl_->phase, p); }
  //! Stops every child, the harness reader; sums their slots.
  Tally end_load(const std::function<bool(SlotKind, int)>& windows_would_fail = nullptr);
  RebindTally rebinds();
  void fill_common(ScenarioResult* r, const Tally& t, const RebindTally& rb);

  Options opt_;
  std::mt19937_64 rng_;
  uint64_t rand_in(uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_); }

  DWORD pid_ = ::GetCurrentProcessId();
  std::wstring run_dir_;
  Expectation x_;
  HKEY mail_ = nullptr;
  std::optional<std::vector<BYTE>> saved_default_;
  DWORD saved_default_type_ = REG_SZ;
  bool made_msmapiapps_ = false;
  std::atomic<uint64_t> n_{0};
  uint64_t writes_ = 0;
  std::vector<std::wstring> hostile_values_;  // MSMapiApps values the bench made

  std::unique_ptr<test::TestService> svc_;
  // Three, not one: a single failed start is a result the scenario reports; three in a row with
  // nothing in between to make them pass is a prefix that will not start the service again, and
  // every further iteration would only wait out its timeouts.
  static constexpr int kStartFailuresToGiveUp = 3;
  int start_failures_in_a_row_ = 0;
  std::string lost_reason_;
  std::unique_ptr<test::TableProbe> probe_;
  std::wstring control_name_;
  ControlBlock control_;
  Control* ctl_ = nullptr;
  std::vector<ChildProc> children_;
  int next_slot_ = 0;
  std::string scenario_;
  std::vector<std::wstring> traces_;

  // The harness's own reader: every scope (read_all), checked.
  std::thread harness_reader_;
  std::atomic<bool> harness_stop_{false};
  Tally harness_tally_;
  bool torn_down_ = false;
};

//! The verdict: the goal, plus what the scenario itself requires (`shortfalls`).
void judge(ScenarioResult* r, const Tally& t, std::vector<std::string> shortfalls);

//! "123 ms".
std::string ms_text(double ms);
//! The value at fraction `p` (0 to 1) of `v` once sorted; 0 if `v` is empty.
double percentile(std::vector<double> v, double p);

}  // namespace mapidispatch::evidence

#endif  // MAPIDISPATCH_TESTS_EVIDENCE_FAULT_HARNESS_H_
