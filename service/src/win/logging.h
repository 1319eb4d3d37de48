// Copyright MapiDispatch authors.
//
//! \file
//! The service's logging (spdlog): a rotating file under %ProgramData%\MapiDispatch, the
//! console in `run --console`, and the Windows Event Log for state changes, warnings and errors.
//!
//! Two loggers share the sinks: log() (file, console) for everything, and events() which also
//! writes to the Event Log. State changes (started, stopped, parameters changed) and every
//! warning or error go through events(); per-publish lines go to log() only.

#ifndef MAPIDISPATCH_SERVICE_WIN_LOGGING_H_
#define MAPIDISPATCH_SERVICE_WIN_LOGGING_H_

#include <memory>
#include <string>
#include <system_error>

#include <spdlog/logger.h>

#include "parameters.h"

namespace mapidispatch::service {

struct LogSetup {
  std::wstring service_name;  //!< Also the Event Log source and the log file's name.
  bool console = false;       //!< Also log to stderr.
  bool event_log = true;      //!< Write to the Event Log (the source is registered by install).
  LogLevel level = LogLevel::kInfo;
};

//! Creates the loggers. Never throws: a log file that cannot be opened leaves the other sinks.
//! `file_error` says why the file sink is missing, if it is.
void init_logging(const LogSetup& setup, std::string* file_error);
void set_log_level(LogLevel level);
void shutdown_logging();

//! The general logger (file, console). Never null after init_logging (a null sink before).
spdlog::logger& log();
//! The logger that also writes to the Event Log.
spdlog::logger& events();

//! "%ProgramData%\MapiDispatch\<service>.log".
std::wstring log_file_path(const std::wstring& service_name);

//! "<operation> failed: <code> <message>", the one format of a Win32 failure in logs.
std::string describe_failure(const char* operation, const std::error_code& ec);

//! Event ID of every MapiDispatch Event Log entry (messages.mc: "%1").
inline constexpr unsigned short kEventId = 1000;

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_LOGGING_H_
