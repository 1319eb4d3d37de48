// Copyright MapiDispatch authors.
//
// The binding state: the table, the per-family decisions, the providers this process loaded,
// the registry-mode answers and the Extended MAPI binding.

#include "binding.h"

#include <windows.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

#include "diagnostics.h"
#include "dllmain.h"
#include "export_list.h"
#include "lazy_global.h"
#include "load_failure.h"
#include "mapidispatch/section_trust.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"
#include "mapidispatch/text.h"
#include "mapidispatch/win32/process_user.h"
#include "mapidispatch/win32/section_security.h"
#include "provider.h"
#include "registry_fallback.h"
#include "srw_lock.h"

namespace mapidispatch::stub {
namespace {

// How long a registry-mode decision stands before the stub tries the table and the registry
// again. Short enough that a service started after a process is noticed; long enough that a
// process calling MAPI in a loop does not re-read the registry on every call.
constexpr uint64_t kFallbackRetryMs = 30000;

// How long a read waits for a write in progress before the registry is read instead. See
// read_table_locked().
constexpr uint64_t kWriteInProgressWaitMs = 250;

std::wstring wide(const std::u16string& s) { return std::wstring(s.begin(), s.end()); }

bool same_path(const std::wstring& a, const std::wstring& b) {
  return ::CompareStringOrdinal(a.c_str(), static_cast<int>(a.size()), b.c_str(), static_cast<int>(b.size()), TRUE) ==
         CSTR_EQUAL;
}

// ---- Family state -----------------------------------------------------------------------------

struct Globals {
  SrwLock bind_lock;  // slow path: table, providers, decisions

  // The table: opened once, on the first slow path; retried while missing or untrusted.
  std::unique_ptr<ReadOnlySection> section;
  std::optional<TableReader> reader_storage;
  uint64_t next_table_try = 0;
  bool registry_mode = false;
  bool settings_read = false;
  std::string section_name;
  TableView view = TableView::kNative;  // which answers of the table are this process's

  // Registry-mode resolution, cached for the process until its retry time.
  std::optional<ScopeResolution> fb_machine;
  std::optional<ScopeResolution> fb_user;
  uint64_t fb_expires = 0;

  std::u16string user_sid;
  std::vector<std::unique_ptr<Provider>> providers;
  std::vector<std::unique_ptr<Decision>> decisions;  // interned; never freed (readers hold them)

