// Copyright MapiDispatch authors.
//
//! \file
//! Environment variables, for expanding REG_EXPAND_SZ paths (%ProgramFiles%\X\x.dll). The
//! Win32 implementation (win32/resolver_win.h) expands with ExpandEnvironmentStringsW in the
//! calling process; MapEnvironment holds variables in a map (tests, offline exports, and the
//! service resolving for another user, whose variables are not its own).

#ifndef MAPIDISPATCH_ENVIRONMENT_H_
#define MAPIDISPATCH_ENVIRONMENT_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "mapidispatch/model.h"
#include "mapidispatch/registry.h"

namespace mapidispatch {

enum class ExpandStatus {
  kOk,
  kUndefined,  //!< A %NAME% whose variable is not set (left as written, as Windows does).
  kTooLong,    //!< The result exceeds the caller's maximum.
};

//! A source of environment variables. Names compare case-insensitively (text::iequals).
class Environment {
 public:
  virtual ~Environment() = default;
  //! The value of variable `name`, if set.
  virtual std::optional<std::u16string> lookup(std::u16string_view name) const = 0;
  //! Expands %NAME% references like ExpandEnvironmentStringsW: a set variable is replaced, an
  //! unset one is left as written (and reported in *undefined, the first one), a lone '%' stays.
  //! The default implementation does that with lookup().
  virtual ExpandStatus expand(std::u16string_view in, size_t max_chars, std::u16string* out,
                              std::u16string* undefined) const;
  //! Where the variables come from, for explanations.
  virtual std::u16string description() const = 0;
};

//! The %NAME% references in `in` that `env` does not define (at most `limit`).
std::vector<std::u16string> undefined_variables(const Environment& env, std::u16string_view in, size_t limit = 8);

//! Variables in a map.
class MapEnvironment final : public Environment {
 public:
  explicit MapEnvironment(std::u16string description = u"a fixed set of variables")
      : description_(std::move(description)) {}
  void set(std::u16string_view name, std::u16string_view value);
  std::optional<std::u16string> lookup(std::u16string_view name) const override;
  std::u16string description() const override { return description_; }
  void set_description(std::u16string description) { description_ = std::move(description); }
  //! Every variable (folded name -> (name, value)), for listing.
  const std::map<std::u16string, std::pair<std::u16string, std::u16string>>& all() const { return vars_; }

 private:
  std::map<std::u16string, std::pair<std::u16string, std::u16string>> vars_;
  std::u16string description_;
};

//! The environment a process of `user` on the machine a registry describes would have, built
//! from the registry alone (for exports, and for the service resolving other users):
//! - defaults: SystemDrive=C:, SystemRoot=windir=C:\Windows, ProgramFiles=ProgramW6432=
//!   C:\Program Files, ProgramFiles(x86)=C:\Program Files (x86), CommonProgramFiles(...),
//!   ProgramData=ALLUSERSPROFILE=C:\ProgramData, PUBLIC=C:\Users\Public;
//! - overridden by HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion SystemRoot and
//!   HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion ProgramFilesDir, ProgramFilesDir (x86),
//!   CommonFilesDir, CommonFilesDir (x86);
//! - then every value of HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment;
//! - for a user (`user` not null): USERPROFILE from ProfileList\<sid>\ProfileImagePath (else
//!   C:\Users\<user-name unknown>: left unset), APPDATA and LOCALAPPDATA below it, then the
//!   values of the user's Environment key.
//! For an x86 process (`process_machine` kI386) on a 64-bit system (the registry has
//! HKLM\SOFTWARE\Wow6432Node), ProgramFiles and CommonProgramFiles are the (x86) folders, as
//! WOW64 sets them. REG_EXPAND_SZ values are expanded with the variables known so far.
MapEnvironment make_registry_environment(const Registry& registry, const HivePath* user, std::u16string_view sid,
                                         std::optional<PeMachine> process_machine);

//! The machine's part of make_registry_environment() (no user): the same for every user of the
//! machine, so the service reads it once per pass (MachineEnvironments) instead of once per user.
MapEnvironment make_machine_environment(const Registry& registry, std::optional<PeMachine> process_machine);

//! The user's part of make_registry_environment(), added to `env` (a make_machine_environment()).
void add_user_environment(const Registry& registry, const HivePath& user, std::u16string_view sid, MapEnvironment* env);

//! The machine's environment for both kinds of process the service resolves for: native (a
//! bitness-neutral answer, process_machine unset) and x86 (32-bit processes under WOW64).
struct MachineEnvironments {
  MapEnvironment native;
  MapEnvironment x86;
};

//! True if the registry describes 64-bit Windows (HKLM\SOFTWARE\Wow6432Node exists).
bool registry_is_64bit_windows(const Registry& registry);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_ENVIRONMENT_H_
