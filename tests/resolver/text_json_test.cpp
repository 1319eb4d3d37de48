// Copyright MapiDispatch authors.
//
// UTF conversions, Windows name folding, and the JSON writer's escaping.

#include <gtest/gtest.h>

#include "mapidispatch/json_writer.h"
#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

TEST(Text, Utf16ToUtf8JoinsSurrogatePairsAndReplacesLoneOnes) {
  EXPECT_EQ(text::utf16_to_utf8(u"a\u00e9\u6d4b"), "a\xC3\xA9\xE6\xB5\x8B");
  EXPECT_EQ(text::utf16_to_utf8(u"\U0001F600"), "\xF0\x9F\x98\x80");
  const char16_t lone_high[] = {u'x', 0xD83D, u'y', 0};
  EXPECT_EQ(text::utf16_to_utf8(lone_high), "x\xEF\xBF\xBDy");
  const char16_t lone_low[] = {0xDE00, 0};
  EXPECT_EQ(text::utf16_to_utf8(lone_low), "\xEF\xBF\xBD");
  const char16_t reversed[] = {0xDE00, 0xD83D, 0};
  EXPECT_EQ(text::utf16_to_utf8(reversed), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Text, Utf8ToUtf16ValidatesEachSequence) {
  bool valid = false;
  EXPECT_EQ(text::utf8_to_utf16("\xF0\x9F\x98\x80", &valid), u"\U0001F600");
  EXPECT_TRUE(valid);
  EXPECT_EQ(text::utf8_to_utf16("a\xC0\xAF" "b", &valid), u"a\uFFFD\uFFFDb");  // overlong '/'
  EXPECT_FALSE(valid);
  EXPECT_EQ(text::utf8_to_utf16("\xED\xA0\x80", &valid), u"\uFFFD");  // a surrogate
  EXPECT_FALSE(valid);
  EXPECT_EQ(text::utf8_to_utf16("\xE6\xB5", &valid), u"\uFFFD");  // truncated
  EXPECT_FALSE(text::is_valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_TRUE(text::is_valid_utf8("plain"));
}

TEST(Text, Cp1252MapsTheHighRange) {
  EXPECT_EQ(text::cp1252_to_utf16("\x80\x99\xE9\x81"), u"\u20AC\u2122\u00e9\u0081");
}

TEST(Text, FoldingComparesLikeWindows) {
  EXPECT_TRUE(text::iequals(u"Microsoft Outlook", u"MICROSOFT OUTLOOK"));
  EXPECT_TRUE(text::iequals(u"caf\u00e9", u"CAF\u00c9"));
  EXPECT_TRUE(text::iequals(u"\u0436", u"\u0416"));   // Cyrillic zhe
  EXPECT_TRUE(text::iequals(u"\u0101", u"\u0100"));   // a with macron
  EXPECT_TRUE(text::iequals(u"\u013a", u"\u0139"));   // l with acute: the shifted run
  EXPECT_FALSE(text::iequals(u"a", u"b"));
  EXPECT_FALSE(text::iequals(u"ab", u"a"));
  EXPECT_TRUE(text::iends_with(u"C:\\X\\MAPI32.DLL", u"mapi32.dll"));
  EXPECT_TRUE(text::istarts_with(u"s-1-5", u"S-1-"));
}

TEST(JsonWriter, EscapesControlCharactersQuotesAndBackslashes) {
  EXPECT_EQ(json_quote(u"a\"b\\c\n\t\x01\x1f\x7f"), "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(json_quote(std::u16string(1, u'\0')), "\"\\u0000\"");
  const char16_t lone[] = {0xD800, 0};
  EXPECT_EQ(json_quote(lone), "\"\xEF\xBF\xBD\"");
  EXPECT_EQ(json_quote(std::string_view("bad \xFF utf8")), "\"bad \xEF\xBF\xBD utf8\"");
  EXPECT_EQ(json_quote(u"\U0001F600"), "\"\xF0\x9F\x98\x80\"");
}

TEST(JsonWriter, WritesNestedDocumentsInBothLayouts) {
  const Json doc = Json::object({{"z", 1},
                                 {"b", Json::array({true, nullptr, json_string(u"x"), Json::object(), Json::array()})},
                                 {"c", static_cast<uint64_t>(18446744073709551615ull)},
                                 {"d", static_cast<int64_t>(-5)}});
  // Members stay in the order written (not sorted: "z" first).
  EXPECT_EQ(json_text(doc, JsonLayout::kPretty),
            "{\n  \"z\": 1,\n  \"b\": [\n    true,\n    null,\n    \"x\",\n    {},\n    []\n  ],\n"
            "  \"c\": 18446744073709551615,\n  \"d\": -5\n}\n");
  EXPECT_EQ(json_text(doc, JsonLayout::kCompact), "{\"z\":1,\"b\":[true,null,\"x\",{},[]],\"c\":18446744073709551615,\"d\":-5}\n");
  // A string that bypassed json_string (invalid UTF-8) is still written, replaced, not thrown.
  EXPECT_EQ(json_text(Json::array({std::string("a\xff\x7f")}), JsonLayout::kCompact), "[\"a\xEF\xBF\xBD\\u007f\"]\n");
}

}  // namespace
}  // namespace mapidispatch
