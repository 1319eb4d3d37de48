// Copyright MapiDispatch authors.
//
// mapidispatch-setup service-config and service-stop: the service's recovery actions, and a stop
// that waits for its process (setup_actions.h).

#include <windows.h>

#include <string>
#include <vector>

#include "setup_actions.h"
#include "setup_core.h"

namespace mapidispatch::setup {

int cmd_service_config(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--service"}, &a, &why) || !a.positional.empty())
    return fail(why.empty() ? L"unexpected argument" : why, kUsage);
  const std::wstring name = opt(a, L"--service", L"MapiDispatch");
  SC_HANDLE scm = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
  if (!scm) return fail(L"OpenSCManager: " + win_error_text(::GetLastError()));
  SC_HANDLE svc = ::OpenServiceW(scm, name.c_str(), SERVICE_CHANGE_CONFIG | SERVICE_START);
  if (!svc) {
    const DWORD e = ::GetLastError();
    ::CloseServiceHandle(scm);
    return fail(L"OpenService(" + name + L"): " + win_error_text(e));
  }
  // Recovery: restart after 5 s, 5 s, then 60 s; the failure count resets after a day (as
  // `mapidispatch install` sets it).
  SC_ACTION actions[] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 60000}};
  SERVICE_FAILURE_ACTIONSW fa{};
  fa.dwResetPeriod = 24 * 60 * 60;
  fa.cActions = 3;
  fa.lpsaActions = actions;
  int rc = kOk;
  if (!::ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) {
    rc = fail(L"ChangeServiceConfig2(FAILURE_ACTIONS): " + win_error_text(::GetLastError()));
  } else {
    log_line(L"recovery of " + name + L": restart after 5 s, 5 s, 60 s; count reset after 1 day");
    SERVICE_FAILURE_ACTIONS_FLAG flag{TRUE};
    if (!::ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
      const DWORD e = ::GetLastError();
      if (e == ERROR_INVALID_LEVEL)  // Wine's SCM lacks this level
        log_line(L"warning: FAILURE_ACTIONS_FLAG is not supported here: restarts when the process dies, not when "
                 L"the service stops with an error");
      else
        rc = fail(L"ChangeServiceConfig2(FAILURE_ACTIONS_FLAG): " + win_error_text(e));
    }
  }
  ::CloseServiceHandle(svc);
  ::CloseServiceHandle(scm);
  return rc;
}

int cmd_service_stop(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--service", L"--wait"}, &a, &why) || !a.positional.empty())
    return fail(why.empty() ? L"unexpected argument" : why, kUsage);
  const std::wstring name = opt(a, L"--service", L"MapiDispatch");
  DWORD wait_s = 30;
  if (a.named.count(L"--wait") && (!parse_dword(opt(a, L"--wait"), &wait_s) || wait_s > 600))
    return fail(L"--wait must be 0 to 600 seconds", kUsage);
  SC_HANDLE scm = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
  if (!scm) return fail(L"OpenSCManager: " + win_error_text(::GetLastError()));
  SC_HANDLE svc = ::OpenServiceW(scm, name.c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS);
  if (!svc) {
    const DWORD e = ::GetLastError();
    ::CloseServiceHandle(scm);
    if (e == ERROR_SERVICE_DOES_NOT_EXIST) {
      log_line(L"service " + name + L" is not installed");
      return kOk;
    }
    return fail(L"OpenService(" + name + L"): " + win_error_text(e));
  }
  SERVICE_STATUS_PROCESS sp{};
  DWORD needed = 0;
  int rc = kOk;
  if (::QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&sp), sizeof sp, &needed) &&
      sp.dwCurrentState != SERVICE_STOPPED) {
    HANDLE process = sp.dwProcessId ? ::OpenProcess(SYNCHRONIZE, FALSE, sp.dwProcessId) : nullptr;
    SERVICE_STATUS st{};
    if (!::ControlService(svc, SERVICE_CONTROL_STOP, &st)) {
      const DWORD e = ::GetLastError();
      if (e != ERROR_SERVICE_NOT_ACTIVE && e != ERROR_SERVICE_CANNOT_ACCEPT_CTRL)
        log_line(L"ControlService(STOP): " + win_error_text(e), true);
    }
    if (process) {
      if (::WaitForSingleObject(process, wait_s * 1000) == WAIT_OBJECT_0) {
        log_line(L"stopped " + name + L" (process " + std::to_wstring(sp.dwProcessId) + L" ended)");
      } else {
        rc = fail(L"the process of " + name + L" (" + std::to_wstring(sp.dwProcessId) + L") did not end within " +
                  std::to_wstring(wait_s) + L" s");
      }
      ::CloseHandle(process);
    }
  } else {
    log_line(L"service " + name + L" is not running");
  }
  ::CloseServiceHandle(svc);
  ::CloseServiceHandle(scm);
  return rc;
}

}  // namespace mapidispatch::setup
