// Copyright MapiDispatch authors.
//
// The resolver on the in-memory registry an export describes: one case per rule and per
// hostile input (resolver_cases.cpp), then what the table cannot express: listing user scopes,
// registry views, the environment built from a registry, path analysis, the rooted file system,
// and the never-throw contract.

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <new>

#include "../support/test_main.h"
#include "mapidispatch/reg_file.h"
#include "mapidispatch/resolver.h"
#include "mapidispatch/table.h"
#include "mapidispatch/text.h"
#include "pe_builder.h"
#include "resolver_cases.h"

namespace mapidispatch {
namespace {

using test::Outcome;
using test::ResolverCase;
using test::World;

void load(const std::string& text, MemoryRegistry* reg) {
  const RegFileResult r = parse_reg_file({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, reg);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.message;
}

class ResolverRules : public ::testing::TestWithParam<ResolverCase> {};

TEST_P(ResolverRules, OnTheExportsRegistry) {
  const ResolverCase& c = GetParam();
  MemoryRegistry reg;
  const std::string text = test::export_text(c);
  const RegFileResult parsed = parse_reg_file({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, &reg);
  ASSERT_TRUE(parsed.ok) << parsed.line << ": " << parsed.message;
  World world;
  if (c.setup) c.setup(world);
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = test::resolve_with(reg, world);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(o.status, ResolveStatus::kOk);
  SCOPED_TRACE("explanation:\n" + o.text());
  c.verify(o);
  // Every target the resolver reports carries a reason, whatever its status.
  for (const Target* t : {&o.r.simple, &o.r.extended, &o.r.mapi32x}) EXPECT_FALSE(t->reason.empty());
  // The service can publish it: every string and count within the table's limits.
  std::vector<ScopeResolution> scopes;
  if (o.r.kind == ScopeKind::kUser) scopes.emplace_back();
  scopes.push_back(o.r);
  std::vector<std::byte> image;
  EXPECT_FALSE(build_table_image(scopes, 1, 0, 1, 64u << 20, &image));
  // Bounded work: even the thousands-of-clients and 32,767-character cases are quick (the
  // sanitizer builds are several times slower than this).
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 20);
}

INSTANTIATE_TEST_SUITE_P(Cases, ResolverRules, ::testing::ValuesIn(test::resolver_cases()),
                         [](const auto& p) { return p.param.name; });

// The stub's registry mode reads the UNC policy the service applies (read_allow_unc_paths()).
class UncPolicy : public ::testing::TestWithParam<test::UncPolicyCase> {};

TEST_P(UncPolicy, ReadAsTheServiceAppliesIt) {
  MemoryRegistry reg;
  test::write_unc_policy(GetParam(), &reg);
  EXPECT_EQ(read_allow_unc_paths(reg), GetParam().allowed);
}

INSTANTIATE_TEST_SUITE_P(Cases, UncPolicy, ::testing::ValuesIn(test::unc_policy_cases()),
                         [](const auto& p) { return p.param.name; });

TEST(Resolver, SameInputSameAnswer) {
  MemoryRegistry reg;
  load(test::export_text(test::resolver_cases().front()), &reg);
  World w1, w2;
  test::resolver_cases().front().setup(w1);
  test::resolver_cases().front().setup(w2);
  const Outcome a = test::resolve_with(reg, w1);
  const Outcome b = test::resolve_with(reg, w2);
  EXPECT_EQ(a.r, b.r);
  EXPECT_EQ(a.why.steps, b.why.steps);
}

TEST(Resolver, ExplanationNamesKeyValueAndRule) {
  MemoryRegistry reg;
  load(test::export_text(test::resolver_cases().front()), &reg);
  World w;
  test::resolver_cases().front().setup(w);
  const Outcome o = test::resolve_with(reg, w);
  const ExplanationStep* step = o.why.find("dllpath");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->key, u"HKEY_LOCAL_MACHINE\\Software\\Clients\\Mail\\Contoso");
  EXPECT_EQ(step->value, u"DLLPath");
  EXPECT_NE(o.text().find("dllpath: HKEY_LOCAL_MACHINE\\Software\\Clients\\Mail\\Contoso [DLLPath]: "), std::string::npos);
}

TEST(Resolver, UnterminatedStringIsNoted) {
  MemoryRegistry reg;
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail", u"", make_reg_string(u"C")));
  RegValue path = make_reg_string(u"C:\\x.dll");
  path.data.resize(path.data.size() - 2);
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\C", u"DLLPath", path));
  World w;
  const Outcome o = test::resolve_with(reg, w);
  EXPECT_EQ(o.r.simple.path, u"C:\\x.dll");
  EXPECT_TRUE(o.says("string-form", "no terminating NUL")) << o.text();
}

TEST(Resolver, ThirtyTwoBitViewReadsRedirectedMsMapiApps) {
  MemoryRegistry reg;
  load(R"REG(Windows Registry Editor Version 5.00
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail]
@="Contoso"
[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows Messaging Subsystem\MSMapiApps]
"sixty-four.exe"=""
[HKEY_LOCAL_MACHINE\SOFTWARE\Wow6432Node\Microsoft\Windows Messaging Subsystem\MSMapiApps]
"thirty-two.exe"=""
)REG", &reg);
  World w;
  w.options.view = RegView::k32;
  Outcome o = test::resolve_with(reg, w);
  ASSERT_EQ(o.r.overrides.size(), 1u);
  EXPECT_EQ(o.r.overrides[0].module, u"thirty-two.exe");
  EXPECT_EQ(o.r.default_client, u"Contoso");  // Clients is shared between the views
  w.options.view = RegView::k64;
  o = test::resolve_with(reg, w);
  ASSERT_EQ(o.r.overrides.size(), 1u);
  EXPECT_EQ(o.r.overrides[0].module, u"sixty-four.exe");
}

TEST(Resolver, ListsUserScopesWithTheirOwnMailSettings) {
  MemoryRegistry reg;
  load(R"REG(Windows Registry Editor Version 5.00
[HKEY_USERS\.DEFAULT\Software\Clients\Mail]
[HKEY_USERS\S-1-5-18\Software]
[HKEY_USERS\S-1-5-21-1-2-3-1001\Software\Clients\Mail]
@="Fabrikam"
[HKEY_USERS\S-1-5-21-1-2-3-1001_Classes\Software\Clients\Mail]
[HKEY_USERS\S-1-5-21-1-2-3-1002\Software\Clients\Mail]
[HKEY_USERS\S-1-5-21-1-2-3-1003\Software\Clients]
)REG", &reg);
  std::vector<std::u16string> sids;
  ASSERT_FALSE(list_user_scopes(reg, &sids));
  EXPECT_EQ(sids, (std::vector<std::u16string>{u"S-1-5-21-1-2-3-1001", u"S-1-5-21-1-2-3-1002"}));
  ASSERT_FALSE(list_user_scopes(reg, &sids, 1));
  EXPECT_EQ(sids.size(), 1u);
}

TEST(Resolver, ListsThousandsOfUsersBounded) {
  MemoryRegistry reg;
  for (int i = 0; i < 3000; ++i) {
    ASSERT_FALSE(reg.create_key(RegRoot::kUsers, u"S-1-5-21-7-" + text::ascii(std::to_string(i)) + u"\\Software\\Clients\\Mail"));
  }
  std::vector<std::u16string> sids;
  ASSERT_FALSE(list_user_scopes(reg, &sids, 2000));
  EXPECT_EQ(sids.size(), 2000u);
}

// A registry that fails every call with std::bad_alloc, as an exhausted heap would.
class ExhaustedRegistry final : public Registry {
 public:
  std::error_code open(RegRoot, std::u16string_view, RegView, std::unique_ptr<RegistryKey>*) const override {
    throw std::bad_alloc();
  }
};

class ThrowingRegistry final : public Registry {
 public:
  std::error_code open(RegRoot, std::u16string_view, RegView, std::unique_ptr<RegistryKey>*) const override {
    throw std::runtime_error("surprise");
  }
};

TEST(Resolver, NeverThrowsOutOfItsEntryPoints) {
  World w;
  ScopeResolution r;
  const ExhaustedRegistry exhausted;
  EXPECT_EQ(resolve_scope(w.request, {exhausted, w.files, w.msi, w.env}, w.options, &r), ResolveStatus::kOutOfMemory);
  const ThrowingRegistry throwing;
  EXPECT_EQ(resolve_scope(w.request, {throwing, w.files, w.msi, w.env}, w.options, &r), ResolveStatus::kInternalError);
  std::vector<std::u16string> sids;
  EXPECT_EQ(list_user_scopes(exhausted, &sids), std::make_error_code(std::errc::not_enough_memory));
}

// A registry whose keys exist but cannot be read: access denied everywhere.
class DeniedRegistry final : public Registry {
 public:
  std::error_code open(RegRoot, std::u16string_view, RegView, std::unique_ptr<RegistryKey>*) const override {
    return std::make_error_code(std::errc::permission_denied);
  }
};

TEST(Resolver, UnreadableKeysAreExplainedNotFatal) {
  World w;
  const DeniedRegistry denied;
  ScopeResolution r;
  Explanation why;
  ASSERT_EQ(resolve_scope(w.request, {denied, w.files, w.msi, w.env}, w.options, &r, &why), ResolveStatus::kOk);
  EXPECT_EQ(r.simple.status, TargetStatus::kNotConfigured);
  const ExplanationStep* step = why.find("registry-error");
  ASSERT_NE(step, nullptr);
  EXPECT_NE(text::utf16_to_utf8(step->detail).find("could not be opened"), std::string::npos);
}

TEST(Resolver, SystemDirectoryFromEnvironmentWhenNotGiven) {
  const MemoryRegistry reg;
  World w;
  w.options.system_directory.clear();
  w.env.set(u"SystemRoot", u"D:\\WinNT");
  const Outcome o = test::resolve_with(reg, w);
  EXPECT_EQ(o.r.mapi32x.path, u"D:\\WinNT\\System32\\mapi32x.dll");
  MapEnvironment empty;
  ScopeResolution r;
  Explanation why;
  ASSERT_EQ(resolve_scope(w.request, {reg, w.files, w.msi, empty}, w.options, &r, &why), ResolveStatus::kOk);
  EXPECT_EQ(r.mapi32x.status, TargetStatus::kNotConfigured);
  EXPECT_NE(text::utf16_to_utf8(r.mapi32x.reason).find("system directory is unknown"), std::string::npos);
}

// ---- The environment an export implies ----------------------------------------------------------

TEST(RegistryEnvironment, DefaultsThenMachineThenUserValues) {
  MemoryRegistry reg;
  load(R"REG(Windows Registry Editor Version 5.00
[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"SystemRoot"="D:\\Windows"
[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion]
"ProgramFilesDir (x86)"="D:\\Programs (x86)"
[HKEY_LOCAL_MACHINE\SOFTWARE\Wow6432Node]
[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager\Environment]
"MAILROOT"=hex(2):25,00,53,00,79,00,73,00,74,00,65,00,6d,00,52,00,6f,00,6f,00,74,00,25,00,5c,00,4d,00,00,00
[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\S-1-5-21-5]
"ProfileImagePath"="D:\\Users\\ann"
[HKEY_USERS\S-1-5-21-5\Environment]
"MAILROOT"="E:\\Mine"
)REG", &reg);
  const MapEnvironment machine = make_registry_environment(reg, nullptr, {}, std::nullopt);
  EXPECT_EQ(machine.lookup(u"systemroot"), u"D:\\Windows");
  EXPECT_EQ(machine.lookup(u"SystemDrive"), u"D:");
  EXPECT_EQ(machine.lookup(u"ProgramFiles"), u"C:\\Program Files");
  EXPECT_EQ(machine.lookup(u"MAILROOT"), u"D:\\Windows\\M");
  EXPECT_EQ(machine.lookup(u"USERPROFILE"), std::nullopt);
  const HivePath user{RegRoot::kUsers, u"S-1-5-21-5"};
  const MapEnvironment ann = make_registry_environment(reg, &user, u"S-1-5-21-5", PeMachine::kI386);
  EXPECT_EQ(ann.lookup(u"LOCALAPPDATA"), u"D:\\Users\\ann\\AppData\\Local");
  EXPECT_EQ(ann.lookup(u"MAILROOT"), u"E:\\Mine");
  EXPECT_EQ(ann.lookup(u"ProgramFiles"), u"D:\\Programs (x86)");  // a 32-bit process on 64-bit Windows
}

TEST(Environment, ExpandsLikeExpandEnvironmentStrings) {
  MapEnvironment env;
  env.set(u"A", u"1");
  std::u16string out, undefined;
  EXPECT_EQ(env.expand(u"%a%-%A%", 100, &out, &undefined), ExpandStatus::kOk);
  EXPECT_EQ(out, u"1-1");
  EXPECT_EQ(env.expand(u"x%B%y%A%", 100, &out, &undefined), ExpandStatus::kUndefined);
  EXPECT_EQ(out, u"x%B%y1");
  EXPECT_EQ(undefined, u"B");
  EXPECT_EQ(env.expand(u"100% sure %%", 100, &out, &undefined), ExpandStatus::kOk);
  EXPECT_EQ(out, u"100% sure %%");
  EXPECT_EQ(env.expand(u"%A%%A%%A%", 2, &out, &undefined), ExpandStatus::kTooLong);
  EXPECT_EQ(undefined_variables(env, u"%A% %Q% %R%"), (std::vector<std::u16string>{u"Q", u"R"}));
}

// ---- Paths ---------------------------------------------------------------------------------------

TEST(WindowsPath, Kinds) {
  EXPECT_EQ(analyze_windows_path(u"C:\\a\\b.dll").kind, PathKind::kDriveAbsolute);
  EXPECT_EQ(analyze_windows_path(u"c:/a/b.dll").normalized, u"c:\\a\\b.dll");
  EXPECT_EQ(analyze_windows_path(u"\\\\srv\\share\\b.dll").kind, PathKind::kUnc);
  EXPECT_EQ(analyze_windows_path(u"\\\\?\\UNC\\srv\\share\\b.dll").server, u"srv");
  EXPECT_EQ(analyze_windows_path(u"\\\\?\\C:\\b.dll").normalized, u"C:\\b.dll");
  EXPECT_EQ(analyze_windows_path(u"\\\\?\\GLOBALROOT\\x").kind, PathKind::kDevice);
  EXPECT_EQ(analyze_windows_path(u"\\??\\C:\\x").kind, PathKind::kDriveAbsolute);
  EXPECT_EQ(analyze_windows_path(u"C:b.dll").kind, PathKind::kDriveRelative);
  EXPECT_EQ(analyze_windows_path(u"\\b.dll").kind, PathKind::kRooted);
  EXPECT_EQ(analyze_windows_path(u"b.dll").kind, PathKind::kRelative);
  EXPECT_EQ(analyze_windows_path(u"").kind, PathKind::kEmpty);
}

TEST(WindowsPath, Problems) {
  EXPECT_EQ(analyze_windows_path(u"C:\\a\\..\\b.dll").problem, PathProblem::kTraversal);
  EXPECT_EQ(analyze_windows_path(u"C:/a/../b.dll").problem, PathProblem::kTraversal);
  EXPECT_EQ(analyze_windows_path(u"\\\\srv\\..\\b.dll").problem, PathProblem::kTraversal);
  EXPECT_EQ(analyze_windows_path(u"C:\\a\\b.dll:s").problem, PathProblem::kBadCharacter);
  EXPECT_EQ(analyze_windows_path(u"C:\\a\\b\x01.dll").problem, PathProblem::kBadCharacter);
  EXPECT_EQ(analyze_windows_path(u"C:\\com1.txt\\b.dll").problem, PathProblem::kReservedName);
  EXPECT_EQ(analyze_windows_path(u"C:\\a \\b.dll").problem, PathProblem::kTrailingDotSpace);
  EXPECT_EQ(analyze_windows_path(u"C:\\a\\\\b.dll").problem, PathProblem::kEmptyComponent);
  EXPECT_EQ(analyze_windows_path(u"C:\\" + std::u16string(256, u'x')).problem, PathProblem::kTooLong);
  EXPECT_EQ(analyze_windows_path(u"C:\\console\\b.dll").problem, PathProblem::kNone);
  EXPECT_TRUE(same_windows_path(u"C:/Windows/SYSTEM32/mapi32.dll", u"\\\\?\\c:\\windows\\system32\\MAPI32.DLL"));
}

// ---- The rooted file system ----------------------------------------------------------------------

class RootedFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = test::unique_name("md-rooted");
    for (char& ch : name) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '-';
    }
    root_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(root_ / "c" / "program files" / "Contoso");
    std::filesystem::create_directories(root_ / "UNC" / "srv" / "share");
    const auto dll = test::provider_dll();
    std::ofstream(root_ / "c" / "program files" / "Contoso" / "CMAPI.dll", std::ios::binary)
        .write(reinterpret_cast<const char*>(dll.data()), static_cast<std::streamsize>(dll.size()));
    std::ofstream(root_ / "UNC" / "srv" / "share" / "x.dll") << "x";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::filesystem::path root_;
};

