// Copyright MapiDispatch authors.
//
// The dependency walk (dependencies.h) over files held in memory: where each imported DLL is
// looked for, what is a finding and what is not, the bounds, the cache; and the resolver's use of
// it (a warning in the reason and the explanation, never another status).

#include "mapidispatch/dependencies.h"

#include <gtest/gtest.h>

#include "mapidispatch/resolver.h"
#include "mapidispatch/text.h"
#include "pe_builder.h"

namespace mapidispatch {
namespace {

using test::build_pe;
using test::PeSpec;

constexpr uint16_t kX64 = 0x8664;
constexpr uint16_t kX86 = 0x014c;

std::vector<uint8_t> dll(uint16_t machine, std::vector<std::string> imports = {},
                         std::vector<std::string> delay = {}) {
  PeSpec s;
  s.machine = machine;
  s.exports = test::all_exports();
  s.imports = std::move(imports);
  s.delay_imports = std::move(delay);
  return build_pe(s);
}

std::vector<PeImport> imports_of(const std::vector<uint8_t>& bytes) {
  SpanByteSource src(bytes);
  PeInfo info;
  EXPECT_EQ(read_pe_image(src, &info), PeStatus::kOk);
  EXPECT_EQ(info.imports_status, PeStatus::kOk) << info.imports_reason;
  return info.imports;
}

class DependenciesTest : public ::testing::Test {
 protected:
  DependenciesTest() {
    search_.machine = PeMachine::kAmd64;
    search_.directories = {u"C:\\Windows\\System32", u"C:\\Windows", u"C:\\Tools"};
    search_.path_entries = 1;
    search_.path_origin = u"the test's";
    fs_.add_directory(u"C:\\Windows\\System32");
    fs_.add_directory(u"C:\\Tools");
  }

  // Adds the provider at kProvider importing `imports` and walks it.
  DependencyReport walk(std::vector<std::string> imports, std::vector<std::string> delay = {},
                        DependencyCache* cache = nullptr) {
    const auto bytes = dll(kX64, std::move(imports), std::move(delay));
    fs_.add_file(kProvider, bytes);
    return check_dependencies(fs_, kProvider, imports_of(bytes), search_, cache);
  }

  static constexpr std::u16string_view kProvider = u"C:\\Program Files\\Fabrikam\\fabrikam.dll";
  MemoryFileSystem fs_;
  DependencySearch search_;
};

TEST_F(DependenciesTest, NothingImportedNothingFound) {
  const auto r = walk({});
  EXPECT_TRUE(r.findings.empty());
  EXPECT_FALSE(r.blocks_load());
}

TEST_F(DependenciesTest, AMissingImportIsNamedWithEveryFolderSearched) {
  const auto r = walk({"VCRUNTIME140_1.dll"});
  ASSERT_EQ(r.findings.size(), 1u);
  const auto& f = r.findings[0];
  EXPECT_EQ(f.problem, DependencyProblem::kNotFound);
  EXPECT_EQ(f.dll, u"VCRUNTIME140_1.dll");
  EXPECT_EQ(f.importer, kProvider);
  EXPECT_FALSE(f.delay_load);
  EXPECT_TRUE(r.blocks_load());
  EXPECT_EQ(text::utf16_to_utf8(f.sentence(search_)),
            "fabrikam.dll imports VCRUNTIME140_1.dll: not found in C:\\Program Files\\Fabrikam, "
            "C:\\Windows\\System32, C:\\Windows, PATH (the test's)");
}

TEST_F(DependenciesTest, FoundInEachFolderOfTheSearchOrder) {
  fs_.add_file(u"C:\\Program Files\\Fabrikam\\own.dll", dll(kX64));
  fs_.add_file(u"C:\\Windows\\System32\\sys.dll", dll(kX64));
  fs_.add_file(u"C:\\Windows\\win.dll", dll(kX64));
  fs_.add_file(u"C:\\Tools\\onpath.dll", dll(kX64));
  const auto r = walk({"OWN.DLL", "sys.dll", "win.dll", "onpath.dll"});
  EXPECT_TRUE(r.findings.empty()) << text::utf16_to_utf8(r.findings[0].sentence(search_));
}

TEST_F(DependenciesTest, ANameWithoutExtensionGetsDotDll) {
  fs_.add_file(u"C:\\Windows\\System32\\helper.dll", dll(kX64));
  EXPECT_TRUE(walk({"helper"}).findings.empty());
}

TEST_F(DependenciesTest, ApiSetsKnownDllsAndLoadedModulesArePresent) {
  search_.known_dlls = {u"KERNEL32.dll"};
  search_.already_loaded = [](std::u16string_view name) { return text::iequals(name, u"loaded.dll"); };
  const auto r = walk({"api-ms-win-core-synch-l1-2-0.dll", "EXT-MS-win-foo-l1-1-0.dll", "kernel32.dll", "loaded.dll"});
  EXPECT_TRUE(r.findings.empty());
  EXPECT_TRUE(is_api_set_name(u"api-ms-win-crt-runtime-l1-1-0.dll"));
  EXPECT_FALSE(is_api_set_name(u"apimswin.dll"));
}

TEST_F(DependenciesTest, AWrongMachineCopyIsSkippedAndCountsAsMissingIfNothingElse) {
  fs_.add_file(u"C:\\Program Files\\Fabrikam\\dep.dll", dll(kX86));
  auto r = walk({"dep.dll"});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].problem, DependencyProblem::kWrongMachine);
  EXPECT_EQ(r.findings[0].found_path, u"C:\\Program Files\\Fabrikam\\dep.dll");
  EXPECT_EQ(r.findings[0].found_machine, kX86);
  EXPECT_NE(text::utf16_to_utf8(r.findings[0].sentence(search_)).find("an x86 DLL that an x64 process cannot load"),
            std::string::npos);
  // A right one later in the order is what the loader takes.
  fs_.add_file(u"C:\\Tools\\dep.dll", dll(kX64));
  r = walk({"dep.dll"});
  EXPECT_TRUE(r.findings.empty());
}

