// Copyright MapiDispatch authors.
//
// The PE reader against good images of each machine and against every header field damaged;
// the import and delay-load tables, good and hostile; the required export sets against the
// project's copy of mapi32-exports.tsv; the PE seeds of the reg_parser fuzz corpus (generated
// here: MD_WRITE_PE_SEEDS=1 rewrites them).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
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

// ---- Import and delay-load tables ----------------------------------------------------------------

using test::PeLayout;

// "name" for an import, "name [delay]" for a delay-load.
std::vector<std::string> dlls(const PeInfo& info) {
  std::vector<std::string> v;
  for (const auto& i : info.imports) v.push_back(i.dll + (i.delay_load ? " [delay]" : ""));
  return v;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Reads an image whose tables are damaged: the image itself stays kOk.
PeInfo read_damaged(const std::vector<uint8_t>& b) {
  PeInfo info;
  std::string reason;
  EXPECT_EQ(read(b, &info, &reason), PeStatus::kOk) << reason;
  EXPECT_EQ(info.imports_status, PeStatus::kBadImports);
  EXPECT_FALSE(info.imports_reason.empty());
  return info;
}

PeSpec import_spec(uint16_t machine = 0x8664) {
  PeSpec spec;
  spec.machine = machine;
  spec.exports = test::all_exports();
  spec.imports = {"KERNEL32.dll", "MSVCRT.dll", "ADVAPI32.dll"};
  spec.delay_imports = {"msi.dll", "VERSION.dll"};
  return spec;
}

const std::vector<std::string> kImportSpecDlls = {"KERNEL32.dll", "MSVCRT.dll", "ADVAPI32.dll", "msi.dll [delay]",
                                                  "VERSION.dll [delay]"};

TEST(PeImports, StatusHasAName) { EXPECT_EQ(to_string(PeStatus::kBadImports), "bad-imports"); }

class PeImportMachines : public ::testing::TestWithParam<MachineCase> {};

TEST_P(PeImportMachines, ReadsBothTablesInOrderBesideTheExports) {
  PeInfo info;
  std::string reason;
  ASSERT_EQ(read(build_pe(import_spec(GetParam().machine)), &info, &reason), PeStatus::kOk) << reason;
  EXPECT_EQ(info.pe32_plus, GetParam().plus);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  EXPECT_EQ(info.imports_reason, "");
  EXPECT_EQ(dlls(info), kImportSpecDlls);
  EXPECT_TRUE(missing_exports(info, ExportFamily::kExtended).empty());
}

TEST_P(PeImportMachines, ReadsOldStyleDelayDescriptorsThroughTheImageBase) {
  PeSpec spec = import_spec(GetParam().machine);
  spec.delay_va = true;
  spec.image_base = 0x10000000;  // a VC6 image's base; the addresses fit 32 bits
  PeLayout layout;
  const auto b = build_pe(spec, &layout);
  ASSERT_EQ(b[layout.delay_at], 0);  // Attributes: bit 0 clear
  const uint32_t va = b[layout.delay_at + 4] | (b[layout.delay_at + 5] << 8) | (b[layout.delay_at + 6] << 16) |
                      (uint32_t{b[layout.delay_at + 7]} << 24);
  ASSERT_EQ(va, 0x10000000u + layout.rva(layout.delay_names_at[0]));
  PeInfo info;
  ASSERT_EQ(read(b, &info), PeStatus::kOk);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  EXPECT_EQ(dlls(info), kImportSpecDlls);
}

TEST_P(PeImportMachines, OldStyleAddressBelowTheImageBaseIsDamage) {
  PeSpec spec = import_spec(GetParam().machine);
  spec.delay_va = true;
  spec.image_base = 0x10000000;
  PeLayout layout;
  auto b = build_pe(spec, &layout);
  put32(&b, layout.delay_at + 32 + 4, 0x0FFFFFFF);  // descriptor 1's name: one byte below the base
  const PeInfo info = read_damaged(b);
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"KERNEL32.dll", "MSVCRT.dll", "ADVAPI32.dll", "msi.dll [delay]"}));
  EXPECT_TRUE(contains(info.imports_reason, "Descriptor 1 of the delay-load import table")) << info.imports_reason;
  EXPECT_TRUE(contains(info.imports_reason, "below the image base 0x10000000")) << info.imports_reason;
}

