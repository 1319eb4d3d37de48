// Copyright MapiDispatch authors.
//
// Incomplete tables (table_layout.h, ABI 1.2): when the user scopes do not all fit the section,
// the writer publishes the machine scope and the users that fit (in directory order, a user kept
// or left out in both views alike), flags the table and counts what it left out; a reader whose
// user is not in such a table is told so (kUserNotInTable: read the registry), while a complete
// table still answers a user without a scope with the machine scope.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "../support/table_region.h"
#include "../support/table_samples.h"
#include "../support/table_variants.h"
#include "mapidispatch/crc32c.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"

namespace mapidispatch {
namespace {

using test::sample_machine;
using test::sample_scopes;
using test::sample_user;

using Region = test::TableRegion;

// Ten users whose records are all the same size (one-digit indexes): what fits is then a count,
// and the users kept must be the first ones in directory order.
std::vector<ScopeResolution> equal_users() { return sample_scopes(10); }

// The users of `scopes` in directory order, as a complete table lists them.
std::vector<std::u16string> directory_order(const std::vector<ScopeResolution>& scopes) {
  Region big(1024 * 1024);
  TableWriter w(big.bytes(), 1, 0);
  EXPECT_FALSE(w.publish(scopes));
  TableSnapshot all;
  EXPECT_EQ(TableReader(big.cbytes()).read_all(&all), TableError::kOk);
  std::vector<std::u16string> sids;
  for (const auto& u : all.users) sids.push_back(u.sid);
  return sids;
}

const ScopeResolution& by_sid(const std::vector<ScopeResolution>& scopes, const std::u16string& sid) {
  return *std::find_if(scopes.begin(), scopes.end(), [&](const ScopeResolution& s) { return s.sid == sid; });
}

// Bytes of a complete image of the machine and these users.
size_t image_bytes(const std::vector<ScopeResolution>& scopes, const std::vector<std::u16string>& sids) {
  std::vector<ScopeResolution> some{scopes[0]};
  for (const auto& sid : sids) some.push_back(by_sid(scopes, sid));
  std::vector<std::byte> image;
  EXPECT_FALSE(build_table_image(some, 1, 0, 1, 1024 * 1024, &image));
  return image.size();
}

TEST(TableIncomplete, TheMachineAndTheUsersThatFitArePublishedInDirectoryOrder) {
  const auto scopes = equal_users();
  const auto order = directory_order(scopes);
  ASSERT_EQ(order.size(), 10u);
  // A section for the machine and 6.5 users: 6 fit.
  const size_t six = image_bytes(scopes, {order.begin(), order.begin() + 6});
  const size_t seven = image_bytes(scopes, {order.begin(), order.begin() + 7});
  Region region((six + seven) / 2);

  TableWriter writer(region.bytes(), 1, 0);
  EXPECT_EQ(writer.publish(scopes), TableError::kTooLarge) << "kRefuse stays all or nothing";
  ASSERT_FALSE(writer.publish(scopes, {}, TableOverflow::kPartial));
  EXPECT_EQ(writer.last_fit(), (TableFit{10, 4, 0, 0}));
  EXPECT_FALSE(writer.last_fit().complete());
  EXPECT_EQ(writer.payload_bytes(), six);

  const layout::TableHeader h = region.header();
  EXPECT_EQ(h.abi_minor, layout::kAbiMinor);
  EXPECT_EQ(h.flags, static_cast<uint32_t>(layout::kFlagIncomplete));
  EXPECT_EQ(h.omitted_scope_count, 4u);
  EXPECT_EQ(h.wow64_omitted_scope_count, 0u);
  EXPECT_EQ(h.scope_count, 7u);

  TableSnapshot all;
  ASSERT_EQ(TableReader(region.cbytes()).read_all(&all), TableError::kOk) << "an incomplete table is valid";
  EXPECT_EQ(all.machine, scopes[0]);
  ASSERT_EQ(all.users.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(all.users[i].sid, order[i]) << "the first users in directory order are kept";
    EXPECT_EQ(all.users[i], by_sid(scopes, order[i]));
  }
  EXPECT_TRUE(all.info.flags & layout::kFlagIncomplete);
  EXPECT_EQ(all.info.omitted_scope_count, 4u);
  EXPECT_EQ(all.info.wow64_omitted_scope_count, 0u);
}

TEST(TableIncomplete, ReadersUseTheRegistryForAUserNotInIt) {
  const auto scopes = equal_users();
  const auto order = directory_order(scopes);
  Region region(image_bytes(scopes, {order.begin(), order.begin() + 3}) + 16);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(scopes, {}, TableOverflow::kPartial));
  ASSERT_EQ(writer.last_fit().omitted, 7u);
  const TableReader reader(region.cbytes());
  for (size_t i = 0; i < order.size(); ++i) {
    TableSnapshot snap;
    const TableError e = reader.read(order[i], &snap);
    if (i < 3) {
      ASSERT_EQ(e, TableError::kOk) << i;
      ASSERT_TRUE(snap.user.has_value());
      EXPECT_EQ(*snap.user, by_sid(scopes, order[i]));
    } else {
      EXPECT_EQ(e, TableError::kUserNotInTable) << i << ": a user left out must not get the machine scope";
      EXPECT_FALSE(snap.user.has_value());
      EXPECT_EQ(snap.machine, scopes[0]) << "filled, for diagnostics";
      EXPECT_EQ(snap.info.omitted_scope_count, 7u);
    }
  }
  // A user the writer never had: the reader cannot tell it from one left out.
  TableSnapshot snap;
  EXPECT_EQ(reader.read(u"S-1-5-21-1-2-3-500", &snap), TableError::kUserNotInTable);
  // No user asked for (the process's SID is unknown): the machine scope, as from any table.
  ASSERT_EQ(reader.read(u"", &snap), TableError::kOk);
  EXPECT_EQ(snap.machine, scopes[0]);
  EXPECT_NE(make_error_code(TableError::kUserNotInTable).message().find("incomplete"), std::string::npos);
}

TEST(TableIncomplete, ACompleteTableStillAnswersAUserWithoutScopeWithTheMachineScope) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(3), {}, TableOverflow::kPartial));
  EXPECT_TRUE(writer.last_fit().complete());
  EXPECT_EQ(writer.last_fit(), (TableFit{3, 0, 0, 0}));
  EXPECT_EQ(region.header().flags, 0u);
  EXPECT_EQ(region.header().omitted_scope_count, 0u);
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.cbytes()).read(u"S-1-5-21-1-2-3-500", &snap), TableError::kOk);
  EXPECT_FALSE(snap.user.has_value());
  EXPECT_EQ(snap.machine, sample_machine());
}

