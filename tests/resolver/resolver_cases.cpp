// Copyright MapiDispatch authors.

#include "resolver_cases.h"

#include <gtest/gtest.h>

#include "mapidispatch/text.h"
#include "pe_builder.h"
#include "reg_test_util.h"

namespace mapidispatch::test {

namespace {

std::string u8(std::u16string_view s) { return text::utf16_to_utf8(s); }

#define EXPECT_TARGET(target, expected_status) \
  EXPECT_EQ((target).status, (expected_status)) << "reason: " << u8((target).reason)

constexpr char16_t kContosoDll[] = u"C:\\Program Files\\Contoso\\cmapi.dll";
constexpr char16_t kFabrikamDll[] = u"C:\\Users\\u1\\AppData\\Local\\Fabrikam\\fab.dll";
constexpr char16_t kGuid[] = u"{29F458BE-8866-11D5-A3DD-00B0D0F3BAA7}";

// HKLM default Contoso, whose DLL serves both families.
constexpr char kHklmContoso[] = R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail]
@="Contoso"

[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail\Contoso]
"DLLPath"="C:\\Program Files\\Contoso\\cmapi.dll"
"DLLPathEx"="C:\\Program Files\\Contoso\\cmapi.dll"
)";

// Contoso's key with one value replaced by `value_line` (e.g. a hostile DLLPath).
std::string contoso_with(const std::string& value_line) {
  return "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail]\n@=\"Contoso\"\n"
         "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail\\Contoso]\n" + value_line + "\n";
}

void contoso_files(World& w) { w.provider(kContosoDll); }

std::string many_clients(int n) {
  std::string s = "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail]\n@=\"Client " + std::to_string(n - 1) + "\"\n";
  for (int i = 0; i < n; ++i) {
    s += "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail\\Client " + std::to_string(i) + "]\n";
    s += "\"DLLPath\"=\"C:\\\\Program Files\\\\Contoso\\\\cmapi.dll\"\n";
  }
  return s;
}

std::string many_overrides(int n) {
  std::string s = kHklmContoso;
  s += "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps]\n";
  for (int i = 0; i < n; ++i) s += "\"app" + std::to_string(i) + ".exe\"=\"Contoso\"\n";
  return s;
}

// A REG_MULTI_SZ MSIApplicationLCID / MSIOfficeLCID line: a subkey, then value names.
std::string lcid_list(const std::string& value, const std::vector<std::u16string>& items) {
  std::string line = "\"" + value + "\"=hex(7):";
  for (const auto& item : items) line += reg_hex_utf16(item) + ",";
  return line + "00,00";
}

// Contoso with MSIComponentID and one more value line (an LCID list...).
std::string msi_contoso_with(const std::string& value_line) {
  return contoso_with("\"MSIComponentID\"=\"" + u8(kGuid) + "\"\n" + value_line);
}

// A REG_SZ line whose data is `n` copies of `c`, then `tail`.
std::string repeated_sz(const std::string& name, size_t n, char c, const std::string& tail = {}) {
  return "\"" + name + "\"=\"" + std::string(n, c) + tail + "\"";
}

std::string long_path_value(size_t chars) {
  // Components of 200 characters: only the total length is at issue.
  std::string p = "C:";
  while (p.size() + 201 <= chars) p += "\\" + std::string(200, 'a');
  if (p.size() < chars) p += "\\" + std::string(chars - p.size() - 1, 'b');
  std::string escaped;
  for (char c : p) escaped += c == '\\' ? std::string("\\\\") : std::string(1, c);
  return "\"DLLPath\"=\"" + escaped + "\"";
}

