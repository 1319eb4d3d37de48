// Copyright MapiDispatch authors.
//
// The .reg reader: every form regedit and `reg export` write, in both encodings, and the
// errors it must name with their line.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "mapidispatch/reg_file.h"
#include "mapidispatch/text.h"
#include "reg_test_util.h"

namespace mapidispatch {
namespace {

using test::utf16le_file;

RegValue value_of(const MemoryRegistry& reg, RegRoot root, std::u16string_view key, std::u16string_view name) {
  std::unique_ptr<RegistryKey> k;
  RegValue v;
  EXPECT_FALSE(reg.open(root, key, RegView::kDefault, &k)) << text::utf16_to_utf8(key);
  if (k) {
    EXPECT_FALSE(k->read_value(name, &v)) << text::utf16_to_utf8(name);
  }
  return v;
}

bool has_key(const MemoryRegistry& reg, RegRoot root, std::u16string_view key) {
  std::unique_ptr<RegistryKey> k;
  return !reg.open(root, key, RegView::kDefault, &k);
}

RegFileResult parse(const std::string& text, MemoryRegistry* reg) {
  return parse_reg_file({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, reg);
}

constexpr char kExport[] =
    "Windows Registry Editor Version 5.00\r\n"
    "\r\n"
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail]\r\n"
    "@=\"Contoso Mail\"\r\n"
    "\"PreFirstRun\"=\"No client*Mail\"\r\n"
    "\r\n"
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail\\Contoso Mail]\r\n"
    "\"DLLPath\"=\"C:\\\\Program Files\\\\Contoso\\\\mapi.dll\"\r\n"
    "\"DLLPathEx\"=hex(2):25,00,50,00,72,00,6f,00,67,00,72,00,61,00,6d,00,46,00,69,00,\\\r\n"
    "  6c,00,65,00,73,00,25,00,5c,00,78,00,2e,00,64,00,6c,00,6c,00,00,00\r\n"
    "\"SupportUTF8\"=dword:00000001\r\n"
    "\"MSIApplicationLCID\"=hex(7):4d,00,79,00,5c,00,4c,00,61,00,6e,00,67,00,00,00,55,00,\\\r\n"
    "  49,00,00,00,00,00\r\n"
    "\"Blob\"=hex:01,02,ff\r\n"
    "\"Quad\"=hex(b):01,00,00,00,00,00,00,00\r\n"
    "\"Quoted \\\"name\\\"\"=\"a \\\"b\\\" c\"\r\n";

TEST(RegFile, ReadsUtf16Export) {
  MemoryRegistry reg;
  const auto bytes = utf16le_file(kExport);
  const RegFileResult r = parse_reg_file(bytes, &reg);
  ASSERT_TRUE(r.ok) << r.line << ": " << r.message;
  EXPECT_EQ(r.encoding, RegFileEncoding::kUtf16Le);
  EXPECT_EQ(r.format, RegFileFormat::kRegedit5);
  EXPECT_EQ(r.keys, 2u);
  EXPECT_EQ(r.values, 9u);
  std::u16string s;
  EXPECT_EQ(decode_reg_string(value_of(reg, RegRoot::kLocalMachine, u"SOFTWARE\\Clients\\Mail", u""), 100, &s), RegStringStatus::kOk);
  EXPECT_EQ(s, u"Contoso Mail");
  const auto mail = u"SOFTWARE\\Clients\\Mail\\Contoso Mail";
  EXPECT_EQ(decode_reg_string(value_of(reg, RegRoot::kLocalMachine, mail, u"DLLPath"), 100, &s), RegStringStatus::kOk);
  EXPECT_EQ(s, u"C:\\Program Files\\Contoso\\mapi.dll");
  const RegValue ex = value_of(reg, RegRoot::kLocalMachine, mail, u"DLLPathEx");
  EXPECT_EQ(ex.type, reg_type::kExpandSz);
  EXPECT_EQ(decode_reg_string(ex, 100, &s), RegStringStatus::kOk);
  EXPECT_EQ(s, u"%ProgramFiles%\\x.dll");
  uint32_t d = 0;
  EXPECT_TRUE(decode_reg_dword(value_of(reg, RegRoot::kLocalMachine, mail, u"SupportUTF8"), &d));
  EXPECT_EQ(d, 1u);
  std::vector<std::u16string> multi;
  EXPECT_TRUE(decode_reg_multi_string(value_of(reg, RegRoot::kLocalMachine, mail, u"MSIApplicationLCID"), 8, 100, &multi));
  EXPECT_EQ(multi, (std::vector<std::u16string>{u"My\\Lang", u"UI"}));
  EXPECT_EQ(value_of(reg, RegRoot::kLocalMachine, mail, u"Blob"), (RegValue{reg_type::kBinary, {1, 2, 0xFF}}));
  EXPECT_EQ(value_of(reg, RegRoot::kLocalMachine, mail, u"Quad").type, reg_type::kQword);
  EXPECT_EQ(decode_reg_string(value_of(reg, RegRoot::kLocalMachine, mail, u"quoted \"NAME\""), 100, &s), RegStringStatus::kOk);
  EXPECT_EQ(s, u"a \"b\" c");
}

TEST(RegFile, ReadsTheSameAsAnsiAndUtf8AndBigEndian) {
  MemoryRegistry a, b, c;
  ASSERT_TRUE(parse(kExport, &a).ok);
  std::vector<uint8_t> bom8 = {0xEF, 0xBB, 0xBF};
  bom8.insert(bom8.end(), kExport, kExport + sizeof kExport - 1);
  const RegFileResult r8 = parse_reg_file(bom8, &b);
  ASSERT_TRUE(r8.ok);
  EXPECT_EQ(r8.encoding, RegFileEncoding::kUtf8);
  std::vector<uint8_t> be = {0xFE, 0xFF};
  for (const char ch : std::string(kExport)) {
    be.push_back(0);
    be.push_back(static_cast<uint8_t>(ch));
  }
  const RegFileResult rbe = parse_reg_file(be, &c);
  ASSERT_TRUE(rbe.ok) << rbe.message;
  EXPECT_EQ(rbe.encoding, RegFileEncoding::kUtf16Be);
  for (const MemoryRegistry* reg : {&a, &b, &c}) {
    EXPECT_EQ(reg->value_count(), 9u);
    EXPECT_EQ(value_of(*reg, RegRoot::kLocalMachine, u"software\\clients\\MAIL\\contoso mail", u"Blob").data,
              (std::vector<uint8_t>{1, 2, 0xFF}));
  }
}

TEST(RegFile, Regedit4AnsiTextTypesBecomeUtf16) {
  // 0xE9 is e-acute in Windows-1252: the file is not UTF-8, so it is read as ANSI; hex(2) bytes
  // of a REGEDIT4 file are ANSI text too.
  const std::string text =
      "REGEDIT4\r\n\r\n[HKEY_CURRENT_USER\\Software\\Caf\xE9]\r\n"
      "\"Path\"=hex(2):43,3a,5c,e9,2e,64,6c,6c,00\r\n"
      "\"Name\"=\"Caf\xE9\"\r\n";
  MemoryRegistry reg;
  const RegFileResult r = parse(text, &reg);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.format, RegFileFormat::kRegedit4);
  EXPECT_EQ(r.encoding, RegFileEncoding::kAnsi);
  std::u16string s;
  RegStringInfo info;
  EXPECT_EQ(decode_reg_string(value_of(reg, RegRoot::kCurrentUser, u"Software\\Caf\u00e9", u"Path"), 100, &s, &info),
            RegStringStatus::kOk);
  EXPECT_EQ(s, u"C:\\\u00e9.dll");
  EXPECT_TRUE(info.expandable);
  EXPECT_TRUE(info.terminated);
  EXPECT_EQ(decode_reg_string(value_of(reg, RegRoot::kCurrentUser, u"SOFTWARE\\CAF\u00c9", u"Name"), 100, &s), RegStringStatus::kOk);
  EXPECT_EQ(s, u"Caf\u00e9");
}

