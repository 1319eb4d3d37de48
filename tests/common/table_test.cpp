// Copyright MapiDispatch authors.
//
// The table in a private memory region: layout, publish and read, stop, restart continuity.

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "../support/table_samples.h"
#include "mapidispatch/crc32c.h"
#include "mapidispatch/seqlock.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"

namespace mapidispatch {
namespace {

using test::sample_machine;
using test::sample_scopes;
using test::sample_user;
using test::u16;

// A 4-aligned region standing in for a mapping.
struct Region {
  explicit Region(size_t bytes) : words((bytes + 3) / 4, 0) {}
  std::span<std::byte> bytes() { return {reinterpret_cast<std::byte*>(words.data()), words.size() * 4}; }
  std::span<const std::byte> cbytes() const { return {reinterpret_cast<const std::byte*>(words.data()), words.size() * 4}; }
  layout::TableHeader header() const {
    layout::TableHeader h;
    std::memcpy(&h, words.data(), sizeof h);
    return h;
  }
  std::vector<uint32_t> words;
};

TEST(TableLayout, SizesAndOffsetsArePinned) {
  // The static_asserts in table_layout.h are the contract; this restates the sizes a reader of
  // another bitness relies on, so a failure names them.
  EXPECT_EQ(sizeof(layout::TableHeader), 128u);
  EXPECT_EQ(sizeof(layout::ScopeDirEntry), 16u);
  EXPECT_EQ(sizeof(layout::ScopeRecord), 160u);
  EXPECT_EQ(sizeof(layout::OverrideRecord), 88u);
  EXPECT_EQ(sizeof(layout::TargetRecord), 32u);
}

TEST(TableLayout, Crc32cKnownAnswer) {
  // RFC 3720 B.4 test vector: 32 bytes of zeros.
  const std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c(0, zeros.data(), zeros.size()), 0x8A9136AAu);
  const char* digits = "123456789";
  EXPECT_EQ(crc32c(0, digits, 9), 0xE3069283u);
}

TEST(TableLayout, ErrorCodesHaveMessages) {
  const std::error_code ec = TableError::kBadChecksum;
  EXPECT_EQ(ec.category().name(), std::string("mapidispatch.table"));
  EXPECT_NE(ec.message().find("checksum"), std::string::npos);
}

TEST(Table, PublishThenReadRoundTrips) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 4242, 0);
  const auto scopes = sample_scopes(3);
  ASSERT_FALSE(writer.publish(scopes));
  EXPECT_EQ(writer.generation(), 1u);

  TableReader reader(region.cbytes());
  TableSnapshot snap;
  ASSERT_EQ(reader.read(scopes[2].sid, &snap), TableError::kOk);
  EXPECT_EQ(snap.info.generation, 1u);
  EXPECT_EQ(snap.info.writer_pid, 4242u);
  EXPECT_EQ(snap.info.scope_count, 4u);
  EXPECT_EQ(snap.info.flags, 0u);
  EXPECT_GT(snap.info.publish_time, 116444736000000000ULL);  // after 1970
  EXPECT_EQ(snap.machine, scopes[0]);
  ASSERT_TRUE(snap.user.has_value());
  EXPECT_EQ(*snap.user, scopes[2]);
  EXPECT_EQ(snap.info.sequence, reader.sequence());
  EXPECT_EQ(snap.info.sequence % 2, 0u);
}

TEST(Table, UserWithoutScopeGetsMachineOnly) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(2)));
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.cbytes()).read(u"S-1-5-21-1-2-3-500", &snap), TableError::kOk);
  EXPECT_FALSE(snap.user.has_value());
  EXPECT_EQ(snap.machine.default_client, u"Contoso Mail");
  ASSERT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kOk);
  EXPECT_FALSE(snap.user.has_value());
}

TEST(Table, ReadAllListsEveryScope) {
  Region region(256 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  const auto scopes = sample_scopes(50);
  ASSERT_FALSE(writer.publish(scopes));
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.cbytes()).read_all(&snap), TableError::kOk);
  ASSERT_EQ(snap.users.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    TableSnapshot one;
    ASSERT_EQ(TableReader(region.cbytes()).read(scopes[1 + i].sid, &one), TableError::kOk);
    ASSERT_TRUE(one.user.has_value()) << i;
    EXPECT_EQ(*one.user, scopes[1 + i]);
  }
}

TEST(Table, SidHashCollisionsAreResolvedBySid) {
  // Two SIDs with the same 32-bit directory hash (found by a search over random SIDs) are told
  // apart by the SID in their records; the binary search must walk the whole equal run.
  const std::u16string a = u"S-1-5-21-1948172836-4133962361-3439086240-1001";
  const std::u16string b = u"S-1-5-21-2229587059-2477076662-3587782198-1001";
  ASSERT_EQ(sid_hash(a.data(), a.size()), sid_hash(b.data(), b.size()));
  std::vector<ScopeResolution> scopes{sample_machine()};
  for (int i = 0; i < 6; ++i) scopes.push_back(sample_user(i));
  scopes[2].sid = a;
  scopes[5].sid = b;
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(scopes));
  for (size_t k = 1; k < scopes.size(); ++k) {
    TableSnapshot snap;
    ASSERT_EQ(TableReader(region.cbytes()).read(scopes[k].sid, &snap), TableError::kOk);
    ASSERT_TRUE(snap.user.has_value()) << k;
    EXPECT_EQ(*snap.user, scopes[k]);
  }
}