TEST(TableIncomplete, CompleteAgainClearsTheFlagAndTheCounts) {
  const auto scopes = equal_users();
  Region region(4096);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(scopes, {}, TableOverflow::kPartial));
  ASSERT_FALSE(writer.last_fit().complete());
  ASSERT_FALSE(writer.publish(sample_scopes(1), {}, TableOverflow::kPartial));
  EXPECT_TRUE(writer.last_fit().complete());
  EXPECT_EQ(region.header().flags, 0u);
  EXPECT_EQ(region.header().omitted_scope_count, 0u);
  EXPECT_EQ(writer.generation(), 2u);
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(scopes[5].sid, &snap), TableError::kOk);
  EXPECT_FALSE(snap.user.has_value());
}

TEST(TableIncomplete, TheChoiceDoesNotDependOnTheInputOrder) {
  auto scopes = equal_users();
  Region a(3000), b(3000);
  TableWriter wa(a.bytes(), 1, 0), wb(b.bytes(), 1, 0);
  ASSERT_FALSE(wa.publish(scopes, {}, TableOverflow::kPartial));
  std::reverse(scopes.begin() + 1, scopes.end());
  ASSERT_FALSE(wb.publish(scopes, {}, TableOverflow::kPartial));
  TableSnapshot sa, sb;
  ASSERT_EQ(TableReader(a.cbytes()).read_all(&sa), TableError::kOk);
  ASSERT_EQ(TableReader(b.cbytes()).read_all(&sb), TableError::kOk);
  EXPECT_FALSE(sa.users.empty());
  EXPECT_EQ(sa.users, sb.users);
  EXPECT_EQ(wa.last_fit(), wb.last_fit());
}

TEST(TableIncomplete, AUserThatDoesNotFitDoesNotKeepTheNextOnesOut) {
  // The second user in directory order is far bigger than the others: it is left out alone.
  auto scopes = equal_users();
  const auto order = directory_order(scopes);
  const size_t room = image_bytes(scopes, order) + 1024;
  for (auto& s : scopes)
    if (s.sid == order[1]) s.prefirstrun_message.assign(4096, u'x');
  Region region(room);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(scopes, {}, TableOverflow::kPartial));
  EXPECT_EQ(writer.last_fit(), (TableFit{10, 1, 0, 0}));
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(order[1], &snap), TableError::kUserNotInTable);
  ASSERT_EQ(TableReader(region.cbytes()).read(order[9], &snap), TableError::kOk);
  EXPECT_TRUE(snap.user.has_value());
}

