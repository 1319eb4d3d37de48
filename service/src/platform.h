// Copyright MapiDispatch authors.
//
//! \file
//! What the portable commands ask of the platform (win/admin.cpp on Windows,
//! posix/admin_posix.cpp elsewhere).

#ifndef MAPIDISPATCH_SERVICE_PLATFORM_H_
#define MAPIDISPATCH_SERVICE_PLATFORM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mapidispatch/model.h"
#include "mapidispatch/section_trust.h"
#include "mapidispatch/shared_section.h"
#include "parameters.h"
#include "scope_source.h"

namespace mapidispatch::service {

//! Whether process `pid` exists; nullopt if that cannot be told.
std::optional<bool> process_alive(uint32_t pid);

//! The stub's trust verdict on the section (Windows); nullopt where sections carry no descriptor.
std::optional<TrustVerdict> section_trust(const ReadOnlySection& section);

//! "running", "stopped", "start-pending", ... of the named service; "" if there is no SCM here,
//! "not installed" if it does not exist.
std::string service_state(const std::string& service_name);

//! The service's effective settings and where each comes from (Group Policy, Parameters, the
//! default); empty where there is no registry.
std::vector<EffectiveSetting> effective_settings(const std::string& service_name);

//! The settings the running service last applied (its State key), nullopt if it has not
//! recorded any (stopped, or no registry here).
std::optional<std::vector<EffectiveSetting>> applied_settings(const std::string& service_name);

//! The calling user's SID ("S-1-5-21-..."), empty if unknown.
std::u16string current_user_sid();

//! Resolves every scope from the registry now, as a stub without a table would, for both views.
//! False (with `why`) where there is no registry.
bool resolve_from_registry(Resolutions* out, std::string* why);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_PLATFORM_H_
