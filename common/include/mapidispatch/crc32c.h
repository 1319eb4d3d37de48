// Copyright MapiDispatch authors.
//
//! \file
//! CRC-32C (Castagnoli), the table's integrity check. Detects torn or corrupted bytes; it is not
//! a defence against a malicious writer (the section's DACL is: only SYSTEM and administrators
//! may write it).

#ifndef MAPIDISPATCH_CRC32C_H_
#define MAPIDISPATCH_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace mapidispatch {

//! Continues a CRC-32C: pass 0 to start, and the previous result to chain buffers. Uses the
//! processor's CRC32 instruction (SSE4.2) where there is one, else crc32c_sliced(): the same
//! result either way.
uint32_t crc32c(uint32_t crc, const void* data, size_t size) noexcept;

//! The portable implementation (slicing-by-8), whatever the processor. Exposed for the tests,
//! which check both implementations against a bitwise CRC.
uint32_t crc32c_sliced(uint32_t crc, const void* data, size_t size) noexcept;

//! Whether crc32c() uses the processor's CRC32 instruction on this machine.
bool crc32c_hardware() noexcept;

//! 32-bit FNV-1a over UTF-16 code units, little-endian bytes: the directory's key for a SID.
//! Never 0 (0 marks the machine scope).
uint32_t sid_hash(const char16_t* units, size_t count) noexcept;

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_CRC32C_H_
