// Copyright MapiDispatch authors.
//
// The Service Control Manager side (`mapidispatch service`) and the foreground run
// (`mapidispatch run --console`), both around one Dispatcher.
//
// The control handler follows the careful pattern: it never blocks. For STOP and SHUTDOWN it
// reports STOP_PENDING first and only then signals the worker (reporting after signalling lets
// the worker's STOPPED race the handler's STOP_PENDING: error 1053 or a service stuck in
// STOP_PENDING). START_PENDING is reported with a growing checkpoint until the first table is
// published (after each start-up step, and while the first resolve runs, at most every
// kStartProgressInterval as scopes resolve: progress.h); only then RUNNING, and only then are
// controls accepted.

#include <windows.h>

#include <mutex>

#include "cli.h"
#include "text.h"
#include "win/dispatcher.h"
#include "win/logging.h"
#include "win/registry.h"
#include "win/registry_scope_source.h"

namespace mapidispatch::service {
namespace {

// The wait hint is the time to the next checkpoint, not to RUNNING: the checkpoints come after
// each start-up step and every kStartProgressInterval while scopes resolve, so the hint only has
// to cover the longest single step (one scope: a Windows Installer query, a provider file an
// antivirus scans as the resolver reads it, a share that answers slowly with AllowUncPaths).
constexpr DWORD kStartWaitHintMs = 30000;
constexpr DWORD kStopWaitHintMs = 15000;

// What the control handler reaches: guarded, because the handler runs on the dispatcher
// thread while ServiceMain's thread creates and destroys the Dispatcher.
struct ServiceContext {
  std::mutex mu;
  SERVICE_STATUS_HANDLE handle = nullptr;
  SERVICE_STATUS status{};
  Dispatcher* dispatcher = nullptr;
  std::wstring name;
};
ServiceContext g_service;

// Reports `state`; checkpoints grow while pending. A RUNNING report after STOP_PENDING (a stop
// that arrived during start-up's last step) is dropped.
void report_status(DWORD state, DWORD win32_exit = NO_ERROR, DWORD specific_exit = 0) {
  std::lock_guard<std::mutex> lock(g_service.mu);
  SERVICE_STATUS& s = g_service.status;
  if (state == SERVICE_RUNNING && s.dwCurrentState == SERVICE_STOP_PENDING) return;
  s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  s.dwCurrentState = state;
  s.dwWin32ExitCode = win32_exit;
  s.dwServiceSpecificExitCode = specific_exit;
  s.dwControlsAccepted = state == SERVICE_RUNNING ? (SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                                                     SERVICE_ACCEPT_PARAMCHANGE | SERVICE_ACCEPT_SESSIONCHANGE)
                                                  : 0;
  const bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
  s.dwCheckPoint = pending ? s.dwCheckPoint + 1 : 0;
  s.dwWaitHint = state == SERVICE_START_PENDING ? kStartWaitHintMs : state == SERVICE_STOP_PENDING ? kStopWaitHintMs : 0;
  if (g_service.handle != nullptr && !::SetServiceStatus(g_service.handle, &s)) {
    const std::error_code ec = last_error();
    log().error("{}", describe_failure("SetServiceStatus", ec));
  }
}

DWORD WINAPI control_handler(DWORD control, DWORD event_type, LPVOID, LPVOID) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN: {
      report_status(SERVICE_STOP_PENDING);
      std::lock_guard<std::mutex> lock(g_service.mu);
      if (g_service.dispatcher) g_service.dispatcher->request_stop();
      return NO_ERROR;
    }
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE: {
      std::lock_guard<std::mutex> lock(g_service.mu);
      if (g_service.dispatcher) g_service.dispatcher->request_reload_parameters();
      return NO_ERROR;
    }
    case SERVICE_CONTROL_SESSIONCHANGE: {
      std::lock_guard<std::mutex> lock(g_service.mu);
      if (g_service.dispatcher)
        g_service.dispatcher->request_user_rescan(event_type == WTS_SESSION_LOGOFF);
      return NO_ERROR;
    }
    case kControlRefresh: {
      std::lock_guard<std::mutex> lock(g_service.mu);
      if (g_service.dispatcher) g_service.dispatcher->request_refresh();
      return NO_ERROR;
    }
    case kControlReleaseUserHives: {
      std::lock_guard<std::mutex> lock(g_service.mu);
      if (g_service.dispatcher) g_service.dispatcher->request_user_rescan(true);
      return NO_ERROR;
    }
    case kControlWriteStats: {
      std::lock_guard<std::mutex> lock(g_service.mu);
      if (g_service.dispatcher) g_service.dispatcher->request_write_stats();
      return NO_ERROR;
    }
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void init_service_logging(const std::wstring& name, bool console) {
  std::vector<std::string> ignored;  // logged again, with the logger up, by Dispatcher::run
  const Parameters p = read_parameters(name, &ignored);
  LogSetup setup;
  setup.service_name = name;
  setup.console = console;
  setup.event_log = !console;
  setup.level = p.log_level;
  std::string file_error;
  init_logging(setup, &file_error);
  if (!file_error.empty()) events().warn("no log file: {}", file_error);
}

// Maps a start-up failure to the SCM's exit codes.
void exit_codes(const std::error_code& ec, DWORD* win32, DWORD* specific) {
  if (!ec) {
    *win32 = NO_ERROR;
    *specific = 0;
  } else if (ec.category() == std::system_category()) {
    *win32 = static_cast<DWORD>(ec.value());
    *specific = 0;
  } else {
    *win32 = ERROR_SERVICE_SPECIFIC_ERROR;
    *specific = static_cast<DWORD>(ec.value());  // a TableError
  }
}

void WINAPI service_main(DWORD, LPWSTR*) {
  {
    std::lock_guard<std::mutex> lock(g_service.mu);
    g_service.handle = ::RegisterServiceCtrlHandlerExW(g_service.name.c_str(), &control_handler, nullptr);
  }
  if (g_service.handle == nullptr) return;  // nothing to report to; the SCM times the start out
  report_status(SERVICE_START_PENDING);
  init_service_logging(g_service.name, false);

  std::error_code ec;
  {
    DispatcherOptions options;
    options.service_name = g_service.name;
    Dispatcher dispatcher(options, make_scope_source());
    {
      std::lock_guard<std::mutex> lock(g_service.mu);
      g_service.dispatcher = &dispatcher;
    }
    Dispatcher::Hooks hooks;
    hooks.on_progress = [] { report_status(SERVICE_START_PENDING); };
    hooks.on_running = [] { report_status(SERVICE_RUNNING); };
    try {
      ec = dispatcher.run(hooks);
    } catch (const std::exception& e) {
      events().critical("the service failed: {}", e.what());
      ec = std::error_code(ERROR_EXCEPTION_IN_SERVICE, std::system_category());
    }
    std::lock_guard<std::mutex> lock(g_service.mu);
    g_service.dispatcher = nullptr;
  }
  shutdown_logging();
  DWORD win32 = 0, specific = 0;
  exit_codes(ec, &win32, &specific);
  report_status(SERVICE_STOPPED, win32, specific);
}

Dispatcher* g_console_dispatcher = nullptr;

BOOL WINAPI console_handler(DWORD type) {
  switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      if (g_console_dispatcher) g_console_dispatcher->request_stop();
      return TRUE;
    default:
      return FALSE;
  }
}

}  // namespace

