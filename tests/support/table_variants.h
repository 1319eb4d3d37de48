// Copyright MapiDispatch authors.
//
//! \file
//! Tables other than the ones this version's writer publishes, for the compatibility tests and
//! the fuzz seeds: the WOW64 view of the sample scopes (ABI 1.1), and a table laid out the way a
//! writer of a later minor version may lay it out (table_layout.h: additions go after the end of
//! a structure whose size is recorded, and readers ignore what they do not know).

#ifndef MAPIDISPATCH_TESTS_SUPPORT_TABLE_VARIANTS_H_
#define MAPIDISPATCH_TESTS_SUPPORT_TABLE_VARIANTS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "mapidispatch/model.h"

namespace mapidispatch::test {

//! What 32-bit processes on 64-bit Windows would be told for the same scopes: SysWOW64 for
//! System32, "Program Files (x86)", the bitness verdicts swapped, and the machine scope without
//! its last MSMapiApps override (the Wow6432Node key is another key), so the two views differ.
std::vector<ScopeResolution> wow64_view(const std::vector<ScopeResolution>& scopes);

//! The unknown parts a later minor version adds. Sizes are multiples of 4 (layout rule).
struct LaterMinor {
  uint16_t abi_minor = 9;
  uint32_t header_size = 192;       //!< The known header is 128 bytes; the rest is unknown.
  uint32_t extra_fixed = 24;        //!< Unknown bytes after ScopeRecord's known fixed part.
  uint32_t extra_stride = 16;       //!< Unknown bytes after each OverrideRecord.
  uint32_t header_flags = 0xA5A50000u;    //!< Unknown TableHeader::flags bits, ORed in.
  uint32_t scope_flags = 0x5A000000u;     //!< Unknown ScopeRecord::flags bits, ORed in.
  uint32_t override_flags = 0x00F00000u;  //!< Unknown OverrideRecord::flags bits, ORed in.
  uint8_t fill = 0xC3;              //!< Every unknown byte, reserved fields included: nonzero.
};

//! Rewrites `image`, as build_table_image() lays it out (header_size 128, records with the fixed
//! part, then the overrides, then the strings), into `later`'s layout: header grown, records
//! moved, each record's fixed part and override stride grown with the strings after them, every
//! string offset moved along; record checksums and the header and WOW64 directory checksums
//! resealed. total_size grows by as much as payload_end did. False if `image` is not laid out
//! that way.
bool rewrite_as_later_minor(std::span<const std::byte> image, const LaterMinor& later,
                            std::vector<std::byte>* out);

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_SUPPORT_TABLE_VARIANTS_H_
