// Copyright MapiDispatch authors.
//
//! \file
//! The service's ScopeSource: common/'s resolver over the live registry, files and Windows
//! Installer (win32::resolve_live), for the machine scope and each user scope that
//! list_user_scopes() finds; on 64-bit Windows a second time for 32-bit processes
//! (win32::resolve_live_wow64).

#ifndef MAPIDISPATCH_SERVICE_WIN_REGISTRY_SCOPE_SOURCE_H_
#define MAPIDISPATCH_SERVICE_WIN_REGISTRY_SCOPE_SOURCE_H_

#include <memory>
#include <string>
#include <string_view>

#include "scope_source.h"

namespace mapidispatch::service {

//! The service's source of resolutions.
std::unique_ptr<ScopeSource> make_scope_source();

//! True for SIDs of real user hives: S-1-5-21-*, S-1-12-1-* (Azure AD); not *_Classes.
bool is_user_hive_sid(std::u16string_view name);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_REGISTRY_SCOPE_SOURCE_H_