INSTANTIATE_TEST_SUITE_P(All, PeImportMachines,
                         ::testing::Values(MachineCase{"x86", 0x014c, PeMachine::kI386, false},
                                           MachineCase{"x64", 0x8664, PeMachine::kAmd64, true},
                                           MachineCase{"arm64", 0xAA64, PeMachine::kArm64, true}),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(PeImports, SixtyFourBitImageBaseIsSubtractedWhole) {
  // PE32+ with the usual DLL base above 4 GB: a 32-bit address field is always below it.
  PeSpec spec = import_spec(0x8664);
  spec.delay_va = true;
  spec.image_base = 0x180000000ull;
  const PeInfo info = read_damaged(build_pe(spec));
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"KERNEL32.dll", "MSVCRT.dll", "ADVAPI32.dll"}));
  EXPECT_TRUE(contains(info.imports_reason, "Descriptor 0 of the delay-load import table")) << info.imports_reason;
  EXPECT_TRUE(contains(info.imports_reason, "below the image base 0x180000000")) << info.imports_reason;
}

TEST(PeImports, RvaFormIgnoresTheImageBase) {
  PeSpec spec = import_spec(0x014c);
  spec.image_base = 0x7FFF0000;  // above every RVA: would be damage if subtracted
  PeInfo info;
  ASSERT_EQ(read(build_pe(spec), &info), PeStatus::kOk);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  EXPECT_EQ(dlls(info), kImportSpecDlls);
}

TEST(PeImports, DuplicatesAreKeptOnceCaseInsensitively) {
  PeSpec spec;
  spec.imports = {"KERNEL32.dll", "user32.dll", "kernel32.DLL", "Kernel32.Dll"};
  spec.delay_imports = {"Msi.dll", "MSI.DLL", "ole32.dll", "msi.dll"};
  PeInfo info;
  ASSERT_EQ(read(build_pe(spec), &info), PeStatus::kOk);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"KERNEL32.dll", "user32.dll", "Msi.dll [delay]", "ole32.dll [delay]"}));
}

TEST(PeImports, AnImportWinsOverADelayLoadOfTheSameName) {
  PeSpec spec;
  spec.imports = {"a.dll", "C.DLL"};
  spec.delay_imports = {"A.DLL", "b.dll", "c.dll"};
  PeInfo info;
  ASSERT_EQ(read(build_pe(spec), &info), PeStatus::kOk);
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"a.dll", "C.DLL", "b.dll [delay]"}));
}

TEST(PeImports, OnlyDelayLoads) {
  PeSpec spec;
  spec.delay_imports = {"msi.dll"};
  PeInfo info;
  ASSERT_EQ(read(build_pe(spec), &info), PeStatus::kOk);
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"msi.dll [delay]"}));
}

TEST(PeImports, NoTablesIsNoImports) {
  PeInfo info;
  ASSERT_EQ(read(test::provider_dll(), &info), PeStatus::kOk);
  EXPECT_TRUE(info.imports.empty());
  EXPECT_EQ(info.imports_status, PeStatus::kOk);
  EXPECT_EQ(info.imports_reason, "");
}

TEST(PeImports, ZeroSizeOrZeroRvaDirectoryIsNoTable) {
  PeLayout layout;
  const auto full = build_pe(import_spec(), &layout);
  auto b = full;
  put32(&b, layout.dirs_at + 8 + 4, 0);  // import table size
  PeInfo info;
  ASSERT_EQ(read(b, &info), PeStatus::kOk);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"msi.dll [delay]", "VERSION.dll [delay]"}));
  b = full;
  put32(&b, layout.dirs_at + 8 * 13, 0);  // delay-load table RVA
  ASSERT_EQ(read(b, &info), PeStatus::kOk);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"KERNEL32.dll", "MSVCRT.dll", "ADVAPI32.dll"}));
}

TEST(PeImports, DirectorySizeIsNotTrustedBeyondNonZero) {
  // The loader reads to the terminator: a size of one byte still reads the whole table.
  PeLayout layout;
  auto b = build_pe(import_spec(), &layout);
  put32(&b, layout.dirs_at + 8 + 4, 1);
  PeInfo info;
  ASSERT_EQ(read(b, &info), PeStatus::kOk);
  EXPECT_EQ(dlls(info), kImportSpecDlls);
}

