// Copyright MapiDispatch authors.
//
// The resolver on Windows for real: every case of resolver_cases.cpp against the real registry
// (the export written into a scratch key under HKCU\Software\MapiDispatchTest, which the
// Win32Registry's roots are re-based to), the Win32 registry's own behaviour, the live file
// system on generated PE files and on a linker-made DLL, Windows Installer, the environment.

#include <gtest/gtest.h>

#include <windows.h>

#include <algorithm>
#include <cstring>

#include "../support/test_main.h"
#include "mapidispatch/reg_file.h"
#include "mapidispatch/text.h"
#include "mapidispatch/win32/registry_win.h"
#include "mapidispatch/win32/resolver_win.h"
#include "mapidispatch/win32/unique_hkey.h"
#include "pe_builder.h"
#include "resolver_cases.h"

namespace mapidispatch {
namespace {

using win32::UniqueHkey;

std::wstring wide(std::u16string_view s) { return std::wstring(s.begin(), s.end()); }
std::wstring wide_ascii(const std::string& s) { return std::wstring(s.begin(), s.end()); }
std::string u8(std::u16string_view s) { return text::utf16_to_utf8(s); }

// A scratch key HKCU\Software\MapiDispatchTest\<unique> with HKLM, HKCU and HKU below it,
// deleted with everything in it at the end.
class ScratchRegistry {
 public:
  ScratchRegistry() {
    std::string name = test::unique_name("scratch");
    for (char& c : name) {
      if (c == '\\' || c == '/') c = '-';
    }
    path_ = L"Software\\MapiDispatchTest\\" + wide_ascii(name);
    for (const wchar_t* root : {L"HKLM", L"HKCU", L"HKU"}) {
      UniqueHkey k;
      const LONG rc = ::RegCreateKeyExW(HKEY_CURRENT_USER, (path_ + L"\\" + root).c_str(), 0, nullptr, 0,
                                        KEY_ALL_ACCESS, nullptr, k.put(), nullptr);
      EXPECT_EQ(rc, ERROR_SUCCESS) << "RegCreateKeyExW";
    }
  }
  ~ScratchRegistry() {
    ::RegDeleteTreeW(HKEY_CURRENT_USER, path_.c_str());
    // The parent too, once no other test run uses it.
    ::RegDeleteKeyW(HKEY_CURRENT_USER, L"Software\\MapiDispatchTest");
  }
  win32::RegistryRoots roots() const {
    win32::RegistryRoots r;
    r.local_machine = r.current_user = r.users = HKEY_CURRENT_USER;
    r.local_machine_path = path_ + L"\\HKLM";
    r.current_user_path = path_ + L"\\HKCU";
    r.users_path = path_ + L"\\HKU";
    return r;
  }
  std::wstring root_path(RegRoot root) const {
    switch (root) {
      case RegRoot::kLocalMachine: return path_ + L"\\HKLM";
      case RegRoot::kCurrentUser: return path_ + L"\\HKCU";
      case RegRoot::kUsers: return path_ + L"\\HKU";
    }
    return path_;
  }

  // Writes every key and value (raw type and bytes) of `src` below the matching scratch root.
  void load(const MemoryRegistry& src) {
    for (const RegRoot root : {RegRoot::kLocalMachine, RegRoot::kCurrentUser, RegRoot::kUsers}) {
      std::unique_ptr<RegistryKey> from;
      ASSERT_FALSE(src.open(root, u"", RegView::k64, &from));
      UniqueHkey to;
      ASSERT_EQ(::RegOpenKeyExW(HKEY_CURRENT_USER, root_path(root).c_str(), 0, KEY_ALL_ACCESS, to.put()), ERROR_SUCCESS);
      copy(*from, to.get(), 0);
    }
  }

