// Copyright MapiDispatch authors.
//
//! \file
//! Binding: what each family's calls go to, decided on the slow path and published for the fast
//! path (hot_path.h).
//!
//! How a call is served:
//! - Every export belongs to a family: Simple MAPI (the DLLPath provider) or Extended MAPI and
//!   its utility functions (the DLLPathEx provider).
//! - The fast path, per call (hot_path.h): the table's sequence count compared with the count
//!   the family's cached decision was made at; equal means the cached provider and its cached
//!   entry point are called.
//! - Otherwise the slow path (one lock) re-reads the table under its seqlock, decides with
//!   decide_dispatch() (dispatch.h), loads the provider if it is new, and publishes the new
//!   decision. When the table is missing, untrusted, stopped, busy or invalid, it resolves from
//!   the registry itself (registry_fallback.cpp) and caches that for the process, retrying the
//!   table and the registry every 30 seconds.
//! - Safe points: a Simple MAPI session and the buffers its calls returned stay with the
//!   provider that made them (ownership.h); Extended MAPI binds at the first MAPIInitialize and
//!   may rebind after the last MAPIUninitialize.

#ifndef MAPIDISPATCH_STUB_BINDING_H_
#define MAPIDISPATCH_STUB_BINDING_H_

#include <windows.h>

#include "hot_path.h"
#include "mapidispatch/dispatch.h"

namespace mapidispatch::stub {

//! The slow path of current(): re-reads the table (or the registry) and rebinds.
const Decision* rebind_family(Family family) noexcept;

//! The decision for `family` now. Never null. The fast path, inline: one acquire load of the
//! table's sequence count compared with the family's, then the cached decision.
MD_HOT_INLINE const Decision* current(Family family) noexcept {
  FamilyState& fs = family_state(family);
  // Acquire on the pointer: the mapping it points into was published complete (ensure_table).
  const uint32_t seq = seqlock::read_begin(g_hot.count.load(std::memory_order_acquire));  // the count
  // Acquire: the decision stored before this count (release, in the slow path) is visible.
  if (seq == fs.sequence.load(std::memory_order_acquire)) {
    const Decision* d = fs.decision.load(std::memory_order_acquire);
    const uint64_t retry_at = fs.retry_at.load(std::memory_order_relaxed);
    if (d != nullptr && (retry_at == 0 || ::GetTickCount64() < retry_at)) return d;
  }
  return rebind_family(family);
}

//! MAPIInitialize / MAPIUninitialize bookkeeping (the exports call these).
HRESULT initialize(void* init_struct) noexcept;
void uninitialize() noexcept;

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_BINDING_H_
