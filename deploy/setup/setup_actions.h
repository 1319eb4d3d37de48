// Copyright MapiDispatch authors.
//
//! \file
//! The commands of mapidispatch-setup.exe, the MSI's custom-action helper
//! (deploy/msi/MapiDispatch.wxs): what each one does and takes. Each is in a file of its own
//! (setup_<action>.cpp); main (mapidispatch_setup.cpp) runs the one its first argument names,
//! with the arguments after it.
//!
//! Every command logs what it did (log_line, setup_core.h) and returns kOk, kFailed, or kUsage
//! for a bad command line or a bad property value, after saying why (fail).

#ifndef MAPIDISPATCH_DEPLOY_SETUP_SETUP_ACTIONS_H_
#define MAPIDISPATCH_DEPLOY_SETUP_SETUP_ACTIONS_H_

#include <windows.h>

#include <span>
#include <string>
#include <vector>

namespace mapidispatch::setup {

// ---- params (setup_params.cpp) ------------------------------------------------------------------

enum class Kind { kDword, kString };
struct ParamSpec {
  const wchar_t* name;
  Kind kind;
  const wchar_t* default_value;  // nullptr: written only when given or saved
  DWORD min, max;                // kDword
  const wchar_t* property;       // the MSI property an administrator sets
};

//! The service's parameters. The list is in mapidispatch_setup.cpp, where the deploy.admx test
//! (tests/deploy/check_admx.py) reads it to check the Group Policy template against it.
extern const std::span<const ParamSpec> kParams;

//! params --service NAME  VALUENAME GIVEN SAVED  [VALUENAME GIVEN SAVED]...
//! GIVEN: the administrator's MSI property (empty: not given); SAVED: the previous installation's
//! value in raw notation (empty: none). The MSI runs it once per group of values.
//! Writes the service's Parameters: the value given as an MSI property, else the value the
//! previous installation had (read by AppSearch before it was removed), else the default. Bad
//! values fail the installation with a clear message.
int cmd_params(const std::vector<std::wstring>& argv);

// ---- service-config, service-stop (setup_service.cpp) -------------------------------------------

//! service-config [--service NAME]
//! The service's recovery actions (restart after 5 s, 5 s, 60 s; reset after a day).
int cmd_service_config(const std::vector<std::wstring>& argv);

//! service-stop [--service NAME] [--wait SECONDS]
//! Stops the service and waits (at most --wait seconds) for its process to end, so that the files
//! and keys the removal deletes next are no longer in use. Windows Installer's StopServices waits
//! for STOPPED; Wine's does not wait for the process, whose log file and image would stay behind.
int cmd_service_stop(const std::vector<std::wstring>& argv);

// ---- applocal-install, applocal-remove (setup_applocal.cpp) -------------------------------------

//! applocal-install --dirs LIST [--saved LIST] --stub-x64 DLL --stub-x86 DLL
//! Copies the stub of the right bitness beside the applications of the folders an administrator
//! lists (APPLOCAL_DIRS; else --saved, the list of the installation being upgraded) and records
//! the copies. Copies recorded earlier whose folder is no longer listed are removed; a mapi32.dll
//! that MapiDispatch did not put there is never overwritten (the command fails first).
int cmd_applocal_install(const std::vector<std::wstring>& argv);

//! applocal-remove
//! Removes exactly the copies applocal-install recorded.
int cmd_applocal_remove(const std::vector<std::wstring>& argv);

// ---- mailclient-register, mailclient-unregister (setup_mailclient.cpp) --------------------------

//! mailclient-register --mode register|default --saved MODE --upstream NAME --saved-upstream NAME
//!                     --saved-default NAME --install-dir DIR --x86-dir DIR
//! The Software\Clients\Mail\MapiDispatch entry, optionally made the machine's default mail
//! client (the previous default is recorded, and restored at removal).
//! The entry's UpstreamClient value names the client that serves the calls reaching MapiDispatch
//! through the registration (the resolver follows it, in the service and in the stub's own
//! registry fallback): --upstream, else the value of the installation being upgraded, else the
//! machine's default mail client before MapiDispatch (recorded as PreviousDefaultClient).
//! --saved-default: the machine's default mail client before the installation being upgraded was
//! removed. With `register`, an administrator may have made MapiDispatch the default by hand; if
//! that removal unset it (Windows skips it during an upgrade, Wine's msiexec runs it in full), the
//! upgrade puts it back.
int cmd_mailclient_register(const std::vector<std::wstring>& argv);

//! mailclient-unregister
//! Removes the entry; if MapiDispatch is the default mail client, restores the recorded previous
//! default (if it is still installed) or unsets it.
int cmd_mailclient_unregister(const std::vector<std::wstring>& argv);

// ---- purge (setup_purge.cpp) --------------------------------------------------------------------

//! purge [--service NAME] [--keep-logs 1]
//! What is left at a real uninstall: the setup records, the Parameters key, the Event Log source,
//! the service's log folder (unless --keep-logs 1).
int cmd_purge(const std::vector<std::wstring>& argv);

}  // namespace mapidispatch::setup

#endif  // MAPIDISPATCH_DEPLOY_SETUP_SETUP_ACTIONS_H_