 private:
  static void copy(const RegistryKey& from, HKEY to, int depth) {
    ASSERT_LT(depth, 600);
    std::vector<std::u16string> names;
    bool truncated = false;
    ASSERT_FALSE(from.value_names(1 << 20, &names, &truncated));
    for (const auto& n : names) {
      RegValue v;
      ASSERT_FALSE(from.read_value(n, &v));
      const LONG rc = ::RegSetValueExW(to, wide(n).c_str(), 0, v.type, v.data.empty() ? nullptr : v.data.data(),
                                       static_cast<DWORD>(v.data.size()));
      ASSERT_EQ(rc, ERROR_SUCCESS) << "RegSetValueExW " << u8(n);
    }
    ASSERT_FALSE(from.subkey_names(1 << 20, &names, &truncated));
    for (const auto& n : names) {
      std::unique_ptr<RegistryKey> sub;
      ASSERT_FALSE(from.open_subkey(n, &sub));
      UniqueHkey child;
      ASSERT_EQ(::RegCreateKeyExW(to, wide(n).c_str(), 0, nullptr, 0, KEY_ALL_ACCESS, nullptr, child.put(), nullptr),
                ERROR_SUCCESS);
      copy(*sub, child.get(), depth + 1);
    }
  }

  std::wstring path_;
};

class RealRegistryRules : public ::testing::TestWithParam<test::ResolverCase> {};

TEST_P(RealRegistryRules, GiveTheSameAnswerAsTheExport) {
  const test::ResolverCase& c = GetParam();
  MemoryRegistry memory;
  const std::string text = test::export_text(c);
  ASSERT_TRUE(parse_reg_file({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, &memory).ok);
  ScratchRegistry scratch;
  ASSERT_NO_FATAL_FAILURE(scratch.load(memory));
  const win32::Win32Registry live(scratch.roots());
  test::World world;
  if (c.setup) c.setup(world);
  const test::Outcome o = test::resolve_with(live, world);
  ASSERT_EQ(o.status, ResolveStatus::kOk);
  SCOPED_TRACE("explanation:\n" + o.text());
  c.verify(o);
  // And exactly what the in-memory registry gives. Overrides compare as sets: Wine enumerates
  // values sorted by name, Windows and MemoryRegistry in creation order; when they are cut at
  // max_overrides, which ones are kept depends on that order, so only their number is compared.
  test::World again;
  if (c.setup) c.setup(again);
  test::Outcome m = test::resolve_with(memory, again);
  ScopeResolution real = o.r;
  for (ScopeResolution* r : {&real, &m.r}) {
    std::sort(r->overrides.begin(), r->overrides.end(),
              [](const AppOverride& a, const AppOverride& b) { return text::fold(a.module) < text::fold(b.module); });
  }
  if (real.overrides.size() == again.options.max_overrides) {
    EXPECT_EQ(real.overrides.size(), m.r.overrides.size());
    real.overrides.clear();
    m.r.overrides.clear();
  }
  EXPECT_EQ(real, m.r);
}

INSTANTIATE_TEST_SUITE_P(Cases, RealRegistryRules, ::testing::ValuesIn(test::resolver_cases()),
                         [](const auto& p) { return p.param.name; });

// read_allow_unc_paths() through the Win32 registry (the stub's call), its roots re-based.
class RealRegistryUncPolicy : public ::testing::TestWithParam<test::UncPolicyCase> {};

TEST_P(RealRegistryUncPolicy, ReadAsTheServiceAppliesIt) {
  MemoryRegistry memory;
  test::write_unc_policy(GetParam(), &memory);
  ScratchRegistry scratch;
  ASSERT_NO_FATAL_FAILURE(scratch.load(memory));
  EXPECT_EQ(read_allow_unc_paths(win32::Win32Registry(scratch.roots())), GetParam().allowed);
}

INSTANTIATE_TEST_SUITE_P(Cases, RealRegistryUncPolicy, ::testing::ValuesIn(test::unc_policy_cases()),
                         [](const auto& p) { return p.param.name; });

TEST(Win32Registry, ReadsTypesEnumeratesAndReportsMissing) {
  ScratchRegistry scratch;
  MemoryRegistry memory;
  ASSERT_FALSE(memory.set_value(RegRoot::kLocalMachine, u"Software\\A", u"s", make_reg_string(u"text")));
  ASSERT_FALSE(memory.set_value(RegRoot::kLocalMachine, u"Software\\A", u"", make_reg_dword(7)));
  ASSERT_FALSE(memory.set_value(RegRoot::kLocalMachine, u"Software\\A", u"big", make_reg_string(std::u16string(40000, u'x'))));
  ASSERT_FALSE(memory.create_key(RegRoot::kLocalMachine, u"Software\\A\\Sub1"));
  ASSERT_FALSE(memory.create_key(RegRoot::kLocalMachine, u"Software\\A\\Sub2"));
  ASSERT_NO_FATAL_FAILURE(scratch.load(memory));
  const win32::Win32Registry real(scratch.roots());
  for (const RegView view : {RegView::kDefault, RegView::k64, RegView::k32}) {
    std::unique_ptr<RegistryKey> k;
    ASSERT_FALSE(real.open(RegRoot::kLocalMachine, u"software\\a", view, &k));
    RegValue v;
    ASSERT_FALSE(k->read_value(u"S", &v));
    EXPECT_EQ(v, make_reg_string(u"text"));
    ASSERT_FALSE(k->read_value(u"", &v));
    EXPECT_EQ(v, make_reg_dword(7));
    ASSERT_FALSE(k->read_value(u"big", &v));  // past the first buffer: the ERROR_MORE_DATA path
    EXPECT_EQ(v.data.size(), 80002u);
    EXPECT_TRUE(is_not_found(k->read_value(u"nope", &v)));
    std::vector<std::u16string> names;
    bool truncated = false;
    ASSERT_FALSE(k->subkey_names(10, &names, &truncated));
    EXPECT_EQ(names, (std::vector<std::u16string>{u"Sub1", u"Sub2"}));
    ASSERT_FALSE(k->subkey_names(1, &names, &truncated));
    EXPECT_TRUE(truncated);
    ASSERT_FALSE(k->value_names(10, &names, &truncated));
    EXPECT_EQ(names.size(), 3u);
    std::unique_ptr<RegistryKey> sub;
    EXPECT_FALSE(k->open_subkey(u"SUB2", &sub));
    EXPECT_TRUE(is_not_found(k->open_subkey(u"Sub3", &sub)));
  }
  std::unique_ptr<RegistryKey> k;
  const std::error_code ec = real.open(RegRoot::kLocalMachine, u"Software\\Missing", RegView::kDefault, &k);
  EXPECT_TRUE(is_not_found(ec)) << ec.message();
  EXPECT_EQ(ec.category(), std::system_category());
}

TEST(Win32Registry, ListsUserScopesUnderARebasedHkeyUsers) {
  ScratchRegistry scratch;
  MemoryRegistry memory;
  ASSERT_FALSE(memory.create_key(RegRoot::kUsers, u"S-1-5-21-1-2-3-1001\\Software\\Clients\\Mail"));
  ASSERT_FALSE(memory.create_key(RegRoot::kUsers, u"S-1-5-21-1-2-3-1001_Classes\\Software\\Clients\\Mail"));
  ASSERT_FALSE(memory.create_key(RegRoot::kUsers, u"S-1-5-21-1-2-3-1002\\Software"));
  ASSERT_NO_FATAL_FAILURE(scratch.load(memory));
  const win32::Win32Registry real(scratch.roots());
  std::vector<std::u16string> sids;
  ASSERT_FALSE(list_user_scopes(real, &sids));
  EXPECT_EQ(sids, std::vector<std::u16string>{u"S-1-5-21-1-2-3-1001"});
}

TEST(Win32Registry, RealHkeyUsersCanBeListed) {
  // The predefined root itself (an empty path) is used, never closed.
  const win32::Win32Registry real;
  std::vector<std::u16string> sids;
  EXPECT_FALSE(list_user_scopes(real, &sids));
  EXPECT_FALSE(list_user_scopes(real, &sids));
}

// ---- Files ----------------------------------------------------------------------------------------

std::u16string temp_dir() {
  wchar_t buf[MAX_PATH + 1];
  const DWORD n = ::GetTempPathW(MAX_PATH + 1, buf);
  std::u16string d(buf, buf + n);
  std::string name = test::unique_name("md-files");
  for (char& c : name) {
    if (c == '\\' || c == '/') c = '-';
  }
  d += text::ascii(name);
  ::CreateDirectoryW(wide(d).c_str(), nullptr);
  return d;
}

void write_file(const std::u16string& path, const std::vector<uint8_t>& bytes) {
  win32::UniqueKernelHandle f(::CreateFileW(wide(path).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                                            FILE_ATTRIBUTE_NORMAL, nullptr));
  ASSERT_TRUE(f.is_valid()) << "CreateFileW " << ::GetLastError();
  DWORD written = 0;
  ASSERT_TRUE(::WriteFile(f.get(), bytes.data(), static_cast<DWORD>(bytes.size()), &written, nullptr));
}

// The linker-made DLL's path as Windows sees it (Wine maps the Linux root to Z:).
std::u16string fake_provider_path() {
  std::string p = MD_FAKE_PROVIDER;
  if (!p.empty() && p[0] == '/') p = "Z:" + p;
  for (char& c : p) {
    if (c == '/') c = '\\';
  }
  return text::utf8_to_utf16(p);
}

TEST(Win32Files, ReadsALinkerMadeProviderDll) {
  const win32::Win32FileSystem fs;
  const std::u16string dll = fake_provider_path();
  std::error_code ec;
  ASSERT_EQ(fs.stat(dll, &ec), FileKind::kFile) << u8(dll) << " " << ec.message();
  std::unique_ptr<ByteSource> src;
  ASSERT_FALSE(fs.open(dll, &src));
  PeInfo info;
  std::string reason;
  ASSERT_EQ(read_pe_image(*src, &info, &reason), PeStatus::kOk) << reason;
  EXPECT_EQ(info.raw_machine, MD_FAKE_PROVIDER_MACHINE);
  EXPECT_TRUE(info.is_dll);
  EXPECT_TRUE(missing_exports(info, ExportFamily::kSimple).empty());
  EXPECT_TRUE(missing_exports(info, ExportFamily::kExtended).empty());
}

TEST(Win32Files, ResolvesAgainstTheLiveFileSystem) {
  const std::u16string dir = temp_dir();
  write_file(dir + u"\\provider32.dll", test::provider_dll(0x014c));
  write_file(dir + u"\\notes.txt", {'h', 'i'});
  const std::u16string dll = fake_provider_path();
  MemoryRegistry reg;
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail", u"", make_reg_string(u"Real")));
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Real", u"DLLPath", make_reg_string(dll)));
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Real", u"DLLPathEx",
                             make_reg_string(dir + u"\\PROVIDER32.DLL")));
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Notes", u"DLLPath",
                             make_reg_string(dir + u"\\notes.txt")));
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"SOFTWARE\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps",
                             u"notes.exe", make_reg_string(u"Notes")));
  const win32::Win32FileSystem fs;
  const win32::Win32MsiComponents msi;
  const win32::Win32Environment env;
  ResolverOptions options;
  options.stub_paths = win32::default_stub_paths();
  options.system_directory = dir;
  options.process_machine = static_cast<PeMachine>(MD_FAKE_PROVIDER_MACHINE);
  ScopeResolution r;
  Explanation why;
  ASSERT_EQ(resolve_scope(ScopeRequest::machine(), {reg, fs, msi, env}, options, &r, &why), ResolveStatus::kOk);
  SCOPED_TRACE(explanation_to_text(why));
  EXPECT_EQ(r.simple.status, TargetStatus::kFound) << u8(r.simple.reason);
  EXPECT_EQ(r.simple.machine, static_cast<PeMachine>(MD_FAKE_PROVIDER_MACHINE));
  if (MD_FAKE_PROVIDER_MACHINE == 0x8664) {
    EXPECT_EQ(r.extended.status, TargetStatus::kWrongBitness) << u8(r.extended.reason);
  }
  ASSERT_EQ(r.overrides.size(), 1u);
  EXPECT_EQ(r.overrides[0].simple.status, TargetStatus::kNotADll) << u8(r.overrides[0].simple.reason);
  EXPECT_EQ(r.mapi32x.status, TargetStatus::kMissing);
  ::DeleteFileW(wide(dir + u"\\provider32.dll").c_str());
  ::DeleteFileW(wide(dir + u"\\notes.txt").c_str());
  ::RemoveDirectoryW(wide(dir).c_str());
}

