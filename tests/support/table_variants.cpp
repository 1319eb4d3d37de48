// Copyright MapiDispatch authors.

#include "table_variants.h"

#include <cstring>
#include <string>

#include "mapidispatch/crc32c.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"

namespace mapidispatch::test {

namespace {

using namespace layout;

void replace_all(std::u16string* s, std::u16string_view from, std::u16string_view to) {
  for (size_t at = s->find(from); at != std::u16string::npos; at = s->find(from, at + to.size()))
    s->replace(at, from.size(), to);
}

void to_wow64(Target* t) {
  replace_all(&t->path, u"\\System32\\", u"\\SysWOW64\\");
  // Only the 64-bit folder: "Program Files (x86)\" does not contain "Program Files\".
  replace_all(&t->path, u"\\Program Files\\", u"\\Program Files (x86)\\");
  if (t->status == TargetStatus::kFound && t->machine == PeMachine::kAmd64) {
    t->status = TargetStatus::kWrongBitness;
    t->reason = u"a 64-bit DLL, for a 32-bit process";
  } else if (t->status == TargetStatus::kWrongBitness && t->machine == PeMachine::kI386) {
    t->status = TargetStatus::kFound;
    t->reason = u"a 32-bit DLL, for a 32-bit process";
  }
}

template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void store(std::byte* p, const T& v) {
  std::memcpy(p, &v, sizeof v);
}

uint32_t fill_word(uint8_t fill) { return uint32_t{fill} * 0x01010101u; }

// Moves a string of the old record into the new one: the string block moves by `delta`.
bool move_string(StringRef* s, uint32_t old_strings, uint32_t delta) {
  if (s->length == 0) return true;
  if (s->offset < old_strings) return false;  // not build_record()'s layout
  s->offset += delta;
  return true;
}

bool move_target(TargetRecord* t, uint32_t old_strings, uint32_t delta) {
  return move_string(&t->path, old_strings, delta) && move_string(&t->client, old_strings, delta) &&
         move_string(&t->reason, old_strings, delta);
}

bool rewrite_record(std::span<const std::byte> in, const LaterMinor& later, std::vector<std::byte>* out) {
  if (in.size() < sizeof(ScopeRecord)) return false;
  auto r = load<ScopeRecord>(in.data());
  const uint64_t old_strings = sizeof(ScopeRecord) + uint64_t{r.override_count} * sizeof(OverrideRecord);
  if (r.fixed_size != sizeof(ScopeRecord) || old_strings > in.size()) return false;
  if (r.override_count > 0 &&
      (r.override_offset != sizeof(ScopeRecord) || r.override_stride != sizeof(OverrideRecord)))
    return false;

  const uint32_t fixed = sizeof(ScopeRecord) + later.extra_fixed;
  const uint32_t stride = sizeof(OverrideRecord) + later.extra_stride;
  const uint32_t strings = fixed + r.override_count * stride;
  const uint32_t delta = strings - static_cast<uint32_t>(old_strings);
  const auto old_s = static_cast<uint32_t>(old_strings);

  out->assign(strings + (in.size() - old_strings), std::byte{later.fill});
  if (!move_string(&r.sid, old_s, delta) || !move_string(&r.default_client, old_s, delta) ||
      !move_string(&r.prefirstrun_message, old_s, delta) || !move_string(&r.prefirstrun_caption, old_s, delta) ||
      !move_target(&r.simple, old_s, delta) || !move_target(&r.extended, old_s, delta) ||
      !move_target(&r.mapi32x, old_s, delta))
    return false;
  r.fixed_size = fixed;
  r.flags |= later.scope_flags;
  r.reserved = fill_word(later.fill);
  r.override_stride = stride;  // a later writer records its stride even without overrides
  if (r.override_count > 0) r.override_offset = fixed;
  store(out->data(), r);
  for (uint32_t i = 0; i < r.override_count; ++i) {
    auto o = load<OverrideRecord>(in.data() + sizeof(ScopeRecord) + size_t{i} * sizeof(OverrideRecord));
    if (!move_string(&o.module, old_s, delta) || !move_string(&o.client, old_s, delta) ||
        !move_target(&o.simple, old_s, delta) || !move_target(&o.extended, old_s, delta))
      return false;
    o.flags |= later.override_flags;
    o.reserved = fill_word(later.fill);
    store(out->data() + fixed + size_t{i} * stride, o);
  }
  std::memcpy(out->data() + strings, in.data() + old_strings, in.size() - old_strings);
  return true;
}

}  // namespace

std::vector<ScopeResolution> wow64_view(const std::vector<ScopeResolution>& scopes) {
  std::vector<ScopeResolution> v = scopes;
  for (auto& s : v) {
    to_wow64(&s.simple);
    to_wow64(&s.extended);
    to_wow64(&s.mapi32x);
    for (auto& o : s.overrides) {
      to_wow64(&o.simple);
      to_wow64(&o.extended);
    }
    if (s.kind == ScopeKind::kMachine && !s.overrides.empty()) s.overrides.pop_back();
  }
  return v;
}

bool rewrite_as_later_minor(std::span<const std::byte> image, const LaterMinor& later,
                            std::vector<std::byte>* out) {
  if (image.size() < sizeof(TableHeader) || later.header_size < sizeof(TableHeader) ||
      later.header_size % 4 != 0 || later.extra_fixed % 4 != 0 || later.extra_stride % 4 != 0 ||
      (later.header_flags & kFlagWriterStopped) != 0)
    return false;
  auto h = load<TableHeader>(image.data());
  if (h.header_size != sizeof(TableHeader) || h.payload_end > image.size()) return false;

  // The same order as build_table_image(): header, directory, WOW64 directory, records.
  const uint32_t dir = later.header_size;
  const uint32_t wow64_dir = dir + h.scope_count * static_cast<uint32_t>(sizeof(ScopeDirEntry));
  std::vector<std::byte> img(wow64_dir + size_t{h.wow64_scope_count} * sizeof(ScopeDirEntry),
                             std::byte{later.fill});
  auto move_directory = [&](uint32_t count, uint32_t from, uint32_t to) {
    for (uint32_t i = 0; i < count; ++i) {
      const uint64_t at = uint64_t{from} + uint64_t{i} * sizeof(ScopeDirEntry);
      if (at + sizeof(ScopeDirEntry) > image.size()) return false;
      auto e = load<ScopeDirEntry>(image.data() + at);
      if (uint64_t{e.record_offset} + e.record_size > image.size()) return false;
      std::vector<std::byte> rec;
      if (!rewrite_record(image.subspan(e.record_offset, e.record_size), later, &rec)) return false;
      e.record_offset = static_cast<uint32_t>(img.size());
      e.record_size = static_cast<uint32_t>(rec.size());
      e.record_checksum = crc32c(0, rec.data(), rec.size());
      img.insert(img.end(), rec.begin(), rec.end());
      store(img.data() + to + size_t{i} * sizeof(ScopeDirEntry), e);
    }
    return true;
  };
  if (!move_directory(h.scope_count, h.directory_offset, dir)) return false;
  if (h.wow64_scope_count > 0 && !move_directory(h.wow64_scope_count, h.wow64_directory_offset, wow64_dir))
    return false;

  const uint32_t payload_end = static_cast<uint32_t>(img.size());
  h.abi_minor = later.abi_minor;
  h.header_size = later.header_size;
  h.total_size += payload_end - h.payload_end;
  h.flags |= later.header_flags;
  h.reserved0 = fill_word(later.fill);
  h.directory_offset = dir;
  h.payload_end = payload_end;
  if (h.wow64_scope_count > 0) h.wow64_directory_offset = wow64_dir;
  h.reserved1 = fill_word(later.fill);
  std::memset(h.reserved, later.fill, sizeof h.reserved);
  store(img.data(), h);  // [128, header_size) keeps the fill: the fields this version lacks
  reseal_table_image(img);
  *out = std::move(img);
  return true;
}

}  // namespace mapidispatch::test
