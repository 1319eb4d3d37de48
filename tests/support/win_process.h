// Copyright MapiDispatch authors.
//
//! \file
//! CreateProcessW for test harnesses, tolerant of one known Wine fault.
//!
//! Under Wine 8 on a loaded two-core CI machine, CreateProcessW occasionally fails with
//! ERROR_INTERNAL_ERROR (1359) before the child exists: the wineserver could not complete the
//! new process's start-up. It is not something the code under test did, and the same call a
//! moment later succeeds. Tests that spawn children retry that one error a few times, and say so
//! on stderr so that a CI log shows every retry; any other error fails at once.

#ifndef MAPIDISPATCH_TESTS_SUPPORT_WIN_PROCESS_H_
#define MAPIDISPATCH_TESTS_SUPPORT_WIN_PROCESS_H_

#ifdef _WIN32
#include <windows.h>

#include <cstdio>
#include <string>

namespace mapidispatch::test {

//! CreateProcessW(nullptr, command, ...) with `inherit_handles` and `startup`; on success fills
//! `info` and returns true. On failure returns false with the last error set by the final attempt.
inline bool create_process_retrying(std::wstring command, bool inherit_handles, STARTUPINFOW* startup,
                                    PROCESS_INFORMATION* info) {
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    // CreateProcessW may write into the command line buffer: give each attempt a fresh copy.
    std::wstring buffer = command;
    if (::CreateProcessW(nullptr, buffer.data(), nullptr, nullptr, inherit_handles ? TRUE : FALSE, 0, nullptr,
                         nullptr, startup, info)) {
      return true;
    }
    const DWORD error = ::GetLastError();
    if (error != ERROR_INTERNAL_ERROR || attempt == kAttempts) {
      ::SetLastError(error);
      return false;
    }
    std::fprintf(stderr, "CreateProcessW: ERROR_INTERNAL_ERROR (a Wine start-up fault), attempt %d of %d; retrying\n",
                 attempt, kAttempts);
    ::Sleep(100 * attempt);
  }
}

}  // namespace mapidispatch::test

#endif  // _WIN32
#endif  // MAPIDISPATCH_TESTS_SUPPORT_WIN_PROCESS_H_