TEST(Win32Files, SameFileThroughAnotherSpelling) {
  const win32::Win32FileSystem fs;
  const std::u16string dir = temp_dir();
  write_file(dir + u"\\stub.dll", test::provider_dll());
  EXPECT_TRUE(fs.same_file(dir + u"\\stub.dll", dir + u"\\STUB.DLL"));
  EXPECT_TRUE(fs.same_file(dir + u"/stub.dll", dir + u"\\stub.dll"));
  EXPECT_FALSE(fs.same_file(dir + u"\\stub.dll", fake_provider_path()));
  std::error_code ec;
  EXPECT_EQ(fs.stat(dir + u"\\missing.dll", &ec), FileKind::kMissing);
  EXPECT_FALSE(ec);
  EXPECT_EQ(fs.stat(dir, &ec), FileKind::kDirectory);
  ::DeleteFileW(wide(dir + u"\\stub.dll").c_str());
  ::RemoveDirectoryW(wide(dir).c_str());
}

TEST(Win32Files, LongPathsAreReadable) {
  std::u16string dir = temp_dir();
  const std::u16string base = dir;
  std::vector<std::u16string> made;
  while (dir.size() < 300) {
    dir += u"\\" + std::u16string(60, u'd');
    ASSERT_TRUE(::CreateDirectoryW(wide(u"\\\\?\\" + dir).c_str(), nullptr)) << ::GetLastError();
    made.push_back(dir);
  }
  const std::u16string file = dir + u"\\p.dll";
  write_file(u"\\\\?\\" + file, test::provider_dll());
  const win32::Win32FileSystem fs;
  std::error_code ec;
  EXPECT_EQ(fs.stat(file, &ec), FileKind::kFile) << ec.message();
  std::unique_ptr<ByteSource> src;
  EXPECT_FALSE(fs.open(file, &src));
  ::DeleteFileW(wide(u"\\\\?\\" + file).c_str());
  for (auto it = made.rbegin(); it != made.rend(); ++it) ::RemoveDirectoryW(wide(u"\\\\?\\" + *it).c_str());
  ::RemoveDirectoryW(wide(base).c_str());
}

