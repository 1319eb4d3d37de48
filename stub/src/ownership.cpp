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

constinit detail::BufferBucket detail::g_buffer_buckets[size_t{1} << detail::kBucketBits];
constinit std::atomic<size_t> detail::g_buffer_overflow{0};

namespace {
using detail::g_buffer_overflow;

// The slot recording `buffer`, or nullptr. Acquire on the key, as take_buffer_owner().
detail::BufferSlot* find_slot(const void* buffer) {
  if (buffer == nullptr) return nullptr;  // the key of a free slot
  for (detail::BufferSlot& s : detail::bucket_of(buffer).slots)
    if (s.key.load(std::memory_order_acquire) == buffer) return &s;
  return nullptr;
}

// Sessions, the overflow of the buffer table, and the links of the own allocator's blocks.
struct Owners {
  SrwLock owner_lock;
  std::unordered_map<uintptr_t, Provider*> sessions;
  std::unordered_map<Provider*, size_t> session_owners;  // open sessions per provider
  std::unordered_map<const void*, Provider*> overflow;   // buffer records that found no slot
};

// The process's sessions and buffers (lazy_global.h: never built in DllMain, nor behind a static's
// guard).
Owners& g() { return lazy_global<Owners>(); }

// After any change of the sessions, under the lock: the words the per-call paths read.
void publish_sessions(Owners& o) {
  g_hot.session_procs.store(o.session_owners.size() == 1 ? o.session_owners.begin()->first->procs : nullptr,
                            std::memory_order_relaxed);
  g_hot.session_count.store(o.sessions.size(), std::memory_order_relaxed);
}

void drop_session_owner(Owners& o, Provider* p) {
  auto it = o.session_owners.find(p);
  if (it != o.session_owners.end() && --it->second == 0) o.session_owners.erase(it);
}

}  // namespace

void remember_session(uintptr_t session, Provider* p) noexcept {
  try {
    Owners& o = g();
    std::lock_guard<SrwLock> hold(o.owner_lock);
    auto [it, inserted] = o.sessions.try_emplace(session, p);
    if (!inserted) {  // a handle the provider hands out again: the new owner
      drop_session_owner(o, it->second);
      it->second = p;
    }
    try {
      ++o.session_owners[p];
    } catch (...) {
      o.sessions.erase(session);  // keep the two maps consistent: the session goes unrecorded
      publish_sessions(o);
      throw;
    }
    publish_sessions(o);
  } catch (...) {
  }
}

Provider* session_owner_slow(uintptr_t session) noexcept {
  std::lock_guard<SrwLock> hold(g().owner_lock);
  auto it = g().sessions.find(session);
  return it == g().sessions.end() ? nullptr : it->second;
}

void forget_session(uintptr_t session) noexcept {
  Owners& o = g();
  std::lock_guard<SrwLock> hold(o.owner_lock);
  auto it = o.sessions.find(session);
  if (it == o.sessions.end()) return;
  drop_session_owner(o, it->second);
  o.sessions.erase(it);
  publish_sessions(o);
}

// The count of outstanding records: relaxed, as the header explains.
void count_record(ptrdiff_t delta) {
  g_hot.buffer_count.fetch_add(static_cast<size_t>(delta), std::memory_order_relaxed);
}

// What remember_buffer() leaves here: an overflow map that holds something, a full bucket, or a
// free slot another thread claimed first. The whole search again, under no lock but the map's.
bool detail::remember_buffer_slow(const void* buffer, Provider* p) noexcept {
  if (buffer == nullptr) return false;
  BufferBucket& b = bucket_of(buffer);
  if (BufferSlot* s = find_slot(buffer)) {
    s->owner.store(p, std::memory_order_release);
    return true;
  }
  if (g_buffer_overflow.load(std::memory_order_acquire) != 0) {
    Owners& o = g();
    std::lock_guard<SrwLock> hold(o.owner_lock);
    if (auto it = o.overflow.find(buffer); it != o.overflow.end()) {
      it->second = p;
      return true;
    }
  }
  for (BufferSlot& s : b.slots) {
    const void* expected = nullptr;
    if (s.key.load(std::memory_order_relaxed) == nullptr &&
        s.key.compare_exchange_strong(expected, buffer, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      s.owner.store(p, std::memory_order_release);
      count_record(1);
      return true;
    }
  }
  try {
    Owners& o = g();
    std::lock_guard<SrwLock> hold(o.owner_lock);
    if (o.overflow.insert_or_assign(buffer, p).second) count_record(1);
    g_buffer_overflow.store(o.overflow.size(), std::memory_order_release);
    return true;
  } catch (...) {
    return false;
  }
}

// The overflow map's part of take_buffer_owner(): its bucket held no record of `buffer`.
Provider* detail::take_buffer_owner_slow(const void* buffer) noexcept {
  Owners& o = g();
  std::lock_guard<SrwLock> hold(o.owner_lock);
  auto it = o.overflow.find(buffer);
  if (it == o.overflow.end()) return nullptr;
  Provider* p = it->second;
  o.overflow.erase(it);
  g_buffer_overflow.store(o.overflow.size(), std::memory_order_release);
  count_record(-1);
  return p;
}

Provider* peek_buffer_owner(const void* buffer) noexcept {
  if (detail::BufferSlot* s = find_slot(buffer)) return s->owner.load(std::memory_order_acquire);
  if (buffer == nullptr || g_buffer_overflow.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard<SrwLock> hold(g().owner_lock);
  auto it = g().overflow.find(buffer);
  return it == g().overflow.end() ? nullptr : it->second;
}

// ---- The stub's own allocator ------------------------------------------------------------------
// Each buffer is a block of the process heap with a header that links the MAPIAllocateMore
// blocks allocated against it, so MAPIFreeBuffer of the root frees them all (MAPI's contract).
// 16 bytes of header keep the caller's memory 16-byte aligned on x64, as HeapAlloc's is.

namespace {
struct alignas(16) OwnBlock {
  OwnBlock* next = nullptr;  // the next MAPIAllocateMore block of the same root
  unsigned char reserved[16 - sizeof(OwnBlock*)] = {};  // 16 bytes without padding (MSVC's C4324)
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

}  // namespace

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
  if (peek_buffer_owner(root) != own_allocator()) return false;
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
  // Linked under the lock: two threads may allocate against the same root.
  std::lock_guard<SrwLock> hold(g().owner_lock);
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
