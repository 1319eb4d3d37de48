// Copyright MapiDispatch authors.
//
//! \file
//! What changed between two publishes, in words for the log: one line per publish, listing per
//! scope the old target and the new one. Portable.

#ifndef MAPIDISPATCH_SERVICE_CHANGE_LOG_H_
#define MAPIDISPATCH_SERVICE_CHANGE_LOG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mapidispatch/model.h"
#include "mapidispatch/table.h"

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

//! What an incomplete publish left out: "4 of 11 user scope(s) did not fit", with the 32-bit
//! processes' counts where they differ ("...; 32-bit processes: 5 of 12"). "" for a complete one.
std::string describe_fit(const TableFit& fit);

//! The one Event Log entry of a change in completeness between two publishes: a warning when the
//! table becomes incomplete, an information entry when it is complete again; nothing while it
//! stays as it was (not one per publish). `section_bytes`: the section's size; `size_kb`: the
//! SectionSizeKB setting.
struct CompletenessEvent {
  bool warning = false;
  std::string text;
};
std::optional<CompletenessEvent> completeness_event(bool was_complete, const TableFit& now, const std::string& section,
                                                    size_t section_bytes, uint32_t size_kb);

//! One item per difference: "machine simple: A -> B", "user S-1-...: added (client X)",
//! "user S-1-...: removed", "machine overrides: 2 -> 3". Empty if nothing differs. Each item
//! starts with `view` ("32-bit " for the answers of 32-bit processes).
std::vector<std::string> describe_changes(std::span<const ScopeResolution> before,
                                          std::span<const ScopeResolution> after, std::string_view view = {});

//! The items joined with "; ", or "no change" if there are none.
std::string join_changes(const std::vector<std::string>& items);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_CHANGE_LOG_H_