// ---- Windows Installer, environment, the live resolution -----------------------------------------

TEST(Win32Msi, UnknownComponentIsNotInstalledAndNothingIsInstalled) {
  const win32::Win32MsiComponents msi;
  const MsiAnswer a = msi.provide_qualified_component(u"{6F1C3A35-2F0B-4E63-9C2B-5A3A0B0D4E11}", u"1033\\NT");
  EXPECT_EQ(a.status, MsiStatus::kNotInstalled) << a.error.value();
  EXPECT_TRUE(a.path.empty());
}

bool under_wine() {
  return ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != nullptr;
}

// The registry's packed GUID: "{01234567-89AB-CDEF-0123-456789ABCDEF}" is
// "76543210BA98FEDC1032547698BADCFE" (the first three groups reversed, then each byte's digits
// swapped).
std::wstring packed_guid(std::wstring_view g) {
  const std::wstring hex = std::wstring(g.substr(1, 8)) + std::wstring(g.substr(10, 4)) + std::wstring(g.substr(15, 4)) +
                           std::wstring(g.substr(20, 4)) + std::wstring(g.substr(25, 12));
  std::wstring out(hex.rbegin() + 24, hex.rend());                      // first group
  out.append(hex.rbegin() + 20, hex.rbegin() + 24);                      // second
  out.append(hex.rbegin() + 16, hex.rbegin() + 20);                      // third
  for (size_t i = 16; i < 32; i += 2) out += {hex[i + 1], hex[i]};       // the eight bytes
  return out;
}

