// Copyright MapiDispatch authors.

#include "table_seeds.h"

#include <cstring>

#include "../support/table_samples.h"
#include "../support/table_variants.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"

namespace mapidispatch::test {

namespace {

// A little unused space after payload_end, as a section has.
constexpr size_t kSlack = 64;

// The section is exactly the seed: total_size = the file's size (it is outside the header
// checksum, so nothing needs resealing).
TableSeed seed(std::string name, std::vector<std::byte> image) {
  if (image.empty()) return {std::move(name), {}};  // could not build: make_table_seeds says so
  image.resize(image.size() + kSlack);
  const auto total = static_cast<uint32_t>(image.size());
  std::memcpy(image.data() + offsetof(layout::TableHeader, total_size), &total, sizeof total);
  return {std::move(name), std::move(image)};
}

std::vector<std::byte> build(int users, bool with_wow64) {
  const auto scopes = sample_scopes(users);
  const auto wow64 = with_wow64 ? wow64_view(scopes) : std::vector<ScopeResolution>{};
  std::vector<std::byte> image;
  // Generous total_size to build; seed() sets the real one.
  if (build_table_image(scopes, 5, 0, 1, layout::kMaxTotalSize, &image, wow64)) image.clear();
  return image;
}

// ABI 1.2: both views of `users` users in a section with room for some of them, so the table is
// flagged incomplete and counts the users left out.
std::vector<std::byte> build_incomplete(int users, uint32_t total_size) {
  const auto scopes = sample_scopes(users);
  std::vector<std::byte> image;
  TableFit fit;
  if (build_table_image(scopes, 5, 0, 1, total_size, &image, wow64_view(scopes), TableOverflow::kPartial, &fit) ||
      fit.complete())
    image.clear();
  return image;
}

// A table as a writer leaves it after publishes of a delta (TableDelta): records that grew moved
// after the last one, the slots they left unused, the directory no longer in record order.
std::vector<std::byte> build_after_deltas(int users) {
  auto scopes = sample_scopes(users);
  std::vector<uint32_t> region(64 * 1024 / 4, 0);
  TableWriter writer({reinterpret_cast<std::byte*>(region.data()), region.size() * 4}, 1, 4);
  if (writer.publish(scopes, wow64_view(scopes))) return {};
  // One user's record grows (moved after the last), another's shrinks (in its slot).
  scopes[1].simple.path += u"\\a longer path than the slot had room for";
  scopes[4].simple.path.resize(3);
  const std::vector<std::u16string> changed{scopes[1].sid, scopes[4].sid};
  TableDelta delta;
  delta.users = changed;
  if (writer.publish(scopes, wow64_view(scopes), TableOverflow::kRefuse, &delta) || writer.delta_publishes() != 1)
    return {};
  std::vector<std::byte> image(writer.payload_bytes());
  std::memcpy(image.data(), region.data(), image.size());
  // Deterministic bytes: no publish time, the sequence count of a built image.
  const uint64_t no_time = 0;
  const uint32_t no_count = 0;
  std::memcpy(image.data() + offsetof(layout::TableHeader, publish_time), &no_time, sizeof no_time);
  std::memcpy(image.data() + offsetof(layout::TableHeader, sequence), &no_count, sizeof no_count);
  reseal_table_image(image);
  return image;
}

}  // namespace

std::vector<TableSeed> table_seeds() {
  std::vector<TableSeed> seeds;
  for (int users : {0, 1, 3, 12})
    seeds.push_back(seed("table-" + std::to_string(users) + "-users.bin", build(users, false)));
  for (int users : {1, 3})
    seeds.push_back(seed("table-wow64-" + std::to_string(users) + "-users.bin", build(users, true)));
  std::vector<std::byte> later;
  if (!rewrite_as_later_minor(build(2, true), LaterMinor{}, &later)) later.clear();
  seeds.push_back(seed("table-later-minor-wow64-2-users.bin", std::move(later)));
  seeds.push_back(seed("table-incomplete-wow64-6-users.bin", build_incomplete(6, 6000)));
  seeds.push_back(seed("table-after-deltas-wow64-5-users.bin", build_after_deltas(5)));
  return seeds;
}

}  // namespace mapidispatch::test
