// Copyright MapiDispatch authors.
//
// fault_bench, scenario corrupt-in-place (its description says what it injects). What a
// scenario gets from the harness and must report: fault_harness.h.

#include <windows.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "fault_harness.h"
#include "mapidispatch/seqlock.h"
#include "mapidispatch/table_layout.h"

namespace mapidispatch::evidence {

using namespace std::chrono_literals;

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

}  // namespace mapidispatch::evidence
