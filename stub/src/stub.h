// Copyright MapiDispatch authors.
//
//! \file
//! Internals of the drop-in mapi32.dll. Nothing here is exported; the export surface is
//! generated from common/data/mapi32-exports.tsv (exports.inc, mapi32.def).
//!
//! How a call is served:
//! - Every export belongs to a family: Simple MAPI (the DLLPath provider) or Extended MAPI and
//!   its utility functions (the DLLPathEx provider).
//! - The fast path, per call: one acquire load of the table's sequence count, compared with the
//!   count the family's cached decision was made at; equal means the cached provider and its
//!   cached entry point are called. No heap allocation, no lock.
//! - Otherwise the slow path (one lock) re-reads the table under its seqlock, decides with
//!   decide_dispatch() (dispatch.h), loads the provider if it is new, and publishes the new
//!   decision. When the table is missing, untrusted, stopped, busy or invalid, it resolves from
//!   the registry itself (registry_fallback.cpp) and caches that for the process, retrying the
//!   table and the registry every 30 seconds.
//! - Safe points: a Simple MAPI session and the buffers its calls returned stay with the
//!   provider that made them; Extended MAPI binds at the first MAPIInitialize and may rebind after
//!   the last MAPIUninitialize.
//! - Environment (diagnostics and tests): MAPIDISPATCH_MODE=registry forces the registry mode
//!   the way the Windows stub works: no table, the registry resolved on every call (this is what
//!   the benchmarks compare the table with);
//!   MAPIDISPATCH_SECTION names another table section (it must still pass the trust check);
//!   MAPIDISPATCH_TRACE=FILE appends one line per binding decision; MAPIDISPATCH_NO_UI=1
//!   suppresses the PreFirstRun message box.
//! No exception leaves this DLL: every export catches at its boundary.

#ifndef MAPIDISPATCH_STUB_STUB_H_
#define MAPIDISPATCH_STUB_STUB_H_

#include <windows.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "mapidispatch/dispatch.h"
#include "mapidispatch/table.h"
#include "hot_layout.h"

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

enum class ExportFamily { kSIMPLE, kEXTENDED, kUTIL };

//! What an export's signature returns, from the failure column of mapi32-exports.tsv: decides
//! what the stub returns when nothing serves the call (exports.cpp, CodesOf).
enum class ReturnKind { kHRESULT, kSIMPLE, kCMC, kPOINTER, kCOUNT, kBOOL, kBAD, kVOID, kFILETIME, kUNKNOWN };

struct ExportInfo {
  int ordinal;
  const char* primary;    //!< The name that was called ("" for ordinal-only exports).
  const char* alternate;  //!< The other form (plain <-> @N decorated), "" if none.
  ExportFamily family;
  int arg_bytes;          //!< x86 stdcall argument bytes; 0 if unknown.
  ReturnKind ret;         //!< What its signature returns (the failure value's type).
};

#define MD_EXPORT(slot, ordinal, primary, alternate, family, bytes, known, nargs, kind, ret) +1
inline constexpr int kExportCount = 0
#include "exports.inc"
    ;
#undef MD_EXPORT

extern const ExportInfo kExports[kExportCount];

//! Slot (index into kExports) of an ordinal; -1 if none.
int slot_of_ordinal(int ordinal);

//! A loaded provider DLL. Never unloaded: pointers into it may live anywhere in the process.
struct Provider {
  HMODULE module = nullptr;
  std::wstring path;
  std::atomic<bool> supports_utf8{false};
  //! Entry points by slot: nullptr = not looked up yet, kAbsent = the DLL has neither form.
  std::atomic<void*> procs[kExportCount] = {};

  //! The entry point for an export slot: the form that was called, then the other form.
  //! Inline fast path: one acquire load once the slot has been looked up.
  void* proc(int slot) {
    void* p = procs[slot].load(std::memory_order_acquire);  // pairs with lookup()'s release
    if (p == nullptr) p = lookup(slot);
    return p == absent() ? nullptr : p;
  }
  static void* absent() { return reinterpret_cast<void*>(1); }

 private:
  void* lookup(int slot);
};

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

