// Copyright MapiDispatch authors.

#include "mapidispatch/table.h"

#include <algorithm>
#include <utility>
#include <bit>
#include <chrono>
#include <cstring>
#include <new>

#include "mapidispatch/crc32c.h"
#include "mapidispatch/seqlock.h"
#include "mapidispatch/table_layout.h"

#if defined(_MSC_VER)
#include <intrin.h>
#elif defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace mapidispatch {

static_assert(std::endian::native == std::endian::little, "the table is little-endian");
static_assert(offsetof(layout::TableHeader, sequence) == 16, "TableReader::sequence() reads offset 16");

namespace {

using namespace layout;

constexpr size_t kSequenceOffset = offsetof(TableHeader, sequence);
// The largest header a reader copies: a writer of a later minor version may write a bigger one,
// but not without bound.
constexpr uint32_t kMaxHeaderSize = 4096;

class TableErrorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mapidispatch.table"; }
  std::string message(int ev) const override {
    switch (static_cast<TableError>(ev)) {
      case TableError::kOk: return "success";
      case TableError::kBusy: return "the table was being written on every attempt";
      case TableError::kWriterStopped: return "the table's writer has stopped; it is not kept up to date";
      case TableError::kNotInitialized: return "no table has been published yet";
      case TableError::kBadMagic: return "not a MapiDispatch table (bad magic)";
      case TableError::kBadAbi: return "table ABI major version not supported by this reader";
      case TableError::kBadHeader: return "table header out of bounds";
      case TableError::kBadDirectory: return "table scope directory out of bounds";
      case TableError::kBadChecksum: return "table checksum mismatch (corrupted)";
      case TableError::kBadRecord: return "table scope record out of bounds";
      case TableError::kNoMachineScope: return "table has no machine scope";
      case TableError::kRegionTooSmall: return "mapping too small or misaligned for a table";
      case TableError::kTooLarge: return "table does not fit the section or exceeds a layout limit";
      case TableError::kOutOfMemory: return "out of memory copying the table";
      case TableError::kWriterExists: return "another writer holds the table section";
      case TableError::kUntrusted: return "the table section is not owned and protected by SYSTEM or Administrators";
      case TableError::kNoWow64View: return "the table has no answers for 32-bit processes (WOW64)";
      case TableError::kUserNotInTable:
        return "the table is incomplete (its section is too small) and this user's scope is not in it";
    }
    return "unknown table error";
  }
};

