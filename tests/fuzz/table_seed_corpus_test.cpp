// Copyright MapiDispatch authors.
//
// The committed table seed corpus is worth fuzzing from: every seed is a valid table as it is
// (a seed the reader rejects at check_header() leaves the fuzzer outside the structure), the
// WOW64 view is among them, and the files are what make_table_seeds writes today.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "mapidispatch/table.h"
#include "table_seeds.h"

#ifndef MD_TABLE_SEED_DIR
#error "MD_TABLE_SEED_DIR must name tests/fuzz/corpus/table"
#endif

namespace mapidispatch {
namespace {

std::map<std::string, std::vector<std::byte>> committed_seeds() {
  std::map<std::string, std::vector<std::byte>> files;
  for (const auto& entry : std::filesystem::directory_iterator(MD_TABLE_SEED_DIR)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte>& out = files[entry.path().filename().string()];
    out.resize(bytes.size());
    if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  }
  return files;
}

TEST(TableSeedCorpus, IsWhatMakeTableSeedsWrites) {
  const auto files = committed_seeds();
  const auto seeds = test::table_seeds();
  EXPECT_EQ(files.size(), seeds.size()) << "files in " << MD_TABLE_SEED_DIR << " that make_table_seeds does not write";
  for (const auto& s : seeds) {
    ASSERT_FALSE(s.bytes.empty()) << s.name;
    const auto it = files.find(s.name);
    ASSERT_NE(it, files.end()) << s.name << " is missing";
    EXPECT_TRUE(it->second == s.bytes) << s.name << " is stale: regenerate the corpus with make_table_seeds "
                                       << MD_TABLE_SEED_DIR;
  }
}

TEST(TableSeedCorpus, SeedsReadAsTheyAre) {
  // As the fuzz harness reads them: a region of exactly the file's size.
  int native_ok = 0, wow64_all_ok = 0, wow64_one_ok = 0;
  for (const auto& [name, bytes] : committed_seeds()) {
    std::vector<uint32_t> words((bytes.size() + 3) / 4);
    std::memcpy(words.data(), bytes.data(), bytes.size());
    const TableReader reader({reinterpret_cast<const std::byte*>(words.data()), bytes.size()});
    TableSnapshot snap;
    const TableError all = reader.read_all(&snap);
    EXPECT_EQ(all, TableError::kOk) << name << ": " << make_error_code(all).message();
    native_ok += all == TableError::kOk;
    const std::u16string sid = all == TableError::kOk && !snap.users.empty() ? snap.users.back().sid : u"";
    TableSnapshot wow64;
    const TableError wow64_all = reader.read_all(&wow64, {}, TableView::kWow64);
    wow64_all_ok += wow64_all == TableError::kOk;
    const TableError wow64_one = reader.read(sid, &wow64, {}, TableView::kWow64);
    wow64_one_ok += wow64_one == TableError::kOk;
    // The WOW64 view of these samples has the same users: the one asked for is found.
    if (wow64_one == TableError::kOk && !sid.empty()) {
      EXPECT_TRUE(wow64.user.has_value()) << name;
    }
    std::printf("%-40s %zu bytes: native %s, wow64 %s\n", name.c_str(), bytes.size(),
                make_error_code(all).message().c_str(), make_error_code(wow64_one).message().c_str());
  }
  EXPECT_GE(native_ok, 1);
  EXPECT_GE(wow64_all_ok, 1);
  EXPECT_GE(wow64_one_ok, 1);
}

}  // namespace
}  // namespace mapidispatch
