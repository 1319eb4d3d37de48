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

//! Continues a CRC-32C: pass 0 to start, and the previous result to chain buffers.
uint32_t crc32c(uint32_t crc, const void* data, size_t size) noexcept;

//! 32-bit FNV-1a over UTF-16 code units, little-endian bytes: the directory's key for a SID.
//! Never 0 (0 marks the machine scope).
uint32_t sid_hash(const char16_t* units, size_t count) noexcept;

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_CRC32C_H_
