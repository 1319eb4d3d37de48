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
// Definitions (also in every scenario's JSON "note"):
//   - A call is session-less MAPISendMail through the stub (mapi32.dll loaded by a client
//     process) to a provider DLL that exists and returns SUCCESS_SUCCESS (fault_provider.cpp). It
//     FAILS when it returns non-zero or the provider did not receive it (the provider writes its
//     identity into the caller's message; no identity = not received). A failure counts against
//     the goal only where Windows' own stub would have served the call: that stub resolves the
//     registry when a process first calls and keeps the provider it loaded, so it serves every
//     call of a process that has its provider loaded, and a new process whenever the registry's
//     DLLPath names a loadable file. Failures where it would fail too (a new process while the
//     provider file is gone) are counted apart ("failed_windows_too").
//   - A TORN READ is a snapshot a reader ACCEPTED (TableReader returned kOk) whose contents are
//     inconsistent by a check independent of the table's own checksums: the harness only ever
//     points Clients\Mail at clients named "MDFault.<pid>.<n>" whose DLLPath and DLLPathEx are
//     both <run dir>\p<n mod 8>.dll, so in every scope of every accepted snapshot the default
//     client, the Simple and Extended targets' client names, both paths and the reasons must all
//     name the same n. Readers (two processes reading as a stub does, one harness thread reading
//     every scope) check this on every accepted read; they also count an accepted generation or
//     n lower than one they accepted before (the registry's n only grows) as an ordering
//     violation, which fails the goal as a torn read does.
//   The goal: zero failed calls that Windows' stub would have served, zero torn reads, zero
//   ordering violations. A scenario that misses it says "FALLS SHORT" and why.
//
// Output: a readable block per scenario and a summary table on stdout; --json FILE writes
// {"scenarios":[{"name", "description", "iterations", "calls_attempted", "calls_failed",
// "torn_reads", "reads_checked", "meets_goal", "note", "seconds", "details":{...}}], ...}.
// Exit code: 0 every scenario ran and met the goal; 1 a goal was missed; 2 a usage or harness
// error (the service could not be installed or started, a scenario could not run).
//
// The program re-launches itself for its children: `fault_bench --child client|reader ...`.

#include <windows.h>
#include <sddl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/win_process.h"
#include "mapidispatch/json_writer.h"
#include "mapidispatch/seqlock.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"
#include "mapidispatch/win32/process_user.h"
#include "mapidispatch/win32/simple_mapi.h"
#include "service_test_util.h"

namespace mapidispatch::evidence {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using simple_mapi::MessageA;
using SendMail = ULONG(WINAPI*)(ULONG_PTR, ULONG_PTR, MessageA*, ULONG, ULONG);

// Control codes of the service (service/src/win/dispatcher.h).
constexpr DWORD kControlRefresh = 128;
constexpr DWORD kControlWriteStats = 129;

constexpr wchar_t kMailKey[] = L"Software\\Clients\\Mail";
constexpr wchar_t kMsMapiAppsKey[] = L"Software\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps";
// p0..p7: copies of provider A (even) and B (odd). Eight, so that each round of provider-replaced
// works on a file no earlier round touched.
constexpr int kProviderFiles = 8;
constexpr DWORD kDebounceMs = 20;

// ---- Small helpers ----------------------------------------------------------------------------

std::wstring widen(const std::string& s) { return std::wstring(s.begin(), s.end()); }
std::string narrow(const std::wstring& w) {
  std::string s;
  for (const wchar_t c : w) s += c < 0x80 ? static_cast<char>(c) : '?';
  return s;
}
std::string narrow16(const std::u16string& w) {
  std::string s;
  for (const char16_t c : w) s += c < 0x80 ? static_cast<char>(c) : '?';
  return s;
}
std::u16string u16(const std::wstring& w) { return std::u16string(w.begin(), w.end()); }

std::wstring exe_path() {
  wchar_t buf[MAX_PATH * 2];
  const DWORD n = ::GetModuleFileNameW(nullptr, buf, MAX_PATH * 2);
  return std::wstring(buf, n);
}
std::wstring exe_dir() {
  const std::wstring p = exe_path();
  return p.substr(0, p.find_last_of(L'\\'));
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string win_error(DWORD code) {
  std::string s = test::win_error_text("", code).substr(9);  // "<code> <message>"
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '.')) s.pop_back();
  return s;
}

template <typename F>
F proc_cast(FARPROC p) {
  return reinterpret_cast<F>(reinterpret_cast<void*>(p));
}

// ---- The control block shared with the children ----------------------------------------------
//
// One named section per run. The harness sets `stop` and `phase`; each child owns one slot and
// is its only writer. Fields are accessed through atomic_ref (the harness reads while children
// run, for progress; the final figures are read after the children exited).

constexpr uint32_t kControlMagic = 0x42544C46;  // "FLTB"
constexpr int kMaxSlots = 128;
constexpr int kPhases = 8;
constexpr int kRcBuckets = 33;  // MAPI return codes 0..31, then "other"
constexpr int kErrorBuckets = 20;

enum class SlotKind : uint32_t { kNone = 0, kClient = 1, kFreshClient = 2, kReader = 3 };

struct PhaseCounts {
  uint64_t attempted;
  uint64_t acked;       // returned 0 and the provider wrote its identity
  uint64_t rc_nonzero;  // returned non-zero
  uint64_t no_ack;      // returned 0, but no provider received the call
  uint64_t served_a;
  uint64_t served_b;
};

struct Slot {
  uint32_t kind;
  uint32_t pid;
  uint32_t started;
  uint32_t last_rc;
  PhaseCounts phase[kPhases];
  uint64_t rc_counts[kRcBuckets];
  uint64_t reads_ok;
  uint64_t reads_torn;
  uint64_t order_violations;
  uint64_t reads_rejected[kErrorBuckets];  // by TableError value
  uint32_t has_problem;
  char problem[252];
};

struct Control {
  uint32_t magic;
  uint32_t stop;
  uint32_t phase;
  uint32_t reserved;
  Slot slots[kMaxSlots];
};

template <typename T>
T ld(const T& x) {
  return std::atomic_ref<T>(const_cast<T&>(x)).load(std::memory_order_acquire);
}
template <typename T>
void st(T& x, T v) {
  std::atomic_ref<T>(x).store(v, std::memory_order_release);
}
inline void bump(uint64_t& x, uint64_t by = 1) { std::atomic_ref<uint64_t>(x).fetch_add(by, std::memory_order_relaxed); }

void set_problem(Slot& s, const std::string& text) {
  if (ld(s.has_problem) != 0) return;  // the first one is the one to read
  const size_t n = std::min(text.size(), sizeof s.problem - 1);
  std::memcpy(s.problem, text.data(), n);
  s.problem[n] = '\0';
  st(s.has_problem, 1u);
}

