// Copyright MapiDispatch authors.
//
//! \file
//! A private memory region standing in for the table's mapping in the table tests: 4-aligned
//! (a std::vector of 32-bit words), its whole size the span's, and its header readable and
//! writable as a struct.

#ifndef MAPIDISPATCH_TESTS_SUPPORT_TABLE_REGION_H_
#define MAPIDISPATCH_TESTS_SUPPORT_TABLE_REGION_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "mapidispatch/table_layout.h"

namespace mapidispatch::test {

struct TableRegion {
  explicit TableRegion(size_t bytes) : words((bytes + 3) / 4, 0) {}
  std::span<std::byte> bytes() { return {reinterpret_cast<std::byte*>(words.data()), words.size() * 4}; }
  std::span<const std::byte> cbytes() const {
    return {reinterpret_cast<const std::byte*>(words.data()), words.size() * 4};
  }
  layout::TableHeader header() const {
    layout::TableHeader h;
    std::memcpy(&h, words.data(), sizeof h);
    return h;
  }
  void set_header(const layout::TableHeader& h) { std::memcpy(words.data(), &h, sizeof h); }
  std::vector<uint32_t> words;
};

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_SUPPORT_TABLE_REGION_H_
