// Copyright MapiDispatch authors.
//
//! \file
//! The table fuzzer's seed corpus (tests/fuzz/corpus/table), as data: make_table_seeds writes
//! it, table_seed_corpus_test checks that the committed files are these and that they read.

#ifndef MAPIDISPATCH_TESTS_FUZZ_TABLE_SEEDS_H_
#define MAPIDISPATCH_TESTS_FUZZ_TABLE_SEEDS_H_

#include <cstddef>
#include <string>
#include <vector>

namespace mapidispatch::test {

struct TableSeed {
  std::string name;  //!< File name in the corpus folder.
  std::vector<std::byte> bytes;
};

//! Valid tables of several shapes, each a whole mapping: total_size is the file's size, so the
//! reader gets past check_header() and the fuzzer's mutations start from inside the structure.
//! Native-only tables (as before ABI 1.1), tables with a WOW64 directory, a table in a later
//! minor version's layout (table_variants.h), an incomplete table (ABI 1.2: users left out,
//! flagged and counted), and a table after publishes of a delta (records out of directory order,
//! unused slots between them). Deterministic: the same bytes on every run.
std::vector<TableSeed> table_seeds();

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_FUZZ_TABLE_SEEDS_H_
