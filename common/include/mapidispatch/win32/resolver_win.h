// Copyright MapiDispatch authors.
//
//! \file
//! The resolver's other platform interfaces on Windows: the live file system, Windows Installer
//! (MsiProvideQualifiedComponentW, INSTALLMODE_EXISTING only), the process environment
//! (ExpandEnvironmentStringsW), and a one-call resolution for the stub. Windows only.

#ifndef MAPIDISPATCH_WIN32_RESOLVER_WIN_H_
#define MAPIDISPATCH_WIN32_RESOLVER_WIN_H_

#ifndef _WIN32
#error "Windows only"
#endif

#include <string>
#include <vector>

#include "mapidispatch/environment.h"
#include "mapidispatch/file_system.h"
#include "mapidispatch/msi.h"
#include "mapidispatch/resolver.h"

namespace mapidispatch::win32 {

//! The live file system: GetFileAttributesW, CreateFileW + ReadFile (shared read, no mapping: a
//! file truncated while it is read gives a failed read, not an in-page fault),
//! GetFileInformationByHandle for same_file(). Paths of 260 characters or more get the \\?\ form.
class Win32FileSystem final : public FileSystem {
 public:
  FileKind stat(std::u16string_view path, std::error_code* ec) const override;
  std::error_code open(std::u16string_view path, std::unique_ptr<ByteSource>* out) const override;
  bool same_file(std::u16string_view a, std::u16string_view b) const override;
  std::u16string description() const override { return u"the live file system"; }
  //! GetFileInformationByHandle: volume serial number, file index, size, last write time.
  std::optional<FileStamp> stamp(std::u16string_view path) const override;
};

//! Windows Installer through MsiProvideQualifiedComponentW with INSTALLMODE_EXISTING, always:
//! never INSTALLMODE_DEFAULT, so no install, repair or UI ever starts from here.
//! ERROR_UNKNOWN_COMPONENT is kNotInstalled, ERROR_INDEX_ABSENT kQualifierAbsent,
//! ERROR_FILE_NOT_FOUND (INSTALLMODE_EXISTING's "the feature is absent or broken") kFeatureAbsent,
//! anything else kError with the code.
class Win32MsiComponents final : public MsiComponents {
 public:
  MsiAnswer provide_qualified_component(std::u16string_view category, std::u16string_view qualifier) const override;
  std::u16string description() const override { return u"MsiProvideQualifiedComponentW, INSTALLMODE_EXISTING"; }
};

//! This process's environment: GetEnvironmentVariableW, ExpandEnvironmentStringsW.
class Win32Environment final : public Environment {
 public:
  std::optional<std::u16string> lookup(std::u16string_view name) const override;
  ExpandStatus expand(std::u16string_view in, size_t max_chars, std::u16string* out,
                      std::u16string* undefined) const override;
  std::u16string description() const override { return u"this process's environment"; }
};

//! GetSystemDirectoryW (System32, or SysWOW64's view of it in a 32-bit process).
std::u16string system_directory();

//! The system's mapi32.dll paths: <System32>\mapi32.dll, and <SysWOW64>\mapi32.dll on 64-bit
//! Windows. The stub adds its own module path.
std::vector<std::u16string> default_stub_paths();

//! Resolves `request` against the live registry, files, Windows Installer and this process's
//! environment; for a scope read from HKEY_USERS\<sid> (the service), the environment is that
//! user's, from the registry (make_registry_environment). options.system_directory and
//! stub_paths are filled from the functions above if empty. Never throws.
ResolveStatus resolve_live(const ScopeRequest& request, ResolverOptions options, ScopeResolution* out,
                           Explanation* explanation = nullptr) noexcept;

//! GetSystemWow64DirectoryW: SysWOW64 on 64-bit Windows; empty on 32-bit Windows.
std::u16string wow64_system_directory();

//! What a 32-bit process on this 64-bit Windows gets, resolved from this 64-bit process (the
//! service): keys in the 32-bit registry view (MSMapiApps of Wow6432Node), provider paths
//! checked through WOW64 file system redirection (Wow64FileSystem), mapi32x.dll in SysWOW64,
//! REG_EXPAND_SZ expanded with a 32-bit process's variables (ProgramFiles is the (x86) folder)
//! from the registry. options.view and system_directory are set here. Call it only from a 64-bit
//! process on 64-bit Windows (a 32-bit process is redirected already: use resolve_live()).
//! Never throws.
ResolveStatus resolve_live_wow64(const ScopeRequest& request, ResolverOptions options, ScopeResolution* out,
                                 Explanation* explanation = nullptr) noexcept;

}  // namespace mapidispatch::win32

#endif  // MAPIDISPATCH_WIN32_RESOLVER_WIN_H_
