// Copyright MapiDispatch authors.
//
//! \file
//! Who owns what a provider handed out: a Simple MAPI (or CMC) session stays with the provider
//! that opened it, and a buffer a Simple MAPI call returned goes back to the provider that
//! allocated it (MAPILogoff and MAPIFreeBuffer reach the right DLL after a rebind). Also the
//! stub's own allocator, for MAPIAllocateBuffer calls nothing else serves.
//!
//! With nothing recorded, each check costs one relaxed load (HotState::session_count,
//! buffer_count), no lock. Relaxed is enough: a handle or a buffer reaches its caller only after
//! the call that recorded it (and stored the count) returned, so whatever made the handle known
//! to a thread also made that count visible to it; the records themselves are read under the lock.

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
//! Records who frees `buffer`; false if it could not (null, or out of memory).
bool remember_buffer(const void* buffer, Provider* p) noexcept;
Provider* take_buffer_owner(const void* buffer) noexcept;

//! The stub's own MAPI allocator, for MAPIAllocateBuffer / MAPIAllocateMore calls that no
//! Extended MAPI provider serves: a provider such as Wine's winemapi.dll imports
//! MAPIAllocateBuffer from mapi32.dll (this stub) even where no Extended provider is configured.
//! Its buffers are recorded with the owner own_allocator(), so MAPIFreeBuffer frees them here
//! (with every MAPIAllocateMore block linked to them) and never hands them to a provider.
//! Costs nothing until used: buffer_count stays 0.
Provider* own_allocator() noexcept;
//! SCODE-style: 0 and *out set, or MAPI_E_NOT_ENOUGH_MEMORY (0x8007000E) and *out = nullptr.
HRESULT own_allocate_buffer(uint32_t size, void** out) noexcept;
//! Allocates a block linked to `root` (a buffer own_allocate_buffer returned): false if `root`
//! is not one, so the caller hands the call to a provider instead.
bool own_allocate_more(uint32_t size, const void* root, void** out, HRESULT* result) noexcept;
//! Frees a buffer own_allocate_buffer returned and every block linked to it (its owner record
//! already taken by take_buffer_owner()).
void own_free(void* root) noexcept;

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_OWNERSHIP_H_
