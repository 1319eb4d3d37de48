// Copyright MapiDispatch authors.
//
//! \file
//! RAII ownership of Win32 handles: one traits struct per close function (the WIL pattern).
//! Windows only.

#ifndef MAPIDISPATCH_WIN32_UNIQUE_HANDLE_H_
#define MAPIDISPATCH_WIN32_UNIQUE_HANDLE_H_

#ifndef _WIN32
#error "Windows only"
#endif

#include <windows.h>

#include <utility>

namespace mapidispatch::win32 {

//! Owns one handle of the kind Traits describes. Traits: `type`, `invalid()`, `is_valid(h)`,
//! `close(h)`. close() preserves the thread's last error, so code that captures GetLastError()
//! after an RAII object went out of scope still sees the failure it is reporting.
template <typename Traits>
class UniqueHandle {
 public:
  using Handle = typename Traits::type;

  UniqueHandle() noexcept = default;
  explicit UniqueHandle(Handle h) noexcept : h_(h) {}
  UniqueHandle(UniqueHandle&& o) noexcept : h_(o.release()) {}
  UniqueHandle& operator=(UniqueHandle&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { reset(); }

  Handle get() const noexcept { return h_; }
  bool is_valid() const noexcept { return Traits::is_valid(h_); }
  explicit operator bool() const noexcept { return is_valid(); }

  Handle release() noexcept { return std::exchange(h_, Traits::invalid()); }
  void reset(Handle h = Traits::invalid()) noexcept {
    if (Traits::is_valid(h_)) {
      const DWORD last_error = ::GetLastError();
      Traits::close(h_);
      ::SetLastError(last_error);
    }
    h_ = h;
  }
  //! For out-parameters of Win32 functions: closes what is owned, returns the slot.
  Handle* put() noexcept {
    reset();
    return &h_;
  }

 private:
  Handle h_ = Traits::invalid();
};

//! Kernel handles: both nullptr and INVALID_HANDLE_VALUE mean "none" (Win32 APIs disagree on
//! which they return on failure).
struct KernelHandleTraits {
  using type = HANDLE;
  static HANDLE invalid() noexcept { return nullptr; }
  static bool is_valid(HANDLE h) noexcept { return h != nullptr && h != INVALID_HANDLE_VALUE; }
  static void close(HANDLE h) noexcept { ::CloseHandle(h); }
};
using UniqueKernelHandle = UniqueHandle<KernelHandleTraits>;

struct MappedViewTraits {
  using type = const void*;
  static const void* invalid() noexcept { return nullptr; }
  static bool is_valid(const void* p) noexcept { return p != nullptr; }
  static void close(const void* p) noexcept { ::UnmapViewOfFile(p); }
};
using UniqueMappedView = UniqueHandle<MappedViewTraits>;

struct LocalAllocTraits {
  using type = void*;
  static void* invalid() noexcept { return nullptr; }
  static bool is_valid(void* p) noexcept { return p != nullptr; }
  static void close(void* p) noexcept { ::LocalFree(p); }
};
//! Memory the system allocated with LocalAlloc (security descriptors, SID strings).
using UniqueLocalMemory = UniqueHandle<LocalAllocTraits>;

}  // namespace mapidispatch::win32

#endif  // MAPIDISPATCH_WIN32_UNIQUE_HANDLE_H_
