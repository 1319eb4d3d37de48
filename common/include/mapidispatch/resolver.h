// Copyright MapiDispatch authors.
//
//! \file
//! The resolver: registry state in, the answer Windows' MAPI stub would give out, per scope, with
//! the reason for every part of it. The rules are mapi-stub-behaviour.md sections 1, 2 and 5;
//! this header says how each is applied. Portable C++; the platform comes in through four
//! interfaces (Registry, FileSystem, MsiComponents, Environment), so the same code runs in the
//! service, in the stub (no logging, no Boost, no exceptions out of the entry points), and in
//! `mapidispatch resolve` on an export.
//!
//! The algorithm, for one scope (HKCU below means the scope's user hive; the machine scope has
//! none):
//!  1. Default client: (Default) of HKCU\Software\Clients\Mail, else of HKLM's. A name from HKCU
//!     whose key exists only under HKLM uses the HKLM key. An HKCU default that differs from
//!     HKLM's is recorded (rule "hkcu-shadows-hklm": the stale per-user default users cannot see).
//!     A (Default) that is set but unusable (not a string, over 255 characters: no key can have
//!     that name) counts as not set; with no usable one, the targets' reason says why each was not.
//!  2. Client key: MSIComponentID first (Windows Installer qualified component; qualifiers
//!     "<lcid>\NT" then "<lcid>" for the LCIDs of MSIApplicationLCID, MSIOfficeLCID (REG_MULTI_SZ:
//!     a subkey, then value names holding DWORD LCIDs, looked up under HKCU\Software\Policy,
//!     HKCU\Software, then HKLM\Software), the user default LCID (HKCU\Control Panel\International
//!     Locale), the system default LCID (HKLM\SYSTEM\CurrentControlSet\Control\Nls\Language
//!     Default), then 1033). INSTALLMODE_EXISTING only, never INSTALLMODE_DEFAULT, whatever
//!     MSIInstallOnWTS says: resolution never starts an install. Qualifiers are tried in that
//!     order until one is found; only an unknown category (MsiStatus::kNotInstalled) or no
//!     Windows Installer ends the search early: a qualifier that is absent, or whose feature is
//!     absent or broken (kFeatureAbsent), moves on to the next, as Windows' stub does. A
//!     component found serves both families; one not installed falls back to DLLPath /
//!     DLLPathEx, and a family with neither is kComponentNotInstalled.
//!  3. DLLPath (Simple MAPI) and DLLPathEx (Extended MAPI), REG_SZ or REG_EXPAND_SZ (expanded
//!     through Environment), SupportUTF8 (DWORD, non-zero = true).
//!  4. Each path is checked: text (empty, relative, drive-relative, device, `.`/`..`, bad
//!     characters, reserved names, > 32,767 characters: kInvalidPath), the recursion guard
//!     (bare mapi32.dll or one of ResolverOptions::stub_paths: kRecursive), UNC policy (denied
//!     unless allow_unc_paths: kDeniedByPolicy), then the file (kMissing), PE DLL (kNotADll),
//!     machine (recorded; kWrongBitness only when a process machine is given) and the family's
//!     exports (kMissingExports, see pe_image.h). With ResolverOptions::check_dependencies, a
//!     loadable DLL's imports are followed (dependencies.h): a warning, never another status.
//!  5. mapi32x: `<system directory>\mapi32x.dll`, usable only if `mapisvc.inf` is beside it;
//!     checked like a provider of both families; source kFallback.
//!  6. PreFirstRun of Clients\Mail (HKCU, then HKLM): `<message>*<caption>`, split at the last '*'.
//!  7. MSMapiApps (HKLM\Software\Microsoft\Windows Messaging Subsystem\MSMapiApps, in the
//!     resolution's registry view): one AppOverride per value (module name -> client, empty data
//!     -> mapi32x.dll), in enumeration order, at most max_overrides; each named client resolved
//!     as in 2-4 (its key: HKLM's; memoised, so thousands of overrides of one client cost one
//!     resolution; a client without a key is kBadValue with a reason that names the override,
//!     not the default). Values that are not file names or not strings are skipped, with a
//!     reason.
//!
//! Hostile input never crashes and never goes unexplained: each value of the wrong type, string
//! with hidden data after a NUL, over-long string or path, missing key gives a status and a
//! reason. Work is bounded: a fixed number of registry reads per client, at most 10 Windows
//! Installer calls per client, one PE probe per distinct path, max_overrides overrides.

