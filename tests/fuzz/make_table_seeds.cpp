// Copyright MapiDispatch authors.
//
// Writes the table fuzzer's seed corpus: valid tables of several shapes. Run it to regenerate
// tests/fuzz/corpus/table (make_table_seeds DIR).

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "../support/table_samples.h"
#include "mapidispatch/table.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_table_seeds DIR\n");
    return 2;
  }
  using namespace mapidispatch;
  int n = 0;
  for (int users : {0, 1, 3, 12}) {
    std::vector<std::byte> image;
    auto scopes = test::sample_scopes(users);
    if (build_table_image(scopes, 5, 0, 1, 0x10000, &image)) return 1;
    image.resize(image.size() + 64);  // a little unused space after payload_end
    std::ofstream(std::string(argv[1]) + "/table-" + std::to_string(users) + "-users.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    ++n;
  }
  std::printf("wrote %d seeds\n", n);
  return 0;
}
