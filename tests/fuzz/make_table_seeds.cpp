// Copyright MapiDispatch authors.
//
// Writes the table fuzzer's seed corpus (table_seeds.h). Regenerate tests/fuzz/corpus/table
// after any change to the table's layout or to the samples, from a native build:
//   build/native/tests/fuzz/make_table_seeds tests/fuzz/corpus/table
// (table_seed_corpus_test fails until the committed files match.)

#include <cstdio>
#include <fstream>
#include <string>

#include "table_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_table_seeds DIR\n");
    return 2;
  }
  int n = 0;
  for (const auto& s : mapidispatch::test::table_seeds()) {
    if (s.bytes.empty()) {
      std::fprintf(stderr, "make_table_seeds: cannot build %s\n", s.name.c_str());
      return 1;
    }
    std::ofstream out(std::string(argv[1]) + "/" + s.name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(s.bytes.data()), static_cast<std::streamsize>(s.bytes.size()));
    if (!out) {
      std::fprintf(stderr, "make_table_seeds: cannot write %s/%s\n", argv[1], s.name.c_str());
      return 1;
    }
    ++n;
  }
  std::printf("wrote %d seeds\n", n);
  return 0;
}
