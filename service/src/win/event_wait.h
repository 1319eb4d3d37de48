// Copyright MapiDispatch authors.
//
//! \file
//! An event waited for on the registry watches' own thread pool, its signal handled on the
//! service's Asio event loop: what boost::asio::windows::object_handle does, with a bounded
//! number of threads however many events signal at once.
//!
//! Why not object_handle: it registers each wait with RegisterWaitForSingleObject on the
//! process's default thread pool and runs each signal's callback on a worker of that pool, under
//! one mutex shared by every object_handle of the io_context (which the loop thread also holds
//! while it registers a wait). When hundreds of watched keys signal together (an unloading hive
//! signals both watches it holds; a logoff storm unloads hundreds of hives), the workers queue
//! on that mutex and the pool starts another worker for every new callback: about 300 threads
//! for 200 hives unloading under Wine (service_hives_test, LogonStormIsWatchedAndPublishedBoundedly).
//!
//! Here each event is a thread-pool wait (CreateThreadpoolWait) of one private pool of one
//! worker thread, whose callback only posts the completion to the io_context. The system waits
//! for the events themselves (Windows 8 and later without a thread per wait; Wine with one
//! thread per 63 waits), and the worker threads do not grow with the signals.
//!
//! Contract: wait() arms one wait (one-shot: wait() again after each signal); the handler runs
//! on the io_context's thread. cancel(), wait() and the destructor first end the previous wait:
//! a signal not yet handled is dropped (its handler never runs). While a wait is armed it counts
//! as work of the io_context (run() does not return), as an object_handle's async_wait does.
//! Call from the io_context's thread only.

#ifndef MAPIDISPATCH_SERVICE_WIN_EVENT_WAIT_H_
#define MAPIDISPATCH_SERVICE_WIN_EVENT_WAIT_H_

#include <utility>  // before Boost (Boost 1.74 with GCC 12 in C++20)

#include <windows.h>

#include <chrono>
#include <functional>
#include <memory>
#include <system_error>

#include <boost/asio/io_context.hpp>

namespace mapidispatch::service {

class EventWait {
 public:
  //! A new manual-reset event (not signaled) and its wait; `on_signal` runs on `io`.
  EventWait(boost::asio::io_context& io, std::function<void()> on_signal);
  ~EventWait();
  EventWait(const EventWait&) = delete;
  EventWait& operator=(const EventWait&) = delete;

  //! False if the event could not be created.
  bool valid() const;
  //! The event (for RegNotifyChangeKeyValue, ResetEvent).
  HANDLE event() const;
  //! Waits for the event once; a wait still armed is cancelled first. An error: no wait (the
  //! thread-pool wait could not be created).
  std::error_code wait();
  //! As wait(), and the handler also runs once `timeout` has passed without a signal (at once for
  //! zero or less). With an event nobody signals, a one-shot timer: the service's timers are
  //! these, not Asio's, whose Windows io_context runs its timers on a thread of its own (about
  //! 1 MB of working set under Wine), where this is one more wait of a wait thread already there.
  std::error_code wait_for(std::chrono::milliseconds timeout);
  //! Stops waiting. When it returns, no callback of this wait runs, and a signal already posted
  //! to the io_context is dropped.
  void cancel();

 private:
  struct State;
  std::error_code arm(FILETIME* timeout);
  std::shared_ptr<State> state_;
};

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_EVENT_WAIT_H_
