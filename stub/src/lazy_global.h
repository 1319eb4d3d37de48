// Copyright MapiDispatch authors.
//
//! \file
//! The stub's process-wide state objects: constructed on first use, never in DllMain, and
//! destroyed when the DLL is unloaded, as a function-local static would be.

#ifndef MAPIDISPATCH_STUB_LAZY_GLOBAL_H_
#define MAPIDISPATCH_STUB_LAZY_GLOBAL_H_

#include <windows.h>

#include <cstdlib>
#include <new>

namespace mapidispatch::stub {

namespace detail {
template <typename T>
struct LazyGlobalStorage {
  alignas(T) static inline unsigned char bytes[sizeof(T)];
  static inline INIT_ONCE once = INIT_ONCE_STATIC_INIT;
  static T* object() { return std::launder(reinterpret_cast<T*>(bytes)); }
  static void destroy() { object()->~T(); }
  static BOOL CALLBACK construct(PINIT_ONCE, PVOID, PVOID*) {
    new (bytes) T();
    std::atexit(&destroy);
    return TRUE;
  }
};
}  // namespace detail

//! The one T of the process, constructed by its first caller through the system's one-time
//! initialisation (InitOnceExecuteOnce: concurrent first callers wait for it) and destroyed at
//! unload (atexit, which a DLL's CRT runs when the DLL is unloaded). Not a function-local static:
//! the first use of libstdc++'s guard for one starts winpthreads, tens of microseconds of a
//! process's first call, so nothing on the first call's path uses such a guard. The storage and
//! the INIT_ONCE are constant-initialised (no guard either).
template <typename T>
T& lazy_global() noexcept {
  using S = detail::LazyGlobalStorage<T>;
  ::InitOnceExecuteOnce(&S::once, &S::construct, nullptr, nullptr);
  return *S::object();
}

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_LAZY_GLOBAL_H_
