// Copyright MapiDispatch authors.

#include "parameters.h"

#include <optional>

#include "mapidispatch/shared_section.h"

namespace mapidispatch::service {
namespace {

std::optional<RegValue> to_reg_value(const RawValue& v) {
  if (!v.present) return std::nullopt;
  RegValue r;
  r.type = v.type;
  r.data.reserve(v.data.size());
  for (const std::byte b : v.data) r.data.push_back(std::to_integer<uint8_t>(b));
  return r;
}

SettingReader reader_of(const std::function<RawValue(std::string_view name)>& get) {
  return [&get](std::string_view name) { return to_reg_value(get(name)); };
}

std::string default_warning(std::string_view name, const std::string& why, const std::string& default_text) {
  std::string w = "parameter ";
  w += name;
  w += ": ";
  w += why;
  w += "; using the default (";
  w += default_text;
  w += ")";
  return w;
}

// Sets the field of `spec` in `p` to `value`.
void apply(const ParameterSpec& spec, const SettingValue& value, Parameters* p) {
  const std::string_view name = spec.name;
  if (name == "DebounceMs") p->debounce_ms = value.number;
  else if (name == "RevalidateMinutes") p->revalidate_minutes = value.number;
  else if (name == "SectionSizeKB") p->section_size_kb = value.number;
  else if (name == "SectionName") p->section_name = value.section_name;
  else if (name == "LogLevel") p->log_level = value.log_level;
  else if (name == "AllowUncPaths") p->allow_unc_paths = value.number != 0;
  else if (name == "DebugCrashMidPublish") p->debug_crash_mid_publish = value.number;
}

// The settings `status` reports, in this order; the test hook is left out.
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

Parameters::Parameters() : section_name(kDefaultSectionName) {}

bool raw_to_string(const RawValue& v, size_t max_units, std::u16string* out, std::string* why) {
  return decode_strict_string(to_reg_value(v).value_or(RegValue{}), max_units, out, why);
}

bool raw_to_dword(const RawValue& v, uint32_t* out, std::string* why) {
  return decode_strict_dword(to_reg_value(v).value_or(RegValue{}), out, why);
}

bool raw_to_qword(const RawValue& v, uint64_t* out, std::string* why) {
  if (v.type == kRegDword) {
    uint32_t x = 0;
    if (!raw_to_dword(v, &x, why)) return false;
    *out = x;
    return true;
  }
  if (v.type != kRegQword) {
    *why = "has type " + reg_type_name(v.type) + ", expected REG_QWORD";
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

Parameters parse_parameters(const std::function<RawValue(std::string_view name)>& get,
                            std::vector<std::string>* warnings) {
  Parameters p;
  for (const ParameterSpec& spec : parameter_specs()) {
    const std::optional<RegValue> v = to_reg_value(get(spec.name));
    if (!v) continue;
    SettingValue value;
    std::string why;
    if (decode_setting(spec, *v, &value, &why)) {
      apply(spec, value, &p);
    } else if (warnings != nullptr) {
      warnings->push_back(default_warning(spec.name, why, spec.default_text));
    }
  }
  return p;
}

Parameters parse_effective_parameters(const std::function<RawValue(std::string_view name)>& get_policy,
                                      const std::function<RawValue(std::string_view name)>& get_parameters,
                                      std::vector<std::string>* warnings, std::vector<EffectiveSetting>* settings) {
  // The Parameters values, each warned about once, and the test hook (never from policy).
  Parameters p = parse_parameters(get_parameters, warnings);
  for (const char* name : kSettingNames) {
    const ParameterSpec& spec = *find_parameter(name);
    const SettingChoice c = choose_setting(spec, reader_of(get_policy), reader_of(get_parameters));
    if (c.source == SettingSource::kPolicy) apply(spec, c.value, &p);
    if (!c.policy_why.empty() && warnings != nullptr)
      warnings->push_back("Group Policy value " + std::string(name) + " ignored (" +
                          default_warning(name, c.policy_why, spec.default_text) + "); the " +
                          (c.source == SettingSource::kParameters ? "Parameters value" : "default") + " applies");
    if (settings != nullptr) settings->push_back({name, setting_text(p, name), c.source});
  }
  return p;
}

}  // namespace mapidispatch::service
