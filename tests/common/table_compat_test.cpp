// Copyright MapiDispatch authors.
//
// The table across minor ABI versions (table_layout.h): this reader must read what a later
// minor version writes (bigger header, bigger record fixed part and override stride, unknown
// flag bits and nonzero reserved bytes) with every known field as written, and what 1.0 wrote
// (no WOW64 directory) natively, while a WOW64 read of a 1.0 table says there is no such view.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "../support/table_samples.h"
#include "../support/table_variants.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"

namespace mapidispatch {
namespace {

using namespace layout;

constexpr uint64_t kGeneration = 41;
constexpr uint64_t kPublishTime = 133'000'000'000'000'000ull;
constexpr uint32_t kWriterPid = 4242;

// An image in a 4-aligned region of exactly `image.size()` bytes, rounded up to a word.
class Region {
 public:
  explicit Region(const std::vector<std::byte>& image) : words_((image.size() + 3) / 4, 0), size_(image.size()) {
    std::memcpy(words_.data(), image.data(), image.size());
  }
  std::span<const std::byte> bytes() const { return {reinterpret_cast<const std::byte*>(words_.data()), size_}; }

 private:
  std::vector<uint32_t> words_;
  size_t size_;
};

TableHeader header_of(const std::vector<std::byte>& image) {
  TableHeader h;
  std::memcpy(&h, image.data(), sizeof h);
  return h;
}

std::vector<std::byte> build(const std::vector<ScopeResolution>& scopes, const std::vector<ScopeResolution>& wow64) {
  std::vector<std::byte> image;
  EXPECT_FALSE(build_table_image(scopes, kGeneration, kPublishTime, kWriterPid, 64 * 1024, &image, wow64));
  image.resize(64 * 1024);  // the section is as big as total_size says
  return image;
}

// The users of `scopes`, in any order, against what a read_all() returned (directory order).
void expect_same_users(const std::vector<ScopeResolution>& scopes, const std::vector<ScopeResolution>& users) {
  std::vector<ScopeResolution> want(scopes.begin() + 1, scopes.end());
  ASSERT_EQ(users.size(), want.size());
  for (const auto& u : users) {
    const auto it = std::find_if(want.begin(), want.end(), [&](const ScopeResolution& w) { return w.sid == u.sid; });
    ASSERT_NE(it, want.end());
    EXPECT_EQ(u, *it);
  }
}

// Reads both views of `image` and checks every scope and header fact against what was written.
void expect_reads_as_written(const std::vector<std::byte>& image, const std::vector<ScopeResolution>& scopes,
                             const std::vector<ScopeResolution>& wow64, uint16_t abi_minor, uint32_t flags) {
  const Region region(image);
  const TableReader reader(region.bytes());
  const TableHeader h = header_of(image);
  for (const TableView view : {TableView::kNative, TableView::kWow64}) {
    SCOPED_TRACE(std::string(to_string(view)));
    const auto& want = view == TableView::kWow64 ? wow64 : scopes;
    TableSnapshot all;
    ASSERT_EQ(reader.read_all(&all, {}, view), TableError::kOk);
    EXPECT_EQ(all.machine, want[0]);
    expect_same_users(want, all.users);
    EXPECT_EQ(all.info.generation, kGeneration);
    EXPECT_EQ(all.info.publish_time, kPublishTime);
    EXPECT_EQ(all.info.writer_pid, kWriterPid);
    EXPECT_EQ(all.info.flags, flags);
    EXPECT_EQ(all.info.abi_minor, abi_minor);
    EXPECT_EQ(all.info.scope_count, scopes.size());
    EXPECT_EQ(all.info.wow64_scope_count, wow64.size());
    EXPECT_EQ(all.info.view, view);
    EXPECT_EQ(all.info.payload_end, h.payload_end);
    EXPECT_EQ(all.info.total_size, h.total_size);

    for (size_t i = 1; i < want.size(); ++i) {
      TableSnapshot one;
      ASSERT_EQ(reader.read(want[i].sid, &one, {}, view), TableError::kOk) << i;
      EXPECT_EQ(one.machine, want[0]);
      ASSERT_TRUE(one.user.has_value()) << i;
      EXPECT_EQ(*one.user, want[i]);
    }
    TableSnapshot none;
    ASSERT_EQ(reader.read(u"S-1-5-21-1-2-3-500", &none, {}, view), TableError::kOk);
    EXPECT_FALSE(none.user.has_value());
  }
}

class LaterMinorVersion : public ::testing::Test {
 protected:
  const std::vector<ScopeResolution> scopes_ = test::sample_scopes(3);
  const std::vector<ScopeResolution> wow64_ = test::wow64_view(scopes_);
};

TEST_F(LaterMinorVersion, TheRewriterChangesTheLayoutNotTheData) {
  // The rewritten table must really be laid out differently, or the test below proves nothing.
  const std::vector<std::byte> image = build(scopes_, wow64_);
  const test::LaterMinor later;
  std::vector<std::byte> rewritten;
  ASSERT_TRUE(test::rewrite_as_later_minor(image, later, &rewritten));
  const TableHeader h = header_of(rewritten);
  EXPECT_EQ(h.header_size, later.header_size);
  EXPECT_EQ(h.directory_offset, later.header_size);
  EXPECT_NE(h.payload_end, header_of(image).payload_end);
  for (size_t i = sizeof(TableHeader); i < later.header_size; ++i)
    EXPECT_EQ(rewritten[i], std::byte{later.fill}) << i;  // the fields this version lacks
  ScopeDirEntry e;
  std::memcpy(&e, rewritten.data() + h.directory_offset, sizeof e);
  ScopeRecord r;
  std::memcpy(&r, rewritten.data() + e.record_offset, sizeof r);
  EXPECT_EQ(r.fixed_size, sizeof(ScopeRecord) + later.extra_fixed);
  EXPECT_EQ(r.override_stride, sizeof(OverrideRecord) + later.extra_stride);
  EXPECT_EQ(r.override_offset, r.fixed_size);
  ASSERT_GT(r.override_count, 0u);
  EXPECT_GE(r.default_client.offset, r.fixed_size + r.override_count * r.override_stride);
  EXPECT_NE(r.flags & later.scope_flags, 0u);
  // The unknown bytes after the known fixed part are nonzero.
  EXPECT_EQ(rewritten[e.record_offset + sizeof(ScopeRecord)], std::byte{later.fill});
}

TEST_F(LaterMinorVersion, BiggerStructuresAndUnknownBitsAreReadAsWritten) {
  const std::vector<std::byte> image = build(scopes_, wow64_);
  const test::LaterMinor later;
  std::vector<std::byte> rewritten;
  ASSERT_TRUE(test::rewrite_as_later_minor(image, later, &rewritten));
  rewritten.resize(header_of(rewritten).total_size);
  expect_reads_as_written(rewritten, scopes_, wow64_, later.abi_minor, later.header_flags);
}

TEST_F(LaterMinorVersion, OtherSizesToo) {
  // A header as big as a reader accepts, no extra record bytes, a big stride.
  test::LaterMinor later;
  later.abi_minor = 0xFFFF;
  later.header_size = 4096;
  later.extra_fixed = 0;
  later.extra_stride = 1024;
  later.fill = 0xFF;
  const std::vector<std::byte> image = build(scopes_, wow64_);
  std::vector<std::byte> rewritten;
  ASSERT_TRUE(test::rewrite_as_later_minor(image, later, &rewritten));
  rewritten.resize(header_of(rewritten).total_size);
  expect_reads_as_written(rewritten, scopes_, wow64_, later.abi_minor, later.header_flags);
}

TEST_F(LaterMinorVersion, WithoutAWow64DirectoryNativeStillReads) {
  const std::vector<std::byte> image = build(scopes_, {});
  std::vector<std::byte> rewritten;
  ASSERT_TRUE(test::rewrite_as_later_minor(image, {}, &rewritten));
  rewritten.resize(header_of(rewritten).total_size);
  const Region region(rewritten);
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.bytes()).read_all(&snap), TableError::kOk);
  EXPECT_EQ(snap.machine, scopes_[0]);
  expect_same_users(scopes_, snap.users);
  EXPECT_EQ(TableReader(region.bytes()).read_all(&snap, {}, TableView::kWow64), TableError::kNoWow64View);
}

