// Copyright MapiDispatch authors.
//
//! \file
//! Where the service gets its answers: every scope's resolution, and the users whose hives are
//! loaded. An interface, so that the real resolver (common/resolver.h, being written) plugs in
//! without the service changing: see make_scope_source() in win/registry_scope_source.h.

#ifndef MAPIDISPATCH_SERVICE_SCOPE_SOURCE_H_
#define MAPIDISPATCH_SERVICE_SCOPE_SOURCE_H_

#include <string>
#include <vector>

#include "mapidispatch/model.h"

namespace mapidispatch::service {

//! What the administrator's parameters tell the resolver.
struct ResolveOptions {
  bool allow_unc_paths = false;
};

class ScopeSource {
 public:
  virtual ~ScopeSource() = default;

  //! SIDs of the user hives loaded under HKEY_USERS that can carry Clients\Mail settings
  //! (S-1-5-21-..., S-1-12-1-...; not the well-known service accounts, not *_Classes).
  virtual std::vector<std::u16string> user_sids() = 0;

  //! The machine scope first, then one scope per user in `users` whose hive has its own
  //! Clients\Mail default. May throw std::exception on an unexpected failure; the service logs it
  //! and keeps the table it has.
  virtual std::vector<ScopeResolution> resolve_all(const std::vector<std::u16string>& users,
                                                   const ResolveOptions& options) = 0;
};

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_SCOPE_SOURCE_H_