//! What every call reads: constant-initialized atomics, so nothing is constructed at load time
//! and the fast path has no initialization guard.
//! What the count pointer points at while no table is mapped.
inline constexpr uint32_t kNoTableCount = kNoTable;

struct HotState {
  FamilyState families[2];                          //!< [0] Simple, [1] Extended.
  //! The table's sequence count word, or kNoTableCount: never null, so the fast path needs no
  //! test. Set once (release), when the table is first trusted, after `reader`.
  std::atomic<const uint32_t*> count{&kNoTableCount};
  std::atomic<const TableReader*> reader{nullptr};  //!< Set once, when the table is first trusted.
  std::atomic<Provider*> ext_bound{nullptr};
  std::atomic<size_t> session_count{0};
  std::atomic<size_t> buffer_count{0};
};

//! The one HotState, with C linkage so that the generated assembler (thunks_x64.S / .asm) can
//! name it. Defined in state.cpp.
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

//! The slow path of current(): re-reads the table (or the registry) and rebinds.
const Decision* rebind_family(Family family) noexcept;

//! The decision for `family` now. Never null. The fast path, inline: one acquire load of the
//! table's sequence count compared with the family's, then the cached decision.
MD_HOT_INLINE const Decision* current(Family family) noexcept {
  FamilyState& fs = g_hot.families[family == Family::kSimple ? 0 : 1];
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

//! The whole fast path of a call, or nullptr: the cached entry point of `slot` in the family's
//! provider when the decision came from the table and the table has not changed since, and the
//! entry point has been looked up before. The same test as the x64 assembler fast path
//! (thunks_x64.S): one compare of the table's count with the family's fast_sequence. Calls
//! nothing, so an export whose fast path succeeds is a few loads and a tail jump; anything else
//! (nullptr) takes the out-of-line path.
MD_HOT_INLINE void* fast_entry(Family family, int slot) noexcept {
  FamilyState& fs = g_hot.families[family == Family::kSimple ? 0 : 1];
  const uint32_t seq = seqlock::read_begin(g_hot.count.load(std::memory_order_acquire));
  // Acquire: the procs pointer stored before fast_sequence (release, in the slow path) is visible.
  if (seq != fs.fast_sequence.load(std::memory_order_acquire)) return nullptr;
  void* p = fs.procs.load(std::memory_order_acquire)[slot].load(std::memory_order_acquire);
  return p == Provider::absent() ? nullptr : p;
}

//! The Extended MAPI provider bound between the first MAPIInitialize and the last
//! MAPIUninitialize, or nullptr.
MD_HOT_INLINE Provider* bound_extended() noexcept { return g_hot.ext_bound.load(std::memory_order_acquire); }

//! MAPIInitialize / MAPIUninitialize bookkeeping (the exports call these).
HRESULT initialize(void* init_struct) noexcept;
void uninitialize() noexcept;

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

//! Shows the PreFirstRun text once per process, and only in an interactive session.
void prefirstrun_once(const Decision& d) noexcept;

//! Appends a line to MAPIDISPATCH_TRACE, if set.
void trace(const std::string& line) noexcept;

inline constexpr uint32_t kMapiSuccess = 0;
inline constexpr uint32_t kMapiEFailure = 2;
inline constexpr uint32_t kMapiENotSupported = 26;
inline constexpr uint32_t kMapiEUnicodeNotSupported = 27;
inline constexpr uint32_t kMapiForceUnicode = 0x00040000;
inline constexpr uint32_t kCmcEFailure = 8;        // CMC_E_FAILURE
inline constexpr uint32_t kCmcENotSupported = 21;  // CMC_E_NOT_SUPPORTED
inline constexpr HRESULT kMapiECallFailed = static_cast<HRESULT>(0x80004005L);
inline constexpr HRESULT kMapiENotEnoughMemory = static_cast<HRESULT>(0x8007000EL);
inline constexpr HRESULT kMapiEInvalidParameter = static_cast<HRESULT>(0x80070057L);

//! The module handle of this DLL (set in DllMain: bookkeeping only).
extern HMODULE g_self;

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_STUB_H_
