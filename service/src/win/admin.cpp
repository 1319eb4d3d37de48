// Copyright MapiDispatch authors.
//
// The administrator's commands that talk to the Service Control Manager (install, uninstall,
// refresh), and what the portable commands ask of Windows (platform.h).

#include <windows.h>
#include <sddl.h>

#include <chrono>

#include "cli.h"
#include "mapidispatch/win32/process_user.h"
#include "mapidispatch/win32/section_security.h"
#include "platform.h"
#include "text.h"
#include "win/dispatcher.h"
#include "win/logging.h"
#include "win/registry.h"
#include "win/registry_scope_source.h"

namespace mapidispatch::service {
namespace {

constexpr wchar_t kDisplayName[] = L"MapiDispatch";
constexpr wchar_t kDescription[] =
    L"Resolves which mail client serves MAPI calls (Software\\Clients\\Mail) once, and publishes the answers "
    L"to the MapiDispatch mapi32.dll stub of every process. If it is stopped, the stub reads the registry itself.";

int fail(std::ostream& err, const std::string& command, const char* operation, const std::error_code& ec) {
  err << "mapidispatch " << command << ": " << describe_failure(operation, ec);
  if (ec.value() == ERROR_ACCESS_DENIED) err << " (run from an elevated prompt)";
  err << "\n";
  return kExitFailure;
}

std::wstring this_exe() {
  std::wstring path(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (n == 0) return {};
    if (n < path.size()) {
      path.resize(n);
      return path;
    }
    path.resize(path.size() * 2);
  }
}

std::string state_name(DWORD state) {
  switch (state) {
    case SERVICE_STOPPED: return "stopped";
    case SERVICE_START_PENDING: return "start-pending";
    case SERVICE_STOP_PENDING: return "stop-pending";
    case SERVICE_RUNNING: return "running";
    case SERVICE_CONTINUE_PENDING: return "continue-pending";
    case SERVICE_PAUSE_PENDING: return "pause-pending";
    case SERVICE_PAUSED: return "paused";
  }
  return "state " + std::to_string(state);
}

// Waits, at most `timeout`, for the service's process to end (it ends after reporting STOPPED):
// a blocking wait on the process handle, no polling of the SCM.
bool wait_for_process_exit(DWORD pid, std::chrono::milliseconds timeout) {
  if (pid == 0) return true;
  win32::UniqueKernelHandle process(::OpenProcess(SYNCHRONIZE, FALSE, pid));
  if (!process) return ::GetLastError() == ERROR_INVALID_PARAMETER;  // already gone
  return ::WaitForSingleObject(process.get(), static_cast<DWORD>(timeout.count())) == WAIT_OBJECT_0;
}

std::wstring quote_arg(const std::wstring& s) {
  if (!s.empty() && s.find_first_of(L" \t\"") == std::wstring::npos) return s;
  std::wstring q = L"\"";
  for (const wchar_t c : s) {
    if (c == L'"') q += L'\\';
    q += c;
  }
  return q + L"\"";
}

}  // namespace

int cmd_install(const Args& a, std::ostream& out, std::ostream& err) {
  const std::wstring name = wide(a.value("--service-name", kDefaultServiceName));
  const std::wstring display = a.has("--display-name") ? wide(a.value("--display-name"))
                               : name == wide(kDefaultServiceName) ? std::wstring(kDisplayName)
                                                                   : std::wstring(kDisplayName) + L" (" + name + L")";
  const std::string start = a.value("--start", "auto");
  if (start != "auto" && start != "demand") {
    err << "mapidispatch: install: --start must be auto or demand, not '" << start << "'\n"
        << "Run 'mapidispatch help' for the commands and their options.\n";
    return kExitUsage;
  }
  const std::wstring exe = this_exe();
  if (exe.empty()) return fail(err, "install", "GetModuleFileName", last_error());
  const std::wstring command = quote_arg(exe) + L" service --service-name " + quote_arg(name);

  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE));
  if (!scm) return fail(err, "install", "OpenSCManager", last_error());
  UniqueScHandle service(::CreateServiceW(scm.get(), name.c_str(), display.c_str(), SERVICE_ALL_ACCESS,
                                          SERVICE_WIN32_OWN_PROCESS,
                                          start == "auto" ? SERVICE_AUTO_START : SERVICE_DEMAND_START,
                                          SERVICE_ERROR_NORMAL, command.c_str(), nullptr, nullptr, nullptr,
                                          nullptr /* LocalSystem */, nullptr));
  if (!service) {
    const std::error_code ec = last_error();
    if (ec.value() == ERROR_SERVICE_EXISTS) {
      err << "mapidispatch install: a service named " << utf8(name) << " already exists; run 'mapidispatch uninstall"
          << (name == wide(kDefaultServiceName) ? "" : " --service-name " + utf8(name)) << "' first\n";
      return kExitFailure;
    }
    return fail(err, "install", "CreateService", ec);
  }

  // From here on a failure undoes the install, so a half-installed service never stays behind.
  auto undo = [&] {
    ::DeleteService(service.get());
    UniqueHkey eventlog;
    ::RegDeleteTreeW(HKEY_LOCAL_MACHINE, eventlog_source_key_path(name).c_str());
  };

  SERVICE_DESCRIPTIONW description{const_cast<wchar_t*>(kDescription)};
  if (!::ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_DESCRIPTION, &description)) {
    const std::error_code ec = last_error();
    undo();
    return fail(err, "install", "ChangeServiceConfig2(DESCRIPTION)", ec);
  }
  // Recovery: restart after 5 s, 5 s, then 60 s; the failure count resets after a day without one.
  SC_ACTION actions[] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 60000}};
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = 24 * 60 * 60;
  failure.cActions = 3;
  failure.lpsaActions = actions;
  if (!::ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &failure)) {
    const std::error_code ec = last_error();
    undo();
    return fail(err, "install", "ChangeServiceConfig2(FAILURE_ACTIONS)", ec);
  }
  // Also when the service stops itself with an error (not only when the process dies).
  SERVICE_FAILURE_ACTIONS_FLAG flag{TRUE};
  if (!::ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
    const std::error_code ec = last_error();
    if (ec.value() != ERROR_INVALID_LEVEL) {
      undo();
      return fail(err, "install", "ChangeServiceConfig2(FAILURE_ACTIONS_FLAG)", ec);
    }
    // Wine's SCM lacks this level; crashes still restart the service.
    err << "mapidispatch install: warning: this system does not support FAILURE_ACTIONS_FLAG; the service is "
           "restarted when its process dies, not when it stops with an error\n";
  }

  UniqueHkey params;
  LSTATUS rc = ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, parameters_key_path(name).c_str(), 0, nullptr,
                                 REG_OPTION_NON_VOLATILE, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, params.put(), nullptr);
  if (rc != ERROR_SUCCESS) {
    undo();
    return fail(err, "install", "RegCreateKeyEx(Parameters)", win_error(rc));
  }
  if (a.has("--section")) {
    if (const std::error_code ec = write_string(params.get(), L"SectionName", wide(a.value("--section")))) {
      undo();
      return fail(err, "install", "RegSetValueEx(SectionName)", ec);
    }
  }

  // The Event Log source, with this executable's message table (event 1000 = "%1").
  UniqueHkey source;
  rc = ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, eventlog_source_key_path(name).c_str(), 0, nullptr,
                         REG_OPTION_NON_VOLATILE, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, source.put(), nullptr);
  std::error_code ec = rc == ERROR_SUCCESS ? std::error_code() : win_error(rc);
  if (!ec) ec = write_string(source.get(), L"EventMessageFile", exe, REG_EXPAND_SZ);
  if (!ec) ec = write_dword(source.get(), L"TypesSupported", EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE);
  if (ec) {
    undo();
    return fail(err, "install", "registering the Event Log source", ec);
  }

  out << "Installed service " << utf8(name) << " (" << (start == "auto" ? "automatic" : "manual")
      << " start, LocalSystem, restart on failure)\n"
      << "  command:   " << utf8(command) << "\n"
      << "  section:   " << (a.has("--section") ? a.value("--section") : std::string(kDefaultSectionName)) << "\n"
      << "  event log: Application, source " << utf8(name) << "\n"
      << "Start it with: sc start " << utf8(name) << "\n";
  return kExitOk;
}

