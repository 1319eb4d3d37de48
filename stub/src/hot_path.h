// Copyright MapiDispatch authors.
//
//! \file
//! The per-call path: what every call reads, and the inline functions that read it.
//!
//! The fast path, per call: one acquire load of the table's sequence count, compared with the
//! count the family's cached decision was made at; equal means the cached provider and its
//! cached entry point are called. No heap allocation, no lock. Anything else takes the slow path
//! (binding.h), which makes the decisions and publishes them here.
//!
//! The same state is read by the generated assembler (thunks_<arch>.S / .asm, from
//! gen_exports.cmake), by the name md_hot_state and at the offsets of the generated hot_layout.h;
//! this file static_asserts those offsets against the C++ layout.

#ifndef MAPIDISPATCH_STUB_HOT_PATH_H_
#define MAPIDISPATCH_STUB_HOT_PATH_H_

#include <windows.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "export_list.h"
#include "hot_layout.h"
#include "mapidispatch/dispatch.h"
#include "mapidispatch/table.h"
#include "provider.h"

//! For the few functions of the per-call path: inlined into every export, so the path stays one
//! function that ends in a tail jump to the provider.
#if defined(_MSC_VER)
#define MD_HOT_INLINE __forceinline
#define MD_COLD __declspec(noinline)
#else
#define MD_HOT_INLINE inline __attribute__((always_inline))
#define MD_COLD __attribute__((noinline))
#endif

