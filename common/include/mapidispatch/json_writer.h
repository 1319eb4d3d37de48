// Copyright MapiDispatch authors.
//
//! \file
//! A small JSON writer (RFC 8259) for the admin commands' --json output. Output is UTF-8:
//! UTF-16 input is converted with surrogate pairs joined and lone surrogates replaced by U+FFFD;
//! UTF-8 input is validated, each invalid sequence replaced by U+FFFD. `"`, `\` and every
//! control character (U+0000-U+001F, and U+007F) are escaped. Pretty-printed with two-space
//! indentation, keys in the order written. Misuse (a value where a key is due, unbalanced ends)
//! is a programming error caught by assert in debug builds; release builds still write
//! syntactically valid JSON where possible.

#ifndef MAPIDISPATCH_JSON_WRITER_H_
#define MAPIDISPATCH_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mapidispatch {

class JsonWriter {
 public:
  //! Appends to *out.
  explicit JsonWriter(std::string* out) : out_(out) {}

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  //! The next member's name (inside an object).
  void key(std::string_view utf8);

  void value(std::string_view utf8);
  void value(std::u16string_view utf16);
  void value(const char* utf8) { value(std::string_view(utf8)); }
  void value(const char16_t* utf16) { value(std::u16string_view(utf16)); }
  void value(bool b);
  void value(int64_t n);
  void value(uint64_t n);
  void value(int n) { value(static_cast<int64_t>(n)); }
  void value(unsigned n) { value(static_cast<uint64_t>(n)); }
  void null();

  //! key(k) then value(v).
  template <typename T>
  void member(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

  //! True when every begin_* has its end_*.
  bool complete() const { return stack_.empty() && wrote_root_; }

 private:
  void before_value();
  void newline();

  std::string* out_;
  struct Level {
    bool is_object;
    bool empty = true;
    bool key_pending = false;
  };
  std::vector<Level> stack_;
  bool wrote_root_ = false;
};

//! `s` as a JSON string literal (with the quotes), escaped as JsonWriter does.
std::string json_quote(std::u16string_view s);
std::string json_quote(std::string_view utf8);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_JSON_WRITER_H_
