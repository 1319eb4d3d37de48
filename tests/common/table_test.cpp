// Copyright MapiDispatch authors.
//
// The table in a private memory region: layout, publish and read, stop, restart continuity.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../support/table_region.h"
#include "../support/table_samples.h"
#include "../support/table_variants.h"
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

using Region = test::TableRegion;

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
  // Both implementations (the CRC32 instruction where this processor has it, and slicing-by-8)
  // against a byte at a time, bit by bit: every length from 0 to 72 at every alignment, and
  // chained in pieces.
  const auto bitwise = [](uint32_t crc, const unsigned char* p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) {
      crc ^= p[i];
      for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
  };
  std::vector<unsigned char> bytes(80);
  uint32_t x = 12345;
  for (auto& b : bytes) b = static_cast<unsigned char>((x = x * 1103515245u + 12345u) >> 16);
  for (size_t at = 0; at < 8; ++at)
    for (size_t n = 0; at + n <= 72; ++n) {
      ASSERT_EQ(crc32c(0, bytes.data() + at, n), bitwise(0, bytes.data() + at, n)) << at << "+" << n;
      ASSERT_EQ(crc32c_sliced(0, bytes.data() + at, n), bitwise(0, bytes.data() + at, n)) << at << "+" << n;
      const size_t half = n / 3;
      ASSERT_EQ(crc32c(crc32c(0, bytes.data() + at, half), bytes.data() + at + half, n - half),
                bitwise(0, bytes.data() + at, n));
      ASSERT_EQ(crc32c_sliced(crc32c_sliced(0, bytes.data() + at, half), bytes.data() + at + half, n - half),
                bitwise(0, bytes.data() + at, n));
    }
}

// Says which implementation crc32c() is on this machine (the known answers above test it); on
// x86 and x64 build machines, and under Wine, that is the instruction.
TEST(TableLayout, Crc32cImplementation) {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
  std::printf("crc32c: %s\n", crc32c_hardware() ? "the SSE4.2 CRC32 instruction" : "slicing-by-8 (no SSE4.2)");
#endif
  const char* digits = "123456789";
  EXPECT_EQ(crc32c_sliced(0, digits, 9), 0xE3069283u);
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

// A writer takes the hashes of SIDs it published last time from its memo: a SID that moved, was
// replaced or is new at a position must still get its own hash. Every user of every publish is
// read back by SID (a wrong hash would misplace it in the directory, and a reader checks the
// record's SID against the entry's hash), and the image equals one built without the memo.
TEST(Table, RememberedSidHashesFollowTheSids) {
  Region region(512 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  auto scopes = sample_scopes(40);
  std::vector<std::vector<ScopeResolution>> steps;
  steps.push_back(scopes);
  std::swap(scopes[3].sid, scopes[7].sid);  // two users trade places
  steps.push_back(scopes);
  scopes[5].sid = u"S-1-5-21-9-9-9-5005";  // a user replaced at the same position
  steps.push_back(scopes);
  scopes.erase(scopes.begin() + 2);  // everyone after position 2 moves up one
  steps.push_back(scopes);
  scopes.push_back(scopes[1]);
  scopes.back().sid = u"S-1-5-21-9-9-9-6006";  // one added at the end
  steps.push_back(scopes);
  for (size_t k = 0; k < steps.size(); ++k) {
    const auto& step = steps[k];
    ASSERT_FALSE(writer.publish(step, test::wow64_view(step))) << k;
    for (size_t i = 1; i < step.size(); ++i) {
      TableSnapshot snap;
      ASSERT_EQ(TableReader(region.cbytes()).read(step[i].sid, &snap), TableError::kOk) << k << "/" << i;
      ASSERT_TRUE(snap.user.has_value()) << k << "/" << i;
      EXPECT_EQ(*snap.user, step[i]) << k << "/" << i;
    }
    std::vector<std::byte> plain;
    const layout::TableHeader h = region.header();
    ASSERT_FALSE(build_table_image(step, h.generation, h.publish_time, 1, h.total_size, &plain, test::wow64_view(step)));
    ASSERT_EQ(plain.size(), h.payload_end);
    std::vector<std::byte> published(plain.size());
    std::memcpy(published.data(), region.words.data(), published.size());
    const uint32_t zero = 0;  // the sequence count: 0 in a built image
    std::memcpy(published.data() + offsetof(layout::TableHeader, sequence), &zero, 4);
    EXPECT_TRUE(published == plain) << k;
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

TEST(Table, RestartedWriterStoppingBeforeItsFirstPublishFlagsNotCorrupts) {
  // A service that restarts and stops again before publishing flags the table it found. Readers
  // must see "writer stopped" (the table is intact), not a checksum error.
  Region region(64 * 1024);
  {
    TableWriter first(region.bytes(), 1, 0);
    ASSERT_FALSE(first.publish(sample_scopes(2)));
  }
  TableWriter second(region.bytes(), 2, 0);
  ASSERT_FALSE(second.mark_stopped());
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kWriterStopped);
  EXPECT_EQ(snap.machine.default_client, u"Contoso Mail");
}

TEST(Table, StoppingOverABrokenTableDoesNotSealIt) {
  Region region(64 * 1024);
  {
    TableWriter first(region.bytes(), 1, 0);
    ASSERT_FALSE(first.publish(sample_scopes(2)));
  }
  region.words[(sizeof(layout::TableHeader) + 4) / 4] ^= 0x10;  // a directory word
  TableWriter second(region.bytes(), 2, 0);
  ASSERT_FALSE(second.mark_stopped());
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kBadChecksum);
}

TEST(TableWow64, BothViewsRoundTripFromOneRead) {
  Region region(256 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  const auto scopes = sample_scopes(3);
  const auto wow64 = test::wow64_view(scopes);
  ASSERT_FALSE(writer.publish(scopes, wow64));
  TableReader reader(region.cbytes());
  for (size_t k = 1; k < scopes.size(); ++k) {
    TableSnapshot native, w;
    ASSERT_EQ(reader.read(scopes[k].sid, &native), TableError::kOk);
    ASSERT_EQ(reader.read(scopes[k].sid, &w, {}, TableView::kWow64), TableError::kOk);
    EXPECT_EQ(native.machine, scopes[0]);
    EXPECT_EQ(w.machine, wow64[0]);
    ASSERT_TRUE(native.user && w.user);
    EXPECT_EQ(*native.user, scopes[k]);
    EXPECT_EQ(*w.user, wow64[k]);
    EXPECT_EQ(w.info.view, TableView::kWow64);
    EXPECT_EQ(w.info.wow64_scope_count, scopes.size());
    EXPECT_EQ(w.info.abi_minor, layout::kAbiMinor);
  }
  TableSnapshot all;
  ASSERT_EQ(reader.read_all(&all, {}, TableView::kWow64), TableError::kOk);
  EXPECT_EQ(all.users.size(), scopes.size() - 1);
}

TEST(TableWow64, TableWithoutTheViewSaysSo) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(1)));
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(u"", &snap, {}, TableView::kWow64), TableError::kNoWow64View);
  EXPECT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kOk);
  EXPECT_EQ(snap.info.wow64_scope_count, 0u);
}

