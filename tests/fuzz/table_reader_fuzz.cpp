// Copyright MapiDispatch authors.
//
// libFuzzer target: arbitrary bytes as a table mapping. Each input is read three ways: as it
// is; with the header/directory checksums re-sealed; and with every in-bounds record checksum
// (of both directories) re-sealed too, so mutations reach the structural validation behind the
// checksums. Each way reads both views (native and WOW64). The reader must return an error or a
// valid snapshot, never read outside the mapping (ASan) or hang.
//
// The seeds (table_seeds.h) are valid tables whose total_size is their file size. Mutations
// that change the length (insert, erase, cross-over) would still leave total_size larger than
// the mapping, and check_header() would reject nearly every such input before the structure.
// So the re-sealed ways also clamp total_size to the input size: the as-is way keeps the
// "total_size > mapping" check covered, and a total_size below the input size is left alone,
// so the checks against it (header_size, payload_end) stay reachable too.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "mapidispatch/crc32c.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"

namespace {

using namespace mapidispatch;

void read_every_way(std::span<const std::byte> region) {
  TableSnapshot snap;
  const ReadLimits limits{2, 2};
  for (const TableView view : {TableView::kNative, TableView::kWow64}) {
    (void)TableReader(region).read_all(&snap, limits, view);
    // A user of the seeds (test::sample_user(1)).
    (void)TableReader(region).read(u"S-1-5-21-1004336348-1177238915-682003330-1001", &snap, limits, view);
  }
}

void clamp_total_size(std::byte* p, size_t size) {
  if (size < sizeof(layout::TableHeader)) return;
  uint32_t total;
  std::memcpy(&total, p + offsetof(layout::TableHeader, total_size), sizeof total);
  if (total <= size) return;
  total = static_cast<uint32_t>(size);
  std::memcpy(p + offsetof(layout::TableHeader, total_size), &total, sizeof total);
}

void reseal_directory(std::byte* p, size_t size, uint32_t count, uint32_t offset) {
  if (count > layout::kMaxScopes) return;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t at = uint64_t{offset} + uint64_t{i} * sizeof(layout::ScopeDirEntry);
    if (at + sizeof(layout::ScopeDirEntry) > size) return;
    layout::ScopeDirEntry e;
    std::memcpy(&e, p + at, sizeof e);
    if (uint64_t{e.record_offset} + e.record_size > size) continue;
    e.record_checksum = crc32c(0, p + e.record_offset, e.record_size);
    std::memcpy(p + at, &e, sizeof e);
  }
}

void reseal_records(std::byte* p, size_t size) {
  if (size < sizeof(layout::TableHeader)) return;
  layout::TableHeader h;
  std::memcpy(&h, p, sizeof h);
  reseal_directory(p, size, h.scope_count, h.directory_offset);
  // reseal_table_image() then reseals the WOW64 directory's own checksum over these entries.
  reseal_directory(p, size, h.wow64_scope_count, h.wow64_directory_offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy (malloc alignment satisfies the reader's 4-byte rule), so ASan
  // flags any read past the mapping's end.
  std::unique_ptr<std::byte[]> buf(new std::byte[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(buf.get(), data, size);
  const std::span<const std::byte> region(buf.get(), size);
  read_every_way(region);
  clamp_total_size(buf.get(), size);
  reseal_table_image({buf.get(), size});
  read_every_way(region);
  reseal_records(buf.get(), size);
  reseal_table_image({buf.get(), size});
  read_every_way(region);
  return 0;
}
