// Copyright MapiDispatch authors.
//
// The portable parts of mapidispatch.exe: parameters validation (any type, any length), the
// command line, the per-publish change log, `status` against a real section.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include "../support/table_samples.h"
#include "../support/test_main.h"
#include "../resolver/golden_file.h"
#include "change_log.h"
#include "cli.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"
#include "parameters.h"
#include "progress.h"
#include "scope_source.h"
#include "status.h"
#include "text.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace mapidispatch::service {
namespace {

using Values = std::map<std::string, RawValue, std::less<>>;

Parameters parse(const Values& values, std::vector<std::string>* warnings) {
  return parse_parameters(
      [&](std::string_view name) {
        const auto it = values.find(name);
        return it == values.end() ? RawValue{} : it->second;
      },
      warnings);
}

RawValue raw(uint32_t type, std::vector<uint8_t> bytes) {
  RawValue v;
  v.present = true;
  v.type = type;
  for (const auto b : bytes) v.data.push_back(static_cast<std::byte>(b));
  return v;
}

TEST(Parameters, AbsentValuesTakeDefaultsSilently) {
  std::vector<std::string> warnings;
  const Parameters p = parse({}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(p, Parameters());
  EXPECT_EQ(p.debounce_ms, 200u);
  EXPECT_EQ(p.revalidate_minutes, 15u);
  EXPECT_EQ(p.section_name, kDefaultSectionName);
  EXPECT_EQ(p.log_level, LogLevel::kInfo);
  EXPECT_FALSE(p.allow_unc_paths);
}

TEST(Parameters, GoodValuesAreTaken) {
  std::vector<std::string> warnings;
#ifdef _WIN32
  const char* section = "Local\\Test.Section";
#else
  const char* section = "/Test.Section";
#endif
  const Parameters p = parse({{"DebounceMs", RawValue::dword(0)},
                              {"RevalidateMinutes", RawValue::dword(1440)},
                              {"SectionName", RawValue::string(utf16(section))},
                              {"SectionSizeKB", RawValue::dword(64)},
                              {"LogLevel", RawValue::string(u"WARNING", kRegExpandSz)},
                              {"AllowUncPaths", RawValue::dword(1)}},
                             &warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(p.debounce_ms, 0u);
  EXPECT_EQ(p.revalidate_minutes, 1440u);
  EXPECT_EQ(p.section_name, section);
  EXPECT_EQ(p.section_size_kb, 64u);
  EXPECT_EQ(p.log_level, LogLevel::kWarn);
  EXPECT_TRUE(p.allow_unc_paths);
}

TEST(Parameters, WrongTypeWrongLengthAndOutOfRangeFallBackWithOneWarningEach) {
  std::vector<std::string> warnings;
  const Parameters p = parse({{"DebounceMs", RawValue::string(u"100")},
                              {"RevalidateMinutes", RawValue::dword(0)},
                              {"SectionSizeKB", raw(kRegDword, {1, 2, 3})},
                              {"LogLevel", RawValue::string(u"verbose")},
                              {"AllowUncPaths", RawValue::dword(2)},
                              {"SectionName", RawValue::qword(7)}},
                             &warnings);
  EXPECT_EQ(p, Parameters());
  ASSERT_EQ(warnings.size(), 6u);
  EXPECT_EQ(warnings[0], "parameter DebounceMs: has type REG_SZ, expected REG_DWORD; using the default (200)");
  EXPECT_EQ(warnings[1], "parameter RevalidateMinutes: 0 is out of range 1 to 1440; using the default (15)");
  EXPECT_EQ(warnings[2], "parameter SectionSizeKB: is 3 bytes long, expected 4; using the default (4096)");
}

TEST(Parameters, CrashHookTakesAPercentage) {
  // DebugCrashMidPublish: 0 off, 1 to 100 the percentage of the next table written before the
  // service dies (tests/evidence/fault_bench draws it at random).
  for (const uint32_t percent : {0u, 1u, 50u, 100u}) {
    std::vector<std::string> warnings;
    const Parameters p = parse({{"DebugCrashMidPublish", RawValue::dword(percent)}}, &warnings);
    EXPECT_TRUE(warnings.empty()) << percent;
    EXPECT_EQ(p.debug_crash_mid_publish, percent);
  }
  std::vector<std::string> warnings;
  const Parameters p = parse({{"DebugCrashMidPublish", RawValue::dword(101)}}, &warnings);
  EXPECT_EQ(p.debug_crash_mid_publish, 0u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "parameter DebugCrashMidPublish: 101 is out of range 0 to 100; using the default (0)");
}

TEST(Parameters, HostileStringsAreRejected) {
  std::vector<std::string> warnings;
  // Odd byte length, embedded NUL with hidden text, no terminator, huge.
  Parameters p = parse({{"LogLevel", raw(kRegSz, {'i', 0, 'n'})}}, &warnings);
  EXPECT_EQ(p.log_level, LogLevel::kInfo);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("odd byte length"), std::string::npos);

  warnings.clear();
  p = parse({{"LogLevel", raw(kRegSz, {'o', 0, 'f', 0, 'f', 0, 0, 0, 'x', 0})}}, &warnings);
  EXPECT_EQ(p.log_level, LogLevel::kInfo);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("embedded NUL"), std::string::npos);

  warnings.clear();
  p = parse({{"LogLevel", raw(kRegSz, {'o', 0, 'f', 0, 'f', 0})}}, &warnings);  // unterminated is fine
  EXPECT_EQ(p.log_level, LogLevel::kOff);
  EXPECT_TRUE(warnings.empty());

  warnings.clear();
  p = parse({{"SectionName", RawValue::string(std::u16string(100000, u'A'))}}, &warnings);
  EXPECT_EQ(p.section_name, kDefaultSectionName);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("characters long"), std::string::npos);

