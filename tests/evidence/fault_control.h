// Copyright MapiDispatch authors.
//
//! \file
//! fault_bench: the control block the harness shares with its child processes, and the
//! children's entry points (fault_children.cpp).
//!
//! One named section per run. The harness sets `stop` and `phase`; each child owns one slot and
//! is its only writer. Fields are accessed through atomic_ref (the harness reads while children
//! run, for progress; the final figures are read after the children exited).

#ifndef MAPIDISPATCH_TESTS_EVIDENCE_FAULT_CONTROL_H_
#define MAPIDISPATCH_TESTS_EVIDENCE_FAULT_CONTROL_H_

#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mapidispatch::evidence {

constexpr uint32_t kControlMagic = 0x42544C46;  // "FLTB"
constexpr int kMaxSlots = 128;
constexpr int kPhases = 8;
constexpr int kRcBuckets = 33;  // MAPI return codes 0..31, then "other"
constexpr int kErrorBuckets = 20;

enum class SlotKind : uint32_t { kNone = 0, kClient = 1, kFreshClient = 2, kReader = 3 };

struct PhaseCounts {
  uint64_t attempted;
  uint64_t acked;       // returned 0 and the provider wrote its identity
  uint64_t rc_nonzero;  // returned non-zero
  uint64_t no_ack;      // returned 0, but no provider received the call
  uint64_t served_a;
  uint64_t served_b;
};

struct Slot {
  uint32_t kind;
  uint32_t pid;
  uint32_t started;
  uint32_t last_rc;
  PhaseCounts phase[kPhases];
  uint64_t rc_counts[kRcBuckets];
  uint64_t reads_ok;
  uint64_t reads_torn;
  uint64_t order_violations;
  uint64_t reads_rejected[kErrorBuckets];  // by TableError value
  uint32_t has_problem;
  char problem[252];
};

struct Control {
  uint32_t magic;
  uint32_t stop;
  uint32_t phase;
  uint32_t reserved;
  Slot slots[kMaxSlots];
};

template <typename T>
T ld(const T& x) {
  return std::atomic_ref<T>(const_cast<T&>(x)).load(std::memory_order_acquire);
}
template <typename T>
void st(T& x, T v) {
  std::atomic_ref<T>(x).store(v, std::memory_order_release);
}
inline void bump(uint64_t& x, uint64_t by = 1) { std::atomic_ref<uint64_t>(x).fetch_add(by, std::memory_order_relaxed); }

inline void set_problem(Slot& s, const std::string& text) {
  if (ld(s.has_problem) != 0) return;  // the first one is the one to read
  const size_t n = std::min(text.size(), sizeof s.problem - 1);
  std::memcpy(s.problem, text.data(), n);
  s.problem[n] = '\0';
  st(s.has_problem, 1u);
}

//! The run's control block, mapped: the harness creates it, each child opens it by name.
class ControlBlock {
 public:
  ~ControlBlock() {
    if (view_) ::UnmapViewOfFile(view_);
    if (handle_) ::CloseHandle(handle_);
  }
  bool create(const std::wstring& name) {
    handle_ = ::CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0, sizeof(Control), name.c_str());
    if (!handle_) return false;
    return map();
  }
  bool open(const std::wstring& name) {
    handle_ = ::OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, name.c_str());
    if (!handle_) return false;
    return map();
  }
  Control* get() const { return view_; }

 private:
  bool map() {
    view_ = static_cast<Control*>(::MapViewOfFile(handle_, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, sizeof(Control)));
    return view_ != nullptr;
  }
  HANDLE handle_ = nullptr;
  Control* view_ = nullptr;
};

// ---- The children -------------------------------------------------------------------------------
//
// The program re-launches itself for them: `fault_bench --child client|reader ARGS...`; each
// returns the child's exit code (0 when done; non-zero: it could not run).

//! client CONTROL SLOT PACE_MS MAX_CALLS: calls MAPISendMail through the stub until told to stop
//! (or MAX_CALLS calls, if not 0), sleeping PACE_MS between calls.
int client_main(const std::vector<std::string>& args);

//! reader CONTROL SLOT SECTION PREFIX DIR: reads the table as the stub does (machine scope and
//! this user's scope, TableReader::read) until told to stop, checking every accepted snapshot.
//! Reads back to back while the count moves; sleeps 1 ms after a read that found nothing new.
int reader_main(const std::vector<std::string>& args);

}  // namespace mapidispatch::evidence

#endif  // MAPIDISPATCH_TESTS_EVIDENCE_FAULT_CONTROL_H_
