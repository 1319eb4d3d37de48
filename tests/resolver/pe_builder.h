// Copyright MapiDispatch authors.
//
// Minimal PE images built from bytes, for the PE reader's and the resolver's tests (native and
// Wine) and the fuzz harness: DOS header, PE signature, COFF header, PE32 or PE32+ optional
// header, one .edata section holding an export directory with the given names, and, when the
// spec names imports or delay-loaded imports, a second section .idata holding an import table
// and a delay-load table (data directories 1 and 13). An image without imports is exactly what
// it was before imports existed (golden files depend on it).

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
  // Written as given (any bytes but NUL), in this order, each its own descriptor.
  std::vector<std::string> imports;        // IMAGE_IMPORT_DESCRIPTORs
  std::vector<std::string> delay_imports;  // IMAGE_DELAYLOAD_DESCRIPTORs
  // The delay-load descriptors in the old Visual C++ 6 form: Attributes 0 and every pointer a
  // virtual address (image_base + RVA, truncated to 32 bits).
  bool delay_va = false;
  uint64_t image_base = 0;     // the optional header's ImageBase (0 as before: not written)
  uint32_t dir_count = 16;     // NumberOfRvaAndSizes (the 16 entries are written regardless)
  // false: neither table gets its terminating all-zero descriptor, and .idata ends right after
  // the last descriptor (no padding, so the file too): the tables run off the section.
  bool terminate_tables = true;
};

// Where build_pe() put the import data, for tests that damage it (file offsets unless named
// RVA; 0 when there is no .idata).
struct PeLayout {
  size_t dirs_at = 0;             // the data directory array (entry i at dirs_at + 8 * i)
  size_t idata_header_at = 0;     // .idata's section header
  uint32_t idata_rva = 0;
  size_t idata_file_at = 0;
  uint32_t idata_raw_size = 0;
  size_t imports_at = 0;          // the first import descriptor
  size_t delay_at = 0;            // the first delay-load descriptor
  size_t tail_at = 0;             // the padding after the last table, to idata_file_at + raw size
  std::vector<size_t> import_names_at;
  std::vector<size_t> delay_names_at;
  // File offset to RVA inside .idata.
  uint32_t rva(size_t file_at) const { return idata_rva + static_cast<uint32_t>(file_at - idata_file_at); }
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

std::vector<uint8_t> build_pe(const PeSpec& spec, PeLayout* layout = nullptr);

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
