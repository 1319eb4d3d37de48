// Copyright MapiDispatch authors.
//
// KeyWatch on the real registry, without the service: delivery, a key that does not exist yet,
// a key deleted and recreated, a change made from inside the callback. A scratch key under HKCU;
// every wait has a deadline. And EventWait's timeout, the service's timers.

#include <utility>  // before Boost (Boost 1.74 with GCC 12 in C++20)

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "win/event_wait.h"
#include "win/key_watch.h"

namespace mapidispatch::service {
namespace {

using namespace std::chrono_literals;

class KeyWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    base_ = L"Software\\MapiDispatchTest\\KeyWatch." + std::to_wstring(::GetCurrentProcessId()) + L"." +
            std::to_wstring(n++);
  }
  void TearDown() override { ::RegDeleteTreeW(HKEY_CURRENT_USER, base_.c_str()); ::RegDeleteKeyW(HKEY_CURRENT_USER, base_.c_str()); }

  bool set(const std::wstring& sub, const wchar_t* name, const std::wstring& value) {
    HKEY k = nullptr;
    if (::RegCreateKeyExW(HKEY_CURRENT_USER, (base_ + sub).c_str(), 0, nullptr, 0, KEY_SET_VALUE, nullptr, &k, nullptr) !=
        ERROR_SUCCESS)
      return false;
    const LSTATUS rc = ::RegSetValueExW(k, name, 0, REG_SZ, reinterpret_cast<const BYTE*>(value.c_str()),
                                        static_cast<DWORD>((value.size() + 1) * 2));
    ::RegCloseKey(k);
    return rc == ERROR_SUCCESS;
  }
  bool remove(const std::wstring& sub) {
    ::RegDeleteTreeW(HKEY_CURRENT_USER, (base_ + sub).c_str());
    const LSTATUS rc = ::RegDeleteKeyW(HKEY_CURRENT_USER, (base_ + sub).c_str());
    return rc == ERROR_SUCCESS || rc == ERROR_FILE_NOT_FOUND;
  }

  // Runs the loop until `done` holds (checked after every handler) or the deadline.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.restart();
      io_.run_one_for(deadline - std::chrono::steady_clock::now());
    }
    return true;
  }

  // Runs whatever `quiet` brought: a signal, had there been one, is handled by then.
  void drain(std::chrono::milliseconds quiet) {
    std::this_thread::sleep_for(quiet);
    io_.restart();
    io_.poll();
  }

  boost::asio::io_context io_;
  std::wstring base_;
};

TEST_F(KeyWatchTest, DeliversAValueChange) {
  ASSERT_TRUE(set(L"\\Mail", L"", L"first"));
  int calls = 0;
  KeyWatch w(io_, HKEY_CURRENT_USER, base_ + L"\\Mail", true, "test", [&](KeyWatch&) { ++calls; });
  ASSERT_FALSE(w.start());
  EXPECT_TRUE(w.watching_key());
  ASSERT_TRUE(set(L"\\Mail", L"", L"second"));
  ASSERT_TRUE(run_until([&] { return calls >= 1; })) << "no notification";
  EXPECT_TRUE(w.watching_key());
  // Subtree: a value of a subkey.
  const int before = calls;
  ASSERT_TRUE(set(L"\\Mail\\Client", L"DLLPath", L"C:\\x.dll"));
  ASSERT_TRUE(run_until([&] { return calls > before; })) << "no notification for the subtree";
}

TEST_F(KeyWatchTest, MissingKeyIsWatchedFromItsAncestorUntilItAppears) {
  ASSERT_TRUE(set(L"", L"marker", L"x"));  // the base exists, Clients\Mail below it does not
  int calls = 0;
  KeyWatch w(io_, HKEY_CURRENT_USER, base_ + L"\\Clients\\Mail", true, "test", [&](KeyWatch&) { ++calls; });
  ASSERT_FALSE(w.start());
  EXPECT_TRUE(w.armed());
  EXPECT_FALSE(w.watching_key());
  ASSERT_TRUE(set(L"\\Clients\\Mail", L"", L"client"));
  ASSERT_TRUE(run_until([&] { return w.watching_key(); })) << "the key's creation was not followed";
  const int before = calls;
  ASSERT_TRUE(set(L"\\Clients\\Mail", L"", L"other"));
  ASSERT_TRUE(run_until([&] { return calls > before; })) << "the created key is not watched";
}

