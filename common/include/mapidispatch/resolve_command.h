// Copyright MapiDispatch authors.
//
//! \file
//! `mapidispatch resolve`: resolve a registry export offline and print the answer and how it was
//! reached. Portable (built natively on Linux as well as for Windows); the `mapidispatch`
//! executable calls run_resolve_command() for `mapidispatch resolve ...`. README.md ("Resolving offline")
//! documents the options and the JSON output field by field.
//!
//!   mapidispatch resolve --from FILE.reg [--user SID | --machine] [--module NAME]
//!                        [--bitness x86|x64|arm64] [--root DIR] [--json] [--allow-unc]
//!                        [--stub-path PATH]... [--system-dir PATH]
//!                        [--msi-component {GUID},QUALIFIER=PATH]...
//!
//! Without --root, files are not looked at: every path that passes the text checks is reported
//! kMissing with the reason "not checked". Windows Installer is not available offline; the
//! --msi-component entries stand in for it.
//!
//! Text output (without --json) goes to a terminal, and the export is not trusted: every string
//! taken from it or from the arguments (names, paths, reasons, explanation details) is written
//! with each C0 control, DEL and C1 control (U+0000-U+001F, U+007F-U+009F) as `\xNN`, two
//! lower-case hex digits (ESC is `\x1b`), so an export can neither send escape sequences to
//! the terminal nor start a line of its own. Backslashes are not doubled, to keep Windows paths
//! readable: a literal "\x1b" in the registry looks the same; --json gives the exact text.

#ifndef MAPIDISPATCH_RESOLVE_COMMAND_H_
#define MAPIDISPATCH_RESOLVE_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

namespace mapidispatch {

//! Exit codes of run_resolve_command().
inline constexpr int kResolveExitOk = 0;          //!< Resolved (whatever the targets' statuses).
inline constexpr int kResolveExitUsage = 2;       //!< Bad arguments; err names the argument.
inline constexpr int kResolveExitInput = 3;       //!< The file is unreadable or not a .reg export.
inline constexpr int kResolveExitInternal = 4;    //!< Out of memory or an internal error.

//! Runs `resolve` with `args` (UTF-8; without the program name and the word "resolve"). The
//! answer goes to `out` (text, or JSON with --json), diagnostics to `err`. Never throws.
int run_resolve_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) noexcept;

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_RESOLVE_COMMAND_H_