TEST(PeImports, DirectoriesBeyondNumberOfRvaAndSizesDoNotExist) {
  for (const uint32_t count : {0u, 1u, 2u, 13u, 14u, 16u, 0xFFFFFFFFu}) {
    PeSpec spec = import_spec();
    spec.dir_count = count;
    PeInfo info;
    ASSERT_EQ(read(build_pe(spec), &info), PeStatus::kOk) << count;
    EXPECT_EQ(info.imports_status, PeStatus::kOk) << count << ": " << info.imports_reason;
    std::vector<std::string> expected;
    if (count >= 2) expected.insert(expected.end(), kImportSpecDlls.begin(), kImportSpecDlls.begin() + 3);
    if (count >= 14) expected.insert(expected.end(), kImportSpecDlls.begin() + 3, kImportSpecDlls.end());
    EXPECT_EQ(dlls(info), expected) << count;
    EXPECT_EQ(info.export_names.empty(), count == 0) << count;
  }
}

TEST(PeImports, DirectoriesOutsideTheOptionalHeaderDoNotExist) {
  // SizeOfOptionalHeader cut to end inside the data directories: entry 13 is not there, even
  // though NumberOfRvaAndSizes says 16 (the section table is moved along with it).
  PeLayout layout;
  auto b = build_pe(import_spec(), &layout);
  const size_t sections = test::pe_sections_at(true);
  const size_t cut = 8 * 3;  // entries 13..15
  b.erase(b.begin() + static_cast<std::ptrdiff_t>(sections - cut), b.begin() + static_cast<std::ptrdiff_t>(sections));
  b.insert(b.begin() + static_cast<std::ptrdiff_t>(sections + 80 - cut), cut, 0);  // keep file offsets
  put16(&b, test::kPeCoffAt + 16, static_cast<uint16_t>(240 - cut));
  PeInfo info;
  std::string reason;
  ASSERT_EQ(read(b, &info, &reason), PeStatus::kOk) << reason;
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"KERNEL32.dll", "MSVCRT.dll", "ADVAPI32.dll"}));
}

TEST(PeImports, TableInTheHeadersIsRead) {
  // One descriptor and its terminator copied into the 40 bytes between the section table and
  // SizeOfHeaders (0x200): RVAs below SizeOfHeaders are file offsets.
  PeSpec spec;
  spec.imports = {"KERNEL32.dll"};
  PeLayout layout;
  auto b = build_pe(spec, &layout);
  const size_t at = layout.idata_header_at + 40;
  ASSERT_EQ(at, 0x200u - 40);
  std::copy(b.begin() + static_cast<std::ptrdiff_t>(layout.imports_at),
            b.begin() + static_cast<std::ptrdiff_t>(layout.imports_at + 40), b.begin() + static_cast<std::ptrdiff_t>(at));
  put32(&b, layout.dirs_at + 8, static_cast<uint32_t>(at));
  PeInfo info;
  ASSERT_EQ(read(b, &info), PeStatus::kOk);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"KERNEL32.dll"}));
}

TEST(PeImports, TableRunningOutOfTheHeadersIsDamage) {
  // Descriptor 0 in the last 20 bytes of the headers, descriptor 1 at RVA 0x200: mapped nowhere
  // (the first section starts at 0x1000).
  PeSpec spec;
  spec.imports = {"KERNEL32.dll", "USER32.dll"};
  PeLayout layout;
  auto b = build_pe(spec, &layout);
  std::copy(b.begin() + static_cast<std::ptrdiff_t>(layout.imports_at),
            b.begin() + static_cast<std::ptrdiff_t>(layout.imports_at + 20), b.begin() + 0x200 - 20);
  put32(&b, layout.dirs_at + 8, 0x200 - 20);
  const PeInfo info = read_damaged(b);
  EXPECT_EQ(dlls(info), (std::vector<std::string>{"KERNEL32.dll"}));
  EXPECT_TRUE(contains(info.imports_reason, "The import table (RVA 0x1ec) runs past the end")) << info.imports_reason;
  EXPECT_TRUE(contains(info.imports_reason, "at descriptor 1")) << info.imports_reason;
}

