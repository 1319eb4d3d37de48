// Copyright MapiDispatch authors.
//
// The per-process dispatch decision: overrides, scopes, bitness, fallback, nothing.

#include <gtest/gtest.h>

#include <vector>

#include "../support/table_samples.h"
#include "mapidispatch/dispatch.h"

namespace mapidispatch {
namespace {

using test::u16;

Target found(const char* path, PeMachine m, const char* client = "Contoso") {
  return {TargetStatus::kFound, m, ValueSource::kHklm, u16(path), u16(client), {}};
}

ScopeResolution machine_scope() {
  ScopeResolution s;
  s.default_client = u"Contoso";
  s.simple = found("C:\\contoso\\simple64.dll", PeMachine::kAmd64);
  s.extended = found("C:\\contoso\\ext64.dll", PeMachine::kAmd64);
  s.mapi32x = {TargetStatus::kMissing, PeMachine::kUnknown, ValueSource::kFallback,
               u"C:\\Windows\\System32\\mapi32x.dll", {}, u"not present"};
  s.prefirstrun_message = u"No mail client";
  s.prefirstrun_caption = u"Mail";
  return s;
}

const std::vector<std::u16string> kNoModules;

TEST(Dispatch, MachineScopeDefault) {
  const auto m = machine_scope();
  const auto d = decide_dispatch(m, nullptr, kNoModules, Bitness::kX64, Family::kSimple);
  EXPECT_TRUE(d.usable);
  EXPECT_EQ(d.path, u"C:\\contoso\\simple64.dll");
  EXPECT_EQ(d.source, DecisionSource::kMachineScope);
  const auto e = decide_dispatch(m, nullptr, kNoModules, Bitness::kX64, Family::kExtended);
  EXPECT_EQ(e.path, u"C:\\contoso\\ext64.dll");
}

TEST(Dispatch, UserScopeBeforeMachine) {
  const auto m = machine_scope();
  ScopeResolution u = machine_scope();
  u.kind = ScopeKind::kUser;
  u.sid = u"S-1-5-21-1-2-3-1001";
  u.simple = found("C:\\fabrikam\\fab.dll", PeMachine::kAmd64, "Fabrikam");
  const auto d = decide_dispatch(m, &u, kNoModules, Bitness::kX64, Family::kSimple);
  EXPECT_TRUE(d.usable);
  EXPECT_EQ(d.path, u"C:\\fabrikam\\fab.dll");
  EXPECT_EQ(d.source, DecisionSource::kUserScope);
  EXPECT_NE(d.reason.find("S-1-5-21-1-2-3-1001"), std::string::npos) << d.reason;
}

TEST(Dispatch, WrongBitnessIsNeverUsable) {
  auto m = machine_scope();
  m.simple = found("C:\\x86\\simple32.dll", PeMachine::kI386);
  const auto d = decide_dispatch(m, nullptr, kNoModules, Bitness::kX64, Family::kSimple);
  EXPECT_FALSE(d.usable);
  EXPECT_TRUE(d.path.empty());
  EXPECT_EQ(d.status, TargetStatus::kWrongBitness);
  EXPECT_NE(d.reason.find("x86 DLL"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("this process is x64"), std::string::npos) << d.reason;
  // The same table serves a 32-bit process.
  EXPECT_TRUE(decide_dispatch(m, nullptr, kNoModules, Bitness::kX86, Family::kSimple).usable);
}

TEST(Dispatch, FallbackToMapi32xWhenNoClientServes) {
  auto m = machine_scope();
  m.extended = {};
  m.mapi32x = found("C:\\Windows\\System32\\mapi32x.dll", PeMachine::kAmd64, "");
  const auto d = decide_dispatch(m, nullptr, kNoModules, Bitness::kX64, Family::kExtended);
  EXPECT_TRUE(d.usable);
  EXPECT_EQ(d.source, DecisionSource::kFallback);
  EXPECT_EQ(d.path, u"C:\\Windows\\System32\\mapi32x.dll");
}

TEST(Dispatch, NothingServesKeepsTheReasonAndPreFirstRun) {
  auto m = machine_scope();
  m.simple = {TargetStatus::kMissing, PeMachine::kUnknown, ValueSource::kHklm, u"C:\\gone.dll", u"Contoso",
              u"file not found"};
  const auto d = decide_dispatch(m, nullptr, kNoModules, Bitness::kX64, Family::kSimple);
  EXPECT_FALSE(d.usable);
  EXPECT_EQ(d.status, TargetStatus::kMissing);
  EXPECT_EQ(d.prefirstrun_message, u"No mail client");
  EXPECT_NE(d.reason.find("file not found"), std::string::npos) << d.reason;
}

TEST(Dispatch, OverrideForALoadedModuleWinsCaseInsensitively) {
  auto m = machine_scope();
  AppOverride o;
  o.module = u"Legacy.EXE";
  o.client = u"Fabrikam";
  o.simple = found("C:\\fabrikam\\fab.dll", PeMachine::kAmd64, "Fabrikam");
  o.supports_utf8 = true;
  m.overrides.push_back(o);
  const std::vector<std::u16string> modules{u"ntdll.dll", u"legacy.exe"};
  const auto d = decide_dispatch(m, nullptr, modules, Bitness::kX64, Family::kSimple);
  EXPECT_TRUE(d.usable);
  EXPECT_EQ(d.source, DecisionSource::kOverride);
  EXPECT_EQ(d.override_module, u"Legacy.EXE");
  EXPECT_TRUE(d.supports_utf8);
  // Not loaded: no override.
  EXPECT_EQ(decide_dispatch(m, nullptr, kNoModules, Bitness::kX64, Family::kSimple).source,
            DecisionSource::kMachineScope);
}

TEST(Dispatch, EmptyOverrideMeansMapi32x) {
  auto m = machine_scope();
  AppOverride o;
  o.module = u"SearchProtocolHost.exe";
  o.uses_mapi32x = true;
  m.overrides.push_back(o);
  const std::vector<std::u16string> modules{u"searchprotocolhost.exe"};
  auto d = decide_dispatch(m, nullptr, modules, Bitness::kX64, Family::kExtended);
  EXPECT_FALSE(d.usable) << "mapi32x.dll is missing in this scope";
  EXPECT_EQ(d.source, DecisionSource::kOverride);
  m.mapi32x = found("C:\\Windows\\System32\\mapi32x.dll", PeMachine::kAmd64, "");
  d = decide_dispatch(m, nullptr, modules, Bitness::kX64, Family::kExtended);
  EXPECT_TRUE(d.usable);
  EXPECT_EQ(d.path, u"C:\\Windows\\System32\\mapi32x.dll");
}

}  // namespace
}  // namespace mapidispatch