TEST(TableWow64, Version10ReaderViewIsUnchanged) {
  // What a 1.0 reader checks (header checksum over header and main directory, records after the
  // main directory) still holds in a 1.1 table: its native read does not depend on the WOW64 part.
  Region region(256 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(2), test::wow64_view(sample_scopes(2))));
  const layout::TableHeader h = region.header();
  EXPECT_EQ(h.wow64_directory_offset, h.directory_offset + h.scope_count * sizeof(layout::ScopeDirEntry));
  // Corrupt the WOW64 directory: native reads are unaffected, WOW64 reads refuse it.
  region.words[(h.wow64_directory_offset + 4) / 4] ^= 0x100;
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kOk);
  EXPECT_EQ(TableReader(region.cbytes()).read(u"", &snap, {}, TableView::kWow64), TableError::kBadChecksum);
}

TEST(TableWow64, HostileWow64FieldsAreRefused) {
  Region region(256 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(2), test::wow64_view(sample_scopes(2))));
  const std::vector<uint32_t> good = region.words;
  struct Edit {
    size_t offset;
    uint32_t value;
    TableError want;
  };
  const layout::TableHeader h = region.header();
  const Edit edits[] = {
      {offsetof(layout::TableHeader, wow64_scope_count), layout::kMaxScopes + 1, TableError::kBadDirectory},
      {offsetof(layout::TableHeader, wow64_scope_count), 100000, TableError::kBadDirectory},
      {offsetof(layout::TableHeader, wow64_directory_offset), 2, TableError::kBadDirectory},
      {offsetof(layout::TableHeader, wow64_directory_offset), 64, TableError::kBadDirectory},
      {offsetof(layout::TableHeader, wow64_directory_offset), h.payload_end - 8, TableError::kBadDirectory},
      // The WOW64 directory pointed at the main one: its checksum no longer matches.
      {offsetof(layout::TableHeader, wow64_directory_offset), h.directory_offset, TableError::kBadChecksum},
  };
  for (const Edit& e : edits) {
    region.words = good;
    std::memcpy(reinterpret_cast<std::byte*>(region.words.data()) + e.offset, &e.value, 4);
    // The header checksum recomputed as a writer would (it covers the edited field); the WOW64
    // directory's own checksum is left as it was.
    std::byte* bytes = reinterpret_cast<std::byte*>(region.words.data());
    const layout::TableHeader hh = region.header();
    const uint64_t dir_end = uint64_t{hh.directory_offset} + uint64_t{hh.scope_count} * sizeof(layout::ScopeDirEntry);
    uint32_t crc = crc32c(0, bytes + layout::kChecksumStart, hh.header_size - layout::kChecksumStart);
    crc = crc32c(crc, bytes + hh.directory_offset, static_cast<size_t>(dir_end - hh.directory_offset));
    std::memcpy(bytes + offsetof(layout::TableHeader, checksum), &crc, 4);
    TableSnapshot snap;
    EXPECT_EQ(TableReader(region.cbytes()).read(u"", &snap, {}, TableView::kWow64), e.want)
        << "offset " << e.offset << " value " << e.value;
    EXPECT_EQ(TableReader(region.cbytes()).read(u"", &snap), TableError::kOk) << "native reads ignore the WOW64 part";
  }
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
  EXPECT_EQ(writer.payload_bytes(), snap.info.payload_end) << "the failed publish's size is not the table's";
  // The writer builds into its copy of the last table; after a failed build, stopping flags the
  // table the region holds, intact, and the next publish is whole again.
  ASSERT_FALSE(writer.mark_stopped());
  EXPECT_EQ(TableReader(region.cbytes()).read_all(&snap), TableError::kWriterStopped);
  EXPECT_EQ(snap.info.generation, 1u);
  ASSERT_FALSE(writer.publish(sample_scopes(2)));
  ASSERT_EQ(TableReader(region.cbytes()).read_all(&snap), TableError::kOk);
  EXPECT_EQ(snap.info.generation, 2u);
  EXPECT_EQ(snap.users.size(), 2u);
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
