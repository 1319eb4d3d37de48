// Copyright MapiDispatch authors.
//
// RecordingRegistry and RegReadLedger (registry_reads.h): what the service uses to re-resolve,
// after a machine-wide change, only the user scopes whose HKLM reads changed. The property that
// matters is soundness: a scope the ledger calls unchanged resolves to the answer it had. The
// last test checks it over a long random sequence of HKLM changes against a full re-resolve.

#include "mapidispatch/registry_reads.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>

#include "mapidispatch/resolver.h"
#include "pe_builder.h"

namespace mapidispatch {
namespace {

using test::build_pe;
using test::PeSpec;

constexpr std::u16string_view kMail = u"Software\\Clients\\Mail";

TEST(RegistryReads, RecordsEveryReadBelowItsRootWithItsResult) {
  MemoryRegistry reg;
  reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail", u"", make_reg_string(u"Fabrikam"));
  reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Fabrikam", u"DLLPath", make_reg_string(u"C:\\f.dll"));
  reg.set_value(RegRoot::kCurrentUser, u"Software\\Clients\\Mail", u"", make_reg_string(u"Contoso"));
  std::vector<RegRead> log;
  const RecordingRegistry recording(reg, RegRoot::kLocalMachine, &log);

  std::unique_ptr<RegistryKey> key;
  ASSERT_FALSE(recording.open(RegRoot::kCurrentUser, kMail, RegView::kDefault, &key));
  RegValue v;
  ASSERT_FALSE(key->read_value(u"", &v));
  EXPECT_TRUE(log.empty()) << "HKCU is not the recorded root";

  ASSERT_FALSE(recording.open(RegRoot::kLocalMachine, kMail, RegView::k64, &key));
  ASSERT_FALSE(key->read_value(u"", &v));
  EXPECT_TRUE(key->read_value(u"nothere", &v));
  std::unique_ptr<RegistryKey> sub;
  ASSERT_FALSE(key->open_subkey(u"Fabrikam", &sub));
  ASSERT_FALSE(sub->read_value(u"DLLPath", &v));
  std::vector<std::u16string> names;
  bool truncated = true;
  ASSERT_FALSE(key->subkey_names(10, &names, &truncated));
  EXPECT_TRUE(recording.open(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Gone", RegView::k64, &sub));

  ASSERT_EQ(log.size(), 7u);
  EXPECT_EQ(log[0].op, RegRead::Op::kOpen);
  EXPECT_EQ(log[0].view, RegView::k64);
  EXPECT_EQ(log[1].op, RegRead::Op::kValue);
  EXPECT_EQ(log[1].value, make_reg_string(u"Fabrikam"));
  EXPECT_TRUE(is_not_found(log[2].error));
  EXPECT_EQ(log[3].path, u"Software\\Clients\\Mail\\Fabrikam") << "a subkey's path is its full path";
  EXPECT_EQ(log[4].path, u"Software\\Clients\\Mail\\Fabrikam");
  EXPECT_EQ(log[4].value, make_reg_string(u"C:\\f.dll"));
  EXPECT_EQ(log[5].op, RegRead::Op::kSubkeys);
  EXPECT_EQ(log[5].names, std::vector<std::u16string>{u"Fabrikam"});
  EXPECT_TRUE(is_not_found(log[6].error));

  // Done again, each read gives what it gave; after a write, only the reads it touches differ.
  for (const RegRead& r : log) EXPECT_EQ(replay(reg, r), r);
  reg.set_value(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Fabrikam", u"DLLPath", make_reg_string(u"C:\\g.dll"));
  reg.create_key(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Gone");
  std::vector<size_t> changed;
  for (size_t i = 0; i < log.size(); ++i)
    if (!(replay(reg, log[i]) == log[i])) changed.push_back(i);
  EXPECT_EQ(changed, (std::vector<size_t>{4, 5, 6}));
  // A key deleted: every read below it differs (the open fails now).
  reg.delete_key(RegRoot::kLocalMachine, u"Software\\Clients\\Mail\\Fabrikam");
  EXPECT_FALSE(replay(reg, log[3]) == log[3]);
  EXPECT_FALSE(replay(reg, log[4]) == log[4]);
}

TEST(RegistryReads, TheLedgerKeepsEachReadOnceAndNamesTheScopesAChangeReaches) {
  MemoryRegistry reg;
  reg.set_value(RegRoot::kLocalMachine, u"Software\\A", u"v", make_reg_string(u"1"));
  reg.set_value(RegRoot::kLocalMachine, u"Software\\B", u"v", make_reg_string(u"1"));
  auto reads_of = [&](std::initializer_list<const char16_t*> keys) {
    std::vector<RegRead> log;
    const RecordingRegistry recording(reg, RegRoot::kLocalMachine, &log);
    for (const char16_t* k : keys) {
      std::unique_ptr<RegistryKey> key;
      RegValue v;
      if (!recording.open(RegRoot::kLocalMachine, k, RegView::kDefault, &key)) key->read_value(u"v", &v);
    }
    return log;
  };
  RegReadLedger ledger;
  for (int i = 0; i < 100; ++i) ledger.set(u"a" + std::u16string(1, char16_t(u'0' + i % 10)) + char16_t(i), reads_of({u"Software\\A"}));
  ledger.set(u"b", reads_of({u"Software\\B"}));
  ledger.set(u"both", reads_of({u"Software\\A", u"Software\\B"}));
  ledger.set(u"none", reads_of({u"Software\\None"}));
  EXPECT_EQ(ledger.scope_count(), 103u);
  EXPECT_EQ(ledger.distinct_reads(), 5u) << "two opens and two values, and the failed open";

  size_t done = 0;
  EXPECT_TRUE(ledger.changed_scopes(reg, &done).empty());
  EXPECT_EQ(done, 5u) << "each distinct read once, whatever the number of scopes";
  reg.set_value(RegRoot::kLocalMachine, u"Software\\B", u"v", make_reg_string(u"2"));
  EXPECT_EQ(ledger.changed_scopes(reg), (std::vector<std::u16string>{u"b", u"both"}));
  reg.create_key(RegRoot::kLocalMachine, u"Software\\None");
  EXPECT_EQ(ledger.changed_scopes(reg), (std::vector<std::u16string>{u"b", u"both", u"none"}));
  // Re-recorded, as the service does after re-resolving them: nothing differs any more.
  ledger.set(u"b", reads_of({u"Software\\B"}));
  ledger.set(u"both", reads_of({u"Software\\A", u"Software\\B"}));
  ledger.set(u"none", reads_of({u"Software\\None"}));
  EXPECT_TRUE(ledger.changed_scopes(reg).empty());
  ledger.erase(u"b");
  ledger.clear();
  EXPECT_EQ(ledger.scope_count(), 0u);
  EXPECT_EQ(ledger.distinct_reads(), 0u);
}

// No environment variables: REG_EXPAND_SZ paths stay as they are.
class NoVariables final : public Environment {
 public:
  std::optional<std::u16string> lookup(std::u16string_view) const override { return std::nullopt; }
  std::u16string description() const override { return u"no variables"; }
};

// Soundness over the resolver: after each random HKLM change, every user the ledger does not
// name resolves to the answer it had; re-resolving only the named ones gives, after every step,
// what resolving everybody gives.
TEST(RegistryReads, OnlyTheUsersTheLedgerNamesCanHaveAnotherAnswer) {
  MemoryRegistry reg;
  MemoryFileSystem fs;
  PeSpec provider;
  provider.exports = {"MAPISendMail", "MAPILogon", "MAPILogoff", "MAPIFreeBuffer", "MAPIInitialize"};
  const std::u16string clients[] = {u"Fabrikam", u"Contoso", u"Litware", u"Northwind", u"Tailspin"};
  for (const auto& c : clients) fs.add_file(u"C:\\Mail\\" + c + u".dll", build_pe(provider));
  MemoryMsiComponents msi(false, u"none");
  NoVariables env;
  const ResolverServices services{reg, fs, msi, env};
  ResolverOptions opts;

  const unsigned seed = std::random_device{}();
  std::printf("random sequence seed %u\n", seed);
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  // 40 users, each with a default of their own naming one of the clients; a few with the client's
  // key in their own hive too (then HKLM's key of that name matters less, or not at all).
  std::vector<std::u16string> sids;
  for (int i = 0; i < 40; ++i) {
    const std::u16string sid = u"S-1-5-21-1-2-3-" + std::u16string(1, char16_t(u'A' + i));
    sids.push_back(sid);
    const std::u16string mail = sid + u"\\" + std::u16string(kMail);
    reg.set_value(RegRoot::kUsers, mail, u"", make_reg_string(clients[pick(5)]));
    if (i % 4 == 0)
      reg.set_value(RegRoot::kUsers, mail + u"\\" + clients[pick(5)], u"DLLPath",
                    make_reg_string(u"C:\\Mail\\" + clients[pick(5)] + u".dll"));
  }
  std::map<std::u16string, ScopeResolution> answers;
  RegReadLedger ledger;
  auto resolve_user = [&](const std::u16string& sid) {
    std::vector<RegRead> log;
    const RecordingRegistry recording(reg, RegRoot::kLocalMachine, &log);
    ScopeResolution r;
    EXPECT_EQ(resolve_scope(ScopeRequest::user_from_users(sid), ResolverServices{recording, fs, msi, env}, opts, &r),
              ResolveStatus::kOk);
    ledger.set(sid, log);
    return r;
  };
  for (const auto& sid : sids) answers[sid] = resolve_user(sid);

  size_t named = 0, differed = 0;
  constexpr int kSteps = 300;
  for (int step = 0; step < kSteps; ++step) {
    const std::u16string& c = clients[pick(5)];
    const std::u16string key = std::u16string(kMail) + u"\\" + c;
    std::string what;
    switch (pick(6)) {
      case 0:
        reg.set_value(RegRoot::kLocalMachine, key, u"DLLPath", make_reg_string(u"C:\\Mail\\" + clients[pick(5)] + u".dll"));
        what = "DLLPath";
        break;
      case 1:
        reg.delete_key(RegRoot::kLocalMachine, key);
        what = "client removed";
        break;
      case 2:
        reg.set_value(RegRoot::kLocalMachine, std::u16string(kMail), u"", make_reg_string(c));
        what = "HKLM default";
        break;
      case 3:
        reg.set_value(RegRoot::kLocalMachine, key, u"DLLPathEx", make_reg_string(u"C:\\Mail\\" + clients[pick(5)] + u".dll"));
        what = "DLLPathEx";
        break;
      case 4:
        reg.set_value(RegRoot::kLocalMachine, key, u"SupportUTF8", RegValue{reg_type::kDword, {1, 0, 0, 0}});
        what = "SupportUTF8";
        break;
      default:
        reg.set_value(RegRoot::kLocalMachine, u"Software\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps",
                      u"app" + std::u16string(1, char16_t(u'0' + pick(3))) + u".exe", make_reg_string(c));
        what = "MSMapiApps";
        break;
    }
    const std::vector<std::u16string> changed = ledger.changed_scopes(reg);
    const std::set<std::u16string> to_resolve(changed.begin(), changed.end());
    named += changed.size();
    for (const auto& sid : sids) {
      // What a full re-resolve gives (not recorded: the ledger keeps what the service resolved).
      ScopeResolution full;
      ASSERT_EQ(resolve_scope(ScopeRequest::user_from_users(sid), services, opts, &full), ResolveStatus::kOk);
      if (!(full == answers[sid])) {
        ++differed;
        ASSERT_TRUE(to_resolve.count(sid)) << "step " << step << " (" << what << "): a user the ledger did not name "
                                           << "has another answer (seed " << seed << ")";
      }
      if (to_resolve.count(sid)) answers[sid] = resolve_user(sid);
      ASSERT_EQ(answers[sid], full) << "step " << step;
    }
  }
  std::printf("%d HKLM changes, 40 users: %zu user resolves named (of %d), %zu answers changed\n", kSteps, named,
              kSteps * 40, differed);
  EXPECT_LT(named, size_t{kSteps} * 40) << "the ledger names fewer users than all";
}

}  // namespace
}  // namespace mapidispatch