inline void cpu_relax() noexcept {
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_pause();
#elif defined(_MSC_VER) && defined(_M_ARM64)
  __yield();
#elif defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

template <typename T>
T load_pod(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void store_pod(std::byte* p, const T& v) noexcept {
  std::memcpy(p, &v, sizeof v);
}

uint32_t header_checksum(const std::byte* header, uint32_t header_size, const std::byte* dir,
                         size_t dir_bytes) noexcept {
  uint32_t crc = crc32c(0, header + kChecksumStart, header_size - kChecksumStart);
  return crc32c(crc, dir, dir_bytes);
}

// ---- Serialization --------------------------------------------------------------------------

// A publish sizes every record first (to decide what fits the section), then writes each kept
// record straight into the image at its final offset: no record is built apart and copied, and
// no buffer grows while it is written. A farm of a thousand users has two thousand records
// (1.4 MB) per publish, and under Wine every fresh megabyte was page faults and a heap call.

// The size of the record of `s` (4-aligned), or 0 if it breaks a limit of table_layout.h.
size_t record_size(const ScopeResolution& s) {
  if (s.overrides.size() > kMaxOverrides) return 0;
  size_t units = 0;
  bool ok = true;
  const auto text = [&](const std::u16string& x) {
    ok = ok && x.size() <= kMaxStringUnits;
    units += x.size();
  };
  const auto target = [&](const Target& t) {
    text(t.path);
    text(t.client);
    text(t.reason);
  };
  text(s.sid);
  text(s.default_client);
  text(s.prefirstrun_message);
  text(s.prefirstrun_caption);
  target(s.simple);
  target(s.extended);
  target(s.mapi32x);
  for (const AppOverride& o : s.overrides) {
    text(o.module);
    text(o.client);
    target(o.simple);
    target(o.extended);
  }
  if (!ok) return 0;
  const size_t size = (sizeof(ScopeRecord) + s.overrides.size() * sizeof(OverrideRecord) + units * 2 + 3) & ~size_t{3};
  return size > kMaxTotalSize ? 0 : size;
}

// Writes strings after a record's fixed part and overrides; offsets are from the record's start.
class RecordWriter {
 public:
  RecordWriter(std::byte* record, size_t strings_at) : rec_(record), at_(strings_at) {}

  void add_string(std::u16string_view s, StringRef* ref) {
    *ref = {};
    if (s.empty()) return;
    ref->offset = static_cast<uint32_t>(at_);
    ref->length = static_cast<uint32_t>(s.size());
    std::memcpy(rec_ + at_, s.data(), s.size() * 2);  // char16_t is UTF-16LE here
    at_ += s.size() * 2;
  }

  void add_target(const Target& t, TargetRecord* rec) {
    rec->status = static_cast<uint32_t>(t.status);
    rec->machine = static_cast<uint16_t>(t.machine);
    rec->source = static_cast<uint16_t>(t.source);
    add_string(t.path, &rec->path);
    add_string(t.client, &rec->client);
    add_string(t.reason, &rec->reason);
  }

  size_t end() const { return at_; }

 private:
  std::byte* rec_;
  size_t at_;
};

// Writes the record of `s` at `out`: exactly `size` bytes, record_size(s) (non-zero), every one of
// them (the image's buffer is reused from publish to publish, so no byte may be left as it was).
void write_record(const ScopeResolution& s, std::byte* out, size_t size) {
  ScopeRecord r{};
  r.fixed_size = sizeof(ScopeRecord);
  r.kind = static_cast<uint32_t>(s.kind);
  r.flags = s.supports_utf8 ? kScopeSupportsUtf8 : 0u;
  r.default_source = static_cast<uint32_t>(s.default_source);
  r.override_count = static_cast<uint32_t>(s.overrides.size());
  r.override_stride = sizeof(OverrideRecord);
  // Overrides right after the fixed part (4-aligned: the fixed part is), strings after them.
  r.override_offset = s.overrides.empty() ? 0u : static_cast<uint32_t>(sizeof(ScopeRecord));
  RecordWriter w(out, sizeof(ScopeRecord) + s.overrides.size() * sizeof(OverrideRecord));
  w.add_string(s.sid, &r.sid);
  w.add_string(s.default_client, &r.default_client);
  w.add_string(s.prefirstrun_message, &r.prefirstrun_message);
  w.add_string(s.prefirstrun_caption, &r.prefirstrun_caption);
  w.add_target(s.simple, &r.simple);
  w.add_target(s.extended, &r.extended);
  w.add_target(s.mapi32x, &r.mapi32x);
  for (size_t i = 0; i < s.overrides.size(); ++i) {
    const AppOverride& o = s.overrides[i];
    OverrideRecord rec{};
    rec.flags = (o.uses_mapi32x ? kOverrideUsesMapi32x : 0u) | (o.supports_utf8 ? kOverrideSupportsUtf8 : 0u);
    w.add_string(o.module, &rec.module);
    w.add_string(o.client, &rec.client);
    w.add_target(o.simple, &rec.simple);
    w.add_target(o.extended, &rec.extended);
    store_pod(out + sizeof(ScopeRecord) + i * sizeof(OverrideRecord), rec);
  }
  store_pod(out, r);
  std::memset(out + w.end(), 0, size - w.end());  // the alignment padding
}

// ---- Parsing (of private, consistent copies) -------------------------------------------------

bool parse_string(const std::byte* rec, uint32_t size, uint32_t fixed_size, const StringRef& ref,
                  std::u16string* out) {
  out->clear();
  if (ref.length == 0) return true;
  if (ref.length > kMaxStringUnits || ref.offset % 2 != 0 || ref.offset < fixed_size) return false;
  if (uint64_t{ref.offset} + uint64_t{ref.length} * 2 > size) return false;
  out->resize(ref.length);
  std::memcpy(out->data(), rec + ref.offset, size_t{ref.length} * 2);
  return true;
}

bool parse_target(const std::byte* rec, uint32_t size, uint32_t fixed_size, const TargetRecord& t,
                  Target* out) {
  // Unknown status, machine and source values are kept as they are: they are not kFound, so no
  // consumer loads what they point at.
  out->status = static_cast<TargetStatus>(t.status);
  out->machine = static_cast<PeMachine>(t.machine);
  out->source = static_cast<ValueSource>(t.source);
  return parse_string(rec, size, fixed_size, t.path, &out->path) &&
         parse_string(rec, size, fixed_size, t.client, &out->client) &&
         parse_string(rec, size, fixed_size, t.reason, &out->reason);
}

bool parse_record(const std::byte* rec, uint32_t size, ScopeResolution* out) {
  if (size < sizeof(ScopeRecord)) return false;
  const auto r = load_pod<ScopeRecord>(rec);
  if (r.fixed_size < sizeof(ScopeRecord) || r.fixed_size > size || r.fixed_size % 4 != 0) return false;
  if (r.kind != static_cast<uint32_t>(ScopeKind::kMachine) && r.kind != static_cast<uint32_t>(ScopeKind::kUser))
    return false;
  out->kind = static_cast<ScopeKind>(r.kind);
  out->supports_utf8 = (r.flags & kScopeSupportsUtf8) != 0;
  out->default_source = static_cast<ValueSource>(r.default_source);
  const uint32_t fs = r.fixed_size;
  if (!parse_string(rec, size, fs, r.sid, &out->sid) ||
      !parse_string(rec, size, fs, r.default_client, &out->default_client) ||
      !parse_string(rec, size, fs, r.prefirstrun_message, &out->prefirstrun_message) ||
      !parse_string(rec, size, fs, r.prefirstrun_caption, &out->prefirstrun_caption) ||
      !parse_target(rec, size, fs, r.simple, &out->simple) ||
      !parse_target(rec, size, fs, r.extended, &out->extended) ||
      !parse_target(rec, size, fs, r.mapi32x, &out->mapi32x))
    return false;
  if ((out->kind == ScopeKind::kUser) == out->sid.empty()) return false;

  out->overrides.clear();
  if (r.override_count > kMaxOverrides) return false;
  if (r.override_count > 0) {
    if (r.override_stride < sizeof(OverrideRecord) || r.override_stride % 4 != 0 ||
        r.override_offset % 4 != 0 || r.override_offset < fs ||
        uint64_t{r.override_offset} + uint64_t{r.override_count} * r.override_stride > size)
      return false;
    out->overrides.resize(r.override_count);
    for (uint32_t i = 0; i < r.override_count; ++i) {
      const auto o = load_pod<OverrideRecord>(rec + r.override_offset + size_t{i} * r.override_stride);
      AppOverride& a = out->overrides[i];
      a.uses_mapi32x = (o.flags & kOverrideUsesMapi32x) != 0;
      a.supports_utf8 = (o.flags & kOverrideSupportsUtf8) != 0;
      if (!parse_string(rec, size, fs, o.module, &a.module) || a.module.empty() ||
          !parse_string(rec, size, fs, o.client, &a.client) ||
          !parse_target(rec, size, fs, o.simple, &a.simple) ||
          !parse_target(rec, size, fs, o.extended, &a.extended))
        return false;
    }
  }
  return true;
}

// Structural checks of a header copy against the mapping it came from.
TableError check_header(const TableHeader& h, size_t region_size) {
  if (h.magic == 0 && h.header_size == 0) return TableError::kNotInitialized;
  if (h.magic != kMagic) return TableError::kBadMagic;
  if (h.abi_major != kAbiMajor) return TableError::kBadAbi;
  if (h.header_size < sizeof(TableHeader) || h.header_size > kMaxHeaderSize || h.header_size % 4 != 0)
    return TableError::kBadHeader;
  if (h.total_size > region_size || h.total_size > kMaxTotalSize || h.total_size < h.header_size)
    return TableError::kBadHeader;
  if (h.scope_count == 0) return TableError::kNoMachineScope;
  if (h.scope_count > kMaxScopes || h.directory_offset % 4 != 0 || h.directory_offset < h.header_size)
    return TableError::kBadDirectory;
  const uint64_t dir_end = uint64_t{h.directory_offset} + uint64_t{h.scope_count} * sizeof(ScopeDirEntry);
  if (dir_end > h.payload_end || h.payload_end > h.total_size || h.payload_end % 4 != 0)
    return TableError::kBadDirectory;
  // ABI 1.2's counts of left-out user scopes (reserved, ignored, before): bounded, and never
  // without the flag that keeps readers from answering those users with the machine scope.
  if (h.abi_minor >= 2) {
    if (h.omitted_scope_count > kMaxScopes || h.wow64_omitted_scope_count > kMaxScopes) return TableError::kBadHeader;
    if ((h.omitted_scope_count != 0 || h.wow64_omitted_scope_count != 0) && (h.flags & kFlagIncomplete) == 0)
      return TableError::kBadHeader;
  }
  return TableError::kOk;
}

// The WOW64 directory's fields (ABI 1.1), checked only by a reader that uses them: a native read
// of a 1.1 table is the read of a 1.0 reader.
TableError check_wow64_header(const TableHeader& h) {
  if (h.wow64_scope_count == 0) return TableError::kNoWow64View;
  if (h.wow64_scope_count > kMaxScopes || h.wow64_directory_offset % 4 != 0 ||
      h.wow64_directory_offset < h.header_size)
    return TableError::kBadDirectory;
  const uint64_t end = uint64_t{h.wow64_directory_offset} + uint64_t{h.wow64_scope_count} * sizeof(ScopeDirEntry);
  if (end > h.payload_end) return TableError::kBadDirectory;
  return TableError::kOk;
}

// A directory entry's record lies after the directory it was read from (`dir_end`) and inside
// the payload.
bool check_entry(const ScopeDirEntry& e, uint64_t dir_end, const TableHeader& h) {
  return e.record_offset % 4 == 0 && e.record_size % 4 == 0 && e.record_size >= sizeof(ScopeRecord) &&
         e.record_offset >= dir_end && uint64_t{e.record_offset} + e.record_size <= h.payload_end;
}

}  // namespace

const std::error_category& table_category() noexcept {
  static const TableErrorCategory category;
  return category;
}

std::error_code make_error_code(TableError e) noexcept {
  return {static_cast<int>(e), table_category()};
}

std::string_view to_string(TableView view) {
  return view == TableView::kWow64 ? "wow64" : "native";
}

uint64_t filetime_now() noexcept {
  using namespace std::chrono;
  // 1601-01-01 to 1970-01-01 in 100 ns units.
  constexpr int64_t kEpochDelta = 116444736000000000LL;
  const auto since_unix = duration_cast<duration<int64_t, std::ratio<1, 10000000>>>(
      system_clock::now().time_since_epoch());
  return static_cast<uint64_t>(since_unix.count() + kEpochDelta);
}

namespace {

// Directory order: the machine scope, then users by (sid_hash, sid) so readers binary-search.
// `*hashes`: each scope's sid_hash, in that order (0 for the machine scope), computed once: the
// sort and the merge of the two views compare them O(N log N) times. `*input_hashes`: the same,
// in the order of `scopes`. `known(i, sid)`: the hash of `sid`, the SID at position i, if the
// caller already has it (the other view's, the previous publish's), else 0. A hash is a chain of
// two multiplications per code unit, a tenth of a publish of 1,000 users; comparing a SID with
// the one known at the same position is a memcmp, and the service keeps its users in one order.
template <typename Known>
std::error_code directory_order(std::span<const ScopeResolution> scopes, std::vector<const ScopeResolution*>* order,
                                std::vector<uint32_t>* hashes, std::vector<uint32_t>* input_hashes, Known known) {
  order->clear();
  hashes->clear();
  input_hashes->assign(scopes.size(), 0u);
  const ScopeResolution* machine = nullptr;
  std::vector<std::pair<uint32_t, const ScopeResolution*>> keyed;
  keyed.reserve(scopes.size());
  for (size_t i = 0; i < scopes.size(); ++i) {
    const ScopeResolution& s = scopes[i];
    if (s.kind == ScopeKind::kMachine) {
      if (machine != nullptr || !s.sid.empty()) return TableError::kNoMachineScope;
      machine = &s;
      continue;
    }
    if (s.sid.empty() || s.sid.size() > kMaxStringUnits) return TableError::kTooLarge;
    uint32_t h = known(i, s.sid);
    if (h == 0) h = sid_hash(s.sid.data(), s.sid.size());
    (*input_hashes)[i] = h;
    keyed.emplace_back(h, &s);
  }
  if (machine == nullptr) return TableError::kNoMachineScope;
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->sid < b.second->sid;
  });
  order->reserve(keyed.size() + 1);
  hashes->reserve(keyed.size() + 1);
  order->assign(1, machine);
  hashes->assign(1, 0u);
  for (const auto& [h, s] : keyed) {
    order->push_back(s);
    hashes->push_back(h);
  }
  return {};
}

