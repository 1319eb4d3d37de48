// Copyright MapiDispatch authors.
//
//! \file
//! The Registry interface over the real Windows registry (RegOpenKeyExW, RegQueryValueExW,
//! RegEnumKeyExW, RegEnumValueW; views through KEY_WOW64_64KEY / KEY_WOW64_32KEY). Each root can
//! be re-based to any key, so tests run the resolver against the real registry inside a scratch
//! key without admin rights and without touching real settings. Windows only.

#ifndef MAPIDISPATCH_WIN32_REGISTRY_WIN_H_
#define MAPIDISPATCH_WIN32_REGISTRY_WIN_H_

#ifndef _WIN32
#error "Windows only"
#endif

#include <windows.h>

#include <string>

#include "mapidispatch/registry.h"

namespace mapidispatch::win32 {

//! Where each RegRoot is: a predefined key and a path below it ("" = the key itself).
struct RegistryRoots {
  HKEY local_machine = HKEY_LOCAL_MACHINE;
  std::wstring local_machine_path;
  HKEY current_user = HKEY_CURRENT_USER;
  std::wstring current_user_path;
  HKEY users = HKEY_USERS;
  std::wstring users_path;
};

//! The real registry. Keys are opened KEY_READ only. Win32 failures are std::system_category()
//! codes captured right after the call (ERROR_FILE_NOT_FOUND for a missing key or value).
class Win32Registry final : public Registry {
 public:
  Win32Registry() = default;
  explicit Win32Registry(RegistryRoots roots) : roots_(std::move(roots)) {}
  std::error_code open(RegRoot root, std::u16string_view path, RegView view,
                       std::unique_ptr<RegistryKey>* out) const override;
  using Registry::open;

 private:
  RegistryRoots roots_;
};

//! KEY_WOW64_64KEY, KEY_WOW64_32KEY or 0.
REGSAM view_flag(RegView view);

}  // namespace mapidispatch::win32

#endif  // MAPIDISPATCH_WIN32_REGISTRY_WIN_H_