int cmd_service(const Args& a, std::ostream&, std::ostream& err) {
  g_service.name = wide(a.value("--service-name", kDefaultServiceName));
  SERVICE_TABLE_ENTRYW table[] = {{g_service.name.data(), &service_main}, {nullptr, nullptr}};
  if (!::StartServiceCtrlDispatcherW(table)) {
    const std::error_code ec = last_error();
    if (ec.value() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
      err << "mapidispatch service: this command is for the Service Control Manager; to run in the foreground use "
             "'mapidispatch run --console'\n";
      return kExitUsage;
    }
    err << "mapidispatch service: " << describe_failure("StartServiceCtrlDispatcher", ec) << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

int cmd_run(const Args& a, std::ostream& out, std::ostream& err) {
  if (!a.has("--console")) {
    err << "mapidispatch: run: only 'run --console' exists (the service itself is started by the SCM)\n"
        << "Run 'mapidispatch help' for the commands and their options.\n";
    return kExitUsage;
  }
  const std::wstring name = wide(a.value("--service-name", kDefaultServiceName));
  init_service_logging(name, true);
  DispatcherOptions options;
  options.service_name = name;
  if (a.has("--section")) options.section_override = a.value("--section");
  Dispatcher dispatcher(options, make_scope_source());
  g_console_dispatcher = &dispatcher;
  ::SetConsoleCtrlHandler(&console_handler, TRUE);
  Dispatcher::Hooks hooks;
  hooks.on_running = [&out] { out << "mapidispatch: running in the foreground; Ctrl+C stops\n" << std::flush; };
  std::error_code ec;
  try {
    ec = dispatcher.run(hooks);
  } catch (const std::exception& e) {
    events().critical("failed: {}", e.what());
    ec = std::error_code(ERROR_EXCEPTION_IN_SERVICE, std::system_category());
  }
  ::SetConsoleCtrlHandler(&console_handler, FALSE);
  g_console_dispatcher = nullptr;
  shutdown_logging();
  if (ec) {
    err << "mapidispatch run: " << ec.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace mapidispatch::service