class ControlBlock {
 public:
  ~ControlBlock() {
    if (view_) ::UnmapViewOfFile(view_);
    if (handle_) ::CloseHandle(handle_);
  }
  bool create(const std::wstring& name) {
    handle_ = ::CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0, sizeof(Control), name.c_str());
    if (!handle_) return false;
    return map();
  }
  bool open(const std::wstring& name) {
    handle_ = ::OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, name.c_str());
    if (!handle_) return false;
    return map();
  }
  Control* get() const { return view_; }

 private:
  bool map() {
    view_ = static_cast<Control*>(::MapViewOfFile(handle_, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, sizeof(Control)));
    return view_ != nullptr;
  }
  HANDLE handle_ = nullptr;
  Control* view_ = nullptr;
};

// ---- The consistency check of an accepted snapshot --------------------------------------------

struct Expectation {
  std::u16string prefix;  // u"MDFault.<pid>."
  std::u16string dir;     // the run folder holding p0..p7.dll
};

std::u16string provider_path(const Expectation& x, uint64_t n) {
  const std::string i = std::to_string(n % kProviderFiles);
  return x.dir + u"\\p" + std::u16string(i.begin(), i.end()) + u".dll";
}

// The n a client name encodes, if it is one of the bench's.
std::optional<uint64_t> client_number(const Expectation& x, const std::u16string& client) {
  if (client.size() <= x.prefix.size() || client.compare(0, x.prefix.size(), x.prefix) != 0) return std::nullopt;
  const std::u16string digits = client.substr(x.prefix.size());
  if (digits.size() > 18) return std::nullopt;
  uint64_t n = 0;
  for (const char16_t c : digits) {
    if (c < u'0' || c > u'9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - u'0');
  }
  return n;
}

// "" if the scope is consistent; else what is wrong. *n receives the scope's n.
std::string check_scope(const Expectation& x, const ScopeResolution& s, uint64_t* n) {
  const auto num = client_number(x, s.default_client);
  if (!num) return "default client '" + narrow16(s.default_client) + "' is not one the bench wrote";
  *n = *num;
  const std::u16string path = provider_path(x, *num);
  const std::u16string quoted = u"'" + s.default_client + u"'";
  for (const Target* t : {&s.simple, &s.extended}) {
    const char* family = t == &s.simple ? "simple" : "extended";
    if (t->client != s.default_client)
      return std::string(family) + " client '" + narrow16(t->client) + "' != default client '" +
             narrow16(s.default_client) + "'";
    if (t->path != path)
      return std::string(family) + " path '" + narrow16(t->path) + "' is not the path of client " +
             std::to_string(*num) + " ('" + narrow16(path) + "')";
    if (t->status == TargetStatus::kFound && t->machine != PeMachine::kAmd64)
      return std::string(family) + " found with machine " + std::to_string(static_cast<unsigned>(t->machine));
    if ((t->status == TargetStatus::kFound || t->status == TargetStatus::kMissing) &&
        t->reason.find(quoted) == std::u16string::npos)
      return std::string(family) + " reason does not name client " + narrow16(quoted) + ": " + narrow16(t->reason);
  }
  return {};
}

// Checks accepted snapshots one after the other, as one reader sees them.
class Checker {
 public:
  explicit Checker(Expectation x) : x_(std::move(x)) {}

  // "" if consistent. Ordering violations are counted apart (order_violations()).
  std::string check(const TableSnapshot& snap) {
    uint64_t n_machine = 0;
    std::string problem = check_scope(x_, snap.machine, &n_machine);
    if (!problem.empty()) return "machine scope: " + problem;
    auto check_user = [&](const ScopeResolution& u) {
      uint64_t n_user = 0;
      const std::string p = check_scope(x_, u, &n_user);
      return p.empty() ? p : "user scope " + narrow16(u.sid) + ": " + p;
    };
    if (snap.user && !(problem = check_user(*snap.user)).empty()) return problem;
    for (const auto& u : snap.users)
      if (!(problem = check_user(u)).empty()) return problem;
    if (snap.info.generation < last_generation_) {
      ++order_violations_;
      last_order_problem_ = "generation " + std::to_string(snap.info.generation) + " accepted after " +
                            std::to_string(last_generation_);
    } else if (n_machine < last_n_) {
      ++order_violations_;
      last_order_problem_ = "client " + std::to_string(n_machine) + " accepted after client " + std::to_string(last_n_);
    }
    last_generation_ = std::max(last_generation_, snap.info.generation);
    last_n_ = std::max(last_n_, n_machine);
    return {};
  }
  uint64_t order_violations() const { return order_violations_; }
  const std::string& last_order_problem() const { return last_order_problem_; }

 private:
  Expectation x_;
  uint64_t last_generation_ = 0;
  uint64_t last_n_ = 0;
  uint64_t order_violations_ = 0;
  std::string last_order_problem_;
};

// ---- Children -----------------------------------------------------------------------------------

// client CONTROL SLOT PACE_MS MAX_CALLS: calls MAPISendMail through the stub until told to stop
// (or MAX_CALLS calls, if not 0), sleeping PACE_MS between calls.
int client_main(const std::vector<std::string>& args) {
  if (args.size() != 4) return 120;
  ControlBlock cb;
  if (!cb.open(widen(args[0]))) return 121;
  Control& ctl = *cb.get();
  const int index = std::stoi(args[1]);
  if (index < 0 || index >= kMaxSlots) return 122;
  Slot& s = ctl.slots[index];
  const DWORD pace = static_cast<DWORD>(std::stoul(args[2]));
  const uint64_t max_calls = std::stoull(args[3]);
  st(s.pid, static_cast<uint32_t>(::GetCurrentProcessId()));
  HMODULE stub = ::LoadLibraryW((exe_dir() + L"\\mapi32.dll").c_str());
  if (stub == nullptr) {
    set_problem(s, "cannot load the stub: " + win_error(::GetLastError()));
    return 123;
  }
  auto send_mail = proc_cast<SendMail>(::GetProcAddress(stub, "MAPISendMail"));
  if (send_mail == nullptr) return 124;
  st(s.started, 1u);
  char subject[] = "fault_bench";
  for (uint64_t i = 0; (max_calls == 0 || i < max_calls) && ld(ctl.stop) == 0; ++i) {
    const uint32_t phase = std::min<uint32_t>(ld(ctl.phase), kPhases - 1);
    char note[8] = {};
    MessageA m{};
    m.subject = subject;
    m.note_text = note;
    const ULONG rc = send_mail(0, 0, &m, 0, 0);
    PhaseCounts& pc = s.phase[phase];
    bump(pc.attempted);
    if (rc != 0) {
      bump(pc.rc_nonzero);
      bump(s.rc_counts[std::min<ULONG>(rc, kRcBuckets - 1)]);
      st(s.last_rc, static_cast<uint32_t>(rc));
    } else if (note[0] == 'A') {
      bump(pc.acked);
      bump(pc.served_a);
    } else if (note[0] == 'B') {
      bump(pc.acked);
      bump(pc.served_b);
    } else {
      bump(pc.no_ack);
    }
    if (pace != 0) ::Sleep(pace);
  }
  return 0;
}

// reader CONTROL SLOT SECTION PREFIX DIR: reads the table as the stub does (machine scope and
// this user's scope, TableReader::read) until told to stop, checking every accepted snapshot.
// Reads back to back while the count moves; sleeps 1 ms after a read that found nothing new.
int reader_main(const std::vector<std::string>& args) {
  if (args.size() != 5) return 130;
  ControlBlock cb;
  if (!cb.open(widen(args[0]))) return 131;
  Control& ctl = *cb.get();
  const int index = std::stoi(args[1]);
  if (index < 0 || index >= kMaxSlots) return 132;
  Slot& s = ctl.slots[index];
  st(s.pid, static_cast<uint32_t>(::GetCurrentProcessId()));
  std::unique_ptr<ReadOnlySection> section;
  const auto deadline = Clock::now() + 30s;
  while (ReadOnlySection::open(args[2], &section)) {
    if (Clock::now() > deadline) {
      set_problem(s, "the section " + args[2] + " never appeared");
      return 133;
    }
    ::Sleep(10);
  }
  Checker checker({u16(widen(args[3])), u16(widen(args[4]))});
  const TableReader reader(section->bytes());
  const std::u16string sid = win32::process_user_sid();
  st(s.started, 1u);
  uint32_t last_seq = 0;
  while (ld(ctl.stop) == 0) {
    TableSnapshot snap;
    const TableError e = reader.read(sid, &snap);
    if (e == TableError::kOk) {
      const std::string problem = checker.check(snap);
      if (problem.empty()) {
        bump(s.reads_ok);
      } else {
        bump(s.reads_torn);
        set_problem(s, "torn read, generation " + std::to_string(snap.info.generation) + ": " + problem);
      }
      st(s.order_violations, checker.order_violations());
      if (checker.order_violations() != 0) set_problem(s, "ordering: " + checker.last_order_problem());
    } else {
      bump(s.reads_rejected[std::min<int>(static_cast<int>(e), kErrorBuckets - 1)]);
    }
    const uint32_t seq = reader.sequence();
    if (seq == last_seq) ::Sleep(1);
    last_seq = seq;
  }
  return 0;
}

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

std::string definitions_note() {
  return "Definitions: a call is session-less MAPISendMail through the stub to a provider that exists and returns "
         "SUCCESS_SUCCESS; it fails when it returns non-zero or the provider did not receive it, and counts against "
         "the goal only where Windows' stub (which keeps the provider a process loaded, and loads the registry's "
         "DLLPath in a new process) would have served it. A torn read is a snapshot a reader accepted (kOk) whose "
         "scopes do not all name one client n consistently (default client, both targets' clients, paths "
         "p<n mod 8>.dll and reasons), checked independently of the table's checksums; an accepted generation or n "
         "lower than one accepted before is an ordering violation and fails the goal too.";
}

// Sums of the children's slots, split by phase and by whether Windows' stub would have served.
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

std::string rc_summary(const Tally& t) {
  std::string s;
  for (int i = 1; i < kRcBuckets; ++i) {
    if (t.rc_counts[i] == 0) continue;
    if (!s.empty()) s += ", ";
    s += (i == kRcBuckets - 1 ? std::string("other") : "rc " + std::to_string(i)) + ": " + std::to_string(t.rc_counts[i]);
  }
  return s.empty() ? "none" : s;
}

std::string rejected_summary(const uint64_t (&r)[kErrorBuckets]) {
  std::string s;
  for (int i = 0; i < kErrorBuckets; ++i) {
    if (r[i] == 0) continue;
    if (!s.empty()) s += ", ";
    s += make_error_code(static_cast<TableError>(i)).message() + ": " + std::to_string(r[i]);
  }
  return s.empty() ? "none" : s;
}

// What the stub's trace says about its rebinds: from the table, or from the registry and why.
struct RebindTally {
  uint64_t via_table = 0;
  std::map<std::string, uint64_t> via_registry;  // short reason -> count
  std::string summary() const {
    uint64_t reg = 0;
    std::string parts;
    for (const auto& [why, n] : via_registry) {
      reg += n;
      if (!parts.empty()) parts += ", ";
      parts += why + " " + std::to_string(n);
    }
    return std::to_string(via_table + reg) + " rebinds: " + std::to_string(via_table) + " from the table, " +
           std::to_string(reg) + " from the registry" + (parts.empty() ? "" : " (" + parts + ")");
  }
};

std::string short_reason(const std::string& source) {
  if (source.find("being written") != std::string::npos) return "busy";
  if (source.find("writer has stopped") != std::string::npos) return "writer stopped";
  if (source.find("checksum") != std::string::npos) return "bad checksum";
  if (source.find("magic") != std::string::npos) return "bad magic";
  if (source.find("ABI") != std::string::npos) return "bad ABI";
  if (source.find("header") != std::string::npos) return "bad header";
  if (source.find("directory") != std::string::npos) return "bad directory";
  if (source.find("record") != std::string::npos) return "bad record";
  if (source.find("no table") != std::string::npos) return "no table";
  if (source.find("no machine scope") != std::string::npos) return "no machine scope";
  return source.substr(0, 60);
}

void parse_trace(const std::wstring& path, RebindTally* out) {
  std::ifstream in(std::filesystem::path(path), std::ios::binary);
  for (std::string line; std::getline(in, line);) {
    if (line.find("] bind simple:") == std::string::npos) continue;
    if (line.find(" via table") != std::string::npos) {
      ++out->via_table;
    } else if (const size_t at = line.find(" via registry"); at != std::string::npos) {
      // "via registry (table: WHY); DECISION": only WHY says why the table was not used.
      const size_t end = line.find("; ", at);
      ++out->via_registry[short_reason(line.substr(at, end == std::string::npos ? std::string::npos : end - at))];
    }
  }
}

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
  std::string start_service(uint64_t above, uint64_t want_n, double* ms);
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

bool Bench::set_sz(HKEY key, const wchar_t* name, const std::wstring& value) {
  ++writes_;
  return ::RegSetValueExW(key, name, 0, REG_SZ, reinterpret_cast<const BYTE*>(value.c_str()),
                          static_cast<DWORD>((value.size() + 1) * sizeof(wchar_t))) == ERROR_SUCCESS;
}

bool Bench::advance() {
  const uint64_t n = n_.load() + 1;
  const std::wstring name = client_name(n);
  HKEY k = nullptr;
  if (::RegCreateKeyExW(mail_, name.c_str(), 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, &k, nullptr) !=
      ERROR_SUCCESS)
    return false;
  ++writes_;
  const bool ok = set_sz(k, L"DLLPath", provider_file(n)) && set_sz(k, L"DLLPathEx", provider_file(n));
  ::RegCloseKey(k);
  if (!ok || !set_sz(mail_, nullptr, name)) return false;
  n_.store(n);
  return true;
}

int Bench::hostile_write(uint64_t i) {
  // Hostile data where it must not change an answer: other clients' keys (not the default),
  // MSMapiApps entries for modules no client loads, unrelated values of the default's key.
  const std::wstring junk = L"MDFault." + std::to_wstring(pid_) + L".junk" + std::to_wstring(i % 8);
  HKEY k = nullptr;
  if (::RegCreateKeyExW(mail_, junk.c_str(), 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, &k, nullptr) !=
      ERROR_SUCCESS)
    return 0;
  int writes = 1;
  std::vector<BYTE> bytes(static_cast<size_t>(rand_in(0, 96)));
  for (auto& b : bytes) b = static_cast<BYTE>(rand_in(0, 255));
  auto raw = [&](HKEY key, const wchar_t* name, DWORD type, const void* data, size_t size) {
    ++writes;
    ::RegSetValueExW(key, name, 0, type, static_cast<const BYTE*>(data), static_cast<DWORD>(size));
  };
  switch (i % 10) {
    case 0: raw(k, L"DLLPath", REG_BINARY, bytes.data(), bytes.size()); break;
    case 1: {
      const std::wstring huge(40000, L'A');
      raw(k, L"DLLPath", REG_SZ, huge.c_str(), (huge.size() + 1) * 2);
      break;
    }
    case 2: {
      const wchar_t text[] = L"C:\\no\\terminator.dll";
      raw(k, L"DLLPath", REG_SZ, text, sizeof text - 3);  // odd length, no NUL
      break;
    }
    case 3: {
      const wchar_t multi[] = L"C:\\a.dll\0C:\\b.dll\0";
      raw(k, L"DLLPathEx", REG_MULTI_SZ, multi, sizeof multi);
      break;
    }
    case 4: {
      const std::wstring expand = L"%MDFAULT_UNDEFINED_" + std::to_wstring(i) + L"%\\x.dll";
      raw(k, L"DLLPath", REG_EXPAND_SZ, expand.c_str(), (expand.size() + 1) * 2);
      break;
    }
    case 5: raw(k, L"DLLPath", REG_DWORD, bytes.data(), std::min<size_t>(bytes.size(), 3)); break;
    case 6: {
      // A value name of the longest length the registry allows.
      const std::wstring name(16383, static_cast<wchar_t>(L'a' + i % 26));
      raw(k, name.c_str(), REG_NONE, nullptr, 0);
      break;
    }
    case 7: {
      // The default client's own key: a SupportUTF8 of the wrong type (ignored, logged).
      HKEY cur = nullptr;
      if (::RegOpenKeyExW(mail_, client_name(n_.load()).c_str(), 0, KEY_SET_VALUE | KEY_WOW64_64KEY, &cur) ==
          ERROR_SUCCESS) {
        raw(cur, L"SupportUTF8", (i & 16) ? REG_BINARY : REG_SZ, bytes.data(), bytes.size() & ~size_t{1});
        ::RegCloseKey(cur);
      }
      break;
    }
    default: {
      // MSMapiApps: overrides for modules that no process here loads, of every type.
      HKEY apps = nullptr;
      if (::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr,
                            &apps, nullptr) == ERROR_SUCCESS) {
        const std::wstring module = L"mdfault-absent-" + std::to_wstring(pid_) + L"-" + std::to_wstring(i % 16) + L".exe";
        if (std::find(hostile_values_.begin(), hostile_values_.end(), module) == hostile_values_.end())
          hostile_values_.push_back(module);
        if (i % 3 == 0) {
          raw(apps, module.c_str(), REG_SZ, junk.c_str(), (junk.size() + 1) * 2);
        } else if (i % 3 == 1) {
          raw(apps, module.c_str(), REG_BINARY, bytes.data(), bytes.size());
        } else {
          raw(apps, module.c_str(), REG_SZ, L"", 2);  // empty: "use mapi32x.dll"
        }
        ::RegCloseKey(apps);
      }
      break;
    }
  }
  ::RegCloseKey(k);
  writes_ += static_cast<uint64_t>(writes);
  return writes;
}

