// Copyright MapiDispatch authors.
//
// KeyWatch on the real registry, without the service: delivery, a key that does not exist yet,
// a key deleted and recreated, a change made from inside the callback. A scratch key under HKCU;
// every wait has a deadline.

#include <utility>  // before Boost (Boost 1.74 with GCC 12 in C++20)

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

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

}  // namespace
}  // namespace mapidispatch::service
