// Copyright MapiDispatch authors.
//
//! \file
//! The service's parameters: the values under
//! `HKLM\SYSTEM\CurrentControlSet\Services\<service>\Parameters`, their defaults, ranges and
//! validation. Validation is portable (it works on raw registry data), so every rule is unit
//! tested natively; win/registry.h reads the raw values.
//!
//! Rule: a value that is absent takes its default silently; a value of the wrong type, of a bad
//! length or out of range takes its default and yields one warning naming the value, what was
//! wrong and the default used. Nothing here throws on any input.

#ifndef MAPIDISPATCH_SERVICE_PARAMETERS_H_
#define MAPIDISPATCH_SERVICE_PARAMETERS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mapidispatch::service {

//! Registry value types (winnt.h REG_* values), portable.
enum RegType : uint32_t {
  kRegNone = 0,
  kRegSz = 1,
  kRegExpandSz = 2,
  kRegBinary = 3,
  kRegDword = 4,
  kRegDwordBigEndian = 5,
  kRegMultiSz = 7,
  kRegQword = 11,
};

//! One registry value as read, unvalidated: any type, any length.
struct RawValue {
  bool present = false;
  uint32_t type = kRegNone;
  std::vector<std::byte> data;

  static RawValue dword(uint32_t v);
  static RawValue qword(uint64_t v);
  static RawValue string(std::u16string_view s, uint32_t type = kRegSz);  //!< NUL-terminated
};

//! Log levels, spdlog's names.
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };
std::string_view to_string(LogLevel level);

//! The validated parameters.
struct Parameters {
  uint32_t debounce_ms = 200;          //!< Coalescing window after a registry notification.
  uint32_t revalidate_minutes = 15;    //!< Full re-resolve period (what no notification covers).
  std::string section_name;            //!< Shared section name; default kDefaultSectionName.
  uint32_t section_size_kb = 4096;     //!< Section size when the service creates it.
  LogLevel log_level = LogLevel::kInfo;
  bool allow_unc_paths = false;        //!< UNC provider paths: denied unless 1.
  //! Test hook: 0 is off; 1 to 100 abandons the next publish with that percentage of the new
  //! image's bytes written and the count odd, and terminates the process, as a crash in the
  //! middle of TableWriter::publish would. Honoured only for a section name under Local\ (never
  //! the production one).
  uint32_t debug_crash_mid_publish = 0;

  Parameters();
  bool operator==(const Parameters&) const = default;
};

//! Documentation of one parameter (README.md "Parameters" says the same).
struct ParameterSpec {
  const char* name;         //!< Registry value name.
  const char* type;         //!< "REG_DWORD", "REG_SZ".
  const char* default_text;
  const char* range;
  const char* description;
};
std::span<const ParameterSpec> parameter_specs();

//! Builds Parameters from raw values: `get(name)` returns the value of that name (present=false
//! if absent). Every problem appends a warning to `warnings`.
Parameters parse_parameters(const std::function<RawValue(std::string_view name)>& get,
                            std::vector<std::string>* warnings);

//! Where an effective setting came from.
enum class SettingSource { kDefault, kParameters, kPolicy };
std::string_view to_string(SettingSource source);  //!< "default", "parameters", "policy"

//! One setting as the service applies it.
struct EffectiveSetting {
  std::string name;   //!< The registry value name, e.g. "DebounceMs".
  std::string value;  //!< As text, e.g. "200", "info", "Global\\MapiDispatch.Table".
  SettingSource source = SettingSource::kDefault;
  bool operator==(const EffectiveSetting&) const = default;
};

//! The Group Policy key: HKLM\SOFTWARE\Policies\MapiDispatch (ADMX: deploy/policy).
inline constexpr char kPolicyKeyPath[] = "SOFTWARE\\Policies\\MapiDispatch";

//! Whether Group Policy may set `name`. SectionName (stubs read the default name) and the test
//! hook DebugCrashMidPublish never come from policy.
bool policy_may_set(std::string_view name);

//! Parameters with Group Policy on top. For each setting a valid policy value wins over a valid
//! Parameters value, which wins over the default. An invalid policy value is reported in
//! `warnings` ("Group Policy value ... ignored") and the Parameters value or the default applies.
//! `settings` (optional) receives every setting's effective value and source, for `status`.
Parameters parse_effective_parameters(const std::function<RawValue(std::string_view name)>& get_policy,
                                      const std::function<RawValue(std::string_view name)>& get_parameters,
                                      std::vector<std::string>* warnings, std::vector<EffectiveSetting>* settings);

//! Whether `name` is acceptable as a section name on this platform; `why` says why not.
//! Windows: "Global\\" or "Local\\" then 1 to 200 characters without a backslash.
//! POSIX: "/" then 1 to 200 characters without a slash.
bool validate_section_name(std::string_view name, std::string* why);

//! Parses a log level name (case-insensitive; "warning" = "warn").
bool parse_log_level(std::string_view text, LogLevel* out);

//! Reads a REG_SZ / REG_EXPAND_SZ value as UTF-16: rejects other types, odd sizes, embedded NULs
//! and strings longer than `max_units`; strips the terminating NULs. `why` says why not.
bool raw_to_string(const RawValue& v, size_t max_units, std::u16string* out, std::string* why);

//! Reads a REG_DWORD (4 bytes, little-endian). `why` says why not.
bool raw_to_dword(const RawValue& v, uint32_t* out, std::string* why);

//! Reads a REG_QWORD (8 bytes) or a REG_DWORD. `why` says why not.
bool raw_to_qword(const RawValue& v, uint64_t* out, std::string* why);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_PARAMETERS_H_