  warnings.clear();
  p = parse({{"DebounceMs", raw(kRegBinary, {})}}, &warnings);
  EXPECT_EQ(p.debounce_ms, 200u);
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(Parameters, SectionNames) {
  std::string why;
#ifdef _WIN32
  EXPECT_TRUE(validate_section_name("Global\\MapiDispatch.Table", &why));
  EXPECT_TRUE(validate_section_name("Local\\x", &why));
  EXPECT_FALSE(validate_section_name("MapiDispatch.Table", &why));
  EXPECT_FALSE(validate_section_name("Local\\", &why));
  EXPECT_FALSE(validate_section_name("Local\\a\\b", &why));
  EXPECT_FALSE(validate_section_name("Global\\" + std::string(201, 'x'), &why));
#else
  EXPECT_TRUE(validate_section_name("/MapiDispatch.Table", &why));
  EXPECT_FALSE(validate_section_name("MapiDispatch.Table", &why));
  EXPECT_FALSE(validate_section_name("/a/b", &why));
  EXPECT_FALSE(validate_section_name("/", &why));
#endif
}

TEST(Parameters, EverySpecIsDocumentedWithItsDefault) {
  EXPECT_EQ(parameter_specs().size(), 7u);
  for (const auto& s : parameter_specs()) {
    EXPECT_NE(std::string(s.name), "");
    EXPECT_NE(std::string(s.default_text), "");
    EXPECT_NE(std::string(s.description), "");
  }
}

// Group Policy (HKLM\SOFTWARE\Policies\MapiDispatch) over Parameters over the default.
Parameters effective(const Values& policy, const Values& params, std::vector<std::string>* warnings,
                     std::vector<EffectiveSetting>* settings) {
  auto getter = [](const Values& values) {
    return [&values](std::string_view name) {
      const auto it = values.find(name);
      return it == values.end() ? RawValue{} : it->second;
    };
  };
  return parse_effective_parameters(getter(policy), getter(params), warnings, settings);
}

const EffectiveSetting* setting(const std::vector<EffectiveSetting>& v, const char* name) {
  for (const auto& s : v)
    if (s.name == name) return &s;
  return nullptr;
}

TEST(Policy, PolicyWinsOverParametersWhichWinOverDefaults) {
  std::vector<std::string> warnings;
  std::vector<EffectiveSetting> settings;
  const Parameters p = effective({{"DebounceMs", RawValue::dword(50)}, {"LogLevel", RawValue::string(u"debug")}},
                                 {{"DebounceMs", RawValue::dword(900)}, {"RevalidateMinutes", RawValue::dword(30)}},
                                 &warnings, &settings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(p.debounce_ms, 50u);
  EXPECT_EQ(p.revalidate_minutes, 30u);
  EXPECT_EQ(p.log_level, LogLevel::kDebug);
  EXPECT_EQ(p.section_size_kb, 4096u);
  ASSERT_NE(setting(settings, "DebounceMs"), nullptr);
  EXPECT_EQ(*setting(settings, "DebounceMs"), (EffectiveSetting{"DebounceMs", "50", SettingSource::kPolicy}));
  EXPECT_EQ(*setting(settings, "RevalidateMinutes"), (EffectiveSetting{"RevalidateMinutes", "30", SettingSource::kParameters}));
  EXPECT_EQ(*setting(settings, "LogLevel"), (EffectiveSetting{"LogLevel", "debug", SettingSource::kPolicy}));
  EXPECT_EQ(*setting(settings, "SectionSizeKB"), (EffectiveSetting{"SectionSizeKB", "4096", SettingSource::kDefault}));
}

TEST(Policy, InvalidPolicyValueIsIgnoredWithAWarning) {
  std::vector<std::string> warnings;
  std::vector<EffectiveSetting> settings;
  const Parameters p = effective({{"DebounceMs", RawValue::dword(999999)}, {"AllowUncPaths", RawValue::string(u"yes")}},
                                 {{"DebounceMs", RawValue::dword(300)}}, &warnings, &settings);
  EXPECT_EQ(p.debounce_ms, 300u);
  EXPECT_FALSE(p.allow_unc_paths);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("Group Policy value DebounceMs ignored"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("the Parameters value applies"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("the default applies"), std::string::npos) << warnings[1];
  EXPECT_EQ(setting(settings, "DebounceMs")->source, SettingSource::kParameters);
  EXPECT_EQ(setting(settings, "AllowUncPaths")->source, SettingSource::kDefault);
}

TEST(Policy, SectionNameAndTheTestHookNeverComeFromPolicy) {
  std::vector<std::string> warnings;
  std::vector<EffectiveSetting> settings;
  const Parameters p = effective({{"SectionName", RawValue::string(u"Local\\Elsewhere")},
                                  {"DebugCrashMidPublish", RawValue::dword(1)}},
                                 {}, &warnings, &settings);
  EXPECT_EQ(p.section_name, Parameters().section_name);
  EXPECT_EQ(p.debug_crash_mid_publish, 0u);
  EXPECT_EQ(setting(settings, "SectionName")->source, SettingSource::kDefault);
  EXPECT_FALSE(policy_may_set("SectionName"));
  EXPECT_TRUE(policy_may_set("DebounceMs"));
}

TEST(RawValues, QwordAndDword) {
  uint64_t q = 0;
  std::string why;
  EXPECT_TRUE(raw_to_qword(RawValue::qword(0x123456789ABCDEF0ull), &q, &why));
  EXPECT_EQ(q, 0x123456789ABCDEF0ull);
  EXPECT_TRUE(raw_to_qword(RawValue::dword(7), &q, &why));
  EXPECT_EQ(q, 7u);
  EXPECT_FALSE(raw_to_qword(raw(kRegQword, {1, 2}), &q, &why));
  EXPECT_FALSE(raw_to_qword(RawValue::string(u"5"), &q, &why));
}

// ---- Command line ----------------------------------------------------------------------------

int cli(const std::vector<std::string>& args, std::string* out, std::string* err) {
  std::ostringstream o, e;
  const int rc = run_cli(args, o, e);
  *out = o.str();
  *err = e.str();
  return rc;
}

TEST(CommandLine, UsageErrorsExitTwoWithAClearMessage) {
  std::string out, err;
  EXPECT_EQ(cli({}, &out, &err), kExitUsage);
  EXPECT_NE(err.find("no command given"), std::string::npos);
  EXPECT_EQ(cli({"bogus"}, &out, &err), kExitUsage);
  EXPECT_NE(err.find("unknown command 'bogus'"), std::string::npos);
  EXPECT_EQ(cli({"status", "--nope"}, &out, &err), kExitUsage);
  EXPECT_NE(err.find("unknown option '--nope'"), std::string::npos);
  EXPECT_EQ(cli({"status", "--section"}, &out, &err), kExitUsage);
  EXPECT_NE(err.find("needs a value"), std::string::npos);
  EXPECT_EQ(cli({"status", "--json=yes"}, &out, &err), kExitUsage);
  EXPECT_EQ(cli({"status", "--json", "--json"}, &out, &err), kExitUsage);
  EXPECT_EQ(cli({"status", "extra"}, &out, &err), kExitUsage);
  EXPECT_EQ(cli({"status", "--section", "bad"}, &out, &err), kExitUsage);
  EXPECT_NE(err.find("--section"), std::string::npos);
  EXPECT_EQ(cli({"refresh", "--service-name", "a/b"}, &out, &err), kExitUsage);
  EXPECT_EQ(cli({"refresh", "--service-name", ""}, &out, &err), kExitUsage);
  EXPECT_EQ(cli({"help"}, &out, &err), kExitOk);
  EXPECT_NE(out.find("explain"), std::string::npos);
}

TEST(CommandLine, OptionsParse) {
  Args a;
  std::string error;
  const OptionSpec specs[] = {{"--module", true, true}, {"--json", false, false}, {"--user", true, false}};
  const std::vector<std::string> args = {"--module", "a.exe", "--module=b.dll", "--json", "--user", "S-1-5-21-1"};
  ASSERT_TRUE(parse_options(args, specs, &a, &error)) << error;
  EXPECT_EQ(a.values("--module"), (std::vector<std::string>{"a.exe", "b.dll"}));
  EXPECT_TRUE(a.has("--json"));
  EXPECT_EQ(a.value("--user"), "S-1-5-21-1");
  EXPECT_EQ(a.value("--missing", "x"), "x");
}

// ---- Change log ------------------------------------------------------------------------------

TEST(ChangeLog, SaysWhatChangedPerScope) {
  auto before = test::sample_scopes(2);
  auto after = before;
  after[0].simple.path = u"C:\\New\\mapi.dll";
  after.pop_back();
  ScopeResolution added = test::sample_user(9);
  after.push_back(added);
  const auto items = describe_changes(before, after);
  const std::string line = join_changes(items);
  EXPECT_NE(line.find("machine simple: "), std::string::npos) << line;
  EXPECT_NE(line.find("-> C:\\New\\mapi.dll (found"), std::string::npos) << line;
  EXPECT_NE(line.find("user " + utf8(added.sid) + ": added"), std::string::npos) << line;
  EXPECT_NE(line.find(": removed"), std::string::npos) << line;
  EXPECT_EQ(join_changes(describe_changes(before, before)), "no change");
  // A provider that lacks some entry points is used; the log carries the warning naming them.
  auto partial = before;
  partial[0].simple.status = TargetStatus::kMissingExports;
  partial[0].simple.reason = u"warning: C:\\x.dll lacks the Simple MAPI entry points MAPIFreeBuffer";
  const std::string warned = join_changes(describe_changes(before, partial));
  EXPECT_NE(warned.find("(missing-exports, x64; warning: C:\\x.dll lacks the Simple MAPI entry points MAPIFreeBuffer)"),
            std::string::npos) << warned;
}

// An incremental pass (dispatcher.cpp) takes a user's scopes out of the published answers, puts
// the new ones in, describes the change from those alone, and on a failed publish puts the old
// ones back: each step must leave the answers as a full pass would have them.
TEST(ScopeUpdates, AUsersScopesReplacedDescribedAndPutBackInPlace) {
  Resolutions published;
  published.scopes = test::sample_scopes(6);
  std::sort(published.scopes.begin() + 1, published.scopes.end(),
            [](const ScopeResolution& a, const ScopeResolution& b) { return a.sid < b.sid; });
  published.wow64_scopes = published.scopes;
  std::vector<std::u16string> sids;
  for (size_t i = 1; i < published.scopes.size(); ++i) sids.push_back(published.scopes[i].sid);
  sids.push_back(test::sample_user(40).sid);  // no scope yet: added, then removed again
  for (const std::u16string& sid : sids) {
    const Resolutions before = published;
    const ScopeSource::UserScopes was = user_scopes_of(published, sid);
    ScopeSource::UserScopes now;
    now.native = was.native ? *was.native : test::sample_user(40);
    now.native->simple.path = u"C:\\Changed\\mapi.dll";
    // (no wow64: the user's scope goes for 32-bit processes)
    apply_user_scopes(&published, sid, now);
    const ScopeSource::UserScopes got = user_scopes_of(published, sid);
    EXPECT_EQ(got.native, now.native);
    EXPECT_FALSE(got.wow64.has_value());
    EXPECT_TRUE(std::is_sorted(published.scopes.begin() + 1, published.scopes.end(),
                               [](const ScopeResolution& a, const ScopeResolution& b) { return a.sid < b.sid; }));
    // Described from the changed scopes alone: what a comparison of every scope says.
    const auto only = [](const std::optional<ScopeResolution>& s) {
      return s ? std::vector<ScopeResolution>{*s} : std::vector<ScopeResolution>{};
    };
    EXPECT_EQ(describe_changes(only(was.native), only(now.native)), describe_changes(before.scopes, published.scopes));
    EXPECT_EQ(describe_changes(only(was.wow64), only(now.wow64), "32-bit "),
              describe_changes(before.wow64_scopes, published.wow64_scopes, "32-bit "));
    apply_user_scopes(&published, sid, was);
    EXPECT_EQ(published, before) << utf8(sid);
  }
}

TEST(ChangeLog, OneEventPerUnloadableProviderAndOneWhenFixed) {
  // Three scopes name the same provider; its dependency is missing: one warning, not three.
  auto scopes = test::sample_scopes(3);
  const std::u16string dll = u"C:\\Fabrikam\\fabrikam.dll";
  const std::u16string why = u"warning: will not load here: fabrikam.dll imports VCRUNTIME140_1.dll: not found in C:\\x";
  for (auto& s : scopes) {
    s.simple.path = dll;
    s.simple.reason = why;
  }
  const auto none = unloadable_providers({});
  const auto broken = unloadable_providers(scopes);
  ASSERT_EQ(broken.size(), 1u);
  auto e = dependency_events(none, broken);
  ASSERT_EQ(e.warnings.size(), 1u);
  EXPECT_EQ(e.warnings[0], "provider " + utf8(dll) + ": " + utf8(why));
  EXPECT_TRUE(e.fixed.empty());
  // Nothing new on the next publish.
  e = dependency_events(broken, unloadable_providers(scopes));
  EXPECT_TRUE(e.warnings.empty() && e.fixed.empty());
  // The 32-bit view's copy is its own provider.
  auto both = broken;
  both.merge(unloadable_providers(scopes, "32-bit "));
  EXPECT_EQ(both.size(), 2u);
  // Fixed: an information entry.
  auto fixed = scopes;
  for (auto& s : fixed) s.simple.reason = u"the default client's DLLPath: x64 DLL with the Simple MAPI entry points";
  e = dependency_events(broken, unloadable_providers(fixed));
  EXPECT_TRUE(e.warnings.empty());
  ASSERT_EQ(e.fixed.size(), 1u);
  EXPECT_NE(e.fixed[0].find("loads again"), std::string::npos);
  // A missing-exports warning alone is not a dependency finding.
  fixed[0].simple.reason = u"warning: C:\\x.dll lacks the Simple MAPI entry points MAPIFreeBuffer";
  EXPECT_TRUE(unloadable_providers(fixed).empty());
  // The change log line carries the warning.
  const std::string line = join_changes(describe_changes(fixed, scopes));
  EXPECT_NE(line.find("will not load here: fabrikam.dll imports VCRUNTIME140_1.dll"), std::string::npos) << line;
}

TEST(Text, Utf8RoundTripAndFiletime) {
  const std::u16string s = u"Caf\u00e9 \U0001F600 \\\\server";
  EXPECT_EQ(utf16(utf8(s)), s);
  EXPECT_EQ(utf8(std::u16string(1, static_cast<char16_t>(0xD800))), "\xEF\xBF\xBD");
  EXPECT_EQ(format_filetime(0), "never");
  EXPECT_EQ(format_filetime(116444736000000000ULL), "1970-01-01 00:00:00.000 UTC");
}

TEST(Text, SplitsCommandLinesAsTheCRuntimeDoes) {
  using V = std::vector<std::u16string>;
  EXPECT_EQ(split_command_line(u"\"C:\\Program Files\\md.exe\" status --json"),
            (V{u"C:\\Program Files\\md.exe", u"status", u"--json"}));
  EXPECT_EQ(split_command_line(u"md.exe  \"a b\"   c"), (V{u"md.exe", u"a b", u"c"}));
  EXPECT_EQ(split_command_line(u"md.exe a\\\\\"b c\""), (V{u"md.exe", u"a\\b c"}));       // 2n: n, toggle
  EXPECT_EQ(split_command_line(u"md.exe a\\\"b"), (V{u"md.exe", u"a\"b"}));                 // 2n+1: literal quote
  EXPECT_EQ(split_command_line(u"md.exe Local\\x\\y"), (V{u"md.exe", u"Local\\x\\y"}));  // plain backslashes
  EXPECT_EQ(split_command_line(u"md.exe \"\""), (V{u"md.exe", u""}));
  EXPECT_EQ(split_command_line(u"md.exe \"a\"\"b\""), (V{u"md.exe", u"a\"b"}));
  EXPECT_EQ(split_command_line(u""), (V{u""}));
}

// ---- status against a real section ------------------------------------------------------------

uint32_t self_pid() {
#ifdef _WIN32
  return ::GetCurrentProcessId();
#else
  return static_cast<uint32_t>(::getpid());
#endif
}

TEST(Status, ReadsThePublishedTableAsAStubDoes) {
  const std::string name = test::unique_name("md-status");
  std::unique_ptr<WritableSection> section;
  ASSERT_FALSE(WritableSection::create(name, 256 * 1024, &section));
  TableWriter writer(section->bytes(), self_pid(), 41);
  ASSERT_FALSE(writer.publish(test::sample_scopes(2)));

  std::string out, err;
  EXPECT_EQ(cli({"status", "--section", name}, &out, &err), kStatusValid) << out << err;
  EXPECT_NE(out.find("Generation: 42"), std::string::npos) << out;
  EXPECT_NE(out.find("valid and kept up to date"), std::string::npos) << out;
  EXPECT_NE(out.find("(running)"), std::string::npos) << out;
  EXPECT_NE(out.find("Scope machine"), std::string::npos) << out;
  EXPECT_NE(out.find("Scope user " + utf8(test::sample_user(1).sid)), std::string::npos) << out;

  EXPECT_EQ(cli({"status", "--section", name, "--json"}, &out, &err), kStatusValid);
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("generation"), 42) << out;
  EXPECT_EQ(j.at("writer_alive"), true) << out;

  ASSERT_FALSE(writer.mark_stopped());
  EXPECT_EQ(cli({"status", "--section", name}, &out, &err), kStatusFallback) << out;
  EXPECT_NE(out.find("writer stopped"), std::string::npos) << out;
  EXPECT_EQ(cli({"status", "--section", name, "--json"}, &out, &err), kStatusFallback);
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("writer_stopped"), true) << out;
  EXPECT_EQ(j.at("stubs_use_table"), false) << out;
  section.reset();
  remove_shared_section(name);
}

// An incomplete table (table_layout.h, "Incomplete tables"): still trusted (exit 0), and status
// says how many user scopes were left out, of how many, in which section, and what their
// processes do.
TEST(Status, AnIncompleteTableIsValidAndSaysWhatWasLeftOut) {
  const std::string name = test::unique_name("md-status-inc");
  std::unique_ptr<WritableSection> section;
  ASSERT_FALSE(WritableSection::create(name, 4096, &section));
  TableWriter writer(section->bytes(), self_pid(), 0);
  const auto scopes = test::sample_scopes(12);
  ASSERT_FALSE(writer.publish(scopes, {}, TableOverflow::kPartial));
  const TableFit fit = writer.last_fit();
  ASSERT_FALSE(fit.complete());
  const size_t kept = 12 - fit.omitted;

  std::string out, err;
  EXPECT_EQ(cli({"status", "--section", name}, &out, &err), kStatusValid) << out << err;
  EXPECT_NE(out.find("valid and kept up to date, but incomplete"), std::string::npos) << out;
  EXPECT_NE(out.find("Incomplete: " + std::to_string(fit.omitted) +
                     " of 12 user scope(s) did not fit in the section (4 KiB"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("their processes read the registry"), std::string::npos) << out;
  EXPECT_NE(out.find("ABI 1." + std::to_string(layout::kAbiMinor)), std::string::npos) << out;

  EXPECT_EQ(cli({"status", "--section", name, "--json"}, &out, &err), kStatusValid);
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("stubs_use_table"), true) << out;
  EXPECT_EQ(j.at("complete"), false) << out;
  EXPECT_EQ(j.at("user_scopes"), 12) << out;
  EXPECT_EQ(j.at("omitted_user_scopes"), fit.omitted) << out;
  EXPECT_EQ(j.at("scopes").size(), kept + 1) << out;
  EXPECT_NE(j.at("incomplete").get<std::string>().find("did not fit"), std::string::npos) << out;
  EXPECT_TRUE(j.at("wow64_user_scopes").is_null()) << out;

  // Complete again: the line goes, `complete` is true, `incomplete` null.
  ASSERT_FALSE(writer.publish(test::sample_scopes(1), {}, TableOverflow::kPartial));
  EXPECT_EQ(cli({"status", "--section", name}, &out, &err), kStatusValid);
  EXPECT_EQ(out.find("Incomplete"), std::string::npos) << out;
  EXPECT_NE(out.find("valid and kept up to date: stubs use it"), std::string::npos) << out;
  EXPECT_EQ(cli({"status", "--section", name, "--json"}, &out, &err), kStatusValid);
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("complete"), true) << out;
  EXPECT_EQ(j.at("omitted_user_scopes"), 0) << out;
  EXPECT_TRUE(j.at("incomplete").is_null()) << out;
  section.reset();
  remove_shared_section(name);
}

