// Copyright MapiDispatch authors.
//
//! \file
//! The rule by which a reader decides whether a table section may be trusted, over a plain
//! description of the section's security descriptor (so the rule is tested on every platform;
//! win32/section_security.h reads the description off a real section).
//!
//! The table tells every process which DLL to load, so only SYSTEM and the Administrators group
//! may be able to change it. A section is trusted only if:
//! - its owner is SYSTEM (S-1-5-18) or Administrators (S-1-5-32-544) (an owner may always rewrite
//!   the DACL, so any other owner could grant itself write access);
//! - it has a DACL, and it is not a NULL DACL (which grants everyone everything);
//! - no access-allowed ACE that applies to the object grants any SID other than those two a
//!   right that could change the table or its protection (map for writing, extend, delete,
//!   change the DACL or owner, or a generic right that includes one of those);
//! - it has no allow ACE of a type the rule does not understand.

#ifndef MAPIDISPATCH_SECTION_TRUST_H_
#define MAPIDISPATCH_SECTION_TRUST_H_

#include <cstdint>
#include <string>
#include <vector>

namespace mapidispatch {

inline constexpr char kSidSystem[] = "S-1-5-18";
inline constexpr char kSidAdministrators[] = "S-1-5-32-544";
inline constexpr char kSidAuthenticatedUsers[] = "S-1-5-11";
inline constexpr char kSidAllAppPackages[] = "S-1-15-2-1";

//! Access-mask bits (winnt.h values) that let a holder change a section or its protection.
inline constexpr uint32_t kSectionWriteRights =
    0x0002u        // SECTION_MAP_WRITE
    | 0x0010u      // SECTION_EXTEND_SIZE
    | 0x00010000u  // DELETE
    | 0x00040000u  // WRITE_DAC
    | 0x00080000u  // WRITE_OWNER
    | 0x02000000u  // MAXIMUM_ALLOWED
    | 0x10000000u  // GENERIC_ALL
    | 0x40000000u; // GENERIC_WRITE

//! One ACE, as read from a DACL.
struct AceDescription {
  enum class Type : uint8_t { kAllowed, kDenied, kOther };
  Type type = Type::kOther;
  uint8_t flags = 0;  //!< AceFlags (INHERIT_ONLY_ACE = 0x08: does not apply to the object).
  uint32_t mask = 0;
  std::string sid;    //!< "S-1-..." ("" if the ACE has no SID the reader could read).
};

//! A security descriptor's owner and DACL.
struct SecurityDescription {
  std::string owner_sid;  //!< "" if it has no owner.
  bool dacl_present = false;
  bool dacl_null = false;  //!< Present but NULL: everyone has full access.
  bool dacl_protected = false;
  std::vector<AceDescription> aces;
};

struct TrustVerdict {
  bool trusted = false;
  std::string reason;  //!< Why not, in words for the Event Log and `mapidispatch status`.
};

//! Applies the rule above.
TrustVerdict evaluate_table_trust(const SecurityDescription& sd);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_SECTION_TRUST_H_