uint32_t Bench::set_big_table(bool big) {
  constexpr int kOverrides = 1000;
  const std::wstring client = L"MDFault." + std::to_wstring(pid_) + L".big";
  HKEY k = nullptr;
  if (::RegCreateKeyExW(mail_, client.c_str(), 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, &k, nullptr) ==
      ERROR_SUCCESS) {
    set_sz(k, L"DLLPath", provider_file(0));
    set_sz(k, L"DLLPathEx", provider_file(0));
    ::RegCloseKey(k);
  }
  HKEY apps = nullptr;
  if (::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr,
                        &apps, nullptr) == ERROR_SUCCESS) {
    for (int i = 0; i < kOverrides; ++i) {
      const std::wstring module = L"mdfault-big-" + std::to_wstring(pid_) + L"-" + std::to_wstring(i) + L".exe";
      if (big) {
        set_sz(apps, module.c_str(), client);
        hostile_values_.push_back(module);
      } else {
        ::RegDeleteValueW(apps, module.c_str());
      }
    }
    ::RegCloseKey(apps);
  }
  // The last change is published after the debounce; wait for a table of the expected size.
  TableSnapshot snap;
  test::wait_until(
      [&] {
        return read_now(&snap) == TableError::kOk &&
               (big ? snap.machine.overrides.size() >= kOverrides : snap.machine.overrides.size() < kOverrides);
      },
      30s, 5ms);
  ::Sleep(kDebounceMs * 5);
  read_now(&snap);
  return snap.info.payload_end;
}

