// Copyright MapiDispatch authors.

#include "win/state_store.h"

#include <cstring>

#include "mapidispatch/registry.h"
#include "text.h"
#include "win/registry.h"

namespace mapidispatch::service {

uint64_t StateStore::load_generation(std::string* warning) const {
  UniqueHkey key;
  if (open_key(HKEY_LOCAL_MACHINE, state_key_path(service_name_), KEY_QUERY_VALUE, &key)) return 0;
  RawValue v;
  if (const std::error_code ec = read_raw(key.get(), L"Generation", &v)) {
    *warning = "cannot read State\\Generation (" + std::to_string(ec.value()) + ": " + ec.message() + ")";
    return 0;
  }
  if (!v.present) return 0;
  uint64_t g = 0;
  std::string why;
  if (!raw_to_qword(v, &g, &why)) {
    *warning = "State\\Generation " + why + "; starting from the section's generation";
    return 0;
  }
  return g;
}

namespace {

// The State key for writing; an empty handle (and no error) when the service is not installed.
std::error_code open_state_for_write(const std::wstring& service_name, UniqueHkey* state) {
  UniqueHkey service;
  if (open_key(HKEY_LOCAL_MACHINE, service_key_path(service_name), KEY_CREATE_SUB_KEY, &service)) return {};
  const LSTATUS rc = ::RegCreateKeyExW(service.get(), L"State", 0, nullptr, REG_OPTION_NON_VOLATILE,
                                       KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, state->put(), nullptr);
  return rc == ERROR_SUCCESS ? std::error_code() : win_error(rc);
}

constexpr wchar_t kAppliedSettings[] = L"AppliedSettings";

}  // namespace

std::error_code StateStore::save_generation(uint64_t generation) const {
  UniqueHkey state;
  if (const std::error_code ec = open_state_for_write(service_name_, &state)) return ec;
  if (!state) return {};
  return write_qword(state.get(), L"Generation", generation);
}

std::error_code StateStore::save_applied_settings(const std::vector<EffectiveSetting>& settings) const {
  UniqueHkey state;
  if (const std::error_code ec = open_state_for_write(service_name_, &state)) return ec;
  if (!state) return {};
  std::vector<std::u16string> lines;
  for (const EffectiveSetting& s : settings)
    lines.push_back(utf16(s.name + "\t" + s.value + "\t" + std::string(to_string(s.source))));
  const RegValue multi = make_reg_multi_string(lines);
  const LSTATUS rc = ::RegSetValueExW(state.get(), kAppliedSettings, 0, REG_MULTI_SZ, multi.data.data(),
                                      static_cast<DWORD>(multi.data.size()));
  return rc == ERROR_SUCCESS ? std::error_code() : win_error(rc);
}

std::error_code StateStore::clear_applied_settings() const {
  UniqueHkey state;
  if (open_key(HKEY_LOCAL_MACHINE, state_key_path(service_name_), KEY_SET_VALUE, &state)) return {};
  const LSTATUS rc = ::RegDeleteValueW(state.get(), kAppliedSettings);
  return rc == ERROR_SUCCESS || rc == ERROR_FILE_NOT_FOUND ? std::error_code() : win_error(rc);
}

std::optional<std::vector<EffectiveSetting>> StateStore::load_applied_settings() const {
  UniqueHkey state;
  if (open_key(HKEY_LOCAL_MACHINE, state_key_path(service_name_), KEY_QUERY_VALUE, &state)) return std::nullopt;
  RawValue raw;
  if (read_raw(state.get(), kAppliedSettings, &raw) || !raw.present) return std::nullopt;
  RegValue v;
  v.type = raw.type;
  v.data.resize(raw.data.size());
  std::memcpy(v.data.data(), raw.data.data(), raw.data.size());
  std::vector<std::u16string> lines;
  if (!decode_reg_multi_string(v, 64, 4096, &lines)) return std::nullopt;
  std::vector<EffectiveSetting> out;
  for (const std::u16string& line16 : lines) {
    const std::string line = utf8(line16);
    const size_t t1 = line.find('\t'), t2 = line.rfind('\t');
    if (t1 == std::string::npos || t2 == t1) return std::nullopt;  // not ours: ignore it whole
    EffectiveSetting s;
    s.name = line.substr(0, t1);
    s.value = line.substr(t1 + 1, t2 - t1 - 1);
    const std::string source = line.substr(t2 + 1);
    if (source == to_string(SettingSource::kPolicy)) s.source = SettingSource::kPolicy;
    else if (source == to_string(SettingSource::kParameters)) s.source = SettingSource::kParameters;
    else if (source == to_string(SettingSource::kDefault)) s.source = SettingSource::kDefault;
    else return std::nullopt;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace mapidispatch::service
