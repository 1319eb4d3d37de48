// Copyright MapiDispatch authors.
//
//! \file
//! Plain values that describe a resolution: what the resolver computes, what the table carries,
//! what the stub and the admin commands read back. No behaviour beyond naming.

#ifndef MAPIDISPATCH_MODEL_H_
#define MAPIDISPATCH_MODEL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mapidispatch {

//! Whose answer a scope is.
enum class ScopeKind : uint32_t {
  kMachine = 0,  //!< HKLM only: what a process of a user without HKCU settings gets.
  kUser = 1,     //!< A user SID whose HKCU has its own Clients\Mail settings.
};

//! Where a value came from.
enum class ValueSource : uint16_t {
  kNone = 0,
  kHkcu = 1,       //!< HKCU\Software\Clients\Mail...
  kHklm = 2,       //!< HKLM\Software\Clients\Mail...
  kMsi = 3,        //!< Windows Installer (MSIComponentID).
  kFallback = 4,   //!< The mapi32x.dll + mapisvc.inf fallback.
  kOverride = 5,   //!< An MSMapiApps override.
};

//! The state of one resolved target. Values are part of the table ABI: append only.
enum class TargetStatus : uint32_t {
  kNotConfigured = 0,          //!< No registry value names a target for this family.
  kFound = 1,                  //!< The file exists, is a DLL and exports the family's functions.
  kMissing = 2,                //!< The named file does not exist.
  kWrongBitness = 3,           //!< The DLL's machine type is not the caller's.
  kNotADll = 4,                //!< The file is not a PE DLL.
  kMissingExports = 5,         //!< A DLL that lacks some of the family's entry points: loaded all
                               //!< the same (a warning), only the calls it lacks fail.
  kRecursive = 6,              //!< The path names mapi32.dll or the stub itself.
  kComponentNotInstalled = 7,  //!< MSIComponentID names a component that is not installed.
  kInvalidPath = 8,            //!< Relative, traversing, too long, or malformed.
  kDeniedByPolicy = 9,         //!< A UNC path while the administrator's policy forbids them.
  kBadValue = 10,              //!< The registry value has the wrong type or unusable data.
  kSearchOrder = 11,           //!< A bare file name ("x.dll"): each process loads it through its own
                               //!< DLL search order, as Windows' stub does; not checkable here
                               //!< (machine unknown). Loaded, with a warning.
};

//! Whether a target with this status is loaded to serve calls. Windows' stub loads the DLL and
//! looks up only the function that was called, so a DLL that lacks some entry points (kFound's
//! warning form, kMissingExports) still serves every call it has.
constexpr bool is_loadable(TargetStatus status) {
  return status == TargetStatus::kFound || status == TargetStatus::kMissingExports ||
         status == TargetStatus::kSearchOrder;
}

//! PE/COFF machine types (IMAGE_FILE_MACHINE_*) the resolver records.
enum class PeMachine : uint16_t {
  kUnknown = 0,
  kI386 = 0x014c,
  kAmd64 = 0x8664,
  kArm64 = 0xAA64,
};

//! Short, stable, lower-case names, for logs and JSON output.
std::string_view to_string(ScopeKind kind);
std::string_view to_string(ValueSource source);
std::string_view to_string(TargetStatus status);
std::string_view to_string(PeMachine machine);

//! One provider DLL for one MAPI family, or why there is none.
struct Target {
  TargetStatus status = TargetStatus::kNotConfigured;
  PeMachine machine = PeMachine::kUnknown;
  ValueSource source = ValueSource::kNone;
  std::u16string path;    //!< Full path, environment variables expanded.
  std::u16string client;  //!< The Clients\Mail subkey that named it.
  std::u16string reason;  //!< Why this status, in words an administrator can act on.

  bool operator==(const Target&) const = default;
};

//! One MSMapiApps value: processes that load `module` use `client` (or mapi32x.dll).
struct AppOverride {
  std::u16string module;
  std::u16string client;  //!< Empty when uses_mapi32x.
  bool uses_mapi32x = false;
  bool supports_utf8 = false;
  Target simple;
  Target extended;

  bool operator==(const AppOverride&) const = default;
};

//! Everything the stub needs to dispatch the calls of processes in one scope.
struct ScopeResolution {
  ScopeKind kind = ScopeKind::kMachine;
  std::u16string sid;  //!< "S-1-5-21-..." for a user scope; empty for the machine.
  std::u16string default_client;
  ValueSource default_source = ValueSource::kNone;
  Target simple;    //!< DLLPath: Simple MAPI.
  Target extended;  //!< DLLPathEx: Extended MAPI and the utility functions.
  Target mapi32x;   //!< The mapi32x.dll fallback, when no client serves a family.
  std::vector<AppOverride> overrides;
  std::u16string prefirstrun_message;
  std::u16string prefirstrun_caption;
  bool supports_utf8 = false;

  bool operator==(const ScopeResolution&) const = default;
};

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_MODEL_H_
