// Copyright MapiDispatch authors.

#include "table_samples.h"

namespace mapidispatch::test {

std::u16string u16(const std::string& ascii) { return {ascii.begin(), ascii.end()}; }

ScopeResolution sample_machine(const std::string& client) {
  ScopeResolution s;
  s.kind = ScopeKind::kMachine;
  s.default_client = u16(client);
  s.default_source = ValueSource::kHklm;
  s.simple = {TargetStatus::kFound, PeMachine::kAmd64, ValueSource::kHklm,
              u16("C:\\Program Files\\Contoso\\contoso-mapi.dll"), u16(client), u16("DLLPath of the default client")};
  s.extended = {TargetStatus::kWrongBitness, PeMachine::kI386, ValueSource::kHklm,
                u16("C:\\Program Files (x86)\\Contoso\\contoso-mapi32.dll"), u16(client),
                u16("DLLPathEx is a 32-bit DLL")};
  s.mapi32x = {TargetStatus::kMissing, PeMachine::kUnknown, ValueSource::kFallback,
               u16("C:\\Windows\\System32\\mapi32x.dll"), {}, u16("mapi32x.dll not present")};
  AppOverride search;
  search.module = u16("SearchProtocolHost.exe");
  search.uses_mapi32x = true;
  s.overrides.push_back(search);
  AppOverride legacy;
  legacy.module = u16("legacy.exe");
  legacy.client = u16("Fabrikam");
  legacy.supports_utf8 = true;
  legacy.simple = {TargetStatus::kFound, PeMachine::kAmd64, ValueSource::kOverride,
                   u16("C:\\Fabrikam\\fabmapi.dll"), u16("Fabrikam"), u16("MSMapiApps override")};
  s.overrides.push_back(legacy);
  s.prefirstrun_message = u16("No mail client is installed.");
  s.prefirstrun_caption = u16("Mail");
  s.supports_utf8 = false;
  return s;
}

ScopeResolution sample_user(int index) {
  ScopeResolution s;
  s.kind = ScopeKind::kUser;
  s.sid = u16("S-1-5-21-1004336348-1177238915-682003330-" + std::to_string(1000 + index));
  s.default_client = u16("Fabrikam Mail " + std::to_string(index));
  s.default_source = ValueSource::kHkcu;
  s.simple = {TargetStatus::kFound, PeMachine::kAmd64, ValueSource::kHkcu,
              u16("C:\\Users\\u" + std::to_string(index) + "\\AppData\\Local\\Fabrikam\\fab.dll"),
              s.default_client, u16("DLLPath of the HKCU default")};
  s.extended = s.simple;
  // Non-ASCII text survives the round trip as UTF-16.
  s.prefirstrun_message = u"Kein E-Mail-Programm \u00fc\u00e4\u00f6 \u6d4b\u8bd5";
  s.supports_utf8 = (index % 2) == 0;
  return s;
}

std::vector<ScopeResolution> sample_scopes(int users) {
  std::vector<ScopeResolution> v;
  v.push_back(sample_machine());
  for (int i = 0; i < users; ++i) v.push_back(sample_user(i));
  return v;
}

namespace {
std::u16string stamp_text(uint64_t stamp, const char* what) {
  // 100+ UTF-16 units: the string alone spans more than a cache line.
  std::string s = std::string(what) + ":" + std::to_string(stamp) + ":";
  while (s.size() < 100) s += std::to_string(stamp % 10);
  return u16(s);
}
}  // namespace

std::vector<ScopeResolution> stamped_scopes(uint64_t stamp, int users) {
  std::vector<ScopeResolution> v = sample_scopes(users);
  for (auto& s : v) {
    s.default_client = stamp_text(stamp, "client");
    s.simple.path = stamp_text(stamp, "simple");
    s.extended.path = stamp_text(stamp, "extended");
    s.prefirstrun_message = stamp_text(stamp, "prefirstrun");
    for (auto& o : s.overrides) o.client = stamp_text(stamp, "override");
  }
  return v;
}

bool stamp_consistent(const ScopeResolution& scope, uint64_t* stamp) {
  auto parse = [](const std::u16string& s, const char* what, uint64_t* out) {
    const std::u16string prefix = u16(std::string(what) + ":");
    if (s.compare(0, prefix.size(), prefix) != 0) return false;
    uint64_t v = 0;
    size_t i = prefix.size();
    for (; i < s.size() && s[i] != u':'; ++i) {
      if (s[i] < u'0' || s[i] > u'9') return false;
      v = v * 10 + static_cast<uint64_t>(s[i] - u'0');
    }
    if (s != stamp_text(v, what)) return false;
    *out = v;
    return true;
  };
  uint64_t a, b, c, d;
  if (!parse(scope.default_client, "client", &a) || !parse(scope.simple.path, "simple", &b) ||
      !parse(scope.extended.path, "extended", &c) || !parse(scope.prefirstrun_message, "prefirstrun", &d))
    return false;
  if (a != b || b != c || c != d) return false;
  for (const auto& o : scope.overrides) {
    uint64_t e;
    if (!parse(o.client, "override", &e) || e != a) return false;
  }
  *stamp = a;
  return true;
}

}  // namespace mapidispatch::test
