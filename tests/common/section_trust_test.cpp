// Copyright MapiDispatch authors.
//
// The trust rule over described security descriptors (the Windows suite applies the same rule
// to real sections read back from the kernel).

#include <gtest/gtest.h>

#include "mapidispatch/section_trust.h"

namespace mapidispatch {
namespace {

using Type = AceDescription::Type;

SecurityDescription service_descriptor() {
  SecurityDescription sd;
  sd.owner_sid = kSidSystem;
  sd.dacl_present = true;
  sd.dacl_protected = true;
  sd.aces = {{Type::kAllowed, 0, 0xF001F, kSidSystem},
             {Type::kAllowed, 0, 0xF001F, kSidAdministrators},
             {Type::kAllowed, 0, 0x20005, kSidAuthenticatedUsers},
             {Type::kAllowed, 0, 0x20005, kSidAllAppPackages}};
  return sd;
}

TEST(SectionTrust, TheServicesDescriptorIsTrusted) {
  EXPECT_TRUE(evaluate_table_trust(service_descriptor()).trusted);
  SecurityDescription admins = service_descriptor();
  admins.owner_sid = kSidAdministrators;
  EXPECT_TRUE(evaluate_table_trust(admins).trusted);
}

TEST(SectionTrust, SquatterOwnerIsRefused) {
  SecurityDescription sd = service_descriptor();
  sd.owner_sid = "S-1-5-21-1-2-3-1001";
  const TrustVerdict v = evaluate_table_trust(sd);
  EXPECT_FALSE(v.trusted);
  EXPECT_NE(v.reason.find("S-1-5-21-1-2-3-1001"), std::string::npos) << v.reason;
}

TEST(SectionTrust, MissingOwnerIsRefused) {
  SecurityDescription sd = service_descriptor();
  sd.owner_sid.clear();
  EXPECT_FALSE(evaluate_table_trust(sd).trusted);
}

TEST(SectionTrust, NullOrMissingDaclIsRefused) {
  SecurityDescription sd = service_descriptor();
  sd.dacl_null = true;
  sd.aces.clear();
  EXPECT_FALSE(evaluate_table_trust(sd).trusted);
  sd.dacl_null = false;
  sd.dacl_present = false;
  EXPECT_FALSE(evaluate_table_trust(sd).trusted);
}

TEST(SectionTrust, AnyWriteRightForOthersIsRefused) {
  const uint32_t rights[] = {0x0002 /*MAP_WRITE*/, 0x0010 /*EXTEND_SIZE*/, 0x00010000 /*DELETE*/,
                             0x00040000 /*WRITE_DAC*/, 0x00080000 /*WRITE_OWNER*/,
                             0x02000000 /*MAXIMUM_ALLOWED*/, 0x10000000 /*GENERIC_ALL*/,
                             0x40000000 /*GENERIC_WRITE*/, 0xF001F /*SECTION_ALL_ACCESS*/};
  for (const char* who : {kSidAuthenticatedUsers, "S-1-1-0", "S-1-5-21-1-2-3-1001", ""}) {
    for (uint32_t mask : rights) {
      SecurityDescription sd = service_descriptor();
      sd.aces.push_back({Type::kAllowed, 0, mask, who});
      EXPECT_FALSE(evaluate_table_trust(sd).trusted) << who << " " << mask;
    }
  }
}

TEST(SectionTrust, ReadRightsAndDeniesAreFine) {
  SecurityDescription sd = service_descriptor();
  sd.aces.push_back({Type::kAllowed, 0, 0x80000000 /*GENERIC_READ*/ | 0x0004 | 0x0001, "S-1-1-0"});
  sd.aces.push_back({Type::kDenied, 0, 0xFFFFFFFF, "S-1-5-21-1-2-3-1001"});
  EXPECT_TRUE(evaluate_table_trust(sd).trusted);
}

TEST(SectionTrust, InheritOnlyAcesDoNotApply) {
  SecurityDescription sd = service_descriptor();
  sd.aces.push_back({Type::kAllowed, 0x08 /*INHERIT_ONLY*/, 0x10000000, "S-1-1-0"});
  EXPECT_TRUE(evaluate_table_trust(sd).trusted);
}

TEST(SectionTrust, UnknownAllowAceTypeIsRefused) {
  SecurityDescription sd = service_descriptor();
  sd.aces.push_back({Type::kOther, 0, 0, ""});
  EXPECT_FALSE(evaluate_table_trust(sd).trusted);
}

}  // namespace
}  // namespace mapidispatch
