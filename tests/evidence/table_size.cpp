// Copyright MapiDispatch authors.
//
// Bytes of the published table against the number of per-user scopes (issue #7; figures only).
// The table is built exactly as the service publishes it (build_table_image, the writer's own
// serializer) from the test sample scopes: a machine scope with two overrides and a PreFirstRun
// text, and user scopes whose HKCU names their own client (two targets, a PreFirstRun text).
// Real scopes differ in their path lengths; the shape per scope is the same.
//
//   table_size [--json FILE]

#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "../support/table_samples.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"

int main(int argc, char** argv) {
  using namespace mapidispatch;
  const char* json = (argc == 3 && std::strcmp(argv[1], "--json") == 0) ? argv[2] : nullptr;
  if (argc != 1 && json == nullptr) {
    std::fprintf(stderr, "usage: table_size [--json FILE]\n");
    return 2;
  }
  const int counts[] = {0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
  struct Row {
    int users;
    size_t bytes;
  };
  std::vector<Row> rows;
  for (const int users : counts) {
    std::vector<std::byte> image;
    // total_size only goes into the header: the default section size.
    if (const auto ec = build_table_image(test::sample_scopes(users), 1, 0, 1, kDefaultSectionSize, &image)) {
      std::fprintf(stderr, "%d users: %s\n", users, ec.message().c_str());
      return 1;
    }
    rows.push_back({users, image.size()});
  }
  const double per_user = static_cast<double>(rows.back().bytes - rows.front().bytes) / rows.back().users;
  const auto fit = static_cast<long>(static_cast<double>(kDefaultSectionSize - rows.front().bytes) / per_user);
  std::printf("table size against user scopes (machine scope included)\n%8s %12s\n", "users", "bytes");
  for (const Row& r : rows) std::printf("%8d %12zu\n", r.users, r.bytes);
  std::printf("about %.0f bytes per user scope; the default section (%u KB) holds about %ld users\n", per_user,
              kDefaultSectionSize / 1024, fit);
  if (json != nullptr) {
    std::ofstream j(json);
    j.precision(10);
    j << "{\n  \"bytes_per_user\": " << per_user << ",\n  \"default_section_bytes\": " << kDefaultSectionSize
      << ",\n  \"users_fitting_default_section\": " << fit << ",\n  \"tables\": [";
    for (size_t i = 0; i < rows.size(); ++i)
      j << (i ? ", " : "") << "\n    {\"users\": " << rows[i].users << ", \"bytes\": " << rows[i].bytes << "}";
    j << "\n  ]\n}\n";
  }
  return 0;
}
