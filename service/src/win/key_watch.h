// Copyright MapiDispatch authors.
//
//! \file
//! Registry keys watched with RegNotifyChangeKeyValue on the service's Asio event loop
//! (event_wait.h: a thread-pool wait whose signal is handled on the loop; no thread of its own,
//! no polling). A watch has one event and one thread-pool wait, whatever it registers on it: a
//! key and its parent, or several keys under one root (a group). Each wait costs: Windows and
//! Wine wait for at most 63 handles per thread-pool thread, and under Wine each such thread is
//! about 1 MB of working set (a farm of 1,000 hives had 23 of them, issue #12).
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
//! - While the key itself is watched, its parent is watched too (subkey names only, on the same
//!   event): a deleted key is seen through its parent even where the system does not signal the
//!   deleted key's own watchers (Wine), and the watch moves to the parent at once.
//! - Several keys: any of them (or their parents or ancestors) signalling re-arms every one and
//!   calls back once, unless none of the keys existed before or exists now (an ancestor-only
//!   notification). The callback asks at_key(i) which keys exist; it cannot tell which signalled.
//! - Registering a notification resets its event (on Windows as under Wine), so registrations
//!   sharing an event can lose a signal, and the one that fired is then registered no more: a
//!   watch registers a key after its parent (the last registration loses nothing), and checks
//!   after arming that no names-only registration (a parent, an ancestor) fired meanwhile (the
//!   key's subkey count and last write time, as RegQueryInfoKey says); if one may have, it sets
//!   the event itself, and the wake-up re-arms everything (a spurious wake-up at worst).
//! - What a watch registers for a key that exists is its Kind (set_kind()): the key and its
//!   parent (kKeyAndDeletion, the default, above), the key alone (kKeyOnly: its deletion is seen
//!   by someone else's presence watch), or its parent alone (kPresence: the key appearing or
//!   going, and its siblings', not what it holds). Issue #12: a user's own watch is kKeyOnly and
//!   its group's kPresence, so that a sibling of Clients\Mail created under the user's
//!   Software\Clients wakes the group, which finds every key where it was, and resolves nobody.
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
  //! Several keys under one root (`paths`, each as above), one event and one thread-pool wait for
  //! all of them.
  KeyWatch(boost::asio::io_context& io, HKEY root, std::vector<std::wstring> paths, bool subtree, std::string label,
           Callback on_change);
  ~KeyWatch();
  KeyWatch(const KeyWatch&) = delete;
  KeyWatch& operator=(const KeyWatch&) = delete;

  //! What is registered for a key that exists (an absent key's deepest existing ancestor is
  //! registered for subkey names whatever the kind, until the key appears).
  enum class Kind {
    kKeyAndDeletion,  //!< The key (its subtree with `subtree`), and its parent's subkey names.
    kKeyOnly,         //!< The key alone: its deletion is not seen (Windows and Wine do not signal it).
    //! The key's parent's subkey names alone: the key appearing or going (and its siblings,
    //! which call back as a spurious signal), never its values or subkeys. at_key(i) says
    //! whether key i existed when the watch was last armed.
    kPresence,
  };
  //! Before the first start().
  void set_kind(Kind kind);

  //! Arms the watch. An error means no notification is registered (logged by the caller); a
  //! later start() may succeed.
  std::error_code start();
  //! Cancels the watch.
  void stop();

  //! True while a notification is registered.
  bool armed() const { return armed_; }
  //! True if a key this watch registered on (the key, its parent, or the ancestor it waits on)
  //! has been deleted since: nothing signals a deleted key's watchers, so the watch is blind
  //! there until it is started again. One RegQueryInfoKey per key.
  bool key_deleted() const;
  //! True if the key itself (not an ancestor) is watched (every key, for several).
  bool watching_key() const;
  //! The number of keys, and whether key i itself (not an ancestor) is watched.
  size_t keys() const { return targets_.size(); }
  bool at_key(size_t i) const { return armed_ && targets_.at(i).at_key(); }
  const std::string& label() const { return label_; }
  //! Notifications received so far.
  uint64_t notifications() const { return notifications_; }
  //! Of those, an ancestor's while the key did not exist before or after: no callback.
  uint64_t ancestor_only_notifications() const { return ancestor_only_; }

 private:
  struct Target {
    //! The path registered: the key's (kPresence: its parent's, and `leaf` the key's name).
    std::vector<std::wstring> components;
    std::wstring leaf;
    UniqueHkey key;         // the watched key or ancestor; empty when depth == 0 (the root)
    UniqueHkey parent_key;  // the key's parent while the key itself is watched (depth >= 2)
    UniqueHkey leaf_key;    // kPresence, during arm(): the key as the probe after its parent's registration opened it
    size_t depth = 0;       // components of the path that key is
    bool present = false;   // the key exists (kPresence: it did after its parent's registration)
    bool at_key() const { return present; }
  };
  //! What RegQueryInfoKey says of a key registered for subkey names only, just before its
  //! registration (arm()).
  struct Stamp {
    HKEY key = nullptr;
    DWORD subkeys = 0;
    FILETIME written{};
  };
  static bool stamp(Stamp* st);
  //! Registers `key` for subkey names only (no subtree) on the event, its stamp kept.
  LSTATUS notify_names(HKEY key);
  std::error_code arm();
  //! Registers `t` on the event; `first`: no other key is registered on it yet.
  std::error_code arm_target(Target& t, bool first);
  void close_all();
  void on_signal(const boost::system::error_code& ec);
  LSTATUS notify(HKEY key, BOOL subtree, DWORD filter, HANDLE event);

  HKEY root_;
  std::vector<Target> targets_;
  bool subtree_;
  Kind kind_ = Kind::kKeyAndDeletion;
  std::string label_;
  Callback on_change_;
  EventWait event_;
  std::vector<Stamp> stamps_;  // of the current arm()'s names-only registrations
  bool armed_ = false;
  bool stopped_ = false;
  DWORD agnostic_flag_;         // REG_NOTIFY_THREAD_AGNOSTIC where the system accepts it
  uint64_t notifications_ = 0;
  uint64_t ancestor_only_ = 0;
};

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_WIN_KEY_WATCH_H_
