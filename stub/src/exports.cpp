// Copyright MapiDispatch authors.
//
// The exports. One forwarder per row of mapi32-exports.tsv (exports.inc): it takes the
// export's arguments as pointer-sized integers, which is how both x86 stdcall (4-byte slots,
// callee pops arg_bytes) and x64 (registers, then 8-byte stack slots) pass every MAPI argument:
// integers, pointers and FILETIMEs. The return travels as 64 bits, which covers FILETIME results
// (EDX:EAX on x86). Exports whose x86 argument size is unknown are assembler jump thunks on x86
// (thunks_x86.S) and take 12 slots on x64, where callees ignore slots they do not use.
//
// Simple MAPI functions that carry sessions or return buffers, MAPIFreeBuffer, MAPIInitialize,
// MAPIUninitialize and MAPISendMailW have their own handling below; every other export goes
// to its family's provider as it is.
//
// No exception leaves this DLL: every export catches at its boundary.

#include <windows.h>

#include <deque>
#include <string>
#include <vector>

#include "binding.h"
#include "diagnostics.h"
#include "export_list.h"
#include "hot_path.h"
#include "mapidispatch/win32/simple_mapi.h"
#include "ownership.h"
#include "provider.h"

namespace mapidispatch::stub {
namespace {

template <typename... A>
using Fn = uint64_t(WINAPI*)(A...) noexcept;  // noexcept: lets the compiler tail-call the provider

template <typename... A>
uint64_t invoke(void* fn, A... a) {
  return reinterpret_cast<Fn<A...>>(fn)(a...);
}

// What a Simple MAPI or CMC call returns when nothing serves it, or when the provider lacks the
// entry point: each interface's own codes (a CMC caller reads 2 as CMC_E_ATTACHMENT_NOT_FOUND).
struct MapiCodes {
  static constexpr uint64_t kNothingServes = kMapiEFailure;     // MAPI_E_FAILURE
  static constexpr uint64_t kNoEntryPoint = kMapiENotSupported;  // MAPI_E_NOT_SUPPORTED
  static uintptr_t session_key(uintptr_t s) { return s; }       // LHANDLE: pointer-sized
  static int kFreeSlot() {  // MAPIFreeBuffer frees what Simple MAPI calls return
    constexpr int slot = slot_of_ordinal(16);
    static_assert(slot >= 0);
    return slot;
  }
};
// Extended MAPI and the utility functions: an HRESULT either way.
struct ExtendedCodes {
  static constexpr uint64_t kNothingServes = static_cast<uint32_t>(kMapiECallFailed);  // E_FAIL
  static constexpr uint64_t kNoEntryPoint = static_cast<uint32_t>(kMapiECallFailed);
};
struct CmcCodes {
  static constexpr uint64_t kNothingServes = kCmcEFailure;       // CMC_E_FAILURE
  static constexpr uint64_t kNoEntryPoint = kCmcENotSupported;   // CMC_E_NOT_SUPPORTED
  // CMC_session_id is 32 bits: on x64 the upper half of its register is not defined.
  static uintptr_t session_key(uintptr_t s) { return static_cast<uint32_t>(s); }
  static int kFreeSlot() {  // cmc_free frees what CMC calls return
    constexpr int slot = slot_of_ordinal(230);
    static_assert(slot >= 0);
    return slot;
  }
};

// What an export returns when nothing serves it, by the failure column of the export list
// (ReturnKind, export_list.h): its own signature's failure. An HRESULT/SCODE only where the
// function returns one; a Simple MAPI or CMC code for those interfaces; TRUE for the FBad*/IsBad*
// validators (what cannot be checked is bad, as MAPIStubLibrary answers); 0 for the rest: NULL
// for a pointer, 0 for a count or size, FALSE for a BOOL, a zero FILETIME (RAX on x64, EDX:EAX on
// x86), and for a void function a register its caller does not read. Never 0x80004005 where the
// caller takes the value as a pointer or a count (MAPIGetDefaultMalloc, UlPropSize, UFromSz).
struct ZeroCodes {
  static constexpr uint64_t kNothingServes = 0;
  static constexpr uint64_t kNoEntryPoint = 0;
};
struct BadCodes {
  static constexpr uint64_t kNothingServes = 1;  // TRUE: "bad"
  static constexpr uint64_t kNoEntryPoint = 1;
};
template <ReturnKind R>
using CodesOf = std::conditional_t<
    R == ReturnKind::kHRESULT || R == ReturnKind::kUNKNOWN, ExtendedCodes,
    std::conditional_t<R == ReturnKind::kSIMPLE, MapiCodes,
                       std::conditional_t<R == ReturnKind::kCMC, CmcCodes,
                                          std::conditional_t<R == ReturnKind::kBAD, BadCodes, ZeroCodes>>>>;

// The provider for an Extended MAPI or utility call: the bound one inside MAPIInitialize, else
// whatever the table says now.
MD_HOT_INLINE Provider* extended_provider(const Decision** d) {
  if (Provider* p = bound_extended()) return p;
  *d = current(Family::kExtended);
  return (*d)->provider;
}

// Every export without special handling: the fast path inline, the rest out of line. Codes: what
// it returns when nothing serves it (CodesOf<its ReturnKind>).

template <int Slot, ExportFamily F, typename Codes, typename... A>
MD_COLD uint64_t forward_slow(A... a) noexcept;

// The fast path of an Extended MAPI or utility call: the bound provider's cached entry point
// inside MAPIInitialize, else the table decision's; nullptr: the slow path decides.
template <int Slot>
MD_HOT_INLINE void* fast_extended_entry() noexcept {
  if (Provider* b = bound_extended()) return cached_proc(b, Slot);
  return fast_entry(Family::kExtended, Slot);
}

template <int Slot, ExportFamily F, typename Codes, typename... A>
MD_HOT_INLINE uint64_t forward(A... a) noexcept {
  if constexpr (F == ExportFamily::kSIMPLE) {
    if (void* fn = fast_entry(Family::kSimple, Slot)) return invoke(fn, a...);
  } else {
    if (void* fn = fast_extended_entry<Slot>()) return invoke(fn, a...);
  }
  return forward_slow<Slot, F, Codes>(a...);
}

template <int Slot, ExportFamily F, typename Codes, typename... A>
uint64_t forward_slow(A... a) noexcept {
  const Decision* d = nullptr;
  Provider* p = nullptr;
  if constexpr (F == ExportFamily::kSIMPLE) {
    d = current(Family::kSimple);
    p = d->provider;
  } else {
    p = extended_provider(&d);
  }
  void* fn = p != nullptr ? p->proc(Slot) : nullptr;
  if (fn == nullptr) {
    if (p == nullptr && d != nullptr) prefirstrun_once(*d);
    return p != nullptr ? Codes::kNoEntryPoint : Codes::kNothingServes;
  }
  return invoke(fn, a...);
}

// Simple MAPI and CMC calls whose first argument is a session handle: a session stays with the
// provider that opened it; a session-less call follows the current answer. OutBuffer: index of
// an argument through which the call returns a buffer the caller frees with MAPIFreeBuffer (or
// cmc_free).
template <int Slot, int OutBuffer, typename Codes, typename... A>
MD_COLD uint64_t simple_session_call_slow(uintptr_t session, A... rest) noexcept;

// Calls `fn` of provider `p` and, for a call that returns a buffer through argument OutBuffer,
// records that `p` frees it.
template <int OutBuffer, typename Codes, typename... A>
MD_HOT_INLINE uint64_t call_and_record(Provider* p, void* fn, uintptr_t session, A... rest) noexcept {
  const uint64_t r = invoke(fn, session, rest...);
  if constexpr (OutBuffer > 0) {
    if (static_cast<uint32_t>(r) == kMapiSuccess) {  // SUCCESS_SUCCESS and CMC_SUCCESS are both 0
      const uintptr_t args[] = {session, static_cast<uintptr_t>(rest)...};
      auto* const* out = reinterpret_cast<void* const*>(args[OutBuffer]);
      // A provider that can free what it returned gets it back. One that cannot (winemapi.dll
      // exports no MAPIFreeBuffer) allocated it through mapi32's MAPIAllocateBuffer, i.e. this
      // stub: MAPIFreeBuffer then finds it where that call put it (free_buffer below).
      if (out != nullptr && *out != nullptr && p->proc(Codes::kFreeSlot()) != nullptr) remember_buffer(*out, p);
    }
  }
  return r;
}

template <int Slot, int OutBuffer, typename Codes, typename... A>
MD_HOT_INLINE uint64_t simple_session_call(uintptr_t session, A... rest) noexcept {
  // The fast path: nothing changed, and no open session of another provider's to route.
  if constexpr (OutBuffer == 0) {
    if (void* fn = fast_session_entry(Slot, Codes::session_key(session))) return invoke(fn, session, rest...);
  } else {
    // A usable entry point means the procs array is a Provider's (g_no_procs has none).
    std::atomic<void*>* procs = fast_session_procs(Codes::session_key(session));
    if (void* fn = entry_in(procs, Slot)) return call_and_record<OutBuffer, Codes>(owner_of(procs), fn, session, rest...);
  }
  return simple_session_call_slow<Slot, OutBuffer, Codes>(session, rest...);
}

template <int Slot, int OutBuffer, typename Codes, typename... A>
uint64_t simple_session_call_slow(uintptr_t session, A... rest) noexcept {
  Provider* p = session_owner(Codes::session_key(session));
  if (p == nullptr) {
    const Decision* d = current(Family::kSimple);
    p = d->provider;
    if (p == nullptr) {
      prefirstrun_once(*d);
      return Codes::kNothingServes;
    }
  }
  void* fn = p->proc(Slot);
  if (fn == nullptr) return Codes::kNoEntryPoint;
  return call_and_record<OutBuffer, Codes>(p, fn, session, rest...);
}

// A logon: the current Simple provider opens a session, returned through argument `OutSession`
// (an LHANDLE* for MAPILogon, a CMC_session_id* for cmc_logon), which then stays with it.
template <int Slot, int OutSession, typename Codes, typename SessionType, typename... A>
uint64_t logon_call(A... a) noexcept {
  const Decision* d = current(Family::kSimple);
  Provider* p = d->provider;
  if (p == nullptr) {
    prefirstrun_once(*d);
    return Codes::kNothingServes;
  }
  void* fn = p->proc(Slot);
  if (fn == nullptr) return Codes::kNoEntryPoint;
  const uint64_t r = invoke(fn, a...);
  const uintptr_t args[] = {static_cast<uintptr_t>(a)...};
  const auto* session = reinterpret_cast<const SessionType*>(args[OutSession]);
  if (static_cast<uint32_t>(r) == kMapiSuccess && session != nullptr && *session != 0)
    remember_session(static_cast<uintptr_t>(*session), p);
  return r;
}

// ---- MAPISendMailW ----------------------------------------------------------------------------
using simple_mapi::FileA;
using simple_mapi::FileW;
using simple_mapi::MessageA;
using simple_mapi::MessageW;
using simple_mapi::RecipA;
using simple_mapi::RecipW;

// Converts a MapiMessageW into a MapiMessage whose strings live as long as this object.
class NarrowMessage {
 public:
  NarrowMessage(const MessageW& w, UINT code_page) : cp_(code_page) {
    m_.reserved = w.reserved;
    m_.subject = str(w.subject);
    m_.note_text = str(w.note_text);
    m_.message_type = str(w.message_type);
    m_.date_received = str(w.date_received);
    m_.conversation_id = str(w.conversation_id);
    m_.flags = w.flags;
    if (w.originator != nullptr) {
      originator_ = recip(*w.originator);
      m_.originator = &originator_;
    }
    for (ULONG i = 0; w.recips != nullptr && i < w.recip_count; ++i) recips_.push_back(recip(w.recips[i]));
    m_.recip_count = w.recips != nullptr ? w.recip_count : 0;
    m_.recips = recips_.empty() ? nullptr : recips_.data();
    for (ULONG i = 0; w.files != nullptr && i < w.file_count; ++i) {
      const FileW& f = w.files[i];
      files_.push_back({f.reserved, f.flags, f.position, str(f.path_name), str(f.file_name), f.file_type});
    }
    m_.file_count = w.files != nullptr ? w.file_count : 0;
    m_.files = files_.empty() ? nullptr : files_.data();
  }
  MessageA* get() { return &m_; }
  bool ok() const { return ok_; }