// Issue #12 item 3: a write under the ancestor that is not the key (a vendor's key created
// where Clients\Mail does not exist yet) re-arms the watch and wakes nobody.
TEST_F(KeyWatchTest, AnAncestorsOtherChangesWakeNobody) {
  ASSERT_TRUE(set(L"", L"marker", L"x"));
  int calls = 0;
  KeyWatch w(io_, HKEY_CURRENT_USER, base_ + L"\\Clients\\Mail", true, "test", [&](KeyWatch&) { ++calls; });
  ASSERT_FALSE(w.start());
  ASSERT_FALSE(w.watching_key());
  ASSERT_TRUE(set(L"\\SomeVendor\\App", L"v", L"1"));
  ASSERT_TRUE(run_until([&] { return w.ancestor_only_notifications() >= 1; })) << "the ancestor's watch did not fire";
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(w.armed());
  // Still watching: the key's creation is a change.
  ASSERT_TRUE(set(L"\\Clients\\Mail", L"", L"client"));
  ASSERT_TRUE(run_until([&] { return calls >= 1 && w.watching_key(); })) << "the key's creation was not followed";
  // Created under Clients but not Mail itself, while Mail does not exist: nobody either.
  ASSERT_TRUE(remove(L"\\Clients\\Mail"));
  ASSERT_TRUE(run_until([&] { return calls >= 2 && !w.watching_key(); })) << "the deletion was not followed";
  const uint64_t quiet = w.ancestor_only_notifications();
  ASSERT_TRUE(set(L"\\Clients\\Calendar", L"", L"x"));
  ASSERT_TRUE(run_until([&] { return w.ancestor_only_notifications() > quiet; }));
  EXPECT_EQ(calls, 2);
}

// Several keys on one event (the service's group of users without Clients\Mail): an ancestor's
// other change wakes nobody, a key appearing calls back with at_key() saying which, and a key
// that exists is watched with its subtree like a single key's.
TEST_F(KeyWatchTest, SeveralKeysShareOneWatch) {
  ASSERT_TRUE(set(L"\\A", L"marker", L"x"));
  ASSERT_TRUE(set(L"\\B", L"marker", L"x"));
  int calls = 0;
  KeyWatch w(io_, HKEY_CURRENT_USER, std::vector<std::wstring>{base_ + L"\\A\\Mail", base_ + L"\\B\\Mail"}, true,
             "test", [&](KeyWatch&) { ++calls; });
  ASSERT_FALSE(w.start());
  ASSERT_EQ(w.keys(), 2u);
  EXPECT_FALSE(w.at_key(0));
  EXPECT_FALSE(w.at_key(1));
  ASSERT_TRUE(set(L"\\B\\Vendor", L"v", L"1"));
  ASSERT_TRUE(run_until([&] { return w.ancestor_only_notifications() >= 1; })) << "B's ancestor watch did not fire";
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(set(L"\\B\\Mail", L"", L"client"));
  ASSERT_TRUE(run_until([&] { return calls >= 1; })) << "B's key appearing did not call back";
  EXPECT_FALSE(w.at_key(0));
  EXPECT_TRUE(w.at_key(1));
  EXPECT_FALSE(w.watching_key()) << "watching_key() is every key's";
  int before = calls;
  ASSERT_TRUE(set(L"\\B\\Mail\\Client", L"DLLPath", L"C:\\x.dll"));
  ASSERT_TRUE(run_until([&] { return calls > before; })) << "B's subtree is not watched";
  before = calls;
  ASSERT_TRUE(set(L"\\A\\Mail", L"", L"client"));
  ASSERT_TRUE(run_until([&] { return calls > before && w.at_key(0); })) << "A's key appearing was not followed";
  EXPECT_TRUE(w.watching_key());
}

