// Copyright MapiDispatch authors.
//
// The table section's security descriptor on a real Windows section, read back ACE by ACE (Wine
// does not enforce DACLs, so reading back is how the descriptor is tested), and the trust rule
// applied to sections created with other owners and DACLs, as a squatter would create them.

#include <gtest/gtest.h>

#include <windows.h>
#include <sddl.h>

#include "../support/test_main.h"
#include "mapidispatch/section_trust.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "mapidispatch/win32/section_security.h"
#include "mapidispatch/win32/unique_handle.h"

namespace mapidispatch {
namespace {

using win32::UniqueKernelHandle;
using win32::UniqueLocalMemory;

std::wstring widen(const std::string& s) { return {s.begin(), s.end()}; }

constexpr wchar_t kNullDacl[] = L"(owner SYSTEM, NULL DACL)";

// Creates a section with the given SDDL, as somebody other than the service might. kNullDacl
// builds a NULL DACL by hand (Wine's SDDL parser has no NO_ACCESS_CONTROL).
UniqueKernelHandle create_with_sddl(const std::string& name, const wchar_t* sddl) {
  PSECURITY_DESCRIPTOR raw = nullptr;
  SECURITY_DESCRIPTOR null_dacl_sd;
  alignas(SID) unsigned char system_sid[SECURITY_MAX_SID_SIZE];
  if (std::wstring(sddl) == kNullDacl) {
    DWORD sid_size = sizeof system_sid;
    if (!::InitializeSecurityDescriptor(&null_dacl_sd, SECURITY_DESCRIPTOR_REVISION) ||
        !::SetSecurityDescriptorDacl(&null_dacl_sd, TRUE, nullptr, FALSE) ||
        !::CreateWellKnownSid(WinLocalSystemSid, nullptr, system_sid, &sid_size) ||
        !::SetSecurityDescriptorOwner(&null_dacl_sd, system_sid, FALSE)) {
      ADD_FAILURE() << "NULL DACL descriptor: " << ::GetLastError();
      return {};
    }
  } else if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &raw, nullptr)) {
    ADD_FAILURE() << "SDDL rejected: " << ::GetLastError();
    return {};
  }
  UniqueLocalMemory hold(raw);
  SECURITY_ATTRIBUTES sa{sizeof sa, raw ? raw : &null_dacl_sd, FALSE};
  UniqueKernelHandle h(::CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0,
                                            65536, widen(name).c_str()));
  EXPECT_TRUE(h.is_valid()) << "CreateFileMappingW: " << ::GetLastError();
  return h;
}

SecurityDescription describe_by_name(const std::string& name) {
  std::unique_ptr<ReadOnlySection> section;
  SecurityDescription desc;
  const std::error_code ec = ReadOnlySection::open(name, &section);
  EXPECT_FALSE(ec) << ec.message();
  if (!section) return desc;
  const std::error_code dec = win32::describe_object_security(static_cast<HANDLE>(section->native_handle()), &desc);
  EXPECT_FALSE(dec) << "a reader's handle must carry READ_CONTROL: " << dec.message();
  return desc;
}

TEST(SectionSecurity, TheServicesSectionReadsBackAceByAce) {
  const std::string name = test::unique_name("mdtest.sd");
  std::unique_ptr<WritableSection> section;
  ASSERT_FALSE(WritableSection::create(name, 65536, &section));

  const SecurityDescription d = describe_by_name(name);
  const std::string expected_owner = win32::running_as_local_system() ? kSidSystem : kSidAdministrators;
  EXPECT_EQ(d.owner_sid, expected_owner);
  EXPECT_TRUE(d.dacl_present);
  EXPECT_FALSE(d.dacl_null) << "never a NULL DACL";
  EXPECT_TRUE(d.dacl_protected) << "no inherited ACEs";
  ASSERT_EQ(d.aces.size(), 4u);
  struct Want { const char* sid; uint32_t mask; };
  const Want want[] = {{kSidSystem, 0xF001F},
                       {kSidAdministrators, 0xF001F},
                       {kSidAuthenticatedUsers, 0x20005},
                       {kSidAllAppPackages, 0x20005}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(d.aces[i].type, AceDescription::Type::kAllowed) << i;
    EXPECT_EQ(d.aces[i].sid, want[i].sid) << i;
    EXPECT_EQ(d.aces[i].mask, want[i].mask) << i;
    EXPECT_EQ(d.aces[i].flags, 0) << i;
  }
  // Readers get exactly map-read, query and read-control: nothing that writes.
  EXPECT_EQ(static_cast<uint32_t>(win32::kTableReadRights), 0x20005u);
  EXPECT_EQ(want[2].mask & kSectionWriteRights, 0u);
  EXPECT_TRUE(evaluate_table_trust(d).trusted) << evaluate_table_trust(d).reason;
}