TEST(TableIncomplete, AUserThatBreaksALayoutLimitIsLeftOutNotEverybody) {
  auto scopes = sample_scopes(3);
  scopes[2].simple.path.assign(layout::kMaxStringUnits + 1, u'p');
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  EXPECT_EQ(writer.publish(scopes), TableError::kTooLarge);
  ASSERT_FALSE(writer.publish(scopes, {}, TableOverflow::kPartial));
  EXPECT_EQ(writer.last_fit(), (TableFit{3, 1, 0, 0}));
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(scopes[2].sid, &snap), TableError::kUserNotInTable);
  EXPECT_EQ(TableReader(region.cbytes()).read(scopes[1].sid, &snap), TableError::kOk);
  EXPECT_EQ(TableReader(region.cbytes()).read(scopes[3].sid, &snap), TableError::kOk);
}

TEST(TableIncomplete, AMachineScopeThatDoesNotFitIsStillRefused) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(2), {}, TableOverflow::kPartial));
  auto huge = sample_scopes(2);
  huge[0].prefirstrun_message.assign(layout::kMaxStringUnits, u'm');
  huge[0].simple.path.assign(layout::kMaxStringUnits, u'p');
  EXPECT_EQ(writer.publish(huge, {}, TableOverflow::kPartial), TableError::kTooLarge);
  auto broken = sample_scopes(2);
  broken[0].simple.path.assign(layout::kMaxStringUnits + 1, u'p');
  EXPECT_EQ(writer.publish(broken, {}, TableOverflow::kPartial), TableError::kTooLarge);
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.cbytes()).read_all(&snap), TableError::kOk);
  EXPECT_EQ(snap.info.generation, 1u) << "the previous table stays";
  EXPECT_EQ(snap.users.size(), 2u);
}

TEST(TableIncomplete, BothViewsKeepOrLeaveOutAUserTogether) {
  // Users 0-9 in the native view; in the WOW64 view users 2-11 (0 and 1 have no 32-bit scope,
  // 10 and 11 no native one), each view's records of its own size.
  auto native = equal_users();
  std::vector<ScopeResolution> wow64_in{sample_machine()};
  for (int i = 2; i < 12; ++i) wow64_in.push_back(sample_user(i));
  const auto wow64 = test::wow64_view(wow64_in);
  Region region(5000);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(native, wow64, TableOverflow::kPartial));
  const TableFit fit = writer.last_fit();
  EXPECT_EQ(fit.user_scopes, 10u);
  EXPECT_EQ(fit.wow64_user_scopes, 10u);
  ASSERT_GT(fit.omitted, 0u);
  ASSERT_LT(fit.omitted, 10u);
  const layout::TableHeader h = region.header();
  EXPECT_EQ(h.omitted_scope_count, fit.omitted);
  EXPECT_EQ(h.wow64_omitted_scope_count, fit.wow64_omitted);

  TableSnapshot n, w;
  const TableReader reader(region.cbytes());
  ASSERT_EQ(reader.read_all(&n), TableError::kOk);
  ASSERT_EQ(reader.read_all(&w, {}, TableView::kWow64), TableError::kOk);
  EXPECT_EQ(n.users.size() + fit.omitted, 10u);
  EXPECT_EQ(w.users.size() + fit.wow64_omitted, 10u);
  auto in = [](const TableSnapshot& s, const std::u16string& sid) {
    return std::any_of(s.users.begin(), s.users.end(), [&](const ScopeResolution& u) { return u.sid == sid; });
  };
  // A user both views have is in both or in neither; each view's reader gets the right answer.
  for (int i = 0; i < 12; ++i) {
    const std::u16string sid = sample_user(i).sid;
    const bool has_native = i < 10, has_wow64 = i >= 2;
    if (has_native && has_wow64) {
      EXPECT_EQ(in(n, sid), in(w, sid)) << i;
    }
    TableSnapshot one;
    const TableError en = reader.read(sid, &one);
    if (in(n, sid)) {
      EXPECT_EQ(en, TableError::kOk) << i;
      EXPECT_EQ(*one.user, by_sid(native, sid));
    } else {
      EXPECT_EQ(en, TableError::kUserNotInTable) << i;
    }
    const TableError ew = reader.read(sid, &one, {}, TableView::kWow64);
    if (in(w, sid)) {
      EXPECT_EQ(ew, TableError::kOk) << i;
      EXPECT_EQ(*one.user, by_sid(wow64, sid));
    } else {
      EXPECT_EQ(ew, TableError::kUserNotInTable) << i;
    }
  }
  EXPECT_EQ(n.machine, native[0]);
  EXPECT_EQ(w.machine, wow64[0]);
}

