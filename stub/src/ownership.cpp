// Copyright MapiDispatch authors.

#include "ownership.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>

#include "export_list.h"
#include "lazy_global.h"
#include "srw_lock.h"

namespace mapidispatch::stub {
namespace {

// Simple MAPI sessions and buffers.
struct Owners {
  SrwLock owner_lock;
  std::unordered_map<uintptr_t, Provider*> sessions;
  std::unordered_map<const void*, Provider*> buffers;
};

// The process's sessions and buffers (lazy_global.h: never built in DllMain, nor behind a static's
// guard).
Owners& g() { return lazy_global<Owners>(); }

}  // namespace

void remember_session(uintptr_t session, Provider* p) noexcept {
  try {
    std::lock_guard<SrwLock> hold(g().owner_lock);
    g().sessions[session] = p;
    g_hot.session_count.store(g().sessions.size(), std::memory_order_relaxed);
  } catch (...) {
  }
}

Provider* session_owner_slow(uintptr_t session) noexcept {
  std::lock_guard<SrwLock> hold(g().owner_lock);
  auto it = g().sessions.find(session);
  return it == g().sessions.end() ? nullptr : it->second;
}

void forget_session(uintptr_t session) noexcept {
  std::lock_guard<SrwLock> hold(g().owner_lock);
  g().sessions.erase(session);
  g_hot.session_count.store(g().sessions.size(), std::memory_order_relaxed);
}

bool remember_buffer(const void* buffer, Provider* p) noexcept {
  if (buffer == nullptr) return false;
  try {
    std::lock_guard<SrwLock> hold(g().owner_lock);
    g().buffers[buffer] = p;
    g_hot.buffer_count.store(g().buffers.size(), std::memory_order_relaxed);
    return true;
  } catch (...) {
    return false;
  }
}

Provider* take_buffer_owner(const void* buffer) noexcept {
  // Most MAPIFreeBuffer calls free Extended MAPI memory: with no Simple MAPI buffer outstanding
  // they cost one relaxed load here, no lock.
  if (buffer == nullptr || g_hot.buffer_count.load(std::memory_order_relaxed) == 0) return nullptr;
  std::lock_guard<SrwLock> hold(g().owner_lock);
  auto it = g().buffers.find(buffer);
  if (it == g().buffers.end()) return nullptr;
  Provider* p = it->second;
  g().buffers.erase(it);
  g_hot.buffer_count.store(g().buffers.size(), std::memory_order_relaxed);
  return p;
}

// ---- The stub's own allocator ------------------------------------------------------------------
// Each buffer is a block of the process heap with a header that links the MAPIAllocateMore
// blocks allocated against it, so MAPIFreeBuffer of the root frees them all (MAPI's contract).
// 16 bytes of header keep the caller's memory 16-byte aligned on x64, as HeapAlloc's is.

namespace {
struct alignas(16) OwnBlock {
  OwnBlock* next = nullptr;  // the next MAPIAllocateMore block of the same root
};
static_assert(sizeof(OwnBlock) == 16);

OwnBlock* own_block_of(const void* data) {
  return reinterpret_cast<OwnBlock*>(const_cast<char*>(static_cast<const char*>(data)) - sizeof(OwnBlock));
}

void* own_block_alloc(uint32_t size) {
  void* b = ::HeapAlloc(::GetProcessHeap(), 0, sizeof(OwnBlock) + size);
  if (b == nullptr) return nullptr;
  return static_cast<char*>(static_cast<void*>(new (b) OwnBlock)) + sizeof(OwnBlock);
}

// An address only, never a Provider object: nothing is constructed at load time, and no proc()
// is ever asked of it (free_buffer and own_allocate_more recognise it first).
alignas(Provider) constinit char g_own_allocator_tag = 0;
}  // namespace

Provider* own_allocator() noexcept { return reinterpret_cast<Provider*>(&g_own_allocator_tag); }

HRESULT own_allocate_buffer(uint32_t size, void** out) noexcept {
  if (out == nullptr) return kMapiEInvalidParameter;
  *out = own_block_alloc(size);
  if (*out == nullptr) return kMapiENotEnoughMemory;
  if (!remember_buffer(*out, own_allocator())) {  // out of memory recording it
    ::HeapFree(::GetProcessHeap(), 0, own_block_of(*out));
    *out = nullptr;
    return kMapiENotEnoughMemory;
  }
  return S_OK;
}

bool own_allocate_more(uint32_t size, const void* root, void** out, HRESULT* result) noexcept {
  if (root == nullptr || g_hot.buffer_count.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<SrwLock> hold(g().owner_lock);
  auto it = g().buffers.find(root);
  if (it == g().buffers.end() || it->second != own_allocator()) return false;
  if (out == nullptr) {
    *result = kMapiEInvalidParameter;
    return true;
  }
  void* data = own_block_alloc(size);
  if (data == nullptr) {
    *out = nullptr;
    *result = kMapiENotEnoughMemory;
    return true;
  }
  OwnBlock* r = own_block_of(root);
  own_block_of(data)->next = r->next;
  r->next = own_block_of(data);
  *out = data;
  *result = S_OK;
  return true;
}

void own_free(void* root) noexcept {
  if (root == nullptr) return;
  OwnBlock* b = own_block_of(root);
  while (b != nullptr) {
    OwnBlock* next = b->next;
    ::HeapFree(::GetProcessHeap(), 0, b);
    b = next;
  }
}

}  // namespace mapidispatch::stub
