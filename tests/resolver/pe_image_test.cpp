// Copyright MapiDispatch authors.
//
// The PE reader against good images of each machine and against every header field damaged;
// the required export sets against the project's copy of mapi32-exports.tsv.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "mapidispatch/pe_image.h"
#include "pe_builder.h"

namespace mapidispatch {
namespace {

using test::build_pe;
using test::PeSpec;
using test::put16;
using test::put32;

PeStatus read(const std::vector<uint8_t>& bytes, PeInfo* info, std::string* reason = nullptr) {
  // An exact-size heap copy, so ASan catches a read past the end.
  std::vector<uint8_t> copy(bytes);
  copy.shrink_to_fit();
  return read_pe_image(SpanByteSource(copy), info, reason);
}

struct MachineCase {
  const char* name;
  uint16_t machine;
  PeMachine expected;
  bool plus;
};

class PeMachines : public ::testing::TestWithParam<MachineCase> {};

TEST_P(PeMachines, ReadsMachineDllFlagAndExports) {
  PeSpec spec;
  spec.machine = GetParam().machine;
  spec.exports = {"MAPISendMail", "MAPILogon@24", "Other"};
  PeInfo info;
  std::string reason;
  ASSERT_EQ(read(build_pe(spec), &info, &reason), PeStatus::kOk) << reason;
  EXPECT_EQ(info.raw_machine, GetParam().machine);
  EXPECT_EQ(info.machine, GetParam().expected);
  EXPECT_EQ(info.pe32_plus, GetParam().plus);
  EXPECT_TRUE(info.is_dll);
  EXPECT_EQ(info.export_names, (std::vector<std::string>{"MAPILogon@24", "MAPISendMail", "Other"}));
}

INSTANTIATE_TEST_SUITE_P(All, PeMachines,
                         ::testing::Values(MachineCase{"x86", 0x014c, PeMachine::kI386, false},
                                           MachineCase{"x64", 0x8664, PeMachine::kAmd64, true},
                                           MachineCase{"arm64", 0xAA64, PeMachine::kArm64, true},
                                           MachineCase{"arm32", 0x01c4, PeMachine::kUnknown, false}),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(PeImage, ExecutableIsNotADll) {
  PeSpec spec;
  spec.dll = false;
  PeInfo info;
  ASSERT_EQ(read(build_pe(spec), &info), PeStatus::kOk);
  EXPECT_FALSE(info.is_dll);
}

TEST(PeImage, DllWithoutExportDirectoryHasNoNames) {
  auto b = build_pe({});
  put32(&b, test::kPeOptionalAt + 108 + 4, 0);  // export RVA
  PeInfo info;
  ASSERT_EQ(read(b, &info), PeStatus::kOk);
  EXPECT_TRUE(info.export_names.empty());
}

TEST(PeImage, DescribesUnknownMachines) {
  EXPECT_EQ(describe_machine(0x8664), "x64");
  EXPECT_EQ(describe_machine(0x01c4), "machine 0x01c4");
}

struct Damage {
  const char* name;
  void (*apply)(std::vector<uint8_t>*);
  PeStatus expected;
};

class PeHostile : public ::testing::TestWithParam<Damage> {};

TEST_P(PeHostile, NamesTheProblem) {
  PeSpec spec;
  spec.exports = test::all_exports();
  auto b = build_pe(spec);
  GetParam().apply(&b);
  PeInfo info;
  std::string reason;
  EXPECT_EQ(read(b, &info, &reason), GetParam().expected) << reason;
  if (GetParam().expected != PeStatus::kOk) {
    EXPECT_FALSE(reason.empty());
  }
}

const size_t kSec = test::pe_sections_at(true);
const size_t kDirs = test::kPeOptionalAt + 108;

INSTANTIATE_TEST_SUITE_P(
    All, PeHostile,
    ::testing::Values(
        Damage{"Empty", [](std::vector<uint8_t>* b) { b->clear(); }, PeStatus::kTooSmall},
        Damage{"ShorterThanDosHeader", [](std::vector<uint8_t>* b) { b->resize(63); }, PeStatus::kTooSmall},
        Damage{"NoMz", [](std::vector<uint8_t>* b) { (*b)[0] = 'Z'; }, PeStatus::kNotMz},
        Damage{"LfanewPastEnd", [](std::vector<uint8_t>* b) { put32(b, test::kPeLfanewField, 0xFFFFFFF0u); }, PeStatus::kBadLfanew},
        Damage{"LfanewAtLastBytes",
               [](std::vector<uint8_t>* b) { put32(b, test::kPeLfanewField, static_cast<uint32_t>(b->size() - 4)); },
               PeStatus::kBadLfanew},
        Damage{"NoPeSignature", [](std::vector<uint8_t>* b) { (*b)[test::kPeSignatureAt + 1] = 'X'; }, PeStatus::kNotPe},
        Damage{"TruncatedOptionalHeader", [](std::vector<uint8_t>* b) { b->resize(test::kPeOptionalAt + 30); }, PeStatus::kBadHeaders},
        Damage{"OptionalHeaderSizeHuge", [](std::vector<uint8_t>* b) { put16(b, test::kPeCoffAt + 16, 0xFFFF); }, PeStatus::kBadHeaders},
        Damage{"OptionalHeaderSizeZero", [](std::vector<uint8_t>* b) { put16(b, test::kPeCoffAt + 16, 0); }, PeStatus::kBadHeaders},
        Damage{"UnknownMagic", [](std::vector<uint8_t>* b) { put16(b, test::kPeOptionalAt, 0x107); }, PeStatus::kBadHeaders},
        Damage{"Pe32MagicWithX64Machine", [](std::vector<uint8_t>* b) { put16(b, test::kPeOptionalAt, 0x10B); }, PeStatus::kBadHeaders},
        Damage{"TooManySections", [](std::vector<uint8_t>* b) { put16(b, test::kPeCoffAt + 2, 97); }, PeStatus::kBadSections},
        Damage{"SectionTablePastEnd", [](std::vector<uint8_t>* b) { put16(b, test::kPeCoffAt + 2, 90); b->resize(kSec + 100); }, PeStatus::kBadSections},
        Damage{"ExportRvaOutsideSections", [](std::vector<uint8_t>* b) { put32(b, kDirs + 4, 0x7FFFFFF0u); }, PeStatus::kBadExports},
        Damage{"ExportRvaNearUint32Max", [](std::vector<uint8_t>* b) { put32(b, kDirs + 4, 0xFFFFFFFCu); }, PeStatus::kBadExports},
        Damage{"SectionRawPastEnd", [](std::vector<uint8_t>* b) { put32(b, kSec + 20, 0xFFFFFF00u); }, PeStatus::kBadExports},
        Damage{"SectionRawSizeHuge", [](std::vector<uint8_t>* b) { put32(b, kSec + 16, 0xFFFFFFFFu); b->resize(b->size() - 0x100); }, PeStatus::kBadExports},
        Damage{"NameCountHuge", [](std::vector<uint8_t>* b) { put32(b, test::kPeEdataFileAt + 24, 0x7FFFFFFF); }, PeStatus::kBadExports},
        Damage{"NameCountPastSection", [](std::vector<uint8_t>* b) { put32(b, test::kPeEdataFileAt + 24, 60000); }, PeStatus::kBadExports},
        Damage{"NameTableRvaWild", [](std::vector<uint8_t>* b) { put32(b, test::kPeEdataFileAt + 32, 0xDEADBEEF); }, PeStatus::kBadExports},
        Damage{"NameRvaWild",
               [](std::vector<uint8_t>* b) {
                 const uint32_t names = (*b)[test::kPeEdataFileAt + 32] | ((*b)[test::kPeEdataFileAt + 33] << 8);
                 put32(b, test::kPeEdataFileAt + (names - test::kPeEdataRva), 0xFFFFFFFF);
               },
               PeStatus::kBadExports},
        Damage{"NameNotTerminated",
               [](std::vector<uint8_t>* b) {
                 // Fill the section's tail with non-NUL bytes, the last name runs into them.
                 const size_t end = b->size();
                 size_t i = end;
                 while (i > test::kPeEdataFileAt && (*b)[i - 1] == 0) --i;
                 for (size_t k = i; k < end; ++k) (*b)[k] = 'A';
               },
               PeStatus::kBadExports},
        Damage{"TruncatedInsideExports", [](std::vector<uint8_t>* b) { b->resize(test::kPeEdataFileAt + 20); }, PeStatus::kBadExports}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(PeImage, EveryTruncationIsHandled) {
  // Every prefix of a valid image reads as an error or (for prefixes past the data) the image.
  PeSpec spec;
  spec.exports = test::all_exports();
  const auto full = build_pe(spec);
  int ok = 0;
  for (size_t n = 0; n <= full.size(); ++n) {
    PeInfo info;
    if (read(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)), &info) == PeStatus::kOk) ++ok;
  }
  EXPECT_GE(ok, 1);
  EXPECT_LT(ok, static_cast<int>(full.size()));
}

TEST(RequiredExports, PlainOrDecoratedFormsSatisfyAFamily) {
  PeInfo info;
  info.export_names = {"MAPILogon@24", "MAPILogoff", "MAPISendMail", "MAPIFreeBuffer@4"};
  EXPECT_TRUE(missing_exports(info, ExportFamily::kSimple).empty());
  info.export_names = {"MAPILogon@20", "MAPILogoff", "MAPISendMail", "MAPIFreeBuffer"};  // wrong @N
  EXPECT_EQ(missing_exports(info, ExportFamily::kSimple), std::vector<std::string_view>{"MAPILogon"});
  info.export_names = {"mapilogon", "MAPILogoff", "MAPISendMail", "MAPIFreeBuffer"};  // exports are case-sensitive
  EXPECT_EQ(missing_exports(info, ExportFamily::kSimple), std::vector<std::string_view>{"MAPILogon"});
}

TEST(RequiredExports, ExtendedNeedsItsOwnSet) {
  PeInfo info;
  for (const auto& e : test::simple_exports()) info.export_names.push_back(e);
  const auto missing = missing_exports(info, ExportFamily::kExtended);
  EXPECT_EQ(missing, (std::vector<std::string_view>{"MAPIInitialize", "MAPIUninitialize", "MAPILogonEx", "MAPIAllocateBuffer"}));
}

// Each required name is a mapi32 export with the argument size the TSV gives; the Simple set
// is from the simple family except MAPIFreeBuffer (see pe_image.h), the Extended set from extended.
TEST(RequiredExports, MatchTheExportTable) {
  std::ifstream in(MAPIDISPATCH_EXPORTS_TSV);
  ASSERT_TRUE(in) << MAPIDISPATCH_EXPORTS_TSV;
  std::map<std::string, std::pair<std::string, std::string>> rows;  // name -> (arg bytes, family)
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("name\t", 0) == 0) continue;
    std::stringstream ss(line);
    std::string name, ordinal, bytes, family;
    std::getline(ss, name, '\t');
    std::getline(ss, ordinal, '\t');
    std::getline(ss, bytes, '\t');
    std::getline(ss, family, '\t');
    rows[name] = {bytes, family};
  }
  ASSERT_GT(rows.size(), 100u);
  for (const auto family : {ExportFamily::kSimple, ExportFamily::kExtended}) {
    for (const auto& r : required_exports(family)) {
      const std::string name(r.name);
      ASSERT_TRUE(rows.count(name)) << name << " is not a mapi32 export";
      EXPECT_EQ(rows[name].first, std::to_string(r.x86_arg_bytes)) << name;
      const std::string expected_family =
          (family == ExportFamily::kSimple && name != "MAPIFreeBuffer") ? "simple" : "extended";
      EXPECT_EQ(rows[name].second, expected_family) << name;
      if (rows.count(name + "@" + std::to_string(r.x86_arg_bytes))) {
        EXPECT_EQ(rows[name + "@" + std::to_string(r.x86_arg_bytes)].second, rows[name].second);
      }
    }
  }
}

}  // namespace
}  // namespace mapidispatch
