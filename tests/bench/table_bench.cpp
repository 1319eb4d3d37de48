// Copyright MapiDispatch authors.
//
// Reader benchmarks. Figures only: nothing here passes or fails on a number.
//   BM_FastPath            the per-call check "nothing changed": one acquire load and a compare
//   BM_ReadOneUser/N       a full copy-out (machine + one user scope) from a table of N users
//   BM_ReadAll/N           a copy-out of every scope (what `mapidispatch status` does)
//   BM_ReadWhilePublishing a full read while another thread republishes without pause, 1..N threads
//   BM_Publish/N           the writer's cost per publish of N user scopes
//   BM_PublishOneUserChangedWhole/N, ...Delta/N
//                          one user's change in a table of N users, both views: the image built
//                          whole, or the user's records rewritten (TableDelta)

#include <benchmark/benchmark.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "../support/table_samples.h"
#include "../support/table_variants.h"
#include "mapidispatch/table.h"

namespace mapidispatch {
namespace {

struct Region {
  explicit Region(size_t bytes) : words(bytes / 4, 0) {}
  std::span<std::byte> bytes() { return {reinterpret_cast<std::byte*>(words.data()), words.size() * 4}; }
  std::vector<uint32_t> words;
};

void BM_FastPath(benchmark::State& state) {
  Region region(1 << 20);
  TableWriter writer(region.bytes(), 1, 0);
  writer.publish(test::sample_scopes(16));
  TableReader reader(region.bytes());
  TableSnapshot snap;
  reader.read(u"", &snap);
  const uint32_t cached = snap.info.sequence;
  uint64_t changed = 0;
  for (auto _ : state) {
    changed += reader.sequence() != cached;
    benchmark::DoNotOptimize(changed);
  }
  state.counters["changed"] = static_cast<double>(changed);
}
BENCHMARK(BM_FastPath);

void BM_ReadOneUser(benchmark::State& state) {
  const int users = static_cast<int>(state.range(0));
  Region region(16 << 20);
  TableWriter writer(region.bytes(), 1, 0);
  const auto scopes = test::sample_scopes(users);
  writer.publish(scopes);
  TableReader reader(region.bytes());
  TableSnapshot snap;
  const std::u16string sid = users > 0 ? scopes[1 + users / 2].sid : std::u16string();
  for (auto _ : state) {
    if (reader.read(sid, &snap) != TableError::kOk) state.SkipWithError("read failed");
  }
  state.counters["table_bytes"] = static_cast<double>(writer.payload_bytes());
}
BENCHMARK(BM_ReadOneUser)->Arg(0)->Arg(10)->Arg(100)->Arg(1000);

void BM_ReadAll(benchmark::State& state) {
  const int users = static_cast<int>(state.range(0));
  Region region(16 << 20);
  TableWriter writer(region.bytes(), 1, 0);
  writer.publish(test::sample_scopes(users));
  TableReader reader(region.bytes());
  TableSnapshot snap;
  for (auto _ : state) {
    if (reader.read_all(&snap) != TableError::kOk) state.SkipWithError("read failed");
  }
  state.counters["table_bytes"] = static_cast<double>(writer.payload_bytes());
}
BENCHMARK(BM_ReadAll)->Arg(10)->Arg(1000);

// One writer thread republishes for as long as the benchmark's reader threads run.
class Publishing : public benchmark::Fixture {
 public:
  void SetUp(const benchmark::State& state) override {
    if (state.thread_index() != 0) return;
    writer_.emplace(region_.bytes(), 1, 0);
    writer_->publish(test::sample_scopes(10));
    stop_ = false;
    publishes_ = 0;
    thread_ = std::thread([this] {
      while (!stop_.load(std::memory_order_relaxed)) {
        writer_->publish(test::sample_scopes(10));
        publishes_.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  void TearDown(const benchmark::State& state) override {
    if (state.thread_index() != 0) return;
    stop_ = true;
    thread_.join();
  }

 protected:
  Region region_{1 << 20};
  std::optional<TableWriter> writer_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> publishes_{0};
  std::thread thread_;
};

BENCHMARK_DEFINE_F(Publishing, BM_ReadWhilePublishing)(benchmark::State& state) {
  TableReader reader(region_.bytes());
  TableSnapshot snap;
  const std::u16string sid = test::sample_user(5).sid;
  uint64_t ok = 0, busy = 0;
  for (auto _ : state) {
    const TableError e = reader.read(sid, &snap);
    ok += e == TableError::kOk;
    busy += e == TableError::kBusy;
  }
  state.counters["ok"] = benchmark::Counter(static_cast<double>(ok), benchmark::Counter::kAvgThreads);
  state.counters["busy"] = benchmark::Counter(static_cast<double>(busy), benchmark::Counter::kAvgThreads);
  if (state.thread_index() == 0) state.counters["publishes"] = static_cast<double>(publishes_.load());
}
BENCHMARK_REGISTER_F(Publishing, BM_ReadWhilePublishing)->ThreadRange(1, 4)->UseRealTime();

void BM_Publish(benchmark::State& state) {
  const int users = static_cast<int>(state.range(0));
  Region region(16 << 20);
  TableWriter writer(region.bytes(), 1, 0);
  const auto scopes = test::sample_scopes(users);
  for (auto _ : state) {
    if (writer.publish(scopes)) state.SkipWithError("publish failed");
  }
  state.counters["table_bytes"] = static_cast<double>(writer.payload_bytes());
}
BENCHMARK(BM_Publish)->Arg(1)->Arg(100)->Arg(1000);

// What the service publishes on one user's change: both views, N users, one user's scope
// changed. Whole: the image built again (what a publish without a delta costs); delta: the
// user's two records rewritten (TableDelta); both then copy the image into the region.
void publish_one_user_changed(benchmark::State& state, bool with_delta) {
  const int users = static_cast<int>(state.range(0));
  Region region(16 << 20);
  TableWriter writer(region.bytes(), 1, 0);
  auto scopes = test::sample_scopes(users);
  auto wow64 = test::wow64_view(scopes);
  if (writer.publish(scopes, wow64)) state.SkipWithError("publish failed");
  size_t turn = 0;
  for (auto _ : state) {
    const size_t i = 1 + turn++ % static_cast<size_t>(users);
    const std::u16string client = turn % 2 ? u"Client A" : u"Client B";  // the same size: in its slot
    scopes[i].default_client = client;
    wow64[i].default_client = client;
    const std::vector<std::u16string> changed{scopes[i].sid};
    TableDelta delta;
    delta.users = changed;
    if (writer.publish(scopes, wow64, TableOverflow::kRefuse, with_delta ? &delta : nullptr))
      state.SkipWithError("publish failed");
  }
  state.counters["table_bytes"] = static_cast<double>(writer.payload_bytes());
  state.counters["deltas"] = static_cast<double>(writer.delta_publishes());
}
void BM_PublishOneUserChangedWhole(benchmark::State& state) { publish_one_user_changed(state, false); }
void BM_PublishOneUserChangedDelta(benchmark::State& state) { publish_one_user_changed(state, true); }
BENCHMARK(BM_PublishOneUserChangedWhole)->Arg(10)->Arg(1000);
BENCHMARK(BM_PublishOneUserChangedDelta)->Arg(10)->Arg(1000);

}  // namespace
}  // namespace mapidispatch

BENCHMARK_MAIN();
