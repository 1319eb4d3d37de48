// Copyright MapiDispatch authors.
//
// Readers against a writer that republishes without pause: threads in this process and reader
// processes on a real shared section. Every string of every published table carries the same
// stamp and spans more than a cache line, so a read that mixed two publishes would show two
// stamps. The test counts such torn reads accepted as valid; there must be none. CI also runs it
// under ThreadSanitizer.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "../support/table_samples.h"
#include "../support/test_main.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"

namespace mapidispatch {
namespace {

using Clock = std::chrono::steady_clock;

struct ReaderTally {
  uint64_t ok = 0;
  uint64_t busy = 0;
  uint64_t torn = 0;       // accepted, but inconsistent: must stay 0
  uint64_t errors = 0;     // anything else: must stay 0
  uint64_t regressed = 0;  // a stamp older than one seen before: must stay 0
};

// Reads until `stop`, checking the invariant on every accepted read.
ReaderTally read_until(std::span<const std::byte> region, const std::u16string& sid,
                       const std::atomic<bool>& stop) {
  ReaderTally t;
  TableReader reader(region);
  TableSnapshot snap;
  uint64_t last = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const TableError e = reader.read(sid, &snap);
    if (e == TableError::kBusy) {
      ++t.busy;
      continue;
    }
    if (e == TableError::kNotInitialized) continue;
    if (e != TableError::kOk) {
      ++t.errors;
      continue;
    }
    uint64_t machine_stamp = 0, user_stamp = 0;
    if (!test::stamp_consistent(snap.machine, &machine_stamp) || !snap.user ||
        !test::stamp_consistent(*snap.user, &user_stamp) || machine_stamp != user_stamp ||
        snap.info.generation != machine_stamp) {
      ++t.torn;
      continue;
    }
    if (machine_stamp < last) ++t.regressed;
    last = machine_stamp;
    ++t.ok;
  }
  return t;
}

void publish_until(TableWriter* writer, const std::atomic<bool>& stop, uint64_t* published) {
  while (!stop.load(std::memory_order_relaxed)) {
    // The stamp is the generation this publish will carry.
    ASSERT_FALSE(writer->publish(test::stamped_scopes(writer->generation() + 1, 3)));
    ++*published;
  }
}

constexpr auto kRunFor = std::chrono::milliseconds(1500);

TEST(SeqlockStress, ReaderThreadsNeverAcceptATornRead) {
  std::vector<uint32_t> words(64 * 1024);
  std::span<std::byte> region{reinterpret_cast<std::byte*>(words.data()), words.size() * 4};
  TableWriter writer(region, 1, 0);
  ASSERT_FALSE(writer.publish(test::stamped_scopes(1, 3)));
  const std::u16string sid = test::stamped_scopes(1, 3)[2].sid;

  std::atomic<bool> stop{false};
  constexpr int kReaders = 3;
  std::vector<ReaderTally> tallies(kReaders);
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i)
    readers.emplace_back([&, i] { tallies[i] = read_until(region, sid, stop); });
  uint64_t published = 0;
  std::thread w([&] { publish_until(&writer, stop, &published); });
  std::this_thread::sleep_for(kRunFor);
  stop = true;
  w.join();
  for (auto& t : readers) t.join();

  ReaderTally sum;
  for (const auto& t : tallies) {
    sum.ok += t.ok; sum.busy += t.busy; sum.torn += t.torn; sum.errors += t.errors; sum.regressed += t.regressed;
  }
  std::printf("threads: %llu publishes; reads ok %llu, busy %llu, torn %llu, errors %llu\n",
              static_cast<unsigned long long>(published), static_cast<unsigned long long>(sum.ok),
              static_cast<unsigned long long>(sum.busy), static_cast<unsigned long long>(sum.torn),
              static_cast<unsigned long long>(sum.errors));
  EXPECT_EQ(sum.torn, 0u);
  EXPECT_EQ(sum.errors, 0u);
  EXPECT_EQ(sum.regressed, 0u);
  EXPECT_GT(sum.ok, 0u);
  EXPECT_GT(published, 10u);
}

// A reader process: reads for the given milliseconds; exit code 0 if it accepted only
// consistent tables and at least one, else the failure class.
MD_CHILD_MAIN(stress_reader) {
  std::unique_ptr<ReadOnlySection> section;
  if (ReadOnlySection::open(args.at(0), &section)) return 2;
  std::atomic<bool> stop{false};
  std::thread timer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(args.at(1))));
    stop = true;
  });
  const ReaderTally t = read_until(section->bytes(), test::stamped_scopes(1, 3)[2].sid, stop);
  timer.join();
  std::printf("reader process: ok %llu, busy %llu, torn %llu, errors %llu\n",
              static_cast<unsigned long long>(t.ok), static_cast<unsigned long long>(t.busy),
              static_cast<unsigned long long>(t.torn), static_cast<unsigned long long>(t.errors));
  if (t.torn != 0) return 3;
  if (t.errors != 0 || t.regressed != 0) return 4;
  if (t.ok == 0) return 5;
  return 0;
}

TEST(SeqlockStress, ReaderProcessesNeverAcceptATornRead) {
  const std::string name = test::unique_name("mdtest.stress");
  std::unique_ptr<WritableSection> section;
  ASSERT_FALSE(WritableSection::create(name, 256 * 1024, &section));
  TableWriter writer(section->bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(test::stamped_scopes(1, 3)));

  std::vector<test::Child> children;
  for (int i = 0; i < 2; ++i)
    children.push_back(test::spawn_self_child("stress_reader", {name, std::to_string(kRunFor.count())}));
  std::atomic<bool> stop{false};
  uint64_t published = 0;
  std::thread w([&] { publish_until(&writer, stop, &published); });
  for (auto& c : children) EXPECT_EQ(c.wait(), 0) << "3 = torn read accepted, 4 = error, 5 = no read";
  stop = true;
  w.join();
  std::printf("processes: %llu publishes\n", static_cast<unsigned long long>(published));
  remove_shared_section(name);
}

}  // namespace
}  // namespace mapidispatch
