// Copyright MapiDispatch authors.
//
// The reader against hostile bytes: every field a table carries, wrong. The reader must name
// the problem and never read outside the mapping (the ASan build checks the latter).

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

using namespace layout;

// A valid table image in a region of `region_bytes`, 4-aligned, for the tests to damage.
class Hostile : public ::testing::Test {
 protected:
  void SetUp() override { Build(test::sample_scopes(2), 64 * 1024); }

  void Build(const std::vector<ScopeResolution>& scopes, size_t region_bytes) {
    std::vector<std::byte> image;
    ASSERT_FALSE(build_table_image(scopes, 7, filetime_now(), 1, static_cast<uint32_t>(region_bytes), &image));
    words_.assign(region_bytes / 4, 0);
    std::memcpy(words_.data(), image.data(), image.size());
    image_size_ = image.size();
  }

  std::byte* bytes() { return reinterpret_cast<std::byte*>(words_.data()); }
  std::span<std::byte> image() { return {bytes(), image_size_}; }
  TableHeader header() {
    TableHeader h;
    std::memcpy(&h, bytes(), sizeof h);
    return h;
  }
  void set_header(const TableHeader& h) { std::memcpy(bytes(), &h, sizeof h); }
  ScopeDirEntry entry(uint32_t i) {
    ScopeDirEntry e;
    std::memcpy(&e, bytes() + header().directory_offset + i * sizeof e, sizeof e);
    return e;
  }
  void set_entry(uint32_t i, const ScopeDirEntry& e) {
    std::memcpy(bytes() + header().directory_offset + i * sizeof e, &e, sizeof e);
  }
  ScopeRecord record(uint32_t i) {
    ScopeRecord r;
    std::memcpy(&r, bytes() + entry(i).record_offset, sizeof r);
    return r;
  }
  // Writes a record's fixed part back and re-seals both checksum levels, so the test reaches the
  // structural validation behind them.
  void set_record(uint32_t i, const ScopeRecord& r) {
    ScopeDirEntry e = entry(i);
    std::memcpy(bytes() + e.record_offset, &r, sizeof r);
    e.record_checksum = crc32c(0, bytes() + e.record_offset, e.record_size);
    set_entry(i, e);
    reseal();
  }
  void reseal() { reseal_table_image(image()); }

  TableError Read(size_t region_bytes = 0) {
    TableSnapshot snap;
    const size_t n = region_bytes ? region_bytes : words_.size() * 4;
    const TableError one = TableReader({bytes(), n}).read(test::sample_user(1).sid, &snap, {2, 4});
    const TableError all = TableReader({bytes(), n}).read_all(&snap, {2, 4});
    EXPECT_EQ(one, all) << "read() and read_all() disagree";
    return one;
  }

  std::vector<uint32_t> words_;
  size_t image_size_ = 0;
};

TEST_F(Hostile, TheUndamagedTableReads) { EXPECT_EQ(Read(), TableError::kOk); }

TEST_F(Hostile, ZeroedSectionIsNotInitialized) {
  std::fill(words_.begin(), words_.end(), 0u);
  EXPECT_EQ(Read(), TableError::kNotInitialized);
}

TEST_F(Hostile, RegionSmallerThanAHeader) {
  EXPECT_EQ(Read(64), TableError::kRegionTooSmall);
  EXPECT_EQ(TableReader({}).sequence() % 2, 1u) << "an empty region never looks unchanged and valid";
}

TEST_F(Hostile, MisalignedRegion) {
  TableSnapshot snap;
  EXPECT_EQ(TableReader({bytes() + 2, 4096}).read(u"", &snap), TableError::kRegionTooSmall);
}

TEST_F(Hostile, WrongMagic) {
  TableHeader h = header();
  h.magic = 0x12345678;
  set_header(h);
  EXPECT_EQ(Read(), TableError::kBadMagic);
}

TEST_F(Hostile, UnknownMajorVersion) {
  TableHeader h = header();
  h.abi_major = kAbiMajor + 1;
  set_header(h);
  EXPECT_EQ(Read(), TableError::kBadAbi);
}

TEST_F(Hostile, LaterMinorVersionIsAccepted) {
  TableHeader h = header();
  h.abi_minor = 999;
  set_header(h);
  reseal();
  EXPECT_EQ(Read(), TableError::kOk);
}

TEST_F(Hostile, HeaderSizeOutOfBounds) {
  for (uint32_t size : {0u, 64u, 127u, 130u, 5000u, 0xFFFFFFFFu}) {
    TableHeader h = header();
    h.header_size = size;
    set_header(h);
    EXPECT_EQ(Read(), TableError::kBadHeader) << size;
  }
}