// (sid_hash, SID): the directory's order of user scopes.
struct UserKey {
  uint32_t hash;
  const std::u16string* sid;
  bool operator<(const UserKey& o) const { return hash != o.hash ? hash < o.hash : *sid < *o.sid; }
  bool operator==(const UserKey& o) const { return hash == o.hash && *sid == *o.sid; }
};

// One view's scopes in directory order, each with its record's size, 0 where it breaks a layout
// limit.
struct ViewRecords {
  std::vector<const ScopeResolution*> order;
  std::vector<uint32_t> hashes;  // sid_hash of each, directory_order()'s
  std::vector<size_t> size;      // record_size() of each
  std::vector<bool> kept;

  bool built(size_t i) const { return size[i] != 0; }
};

UserKey key_of(const ViewRecords& v, size_t i) { return {v.hashes[i], &v.order[i]->sid}; }

void size_records(ViewRecords* v) {
  v->size.resize(v->order.size());
  v->kept.assign(v->order.size(), false);
  for (size_t i = 0; i < v->order.size(); ++i) v->size[i] = record_size(*v->order[i]);
}

// Decides which user scopes the image keeps: the machine scopes always (kTooLarge if they do not
// fit), then the users of both views merged in directory order, each user kept in every view it
// has or in none, as long as the image stays within `limit` bytes and kMaxScopes per directory.
// A user that does not fit is left out and the next ones are still tried. `*left_out`: whether
// any user was.
std::error_code choose_scopes(ViewRecords* native, ViewRecords* wow64, size_t limit, bool* left_out) {
  *left_out = false;
  size_t used = sizeof(TableHeader);
  for (ViewRecords* v : {native, wow64}) {
    if (v->order.empty()) continue;
    if (!v->built(0)) return TableError::kTooLarge;
    used += sizeof(ScopeDirEntry) + v->size[0];
    v->kept[0] = true;
  }
  if (used > limit) return TableError::kTooLarge;
  size_t counts[2] = {native->order.empty() ? 0u : 1u, wow64->order.empty() ? 0u : 1u};
  size_t i = 1, j = 1;
  while (i < native->order.size() || j < wow64->order.size()) {
    // The next SID in directory order and where each view has it.
    const bool in_n = i < native->order.size();
    const bool in_w = j < wow64->order.size();
    UserKey next{};
    if (in_n && in_w) {
      const UserKey a = key_of(*native, i), b = key_of(*wow64, j);
      next = b < a ? b : a;
    } else {
      next = in_n ? key_of(*native, i) : key_of(*wow64, j);
    }
    const bool has_n = in_n && key_of(*native, i) == next;
    const bool has_w = in_w && key_of(*wow64, j) == next;
    size_t cost = 0;
    bool buildable = true;
    if (has_n) {
      cost += sizeof(ScopeDirEntry) + native->size[i];
      buildable = buildable && native->built(i);
    }
    if (has_w) {
      cost += sizeof(ScopeDirEntry) + wow64->size[j];
      buildable = buildable && wow64->built(j);
    }
    const bool fits = buildable && used + cost <= limit && (!has_n || counts[0] < kMaxScopes) &&
                      (!has_w || counts[1] < kMaxScopes);
    if (fits) {
      used += cost;
      if (has_n) {
        native->kept[i] = true;
        ++counts[0];
      }
      if (has_w) {
        wow64->kept[j] = true;
        ++counts[1];
      }
    } else {
      *left_out = true;
    }
    if (has_n) ++i;
    if (has_w) ++j;
  }
  return {};
}