// kPresence (the service's groups of users): each key's parent for subkey names, never the key's
// content. A key's appearance and deletion call back with at_key() saying where each is; a
// sibling created beside a key calls back with every key where it was (the service then resolves
// nobody); a value written in a key does not call back at all.
TEST_F(KeyWatchTest, APresenceWatchSeesKeysComeAndGoNotTheirContent) {
  ASSERT_TRUE(set(L"\\A\\Clients\\Mail", L"", L"client"));
  ASSERT_TRUE(set(L"\\B", L"marker", L"x"));  // B has no Clients yet
  int calls = 0;
  KeyWatch w(io_, HKEY_CURRENT_USER,
             std::vector<std::wstring>{base_ + L"\\A\\Clients\\Mail", base_ + L"\\B\\Clients\\Mail"}, true, "test",
             [&](KeyWatch&) { ++calls; });
  w.set_kind(KeyWatch::Kind::kPresence);
  ASSERT_FALSE(w.start());
  EXPECT_TRUE(w.at_key(0));
  EXPECT_FALSE(w.at_key(1));
  // A's content: not this watch's.
  ASSERT_TRUE(set(L"\\A\\Clients\\Mail", L"", L"another"));
  ASSERT_TRUE(set(L"\\A\\Clients\\Mail\\Client", L"DLLPath", L"C:\\x.dll"));
  // A sibling of A's key: a callback, every key where it was.
  ASSERT_TRUE(set(L"\\A\\Clients\\Calendar", L"", L"x"));
  ASSERT_TRUE(run_until([&] { return calls >= 1; })) << "a sibling's creation did not signal";
  EXPECT_TRUE(w.at_key(0));
  EXPECT_FALSE(w.at_key(1));
  // The content writes above came before the sibling: had they signalled, they would have been
  // consumed with it. After it, only they: nothing more may come.
  const int after_sibling = calls;
  ASSERT_TRUE(set(L"\\A\\Clients\\Mail", L"", L"third"));
  drain(300ms);
  EXPECT_EQ(calls, after_sibling) << "a value written in a key reached a presence watch";
  // B's key appears (its Clients with it).
  ASSERT_TRUE(set(L"\\B\\Clients\\Mail", L"", L"client"));
  ASSERT_TRUE(run_until([&] { return w.at_key(1); })) << "B's key appearing was not followed";
  EXPECT_GT(calls, after_sibling);
  // A's key goes.
  ASSERT_TRUE(remove(L"\\A\\Clients\\Mail"));
  ASSERT_TRUE(run_until([&] { return !w.at_key(0); })) << "A's key going was not followed";
  EXPECT_TRUE(w.at_key(1));
  // And comes back.
  ASSERT_TRUE(set(L"\\A\\Clients\\Mail", L"", L"back"));
  ASSERT_TRUE(run_until([&] { return w.at_key(0); })) << "A's key coming back was not followed";
}

// A key a watch registered on deleted without a signal (here the parent a presence watch waits
// on, Clients, deleted while its Mail does not exist: nothing signals a deleted key's watchers):
// key_deleted() says the watch is blind, which the service's revalidation asks, and start()
// watches from what exists again, so the key's later creation is seen.
TEST_F(KeyWatchTest, AWatchWhoseRegisteredKeyIsDeletedKnowsItIsBlind) {
  ASSERT_TRUE(set(L"\\A\\Clients", L"marker", L"x"));
  int calls = 0;
  KeyWatch w(io_, HKEY_CURRENT_USER, std::vector<std::wstring>{base_ + L"\\A\\Clients\\Mail"}, true, "test",
             [&](KeyWatch&) { ++calls; });
  w.set_kind(KeyWatch::Kind::kPresence);
  ASSERT_FALSE(w.start());
  EXPECT_FALSE(w.at_key(0));
  EXPECT_FALSE(w.key_deleted());
  ASSERT_TRUE(remove(L"\\A\\Clients"));
  run_until([] { return false; }, 200ms);  // a signal, had there been one, handled (re-armed)
  ASSERT_TRUE(w.key_deleted()) << "the watch does not know that Clients, which it waits on, is gone";
  ASSERT_FALSE(w.start());
  EXPECT_FALSE(w.key_deleted());
  ASSERT_TRUE(set(L"\\A\\Clients\\Mail", L"", L"client"));
  ASSERT_TRUE(run_until([&] { return w.at_key(0); })) << "the key's creation after start() was not seen";
  EXPECT_GE(calls, 1);
}