TEST(RegFile, DeletionsRemoveKeysAndValues) {
  const std::string text =
      "Windows Registry Editor Version 5.00\n"
      "[HKLM\\Software\\A\\B\\C]\n\"x\"=\"1\"\n"
      "[HKLM\\Software\\A]\n\"keep\"=\"1\"\n\"gone\"=\"2\"\n"
      "[-HKLM\\Software\\A\\B]\n"
      "[HKLM\\Software\\A]\n\"gone\"=-\n"
      "[-HKLM\\Software\\Never\\There]\n";
  MemoryRegistry reg;
  const RegFileResult r = parse(text, &reg);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.deleted_keys, 2u);
  EXPECT_EQ(r.deleted_values, 1u);
  EXPECT_FALSE(has_key(reg, RegRoot::kLocalMachine, u"Software\\A\\B"));
  EXPECT_FALSE(has_key(reg, RegRoot::kLocalMachine, u"Software\\A\\B\\C"));
  EXPECT_TRUE(has_key(reg, RegRoot::kLocalMachine, u"Software\\A"));
  std::unique_ptr<RegistryKey> k;
  ASSERT_FALSE(reg.open(RegRoot::kLocalMachine, u"Software\\A", RegView::kDefault, &k));
  RegValue v;
  EXPECT_TRUE(is_not_found(k->read_value(u"gone", &v)));
  EXPECT_FALSE(k->read_value(u"keep", &v));
}

