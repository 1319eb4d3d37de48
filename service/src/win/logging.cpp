// Copyright MapiDispatch authors.

#include "win/logging.h"

#include <utility>

#include <windows.h>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/win_eventlog_sink.h>
#include <spdlog/spdlog.h>

#include "text.h"
#include "win/registry.h"
#include "win/win_handles.h"

namespace mapidispatch::service {
namespace {

std::shared_ptr<spdlog::logger> g_log;
std::shared_ptr<spdlog::logger> g_events;

spdlog::level::level_enum to_spdlog(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kCritical: return spdlog::level::critical;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

spdlog::logger& null_logger() {
  static spdlog::logger l("null", std::make_shared<spdlog::sinks::null_sink_mt>());
  return l;
}

}  // namespace

std::wstring log_file_path(const std::wstring& service_name) {
  // ProgramData as Windows records it (ProfileList\ProgramData, "%SystemDrive%\ProgramData"),
  // not from the environment: a service's environment need not carry %ProgramData% (Wine's
  // has another value), and the shell's SHGetFolderPath would load shell32 into the service.
  std::wstring base = L"C:\\ProgramData";
  UniqueHkey key;
  if (!open_key(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList", KEY_QUERY_VALUE,
                &key)) {
    const std::u16string v = read_string(key.get(), L"ProgramData");
    if (!v.empty() && v.find(u'%') == std::u16string::npos) base.assign(as_wide(v));
  }
  return base + L"\\MapiDispatch\\" + service_name + L".log";
}

std::string describe_failure(const char* operation, const std::error_code& ec) {
  return std::string(operation) + " failed: " + std::to_string(ec.value()) + " " + ec.message();
}

void init_logging(const LogSetup& setup, std::string* file_error) {
  std::vector<spdlog::sink_ptr> sinks;
  try {
    const std::wstring path = log_file_path(setup.service_name);
    const std::wstring dir = path.substr(0, path.find_last_of(L'\\'));
    if (!::CreateDirectoryW(dir.c_str(), nullptr) && ::GetLastError() != ERROR_ALREADY_EXISTS) {
      const std::error_code ec = last_error();
      *file_error = describe_failure(("CreateDirectory " + utf8(dir)).c_str(), ec);
    } else {
      // 5 files of 5 MB: weeks of publishes on a busy farm, bounded.
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(utf8(path), 5 * 1024 * 1024, 4));
    }
  } catch (const std::exception& e) {
    *file_error = e.what();
  }
  if (setup.console) sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  g_log = std::make_shared<spdlog::logger>("mapidispatch", sinks.begin(), sinks.end());
  g_log->set_pattern("%Y-%m-%d %H:%M:%S.%e %z [%l] [%t] %v");
  g_log->flush_on(spdlog::level::info);

  std::vector<spdlog::sink_ptr> event_sinks = sinks;
  if (setup.event_log) {
    try {
      auto ev = std::make_shared<spdlog::sinks::win_eventlog_sink_mt>(utf8(setup.service_name), kEventId);
      ev->set_pattern("%v");
      event_sinks.push_back(std::move(ev));
    } catch (const std::exception& e) {
      g_log->warn("Event Log sink unavailable: {}", e.what());
    }
  }
  g_events = std::make_shared<spdlog::logger>("mapidispatch.events", event_sinks.begin(), event_sinks.end());
  g_events->set_pattern("%Y-%m-%d %H:%M:%S.%e %z [%l] [%t] %v");
  g_events->flush_on(spdlog::level::info);
  // A sink that fails (a full disk, an Event Log that refuses) must not stop the service: log it
  // on the remaining sinks once, never throw.
  g_log->set_error_handler([](const std::string& msg) { ::OutputDebugStringA(("mapidispatch log: " + msg).c_str()); });
  g_events->set_error_handler([](const std::string& msg) { ::OutputDebugStringA(("mapidispatch log: " + msg).c_str()); });
  set_log_level(setup.level);
}

void set_log_level(LogLevel level) {
  if (g_log) g_log->set_level(to_spdlog(level));
  // State changes reach the Event Log whatever the file's threshold, unless logging is off.
  if (g_events) g_events->set_level(level == LogLevel::kOff ? spdlog::level::off : spdlog::level::info);
}

void shutdown_logging() {
  if (g_log) g_log->flush();
  if (g_events) g_events->flush();
  g_events.reset();
  g_log.reset();
}

spdlog::logger& log() { return g_log ? *g_log : null_logger(); }
spdlog::logger& events() { return g_events ? *g_events : null_logger(); }

}  // namespace mapidispatch::service