// The Event Log's completeness entries: one warning when the table becomes incomplete, one
// information entry when it is complete again, nothing while it stays as it is.
TEST(ChangeLog, OneEventWhenTheTableBecomesIncompleteAndOneWhenItIsCompleteAgain) {
  const TableFit complete{10, 0, 10, 0}, partial{10, 4, 10, 4}, other{11, 5, 11, 5};
  EXPECT_FALSE(completeness_event(true, complete, "Global\\T", 65536, 64));
  const auto warn = completeness_event(true, partial, "Global\\T", 65536, 64);
  ASSERT_TRUE(warn);
  EXPECT_TRUE(warn->warning);
  EXPECT_NE(warn->text.find("the table is incomplete: 4 of 10 user scope(s) did not fit in section Global\\T (64 KiB)"),
            std::string::npos)
      << warn->text;
  EXPECT_NE(warn->text.find("read the registry"), std::string::npos) << warn->text;
  EXPECT_NE(warn->text.find("SectionSizeKB (now 64)"), std::string::npos) << warn->text;
  EXPECT_FALSE(completeness_event(false, partial, "Global\\T", 65536, 64)) << "not one per publish";
  EXPECT_FALSE(completeness_event(false, other, "Global\\T", 65536, 64)) << "nor when the numbers change";
  const auto again = completeness_event(false, complete, "Global\\T", 65536, 64);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->warning);
  EXPECT_EQ(again->text, "the table is complete again: all 10 user scope(s) fit in section Global\\T (64 KiB)");
  // The 32-bit processes' counts, where they differ.
  EXPECT_EQ(describe_fit(partial), "4 of 10 user scope(s) did not fit");
  EXPECT_EQ(describe_fit(TableFit{10, 4, 9, 3}), "4 of 10 user scope(s) did not fit; 32-bit processes: 3 of 9");
  EXPECT_EQ(describe_fit(complete), "");
}