TEST_F(DependenciesTest, AFileThatIsNotADllStopsTheSearch) {
  fs_.add_file(u"C:\\Program Files\\Fabrikam\\dep.dll", {'n', 'o', 't', ' ', 'a', ' ', 'd', 'l', 'l'});
  fs_.add_file(u"C:\\Windows\\System32\\dep.dll", dll(kX64));
  const auto r = walk({"dep.dll"});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].problem, DependencyProblem::kUnreadable);
  EXPECT_EQ(r.findings[0].found_path, u"C:\\Program Files\\Fabrikam\\dep.dll");
}

TEST_F(DependenciesTest, AChainIsFollowedAndTheBottomNamedWithItsImporter) {
  // The second level is looked for in the provider's folder too (LOAD_WITH_ALTERED_SEARCH_PATH),
  // not in the folder of the DLL that imports it.
  fs_.add_file(u"C:\\Tools\\level1.dll", dll(kX64, {"level2.dll"}));
  fs_.add_file(u"C:\\Tools\\sub\\level2.dll", dll(kX64));
  const auto r = walk({"level1.dll"});
  ASSERT_EQ(r.findings.size(), 1u);
  const auto& f = r.findings[0];
  EXPECT_EQ(f.dll, u"level2.dll");
  EXPECT_EQ(f.importer, u"C:\\Tools\\level1.dll");
  EXPECT_EQ(f.chain, (std::vector<std::u16string>{u"fabrikam.dll", u"level1.dll"}));
  EXPECT_EQ(text::utf16_to_utf8(f.sentence(search_)).rfind("fabrikam.dll -> level1.dll imports level2.dll: not found in C:\\Program Files\\Fabrikam, ", 0), 0u);
  fs_.add_file(u"C:\\Program Files\\Fabrikam\\level2.dll", dll(kX64));
  EXPECT_TRUE(walk({"level1.dll"}).findings.empty());
}

TEST_F(DependenciesTest, DelayLoadsAreWarningsAndSoIsWhatTheyImport) {
  fs_.add_file(u"C:\\Tools\\lazy.dll", dll(kX64, {"lazydep.dll"}));
  const auto r = walk({"present.dll"}, {"absent.dll", "lazy.dll"});
  // present.dll is missing too: a load failure, listed first.
  ASSERT_EQ(r.findings.size(), 3u);
  EXPECT_EQ(r.findings[0].dll, u"present.dll");
  EXPECT_FALSE(r.findings[0].delay_load);
  EXPECT_TRUE(r.findings[1].delay_load);
  EXPECT_TRUE(r.findings[2].delay_load);
  EXPECT_EQ(r.findings[2].dll, u"lazydep.dll");
  EXPECT_NE(text::utf16_to_utf8(r.findings[1].sentence(search_)).find("delay-loads absent.dll"), std::string::npos);
  fs_.add_file(u"C:\\Windows\\System32\\present.dll", dll(kX64));
  const auto r2 = walk({"present.dll"}, {"absent.dll"});
  EXPECT_FALSE(r2.blocks_load());
  EXPECT_EQ(r2.findings.size(), 1u);
}

