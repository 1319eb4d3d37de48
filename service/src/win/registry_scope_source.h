// Copyright MapiDispatch authors.
//
//! \file
//! The ScopeSource of the service.
//!
//! With the resolver of common/ in the build (MAPIDISPATCH_HAVE_RESOLVER): an adapter over
//! win32::resolve_live(), machine scope plus one scope per list_user_scopes() SID.
//!
//! FALLBACK, for a build without it: a small resolver of its own: the (Default) client of
//! Software\Clients\Mail (HKCU first, then HKLM), the client's DLLPath / DLLPathEx / SupportUTF8,
//! PreFirstRun, MSMapiApps overrides, the mapi32x.dll fallback, with path checks (relative,
//! traversal, UNC policy, recursion onto mapi32.dll, existence, PE machine and DLL flag). It does
//! not evaluate MSIComponentID (reported as such) nor check exports.
//!
//! make_scope_source() is where the resolver plugs in; nothing else in service/ knows which.

#ifndef MAPIDISPATCH_SERVICE_WIN_REGISTRY_SCOPE_SOURCE_H_
#define MAPIDISPATCH_SERVICE_WIN_REGISTRY_SCOPE_SOURCE_H_

#include <memory>
#include <string>

#include "mapidispatch/model.h"
#include "scope_source.h"

namespace mapidispatch::service {

//! The service's source of resolutions.
std::unique_ptr<ScopeSource> make_scope_source();

//! Classifies a provider path as the temporary resolver does (exposed for tests).
Target check_provider_path(std::u16string path, ValueSource source, std::u16string client, bool allow_unc);

//! True for SIDs of real user hives: S-1-5-21-*, S-1-12-1-* (Azure AD); not *_Classes.
bool is_user_hive_sid(std::u16string_view name);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_REGISTRY_SCOPE_SOURCE_H_
