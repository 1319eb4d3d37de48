// Copyright MapiDispatch authors.

#include "win/key_watch.h"

#include <algorithm>

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

// The first `n` components of a path, joined again.
std::wstring joined(const std::vector<std::wstring>& components, size_t n) {
  std::wstring out;
  for (size_t i = 0; i < n && i < components.size(); ++i) out += (i ? L"\\" : L"") + components[i];
  return out;
}

}  // namespace

KeyWatch::KeyWatch(boost::asio::io_context& io, HKEY root, std::wstring path, bool subtree, std::string label,
                   Callback on_change)
    : KeyWatch(io, root, std::vector<std::wstring>{std::move(path)}, subtree, std::move(label), std::move(on_change)) {}

KeyWatch::KeyWatch(boost::asio::io_context& io, HKEY root, std::vector<std::wstring> paths, bool subtree,
                   std::string label, Callback on_change)
    : root_(root),
      subtree_(subtree),
      label_(std::move(label)),
      on_change_(std::move(on_change)),
      // A signal is handled on the loop; a cancelled wait's (arm(), stop()) never is.
      event_(io, [this] { on_signal(boost::system::error_code()); }),
      // The notification must outlive nothing but the loop thread, which outlives every watch;
      // the flag just spares the system from tying it to that thread where it can.
      agnostic_flag_(REG_NOTIFY_THREAD_AGNOSTIC) {
  for (auto& p : paths) {
    Target t;
    t.components = split_path(p);
    targets_.push_back(std::move(t));
  }
}

KeyWatch::~KeyWatch() { stop(); }

void KeyWatch::set_kind(Kind kind) {
  if (kind == kind_) return;
  // kPresence registers the parent's path; every other kind the key's.
  for (Target& t : targets_) {
    if (kind == Kind::kPresence && t.leaf.empty() && !t.components.empty()) {
      t.leaf = std::move(t.components.back());
      t.components.pop_back();
    } else if (kind != Kind::kPresence && !t.leaf.empty()) {
      t.components.push_back(std::move(t.leaf));
      t.leaf.clear();
    }
  }
  kind_ = kind;
}

namespace {
bool deleted(HKEY key) {
  DWORD subkeys = 0;
  return key != nullptr && ::RegQueryInfoKeyW(key, nullptr, nullptr, nullptr, &subkeys, nullptr, nullptr, nullptr,
                                              nullptr, nullptr, nullptr, nullptr) == ERROR_KEY_DELETED;
}
}  // namespace

bool KeyWatch::key_deleted() const {
  if (!armed_) return false;
  return std::any_of(targets_.begin(), targets_.end(),
                     [](const Target& t) { return deleted(t.key.get()) || deleted(t.parent_key.get()); });
}

bool KeyWatch::watching_key() const {
  return armed_ && std::all_of(targets_.begin(), targets_.end(), [](const Target& t) { return t.at_key(); });
}

std::error_code KeyWatch::start() {
  stopped_ = false;
  if (!event_.valid()) return win_error(ERROR_INVALID_HANDLE);
  return arm();
}

void KeyWatch::close_all() {
  for (Target& t : targets_) {
    t.key.reset();  // closing the key also ends its notification
    t.parent_key.reset();
    t.leaf_key.reset();
  }
}

