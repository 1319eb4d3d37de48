// Copyright MapiDispatch authors.
//
// Reader throughput, quiet and under a writer that publishes ten times a second (issue #7;
// figures, never pass/fail). One reader thread and one writer thread: the machine this is
// measured on has two cores, and a stub's process reads on its own thread while the service
// publishes from another process.
//
//   throughput_bench [--seconds S] [--rounds R] [--users U] [--json FILE] [--quick]
//
// Two reader loops, each on a real shared section mapped read-only (POSIX shm natively, a named
// section on Windows), the writer on the same section's read-write mapping:
//   fast  the stub's per-call path: load the sequence count, compare with the cached one; only
//         when it moved, a full read (machine + one user scope) that refreshes the cache
//   full  a full validated read on every iteration (seqlock copy-out, checksums, structure)
// Each runs S seconds quiet (no writer thread) and S seconds with the writer, R rounds, the order
// alternating per round so that a drift of the machine's load does not favour one condition. The
// figure per condition is the median of its rounds; the ratio is the median of the rounds' own
// writer / quiet ratios (each round's two halves run back to back: on a machine shared with
// other work, that pairs measurements taken under the same outside load).
//
// Two rates per condition: per wall-clock second, and per CPU second of the reader thread. On a
// machine whose cores are shared with other work the wall-clock rate mostly measures how much of
// a core the reader got; the CPU-time rate measures what the writer costs the reader itself
// (cache lines invalidated by the publishes, the re-reads), which is what the design decides.
//
// Defaults: 10 rounds of 1 s per condition and loop, 10 user scopes.
//
// Torn reads are checked independently of the seqlock, as seqlock_stress_test does: every
// published string carries the generation it was published under and spans more than a cache
// line (test::stamped_scopes), so an accepted read mixing two publishes shows two stamps.
// The full loop checks every read; the fast loop checks every re-read.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifdef _WIN32
#include <windows.h>
#else
#include <time.h>
#include <unistd.h>
#endif

#include "../support/table_samples.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"

namespace {

using namespace mapidispatch;
using Clock = std::chrono::steady_clock;

struct Tally {
  uint64_t iterations = 0;  // calls (fast) or reads (full)
  uint64_t rereads = 0;     // fast: full reads after the count moved
  uint64_t busy = 0;
  uint64_t errors = 0;
  uint64_t torn = 0;        // accepted but inconsistent: must stay 0
  uint64_t regressed = 0;   // an older stamp after a newer one: must stay 0
  double seconds = 0;       // wall clock
  double cpu_seconds = 0;   // the reader thread's CPU time
};

// CPU time of the calling thread (user + kernel), in seconds.
double thread_cpu_seconds() {
#ifdef _WIN32
  FILETIME created, exited, kernel, user;
  if (!::GetThreadTimes(::GetCurrentThread(), &created, &exited, &kernel, &user)) return 0;
  const auto ticks = [](const FILETIME& f) { return (static_cast<uint64_t>(f.dwHighDateTime) << 32) | f.dwLowDateTime; };
  return static_cast<double>(ticks(kernel) + ticks(user)) / 1e7;
#else
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
#endif
}

// The independent check of one accepted snapshot.
bool consistent(const TableSnapshot& snap) {
  uint64_t m = 0, u = 0;
  return test::stamp_consistent(snap.machine, &m) && snap.user && test::stamp_consistent(*snap.user, &u) && m == u &&
         m == snap.info.generation;
}

// One read, checked; updates `last` (the newest stamp seen).
TableError checked_read(const TableReader& reader, const std::u16string& sid, TableSnapshot* snap, uint64_t* last,
                        Tally* t) {
  const TableError e = reader.read(sid, snap);
  if (e == TableError::kOk) {
    if (!consistent(*snap)) {
      ++t->torn;
    } else {
      if (snap->info.generation < *last) ++t->regressed;
      *last = snap->info.generation;
    }
  } else if (e == TableError::kBusy) {
    ++t->busy;
  } else {
    ++t->errors;
  }
  return e;
}

Tally run_fast(const TableReader& reader, const std::u16string& sid, std::chrono::duration<double> length) {
  Tally t;
  TableSnapshot snap;
  uint64_t last = 0;
  while (checked_read(reader, sid, &snap, &last, &t) != TableError::kOk) {
  }
  uint32_t cached = snap.info.sequence;
  const double c0 = thread_cpu_seconds();
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(length);
  for (;;) {
    for (int i = 0; i < 4096; ++i) {
      // The stub's fast path: one acquire load and a compare.
      if (reader.sequence() != cached) [[unlikely]] {
        ++t.rereads;
        if (checked_read(reader, sid, &snap, &last, &t) == TableError::kOk) cached = snap.info.sequence;
      }
    }
    t.iterations += 4096;
    if (Clock::now() >= end) break;
  }
  t.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  t.cpu_seconds = thread_cpu_seconds() - c0;
  return t;
}

Tally run_full(const TableReader& reader, const std::u16string& sid, std::chrono::duration<double> length) {
  Tally t;
  TableSnapshot snap;
  uint64_t last = 0;
  const double c0 = thread_cpu_seconds();
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(length);
  for (;;) {
    for (int i = 0; i < 16; ++i) checked_read(reader, sid, &snap, &last, &t);
    t.iterations += 16;
    if (Clock::now() >= end) break;
  }
  t.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  t.cpu_seconds = thread_cpu_seconds() - c0;
  return t;
}

// Publishes a freshly stamped table every 100 ms until stopped (steady 10 Hz: sleep_until).
class Writer {
 public:
  Writer(TableWriter* writer, int users) : writer_(writer), users_(users) {}
  void start() {
    stop_ = false;
    thread_ = std::thread([this] {
      auto next = Clock::now();
      while (!stop_.load(std::memory_order_relaxed)) {
        // The stamp is the generation this publish will carry.
        if (writer_->publish(test::stamped_scopes(writer_->generation() + 1, users_))) failures_.fetch_add(1);
        publishes_.fetch_add(1, std::memory_order_relaxed);
        next += std::chrono::milliseconds(100);
        std::this_thread::sleep_until(next);
      }
    });
  }
  void stop() {
    stop_ = true;
    thread_.join();
  }
  uint64_t publishes() const { return publishes_.load(); }
  uint64_t failures() const { return failures_.load(); }

