// Copyright MapiDispatch authors.

#include "pe_builder.h"

#include <algorithm>

namespace mapidispatch::test {

void put16(std::vector<uint8_t>* b, size_t at, uint16_t v) {
  if (b->size() < at + 2) b->resize(at + 2);
  (*b)[at] = static_cast<uint8_t>(v);
  (*b)[at + 1] = static_cast<uint8_t>(v >> 8);
}

void put32(std::vector<uint8_t>* b, size_t at, uint32_t v) {
  if (b->size() < at + 4) b->resize(at + 4);
  for (int i = 0; i < 4; ++i) (*b)[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

size_t pe_sections_at(bool pe32_plus) { return kPeOptionalAt + (pe32_plus ? 240 : 224); }

std::vector<uint8_t> build_pe(const PeSpec& spec) {
  const bool plus = spec.pe32_plus < 0 ? (spec.machine == 0x8664 || spec.machine == 0xAA64) : spec.pe32_plus != 0;
  std::vector<std::string> names = spec.exports;
  std::sort(names.begin(), names.end());
  const uint32_t n = static_cast<uint32_t>(names.size());

  // .edata: directory (40), DLL name, functions (4n), names (4n), ordinals (2n), name strings.
  std::vector<uint8_t> ed(40);
  const uint32_t dll_name_rva = kPeEdataRva + static_cast<uint32_t>(ed.size());
  for (char c : std::string("provider.dll")) ed.push_back(static_cast<uint8_t>(c));
  ed.push_back(0);
  while (ed.size() % 4) ed.push_back(0);
  const uint32_t functions_rva = kPeEdataRva + static_cast<uint32_t>(ed.size());
  ed.resize(ed.size() + 4 * n);
  const uint32_t names_rva = kPeEdataRva + static_cast<uint32_t>(ed.size());
  ed.resize(ed.size() + 4 * n);
  const uint32_t ordinals_rva = kPeEdataRva + static_cast<uint32_t>(ed.size());
  ed.resize(ed.size() + 2 * n);
  for (uint32_t i = 0; i < n; ++i) {
    put32(&ed, functions_rva - kPeEdataRva + 4 * i, kPeEdataRva);  // any RVA: never called
    put32(&ed, names_rva - kPeEdataRva + 4 * i, kPeEdataRva + static_cast<uint32_t>(ed.size()));
    put16(&ed, ordinals_rva - kPeEdataRva + 2 * i, static_cast<uint16_t>(i));
    for (char c : names[i]) ed.push_back(static_cast<uint8_t>(c));
    ed.push_back(0);
  }
  put32(&ed, 12, dll_name_rva);
  put32(&ed, 16, 1);  // ordinal base
  put32(&ed, 20, n);
  put32(&ed, 24, n);
  put32(&ed, 28, functions_rva);
  put32(&ed, 32, names_rva);
  put32(&ed, 36, ordinals_rva);
  const uint32_t raw_size = static_cast<uint32_t>((ed.size() + 0x1FF) & ~size_t{0x1FF});

  std::vector<uint8_t> b(kPeEdataFileAt + raw_size, 0);
  b[0] = 'M';
  b[1] = 'Z';
  put32(&b, kPeLfanewField, kPeSignatureAt);
  b[kPeSignatureAt] = 'P';
  b[kPeSignatureAt + 1] = 'E';
  put16(&b, kPeCoffAt, spec.machine);
  put16(&b, kPeCoffAt + 2, 1);  // sections
  put16(&b, kPeCoffAt + 16, plus ? 240 : 224);
  put16(&b, kPeCoffAt + 18, static_cast<uint16_t>(0x0002 | (spec.dll ? 0x2000 : 0) | (plus ? 0x0020 : 0x0100)));
  const size_t o = kPeOptionalAt;
  put16(&b, o, plus ? 0x20B : 0x10B);
  put32(&b, o + 32, 0x1000);  // SectionAlignment
  put32(&b, o + 36, 0x200);   // FileAlignment
  put32(&b, o + 56, kPeEdataRva + ((raw_size + 0xFFF) & ~0xFFFu));  // SizeOfImage
  put32(&b, o + 60, 0x200);   // SizeOfHeaders
  put16(&b, o + 68, 2);       // Subsystem: GUI
  const size_t dirs = o + (plus ? 108 : 92);
  put32(&b, dirs, 16);
  put32(&b, dirs + 4, kPeEdataRva);
  put32(&b, dirs + 8, static_cast<uint32_t>(ed.size()));
  const size_t s = pe_sections_at(plus);
  const char name[8] = {'.', 'e', 'd', 'a', 't', 'a', 0, 0};
  std::copy(name, name + 8, b.begin() + s);
  put32(&b, s + 8, static_cast<uint32_t>(ed.size()));  // VirtualSize
  put32(&b, s + 12, kPeEdataRva);
  put32(&b, s + 16, raw_size);
  put32(&b, s + 20, kPeEdataFileAt);
  put32(&b, s + 36, 0x40000040);  // initialized data, readable
  std::copy(ed.begin(), ed.end(), b.begin() + kPeEdataFileAt);
  return b;
}

std::vector<std::string> simple_exports() { return {"MAPILogon", "MAPILogoff", "MAPISendMail", "MAPIFreeBuffer"}; }

std::vector<std::string> extended_exports() {
  return {"MAPIInitialize", "MAPIUninitialize", "MAPILogonEx", "MAPIAllocateBuffer", "MAPIFreeBuffer"};
}

std::vector<std::string> all_exports() {
  std::vector<std::string> v = simple_exports();
  for (auto& e : extended_exports()) {
    if (std::find(v.begin(), v.end(), e) == v.end()) v.push_back(e);
  }
  v.push_back("MAPISendMailW");
  v.push_back("HrQueryAllRows@24");
  return v;
}

std::vector<uint8_t> provider_dll(uint16_t machine) {
  PeSpec spec;
  spec.machine = machine;
  spec.exports = all_exports();
  return build_pe(spec);
}

}  // namespace mapidispatch::test
