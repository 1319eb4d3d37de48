// Copyright MapiDispatch authors.

#include "mapidispatch/win32/section_security.h"

#include <sddl.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace mapidispatch::win32 {
namespace {

std::error_code last_error() { return {static_cast<int>(::GetLastError()), std::system_category()}; }

}  // namespace

std::wstring table_security_sddl(const wchar_t* owner) {
  // 0xF001F = SECTION_ALL_ACCESS; 0x20005 = kTableReadRights. Written out rather than GA/GR so
  // the descriptor reads back the same on every Windows version and on Wine.
  std::wstring sddl = L"O:";
  sddl += owner;
  sddl += L"D:P(A;;0xF001F;;;SY)(A;;0xF001F;;;BA)(A;;0x20005;;;AU)(A;;0x20005;;;S-1-15-2-1)";
  return sddl;
}

std::wstring writer_lock_sddl(const wchar_t* owner) {
  // 0x1F0001 = MUTEX_ALL_ACCESS (with SYNCHRONIZE, which waiting needs). Nobody else may open it:
  // a user who could would be able to hold it and keep the service from publishing.
  std::wstring sddl = L"O:";
  sddl += owner;
  sddl += L"D:P(A;;0x1F0001;;;SY)(A;;0x1F0001;;;BA)";
  return sddl;
}

bool running_as_local_system() {
  UniqueKernelHandle token;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, token.put())) return false;
  alignas(TOKEN_USER) unsigned char buf[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
  DWORD len = 0;
  if (!::GetTokenInformation(token.get(), TokenUser, buf, sizeof buf, &len)) return false;
  return ::IsWellKnownSid(reinterpret_cast<TOKEN_USER*>(buf)->User.Sid, WinLocalSystemSid) != FALSE;
}

namespace {
std::error_code sd_from_sddl(const std::wstring& sddl, UniqueLocalMemory* sd) {
  PSECURITY_DESCRIPTOR raw = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, &raw, nullptr))
    return last_error();
  sd->reset(raw);
  return {};
}
}  // namespace

std::error_code make_table_security_descriptor(UniqueLocalMemory* sd) {
  return sd_from_sddl(table_security_sddl(running_as_local_system() ? L"SY" : L"BA"), sd);
}

std::error_code make_writer_lock_security_descriptor(UniqueLocalMemory* sd) {
  return sd_from_sddl(writer_lock_sddl(running_as_local_system() ? L"SY" : L"BA"), sd);
}

std::string sid_to_string(PSID sid) {
  // What ConvertSidToStringSidA writes ("S-1-5-21-...", the authority in hex when it needs more
  // than 32 bits), formatted here: no allocation by the system, and none of the first-use cost
  // ConvertSidToStringSid has (tens of microseconds under Wine, on the stub's first call).
  if (sid == nullptr || !::IsValidSid(sid)) return {};
  const BYTE* a = ::GetSidIdentifierAuthority(sid)->Value;
  char buf[32];
  std::string text = "S-" + std::to_string(static_cast<const SID*>(sid)->Revision) + "-";
  if (a[0] != 0 || a[1] != 0) {
    std::snprintf(buf, sizeof buf, "0x%02X%02X%02X%02X%02X%02X", a[0], a[1], a[2], a[3], a[4], a[5]);
    text += buf;
  } else {
    text += std::to_string((uint32_t{a[2]} << 24) | (uint32_t{a[3]} << 16) | (uint32_t{a[4]} << 8) | uint32_t{a[5]});
  }
  const UCHAR count = *::GetSidSubAuthorityCount(sid);
  for (UCHAR i = 0; i < count; ++i) text += "-" + std::to_string(*::GetSidSubAuthority(sid, i));
  return text;
}

std::error_code describe_object_security(HANDLE handle, SecurityDescription* out) {
  *out = {};
  // One query into a buffer on the stack (the table's descriptor is about 120 bytes); a larger
  // one (somebody else's section) is read again into one of the size the system asks for.
  // GetSecurityInfo asks twice (for the size, then the descriptor) and copies it once more.
  constexpr SECURITY_INFORMATION kWhat = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
  alignas(8) unsigned char small[1024];
  std::vector<uint64_t> large;  // 8-byte aligned, like `small`
  PSECURITY_DESCRIPTOR raw = small;
  DWORD size = sizeof small;
  for (int attempt = 0;; ++attempt) {
    DWORD needed = 0;
    if (::GetKernelObjectSecurity(handle, kWhat, raw, size, &needed)) break;
    const DWORD err = ::GetLastError();
    // The descriptor may grow between two queries: a few attempts, then give up.
    if (err != ERROR_INSUFFICIENT_BUFFER || needed <= size || attempt == 3) return {static_cast<int>(err), std::system_category()};
    large.assign((needed + 7) / 8, 0);
    raw = large.data();
    size = static_cast<DWORD>(large.size() * 8);
  }

  PSID owner = nullptr;
  BOOL owner_defaulted = FALSE;
  if (!::GetSecurityDescriptorOwner(raw, &owner, &owner_defaulted)) return last_error();
  out->owner_sid = sid_to_string(owner);

  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  if (::GetSecurityDescriptorControl(raw, &control, &revision)) {
    out->dacl_present = (control & SE_DACL_PRESENT) != 0;
    out->dacl_protected = (control & SE_DACL_PROTECTED) != 0;
  }
  BOOL present = FALSE, dacl_defaulted = FALSE;
  PACL dacl = nullptr;
  if (!::GetSecurityDescriptorDacl(raw, &present, &dacl, &dacl_defaulted)) return last_error();
  if (out->dacl_present && dacl == nullptr) {
    out->dacl_null = true;
    return {};
  }
  if (dacl == nullptr) return {};
  ACL_SIZE_INFORMATION info{};
  if (!::GetAclInformation(dacl, &info, sizeof info, AclSizeInformation)) return last_error();
  out->aces.reserve(info.AceCount);
  for (DWORD i = 0; i < info.AceCount; ++i) {
    void* raw_ace = nullptr;
    if (!::GetAce(dacl, i, &raw_ace)) return last_error();
    const auto* header = static_cast<const ACE_HEADER*>(raw_ace);
    AceDescription ace;
    ace.flags = header->AceFlags;
    if (header->AceType == ACCESS_ALLOWED_ACE_TYPE) {
      const auto* a = static_cast<const ACCESS_ALLOWED_ACE*>(raw_ace);
      ace.type = AceDescription::Type::kAllowed;
      ace.mask = a->Mask;
      ace.sid = sid_to_string(const_cast<DWORD*>(&a->SidStart));
    } else if (header->AceType == ACCESS_DENIED_ACE_TYPE) {
      const auto* a = static_cast<const ACCESS_DENIED_ACE*>(raw_ace);
      ace.type = AceDescription::Type::kDenied;
      ace.mask = a->Mask;
      ace.sid = sid_to_string(const_cast<DWORD*>(&a->SidStart));
    } else {
      ace.type = AceDescription::Type::kOther;
    }
    out->aces.push_back(std::move(ace));
  }
  return {};
}

}  // namespace mapidispatch::win32
