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
//! On x64 the same state is read by the generated assembler (thunks_x64.S / .asm, from
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
inline constinit std::atomic<void*> g_no_procs[kExportCount] = {};

//! Per family: the decision and the table sequence count it was made at.
struct FamilyState {
  std::atomic<uint32_t> sequence{kNoTable - 2};  //!< Matches nothing until the first decision.
  //! For the x64 assembler fast path (thunks_x64.S): `sequence` when the decision came from the
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
  std::atomic<size_t> session_count{0};             //!< Written by ownership.cpp.
  std::atomic<size_t> buffer_count{0};              //!< Written by ownership.cpp.
};

//! The one HotState, with C linkage so that the generated assembler (thunks_x64.S / .asm) can
//! name it. Defined in hot_path.cpp.
extern "C" constinit HotState md_hot_state;
inline constexpr HotState& g_hot = md_hot_state;

#if defined(_M_X64) || defined(__x86_64__)
// The assembler fast path reads these fields at fixed offsets (hot_layout.h, generated with it).
static_assert(std::is_standard_layout_v<FamilyState> && std::is_standard_layout_v<HotState>);
static_assert(sizeof(FamilyState) == MD_HOT_FAMILY_SIZE);
static_assert(offsetof(FamilyState, fast_sequence) == MD_HOT_FAMILY_FAST_SEQUENCE);
static_assert(offsetof(FamilyState, procs) == MD_HOT_FAMILY_PROCS);
static_assert(offsetof(HotState, families) == 0);
static_assert(offsetof(HotState, count) == MD_HOT_COUNT);
static_assert(offsetof(HotState, ext_bound) == MD_HOT_EXT_BOUND);
static_assert(offsetof(HotState, session_count) == MD_HOT_SESSION_COUNT);
static_assert(sizeof(std::atomic<uint32_t>) == 4 && sizeof(std::atomic<void*>) == 8 && sizeof(std::atomic<size_t>) == 8);
#endif

//! The state of `family`'s calls.
MD_HOT_INLINE FamilyState& family_state(Family family) noexcept {
  return g_hot.families[family == Family::kSimple ? 0 : 1];
}

//! The whole fast path of a call, or nullptr: the cached entry point of `slot` in the family's
//! provider when the decision came from the table and the table has not changed since, and the
//! entry point has been looked up before. The same test as the x64 assembler fast path
//! (thunks_x64.S): one compare of the table's count with the family's fast_sequence. Calls
//! nothing, so an export whose fast path succeeds is a few loads and a tail jump; anything else
//! (nullptr) takes the out-of-line path.
MD_HOT_INLINE void* fast_entry(Family family, int slot) noexcept {
  FamilyState& fs = family_state(family);
  const uint32_t seq = seqlock::read_begin(g_hot.count.load(std::memory_order_acquire));
  // Acquire: the procs pointer stored before fast_sequence (release, in the slow path) is visible.
  if (seq != fs.fast_sequence.load(std::memory_order_acquire)) return nullptr;
  void* p = fs.procs.load(std::memory_order_acquire)[slot].load(std::memory_order_acquire);
  return p == Provider::absent() ? nullptr : p;
}

//! The Extended MAPI provider bound between the first MAPIInitialize and the last
//! MAPIUninitialize, or nullptr.
MD_HOT_INLINE Provider* bound_extended() noexcept { return g_hot.ext_bound.load(std::memory_order_acquire); }

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_HOT_PATH_H_
