// Copyright MapiDispatch authors.

#include "mapidispatch/settings.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "mapidispatch/shared_section.h"
#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

constexpr size_t kSectionNameMax = 200;

const ParameterSpec kSpecs[] = {
    {"DebounceMs", "REG_DWORD", "200", "0 to 60000",
     "Milliseconds to wait after the first registry notification of a burst before resolving and "
     "publishing once. 0 publishes at once.",
     SettingKind::kDword, 0, 60000, true},
    {"RevalidateMinutes", "REG_DWORD", "15", "1 to 1440",
     "Period of the full re-resolve that catches what no notification covers: provider files "
     "appearing, disappearing or being replaced, Windows Installer changes behind MSIComponentID. "
     "Publishes only if an answer changed.",
     SettingKind::kDword, 1, 1440, true},
    {"SectionSizeKB", "REG_DWORD", "4096", "64 to 262144",
     "Size of the section when the service creates it (an existing section keeps its size).",
     SettingKind::kDword, 64, 256 * 1024, true},
    {"SectionName", "REG_SZ", kDefaultSectionName, "Global\\NAME or Local\\NAME, NAME 1 to 200 characters, no backslash",
     "Name of the shared section the table is published in. Stubs read Global\\MapiDispatch.Table; change it "
     "for tests only.",
     SettingKind::kSectionName, 0, 0, false},
    {"LogLevel", "REG_SZ", "info", "trace, debug, info, warn, error, critical, off",
     "Threshold of the log file. The Event Log receives state changes and warnings and errors.",
     SettingKind::kLogLevel, 0, 0, true},
    {"AllowUncPaths", "REG_DWORD", "0", "0 or 1",
     "1 lets provider paths on UNC shares (\\\\server\\share\\...) resolve; 0 reports them as "
     "denied-by-policy.",
     SettingKind::kDword, 0, 1, true},
    {"DebugCrashMidPublish", "REG_DWORD", "0", "0 to 100",
     "Test hook: 1 to 100 abandons the next publish with that percentage of the new table's bytes "
     "written (the count left odd) and terminates the process; 0 is off. Ignored unless SectionName "
     "is under Local\\.",
     SettingKind::kDword, 0, 100, false},
};

}  // namespace

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

bool parse_log_level(std::string_view text, LogLevel* out) {
  static constexpr struct {
    std::string_view name;
    LogLevel level;
  } kLevels[] = {{"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug},     {"info", LogLevel::kInfo},
                 {"warn", LogLevel::kWarn},   {"warning", LogLevel::kWarn},    {"error", LogLevel::kError},
                 {"critical", LogLevel::kCritical}, {"off", LogLevel::kOff}};
  // ASCII case-insensitive: the names are ASCII, and nothing else may match them.
  const auto same = [](char name, char c) {
    return name == (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  };
  for (const auto& l : kLevels) {
    if (std::equal(l.name.begin(), l.name.end(), text.begin(), text.end(), same)) {
      *out = l.level;
      return true;
    }
  }
  return false;
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

bool decode_strict_string(const RegValue& v, size_t max_units, std::u16string* out, std::string* why) {
  if (v.type != reg_type::kSz && v.type != reg_type::kExpandSz) {
    *why = "has type " + reg_type_name(v.type) + ", expected REG_SZ";
    return false;
  }
  if (v.data.size() % 2 != 0) {
    *why = "has an odd byte length (" + std::to_string(v.data.size()) + "), not UTF-16 text";
    return false;
  }
  // The registry does not guarantee a terminator, and writers often store more than one: the
  // string ends at its first NUL, and only NULs may follow.
  std::u16string s;
  if (decode_reg_string(v, std::numeric_limits<size_t>::max(), &s) != RegStringStatus::kOk) {
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

bool decode_strict_dword(const RegValue& v, uint32_t* out, std::string* why) {
  if (v.type != reg_type::kDword) {
    *why = "has type " + reg_type_name(v.type) + ", expected REG_DWORD";
    return false;
  }
  if (!decode_reg_dword(v, out)) {
    *why = "is " + std::to_string(v.data.size()) + " bytes long, expected 4";
    return false;
  }
  return true;
}

std::span<const ParameterSpec> parameter_specs() { return kSpecs; }

const ParameterSpec* find_parameter(std::string_view name) {
  for (const ParameterSpec& spec : kSpecs)
    if (name == spec.name) return &spec;
  return nullptr;
}

bool policy_may_set(std::string_view name) {
  const ParameterSpec* spec = find_parameter(name);
  return spec != nullptr && spec->policy_may_set;
}

bool decode_setting(const ParameterSpec& spec, const RegValue& raw, SettingValue* out, std::string* why) {
  switch (spec.kind) {
    case SettingKind::kDword: {
      uint32_t x = 0;
      if (!decode_strict_dword(raw, &x, why)) return false;
      if (x < spec.min || x > spec.max) {
        *why = std::to_string(x) + " is out of range " + std::to_string(spec.min) + " to " + std::to_string(spec.max);
        return false;
      }
      out->number = x;
      return true;
    }
    case SettingKind::kSectionName: {
      std::u16string s;
      if (!decode_strict_string(raw, kSectionNameMax + 8, &s, why)) return false;
      const std::string name = text::utf16_to_utf8(s);
      std::string invalid;
      if (!validate_section_name(name, &invalid)) {
        *why = "'" + name + "' is not valid: " + invalid;
        return false;
      }
      out->section_name = name;
      return true;
    }
    case SettingKind::kLogLevel: {
      std::u16string s;
      if (!decode_strict_string(raw, 32, &s, why)) return false;
      const std::string level = text::utf16_to_utf8(s);
      if (!parse_log_level(level, &out->log_level)) {
        *why = "'" + level + "' is not a log level";
        return false;
      }
      return true;
    }
  }
  *why = "is of an unknown kind";
  return false;
}

std::string_view to_string(SettingSource source) {
  switch (source) {
    case SettingSource::kDefault: return "default";
    case SettingSource::kParameters: return "parameters";
    case SettingSource::kPolicy: return "policy";
  }
  return "unknown";
}

SettingChoice choose_setting(const ParameterSpec& spec, const SettingReader& policy, const SettingReader& parameters) {
  SettingChoice c;
  if (const std::optional<RegValue> v = parameters(spec.name); v && decode_setting(spec, *v, &c.value, &c.parameters_why))
    c.source = SettingSource::kParameters;
  if (!spec.policy_may_set) return c;
  if (const std::optional<RegValue> v = policy(spec.name)) {
    SettingValue value;
    if (decode_setting(spec, *v, &value, &c.policy_why)) {
      c.value = std::move(value);
      c.source = SettingSource::kPolicy;
    }
  }
  return c;
}

SettingChoice read_setting(const Registry& registry, const ParameterSpec& spec, RegView view) {
  const auto reader = [&registry, view](const char* key_path) -> SettingReader {
    return [&registry, view, path = text::ascii(key_path)](std::string_view name) -> std::optional<RegValue> {
      std::unique_ptr<RegistryKey> key;
      RegValue v;
      if (registry.open(RegRoot::kLocalMachine, path, view, &key) || key->read_value(text::ascii(name), &v))
        return std::nullopt;
      return v;
    };
  };
  return choose_setting(spec, reader(kPolicyKeyPath), reader(kParametersKeyPath));
}

}  // namespace mapidispatch
