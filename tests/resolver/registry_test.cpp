// Copyright MapiDispatch authors.
//
// The in-memory registry (names, order, views, limits) and the value decoders.

#include <gtest/gtest.h>

#include "mapidispatch/reg_file.h"
#include "mapidispatch/registry.h"
#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

TEST(MemoryRegistry, NamesAreCaseInsensitiveAndKeepTheirCase) {
  MemoryRegistry reg;
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Caf\u00e9", u"DLLPath", make_reg_string(u"x")));
  std::unique_ptr<RegistryKey> k;
  ASSERT_FALSE(reg.open(RegRoot::kLocalMachine, u"SOFTWARE\\clients\\MAIL", RegView::kDefault, &k));
  std::vector<std::u16string> names;
  bool truncated = false;
  ASSERT_FALSE(k->subkey_names(10, &names, &truncated));
  EXPECT_EQ(names, std::vector<std::u16string>{u"Caf\u00e9"});
  std::unique_ptr<RegistryKey> client;
  ASSERT_FALSE(k->open_subkey(u"CAF\u00c9", &client));
  RegValue v;
  EXPECT_FALSE(client->read_value(u"dllpath", &v));
  EXPECT_EQ(reg.key_count(), 4u);
  EXPECT_EQ(reg.value_count(), 1u);
}

TEST(MemoryRegistry, MissingKeysAndValuesAreNotFound) {
  MemoryRegistry reg;
  std::unique_ptr<RegistryKey> k;
  EXPECT_TRUE(is_not_found(reg.open(RegRoot::kLocalMachine, u"Software", RegView::kDefault, &k)));
  ASSERT_FALSE(reg.open(RegRoot::kLocalMachine, u"", RegView::kDefault, &k));
  RegValue v;
  EXPECT_TRUE(is_not_found(k->read_value(u"x", &v)));
  EXPECT_EQ(reg.open(RegRoot::kLocalMachine, u"a\\\\b", RegView::kDefault, &k), RegistryError::kBadName);
  EXPECT_FALSE(is_not_found(make_error_code(RegistryError::kBadName)));
}

TEST(MemoryRegistry, ThirtyTwoBitViewRedirectsSoftwareButNotClients) {
  MemoryRegistry reg;
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"SOFTWARE\\Wow6432Node\\Microsoft\\X", u"v", make_reg_dword(32)));
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"SOFTWARE\\Microsoft\\X", u"v", make_reg_dword(64)));
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"SOFTWARE\\Clients\\Mail", u"", make_reg_string(u"shared")));
  auto read = [&reg](std::u16string_view path, std::u16string_view name, RegView view) {
    std::unique_ptr<RegistryKey> k;
    RegValue v;
    if (reg.open(RegRoot::kLocalMachine, path, view, &k) || k->read_value(name, &v)) return RegValue{};
    return v;
  };
  uint32_t d = 0;
  EXPECT_TRUE(decode_reg_dword(read(u"Software\\Microsoft\\X", u"v", RegView::k32), &d));
  EXPECT_EQ(d, 32u);
  EXPECT_TRUE(decode_reg_dword(read(u"Software\\Microsoft\\X", u"v", RegView::k64), &d));
  EXPECT_EQ(d, 64u);
  EXPECT_TRUE(decode_reg_dword(read(u"Software\\Microsoft\\X", u"v", RegView::kDefault), &d));
  EXPECT_EQ(d, 64u);
  EXPECT_EQ(read(u"Software\\Clients\\Mail", u"", RegView::k32), make_reg_string(u"shared"));
  // A key opened in the 32-bit view opens its subkeys in that view too.
  std::unique_ptr<RegistryKey> sw, x;
  ASSERT_FALSE(reg.open(RegRoot::kLocalMachine, u"Software", RegView::k32, &sw));
  ASSERT_FALSE(sw->open_subkey(u"Microsoft\\X", &x));
  RegValue v;
  ASSERT_FALSE(x->read_value(u"v", &v));
  EXPECT_TRUE(decode_reg_dword(v, &d));
  EXPECT_EQ(d, 32u);
}

TEST(MemoryRegistry, EnumerationIsBounded) {
  MemoryRegistry reg;
  for (int i = 0; i < 50; ++i) {
    ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"K", u"v" + text::ascii(std::to_string(i)), make_reg_dword(1)));
  }
  std::unique_ptr<RegistryKey> k;
  ASSERT_FALSE(reg.open(RegRoot::kLocalMachine, u"K", RegView::kDefault, &k));
  std::vector<std::u16string> names;
  bool truncated = false;
  ASSERT_FALSE(k->value_names(10, &names, &truncated));
  EXPECT_EQ(names.size(), 10u);
  EXPECT_TRUE(truncated);
  ASSERT_FALSE(k->value_names(50, &names, &truncated));
  EXPECT_EQ(names.size(), 50u);
  EXPECT_FALSE(truncated);
}

