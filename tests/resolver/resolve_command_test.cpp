// Copyright MapiDispatch authors.
//
// `mapidispatch resolve` through run_resolve_command(): exit codes, messages naming the bad
// argument or line, and the JSON document support engineers script against (parsed strictly).

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/test_main.h"
#include "json_value.h"
#include "mapidispatch/resolve_command.h"
#include "mapidispatch/text.h"
#include "pe_builder.h"
#include "reg_test_util.h"

namespace mapidispatch {
namespace {

using test::Json;

struct CommandRun {
  int code = -1;
  std::string out, err;
};

CommandRun run(std::vector<std::string> args) {
  std::ostringstream out, err;
  CommandRun r;
  r.code = run_resolve_command(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

Json json_of(const CommandRun& r) {
  std::string error;
  auto j = test::parse_json(r.out, &error);
  EXPECT_TRUE(j.has_value()) << error << "\n" << r.out;
  return j.value_or(Json{});
}

constexpr char kExport[] = R"(Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail]
@="Contoso"
"PreFirstRun"="Install a mail program.*Mail"

[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail\Contoso]
"DLLPath"="C:\\Program Files\\Contoso\\cmapi.dll"
"DLLPathEx"=hex(2):25,00,50,00,72,00,6f,00,67,00,72,00,61,00,6d,00,46,00,69,00,6c,00,65,00,73,00,25,00,\
  5c,00,43,00,6f,00,6e,00,74,00,6f,00,73,00,6f,00,5c,00,63,00,6d,00,61,00,70,00,69,00,2e,00,64,00,\
  6c,00,6c,00,00,00

[HKEY_LOCAL_MACHINE\SOFTWARE\Clients\Mail\Fabrikam]
"DLLPath"="\\\\fileserver\\mail\\fab.dll"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows Messaging Subsystem\MSMapiApps]
"legacy.exe"="Fabrikam"
"SearchProtocolHost.exe"=""

[HKEY_USERS\S-1-5-21-1-2-3-1001\Software\Clients\Mail]
@="Fabrikam"
)";

class ResolveCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = test::unique_name("md-resolve");
    for (char& ch : name) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '-';
    }
    dir_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(dir_ / "root" / "C" / "Program Files" / "Contoso");
    write(dir_ / "root" / "C" / "Program Files" / "Contoso" / "cmapi.dll", test::provider_dll(0x8664));
    write(dir_ / "machine.reg", test::utf16le_file(kExport));
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  static void write(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  std::string path(const char* leaf) const { return (dir_ / leaf).string(); }
  std::string reg() const { return path("machine.reg"); }
  std::string root() const { return path("root"); }

  std::filesystem::path dir_;
};

TEST_F(ResolveCommand, JsonDocumentOfTheMachineScope) {
  const CommandRun r = run({"--from", reg(), "--root", root(), "--json"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const Json j = json_of(r);
  EXPECT_EQ(j["schema"].str, "mapidispatch.resolve/1");
  EXPECT_EQ(j["status"].str, "ok");
  EXPECT_EQ(j["input"]["format"].str, "regedit5");
  EXPECT_EQ(j["input"]["encoding"].str, "utf-16le");
  EXPECT_EQ(j["input"]["keys"].number, 5);
  EXPECT_EQ(j["options"]["bitness"].str, "neutral");
  EXPECT_TRUE(j["options"]["files_checked"].b);
  EXPECT_EQ(j["options"]["system_directory"].str, "C:\\Windows\\System32");
  EXPECT_EQ(j["scope"]["kind"].str, "machine");
  EXPECT_TRUE(j["scope"]["hkcu"].is_null());
  EXPECT_EQ(j["default_client"]["name"].str, "Contoso");
  EXPECT_EQ(j["default_client"]["source"].str, "hklm");
  for (const char* family : {"simple", "extended"}) {
    EXPECT_EQ(j[family]["status"].str, "found") << j[family]["reason"].str;
    EXPECT_EQ(j[family]["machine"].str, "x64");
    EXPECT_EQ(j[family]["source"].str, "hklm");
    EXPECT_EQ(j[family]["path"].str, "C:\\Program Files\\Contoso\\cmapi.dll");
    EXPECT_EQ(j[family]["client"].str, "Contoso");
  }
  EXPECT_EQ(j["mapi32x"]["status"].str, "missing");
  EXPECT_EQ(j["mapi32x"]["source"].str, "fallback");
  EXPECT_FALSE(j["supports_utf8"].b);
  EXPECT_EQ(j["prefirstrun"]["message"].str, "Install a mail program.");
  EXPECT_EQ(j["prefirstrun"]["caption"].str, "Mail");
  ASSERT_EQ(j["overrides"].items.size(), 2u);
  EXPECT_EQ(j["overrides"][0]["module"].str, "legacy.exe");
  EXPECT_EQ(j["overrides"][0]["simple"]["status"].str, "denied-by-policy");
  EXPECT_EQ(j["overrides"][0]["simple"]["source"].str, "override");
  EXPECT_TRUE(j["overrides"][1]["uses_mapi32x"].b);
  EXPECT_TRUE(j["effective"]["module"].is_null());
  EXPECT_EQ(j["effective"]["simple"]["from"].str, "default");
  EXPECT_EQ(j["effective"]["simple"]["target"]["status"].str, "found");
  ASSERT_FALSE(j["explanation"].items.empty());
  for (const Json& step : j["explanation"].items) {
    EXPECT_FALSE(step["rule"].str.empty());
    EXPECT_TRUE(step.has("key") && step.has("value") && step.has("detail"));
  }
}

TEST_F(ResolveCommand, UserScopeFromHkeyUsersWithModuleOverride) {
  const CommandRun r = run({"--from", reg(), "--root", root(), "--json", "--user", "S-1-5-21-1-2-3-1001", "--module",
                     "SEARCHPROTOCOLHOST.EXE", "--allow-unc"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  const Json j = json_of(r);
  EXPECT_EQ(j["scope"]["kind"].str, "user");
  EXPECT_EQ(j["scope"]["sid"].str, "S-1-5-21-1-2-3-1001");
  EXPECT_EQ(j["scope"]["hkcu"].str, "HKEY_USERS\\S-1-5-21-1-2-3-1001");
  EXPECT_EQ(j["default_client"]["name"].str, "Fabrikam");
  EXPECT_EQ(j["default_client"]["source"].str, "hkcu");
  EXPECT_EQ(j["simple"]["status"].str, "missing");  // UNC allowed now, but the share is not in --root
  EXPECT_EQ(j["effective"]["module"].str, "SEARCHPROTOCOLHOST.EXE");
  EXPECT_EQ(j["effective"]["override"].str, "SearchProtocolHost.exe");
  EXPECT_EQ(j["effective"]["simple"]["from"].str, "none");
  EXPECT_EQ(j["effective"]["simple"]["target"]["source"].str, "fallback");
}

TEST_F(ResolveCommand, ExplicitBitnessMarksWrongBitness) {
  const CommandRun r = run({"--from", reg(), "--root", root(), "--json", "--bitness", "x86"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  const Json j = json_of(r);
  EXPECT_EQ(j["options"]["bitness"].str, "x86");
  EXPECT_EQ(j["options"]["registry_view"].str, "32");
  EXPECT_EQ(j["simple"]["status"].str, "wrong-bitness");
  EXPECT_NE(j["simple"]["reason"].str.find("x64 DLL"), std::string::npos);
  EXPECT_NE(j["simple"]["reason"].str.find("the process is x86"), std::string::npos);
  // A 32-bit process on 64-bit Windows: %ProgramFiles% is the (x86) folder, only when the
  // export shows a 64-bit system; this one has no Wow6432Node, so it is a 32-bit system.
  EXPECT_EQ(j["extended"]["path"].str, "C:\\Program Files\\Contoso\\cmapi.dll");
}

TEST_F(ResolveCommand, WithoutRootFilesAreNotChecked) {
  const CommandRun r = run({"--from", reg(), "--json"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  const Json j = json_of(r);
  EXPECT_FALSE(j["options"]["files_checked"].b);
  EXPECT_TRUE(j["options"]["root"].is_null());
  EXPECT_EQ(j["simple"]["status"].str, "missing");
  EXPECT_NE(j["simple"]["reason"].str.find("cannot be read"), std::string::npos) << j["simple"]["reason"].str;
}

TEST_F(ResolveCommand, MsiComponentOption) {
  const std::string text = std::string(kExport) +
                           "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail\\Contoso]\n"
                           "\"MSIComponentID\"=\"{29F458BE-8866-11D5-A3DD-00B0D0F3BAA7}\"\n";
  write(dir_ / "msi.reg", test::utf16le_file(text));
  CommandRun r = run({"--from", path("msi.reg"), "--json", "--root", root(), "--msi-component",
               "{29F458BE-8866-11D5-A3DD-00B0D0F3BAA7},1033=C:\\Program Files\\Contoso\\cmapi.dll"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  Json j = json_of(r);
  EXPECT_EQ(j["simple"]["source"].str, "msi");
  EXPECT_EQ(j["simple"]["status"].str, "found");
  r = run({"--from", path("msi.reg"), "--json", "--root", root()});
  j = json_of(r);
  EXPECT_EQ(j["simple"]["source"].str, "hklm");  // not available offline: DLLPath decides
}

TEST_F(ResolveCommand, TextOutputSaysWhatAndWhy) {
  const CommandRun r = run({"--from", reg(), "--root", root(), "--module", "legacy.exe"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  EXPECT_NE(r.out.find("Default client:   Contoso (hklm)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Simple MAPI:      found x64  C:\\Program Files\\Contoso\\cmapi.dll"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("legacy.exe -> client Fabrikam: simple denied-by-policy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Effective for a process loading legacy.exe (override legacy.exe):"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Explanation:\n  1. scope: "), std::string::npos) << r.out;
}

TEST_F(ResolveCommand, HostileTextIsEscapedInJson) {
  // A caption with a tab and a lone surrogate (hex(1) can carry what no editor writes).
  const std::string text = std::string(kExport) +
                           "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail]\n"
                           "\"PreFirstRun\"=hex(1):22,00,09,00,2a,00,00,d8,e9,00,00,00\n";
  write(dir_ / "hostile.reg", test::utf16le_file(text));
  const CommandRun r = run({"--from", path("hostile.reg"), "--json"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  EXPECT_NE(r.out.find("\"message\": \"\\\"\\t\""), std::string::npos) << r.out;
  const Json j = json_of(r);
  EXPECT_EQ(j["prefirstrun"]["message"].str, "\"\t");
  EXPECT_EQ(j["prefirstrun"]["caption"].str, "\xEF\xBF\xBD\xC3\xA9");
}

// Bytes a terminal would act on: C0 controls but the line feeds the command writes, DEL, and
// C1 controls (U+0080-U+009F, 0xC2 0x80-0x9F in UTF-8).
std::string terminal_controls_in(const std::string& out) {
  std::string found;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    const bool c1 = c == 0xC2 && i + 1 < out.size() && static_cast<unsigned char>(out[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(out[i + 1]) <= 0x9F;
    if ((c < 0x20 && c != '\n') || c == 0x7F || c1) found += "offset " + std::to_string(i) + "; ";
  }
  return found;
}

TEST_F(ResolveCommand, TextOutputEscapesControlCharacters) {
  // A default client named "Evil<ESC>[2J<CSI>31m<DEL><LF>Fake: line<BEL>" (no such key: the
  // reason quotes it) and a PreFirstRun caption with a CR; the module argument carries an OSC.
  const std::u16string name = u"Evil\x1b[2J\x9b" u"31m\x7f\nFake: line\x07";
  const std::string text = std::string(kExport) +
                           "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail]\n"
                           "@=hex(1):" + test::reg_hex_utf16(name) + "\n"
                           "\"PreFirstRun\"=hex(1):" + test::reg_hex_utf16(u"msg*cap\rtion") + "\n";
  write(dir_ / "controls.reg", test::utf16le_file(text));
  const CommandRun r = run({"--from", path("controls.reg"), "--module", "\x1b]0;title\x07.exe"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  EXPECT_EQ(terminal_controls_in(r.out), "") << r.out;
  EXPECT_NE(r.out.find("Default client:   Evil\\x1b[2J\\x9b31m\\x7f\\x0aFake: line\\x07 (hklm)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("client 'Evil\\x1b[2J\\x9b31m\\x7f\\x0aFake: line\\x07', but no key"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(caption \"cap\\x0dtion\")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Effective for a process loading \\x1b]0;title\\x07.exe:"), std::string::npos) << r.out;
  // JSON keeps the exact text (escaped the JSON way).
  const Json j = json_of(run({"--from", path("controls.reg"), "--json"}));
  EXPECT_EQ(j["default_client"]["name"].str, text::utf16_to_utf8(name));
}

TEST_F(ResolveCommand, HkcuOfTheExportIsTheDefaultUser) {
  write(dir_ / "hkcu.reg", test::utf16le_file(std::string(kExport) +
                                              "\n[HKEY_CURRENT_USER\\Software\\Clients\\Mail]\n@=\"Fabrikam\"\n"));
  Json j = json_of(run({"--from", path("hkcu.reg"), "--json"}));
  EXPECT_EQ(j["scope"]["kind"].str, "user");
  EXPECT_EQ(j["scope"]["hkcu"].str, "HKEY_CURRENT_USER");
  EXPECT_EQ(j["default_client"]["name"].str, "Fabrikam");
  j = json_of(run({"--from", path("hkcu.reg"), "--json", "--machine"}));
  EXPECT_EQ(j["scope"]["kind"].str, "machine");
  EXPECT_EQ(j["default_client"]["name"].str, "Contoso");
  // --user with a SID the export has no hive for: its HKEY_CURRENT_USER stands in, said so.
  j = json_of(run({"--from", path("hkcu.reg"), "--json", "--user", "S-1-5-21-9"}));
  EXPECT_EQ(j["scope"]["sid"].str, "S-1-5-21-9");
  EXPECT_EQ(j["scope"]["hkcu"].str, "HKEY_CURRENT_USER");
  EXPECT_EQ(j["explanation"][1]["rule"].str, "scope");
}

struct UsageCase {
  const char* name;
  std::vector<std::string> args;
  const char* names;  // what the message must mention
};

class ResolveUsage : public ::testing::TestWithParam<UsageCase> {};

TEST_P(ResolveUsage, ExitsTwoNamingTheArgument) {
  const CommandRun r = run(GetParam().args);
  EXPECT_EQ(r.code, kResolveExitUsage);
  EXPECT_NE(r.err.find(GetParam().names), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage: mapidispatch resolve"), std::string::npos);
  EXPECT_TRUE(r.out.empty());
}

INSTANTIATE_TEST_SUITE_P(
    All, ResolveUsage,
    ::testing::Values(UsageCase{"NoArguments", {}, "--from"},
                      UsageCase{"UnknownArgument", {"--from", "x.reg", "--frobnicate"}, "'--frobnicate'"},
                      UsageCase{"FromWithoutValue", {"--from"}, "--from needs a value"},
                      UsageCase{"FromEmpty", {"--from="}, "--from needs a non-empty value"},
                      UsageCase{"FromTwice", {"--from", "a", "--from", "b"}, "--from is given twice"},
                      UsageCase{"BadBitness", {"--from", "x.reg", "--bitness", "ia64"}, "'ia64'"},
                      UsageCase{"UserNotASid", {"--from", "x.reg", "--user", "bob"}, "--user needs a SID"},
                      UsageCase{"UserAndMachine", {"--from", "x.reg", "--user", "S-1-5-21-1", "--machine"}, "--machine"},
                      UsageCase{"FlagWithValue", {"--from", "x.reg", "--json=yes"}, "--json takes no value"},
                      UsageCase{"BadMsiComponent", {"--from", "x.reg", "--msi-component", "{G}"}, "--msi-component"},
                      UsageCase{"PositionalArgument", {"x.reg"}, "'x.reg'"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST_F(ResolveCommand, RootThatIsNotAFolderIsAUsageError) {
  const CommandRun r = run({"--from", reg(), "--root", path("machine.reg")});
  EXPECT_EQ(r.code, kResolveExitUsage);
  EXPECT_NE(r.err.find("--root"), std::string::npos) << r.err;
}

TEST_F(ResolveCommand, HelpGoesToOut) {
  const CommandRun r = run({"--help"});
  EXPECT_EQ(r.code, kResolveExitOk);
  EXPECT_NE(r.out.find("usage:"), std::string::npos);
}

TEST_F(ResolveCommand, UnreadableFileIsAnInputError) {
  const CommandRun r = run({"--from", path("no-such.reg")});
  EXPECT_EQ(r.code, kResolveExitInput);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
}

TEST_F(ResolveCommand, ParseErrorNamesFileAndLine) {
  write(dir_ / "broken.reg", test::utf16le_file("Windows Registry Editor Version 5.00\r\n\r\n[HKLM\\X]\r\n\"a\"=dword:xyz\r\n"));
  const CommandRun r = run({"--from", path("broken.reg"), "--json"});
  EXPECT_EQ(r.code, kResolveExitInput);
  EXPECT_NE(r.err.find("broken.reg:4: dword:"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST_F(ResolveCommand, NotAnExportIsAnInputError) {
  write(dir_ / "photo.reg", test::provider_dll());
  const CommandRun r = run({"--from", path("photo.reg")});
  EXPECT_EQ(r.code, kResolveExitInput);
  EXPECT_NE(r.err.find("not a registry export"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mapidispatch
