// Copyright MapiDispatch authors.
//
//! \file
//! The per-process dispatch decision: given the resolutions of a process's scopes (from the
//! table or from the registry), which DLL serves a call of one MAPI family in that process, and
//! why. The stub calls it when it (re)binds; `mapidispatch explain` calls it to say what a
//! process would get. Portable, allocation only for the reason text.
//!
//! Order (mapi-stub-behaviour.md, section 1):
//!  1. An MSMapiApps override whose module is loaded in the process (first match in the order
//!     the scope lists them; module names compare case-insensitively): its client's target, or
//!     mapi32x.dll for an empty override.
//!  2. The scope's default client target for the family: the user scope if the process's user has
//!     one, else the machine scope.
//!  3. The mapi32x.dll fallback.
//!  4. Nothing: the call fails with the family's error code; PreFirstRun text of the scope.
//! A target is usable only if it is loadable (kFound, or kMissingExports: a DLL that lacks some
//! entry points still serves the calls it has, as under Windows' stub) and its PE machine is the
//! process's. A target
//! of the wrong bitness is never loaded; the decision then says so (kWrongBitness) rather than
//! silently using the fallback, unless the fallback is usable.

#ifndef MAPIDISPATCH_DISPATCH_H_
#define MAPIDISPATCH_DISPATCH_H_

#include <span>
#include <string>
#include <string_view>

#include "mapidispatch/model.h"

namespace mapidispatch {

enum class Family { kSimple, kExtended };

//! The processor architecture of a process (the machine type of DLLs it can load).
enum class Bitness { kX86, kX64, kArm64 };

std::string_view to_string(Family family);
std::string_view to_string(Bitness bitness);
//! The PE machine a process of `bitness` loads.
PeMachine machine_of(Bitness bitness);
//! This process's bitness, from how it was compiled.
Bitness this_process_bitness();

//! Where a decision came from.
enum class DecisionSource { kOverride, kUserScope, kMachineScope, kFallback, kNone };
std::string_view to_string(DecisionSource source);

struct DispatchDecision {
  bool usable = false;              //!< path names a DLL this process can load.
  std::u16string path;              //!< The DLL to load (empty if !usable).
  //! The DLL the deciding rule named, usable or not (a missing file's path, say): empty when no
  //! rule named one. The stub uses it to recognise a module it has already loaded.
  std::u16string named_path;
  TargetStatus status = TargetStatus::kNotConfigured;  //!< Effective for this bitness.
  PeMachine machine = PeMachine::kUnknown;
  DecisionSource source = DecisionSource::kNone;
  std::u16string client;            //!< Clients\Mail subkey, if any.
  std::u16string override_module;   //!< The MSMapiApps module that applied, if any.
  bool supports_utf8 = false;       //!< The serving client's SupportUTF8.
  std::u16string prefirstrun_message;  //!< When nothing serves: the scope's PreFirstRun text.
  std::u16string prefirstrun_caption;
  std::string reason;               //!< UTF-8, for logs and `explain`.
};

//! Decides for one family. `user` may be null (the process's user has no scope of its own).
//! `loaded_modules`: file names (no folders) of the modules loaded in the process.
DispatchDecision decide_dispatch(const ScopeResolution& machine, const ScopeResolution* user,
                                 std::span<const std::u16string> loaded_modules, Bitness bitness,
                                 Family family);

//! ASCII case-insensitive equality of file names (module names in MSMapiApps are ASCII in
//! practice; non-ASCII units must match exactly).
bool equal_file_names(std::u16string_view a, std::u16string_view b);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_DISPATCH_H_