int cmd_uninstall(const Args& a, std::ostream& out, std::ostream& err) {
  const std::wstring name = wide(a.value("--service-name", kDefaultServiceName));
  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return fail(err, "uninstall", "OpenSCManager", last_error());
  UniqueScHandle service(::OpenServiceW(scm.get(), name.c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
  if (!service) {
    const std::error_code ec = last_error();
    if (ec.value() == ERROR_SERVICE_DOES_NOT_EXIST) {
      err << "mapidispatch uninstall: no service named " << utf8(name) << " is installed\n";
      return kExitFailure;
    }
    return fail(err, "uninstall", "OpenService", ec);
  }
  SERVICE_STATUS_PROCESS sp{};
  DWORD needed = 0;
  if (::QueryServiceStatusEx(service.get(), SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&sp), sizeof sp, &needed) &&
      sp.dwCurrentState != SERVICE_STOPPED) {
    SERVICE_STATUS s{};
    if (!::ControlService(service.get(), SERVICE_CONTROL_STOP, &s)) {
      const std::error_code ec = last_error();
      if (ec.value() != ERROR_SERVICE_NOT_ACTIVE && ec.value() != ERROR_SERVICE_CANNOT_ACCEPT_CTRL)
        return fail(err, "uninstall", "ControlService(STOP)", ec);
    }
    if (!wait_for_process_exit(sp.dwProcessId, std::chrono::seconds(30)))
      err << "mapidispatch uninstall: the service did not stop within 30 s; it is deleted when it does\n";
  }
  if (!::DeleteService(service.get())) {
    const std::error_code ec = last_error();
    if (ec.value() != ERROR_SERVICE_MARKED_FOR_DELETE) return fail(err, "uninstall", "DeleteService", ec);
  }
  const LSTATUS rc = ::RegDeleteTreeW(HKEY_LOCAL_MACHINE, eventlog_source_key_path(name).c_str());
  if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND)
    err << "mapidispatch uninstall: " << describe_failure("removing the Event Log source", win_error(rc)) << "\n";
  out << "Uninstalled service " << utf8(name) << "\n";
  return kExitOk;
}

