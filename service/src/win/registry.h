// Copyright MapiDispatch authors.
//
//! \file
//! Registry access of the service: raw value reads (any type, any length), the service's own
//! keys (Parameters, State), and the paths it watches.

#ifndef MAPIDISPATCH_SERVICE_WIN_REGISTRY_H_
#define MAPIDISPATCH_SERVICE_WIN_REGISTRY_H_

#include <windows.h>

#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "parameters.h"
#include "win/win_handles.h"

namespace mapidispatch::service {

inline constexpr wchar_t kClientsMailPath[] = L"Software\\Clients\\Mail";
inline constexpr wchar_t kMsMapiAppsPath[] = L"Software\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps";
//! MSMapiApps as 32-bit processes see it on 64-bit Windows (registry redirection).
inline constexpr wchar_t kMsMapiAppsWow64Path[] =
    L"Software\\Wow6432Node\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps";

//! "SYSTEM\CurrentControlSet\Services\<name>" and its subkeys.
std::wstring service_key_path(std::wstring_view service_name);
std::wstring parameters_key_path(std::wstring_view service_name);
std::wstring state_key_path(std::wstring_view service_name);
//! "SYSTEM\CurrentControlSet\Services\EventLog\Application\<name>".
std::wstring eventlog_source_key_path(std::wstring_view service_name);

//! Opens `root\path` with `access` (KEY_WOW64_64KEY added: the service reads the native view).
std::error_code open_key(HKEY root, std::wstring_view path, REGSAM access, UniqueHkey* out);

//! Reads value `name` of an open key, whatever its type and size (retries if it grows between
//! the size query and the read). A missing value is present=false with no error.
std::error_code read_raw(HKEY key, std::wstring_view name, RawValue* out);

//! Reads the service's Parameters (absent key = all defaults) with Group Policy's values
//! (HKLM\SOFTWARE\Policies\MapiDispatch) on top, validated: parse_effective_parameters().
Parameters read_parameters(std::wstring_view service_name, std::vector<std::string>* warnings,
                           std::vector<EffectiveSetting>* settings = nullptr);

//! Convenience for string values: REG_SZ / REG_EXPAND_SZ (expanded), empty if absent or bad.
std::u16string read_string(HKEY key, std::wstring_view name, bool* bad_type = nullptr);

//! Writes a REG_SZ / REG_DWORD / REG_QWORD value.
std::error_code write_string(HKEY key, std::wstring_view name, std::wstring_view value, DWORD type = REG_SZ);
std::error_code write_dword(HKEY key, std::wstring_view name, DWORD value);
std::error_code write_qword(HKEY key, std::wstring_view name, uint64_t value);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_REGISTRY_H_