TEST(TableIncomplete, AHashCollisionWithALeftOutUserIsNoMatch) {
  // Two SIDs with the same directory hash (table_test.cpp); the second breaks a limit and is left
  // out: its read finds the first one's entry under its hash, and must not take it.
  const std::u16string a = u"S-1-5-21-1948172836-4133962361-3439086240-1001";
  const std::u16string b = u"S-1-5-21-2229587059-2477076662-3587782198-1001";
  ASSERT_EQ(sid_hash(a.data(), a.size()), sid_hash(b.data(), b.size()));
  auto scopes = sample_scopes(2);
  scopes[1].sid = a;
  scopes[2].sid = b;
  scopes[2].simple.path.assign(layout::kMaxStringUnits + 1, u'p');
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(scopes, {}, TableOverflow::kPartial));
  TableSnapshot snap;
  ASSERT_EQ(TableReader(region.cbytes()).read(a, &snap), TableError::kOk);
  EXPECT_EQ(*snap.user, scopes[1]);
  EXPECT_EQ(TableReader(region.cbytes()).read(b, &snap), TableError::kUserNotInTable);
}

TEST(TableIncomplete, StoppedWinsAndKeepsTheFlag) {
  Region region(3000);
  TableWriter writer(region.bytes(), 1, 0);
  const auto scopes = equal_users();
  ASSERT_FALSE(writer.publish(scopes, {}, TableOverflow::kPartial));
  ASSERT_FALSE(writer.mark_stopped());
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(u"S-1-5-21-1-2-3-500", &snap), TableError::kWriterStopped);
  EXPECT_EQ(snap.info.flags, static_cast<uint32_t>(layout::kFlagWriterStopped | layout::kFlagIncomplete));
  // A writer that takes the section over continues; its first publish decides anew.
  TableWriter next(region.bytes(), 2, 0);
  ASSERT_FALSE(next.publish(sample_scopes(1), {}, TableOverflow::kPartial));
  EXPECT_EQ(TableReader(region.cbytes()).read(u"S-1-5-21-1-2-3-500", &snap), TableError::kOk);
  EXPECT_EQ(snap.info.flags, 0u);
}

// The counts are validated like every header field: a table that counts users left out but is
// not flagged would have readers answer them with the machine scope.
TEST(TableIncomplete, CountsWithoutTheFlagOrOutOfBoundsAreRefused) {
  Region region(64 * 1024);
  TableWriter writer(region.bytes(), 1, 0);
  ASSERT_FALSE(writer.publish(sample_scopes(2), {}, TableOverflow::kPartial));
  const layout::TableHeader good = region.header();
  auto with = [&](auto edit) {
    layout::TableHeader h = good;
    edit(h);
    region.set_header(h);
    reseal_table_image(std::span<std::byte>(region.bytes().data(), good.payload_end));
    TableSnapshot snap;
    return TableReader(region.cbytes()).read(sample_user(0).sid, &snap);
  };
  EXPECT_EQ(with([](layout::TableHeader& h) { h.omitted_scope_count = 1; }), TableError::kBadHeader);
  EXPECT_EQ(with([](layout::TableHeader& h) { h.wow64_omitted_scope_count = 1; }), TableError::kBadHeader);
  EXPECT_EQ(with([](layout::TableHeader& h) {
              h.flags |= layout::kFlagIncomplete;
              h.omitted_scope_count = layout::kMaxScopes + 1;
            }),
            TableError::kBadHeader);
  // The safe direction: flagged without counts only sends missing users to the registry.
  EXPECT_EQ(with([](layout::TableHeader& h) { h.flags |= layout::kFlagIncomplete; }), TableError::kOk);
  TableSnapshot snap;
  EXPECT_EQ(TableReader(region.cbytes()).read(u"S-1-5-21-1-2-3-500", &snap), TableError::kUserNotInTable);
  // Before ABI 1.2 those bytes were reserved: ignored, whatever they hold.
  EXPECT_EQ(with([](layout::TableHeader& h) {
              h.abi_minor = 1;
              h.omitted_scope_count = 0xC3C3C3C3u;
              h.wow64_omitted_scope_count = 0xC3C3C3C3u;
            }),
            TableError::kOk);
  ASSERT_EQ(TableReader(region.cbytes()).read_all(&snap), TableError::kOk);
  EXPECT_EQ(snap.info.omitted_scope_count, 0u);
  EXPECT_EQ(snap.info.wow64_omitted_scope_count, 0u);
}

}  // namespace
}  // namespace mapidispatch
