// Copyright MapiDispatch authors.
//
//! \file
//! The administrator's settings of MapiDispatch: where they live, what each one accepts, and
//! which of its two places wins. The service applies every one (service/src/parameters.cpp);
//! the stub's registry mode reads AllowUncPaths (read_allow_unc_paths(), resolver.h). Both go
//! through choose_setting(), so they follow one rule:
//!
//!   a valid Group Policy value (HKLM\SOFTWARE\Policies\MapiDispatch, for the settings policy
//!   may set) wins over a valid value of the service's Parameters key
//!   (HKLM\SYSTEM\CurrentControlSet\Services\<service>\Parameters), which wins over the default.
//!   A value of the wrong type, of a bad length or out of range is ignored, as if absent.
//!
//! Portable: it works on raw registry values (registry.h), so every rule is unit tested natively.
//! Nothing here throws except std::bad_alloc.

#ifndef MAPIDISPATCH_SETTINGS_H_
#define MAPIDISPATCH_SETTINGS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mapidispatch/registry.h"

namespace mapidispatch {

//! The Group Policy key, below HKLM (ADMX: deploy/policy).
inline constexpr char kPolicyKeyPath[] = "SOFTWARE\\Policies\\MapiDispatch";
//! The Parameters key of the service under its default name, below HKLM: where a reader that is
//! not the service (the stub) finds the service's values.
inline constexpr char kParametersKeyPath[] = "SYSTEM\\CurrentControlSet\\Services\\MapiDispatch\\Parameters";

//! Log levels, spdlog's names (the LogLevel setting).
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };
std::string_view to_string(LogLevel level);
//! Parses a log level name (case-insensitive; "warning" = "warn").
bool parse_log_level(std::string_view text, LogLevel* out);

//! Whether `name` is acceptable as a section name on this platform (the SectionName setting);
//! `why` says why not. Windows: "Global\\" or "Local\\" then 1 to 200 characters without a
//! backslash. POSIX: "/" then 1 to 200 characters without a slash.
bool validate_section_name(std::string_view name, std::string* why);

//! A REG_SZ / REG_EXPAND_SZ value as UTF-16, strictly: rejects other types, odd sizes, embedded
//! NULs and strings longer than `max_units`; strips the terminating NULs (an unterminated string
//! is fine). `why` says why not, in the words of the service's warnings.
bool decode_strict_string(const RegValue& v, size_t max_units, std::u16string* out, std::string* why);
//! A REG_DWORD (4 bytes, little-endian). `why` says why not.
bool decode_strict_dword(const RegValue& v, uint32_t* out, std::string* why);

//! What a setting's value is.
enum class SettingKind {
  kDword,        //!< REG_DWORD in [min, max].
  kSectionName,  //!< REG_SZ that validate_section_name() accepts.
  kLogLevel,     //!< REG_SZ that parse_log_level() accepts.
};

//! One setting: its documentation (README.md "Parameters" says the same) and what it accepts.
struct ParameterSpec {
  const char* name;  //!< Registry value name.
  const char* type;  //!< "REG_DWORD", "REG_SZ".
  const char* default_text;
  const char* range;
  const char* description;
  SettingKind kind;
  uint32_t min;         //!< kDword: the smallest value accepted.
  uint32_t max;         //!< kDword: the largest value accepted.
  bool policy_may_set;  //!< Whether a Group Policy value applies (policy_may_set()).
};
//! Every setting the service reads, in the order it reads them (the order of its warnings).
std::span<const ParameterSpec> parameter_specs();
//! The setting called `name` (case-sensitive, as the service names them), or null.
const ParameterSpec* find_parameter(std::string_view name);

//! Whether Group Policy may set `name`. SectionName (stubs read the default name) and the test
//! hook DebugCrashMidPublish never come from policy.
bool policy_may_set(std::string_view name);

//! A setting's value, validated.
struct SettingValue {
  uint32_t number = 0;                //!< kDword.
  std::string section_name;           //!< kSectionName (UTF-8).
  LogLevel log_level = LogLevel::kInfo;  //!< kLogLevel.
};

//! Decodes `raw` as `spec` takes it; false, with `why`, if it is not acceptable.
bool decode_setting(const ParameterSpec& spec, const RegValue& raw, SettingValue* out, std::string* why);

//! Where an effective setting came from.
enum class SettingSource { kDefault, kParameters, kPolicy };
std::string_view to_string(SettingSource source);  //!< "default", "parameters", "policy"

//! One setting as it applies.
struct SettingChoice {
  SettingSource source = SettingSource::kDefault;
  SettingValue value;          //!< The value that applies, unless `source` is kDefault.
  std::string parameters_why;  //!< Non-empty: the Parameters value was there and is ignored, why.
  std::string policy_why;      //!< Non-empty: the policy value was there and is ignored, why.
};

//! Reads value `name` of one of the two keys: the value, or nullopt if absent (or unreadable).
using SettingReader = std::function<std::optional<RegValue>(std::string_view name)>;

//! The rule (see the file comment) for one setting. Reads the Parameters value, then the policy
//! value if policy may set it.
SettingChoice choose_setting(const ParameterSpec& spec, const SettingReader& policy, const SettingReader& parameters);

//! choose_setting() over `registry`: the values of kPolicyKeyPath and kParametersKeyPath under
//! HKLM, in `view`. A key or value that cannot be read counts as absent. For a reader that is not
//! the service (the service reads its own key, under its own name, and reports what it cannot read).
SettingChoice read_setting(const Registry& registry, const ParameterSpec& spec, RegView view);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_SETTINGS_H_
