// Copyright MapiDispatch authors.

#include "parameters.h"

#include <cstring>

#include "mapidispatch/shared_section.h"
#include "text.h"

namespace mapidispatch::service {
namespace {

constexpr uint32_t kDebounceMax = 60000;
constexpr uint32_t kRevalidateMin = 1;
constexpr uint32_t kRevalidateMax = 1440;
constexpr uint32_t kSectionKbMin = 64;
constexpr uint32_t kSectionKbMax = 256 * 1024;
constexpr size_t kSectionNameMax = 200;
constexpr uint32_t kCrashPercentMax = 100;

const ParameterSpec kSpecs[] = {
    {"DebounceMs", "REG_DWORD", "200", "0 to 60000",
     "Milliseconds to wait after the first registry notification of a burst before resolving and "
     "publishing once. 0 publishes at once."},
    {"RevalidateMinutes", "REG_DWORD", "15", "1 to 1440",
     "Period of the full re-resolve that catches what no notification covers: provider files "
     "appearing, disappearing or being replaced, Windows Installer changes behind MSIComponentID. "
     "Publishes only if an answer changed."},
    {"SectionName", "REG_SZ", kDefaultSectionName, "Global\\NAME or Local\\NAME, NAME 1 to 200 characters, no backslash",
     "Name of the shared section the table is published in. Stubs read Global\\MapiDispatch.Table; change it "
     "for tests only."},
    {"SectionSizeKB", "REG_DWORD", "4096", "64 to 262144",
     "Size of the section when the service creates it (an existing section keeps its size)."},
    {"LogLevel", "REG_SZ", "info", "trace, debug, info, warn, error, critical, off",
     "Threshold of the log file. The Event Log receives state changes and warnings and errors."},
    {"AllowUncPaths", "REG_DWORD", "0", "0 or 1",
     "1 lets provider paths on UNC shares (\\\\server\\share\\...) resolve; 0 reports them as "
     "denied-by-policy."},
    {"DebugCrashMidPublish", "REG_DWORD", "0", "0 to 100",
     "Test hook: 1 to 100 abandons the next publish with that percentage of the new table's bytes "
     "written (the count left odd) and terminates the process; 0 is off. Ignored unless SectionName "
     "is under Local\\."},
};

std::string type_name(uint32_t type) {
  switch (type) {
    case kRegNone: return "REG_NONE";
    case kRegSz: return "REG_SZ";
    case kRegExpandSz: return "REG_EXPAND_SZ";
    case kRegBinary: return "REG_BINARY";
    case kRegDword: return "REG_DWORD";
    case kRegDwordBigEndian: return "REG_DWORD_BIG_ENDIAN";
    case kRegMultiSz: return "REG_MULTI_SZ";
    case kRegQword: return "REG_QWORD";
  }
  return "type " + std::to_string(type);
}

void warn_default(std::vector<std::string>* warnings, std::string_view name, const std::string& why,
                  const std::string& default_text) {
  if (warnings == nullptr) return;
  std::string w = "parameter ";
  w += name;
  w += ": ";
  w += why;
  w += "; using the default (";
  w += default_text;
  w += ")";
  warnings->push_back(std::move(w));
}

void read_dword_in_range(const std::function<RawValue(std::string_view)>& get, std::string_view name,
                         uint32_t lo, uint32_t hi, uint32_t* field, std::vector<std::string>* warnings) {
  const RawValue v = get(name);
  if (!v.present) return;
  uint32_t x = 0;
  std::string why;
  if (!raw_to_dword(v, &x, &why)) {
    warn_default(warnings, name, why, std::to_string(*field));
    return;
  }
  if (x < lo || x > hi) {
    warn_default(warnings, name,
                 std::to_string(x) + " is out of range " + std::to_string(lo) + " to " + std::to_string(hi),
                 std::to_string(*field));
    return;
  }
  *field = x;
}

}  // namespace

RawValue RawValue::dword(uint32_t v) {
  RawValue r;
  r.present = true;
  r.type = kRegDword;
  r.data.resize(4);
  for (int i = 0; i < 4; ++i) r.data[static_cast<size_t>(i)] = static_cast<std::byte>((v >> (8 * i)) & 0xFF);
  return r;
}

RawValue RawValue::qword(uint64_t v) {
  RawValue r;
  r.present = true;
  r.type = kRegQword;
  r.data.resize(8);
  for (int i = 0; i < 8; ++i) r.data[static_cast<size_t>(i)] = static_cast<std::byte>((v >> (8 * i)) & 0xFF);
  return r;
}

RawValue RawValue::string(std::u16string_view s, uint32_t type) {
  RawValue r;
  r.present = true;
  r.type = type;
  r.data.resize((s.size() + 1) * 2);
  for (size_t i = 0; i < s.size(); ++i) {
    r.data[2 * i] = static_cast<std::byte>(s[i] & 0xFF);
    r.data[2 * i + 1] = static_cast<std::byte>(s[i] >> 8);
  }
  return r;
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kCritical: return "critical";
    case LogLevel::kOff: return "off";
  }
  return "info";
}

