// Copyright MapiDispatch authors.
//
// Publishes of a TableDelta (table.h): the named scopes' records rewritten, the rest left as the
// last publish wrote it. Readers must get exactly the answers a full build gives, whatever the
// records' sizes do, and the writer must fall back to a full build wherever the delta's promise
// cannot be checked or its room is gone.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../support/table_region.h"
#include "../support/table_samples.h"
#include "../support/table_variants.h"
#include "mapidispatch/crc32c.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"

namespace mapidispatch {
namespace {

using test::sample_machine;
using test::sample_scopes;
using test::sample_user;

using Region = test::TableRegion;

// Every scope of both views, read back, equals what was published; and so does what a reader
// gets from a full build of the same scopes (the order of read_all() is the directory's).
void expect_table_holds(const Region& region, const std::vector<ScopeResolution>& native,
                        const std::vector<ScopeResolution>& wow64, const std::string& where) {
  std::vector<std::byte> full;
  const layout::TableHeader h = region.header();
  ASSERT_FALSE(build_table_image(native, h.generation, h.publish_time, 1, h.total_size, &full, wow64)) << where;
  full.resize(h.total_size);
  for (const TableView view : {TableView::kNative, TableView::kWow64}) {
    const auto& scopes = view == TableView::kNative ? native : wow64;
    if (scopes.empty()) continue;  // a table without a WOW64 view
    TableSnapshot got, want;
    ASSERT_EQ(TableReader(region.cbytes()).read_all(&got, {}, view), TableError::kOk) << where;
    ASSERT_EQ(TableReader(full).read_all(&want, {}, view), TableError::kOk) << where;
    EXPECT_EQ(got.machine, want.machine) << where;
    EXPECT_TRUE(got.users == want.users) << where;
    EXPECT_EQ(got.info.generation, h.generation) << where;
    for (size_t i = 1; i < scopes.size(); ++i) {
      TableSnapshot one;
      ASSERT_EQ(TableReader(region.cbytes()).read(scopes[i].sid, &one, {}, view), TableError::kOk) << where;
      ASSERT_TRUE(one.user.has_value()) << where << " user " << i;
      ASSERT_EQ(*one.user, scopes[i]) << where << " user " << i;
    }
  }
}

// A path of `units` code units, so that a record grows and shrinks.
std::u16string path_of(size_t units, char16_t fill) {
  std::u16string p = u"C:\\Program Files\\";
  p.append(units, fill);
  return p + u".dll";
}

// A long random sequence of changes to one, two or three scopes at a time (users of either view
// or the machine's), records growing past their slots and shrinking back into them: after every
// publish the table holds exactly the answers, most publishes were deltas, and some were full
// builds that packed the slots left behind.
TEST(TableDelta, RandomChangesGiveTheAnswersOfAFullBuild) {
  std::mt19937 rng(20261205);
  std::vector<ScopeResolution> native = sample_scopes(60);
  std::vector<ScopeResolution> wow64 = test::wow64_view(native);
  Region region(1024 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(native, wow64, TableOverflow::kRefuse));
  const auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  for (int step = 0; step < 600; ++step) {
    std::vector<std::u16string> users;
    TableDelta delta;
    const size_t changes = 1 + pick(3);
    for (size_t c = 0; c < changes; ++c) {
      const size_t i = pick(native.size());  // 0: the machine scope
      auto& s = pick(2) ? native[i] : wow64[i];
      const char16_t fill = static_cast<char16_t>(u'a' + pick(26));
      switch (pick(4)) {
        case 0: s.default_client = std::u16string(1 + pick(40), fill); break;
        case 1: s.simple.path = path_of(pick(300), fill); break;
        case 2: s.extended.path = path_of(pick(20), fill); break;
        default:
          if (!s.overrides.empty() && pick(2)) s.overrides.pop_back();
          else {
            AppOverride o;
            o.module = std::u16string(1 + pick(12), fill);
            o.client = u"Override";
            s.overrides.push_back(o);
          }
      }
      if (i == 0) delta.machine = true;
      else users.push_back(native[i].sid);
    }
    delta.users = users;
    ASSERT_FALSE(writer.publish(native, wow64, TableOverflow::kRefuse, &delta)) << step;
    expect_table_holds(region, native, wow64, "step " + std::to_string(step));
    if (HasFatalFailure()) return;
  }
  // Most publishes applied their delta; slots left behind made some build the whole image again.
  EXPECT_GT(writer.delta_publishes(), 450u);
  EXPECT_GT(writer.full_builds(), 1u);
}

// A delta rewrites only the records it names: a scope it does not name keeps the bytes of the
// last publish, even if the caller changed it (the promise broken on purpose, to show what is
// read and what is not). The named one is read back changed.
TEST(TableDelta, OnlyTheNamedScopesAreRewritten) {
  std::vector<ScopeResolution> native = sample_scopes(10);
  Region region(256 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(native));
  const ScopeResolution was5 = native[5];
  native[3].default_client = u"Named";
  native[5].default_client = u"NotNamed";
  const std::vector<std::u16string> users{native[3].sid};
  TableDelta delta;
  delta.users = users;
  ASSERT_FALSE(writer.publish(native, {}, TableOverflow::kRefuse, &delta));
  EXPECT_EQ(writer.delta_publishes(), 1u);
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.cbytes()).read(native[3].sid, &snap), TableError::kOk);
  EXPECT_EQ(snap.user->default_client, u"Named");
  ASSERT_EQ(TableReader(region.cbytes()).read(native[5].sid, &snap), TableError::kOk);
  EXPECT_EQ(*snap.user, was5);
}

