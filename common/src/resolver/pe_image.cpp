// Copyright MapiDispatch authors.

#include "mapidispatch/pe_image.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace mapidispatch {

bool SpanByteSource::read(uint64_t offset, std::span<uint8_t> out) const {
  if (offset > bytes_.size() || out.size() > bytes_.size() - offset) return false;
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
  return true;
}

std::string_view to_string(PeStatus status) {
  switch (status) {
    case PeStatus::kOk: return "ok";
    case PeStatus::kTooSmall: return "too-small";
    case PeStatus::kNotMz: return "not-mz";
    case PeStatus::kBadLfanew: return "bad-lfanew";
    case PeStatus::kNotPe: return "not-pe";
    case PeStatus::kBadHeaders: return "bad-headers";
    case PeStatus::kBadSections: return "bad-sections";
    case PeStatus::kBadExports: return "bad-exports";
    case PeStatus::kReadError: return "read-error";
    case PeStatus::kBadImports: return "bad-imports";
  }
  return "unknown";
}

std::string describe_machine(uint16_t raw_machine) {
  switch (static_cast<PeMachine>(raw_machine)) {
    case PeMachine::kI386: return "x86";
    case PeMachine::kAmd64: return "x64";
    case PeMachine::kArm64: return "arm64";
    case PeMachine::kUnknown: break;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "machine 0x";
  for (int shift = 12; shift >= 0; shift -= 4) s.push_back(kHex[(raw_machine >> shift) & 0xF]);
  return s;
}

namespace {

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) {
  return p[0] | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

struct Section {
  uint32_t va;
  uint32_t raw_size;
  uint32_t raw_ptr;
};

class Image {
 public:
  Image(const ByteSource& src, uint32_t size_of_headers, std::vector<Section> sections)
      : src_(src), size_of_headers_(size_of_headers), sections_(std::move(sections)) {}

  // The file offset of [rva, rva + len), if that range is file-backed inside one section (or the
  // headers); *room = bytes available from there to the section's end.
  bool map(uint32_t rva, uint64_t len, uint64_t* offset, uint64_t* room = nullptr) const {
    const uint64_t file = src_.size();
    if (uint64_t{rva} + len <= size_of_headers_ && uint64_t{rva} + len <= file) {
      *offset = rva;
      if (room) *room = std::min<uint64_t>(size_of_headers_, file) - rva;
      return true;
    }
    for (const Section& s : sections_) {
      if (rva < s.va) continue;
      const uint64_t within = uint64_t{rva} - s.va;
      if (within + len > s.raw_size) continue;
      const uint64_t off = uint64_t{s.raw_ptr} + within;
      if (off + len > file) continue;
      *offset = off;
      if (room) *room = std::min<uint64_t>(uint64_t{s.raw_ptr} + s.raw_size, file) - off;
      return true;
    }
    return false;
  }

  enum class Name { kOk, kOutside, kTooLong, kCutOff, kReadError };

  // A NUL-terminated name at `rva` of at most `max_len` bytes, read through a window cache:
  // names lie together, so a table of hundreds of names costs a few reads. kTooLong: no NUL
  // within max_len bytes; kCutOff: the section (or file) ends before a NUL.
  Name name_at(uint32_t rva, size_t max_len, std::string* out) {
    uint64_t off = 0;
    uint64_t room = 0;
    if (!map(rva, 1, &off, &room)) return Name::kOutside;
    const uint64_t want = std::min<uint64_t>(room, uint64_t{max_len} + 1);
    if (off < cache_off_ || off + want > cache_off_ + cache_.size()) {
      const uint64_t len = std::min<uint64_t>(room, kWindow);
      cache_.resize(static_cast<size_t>(std::max<uint64_t>(len, want)));
      if (!src_.read(off, cache_)) {
        cache_.clear();
        return Name::kReadError;
      }
      cache_off_ = off;
    }
    const auto* begin = cache_.data() + (off - cache_off_);
    const auto* end = begin + want;
    const auto* nul = std::find(begin, end, uint8_t{0});
    if (nul == end) return want > max_len ? Name::kTooLong : Name::kCutOff;
    out->assign(reinterpret_cast<const char*>(begin), static_cast<size_t>(nul - begin));
    return Name::kOk;
  }

  const ByteSource& source() const { return src_; }

 private:
  static constexpr uint64_t kWindow = 64 * 1024;
  const ByteSource& src_;
  uint32_t size_of_headers_;
  std::vector<Section> sections_;
  std::vector<uint8_t> cache_;
  uint64_t cache_off_ = 0;
};

PeStatus fail(PeStatus status, std::string* reason, std::string text) {
  if (reason) *reason = std::move(text);
  return status;
}

std::string hex(uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.push_back(kHex[v & 0xF]);
    v >>= 4;
  } while (v != 0);
  std::reverse(digits.begin(), digits.end());
  return "0x" + digits;
}

struct Directory {
  uint32_t rva = 0;
  uint32_t size = 0;
};

// Fixed-size descriptors from `rva` on, read a chunk at a time (a whole table is usually one
// read). Descriptors are contiguous in RVA space; each chunk stays inside one section (or the
// headers), the next one is mapped again, so a table may cross into an adjacent section.
class DescriptorReader {
 public:
  enum class Step { kEntry, kOutside, kPastAddressSpace, kReadError };

  DescriptorReader(const Image& image, uint32_t rva, size_t entry_size)
      : image_(image), next_rva_(rva), entry_size_(entry_size) {}

  Step next(const uint8_t** entry) {
    if (pos_ + entry_size_ > buf_.size()) {
      if (next_rva_ + entry_size_ > (uint64_t{1} << 32)) return Step::kPastAddressSpace;
      uint64_t off = 0;
      uint64_t room = 0;
      if (!image_.map(static_cast<uint32_t>(next_rva_), entry_size_, &off, &room)) return Step::kOutside;
      // Whole descriptors, inside the section's data and below 4 GB of RVA space.
      const uint64_t below_4gb = ((uint64_t{1} << 32) - next_rva_) / entry_size_;
      const uint64_t count = std::min({room / entry_size_, below_4gb, kChunkEntries});
      buf_.resize(static_cast<size_t>(count * entry_size_));
      pos_ = 0;
      if (!image_.source().read(off, buf_)) {
        buf_.clear();
        return Step::kReadError;
      }
    }
    *entry = buf_.data() + pos_;
    pos_ += entry_size_;
    next_rva_ += entry_size_;
    return Step::kEntry;
  }

 private:
  static constexpr uint64_t kChunkEntries = 64;
  const Image& image_;
  uint64_t next_rva_;
  size_t entry_size_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;
};

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Collects the names of both tables into PeInfo::imports: first occurrence wins, ASCII
// case-insensitively; the first damage of each table goes to imports_reason.
class ImportCollector {
 public:
  explicit ImportCollector(PeInfo* out) : out_(out) {}

  void add(std::string name, bool delay_load) {
    std::string key = name;
    std::transform(key.begin(), key.end(), key.begin(), ascii_lower);
    if (!seen_.insert(std::move(key)).second) return;
    out_->imports.push_back({std::move(name), delay_load});
  }

  void damage(std::string sentence) {
    out_->imports_status = PeStatus::kBadImports;
    if (!out_->imports_reason.empty()) out_->imports_reason += ' ';
    out_->imports_reason += sentence;
  }

 private:
  PeInfo* out_;
  std::unordered_set<std::string> seen_;
};

// One table: the import table (20-byte IMAGE_IMPORT_DESCRIPTORs) or the delay-load table
// (32-byte IMAGE_DELAYLOAD_DESCRIPTORs). See pe_image.h for the rules.
void read_import_table(Image& image, Directory dir, bool delay, uint64_t image_base, ImportCollector* sink) {
  if (dir.rva == 0 || dir.size == 0) return;
  const std::string_view table = delay ? "the delay-load import table" : "the import table";
  const std::string title = delay ? "The delay-load import table" : "The import table";
  const size_t entry_size = delay ? 32 : 20;
  DescriptorReader reader(image, dir.rva, entry_size);
  std::string name;
  for (uint32_t i = 0;; ++i) {
    // Sentences are built only on damage: a valid table costs no string work.
    const auto where = [&] { return "Descriptor " + std::to_string(i) + " of " + std::string(table); };
    const uint8_t* e = nullptr;
    const DescriptorReader::Step step = reader.next(&e);
    switch (step) {
      case DescriptorReader::Step::kEntry:
        break;
      case DescriptorReader::Step::kOutside:
      case DescriptorReader::Step::kPastAddressSpace:
        if (i == 0) return sink->damage(title + " (RVA " + hex(dir.rva) + ") lies outside the file's sections and headers.");
        return sink->damage(title + " (RVA " + hex(dir.rva) + ") runs past the end of " +
                            (step == DescriptorReader::Step::kOutside ? "its section or of the file"
                                                                      : "the 32-bit address space") +
                            " at descriptor " + std::to_string(i) + ", before its terminating empty descriptor.");
      case DescriptorReader::Step::kReadError:
        return sink->damage(where() + " could not be read from the file.");
    }
    // The loader's end of the walk: the import table ends at a descriptor without a name or
    // without an import address table (normally all zero); the delay-load table at one without
    // a name.
    const uint32_t name_field = u32(e + (delay ? 4 : 12));
    if (name_field == 0 || (!delay && u32(e + 16) == 0)) return;
    if (i == kMaxPeImportDlls) {
      return sink->damage(title + " has more than " + std::to_string(kMaxPeImportDlls) +
                          " descriptors without a terminating empty one: treated as malformed.");
    }
    uint64_t name_rva = name_field;
    bool old_style = false;
    if (delay && (u32(e) & 1) == 0) {
      // An old (Visual C++ 6) descriptor: addresses, not RVAs.
      if (name_field < image_base) {
        return sink->damage(where() + " is an old-style descriptor whose DLL name address " + hex(name_field) +
                            " lies below the image base " + hex(image_base) + ".");
      }
      name_rva = name_field - image_base;  // <= name_field: fits in 32 bits
      old_style = true;
    }
    const auto name_at = [&] {
      return old_style ? "at address " + hex(name_field) + " (RVA " + hex(name_rva) + ")" : "at RVA " + hex(name_rva);
    };
    switch (image.name_at(static_cast<uint32_t>(name_rva), kMaxPeImportNameLength, &name)) {
      case Image::Name::kOk:
        break;
      case Image::Name::kOutside:
        return sink->damage(where() + " names its DLL " + name_at() + ", outside the file's sections and headers.");
      case Image::Name::kTooLong:
        return sink->damage(where() + " has a DLL name " + name_at() + " with no terminating NUL within " +
                            std::to_string(kMaxPeImportNameLength) + " bytes (too long).");
      case Image::Name::kCutOff:
        return sink->damage(where() + " has a DLL name " + name_at() +
                            " that runs to the end of its section or of the file without a terminating NUL.");
      case Image::Name::kReadError:
        return sink->damage(where() + ": its DLL name " + name_at() + " could not be read from the file.");
    }
    if (name.empty()) return sink->damage(where() + " has an empty DLL name " + name_at() + ".");
    for (size_t k = 0; k < name.size(); ++k) {
      const auto c = static_cast<uint8_t>(name[k]);
      if (c < 0x20 || c > 0x7E) {
        return sink->damage(where() + " has a DLL name " + name_at() + " with byte " + hex(c) + " at position " +
                            std::to_string(k) + ": not printable ASCII.");
      }
    }
    sink->add(name, delay);
  }
}

}  // namespace

