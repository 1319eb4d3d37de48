// Copyright MapiDispatch authors.
//
//! \file
//! The user a process runs as, as the table names user scopes (Windows only).

#ifndef MAPIDISPATCH_WIN32_PROCESS_USER_H_
#define MAPIDISPATCH_WIN32_PROCESS_USER_H_

#include <string>

namespace mapidispatch::win32 {

//! The string SID ("S-1-5-21-...") of the calling process's token user, the key of its user
//! scope in the table; empty if the token cannot be read. The stub calls it on its first call:
//! it asks the system once (the token's pseudo-handle) and allocates nothing but strings.
std::u16string process_user_sid();

}  // namespace mapidispatch::win32

#endif  // MAPIDISPATCH_WIN32_PROCESS_USER_H_
