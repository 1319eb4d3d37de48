// Copyright MapiDispatch authors.
//
// mapidispatch-setup params: the service's Parameters (setup_actions.h).

#include <windows.h>

#include <string>
#include <vector>

#include "setup_actions.h"
#include "setup_core.h"

namespace mapidispatch::setup {
namespace {

const wchar_t* const kLogLevels[] = {L"trace", L"debug", L"info", L"warn", L"warning", L"error", L"critical", L"off"};

// Validates a value an administrator gave as an MSI property.
bool validate_given(const ParamSpec& p, const std::wstring& v, std::wstring* why) {
  if (p.kind == Kind::kDword) {
    DWORD d = 0;
    if (!parse_dword(v, &d) || d < p.min || d > p.max) {
      *why = std::wstring(p.property) + L"='" + v + L"' is not valid: " + p.name + L" is a whole number from " +
             std::to_wstring(p.min) + L" to " + std::to_wstring(p.max);
      return false;
    }
    return true;
  }
  if (std::wstring(p.name) == L"LogLevel") {
    for (const auto* l : kLogLevels)
      if (iequals(v, l)) return true;
    *why = L"LOGLEVEL='" + v + L"' is not valid: use trace, debug, info, warn, error, critical or off";
    return false;
  }
  return true;
}

// Writes one value in Windows Installer's "raw" notation (what AppSearch reads back with
// Type="raw"): "#123" a REG_DWORD, "#%text" a REG_EXPAND_SZ, "#xA0B1" a REG_BINARY, "##text" a
// REG_SZ starting with '#', anything else a REG_SZ. A value saved from a previous installation is
// written back exactly as it was, even of a type the service rejects (the service then warns).
LSTATUS write_raw(HKEY k, const wchar_t* name, const std::wstring& raw, std::wstring* shown) {
  if (raw.size() >= 2 && raw[0] == L'#' && raw[1] == L'#') {
    *shown = L"REG_SZ '" + raw.substr(1) + L"'";
    return write_string(k, name, raw.substr(1));
  }
  if (raw.size() >= 2 && raw[0] == L'#' && raw[1] == L'%') {
    *shown = L"REG_EXPAND_SZ '" + raw.substr(2) + L"'";
    return write_string(k, name, raw.substr(2), REG_EXPAND_SZ);
  }
  if (raw.size() >= 2 && raw[0] == L'#' && (raw[1] == L'x' || raw[1] == L'X')) {
    std::vector<BYTE> bytes;
    for (size_t i = 2; i + 1 < raw.size(); i += 2) bytes.push_back(static_cast<BYTE>(std::stoul(raw.substr(i, 2), nullptr, 16)));
    *shown = L"REG_BINARY (" + std::to_wstring(bytes.size()) + L" bytes)";
    return ::RegSetValueExW(k, name, 0, REG_BINARY, bytes.data(), static_cast<DWORD>(bytes.size()));
  }
  if (raw.size() >= 2 && raw[0] == L'#') {
    // "#-5" or "#123": a DWORD (Windows Installer writes negative numbers as two's complement).
    long long v = 0;
    try {
      v = std::stoll(raw.substr(1));
    } catch (...) {
      *shown = L"REG_SZ '" + raw + L"'";
      return write_string(k, name, raw);
    }
    *shown = L"REG_DWORD " + std::to_wstring(static_cast<DWORD>(v));
    return write_dword(k, name, static_cast<DWORD>(v));
  }
  *shown = L"REG_SZ '" + raw + L"'";
  return write_string(k, name, raw);
}

}  // namespace

int cmd_params(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--service"}, &a, &why)) return fail(why, kUsage);
  const std::wstring service = opt(a, L"--service", L"MapiDispatch");
  if (a.positional.empty() || a.positional.size() % 3 != 0)
    return fail(L"expected groups of three arguments: VALUENAME GIVEN SAVED", kUsage);

  struct Plan {
    const ParamSpec* spec;
    std::wstring raw;
    std::wstring origin;
  };
  std::vector<Plan> plan;
  for (size_t i = 0; i < a.positional.size(); i += 3) {
    const std::wstring& name = a.positional[i];
    const std::wstring given = trim(a.positional[i + 1]);
    const std::wstring saved = a.positional[i + 2];
    const ParamSpec* spec = nullptr;
    for (const auto& p : kParams)
      if (iequals(name, p.name)) spec = &p;
    if (!spec) return fail(L"unknown parameter '" + name + L"'", kUsage);
    if (!given.empty()) {
      if (!spec->property) return fail(std::wstring(spec->name) + L" cannot be set through a property", kUsage);
      if (!validate_given(*spec, given, &why)) return fail(why, kUsage);
      std::wstring raw = spec->kind == Kind::kDword ? L"#" + given : given;
      if (spec->kind == Kind::kString && !raw.empty() && raw[0] == L'#') raw = L"#" + raw;
      plan.push_back({spec, raw, L"property " + std::wstring(spec->property)});
    } else if (!saved.empty()) {
      plan.push_back({spec, saved, L"kept from the previous installation"});
    } else if (spec->default_value) {
      plan.push_back({spec, spec->kind == Kind::kDword ? L"#" + std::wstring(spec->default_value) : spec->default_value,
                      L"default"});
    }
  }

  Key k;
  const LSTATUS rc = create_key(parameters_key(service), &k);
  if (rc != ERROR_SUCCESS) return fail(L"creating HKLM\\" + parameters_key(service) + L": " + win_error_text(rc));
  for (const auto& p : plan) {
    std::wstring shown;
    const LSTATUS w = write_raw(k.h, p.spec->name, p.raw, &shown);
    if (w != ERROR_SUCCESS) return fail(L"writing " + std::wstring(p.spec->name) + L": " + win_error_text(w));
    log_line(std::wstring(p.spec->name) + L" = " + shown + L" (" + p.origin + L")");
  }
  return kOk;
}

}  // namespace mapidispatch::setup