// One directory: the kept records of `v`, placed from `*offset` on (which grows).
struct BuiltDirectory {
  std::vector<ScopeDirEntry> entries;        // checksums filled by write_directory()
  std::vector<const ScopeResolution*> scopes;  // entries[i]'s
  uint32_t omitted_users = 0;
};

BuiltDirectory place_directory(const ViewRecords& v, size_t* offset) {
  BuiltDirectory d;
  d.entries.reserve(v.order.size());
  d.scopes.reserve(v.order.size());
  for (size_t i = 0; i < v.order.size(); ++i) {
    if (!v.kept[i]) {
      ++d.omitted_users;  // never the machine scope: choose_scopes() keeps it or fails
      continue;
    }
    ScopeDirEntry e{};
    e.record_offset = static_cast<uint32_t>(*offset);
    e.record_size = static_cast<uint32_t>(v.size[i]);
    e.sid_hash = v.hashes[i];  // 0 for the machine scope (i == 0)
    *offset += v.size[i];
    d.entries.push_back(e);
    d.scopes.push_back(v.order[i]);
  }
  return d;
}

// Writes the records of `d` into the image, checksums each, and stores the directory.
void write_directory(std::byte* image, size_t dir_offset, BuiltDirectory* d) {
  for (size_t i = 0; i < d->entries.size(); ++i) {
    ScopeDirEntry& e = d->entries[i];
    write_record(*d->scopes[i], image + e.record_offset, e.record_size);
    e.record_checksum = crc32c(0, image + e.record_offset, e.record_size);
  }
  std::memcpy(image + dir_offset, d->entries.data(), d->entries.size() * sizeof(ScopeDirEntry));
}

}  // namespace

std::error_code build_table_image(std::span<const ScopeResolution> scopes, uint64_t generation,
                                  uint64_t publish_time, uint32_t writer_pid, uint32_t total_size,
                                  std::vector<std::byte>* image, std::span<const ScopeResolution> wow64_scopes,
                                  TableOverflow overflow, TableFit* fit) {
  return build_table_image_with(scopes, generation, publish_time, writer_pid, total_size, image, wow64_scopes,
                                overflow, fit, nullptr);
}

namespace detail {

uint32_t SidHashMemo::known(size_t i, std::u16string_view sid) const noexcept {
  if (i + 1 >= end.size()) return 0;
  const std::u16string_view was(units.data() + end[i], end[i + 1] - end[i]);
  return was == sid ? hash[i] : 0u;
}

void SidHashMemo::remember(std::span<const ScopeResolution> scopes, const std::vector<uint32_t>& hashes) {
  units.clear();
  end.assign(1, 0);
  hash = hashes;
  for (const ScopeResolution& s : scopes) {
    units.insert(units.end(), s.sid.begin(), s.sid.end());
    end.push_back(units.size());
  }
}

}  // namespace detail