bool Bench::wait_current(uint64_t above, uint64_t want_n, std::chrono::milliseconds timeout, TableSnapshot* out) {
  TableSnapshot local;
  TableSnapshot* s = out ? out : &local;
  return test::wait_until(
      [&] {
        return read_now(s) == TableError::kOk && s->info.generation > above && n_of(*s) >= want_n &&
               (s->info.flags & layout::kFlagWriterStopped) == 0;
      },
      timeout, 2ms);
}

std::string Bench::start_service(uint64_t above, uint64_t want_n, double* ms) {
  const auto t0 = Clock::now();
  if (std::string e = svc_->start(60s); !e.empty()) return "start: " + e;
  if (!wait_current(above, want_n, 60s)) {
    TableSnapshot s;
    const TableError e = read_now(&s);
    return "after start, no current table within 60 s (read: " + make_error_code(e).message() + ", generation " +
           std::to_string(s.info.generation) + ", client " + std::to_string(n_of(s)) + ", wanted > " +
           std::to_string(above) + " and client " + std::to_string(want_n) + ")";
  }
  if (ms) *ms = ms_since(t0);
  return {};
}

bool Bench::kill_pid(DWORD pid) {
  HANDLE h = ::OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, FALSE, pid);
  if (!h) return false;
  ::TerminateProcess(h, 9);
  const bool gone = ::WaitForSingleObject(h, 30000) == WAIT_OBJECT_0;
  ::CloseHandle(h);
  return gone;
}

