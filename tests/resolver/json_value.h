// Copyright MapiDispatch authors.
//
// A strict JSON reader for tests: parses the commands' output (rejecting anything RFC 8259
// does not allow) so tests check fields, not substrings.

#ifndef MAPIDISPATCH_TESTS_RESOLVER_JSON_VALUE_H_
#define MAPIDISPATCH_TESTS_RESOLVER_JSON_VALUE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mapidispatch::test {

struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
  bool b = false;
  double number = 0;
  std::string str;  // UTF-8
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  // The member `k` (a null value if absent or not an object).
  const Json& operator[](const std::string& k) const;
  const Json& operator[](size_t i) const;
  bool has(const std::string& k) const;
  bool is_null() const { return kind == Kind::kNull; }
};

// Parses a whole document; nullopt (and *error) if it is not valid JSON.
std::optional<Json> parse_json(const std::string& text, std::string* error);

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_RESOLVER_JSON_VALUE_H_