// Where the delta cannot be applied, the whole image is built: the answers are right either way.
TEST(TableDelta, FallsBackToAFullBuild) {
  std::vector<ScopeResolution> native = sample_scopes(8);
  Region region(256 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  std::vector<std::u16string> users;
  TableDelta delta;
  // Nothing published yet.
  users = {native[2].sid};
  delta.users = users;
  ASSERT_FALSE(writer.publish(native, {}, TableOverflow::kRefuse, &delta));
  EXPECT_EQ(writer.full_builds(), 1u);
  // A SID the table does not have (with the number of scopes unchanged: one replaced).
  native[4].sid = u"S-1-5-21-5-5-5-4444";
  users = {native[4].sid};
  delta.users = users;
  ASSERT_FALSE(writer.publish(native, {}, TableOverflow::kRefuse, &delta));
  EXPECT_EQ(writer.full_builds(), 2u);
  expect_table_holds(region, native, {}, "replaced SID");
  // Another number of scopes.
  native.push_back(sample_user(40));
  users = {native.back().sid};
  delta.users = users;
  ASSERT_FALSE(writer.publish(native, {}, TableOverflow::kRefuse, &delta));
  EXPECT_EQ(writer.full_builds(), 3u);
  expect_table_holds(region, native, {}, "added scope");
  // A WOW64 view where the last table had none.
  ASSERT_FALSE(writer.publish(native, test::wow64_view(native), TableOverflow::kRefuse, &delta));
  EXPECT_EQ(writer.full_builds(), 4u);
  expect_table_holds(region, native, test::wow64_view(native), "WOW64 view added");
  EXPECT_EQ(writer.delta_publishes(), 0u);
}

// A grown record that no longer fits after the last one: the full build (which decides what to
// leave out) runs, and its answer is the one published.
TEST(TableDelta, NoRoomLeftFallsBackToAFullBuild) {
  std::vector<ScopeResolution> native = sample_scopes(4);
  std::vector<std::byte> probe;
  ASSERT_FALSE(build_table_image(native, 1, 0, 1, 1 << 20, &probe));
  Region region(probe.size() + 256);  // no room for a record that grows by more than 256 bytes
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(native));
  native[2].simple.path = path_of(100, u'x');
  const std::vector<std::u16string> users{native[2].sid};
  TableDelta delta;
  delta.users = users;
  // Packed again, it fits: the full build publishes it.
  ASSERT_FALSE(writer.publish(native, {}, TableOverflow::kRefuse, &delta));
  EXPECT_EQ(writer.delta_publishes(), 0u);
  EXPECT_EQ(writer.full_builds(), 2u);
  expect_table_holds(region, native, {}, "grown past the room");
  // Packed again, it does not: kTooLarge and the previous table stays, as without a delta.
  native[2].simple.path = path_of(2000, u'y');
  EXPECT_EQ(writer.publish(native, {}, TableOverflow::kRefuse, &delta), TableError::kTooLarge);
  native[2].simple.path = path_of(100, u'x');
  expect_table_holds(region, native, {}, "the previous table");
  // After the failed build the last image is not the table any more: no delta until a full one.
  native[1].default_client = u"After";
  const std::vector<std::u16string> user1{native[1].sid};
  delta.users = user1;
  ASSERT_FALSE(writer.publish(native, {}, TableOverflow::kRefuse, &delta));
  EXPECT_EQ(writer.delta_publishes(), 0u);
  expect_table_holds(region, native, {}, "after a failed build");
}

