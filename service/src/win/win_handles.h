// Copyright MapiDispatch authors.
//
//! \file
//! RAII for the Win32 handles of the service (the traits pattern of
//! mapidispatch/win32/unique_handle.h): registry keys, SCM handles, Event Log source handles.

#ifndef MAPIDISPATCH_SERVICE_WIN_WIN_HANDLES_H_
#define MAPIDISPATCH_SERVICE_WIN_WIN_HANDLES_H_

#include <windows.h>

#include <system_error>

#include "mapidispatch/win32/unique_handle.h"
#include "mapidispatch/win32/unique_hkey.h"

namespace mapidispatch::service {

//! An opened registry key (never a predefined root such as HKEY_LOCAL_MACHINE): common's.
using win32::UniqueHkey;

//! OpenSCManager / OpenService / CreateService handles.
struct ScHandleTraits {
  using type = SC_HANDLE;
  static SC_HANDLE invalid() noexcept { return nullptr; }
  static bool is_valid(SC_HANDLE h) noexcept { return h != nullptr; }
  static void close(SC_HANDLE h) noexcept { ::CloseServiceHandle(h); }
};
using UniqueScHandle = win32::UniqueHandle<ScHandleTraits>;

//! RegisterEventSource handles.
struct EventSourceTraits {
  using type = HANDLE;
  static HANDLE invalid() noexcept { return nullptr; }
  static bool is_valid(HANDLE h) noexcept { return h != nullptr; }
  static void close(HANDLE h) noexcept { ::DeregisterEventSource(h); }
};
using UniqueEventSource = win32::UniqueHandle<EventSourceTraits>;

//! GetLastError() as an error_code; call on the line right after the failing call.
inline std::error_code last_error() noexcept {
  return {static_cast<int>(::GetLastError()), std::system_category()};
}
//! A registry (LSTATUS) or other returned Win32 code as an error_code.
inline std::error_code win_error(long code) noexcept { return {static_cast<int>(code), std::system_category()}; }

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_WIN_HANDLES_H_
