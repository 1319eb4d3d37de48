// Copyright MapiDispatch authors.
//
// `mapidispatch resolve` through run_resolve_command(): exit codes, messages naming the bad
// argument or line, and the JSON document support engineers script against (parsed strictly).

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "../support/test_main.h"
#include "golden_file.h"
#include "mapidispatch/resolve_command.h"
#include "mapidispatch/text.h"
#include "pe_builder.h"
#include "reg_test_util.h"

namespace mapidispatch {
namespace {

using Json = nlohmann::json;

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

// The document, parsed strictly (RFC 8259: no comments, no trailing commas); null if it is not JSON.
Json json_of(const CommandRun& r) {
  try {
    return Json::parse(r.out);
  } catch (const Json::parse_error& e) {
    ADD_FAILURE() << e.what() << "\n" << r.out;
    return Json();
  }
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

// Issue #14 offline: an export's provider whose import is not among the --root files is named,
// and the document says what an export cannot know.
TEST_F(ResolveCommand, AMissingImportIsNamedOfflineWithWhatAnExportCannotKnow) {
  test::PeSpec spec;
  spec.exports = test::all_exports();
  spec.imports = {"KERNEL32.dll", "VCRUNTIME140_1.dll"};
  write(dir_ / "root" / "C" / "Program Files" / "Contoso" / "cmapi.dll", test::build_pe(spec));
  std::filesystem::create_directories(dir_ / "root" / "C" / "Windows" / "System32");
  write(dir_ / "root" / "C" / "Windows" / "System32" / "kernel32.dll", test::provider_dll(0x8664));
  CommandRun r = run({"--from", reg(), "--root", root(), "--json"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  Json j = json_of(r);
  EXPECT_EQ(j.at("simple").at("status"), "found");
  EXPECT_TRUE(j.at("simple").at("dependency_blocks_load").get<bool>());
  const std::string reason = j.at("simple").at("reason");
  EXPECT_EQ(reason.rfind("warning: will not load here: cmapi.dll imports VCRUNTIME140_1.dll: not found in "
                         "C:\\Program Files\\Contoso, C:\\Windows\\System32, C:\\Windows, PATH (", 0),
            0u) << reason;
  bool named = false, offline = false;
  for (const auto& step : j.at("explanation")) {
    if (step.at("rule") == "dependency" && step.at("value") == "VCRUNTIME140_1.dll") named = true;
    if (step.at("rule") == "dependency-offline") {
      offline = step.at("detail").get<std::string>().find("SetDllDirectory") != std::string::npos;
    }
  }
  EXPECT_TRUE(named && offline) << j.at("explanation").dump(1);
  // The runtime beside the provider: nothing to say.
  write(dir_ / "root" / "C" / "Program Files" / "Contoso" / "VCRUNTIME140_1.dll", test::provider_dll(0x8664));
  r = run({"--from", reg(), "--root", root(), "--json"});
  j = json_of(r);
  EXPECT_FALSE(j.at("simple").at("dependency_blocks_load").get<bool>()) << j.at("simple").at("reason");
}

TEST_F(ResolveCommand, JsonDocumentOfTheMachineScope) {
  const CommandRun r = run({"--from", reg(), "--root", root(), "--json"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const Json j = json_of(r);
  EXPECT_EQ(j.at("schema"), "mapidispatch.resolve/1");
  EXPECT_EQ(j.at("status"), "ok");
  EXPECT_EQ(j.at("input").at("format"), "regedit5");
  EXPECT_EQ(j.at("input").at("encoding"), "utf-16le");
  EXPECT_EQ(j.at("input").at("keys"), 5);
  EXPECT_EQ(j.at("options").at("bitness"), "neutral");
  EXPECT_TRUE(j.at("options").at("files_checked").get<bool>());
  EXPECT_EQ(j.at("options").at("system_directory"), "C:\\Windows\\System32");
  EXPECT_EQ(j.at("scope").at("kind"), "machine");
  EXPECT_TRUE(j.at("scope").at("hkcu").is_null());
  EXPECT_EQ(j.at("default_client").at("name"), "Contoso");
  EXPECT_EQ(j.at("default_client").at("source"), "hklm");
  for (const char* family : {"simple", "extended"}) {
    EXPECT_EQ(j.at(family).at("status"), "found") << j.at(family).at("reason");
    EXPECT_EQ(j.at(family).at("machine"), "x64");
    EXPECT_EQ(j.at(family).at("source"), "hklm");
    EXPECT_EQ(j.at(family).at("path"), "C:\\Program Files\\Contoso\\cmapi.dll");
    EXPECT_EQ(j.at(family).at("client"), "Contoso");
  }
  EXPECT_EQ(j.at("mapi32x").at("status"), "missing");
  EXPECT_EQ(j.at("mapi32x").at("source"), "fallback");
  EXPECT_FALSE(j.at("supports_utf8").get<bool>());
  EXPECT_EQ(j.at("prefirstrun").at("message"), "Install a mail program.");
  EXPECT_EQ(j.at("prefirstrun").at("caption"), "Mail");
  ASSERT_EQ(j.at("overrides").size(), 2u);
  EXPECT_EQ(j.at("overrides").at(0).at("module"), "legacy.exe");
  EXPECT_EQ(j.at("overrides").at(0).at("simple").at("status"), "denied-by-policy");
  EXPECT_EQ(j.at("overrides").at(0).at("simple").at("source"), "override");
  EXPECT_TRUE(j.at("overrides").at(1).at("uses_mapi32x").get<bool>());
  EXPECT_TRUE(j.at("effective").at("module").is_null());
  EXPECT_EQ(j.at("effective").at("simple").at("from"), "default");
  EXPECT_EQ(j.at("effective").at("simple").at("target").at("status"), "found");
  ASSERT_FALSE(j.at("explanation").empty());
  for (const Json& step : j.at("explanation")) {
    EXPECT_FALSE(step.at("rule").get<std::string>().empty());
    EXPECT_TRUE(step.contains("key") && step.contains("value") && step.contains("detail"));
  }
}

TEST_F(ResolveCommand, UserScopeFromHkeyUsersWithModuleOverride) {
  const CommandRun r = run({"--from", reg(), "--root", root(), "--json", "--user", "S-1-5-21-1-2-3-1001", "--module",
                     "SEARCHPROTOCOLHOST.EXE", "--allow-unc"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  const Json j = json_of(r);
  EXPECT_EQ(j.at("scope").at("kind"), "user");
  EXPECT_EQ(j.at("scope").at("sid"), "S-1-5-21-1-2-3-1001");
  EXPECT_EQ(j.at("scope").at("hkcu"), "HKEY_USERS\\S-1-5-21-1-2-3-1001");
  EXPECT_EQ(j.at("default_client").at("name"), "Fabrikam");
  EXPECT_EQ(j.at("default_client").at("source"), "hkcu");
  EXPECT_EQ(j.at("simple").at("status"), "missing");  // UNC allowed now, but the share is not in --root
  EXPECT_EQ(j.at("effective").at("module"), "SEARCHPROTOCOLHOST.EXE");
  EXPECT_EQ(j.at("effective").at("override"), "SearchProtocolHost.exe");
  EXPECT_EQ(j.at("effective").at("simple").at("from"), "none");
  EXPECT_EQ(j.at("effective").at("simple").at("target").at("source"), "fallback");
}

TEST_F(ResolveCommand, ExplicitBitnessMarksWrongBitness) {
  const CommandRun r = run({"--from", reg(), "--root", root(), "--json", "--bitness", "x86"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  const Json j = json_of(r);
  EXPECT_EQ(j.at("options").at("bitness"), "x86");
  EXPECT_EQ(j.at("options").at("registry_view"), "32");
  EXPECT_EQ(j.at("simple").at("status"), "wrong-bitness");
  EXPECT_NE(j.at("simple").at("reason").get<std::string>().find("x64 DLL"), std::string::npos);
  EXPECT_NE(j.at("simple").at("reason").get<std::string>().find("the process is x86"), std::string::npos);
  // A 32-bit process on 64-bit Windows: %ProgramFiles% is the (x86) folder, only when the
  // export shows a 64-bit system; this one has no Wow6432Node, so it is a 32-bit system.
  EXPECT_EQ(j.at("extended").at("path"), "C:\\Program Files\\Contoso\\cmapi.dll");
}

TEST_F(ResolveCommand, WithoutRootFilesAreNotChecked) {
  const CommandRun r = run({"--from", reg(), "--json"});
  ASSERT_EQ(r.code, kResolveExitOk) << r.err;
  const Json j = json_of(r);
  EXPECT_FALSE(j.at("options").at("files_checked").get<bool>());
  EXPECT_TRUE(j.at("options").at("root").is_null());
  EXPECT_EQ(j.at("simple").at("status"), "missing");
  EXPECT_NE(j.at("simple").at("reason").get<std::string>().find("cannot be read"), std::string::npos) << j.at("simple").at("reason");
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
  EXPECT_EQ(j.at("simple").at("source"), "msi");
  EXPECT_EQ(j.at("simple").at("status"), "found");
  r = run({"--from", path("msi.reg"), "--json", "--root", root()});
  j = json_of(r);
  EXPECT_EQ(j.at("simple").at("source"), "hklm");  // not available offline: DLLPath decides
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
  EXPECT_EQ(j.at("prefirstrun").at("message"), "\"\t");
  EXPECT_EQ(j.at("prefirstrun").at("caption"), "\xEF\xBF\xBD\xC3\xA9");
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
  EXPECT_EQ(j.at("default_client").at("name"), text::utf16_to_utf8(name));
}

TEST_F(ResolveCommand, HkcuOfTheExportIsTheDefaultUser) {
  write(dir_ / "hkcu.reg", test::utf16le_file(std::string(kExport) +
                                              "\n[HKEY_CURRENT_USER\\Software\\Clients\\Mail]\n@=\"Fabrikam\"\n"));
  Json j = json_of(run({"--from", path("hkcu.reg"), "--json"}));
  EXPECT_EQ(j.at("scope").at("kind"), "user");
  EXPECT_EQ(j.at("scope").at("hkcu"), "HKEY_CURRENT_USER");
  EXPECT_EQ(j.at("default_client").at("name"), "Fabrikam");
  j = json_of(run({"--from", path("hkcu.reg"), "--json", "--machine"}));
  EXPECT_EQ(j.at("scope").at("kind"), "machine");
  EXPECT_EQ(j.at("default_client").at("name"), "Contoso");
  // --user with a SID the export has no hive for: its HKEY_CURRENT_USER stands in, said so.
  j = json_of(run({"--from", path("hkcu.reg"), "--json", "--user", "S-1-5-21-9"}));
  EXPECT_EQ(j.at("scope").at("sid"), "S-1-5-21-9");
  EXPECT_EQ(j.at("scope").at("hkcu"), "HKEY_CURRENT_USER");
  EXPECT_EQ(j.at("explanation").at(1).at("rule"), "scope");
}

// The documents byte for byte: the golden files were written by the hand-made writer that
// nlohmann-json replaced, so key order, spacing, escapes and numbers stay what scripts read.
// Relative --from and --root (run in the test's folder) make the documents the same anywhere.
class ResolveGolden : public ResolveCommand {
 protected:
  void SetUp() override {
    ResolveCommand::SetUp();
    // Every C0 control, DEL, C1 controls, quotes, backslashes, a slash, non-ASCII, a surrogate
    // pair and a lone surrogate: in a client name (quoted by the reasons) and in PreFirstRun.
    std::u16string name = u"Ctl";
    for (char16_t c = 1; c < 0x20; ++c) name += c;
    name += u"\x7f\x80\x9f \"q\" back\\slash /slash caf\u00e9 \u4e2d \U0001F600 ";
    name += static_cast<char16_t>(0xD800);
    name += u" end";
    const std::string text = std::string(kExport) +
                             "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail]\n"
                             "@=hex(1):" + test::reg_hex_utf16(name) + "\n"
                             "\"PreFirstRun\"=hex(1):" + test::reg_hex_utf16(u"msg\b\f\x7f\u00e9*cap\x01\U0001F600") + "\n";
    write(dir_ / "hostile.reg", test::utf16le_file(text));
    for (const auto& entry : std::filesystem::directory_iterator(MAPIDISPATCH_REG_SEEDS)) {
      if (entry.path().extension() != ".reg") continue;
      std::filesystem::copy_file(entry.path(), dir_ / ("seed-" + entry.path().filename().string()));
    }
    previous_ = std::filesystem::current_path();
    std::filesystem::current_path(dir_);
  }
  void TearDown() override {
    std::filesystem::current_path(previous_);
    ResolveCommand::TearDown();
  }
  // The one text that depends on the platform: without --root no file is read, and the reasons
  // quote the C runtime's words for that error (mingw: "error 130: Unknown error"); the golden
  // files have glibc's.
  static std::string as_on_linux(std::string out) {
    const std::error_code ec = std::make_error_code(std::errc::operation_not_supported);
    const std::string here = "error " + std::to_string(ec.value()) + ": " + ec.message();
    const std::string glibc = "error 95: Operation not supported";
    for (size_t at = out.find(here); at != std::string::npos; at = out.find(here, at + glibc.size()))
      out.replace(at, here.size(), glibc);
    return out;
  }
  static void expect_golden(const std::string& name, const std::vector<std::string>& args) {
    const CommandRun r = run(args);
    EXPECT_EQ(r.code, kResolveExitOk) << name << ": " << r.err;
    EXPECT_TRUE(test::matches_golden(std::string(MAPIDISPATCH_GOLDEN_DIR) + "/resolve-" + name + ".json",
                                     as_on_linux(r.out)));
  }

  std::filesystem::path previous_;
};

TEST_F(ResolveGolden, DocumentsAreByteForByteTheSame) {
  expect_golden("machine", {"--from", "machine.reg", "--root", "root", "--json"});
  expect_golden("user-module", {"--from", "machine.reg", "--root", "root", "--json", "--user", "S-1-5-21-1-2-3-1001",
                                "--module", "SEARCHPROTOCOLHOST.EXE", "--allow-unc"});
  expect_golden("x86", {"--from", "machine.reg", "--root", "root", "--json", "--bitness", "x86", "--module", "legacy.exe"});
  expect_golden("no-root", {"--from", "machine.reg", "--json", "--stub-path", "C:\\Windows\\mapi32.dll"});
  // The --module argument is UTF-8 from the command line: control characters, DEL, an invalid byte.
  expect_golden("hostile", {"--from", "hostile.reg", "--json", "--module", "m\x01\x7f\xff\xc3\xa9.exe"});
  for (const char* seed : {"hkcu-utf16", "hostile", "machine-utf16", "msi-regedit4", "users"})
    expect_golden(std::string("seed-") + seed, {"--from", std::string("seed-") + seed + ".reg", "--json"});
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
