// Copyright MapiDispatch authors.
//
// Wow64FileSystem: the paths a 32-bit process reaches on 64-bit Windows, which the service
// checks when it resolves for such processes.

#include <gtest/gtest.h>

#include "mapidispatch/file_system.h"

namespace mapidispatch {
namespace {

std::vector<uint8_t> bytes(const char* s) { return std::vector<uint8_t>(s, s + std::char_traits<char>::length(s)); }

TEST(Wow64FileSystem, System32IsSysWow64AndSysnativeIsSystem32) {
  MemoryFileSystem files;
  const Wow64FileSystem wow64(files, u"C:\\Windows");
  EXPECT_EQ(wow64.redirect(u"C:\\Windows\\System32\\mapi32x.dll"), u"C:\\Windows\\SysWOW64\\mapi32x.dll");
  EXPECT_EQ(wow64.redirect(u"c:/windows/system32/Sub/x.dll"), u"C:\\windows\\SysWOW64\\Sub\\x.dll");
  EXPECT_EQ(wow64.redirect(u"C:\\Windows\\Sysnative\\mapi32.dll"), u"C:\\Windows\\System32\\mapi32.dll");
}

TEST(Wow64FileSystem, ExemptFoldersAndOtherPathsAreUnchanged) {
  MemoryFileSystem files;
  const Wow64FileSystem wow64(files, u"C:\\Windows");
  for (const std::u16string_view p :
       {u"C:\\Windows\\System32\\drivers\\etc\\hosts", u"C:\\Windows\\System32\\spool\\x.dll",
        u"C:\\Windows\\System32\\catroot\\a", u"C:\\Windows\\System32\\catroot2\\a",
        u"C:\\Windows\\System32\\DriverStore\\a.dll", u"C:\\Windows\\System32\\LogFiles\\a",
        u"C:\\Program Files\\Contoso\\mapi.dll", u"D:\\Windows\\System32\\x.dll", u"\\\\srv\\share\\System32\\x.dll",
        u"C:\\Windows\\System32", u"C:\\WindowsX\\System32\\x.dll"})
    EXPECT_EQ(wow64.redirect(p), std::u16string(p)) << std::string(p.begin(), p.end());
  // drivers without etc is redirected.
  EXPECT_EQ(wow64.redirect(u"C:\\Windows\\System32\\drivers\\x.sys"), u"C:\\Windows\\SysWOW64\\drivers\\x.sys");
}

TEST(Wow64FileSystem, FilesAreReadWhereA32BitProcessFindsThem) {
  MemoryFileSystem files;
  files.add_file(u"C:\\Windows\\SysWOW64\\prov.dll", bytes("32-bit"));
  files.add_file(u"C:\\Windows\\System32\\prov.dll", bytes("64-bit"));
  const Wow64FileSystem wow64(files, u"C:\\Windows");
  std::error_code ec;
  EXPECT_EQ(wow64.stat(u"C:\\Windows\\System32\\prov.dll", &ec), FileKind::kFile);
  std::unique_ptr<ByteSource> src;
  ASSERT_FALSE(wow64.open(u"C:\\Windows\\System32\\prov.dll", &src));
  std::vector<uint8_t> got(6);
  ASSERT_TRUE(src->read(0, got));
  EXPECT_EQ(got, bytes("32-bit"));
  EXPECT_TRUE(wow64.same_file(u"C:\\Windows\\System32\\prov.dll", u"C:\\Windows\\SysWOW64\\prov.dll"));
  files.add_file(u"C:\\Windows\\System32\\only64.dll", bytes("x"));
  EXPECT_EQ(wow64.stat(u"C:\\Windows\\System32\\only64.dll", &ec), FileKind::kMissing);
  EXPECT_NE(wow64.description().find(u"WOW64"), std::u16string::npos);
}

}  // namespace
}  // namespace mapidispatch