TEST(RegFile, RootAliasesAndClassesRoot) {
  MemoryRegistry reg;
  ASSERT_TRUE(parse("Windows Registry Editor Version 5.00\n[HKEY_USERS\\S-1-5-21-1\\Software]\n"
                    "[HKEY_CLASSES_ROOT\\.eml]\n@=\"x\"\n[HKCU\\Software\\Y]\n",
                    &reg)
                  .ok);
  EXPECT_TRUE(has_key(reg, RegRoot::kUsers, u"S-1-5-21-1\\Software"));
  EXPECT_TRUE(has_key(reg, RegRoot::kLocalMachine, u"SOFTWARE\\Classes\\.eml"));
  EXPECT_TRUE(has_key(reg, RegRoot::kCurrentUser, u"Software\\Y"));
}

TEST(RegFile, CommentsBlankLinesAndLfOnlyAndEmptyHex) {
  MemoryRegistry reg;
  const RegFileResult r = parse(
      "\n\nWindows Registry Editor Version 5.00\n; a comment\n\n[HKLM\\X]\n  ; indented comment\n\"e\"=hex:\n\"t\"=hex:01,02,\n",
      &reg);
  ASSERT_TRUE(r.ok) << r.line << ": " << r.message;
  EXPECT_TRUE(value_of(reg, RegRoot::kLocalMachine, u"X", u"e").data.empty());
  EXPECT_EQ(value_of(reg, RegRoot::kLocalMachine, u"X", u"t").data, (std::vector<uint8_t>{1, 2}));
}

TEST(RegFile, LaterValueReplacesEarlierAndKeepsOrder) {
  MemoryRegistry reg;
  ASSERT_TRUE(parse("REGEDIT4\n[HKLM\\X]\n\"b\"=\"1\"\n\"a\"=\"2\"\n\"B\"=\"3\"\n", &reg).ok);
  std::unique_ptr<RegistryKey> k;
  ASSERT_FALSE(reg.open(RegRoot::kLocalMachine, u"x", RegView::kDefault, &k));
  std::vector<std::u16string> names;
  bool truncated = true;
  ASSERT_FALSE(k->value_names(10, &names, &truncated));
  EXPECT_EQ(names, (std::vector<std::u16string>{u"b", u"a"}));
  EXPECT_FALSE(truncated);
  std::u16string s;
  EXPECT_EQ(decode_reg_string(value_of(reg, RegRoot::kLocalMachine, u"X", u"b"), 10, &s), RegStringStatus::kOk);
  EXPECT_EQ(s, u"3");
}

