// Copyright MapiDispatch authors.
//
//! \file
//! Start-up progress for the Service Control Manager: while the service resolves its first
//! table, every scope resolved is a step, and a step reports a checkpoint (SERVICE_START_PENDING
//! with dwCheckPoint + 1) once at least `interval` has passed since the last report. A resolve of
//! thousands of scopes then shows the SCM steady progress, at a bounded cost (one SetServiceStatus
//! per interval, not one per scope). Portable, so that it is unit-tested natively.

#ifndef MAPIDISPATCH_SERVICE_PROGRESS_H_
#define MAPIDISPATCH_SERVICE_PROGRESS_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <utility>

namespace mapidispatch::service {

//! How often the start-up resolve reports a checkpoint at most.
inline constexpr std::chrono::milliseconds kStartProgressInterval{250};

class ProgressThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  //! `report(done, total)` is called from step() at most once per `interval`; `now` is the clock
  //! (tests pass their own). The interval starts at construction.
  ProgressThrottle(Clock::duration interval, std::function<void(size_t done, size_t total)> report,
                   std::function<Clock::time_point()> now = &Clock::now)
      : interval_(interval), report_(std::move(report)), now_(std::move(now)), last_(now_()) {}

  //! One more step: `done` of `total` steps so far.
  void step(size_t done, size_t total) {
    const Clock::time_point t = now_();
    if (t - last_ < interval_) return;
    last_ = t;
    ++reports_;
    if (report_) report_(done, total);
  }

  //! Reports made so far.
  size_t reports() const { return reports_; }

 private:
  Clock::duration interval_;
  std::function<void(size_t, size_t)> report_;
  std::function<Clock::time_point()> now_;
  Clock::time_point last_;
  size_t reports_ = 0;
};

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_PROGRESS_H_