// Start-up checkpoints: a report at most every interval, however many scopes resolve in it, and
// one in every interval in which a scope resolves.
TEST(StartProgress, OneCheckpointPerIntervalWhileScopesResolve) {
  using Clock = ProgressThrottle::Clock;
  Clock::time_point now{};
  std::vector<std::pair<size_t, size_t>> reports;
  ProgressThrottle throttle(
      std::chrono::milliseconds(250), [&](size_t done, size_t total) { reports.emplace_back(done, total); },
      [&] { return now; });
  // 1000 scopes in 100 ms: no report (the step before the resolve reported already).
  for (size_t i = 1; i <= 1000; ++i) {
    now += std::chrono::microseconds(100);
    throttle.step(i, 3000);
  }
  EXPECT_TRUE(reports.empty());
  // 2000 more, 1 ms each: one report per 250 ms.
  for (size_t i = 1001; i <= 3000; ++i) {
    now += std::chrono::milliseconds(1);
    throttle.step(i, 3000);
  }
  ASSERT_EQ(reports.size(), 8u);  // 2.1 s after the start: at 250, 500, ... 2000 ms
  EXPECT_EQ(throttle.reports(), 8u);
  EXPECT_EQ(reports[0], (std::pair<size_t, size_t>{1150, 3000}));
  for (size_t k = 1; k < reports.size(); ++k) EXPECT_EQ(reports[k].first - reports[k - 1].first, 250u);
  // One slow scope: reported when it is done.
  now += std::chrono::seconds(5);
  throttle.step(3000, 3000);
  EXPECT_EQ(reports.size(), 9u);
  EXPECT_EQ(kStartProgressInterval, std::chrono::milliseconds(250));
}