// A GUID as Windows Installer's descriptors write it: its four 32-bit words in memory order,
// each as five base-85 digits, least significant first.
std::wstring descriptor_guid(const GUID& g) {
  static constexpr char kDigits[] =
      "!$%&'()*+,-.0123456789=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{}~";
  uint32_t words[4];
  std::memcpy(words, &g, sizeof words);
  std::wstring out;
  for (uint32_t w : words) {
    for (int i = 0; i < 5; ++i, w /= 85) out += static_cast<wchar_t>(kDigits[w % 85]);
  }
  return out;
}

// ERROR_FILE_NOT_FOUND, INSTALLMODE_EXISTING's "the feature is absent or broken": a qualifier
// published (advertised) for a product that is not installed. Wine reads publications from
// HKCU\Software\Microsoft\Installer\Components\<packed category>, one value per qualifier
// holding a descriptor (product, feature, component); Windows keeps its own, elsewhere.
TEST(Win32Msi, PublishedForAProductNotInstalledIsFeatureAbsent) {
  if (!under_wine()) GTEST_SKIP() << "publishes a component where Wine's msi.dll reads it";
  const std::wstring category = L"{6F1C3A35-2F0B-4E63-9C2B-5A3A0B0D4E12}";
  const std::wstring key = L"Software\\Microsoft\\Installer\\Components\\" + packed_guid(category);
  // A product and a component that nothing installed.
  const GUID product{0x0D7A2C39, 0x5B1E, 0x4F5A, {0x9E, 0x8D, 0x3C, 0x2B, 0x1A, 0x0F, 0x9E, 0x8D}};
  const GUID component{0x8E9F0A1B, 0x2C3D, 0x4E5F, {0x8A, 0x9B, 0x0C, 0x1D, 0x2E, 0x3F, 0x4A, 0x5B}};
  std::wstring descriptor = descriptor_guid(product) + L"Mail>" + descriptor_guid(component);
  descriptor.append(2, L'\0');  // REG_MULTI_SZ, as Windows Installer writes publications
  UniqueHkey k;
  ASSERT_EQ(::RegCreateKeyExW(HKEY_CURRENT_USER, key.c_str(), 0, nullptr, 0, KEY_ALL_ACCESS, nullptr, k.put(), nullptr),
            ERROR_SUCCESS);
  ASSERT_EQ(::RegSetValueExW(k.get(), L"1033\\NT", 0, REG_MULTI_SZ, reinterpret_cast<const BYTE*>(descriptor.data()),
                             static_cast<DWORD>(descriptor.size() * sizeof(wchar_t))),
            ERROR_SUCCESS);
  const win32::Win32MsiComponents msi;
  const std::u16string c(category.begin(), category.end());
  const MsiAnswer a = msi.provide_qualified_component(c, u"1033\\NT");
  const MsiAnswer other = msi.provide_qualified_component(c, u"1033");
  ::RegDeleteTreeW(HKEY_CURRENT_USER, key.c_str());
  EXPECT_EQ(a.status, MsiStatus::kFeatureAbsent) << a.error.value();
  EXPECT_EQ(a.error.value(), ERROR_FILE_NOT_FOUND);
  EXPECT_TRUE(a.path.empty());
  EXPECT_EQ(other.status, MsiStatus::kQualifierAbsent) << other.error.value();
}