std::map<std::wstring, uint64_t> Bench::service_stats() {
  // Control 129 makes the service write its loop counters to its State key; the value
  // "Publishes" is deleted first so that its reappearance says the write happened.
  std::map<std::wstring, uint64_t> out;
  HKEY k = nullptr;
  if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, svc_->state_key().c_str(), 0, KEY_READ | KEY_SET_VALUE | KEY_WOW64_64KEY, &k) !=
      ERROR_SUCCESS)
    return out;
  ::RegDeleteValueW(k, L"Publishes");
  if (!svc_->control(kControlWriteStats).empty()) {
    ::RegCloseKey(k);
    return out;
  }
  const bool written = test::wait_until(
      [&] { return ::RegQueryValueExW(k, L"Publishes", nullptr, nullptr, nullptr, nullptr) == ERROR_SUCCESS; }, 5s, 10ms);
  if (written) {
    for (const wchar_t* name : {L"WakeUps", L"Notifications", L"Resolves", L"Publishes"}) {
      uint64_t v = 0;
      DWORD size = sizeof v;
      if (::RegQueryValueExW(k, name, nullptr, nullptr, reinterpret_cast<BYTE*>(&v), &size) == ERROR_SUCCESS) out[name] = v;
    }
  }
  ::RegCloseKey(k);
  return out;
}

std::string Bench::setup() {
  // Files beside this program: the stub (as an application-local mapi32.dll) and the providers.
  const std::wstring here = exe_dir();
  for (const wchar_t* f : {L"mapi32.dll", L"fault_prov_a.dll", L"fault_prov_b.dll"})
    if (::GetFileAttributesW((here + L"\\" + f).c_str()) == INVALID_FILE_ATTRIBUTES)
      return "missing " + narrow(here + L"\\" + f) + " (build the fault_bench target)";

  // The run folder: p0..p7.dll, copies of providers A and B; the clients' traces.
  wchar_t temp[MAX_PATH];
  ::GetTempPathW(MAX_PATH, temp);
  run_dir_ = std::wstring(temp) + L"mdfault." + std::to_wstring(pid_);
  while (!run_dir_.empty() && run_dir_.back() == L'\\') run_dir_.pop_back();
  ::CreateDirectoryW(run_dir_.c_str(), nullptr);
  for (int i = 0; i < kProviderFiles; ++i) {
    const std::wstring src = here + (i % 2 == 0 ? L"\\fault_prov_a.dll" : L"\\fault_prov_b.dll");
    if (!::CopyFileW(src.c_str(), provider_file(static_cast<uint64_t>(i)).c_str(), FALSE))
      return "cannot copy the provider to " + narrow(provider_file(static_cast<uint64_t>(i))) + ": " +
             win_error(::GetLastError());
  }
  x_.prefix = u16(L"MDFault." + std::to_wstring(pid_) + L".");
  x_.dir = u16(run_dir_);

  // HKCU must not name a default of its own: it would shadow the machine default the bench drives.
  HKEY hkcu = nullptr;
  if (::RegOpenKeyExW(HKEY_CURRENT_USER, kMailKey, 0, KEY_READ, &hkcu) == ERROR_SUCCESS) {
    DWORD size = 0;
    const LSTATUS rc = ::RegQueryValueExW(hkcu, nullptr, nullptr, nullptr, nullptr, &size);
    ::RegCloseKey(hkcu);
    if (rc == ERROR_SUCCESS && size > 2)
      return "HKCU\\Software\\Clients\\Mail has a default client of its own, which would shadow the machine default "
             "this bench drives: run in a scratch Wine prefix";
  }

  // The machine default: saved, then pointed at the bench's client 1.
  if (::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kMailKey, 0, nullptr, 0, KEY_ALL_ACCESS | KEY_WOW64_64KEY, nullptr, &mail_,
                        nullptr) != ERROR_SUCCESS)
    return "cannot open HKLM\\Software\\Clients\\Mail";
  DWORD size = 0;
  if (::RegQueryValueExW(mail_, nullptr, nullptr, &saved_default_type_, nullptr, &size) == ERROR_SUCCESS) {
    std::vector<BYTE> data(size);
    if (::RegQueryValueExW(mail_, nullptr, nullptr, &saved_default_type_, data.data(), &size) == ERROR_SUCCESS)
      saved_default_ = std::move(data);
  }
  HKEY apps = nullptr;
  if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, 0, KEY_READ | KEY_WOW64_64KEY, &apps) == ERROR_SUCCESS) {
    ::RegCloseKey(apps);
  } else {
    made_msmapiapps_ = true;
  }
  if (!advance()) return "cannot write HKLM\\Software\\Clients\\Mail";

  // The service, with a short debounce so that a scenario's many publishes take little time.
  svc_ = std::make_unique<test::TestService>("fault", kDebounceMs);
  if (!svc_->ok()) return "installing the service: " + svc_->error();
  probe_ = std::make_unique<test::TableProbe>(svc_->section());
  if (std::string e = svc_->start(); !e.empty()) return "starting the service: " + e;
  if (!probe_->open()) return "the section " + svc_->section() + " never appeared";
  TableSnapshot snap;
  if (!wait_current(0, n_.load(), 30s, &snap)) return "the service never published the bench's client";
  Checker c(x_);
  if (const std::string p = c.check(snap); !p.empty())
    return "the first table fails the bench's own consistency check (the check is wrong): " + p;

  // Children find the stub's section and the control block by name; they inherit these.
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_SECTION", widen(svc_->section()).c_str());
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_NO_UI", L"1");
  control_name_ = L"Local\\MDFaultBench." + std::to_wstring(pid_) + L".control";
  if (!control_.create(control_name_)) return "cannot create the control block: " + win_error(::GetLastError());
  ctl_ = control_.get();
  return {};
}