TEST_F(DependenciesTest, CyclesEndAndTheWalkIsBounded) {
  fs_.add_file(u"C:\\Tools\\a.dll", dll(kX64, {"b.dll"}));
  fs_.add_file(u"C:\\Tools\\b.dll", dll(kX64, {"a.dll", "fabrikam.dll"}));
  EXPECT_TRUE(walk({"a.dll"}).findings.empty());

  // A chain deeper than max_depth: the walk stops and says so.
  for (int i = 0; i < 10; ++i) {
    fs_.add_file(u"C:\\Tools\\d" + text::ascii(std::to_string(i)) + u".dll",
                 dll(kX64, {"d" + std::to_string(i + 1) + ".dll"}));
  }
  search_.max_depth = 3;
  const auto r = walk({"d0.dll"});
  EXPECT_TRUE(r.truncated);
  EXPECT_TRUE(r.findings.empty());
  search_.max_depth = 20;
  search_.max_files = 2;
  EXPECT_TRUE(walk({"d0.dll"}).truncated);
  search_.max_files = 64;
  const auto full = walk({"d0.dll"});
  EXPECT_FALSE(full.truncated);
  ASSERT_EQ(full.findings.size(), 1u);  // d10.dll does not exist
  EXPECT_EQ(full.findings[0].dll, u"d10.dll");
}

TEST_F(DependenciesTest, TheCacheReadsEachFileOnce) {
  fs_.add_file(u"C:\\Tools\\shared.dll", dll(kX64, {"deeper.dll"}));
  fs_.add_file(u"C:\\Tools\\deeper.dll", dll(kX64));
  DependencyCache cache;
  const auto first = walk({"shared.dll"}, {}, &cache);
  EXPECT_EQ(first.files_read, 2u);
  const auto second = walk({"shared.dll"}, {}, &cache);
  EXPECT_EQ(second.files_read, 0u);
  EXPECT_TRUE(second.findings.empty());
}

// Issue #12 item 1 / #14 item 1: a file is read again only when its stamp changed; a file with an
// identity is read once whatever view names it.
TEST(DependencyCacheTest, ReadsAFileAgainOnlyWhenItChanged) {
  MemoryFileSystem fs;
  fs.add_file(u"C:\\Fabrikam\\fab.dll", dll(kX64, {"a.dll"}));
  DependencyCache cache;
  size_t reads = 0;
  EXPECT_EQ(cache.get(fs, u"C:\\Fabrikam\\fab.dll", &reads).info.imports.size(), 1u);
  EXPECT_EQ(cache.get(fs, u"c:\\fabrikam\\FAB.dll", &reads).info.raw_machine, kX64);
  EXPECT_EQ(reads, 1u);
  cache.begin_pass();
  cache.get(fs, u"C:\\Fabrikam\\fab.dll", &reads);
  EXPECT_EQ(reads, 1u) << "unchanged: its stamp says so";
  // Replaced: a new stamp, read again at the next pass (not within the pass: it is one answer).
  fs.add_file(u"C:\\Fabrikam\\fab.dll", dll(kX86, {"a.dll", "b.dll"}));
  EXPECT_EQ(cache.get(fs, u"C:\\Fabrikam\\fab.dll", &reads).info.raw_machine, kX64);
  cache.begin_pass();
  EXPECT_EQ(cache.get(fs, u"C:\\Fabrikam\\fab.dll", &reads).info.raw_machine, kX86);
  EXPECT_EQ(reads, 2u);
  // A missing file is looked at again each pass: it may appear.
  EXPECT_EQ(cache.get(fs, u"C:\\Fabrikam\\new.dll", &reads).kind, FileKind::kMissing);
  fs.add_file(u"C:\\Fabrikam\\new.dll", dll(kX64));
  cache.begin_pass();
  EXPECT_EQ(cache.get(fs, u"C:\\Fabrikam\\new.dll", &reads).kind, FileKind::kFile);
  EXPECT_EQ(reads, 3u);
  // Forgetting: what nothing used since the last forgetting pass goes.
  cache.begin_pass(true);
  cache.get(fs, u"C:\\Fabrikam\\new.dll", &reads);
  cache.begin_pass(true);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(DependencyCacheTest, OneReadForBothViewsOfTheSameFile) {
  MemoryFileSystem fs;
  fs.add_file(u"C:\\Program Files\\Fabrikam\\fab.dll", dll(kX64));
  const Wow64FileSystem wow64(fs, u"C:\\Windows");
  DependencyCache cache;
  size_t reads = 0;
  cache.get(fs, u"C:\\Program Files\\Fabrikam\\fab.dll", &reads);
  cache.get(wow64, u"C:\\Program Files\\Fabrikam\\fab.dll", &reads);
  EXPECT_EQ(reads, 1u);
  EXPECT_EQ(cache.size(), 2u);  // two paths (one per view), one file read
}

TEST_F(DependenciesTest, TheSystemsOwnDllsAreNotFollowed) {
  // A DLL in System32 whose import is nowhere: Windows' own business, not the provider's.
  fs_.add_file(u"C:\\Windows\\System32\\sysdll.dll", dll(kX64, {"nowhere.dll"}));
  EXPECT_TRUE(walk({"sysdll.dll"}).findings.empty());
  // The same DLL on PATH is followed.
  fs_.add_file(u"C:\\Tools\\tooldll.dll", dll(kX64, {"nowhere.dll"}));
  const auto r = walk({"tooldll.dll"});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].importer, u"C:\\Tools\\tooldll.dll");
}