void KeyWatch::stop() {
  stopped_ = true;
  armed_ = false;
  event_.cancel();
  close_all();
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
  event_.cancel();
  // Close first (every target), reset after: closing a watched key signals its event.
  close_all();
  ::ResetEvent(event_.event());
  stamps_.clear();
  // Every target registers on the one event; the first that fails ends the arm (not armed: the
  // revalidation retries), as a single watch's failure did.
  for (Target& t : targets_) {
    if (std::error_code ec = arm_target(t, &t == &targets_.front())) {
      close_all();
      stamps_.clear();
      return ec;
    }
  }
  // Every registration resets the event (Windows' and Wine's alike: an asynchronous request
  // clears its event when it starts), so a registration that fired before a later one on the
  // same event lost its signal, and being fired, is registered no more. The last registration
  // cannot lose its signal that way; each earlier one is a subkey-names-only registration (a
  // parent, an ancestor) whose firing changes what RegQueryInfoKey reports of that key: if that
  // moved since just before its registration, the event is set here, and the wake-up re-arms
  // everything. A group member registered on its key itself (it appeared just now) sets it
  // too: the group's callback gives that user a watch of its own.
  bool lost = std::any_of(stamps_.begin(), stamps_.end(), [](const Stamp& st) {
    Stamp now{st.key};
    return !stamp(&now) || now.subkeys != st.subkeys || CompareFileTime(&now.written, &st.written) != 0;
  });
  if (targets_.size() > 1 && kind_ != Kind::kPresence)
    lost = lost || std::any_of(targets_.begin(), targets_.end(), [](const Target& t) { return t.at_key(); });
  // A presence target's key deleted and created again after its probe leaves its parent's
  // subkey count as it was, and its last write time too when both fall in one clock tick: the
  // handle the probe opened says so (the deleted key's handle answers ERROR_KEY_DELETED).
  for (Target& t : targets_) {
    lost = lost || deleted(t.leaf_key.get());
    t.leaf_key.reset();
  }
  stamps_.clear();
  if (lost) ::SetEvent(event_.event());
  if (std::error_code waiting = event_.wait()) {  // no thread-pool wait (out of memory): not armed
    event_.cancel();
    close_all();
    return waiting;
  }
  armed_ = true;
  return {};
}

bool KeyWatch::stamp(Stamp* st) {
  return ::RegQueryInfoKeyW(st->key, nullptr, nullptr, nullptr, &st->subkeys, nullptr, nullptr, nullptr, nullptr,
                            nullptr, nullptr, &st->written) == ERROR_SUCCESS;
}

LSTATUS KeyWatch::notify_names(HKEY key) {
  Stamp st{key};
  if (!stamp(&st)) st.subkeys = ~DWORD{0};  // unreadable: the check after the arm sets the event
  const LSTATUS rc = notify(key, FALSE, REG_NOTIFY_CHANGE_NAME, event_.event());
  if (rc == ERROR_SUCCESS) stamps_.push_back(st);
  return rc;
}

