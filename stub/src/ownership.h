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
//!   a compare-exchange into a fixed table and taking it back a probe of eight slots and a store,
//!   each with an atomic add to the count: no lock, no allocation.
//! Relaxed loads of those words are enough: a handle or a buffer reaches its caller only after
//! the call that recorded it (and stored those words) returned, so whatever made the handle known
//! to a thread also made those stores visible to it.

#ifndef MAPIDISPATCH_STUB_OWNERSHIP_H_
#define MAPIDISPATCH_STUB_OWNERSHIP_H_

#include <windows.h>

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

//! Records who frees `buffer`; false if it could not (null, or out of memory). A buffer recorded
//! twice without being taken keeps its last owner.
bool remember_buffer(const void* buffer, Provider* p) noexcept;
Provider* take_buffer_owner_slow(const void* buffer) noexcept;
//! Takes the record of `buffer` and returns its owner, or nullptr when it has none (memory of the
//! Extended MAPI provider, or of a provider that cannot free). With no record outstanding it
//! costs one relaxed load.
MD_HOT_INLINE Provider* take_buffer_owner(const void* buffer) noexcept {
  if (buffer == nullptr || g_hot.buffer_count.load(std::memory_order_relaxed) == 0) return nullptr;
  return take_buffer_owner_slow(buffer);
}

//! The stub's own MAPI allocator, for MAPIAllocateBuffer / MAPIAllocateMore calls that no
//! Extended MAPI provider serves: a provider such as Wine's winemapi.dll imports
//! MAPIAllocateBuffer from mapi32.dll (this stub) even where no Extended provider is configured.
//! Its buffers are recorded with the owner own_allocator(), so MAPIFreeBuffer frees them here
//! (with every MAPIAllocateMore block linked to them) and never hands them to a provider.
//! Costs nothing until used: buffer_count stays 0.
//! An address only, never a Provider object: no proc() is ever asked of it (free_buffer and
//! own_allocate_more recognise it first).
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