std::error_code build_table_image_with(std::span<const ScopeResolution> scopes, uint64_t generation,
                                       uint64_t publish_time, uint32_t writer_pid, uint32_t total_size,
                                       std::vector<std::byte>* image, std::span<const ScopeResolution> wow64_scopes,
                                       TableOverflow overflow, TableFit* fit, detail::BuildMemo* memo) {
  ViewRecords native, wow64;
  std::vector<uint32_t> native_input_hashes, wow64_input_hashes;
  const auto from_memo = [memo](size_t i, std::u16string_view sid) { return memo ? memo->sids.known(i, sid) : 0u; };
  if (auto ec = directory_order(scopes, &native.order, &native.hashes, &native_input_hashes, from_memo)) return ec;
  if (memo != nullptr) memo->sids.remember(scopes, native_input_hashes);
  // The WOW64 view lists the same users as the native one, in the same order.
  const auto from_native = [&](size_t i, std::u16string_view sid) {
    return i < scopes.size() && scopes[i].sid == sid ? native_input_hashes[i] : 0u;
  };
  if (!wow64_scopes.empty())
    if (auto ec = directory_order(wow64_scopes, &wow64.order, &wow64.hashes, &wow64_input_hashes, from_native))
      return ec;
  size_records(&native);
  size_records(&wow64);
  bool left_out = false;
  const size_t limit = std::min<size_t>(total_size, kMaxTotalSize);
  if (auto ec = choose_scopes(&native, &wow64, limit, &left_out)) return ec;
  if (left_out && overflow == TableOverflow::kRefuse) return TableError::kTooLarge;

  // Header, directory, WOW64 directory, then the records of each.
  const size_t kept_native = static_cast<size_t>(std::count(native.kept.begin(), native.kept.end(), true));
  const size_t kept_wow64 = static_cast<size_t>(std::count(wow64.kept.begin(), wow64.kept.end(), true));
  const size_t dir_offset = sizeof(TableHeader);
  const size_t wow64_dir_offset = dir_offset + kept_native * sizeof(ScopeDirEntry);
  size_t offset = wow64_dir_offset + kept_wow64 * sizeof(ScopeDirEntry);
  BuiltDirectory dir = place_directory(native, &offset);
  BuiltDirectory wow64_dir = place_directory(wow64, &offset);

  // Every byte below is written (header, directories, records with their padding): resize, not
  // assign, so that a reused buffer is not cleared first.
  image->resize(offset);
  std::byte* p = image->data();
  TableHeader h{};
  h.magic = kMagic;
  h.abi_major = kAbiMajor;
  h.abi_minor = kAbiMinor;
  h.header_size = sizeof(TableHeader);
  h.total_size = total_size;
  h.flags = left_out ? kFlagIncomplete : 0u;
  h.generation = generation;
  h.publish_time = publish_time;
  h.writer_pid = writer_pid;
  h.scope_count = static_cast<uint32_t>(dir.entries.size());
  h.directory_offset = static_cast<uint32_t>(dir_offset);
  h.payload_end = static_cast<uint32_t>(offset);
  if (!wow64_dir.entries.empty()) {
    h.wow64_scope_count = static_cast<uint32_t>(wow64_dir.entries.size());
    h.wow64_directory_offset = static_cast<uint32_t>(wow64_dir_offset);
  }
  h.omitted_scope_count = dir.omitted_users;
  h.wow64_omitted_scope_count = wow64_dir.omitted_users;
  store_pod(p, h);
  write_directory(p, dir_offset, &dir);
  if (!wow64_dir.entries.empty()) write_directory(p, wow64_dir_offset, &wow64_dir);
  reseal_table_image(*image);
  if (memo != nullptr) {
    const auto remember = [](const BuiltDirectory& d, size_t dir_at, std::span<const ScopeResolution> in,
                             detail::ViewPlacement* v) {
      v->directory_offset = static_cast<uint32_t>(dir_at);
      v->input.resize(d.entries.size());
      v->capacity.resize(d.entries.size());
      for (size_t i = 0; i < d.entries.size(); ++i) {
        v->input[i] = static_cast<uint32_t>(d.scopes[i] - in.data());
        v->capacity[i] = d.entries[i].record_size;
      }
    };
    remember(dir, dir_offset, scopes, &memo->views[0]);
    remember(wow64_dir, wow64_dir_offset, wow64_scopes, &memo->views[1]);
  }
  if (fit != nullptr) {
    fit->user_scopes = static_cast<uint32_t>(native.order.size() - 1);
    fit->omitted = dir.omitted_users;
    fit->wow64_user_scopes = wow64.order.empty() ? 0u : static_cast<uint32_t>(wow64.order.size() - 1);
    fit->wow64_omitted = wow64_dir.omitted_users;
  }
  return {};
}

void reseal_table_image(std::span<std::byte> image) noexcept {
  if (image.size() < sizeof(TableHeader)) return;
  auto h = load_pod<TableHeader>(image.data());
  if (h.header_size < sizeof(TableHeader) || h.header_size > image.size()) return;
  // The WOW64 directory's checksum first: the header checksum covers it.
  const uint64_t wow64_end =
      uint64_t{h.wow64_directory_offset} + uint64_t{h.wow64_scope_count} * sizeof(ScopeDirEntry);
  if (h.wow64_scope_count > 0 && wow64_end <= image.size()) {
    h.wow64_directory_checksum = crc32c(0, image.data() + h.wow64_directory_offset,
                                        static_cast<size_t>(wow64_end - h.wow64_directory_offset));
    store_pod(image.data() + offsetof(TableHeader, wow64_directory_checksum), h.wow64_directory_checksum);
  }
  const uint64_t dir_end = uint64_t{h.directory_offset} + uint64_t{h.scope_count} * sizeof(ScopeDirEntry);
  if (dir_end > image.size()) return;
  h.checksum = header_checksum(image.data(), h.header_size, image.data() + h.directory_offset,
                               static_cast<size_t>(dir_end - h.directory_offset));
  store_pod(image.data() + offsetof(TableHeader, checksum), h.checksum);
}

// ---- TableWriter -----------------------------------------------------------------------------

