// Copyright MapiDispatch authors.
//
//! \file
//! What changed between two publishes, in words for the log: one line per publish, listing per
//! scope the old target and the new one. Portable.

#ifndef MAPIDISPATCH_SERVICE_CHANGE_LOG_H_
#define MAPIDISPATCH_SERVICE_CHANGE_LOG_H_

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mapidispatch/model.h"

namespace mapidispatch::service {

//! "C:\x\olmapi32.dll (found, x64)" or "(none: not-configured)"; a DLL that lacks some entry points
//! carries its warning: "C:\x\m.dll (missing-exports, x64; warning: ... lacks ... MAPIFreeBuffer ...)".
std::string describe_target(const Target& t);

//! "machine" or "user S-1-5-21-...".
std::string scope_label(const ScopeResolution& s);

//! The providers that a dependency keeps from loading (the resolver's check_dependencies
//! warning), once per DLL however many scopes name it: "<path>", or with a `view` (as for
//! describe_changes(), "32-bit ") "<path> (for 32-bit processes)", -> its warning.
std::map<std::string, std::string> unloadable_providers(std::span<const ScopeResolution> scopes,
                                                        std::string_view view = {});

//! Event Log entries for the difference between two unloadable_providers() maps: a warning when
//! a provider becomes unloadable (or its finding changes), an information entry when it is fixed.
struct DependencyEvents {
  std::vector<std::string> warnings;
  std::vector<std::string> fixed;
};
DependencyEvents dependency_events(const std::map<std::string, std::string>& before,
                                   const std::map<std::string, std::string>& after);

//! One item per difference: "machine simple: A -> B", "user S-1-...: added (client X)",
//! "user S-1-...: removed", "machine overrides: 2 -> 3". Empty if nothing differs. Each item
//! starts with `view` ("32-bit " for the answers of 32-bit processes).
std::vector<std::string> describe_changes(std::span<const ScopeResolution> before,
                                          std::span<const ScopeResolution> after, std::string_view view = {});

//! The items joined with "; ", or "no change" if there are none.
std::string join_changes(const std::vector<std::string>& items);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_CHANGE_LOG_H_