TEST_F(RootedFiles, MapsDrivePathsCaseInsensitively) {
  const RootedFileSystem fs(root_);
  std::error_code ec;
  EXPECT_EQ(fs.stat(u"C:\\Program Files\\contoso\\cmapi.DLL", &ec), FileKind::kFile);
  EXPECT_EQ(fs.stat(u"C:\\Program Files\\Contoso", &ec), FileKind::kDirectory);
  EXPECT_EQ(fs.stat(u"C:\\Program Files\\Contoso\\other.dll", &ec), FileKind::kMissing);
  EXPECT_EQ(fs.stat(u"D:\\x.dll", &ec), FileKind::kMissing);
  EXPECT_EQ(fs.stat(u"\\\\SRV\\Share\\X.dll", &ec), FileKind::kFile);
  EXPECT_FALSE(fs.map(u"C:\\..\\..\\etc\\passwd").has_value());
  std::unique_ptr<ByteSource> src;
  ASSERT_FALSE(fs.open(u"c:\\PROGRAM FILES\\CONTOSO\\cmapi.dll", &src));
  PeInfo info;
  EXPECT_EQ(read_pe_image(*src, &info), PeStatus::kOk);
  EXPECT_TRUE(fs.same_file(u"C:\\Program Files\\Contoso\\cmapi.dll", u"c:\\program files\\contoso\\CMAPI.DLL"));
}

}  // namespace
}  // namespace mapidispatch
