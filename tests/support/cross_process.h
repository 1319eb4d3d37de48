// Copyright MapiDispatch authors.
//
//! \file
//! What a benchmark and its child processes share when they time one event across processes
//! (propagation_bench, farm_bench): fields of a shared section accessed atomically, and
//! QueryPerformanceCounter, one clock for every process of the machine (Windows, and Wine:
//! CLOCK_MONOTONIC), so a child's timestamp can be subtracted from the harness's.

#ifndef MAPIDISPATCH_TESTS_SUPPORT_CROSS_PROCESS_H_
#define MAPIDISPATCH_TESTS_SUPPORT_CROSS_PROCESS_H_

#ifdef _WIN32
#include <windows.h>

#include <atomic>
#include <cstdint>

namespace mapidispatch::test {

//! A field of a section several processes map: every access goes through std::atomic_ref.
template <typename T>
std::atomic_ref<T> at(T& v) {
  return std::atomic_ref<T>(v);
}

//! QueryPerformanceCounter's count.
inline int64_t qpc() {
  LARGE_INTEGER c;
  ::QueryPerformanceCounter(&c);
  return c.QuadPart;
}

//! `ticks` of qpc() in milliseconds.
inline double qpc_ms(int64_t ticks) {
  static const double freq = [] {
    LARGE_INTEGER f;
    ::QueryPerformanceFrequency(&f);
    return static_cast<double>(f.QuadPart);
  }();
  return static_cast<double>(ticks) * 1000.0 / freq;
}

}  // namespace mapidispatch::test

#endif  // _WIN32
#endif  // MAPIDISPATCH_TESTS_SUPPORT_CROSS_PROCESS_H_
