// Copyright MapiDispatch authors.
//
// libFuzzer target: arbitrary bytes as a table mapping. Each input is read three ways: as it
// is; with the header/directory checksum re-sealed; and with every in-bounds record checksum
// re-sealed too, so mutations reach the structural validation behind the checksums. The reader
// must return an error or a valid snapshot, never read outside the mapping (ASan) or hang.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "mapidispatch/crc32c.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"

namespace {

using namespace mapidispatch;

void read_both_ways(std::span<const std::byte> region) {
  TableSnapshot snap;
  const ReadLimits limits{2, 2};
  (void)TableReader(region).read_all(&snap, limits);
  (void)TableReader(region).read(u"S-1-5-21-1004336348-1177238915-682003330-1001", &snap, limits);
}

void reseal_records(std::byte* p, size_t size) {
  if (size < sizeof(layout::TableHeader)) return;
  layout::TableHeader h;
  std::memcpy(&h, p, sizeof h);
  if (h.scope_count > layout::kMaxScopes) return;
  for (uint32_t i = 0; i < h.scope_count; ++i) {
    const uint64_t at = uint64_t{h.directory_offset} + uint64_t{i} * sizeof(layout::ScopeDirEntry);
    if (at + sizeof(layout::ScopeDirEntry) > size) return;
    layout::ScopeDirEntry e;
    std::memcpy(&e, p + at, sizeof e);
    if (uint64_t{e.record_offset} + e.record_size > size) continue;
    e.record_checksum = crc32c(0, p + e.record_offset, e.record_size);
    std::memcpy(p + at, &e, sizeof e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy (malloc alignment satisfies the reader's 4-byte rule), so ASan
  // flags any read past the mapping's end.
  std::unique_ptr<std::byte[]> buf(new std::byte[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(buf.get(), data, size);
  const std::span<const std::byte> region(buf.get(), size);
  read_both_ways(region);
  reseal_table_image({buf.get(), size});
  read_both_ways(region);
  reseal_records(buf.get(), size);
  reseal_table_image({buf.get(), size});
  read_both_ways(region);
  return 0;
}