 private:
  LPSTR str(LPCWSTR s) {
    if (s == nullptr) return nullptr;
    const int n = ::WideCharToMultiByte(cp_, 0, s, -1, nullptr, 0, nullptr, nullptr);
    if (n <= 0) {
      ok_ = false;
      return nullptr;
    }
    strings_.emplace_back(static_cast<size_t>(n), '\0');
    ::WideCharToMultiByte(cp_, 0, s, -1, strings_.back().data(), n, nullptr, nullptr);
    return strings_.back().data();
  }
  RecipA recip(const RecipW& r) {
    return {r.reserved, r.recip_class, str(r.name), str(r.address), r.eid_size, r.entry_id};
  }

  UINT cp_;
  bool ok_ = true;
  MessageA m_{};
  RecipA originator_{};
  std::vector<RecipA> recips_;
  std::vector<FileA> files_;
  std::deque<std::string> strings_;  // deque: growing it never moves earlier strings
};

constexpr int kSendMailWSlot = slot_of_ordinal(256);
static_assert(kSendMailWSlot >= 0);

MD_COLD uint64_t send_mail_w_slow(uintptr_t session, uintptr_t ui_param, uintptr_t message, uintptr_t flags,
                                  uintptr_t reserved) noexcept;

// The fast path: a provider with a Unicode entry point gets the call as it is.
MD_HOT_INLINE uint64_t send_mail_w(uintptr_t session, uintptr_t ui_param, uintptr_t message, uintptr_t flags,
                                   uintptr_t reserved) noexcept {
  if (void* w = fast_session_entry(kSendMailWSlot, session)) return invoke(w, session, ui_param, message, flags, reserved);
  return send_mail_w_slow(session, ui_param, message, flags, reserved);
}

uint64_t send_mail_w_slow(uintptr_t session, uintptr_t ui_param, uintptr_t message, uintptr_t flags,
                          uintptr_t reserved) noexcept {
  constexpr int kSlotW = kSendMailWSlot;
  constexpr int kSlotA = slot_of_ordinal(211);
  static_assert(kSlotA >= 0);
  Provider* p = session_owner(session);
  bool utf8 = false;
  if (p == nullptr) {
    const Decision* d = current(Family::kSimple);
    p = d->provider;
    utf8 = d->supports_utf8;
    if (p == nullptr) {
      prefirstrun_once(*d);
      return kMapiEFailure;
    }
  } else {
    utf8 = p->supports_utf8.load(std::memory_order_relaxed);
  }
  if (void* w = p->proc(kSlotW)) return invoke(w, session, ui_param, message, flags, reserved);
  // No Unicode entry point: the caller may insist on Unicode; else convert for MAPISendMail.
  if (static_cast<uint32_t>(flags) & kMapiForceUnicode) return kMapiEUnicodeNotSupported;
  void* a = p->proc(kSlotA);
  if (a == nullptr) return kMapiENotSupported;
  if (message == 0) return invoke(a, session, ui_param, message, flags, reserved);
  try {
    NarrowMessage narrow(*reinterpret_cast<const MessageW*>(message), utf8 ? CP_UTF8 : CP_ACP);
    if (!narrow.ok()) return kMapiEFailure;
    return invoke(a, session, ui_param, reinterpret_cast<uintptr_t>(narrow.get()), flags, reserved);
  } catch (...) {
    return kMapiEFailure;  // out of memory converting
  }
}

// ---- Exports with their own handling ----------------------------------------------------------

// Export<ordinal>::kKind matches the generator's kind (gen_exports.cmake, where each is
// explained): 0 for an export with its own handling (C++ only); 1 to 4 are assembler fast paths
// (where the argument size is known) and have a slow() for them to fall back to.
template <int Ordinal>
struct Export {
  static constexpr int kKind = 1;
  template <int Slot, ExportFamily F, ReturnKind R, typename... A>
  static uint64_t call(A... a) noexcept {
    return forward<Slot, F, CodesOf<R>>(a...);
  }
  template <int Slot, ExportFamily F, ReturnKind R, typename... A>
  static uint64_t slow(A... a) noexcept {
    return forward_slow<Slot, F, CodesOf<R>>(a...);
  }
};

// MAPILogon(ui_param, profile, password, flags, reserved, LHANDLE* session)
template <>
struct Export<209> {
  static constexpr int kKind = 0;
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(A... a) noexcept {
    return logon_call<Slot, 5, MapiCodes, ULONG_PTR>(a...);
  }
};

// MAPILogoff(session, ui_param, flags, reserved) and cmc_logoff(session, ui_id, flags, extensions):
// to the session's provider, which then forgets it.
template <typename Codes>
struct LogoffCall {
  static constexpr int kKind = 0;
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(uintptr_t session, A... rest) noexcept {
    const uint64_t r = simple_session_call<Slot, 0, Codes>(session, rest...);
    if (static_cast<uint32_t>(r) == 0) forget_session(Codes::session_key(session));  // SUCCESS_SUCCESS, CMC_SUCCESS
    return r;
  }
};
template <> struct Export<210> : LogoffCall<MapiCodes> {};

// Calls whose first argument is a session handle, as SessionCall<Kind, OutBuffer, Codes>:
// Kind 2 or 3 (no buffer returned: the assembler fast path serves them; 3 for CMC's 32-bit
// session handle) or 0 (a buffer returned through argument OutBuffer: always C++). Codes:
// MapiCodes or CmcCodes.
template <int Kind, int OutBuffer, typename Codes>
struct SessionCall {
  static constexpr int kKind = Kind;
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(uintptr_t session, A... rest) noexcept {
    return simple_session_call<Slot, OutBuffer, Codes>(session, rest...);
  }
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t slow(uintptr_t session, A... rest) noexcept {
    return simple_session_call_slow<Slot, OutBuffer, Codes>(session, rest...);
  }
};

// Without returned buffers: MAPISendMail 211, MAPISaveMail 212, MAPIFindNext 214, MAPIDeleteMail
// 215, MAPIDetails 218. Returning a buffer: MAPIReadMail 213 (argument 5), MAPIAddress 217
// (argument 10), MAPIResolveName 219 (argument 5).
template <> struct Export<211> : SessionCall<2, 0, MapiCodes> {};
template <> struct Export<212> : SessionCall<2, 0, MapiCodes> {};
template <> struct Export<214> : SessionCall<2, 0, MapiCodes> {};
template <> struct Export<215> : SessionCall<2, 0, MapiCodes> {};
template <> struct Export<218> : SessionCall<2, 0, MapiCodes> {};
template <> struct Export<213> : SessionCall<0, 5, MapiCodes> {};
template <> struct Export<217> : SessionCall<0, 10, MapiCodes> {};
template <> struct Export<219> : SessionCall<0, 5, MapiCodes> {};

// ---- CMC (Common Messaging Calls, xcmc.h): the Simple provider's, with CMC's own codes ----------
// Sessions and the buffers cmc_list, cmc_read and cmc_look_up return stay with the provider that
// made them, as Simple MAPI's do; cmc_free takes a buffer back to its allocator.

// cmc_logon(service, user, password, character_set, ui_id, caller_cmc_version, logon_flags,
//           CMC_session_id* session, logon_extensions)
template <>
struct Export<233> {
  static constexpr int kKind = 0;
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(A... a) noexcept {
    return logon_call<Slot, 7, CmcCodes, uint32_t>(a...);
  }
};

template <> struct Export<232> : LogoffCall<CmcCodes> {};

// Session calls: cmc_send 237, cmc_act_on 229, cmc_query_configuration 235 (nothing returned to
// free: kind 3, the assembler fast path with a 32-bit session handle); cmc_list 231 (result,
// argument 6), cmc_read 236 (message, argument 3), cmc_look_up 234 (recipient_out, argument 5).
template <> struct Export<237> : SessionCall<3, 0, CmcCodes> {};
template <> struct Export<229> : SessionCall<3, 0, CmcCodes> {};
template <> struct Export<235> : SessionCall<3, 0, CmcCodes> {};
template <> struct Export<231> : SessionCall<0, 6, CmcCodes> {};
template <> struct Export<236> : SessionCall<0, 3, CmcCodes> {};
template <> struct Export<234> : SessionCall<0, 5, CmcCodes> {};

// cmc_send_documents 238: no session; the current provider, as any forwarder (its failure
// column says cmc: CmcCodes).

// cmc_free(memory): to the provider that returned the buffer, else the current one.
template <>
struct Export<230> {
  static constexpr int kKind = 0;
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(uintptr_t memory) noexcept {
    Provider* p = take_buffer_owner(reinterpret_cast<const void*>(memory));
    if (p == own_allocator()) {  // the stub's own MAPIAllocateBuffer memory: freed here
      own_free(reinterpret_cast<void*>(memory));
      return 0;  // CMC_SUCCESS
    }
    if (p == nullptr) p = current(Family::kSimple)->provider;
    if (p == nullptr) return CmcCodes::kNothingServes;
    void* fn = p->proc(Slot);
    return fn != nullptr ? invoke(fn, memory) : CmcCodes::kNoEntryPoint;
  }
};

// MAPIFreeBuffer (16, and 17 decorated): a buffer a Simple MAPI call returned goes back to the
// provider that allocated it; one of the stub's own allocator is freed here; anything else
// belongs to the Extended provider, else to the Simple one (a Simple-only client's memory).
template <int Slot>
MD_COLD uint64_t free_buffer_slow(uintptr_t buffer, Provider* owner) noexcept;

// Memory without a record in the table: the overflow map's record, else the Extended provider's.
template <int Slot>
MD_COLD uint64_t free_unrecorded_buffer(uintptr_t buffer) noexcept {
  Provider* owner = take_overflow_owner(reinterpret_cast<const void*>(buffer));
  if (owner == nullptr)  // memory nobody recorded: the Extended provider's
    if (void* fn = fast_extended_entry<Slot>()) return invoke(fn, buffer);
  return free_buffer_slow<Slot>(buffer, owner);
}

// Every case: the buffer's record taken, if it has one, then its owner or the Extended provider.
// The assembler fast path's fallback (kind 4: inline in md_slow_16/17, where it jumps while
// records are outstanding), and the C++ one's. A buffer with a record: the pass over its bucket,
// the record taken and its owner's cached entry point, all inline and all tail calls (no frame).
template <int Slot>
MD_HOT_INLINE uint64_t free_buffer_any(uintptr_t buffer) noexcept {
  detail::BufferSlot* s = find_buffer_slot(reinterpret_cast<const void*>(buffer));
  if (s == nullptr) [[unlikely]]
    return free_unrecorded_buffer<Slot>(buffer);
  Provider* owner = take_buffer_slot(s);
  // Null only for a free that races its own record (misuse): the slow path copes.
  if (owner != nullptr && owner != own_allocator()) [[likely]]
    if (void* fn = cached_proc(owner, Slot)) [[likely]]
      return invoke(fn, buffer);
  return free_buffer_slow<Slot>(buffer, owner);
}

// The fast path, as the assembler's: with no buffer record outstanding, every buffer is the
// Extended provider's. Only tail calls here, so the compiler sets up no frame for it.
template <int Slot>
MD_HOT_INLINE uint64_t free_buffer(uintptr_t buffer) noexcept {
  if (g_hot.buffer_count.load(std::memory_order_relaxed) == 0)
    if (void* fn = fast_extended_entry<Slot>()) return invoke(fn, buffer);
  return free_buffer_any<Slot>(buffer);
}

template <int Slot>
uint64_t free_buffer_slow(uintptr_t buffer, Provider* owner) noexcept {
  if (owner == own_allocator()) {
    own_free(reinterpret_cast<void*>(buffer));
    return kMapiSuccess;
  }
  void* fn = owner != nullptr ? owner->proc(Slot) : nullptr;
  if (fn == nullptr) {
    const Decision* d = nullptr;
    Provider* p = extended_provider(&d);
    fn = p != nullptr ? p->proc(Slot) : nullptr;
    if (fn == nullptr) {
      p = current(Family::kSimple)->provider;
      fn = p != nullptr ? p->proc(Slot) : nullptr;
    }
  }
  // Nothing can free it: 0, as MAPIStubLibrary's MAPIFreeBuffer answers (its ULONG is no
  // HRESULT; the caller has nothing to do about a buffer nobody owns).
  if (fn == nullptr) return 0;
  return invoke(fn, buffer);
}
template <>
struct Export<16> {
  static constexpr int kKind = 4;
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(uintptr_t buffer) noexcept { return free_buffer<Slot>(buffer); }
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t slow(uintptr_t buffer) noexcept { return free_buffer_any<Slot>(buffer); }
};
template <> struct Export<17> : Export<16> {};  // "MAPIFreeBuffer@4"

// MAPIAllocateBuffer (12, 13 decorated): the Extended provider's, as Windows' stub forwards it.
// Where none serves it (no DLLPathEx, or one without the entry point), the stub allocates
// itself instead of failing: a Simple MAPI provider may import MAPIAllocateBuffer from mapi32.dll
// (this stub) to build what it returns, and Windows' stub would leave such a provider unable to
// return anything. The own allocator costs nothing until it is used (README, "Providers that call
// back into mapi32").
template <int Slot>
MD_COLD uint64_t allocate_buffer_slow(uintptr_t size, uintptr_t out) noexcept;

template <int Slot>
MD_HOT_INLINE uint64_t allocate_buffer(uintptr_t size, uintptr_t out) noexcept {
  if (void* fn = fast_extended_entry<Slot>()) return invoke(fn, size, out);
  return allocate_buffer_slow<Slot>(size, out);
}

template <int Slot>
uint64_t allocate_buffer_slow(uintptr_t size, uintptr_t out) noexcept {
  const Decision* d = nullptr;
  Provider* p = extended_provider(&d);
  if (void* fn = p != nullptr ? p->proc(Slot) : nullptr) return invoke(fn, size, out);
  return static_cast<uint32_t>(own_allocate_buffer(static_cast<uint32_t>(size), reinterpret_cast<void**>(out)));
}
template <>
struct Export<12> {
  static constexpr int kKind = 1;
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(uintptr_t size, uintptr_t out) noexcept { return allocate_buffer<Slot>(size, out); }
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t slow(uintptr_t size, uintptr_t out) noexcept { return allocate_buffer_slow<Slot>(size, out); }
};
template <> struct Export<13> : Export<12> {};  // "MAPIAllocateBuffer@8"

// MAPIAllocateMore (14, 15 decorated): a block linked to a buffer of the stub's own allocator
// stays with it; everything else is the Extended provider's. With no buffer record outstanding
// no own buffer exists, and the check is one relaxed load.
template <int Slot>
MD_COLD uint64_t allocate_more_any(uintptr_t size, uintptr_t object, uintptr_t out) noexcept {
  HRESULT own = S_OK;
  if (object != 0 && g_hot.buffer_count.load(std::memory_order_relaxed) != 0 &&
      own_allocate_more(static_cast<uint32_t>(size), reinterpret_cast<const void*>(object), reinterpret_cast<void**>(out), &own))
    return static_cast<uint32_t>(own);
  return forward<Slot, ExportFamily::kEXTENDED, ExtendedCodes>(size, object, out);
}

// As free_buffer: only tail calls on the fast path.
template <int Slot>
MD_HOT_INLINE uint64_t allocate_more(uintptr_t size, uintptr_t object, uintptr_t out) noexcept {
  if (g_hot.buffer_count.load(std::memory_order_relaxed) == 0)
    if (void* fn = fast_extended_entry<Slot>()) return invoke(fn, size, object, out);
  return allocate_more_any<Slot>(size, object, out);
}
template <>
struct Export<14> {
  static constexpr int kKind = 4;
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(uintptr_t size, uintptr_t object, uintptr_t out) noexcept {
    return allocate_more<Slot>(size, object, out);
  }
  template <int Slot, ExportFamily, ReturnKind, typename... A>
  static uint64_t slow(uintptr_t size, uintptr_t object, uintptr_t out) noexcept {
    return allocate_more_any<Slot>(size, object, out);
  }
};
template <> struct Export<15> : Export<14> {};  // "MAPIAllocateMore@12"

// MAPIInitialize (20, 21) and MAPIUninitialize (22, 23): the Extended MAPI binding.
template <>
struct Export<20> {
  static constexpr int kKind = 0;
  template <int, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(uintptr_t init) noexcept { return static_cast<uint32_t>(initialize(reinterpret_cast<void*>(init))); }
};
template <> struct Export<21> : Export<20> {};  // "MAPIInitialize@4"
template <>
struct Export<22> {
  static constexpr int kKind = 0;
  template <int, ExportFamily, ReturnKind, typename... A>
  static uint64_t call() noexcept {
    uninitialize();
    return 0;
  }
};
template <> struct Export<23> : Export<22> {};  // "MAPIUninitialize@0"

// MAPISendMailW (256): kind 2, as a session call of its own entry point; the slow path converts
// for MAPISendMail where the provider has no MAPISendMailW.
template <>
struct Export<256> {
  static constexpr int kKind = 2;
  template <int, ExportFamily, ReturnKind, typename... A>
  static uint64_t call(uintptr_t session, uintptr_t ui, uintptr_t message, uintptr_t flags, uintptr_t reserved) noexcept {
    return send_mail_w(session, ui, message, flags, reserved);
  }
  template <int, ExportFamily, ReturnKind, typename... A>
  static uint64_t slow(uintptr_t session, uintptr_t ui, uintptr_t message, uintptr_t flags, uintptr_t reserved) noexcept {
    return send_mail_w_slow(session, ui, message, flags, reserved);
  }
};

}  // namespace

// Called by the x86 jump thunks: the entry point for `slot` in its family's provider, or a
// failure routine.
extern "C" void* WINAPI md_thunk_target(int slot) noexcept;

}  // namespace mapidispatch::stub