TEST_F(DependenciesTest, RelativeAndEmptyPathEntriesAreIgnored) {
  search_.directories = {u"C:\\Windows\\System32", u"C:\\Windows", u"tools", u"", u"C:rel"};
  search_.path_entries = 3;
  const auto r = walk({"x.dll"});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].searched,
            (std::vector<std::u16string>{u"C:\\Program Files\\Fabrikam", u"C:\\Windows\\System32", u"C:\\Windows"}));
}

// One rule for the service's walk and the stub's diagnosis (load_failure.cpp).
TEST(SplitPathVariable, AsTheLoaderSearchesIt) {
  EXPECT_EQ(split_path_variable(u"C:\\Tools;;\"C:\\Quoted\\\";C:\\Trailing\\\\;C:\\;D:/x/;rel"),
            (std::vector<std::u16string>{u"C:\\Tools", u"C:\\Quoted", u"C:\\Trailing", u"C:\\", u"D:/x", u"rel"}));
  EXPECT_TRUE(split_path_variable(u"").empty());
  EXPECT_TRUE(split_path_variable(u";;;").empty());
  EXPECT_TRUE(split_path_variable(u"\"\"").empty()) << "quotes around nothing";
  EXPECT_EQ(split_path_variable(u"\"").size(), 1u) << "a lone quote is an entry as it is";
  EXPECT_EQ(split_path_variable(u"a;b;c;d", 2), (std::vector<std::u16string>{u"a", u"b"}));
}

// ---- The resolver's use ------------------------------------------------------------------------

class NoVariables final : public Environment {
 public:
  std::optional<std::u16string> lookup(std::u16string_view name) const override {
    if (text::iequals(name, u"SystemRoot")) return u"C:\\Windows";
    if (text::iequals(name, u"PATH")) return u"C:\\Tools;;\"C:\\Quoted\\\"";
    return std::nullopt;
  }
  std::u16string description() const override { return u"the test's environment"; }
};

// HKLM's default client "Fabrikam", its DLLPath `dll_path`.
void set_default_client(MemoryRegistry* reg, std::u16string_view dll_path) {
  reg->set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail", u"", make_reg_string(u"Fabrikam"));
  reg->set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Fabrikam", u"DLLPath", make_reg_string(dll_path));
}