TableWriter::TableWriter(std::span<std::byte> region, uint32_t writer_pid, uint64_t min_generation) noexcept
    : region_(region), writer_pid_(writer_pid), generation_(min_generation) {
  if (region_.size() < sizeof(TableHeader) || reinterpret_cast<uintptr_t>(region_.data()) % 4 != 0) return;
  // This is the only writer (the section's writer lock says so), so plain reads of the region
  // race with nobody; readers only load.
  const auto h = load_pod<TableHeader>(region_.data());
  if (h.magic != kMagic || h.abi_major != kAbiMajor) return;
  recovered_generation_ = h.generation;
  generation_ = std::max(generation_, h.generation);
  auto* count = reinterpret_cast<uint32_t*>(region_.data() + kSequenceOffset);
  if (seqlock::word(count).load(std::memory_order_relaxed) & 1u) {
    // A writer died mid-publish. Complete the odd count, flagged "writer stopped": readers then
    // see either that flag or a checksum mismatch, never a half-written table they trust.
    recovered_odd_ = true;
    const uint32_t odd = seqlock::write_begin(count);
    const uint32_t flags = h.flags | kFlagWriterStopped;
    seqlock::copy_in(region_.data() + offsetof(TableHeader, flags), &flags, sizeof flags);
    seqlock::write_end(count, odd);
  }
}

void TableWriter::write_image_locked() noexcept {
  auto* count = reinterpret_cast<uint32_t*>(region_.data() + kSequenceOffset);
  const uint32_t odd = seqlock::write_begin(count);
  // Everything but the count word itself.
  seqlock::copy_in(region_.data(), image_.data(), kSequenceOffset);
  seqlock::copy_in(region_.data() + kSequenceOffset + 4, image_.data() + kSequenceOffset + 4,
                   image_.size() - kSequenceOffset - 4);
  seqlock::write_end(count, odd);
}

namespace {
// Where directory entry `d` of a view lies in the image.
size_t entry_at(const detail::ViewPlacement& p, uint32_t d) {
  return p.directory_offset + size_t{d} * sizeof(ScopeDirEntry);
}
}  // namespace

bool TableWriter::apply_delta(std::span<const ScopeResolution> scopes, std::span<const ScopeResolution> wow64_scopes,
                              const TableDelta& delta, uint64_t generation, size_t limit) {
  if (!image_valid_ || !fit_.complete() || image_.size() < sizeof(TableHeader)) return false;
  auto h = load_pod<TableHeader>(image_.data());
  const std::span<const ScopeResolution> in[2] = {scopes, wow64_scopes};
  const uint32_t counts[2] = {h.scope_count, h.wow64_scope_count};

  // The plan first, image_ untouched: which records, of what size, where.
  struct Change {
    int view;
    uint32_t index;  // in the view's directory
    size_t size;
    size_t offset = 0;
  };
  std::vector<Change> changes;
  for (int v = 0; v < 2; ++v) {
    const detail::ViewPlacement& p = memo_.views[v];
    if (in[v].size() != counts[v] || p.input.size() != counts[v]) return false;
    if (counts[v] == 0) continue;
    const auto scope_at = [&](uint32_t d) -> const ScopeResolution* {
      return p.input[d] < in[v].size() ? &in[v][p.input[d]] : nullptr;
    };
    const auto entry = [&](uint32_t d) { return load_pod<ScopeDirEntry>(image_.data() + entry_at(p, d)); };
    if (delta.machine) {
      const ScopeResolution* m = scope_at(0);
      if (m == nullptr || m->kind != ScopeKind::kMachine || !m->sid.empty()) return false;
      changes.push_back({v, 0, 0});
    }
    for (const std::u16string& sid : delta.users) {
      // The directory is in (sid_hash, SID) order: a binary search, O(log N) scopes looked at.
      if (sid.empty() || sid.size() > kMaxStringUnits) return false;
      const UserKey want{sid_hash(sid.data(), sid.size()), &sid};
      uint32_t lo = 1, hi = counts[v];
      while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        const ScopeResolution* s = scope_at(mid);
        if (s == nullptr) return false;
        if (UserKey{entry(mid).sid_hash, &s->sid} < want) lo = mid + 1;
        else hi = mid;
      }
      const ScopeResolution* s = lo < counts[v] ? scope_at(lo) : nullptr;
      if (s == nullptr || s->kind != ScopeKind::kUser || entry(lo).sid_hash != want.hash || s->sid != sid) return false;
      changes.push_back({v, lo, 0});
    }
  }
  std::sort(changes.begin(), changes.end(),
            [](const Change& a, const Change& b) { return a.view != b.view ? a.view < b.view : a.index < b.index; });
  changes.erase(std::unique(changes.begin(), changes.end(),
                            [](const Change& a, const Change& b) { return a.view == b.view && a.index == b.index; }),
                changes.end());
  size_t end = image_.size(), slack = slack_;
  for (Change& c : changes) {
    const detail::ViewPlacement& p = memo_.views[c.view];
    c.size = record_size(in[c.view][p.input[c.index]]);
    if (c.size == 0) return false;  // breaks a limit: the full build decides what to do with it
    const auto e = load_pod<ScopeDirEntry>(image_.data() + entry_at(p, c.index));
    if (c.size <= p.capacity[c.index]) {
      c.offset = e.record_offset;  // its own slot
    } else {
      c.offset = end;  // after the last record; its old slot is left behind
      end += c.size;
      slack += p.capacity[c.index];
    }
  }
  // Slots left behind are bytes every publish copies and no reader uses: past a quarter of the
  // payload, the full build packs the records again.
  if (end > limit || slack > end / 4) return false;

  // The image: the changed records, their directory entries, the header, the checksums.
  image_valid_ = false;  // until it is whole again (resize may throw)
  image_.resize(end);
  for (const Change& c : changes) {
    detail::ViewPlacement& p = memo_.views[c.view];
    write_record(in[c.view][p.input[c.index]], image_.data() + c.offset, c.size);
    const size_t at = entry_at(p, c.index);
    auto e = load_pod<ScopeDirEntry>(image_.data() + at);
    e.record_offset = static_cast<uint32_t>(c.offset);
    e.record_size = static_cast<uint32_t>(c.size);
    e.record_checksum = crc32c(0, image_.data() + c.offset, c.size);
    store_pod(image_.data() + at, e);
    p.capacity[c.index] = std::max(p.capacity[c.index], static_cast<uint32_t>(c.size));
  }
  h.flags &= ~kFlagWriterStopped;  // mark_stopped() may have flagged the last image
  h.generation = generation;
  h.publish_time = filetime_now();
  h.payload_end = static_cast<uint32_t>(end);
  store_pod(image_.data(), h);
  reseal_table_image(image_);
  slack_ = slack;
  image_valid_ = true;
  return true;
}

