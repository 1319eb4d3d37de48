// Copyright MapiDispatch authors.
//
//! \file
//! Who owns what a provider handed out: a Simple MAPI (or CMC) session stays with the provider
//! that opened it, and a buffer a Simple MAPI call returned goes back to the provider that
//! allocated it (MAPILogoff and MAPIFreeBuffer reach the right DLL after a rebind). Also the
//! stub's own allocator, for MAPIAllocateBuffer calls nothing else serves.
//!
//! What the per-call paths pay for it:
//! - Sessions: with none open, one relaxed load (HotState::session_count). With sessions open
//!   that all belong to the provider a call would go to anyway (the usual case: one mail client),
//!   one more load and compare (HotState::session_procs). Only otherwise is the handle looked up,
//!   under the lock.
//! - Buffers: with none outstanding, one relaxed load (HotState::buffer_count). Recording one is
//!   a compare-exchange into a fixed table and taking it back a probe of four slots (one cache
//!   line) and a store, each with an atomic add to the count: no lock, no allocation, no call.
//! Relaxed loads of those words are enough: a handle or a buffer reaches its caller only after
//! the call that recorded it (and stored those words) returned, so whatever made the handle known
//! to a thread also made those stores visible to it.

#ifndef MAPIDISPATCH_STUB_OWNERSHIP_H_
#define MAPIDISPATCH_STUB_OWNERSHIP_H_

#include <windows.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "hot_path.h"
#include "provider.h"