PeStatus read_pe_image(const ByteSource& source, PeInfo* out, std::string* reason) {
  *out = {};
  const uint64_t size = source.size();
  uint8_t dos[64];
  if (size < sizeof dos) return fail(PeStatus::kTooSmall, reason, "the file is " + std::to_string(size) + " bytes: too small for a DOS header");
  if (!source.read(0, dos)) return fail(PeStatus::kReadError, reason, "the file could not be read");
  if (dos[0] != 'M' || dos[1] != 'Z') return fail(PeStatus::kNotMz, reason, "no MZ signature: not an executable image");
  const uint32_t lfanew = u32(dos + 0x3C);
  uint8_t nt[24];
  if (uint64_t{lfanew} + sizeof nt > size) {
    return fail(PeStatus::kBadLfanew, reason, "e_lfanew (" + std::to_string(lfanew) + ") points outside the file");
  }
  if (!source.read(lfanew, nt)) return fail(PeStatus::kReadError, reason, "the file could not be read");
  if (std::memcmp(nt, "PE\0\0", 4) != 0) return fail(PeStatus::kNotPe, reason, "no PE signature: an MS-DOS or other non-PE executable");
  out->raw_machine = u16(nt + 4);
  switch (static_cast<PeMachine>(out->raw_machine)) {
    case PeMachine::kI386:
    case PeMachine::kAmd64:
    case PeMachine::kArm64:
      out->machine = static_cast<PeMachine>(out->raw_machine);
      break;
    case PeMachine::kUnknown:
      break;
  }
  const uint16_t section_count = u16(nt + 6);
  const uint16_t optional_size = u16(nt + 20);
  out->characteristics = u16(nt + 22);
  // IMAGE_FILE_DLL (0x2000) and IMAGE_FILE_EXECUTABLE_IMAGE (0x0002).
  out->is_dll = (out->characteristics & 0x2000) != 0 && (out->characteristics & 0x0002) != 0;

  const uint64_t optional_at = uint64_t{lfanew} + sizeof nt;
  if (optional_size < 2 || optional_at + optional_size > size) {
    return fail(PeStatus::kBadHeaders, reason, "the optional header is missing or extends past the end of the file");
  }
  uint8_t opt[240] = {};
  const size_t opt_read = std::min<size_t>(optional_size, sizeof opt);
  if (!source.read(optional_at, std::span<uint8_t>(opt, opt_read))) return fail(PeStatus::kReadError, reason, "the file could not be read");
  const uint16_t magic = u16(opt);
  size_t count_at = 0;
  if (magic == 0x10B) {
    count_at = 92;
  } else if (magic == 0x20B) {
    out->pe32_plus = true;
    count_at = 108;
  } else {
    return fail(PeStatus::kBadHeaders, reason, "unknown optional header magic " + std::to_string(magic));
  }
  const bool wide_machine = out->machine == PeMachine::kAmd64 || out->machine == PeMachine::kArm64;
  if ((out->machine == PeMachine::kI386 && out->pe32_plus) || (wide_machine && !out->pe32_plus)) {
    return fail(PeStatus::kBadHeaders, reason,
                "the optional header (" + std::string(out->pe32_plus ? "PE32+" : "PE32") + ") does not match the machine (" +
                    describe_machine(out->raw_machine) + ")");
  }
  if (opt_read < 64) return fail(PeStatus::kBadHeaders, reason, "the optional header is truncated");
  const uint32_t size_of_headers = u32(opt + 60);
  const uint64_t image_base = out->pe32_plus ? (uint64_t{u32(opt + 24)} | (uint64_t{u32(opt + 28)} << 32)) : u32(opt + 28);
  // Data directory `index`, if NumberOfRvaAndSizes and the optional header's size include it.
  const uint32_t dir_count = opt_read >= count_at + 4 ? u32(opt + count_at) : 0;
  const auto directory = [&](uint32_t index) {
    const size_t at = count_at + 4 + size_t{index} * 8;
    if (index >= dir_count || opt_read < at + 8) return Directory{};
    return Directory{u32(opt + at), u32(opt + at + 4)};
  };
  const Directory exports = directory(0);

  if (section_count > kMaxPeSections) {
    return fail(PeStatus::kBadSections, reason, std::to_string(section_count) + " sections: more than the loader accepts");
  }
  const uint64_t sections_at = optional_at + optional_size;
  if (sections_at + uint64_t{section_count} * 40 > size) {
    return fail(PeStatus::kBadSections, reason, "the section table extends past the end of the file");
  }
  std::vector<uint8_t> table(size_t{section_count} * 40);
  if (!source.read(sections_at, table)) return fail(PeStatus::kReadError, reason, "the file could not be read");
  std::vector<Section> sections;
  sections.reserve(section_count);
  for (size_t i = 0; i < section_count; ++i) {
    const uint8_t* s = table.data() + i * 40;
    sections.push_back({u32(s + 12), u32(s + 16), u32(s + 20)});
  }
  Image image(source, size_of_headers, std::move(sections));

  // The imports first, whatever the export directory holds: their damage is reported apart.
  ImportCollector imports(out);
  read_import_table(image, directory(1), false, image_base, &imports);
  read_import_table(image, directory(13), true, image_base, &imports);

  if (exports.rva == 0 || exports.size == 0) return PeStatus::kOk;  // a DLL without exports
  uint64_t dir_off = 0;
  uint8_t dir[40];
  if (!image.map(exports.rva, sizeof dir, &dir_off) || !source.read(dir_off, dir)) {
    return fail(PeStatus::kBadExports, reason, "the export directory lies outside the file's sections");
  }
  const uint32_t name_count = u32(dir + 24);
  const uint32_t names_rva = u32(dir + 32);
  if (name_count > kMaxPeExportNames) {
    return fail(PeStatus::kBadExports, reason, "the export directory claims " + std::to_string(name_count) + " names");
  }
  if (name_count == 0) return PeStatus::kOk;
  uint64_t names_off = 0;
  std::vector<uint8_t> name_rvas(size_t{name_count} * 4);
  if (!image.map(names_rva, name_rvas.size(), &names_off) || !source.read(names_off, name_rvas)) {
    return fail(PeStatus::kBadExports, reason, "the export name table lies outside the file's sections");
  }
  out->export_names.reserve(name_count);
  std::string name;
  for (uint32_t i = 0; i < name_count; ++i) {
    if (image.name_at(u32(name_rvas.data() + size_t{i} * 4), kMaxPeExportNameLength, &name) != Image::Name::kOk) {
      out->export_names.clear();
      return fail(PeStatus::kBadExports, reason, "export name " + std::to_string(i) + " lies outside the file or is not terminated");
    }
    out->export_names.push_back(name);
  }
  return PeStatus::kOk;
}