 private:
  TableWriter* writer_;
  int users_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> publishes_{0};
  std::atomic<uint64_t> failures_{0};
  std::thread thread_;
};

double median(std::vector<double> v) {
  // (the mean of the two middle values for an even count)
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int process_id() {
#ifdef _WIN32
  return static_cast<int>(::GetCurrentProcessId());
#else
  return static_cast<int>(::getpid());
#endif
}

struct ModeResult {
  const char* name = "";
  std::vector<double> quiet_rates, writer_rates;          // per round, per wall-clock second
  std::vector<double> quiet_cpu_rates, writer_cpu_rates;  // per round, per CPU second of the reader
  Tally quiet, writer;                                    // summed over rounds
  static std::vector<double> ratios(const std::vector<double>& quiet, const std::vector<double>& writer) {
    std::vector<double> r;
    for (size_t i = 0; i < quiet.size() && i < writer.size(); ++i) r.push_back(quiet[i] > 0 ? writer[i] / quiet[i] : 0.0);
    return r;
  }
  std::vector<double> wall_ratios() const { return ratios(quiet_rates, writer_rates); }
  std::vector<double> cpu_ratios() const { return ratios(quiet_cpu_rates, writer_cpu_rates); }
};

void add(Tally* sum, const Tally& t) {
  sum->iterations += t.iterations;
  sum->rereads += t.rereads;
  sum->busy += t.busy;
  sum->errors += t.errors;
  sum->torn += t.torn;
  sum->regressed += t.regressed;
  sum->seconds += t.seconds;
  sum->cpu_seconds += t.cpu_seconds;
}

void json_tally(std::ofstream& j, const Tally& t) {
  j << "{\"iterations\": " << t.iterations << ", \"seconds\": " << t.seconds << ", \"cpu_seconds\": " << t.cpu_seconds
    << ", \"rereads\": " << t.rereads
    << ", \"busy\": " << t.busy << ", \"errors\": " << t.errors << ", \"torn_reads\": " << t.torn
    << ", \"regressed\": " << t.regressed << "}";
}

void json_rates(std::ofstream& j, const std::vector<double>& v) {
  j << "[";
  for (size_t i = 0; i < v.size(); ++i) j << (i ? ", " : "") << v[i];
  j << "]";
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1;
  int rounds = 10;
  int users = 10;
  const char* json = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "throughput_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seconds") seconds = std::atof(value());
    else if (a == "--rounds") rounds = std::atoi(value());
    else if (a == "--users") users = std::atoi(value());
    else if (a == "--json") json = value();
    else if (a == "--quick") { seconds = 0.5; rounds = 2; }
    else {
      std::fprintf(stderr, "usage: throughput_bench [--seconds S] [--rounds R] [--users U] [--json FILE] [--quick]\n");
      return 2;
    }
  }
  if (seconds <= 0 || rounds < 1 || users < 6 || users > 5000) {
    std::fprintf(stderr, "throughput_bench: bad --seconds, --rounds or --users (6..5000)\n");
    return 2;
  }

#ifdef _WIN32
  const std::string section = "Local\\MapiDispatch.throughput." + std::to_string(process_id());
#else
  const std::string section = "/MapiDispatch.throughput." + std::to_string(process_id());
#endif
  std::unique_ptr<WritableSection> ws;
  if (const auto ec = WritableSection::create(section, 8u << 20, &ws)) {
    std::fprintf(stderr, "cannot create the section: %s\n", ec.message().c_str());
    return 1;
  }
  TableWriter table_writer(ws->bytes(), static_cast<uint32_t>(process_id()), 0);
  if (table_writer.publish(test::stamped_scopes(table_writer.generation() + 1, users))) {
    std::fprintf(stderr, "the first publish failed\n");
    return 1;
  }
  std::unique_ptr<ReadOnlySection> ro;
  if (const auto ec = ReadOnlySection::open(section, &ro)) {
    std::fprintf(stderr, "cannot map the section read-only: %s\n", ec.message().c_str());
    return 1;
  }
  const TableReader reader(ro->bytes());
  const std::u16string sid = test::sample_user(users / 2).sid;
  Writer writer(&table_writer, users);
  const std::chrono::duration<double> length(seconds);