TEST(PeImports, LongestNameAndMostDescriptorsAreAccepted) {
  PeSpec spec;
  spec.imports = {std::string(kMaxPeImportNameLength, 'n')};
  for (uint32_t i = 1; i < kMaxPeImportDlls; ++i) spec.imports.push_back("dll" + std::to_string(i) + ".dll");
  PeInfo info;
  ASSERT_EQ(read(build_pe(spec), &info), PeStatus::kOk);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  ASSERT_EQ(info.imports.size(), kMaxPeImportDlls);
  EXPECT_EQ(info.imports.front().dll.size(), kMaxPeImportNameLength);
  EXPECT_EQ(info.imports.back().dll, "dll4095.dll");
}

TEST(PeImports, MoreDescriptorsThanTheLimitIsDamage) {
  PeSpec spec;
  for (uint32_t i = 0; i <= kMaxPeImportDlls; ++i) spec.imports.push_back("dll" + std::to_string(i) + ".dll");
  spec.delay_imports = {"late.dll"};
  const PeInfo info = read_damaged(build_pe(spec));
  ASSERT_EQ(info.imports.size(), kMaxPeImportDlls + 1);  // 4096 imports, then the delay table
  EXPECT_EQ(info.imports[kMaxPeImportDlls - 1].dll, "dll4095.dll");
  EXPECT_EQ(dlls(info).back(), "late.dll [delay]");
  EXPECT_TRUE(contains(info.imports_reason, "The import table has more than 4096 descriptors")) << info.imports_reason;
}

// ---- Hostile tables: status kBadImports, a reason naming table, descriptor and fault, the names
// read before the damage kept, the image itself kOk.

struct ImportDamage {
  const char* name;
  PeSpec (*spec)();
  void (*apply)(std::vector<uint8_t>*, const PeLayout&);
  std::vector<std::string> kept;
  std::vector<std::string> reason_parts;
};

class PeImportHostile : public ::testing::TestWithParam<ImportDamage> {};

TEST_P(PeImportHostile, KeepsWhatCameBeforeAndSaysWhatIsWrong) {
  PeLayout layout;
  auto b = build_pe(GetParam().spec(), &layout);
  GetParam().apply(&b, layout);
  const PeInfo info = read_damaged(b);
  EXPECT_EQ(dlls(info), GetParam().kept);
  for (const auto& part : GetParam().reason_parts) {
    EXPECT_TRUE(contains(info.imports_reason, part)) << "\"" << part << "\" not in: " << info.imports_reason;
  }
  EXPECT_EQ(info.imports_reason.back(), '.') << info.imports_reason;
}

PeSpec three_imports() {
  PeSpec spec;
  spec.imports = {"a.dll", "b.dll", "c.dll"};
  spec.delay_imports = {"d.dll"};
  return spec;
}

PeSpec three_delay_loads() {
  PeSpec spec;
  spec.delay_imports = {"a.dll", "b.dll", "c.dll"};
  return spec;
}

PeSpec unterminated_imports() {
  PeSpec spec;
  spec.imports = {"a.dll", "b.dll", "c.dll"};
  spec.terminate_tables = false;
  return spec;
}

PeSpec unterminated_delay_loads() {
  PeSpec spec = unterminated_imports();
  spec.delay_imports = spec.imports;
  spec.imports.clear();
  return spec;
}

PeSpec named(std::vector<std::string> imports) {
  PeSpec spec;
  spec.imports = std::move(imports);
  spec.delay_imports = {"d.dll"};
  return spec;
}

void nothing(std::vector<uint8_t>*, const PeLayout&) {}

const std::vector<std::string> kAll3 = {"a.dll", "b.dll", "c.dll", "d.dll [delay]"};
const std::vector<std::string> kA = {"a.dll", "d.dll [delay]"};