namespace mapidispatch::stub {

//! Who owns a Simple MAPI session handle or a buffer a Simple MAPI call returned.
void remember_session(uintptr_t session, Provider* p) noexcept;
Provider* session_owner_slow(uintptr_t session) noexcept;
//! The provider of an open session; nullptr for 0 or an unknown handle. With no session open it
//! costs one relaxed load.
MD_HOT_INLINE Provider* session_owner(uintptr_t session) noexcept {
  if (session == 0 || g_hot.session_count.load(std::memory_order_relaxed) == 0) return nullptr;
  return session_owner_slow(session);
}
void forget_session(uintptr_t session) noexcept;

// ---- Buffer records -----------------------------------------------------------------------------
// A Simple MAPI client reads a message and frees it: a record lives for one round trip, and a
// process has a handful outstanding. So the records live in a fixed table of buckets of four
// slots, each bucket within one cache line, in the DLL's zero-initialized data (16 KB on x64,
// 8 KB on x86, touched only when used). Recording checks the bucket's first slot and compares
// the three others, then one compare-exchange; taking a record back compares the first slot
// (then the others) and stores. Both are inline in the exports that use them: the
// pair is the whole cost a Simple MAPI buffer adds to MAPIReadMail and MAPIFreeBuffer (README,
// "The stub's per-call cost"). A record that finds its bucket full goes to an overflow map,
// under a lock, which the inline paths consult only while it holds something.
namespace detail {
struct BufferSlot {
  std::atomic<const void*> key{nullptr};  //!< nullptr: free
  std::atomic<Provider*> owner{nullptr};  //!< Valid while key is set; stored after it is claimed.
};
inline constexpr size_t kBucketSlots = 4;
inline constexpr unsigned kBucketBits = 8;
// Aligned to its own size (64 bytes on x64, 32 on x86): within one cache line, and with no
// padding for the alignment to add (MSVC's C4324).
struct alignas(kBucketSlots * sizeof(BufferSlot)) BufferBucket {
  BufferSlot slots[kBucketSlots];
};
static_assert(sizeof(BufferBucket) == kBucketSlots * sizeof(BufferSlot) && sizeof(BufferBucket) <= 64);
extern constinit BufferBucket g_buffer_buckets[size_t{1} << kBucketBits];
//! Records in the overflow map (ownership.cpp); 0 nearly always.
extern constinit std::atomic<size_t> g_buffer_overflow;

MD_HOT_INLINE BufferBucket& bucket_of(const void* buffer) noexcept {
  // Heap blocks are 8- or 16-byte aligned: drop those bits, fold the upper half in (x64), and take
  // the top bits of a multiplicative hash. 32-bit arithmetic: cheap on x86 as well.
  const uint64_t a = reinterpret_cast<uintptr_t>(buffer);
  const uint32_t h = static_cast<uint32_t>(a >> 4) ^ static_cast<uint32_t>(a >> 36);
  return g_buffer_buckets[(h * 0x9E3779B1u) >> (32 - kBucketBits)];
}

// The out-of-line parts: everything remember_buffer() does not do inline, and the overflow map's
// part of taking a record back.
bool remember_buffer_slow(const void* buffer, Provider* p) noexcept;
Provider* take_buffer_owner_slow(const void* buffer) noexcept;
}  // namespace detail

//! Records who frees `buffer`; false if it could not (null, or out of memory). A buffer recorded
//! twice without being taken keeps its last owner.
MD_HOT_INLINE bool remember_buffer(const void* buffer, Provider* p) noexcept {
  using namespace detail;
  if (buffer == nullptr) return false;
  if (g_buffer_overflow.load(std::memory_order_acquire) != 0) return remember_buffer_slow(buffer, p);
  // The usual case, inline: the bucket's first slot free and no record of this buffer in the
  // others. Everything else (another free slot, a buffer recorded already, which gets its new
  // owner, a full bucket, a slot another thread claimed first) is the slow path's.
  static_assert(kBucketSlots == 4);
  BufferSlot* const s = bucket_of(buffer).slots;
  if (s[0].key.load(std::memory_order_acquire) != nullptr || s[1].key.load(std::memory_order_acquire) == buffer ||
      s[2].key.load(std::memory_order_acquire) == buffer || s[3].key.load(std::memory_order_acquire) == buffer) [[unlikely]]
    return remember_buffer_slow(buffer, p);
  // Claim the slot, then name the owner. Only a thread handed this buffer later looks for it,
  // so no one reads the slot between the two stores and needs the owner. Counted before the
  // buffer reaches the caller, so the count never falls below the records a thread can take.
  const void* expected = nullptr;
  if (!s[0].key.compare_exchange_strong(expected, buffer, std::memory_order_acq_rel, std::memory_order_relaxed)) [[unlikely]]
    return remember_buffer_slow(buffer, p);
  s[0].owner.store(p, std::memory_order_release);
  g_hot.buffer_count.fetch_add(1, std::memory_order_relaxed);
  return true;
}

//! The bucket slot that records `buffer`, or nullptr (no record outstanding, or none in its
//! bucket: the overflow map may still hold one, see take_buffer_owner()). With no record
//! outstanding it costs one relaxed load; otherwise one pass over a bucket.
MD_HOT_INLINE detail::BufferSlot* find_buffer_slot(const void* buffer) noexcept {
  using namespace detail;
  if (buffer == nullptr || g_hot.buffer_count.load(std::memory_order_relaxed) == 0) return nullptr;
  // The bucket's first slot, then the others: with a handful of records outstanding a record
  // is nearly always alone in its bucket, and found without a taken branch. Acquire on the
  // keys: the owner stored after the slot was claimed is visible when the record is for a buffer
  // this thread was handed (see the file comment).
  BufferSlot* const s = bucket_of(buffer).slots;
  if (s[0].key.load(std::memory_order_acquire) == buffer) [[likely]]
    return &s[0];
  for (size_t i = 1; i < kBucketSlots; ++i)
    if (s[i].key.load(std::memory_order_acquire) == buffer) return &s[i];
  return nullptr;
}

//! Takes the record in `slot` (find_buffer_slot()) and returns its owner.
MD_HOT_INLINE Provider* take_buffer_slot(detail::BufferSlot* slot) noexcept {
  Provider* p = slot->owner.load(std::memory_order_acquire);
  // Release: the owner read above is done before another thread may claim the slot.
  slot->key.store(nullptr, std::memory_order_release);
  g_hot.buffer_count.fetch_sub(1, std::memory_order_relaxed);
  return p;
}

//! Takes the record of `buffer` from the overflow map; nullptr when it holds none. One relaxed
//! load while the map is empty.
MD_HOT_INLINE Provider* take_overflow_owner(const void* buffer) noexcept {
  if (buffer == nullptr || detail::g_buffer_overflow.load(std::memory_order_acquire) == 0) return nullptr;
  return detail::take_buffer_owner_slow(buffer);
}

//! Takes the record of `buffer` and returns its owner, or nullptr when it has none (memory of the
//! Extended MAPI provider, or of a provider that cannot free).
MD_HOT_INLINE Provider* take_buffer_owner(const void* buffer) noexcept {
  if (detail::BufferSlot* s = find_buffer_slot(buffer)) return take_buffer_slot(s);
  return take_overflow_owner(buffer);
}

//! The owner of `buffer`'s record without taking it, or nullptr (MAPIAllocateMore's question).
Provider* peek_buffer_owner(const void* buffer) noexcept;

//! The stub's own MAPI allocator, for MAPIAllocateBuffer / MAPIAllocateMore calls that no
//! Extended MAPI provider serves: a provider such as Wine's winemapi.dll imports
//! MAPIAllocateBuffer from mapi32.dll (this stub) even where no Extended provider is configured.
//! Its buffers are recorded with the owner own_allocator(), so MAPIFreeBuffer frees them here
//! (with every MAPIAllocateMore block linked to them) and never hands them to a provider.
//! Costs nothing until used: buffer_count stays 0.
//! An address only, never a Provider object: no proc() is ever asked of it (MAPIFreeBuffer,
//! cmc_free and own_allocate_more recognise it first).
alignas(Provider) inline constinit char g_own_allocator_tag = 0;
MD_HOT_INLINE Provider* own_allocator() noexcept { return reinterpret_cast<Provider*>(&g_own_allocator_tag); }
//! SCODE-style: 0 and *out set, or MAPI_E_NOT_ENOUGH_MEMORY (0x8007000E) and *out = nullptr.
HRESULT own_allocate_buffer(uint32_t size, void** out) noexcept;
//! Allocates a block linked to `root` (a buffer own_allocate_buffer returned): false if `root`
//! is not one, so the caller hands the call to a provider instead.
//! Callers skip it while HotState::buffer_count is 0 (no own buffer is outstanding then).
bool own_allocate_more(uint32_t size, const void* root, void** out, HRESULT* result) noexcept;
//! Frees a buffer own_allocate_buffer returned and every block linked to it (its owner record
//! already taken by take_buffer_owner()).
void own_free(void* root) noexcept;

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_OWNERSHIP_H_