TEST(MemoryRegistry, DeletedAndRecreatedValueEnumeratesLast) {
  MemoryRegistry reg;
  for (const char16_t* n : {u"a", u"b", u"c"}) ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"K", n, make_reg_dword(1)));
  ASSERT_FALSE(reg.delete_value(RegRoot::kLocalMachine, u"K", u"A"));
  ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"K", u"a", make_reg_dword(2)));
  std::unique_ptr<RegistryKey> k;
  ASSERT_FALSE(reg.open(RegRoot::kLocalMachine, u"K", RegView::kDefault, &k));
  std::vector<std::u16string> names;
  bool truncated = false;
  ASSERT_FALSE(k->value_names(10, &names, &truncated));
  EXPECT_EQ(names, (std::vector<std::u16string>{u"b", u"c", u"a"}));
}

TEST(MemoryRegistry, ManyDeletionsStayCheap) {
  MemoryRegistry reg;
  for (int round = 0; round < 20000; ++round) {
    ASSERT_FALSE(reg.set_value(RegRoot::kLocalMachine, u"K", u"v", make_reg_dword(static_cast<uint32_t>(round))));
    ASSERT_FALSE(reg.delete_value(RegRoot::kLocalMachine, u"K", u"v"));
  }
  EXPECT_EQ(reg.value_count(), 0u);
}

TEST(MemoryRegistry, LimitsAreEnforced) {
  MemoryRegistry reg;
  RegValue big;
  big.type = reg_type::kBinary;
  big.data.resize(kMaxValueBytes + 1);
  EXPECT_EQ(reg.set_value(RegRoot::kLocalMachine, u"K", u"v", big), RegistryError::kTooLarge);
  EXPECT_EQ(reg.set_value(RegRoot::kLocalMachine, u"K", std::u16string(kMaxValueNameChars + 1, u'n'), make_reg_dword(1)),
            RegistryError::kBadName);
  std::u16string deep;
  for (size_t i = 0; i <= kMaxKeyDepth; ++i) deep += u"k\\";
  deep += u"k";
  EXPECT_EQ(reg.create_key(RegRoot::kLocalMachine, deep), RegistryError::kBadName);
  EXPECT_EQ(reg.delete_key(RegRoot::kLocalMachine, u""), RegistryError::kBadName);
}

TEST(RegistryDecode, StringForms) {
  std::u16string s;
  RegStringInfo info;
  EXPECT_EQ(decode_reg_string(make_reg_dword(1), 10, &s), RegStringStatus::kWrongType);
  EXPECT_EQ(decode_reg_string(make_reg_string(u"abc", reg_type::kExpandSz), 10, &s, &info), RegStringStatus::kOk);
  EXPECT_EQ(s, u"abc");
  EXPECT_TRUE(info.expandable);
  EXPECT_EQ(decode_reg_string(make_reg_string(u"abcd"), 3, &s), RegStringStatus::kTooLong);
  EXPECT_TRUE(s.empty());
  RegValue trailing = make_reg_string(u"ab");
  trailing.data.insert(trailing.data.end(), {0, 0, 0, 0});  // extra NULs are padding, not hidden data
  EXPECT_EQ(decode_reg_string(trailing, 10, &s), RegStringStatus::kOk);
  EXPECT_EQ(s, u"ab");
  EXPECT_EQ(decode_reg_string(RegValue{reg_type::kSz, {}}, 10, &s, &info), RegStringStatus::kOk);
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(info.terminated);
}

TEST(RegistryDecode, MultiStringAndDword) {
  std::vector<std::u16string> v;
  EXPECT_TRUE(decode_reg_multi_string(make_reg_multi_string({u"a", u"bc"}), 5, 10, &v));
  EXPECT_EQ(v, (std::vector<std::u16string>{u"a", u"bc"}));
  EXPECT_FALSE(decode_reg_multi_string(make_reg_multi_string({u"a", u"b", u"c"}), 2, 10, &v));
  EXPECT_FALSE(decode_reg_multi_string(make_reg_string(u"a"), 5, 10, &v));
  RegValue unterminated{reg_type::kMultiSz, {'a', 0, 0, 0, 0, 0, 'b', 0}};
  EXPECT_TRUE(decode_reg_multi_string(unterminated, 5, 10, &v));
  EXPECT_EQ(v, std::vector<std::u16string>{u"a"});  // the empty string ends the list
  uint32_t d = 0;
  EXPECT_FALSE(decode_reg_dword(RegValue{reg_type::kDword, {1, 2, 3}}, &d));
  EXPECT_FALSE(decode_reg_dword(RegValue{reg_type::kBinary, {1, 0, 0, 0}}, &d));
  EXPECT_TRUE(decode_reg_dword(RegValue{reg_type::kDword, {1, 2, 0, 0}}, &d));
  EXPECT_EQ(d, 0x201u);
}

TEST(RegistryDecode, TypeNames) {
  EXPECT_EQ(reg_type_name(reg_type::kExpandSz), "REG_EXPAND_SZ");
  EXPECT_EQ(reg_type_name(0x1234), "type 0x1234");
}

}  // namespace
}  // namespace mapidispatch
