// Copyright MapiDispatch authors.
//
// Small helpers for tests that write registry exports.

#ifndef MAPIDISPATCH_TESTS_RESOLVER_REG_TEST_UTIL_H_
#define MAPIDISPATCH_TESTS_RESOLVER_REG_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "mapidispatch/text.h"

namespace mapidispatch::test {

// UTF-8 text as the bytes of a UTF-16LE file with a BOM, as regedit writes exports.
inline std::vector<uint8_t> utf16le_file(const std::string& utf8) {
  std::vector<uint8_t> b = {0xFF, 0xFE};
  for (const char16_t c : text::utf8_to_utf16(utf8)) {
    b.push_back(static_cast<uint8_t>(c & 0xFF));
    b.push_back(static_cast<uint8_t>(c >> 8));
  }
  return b;
}

// A string as the hex(1/2) bytes of a .reg file ("41,00,42,00"), with or without the NUL.
inline std::string reg_hex_utf16(const std::u16string& s, bool terminate = true) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  auto byte = [&out](unsigned b) {
    if (!out.empty()) out += ',';
    out += kHex[b >> 4];
    out += kHex[b & 15];
  };
  for (const char16_t c : s) {
    byte(c & 0xFF);
    byte(c >> 8);
  }
  if (terminate) {
    byte(0);
    byte(0);
  }
  return out;
}

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_RESOLVER_REG_TEST_UTIL_H_