#ifndef MAPIDISPATCH_RESOLVER_H_
#define MAPIDISPATCH_RESOLVER_H_

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "mapidispatch/dependencies.h"
#include "mapidispatch/environment.h"
#include "mapidispatch/file_system.h"
#include "mapidispatch/model.h"
#include "mapidispatch/msi.h"
#include "mapidispatch/registry.h"
#include "mapidispatch/registry_reads.h"

namespace mapidispatch {

//! The platform the resolver reads. All four must outlive the call.
//! The stub passes the Win32 implementations (win32::resolve_live does). The service, resolving
//! other users from LocalSystem, should not expand their REG_EXPAND_SZ paths with its own
//! environment: make_registry_environment(registry, &request.user_hive, sid, {}) gives the
//! user's variables from the registry.
struct ResolverServices {
  const Registry& registry;
  const FileSystem& files;
  const MsiComponents& msi;
  const Environment& environment;
};

//! Which scope to resolve.
struct ScopeRequest {
  ScopeKind kind = ScopeKind::kMachine;
  //! kUser: the user's SID ("S-1-5-21-..."), copied to ScopeResolution::sid.
  std::u16string sid;
  //! kUser: where the user's hive is. kUsers + prefix <sid> for the service (HKEY_USERS\<sid>);
  //! kCurrentUser + empty prefix for the stub and for an export's HKEY_CURRENT_USER.
  HivePath user_hive{RegRoot::kCurrentUser, {}};

  //! The machine scope.
  static ScopeRequest machine() { return {}; }
  //! A user scope read from HKEY_USERS\<sid> (the service).
  static ScopeRequest user_from_users(std::u16string sid);
  //! A user scope read from HKEY_CURRENT_USER (the stub); `sid` may be empty.
  static ScopeRequest current_user(std::u16string sid);
};

//! How to resolve.
struct ResolverOptions {
  //! The machine of the process the answer is for. Unset (the service): bitness-neutral, a DLL of
  //! any machine is kFound and its machine recorded for each stub to compare. Set (the CLI's
  //! --bitness, a stub resolving for itself): a DLL of another machine is kWrongBitness.
  std::optional<PeMachine> process_machine;
  //! The registry view every key is read in.
  RegView view = RegView::kDefault;
  //! The administrator's policy (the service's AllowUncPaths parameter, the CLI's --allow-unc):
  //! UNC provider paths are kDeniedByPolicy unless true.
  bool allow_unc_paths = false;
  //! The stub's own files: a provider path naming one of them (or the same file, per
  //! FileSystem::same_file) is kRecursive. A bare "mapi32.dll" always is.
  std::vector<std::u16string> stub_paths;
  //! Where mapi32x.dll and mapisvc.inf are. Empty: %SystemRoot%\System32 from the Environment.
  std::u16string system_directory;
  //! At most this many MSMapiApps values are read (the table's limit is 4096).
  size_t max_overrides = 4096;
  //! Check the DLLs each loadable provider imports (dependencies.h), as a process of the
  //! provider's machine in this view would look for them: what would not load is a warning in the
  //! target's reason ("warning: ... will not load here: ...") and one explanation step
  //! "dependency" per finding; the status does not change (a finding is not a refusal: the stub
  //! loads the provider all the same). Off by default: the stub's registry mode resolves on
  //! every call; the service and `mapidispatch resolve` turn it on.
  bool check_dependencies = false;
  //! KnownDLLs (read_known_dlls()): present whatever the folders hold.
  std::vector<std::u16string> known_dlls;
  //! Dependency files read once for the scopes and views of one resolve pass; null: one per call.
  DependencyCache* dependency_cache = nullptr;
  //! Not null: win32::resolve_live and resolve_live_wow64 append every HKLM read of the scope
  //! (and its result) here, through a RecordingRegistry (registry_reads.h), so that the service
  //! can tell which user scopes a machine-wide change can affect. resolve_scope() ignores it:
  //! whoever passes the registry records, if they want.
  std::vector<RegRead>* machine_reads = nullptr;
  //! Not null: win32::resolve_live and resolve_live_wow64 read below user_reads->root() through
  //! a CachingRegistry (registry_reads.h) on it, so that the two resolutions of one user share
  //! their reads of the user's hive (the service passes one cache for both). resolve_scope()
  //! ignores it, as machine_reads.
  RegReadCache* user_reads = nullptr;
  //! Not null: win32::resolve_live and resolve_live_wow64, resolving a user of HKEY_USERS, take
  //! the machine's part of the environment from here (`native` and `x86` respectively) and read
  //! only the user's part from the registry: the service reads the machine's once per pass, not
  //! once per user and view (its keys are not watched; the revalidation reads them again).
  const MachineEnvironments* machine_environments = nullptr;
};

//! One step of how an answer was reached.
struct ExplanationStep {
  std::string rule;        //!< Stable identifier (README.md, "Resolving offline", lists them), e.g. "default-client".
  std::u16string key;      //!< Full key path, e.g. HKEY_LOCAL_MACHINE\Software\Clients\Mail.
  std::u16string value;    //!< Value name ("(Default)" for the default value), or empty.
  std::u16string detail;   //!< What was found and what it means.