TEST(SectionSecurity, WriterLockIsPrivate) {
  UniqueLocalMemory sd;
  ASSERT_FALSE(win32::make_writer_lock_security_descriptor(&sd));
  LPWSTR text = nullptr;
  ASSERT_TRUE(::ConvertSecurityDescriptorToStringSecurityDescriptorW(sd.get(), SDDL_REVISION_1,
                                                                     DACL_SECURITY_INFORMATION, &text, nullptr));
  const std::wstring s(text);
  ::LocalFree(text);
  EXPECT_EQ(s.find(L";AU)"), std::wstring::npos) << "only SYSTEM and Administrators may open it";
  EXPECT_NE(s.find(L";SY)"), std::wstring::npos);
  EXPECT_NE(s.find(L";BA)"), std::wstring::npos);
}

struct Squat {
  const wchar_t* sddl;
  bool trusted;
};

class SquattedSections : public ::testing::TestWithParam<Squat> {};

TEST_P(SquattedSections, TrustFollowsOwnerAndDacl) {
  const std::string name = test::unique_name("mdtest.squat");
  UniqueKernelHandle squatter = create_with_sddl(name, GetParam().sddl);
  ASSERT_TRUE(squatter.is_valid());
  const SecurityDescription d = describe_by_name(name);
  const TrustVerdict v = evaluate_table_trust(d);
  EXPECT_EQ(v.trusted, GetParam().trusted) << v.reason;
  if (!v.trusted) {
    EXPECT_FALSE(v.reason.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Descriptors, SquattedSections,
    ::testing::Values(
        // The service's own descriptor, owner SYSTEM: trusted.
        Squat{L"O:SYD:P(A;;0xF001F;;;SY)(A;;0xF001F;;;BA)(A;;0x20005;;;AU)(A;;0x20005;;;S-1-15-2-1)", true},
        // A user owns it (the squatter): refused, whatever the DACL.
        Squat{L"O:S-1-5-21-1-2-3-1001D:P(A;;0xF001F;;;SY)(A;;0x20005;;;AU)", false},
        // Everyone as owner (readable by everyone, so a reader can open it and must refuse it).
        Squat{L"O:WDD:P(A;;0xF001F;;;SY)(A;;0x20005;;;WD)", false},
        // NULL DACL: everyone has everything.
        Squat{kNullDacl, false},
        // Authenticated Users may map it for writing.
        Squat{L"O:SYD:P(A;;0xF001F;;;SY)(A;;0x20007;;;AU)", false},
        // Authenticated Users may rewrite the DACL.
        Squat{L"O:BAD:P(A;;0xF001F;;;BA)(A;;0x40005;;;AU)", false},
        // Everyone GENERIC_ALL.
        Squat{L"O:BAD:P(A;;GA;;;WD)", false},
        // Read-only for everyone, owned by Administrators: trusted.
        Squat{L"O:BAD:P(A;;0xF001F;;;BA)(A;;0x20005;;;WD)", true}));

TEST(SectionSecurity, WriterRefusesASquattedName) {
  const std::string name = test::unique_name("mdtest.squat");
  UniqueKernelHandle squatter = create_with_sddl(name, L"O:S-1-5-21-1-2-3-1001D:P(A;;0xF001F;;;WD)");
  ASSERT_TRUE(squatter.is_valid());
  std::unique_ptr<WritableSection> section;
  EXPECT_EQ(WritableSection::create(name, 65536, &section), TableError::kUntrusted);
  EXPECT_EQ(section, nullptr);
}

}  // namespace
}  // namespace mapidispatch