TEST(ResolverDependencies, AWarningInTheReasonNeverAnotherStatus) {
  MemoryRegistry reg;
  set_default_client(&reg, u"C:\\Program Files\\Fabrikam\\fabrikam.dll");
  MemoryFileSystem fs;
  fs.add_file(u"C:\\Program Files\\Fabrikam\\fabrikam.dll", dll(kX64, {"VCRUNTIME140_1.dll", "KERNEL32.dll"}));
  fs.add_directory(u"C:\\Windows\\System32");
  MemoryMsiComponents msi(false, u"none");
  NoVariables env;
  const ResolverServices services{reg, fs, msi, env};
  ResolverOptions opts;
  opts.known_dlls = {u"kernel32.dll"};

  ScopeResolution off, on;
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), services, opts, &off), ResolveStatus::kOk);
  EXPECT_EQ(off.simple.status, TargetStatus::kFound);
  EXPECT_FALSE(reports_unloadable_dependency(off.simple));

  opts.check_dependencies = true;
  Explanation why;
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), services, opts, &on, &why), ResolveStatus::kOk);
  EXPECT_EQ(on.simple.status, TargetStatus::kFound);  // loadable: the stub still tries
  EXPECT_TRUE(reports_unloadable_dependency(on.simple));
  const std::string reason = text::utf16_to_utf8(on.simple.reason);
  EXPECT_EQ(reason.rfind("warning: will not load here: fabrikam.dll imports VCRUNTIME140_1.dll: not found in "
                         "C:\\Program Files\\Fabrikam, C:\\Windows\\System32, C:\\Windows, PATH (as the test's "
                         "environment has it; a process can have its own)", 0),
            0u)
      << reason;
  EXPECT_NE(reason.find("The stub still loads it when called"), std::string::npos);
  const ExplanationStep* step = why.find("dependency");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->value, u"VCRUNTIME140_1.dll");
  EXPECT_EQ(step->key, u"C:\\Program Files\\Fabrikam\\fabrikam.dll");

  // Fixed: the quoted PATH entry is searched too, and the reason is the plain one again.
  fs.add_file(u"C:\\Quoted\\VCRUNTIME140_1.dll", dll(kX64));
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), services, opts, &on), ResolveStatus::kOk);
  EXPECT_FALSE(reports_unloadable_dependency(on.simple));
  EXPECT_EQ(on.simple, off.simple);
}

TEST(ResolverDependencies, MissingExportsAndAMissingDependencyBothShow) {
  MemoryRegistry reg;
  set_default_client(&reg, u"C:\\Fabrikam\\fabrikam.dll");
  PeSpec s;
  s.exports = {"MAPISendMail"};
  s.imports = {"gone.dll"};
  s.delay_imports = {"later.dll"};
  MemoryFileSystem fs;
  fs.add_file(u"C:\\Fabrikam\\fabrikam.dll", build_pe(s));
  MemoryMsiComponents msi(false, u"none");
  NoVariables env;
  ResolverOptions opts;
  opts.check_dependencies = true;
  ScopeResolution r;
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), ResolverServices{reg, fs, msi, env}, opts, &r), ResolveStatus::kOk);
  EXPECT_EQ(r.simple.status, TargetStatus::kMissingExports);
  const std::string reason = text::utf16_to_utf8(r.simple.reason);
  EXPECT_EQ(reason.rfind("warning: will not load here: fabrikam.dll imports gone.dll", 0), 0u) << reason;
  EXPECT_NE(reason.find("fabrikam.dll delay-loads later.dll"), std::string::npos) << reason;
  EXPECT_NE(reason.find("lacks the Simple MAPI entry points"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("warning: ", 1), std::string::npos) << "one warning prefix: " << reason;
}