std::error_code TableWriter::publish(std::span<const ScopeResolution> scopes,
                                    std::span<const ScopeResolution> wow64_scopes, TableOverflow overflow,
                                    const TableDelta* delta) {
  if (region_.size() < sizeof(TableHeader) || reinterpret_cast<uintptr_t>(region_.data()) % 4 != 0)
    return TableError::kRegionTooSmall;
  const auto total = static_cast<uint32_t>(std::min<size_t>(region_.size(), kMaxTotalSize));
  if (delta != nullptr && apply_delta(scopes, wow64_scopes, *delta, generation_ + 1, total)) {
    ++delta_publishes_;
  } else {
    // Built into the last image's own buffer (kept for its memory: a publish allocates, and under
    // Wine faults in, no megabytes of fresh pages); the region keeps its copy of the last table.
    TableFit fit;
    if (auto ec = build_table_image_with(scopes, generation_ + 1, filetime_now(), writer_pid_, total, &image_,
                                         wow64_scopes, overflow, &fit, &memo_)) {
      image_valid_ = false;  // whatever the failed build left; mark_stopped() reads the region
      return ec;
    }
    image_valid_ = true;
    slack_ = 0;
    fit_ = fit;
    ++full_builds_;
  }
  payload_bytes_ = image_.size();
  ++generation_;
  write_image_locked();
  return {};
}

std::error_code TableWriter::mark_stopped() noexcept {
  if (!image_valid_ || image_.size() < sizeof(TableHeader)) {
    // Nothing published by this writer (or its last build failed, and image_ is not the table):
    // flag whatever table the section holds.
    if (region_.size() < sizeof(TableHeader)) return TableError::kRegionTooSmall;
    auto* count = reinterpret_cast<uint32_t*>(region_.data() + kSequenceOffset);
    auto h = load_pod<TableHeader>(region_.data());
    if (h.magic != kMagic) return TableError::kNotInitialized;
    // An intact table (its checksum matches) is resealed with the flag, so readers report
    // "writer stopped" rather than corruption; one that is not intact stays unsealed: sealing
    // would vouch for bytes nobody wrote whole. This writer is the only one, so the plain reads
    // race with nobody.
    const uint64_t dir_end = uint64_t{h.directory_offset} + uint64_t{h.scope_count} * sizeof(ScopeDirEntry);
    const bool intact = check_header(h, region_.size()) == TableError::kOk &&
                        header_checksum(region_.data(), h.header_size, region_.data() + h.directory_offset,
                                        static_cast<size_t>(dir_end - h.directory_offset)) == h.checksum;
    const uint32_t odd = seqlock::write_begin(count);
    h.flags |= kFlagWriterStopped;
    seqlock::copy_in(region_.data() + offsetof(TableHeader, flags), &h.flags, sizeof h.flags);
    if (intact) {
      const uint32_t sealed = header_checksum(region_.data(), h.header_size, region_.data() + h.directory_offset,
                                              static_cast<size_t>(dir_end - h.directory_offset));
      seqlock::copy_in(region_.data() + offsetof(TableHeader, checksum), &sealed, sizeof sealed);
    }
    seqlock::write_end(count, odd);
    return {};
  }
  auto h = load_pod<TableHeader>(image_.data());
  h.flags |= kFlagWriterStopped;
  store_pod(image_.data(), h);
  reseal_table_image(image_);
  write_image_locked();
  return {};
}

// ---- TableReader -----------------------------------------------------------------------------

TableError TableReader::read(std::u16string_view sid, TableSnapshot* out, const ReadLimits& limits,
                             TableView view) const noexcept {
  try {
    return read_impl(Want::kOneUser, sid, out, limits, view);
  } catch (const std::bad_alloc&) {
    return TableError::kOutOfMemory;
  } catch (...) {
    return TableError::kOutOfMemory;  // only allocation can throw in read_impl
  }
}

TableError TableReader::read_all(TableSnapshot* out, const ReadLimits& limits, TableView view) const noexcept {
  try {
    return read_impl(Want::kAll, {}, out, limits, view);
  } catch (...) {
    return TableError::kOutOfMemory;
  }
}