void Bench::teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  if (ctl_) st(ctl_->stop, 1u);
  for (auto& c : children_) {
    if (c.process) {
      if (::WaitForSingleObject(c.process, 10000) != WAIT_OBJECT_0) ::TerminateProcess(c.process, 9);
      ::CloseHandle(c.process);
    }
  }
  children_.clear();
  harness_stop_ = true;
  if (harness_reader_.joinable()) harness_reader_.join();
  if (svc_ && svc_->ok()) svc_->stop();
  svc_.reset();  // uninstalls
  probe_.reset();
  if (mail_) {
    if (saved_default_) {
      ::RegSetValueExW(mail_, nullptr, 0, saved_default_type_, saved_default_->data(),
                       static_cast<DWORD>(saved_default_->size()));
    } else {
      ::RegDeleteValueW(mail_, nullptr);
    }
    // Every key the bench made: MDFault.<pid>.*
    const std::wstring prefix = L"MDFault." + std::to_wstring(pid_) + L".";
    std::vector<std::wstring> doomed;
    wchar_t name[512];
    for (DWORD i = 0;; ++i) {
      DWORD len = 512;
      if (::RegEnumKeyExW(mail_, i, name, &len, nullptr, nullptr, nullptr, nullptr) != ERROR_SUCCESS) break;
      if (std::wstring(name, len).rfind(prefix, 0) == 0) doomed.emplace_back(name, len);
    }
    for (const auto& k : doomed) ::RegDeleteTreeW(mail_, k.c_str()), ::RegDeleteKeyExW(mail_, k.c_str(), KEY_WOW64_64KEY, 0);
    ::RegCloseKey(mail_);
    mail_ = nullptr;
  }
  HKEY apps = nullptr;
  if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, &apps) == ERROR_SUCCESS) {
    for (const auto& v : hostile_values_) ::RegDeleteValueW(apps, v.c_str());
    ::RegCloseKey(apps);
  }
  if (made_msmapiapps_) ::RegDeleteKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, KEY_WOW64_64KEY, 0);
  if (!run_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(run_dir_), ec);  // files still mapped stay
  }
}

void Bench::reset_control() {
  std::memset(static_cast<void*>(ctl_), 0, sizeof(Control));
  ctl_->magic = kControlMagic;
  next_slot_ = 0;
  traces_.clear();
}

int Bench::spawn(SlotKind kind, const std::vector<std::string>& args, const std::wstring& trace) {
  if (next_slot_ >= kMaxSlots) return -1;
  const int slot = next_slot_++;
  ctl_->slots[slot].kind = static_cast<uint32_t>(kind);
  std::wstring cmd = L"\"" + exe_path() + L"\" --child " + (kind == SlotKind::kReader ? L"reader" : L"client") + L" \"" +
                     control_name_ + L"\" " + std::to_wstring(slot);
  for (const auto& a : args) cmd += L" \"" + widen(a) + L"\"";
  // The stub reads MAPIDISPATCH_TRACE once per process: each client gets a file of its own.
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_TRACE", trace.empty() ? nullptr : trace.c_str());
  if (!trace.empty()) {
    ::DeleteFileW(trace.c_str());
    traces_.push_back(trace);
  }
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  const bool ok = test::create_process_retrying(cmd, false, &si, &pi);
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_TRACE", nullptr);
  if (!ok) {
    std::fprintf(stderr, "CreateProcess failed: %s\n", win_error(::GetLastError()).c_str());
    return -1;
  }
  ::CloseHandle(pi.hThread);
  children_.push_back({pi.hProcess, slot, kind});
  return slot;
}

std::string Bench::begin_load(const std::string& scenario, int clients, int readers, DWORD pace_ms, uint32_t phase) {
  scenario_ = scenario;
  reset_control();
  set_phase(phase);
  for (int i = 0; i < readers; ++i)
    if (spawn(SlotKind::kReader, {svc_->section(), narrow16(x_.prefix), narrow(run_dir_)}, L"") < 0)
      return "cannot start a reader process";
  for (int i = 0; i < clients; ++i) {
    const std::wstring trace = run_dir_ + L"\\trace." + widen(scenario) + L"." + std::to_wstring(next_slot_) + L".log";
    if (spawn(SlotKind::kClient, {std::to_string(pace_ms), "0"}, trace) < 0) return "cannot start a client process";
  }
  harness_tally_ = Tally{};
  harness_stop_ = false;
  harness_reader_ = std::thread([this] {
    Checker checker(x_);
    uint32_t last_seq = 0;
    while (!harness_stop_) {
      TableSnapshot snap;
      const TableError e = probe_->read(&snap);
      if (e == TableError::kOk) {
        const std::string problem = checker.check(snap);
        if (problem.empty()) {
          ++harness_tally_.reads_ok;
        } else {
          if (harness_tally_.reads_torn++ == 0)
            harness_tally_.problems.push_back("harness reader: torn read, generation " +
                                              std::to_string(snap.info.generation) + ": " + problem);
        }
      } else {
        ++harness_tally_.reads_rejected[std::min<int>(static_cast<int>(e), kErrorBuckets - 1)];
      }
      if (checker.order_violations() != harness_tally_.order_violations) {
        harness_tally_.order_violations = checker.order_violations();
        harness_tally_.problems.push_back("harness reader: ordering: " + checker.last_order_problem());
      }
      const uint32_t seq = probe_->sequence();
      if (seq == last_seq) ::Sleep(1);
      last_seq = seq;
    }
  });
  // Every child running and every client past its first call.
  const bool up = test::wait_until(
      [&] {
        for (const auto& c : children_) {
          if (::WaitForSingleObject(c.process, 0) == WAIT_OBJECT_0) continue;  // died: end_load says so
          const Slot& s = ctl_->slots[c.slot];
          if (ld(s.started) == 0) return false;
          uint64_t calls = 0;
          for (const auto& pc : s.phase) calls += ld(pc.attempted);
          if (c.kind == SlotKind::kClient && calls == 0) return false;
        }
        return true;
      },
      120s, 20ms);
  if (!up) return "the children did not all start within 120 s";
  return {};
}

int Bench::spawn_fresh(int calls) {
  const std::wstring trace = run_dir_ + L"\\trace." + widen(scenario_) + L"." + std::to_wstring(next_slot_) + L".log";
  return spawn(SlotKind::kFreshClient, {"2", std::to_string(calls)}, trace);
}

void Bench::wait_fresh(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (const auto& c : children_) {
    if (c.kind != SlotKind::kFreshClient) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    ::WaitForSingleObject(c.process, static_cast<DWORD>(std::max<long long>(left, 0)));
  }
}