Parameters::Parameters() : section_name(kDefaultSectionName) {}

std::span<const ParameterSpec> parameter_specs() { return kSpecs; }

bool raw_to_string(const RawValue& v, size_t max_units, std::u16string* out, std::string* why) {
  if (v.type != kRegSz && v.type != kRegExpandSz) {
    *why = "has type " + type_name(v.type) + ", expected REG_SZ";
    return false;
  }
  if (v.data.size() % 2 != 0) {
    *why = "has an odd byte length (" + std::to_string(v.data.size()) + "), not UTF-16 text";
    return false;
  }
  std::u16string s(v.data.size() / 2, u'\0');
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = static_cast<char16_t>(std::to_integer<unsigned>(v.data[2 * i]) |
                                 (std::to_integer<unsigned>(v.data[2 * i + 1]) << 8));
  // The registry does not guarantee a terminator, and writers often store more than one.
  while (!s.empty() && s.back() == u'\0') s.pop_back();
  if (s.find(u'\0') != std::u16string::npos) {
    *why = "contains an embedded NUL character";
    return false;
  }
  if (s.size() > max_units) {
    *why = "is " + std::to_string(s.size()) + " characters long, more than " + std::to_string(max_units);
    return false;
  }
  *out = std::move(s);
  return true;
}

bool raw_to_dword(const RawValue& v, uint32_t* out, std::string* why) {
  if (v.type != kRegDword) {
    *why = "has type " + type_name(v.type) + ", expected REG_DWORD";
    return false;
  }
  if (v.data.size() != 4) {
    *why = "is " + std::to_string(v.data.size()) + " bytes long, expected 4";
    return false;
  }
  uint32_t x = 0;
  for (int i = 3; i >= 0; --i) x = (x << 8) | std::to_integer<uint32_t>(v.data[static_cast<size_t>(i)]);
  *out = x;
  return true;
}

bool raw_to_qword(const RawValue& v, uint64_t* out, std::string* why) {
  if (v.type == kRegDword) {
    uint32_t x = 0;
    if (!raw_to_dword(v, &x, why)) return false;
    *out = x;
    return true;
  }
  if (v.type != kRegQword) {
    *why = "has type " + type_name(v.type) + ", expected REG_QWORD";
    return false;
  }
  if (v.data.size() != 8) {
    *why = "is " + std::to_string(v.data.size()) + " bytes long, expected 8";
    return false;
  }
  uint64_t x = 0;
  for (int i = 7; i >= 0; --i) x = (x << 8) | std::to_integer<uint64_t>(v.data[static_cast<size_t>(i)]);
  *out = x;
  return true;
}

bool validate_section_name(std::string_view name, std::string* why) {
#ifdef _WIN32
  std::string_view rest;
  if (name.substr(0, 7) == "Global\\") {
    rest = name.substr(7);
  } else if (name.substr(0, 6) == "Local\\") {
    rest = name.substr(6);
  } else {
    *why = "a section name starts with Global\\ or Local\\";
    return false;
  }
  const char separator = '\\';
#else
  if (name.empty() || name[0] != '/') {
    *why = "a POSIX section name starts with /";
    return false;
  }
  std::string_view rest = name.substr(1);
  const char separator = '/';
#endif
  if (rest.empty() || rest.size() > kSectionNameMax) {
    *why = "the name after the prefix must be 1 to " + std::to_string(kSectionNameMax) + " characters";
    return false;
  }
  for (const char c : rest) {
    if (c == separator || static_cast<unsigned char>(c) < 0x20) {
      *why = "the name after the prefix may not contain a separator or a control character";
      return false;
    }
  }
  return true;
}