// ---- The forwarders -------------------------------------------------------------------------------

#define MD_P0
#define MD_P1 uintptr_t a0
#define MD_P2 MD_P1, uintptr_t a1
#define MD_P3 MD_P2, uintptr_t a2
#define MD_P4 MD_P3, uintptr_t a3
#define MD_P5 MD_P4, uintptr_t a4
#define MD_P6 MD_P5, uintptr_t a5
#define MD_P7 MD_P6, uintptr_t a6
#define MD_P8 MD_P7, uintptr_t a7
#define MD_P9 MD_P8, uintptr_t a8
#define MD_P10 MD_P9, uintptr_t a9
#define MD_P11 MD_P10, uintptr_t a10
#define MD_P12 MD_P11, uintptr_t a11
#define MD_A0
#define MD_A1 a0
#define MD_A2 MD_A1, a1
#define MD_A3 MD_A2, a2
#define MD_A4 MD_A3, a3
#define MD_A5 MD_A4, a4
#define MD_A6 MD_A5, a5
#define MD_A7 MD_A6, a6
#define MD_A8 MD_A7, a7
#define MD_A9 MD_A8, a8
#define MD_A10 MD_A9, a9
#define MD_A11 MD_A10, a10
#define MD_A12 MD_A11, a11

// On x86 an export of unknown argument size is a jump thunk (thunks_x86.S), not a C++ function.
#if defined(_M_IX86) || defined(__i386__)
#define MD_CPP_FORWARDER(known) known
#else
#define MD_CPP_FORWARDER(known) 1
#endif