  ModeResult modes[2];
  modes[0].name = "fast";
  modes[1].name = "full";
  for (int r = 0; r < rounds; ++r) {
    for (ModeResult& m : modes) {
      const bool fast = std::strcmp(m.name, "fast") == 0;
      for (int c = 0; c < 2; ++c) {
        const bool with_writer = (c == 0) == (r % 2 == 1);  // alternate which condition goes first
        if (with_writer) writer.start();
        const Tally t = fast ? run_fast(reader, sid, length) : run_full(reader, sid, length);
        if (with_writer) writer.stop();
        const double rate = static_cast<double>(t.iterations) / t.seconds;
        const double cpu_rate = t.cpu_seconds > 0 ? static_cast<double>(t.iterations) / t.cpu_seconds : 0.0;
        (with_writer ? m.writer_rates : m.quiet_rates).push_back(rate);
        (with_writer ? m.writer_cpu_rates : m.quiet_cpu_rates).push_back(cpu_rate);
        add(with_writer ? &m.writer : &m.quiet, t);
      }
    }
  }
  remove_shared_section(section);

  std::printf("MapiDispatch reader throughput: 1 reader thread, writer thread publishing every 100 ms, %d users, "
              "%d rounds of %.1f s per condition (medians; ratio: median of the rounds' ratios)\n", users, rounds, seconds);
  std::printf("%-6s %15s %15s %7s %15s %15s %7s %6s %6s %8s\n", "loop", "quiet /s", "writer /s", "ratio", "quiet /cpu-s",
              "writer /cpu-s", "ratio", "torn", "busy", "rereads");
  uint64_t torn = 0;
  for (const ModeResult& m : modes) {
    std::printf("%-6s %15.0f %15.0f %6.1f%% %15.0f %15.0f %6.1f%% %6llu %6llu %8llu\n", m.name, median(m.quiet_rates),
                median(m.writer_rates), 100.0 * median(m.wall_ratios()), median(m.quiet_cpu_rates),
                median(m.writer_cpu_rates), 100.0 * median(m.cpu_ratios()),
                static_cast<unsigned long long>(m.quiet.torn + m.writer.torn),
                static_cast<unsigned long long>(m.quiet.busy + m.writer.busy),
                static_cast<unsigned long long>(m.writer.rereads));
    torn += m.quiet.torn + m.writer.torn + m.quiet.regressed + m.writer.regressed;
  }
  std::printf("publishes by the writer: %llu (failed %llu); torn or regressed reads accepted: %llu\n",
              static_cast<unsigned long long>(writer.publishes()), static_cast<unsigned long long>(writer.failures()),
              static_cast<unsigned long long>(torn));

  if (json != nullptr) {
    std::ofstream j(json);
    j.precision(10);
    j << "{\n  \"users\": " << users << ",\n  \"rounds\": " << rounds << ",\n  \"seconds_per_round\": " << seconds
      << ",\n  \"writer_hz\": 10,\n  \"publishes\": " << writer.publishes() << ",\n  \"publish_failures\": " << writer.failures()
      << ",\n  \"torn_reads\": " << torn << ",\n  \"modes\": {";
    for (int i = 0; i < 2; ++i) {
      const ModeResult& m = modes[i];
      j << (i ? "," : "") << "\n    \"" << m.name << "\": {\"quiet_per_s\": " << median(m.quiet_rates)
        << ", \"writer_per_s\": " << median(m.writer_rates) << ", \"ratio\": " << median(m.wall_ratios())
        << ",\n      \"quiet_per_cpu_s\": " << median(m.quiet_cpu_rates) << ", \"writer_per_cpu_s\": "
        << median(m.writer_cpu_rates) << ", \"cpu_ratio\": " << median(m.cpu_ratios()) << ",\n      \"quiet_rounds\": ";
      json_rates(j, m.quiet_rates);
      j << ", \"writer_rounds\": ";
      json_rates(j, m.writer_rates);
      j << ", \"round_ratios\": ";
      json_rates(j, m.wall_ratios());
      j << ",\n      \"quiet_cpu_rounds\": ";
      json_rates(j, m.quiet_cpu_rates);
      j << ", \"writer_cpu_rounds\": ";
      json_rates(j, m.writer_cpu_rates);
      j << ", \"round_cpu_ratios\": ";
      json_rates(j, m.cpu_ratios());
      j << ",\n      \"quiet\": ";
      json_tally(j, m.quiet);
      j << ",\n      \"writer\": ";
      json_tally(j, m.writer);
      j << "}";
    }
    j << "\n  }\n}\n";
  }
  return torn == 0 ? 0 : 3;
}
