// Copyright MapiDispatch authors.
//
//! \file
//! The table section's security descriptor: making it (the service) and reading it back (the
//! stub's trust check, the tests). Windows only. The trust rule itself is section_trust.h.

#ifndef MAPIDISPATCH_WIN32_SECTION_SECURITY_H_
#define MAPIDISPATCH_WIN32_SECTION_SECURITY_H_

#ifndef _WIN32
#error "Windows only"
#endif

#include <windows.h>

#include <string>
#include <system_error>

#include "mapidispatch/section_trust.h"
#include "mapidispatch/win32/unique_handle.h"

namespace mapidispatch::win32 {

//! Access rights the table grants to readers: map for reading, query, read the descriptor (the
//! trust check needs READ_CONTROL).
inline constexpr DWORD kTableReadRights = SECTION_QUERY | SECTION_MAP_READ | READ_CONTROL;

//! The SDDL of the table section's descriptor, for an owner SID string ("SY" or "BA"):
//! protected DACL, SYSTEM and Administrators full access, Authenticated Users and ALL APPLICATION
//! PACKAGES read only. Never a NULL DACL.
std::wstring table_security_sddl(const wchar_t* owner);

//! The SDDL of the writer lock (a named mutex): SYSTEM and Administrators only.
std::wstring writer_lock_sddl(const wchar_t* owner);

//! A self-relative security descriptor for the table section. The owner is set explicitly
//! (SYSTEM when this process runs as LocalSystem, else Administrators): a section created
//! without one has none on Wine, and readers refuse a section without a privileged owner.
std::error_code make_table_security_descriptor(UniqueLocalMemory* sd);
//! The same for the writer lock.
std::error_code make_writer_lock_security_descriptor(UniqueLocalMemory* sd);

//! Reads owner and DACL of a kernel object through `handle`, which must carry READ_CONTROL.
std::error_code describe_object_security(HANDLE handle, SecurityDescription* out);

//! Converts a SID to "S-1-..." ("" on failure).
std::string sid_to_string(PSID sid);

//! True if this process's token user is LocalSystem.
bool running_as_local_system();

}  // namespace mapidispatch::win32

#endif  // MAPIDISPATCH_WIN32_SECTION_SECURITY_H_