#define MD_IF_0(...)
#define MD_IF_1(...) __VA_ARGS__
#define MD_IF(c) MD_IF_I(c)
#define MD_IF_I(c) MD_IF_##c
#define MD_NOT_0 1
#define MD_NOT_1 0
#define MD_NOT_2 0
#define MD_NOT_3 0
#define MD_NOT_4 0
#define MD_IS_OWN(kind) MD_NOT_##kind

// With the assembler fast path, the exports of kind 1 and 2 are assembler (thunks_<arch>.S) and
// C++ supplies their slow paths, md_slow_<ordinal>, with the export's own signature (on x86 its
// stdcall decoration, _md_slow_<ordinal>@<bytes>, is what the thunk jumps to).
#if defined(MD_ASM_FAST_THUNKS)
#define MD_CPP_EXPORT(kind) MD_IS_OWN(kind)
#define MD_CPP_SLOW(kind) MD_NOT_##kind##_SLOW
#define MD_NOT_0_SLOW 0
#define MD_NOT_1_SLOW 1
#define MD_NOT_2_SLOW 1
#define MD_NOT_3_SLOW 1
#define MD_NOT_4_SLOW 1
#else
#define MD_CPP_EXPORT(kind) 1
#define MD_CPP_SLOW(kind) 0
#endif