TEST(RegFile, HostileStringsKeepTheirBytes) {
  // hex(1) lets an export carry what a REG_SZ string cannot: no terminator, an embedded NUL.
  MemoryRegistry reg;
  ASSERT_TRUE(parse("Windows Registry Editor Version 5.00\n[HKLM\\X]\n"
                    "\"unterminated\"=hex(1):41,00,42,00\n"
                    "\"hidden\"=hex(1):41,00,00,00,42,00,00,00\n"
                    "\"odd\"=hex(1):41,00,42\n",
                    &reg)
                  .ok);
  std::u16string s;
  RegStringInfo info;
  EXPECT_EQ(decode_reg_string(value_of(reg, RegRoot::kLocalMachine, u"X", u"unterminated"), 10, &s, &info), RegStringStatus::kOk);
  EXPECT_EQ(s, u"AB");
  EXPECT_FALSE(info.terminated);
  EXPECT_EQ(decode_reg_string(value_of(reg, RegRoot::kLocalMachine, u"X", u"hidden"), 10, &s, &info), RegStringStatus::kEmbeddedNul);
  EXPECT_EQ(info.embedded_nul, 1u);
  EXPECT_EQ(decode_reg_string(value_of(reg, RegRoot::kLocalMachine, u"X", u"odd"), 10, &s, &info), RegStringStatus::kOk);
  EXPECT_EQ(s, u"A");
  EXPECT_TRUE(info.odd_length);
}

struct BadFile {
  const char* name;
  const char* text;
  size_t line;
  const char* message_part;
};

class RegFileErrors : public ::testing::TestWithParam<BadFile> {};

TEST_P(RegFileErrors, NameTheLine) {
  MemoryRegistry reg;
  const RegFileResult r = parse(GetParam().text, &reg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.line, GetParam().line) << r.message;
  EXPECT_NE(r.message.find(GetParam().message_part), std::string::npos) << r.message;
}

