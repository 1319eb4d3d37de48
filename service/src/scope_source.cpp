// Copyright MapiDispatch authors.

#include "scope_source.h"

#include <algorithm>

namespace mapidispatch::service {
namespace {

// Where `sid`'s scope is or would be in `scopes` (machine first, then users in SID order).
template <typename Scopes>
auto user_position(Scopes& scopes, const std::u16string& sid) {
  const auto users = scopes.empty() ? scopes.begin() : scopes.begin() + 1;
  return std::lower_bound(users, scopes.end(), sid,
                          [](const ScopeResolution& s, const std::u16string& k) { return s.sid < k; });
}

std::optional<ScopeResolution> get(const std::vector<ScopeResolution>& scopes, const std::u16string& sid) {
  const auto it = user_position(scopes, sid);
  if (it == scopes.end() || it->sid != sid) return std::nullopt;
  return *it;
}

// Puts `scope` in place of `sid`'s scope in `scopes` (machine first, then users in SID order), or
// removes it when there is none.
void put(std::vector<ScopeResolution>* scopes, const std::u16string& sid, std::optional<ScopeResolution> scope) {
  // The machine scope stays first; users follow in SID order.
  auto it = user_position(*scopes, sid);
  const bool present = it != scopes->end() && it->sid == sid;
  if (!scope) {
    if (present) scopes->erase(it);
    return;
  }
  if (present) *it = std::move(*scope);
  else scopes->insert(it, std::move(*scope));
}

}  // namespace

void apply_user_scopes(Resolutions* r, const std::u16string& sid, ScopeSource::UserScopes user) {
  put(&r->scopes, sid, std::move(user.native));
  // A table without answers for 32-bit processes (32-bit Windows) stays without them.
  if (!r->wow64_scopes.empty()) put(&r->wow64_scopes, sid, std::move(user.wow64));
}

ScopeSource::UserScopes user_scopes_of(const Resolutions& r, const std::u16string& sid) {
  return {get(r.scopes, sid), get(r.wow64_scopes, sid)};
}

}  // namespace mapidispatch::service
