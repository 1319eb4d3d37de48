// Copyright MapiDispatch authors.
//
//! \file
//! Where the service gets its answers: every scope's resolution, for both kinds of process a
//! 64-bit Windows runs, and the users whose hives are loaded. An interface, so that the
//! dispatcher can be driven by a test source; make_scope_source() (win/registry_scope_source.h)
//! gives the real one.

#ifndef MAPIDISPATCH_SERVICE_SCOPE_SOURCE_H_
#define MAPIDISPATCH_SERVICE_SCOPE_SOURCE_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mapidispatch/model.h"

namespace mapidispatch::service {

//! What the administrator's parameters tell the resolver.
struct ResolveOptions {
  bool allow_unc_paths = false;
  //! resolve_all() calls it after each scope it resolved, in every view, with the scopes resolved
  //! so far and the scopes it resolves in all: the service's start-up progress (progress.h).
  //! Called on the resolving thread; may be empty.
  std::function<void(size_t done, size_t total)> on_scope_resolved;
};

//! One resolution of everything a table publishes (table_layout.h, "Two views").
struct Resolutions {
  //! For processes of the service's own view (64-bit processes): the machine scope first, then
  //! one scope per user hive with its own Clients\Mail default.
  std::vector<ScopeResolution> scopes;
  //! The same scopes for 32-bit processes on 64-bit Windows (WOW64: the 32-bit registry view,
  //! SysWOW64, the x86 environment). Empty on 32-bit Windows.
  std::vector<ScopeResolution> wow64_scopes;

  bool operator==(const Resolutions&) const = default;
};

class ScopeSource {
 public:
  virtual ~ScopeSource() = default;

  //! SIDs of the user hives loaded under HKEY_USERS that can carry Clients\Mail settings
  //! (S-1-5-21-..., S-1-12-1-...; not the well-known service accounts, not *_Classes).
  virtual std::vector<std::u16string> user_sids() = 0;

  //! Resolves every scope: the machine's, then one per user with a Clients\Mail key of their own,
  //! in SID order (both views alike). May throw std::exception on an unexpected failure; the
  //! service logs it and keeps the table it has.
  virtual Resolutions resolve_all(const ResolveOptions& options) = 0;

  //! One user's scope in each view, as resolve_all() would give it, for a change in that user's
  //! hive: the work of one scope, not of all. `native` empty: the user has no scope (no
  //! Clients\Mail key of their own, or the hive is not loaded). `wow64` is empty exactly where
  //! resolve_all() gives no WOW64 scopes. May throw like resolve_all().
  struct UserScopes {
    std::optional<ScopeResolution> native;
    std::optional<ScopeResolution> wow64;
  };
  virtual UserScopes resolve_user(const std::u16string& sid, const ResolveOptions& options) = 0;

  //! For a change under HKLM (Clients\Mail, MSMapiApps): the machine scope in each view, resolved
  //! again, and the users whose scopes can have changed with it: those that read an HKLM key or
  //! value (since their last resolve) that reads differently now (registry_reads.h). The caller
  //! re-resolves those (resolve_user); every other user's scopes stand. `wow64` is empty exactly
  //! where resolve_all() gives no WOW64 scopes. May throw like resolve_all().
  struct MachineScopes {
    ScopeResolution native;
    std::optional<ScopeResolution> wow64;
    std::vector<std::u16string> affected_users;  //!< Sorted.
    size_t reads_done = 0;                       //!< Registry reads the judgement took.
  };
  virtual MachineScopes resolve_machine(const ResolveOptions& options) = 0;
};

//! Replaces, adds or removes `sid`'s scopes in `r` (kept in SID order after the machine scope),
//! as resolve_all() would have them once the user's hive is as resolve_user() saw it.
void apply_user_scopes(Resolutions* r, const std::u16string& sid, ScopeSource::UserScopes user);

//! `sid`'s scopes in `r` (each nullopt where it has none): what apply_user_scopes() replaces,
//! and what puts them back.
ScopeSource::UserScopes user_scopes_of(const Resolutions& r, const std::u16string& sid);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_SCOPE_SOURCE_H_
