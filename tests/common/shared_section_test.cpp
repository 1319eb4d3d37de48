// Copyright MapiDispatch authors.
//
// The table in real named shared memory, across real processes (this test program re-launched
// as a child): one writer only, read-only readers, a writer killed mid-publish.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "../support/table_samples.h"
#include "../support/test_main.h"
#include "mapidispatch/seqlock.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace mapidispatch {
namespace {

constexpr uint32_t kSize = 256 * 1024;
constexpr int kRefused = 10;
constexpr int kBecameWriter = 11;

[[noreturn]] void die_now() {
#ifdef _WIN32
  ::TerminateProcess(::GetCurrentProcess(), 9);
#endif
  std::_Exit(9);
}

uint32_t this_pid() {
#ifdef _WIN32
  return ::GetCurrentProcessId();
#else
  return static_cast<uint32_t>(::getpid());
#endif
}

MD_CHILD_MAIN(try_writer) {
  std::unique_ptr<WritableSection> section;
  const std::error_code ec = WritableSection::create(args.at(0), kSize, &section);
  if (ec == TableError::kWriterExists) return kRefused;
  if (ec) {
    std::fprintf(stderr, "create: %s\n", ec.message().c_str());
    return 2;
  }
  return kBecameWriter;
}

MD_CHILD_MAIN(read_check) {
  std::unique_ptr<ReadOnlySection> section;
  if (auto ec = ReadOnlySection::open(args.at(0), &section)) {
    std::fprintf(stderr, "open: %s\n", ec.message().c_str());
    return 2;
  }
  TableSnapshot snap;
  const TableError e = TableReader(section->bytes()).read(test::sample_user(1).sid, &snap);
  if (e != TableError::kOk) {
    std::fprintf(stderr, "read: %s\n", make_error_code(e).message().c_str());
    return 3;
  }
  if (snap.info.generation != std::strtoull(args.at(1).c_str(), nullptr, 10)) return 4;
  if (!snap.user || *snap.user != test::sample_user(1)) return 5;
  return 0;
}

// Publishes twice, then dies in the middle of a third publish.
MD_CHILD_MAIN(die_mid_publish) {
  std::unique_ptr<WritableSection> section;
  if (auto ec = WritableSection::create(args.at(0), kSize, &section)) return 2;
  if (section->created()) return 3;  // the parent's readers keep the section alive
  TableWriter writer(section->bytes(), this_pid(), 0);
  if (writer.publish(test::sample_scopes(2)) || writer.publish(test::sample_scopes(2))) return 4;
  auto* count = reinterpret_cast<uint32_t*>(section->bytes().data() + offsetof(layout::TableHeader, sequence));
  seqlock::write_begin(count);
  std::memset(section->bytes().data() + 512, 0xEE, 256);
  die_now();
}

class SharedSection : public ::testing::Test {
 protected:
  void TearDown() override { remove_shared_section(name_); }
  const std::string name_ = test::unique_name("mdtest.section");
};

TEST_F(SharedSection, MissingSectionIsAnErrorNotACrash) {
  std::unique_ptr<ReadOnlySection> section;
  EXPECT_TRUE(ReadOnlySection::open(name_, &section));
  EXPECT_EQ(section, nullptr);
}

TEST_F(SharedSection, AnotherProcessReadsWhatTheWriterPublished) {
  std::unique_ptr<WritableSection> section;
  ASSERT_FALSE(WritableSection::create(name_, kSize, &section));
  EXPECT_TRUE(section->created());
  TableWriter writer(section->bytes(), this_pid(), 0);
  ASSERT_FALSE(writer.publish(test::sample_scopes(3)));
  ASSERT_FALSE(writer.publish(test::sample_scopes(3)));
  auto child = test::spawn_self_child("read_check", {name_, "2"});
  EXPECT_EQ(child.wait(), 0);
}

TEST_F(SharedSection, ASecondWriterIsRefused) {
  {
    std::unique_ptr<WritableSection> section;
    ASSERT_FALSE(WritableSection::create(name_, kSize, &section));
    auto child = test::spawn_self_child("try_writer", {name_});
    EXPECT_EQ(child.wait(), kRefused);
  }
  // Once the first writer is gone, the next one is admitted.
  std::unique_ptr<ReadOnlySection> keep_alive;
  {
    std::unique_ptr<WritableSection> section;
    ASSERT_FALSE(WritableSection::create(name_, kSize, &section));
    ASSERT_FALSE(ReadOnlySection::open(name_, &keep_alive));
  }
  auto child = test::spawn_self_child("try_writer", {name_});
  EXPECT_EQ(child.wait(), kBecameWriter);
}

TEST_F(SharedSection, ReadersMapReadOnly) {
  std::unique_ptr<WritableSection> writable;
  ASSERT_FALSE(WritableSection::create(name_, kSize, &writable));
  std::unique_ptr<ReadOnlySection> section;
  ASSERT_FALSE(ReadOnlySection::open(name_, &section));
  ASSERT_GE(section->bytes().size(), kSize);
#ifdef _WIN32
  MEMORY_BASIC_INFORMATION mbi{};
  ASSERT_NE(::VirtualQuery(section->bytes().data(), &mbi, sizeof mbi), 0u);
  EXPECT_EQ(mbi.Protect, static_cast<DWORD>(PAGE_READONLY));
#else
  std::ifstream maps("/proc/self/maps");
  const auto addr = reinterpret_cast<uintptr_t>(section->bytes().data());
  std::string line;
  bool found = false;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    const uintptr_t lo = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    if (lo == addr) {
      found = true;
      EXPECT_EQ(perms.substr(0, 2), "r-") << line;
    }
  }
  EXPECT_TRUE(found);
#endif
}

TEST_F(SharedSection, WriterKilledMidPublishIsCompletedByTheNextWriter) {
  // A reader maps the section throughout, as stubs in running processes do.
  std::unique_ptr<ReadOnlySection> reader_section;
  {
    std::unique_ptr<WritableSection> section;
    ASSERT_FALSE(WritableSection::create(name_, kSize, &section));
    ASSERT_FALSE(ReadOnlySection::open(name_, &reader_section));
    TableWriter writer(section->bytes(), this_pid(), 0);
    ASSERT_FALSE(writer.publish(test::sample_scopes(2)));  // generation 1
  }
  auto child = test::spawn_self_child("die_mid_publish", {name_});
  ASSERT_EQ(child.wait(), 9) << "the child should have died mid-publish";

  TableReader reader(reader_section->bytes());
  TableSnapshot snap;
  EXPECT_EQ(reader.read(u"", &snap, {3, 16}), TableError::kBusy) << "the half-written table is never accepted";

  std::unique_ptr<WritableSection> section;
  ASSERT_FALSE(WritableSection::create(name_, kSize, &section)) << "the dead writer's lock must be free";
  EXPECT_FALSE(section->created());
  TableWriter writer(section->bytes(), this_pid(), 0);
  EXPECT_TRUE(writer.recovered_odd_count());
  EXPECT_EQ(writer.recovered_generation(), 3u);
  const TableError e = reader.read(u"", &snap);
  EXPECT_TRUE(e == TableError::kWriterStopped || e == TableError::kBadChecksum) << static_cast<int>(e);
  ASSERT_FALSE(writer.publish(test::sample_scopes(2)));
  ASSERT_EQ(reader.read(u"", &snap), TableError::kOk);
  EXPECT_EQ(snap.info.generation, 4u) << "the generation keeps growing across the crash";
}

}  // namespace
}  // namespace mapidispatch
