// Copyright MapiDispatch authors.
//
//! \file
//! A provider: a mail client's DLL this process loaded, and the cache of its entry points by
//! export slot (export_list.h). Loading one is the binding's (binding.cpp); looking up its entry
//! points is this file's.

#ifndef MAPIDISPATCH_STUB_PROVIDER_H_
#define MAPIDISPATCH_STUB_PROVIDER_H_

#include <windows.h>

#include <atomic>
#include <string>

#include "export_list.h"

namespace mapidispatch::stub {

//! The entry after a procs array's entry points: the Provider that owns the array, or nullptr
//! (g_no_procs). Stored before the array is published and never changed.
inline constexpr int kProcsOwnerSlot = kExportCount;

//! A loaded provider DLL. Never unloaded: pointers into it may live anywhere in the process.
struct Provider {
  HMODULE module = nullptr;
  std::wstring path;
  std::atomic<bool> supports_utf8{false};
  //! Entry points by slot: nullptr = not looked up yet, kAbsent = the DLL has neither form.
  //! One more entry after them (kProcsOwnerSlot) names this Provider, so that a fast path that
  //! holds only a procs array (FamilyState::procs) finds whose it is with one load.
  std::atomic<void*> procs[kExportCount + 1] = {};

  Provider() { procs[kProcsOwnerSlot].store(this, std::memory_order_relaxed); }
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;

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

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_PROVIDER_H_
