// Copyright MapiDispatch authors.
//
//! \file
//! What the stub says about itself, and the environment variables that steer it.
//!
//! Environment (diagnostics and tests): MAPIDISPATCH_MODE=registry forces the registry mode
//! the way the Windows stub works: no table, the registry resolved on every call (this is what
//! the benchmarks compare the table with);
//! MAPIDISPATCH_SECTION names another table section (it must still pass the trust check);
//! MAPIDISPATCH_TRACE=FILE appends one line per binding decision; MAPIDISPATCH_NO_UI=1
//! suppresses the PreFirstRun message box.

#ifndef MAPIDISPATCH_STUB_DIAGNOSTICS_H_
#define MAPIDISPATCH_STUB_DIAGNOSTICS_H_

#include <string>

#include "hot_path.h"

namespace mapidispatch::stub {

//! The environment variable `name`; empty if unset or longer than 1023 characters.
std::wstring env_var(const wchar_t* name);

//! UTF-16 to UTF-8, for trace lines.
std::string narrow(const std::wstring& w);

//! Appends a line to MAPIDISPATCH_TRACE, if set.
void trace(const std::string& line) noexcept;

//! Shows the PreFirstRun text once per process, and only in an interactive session.
void prefirstrun_once(const Decision& d) noexcept;

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_DIAGNOSTICS_H_