  bool operator==(const ExplanationStep&) const = default;
};

//! How the answer of one scope was reached, in order.
struct Explanation {
  std::vector<ExplanationStep> steps;
  //! The first step with `rule`, or null.
  const ExplanationStep* find(std::string_view rule) const;
};

enum class ResolveStatus {
  kOk,             //!< *out is the answer (whatever its targets' statuses).
  kOutOfMemory,    //!< Allocation failed; *out is unspecified.
  kInternalError,  //!< An unexpected exception; *out is unspecified.
};
std::string_view to_string(ResolveStatus status);

//! Resolves one scope. Never throws.
ResolveStatus resolve_scope(const ScopeRequest& request, const ResolverServices& services,
                            const ResolverOptions& options, ScopeResolution* out,
                            Explanation* explanation = nullptr) noexcept;

//! The SIDs under HKEY_USERS that have their own Software\Clients\Mail key (the user scopes the
//! service publishes), in enumeration order; at most `limit`. Skips .DEFAULT, *_Classes and
//! names that are not SIDs ("S-1-..."). Never throws (an allocation failure is
//! std::errc::not_enough_memory).
std::error_code list_user_scopes(const Registry& registry, std::vector<std::u16string>* sids,
                                 size_t limit = 65535) noexcept;

//! The explanation as text lines ("rule: key [value]: detail"), UTF-8, for logs.
std::string explanation_to_text(const Explanation& explanation);

//! The MSMapiApps override that applies to a process that loaded `module` (a file name, compared
//! case-insensitively; a path is reduced to its file name), or null.
const AppOverride* find_override(const ScopeResolution& resolution, std::u16string_view module);

//! The file names KnownDLLs lists (the string data of the values of
//! HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\KnownDLLs), at most 512, each a plain
//! file name; other values are ignored. Empty when the key cannot be read. Never throws.
std::vector<std::u16string> read_known_dlls(const Registry& registry) noexcept;

//! True if `t`'s reason reports that the provider will not load because of a dependency (the
//! resolver's check_dependencies warning), for the service's Event Log transitions.
bool reports_unloadable_dependency(const Target& t);

//! The administrator's AllowUncPaths (ResolverOptions::allow_unc_paths) as the service applies
//! it, for a resolver that is not the service (the stub's registry mode): read_setting()
//! (settings.h), the service's own rule: the REG_DWORD AllowUncPaths of
//! HKLM\SOFTWARE\Policies\MapiDispatch (Group Policy) if it is a valid 0 or 1, else that of
//! HKLM\SYSTEM\CurrentControlSet\Services\MapiDispatch\Parameters if valid, else false. A
//! value of another type, size or range is ignored, as the service ignores it; so is a key that
//! cannot be read. Two key opens and at most two value reads, in `view` (the service, a 64-bit
//! process, reads the 64-bit view; a 32-bit stub asks for it too). Never throws.
bool read_allow_unc_paths(const Registry& registry, RegView view = RegView::k64) noexcept;

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_RESOLVER_H_