TEST_F(Hostile, TotalSizeLargerThanTheMapping) {
  TableHeader h = header();
  h.total_size = static_cast<uint32_t>(words_.size() * 4 + 4096);
  set_header(h);
  reseal();
  EXPECT_EQ(Read(), TableError::kBadHeader);
  // The same table read through a truncated mapping.
  SetUp();
  EXPECT_EQ(Read(4096), TableError::kBadHeader);
}

TEST_F(Hostile, DirectoryPastTheEnd) {
  TableHeader h = header();
  h.directory_offset = h.total_size - 8;
  set_header(h);
  reseal();
  EXPECT_EQ(Read(), TableError::kBadDirectory);
}

TEST_F(Hostile, ScopeCountOverflowingTheDirectory) {
  for (uint32_t count : {kMaxScopes + 1, 0x10000000u, 0xFFFFFFFFu, 5000u}) {
    SetUp();
    TableHeader h = header();
    h.scope_count = count;
    set_header(h);
    reseal();
    EXPECT_EQ(Read(), TableError::kBadDirectory) << count;
  }
}

TEST_F(Hostile, NoScopesAtAll) {
  TableHeader h = header();
  h.scope_count = 0;
  set_header(h);
  reseal();
  EXPECT_EQ(Read(), TableError::kNoMachineScope);
}

TEST_F(Hostile, PayloadEndPastTotalSize) {
  TableHeader h = header();
  h.payload_end = h.total_size + 4;
  set_header(h);
  reseal();
  EXPECT_EQ(Read(), TableError::kBadDirectory);
}

TEST_F(Hostile, HeaderChecksumMismatch) {
  TableHeader h = header();
  h.generation ^= 1;  // covered by the checksum, not re-sealed
  set_header(h);
  EXPECT_EQ(Read(), TableError::kBadChecksum);
}

TEST_F(Hostile, DirectoryBitFlip) {
  bytes()[header().directory_offset + 5] ^= std::byte{0x40};
  EXPECT_EQ(Read(), TableError::kBadChecksum);
}

TEST_F(Hostile, RecordBitFlip) {
  const ScopeDirEntry e = entry(0);
  bytes()[e.record_offset + e.record_size - 2] ^= std::byte{0x01};
  EXPECT_EQ(Read(), TableError::kBadChecksum);
}

TEST_F(Hostile, RecordOffsetsOutOfBounds) {
  const uint32_t bad_offsets[] = {0u, 2u, 64u, header().payload_end, 0xFFFFFFF0u};
  for (uint32_t off : bad_offsets) {
    SetUp();
    ScopeDirEntry e = entry(0);
    e.record_offset = off;
    set_entry(0, e);
    reseal();
    EXPECT_EQ(Read(), TableError::kBadDirectory) << off;
  }
  for (uint32_t size : {0u, 16u, 159u, 0xFFFFFFFCu}) {
    SetUp();
    ScopeDirEntry e = entry(0);
    e.record_size = size;
    set_entry(0, e);
    reseal();
    EXPECT_EQ(Read(), TableError::kBadDirectory) << size;
  }
}

TEST_F(Hostile, MachineScopeNotFirst) {
  ScopeDirEntry e = entry(0);
  e.sid_hash = 77;
  set_entry(0, e);
  reseal();
  EXPECT_EQ(Read(), TableError::kNoMachineScope);
}

TEST_F(Hostile, DirectoryNotSorted) {
  const ScopeDirEntry a = entry(1), b = entry(2);
  set_entry(1, b);
  set_entry(2, a);
  reseal();
  ASSERT_NE(a.sid_hash, b.sid_hash);
  EXPECT_EQ(Read(), TableError::kBadDirectory);
}

TEST_F(Hostile, UserRecordUnderMachineEntry) {
  ScopeDirEntry m = entry(0), u = entry(1);
  m.record_offset = u.record_offset;
  m.record_size = u.record_size;
  m.record_checksum = u.record_checksum;
  set_entry(0, m);
  reseal();
  EXPECT_EQ(Read(), TableError::kBadRecord);
}

TEST_F(Hostile, UserHashNotMatchingItsSid) {
  ScopeDirEntry u = entry(2);
  u.sid_hash = entry(1).sid_hash;  // still sorted, but names another SID
  set_entry(2, u);
  reseal();
  TableSnapshot snap;
  EXPECT_EQ(TableReader({bytes(), words_.size() * 4}).read_all(&snap), TableError::kBadRecord);
}