std::vector<ResolverCase> make_cases() {
  std::vector<ResolverCase> v;

  // ---- Section 1, rule 2: the default client ---------------------------------------------------
  v.push_back({"MachineDefaultFromHklm", kHklmContoso,
               [](World& w) {
                 contoso_files(w);
                 w.request = ScopeRequest::machine();
               },
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.kind, ScopeKind::kMachine);
                 EXPECT_EQ(o.r.default_client, u"Contoso");
                 EXPECT_EQ(o.r.default_source, ValueSource::kHklm);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.simple.path, kContosoDll);
                 EXPECT_EQ(o.r.simple.source, ValueSource::kHklm);
                 EXPECT_EQ(o.r.simple.client, u"Contoso");
                 EXPECT_EQ(o.r.simple.machine, PeMachine::kAmd64);
               }});
  v.push_back({"HkcuDefaultBeforeHklm", std::string(kHklmContoso) + R"(
[HKEY_CURRENT_USER\Software\Clients\Mail]
@="Fabrikam"
[HKEY_CURRENT_USER\Software\Clients\Mail\Fabrikam]
"DLLPath"="C:\\Users\\u1\\AppData\\Local\\Fabrikam\\fab.dll"
)",
               [](World& w) {
                 contoso_files(w);
                 w.provider(kFabrikamDll);
               },
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.kind, ScopeKind::kUser);
                 EXPECT_EQ(o.r.sid, u"S-1-5-21-1-2-3-1001");
                 EXPECT_EQ(o.r.default_client, u"Fabrikam");
                 EXPECT_EQ(o.r.default_source, ValueSource::kHkcu);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_EQ(o.r.simple.path, kFabrikamDll);
                 EXPECT_EQ(o.r.simple.source, ValueSource::kHkcu);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kNotConfigured);
                 EXPECT_TRUE(o.says("hkcu-shadows-hklm", "'Contoso'"));
               }});
  v.push_back({"HkcuDefaultWithKeyOnlyInHklm", std::string(kHklmContoso) + R"(
[HKEY_CURRENT_USER\Software\Clients\Mail]
@="contoso"
)",
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.default_client, u"contoso");
                 EXPECT_EQ(o.r.default_source, ValueSource::kHkcu);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_EQ(o.r.simple.source, ValueSource::kHklm);
                 EXPECT_TRUE(o.says("client-key-hklm"));
                 EXPECT_FALSE(o.says("hkcu-shadows-hklm"));  // the same client, in another case
               }});
  v.push_back({"RegisteredMapiDispatchForwardsToItsUpstream", std::string(kHklmContoso) + R"(
[HKEY_LOCAL_MACHINE\Software\Clients\Mail]
@="MapiDispatch"
[HKEY_LOCAL_MACHINE\Software\Clients\Mail\MapiDispatch]
"DLLPath"="C:\\Program Files\\MapiDispatch\\x64\\mapi32.dll"
"DLLPathEx"="C:\\Program Files\\MapiDispatch\\x64\\mapi32.dll"
"UpstreamClient"="Contoso"
)",
               [](World& w) {
                 contoso_files(w);
                 w.request = ScopeRequest::machine();
               },
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.default_client, u"MapiDispatch");
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_EQ(o.r.simple.path, kContosoDll);
                 EXPECT_EQ(o.r.simple.client, u"Contoso");
                 EXPECT_TRUE(o.says("upstream-client", "'Contoso'"));
               }});
  v.push_back({"UpstreamClientIsFollowedOneHopOnly", std::string(kHklmContoso) + R"(
[HKEY_LOCAL_MACHINE\Software\Clients\Mail]
@="A"
[HKEY_LOCAL_MACHINE\Software\Clients\Mail\A]
"UpstreamClient"="B"
[HKEY_LOCAL_MACHINE\Software\Clients\Mail\B]
"UpstreamClient"="A"
)",
               [](World& w) { w.request = ScopeRequest::machine(); },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kNotConfigured);
                 EXPECT_TRUE(o.says("upstream-client", "not followed further"));
               }});
  v.push_back({"MachineScopeIgnoresHkcu", std::string(kHklmContoso) + R"(
[HKEY_CURRENT_USER\Software\Clients\Mail]
@="Fabrikam"
)",
               [](World& w) {
                 contoso_files(w);
                 w.request = ScopeRequest::machine();
               },
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.default_client, u"Contoso");
                 EXPECT_EQ(o.r.default_source, ValueSource::kHklm);
               }});
  v.push_back({"UserScopeFromHkeyUsers", R"(
[HKEY_USERS\S-1-5-21-9\Software\Clients\Mail]
@="Contoso"
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail\Contoso]
"DLLPathEx"="C:\\Program Files\\Contoso\\cmapi.dll"
)",
               [](World& w) {
                 contoso_files(w);
                 w.request = ScopeRequest::user_from_users(u"S-1-5-21-9");
               },
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.sid, u"S-1-5-21-9");
                 EXPECT_EQ(o.r.default_source, ValueSource::kHkcu);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_TRUE(o.says("scope", "HKEY_USERS\\S-1-5-21-9"));
               }});
  v.push_back({"EmptyHkcuDefaultFallsBackToHklm", std::string(kHklmContoso) + R"(
[HKEY_CURRENT_USER\Software\Clients\Mail]
@=""
)",
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.default_source, ValueSource::kHklm);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_TRUE(o.says("default-client", "empty"));
               }});
  v.push_back({"NoDefaultClient", R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail\Contoso]
"DLLPath"="C:\\Program Files\\Contoso\\cmapi.dll"
)",
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_TRUE(o.r.default_client.empty());
                 EXPECT_EQ(o.r.default_source, ValueSource::kNone);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kNotConfigured);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kNotConfigured);
                 EXPECT_NE(u8(o.r.simple.reason).find("no default mail client"), std::string::npos);
               }});
  v.push_back({"DefaultNamesMissingClient", R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail]
@="Ghost Mail"
)",
               nullptr,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.default_client, u"Ghost Mail");
                 EXPECT_TARGET(o.r.simple, TargetStatus::kBadValue);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kBadValue);
                 EXPECT_NE(u8(o.r.simple.reason).find("'Ghost Mail'"), std::string::npos);
               }});

  // ---- Rule 3: the client key's values --------------------------------------------------------
  v.push_back({"DllPathServesSimpleOnly", contoso_with(R"("DLLPath"="C:\\Program Files\\Contoso\\cmapi.dll")"),
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kNotConfigured);
                 EXPECT_NE(u8(o.r.extended.reason).find("no DLLPathEx"), std::string::npos);
               }});
  v.push_back({"ExpandSzPathIsExpanded",
               contoso_with("\"DLLPathEx\"=hex(2):" + reg_hex_utf16(u"%ProgramFiles%\\Contoso\\cmapi.dll")),
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.path, kContosoDll);
               }});
  v.push_back({"ExpandSzUndefinedVariable",
               contoso_with("\"DLLPathEx\"=hex(2):" + reg_hex_utf16(u"%NOSUCHVAR%\\cmapi.dll")),
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kBadValue);
                 EXPECT_NE(u8(o.r.extended.reason).find("%NOSUCHVAR%"), std::string::npos);
               }});
  v.push_back({"PlainSzPathIsNotExpanded",
               contoso_with(R"("DLLPath"="%ProgramFiles%\\Contoso\\cmapi.dll")"),
               contoso_files,
               [](const Outcome& o) {
                 // REG_SZ is taken literally: "%ProgramFiles%\..." is a relative path.
                 EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath);
               }});
  v.push_back({"SupportUtf8Set", contoso_with(R"("DLLPath"="C:\\Program Files\\Contoso\\cmapi.dll"
"SupportUTF8"=dword:00000001)"),
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_TRUE(o.r.supports_utf8);
                 EXPECT_TRUE(o.says("supports-utf8"));
               }});
  v.push_back({"SupportUtf8WrongTypeIgnored", contoso_with(R"("SupportUTF8"="1")"), nullptr,
               [](const Outcome& o) {
                 EXPECT_FALSE(o.r.supports_utf8);
                 EXPECT_TRUE(o.says("bad-value", "not a REG_DWORD"));
               }});

  // ---- MSIComponentID ---------------------------------------------------------------------------
  const std::string msi_client = contoso_with("\"MSIComponentID\"=\"" + u8(kGuid) +
                                              "\"\n\"DLLPathEx\"=\"C:\\\\Program Files\\\\Contoso\\\\cmapi.dll\"");
  v.push_back({"MsiComponentTakesPrecedence", msi_client,
               [](World& w) {
                 contoso_files(w);
                 w.provider(u"C:\\Office\\olmapi32.dll");
                 w.msi.add(kGuid, u"1033\\NT", u"C:\\Office\\olmapi32.dll");
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.path, u"C:\\Office\\olmapi32.dll");
                 EXPECT_EQ(o.r.extended.source, ValueSource::kMsi);
                 EXPECT_EQ(o.r.simple.source, ValueSource::kMsi);
                 EXPECT_TRUE(o.says("msi-install-mode", "INSTALLMODE_DEFAULT is deliberately not used"));
               }});
  v.push_back({"MsiApplicationLcidQualifier", contoso_with("\"MSIComponentID\"=\"" + u8(kGuid) +
                                                           "\"\n\"MSIApplicationLCID\"=hex(7):" +
                                                           reg_hex_utf16(u"Contoso\\Lang") + "," +
                                                           reg_hex_utf16(u"UILanguage") + ",00,00") + R"(
[HKEY_CURRENT_USER\Software\Contoso\Lang]
"UILanguage"=dword:00000407
)",
               [](World& w) {
                 w.provider(u"C:\\Office\\de\\olmapi32.dll");
                 w.msi.add(kGuid, u"1031", u"C:\\Office\\de\\olmapi32.dll");  // no "1031\NT": the plain one is next
                 w.msi.add(kGuid, u"1033\\NT", u"C:\\Office\\en\\olmapi32.dll");
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.path, u"C:\\Office\\de\\olmapi32.dll");
                 EXPECT_TRUE(o.says("msi-lcid", "1031"));
               }});
  v.push_back({"MsiUserLocaleBeforeSystemAndEnglish", msi_client + R"(
[HKEY_CURRENT_USER\Control Panel\International]
"Locale"="0000040C"
[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Nls\Language]
"Default"="0410"
)",
               [](World& w) {
                 w.provider(u"C:\\Office\\fr.dll");
                 w.msi.add(kGuid, u"1033\\NT", u"C:\\Office\\en.dll");
                 w.msi.add(kGuid, u"1040\\NT", u"C:\\Office\\it.dll");
                 w.msi.add(kGuid, u"1036\\NT", u"C:\\Office\\fr.dll");
               },
               [](const Outcome& o) { EXPECT_EQ(o.r.extended.path, u"C:\\Office\\fr.dll"); }});
  v.push_back({"MsiNotInstalledFallsBackToDllPath", msi_client, contoso_files,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.source, ValueSource::kHklm);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kComponentNotInstalled);
                 EXPECT_TRUE(o.says("msi-component", "not installed"));
               }});
  v.push_back({"MsiNotInstalledWithoutDllPath", contoso_with("\"MSIComponentID\"=\"" + u8(kGuid) + "\"\n\"MSIInstallOnWTS\"=dword:00000001"),
               nullptr,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kComponentNotInstalled);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kComponentNotInstalled);
                 EXPECT_TRUE(o.says("msi-install-mode", "never allows an install"));
               }});
  v.push_back({"MsiQualifierAbsent", msi_client,
               [](World& w) {
                 contoso_files(w);
                 w.msi.add(kGuid, u"9999", u"C:\\x.dll");
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kComponentNotInstalled);
                 EXPECT_NE(u8(o.r.simple.reason).find("1033\\NT"), std::string::npos);
               }});
  v.push_back({"MsiComponentIdNotAGuidIsIgnored",
               contoso_with(R"("MSIComponentID"="not-a-guid"
"DLLPathEx"="C:\\Program Files\\Contoso\\cmapi.dll")"),
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.source, ValueSource::kHklm);
                 EXPECT_TRUE(o.says("msi-component", "not a {GUID}"));
               }});
  v.push_back({"MsiLcidOfWrongTypeIgnored", contoso_with("\"MSIComponentID\"=\"" + u8(kGuid) + "\"\n\"MSIApplicationLCID\"=\"Contoso\""),
               [](World& w) {
                 w.provider(u"C:\\Office\\en.dll");
                 w.msi.add(kGuid, u"1033", u"C:\\Office\\en.dll");
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_TRUE(o.says("msi-lcid", "REG_SZ"));
               }});

  // The LCID sources and their order (resolver.h, rule 2). MSIOfficeLCID's subkey is looked up
  // under HKCU\Software\Policy, HKCU\Software, then HKLM\Software: the first place where one of
  // its value names holds a DWORD gives the LCID; the others give none.
  const std::string office_lcid = lcid_list("MSIOfficeLCID", {u"Contoso\\Office", u"Missing", u"UILanguage"});
  auto lcid_components = [](World& w) {
    for (const char16_t* dll : {u"C:\\Office\\en.dll", u"C:\\Office\\de.dll", u"C:\\Office\\fr.dll",
                                u"C:\\Office\\it.dll"}) {
      w.provider(dll);
    }
    w.msi.add(kGuid, u"1033\\NT", u"C:\\Office\\en.dll");
    w.msi.add(kGuid, u"1031\\NT", u"C:\\Office\\de.dll");
    w.msi.add(kGuid, u"1036\\NT", u"C:\\Office\\fr.dll");
    w.msi.add(kGuid, u"1040\\NT", u"C:\\Office\\it.dll");
  };
  v.push_back({"MsiOfficeLcidPolicyBeforeUserBeforeMachine", msi_contoso_with(office_lcid) + R"(
[HKEY_CURRENT_USER\Software\Policy\Contoso\Office]
"UILanguage"=dword:0000040c
[HKEY_CURRENT_USER\Software\Contoso\Office]
"UILanguage"=dword:00000407
[HKEY_LOCAL_MACHINE\SOFTWARE\Contoso\Office]
"UILanguage"=dword:00000410
)",
               lcid_components,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.path, u"C:\\Office\\fr.dll");
                 EXPECT_TRUE(o.says("msi-lcid", "LCID 1036 (from MSIOfficeLCID)"));
                 EXPECT_FALSE(o.says("msi-lcid", "LCID 1031"));  // the first place decides
                 EXPECT_FALSE(o.says("msi-lcid", "LCID 1040"));
               }});
  v.push_back({"MsiOfficeLcidUserSoftwareBeforeMachine", msi_contoso_with(office_lcid) + R"(
[HKEY_CURRENT_USER\Software\Contoso\Office]
"UILanguage"=dword:00000407
[HKEY_LOCAL_MACHINE\SOFTWARE\Contoso\Office]
"UILanguage"=dword:00000410
)",
               lcid_components,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.extended.path, u"C:\\Office\\de.dll");
                 EXPECT_TRUE(o.says("msi-lcid", "LCID 1031 (from MSIOfficeLCID)"));
                 EXPECT_FALSE(o.says("msi-lcid", "LCID 1040"));
               }});
  v.push_back({"MsiOfficeLcidFromMachineSoftware", msi_contoso_with(office_lcid) + R"(
[HKEY_CURRENT_USER\Software\Policy\Contoso\Office]
"UILanguage"="1036"
[HKEY_LOCAL_MACHINE\SOFTWARE\Contoso\Office]
"UILanguage"=dword:00000410
)",
               lcid_components,
               [](const Outcome& o) {
                 // The policy key exists, but its value is no DWORD: the next place is read.
                 EXPECT_EQ(o.r.extended.path, u"C:\\Office\\it.dll");
                 EXPECT_TRUE(o.says("msi-lcid", "LCID 1040 (from MSIOfficeLCID)"));
               }});
  v.push_back({"MsiApplicationLcidBeforeOfficeLcid",
               msi_contoso_with(office_lcid + "\n" + lcid_list("MSIApplicationLCID", {u"Contoso\\App", u"Lang"})) + R"(
[HKEY_CURRENT_USER\Software\Contoso\App]
"Lang"=dword:00000407
[HKEY_CURRENT_USER\Software\Contoso\Office]
"UILanguage"=dword:0000040c
)",
               lcid_components,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.extended.path, u"C:\\Office\\de.dll");
                 EXPECT_TRUE(o.says("msi-lcid", "LCID 1031 (from MSIApplicationLCID)"));
                 EXPECT_TRUE(o.says("msi-lcid", "LCID 1036 (from MSIOfficeLCID)"));
               }});
  v.push_back({"MsiSystemLcidBeforeEnglish", msi_client + R"(
[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Nls\Language]
"Default"="0407"
)",
               lcid_components,
               [](const Outcome& o) {
                 // No user locale (HKCU\Control Panel\International): the system's, then 1033.
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.path, u"C:\\Office\\de.dll");
                 EXPECT_TRUE(o.says("msi-qualifier", "qualifier '1031\\NT' found"));
               }});
  v.push_back({"MsiNtQualifierBeforePlain", msi_client,
               [](World& w) {
                 w.provider(u"C:\\Office\\nt.dll");
                 w.provider(u"C:\\Office\\plain.dll");
                 w.msi.add(kGuid, u"1033", u"C:\\Office\\plain.dll");
                 w.msi.add(kGuid, u"1033\\NT", u"C:\\Office\\nt.dll");
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_EQ(o.r.simple.path, u"C:\\Office\\nt.dll");
                 EXPECT_TRUE(o.says("msi-qualifier", "qualifier '1033\\NT' found"));
               }});
  // ERROR_FILE_NOT_FOUND under INSTALLMODE_EXISTING is about one qualifier's feature: the next
  // qualifier is tried, as Windows' stub does.
  v.push_back({"MsiFeatureAbsentTriesTheNextQualifier", msi_client + R"(
[HKEY_CURRENT_USER\Control Panel\International]
"Locale"="00000407"
)",
               [](World& w) {
                 w.provider(u"C:\\Office\\de.dll");
                 w.provider(u"C:\\Office\\en.dll");
                 w.msi.add_feature_absent(kGuid, u"1031\\NT");
                 w.msi.add_feature_absent(kGuid, u"1031");
                 w.msi.add(kGuid, u"1033\\NT", u"C:\\Office\\en.dll");
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.path, u"C:\\Office\\en.dll");
                 EXPECT_EQ(o.r.extended.source, ValueSource::kMsi);
                 EXPECT_TRUE(o.says("msi-qualifier", "qualifier '1031\\NT': its feature is absent or broken"));
                 EXPECT_TRUE(o.says("msi-qualifier", "qualifier '1033\\NT' found"));
               }});
  v.push_back({"MsiFeatureAbsentForEveryQualifier", msi_client,
               [](World& w) {
                 contoso_files(w);
                 w.msi.add_feature_absent(kGuid, u"1033\\NT");
                 w.msi.add_feature_absent(kGuid, u"1033");
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kComponentNotInstalled);
                 const std::string why = u8(o.r.simple.reason);
                 EXPECT_NE(why.find("the feature of qualifier(s) 1033\\NT, 1033 is absent or broken"), std::string::npos)
                     << why;
                 EXPECT_EQ(o.r.simple.source, ValueSource::kMsi);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);  // DLLPathEx
                 EXPECT_EQ(o.r.extended.source, ValueSource::kHklm);
               }});
  v.push_back({"MsiComponentIdOfWrongTypeIsIgnored",
               contoso_with(R"("MSIComponentID"=dword:00000001
"DLLPathEx"="C:\\Program Files\\Contoso\\cmapi.dll")"),
               [](World& w) {
                 contoso_files(w);
                 w.provider(u"C:\\Office\\olmapi32.dll");
                 w.msi.add(kGuid, u"1033\\NT", u"C:\\Office\\olmapi32.dll");
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.path, kContosoDll);
                 EXPECT_EQ(o.r.extended.source, ValueSource::kHklm);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kNotConfigured);  // no DLLPath, and no MSI failure
                 EXPECT_TRUE(o.says("bad-value", "is REG_DWORD, not REG_SZ or REG_EXPAND_SZ"));
                 EXPECT_FALSE(o.says("msi-install-mode"));  // Windows Installer was not asked
               }});

  // ---- Recursion, fallback, PreFirstRun ---------------------------------------------------------
  v.push_back({"RecursiveBareMapi32", contoso_with(R"("DLLPath"="MAPI32.DLL")"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kRecursive); }});
  v.push_back({"RecursiveBareMapi32WithoutExtension", contoso_with(R"("DLLPathEx"="mapi32")"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.extended, TargetStatus::kRecursive); }});
  v.push_back({"RecursiveStubPath", contoso_with(R"("DLLPathEx"="c:\\windows\\SYSTEM32\\mapi32.dll")"),
               [](World& w) { w.provider(u"C:\\Windows\\System32\\mapi32.dll"); },
               [](const Outcome& o) { EXPECT_TARGET(o.r.extended, TargetStatus::kRecursive); }});
  v.push_back({"RecursiveOtherStubLocation", contoso_with(R"("DLLPathEx"="C:\\MapiDispatch\\stub64.dll")"),
               [](World& w) {
                 w.provider(u"C:\\MapiDispatch\\stub64.dll");
                 w.options.stub_paths.push_back(u"C:\\MapiDispatch\\STUB64.DLL");
               },
               [](const Outcome& o) { EXPECT_TARGET(o.r.extended, TargetStatus::kRecursive); }});
  v.push_back({"ForeignMapi32IsNotTheStub", contoso_with(R"("DLLPathEx"="C:\\Program Files\\Old\\mapi32.dll")"),
               [](World& w) { w.provider(u"C:\\Program Files\\Old\\mapi32.dll"); },
               [](const Outcome& o) { EXPECT_TARGET(o.r.extended, TargetStatus::kFound); }});
  v.push_back({"Mapi32xFallbackFound", "",
               [](World& w) {
                 w.provider(u"C:\\Windows\\System32\\mapi32x.dll");
                 w.files.add_file(u"C:\\Windows\\System32\\MAPISVC.INF", {'[', ']'});
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.mapi32x, TargetStatus::kFound);
                 EXPECT_EQ(o.r.mapi32x.source, ValueSource::kFallback);
                 EXPECT_EQ(o.r.mapi32x.path, u"C:\\Windows\\System32\\mapi32x.dll");
               }});
  v.push_back({"Mapi32xWithoutMapisvcInf", "",
               [](World& w) { w.provider(u"C:\\Windows\\System32\\mapi32x.dll"); },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.mapi32x, TargetStatus::kMissing);
                 EXPECT_NE(u8(o.r.mapi32x.reason).find("mapisvc.inf"), std::string::npos);
               }});
  v.push_back({"Mapi32xAbsent", "", nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.mapi32x, TargetStatus::kMissing); }});
  v.push_back({"PreFirstRunSplitsMessageAndCaption", R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail]
"PreFirstRun"="No mail program * not even one*Mail"
)",
               nullptr,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.prefirstrun_message, u"No mail program * not even one");
                 EXPECT_EQ(o.r.prefirstrun_caption, u"Mail");
               }});
  v.push_back({"PreFirstRunHkcuFirst", R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail]
"PreFirstRun"="machine*M"
[HKEY_CURRENT_USER\Software\Clients\Mail]
"PreFirstRun"="no star"
)",
               nullptr,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.prefirstrun_message, u"no star");
                 EXPECT_TRUE(o.r.prefirstrun_caption.empty());
               }});

  v.push_back({"PreFirstRunOfWrongTypeIsSkipped", R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail]
"PreFirstRun"="machine*M"
[HKEY_CURRENT_USER\Software\Clients\Mail]
"PreFirstRun"=dword:00000001
)",
               nullptr,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.prefirstrun_message, u"machine");
                 EXPECT_EQ(o.r.prefirstrun_caption, u"M");
                 EXPECT_TRUE(o.says("bad-value", "is REG_DWORD, not REG_SZ or REG_EXPAND_SZ"));
               }});
  v.push_back({"PreFirstRunOver32767CharactersIsSkipped",
               "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail]\n" + repeated_sz("PreFirstRun", 32763, 'm', "*Cap") +
                   "\n[HKEY_CURRENT_USER\\Software\\Clients\\Mail]\n" + repeated_sz("PreFirstRun", 32768, 'u') + "\n",
               nullptr,
               [](const Outcome& o) {
                 // HKCU's is one character too long; HKLM's, exactly 32,767, is used.
                 EXPECT_EQ(o.r.prefirstrun_message, std::u16string(32763, u'm'));
                 EXPECT_EQ(o.r.prefirstrun_caption, u"Cap");
                 EXPECT_TRUE(o.says("bad-value", "is longer than 32767 characters"));
               }});

  // ---- MSMapiApps ---------------------------------------------------------------------------------
  v.push_back({"MsMapiAppsOverrides", std::string(kHklmContoso) + R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail\Fabrikam]
"DLLPath"="C:\\Users\\u1\\AppData\\Local\\Fabrikam\\fab.dll"
"SupportUTF8"=dword:00000001
[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows Messaging Subsystem\MSMapiApps]
"SearchProtocolHost.exe"=""
"legacy.exe"="Fabrikam"
"ghost.exe"="Nobody"
"bad.exe"=dword:00000001
"C:\\tools\\x.exe"="Fabrikam"
@="Fabrikam"
)",
               [](World& w) {
                 contoso_files(w);
                 w.provider(kFabrikamDll);
               },
               [](const Outcome& o) {
                 // By module, not by index: the registry decides the enumeration order (Windows:
                 // creation order; Wine: sorted by name), and the stub takes the first that matches.
                 ASSERT_EQ(o.r.overrides.size(), 3u);
                 const AppOverride* search = find_override(o.r, u"searchprotocolhost.exe");
                 const AppOverride* legacy = find_override(o.r, u"C:\\Windows\\LEGACY.EXE");
                 const AppOverride* ghost = find_override(o.r, u"ghost.exe");
                 ASSERT_TRUE(search && legacy && ghost);
                 EXPECT_EQ(search->module, u"SearchProtocolHost.exe");
                 EXPECT_TRUE(search->uses_mapi32x);
                 EXPECT_EQ(legacy->module, u"legacy.exe");
                 EXPECT_EQ(legacy->client, u"Fabrikam");
                 EXPECT_TRUE(legacy->supports_utf8);
                 EXPECT_TARGET(legacy->simple, TargetStatus::kFound);
                 EXPECT_EQ(legacy->simple.path, kFabrikamDll);
                 EXPECT_EQ(legacy->simple.source, ValueSource::kOverride);
                 EXPECT_TARGET(legacy->extended, TargetStatus::kNotConfigured);
                 EXPECT_TARGET(ghost->simple, TargetStatus::kBadValue);
                 EXPECT_TRUE(o.says("override", "REG_DWORD"));
                 EXPECT_TRUE(o.says("override", "not a file name"));
                 EXPECT_TRUE(o.says("override", "default value is not a module"));
                 EXPECT_EQ(find_override(o.r, u"other.exe"), nullptr);
               }});
  v.push_back({"ThousandsOfOverridesAreBounded", many_overrides(5000), contoso_files,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.overrides.size(), 4096u);
                 EXPECT_TARGET(o.r.overrides.back().simple, TargetStatus::kFound);
                 EXPECT_TRUE(o.says("msmapiapps", "only the first 4096"));
               }});

  v.push_back({"OverrideNamesClientWithoutKey", R"(
[HKEY_CURRENT_USER\Software\Clients\Mail\P]
"DLLPath"="C:\\a.dll"
[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows Messaging Subsystem\MSMapiApps]
"x.exe"="P"
)",
               nullptr,
               [](const Outcome& o) {
                 // The key exists in HKCU only; overrides read HKLM's. The reason names the
                 // override, not the default (there is none here).
                 const AppOverride* x = find_override(o.r, u"x.exe");
                 ASSERT_NE(x, nullptr);
                 EXPECT_TARGET(x->simple, TargetStatus::kBadValue);
                 EXPECT_EQ(u8(x->simple.reason),
                           "an MSMapiApps override names client 'P', but no key Software\\Clients\\Mail\\P exists "
                           "in HKLM");
                 EXPECT_EQ(x->extended.reason, x->simple.reason);
               }});

  // ---- Target validation ------------------------------------------------------------------------
  v.push_back({"WrongBitnessWithExplicitProcessMachine", kHklmContoso,
               [](World& w) {
                 w.provider(kContosoDll, 0x014c);
                 w.options.process_machine = PeMachine::kAmd64;
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kWrongBitness);
                 EXPECT_EQ(o.r.simple.machine, PeMachine::kI386);
                 const std::string why = u8(o.r.simple.reason);
                 EXPECT_NE(why.find("x86"), std::string::npos) << why;
                 EXPECT_NE(why.find("x64"), std::string::npos) << why;
               }});
  v.push_back({"BitnessNeutralRecordsMachine", kHklmContoso,
               [](World& w) { w.provider(kContosoDll, 0x014c); },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_EQ(o.r.simple.machine, PeMachine::kI386);
               }});
  v.push_back({"Arm64DllRecorded", kHklmContoso,
               [](World& w) { w.provider(kContosoDll, 0xAA64); },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
                 EXPECT_EQ(o.r.extended.machine, PeMachine::kArm64);
               }});
  v.push_back({"UnknownMachineLoadableByNoStub", kHklmContoso,
               [](World& w) { w.provider(kContosoDll, 0x01c4); },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kWrongBitness);
                 EXPECT_NE(u8(o.r.simple.reason).find("0x01c4"), std::string::npos);
               }});
  v.push_back({"MissingFile", kHklmContoso, nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kMissing); }});
  v.push_back({"NotAPeFile", kHklmContoso,
               [](World& w) { w.files.add_file(kContosoDll, {'h', 'e', 'l', 'l', 'o'}); },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kNotADll);
                 EXPECT_NE(u8(o.r.simple.reason).find("not a PE image"), std::string::npos);
               }});
  v.push_back({"ExecutableIsNotADll", kHklmContoso,
               [](World& w) {
                 PeSpec spec;
                 spec.dll = false;
                 spec.exports = all_exports();
                 w.files.add_file(kContosoDll, build_pe(spec));
               },
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kNotADll); }});
  v.push_back({"FolderIsNotADll", kHklmContoso,
               [](World& w) { w.files.add_directory(kContosoDll); },
               [](const Outcome& o) { EXPECT_TARGET(o.r.extended, TargetStatus::kNotADll); }});
  v.push_back({"MissingExportsAreNamed", kHklmContoso,
               [](World& w) {
                 PeSpec spec;
                 spec.exports = extended_exports();
                 w.files.add_file(kContosoDll, build_pe(spec));
               },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kMissingExports);
                 const std::string why = u8(o.r.simple.reason);
                 EXPECT_NE(why.find("MAPISendMail"), std::string::npos) << why;
                 EXPECT_EQ(why.find("MAPIFreeBuffer"), std::string::npos) << why;
                 EXPECT_TARGET(o.r.extended, TargetStatus::kFound);
               }});
  v.push_back({"DecoratedExportsAccepted", kHklmContoso,
               [](World& w) {
                 PeSpec spec;
                 spec.exports = {"MAPILogon@24", "MAPILogoff@16", "MAPISendMail@20", "MAPIFreeBuffer@4"};
                 w.files.add_file(kContosoDll, build_pe(spec));
               },
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kFound); }});

  // ---- Hostile values ---------------------------------------------------------------------------
  v.push_back({"DllPathOfWrongType", contoso_with(R"("DLLPath"=dword:00000001)"), nullptr,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kBadValue);
                 EXPECT_NE(u8(o.r.simple.reason).find("REG_DWORD"), std::string::npos);
               }});
  v.push_back({"DllPathMultiStringIsWrongType",
               contoso_with("\"DLLPath\"=hex(7):" + reg_hex_utf16(u"C:\\a.dll") + ",00,00"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kBadValue); }});
  v.push_back({"DefaultOfWrongType", R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail]
@=hex:43,00,6f,00
)",
               [](World& w) { w.request = ScopeRequest::machine(); },
               [](const Outcome& o) {
                 EXPECT_TRUE(o.r.default_client.empty());
                 EXPECT_TARGET(o.r.simple, TargetStatus::kNotConfigured);
                 EXPECT_TRUE(o.says("bad-value", "REG_BINARY"));
               }});
  v.push_back({"EmbeddedNulInDllPath",
               contoso_with("\"DLLPath\"=hex(1):" + reg_hex_utf16(u"C:\\Program Files\\Contoso\\cmapi.dll") + "," +
                            reg_hex_utf16(u"evil")),
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kBadValue);
                 EXPECT_NE(u8(o.r.simple.reason).find("NUL"), std::string::npos);
               }});
  v.push_back({"UnterminatedDllPathStillReads",
               contoso_with("\"DLLPath\"=hex(1):" + reg_hex_utf16(u"C:\\Program Files\\Contoso\\cmapi.dll", false)),
               contoso_files,
               [](const Outcome& o) {
                 // Read as Windows reads it. (Whether the registry API hands the terminator back
                 // differs: Wine adds one; the in-memory suite checks the explanation's note.)
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_EQ(o.r.simple.path, kContosoDll);
               }});
  v.push_back({"OddLengthStringLosesLastByte",
               contoso_with("\"DLLPath\"=hex(1):" + reg_hex_utf16(u"C:\\Program Files\\Contoso\\cmapi.dll") + ",41"),
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_TRUE(o.says("string-form", "odd"));
               }});
  v.push_back({"PathOf32767CharactersIsChecked", contoso_with(long_path_value(32767)), nullptr,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.simple.path.size(), 32767u);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kMissing);
               }});
  v.push_back({"PathOver32767CharactersIsBadValue", contoso_with(long_path_value(32768)), nullptr,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kBadValue);
                 EXPECT_NE(u8(o.r.simple.reason).find("longer than 32767"), std::string::npos);
               }});
  v.push_back({"NameLongerThan255IsInvalid",
               contoso_with("\"DLLPath\"=\"C:\\\\" + std::string(300, 'n') + ".dll\""), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"ExpansionTooLong",
               contoso_with("\"DLLPath\"=hex(2):" + reg_hex_utf16(u"C:\\%HUGE%\\%HUGE%\\%HUGE%")),
               [](World& w) { w.env.set(u"HUGE", std::u16string(15000, u'h')); },
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"RelativePath", contoso_with(R"("DLLPath"="Contoso\\cmapi.dll")"), nullptr,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath);
                 EXPECT_NE(u8(o.r.simple.reason).find("relative"), std::string::npos);
               }});
  // Windows' stub hands a bare name to LoadLibrary (the process's DLL search order): loaded, with
  // a warning, its machine unknown.
  v.push_back({"BareDllNameLoadsThroughTheSearchOrder", contoso_with(R"("DLLPath"="cmapi.dll")"), nullptr,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kSearchOrder);
                 EXPECT_EQ(o.r.simple.path, u"cmapi.dll");
                 EXPECT_EQ(o.r.simple.machine, PeMachine::kUnknown);
                 const std::string why = u8(o.r.simple.reason);
                 EXPECT_NE(why.find("warning: "), std::string::npos) << why;
                 EXPECT_NE(why.find("DLL search order"), std::string::npos) << why;
               }});
  v.push_back({"DriveRelativePath", contoso_with(R"("DLLPath"="C:cmapi.dll")"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"RootedPathWithoutDrive", contoso_with(R"("DLLPath"="\\Program Files\\Contoso\\cmapi.dll")"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"TraversalInDllPath", contoso_with(R"("DLLPath"="C:\\Program Files\\Contoso\\..\\..\\Temp\\cmapi.dll")"),
               [](World& w) { w.provider(u"C:\\Temp\\cmapi.dll"); },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath);
                 EXPECT_NE(u8(o.r.simple.reason).find("traversal"), std::string::npos);
               }});
  v.push_back({"DotComponentInDllPath", contoso_with(R"("DLLPath"="C:\\Program Files\\.\\Contoso\\cmapi.dll")"), contoso_files,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"AlternateDataStream", contoso_with(R"("DLLPath"="C:\\Program Files\\Contoso\\cmapi.dll:payload")"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"DevicePath", contoso_with(R"("DLLPath"="\\\\.\\C:\\cmapi.dll")"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"ReservedDeviceName", contoso_with(R"("DLLPath"="C:\\NUL\\cmapi.dll")"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"TrailingDotInName", contoso_with(R"("DLLPath"="C:\\Program Files\\Contoso\\cmapi.dll.")"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"LongPathPrefixIsUnderstood", contoso_with(R"("DLLPath"="\\\\?\\C:\\Program Files\\Contoso\\cmapi.dll")"),
               contoso_files,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kFound); }});
  v.push_back({"UncPathDeniedWithoutPolicy", contoso_with(R"("DLLPath"="\\\\fileserver\\mail\\cmapi.dll")"),
               [](World& w) { w.provider(u"\\\\fileserver\\mail\\cmapi.dll"); },
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kDeniedByPolicy);
                 EXPECT_NE(u8(o.r.simple.reason).find("AllowUncPaths"), std::string::npos);
               }});
  v.push_back({"UncPathAllowedByPolicy", contoso_with(R"("DLLPath"="\\\\fileserver\\mail\\cmapi.dll")"),
               [](World& w) {
                 w.provider(u"\\\\fileserver\\mail\\cmapi.dll");
                 w.options.allow_unc_paths = true;
               },
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kFound); }});
  v.push_back({"LongUncPrefixIsUnc", contoso_with(R"("DLLPath"="\\\\?\\UNC\\fileserver\\mail\\cmapi.dll")"), nullptr,
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kDeniedByPolicy); }});
  v.push_back({"IncompleteUncPath", contoso_with(R"("DLLPath"="\\\\fileserver")"),
               [](World& w) { w.options.allow_unc_paths = true; },
               [](const Outcome& o) { EXPECT_TARGET(o.r.simple, TargetStatus::kInvalidPath); }});
  v.push_back({"ClientNameOf255CharactersIsRead",
               "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail]\n@=\"" + std::string(255, 'n') + "\"" +
                   "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail\\" + std::string(255, 'n') +
                   "]\n\"DLLPath\"=\"C:\\\\Program Files\\\\Contoso\\\\cmapi.dll\"\n",
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.default_client, std::u16string(255, u'n'));
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
               }});
  v.push_back({"ClientNameOver255CharactersIsNotUsed",
               "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail]\n@=\"" + std::string(256, 'n') + "\"\n"
               "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps]\n" +
                   repeated_sz("long.exe", 256, 'n') + "\n",
               nullptr,
               [](const Outcome& o) {
                 // No key can have that name (255 at most): no default client, and the reason says
                 // it is the value, not its absence.
                 EXPECT_TRUE(o.r.default_client.empty());
                 EXPECT_TARGET(o.r.simple, TargetStatus::kNotConfigured);
                 EXPECT_EQ(u8(o.r.simple.reason),
                           "no usable default mail client: (Default) of HKEY_LOCAL_MACHINE\\Software\\Clients\\Mail is "
                           "longer than 255 characters");
                 EXPECT_EQ(o.r.extended.reason, o.r.simple.reason);
                 EXPECT_EQ(find_override(o.r, u"long.exe"), nullptr);
                 EXPECT_TRUE(o.says("override", "ignored: the value is longer than 255 characters"));
               }});
  v.push_back({"HkcuClientNameOver255FallsBackToHklm",
               std::string(kHklmContoso) + "\n[HKEY_CURRENT_USER\\Software\\Clients\\Mail]\n@=\"" +
                   std::string(256, 'u') + "\"\n",
               contoso_files,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.default_client, u"Contoso");
                 EXPECT_EQ(o.r.default_source, ValueSource::kHklm);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
                 EXPECT_TRUE(o.says("bad-value", "is longer than 255 characters"));
               }});
  v.push_back({"ClientNameWithBackslash", R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail]
@="..\\..\\Microsoft\\Windows"
)",
               nullptr,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kBadValue);
                 EXPECT_NE(u8(o.r.simple.reason).find("backslash"), std::string::npos);
               }});
  v.push_back({"KeysMissingAtEveryLevel", "", nullptr,
               [](const Outcome& o) {
                 EXPECT_EQ(o.status, ResolveStatus::kOk);
                 EXPECT_TARGET(o.r.simple, TargetStatus::kNotConfigured);
                 EXPECT_TARGET(o.r.extended, TargetStatus::kNotConfigured);
                 EXPECT_TRUE(o.r.overrides.empty());
                 EXPECT_TRUE(o.says("default-client", "does not exist"));
                 EXPECT_TRUE(o.says("msmapiapps", "does not exist"));
               }});
  v.push_back({"MailKeyWithoutClientKeys", R"(
[HKEY_LOCAL_MACHINE\SOFTWARE\Clients]
[HKEY_CURRENT_USER\Software\Clients\Mail]
)",
               nullptr,
               [](const Outcome& o) {
                 EXPECT_TARGET(o.r.simple, TargetStatus::kNotConfigured);
                 EXPECT_TRUE(o.says("default-client", "not set"));
               }});
  v.push_back({"ThousandsOfClients", many_clients(5000), contoso_files,
               [](const Outcome& o) {
                 EXPECT_EQ(o.r.default_client, u"Client 4999");
                 EXPECT_TARGET(o.r.simple, TargetStatus::kFound);
               }});
  return v;
}

}  // namespace