// kKeyOnly (a user's own watch): the key's content; its deletion is not signalled (a presence
// watch sees it), but key_deleted() says the watch is blind, and start() watches again.
TEST_F(KeyWatchTest, AKeyOnlyWatchKnowsWhenItsKeyIsGone) {
  ASSERT_TRUE(set(L"\\Clients\\Mail", L"", L"client"));
  int calls = 0;
  KeyWatch w(io_, HKEY_CURRENT_USER, base_ + L"\\Clients\\Mail", true, "test", [&](KeyWatch&) { ++calls; });
  w.set_kind(KeyWatch::Kind::kKeyOnly);
  ASSERT_FALSE(w.start());
  EXPECT_TRUE(w.watching_key());
  EXPECT_FALSE(w.key_deleted());
  ASSERT_TRUE(set(L"\\Clients\\Mail", L"", L"other"));
  ASSERT_TRUE(run_until([&] { return calls >= 1; })) << "no notification";
  // A sibling: not this watch's (its parent is not registered).
  const int before = calls;
  ASSERT_TRUE(set(L"\\Clients\\Calendar", L"", L"x"));
  drain(300ms);
  EXPECT_EQ(calls, before) << "a sibling of the key reached a key-only watch";
  // Deleted and created again: the watch held the old key.
  ASSERT_TRUE(remove(L"\\Clients\\Mail"));
  ASSERT_TRUE(set(L"\\Clients\\Mail", L"", L"new"));
  EXPECT_TRUE(w.key_deleted());
  ASSERT_FALSE(w.start());
  EXPECT_FALSE(w.key_deleted());
  const int restarted = calls;
  ASSERT_TRUE(set(L"\\Clients\\Mail", L"", L"newer"));
  ASSERT_TRUE(run_until([&] { return calls > restarted; })) << "the new key is not watched after start()";
}

TEST_F(KeyWatchTest, DeletedKeyIsFollowedUntilRecreated) {
  ASSERT_TRUE(set(L"\\Mail\\Client", L"DLLPath", L"C:\\a.dll"));
  int calls = 0;
  KeyWatch w(io_, HKEY_CURRENT_USER, base_ + L"\\Mail", true, "test", [&](KeyWatch&) { ++calls; });
  ASSERT_FALSE(w.start());
  ASSERT_TRUE(remove(L"\\Mail"));
  ASSERT_TRUE(run_until([&] { return calls >= 1 && !w.watching_key(); })) << "the deletion was not followed";
  EXPECT_TRUE(w.armed());
  ASSERT_TRUE(set(L"\\Mail", L"", L"back"));
  ASSERT_TRUE(run_until([&] { return w.watching_key(); })) << "the recreation was not followed";
  const int before = calls;
  ASSERT_TRUE(set(L"\\Mail", L"", L"changed"));
  ASSERT_TRUE(run_until([&] { return calls > before; })) << "the recreated key is not watched";
}

// Registering a notification resets its event, and a fired registration is registered no more:
// a watch whose registrations share one event must not lose one that fired while it re-armed.
// Another thread writes without pause while the watch re-arms after each signal (a key and its
// parent; then a group of two ancestors, the first of which keeps getting subkeys; then a
// presence group of two parents, the first of which keeps getting siblings of its key); once it
// stops, the watch must still see a last change (the key's value; the first member's key). Before the fix (the key registered before its parent, no
// check of the parent), the key watch went deaf within a few hundred writes.
TEST_F(KeyWatchTest, RapidWritesNeverLeaveTheWatchDeaf) {
  ASSERT_TRUE(set(L"\\Mail", L"", L"0"));
  for (int round = 0; round < 3; ++round) {
    const bool group = round >= 1;
    const bool presence = round == 2;
    // The group's members: A\Mail and B\Mail (round 1), A\Clients\Mail and B\Clients\Mail
    // (round 2, whose parents exist).
    const std::wstring mid = presence ? L"\\Clients" : L"";
    if (group) {
      ASSERT_TRUE(set(L"\\A" + mid, L"marker", L"x"));
      ASSERT_TRUE(set(L"\\B" + mid, L"marker", L"x"));
    }
    int calls = 0;
    uint64_t wakeups_before = 0;
    const auto count = [&](KeyWatch&) { ++calls; };
    auto watch = group ? std::make_unique<KeyWatch>(
                             io_, HKEY_CURRENT_USER,
                             std::vector<std::wstring>{base_ + L"\\A" + mid + L"\\Mail", base_ + L"\\B" + mid + L"\\Mail"},
                             true, "test", count)
                       : std::make_unique<KeyWatch>(io_, HKEY_CURRENT_USER, base_ + L"\\Mail", true, "test", count);
    KeyWatch& w = *watch;
    if (presence) w.set_kind(KeyWatch::Kind::kPresence);
    ASSERT_FALSE(w.start());
    std::atomic<bool> stop{false};
    std::atomic<int> writes{0};
    std::thread writer([&] {
      // The key's values (round 0); subkeys created and deleted under ancestor A (round 1).
      // Bounded (the first run wrote some 40,000 values in its seconds): a few thousand re-arms
      // are plenty, and the prefix's registry need not grow by tens of thousands of writes.
      for (int i = 0; !stop.load() && i < 3000; ++i) {
        if (group) {
          set(L"\\A" + mid + L"\\Vendor" + std::to_wstring(i % 4), L"v", std::to_wstring(i));
          if (i % 4 == 3)
            for (int k = 0; k < 4; ++k) remove(L"\\A" + mid + L"\\Vendor" + std::to_wstring(k));
        } else {
          set(L"\\Mail", L"", std::to_wstring(i));
          set(L"\\Mail\\Client" + std::to_wstring(i % 3), L"DLLPath", L"C:\\x.dll");
        }
        writes.fetch_add(1);
      }
    });
    run_until([&] { return writes.load() >= 1500; }, 20s);
    stop.store(true);
    writer.join();
    run_until([] { return false; }, 300ms);  // the last signals handled
    wakeups_before = w.notifications();
    const int before = calls;
    // In the group, A's: registered first, so any later registration's reset could have hit it.
    if (group) ASSERT_TRUE(set(L"\\A" + mid + L"\\Mail", L"", L"appeared"));
    else ASSERT_TRUE(set(L"\\Mail", L"", L"last"));
    EXPECT_TRUE(run_until([&] { return calls > before && (!group || w.at_key(0)); }, 5s))
        << (presence ? "the presence group" : group ? "the group" : "the key") << " watch is deaf after " << writes.load() << " writes ("
        << wakeups_before << " notifications)";
  }
}

