// Copyright MapiDispatch authors.

#include "mapidispatch/crc32c.h"

#include <array>
#include <atomic>
#include <bit>
#include <cstring>

#if defined(_M_X64) || defined(_M_IX86) || defined(__x86_64__) || defined(__i386__)
#define MD_CRC32C_X86 1
#include <nmmintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
// GCC and Clang compile the SSE4.2 intrinsics only in a function built for SSE4.2; the rest of
// the program stays built for the baseline, and the function is only called where CPUID says
// the instruction exists. MSVC compiles intrinsics without a flag.
#if defined(__GNUC__) || defined(__clang__)
#define MD_TARGET_SSE42 __attribute__((target("sse4.2")))
#else
#define MD_TARGET_SSE42
#endif
#endif

namespace mapidispatch {
namespace {

// Slicing-by-8 (Kounavis and Berry, Intel): kTables[0] is the byte-at-a-time table of the reflected Castagnoli
// polynomial; kTables[k][b] is the CRC of byte b followed by k zero bytes, so eight bytes are
// folded with eight independent lookups instead of a chain of eight. The table image of 1,000
// users is checksummed on every publish (record by record, then the directories), and a stub
// checks what it reads: byte at a time, this was a third of a publish (table_bench,
// BM_Publish/1000).
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
    t[0][i] = c;
  }
  for (size_t k = 1; k < 8; ++k)
    for (uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
  return t;
}

constexpr Tables kTables = MakeTables();

#if defined(MD_CRC32C_X86)
// The CRC32 instruction computes exactly CRC-32C (reflected Castagnoli, no inversion: the ~ are
// ours), 8 bytes per instruction on x64 and 4 on x86, several times the speed of slicing-by-8:
// a publish with 1,000 users checksums 1.4 MB (issue #12: the service's CPU per change).
MD_TARGET_SSE42 uint32_t crc32c_instruction(uint32_t crc, const unsigned char* p, size_t size) noexcept {
  crc = ~crc;
#if defined(_M_X64) || defined(__x86_64__)
  uint64_t c = crc;
  for (; size >= 8; p += 8, size -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  crc = static_cast<uint32_t>(c);
#else
  for (; size >= 4; p += 4, size -= 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    crc = _mm_crc32_u32(crc, v);
  }
#endif
  for (; size > 0; ++p, --size) crc = _mm_crc32_u8(crc, *p);
  return ~crc;
}

bool cpu_has_sse42() noexcept {
#if defined(_MSC_VER) && !defined(__clang__)
  int regs[4];
  __cpuid(regs, 1);
  return (regs[2] & (1 << 20)) != 0;
#else
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_SSE4_2) != 0;
#endif
}

// -1: not asked yet; else whether the instruction exists. Constant-initialized (the stub runs no
// initializer of its own), asked at the first checksum: CPUID once, not per call (in a virtual
// machine it traps to the hypervisor). Two threads asking at once store the same answer.
std::atomic<int> g_has_instruction{-1};
#endif

}  // namespace

bool crc32c_hardware() noexcept {
#if defined(MD_CRC32C_X86)
  int has = g_has_instruction.load(std::memory_order_relaxed);
  if (has < 0) {
    has = cpu_has_sse42() ? 1 : 0;
    g_has_instruction.store(has, std::memory_order_relaxed);
  }
  return has != 0;
#else
  return false;
#endif
}

uint32_t crc32c(uint32_t crc, const void* data, size_t size) noexcept {
#if defined(MD_CRC32C_X86)
  if (crc32c_hardware()) return crc32c_instruction(crc, static_cast<const unsigned char*>(data), size);
#endif
  return crc32c_sliced(crc, data, size);
}

uint32_t crc32c_sliced(uint32_t crc, const void* data, size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  const auto& t = kTables;
  crc = ~crc;
  if constexpr (std::endian::native == std::endian::little) {
    // Two 32-bit words per step (cheap on x86 as on x64); memcpy: any alignment.
    for (; size >= 8; p += 8, size -= 8) {
      uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + 4, 4);
      lo ^= crc;
      crc = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
            t[3][hi & 0xFFu] ^ t[2][(hi >> 8) & 0xFFu] ^ t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
    }
  }
  for (; size > 0; ++p, --size) crc = t[0][(crc ^ *p) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

uint32_t sid_hash(const char16_t* units, size_t count) noexcept {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < count; ++i) {
    const auto u = static_cast<uint16_t>(units[i]);
    h = (h ^ (u & 0xFFu)) * 16777619u;
    h = (h ^ (u >> 8)) * 16777619u;
  }
  return h == 0 ? 1 : h;
}

}  // namespace mapidispatch