#define MD_EXPORT(slot, ordinal, primary, alternate, family, bytes, known, nargs, kind, ret)               \
  static_assert(mapidispatch::stub::Export<ordinal>::kKind == kind,                                      \
                "gen_exports.cmake and exports.cpp disagree on how export " #ordinal " is handled");     \
  MD_IF(MD_CPP_FORWARDER(known))(MD_IF(MD_CPP_EXPORT(kind))(                                              \
      extern "C" uint64_t WINAPI md_export_##ordinal(MD_P##nargs) {                                      \
        using namespace mapidispatch::stub;                                                              \
        return Export<ordinal>::template call<slot, ExportFamily::family, ReturnKind::ret>(MD_A##nargs); \
      }))                                                                                                \
  MD_IF(MD_CPP_FORWARDER(known))(MD_IF(MD_CPP_SLOW(kind))(                                               \
      extern "C" uint64_t WINAPI md_slow_##ordinal(MD_P##nargs) {                                        \
        using namespace mapidispatch::stub;                                                              \
        return Export<ordinal>::template slow<slot, ExportFamily::family, ReturnKind::ret>(MD_A##nargs); \
      }))
#include "exports.inc"
#undef MD_EXPORT

namespace mapidispatch::stub {
namespace {

uint64_t WINAPI thunk_failure_simple() noexcept { return kMapiEFailure; }
uint64_t WINAPI thunk_failure_extended() noexcept { return static_cast<uint32_t>(kMapiECallFailed); }
uint64_t WINAPI thunk_failure_zero() noexcept { return 0; }

}  // namespace

extern "C" void* WINAPI md_thunk_target(int slot) noexcept {
  if (slot < 0 || slot >= kExportCount) return reinterpret_cast<void*>(&thunk_failure_extended);
  const ExportInfo& e = kExports[slot];
  const Decision* d = nullptr;
  Provider* p = nullptr;
  if (e.family == ExportFamily::kSIMPLE) {
    d = current(Family::kSimple);
    p = d->provider;
  } else {
    p = extended_provider(&d);
  }
  if (void* fn = p != nullptr ? p->proc(slot) : nullptr) return fn;
  if (p == nullptr && d != nullptr) prefirstrun_once(*d);
  // Nothing serves it. The argument size of these exports is unknown, so the failure routine
  // returns without popping arguments: right for cdecl callers (CMC), wrong for stdcall ones.
  switch (e.ret) {
    case ReturnKind::kSIMPLE: return reinterpret_cast<void*>(&thunk_failure_simple);
    case ReturnKind::kHRESULT:
    case ReturnKind::kUNKNOWN: return reinterpret_cast<void*>(&thunk_failure_extended);
    default: return reinterpret_cast<void*>(&thunk_failure_zero);
  }
}

}  // namespace mapidispatch::stub
