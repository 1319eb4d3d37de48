// Copyright MapiDispatch authors.
//
// Minimal PE images built from bytes, for the PE reader's and the resolver's tests (native and
// Wine) and the fuzz harness: DOS header, PE signature, COFF header, PE32 or PE32+ optional
// header, one .edata section holding an export directory with the given names.

#ifndef MAPIDISPATCH_TESTS_RESOLVER_PE_BUILDER_H_
#define MAPIDISPATCH_TESTS_RESOLVER_PE_BUILDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mapidispatch::test {

struct PeSpec {
  uint16_t machine = 0x8664;  // IMAGE_FILE_MACHINE_AMD64
  bool dll = true;
  int pe32_plus = -1;         // -1: PE32+ for 64-bit machines, PE32 for x86; 0/1 to force
  std::vector<std::string> exports;
};

// Fixed offsets of what build_pe() writes, for tests that damage an image.
inline constexpr size_t kPeLfanewField = 0x3C;
inline constexpr size_t kPeSignatureAt = 0x80;
inline constexpr size_t kPeCoffAt = 0x84;
inline constexpr size_t kPeOptionalAt = 0x98;
inline constexpr size_t kPeEdataFileAt = 0x200;
inline constexpr uint32_t kPeEdataRva = 0x1000;
// Where the section table starts for a PE32 / PE32+ image.
size_t pe_sections_at(bool pe32_plus);

std::vector<uint8_t> build_pe(const PeSpec& spec);

// The entry points of pe_image.h's required sets, plain.
std::vector<std::string> simple_exports();
std::vector<std::string> extended_exports();
std::vector<std::string> all_exports();  // both sets plus a few others, like a real provider

// A provider DLL of `machine` with every required export.
std::vector<uint8_t> provider_dll(uint16_t machine = 0x8664);

void put16(std::vector<uint8_t>* b, size_t at, uint16_t v);
void put32(std::vector<uint8_t>* b, size_t at, uint32_t v);

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_RESOLVER_PE_BUILDER_H_