std::string_view to_string(ExportFamily family) { return family == ExportFamily::kSimple ? "simple" : "extended"; }

std::span<const RequiredExport> required_exports(ExportFamily family) {
  static constexpr RequiredExport kSimple[] = {
      {"MAPILogon", 24}, {"MAPILogoff", 16}, {"MAPISendMail", 20}, {"MAPIFreeBuffer", 4}};
  static constexpr RequiredExport kExtended[] = {{"MAPIInitialize", 4},
                                                 {"MAPIUninitialize", 0},
                                                 {"MAPILogonEx", 20},
                                                 {"MAPIAllocateBuffer", 8},
                                                 {"MAPIFreeBuffer", 4}};
  if (family == ExportFamily::kSimple) return kSimple;
  return kExtended;
}

std::vector<std::string_view> missing_exports(const PeInfo& info, ExportFamily family) {
  std::vector<std::string_view> missing;
  for (const RequiredExport& r : required_exports(family)) {
    const std::string decorated = std::string(r.name) + "@" + std::to_string(r.x86_arg_bytes);
    const bool found = std::any_of(info.export_names.begin(), info.export_names.end(),
                                   [&](const std::string& e) { return e == r.name || e == decorated; });
    if (!found) missing.push_back(r.name);
  }
  return missing;
}

}  // namespace mapidispatch