TEST(Win32Environment, ExpandsAndNamesUndefinedVariables) {
  ASSERT_TRUE(::SetEnvironmentVariableW(L"MD_RESOLVER_TEST", L"C:\\Mail"));
  ::SetEnvironmentVariableW(L"MD_RESOLVER_UNSET", nullptr);
  const win32::Win32Environment env;
  std::u16string out, undefined;
  EXPECT_EQ(env.expand(u"%md_resolver_test%\\x.dll", kMaxPathChars, &out, &undefined), ExpandStatus::kOk);
  EXPECT_EQ(out, u"C:\\Mail\\x.dll");
  EXPECT_EQ(env.expand(u"%MD_RESOLVER_UNSET%\\x.dll", kMaxPathChars, &out, &undefined), ExpandStatus::kUndefined);
  EXPECT_EQ(undefined, u"MD_RESOLVER_UNSET");
  EXPECT_EQ(env.expand(u"%MD_RESOLVER_TEST%", 3, &out, &undefined), ExpandStatus::kTooLong);
  EXPECT_EQ(env.lookup(u"MD_RESOLVER_TEST"), u"C:\\Mail");
  EXPECT_EQ(env.lookup(u"MD_RESOLVER_UNSET"), std::nullopt);
}

TEST(Win32Live, ResolvesTheCurrentUserWithoutThrowing) {
  ScopeResolution r;
  Explanation why;
  EXPECT_EQ(win32::resolve_live(ScopeRequest::current_user({}), {}, &r, &why), ResolveStatus::kOk);
  EXPECT_EQ(r.kind, ScopeKind::kUser);
  EXPECT_FALSE(why.steps.empty());
  EXPECT_FALSE(win32::system_directory().empty());
  EXPECT_NE(r.mapi32x.path.find(u"mapi32x.dll"), std::u16string::npos);
}

TEST(Win32Live, AnotherUsersScopeUsesThatUsersVariables) {
  // The service resolving HKEY_USERS\<sid>: not LocalSystem's environment, the user's.
  ScopeResolution r;
  Explanation why;
  EXPECT_EQ(win32::resolve_live(ScopeRequest::user_from_users(u"S-1-5-21-0-0-0-4242"), {}, &r, &why), ResolveStatus::kOk);
  EXPECT_EQ(r.sid, u"S-1-5-21-0-0-0-4242");
  const ExplanationStep* options = why.find("options");
  ASSERT_NE(options, nullptr);
  EXPECT_NE(u8(options->detail).find("derived from the registry"), std::string::npos) << u8(options->detail);
}

}  // namespace
}  // namespace mapidispatch