TEST_F(Hostile, StringLengthsOverflowing) {
  for (uint32_t len : {kMaxStringUnits + 1, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 5000u}) {
    SetUp();
    ScopeRecord r = record(0);
    r.simple.path.length = len;
    set_record(0, r);
    EXPECT_EQ(Read(), TableError::kBadRecord) << len;
  }
}

TEST_F(Hostile, StringOffsetsOutOfBounds) {
  for (uint32_t off : {1u, 8u, 0xFFFFFFFEu, 0x80000000u}) {
    SetUp();
    ScopeRecord r = record(0);
    r.default_client.offset = off;
    set_record(0, r);
    EXPECT_EQ(Read(), TableError::kBadRecord) << off;
  }
}

TEST_F(Hostile, FixedSizeOutOfBounds) {
  for (uint32_t fs : {0u, 100u, 162u, 0x10000u}) {
    SetUp();
    ScopeRecord r = record(0);
    r.fixed_size = fs;
    set_record(0, r);
    EXPECT_EQ(Read(), TableError::kBadRecord) << fs;
  }
}

TEST_F(Hostile, OverrideArrayOverflowing) {
  struct Case { uint32_t count, offset, stride; };
  for (const Case c : {Case{kMaxOverrides + 1, 160, 88}, Case{1, 160, 0},
                       Case{1, 160, 87}, Case{0x01000000, 160, 0x100}, Case{2, 0xFFFFFFF0u, 88},
                       Case{1, 2, 88}, Case{1, 16, 88}}) {
    SetUp();
    ScopeRecord r = record(0);
    r.override_count = c.count;
    r.override_offset = c.offset;
    r.override_stride = c.stride;
    set_record(0, r);
    EXPECT_EQ(Read(), TableError::kBadRecord) << c.count << "/" << c.offset << "/" << c.stride;
  }
}

TEST_F(Hostile, UnknownKind) {
  ScopeRecord r = record(0);
  r.kind = 7;
  set_record(0, r);
  EXPECT_EQ(Read(), TableError::kBadRecord);
}

TEST_F(Hostile, UnknownStatusIsKeptNotTrusted) {
  ScopeRecord r = record(0);
  r.simple.status = 999;
  r.flags |= 0x80000000u;  // an unknown flag bit is ignored
  set_record(0, r);
  TableSnapshot snap;
  ASSERT_EQ(TableReader({bytes(), words_.size() * 4}).read(u"", &snap), TableError::kOk);
  EXPECT_NE(snap.machine.simple.status, TargetStatus::kFound);
}

TEST_F(Hostile, OddCountForeverIsBusyNotAHang) {
  auto* count = reinterpret_cast<uint32_t*>(bytes() + offsetof(TableHeader, sequence));
  seqlock::write_begin(count);  // a writer that died mid-publish
  TableSnapshot snap;
  EXPECT_EQ(TableReader({bytes(), words_.size() * 4}).read(u"", &snap), TableError::kBusy);
}

TEST_F(Hostile, EveryTruncationOfAValidTableIsRejectedCleanly) {
  // The table cut at every 4-byte boundary, as a mapping that ends there.
  const size_t full = image_size_;
  for (size_t n = 0; n < full; n += 4) {
    TableSnapshot snap;
    const TableError e = TableReader({bytes(), n}).read_all(&snap, {2, 4});
    EXPECT_NE(e, TableError::kOk) << n;
  }
}

TEST_F(Hostile, EveryByteFlipIsDetected) {
  // Flip each byte of the used part in turn (the sequence count aside): never accepted as is.
  // Unsealed flips are caught by a checksum; the point is that none is read as valid data.
  for (size_t i = 0; i < image_size_; ++i) {
    if (i >= offsetof(TableHeader, sequence) && i < offsetof(TableHeader, sequence) + 4) continue;
    SetUp();
    const TableSnapshot before = [&] { TableSnapshot s; TableReader({bytes(), words_.size() * 4}).read_all(&s); return s; }();
    bytes()[i] ^= std::byte{0x5A};
    TableSnapshot snap;
    const TableError e = TableReader({bytes(), words_.size() * 4}).read_all(&snap, {2, 4});
    if (e == TableError::kOk) {
      // Only bytes no checksum covers may be flipped harmlessly, and then the data is unchanged.
      EXPECT_LT(i, kChecksumStart) << "flip at " << i << " accepted";
      EXPECT_EQ(snap.machine, before.machine);
    }
  }
}

}  // namespace
}  // namespace mapidispatch