TEST_F(KeyWatchTest, ChangeMadeInsideTheCallbackIsNotLost) {
  ASSERT_TRUE(set(L"\\Mail", L"", L"0"));
  int calls = 0;
  KeyWatch w(io_, HKEY_CURRENT_USER, base_ + L"\\Mail", true, "test", [&](KeyWatch&) {
    // The watch is re-armed before this runs: this write must signal again.
    if (++calls == 1) set(L"\\Mail", L"", L"from the callback");
  });
  ASSERT_FALSE(w.start());
  ASSERT_TRUE(set(L"\\Mail", L"", L"1"));
  ASSERT_TRUE(run_until([&] { return calls >= 2; })) << "the change made in the callback was lost";
}

TEST_F(KeyWatchTest, StopCancelsAndLateCompletionsDoNothing) {
  ASSERT_TRUE(set(L"\\Mail", L"", L"0"));
  int calls = 0;
  {
    KeyWatch w(io_, HKEY_CURRENT_USER, base_ + L"\\Mail", true, "test", [&](KeyWatch&) { ++calls; });
    ASSERT_FALSE(w.start());
    ASSERT_TRUE(set(L"\\Mail", L"", L"1"));  // may complete a wait that is queued when w dies
  }
  // Whatever was queued runs now, against a destroyed watch: it must do nothing.
  bool drained = false;
  boost::asio::post(io_, [&] { drained = true; });
  ASSERT_TRUE(run_until([&] { return drained; }));
  io_.restart();
  io_.poll();
  EXPECT_EQ(calls, 0);
}

// EventWait::wait_for is the service's debounce and revalidation timer: the handler runs once
// when the time is up, on the loop's thread; cancel() and a new wait_for() drop the old one.
TEST_F(KeyWatchTest, AnEventWaitTimesOutOnceAndCancelDropsIt) {
  int fired = 0;
  EventWait timer(io_, [&] { ++fired; });
  ASSERT_TRUE(timer.valid());

  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_FALSE(timer.wait_for(60ms));
  ASSERT_TRUE(run_until([&] { return fired == 1; })) << "the timeout never ran the handler";
  // Not before its time (the thread pool's clock may round a tick down: 50 of the 60 ms).
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  drain(200ms);
  EXPECT_EQ(fired, 1) << "a one-shot timeout ran twice";

  // Cancelled before its time: never runs, and no longer keeps the loop busy.
  ASSERT_FALSE(timer.wait_for(150ms));
  timer.cancel();
  drain(400ms);
  EXPECT_EQ(fired, 1);
  io_.restart();
  io_.run_for(100ms);  // returns at once, stopped, when nothing is left to wait for
  EXPECT_TRUE(io_.stopped()) << "a cancelled timer still counts as work";

  // A new wait_for replaces one still armed: only the new one runs.
  ASSERT_FALSE(timer.wait_for(10min));
  ASSERT_FALSE(timer.wait_for(0ms));
  ASSERT_TRUE(run_until([&] { return fired == 2; })) << "a zero timeout did not run at once";
  drain(200ms);
  EXPECT_EQ(fired, 2);
}

}  // namespace
}  // namespace mapidispatch::service