int cmd_refresh(const Args& a, std::ostream& out, std::ostream& err) {
  const std::wstring name = wide(a.value("--service-name", kDefaultServiceName));
  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return fail(err, "refresh", "OpenSCManager", last_error());
  UniqueScHandle service(::OpenServiceW(scm.get(), name.c_str(), SERVICE_USER_DEFINED_CONTROL | SERVICE_QUERY_STATUS));
  if (!service) return fail(err, "refresh", "OpenService", last_error());
  SERVICE_STATUS s{};
  if (!::ControlService(service.get(), kControlRefresh, &s)) {
    const std::error_code ec = last_error();
    if (ec.value() == ERROR_SERVICE_NOT_ACTIVE) {
      err << "mapidispatch refresh: the service " << utf8(name) << " is not running\n";
      return kExitFailure;
    }
    return fail(err, "refresh", "ControlService(128)", ec);
  }
  out << "Refresh requested: " << utf8(name) << " re-resolves everything and publishes a new generation "
      << "('mapidispatch status' shows it)\n";
  return kExitOk;
}

std::string configured_section_name(const std::string& service_name) {
  if (const auto applied = StateStore(wide(service_name)).load_applied_settings())
    for (const EffectiveSetting& s : *applied)
      if (s.name == "SectionName") return s.value;
  std::vector<std::string> ignored;
  return read_parameters(wide(service_name), &ignored).section_name;
}

std::optional<bool> process_alive(uint32_t pid) {
  if (pid == 0) return false;
  win32::UniqueKernelHandle h(::OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid));
  if (!h) {
    const DWORD e = ::GetLastError();
    if (e == ERROR_INVALID_PARAMETER) return false;  // no such process
    if (e == ERROR_ACCESS_DENIED) return true;       // it exists, protected
    return std::nullopt;
  }
  // Process ids are reused: an exited process whose handle someone holds still opens.
  return ::WaitForSingleObject(h.get(), 0) == WAIT_TIMEOUT;
}

std::optional<TrustVerdict> section_trust(const ReadOnlySection& section) {
  SecurityDescription desc;
  if (const std::error_code ec = win32::describe_object_security(static_cast<HANDLE>(section.native_handle()), &desc))
    return TrustVerdict{false, describe_failure("reading the section's security descriptor", ec)};
  return evaluate_table_trust(desc);
}

std::vector<EffectiveSetting> effective_settings(const std::string& service_name) {
  std::vector<std::string> ignored;
  std::vector<EffectiveSetting> settings;
  read_parameters(wide(service_name), &ignored, &settings);
  return settings;
}

std::optional<std::vector<EffectiveSetting>> applied_settings(const std::string& service_name) {
  return StateStore(wide(service_name)).load_applied_settings();
}

std::string service_state(const std::string& service_name) {
  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return "unknown (" + describe_failure("OpenSCManager", last_error()) + ")";
  UniqueScHandle service(::OpenServiceW(scm.get(), wide(service_name).c_str(), SERVICE_QUERY_STATUS));
  if (!service) {
    const std::error_code ec = last_error();
    if (ec.value() == ERROR_SERVICE_DOES_NOT_EXIST) return "not installed";
    return "unknown (" + describe_failure("OpenService", ec) + ")";
  }
  SERVICE_STATUS_PROCESS sp{};
  DWORD needed = 0;
  if (!::QueryServiceStatusEx(service.get(), SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&sp), sizeof sp, &needed))
    return "unknown (" + describe_failure("QueryServiceStatusEx", last_error()) + ")";
  std::string s = state_name(sp.dwCurrentState);
  if (sp.dwProcessId != 0) s += ", pid " + std::to_string(sp.dwProcessId);
  if (sp.dwCurrentState == SERVICE_STOPPED && sp.dwWin32ExitCode != 0) {
    s += ", exit code " + std::to_string(sp.dwWin32ExitCode);
    if (sp.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
      s += " (" + make_error_code(static_cast<TableError>(sp.dwServiceSpecificExitCode)).message() + ")";
  }
  return s;
}

std::u16string current_user_sid() { return win32::process_user_sid(); }

bool resolve_from_registry(Resolutions* out, std::string* why) {
  try {
    std::vector<std::string> ignored;
    ResolveOptions opts;
    opts.allow_unc_paths = read_parameters(wide(kDefaultServiceName), &ignored).allow_unc_paths;
    auto source = make_scope_source();
    *out = source->resolve_all(opts);
    return true;
  } catch (const std::exception& e) {
    *why = e.what();
    return false;
  }
}

}  // namespace mapidispatch::service