TEST(Status, NoSectionIsExitThree) {
  std::string out, err;
  EXPECT_EQ(cli({"status", "--section", test::unique_name("md-none")}, &out, &err), kStatusNoTable) << out << err;
  EXPECT_NE(out.find("no table"), std::string::npos) << out;
  EXPECT_EQ(cli({"status", "--section", test::unique_name("md-none"), "--json"}, &out, &err), kStatusNoTable);
  EXPECT_EQ(nlohmann::json::parse(out).at("opened"), false) << out;
}

// ---- status --json byte for byte ----------------------------------------------------------------
// The golden files were written by the hand-made writer that nlohmann-json replaced (see
// tests/resolver/golden_file.h); the reports are built here, so the documents are fixed.

std::string status_json(const StatusReport& r) {
  std::ostringstream out;
  print_status_json(r, out);
  return out.str();
}

std::string golden(const char* name) { return std::string(MAPIDISPATCH_GOLDEN_DIR) + "/status-" + name + ".json"; }

// An opened section's report, as collect_status() starts it.
StatusReport opened_report(const char* section, const char* service, const char* state, TableError result) {
  StatusReport r;
  r.section = section;
  r.service_name = service;
  r.service_state = state;
  r.opened = true;
  r.read_result = result;
  return r;
}

