// Copyright MapiDispatch authors.
//
//! \file
//! The service's persisted state: the last published generation, a REG_QWORD `Generation` under
//! `HKLM\SYSTEM\CurrentControlSet\Services\<service>\State`, so that generations keep growing
//! across restarts even when the section itself was gone in between (no stub mapped it).

#ifndef MAPIDISPATCH_SERVICE_WIN_STATE_STORE_H_
#define MAPIDISPATCH_SERVICE_WIN_STATE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "parameters.h"

namespace mapidispatch::service {

class StateStore {
 public:
  explicit StateStore(std::wstring service_name) : service_name_(std::move(service_name)) {}

  //! The persisted generation; 0 if none. A value of the wrong type or size is 0 with `warning`
  //! set (the section's own generation still continues the count if the section survived).
  uint64_t load_generation(std::string* warning) const;

  //! Persists `generation`. Does nothing (no error) when the service is not installed (a console
  //! run under a name the SCM does not know): it never creates a service key.
  std::error_code save_generation(uint64_t generation) const;

  //! The settings the running service applies, as REG_MULTI_SZ `AppliedSettings` (one
  //! "name<TAB>value<TAB>source" line each), so that `status` can tell an administrator which
  //! changed Parameters value the service has not reread yet. Saved at start and at every reread;
  //! cleared at stop. Does nothing when the service is not installed.
  std::error_code save_applied_settings(const std::vector<EffectiveSetting>& settings) const;
  std::error_code clear_applied_settings() const;
  //! nullopt if there is none (service stopped, never started) or it is unreadable.
  std::optional<std::vector<EffectiveSetting>> load_applied_settings() const;

 private:
  std::wstring service_name_;
};

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_STATE_STORE_H_