World::World() : msi(true, u"the test's component table"), env(u"the test's environment") {
  env.set(u"SystemRoot", u"C:\\Windows");
  env.set(u"ProgramFiles", u"C:\\Program Files");
  env.set(u"LOCALAPPDATA", u"C:\\Users\\u1\\AppData\\Local");
  options.stub_paths = {u"C:\\Windows\\System32\\mapi32.dll"};
  options.system_directory = u"C:\\Windows\\System32";
}

void World::provider(const std::u16string& path, uint16_t machine) { files.add_file(path, provider_dll(machine)); }

std::string Outcome::text() const { return explanation_to_text(why); }

bool Outcome::says(const std::string& rule, const std::string& fragment) const {
  for (const auto& s : why.steps) {
    if (s.rule == rule && text::utf16_to_utf8(s.detail).find(fragment) != std::string::npos) return true;
  }
  return false;
}

const std::vector<ResolverCase>& resolver_cases() {
  static const std::vector<ResolverCase> cases = make_cases();
  return cases;
}

std::string export_text(const ResolverCase& c) { return "Windows Registry Editor Version 5.00\r\n" + c.reg; }

const std::vector<UncPolicyCase>& unc_policy_cases() {
  static const std::vector<UncPolicyCase> cases = [] {
    RegValue binary_one = make_reg_dword(1);
    binary_one.type = reg_type::kBinary;
    RegValue qword_one;
    qword_one.type = reg_type::kQword;
    qword_one.data = {1, 0, 0, 0, 0, 0, 0, 0};
    const RegValue one = make_reg_dword(1), zero = make_reg_dword(0);
    return std::vector<UncPolicyCase>{
        {"NothingSetDenies", std::nullopt, std::nullopt, false},
        {"ParametersAllow", std::nullopt, one, true},
        {"ParametersZeroDenies", std::nullopt, zero, false},
        {"PolicyAllows", one, std::nullopt, true},
        {"PolicyZeroWinsOverParameters", zero, one, false},
        {"PolicyOneWinsOverParameters", one, zero, true},
        // Invalid values are ignored, as the service ignores them: the next source applies.
        {"PolicyStringIsIgnored", make_reg_string(u"1"), one, true},
        {"PolicyOutOfRangeIsIgnored", make_reg_dword(2), zero, false},
        {"PolicyQwordIsIgnored", qword_one, std::nullopt, false},
        {"ParametersStringIsIgnored", std::nullopt, make_reg_string(u"1"), false},
        {"ParametersBinaryIsIgnored", std::nullopt, binary_one, false},
        {"ParametersOutOfRangeIsIgnored", std::nullopt, make_reg_dword(0xFFFFFFFF), false},
    };
  }();
  return cases;
}

void write_unc_policy(const UncPolicyCase& c, MemoryRegistry* registry) {
  constexpr char16_t kPolicy[] = u"SOFTWARE\\Policies\\MapiDispatch";
  constexpr char16_t kParameters[] = u"SYSTEM\\CurrentControlSet\\Services\\MapiDispatch\\Parameters";
  if (c.policy) {
    EXPECT_FALSE(registry->set_value(RegRoot::kLocalMachine, kPolicy, u"AllowUncPaths", *c.policy));
  }
  if (c.parameters) {
    EXPECT_FALSE(registry->set_value(RegRoot::kLocalMachine, kParameters, u"AllowUncPaths", *c.parameters));
  }
}

Outcome resolve_with(const Registry& registry, World& world) {
  Outcome o;
  const ResolverServices services{registry, world.files, world.msi, world.env};
  o.status = resolve_scope(world.request, services, world.options, &o.r, &o.why);
  return o;
}

}  // namespace mapidispatch::test