// A 1.0 writer: abi_minor 0, and the bytes 1.1 gave the WOW64 directory were reserved (zero).
std::vector<std::byte> version_1_0(const std::vector<ScopeResolution>& scopes) {
  std::vector<std::byte> image = build(scopes, {});
  TableHeader h = header_of(image);
  EXPECT_EQ(h.wow64_scope_count, 0u);
  EXPECT_EQ(h.wow64_directory_offset, 0u);
  EXPECT_EQ(h.wow64_directory_checksum, 0u);
  h.abi_minor = 0;
  std::memcpy(image.data(), &h, sizeof h);
  reseal_table_image(image);
  return image;
}

TEST(Version1_0, NativeReadReadsIt) {
  const auto scopes = test::sample_scopes(3);
  const std::vector<std::byte> image = version_1_0(scopes);
  const Region region(image);
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.bytes()).read_all(&snap), TableError::kOk);
  EXPECT_EQ(snap.info.abi_minor, 0);
  EXPECT_EQ(snap.info.wow64_scope_count, 0u);
  EXPECT_EQ(snap.machine, scopes[0]);
  expect_same_users(scopes, snap.users);
  TableSnapshot one;
  ASSERT_EQ(TableReader(region.bytes()).read(scopes[2].sid, &one), TableError::kOk);
  ASSERT_TRUE(one.user.has_value());
  EXPECT_EQ(*one.user, scopes[2]);
}

TEST(Version1_0, Wow64ReadSaysThereIsNoWow64View) {
  const auto scopes = test::sample_scopes(3);
  const std::vector<std::byte> image = version_1_0(scopes);
  const Region region(image);
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.bytes()).read(scopes[1].sid, &snap, {}, TableView::kWow64), TableError::kNoWow64View);
  EXPECT_EQ(TableReader(region.bytes()).read_all(&snap, {}, TableView::kWow64), TableError::kNoWow64View);
}

}  // namespace
}  // namespace mapidispatch
