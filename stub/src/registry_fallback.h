// Copyright MapiDispatch authors.
//
//! \file
//! The stub's own resolution from the registry, for when the table cannot be trusted: the same
//! resolver the service runs (common/), over this process's HKCU and HKLM.

#ifndef MAPIDISPATCH_STUB_REGISTRY_FALLBACK_H_
#define MAPIDISPATCH_STUB_REGISTRY_FALLBACK_H_

#include <optional>
#include <string>

#include "mapidispatch/model.h"

namespace mapidispatch::stub {

//! Resolves the machine scope and, if this user has Clients\Mail settings of their own, the user
//! scope `sid`, with the service's effective AllowUncPaths (read_allow_unc_paths(), read on
//! every call: never call this from DllMain). False (with `why`) if resolution itself failed.
//! Never throws.
bool resolve_from_registry(const std::u16string& sid, ScopeResolution* machine,
                           std::optional<ScopeResolution>* user, std::string* why) noexcept;

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_REGISTRY_FALLBACK_H_
