// Copyright MapiDispatch authors.

#include "win/state_store.h"

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

std::error_code StateStore::save_generation(uint64_t generation) const {
  UniqueHkey service;
  if (open_key(HKEY_LOCAL_MACHINE, service_key_path(service_name_), KEY_CREATE_SUB_KEY, &service)) return {};
  UniqueHkey state;
  const LSTATUS rc = ::RegCreateKeyExW(service.get(), L"State", 0, nullptr, REG_OPTION_NON_VOLATILE,
                                       KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, state.put(), nullptr);
  if (rc != ERROR_SUCCESS) return win_error(rc);
  return write_qword(state.get(), L"Generation", generation);
}

}  // namespace mapidispatch::service
