// Copyright MapiDispatch authors.
//
//! \file
//! The command line of mapidispatch.exe: parsing, usage, and dispatch to the commands.
//!
//! Exit codes of every command: 0 success, 1 the operation failed (message on stderr), 2 the
//! command line is wrong (usage error on stderr). `status` has its own, documented in
//! README.md ("The service in detail").

#ifndef MAPIDISPATCH_SERVICE_CLI_H_
#define MAPIDISPATCH_SERVICE_CLI_H_

#include <map>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mapidispatch::service {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

//! The default service name (also the Event Log source).
inline constexpr char kDefaultServiceName[] = "MapiDispatch";

//! One option a command accepts.
struct OptionSpec {
  std::string_view name;  //!< With the dashes: "--section".
  bool takes_value = false;
  bool repeatable = false;
};

//! A parsed command line.
struct Args {
  std::string command;
  std::map<std::string, std::vector<std::string>, std::less<>> options;

  bool has(std::string_view name) const { return options.find(name) != options.end(); }
  //! The last value of `name`, or `fallback`.
  std::string value(std::string_view name, std::string_view fallback = {}) const;
  //! Every value of a repeatable option.
  std::vector<std::string> values(std::string_view name) const;
};

//! Parses `args` (after the command word) against `specs`. "--name VALUE" and "--name=VALUE".
//! False with `error` set for an unknown option, a missing or unexpected value, a repeated
//! non-repeatable option or a positional argument.
bool parse_options(std::span<const std::string> args, std::span<const OptionSpec> specs, Args* out,
                   std::string* error);

//! Runs the command line `args` (argv without the program name).
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

//! The full usage text.
std::string usage_text();

//! --service-name check: 1 to 80 characters, no slash or backslash, printable.
bool validate_service_name(std::string_view name, std::string* why);

// Commands, called by run_cli with options already parsed and checked against their specs.
// Platform parts live in win/admin.cpp and posix/admin_posix.cpp.
int cmd_status(const Args& a, std::ostream& out, std::ostream& err);
int cmd_explain(const Args& a, std::ostream& out, std::ostream& err);
int cmd_install(const Args& a, std::ostream& out, std::ostream& err);
int cmd_uninstall(const Args& a, std::ostream& out, std::ostream& err);
int cmd_refresh(const Args& a, std::ostream& out, std::ostream& err);
int cmd_run(const Args& a, std::ostream& out, std::ostream& err);
int cmd_service(const Args& a, std::ostream& out, std::ostream& err);

//! The section name a command works on: --section, else configured_section_name().
std::string section_for(const Args& a);
//! Windows: the section the service writes: the SectionName it recorded as applied (State key),
//! which differs from the parameter while a changed SectionName waits for PARAMCHANGE or could
//! not be opened; else the SectionName parameter, else the default. POSIX: the default.
std::string configured_section_name(const std::string& service_name);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_CLI_H_
