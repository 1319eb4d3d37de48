// Copyright MapiDispatch authors.

#include "mapidispatch/section_trust.h"

namespace mapidispatch {
namespace {

constexpr uint8_t kInheritOnlyAce = 0x08;

bool is_privileged(const std::string& sid) { return sid == kSidSystem || sid == kSidAdministrators; }

std::string hex(uint32_t v) {
  static const char digits[] = "0123456789ABCDEF";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xF];
  return s;
}

}  // namespace

TrustVerdict evaluate_table_trust(const SecurityDescription& sd) {
  if (sd.owner_sid.empty()) return {false, "the section has no owner"};
  if (!is_privileged(sd.owner_sid))
    return {false, "the section is owned by " + sd.owner_sid + ", not SYSTEM or Administrators"};
  if (!sd.dacl_present) return {false, "the section has no DACL"};
  if (sd.dacl_null) return {false, "the section has a NULL DACL (everyone has full access)"};
  for (const AceDescription& ace : sd.aces) {
    if (ace.flags & kInheritOnlyAce) continue;  // applies to children only; sections have none
    switch (ace.type) {
      case AceDescription::Type::kDenied:
        continue;  // a deny can only take rights away
      case AceDescription::Type::kOther:
        return {false, "the section's DACL has an ACE of a type this check does not understand"};
      case AceDescription::Type::kAllowed:
        if (is_privileged(ace.sid)) continue;
        if (ace.mask & kSectionWriteRights)
          return {false, "the section's DACL grants " + (ace.sid.empty() ? std::string("an unreadable SID") : ace.sid) +
                             " write access (mask " + hex(ace.mask) + ")"};
        continue;
    }
  }
  return {true, {}};
}

}  // namespace mapidispatch
