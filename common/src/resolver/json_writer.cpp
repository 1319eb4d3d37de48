// Copyright MapiDispatch authors.

#include "mapidispatch/json_writer.h"

#include <cassert>

#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

void append_escaped_utf8(std::string* out, std::string_view valid_utf8) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char ch : valid_utf8) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string json_quote(std::u16string_view s) {
  std::string out;
  append_escaped_utf8(&out, text::utf16_to_utf8(s));
  return out;
}

std::string json_quote(std::string_view utf8) {
  std::string out;
  if (text::is_valid_utf8(utf8)) {
    append_escaped_utf8(&out, utf8);
  } else {
    append_escaped_utf8(&out, text::utf16_to_utf8(text::utf8_to_utf16(utf8)));
  }
  return out;
}

void JsonWriter::newline() {
  out_->push_back('\n');
  out_->append(stack_.size() * 2, ' ');
}

void JsonWriter::before_value() {
  if (stack_.empty()) {
    assert(!wrote_root_ && "one root value");
    wrote_root_ = true;
    return;
  }
  Level& top = stack_.back();
  if (top.is_object) {
    assert(top.key_pending && "a value inside an object needs a key first");
    top.key_pending = false;
    return;
  }
  if (!top.empty) out_->push_back(',');
  top.empty = false;
  newline();
}

void JsonWriter::key(std::string_view utf8) {
  assert(!stack_.empty() && stack_.back().is_object && !stack_.back().key_pending);
  if (stack_.empty()) return;
  Level& top = stack_.back();
  if (!top.empty) out_->push_back(',');
  top.empty = false;
  top.key_pending = true;
  newline();
  *out_ += json_quote(utf8);
  *out_ += ": ";
}

void JsonWriter::begin_object() {
  before_value();
  out_->push_back('{');
  stack_.push_back({true});
}

void JsonWriter::begin_array() {
  before_value();
  out_->push_back('[');
  stack_.push_back({false});
}

void JsonWriter::end_object() {
  assert(!stack_.empty() && stack_.back().is_object);
  if (stack_.empty()) return;
  const bool empty = stack_.back().empty;
  stack_.pop_back();
  if (!empty) newline();
  out_->push_back('}');
  if (stack_.empty()) out_->push_back('\n');
}

void JsonWriter::end_array() {
  assert(!stack_.empty() && !stack_.back().is_object);
  if (stack_.empty()) return;
  const bool empty = stack_.back().empty;
  stack_.pop_back();
  if (!empty) newline();
  out_->push_back(']');
  if (stack_.empty()) out_->push_back('\n');
}

void JsonWriter::value(std::string_view utf8) {
  before_value();
  *out_ += json_quote(utf8);
}

void JsonWriter::value(std::u16string_view utf16) {
  before_value();
  *out_ += json_quote(utf16);
}

void JsonWriter::value(bool b) {
  before_value();
  *out_ += b ? "true" : "false";
}

void JsonWriter::value(int64_t n) {
  before_value();
  *out_ += std::to_string(n);
}

void JsonWriter::value(uint64_t n) {
  before_value();
  *out_ += std::to_string(n);
}

void JsonWriter::null() {
  before_value();
  *out_ += "null";
}

}  // namespace mapidispatch
