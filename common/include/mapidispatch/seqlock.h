// Copyright MapiDispatch authors.
//
//! \file
//! A one-writer sequence lock over shared memory that readers map read-only.
//!
//! The protocol (Boehm, "Can seqlocks get along with programming language memory models?",
//! 2012; the shape of Chromium's one_writer_seqlock and of the Linux vDSO):
//!
//! \code
//!   writer                                   reader
//!   s = count (relaxed; only writer)         s1 = count.load(acquire)       (odd: retry)
//!   count.store(next_odd(s), relaxed)        copy data words (relaxed)
//!   fence(release)                           fence(acquire)
//!   store data words (relaxed)               s2 = count.load(relaxed)
//!   count.store(odd + 1, release)            s1 == s2: the copy is consistent
//! \endcode
//!
//! All shared data is accessed as 32-bit relaxed atomics, so concurrent access is never a data
//! race in the C++ sense; ordering comes only from the fences and the acquire/release on the
//! count. Both fences are real fences (DMB on ARM64), not compiler barriers: an x86-only
//! compiler fence would let an ARM64 reader see data stores before the odd count.
//!
//! Readers never write: every operation here that a reader uses is a load, legal on a page
//! mapped read-only.

#ifndef MAPIDISPATCH_SEQLOCK_H_
#define MAPIDISPATCH_SEQLOCK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mapidispatch::seqlock {

static_assert(std::atomic_ref<uint32_t>::is_always_lock_free,
              "the table needs address-free 32-bit atomics in shared memory");
static_assert(std::atomic_ref<uint32_t>::required_alignment == 4);

//! Atomic view of one 32-bit word of shared memory. The const_cast is sound: readers only
//! load through it, and a load does not write the page.
inline std::atomic_ref<uint32_t> word(const uint32_t* p) noexcept {
  return std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(p));
}

// ---- Reader side ----------------------------------------------------------------------------

//! The count, as the reader's first load of a read (and the whole of the "nothing changed"
//! fast path). Acquire: every load this thread performs after it (the data copy, or the use of
//! a private copy taken under this same count) is ordered after it, so it cannot see data older
//! than the count it compared.
inline uint32_t read_begin(const uint32_t* count) noexcept {
  return word(count).load(std::memory_order_acquire);
}

//! True if a write began or ended since `begin` was loaded, or one was in progress then: the data
//! copied since is not to be used.
inline bool read_retry(const uint32_t* count, uint32_t begin) noexcept {
  // Acquire fence: orders the data loads above before the count load below. If any of them saw
  // a value stored after the writer's release fence in write_begin(), that fence synchronizes
  // with this one, so the count load below sees at least the odd count and the read retries.
  std::atomic_thread_fence(std::memory_order_acquire);
  return (begin & 1u) != 0 || word(count).load(std::memory_order_relaxed) != begin;
}

//! Copies `bytes` (a multiple of 4) of shared memory at `src` (4-aligned) to private memory.
inline void copy_out(void* dst, const std::byte* src, size_t bytes) noexcept {
  auto* out = static_cast<std::byte*>(dst);
  const auto* in = reinterpret_cast<const uint32_t*>(src);
  for (size_t i = 0; i < bytes / 4; ++i) {
    const uint32_t v = word(in + i).load(std::memory_order_relaxed);
    std::memcpy(out + i * 4, &v, 4);
  }
}

// ---- Writer side (one writer at a time, enforced by the caller) -------------------------------

//! Marks a write in progress and returns the odd count it stored. An odd count left by a writer
//! that died mid-write is moved on to the next odd value, so the count still only grows.
inline uint32_t write_begin(uint32_t* count) noexcept {
  // Relaxed: only this writer stores the count, so it reads its own last store.
  const uint32_t s = word(count).load(std::memory_order_relaxed);
  const uint32_t odd = (s & 1u) ? s + 2 : s + 1;
  word(count).store(odd, std::memory_order_relaxed);
  // Release fence: makes the odd count visible before any data store that follows. A reader that
  // sees one of those stores also sees, in its final count load, a count other than its first.
  std::atomic_thread_fence(std::memory_order_release);
  return odd;
}

//! Copies `bytes` (a multiple of 4) of private memory to shared memory at `dst` (4-aligned).
inline void copy_in(std::byte* dst, const void* src, size_t bytes) noexcept {
  const auto* in = static_cast<const std::byte*>(src);
  auto* out = reinterpret_cast<uint32_t*>(dst);
  for (size_t i = 0; i < bytes / 4; ++i) {
    uint32_t v;
    std::memcpy(&v, in + i * 4, 4);
    word(out + i).store(v, std::memory_order_relaxed);
  }
}

//! Ends the write begun by write_begin() (which returned `odd`).
inline void write_end(uint32_t* count, uint32_t odd) noexcept {
  // Release: makes every data store of this write visible before the even count. A reader whose
  // acquire load in read_begin() sees this count also sees all of this write's data.
  word(count).store(odd + 1, std::memory_order_release);
}

}  // namespace mapidispatch::seqlock

#endif  // MAPIDISPATCH_SEQLOCK_H_
