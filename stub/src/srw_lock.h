// Copyright MapiDispatch authors.
//
//! \file
//! The lock of the stub's slow paths (binding, ownership, trace): a Windows SRW lock, usable
//! with std::lock_guard.

#ifndef MAPIDISPATCH_STUB_SRW_LOCK_H_
#define MAPIDISPATCH_STUB_SRW_LOCK_H_

#include <windows.h>

namespace mapidispatch::stub {

//! SRW locks need no initialisation, so nothing of this runs in DllMain. Not recursive.
class SrwLock {
 public:
  void lock() { ::AcquireSRWLockExclusive(&l_); }
  void unlock() { ::ReleaseSRWLockExclusive(&l_); }

 private:
  SRWLOCK l_ = SRWLOCK_INIT;
};

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_SRW_LOCK_H_