TableError TableReader::read_impl(Want want, std::u16string_view sid, TableSnapshot* out,
                                  const ReadLimits& limits, TableView view) const {
  if (region_.size() < sizeof(TableHeader) || reinterpret_cast<uintptr_t>(region_.data()) % 4 != 0)
    return TableError::kRegionTooSmall;
  const std::byte* base = region_.data();
  const auto* count = reinterpret_cast<const uint32_t*>(base + kSequenceOffset);
  const uint32_t want_hash = sid.empty() ? 0u : sid_hash(sid.data(), sid.size());

  std::vector<std::byte> header, dir_bytes, wow64_bytes;
  std::vector<std::vector<std::byte>> records;
  std::vector<uint32_t> picked;  // directory indexes copied into `records`

  for (int attempt = 0; attempt < limits.max_attempts; ++attempt) {
    const uint32_t s1 = seqlock::read_begin(count);
    if (s1 & 1u) {
      // A write is in progress (or its writer died): wait a bounded while, then try again.
      for (int i = 0; i < limits.spins_per_attempt && (seqlock::read_begin(count) & 1u); ++i) cpu_relax();
      continue;
    }
    TableHeader h;
    seqlock::copy_out(&h, base, sizeof h);
    if (const TableError e = check_header(h, region_.size()); e != TableError::kOk) {
      if (seqlock::read_retry(count, s1)) continue;  // torn, not bad
      return e;
    }
    header.resize(h.header_size);
    seqlock::copy_out(header.data(), base, h.header_size);
    dir_bytes.resize(size_t{h.scope_count} * sizeof(ScopeDirEntry));
    seqlock::copy_out(dir_bytes.data(), base + h.directory_offset, dir_bytes.size());
    const bool wow64 = view == TableView::kWow64;
    TableError wow64_state = TableError::kOk;
    if (wow64) {
      wow64_state = check_wow64_header(h);
      if (wow64_state == TableError::kOk) {
        wow64_bytes.resize(size_t{h.wow64_scope_count} * sizeof(ScopeDirEntry));
        seqlock::copy_out(wow64_bytes.data(), base + h.wow64_directory_offset, wow64_bytes.size());
      }
    }
    if (seqlock::read_retry(count, s1)) continue;

    // A consistent copy of header and directory: now it must also be intact.
    if (header_checksum(header.data(), h.header_size, dir_bytes.data(), dir_bytes.size()) != h.checksum)
      return TableError::kBadChecksum;
    if (wow64) {
      // The header checksum covers wow64_directory_checksum, which covers the WOW64 directory.
      if (wow64_state != TableError::kOk) return wow64_state;
      if (crc32c(0, wow64_bytes.data(), wow64_bytes.size()) != h.wow64_directory_checksum)
        return TableError::kBadChecksum;
    }
    const std::vector<std::byte>& dir = wow64 ? wow64_bytes : dir_bytes;
    const uint32_t dir_count = wow64 ? h.wow64_scope_count : h.scope_count;
    const uint64_t dir_end = (wow64 ? uint64_t{h.wow64_directory_offset} : uint64_t{h.directory_offset}) +
                             uint64_t{dir_count} * sizeof(ScopeDirEntry);
    const auto entry = [&](uint32_t i) { return load_pod<ScopeDirEntry>(dir.data() + size_t{i} * sizeof(ScopeDirEntry)); };
    if (entry(0).sid_hash != 0) return TableError::kNoMachineScope;
    for (uint32_t i = 0; i < dir_count; ++i) {
      const ScopeDirEntry e = entry(i);
      if (!check_entry(e, dir_end, h)) return TableError::kBadDirectory;
      if (i > 0 && (e.sid_hash == 0 || e.sid_hash < entry(i - 1).sid_hash)) return TableError::kBadDirectory;
    }

    // Pick the records this read needs and copy them under the same count.
    picked.clear();
    picked.push_back(0);
    if (want == Want::kAll) {
      for (uint32_t i = 1; i < dir_count; ++i) picked.push_back(i);
    } else if (want_hash != 0) {
      uint32_t lo = 1, hi = dir_count;
      while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (entry(mid).sid_hash < want_hash) lo = mid + 1; else hi = mid;
      }
      for (uint32_t i = lo; i < dir_count && entry(i).sid_hash == want_hash; ++i) picked.push_back(i);
    }
    records.resize(picked.size());
    for (size_t k = 0; k < picked.size(); ++k) {
      const ScopeDirEntry e = entry(picked[k]);
      records[k].resize(e.record_size);
      seqlock::copy_out(records[k].data(), base + e.record_offset, e.record_size);
    }
    if (seqlock::read_retry(count, s1)) continue;

    // Consistent and, per the directory's checksum, the directory is intact; now every record.
    out->user.reset();
    out->users.clear();
    for (size_t k = 0; k < picked.size(); ++k) {
      const ScopeDirEntry e = entry(picked[k]);
      if (crc32c(0, records[k].data(), records[k].size()) != e.record_checksum) return TableError::kBadChecksum;
      ScopeResolution scope;
      if (!parse_record(records[k].data(), e.record_size, &scope)) return TableError::kBadRecord;
      const bool is_machine = picked[k] == 0;
      if (is_machine != (scope.kind == ScopeKind::kMachine)) return TableError::kBadRecord;
      if (!is_machine && sid_hash(scope.sid.data(), scope.sid.size()) != e.sid_hash) return TableError::kBadRecord;
      if (is_machine) {
        out->machine = std::move(scope);
      } else if (want == Want::kAll) {
        out->users.push_back(std::move(scope));
      } else if (scope.sid == sid) {
        out->user = std::move(scope);
      }
    }
    out->info.sequence = s1;
    out->info.generation = h.generation;
    out->info.publish_time = h.publish_time;
    out->info.writer_pid = h.writer_pid;
    out->info.flags = h.flags;
    out->info.abi_minor = h.abi_minor;
    out->info.scope_count = h.scope_count;
    out->info.wow64_scope_count = h.wow64_scope_count;
    out->info.omitted_scope_count = h.abi_minor >= 2 ? h.omitted_scope_count : 0u;
    out->info.wow64_omitted_scope_count = h.abi_minor >= 2 ? h.wow64_omitted_scope_count : 0u;
    out->info.view = view;
    out->info.payload_end = h.payload_end;
    out->info.total_size = h.total_size;
    if (h.flags & kFlagWriterStopped) return TableError::kWriterStopped;
    // An incomplete table has no answer for a user it does not list: that user's own settings
    // may be among those left out (table_layout.h, "Incomplete tables"). Only a verified copy
    // gets here: the flag is covered by the header checksum, the SID compared in a record whose
    // checksum matched (a hash collision is no match).
    if (want == Want::kOneUser && !sid.empty() && (h.flags & kFlagIncomplete) != 0 && !out->user)
      return TableError::kUserNotInTable;
    return TableError::kOk;
  }
  return TableError::kBusy;
}

}  // namespace mapidispatch
