// Copyright MapiDispatch authors.
//
//! \file
//! RAII ownership of registry key handles (RegCloseKey), in the UniqueHandle pattern of
//! unique_handle.h. Windows only.

#ifndef MAPIDISPATCH_WIN32_UNIQUE_HKEY_H_
#define MAPIDISPATCH_WIN32_UNIQUE_HKEY_H_

#ifndef _WIN32
#error "Windows only"
#endif

#include <windows.h>

#include "mapidispatch/win32/unique_handle.h"

namespace mapidispatch::win32 {

//! Registry keys opened with RegOpenKeyExW / RegCreateKeyExW. Never put a predefined key
//! (HKEY_LOCAL_MACHINE...) in one: those are not owned.
struct HkeyTraits {
  using type = HKEY;
  static HKEY invalid() noexcept { return nullptr; }
  static bool is_valid(HKEY h) noexcept { return h != nullptr; }
  static void close(HKEY h) noexcept { ::RegCloseKey(h); }
};
using UniqueHkey = UniqueHandle<HkeyTraits>;

}  // namespace mapidispatch::win32

#endif  // MAPIDISPATCH_WIN32_UNIQUE_HKEY_H_