TEST(StatusJson, ValidTableWithWow64AnswersIsByteForByteTheSame) {
  StatusReport r = opened_report("Local\\MDX.T", "MDX", "running (pid 328)", TableError::kOk);
  const std::vector<ScopeResolution> scopes = test::sample_scopes(2);
  r.snapshot.machine = scopes[0];
  r.snapshot.users.assign(scopes.begin() + 1, scopes.end());
  // Text from the registry: every C0 control, DEL, C1, quotes, backslashes, non-ASCII, a
  // surrogate pair and a lone surrogate.
  std::u16string hostile = u"Ctl";
  for (char16_t c = 1; c < 0x20; ++c) hostile += c;
  hostile += u"\x7f\x80\x9f \"q\" back\\slash /slash caf\u00e9 \u4e2d \U0001F600 ";
  hostile += static_cast<char16_t>(0xDC00);
  r.snapshot.users[1].default_client = hostile;
  r.snapshot.users[1].simple.reason = hostile;
  r.snapshot.users[1].overrides.push_back(r.snapshot.machine.overrides[1]);
  r.snapshot.users[1].overrides[0].module = hostile;
  r.snapshot.info.generation = 18446744073709551615ull;
  r.snapshot.info.publish_time = 134074592489300000ull;
  r.snapshot.info.writer_pid = 4294967295u;
  r.snapshot.info.payload_end = 2180;
  r.snapshot.info.total_size = 4194304;
  r.wow64 = r.snapshot;
  r.wow64->machine.mapi32x.path = u"C:\\Windows\\SysWOW64\\mapi32x.dll";
  r.wow64->users.clear();
  r.writer_alive = true;
  r.trust = TrustVerdict{true, ""};
  r.settings = {{"DebounceMs", "77", SettingSource::kParameters},
                {"SectionName", "Global\\MapiDispatch.Table", SettingSource::kDefault},
                {"LogLevel", "debug", SettingSource::kPolicy}};
  r.applied = std::vector<EffectiveSetting>{{"DebounceMs", "50", SettingSource::kParameters},
                                            {"LogLevel", "debug", SettingSource::kPolicy}};
  EXPECT_TRUE(test::matches_golden(golden("valid"), status_json(r)));
}

TEST(StatusJson, StoppedUntrustedAndMissingTablesAreByteForByteTheSame) {
  StatusReport stopped =
      opened_report("Global\\MapiDispatch.Table", "MapiDispatch", "stopped", TableError::kWriterStopped);
  stopped.snapshot.machine = test::sample_machine();
  stopped.snapshot.info.generation = 3;
  stopped.snapshot.info.flags = layout::kFlagWriterStopped;
  stopped.trust = TrustVerdict{false, "owner S-1-5-21-9 is not SYSTEM or Administrators\n\x01"};
  stopped.settings = {{"DebounceMs", "50", SettingSource::kDefault}};
  EXPECT_TRUE(test::matches_golden(golden("stopped"), status_json(stopped)));

  StatusReport none;
  none.section = "Local\\md-none";
  // A system message in the ANSI code page (FormatMessageA on a German Windows): not UTF-8.
  none.open_error = "Das System kann die angegebene Datei nicht finden \xfc";
  EXPECT_TRUE(test::matches_golden(golden("none"), status_json(none)));
}

}  // namespace
}  // namespace mapidispatch::service