bool parse_log_level(std::string_view text, LogLevel* out) {
  const std::string t = ascii_lower(text);
  static constexpr struct {
    const char* name;
    LogLevel level;
  } kLevels[] = {{"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug},     {"info", LogLevel::kInfo},
                 {"warn", LogLevel::kWarn},   {"warning", LogLevel::kWarn},    {"error", LogLevel::kError},
                 {"critical", LogLevel::kCritical}, {"off", LogLevel::kOff}};
  for (const auto& l : kLevels) {
    if (t == l.name) {
      *out = l.level;
      return true;
    }
  }
  return false;
}

Parameters parse_parameters(const std::function<RawValue(std::string_view name)>& get,
                            std::vector<std::string>* warnings) {
  Parameters p;
  read_dword_in_range(get, "DebounceMs", 0, kDebounceMax, &p.debounce_ms, warnings);
  read_dword_in_range(get, "RevalidateMinutes", kRevalidateMin, kRevalidateMax, &p.revalidate_minutes, warnings);
  read_dword_in_range(get, "SectionSizeKB", kSectionKbMin, kSectionKbMax, &p.section_size_kb, warnings);

  if (const RawValue v = get("SectionName"); v.present) {
    std::u16string s;
    std::string why;
    if (!raw_to_string(v, kSectionNameMax + 8, &s, &why)) {
      warn_default(warnings, "SectionName", why, p.section_name);
    } else if (const std::string name = utf8(s); !validate_section_name(name, &why)) {
      warn_default(warnings, "SectionName", "'" + name + "' is not valid: " + why, p.section_name);
    } else {
      p.section_name = name;
    }
  }

  if (const RawValue v = get("LogLevel"); v.present) {
    std::u16string s;
    std::string why;
    LogLevel level{};
    if (!raw_to_string(v, 32, &s, &why)) {
      warn_default(warnings, "LogLevel", why, std::string(to_string(p.log_level)));
    } else if (!parse_log_level(utf8(s), &level)) {
      warn_default(warnings, "LogLevel", "'" + utf8(s) + "' is not a log level", std::string(to_string(p.log_level)));
    } else {
      p.log_level = level;
    }
  }

  uint32_t unc = p.allow_unc_paths ? 1u : 0u;
  read_dword_in_range(get, "AllowUncPaths", 0, 1, &unc, warnings);
  p.allow_unc_paths = unc != 0;
  read_dword_in_range(get, "DebugCrashMidPublish", 0, kCrashPercentMax, &p.debug_crash_mid_publish, warnings);
  return p;
}

std::string_view to_string(SettingSource source) {
  switch (source) {
    case SettingSource::kDefault: return "default";
    case SettingSource::kParameters: return "parameters";
    case SettingSource::kPolicy: return "policy";
  }
  return "unknown";
}

bool policy_may_set(std::string_view name) { return name != "SectionName" && name != "DebugCrashMidPublish"; }

namespace {

// The settings `status` reports, in the order of parameter_specs(); the test hook is left out.
constexpr const char* kSettingNames[] = {"DebounceMs", "RevalidateMinutes", "SectionName", "SectionSizeKB",
                                         "LogLevel", "AllowUncPaths"};

std::string setting_text(const Parameters& p, std::string_view name) {
  if (name == "DebounceMs") return std::to_string(p.debounce_ms);
  if (name == "RevalidateMinutes") return std::to_string(p.revalidate_minutes);
  if (name == "SectionName") return p.section_name;
  if (name == "SectionSizeKB") return std::to_string(p.section_size_kb);
  if (name == "LogLevel") return std::string(to_string(p.log_level));
  if (name == "AllowUncPaths") return p.allow_unc_paths ? "1" : "0";
  return {};
}

void copy_setting(const Parameters& from, std::string_view name, Parameters* to) {
  if (name == "DebounceMs") to->debounce_ms = from.debounce_ms;
  else if (name == "RevalidateMinutes") to->revalidate_minutes = from.revalidate_minutes;
  else if (name == "SectionSizeKB") to->section_size_kb = from.section_size_kb;
  else if (name == "LogLevel") to->log_level = from.log_level;
  else if (name == "AllowUncPaths") to->allow_unc_paths = from.allow_unc_paths;
}

// Validates one value on its own: the Parameters it gives, and whether it was accepted.
bool parse_one(std::string_view name, const RawValue& v, Parameters* out, std::vector<std::string>* why) {
  *out = parse_parameters([&](std::string_view n) { return n == name ? v : RawValue{}; }, why);
  return why->empty();
}

}  // namespace

Parameters parse_effective_parameters(const std::function<RawValue(std::string_view name)>& get_policy,
                                      const std::function<RawValue(std::string_view name)>& get_parameters,
                                      std::vector<std::string>* warnings, std::vector<EffectiveSetting>* settings) {
  Parameters p = parse_parameters(get_parameters, warnings);
  for (const char* name : kSettingNames) {
    SettingSource source = SettingSource::kDefault;
    std::vector<std::string> why;
    Parameters one;
    if (const RawValue v = get_parameters(name); v.present && parse_one(name, v, &one, &why)) source = SettingSource::kParameters;
    if (policy_may_set(name)) {
      if (const RawValue v = get_policy(name); v.present) {
        why.clear();
        if (parse_one(name, v, &one, &why)) {
          copy_setting(one, name, &p);
          source = SettingSource::kPolicy;
        } else if (warnings != nullptr) {
          for (const auto& w : why)
            warnings->push_back("Group Policy value " + std::string(name) + " ignored (" + w + "); the " +
                                (source == SettingSource::kParameters ? "Parameters value" : "default") + " applies");
        }
      }
    }
    if (settings != nullptr) settings->push_back({name, setting_text(p, name), source});
  }
  return p;
}

}  // namespace mapidispatch::service
