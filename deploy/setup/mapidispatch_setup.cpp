// Copyright MapiDispatch authors.
//
// mapidispatch-setup.exe: the MSI's custom-action helper (deploy/msi/MapiDispatch.wxs), also
// usable by hand. It does what the Windows Installer tables cannot express:
//
//   params          the service's Parameters (MSI property, else previous value, else default)
//   service-config  the service's recovery actions
//   service-stop    stops the service and waits for its process to end
//   applocal-install / applocal-remove
//                   the stub beside the applications of the listed folders; exactly those removed
//   mailclient-register / mailclient-unregister
//                   the Software\Clients\Mail\MapiDispatch entry, optionally made the default
//   purge           what is left at a real uninstall
//
// What each command does and takes: setup_actions.h. Each has a file of its own
// (setup_<action>.cpp); setup_core.h/.cpp hold what they share (the log, registry and
// command-line helpers). This file: the command line, the usage text and the list of the
// service's parameters.
//
// Every command appends what it did to %SystemRoot%\Temp\MapiDispatch-setup.log (an exe custom
// action cannot write into the MSI log) and prints it. Exit codes: 0 done, 1 failed, 2 bad
// command line or bad property value.

#include <windows.h>
#include <shellapi.h>

#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "setup_actions.h"
#include "setup_core.h"

namespace mapidispatch::setup {
namespace {

// The service's parameters (setup_actions.h): here because the deploy.admx test
// (tests/deploy/check_admx.py) reads the list in this file.
// Keep in step with README.md (Parameters, Group Policy).
const ParamSpec kParamList[] = {
    {L"DebounceMs", Kind::kDword, L"200", 0, 60000, L"DEBOUNCEMS"},
    {L"RevalidateMinutes", Kind::kDword, L"15", 1, 1440, L"REVALIDATEMINUTES"},
    {L"SectionSizeKB", Kind::kDword, L"4096", 64, 262144, L"SECTIONSIZEKB"},
    {L"LogLevel", Kind::kString, L"info", 0, 0, L"LOGLEVEL"},
    {L"AllowUncPaths", Kind::kDword, L"0", 0, 1, L"ALLOWUNCPATHS"},
    // Not set through properties; kept across upgrades when an administrator (or a test) set them.
    {L"SectionName", Kind::kString, nullptr, 0, 0, nullptr},
    {L"DebugCrashMidPublish", Kind::kDword, nullptr, 0, 100, nullptr},
};

const char kUsageText[] =
    "Usage: mapidispatch-setup COMMAND ...   (the MapiDispatch MSI's custom-action helper)\n"
    "  params [--service NAME] VALUENAME GIVEN SAVED [VALUENAME GIVEN SAVED]...\n"
    "  service-config [--service NAME]\n"
    "  service-stop [--service NAME] [--wait SECONDS]\n"
    "  applocal-install --dirs LIST [--saved LIST] --stub-x64 DLL --stub-x86 DLL\n"
    "  applocal-remove\n"
    "  mailclient-register --mode register|default [--saved MODE] [--upstream NAME] [--saved-upstream NAME]\n"
    "                      --install-dir DIR --x86-dir DIR\n"
    "  mailclient-unregister\n"
    "  purge [--service NAME] [--keep-logs 1]\n"
    "LIST: folders separated by ';', each optionally followed by |x64 or |x86.\n"
    "Log: %SystemRoot%\\Temp\\MapiDispatch-setup.log\n";

}  // namespace

const std::span<const ParamSpec> kParams(kParamList);

}  // namespace mapidispatch::setup

int main() {
  using namespace mapidispatch::setup;
  int argc = 0;
  wchar_t** wargv = ::CommandLineToArgvW(::GetCommandLineW(), &argc);
  std::vector<std::wstring> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(wargv[i]);
  ::LocalFree(wargv);
  if (args.empty() || args[0] == L"help" || args[0] == L"--help" || args[0] == L"/?") {
    std::fputs(kUsageText, args.empty() ? stderr : stdout);
    return args.empty() ? kUsage : kOk;
  }
  g_command = args[0];
  wchar_t windir[MAX_PATH];
  if (::GetWindowsDirectoryW(windir, MAX_PATH)) {
    const std::wstring temp = std::wstring(windir) + L"\\Temp";
    ::CreateDirectoryW(temp.c_str(), nullptr);  // exists on Windows; not always under Wine
    g_log_path = temp + L"\\MapiDispatch-setup.log";
  }
  const std::vector<std::wstring> rest(args.begin() + 1, args.end());
  if (g_command == L"params") return cmd_params(rest);
  if (g_command == L"service-config") return cmd_service_config(rest);
  if (g_command == L"service-stop") return cmd_service_stop(rest);
  if (g_command == L"applocal-install") return cmd_applocal_install(rest);
  if (g_command == L"applocal-remove") return cmd_applocal_remove(rest);
  if (g_command == L"mailclient-register") return cmd_mailclient_register(rest);
  if (g_command == L"mailclient-unregister") return cmd_mailclient_unregister(rest);
  if (g_command == L"purge") return cmd_purge(rest);
  std::fputs(kUsageText, stderr);
  return fail(L"unknown command", kUsage);
}