TEST(Table, SequenceIsTheFastPath) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(1)));
  TableReader reader(region.cbytes());
  TableSnapshot snap;
  ASSERT_EQ(reader.read(u"", &snap), TableError::kOk);
  EXPECT_EQ(reader.sequence(), snap.info.sequence);
  ASSERT_FALSE(writer.publish(sample_scopes(2)));
  EXPECT_NE(reader.sequence(), snap.info.sequence);
  ASSERT_EQ(reader.read(u"", &snap), TableError::kOk);
  EXPECT_EQ(snap.info.generation, 2u);
  EXPECT_EQ(reader.sequence(), snap.info.sequence);
}

TEST(Table, EachPublishGrowsTheGeneration) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(writer.publish(sample_scopes(i)));
    TableSnapshot snap;
    ASSERT_EQ(TableReader(region.cbytes()).read_all(&snap), TableError::kOk);
    EXPECT_GT(snap.info.generation, last);
    last = snap.info.generation;
    EXPECT_EQ(snap.users.size(), static_cast<size_t>(i));
  }
}

TEST(Table, MarkStoppedTellsReadersNotToTrust) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(1)));
  TableReader reader(region.cbytes());
  TableSnapshot snap;
  ASSERT_EQ(reader.read(u"", &snap), TableError::kOk);
  const uint32_t before = snap.info.sequence;
  ASSERT_FALSE(writer.mark_stopped());
  EXPECT_NE(reader.sequence(), before) << "a stop must defeat the readers' fast path";
  EXPECT_EQ(reader.read(u"", &snap), TableError::kWriterStopped);
  EXPECT_TRUE(snap.info.flags & layout::kFlagWriterStopped);
  EXPECT_EQ(snap.machine.default_client, u"Contoso Mail");  // still readable, for `status`
  // The next publish clears the flag.
  ASSERT_FALSE(writer.publish(sample_scopes(1)));
  EXPECT_EQ(reader.read(u"", &snap), TableError::kOk);
}

TEST(Table, RestartedWriterContinuesTheGeneration) {
  Region region(64 * 1024);
  {
    TableWriter first(region.bytes(), 1, 0);
    for (int i = 0; i < 5; ++i) ASSERT_FALSE(first.publish(sample_scopes(1)));
    ASSERT_FALSE(first.mark_stopped());
  }
  TableWriter second(region.bytes(), 2, 0);
  EXPECT_FALSE(second.recovered_odd_count());
  EXPECT_EQ(second.recovered_generation(), 5u);
  ASSERT_FALSE(second.publish(sample_scopes(1)));
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kOk);
  EXPECT_EQ(snap.info.generation, 6u);
  EXPECT_EQ(snap.info.writer_pid, 2u);
}

TEST(Table, MinimumGenerationIsHonoured) {
  // The section was gone (no process mapped it), but the service persisted generation 900.
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 900);
  ASSERT_FALSE(writer.publish(sample_scopes(0)));
  EXPECT_EQ(writer.generation(), 901u);
}

TEST(Table, WriterKilledMidPublishIsCompletedAndFlagged) {
  Region region(64 * 1024);
  {
    TableWriter first(region.bytes(), 1, 0);
    ASSERT_FALSE(first.publish(sample_scopes(2)));
  }
  // Simulate death in the middle of the next publish: odd count, part of the data rewritten.
  auto* count = reinterpret_cast<uint32_t*>(region.bytes().data() + offsetof(layout::TableHeader, sequence));
  seqlock::write_begin(count);
  std::memset(region.bytes().data() + 600, 0xAB, 64);
  TableReader reader(region.cbytes());
  TableSnapshot snap;
  EXPECT_EQ(reader.read(u"", &snap, {4, 8}), TableError::kBusy) << "an odd count is never read through";

  TableWriter second(region.bytes(), 2, 0);
  EXPECT_TRUE(second.recovered_odd_count());
  EXPECT_EQ(reader.sequence() % 2, 0u);
  const TableError e = reader.read(u"", &snap);
  EXPECT_TRUE(e == TableError::kWriterStopped || e == TableError::kBadChecksum) << static_cast<int>(e);
  ASSERT_FALSE(second.publish(sample_scopes(2)));
  ASSERT_EQ(reader.read(u"", &snap), TableError::kOk);
  EXPECT_EQ(snap.info.generation, 2u);
}

TEST(Table, PublishTooLargeKeepsThePreviousTable) {
  Region region(4096);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(1)));
  EXPECT_EQ(writer.publish(sample_scopes(200)), TableError::kTooLarge);
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.cbytes()).read_all(&snap), TableError::kOk);
  EXPECT_EQ(snap.info.generation, 1u);
  EXPECT_EQ(snap.users.size(), 1u);
}

TEST(Table, PublishRefusesBadScopeSets) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  std::vector<ScopeResolution> no_machine{sample_user(1)};
  EXPECT_EQ(writer.publish(no_machine), TableError::kNoMachineScope);
  std::vector<ScopeResolution> two_machines{sample_machine(), sample_machine()};
  EXPECT_EQ(writer.publish(two_machines), TableError::kNoMachineScope);
  auto huge = sample_scopes(0);
  huge[0].simple.path.assign(layout::kMaxStringUnits + 1, u'x');
  EXPECT_EQ(writer.publish(huge), TableError::kTooLarge);
  ScopeResolution nameless = sample_user(1);
  nameless.sid.clear();
  std::vector<ScopeResolution> bad_user{sample_machine(), nameless};
  EXPECT_EQ(writer.publish(bad_user), TableError::kTooLarge);
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kNotInitialized);
}

TEST(Table, LongestStringsRoundTrip) {
  Region region(1024 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  auto scopes = sample_scopes(0);
  scopes[0].simple.path.assign(layout::kMaxStringUnits, u'p');
  scopes[0].prefirstrun_message.assign(layout::kMaxStringUnits, u'\u00e9');
  ASSERT_FALSE(writer.publish(scopes));
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kOk);
  EXPECT_EQ(snap.machine, scopes[0]);
}

}  // namespace
}  // namespace mapidispatch
