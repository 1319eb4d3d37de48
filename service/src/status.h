// Copyright MapiDispatch authors.
//
//! \file
//! `mapidispatch status`: the table read as a stub reads it, for administrators (text) and for
//! scripts (--json). Portable: the native build reads a POSIX table.

#ifndef MAPIDISPATCH_SERVICE_STATUS_H_
#define MAPIDISPATCH_SERVICE_STATUS_H_

#include <optional>
#include <ostream>
#include <string>

#include "mapidispatch/section_trust.h"
#include "mapidispatch/table.h"
#include "parameters.h"

namespace mapidispatch::service {

//! Exit codes of `status`.
//! A valid table, kept by a live writer. Also when it is incomplete (some user scopes did not
//! fit the section; the text's "Incomplete:" line, JSON `complete` false): stubs trust it, and
//! only the processes of the users left out read the registry; the Event Log has a warning.
inline constexpr int kStatusValid = 0;
inline constexpr int kStatusFallback = 1;   //!< A table stubs do not trust: they use the registry.
inline constexpr int kStatusNoTable = 3;    //!< No section, or nothing published in it.

struct StatusReport {
  std::string section;
  std::string service_name;
  std::string service_state;             //!< "" if not applicable.
  bool opened = false;
  std::string open_error;                //!< Why the section could not be opened.
  TableError read_result = TableError::kNotInitialized;
  TableSnapshot snapshot;                //!< Filled for kOk and kWriterStopped.
  //! The answers for 32-bit processes (WOW64 view) of the same generation, if the table has them.
  std::optional<TableSnapshot> wow64;
  std::optional<bool> writer_alive;
  std::optional<TrustVerdict> trust;
  std::vector<EffectiveSetting> settings;  //!< The service's settings and their sources, as the registry has them now.
  //! What the running service applies (its State key); nullopt if it is not running or recorded none.
  std::optional<std::vector<EffectiveSetting>> applied;
};

//! Short stable name of a read result, for JSON ("ok", "writer-stopped", "bad-checksum"...).
std::string_view to_string_table_error(TableError e);

//! Opens `section` read-only and reads every scope.
StatusReport collect_status(const std::string& section, const std::string& service_name);

//! Whether stubs would use this table (valid, kept, trusted, writer alive).
bool stubs_trust(const StatusReport& r);
//! The exit code for the report.
int status_exit_code(const StatusReport& r);
//! One line saying what stubs do with the table, e.g. "valid: stubs use it".
std::string verdict_line(const StatusReport& r);

void print_status_text(const StatusReport& r, std::ostream& out);
void print_status_json(const StatusReport& r, std::ostream& out);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_STATUS_H_
