// Copyright MapiDispatch authors.
//
//! \file
//! The service's parameters: the values under
//! `HKLM\SYSTEM\CurrentControlSet\Services\<service>\Parameters` with Group Policy's on top,
//! as the service applies them: its Parameters struct, its warnings, its report of where each
//! setting came from. What each setting accepts and which value wins is
//! mapidispatch/settings.h's (common/, shared with the stub); win/registry.h reads the raw values.
//!
//! Rule: a value that is absent takes its default silently; a value of the wrong type, of a bad
//! length or out of range takes its default and yields one warning naming the value, what was
//! wrong and the default used. Nothing here throws on any input.

#ifndef MAPIDISPATCH_SERVICE_PARAMETERS_H_
#define MAPIDISPATCH_SERVICE_PARAMETERS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mapidispatch/settings.h"

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

//! Builds Parameters from raw values: `get(name)` returns the value of that name (present=false
//! if absent). Every problem appends a warning to `warnings`.
Parameters parse_parameters(const std::function<RawValue(std::string_view name)>& get,
                            std::vector<std::string>* warnings);

//! One setting as the service applies it.
struct EffectiveSetting {
  std::string name;   //!< The registry value name, e.g. "DebounceMs".
  std::string value;  //!< As text, e.g. "200", "info", "Global\\MapiDispatch.Table".
  SettingSource source = SettingSource::kDefault;
  bool operator==(const EffectiveSetting&) const = default;
};

//! Parameters with Group Policy on top, by choose_setting() (settings.h): for each setting a valid
//! policy value wins over a valid Parameters value, which wins over the default. An invalid
//! policy value is reported in `warnings` ("Group Policy value ... ignored") and the Parameters
//! value or the default applies.
//! `settings` (optional) receives every setting's effective value and source, for `status`.
Parameters parse_effective_parameters(const std::function<RawValue(std::string_view name)>& get_policy,
                                      const std::function<RawValue(std::string_view name)>& get_parameters,
                                      std::vector<std::string>* warnings, std::vector<EffectiveSetting>* settings);

//! decode_strict_string() (settings.h) of a raw value.
bool raw_to_string(const RawValue& v, size_t max_units, std::u16string* out, std::string* why);

//! decode_strict_dword() (settings.h) of a raw value.
bool raw_to_dword(const RawValue& v, uint32_t* out, std::string* why);

//! Reads a REG_QWORD (8 bytes) or a REG_DWORD. `why` says why not.
bool raw_to_qword(const RawValue& v, uint64_t* out, std::string* why);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_PARAMETERS_H_