// The delta's users are found by (sid_hash, SID): two SIDs of one hash are told apart.
TEST(TableDelta, FindsUsersWhoseHashesCollide) {
  const std::u16string a = u"S-1-5-21-1948172836-4133962361-3439086240-1001";
  const std::u16string b = u"S-1-5-21-2229587059-2477076662-3587782198-1001";
  ASSERT_EQ(sid_hash(a.data(), a.size()), sid_hash(b.data(), b.size()));
  std::vector<ScopeResolution> native{sample_machine()};
  for (int i = 0; i < 6; ++i) native.push_back(sample_user(i));
  native[2].sid = a;
  native[5].sid = b;
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(native));
  for (const size_t i : {size_t{2}, size_t{5}}) {
    native[i].default_client = u"Changed" + native[i].sid.substr(0, 12);
    const std::vector<std::u16string> users{native[i].sid};
    TableDelta delta;
    delta.users = users;
    ASSERT_FALSE(writer.publish(native, {}, TableOverflow::kRefuse, &delta));
    expect_table_holds(region, native, {}, "collision " + std::to_string(i));
  }
  EXPECT_EQ(writer.delta_publishes(), 2u);
}

// A delta publish still copies the whole image: bytes that something else wrote into an
// unchanged record, or the "writer stopped" flag, are gone after it.
TEST(TableDelta, RepairsTheRegionAndClearsTheStoppedFlag) {
  std::vector<ScopeResolution> native = sample_scopes(12);
  Region region(256 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(native));
  // Corrupt an unchanged user's record in place.
  TableSnapshot snap;
  const layout::TableHeader h = region.header();
  layout::ScopeDirEntry e;
  const uint32_t named = sid_hash(native[7].sid.data(), native[7].sid.size());
  for (size_t d = 1; d < h.scope_count; ++d) {
    std::memcpy(&e, reinterpret_cast<const std::byte*>(region.words.data()) + h.directory_offset + d * sizeof e, sizeof e);
    if (e.sid_hash != named) break;
  }
  reinterpret_cast<std::byte*>(region.words.data())[e.record_offset + 40] ^= std::byte{0x5A};
  TableSnapshot all;
  ASSERT_EQ(TableReader(region.cbytes()).read_all(&all), TableError::kBadChecksum);
  native[7].default_client = u"Seven";
  const std::vector<std::u16string> users{native[7].sid};
  TableDelta delta;
  delta.users = users;
  ASSERT_FALSE(writer.publish(native, {}, TableOverflow::kRefuse, &delta));
  expect_table_holds(region, native, {}, "repaired");
  ASSERT_FALSE(writer.mark_stopped());
  ASSERT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kWriterStopped);
  native[8].default_client = u"Eight";
  const std::vector<std::u16string> user8{native[8].sid};
  delta.users = user8;
  ASSERT_FALSE(writer.publish(native, {}, TableOverflow::kRefuse, &delta));
  ASSERT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kOk);
  expect_table_holds(region, native, {}, "after the stop");
  EXPECT_EQ(writer.delta_publishes(), 2u);
}

}  // namespace
}  // namespace mapidispatch
