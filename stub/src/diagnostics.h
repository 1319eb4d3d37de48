// Copyright MapiDispatch authors.
//
//! \file
//! What the stub says about itself, and the environment variables that steer it.
//!
//! Environment (diagnostics and tests): MAPIDISPATCH_MODE=registry forces the registry mode
//! the way the Windows stub works: no table, the registry resolved on every call (this is what
//! the benchmarks compare the table with);
//! MAPIDISPATCH_SECTION names another table section (it must still pass the trust check);
//! MAPIDISPATCH_TRACE=FILE appends one line per binding decision (and, after it, the time its
//! parts took: "simple bind's phases: ..."; and the first entry point's look-up); MAPIDISPATCH_NO_UI=1
//! suppresses the PreFirstRun message box.

#ifndef MAPIDISPATCH_STUB_DIAGNOSTICS_H_
#define MAPIDISPATCH_STUB_DIAGNOSTICS_H_

#include <cstdint>
#include <string>

#include "hot_path.h"

namespace mapidispatch::stub {

//! The environment variable `name`; empty if unset or longer than 1023 characters.
std::wstring env_var(const wchar_t* name);

//! UTF-16 to UTF-8, for trace lines.
std::string narrow(const std::wstring& w);

//! Appends a line to MAPIDISPATCH_TRACE, if set.
void trace(const std::string& line) noexcept;

//! Whether MAPIDISPATCH_TRACE is set (read once per process, on the first slow path that asks).
//! What only the trace shows (the phases of a bind, PhaseClock) is measured only then.
bool trace_enabled() noexcept;

//! The time the parts of a bind took, for its trace line: started only when tracing, so that
//! without MAPIDISPATCH_TRACE no clock is read (each lap() is a test of one bool).
class PhaseClock {
 public:
  enum Phase { kSettings, kUserSid, kTableOpen, kTrust, kTableRead, kRegistry, kDecide, kProviderLoad, kPublish, kTrace, kCount };
  explicit PhaseClock(bool on) noexcept;
  bool on() const noexcept { return on_; }
  //! Charges the time since the last lap (or the start) to `phase`.
  void lap(Phase phase) noexcept {
    if (on_) lap_slow(phase);
  }
  //! "phases: settings 1.2 us, user-sid 3.4 us, ..., bind 56.7 us; trace writes so far 8.9 us"
  //! (every phase, in this order; then the time trace() has spent writing in this process).
  std::string describe() const;
  //! The sum of the laps, as "56.7 us".
  std::string total() const;

 private:
  void lap_slow(Phase phase) noexcept;
  bool on_;
  int64_t last_ = 0;
  int64_t spent_[kCount] = {};
};

//! Shows the PreFirstRun text once per process, and only in an interactive session.
void prefirstrun_once(const Decision& d) noexcept;

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_DIAGNOSTICS_H_