Tally Bench::end_load(const std::function<bool(SlotKind, int)>& windows_would_fail) {
  Tally t;
  st(ctl_->stop, 1u);
  for (auto& c : children_) {
    DWORD code = 0;
    if (::WaitForSingleObject(c.process, 60000) != WAIT_OBJECT_0) {
      ::TerminateProcess(c.process, 9);
      ::WaitForSingleObject(c.process, 10000);
      t.problems.push_back("child in slot " + std::to_string(c.slot) + " did not stop within 60 s; killed");
    }
    ::GetExitCodeProcess(c.process, &code);
    ::CloseHandle(c.process);
    c.process = nullptr;
    const Slot& s = ctl_->slots[c.slot];
    if (code != 0) {
      ++t.child_crashes;
      t.problems.push_back((c.kind == SlotKind::kReader ? "reader" : "client") + std::string(" in slot ") +
                           std::to_string(c.slot) + " exited with code " + std::to_string(code));
    }
    if (ld(s.has_problem) != 0) t.problems.push_back("slot " + std::to_string(c.slot) + ": " + std::string(s.problem));
    if (c.kind == SlotKind::kReader) {
      t.reads_ok += ld(s.reads_ok);
      t.reads_torn += ld(s.reads_torn);
      t.order_violations += ld(s.order_violations);
      for (int i = 0; i < kErrorBuckets; ++i) t.reads_rejected[i] += ld(s.reads_rejected[i]);
      continue;
    }
    for (int p = 0; p < kPhases; ++p) {
      const PhaseCounts& pc = s.phase[p];
      PhaseCounts& into = c.kind == SlotKind::kFreshClient ? t.fresh_by_phase[p] : t.by_phase[p];
      into.attempted += ld(pc.attempted);
      into.acked += ld(pc.acked);
      into.rc_nonzero += ld(pc.rc_nonzero);
      into.no_ack += ld(pc.no_ack);
      into.served_a += ld(pc.served_a);
      into.served_b += ld(pc.served_b);
      t.attempted += ld(pc.attempted);
      const uint64_t failed = ld(pc.rc_nonzero) + ld(pc.no_ack);
      if (windows_would_fail && windows_would_fail(c.kind, p)) {
        t.failed_windows_too += failed;
      } else {
        t.failed += failed;
      }
    }
    for (int i = 0; i < kRcBuckets; ++i) t.rc_counts[i] += ld(s.rc_counts[i]);
    // A client that died mid-call lost that call.
    if (code != 0) ++t.failed;
  }
  children_.clear();
  harness_stop_ = true;
  if (harness_reader_.joinable()) harness_reader_.join();
  t.reads_ok += harness_tally_.reads_ok;
  t.reads_torn += harness_tally_.reads_torn;
  t.order_violations += harness_tally_.order_violations;
  for (int i = 0; i < kErrorBuckets; ++i) t.reads_rejected[i] += harness_tally_.reads_rejected[i];
  for (const auto& p : harness_tally_.problems) t.problems.push_back(p);
  return t;
}

RebindTally Bench::rebinds() {
  RebindTally rb;
  for (const auto& path : traces_) parse_trace(path, &rb);
  return rb;
}

void Bench::fill_common(ScenarioResult* r, const Tally& t, const RebindTally& rb) {
  r->calls_attempted = t.attempted;
  r->calls_failed = t.failed;
  r->torn_reads = t.reads_torn;
  r->reads_checked = t.reads_ok + t.reads_torn;
  r->details.add("failed_windows_too", t.failed_windows_too);
  r->details.add("order_violations", t.order_violations);
  r->details.add("child_crashes", t.child_crashes);
  r->details.add_text("failed_return_codes", rc_summary(t));
  r->details.add_text("reads_rejected", rejected_summary(t.reads_rejected));
  r->details.add("rebinds_via_table", rb.via_table);
  uint64_t reg = 0;
  for (const auto& [why, n] : rb.via_registry) reg += n;
  r->details.add("rebinds_via_registry", reg);
  r->details.add_text("rebinds", rb.summary());
  std::string problems;
  for (size_t i = 0; i < t.problems.size() && i < 8; ++i) problems += (i ? " | " : "") + t.problems[i];
  if (!problems.empty()) r->details.add_text("problems", problems);
}

// The verdict: the goal, plus what the scenario itself requires (`shortfalls`).
void judge(ScenarioResult* r, const Tally& t, std::vector<std::string> shortfalls) {
  if (r->calls_failed != 0)
    shortfalls.insert(shortfalls.begin(), std::to_string(r->calls_failed) +
                                              " calls failed that Windows' stub would have served (" + rc_summary(t) + ")");
  if (r->torn_reads != 0) shortfalls.insert(shortfalls.begin(), std::to_string(r->torn_reads) + " torn reads accepted");
  if (t.order_violations != 0) shortfalls.push_back(std::to_string(t.order_violations) + " ordering violations");
  if (t.child_crashes != 0) shortfalls.push_back(std::to_string(t.child_crashes) + " child processes died");
  if (r->calls_attempted == 0) shortfalls.push_back("no call was made");
  if (r->reads_checked == 0) shortfalls.push_back("no read was accepted");
  r->meets_goal = shortfalls.empty();
  std::string verdict;
  for (const auto& s : shortfalls) verdict += (verdict.empty() ? "" : "; ") + s;
  r->note = (r->meets_goal ? std::string("meets goal. ") : "FALLS SHORT: " + verdict + ". ") + r->note + " " +
            definitions_note();
}