std::error_code KeyWatch::arm_target(Target& t, bool first) {
  std::error_code last;
  const auto& components = t.components;
  for (int attempt = 0; attempt < 4; ++attempt) {
    // The deepest existing key of the path, from the root: the key itself if it exists.
    t.key.reset();
    t.parent_key.reset();
    t.leaf_key.reset();
    t.depth = 0;
    t.present = false;
    for (size_t d = components.size(); d > 0; --d) {
      const std::wstring sub = joined(components, d);
      const LSTATUS rc = ::RegOpenKeyExW(root_, sub.c_str(), 0, KEY_NOTIFY | KEY_WOW64_64KEY, t.key.put());
      if (rc == ERROR_SUCCESS) {
        t.depth = d;
        break;
      }
      if (rc != ERROR_FILE_NOT_FOUND)
        log().debug("watch {}: RegOpenKeyEx {} failed: {} {}", label_, utf8(sub), rc, win_error(rc).message());
    }
    // kPresence: the registered path is the parent's, and reaching it is the key's "ancestor"
    // registration of every kind (subkey names), the key's presence probed after it.
    const bool at_key = t.depth == components.size() && kind_ != Kind::kPresence;
    const HKEY h = t.depth > 0 ? t.key.get() : root_;
    LSTATUS rc = ERROR_SUCCESS;
    if (at_key && t.depth > 0 && kind_ == Kind::kKeyAndDeletion) {
      // The parent first (subkey names only), for the key's own deletion; the key itself after
      // it, so that the parent's registration cannot reset a signal of the key's (arm()).
      HKEY parent = root_;
      if (t.depth > 1) {
        rc = ::RegOpenKeyExW(root_, joined(components, t.depth - 1).c_str(), 0, KEY_NOTIFY | KEY_WOW64_64KEY, t.parent_key.put());
        parent = t.parent_key.get();
      }
      if (rc == ERROR_SUCCESS) rc = notify_names(parent);
      if (rc == ERROR_FILE_NOT_FOUND) rc = ERROR_KEY_DELETED;  // the parent went in between
    }
    // The key: its values and subkeys (and the subtree's). An ancestor: only subkey creation
    // and deletion of its direct children matter, to see the path grow back.
    if (rc == ERROR_SUCCESS)
      rc = at_key ? notify(h, subtree_ ? TRUE : FALSE, REG_NOTIFY_CHANGE_NAME | REG_NOTIFY_CHANGE_LAST_SET, event_.event())
                  : notify_names(h);
    if (rc == ERROR_SUCCESS && kind_ == Kind::kPresence && t.depth == components.size()) {
      // The key itself, looked at once its parent's registration signals its creation and
      // deletion: whatever happens after this open signals the event.
      const std::wstring key = t.depth > 0 ? joined(components, t.depth) + L"\\" + t.leaf : t.leaf;
      // Kept open until arm() ends, to see the key deleted and created again meanwhile.
      const LSTATUS found = ::RegOpenKeyExW(root_, key.c_str(), 0, KEY_NOTIFY | KEY_WOW64_64KEY, t.leaf_key.put());
      // Any error but "not found" (access denied) counts as present, as the dispatcher's check
      // does: the user gets a watch of its own, whose failure is reported for that user alone.
      t.present = found != ERROR_FILE_NOT_FOUND;
      return {};
    }
    if (rc == ERROR_SUCCESS && !at_key) {
      // The next key of the path, created between the open above and the registration, would
      // signal nobody: look once more, now that a creation signals.
      const std::wstring next = joined(components, t.depth + 1);
      HKEY probe = nullptr;
      if (::RegOpenKeyExW(root_, next.c_str(), 0, KEY_NOTIFY | KEY_WOW64_64KEY, &probe) == ERROR_SUCCESS) {
        ::RegCloseKey(probe);
        // Ends this registration; its close may signal the event. Reset it if no other key is
        // registered on it yet; otherwise a reset could lose their real change, and the close
        // is a spurious wake-up at worst (a re-arm, and a callback only if a key exists).
        t.key.reset();
        stamps_.pop_back();  // this registration's, the last one made
        if (first) ::ResetEvent(event_.event());
        last = win_error(ERROR_KEY_DELETED);
        continue;  // open the deeper key (bounded by the attempts)
      }
    }
    if (rc == ERROR_SUCCESS) {
      t.present = at_key;
      if (!at_key)
        log().debug("watch {}: key absent; watching its ancestor at depth {} until it appears", label_, t.depth);
      return {};
    }
    last = win_error(rc);
    // Deleted between the open and the registration: open again from the root.
    if (rc != ERROR_KEY_DELETED) break;
  }
  t.key.reset();
  t.parent_key.reset();
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
  std::vector<bool> was_key;
  for (const Target& t : targets_) was_key.push_back(armed_ && t.at_key());
  // Re-arm first: whatever changes while the callback reads the registry signals again.
  if (const std::error_code rc = arm()) {
    events().error("watch {}: {}; the periodic revalidation retries", label_,
                   describe_failure("RegNotifyChangeKeyValue", rc));
  } else {
    // An ancestor's notification (a key created elsewhere under it) while none of the keys
    // existed before or exists now: nothing below any key changed. Re-armed, owner not woken.
    bool any_key = false;
    for (size_t i = 0; i < targets_.size(); ++i) any_key = any_key || was_key[i] || targets_[i].at_key();
    if (!any_key) {
      ++ancestor_only_;
      return;
    }
  }
  if (on_change_) on_change_(*this);
}

}  // namespace mapidispatch::service