INSTANTIATE_TEST_SUITE_P(
    All, PeImportHostile,
    ::testing::Values(
        ImportDamage{"ArrayRunsOffTheSection", unterminated_imports,
                     [](std::vector<uint8_t>* b, const PeLayout&) { b->insert(b->end(), 64, 0x41); },  // file goes on
                     {"a.dll", "b.dll", "c.dll"},
                     {"The import table", "runs past the end of its section", "at descriptor 3", "terminating"}},
        ImportDamage{"ArrayRunsOffTheFile", unterminated_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) { b->resize(l.imports_at + 2 * 20 + 7); },
                     {"a.dll", "b.dll"}, {"The import table", "at descriptor 2"}},
        ImportDamage{"DelayArrayRunsOffTheSection", unterminated_delay_loads, nothing,
                     {"a.dll [delay]", "b.dll [delay]", "c.dll [delay]"},
                     {"The delay-load import table", "at descriptor 3", "terminating"}},
        ImportDamage{"NoTerminatorBeforeTheEnd", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) {
                       // Repeat descriptor 2 over the terminator and to the section's end.
                       put32(b, l.dirs_at + 8 * 13 + 4, 0);  // no delay table (its bytes get overwritten)
                       for (size_t at = l.imports_at + 60; at + 20 <= l.idata_file_at + l.idata_raw_size; at += 20)
                         std::copy(b->begin() + static_cast<std::ptrdiff_t>(l.imports_at + 40),
                                   b->begin() + static_cast<std::ptrdiff_t>(l.imports_at + 60),
                                   b->begin() + static_cast<std::ptrdiff_t>(at));
                     },
                     {"a.dll", "b.dll", "c.dll"}, {"The import table", "runs past the end", "terminating"}},
        ImportDamage{"DirectoryOutsideTheImage", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) { put32(b, l.dirs_at + 8, 0x7FFF0000); },
                     {"d.dll [delay]"}, {"The import table (RVA 0x7fff0000) lies outside the file's sections and headers."}},
        ImportDamage{"DirectoryRvaAllOnes", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) { put32(b, l.dirs_at + 8, 0xFFFFFFFF); },
                     {"d.dll [delay]"}, {"The import table (RVA 0xffffffff) lies outside"}},
        ImportDamage{"DelayDirectoryRvaAllOnes", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) { put32(b, l.dirs_at + 8 * 13, 0xFFFFFFFF); },
                     {"a.dll", "b.dll", "c.dll"}, {"The delay-load import table (RVA 0xffffffff) lies outside"}},
        ImportDamage{"ArrayCrossesTheEndOfTheAddressSpace", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) {
                       // .idata moved to the top of the 32-bit space: descriptor 0 fits, 1 would wrap.
                       const uint32_t in_section = static_cast<uint32_t>(l.imports_at - l.idata_file_at);
                       const uint32_t va = static_cast<uint32_t>(0x100000000ull - in_section - 30);
                       put32(b, l.idata_header_at + 12, va);
                       put32(b, l.dirs_at + 8, va + in_section);
                       put32(b, l.imports_at + 12, va + static_cast<uint32_t>(l.import_names_at[0] - l.idata_file_at));
                       put32(b, l.dirs_at + 8 * 13, 0);
                     },
                     {"a.dll"}, {"The import table (RVA 0xffffffe2) runs past the end of the 32-bit address space at descriptor 1"}},
        ImportDamage{"NameRvaOutside", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) { put32(b, l.imports_at + 20 + 12, 0x00F00000); },
                     kA, {"Descriptor 1 of the import table names its DLL at RVA 0xf00000, outside the file's sections"}},
        ImportDamage{"NameRvaAllOnes", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) { put32(b, l.imports_at + 2 * 20 + 12, 0xFFFFFFFF); },
                     {"a.dll", "b.dll", "d.dll [delay]"}, {"Descriptor 2 of the import table", "RVA 0xffffffff", "outside"}},
        ImportDamage{"DelayNameRvaOutside", three_delay_loads,
                     [](std::vector<uint8_t>* b, const PeLayout& l) { put32(b, l.delay_at + 32 + 4, 0x00F00000); },
                     {"a.dll [delay]"}, {"Descriptor 1 of the delay-load import table", "RVA 0xf00000", "outside"}},
        ImportDamage{"NameCutOffBySectionEnd", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) {
                       // Fill the section's tail with 'A' and point descriptor 1's name 10 bytes before its end.
                       const size_t end = l.idata_file_at + l.idata_raw_size;
                       std::fill(b->begin() + static_cast<std::ptrdiff_t>(l.tail_at), b->begin() + static_cast<std::ptrdiff_t>(end), 'A');
                       put32(b, l.imports_at + 20 + 12, l.rva(end - 10));
                     },
                     kA, {"Descriptor 1 of the import table has a DLL name at RVA", "runs to the end of its section", "without a terminating NUL"}},
        ImportDamage{"NameWithoutNulRunsOffTheFile", unterminated_delay_loads,
                     [](std::vector<uint8_t>* b, const PeLayout& l) {
                       // The delay table's last name is the last bytes of the file, its NUL cut off.
                       const size_t name = l.delay_names_at[2];
                       put32(b, l.delay_at + 2 * 32 + 4, 0);  // descriptor 2 ends the table: no run-off
                       std::copy(b->begin() + static_cast<std::ptrdiff_t>(name), b->begin() + static_cast<std::ptrdiff_t>(name + 5),
                                 b->end() - 5);
                       put32(b, l.delay_at + 32 + 4, l.rva(b->size() - 5));
                     },
                     {"a.dll [delay]"}, {"Descriptor 1 of the delay-load import table", "without a terminating NUL"}},
        ImportDamage{"NameTooLong", [] { return named({"a.dll", std::string(kMaxPeImportNameLength + 1, 'x'), "c.dll"}); },
                     nothing, kA, {"Descriptor 1 of the import table", "no terminating NUL within 255 bytes (too long)"}},
        ImportDamage{"NameWithControlByte", [] { return named({"a.dll", "b\x07.dll", "c.dll"}); }, nothing, kA,
                     {"Descriptor 1 of the import table", "byte 0x7 at position 1: not printable ASCII"}},
        ImportDamage{"NameWithTab", [] { return named({"a.dll", "b.dll\t", "c.dll"}); }, nothing, kA, {"byte 0x9 at position 5"}},
        ImportDamage{"NameWithDel", [] { return named({"a.dll", "\x7f", "c.dll"}); }, nothing, kA, {"byte 0x7f at position 0"}},
        ImportDamage{"NameWithNonAscii", [] { return named({"a.dll", "caf\xc3\xa9.dll", "c.dll"}); }, nothing, kA,
                     {"Descriptor 1 of the import table", "byte 0xc3 at position 3"}},
        ImportDamage{"DelayNameWithNonAscii",
                     [] {
                       PeSpec s;
                       s.imports = {"a.dll"};
                       s.delay_imports = {"x.dll", "\xff.dll"};
                       return s;
                     },
                     nothing, {"a.dll", "x.dll [delay]"}, {"Descriptor 1 of the delay-load import table", "byte 0xff at position 0"}},
        ImportDamage{"EmptyName", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) { (*b)[l.import_names_at[1]] = 0; }, kA,
                     {"Descriptor 1 of the import table has an empty DLL name"}},
        ImportDamage{"OldStyleAddressBelowImageBase",
                     [] {
                       PeSpec s = three_delay_loads();
                       s.machine = 0x014c;
                       s.delay_va = true;
                       s.image_base = 0x00400000;
                       return s;
                     },
                     [](std::vector<uint8_t>* b, const PeLayout& l) { put32(b, l.delay_at + 2 * 32 + 4, l.rva(l.delay_names_at[2])); },
                     {"a.dll [delay]", "b.dll [delay]"},
                     {"Descriptor 2 of the delay-load import table is an old-style descriptor", "below the image base 0x400000"}},
        ImportDamage{"BothTablesDamaged", three_imports,
                     [](std::vector<uint8_t>* b, const PeLayout& l) {
                       put32(b, l.imports_at + 20 + 12, 0x00F00000);
                       put32(b, l.delay_at + 4, 0x00F00000);
                     },
                     {"a.dll"},
                     {"Descriptor 1 of the import table names its DLL at RVA 0xf00000, outside the file's sections and headers. "
                      "Descriptor 0 of the delay-load import table names its DLL at RVA 0xf00000, outside the file's sections and headers."}}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(PeImports, ReadEvenWhenTheExportsAreDamaged) {
  PeSpec spec = import_spec();
  auto b = build_pe(spec);
  put32(&b, test::kPeEdataFileAt + 32, 0xDEADBEEF);  // the export name table's RVA
  PeInfo info;
  std::string reason;
  EXPECT_EQ(read(b, &info, &reason), PeStatus::kBadExports);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  EXPECT_EQ(dlls(info), kImportSpecDlls);
}

