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

namespace {

// .idata (see PeSpec): a zero thunk (every descriptor's tables point at it: an empty list), the
// names, then the import descriptors, then the delay-load descriptors. Offsets are relative to
// the section; `layout` gets them as such and build_pe() rebases them.
std::vector<uint8_t> build_idata(const PeSpec& spec, uint32_t rva, PeLayout* layout) {
  std::vector<uint8_t> d(8, 0);
  auto put_names = [&](const std::vector<std::string>& names, std::vector<size_t>* at) {
    for (const auto& n : names) {
      at->push_back(d.size());
      for (char c : n) d.push_back(static_cast<uint8_t>(c));
      d.push_back(0);
    }
  };
  put_names(spec.imports, &layout->import_names_at);
  put_names(spec.delay_imports, &layout->delay_names_at);
  while (d.size() % 4) d.push_back(0);
  const size_t terminator = spec.terminate_tables ? 1 : 0;
  layout->imports_at = d.size();
  if (!spec.imports.empty()) {
    for (size_t i = 0; i < spec.imports.size(); ++i) {
      const size_t at = d.size();
      d.resize(at + 20);
      put32(&d, at, rva);                                                            // OriginalFirstThunk
      put32(&d, at + 12, rva + static_cast<uint32_t>(layout->import_names_at[i]));   // Name
      put32(&d, at + 16, rva);                                                       // FirstThunk
    }
    d.resize(d.size() + 20 * terminator);
  }
  layout->delay_at = d.size();
  if (!spec.delay_imports.empty()) {
    const uint32_t base = spec.delay_va ? static_cast<uint32_t>(spec.image_base) : 0;
    for (size_t i = 0; i < spec.delay_imports.size(); ++i) {
      const size_t at = d.size();
      d.resize(at + 32);
      put32(&d, at, spec.delay_va ? 0 : 1);                                                  // Attributes
      put32(&d, at + 4, base + rva + static_cast<uint32_t>(layout->delay_names_at[i]));      // DllNameRVA
      put32(&d, at + 8, base + rva);                                                         // ModuleHandleRVA
      put32(&d, at + 12, base + rva);                                                        // ImportAddressTableRVA
      put32(&d, at + 16, base + rva);                                                        // ImportNameTableRVA
    }
    d.resize(d.size() + 32 * terminator);
  }
  layout->tail_at = d.size();
  if (spec.terminate_tables) d.resize((d.size() + 0x1FF) & ~size_t{0x1FF});
  return d;
}

}  // namespace

std::vector<uint8_t> build_pe(const PeSpec& spec, PeLayout* layout) {
  PeLayout local;
  if (layout == nullptr) layout = &local;
  *layout = {};
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
  const bool has_idata = !spec.imports.empty() || !spec.delay_imports.empty();
  const uint32_t idata_rva = kPeEdataRva + ((raw_size + 0xFFF) & ~0xFFFu);
  const std::vector<uint8_t> id = has_idata ? build_idata(spec, idata_rva, layout) : std::vector<uint8_t>{};
  const size_t idata_file_at = kPeEdataFileAt + raw_size;

  std::vector<uint8_t> b(kPeEdataFileAt + raw_size + id.size(), 0);
  b[0] = 'M';
  b[1] = 'Z';
  put32(&b, kPeLfanewField, kPeSignatureAt);
  b[kPeSignatureAt] = 'P';
  b[kPeSignatureAt + 1] = 'E';
  put16(&b, kPeCoffAt, spec.machine);
  put16(&b, kPeCoffAt + 2, has_idata ? 2 : 1);  // sections
  put16(&b, kPeCoffAt + 16, plus ? 240 : 224);
  put16(&b, kPeCoffAt + 18, static_cast<uint16_t>(0x0002 | (spec.dll ? 0x2000 : 0) | (plus ? 0x0020 : 0x0100)));
  const size_t o = kPeOptionalAt;
  put16(&b, o, plus ? 0x20B : 0x10B);
  put32(&b, o + 32, 0x1000);  // SectionAlignment
  put32(&b, o + 36, 0x200);   // FileAlignment
  if (spec.image_base != 0) {
    if (plus) {
      put32(&b, o + 24, static_cast<uint32_t>(spec.image_base));
      put32(&b, o + 28, static_cast<uint32_t>(spec.image_base >> 32));
    } else {
      put32(&b, o + 28, static_cast<uint32_t>(spec.image_base));
    }
  }
  const uint32_t image_end = has_idata ? idata_rva + ((static_cast<uint32_t>(id.size()) + 0xFFF) & ~0xFFFu)
                                       : kPeEdataRva + ((raw_size + 0xFFF) & ~0xFFFu);
  put32(&b, o + 56, image_end);  // SizeOfImage
  put32(&b, o + 60, 0x200);   // SizeOfHeaders
  put16(&b, o + 68, 2);       // Subsystem: GUI
  const size_t dirs = o + (plus ? 108 : 92);
  put32(&b, dirs, spec.dir_count);
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
  layout->dirs_at = dirs + 4;
  if (has_idata) {
    const size_t h = s + 40;
    const char idata[8] = {'.', 'i', 'd', 'a', 't', 'a', 0, 0};
    std::copy(idata, idata + 8, b.begin() + static_cast<std::ptrdiff_t>(h));
    put32(&b, h + 8, static_cast<uint32_t>(id.size()));  // VirtualSize
    put32(&b, h + 12, idata_rva);
    put32(&b, h + 16, static_cast<uint32_t>(id.size()));
    put32(&b, h + 20, static_cast<uint32_t>(idata_file_at));
    put32(&b, h + 36, 0xC0000040);  // initialized data, readable, writable (the IAT)
    std::copy(id.begin(), id.end(), b.begin() + static_cast<std::ptrdiff_t>(idata_file_at));
    if (!spec.imports.empty()) {
      put32(&b, dirs + 4 + 8, idata_rva + static_cast<uint32_t>(layout->imports_at));
      put32(&b, dirs + 4 + 12, static_cast<uint32_t>(20 * (spec.imports.size() + (spec.terminate_tables ? 1 : 0))));
    }
    if (!spec.delay_imports.empty()) {
      put32(&b, dirs + 4 + 8 * 13, idata_rva + static_cast<uint32_t>(layout->delay_at));
      put32(&b, dirs + 4 + 8 * 13 + 4,
            static_cast<uint32_t>(32 * (spec.delay_imports.size() + (spec.terminate_tables ? 1 : 0))));
    }
    layout->idata_header_at = h;
    layout->idata_rva = idata_rva;
    layout->idata_file_at = idata_file_at;
    layout->idata_raw_size = static_cast<uint32_t>(id.size());
    for (size_t* at : {&layout->imports_at, &layout->delay_at, &layout->tail_at}) *at += idata_file_at;
    for (auto& at : layout->import_names_at) at += idata_file_at;
    for (auto& at : layout->delay_names_at) at += idata_file_at;
  }
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
