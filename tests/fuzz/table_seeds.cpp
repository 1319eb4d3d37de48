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
  return seeds;
}

}  // namespace mapidispatch::test
