// Copyright MapiDispatch authors.

#include "win/key_watch.h"

#include "text.h"
#include "win/logging.h"

#ifndef REG_NOTIFY_THREAD_AGNOSTIC
#define REG_NOTIFY_THREAD_AGNOSTIC 0x10000000L
#endif

namespace mapidispatch::service {
namespace {

std::vector<std::wstring> split_path(const std::wstring& path) {
  std::vector<std::wstring> out;
  size_t start = 0;
  while (start < path.size()) {
    const size_t end = path.find(L'\\', start);
    const size_t stop = end == std::wstring::npos ? path.size() : end;
    if (stop > start) out.push_back(path.substr(start, stop - start));
    start = stop + 1;
  }
  return out;
}

}  // namespace

KeyWatch::KeyWatch(boost::asio::io_context& io, HKEY root, std::wstring path, bool subtree, std::string label,
                   Callback on_change)
    : root_(root),
      components_(split_path(path)),
      subtree_(subtree),
      label_(std::move(label)),
      on_change_(std::move(on_change)),
      // A signal is handled on the loop; a cancelled wait's (arm(), stop()) never is.
      event_(io, [this] { on_signal(boost::system::error_code()); }),
      parent_event_(io, [this] { on_signal(boost::system::error_code()); }),
      // The notification must outlive nothing but the loop thread, which outlives every watch;
      // the flag just spares the system from tying it to that thread where it can.
      agnostic_flag_(REG_NOTIFY_THREAD_AGNOSTIC) {}

KeyWatch::~KeyWatch() { stop(); }

std::error_code KeyWatch::start() {
  stopped_ = false;
  if (!event_.valid() || !parent_event_.valid()) return win_error(ERROR_INVALID_HANDLE);
  return arm();
}

void KeyWatch::stop() {
  stopped_ = true;
  armed_ = false;
  event_.cancel();
  parent_event_.cancel();
  key_.reset();  // closing the key also ends its notification
  parent_key_.reset();
}

LSTATUS KeyWatch::notify(HKEY key, BOOL subtree, DWORD filter, HANDLE event) {
  LSTATUS rc = ::RegNotifyChangeKeyValue(key, subtree, filter | agnostic_flag_, event, TRUE);
  if (rc == ERROR_INVALID_PARAMETER && agnostic_flag_ != 0) {
    agnostic_flag_ = 0;  // before Windows 8 (and on Wine): thread-bound, which our loop thread is
    rc = ::RegNotifyChangeKeyValue(key, subtree, filter, event, TRUE);
  }
  return rc;
}

std::error_code KeyWatch::arm() {
  armed_ = false;
  event_.cancel();  // a signal of the other event not handled yet is dropped: this re-arm covers it
  parent_event_.cancel();
  // Close first, reset after: closing a watched key signals its event.
  key_.reset();
  parent_key_.reset();
  ::ResetEvent(event_.event());
  ::ResetEvent(parent_event_.event());
  std::error_code last;
  for (int attempt = 0; attempt < 4; ++attempt) {
    // The deepest existing key of the path, from the root: the key itself if it exists.
    key_.reset();
    parent_key_.reset();
    depth_ = 0;
    for (size_t d = components_.size(); d > 0; --d) {
      std::wstring sub;
      for (size_t i = 0; i < d; ++i) sub += (i ? L"\\" : L"") + components_[i];
      const LSTATUS rc = ::RegOpenKeyExW(root_, sub.c_str(), 0, KEY_NOTIFY | KEY_WOW64_64KEY, key_.put());
      if (rc == ERROR_SUCCESS) {
        depth_ = d;
        break;
      }
      if (rc != ERROR_FILE_NOT_FOUND)
        log().debug("watch {}: RegOpenKeyEx {} failed: {} {}", label_, utf8(sub), rc, win_error(rc).message());
    }
    const bool at_key = depth_ == components_.size();
    const HKEY h = depth_ > 0 ? key_.get() : root_;
    // The key: its values and subkeys (and the subtree's). An ancestor: only subkey creation
    // and deletion of its direct children matter, to see the path grow back.
    const DWORD filter = at_key ? (REG_NOTIFY_CHANGE_NAME | REG_NOTIFY_CHANGE_LAST_SET) : REG_NOTIFY_CHANGE_NAME;
    const BOOL subtree = at_key ? (subtree_ ? TRUE : FALSE) : FALSE;
    LSTATUS rc = notify(h, subtree, filter, event_.event());
    if (rc == ERROR_SUCCESS && at_key && depth_ > 0) {
      // The parent, for the key's own deletion.
      HKEY parent = root_;
      if (depth_ > 1) {
        std::wstring sub;
        for (size_t i = 0; i + 1 < depth_; ++i) sub += (i ? L"\\" : L"") + components_[i];
        rc = ::RegOpenKeyExW(root_, sub.c_str(), 0, KEY_NOTIFY | KEY_WOW64_64KEY, parent_key_.put());
        parent = parent_key_.get();
      }
      if (rc == ERROR_SUCCESS) rc = notify(parent, FALSE, REG_NOTIFY_CHANGE_NAME, parent_event_.event());
      if (rc == ERROR_FILE_NOT_FOUND) rc = ERROR_KEY_DELETED;  // the parent went in between
    }
    if (rc == ERROR_SUCCESS && !at_key) {
      // The next key of the path, created between the open above and the registration, would
      // signal nobody: look once more, now that a creation signals. (on_signal() relies on it:
      // an ancestor's notification after which the key is still absent wakes nobody.)
      std::wstring next;
      for (size_t i = 0; i <= depth_; ++i) next += (i ? L"\\" : L"") + components_[i];
      HKEY probe = nullptr;
      if (::RegOpenKeyExW(root_, next.c_str(), 0, KEY_NOTIFY | KEY_WOW64_64KEY, &probe) == ERROR_SUCCESS) {
        ::RegCloseKey(probe);
        key_.reset();  // ends this registration; its event may signal on close: reset it
        ::ResetEvent(event_.event());
        last = win_error(ERROR_KEY_DELETED);
        continue;  // open the deeper key (bounded by the attempts)
      }
    }
    if (rc == ERROR_SUCCESS) {
      std::error_code waiting = event_.wait();
      if (!waiting && at_key && depth_ > 0) waiting = parent_event_.wait();
      if (waiting) {  // no thread-pool wait (out of memory): not armed
        event_.cancel();
        last = waiting;
        break;
      }
      armed_ = true;
      if (!at_key)
        log().debug("watch {}: key absent; watching its ancestor at depth {} until it appears", label_, depth_);
      return {};
    }
    last = win_error(rc);
    // Deleted between the open and the registration: open again from the root.
    if (rc != ERROR_KEY_DELETED) break;
  }
  key_.reset();
  parent_key_.reset();
  return last;
}

void KeyWatch::on_signal(const boost::system::error_code& ec) {
  if (stopped_ || ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    log().error("watch {}: wait failed: {} {}", label_, ec.value(), ec.message());
    armed_ = false;
    return;
  }
  ++notifications_;
  const bool was_key = watching_key();
  // Re-arm first: whatever changes while the callback reads the registry signals again.
  if (const std::error_code rc = arm()) {
    events().error("watch {}: {}; the periodic revalidation retries", label_,
                   describe_failure("RegNotifyChangeKeyValue", rc));
  } else if (!was_key && !watching_key()) {
    // An ancestor's notification (a key created elsewhere under it, say HKCU\Software\Vendor)
    // while the key still does not exist: nothing below the key changed, so nothing an answer
    // reads did. Re-armed, and the owner is not woken (issue #12 item 3).
    ++ancestor_only_;
    return;
  }
  if (on_change_) on_change_(*this);
}

}  // namespace mapidispatch::service
