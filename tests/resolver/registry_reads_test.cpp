// Copyright MapiDispatch authors.
//
// RecordingRegistry and RegReadLedger (registry_reads.h): what the service uses to re-resolve,
// after a machine-wide change, only the user scopes whose HKLM reads changed. The property that
// matters is soundness: a scope the ledger calls unchanged resolves to the answer it had. The
// last ledger test checks it over a long random sequence of HKLM changes against a full
// re-resolve. And CachingRegistry: a user's two resolutions (native and 32-bit processes) share
// their reads of the user's hive, and answer exactly as without it.

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

// ---- CachingRegistry -----------------------------------------------------------------------

TEST(CachingRegistry, AnswersEachReadBelowItsRootOnceFromTheRegistryThenFromMemory) {
  MemoryRegistry reg;
  const std::u16string mail = u"S-1-5-21-9\\" + std::u16string(kMail);
  reg.set_value(RegRoot::kUsers, mail, u"", make_reg_string(u"Fabrikam"));
  reg.set_value(RegRoot::kUsers, mail + u"\\Fabrikam", u"DLLPath", make_reg_string(u"C:\\f.dll"));
  reg.set_value(RegRoot::kLocalMachine, std::u16string(kMail), u"", make_reg_string(u"Contoso"));
  RegReadCache cache(RegRoot::kUsers);
  const CachingRegistry cached(reg, &cache);
  const auto read = [&](RegRoot root, const std::u16string& path, RegView view, std::u16string_view name) {
    std::unique_ptr<RegistryKey> key;
    RegValue v;
    if (cached.open(root, path, view, &key) || key->read_value(name, &v)) return std::u16string(u"(none)");
    std::u16string text;
    return decode_reg_string(v, 1000, &text) == RegStringStatus::kOk ? text : std::u16string(u"(bad)");
  };
  const auto names = [&](const std::u16string& path, bool subkeys) {
    std::unique_ptr<RegistryKey> key;
    std::vector<std::u16string> out;
    bool truncated = false;
    if (cached.open(RegRoot::kUsers, path, RegView::kDefault, &key)) return out;
    EXPECT_FALSE(subkeys ? key->subkey_names(10, &out, &truncated) : key->value_names(10, &out, &truncated));
    return out;
  };
  EXPECT_EQ(read(RegRoot::kUsers, mail, RegView::kDefault, u""), u"Fabrikam");
  EXPECT_EQ(read(RegRoot::kUsers, mail + u"\\Fabrikam", RegView::kDefault, u"DLLPath"), u"C:\\f.dll");
  EXPECT_EQ(names(mail, true), std::vector<std::u16string>{u"Fabrikam"});
  EXPECT_EQ(read(RegRoot::kUsers, mail + u"\\Litware", RegView::kDefault, u"DLLPath"), u"(none)");
  const size_t recorded = cache.reads();
  const size_t first_hits = cache.hits();  // the key opened again by names()
  // The registry changes; the same reads still give what they gave, from memory.
  reg.set_value(RegRoot::kUsers, mail, u"", make_reg_string(u"Northwind"));
  reg.set_value(RegRoot::kUsers, mail + u"\\Litware", u"DLLPath", make_reg_string(u"C:\\l.dll"));
  reg.set_value(RegRoot::kLocalMachine, std::u16string(kMail), u"", make_reg_string(u"Tailspin"));
  EXPECT_EQ(read(RegRoot::kUsers, mail, RegView::kDefault, u""), u"Fabrikam");
  EXPECT_EQ(names(mail, true), std::vector<std::u16string>{u"Fabrikam"});
  EXPECT_EQ(read(RegRoot::kUsers, mail + u"\\Litware", RegView::kDefault, u"DLLPath"), u"(none)");
  EXPECT_EQ(cache.reads(), recorded);
  EXPECT_EQ(cache.hits(), first_hits + 5);  // two opens and a missing key's, a value, a listing
  // kDefault is this process's own view: the same reads as k64 in a 64-bit process, k32 in a
  // 32-bit one; the other view is another read.
  const RegView own = sizeof(void*) == 8 ? RegView::k64 : RegView::k32;
  const RegView other = sizeof(void*) == 8 ? RegView::k32 : RegView::k64;
  EXPECT_EQ(read(RegRoot::kUsers, mail, own, u""), u"Fabrikam");
  EXPECT_EQ(cache.reads(), recorded);
  EXPECT_EQ(read(RegRoot::kUsers, mail, other, u""), u"Northwind");
  // A read not done before, and reads below another root: from the registry as it is now.
  EXPECT_EQ(names(mail, false), std::vector<std::u16string>{u""});
  EXPECT_EQ(read(RegRoot::kLocalMachine, std::u16string(kMail), RegView::kDefault, u""), u"Tailspin");
}