  // Extended MAPI binding.
  SrwLock ext_lock;
  int ext_init_count = 0;
  //! The thread inside initialize() (holding ext_lock), 0 if none: a provider's MAPIInitialize
  //! that calls MAPIInitialize again is answered without the lock. Only that thread stores its
  //! id, so no other thread ever reads its own id here.
  std::atomic<DWORD> ext_owner{0};
};

// The process's binding state (lazy_global.h: never built in DllMain, nor behind a static's guard).
Globals& g() { return lazy_global<Globals>(); }

void read_settings_locked(Globals& s, PhaseClock& clock) {
  if (s.settings_read) return;
  s.settings_read = true;
  s.registry_mode = _wcsicmp(env_var(L"MAPIDISPATCH_MODE").c_str(), L"registry") == 0;
  const std::wstring name = env_var(L"MAPIDISPATCH_SECTION");
  s.section_name = name.empty() ? std::string(kDefaultSectionName) : narrow(name);
#if defined(_M_IX86) || defined(__i386__)
  // A 32-bit process on 64-bit Windows (x64 or ARM64) runs under WOW64: its registry view and
  // System32 are not a 64-bit process's, and the table carries its answers separately.
  BOOL wow64 = FALSE;
  if (::IsWow64Process(::GetCurrentProcess(), &wow64) && wow64) s.view = TableView::kWow64;
#endif
  clock.lap(PhaseClock::kSettings);
  s.user_sid = win32::process_user_sid();
  clock.lap(PhaseClock::kUserSid);
  trace("stub: mode=" + std::string(s.registry_mode ? "registry" : "table") + " section=" + s.section_name +
        " view=" + std::string(to_string(s.view)) + " user=" + text::utf16_to_utf8(s.user_sid));
  clock.lap(PhaseClock::kTrace);
}

// Maps the table if it is not mapped yet and it is time to try. Under bind_lock.
void ensure_table_locked(Globals& s, PhaseClock& clock) {
  if (s.registry_mode || g_hot.reader.load(std::memory_order_relaxed) != nullptr) return;
  const uint64_t now = ::GetTickCount64();
  if (now < s.next_table_try) return;
  s.next_table_try = now + kFallbackRetryMs;
  std::unique_ptr<ReadOnlySection> section;
  const std::error_code open_error = ReadOnlySection::open(s.section_name, &section);
  clock.lap(PhaseClock::kTableOpen);
  if (open_error) {
    trace("table: cannot open " + s.section_name + ": " + open_error.message() + "; using the registry");
    clock.lap(PhaseClock::kTrace);
    return;
  }
  // Trust before use: a section anybody but SYSTEM or Administrators could write is ignored.
  SecurityDescription desc;
  const std::error_code security_error =
      win32::describe_object_security(static_cast<HANDLE>(section->native_handle()), &desc);
  const TrustVerdict verdict = security_error ? TrustVerdict{} : evaluate_table_trust(desc);
  clock.lap(PhaseClock::kTrust);
  if (security_error) {
    trace("table: cannot read the section's security (" + security_error.message() + "); using the registry");
    clock.lap(PhaseClock::kTrace);
    return;
  }
  if (!verdict.trusted) {
    trace("table: untrusted, ignored: " + verdict.reason + "; using the registry");
    clock.lap(PhaseClock::kTrace);
    return;
  }
  if (section->bytes().size() < sizeof(layout::TableHeader)) {
    trace("table: the section is too small for a table; using the registry");
    clock.lap(PhaseClock::kTrace);
    return;
  }
  s.section = std::move(section);
  s.reader_storage.emplace(s.section->bytes());
  // Release: the reader object is complete before another thread's acquire load can see it.
  g_hot.reader.store(&*s.reader_storage, std::memory_order_release);
  // The mapping is at least a page, so the header's count word (offset 16) is inside it.
  // Release: the mapping and the reader are complete before a fast path's acquire load of the
  // count pointer can see it.
  g_hot.count.store(reinterpret_cast<const uint32_t*>(s.section->bytes().data() + 16), std::memory_order_release);
  clock.lap(PhaseClock::kTableOpen);
}

// The provider this process loaded from `path16`, or nullptr.
Provider* loaded_provider_locked(Globals& s, const std::u16string& path16) {
  const std::wstring path = wide(path16);
  for (auto& p : s.providers)
    if (same_path(p->path, path)) return p.get();
  return nullptr;
}

Provider* load_provider_locked(Globals& s, const std::u16string& path16, std::string* why) {
  if (Provider* loaded = loaded_provider_locked(s, path16)) return loaded;
  const std::wstring path = wide(path16);
  wchar_t self[MAX_PATH * 4];
  const DWORD n = ::GetModuleFileNameW(g_self, self, static_cast<DWORD>(std::size(self)));
  if (n > 0 && same_path(std::wstring(self, n), path)) {
    *why = "the target is this stub itself (recursion)";
    return nullptr;
  }
  // LOAD_WITH_ALTERED_SEARCH_PATH: the provider's own folder is searched for its dependencies
  // (Office installs whose DLLs need their folder, not the caller's PATH). A bare file name (the
  // table's kSearchOrder) goes through the process's standard search order, as under Windows'
  // stub: the flag is undefined for a relative name.
  const bool bare_name = path.find_first_of(L"\\/:") == std::wstring::npos;
  HMODULE m = ::LoadLibraryExW(path.c_str(), nullptr, bare_name ? 0 : LOAD_WITH_ALTERED_SEARCH_PATH);
  if (m == nullptr) {
    const DWORD err = ::GetLastError();
    // The loader says "module not found" whether the provider or a DLL it imports is missing:
    // name the DLL (load_failure.h), for the trace and for a debugger (DebugView).
    std::string failure = describe_load_failure(path, err);
    if (failure.empty()) failure = std::error_code(static_cast<int>(err), std::system_category()).message();
    *why = "LoadLibraryEx failed: " + failure;
    debug_output(*why);
    return nullptr;
  }
  if (m == g_self) {
    ::FreeLibrary(m);
    *why = "the target is this stub itself (recursion)";
    return nullptr;
  }
  auto p = std::make_unique<Provider>();
  p->module = m;
  p->path = path;
  s.providers.push_back(std::move(p));
  return s.providers.back().get();
}

const Decision* intern_locked(Globals& s, Decision d) {
  for (auto& e : s.decisions) {
    if (e->provider == d.provider && e->supports_utf8 == d.supports_utf8 && e->status == d.status &&
        e->prefirstrun_message == d.prefirstrun_message && e->prefirstrun_caption == d.prefirstrun_caption)
      return e.get();
  }
  s.decisions.push_back(std::make_unique<Decision>(std::move(d)));
  return s.decisions.back().get();
}

std::vector<std::u16string> loaded_override_modules(const ScopeResolution& machine, const ScopeResolution* user) {
  std::vector<std::u16string> loaded;
  for (const ScopeResolution* scope : {user, &machine}) {
    if (scope == nullptr) continue;
    for (const AppOverride& o : scope->overrides) {
      if (o.module.empty() || o.module.size() > MAX_PATH) continue;
      // GetModuleHandleW answers "is a module of that name loaded here" without enumerating.
      if (::GetModuleHandleW(wide(o.module).c_str()) != nullptr) loaded.push_back(o.module);
    }
  }
  return loaded;
}

// Statuses that describe the file at the target path, which can change without any registry
// change: the table (resolved by the service earlier) may be stale about them.
bool file_may_have_changed(TargetStatus status) {
  return status == TargetStatus::kMissing || status == TargetStatus::kNotADll ||
         status == TargetStatus::kMissingExports || status == TargetStatus::kComponentNotInstalled;
}

// The machine and user scopes resolved from the registry, as the Windows stub would: cached for
// kFallbackRetryMs (forced registry mode: not cached). Appends to `source` why it failed, if so.
void registry_scopes_locked(Globals& s, uint64_t now, ScopeResolution* machine, std::optional<ScopeResolution>* user,
                            std::string* source) {
  if (!s.fb_machine || now >= s.fb_expires) {
    ScopeResolution m;
    std::optional<ScopeResolution> u;
    std::string why;
    if (resolve_from_registry(s.user_sid, &m, &u, &why)) {
      s.fb_machine = std::move(m);
      s.fb_user = std::move(u);
    } else {
      s.fb_machine = ScopeResolution{};
      s.fb_user.reset();
      *source += "; " + why;
    }
    // Forced registry mode resolves on every call, as the Windows stub does.
    s.fb_expires = s.registry_mode ? now : now + kFallbackRetryMs;
  }
  *machine = *s.fb_machine;
  *user = s.fb_user;
}

// Reads this process's scopes from the table. A read that finds a write in progress on every
// one of its bounded attempts (kBusy) is, almost always, a read that met the service's publishing
// thread preempted between the seqlock's two increments: a publish holds the count odd for
// microseconds, but its thread can lose the CPU for a scheduler quantum or more on a loaded
// server, and that is when the most processes call. Reading the registry then would give the
// answer of before the change, or none if a process reads it mid-change, where waiting gives
// the table's answer: so the stub waits, off the CPU (the writer may need this very one), for up
// to kWriteInProgressWaitMs. Only a writer that died mid-publish outlasts that (the count stays
// odd until the service restarts and completes the table); the caller then reads the registry,
// once per kFallbackRetryMs, as with no table. `waited_ms` is the time spent waiting (to
// GetTickCount64's resolution), or nullopt if the first read needed no wait.
TableError read_table_locked(const Globals& s, const TableReader& reader, TableSnapshot* snap,
                             std::optional<uint64_t>* waited_ms) {
  TableError e = reader.read(s.user_sid, snap, {}, s.view);
  waited_ms->reset();
  if (e != TableError::kBusy) return e;
  const uint64_t start = ::GetTickCount64();
  for (int round = 0; e == TableError::kBusy; ++round) {
    const uint64_t elapsed = ::GetTickCount64() - start;
    if (elapsed >= kWriteInProgressWaitMs) break;
    // First give the rest of this quantum to a ready thread (the writer, if it waits for a CPU),
    // then sleep: a writer that is itself waiting (for the disk, a page fault) needs no CPU but time.
    if (round < 4) {
      ::SwitchToThread();
    } else {
      ::Sleep(1);
    }
    e = reader.read(s.user_sid, snap, {}, s.view);
  }
  *waited_ms = ::GetTickCount64() - start;
  return e;
}

const Decision* rebind(Family family) {
  // The parts of this bind, for the trace: measured only when tracing.
  PhaseClock clock(trace_enabled());
  Globals& s = g();
  std::lock_guard<SrwLock> hold(s.bind_lock);
  clock.lap(PhaseClock::kSettings);
  read_settings_locked(s, clock);
  ensure_table_locked(s, clock);
  FamilyState& fs = family_state(family);
  const TableReader* reader = g_hot.reader.load(std::memory_order_relaxed);
  uint32_t seq = reader ? reader->sequence() : kNoTable;
  const uint64_t now = ::GetTickCount64();
  if (const Decision* d = fs.decision.load(std::memory_order_relaxed);
      d != nullptr && fs.sequence.load(std::memory_order_relaxed) == seq &&
      (fs.retry_at.load(std::memory_order_relaxed) == 0 || now < fs.retry_at.load(std::memory_order_relaxed)))
    return d;  // another thread rebound while this one waited

  ScopeResolution machine;
  std::optional<ScopeResolution> user;
  bool from_table = false;
  std::string source;
  if (reader != nullptr) {
    TableSnapshot snap;
    // kNoWow64View (a table from a writer that published no answers for 32-bit processes)
    // falls back to the registry like any other table this process cannot use; so does
    // kUserNotInTable (an incomplete table without this user's scope: the user's own settings
    // may be among those that did not fit, so the table's machine scope is not the answer).
    // The registry answer is retried like any registry-mode decision, and at once when the
    // table changes (a publish that makes room for the user).
    std::optional<uint64_t> waited_ms;
    const TableError e = read_table_locked(s, *reader, &snap, &waited_ms);
    const std::string waited =
        waited_ms ? ", after waiting " + std::to_string(*waited_ms) + " ms for a write in progress" : std::string();
    if (e == TableError::kOk) {
      machine = std::move(snap.machine);
      user = std::move(snap.user);
      from_table = true;
      // The count the copy was consistent at (a wait ends at a later one than `seq`): the
      // decision holds until the table changes from that one.
      seq = snap.info.sequence;
      source = "table generation " + std::to_string(snap.info.generation) + waited;
    } else {
      source = "registry (table: " + make_error_code(e).message() + waited + ")";
    }
  } else {
    source = s.registry_mode ? "registry (forced)" : "registry (no table)";
  }
  clock.lap(PhaseClock::kTableRead);
  if (!from_table) registry_scopes_locked(s, now, &machine, &user, &source);
  clock.lap(PhaseClock::kRegistry);

  const auto modules = loaded_override_modules(machine, user ? &*user : nullptr);
  const Bitness bitness = this_process_bitness();
  DispatchDecision dd = decide_dispatch(machine, user ? &*user : nullptr, modules, bitness, family);

  // Never worse than the Windows stub, which loads its provider once per process and then keeps
  // calling it, and which looks at the file system itself when a process starts:
  // 1. A provider this process already loaded stays in use when its file has gone or changed
  //    (deleted, renamed aside, replaced by something that is no longer a usable DLL): the
  //    module in memory still works.
  Provider* kept = nullptr;
  if (!dd.usable && file_may_have_changed(dd.status) && !dd.named_path.empty()) {
    kept = loaded_provider_locked(s, dd.named_path);
    if (kept != nullptr) dd.reason += "; the module is already loaded in this process: keeps using it";
  }
  // 2. The table's "the file is not there" may be older than the file system (the service sees
  //    files at its periodic revalidation): check the registry and the file system here, and
  //    use that answer while it stands (it is retried like any registry-mode decision).
  clock.lap(PhaseClock::kDecide);
  if (kept == nullptr && from_table && !dd.usable && file_may_have_changed(dd.status)) {
    // Not from the fallback cache: this runs once per table change (and per retry while the
    // local answer is in use), and must see the file system as it is now.
    ScopeResolution m;
    std::optional<ScopeResolution> u;
    std::string why;
    std::string local_source = "registry (the table says " + std::string(to_string(dd.status)) + "; checked here)";
    DispatchDecision local;
    if (resolve_from_registry(s.user_sid, &m, &u, &why))
      local = decide_dispatch(m, u ? &*u : nullptr, loaded_override_modules(m, u ? &*u : nullptr), bitness, family);
    if (local.usable) {
      dd = std::move(local);
      from_table = false;
      source = std::move(local_source);
    }
  }
  clock.lap(PhaseClock::kRegistry);

  Decision d;
  d.supports_utf8 = dd.supports_utf8;
  d.status = kept != nullptr ? TargetStatus::kFound : dd.status;
  d.prefirstrun_message = wide(dd.prefirstrun_message);
  d.prefirstrun_caption = wide(dd.prefirstrun_caption);
  std::string load_error;
  if (kept != nullptr) {
    d.provider = kept;
  } else if (dd.usable) {
    clock.lap(PhaseClock::kDecide);
    d.provider = load_provider_locked(s, dd.path, &load_error);
    clock.lap(PhaseClock::kProviderLoad);
    if (d.provider != nullptr) d.provider->supports_utf8.store(dd.supports_utf8, std::memory_order_relaxed);
  }
  // A provider the table names that did not load here (a DLL it imports is missing, say) is
  // tried again after kFallbackRetryMs, as a registry-mode answer is: Windows' stub tries on
  // every call, and the administrator's fix (a runtime installed) must not wait for the next
  // table change. Meanwhile the failure costs a comparison, not a load and its diagnosis.
  const bool load_failed = dd.usable && kept == nullptr && d.provider == nullptr;
  const Decision* published = intern_locked(s, std::move(d));
  // Release, decision (and its procs) before count: a thread whose acquire load of fs.sequence sees `seq` also
  // sees this decision (or a later one).
  fs.decision.store(published, std::memory_order_release);
  fs.procs.store(published->provider != nullptr ? published->provider->procs : g_no_procs, std::memory_order_release);
  const bool settled = from_table && !load_failed;
  fs.retry_at.store(settled ? 0 : (s.registry_mode ? now : now + kFallbackRetryMs), std::memory_order_release);
  fs.sequence.store(seq, std::memory_order_release);
  // Last, release: the assembler fast path compares this one word and then reads procs.
  fs.fast_sequence.store(settled ? seq : kNeverMatches, std::memory_order_release);
  clock.lap(PhaseClock::kPublish);
  // The parts of this bind, taken before its lines are written ("trace writes so far" then
  // covers every line before this bind's), on a line of their own after the bind's (whose end
  // is the load error, which tests compare with the debugger's line).
  const std::string phases = clock.on() ? std::string(to_string(family)) + " bind's " + clock.describe() : std::string();
  trace("bind " + std::string(to_string(family)) + ": " +
        (published->provider ? narrow(published->provider->path) : std::string("(nothing)")) + " via " + source +
        "; " + dd.reason + (load_error.empty() ? "" : "; " + load_error));
  if (clock.on()) trace(phases);
  return published;
}

}  // namespace

const Decision* rebind_family(Family family) noexcept {
  try {
    return rebind(family);
  } catch (...) {
    // Out of memory on the slow path: keep whatever was decided before, else nothing serves.
    static const Decision nothing{};
    // Acquire: pairs with rebind()'s release of the decision, so the Decision is complete.
    const Decision* d = family_state(family).decision.load(std::memory_order_acquire);
    return d != nullptr ? d : &nothing;
  }
}

HRESULT initialize(void* init_struct) noexcept {
  using Fn = HRESULT(WINAPI*)(void*);
  Globals& s = g();
  // Held across the provider's MAPIInitialize so concurrent first calls bind once. An SRW lock
  // is not recursive: a provider that re-enters MAPIInitialize from its own MAPIInitialize
  // is answered from the count without the lock (see below).
  if (s.ext_owner.load(std::memory_order_relaxed) == ::GetCurrentThreadId()) {
    Provider* p = bound_extended();
    constexpr int slot = slot_of_ordinal(20);
    static_assert(slot >= 0);
    void* fn = p ? p->proc(slot) : nullptr;
    return fn ? reinterpret_cast<Fn>(fn)(init_struct) : kMapiECallFailed;
  }
  std::lock_guard<SrwLock> hold(s.ext_lock);
  s.ext_owner.store(::GetCurrentThreadId(), std::memory_order_relaxed);
  Provider* p = s.ext_init_count > 0 ? g_hot.ext_bound.load(std::memory_order_relaxed) : current(Family::kExtended)->provider;
  HRESULT hr = kMapiECallFailed;
  constexpr int kInitializeSlot = slot_of_ordinal(20);
  static_assert(kInitializeSlot >= 0);
  void* fn = p ? p->proc(kInitializeSlot) : nullptr;
  if (fn != nullptr) hr = reinterpret_cast<Fn>(fn)(init_struct);
  if (SUCCEEDED(hr)) {
    if (s.ext_init_count++ == 0) {
      // Release: the provider (its module, its entry points so far) is complete before a call's
      // bound_extended() (acquire) sees it.
      g_hot.ext_bound.store(p, std::memory_order_release);
      g_hot.ext_bound_procs.store(p->procs, std::memory_order_release);  // the assembler fast path's view
      trace("extended: bound to " + narrow(p->path));
    }
  }
  s.ext_owner.store(0, std::memory_order_relaxed);
  if (p == nullptr) prefirstrun_once(*current(Family::kExtended));
  return hr;
}

void uninitialize() noexcept {
  using Fn = void(WINAPI*)();
  Globals& s = g();
  Provider* p = nullptr;
  {
    std::lock_guard<SrwLock> hold(s.ext_lock);
    p = g_hot.ext_bound.load(std::memory_order_relaxed);
    if (s.ext_init_count > 0 && --s.ext_init_count == 0) {
      // Release, as at binding (pairs with bound_extended()'s acquire).
      g_hot.ext_bound_procs.store(nullptr, std::memory_order_release);
      g_hot.ext_bound.store(nullptr, std::memory_order_release);
      trace("extended: unbound from " + (p ? narrow(p->path) : std::string("?")));
    }
  }
  if (p == nullptr) p = current(Family::kExtended)->provider;  // unbalanced call: pass it on
  constexpr int kUninitializeSlot = slot_of_ordinal(22);
  static_assert(kUninitializeSlot >= 0);
  void* fn = p ? p->proc(kUninitializeSlot) : nullptr;
  if (fn != nullptr) reinterpret_cast<Fn>(fn)();
}

}  // namespace mapidispatch::stub
