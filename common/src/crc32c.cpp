// Copyright MapiDispatch authors.

#include "mapidispatch/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

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

}  // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t size) noexcept {
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