TEST(PeImports, EveryTruncationKeepsAPrefixOfTheNames) {
  PeSpec spec = import_spec();
  spec.imports.push_back("kernel32.DLL");  // a duplicate, dropped
  spec.delay_imports.push_back("ADVAPI32.DLL");
  const auto full = build_pe(spec);
  PeInfo whole;
  ASSERT_EQ(read(full, &whole), PeStatus::kOk);
  ASSERT_EQ(dlls(whole), kImportSpecDlls);
  for (size_t n = 0; n < full.size(); ++n) {
    PeInfo info;
    if (read(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)), &info) != PeStatus::kOk &&
        info.imports.empty()) {
      continue;
    }
    const auto got = dlls(info);
    ASSERT_LE(got.size(), kImportSpecDlls.size()) << n;
    EXPECT_TRUE(std::equal(got.begin(), got.end(), kImportSpecDlls.begin())) << n;
    EXPECT_EQ(info.imports_status == PeStatus::kOk, info.imports_reason.empty()) << n;
    if (got.size() < kImportSpecDlls.size()) {
      EXPECT_EQ(info.imports_status, PeStatus::kBadImports) << n;
    }
  }
}

// ---- The PE seeds of the reg_parser fuzz corpus --------------------------------------------------

struct PeSeed {
  std::string file;
  std::vector<uint8_t> bytes;
};