// 64-bit Windows: each provider is checked in the view whose processes can load it, with that
// view's folders (SysWOW64 for x86 through WOW64 redirection), and only there.
TEST(ResolverDependencies, EachMachineIsCheckedInItsOwnViewWithItsFolders) {
  MemoryRegistry reg;
  set_default_client(&reg, u"C:\\Fabrikam\\f32.dll");
  reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Fabrikam", u"DLLPathEx",
                make_reg_string(u"C:\\Fabrikam\\f64.dll"));
  MemoryFileSystem fs;
  fs.add_file(u"C:\\Fabrikam\\f32.dll", dll(kX86, {"only32.dll"}));
  fs.add_file(u"C:\\Fabrikam\\f64.dll", dll(kX64, {"only64.dll"}));
  fs.add_file(u"C:\\Windows\\SysWOW64\\only32.dll", dll(kX86));
  fs.add_file(u"C:\\Windows\\System32\\only64.dll", dll(kX64));
  const Wow64FileSystem wow64(fs, u"C:\\Windows");
  MemoryMsiComponents msi(false, u"none");
  NoVariables env;
  ResolverOptions opts;
  opts.check_dependencies = true;

  // Native view: the x64 provider is checked (found in System32); the x86 one is not checked
  // here (System32 has no x86 DLLs; its imports would all look wrong).
  Explanation why;
  ScopeResolution native;
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), ResolverServices{reg, fs, msi, env}, opts, &native, &why),
            ResolveStatus::kOk);
  EXPECT_EQ(native.extended.reason.find(u"warning"), std::u16string::npos) << text::utf16_to_utf8(native.extended.reason);
  EXPECT_EQ(native.simple.reason.find(u"warning"), std::u16string::npos) << text::utf16_to_utf8(native.simple.reason);
  // The 32-bit view: System32 means SysWOW64, where only32.dll is; the x64 provider is not its.
  opts.view = RegView::k32;
  opts.system_directory = u"C:\\Windows\\SysWOW64";
  ScopeResolution w;
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), ResolverServices{reg, wow64, msi, env}, opts, &w), ResolveStatus::kOk);
  EXPECT_EQ(w.simple.reason.find(u"warning"), std::u16string::npos) << text::utf16_to_utf8(w.simple.reason);
  EXPECT_EQ(w.extended.reason.find(u"warning"), std::u16string::npos) << text::utf16_to_utf8(w.extended.reason);
  // Without the 32-bit copy, the 32-bit view says so, naming SysWOW64.
  MemoryFileSystem fs2;
  fs2.add_file(u"C:\\Fabrikam\\f32.dll", dll(kX86, {"only32.dll"}));
  fs2.add_file(u"C:\\Fabrikam\\f64.dll", dll(kX64, {"only64.dll"}));
  fs2.add_file(u"C:\\Windows\\System32\\only32.dll", dll(kX64));  // the 64-bit one of that name
  fs2.add_directory(u"C:\\Windows\\SysWOW64");
  const Wow64FileSystem wow64b(fs2, u"C:\\Windows");
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), ResolverServices{reg, wow64b, msi, env}, opts, &w), ResolveStatus::kOk);
  EXPECT_TRUE(reports_unloadable_dependency(w.simple));
  EXPECT_NE(text::utf16_to_utf8(w.simple.reason)
                .find("f32.dll imports only32.dll: not found in C:\\Fabrikam, C:\\Windows\\SysWOW64, C:\\Windows, PATH"),
            std::string::npos)
      << text::utf16_to_utf8(w.simple.reason);
}

TEST(ResolverDependencies, KnownDllsAreReadFromTheRegistry) {
  MemoryRegistry reg;
  const std::u16string key = u"SYSTEM\\CurrentControlSet\\Control\\Session Manager\\KnownDLLs";
  reg.set_value(RegRoot::kLocalMachine, key, u"kernel32", make_reg_string(u"kernel32.dll"));
  reg.set_value(RegRoot::kLocalMachine, key, u"bad", make_reg_string(u"C:\\x\\y.dll"));
  reg.set_value(RegRoot::kLocalMachine, key, u"dword", make_reg_dword(1));
  EXPECT_EQ(read_known_dlls(reg), std::vector<std::u16string>{u"kernel32.dll"});
  EXPECT_TRUE(read_known_dlls(MemoryRegistry()).empty());
}

TEST(DependencyCacheTest, TheResolverReadsEachProviderOncePerPass) {
  MemoryRegistry reg;
  set_default_client(&reg, u"C:\\Fabrikam\\fabrikam.dll");
  MemoryFileSystem fs;
  fs.add_file(u"C:\\Fabrikam\\fabrikam.dll", dll(kX64, {"gone.dll"}));
  MemoryMsiComponents msi(false, u"none");
  NoVariables env;
  DependencyCache cache;
  ResolverOptions opts;
  opts.check_dependencies = true;
  opts.dependency_cache = &cache;
  ScopeResolution a, b;
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), ResolverServices{reg, fs, msi, env}, opts, &a), ResolveStatus::kOk);
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), ResolverServices{reg, fs, msi, env}, opts, &b), ResolveStatus::kOk);
  EXPECT_EQ(cache.reads(), 1u);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(reports_unloadable_dependency(a.simple));
  // The provider replaced by one that imports nothing: the next pass says so.
  fs.add_file(u"C:\\Fabrikam\\fabrikam.dll", dll(kX64));
  cache.begin_pass();
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), ResolverServices{reg, fs, msi, env}, opts, &b), ResolveStatus::kOk);
  EXPECT_FALSE(reports_unloadable_dependency(b.simple));
  EXPECT_EQ(cache.reads(), 2u);
}

}  // namespace
}  // namespace mapidispatch
