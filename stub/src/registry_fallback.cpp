// Copyright MapiDispatch authors.
//
// PENDING the resolver (issue #3): until it lands in common/, the registry mode resolves
// nothing, so a process without a trusted table fails its calls as the Windows stub would with
// no mail client. This file is where the resolver plugs in.

#include "registry_fallback.h"

namespace mapidispatch::stub {

bool resolve_from_registry(const std::u16string&, ScopeResolution*, std::optional<ScopeResolution>*,
                           std::string* why) noexcept {
  try {
    *why = "registry resolution not available in this build";
  } catch (...) {
  }
  return false;
}

}  // namespace mapidispatch::stub