std::vector<PeSeed> pe_seeds() {
  std::vector<PeSeed> seeds;
  seeds.push_back({"pe-imports-x64.dll", build_pe(import_spec(0x8664))});
  {
    PeSpec s = import_spec(0x014c);
    s.imports = {"KERNEL32.dll", "USER32.dll", "kernel32.DLL"};
    s.delay_imports = {"OLE32.dll", "user32.dll"};
    s.delay_va = true;
    s.image_base = 0x10000000;
    seeds.push_back({"pe-imports-x86-va-delay.dll", build_pe(s)});
  }
  {
    PeSpec s = import_spec(0xAA64);
    s.dir_count = 14;
    s.image_base = 0x180000000ull;
    seeds.push_back({"pe-imports-arm64.dll", build_pe(s)});
  }
  {
    PeSpec s = unterminated_imports();
    s.exports = test::simple_exports();
    seeds.push_back({"pe-imports-unterminated.dll", build_pe(s)});
  }
  {
    PeSpec s = named({"a.dll", "b\x07.dll", std::string(300, 'x')});
    s.exports = test::simple_exports();
    seeds.push_back({"pe-imports-bad-names.dll", build_pe(s)});
  }
  {
    PeSpec s = import_spec(0x014c);
    s.delay_va = true;
    s.image_base = 0x00400000;
    PeLayout l;
    auto b = build_pe(s, &l);
    put32(&b, l.imports_at + 20 + 12, 0xFFFFFFFF);
    put32(&b, l.delay_at + 32 + 4, 0x100);
    seeds.push_back({"pe-imports-wild-rvas.dll", b});
  }
  return seeds;
}

TEST(PeSeeds, CommittedFilesAreCurrent) {
  const std::filesystem::path dir = MAPIDISPATCH_REG_SEEDS;
  const bool write = std::getenv("MD_WRITE_PE_SEEDS") != nullptr;
  for (const auto& seed : pe_seeds()) {
    const auto path = dir / seed.file;
    if (write) {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(seed.bytes.data()), static_cast<std::streamsize>(seed.bytes.size()));
      ASSERT_TRUE(out.good()) << path;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " is missing: run resolver_test with MD_WRITE_PE_SEEDS=1";
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(bytes == seed.bytes) << path << " is stale: run resolver_test with MD_WRITE_PE_SEEDS=1 "
                                     << "--gtest_filter=PeSeeds.*";
    PeInfo info;
    EXPECT_EQ(read(bytes, &info), PeStatus::kOk) << path;
  }
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