namespace mapidispatch::stub {

//! What a family's calls go to, as of one table sequence count. Immutable once published.
struct Decision {
  Provider* provider = nullptr;  //!< nullptr: nothing serves this family.
  bool supports_utf8 = false;
  TargetStatus status = TargetStatus::kNotConfigured;
  std::wstring prefirstrun_message;
  std::wstring prefirstrun_caption;
};

//! A sequence count no table ever has: "no table mapped". Odd, like an in-progress write.
inline constexpr uint32_t kNoTable = 0xFFFFFFFFu;

//! What FamilyState::procs points at when nothing serves a family (and before the first
//! decision): every entry point "not looked up", so both fast paths fall to the slow path, which
//! answers with the failure code.
//! Its owner entry (kProcsOwnerSlot) is nullptr: no Provider.
inline constinit std::atomic<void*> g_no_procs[kExportCount + 1] = {};

//! Per family: the decision and the table sequence count it was made at.
struct FamilyState {
  std::atomic<uint32_t> sequence{kNoTable - 2};  //!< Matches nothing until the first decision.
  //! For the assembler fast path (thunks_<arch>.S): `sequence` when the decision came from the
  //! table, else kNeverMatches. Odd, so it never equals a stable table's (even) count, nor
  //! kNoTableCount: one compare covers "unchanged" and "not a registry-mode decision".
  std::atomic<uint32_t> fast_sequence{kNoTable - 2};
  std::atomic<const Decision*> decision{nullptr};
  std::atomic<uint64_t> retry_at{0};  //!< Registry-mode decisions: GetTickCount64() deadline; 0 = none.
  //! The decision's provider's entry points (Provider::procs), or g_no_procs when nothing
  //! serves (never null): what the assembler fast path reads instead of following decision->provider.
  //! Stored with the decision, before the sequences.
  std::atomic<std::atomic<void*>*> procs{g_no_procs};
};
inline constexpr uint32_t kNeverMatches = kNoTable - 2;

//! What the count pointer points at while no table is mapped.
inline constexpr uint32_t kNoTableCount = kNoTable;

//! What every call reads: constant-initialized atomics, so nothing is constructed at load time
//! and the fast path has no initialization guard.
struct HotState {
  FamilyState families[2];                          //!< [0] Simple, [1] Extended.
  //! The table's sequence count word, or kNoTableCount: never null, so the fast path needs no
  //! test. Set once (release), when the table is first trusted, after `reader`.
  std::atomic<const uint32_t*> count{&kNoTableCount};
  std::atomic<const TableReader*> reader{nullptr};  //!< Set once, when the table is first trusted.
  std::atomic<Provider*> ext_bound{nullptr};        //!< Written by the binding (MAPIInitialize).
  std::atomic<size_t> session_count{0};             //!< Open Simple MAPI / CMC sessions (ownership.cpp).
  //! Buffer records outstanding (ownership.cpp). While 0, MAPIFreeBuffer and MAPIAllocateMore
  //! look nothing up.
  std::atomic<size_t> buffer_count{0};
  //! The procs array (Provider::procs) of the one provider that owns every open session, or
  //! nullptr when none is open or they have different owners (ownership.cpp). A session call
  //! whose family's procs pointer equals it goes to the right provider without looking the
  //! session up: every open session, this one included, belongs to that provider.
  std::atomic<std::atomic<void*>*> session_procs{nullptr};
  //! ext_bound's procs array, or nullptr when none is bound: what the assembler fast path of an
  //! Extended MAPI export reads (it cannot follow a Provider*). Written with ext_bound.
  std::atomic<std::atomic<void*>*> ext_bound_procs{nullptr};
};

//! The one HotState, with C linkage so that the generated assembler (thunks_<arch>.S / .asm) can
//! name it. Defined in hot_path.cpp.
extern "C" constinit HotState md_hot_state;
inline constexpr HotState& g_hot = md_hot_state;

// The assembler fast path reads these fields at fixed offsets (hot_layout.h, generated with it
// for the architecture).
static_assert(std::is_standard_layout_v<FamilyState> && std::is_standard_layout_v<HotState>);
static_assert(sizeof(FamilyState) == MD_HOT_FAMILY_SIZE);
static_assert(offsetof(FamilyState, fast_sequence) == MD_HOT_FAMILY_FAST_SEQUENCE);
static_assert(offsetof(FamilyState, procs) == MD_HOT_FAMILY_PROCS);
static_assert(offsetof(HotState, families) == 0);
static_assert(offsetof(HotState, count) == MD_HOT_COUNT);
static_assert(offsetof(HotState, session_count) == MD_HOT_SESSION_COUNT);
static_assert(offsetof(HotState, buffer_count) == MD_HOT_BUFFER_COUNT);
static_assert(offsetof(HotState, session_procs) == MD_HOT_SESSION_PROCS);
static_assert(offsetof(HotState, ext_bound_procs) == MD_HOT_EXT_BOUND_PROCS);
static_assert(sizeof(std::atomic<uint32_t>) == 4 && sizeof(std::atomic<void*>) == sizeof(void*) &&
              sizeof(std::atomic<size_t>) == sizeof(void*));

//! The state of `family`'s calls.
MD_HOT_INLINE FamilyState& family_state(Family family) noexcept {
  return g_hot.families[family == Family::kSimple ? 0 : 1];
}

//! A cached entry point, or nullptr for "not looked up" (nullptr) and "the DLL lacks it"
//! (Provider::absent(), 1): one unsigned compare covers both.
MD_HOT_INLINE void* usable_entry(void* p) noexcept {
  static_assert(sizeof(uintptr_t) == sizeof(void*));
  return reinterpret_cast<uintptr_t>(p) > 1 ? p : nullptr;
}

//! usable_entry() of `slot` in a procs array (Provider::procs); nullptr procs: nullptr.
MD_HOT_INLINE void* entry_in(std::atomic<void*>* procs, int slot) noexcept {
  // Acquire: pairs with Provider::lookup()'s release of the slot.
  return procs != nullptr ? usable_entry(procs[slot].load(std::memory_order_acquire)) : nullptr;
}

//! The family's procs array when its cached decision came from the table and the table has not
//! changed since, else nullptr: the test every fast path starts with, and the same as the
//! assembler fast path's (thunks_<arch>.S): one compare of the table's count with the family's
//! fast_sequence.
MD_HOT_INLINE std::atomic<void*>* fast_procs(Family family) noexcept {
  FamilyState& fs = family_state(family);
  const uint32_t seq = seqlock::read_begin(g_hot.count.load(std::memory_order_acquire));
  // Acquire: the procs pointer stored before fast_sequence (release, in the slow path) is visible.
  if (seq != fs.fast_sequence.load(std::memory_order_acquire)) return nullptr;
  return fs.procs.load(std::memory_order_acquire);
}

//! The whole fast path of a call, or nullptr: the cached entry point of `slot` in the family's
//! provider (fast_procs()), if it has been looked up before. Calls nothing, so an export whose
//! fast path succeeds is a few loads and a tail jump; anything else (nullptr) takes the
//! out-of-line path.
MD_HOT_INLINE void* fast_entry(Family family, int slot) noexcept { return entry_in(fast_procs(family), slot); }

//! fast_procs() for a Simple MAPI or CMC call whose first argument is the session handle
//! `session` (0: none): also nullptr when a session is open whose owner may not be the provider
//! of those procs. The caller jumps through the same procs it tested, so a decision changing
//! between the test and the call cannot send a session elsewhere.
//!
//! Relaxed loads of session_count and session_procs suffice: a session handle reaches the
//! thread that passes it only after the logon that recorded it returned, so that thread sees
//! the values stored then or later ones, and every later value is still true of an open session.
MD_HOT_INLINE std::atomic<void*>* fast_session_procs(uintptr_t session) noexcept {
  std::atomic<void*>* procs = fast_procs(Family::kSimple);
  // Laid out for a call in a session of the provider every open session belongs to: the
  // buffer-returning calls (the C++ users of this) nearly always carry one.
  if (session != 0 && g_hot.session_count.load(std::memory_order_relaxed) != 0) [[likely]] {
    if (g_hot.session_procs.load(std::memory_order_relaxed) != procs) [[unlikely]]
      return nullptr;
  }
  return procs;
}

//! fast_entry() for a session call (fast_session_procs()).
MD_HOT_INLINE void* fast_session_entry(int slot, uintptr_t session) noexcept {
  return entry_in(fast_session_procs(session), slot);
}

//! The Provider that owns a procs array (Provider::procs), or nullptr for g_no_procs. Relaxed:
//! stored when the Provider was built, before its array was published (release) anywhere.
MD_HOT_INLINE Provider* owner_of(std::atomic<void*>* procs) noexcept {
  return static_cast<Provider*>(procs[kProcsOwnerSlot].load(std::memory_order_relaxed));
}

//! The cached entry point of `slot` in `p`, or nullptr when it has not been looked up or the
//! DLL lacks it: Provider::proc() without the lookup, for the inline paths.
MD_HOT_INLINE void* cached_proc(Provider* p, int slot) noexcept { return entry_in(p->procs, slot); }

//! The Extended MAPI provider bound between the first MAPIInitialize and the last
//! MAPIUninitialize, or nullptr.
MD_HOT_INLINE Provider* bound_extended() noexcept { return g_hot.ext_bound.load(std::memory_order_acquire); }

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_HOT_PATH_H_