TEST(CachingRegistry, AUsersTwoResolutionsShareTheirHiveReadsAndAnswerAsWithoutIt) {
  MemoryRegistry reg;
  MemoryFileSystem fs;
  PeSpec provider;
  provider.exports = {"MAPISendMail", "MAPILogon", "MAPILogoff", "MAPIFreeBuffer", "MAPIInitialize"};
  PeSpec provider32 = provider;
  provider32.machine = 0x014C;  // IMAGE_FILE_MACHINE_I386
  const std::u16string clients[] = {u"Fabrikam", u"Contoso", u"Litware"};
  for (const auto& c : clients) {
    fs.add_file(u"C:\\Mail\\" + c + u".dll", build_pe(provider));
    fs.add_file(u"C:\\Mail\\" + c + u"32.dll", build_pe(provider32));
    reg.set_value(RegRoot::kLocalMachine, std::u16string(kMail) + u"\\" + c, u"DLLPath", make_reg_string(u"C:\\Mail\\" + c + u"32.dll"));
  }
  reg.set_value(RegRoot::kLocalMachine, std::u16string(kMail), u"", make_reg_string(u"Litware"));
  MemoryMsiComponents msi(false, u"none");
  NoVariables env;
  const unsigned seed = std::random_device{}();
  std::printf("random users seed %u\n", seed);
  std::mt19937 rng(seed);
  const auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  size_t hits = 0;
  for (int i = 0; i < 60; ++i) {
    const std::u16string sid = u"S-1-5-21-1-2-3-" + std::u16string(1, char16_t(u'A' + i));
    const std::u16string mail = sid + u"\\" + std::u16string(kMail);
    // A default of the user's own or none; the client's key in the user's hive, with a path of
    // either bitness, or not; values of the wrong type now and then.
    if (pick(4) != 0) reg.set_value(RegRoot::kUsers, mail, u"", make_reg_string(clients[pick(3)]));
    if (pick(2) == 0)
      reg.set_value(RegRoot::kUsers, mail + u"\\" + clients[pick(3)], pick(2) ? u"DLLPath" : u"DLLPathEx",
                    make_reg_string(u"C:\\Mail\\" + clients[pick(3)] + (pick(2) ? u"32.dll" : u".dll")));
    if (pick(8) == 0) reg.set_value(RegRoot::kUsers, mail, u"", RegValue{reg_type::kDword, {1, 0, 0, 0}});
    ResolverOptions native_opts, wow64_opts;
    wow64_opts.view = RegView::k32;
    ScopeResolution plain[2], shared[2];
    RegReadCache cache(RegRoot::kUsers);
    const CachingRegistry cached(reg, &cache);
    const ResolverOptions* opts[2] = {&native_opts, &wow64_opts};
    for (int v = 0; v < 2; ++v) {
      ASSERT_EQ(resolve_scope(ScopeRequest::user_from_users(sid), ResolverServices{reg, fs, msi, env}, *opts[v], &plain[v]),
                ResolveStatus::kOk);
      const size_t before = cache.hits();
      ASSERT_EQ(resolve_scope(ScopeRequest::user_from_users(sid), ResolverServices{cached, fs, msi, env}, *opts[v], &shared[v]),
                ResolveStatus::kOk);
      if (v == 1) hits += cache.hits() - before;
      EXPECT_EQ(shared[v], plain[v]) << "user " << i << (v ? " (32-bit view)" : "") << ", seed " << seed;
    }
  }
  // In a 64-bit process (the service's) the 32-bit resolutions read the users' hives from
  // memory: what the cache is for. In a 32-bit one the default view is the 32-bit view, which the
  // resolutions for 32-bit processes do not use for a user's keys: little to share.
  if (sizeof(void*) == 8) {
    EXPECT_GT(hits, 60u * 3);
  }
}

}  // namespace
}  // namespace mapidispatch
