// Copyright MapiDispatch authors.
//
// Golden files: the exact bytes of a command's output that administrators' scripts read, kept
// beside the tests. A test compares its output with the file byte for byte; with
// MAPIDISPATCH_WRITE_GOLDEN=1 in the environment it (re)writes the file instead (then review the
// diff: every changed byte is a change scripts see).

#ifndef MAPIDISPATCH_TESTS_RESOLVER_GOLDEN_FILE_H_
#define MAPIDISPATCH_TESTS_RESOLVER_GOLDEN_FILE_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace mapidispatch::test {

inline ::testing::AssertionResult matches_golden(const std::string& path, const std::string& actual) {
  const char* write = std::getenv("MAPIDISPATCH_WRITE_GOLDEN");
  if (write != nullptr && std::string(write) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return ::testing::AssertionSuccess() << "wrote " << path;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return ::testing::AssertionFailure() << "cannot read " << path;
  const std::string expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (expected == actual) return ::testing::AssertionSuccess();
  const size_t at = static_cast<size_t>(
      std::mismatch(expected.begin(), expected.end(), actual.begin(), actual.end()).first - expected.begin());
  const size_t from = at < 40 ? 0 : at - 40;
  return ::testing::AssertionFailure() << path << ": first difference at byte " << at << "\nexpected: ..."
                                       << expected.substr(from, 80) << "\nactual:   ..." << actual.substr(from, 80);
}

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_RESOLVER_GOLDEN_FILE_H_