INSTANTIATE_TEST_SUITE_P(
    All, RegFileErrors,
    ::testing::Values(
        BadFile{"EmptyFile", "", 1, "empty"},
        BadFile{"NotAnExport", "hello\n[HKLM\\X]\n", 1, "not a registry export"},
        BadFile{"ValueBeforeKey", "REGEDIT4\n\n\"a\"=\"b\"\n", 3, "before the first [KEY]"},
        BadFile{"UnknownRoot", "REGEDIT4\n[HKEY_NOWHERE\\X]\n", 2, "unknown root"},
        BadFile{"UnclosedKey", "REGEDIT4\n[HKLM\\X\n", 2, "closing ']'"},
        BadFile{"TextAfterKey", "REGEDIT4\n[HKLM\\X] junk\n", 2, "after ']'"},
        BadFile{"EmptyKeyComponent", "REGEDIT4\n[HKLM\\A\\\\B]\n", 2, "malformed key path"},
        BadFile{"TrailingBackslashInKey", "REGEDIT4\n[HKLM\\A\\]\n", 2, "an empty name"},
        BadFile{"DeleteRoot", "REGEDIT4\n[-HKEY_LOCAL_MACHINE]\n", 2, "root key cannot be deleted"},
        BadFile{"ValueUnderDeletion", "REGEDIT4\n[-HKLM\\X]\n\"a\"=\"b\"\n", 3, "deletion"},
        BadFile{"UnterminatedString", "REGEDIT4\n[HKLM\\X]\n\"a\"=\"b\n", 3, "closing '\"'"},
        BadFile{"UnknownEscape", "REGEDIT4\n[HKLM\\X]\n\"a\"=\"C:\\dir\"\n", 3, "unknown escape"},
        BadFile{"NoEquals", "REGEDIT4\n[HKLM\\X]\n\"a\" \"b\"\n", 3, "'='"},
        BadFile{"TextAfterString", "REGEDIT4\n[HKLM\\X]\n\"a\"=\"b\" c\n", 3, "after the closing"},
        BadFile{"DwordTooLong", "REGEDIT4\n[HKLM\\X]\n\"a\"=dword:123456789\n", 3, "1 to 8 hex digits"},
        BadFile{"DwordNotHex", "REGEDIT4\n[HKLM\\X]\n\"a\"=dword:0000000g\n", 3, "hex digits"},
        BadFile{"HexByteTooLong", "REGEDIT4\n[HKLM\\X]\n\"a\"=hex:123\n", 3, "two hex digits"},
        BadFile{"HexEmptyByte", "REGEDIT4\n[HKLM\\X]\n\"a\"=hex:01,,02\n", 3, "empty byte"},
        BadFile{"HexBadType", "REGEDIT4\n[HKLM\\X]\n\"a\"=hex(z):01\n", 3, "type"},
        BadFile{"HexNoColon", "REGEDIT4\n[HKLM\\X]\n\"a\"=hex(2)01\n", 3, "':'"},
        BadFile{"UnknownDataType", "REGEDIT4\n[HKLM\\X]\n\"a\"=qword:1\n", 3, "unrecognised"},
        BadFile{"ContinuationAtEnd", "REGEDIT4\n[HKLM\\X]\n\"a\"=hex:01,\\\n", 3, "past the end"},
        BadFile{"ErrorAfterContinuationCountsLines", "REGEDIT4\n[HKLM\\X]\n\"a\"=hex:01,\\\n 02\nbad\n", 5, "expected a [KEY]"},
        BadFile{"GarbageLine", "Windows Registry Editor Version 5.00\n[HKLM\\X]\n=\"b\"\n", 3, "expected a [KEY]"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(RegFile, KeyNameLongerThan255IsAnError) {
  MemoryRegistry reg;
  const RegFileResult ok = parse_reg_file(test::utf16le_file("REGEDIT4\n[HKLM\\" + std::string(255, 'k') + "]\n"), &reg);
  EXPECT_TRUE(ok.ok) << ok.message;
  const RegFileResult r = parse_reg_file(test::utf16le_file("REGEDIT4\n\n[HKLM\\" + std::string(256, 'k') + "]\n"), &reg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.line, 3u);
  EXPECT_NE(r.message.find("longer than 255"), std::string::npos) << r.message;
}

// The fuzz seeds are valid exports, so the fuzzer starts from inputs that reach the resolver.
TEST(RegFile, FuzzSeedsAreValidExports) {
  size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(MAPIDISPATCH_REG_SEEDS)) {
    if (entry.path().extension() != ".reg") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    MemoryRegistry reg;
    const RegFileResult r = parse_reg_file(bytes, &reg);
    EXPECT_TRUE(r.ok) << entry.path() << ":" << r.line << ": " << r.message;
    EXPECT_GT(r.values, 0u) << entry.path();
    ++seen;
  }
  EXPECT_GE(seen, 5u);
}

TEST(RegFile, OddUtf16FileIsRejected) {
  auto bytes = utf16le_file("Windows Registry Editor Version 5.00\r\n");
  bytes.push_back('x');
  MemoryRegistry reg;
  const RegFileResult r = parse_reg_file(bytes, &reg);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("odd number of bytes"), std::string::npos);
}

TEST(RegFile, BinaryGarbageIsAnErrorNotACrash) {
  std::vector<uint8_t> junk(4096);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>((i * 7919u) >> 3);
  MemoryRegistry reg;
  EXPECT_FALSE(parse_reg_file(junk, &reg).ok);
}

TEST(RegFile, LargeExportParsesInLinearTime) {
  // 20,000 clients with a long hex(2) value each: a big machine's Clients tree, parsed quickly.
  std::string text = "Windows Registry Editor Version 5.00\r\n";
  for (int i = 0; i < 20000; ++i) {
    text += "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Clients\\Mail\\Client " + std::to_string(i) + "]\r\n";
    text += "\"DLLPathEx\"=hex(2):43,00,3a,00,5c,00,61,00,2e,00,64,00,6c,00,6c,00,\\\r\n  00,00\r\n";
  }
  MemoryRegistry reg;
  const RegFileResult r = parse(text, &reg);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.values, 20000u);
  std::unique_ptr<RegistryKey> k;
  ASSERT_FALSE(reg.open(RegRoot::kLocalMachine, u"SOFTWARE\\Clients\\Mail", RegView::kDefault, &k));
  std::vector<std::u16string> names;
  bool truncated = false;
  ASSERT_FALSE(k->subkey_names(100, &names, &truncated));
  EXPECT_EQ(names.size(), 100u);
  EXPECT_TRUE(truncated);
}

}  // namespace
}  // namespace mapidispatch
