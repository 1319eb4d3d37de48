// Copyright MapiDispatch authors.

#include "win/registry.h"

#include "text.h"

namespace mapidispatch::service {

std::wstring service_key_path(std::wstring_view service_name) {
  return L"SYSTEM\\CurrentControlSet\\Services\\" + std::wstring(service_name);
}
std::wstring parameters_key_path(std::wstring_view service_name) { return service_key_path(service_name) + L"\\Parameters"; }
std::wstring state_key_path(std::wstring_view service_name) { return service_key_path(service_name) + L"\\State"; }
std::wstring eventlog_source_key_path(std::wstring_view service_name) {
  return L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" + std::wstring(service_name);
}

std::error_code open_key(HKEY root, std::wstring_view path, REGSAM access, UniqueHkey* out) {
  const std::wstring p(path);
  const LSTATUS rc = ::RegOpenKeyExW(root, p.c_str(), 0, access | KEY_WOW64_64KEY, out->put());
  return rc == ERROR_SUCCESS ? std::error_code() : win_error(rc);
}

std::error_code read_raw(HKEY key, std::wstring_view name, RawValue* out) {
  *out = RawValue{};
  const std::wstring n(name);
  // Values can change size between the two calls; a few retries settle it.
  for (int attempt = 0; attempt < 8; ++attempt) {
    DWORD type = 0;
    DWORD size = 0;
    LSTATUS rc = ::RegQueryValueExW(key, n.c_str(), nullptr, &type, nullptr, &size);
    if (rc == ERROR_FILE_NOT_FOUND) return {};
    if (rc != ERROR_SUCCESS) return win_error(rc);
    out->data.resize(size);
    DWORD got = size;
    rc = ::RegQueryValueExW(key, n.c_str(), nullptr, &type, reinterpret_cast<BYTE*>(out->data.data()), &got);
    if (rc == ERROR_MORE_DATA) continue;
    if (rc == ERROR_FILE_NOT_FOUND) {
      out->data.clear();
      return {};
    }
    if (rc != ERROR_SUCCESS) return win_error(rc);
    out->data.resize(got);
    out->type = type;
    out->present = true;
    return {};
  }
  return win_error(ERROR_MORE_DATA);
}

Parameters read_parameters(std::wstring_view service_name, std::vector<std::string>* warnings,
                           std::vector<EffectiveSetting>* settings) {
  // The service's Parameters, and Group Policy's values on top (parse_effective_parameters).
  auto getter = [warnings](const UniqueHkey& key, const char* what) {
    return [&key, warnings, what](std::string_view name) {
      RawValue v;
      if (!key) return v;
      if (const std::error_code rc = read_raw(key.get(), wide(name), &v); rc && warnings)
        warnings->push_back(std::string(what) + " " + std::string(name) + ": cannot read (" + std::to_string(rc.value()) +
                            ": " + rc.message() + ")");
      return v;
    };
  };
  UniqueHkey params;
  if (const std::error_code ec = open_key(HKEY_LOCAL_MACHINE, parameters_key_path(service_name), KEY_QUERY_VALUE, &params);
      ec && ec.value() != ERROR_FILE_NOT_FOUND && warnings)
    warnings->push_back("cannot open the Parameters key (" + std::to_string(ec.value()) + ": " + ec.message() +
                        "); using the defaults");
  UniqueHkey policy;
  if (const std::error_code ec = open_key(HKEY_LOCAL_MACHINE, wide(kPolicyKeyPath), KEY_QUERY_VALUE, &policy);
      ec && ec.value() != ERROR_FILE_NOT_FOUND && warnings)
    warnings->push_back("cannot open the policy key HKLM\\" + std::string(kPolicyKeyPath) + " (" + std::to_string(ec.value()) +
                        ": " + ec.message() + "); policy is not applied");
  return parse_effective_parameters(getter(policy, "Group Policy value"), getter(params, "parameter"), warnings, settings);
}

std::u16string read_string(HKEY key, std::wstring_view name, bool* bad_type) {
  if (bad_type) *bad_type = false;
  RawValue v;
  if (read_raw(key, name, &v) || !v.present) return {};
  std::u16string s;
  std::string why;
  if (!raw_to_string(v, 32767, &s, &why)) {
    if (bad_type) *bad_type = true;
    return {};
  }
  if (v.type == kRegExpandSz && s.find(u'%') != std::u16string::npos) {
    const std::wstring in(as_wide(s));
    const DWORD n = ::ExpandEnvironmentStringsW(in.c_str(), nullptr, 0);
    if (n > 0 && n <= 32768) {
      std::wstring expanded(n, L'\0');
      const DWORD m = ::ExpandEnvironmentStringsW(in.c_str(), expanded.data(), n);
      if (m > 0 && m <= n) {
        expanded.resize(m - 1);
        return std::u16string(as_u16(expanded));
      }
    }
  }
  return s;
}

std::error_code write_string(HKEY key, std::wstring_view name, std::wstring_view value, DWORD type) {
  const std::wstring n(name), v(value);
  const LSTATUS rc = ::RegSetValueExW(key, n.c_str(), 0, type, reinterpret_cast<const BYTE*>(v.c_str()),
                                      static_cast<DWORD>((v.size() + 1) * sizeof(wchar_t)));
  return rc == ERROR_SUCCESS ? std::error_code() : win_error(rc);
}

std::error_code write_dword(HKEY key, std::wstring_view name, DWORD value) {
  const std::wstring n(name);
  const LSTATUS rc = ::RegSetValueExW(key, n.c_str(), 0, REG_DWORD, reinterpret_cast<const BYTE*>(&value), sizeof value);
  return rc == ERROR_SUCCESS ? std::error_code() : win_error(rc);
}

std::error_code write_qword(HKEY key, std::wstring_view name, uint64_t value) {
  const std::wstring n(name);
  const LSTATUS rc = ::RegSetValueExW(key, n.c_str(), 0, REG_QWORD, reinterpret_cast<const BYTE*>(&value), sizeof value);
  return rc == ERROR_SUCCESS ? std::error_code() : win_error(rc);
}

}  // namespace mapidispatch::service
