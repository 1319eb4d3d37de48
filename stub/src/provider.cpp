// Copyright MapiDispatch authors.

#include "provider.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "diagnostics.h"

namespace mapidispatch::stub {
namespace {

FARPROC find(HMODULE module, const ExportInfo& e) {
  if (e.primary[0] == '\0') return ::GetProcAddress(module, MAKEINTRESOURCEA(e.ordinal));  // exported by ordinal only
  FARPROC f = ::GetProcAddress(module, e.primary);
  if (f == nullptr && e.alternate[0] != '\0') f = ::GetProcAddress(module, e.alternate);
  return f;
}

// The first look-up in this process is the last part of its first call: traced with its time
// (stub_bench's first-call breakdown), when tracing.
std::atomic<bool> g_first_lookup_traced{false};

}  // namespace

void* Provider::lookup(int slot) {
  const ExportInfo& e = kExports[slot];
  FARPROC f = nullptr;
  if (!g_first_lookup_traced.load(std::memory_order_relaxed) && trace_enabled() &&
      !g_first_lookup_traced.exchange(true)) {
    PhaseClock clock(true);
    f = find(module, e);
    clock.lap(PhaseClock::kProviderLoad);
    trace("first entry point: " + std::string(e.primary[0] ? e.primary : "(ordinal)") + " #" + std::to_string(e.ordinal) +
          (f ? " found" : " absent") + ", looked up in " + clock.total());
  } else {
    f = find(module, e);
  }
  void* p = f != nullptr ? reinterpret_cast<void*>(f) : absent();
  // Release: pairs with proc()'s acquire. Racing threads store the same value.
  procs[slot].store(p, std::memory_order_release);
  return p;
}

}  // namespace mapidispatch::stub
