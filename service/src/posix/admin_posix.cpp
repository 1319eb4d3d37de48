// Copyright MapiDispatch authors.
//
// The native (Linux) build: the Windows-only commands explain themselves; the portable ones get
// what POSIX can tell.

#include <signal.h>

#include <cerrno>

#include "cli.h"
#include "platform.h"

namespace mapidispatch::service {
namespace {

int windows_only(const Args& a, std::ostream& err) {
  err << "mapidispatch " << a.command << ": only available on Windows (this build has the portable commands: "
      << "status, explain, resolve)\n";
  return kExitUsage;
}

}  // namespace

int cmd_install(const Args& a, std::ostream&, std::ostream& err) { return windows_only(a, err); }
int cmd_uninstall(const Args& a, std::ostream&, std::ostream& err) { return windows_only(a, err); }
int cmd_refresh(const Args& a, std::ostream&, std::ostream& err) { return windows_only(a, err); }
int cmd_run(const Args& a, std::ostream&, std::ostream& err) { return windows_only(a, err); }
int cmd_service(const Args& a, std::ostream&, std::ostream& err) { return windows_only(a, err); }

std::string configured_section_name(const std::string&) { return kDefaultSectionName; }

std::optional<bool> process_alive(uint32_t pid) {
  if (pid == 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) == 0) return true;
  if (errno == ESRCH) return false;
  return std::nullopt;  // EPERM: it exists, but as another user; say nothing certain
}

std::optional<TrustVerdict> section_trust(const ReadOnlySection&) { return std::nullopt; }

std::string service_state(const std::string&) { return {}; }

std::vector<EffectiveSetting> effective_settings(const std::string&) { return {}; }

std::u16string current_user_sid() { return {}; }

std::optional<std::vector<EffectiveSetting>> applied_settings(const std::string&) { return std::nullopt; }

bool resolve_from_registry(Resolutions*, std::string* why) {
  *why = "there is no Windows registry on this platform";
  return false;
}

}  // namespace mapidispatch::service
