// Copyright MapiDispatch authors.
//
//! \file
//! One registry key watched with RegNotifyChangeKeyValue on the service's Asio event loop
//! (event_wait.h: a thread-pool wait whose signal is handled on the loop; no thread of its own,
//! no polling).
//!
//! Contract:
//! - The notification is re-armed before the callback runs, so a change made while the callback
//!   reads the registry signals again: no change is lost.
//! - A key that does not exist yet, or is deleted, is watched from its deepest existing ancestor
//!   (subkey creation only) until it appears; then the key itself is watched again. Every
//!   re-arm re-opens the path from its root, so a key deleted and recreated between two
//!   notifications is still followed.
//! - A notification of an ancestor's watch after which the key still does not exist does not
//!   call back: nothing the key holds can have changed (ancestor_only_notifications()).
//! - While the key itself is watched, its parent is watched too (subkey names only): a deleted
//!   key is seen through its parent even where the system does not signal the deleted key's own
//!   watchers (Wine), and the watch moves to the parent at once.
//! - Old handles are closed before the event is reset and registered again: closing a watched
//!   key signals its event, which must not count as a change.
//! - The callback runs on the event loop thread. stop() and the destructor cancel the wait; a
//!   completion already queued then does nothing.

#ifndef MAPIDISPATCH_SERVICE_WIN_KEY_WATCH_H_
#define MAPIDISPATCH_SERVICE_WIN_KEY_WATCH_H_

#include <utility>  // before Boost (Boost 1.74 with GCC 12 in C++20)

#include <windows.h>

#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

#include "win/event_wait.h"
#include "win/win_handles.h"

namespace mapidispatch::service {

class KeyWatch {
 public:
  using Callback = std::function<void(KeyWatch&)>;

  //! Watches `root\path` (path may be empty: the root itself), with its subtree if `subtree`.
  //! `label` names the watch in logs.
  KeyWatch(boost::asio::io_context& io, HKEY root, std::wstring path, bool subtree, std::string label,
           Callback on_change);
  ~KeyWatch();
  KeyWatch(const KeyWatch&) = delete;
  KeyWatch& operator=(const KeyWatch&) = delete;

  //! Arms the watch. An error means no notification is registered (logged by the caller); a
  //! later start() may succeed.
  std::error_code start();
  //! Cancels the watch.
  void stop();

  //! True while a notification is registered.
  bool armed() const { return armed_; }
  //! True if the key itself (not an ancestor) is watched.
  bool watching_key() const { return armed_ && depth_ == components_.size(); }
  const std::string& label() const { return label_; }
  //! Notifications received so far.
  uint64_t notifications() const { return notifications_; }
  //! Of those, an ancestor's while the key did not exist before or after: no callback.
  uint64_t ancestor_only_notifications() const { return ancestor_only_; }

 private:
  std::error_code arm();
  void on_signal(const boost::system::error_code& ec);
  LSTATUS notify(HKEY key, BOOL subtree, DWORD filter, HANDLE event);

  HKEY root_;
  std::vector<std::wstring> components_;
  bool subtree_;
  std::string label_;
  Callback on_change_;
  EventWait event_;
  EventWait parent_event_;
  UniqueHkey key_;              // the watched key or ancestor; empty when depth_ == 0 (the root)
  UniqueHkey parent_key_;       // the key's parent while the key itself is watched (depth_ >= 2)
  size_t depth_ = 0;            // components of the path that key_ is
  bool armed_ = false;
  bool stopped_ = false;
  DWORD agnostic_flag_;         // REG_NOTIFY_THREAD_AGNOSTIC where the system accepts it
  uint64_t notifications_ = 0;
  uint64_t ancestor_only_ = 0;
};

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_KEY_WATCH_H_