std::string ms_text(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  return buf;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

// ---- Scenario 1: kill-mid-publish -------------------------------------------------------------------

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
  for (int i = 0; i < hook_kills; ++i) {
    TableSnapshot before;
    if (!wait_current(0, n_.load(), 30s, &before)) {
      ++restart_failures;
      if (first_restart_error.empty()) first_restart_error = "no current table before kill " + std::to_string(i);
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
  const uint32_t big_bytes = set_big_table(true);
  // How long a publish of that table keeps the count odd: the window a kill must hit. A spinning
  // reader sees it only when it happens to be on a CPU then (two cores, a dozen busy threads),
  // so a few publishes are sampled.
  std::vector<double> window_us;
  for (int m = 0; m < 12 && window_us.size() < 3; ++m) {
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
  for (int i = 0; i < external_kills; ++i) {
    TableSnapshot before;
    if (!wait_current(0, n_.load(), 30s, &before)) {
      ++restart_failures;
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
  set_big_table(false);
  wait_current(0, n_.load(), 30s);
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

// ---- Scenario 2: corrupt-in-place ------------------------------------------------------------------

ScenarioResult Bench::corrupt_in_place() {
  ScenarioResult r;
  r.name = "corrupt-in-place";
  r.description =
      "random bytes of the live table's header, directory and records corrupted in place (silently, or with the "
      "count bumped as a writer would, or the count left odd) while clients call and readers read; a refresh "
      "(control 128) or the next publish restores it";
  const int iterations = opt_.quick ? 40 : 600;
  // The section writable: Wine does not enforce the section's DACL (Windows would refuse a user).
  HANDLE section = ::OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, widen(svc_->section()).c_str());
  std::byte* view = section ? static_cast<std::byte*>(::MapViewOfFile(section, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0))
                            : nullptr;
  if (!view) {
    r.harness_error = true;
    r.note = "cannot open the section writable (" + win_error(::GetLastError()) +
             "): on Windows its DACL forbids it, which is the point; this scenario needs Wine or an administrator";
    if (section) ::CloseHandle(section);
    return r;
  }
  if (std::string e = begin_load(r.name, 8, 2, 2); !e.empty()) {
    r.harness_error = true;
    r.note = e;
    end_load();
    ::UnmapViewOfFile(view);
    ::CloseHandle(section);
    return r;
  }
  auto* count = reinterpret_cast<uint32_t*>(view + offsetof(layout::TableHeader, sequence));
  // XORs one byte of the live table through an atomic word store (readers load words atomically).
  auto flip = [&](size_t offset, uint8_t mask) {
    auto* word = reinterpret_cast<uint32_t*>(view + (offset & ~size_t{3}));
    const uint32_t v = seqlock::word(word).load(std::memory_order_relaxed);
    seqlock::word(word).store(v ^ (uint32_t{mask} << (8 * (offset & 3))), std::memory_order_relaxed);
  };
  std::map<std::string, uint64_t> seen;  // what a reader made of each corruption
  uint64_t restored = 0, restore_failures = 0, accepted = 0, accepted_inconsistent = 0, fresh_spawned = 0;
  Checker checker(x_);
  std::map<std::string, uint64_t> kinds;
  std::string first_restore_problem;
  std::string accepted_fields;
  for (int i = 0; i < iterations; ++i) {
    TableSnapshot before;
    if (!wait_current(0, n_.load(), 15s, &before)) {
      ++restore_failures;
      break;
    }
    layout::TableHeader h;
    std::memcpy(&h, view, sizeof h);  // only this thread and the idle service write it
    const size_t dir_begin = h.directory_offset;
    const size_t dir_end = dir_begin + size_t{h.scope_count} * sizeof(layout::ScopeDirEntry);
    const uint64_t pick = rand_in(0, 99);
    const bool as_publish = rand_in(0, 99) < 60;
    std::string kind;
    size_t lo = 0, hi = 0;
    if (pick < 30) {
      kind = "header";
      lo = 0;
      hi = sizeof(layout::TableHeader);
    } else if (pick < 50) {
      kind = "directory";
      lo = dir_begin;
      hi = dir_end;
    } else if (pick < 90) {
      kind = "record";
      lo = dir_end;
      hi = h.payload_end;
    } else {
      kind = "count left odd";
    }
    std::vector<size_t> offsets;
    if (hi > lo) {
      const int bytes = static_cast<int>(rand_in(1, 6));
      for (int b = 0; b < bytes; ++b) {
        size_t off = static_cast<size_t>(rand_in(lo, hi - 1));
        if (off >= 16 && off < 20) off = 20 + (off & 3);  // never the count word: that is the next kind
        offsets.push_back(off);
      }
    }
    const std::string label = kind + (kind == "count left odd" ? "" : as_publish ? ", count bumped" : ", silent");
    ++kinds[label];
    if (kind == "count left odd") {
      seqlock::write_begin(count);  // a writer that never finishes
    } else {
      const uint32_t odd = as_publish ? seqlock::write_begin(count) : 0;
      for (const size_t off : offsets) flip(off, static_cast<uint8_t>(rand_in(1, 255)));
      if (as_publish) seqlock::write_end(count, odd);
    }
    TableSnapshot during;
    const TableError e = read_now(&during);
    ++seen[make_error_code(e).message()];
    if (e == TableError::kOk) {
      // Accepted: the flipped bytes were outside what any check covers (abi_minor, total_size
      // within bounds). The content check says whether that hurt.
      ++accepted;
      if (!checker.check(during).empty()) ++accepted_inconsistent;
      for (const size_t off : offsets) {
        const char* field = off < 4 ? "magic" : off < 6 ? "abi_major" : off < 8 ? "abi_minor" : off < 12 ? "header_size"
                            : off < 16 ? "total_size" : "other";
        if (accepted_fields.find(field) == std::string::npos)
          accepted_fields += (accepted_fields.empty() ? "" : ", ") + std::string(field);
      }
    }
    if (i % 10 == 5) {
      // A process that starts while the table is corrupt: its first call reads it.
      spawn_fresh(20);
      ++fresh_spawned;
      wait_fresh(60s);
    }
    ::Sleep(static_cast<DWORD>(rand_in(10, 80)));
    const bool by_refresh = rand_in(0, 1) == 0;
    const uint64_t want_n = by_refresh ? n_.load() : n_.load() + 1;
    if (by_refresh) {
      svc_->control(kControlRefresh);
    } else {
      advance();
    }
    if (wait_current(before.info.generation, want_n, 10s)) {
      ++restored;
    } else {
      ++restore_failures;
      if (first_restore_problem.empty()) {
        TableSnapshot s;
        const TableError e2 = read_now(&s);
        first_restore_problem = label + " at iteration " + std::to_string(i) + " not restored by " +
                                (by_refresh ? "refresh" : "a publish") + ": " + make_error_code(e2).message();
      }
      // Make it right for the next iteration.
      svc_->control(kControlRefresh);
      wait_current(0, n_.load(), 10s);
    }
  }
  ::Sleep(200);
  const Tally t = end_load();
  ::UnmapViewOfFile(view);
  ::CloseHandle(section);
  const RebindTally rb = rebinds();
  fill_common(&r, t, rb);
  r.iterations = static_cast<uint64_t>(iterations);
  std::string kinds_text, seen_text;
  for (const auto& [k, n] : kinds) kinds_text += (kinds_text.empty() ? "" : ", ") + k + " " + std::to_string(n);
  for (const auto& [k, n] : seen) seen_text += (seen_text.empty() ? "" : ", ") + k + " " + std::to_string(n);
  r.details.add_text("corruptions", kinds_text);
  r.details.add_text("reader_verdict_on_corrupted_table", seen_text);
  r.details.add("corruptions_accepted_by_reader", accepted);
  r.details.add("corruptions_accepted_inconsistent", accepted_inconsistent);
  r.torn_reads += accepted_inconsistent;  // the harness's read right after each corruption
  r.reads_checked += accepted;
  r.details.add("restored", restored);
  r.details.add("restore_failures", restore_failures);
  r.details.add("fresh_processes_started_on_a_corrupt_table", fresh_spawned);
  std::vector<std::string> shortfalls;
  if (restore_failures)
    shortfalls.push_back(std::to_string(restore_failures) + " corruptions not restored: " + first_restore_problem);
  r.note = "Corruptions: " + kinds_text + ". A reader right after each said: " + seen_text + ". " +
           (accepted == 0 ? std::string("No corrupted table was accepted by that reader. ")
                          : std::to_string(accepted) + " corrupted tables were still accepted, because only bytes no "
                            "check covers changed (" + accepted_fields + "); " + std::to_string(accepted_inconsistent) +
                            " of them with inconsistent contents (counted as torn). ") +
           "Silent corruption (count unchanged) does not reach processes that already decided: the stub re-reads "
           "only when the count moves, so their cached decision, taken from a valid table, stands; " +
           std::to_string(fresh_spawned) + " processes started on a corrupt table and read it. Restored " +
           std::to_string(restored) + " of " + std::to_string(iterations) + " by a refresh or the next publish. " +
           rb.summary() + ".";
  judge(&r, t, shortfalls);
  return r;
}

// ---- Scenario 3: registry-flood --------------------------------------------------------------------

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

// ---- Scenario 4: provider-replaced -----------------------------------------------------------------

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

// ---- Scenario 5: restart-under-load -----------------------------------------------------------------

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
  for (int c = 0; c < cycles + kills; ++c) {
    const bool kill = c >= cycles;
    TableSnapshot before;
    if (!wait_current(0, n_.load(), 30s, &before)) {
      ++failures;
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
