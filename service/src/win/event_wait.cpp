// Copyright MapiDispatch authors.

#include "win/event_wait.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <system_error>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

namespace mapidispatch::service {
namespace {

// The pool of every EventWait of the process: one worker thread, which only posts completions
// (it never blocks, so one is enough however many events signal together). Created at the first
// use and kept for the life of the process (nothing waits on it after the loop ends).
PTP_CALLBACK_ENVIRON watch_pool() {
  static TP_CALLBACK_ENVIRON env = [] {
    TP_CALLBACK_ENVIRON e;
    ::InitializeThreadpoolEnvironment(&e);
    if (PTP_POOL pool = ::CreateThreadpool(nullptr)) {
      ::SetThreadpoolThreadMaximum(pool, 1);
      ::SetThreadpoolCallbackPool(&e, pool);
    }  // else: the process's default pool (still correct, only not bounded)
    return e;
  }();
  return &env;
}

}  // namespace

struct EventWait::State : std::enable_shared_from_this<State> {
  State(boost::asio::io_context& io_context, std::function<void()> handler)
      : io(io_context), on_signal(std::move(handler)) {}
  ~State() {
    if (wait) ::CloseThreadpoolWait(wait);
    if (event) ::CloseHandle(event);
  }

  boost::asio::io_context& io;
  std::function<void()> on_signal;
  HANDLE event = nullptr;
  PTP_WAIT wait = nullptr;
  // The current wait's number: a completion posted by an earlier one is dropped. Changed only
  // while no callback runs (after WaitForThreadpoolWaitCallbacks); read by the callback.
  std::atomic<uint64_t> armed{0};
  bool pending = false;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;

  // On the pool's worker: hand the signal to the loop.
  static void CALLBACK signaled(PTP_CALLBACK_INSTANCE, void* context, PTP_WAIT, TP_WAIT_RESULT) {
    auto* s = static_cast<State*>(context);
    boost::asio::post(s->io, [weak = s->weak_from_this(), armed = s->armed.load()] {
      const std::shared_ptr<State> self = weak.lock();  // kept alive while its handler runs
      if (!self || !self->pending || self->armed.load() != armed) return;
      self->pending = false;
      self->work.reset();
      self->on_signal();
    });
  }
};

EventWait::EventWait(boost::asio::io_context& io, std::function<void()> on_signal)
    : state_(std::make_shared<State>(io, std::move(on_signal))) {
  // Manual reset: the owner resets it before registering, so a signal is never consumed unseen.
  state_->event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
}

EventWait::~EventWait() { cancel(); }

bool EventWait::valid() const { return state_->event != nullptr; }

HANDLE EventWait::event() const { return state_->event; }

std::error_code EventWait::wait() { return arm(nullptr); }

std::error_code EventWait::wait_for(std::chrono::milliseconds timeout) {
  // SetThreadpoolWait's timeout: negative is relative, in 100 ns units; zero times out at once.
  const uint64_t ticks = static_cast<uint64_t>(-(std::max<int64_t>(timeout.count(), 0) * 10000));
  FILETIME due;
  due.dwLowDateTime = static_cast<DWORD>(ticks);
  due.dwHighDateTime = static_cast<DWORD>(ticks >> 32);
  return arm(&due);
}

std::error_code EventWait::arm(FILETIME* timeout) {
  if (!valid()) return {ERROR_INVALID_HANDLE, std::system_category()};
  // Created at the first wait, not with the event: Wine gives every thread-pool wait object a
  // slot of a wait thread (63 a thread) from its creation to its end, armed or not, and many
  // events are never waited for (a watch whose key is absent does not wait for its parent).
  if (!state_->wait) {
    state_->wait = ::CreateThreadpoolWait(&State::signaled, state_.get(), watch_pool());
    if (!state_->wait) return {static_cast<int>(::GetLastError()), std::system_category()};
  }
  cancel();
  state_->pending = true;
  state_->work.emplace(state_->io.get_executor());
  ::SetThreadpoolWait(state_->wait, state_->event, timeout);
  return {};
}

void EventWait::cancel() {
  if (state_->wait) {
    ::SetThreadpoolWait(state_->wait, nullptr, nullptr);
    ::WaitForThreadpoolWaitCallbacks(state_->wait, TRUE);  // a queued callback is dropped, a running one ends
  }
  ++state_->armed;
  state_->pending = false;
  state_->work.reset();
}

}  // namespace mapidispatch::service
