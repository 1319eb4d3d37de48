// Copyright MapiDispatch authors.

#include "mapidispatch/reg_file.h"

#include <optional>
#include <vector>

#include "mapidispatch/text.h"

namespace mapidispatch {

std::string_view to_string(RegFileFormat format) {
  switch (format) {
    case RegFileFormat::kUnknown: return "unknown";
    case RegFileFormat::kRegedit5: return "regedit5";
    case RegFileFormat::kRegedit4: return "regedit4";
  }
  return "unknown";
}

std::string_view to_string(RegFileEncoding encoding) {
  switch (encoding) {
    case RegFileEncoding::kUnknown: return "unknown";
    case RegFileEncoding::kUtf16Le: return "utf-16le";
    case RegFileEncoding::kUtf16Be: return "utf-16be";
    case RegFileEncoding::kUtf8: return "utf-8";
    case RegFileEncoding::kAnsi: return "ansi";
  }
  return "unknown";
}

namespace {

bool is_blank(char16_t c) { return c == u' ' || c == u'\t'; }

std::u16string_view trim(std::u16string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

int hex_digit(char16_t c) {
  if (c >= u'0' && c <= u'9') return c - u'0';
  if (c >= u'a' && c <= u'f') return c - u'a' + 10;
  if (c >= u'A' && c <= u'F') return c - u'A' + 10;
  return -1;
}

// A short quote of the offending text for messages.
std::string excerpt(std::u16string_view s) {
  constexpr size_t kMax = 60;
  std::string out = text::utf16_to_utf8(s.substr(0, kMax));
  if (s.size() > kMax) out += "...";
  return out;
}

class Parser {
 public:
  Parser(MemoryRegistry* reg, RegFileResult* result) : reg_(reg), r_(result) {}

  void run(std::u16string_view text) {
    size_t pos = 0;
    size_t line_no = 0;
    bool have_header = false;
    std::u16string logical;
    while (pos < text.size() || (pos == text.size() && line_no == 0)) {
      std::u16string_view line = next_line(text, &pos);
      ++line_no;
      const size_t start_line = line_no;
      std::u16string_view t = trim(line);
      if (!have_header) {
        if (t.empty()) {
          if (pos >= text.size()) break;
          continue;
        }
        if (t == u"Windows Registry Editor Version 5.00") {
          r_->format = RegFileFormat::kRegedit5;
        } else if (t == u"REGEDIT4") {
          r_->format = RegFileFormat::kRegedit4;
        } else {
          fail(start_line, "not a registry export: the first line must be 'Windows Registry Editor Version 5.00' or "
                           "'REGEDIT4', not '" + excerpt(t) + "'");
          return;
        }
        have_header = true;
        continue;
      }
      if (t.empty() || t.front() == u';') continue;
      if ((t.front() == u'"' || t.front() == u'@') && t.back() == u'\\') {
        // Continued (hex data): join the following lines, each trimmed, without the '\'.
        logical.assign(t.substr(0, t.size() - 1));
        while (true) {
          if (pos >= text.size()) {
            fail(start_line, "the value continues ('\\' at the end of the line) past the end of the file");
            return;
          }
          const std::u16string_view more = trim(next_line(text, &pos));
          ++line_no;
          if (logical.size() + more.size() > 4 * kMaxValueBytes) {
            fail(start_line, "the value's data is larger than the 1 MiB this reader accepts");
            return;
          }
          if (!more.empty() && more.back() == u'\\') {
            logical.append(more.substr(0, more.size() - 1));
          } else {
            logical.append(more);
            break;
          }
        }
        t = logical;
      }
      if (!handle_line(t, start_line)) return;
    }
    if (!have_header) {
      fail(1, "not a registry export: the file is empty");
      return;
    }
    r_->ok = true;
  }

 private:
  static std::u16string_view next_line(std::u16string_view text, size_t* pos) {
    const size_t start = *pos;
    size_t end = start;
    while (end < text.size() && text[end] != u'\n' && text[end] != u'\r') ++end;
    *pos = end;
    if (*pos < text.size() && text[*pos] == u'\r') ++*pos;
    if (*pos < text.size() && text[*pos] == u'\n') ++*pos;
    return text.substr(start, end - start);
  }

  void fail(size_t line, std::string message) {
    r_->ok = false;
    r_->line = line;
    r_->message = std::move(message);
  }

  bool handle_line(std::u16string_view t, size_t line) {
    if (t.front() == u'[') return handle_key(t, line);
    if (t.front() == u'"' || t.front() == u'@') return handle_value(t, line);
    fail(line, "expected a [KEY] line, a \"name\"=value line or a comment, not '" + excerpt(t) + "'");
    return false;
  }

  bool handle_key(std::u16string_view t, size_t line) {
    const size_t close = t.rfind(u']');
    if (close == std::u16string_view::npos) {
      fail(line, "key line without a closing ']': '" + excerpt(t) + "'");
      return false;
    }
    if (!trim(t.substr(close + 1)).empty()) {
      fail(line, "unexpected text after ']' in '" + excerpt(t) + "'");
      return false;
    }
    std::u16string_view body = t.substr(1, close - 1);
    const bool deletion = !body.empty() && body.front() == u'-';
    if (deletion) body.remove_prefix(1);
    const size_t slash = body.find(u'\\');
    const std::u16string_view root_text = body.substr(0, slash);
    const std::u16string_view rest = slash == std::u16string_view::npos ? std::u16string_view() : body.substr(slash + 1);
    RegRoot root;
    std::u16string path;
    if (text::iequals(root_text, u"HKEY_LOCAL_MACHINE") || text::iequals(root_text, u"HKLM")) {
      root = RegRoot::kLocalMachine;
    } else if (text::iequals(root_text, u"HKEY_CURRENT_USER") || text::iequals(root_text, u"HKCU")) {
      root = RegRoot::kCurrentUser;
    } else if (text::iequals(root_text, u"HKEY_USERS") || text::iequals(root_text, u"HKU")) {
      root = RegRoot::kUsers;
    } else if (text::iequals(root_text, u"HKEY_CLASSES_ROOT") || text::iequals(root_text, u"HKCR")) {
      root = RegRoot::kLocalMachine;
      path = u"SOFTWARE\\Classes";
    } else if (text::iequals(root_text, u"HKEY_CURRENT_CONFIG") || text::iequals(root_text, u"HKCC")) {
      root = RegRoot::kLocalMachine;
      path = u"SYSTEM\\CurrentControlSet\\Hardware Profiles\\Current";
    } else {
      fail(line, "unknown root key '" + excerpt(root_text) + "' (expected HKEY_LOCAL_MACHINE, HKEY_CURRENT_USER, "
                 "HKEY_USERS, HKEY_CLASSES_ROOT or HKEY_CURRENT_CONFIG)");
      return false;
    }
    if (slash != std::u16string_view::npos) {
      if (!path.empty()) path += u'\\';
      path += rest;
      if (rest.empty()) {
        fail(line, "empty key name after '\\' in '" + excerpt(t) + "'");
        return false;
      }
    }
    std::vector<std::u16string_view> parts;
    if (split_key_path(path, &parts)) {
      fail(line, "malformed key path '" + excerpt(body) + "': an empty name ('\\\\'), a name longer than 255 "
                 "characters, or more than 512 levels");
      return false;
    }
    if (deletion) {
      if (path.empty()) {
        fail(line, "a root key cannot be deleted: '" + excerpt(t) + "'");
        return false;
      }
      (void)reg_->delete_key(root, path);
      ++r_->deleted_keys;
      current_.reset();
      in_deleted_key_ = true;
      return true;
    }
    if (!path.empty()) (void)reg_->create_key(root, path);
    current_ = Current{root, std::move(path)};
    in_deleted_key_ = false;
    ++r_->keys;
    return true;
  }

  // Reads a quoted string starting at s[*i] == '"'; leaves *i after the closing quote.
  bool quoted(std::u16string_view s, size_t* i, std::u16string* out, size_t line) {
    out->clear();
    for (size_t k = *i + 1; k < s.size(); ++k) {
      const char16_t c = s[k];
      if (c == u'"') {
        *i = k + 1;
        return true;
      }
      if (c == u'\\') {
        if (k + 1 >= s.size()) break;
        const char16_t e = s[++k];
        switch (e) {
          case u'\\': out->push_back(u'\\'); break;
          case u'"': out->push_back(u'"'); break;
          case u'n': out->push_back(u'\n'); break;
          case u'r': out->push_back(u'\r'); break;
          case u'0': out->push_back(u'\0'); break;
          default:
            fail(line, "unknown escape '\\" + excerpt(std::u16string_view(&s[k], 1)) +
                       "' in a quoted string (write a backslash as '\\\\')");
            return false;
        }
        continue;
      }
      out->push_back(c);
      if (out->size() > kMaxValueBytes / 2) {
        fail(line, "a quoted string longer than the 1 MiB this reader accepts");
        return false;
      }
    }
    fail(line, "a quoted string without its closing '\"'");
    return false;
  }

  bool handle_value(std::u16string_view t, size_t line) {
    if (in_deleted_key_) {
      fail(line, "a value under a [-KEY] deletion: values need a [KEY] line first");
      return false;
    }
    if (!current_) {
      fail(line, "a value before the first [KEY] line");
      return false;
    }
    std::u16string name;
    size_t i = 0;
    if (t.front() == u'@') {
      i = 1;
    } else if (!quoted(t, &i, &name, line)) {
      return false;
    }
    if (name.size() > kMaxValueNameChars) {
      fail(line, "a value name longer than 16,383 characters");
      return false;
    }
    while (i < t.size() && is_blank(t[i])) ++i;
    if (i >= t.size() || t[i] != u'=') {
      fail(line, "expected '=' after the value name in '" + excerpt(t) + "'");
      return false;
    }
    ++i;
    while (i < t.size() && is_blank(t[i])) ++i;
    const std::u16string_view data = t.substr(i);
    if (data == u"-") {
      (void)reg_->delete_value(current_->root, current_->path, name);
      ++r_->deleted_values;
      return true;
    }
    RegValue value;
    if (!data.empty() && data.front() == u'"') {
      std::u16string s;
      size_t k = i;
      if (!quoted(t, &k, &s, line)) return false;
      if (!trim(t.substr(k)).empty()) {
        fail(line, "unexpected text after the closing '\"' in '" + excerpt(t) + "'");
        return false;
      }
      value = make_reg_string(s, reg_type::kSz);
    } else if (text::istarts_with(data, u"dword:")) {
      const std::u16string_view digits = trim(data.substr(6));
      uint32_t v = 0;
      if (digits.empty() || digits.size() > 8) {
        fail(line, "dword: needs 1 to 8 hex digits, not '" + excerpt(digits) + "'");
        return false;
      }
      for (char16_t c : digits) {
        const int d = hex_digit(c);
        if (d < 0) {
          fail(line, "dword: needs hex digits, not '" + excerpt(digits) + "'");
          return false;
        }
        v = (v << 4) | static_cast<uint32_t>(d);
      }
      value = make_reg_dword(v);
    } else if (text::istarts_with(data, u"hex")) {
      if (!parse_hex(data, &value, line)) return false;
    } else {
      fail(line, "unrecognised value data '" + excerpt(data) + "' (expected \"string\", dword:, hex:, hex(N): or -)");
      return false;
    }
    if (reg_->set_value(current_->root, current_->path, name, std::move(value))) {
      fail(line, "the value is larger than the 1 MiB this reader accepts");
      return false;
    }
    ++r_->values;
    return true;
  }

  bool parse_hex(std::u16string_view data, RegValue* value, size_t line) {
    size_t i = 3;
    uint32_t type = reg_type::kBinary;
    if (i < data.size() && data[i] == u'(') {
      const size_t close = data.find(u')', i);
      if (close == std::u16string_view::npos || close == i + 1 || close - i - 1 > 8) {
        fail(line, "hex(N): needs a type of 1 to 8 hex digits in '" + excerpt(data) + "'");
        return false;
      }
      type = 0;
      for (size_t k = i + 1; k < close; ++k) {
        const int d = hex_digit(data[k]);
        if (d < 0) {
          fail(line, "hex(N): the type must be hex digits in '" + excerpt(data) + "'");
          return false;
        }
        type = (type << 4) | static_cast<uint32_t>(d);
      }
      i = close + 1;
    }
    if (i >= data.size() || data[i] != u':') {
      fail(line, "expected ':' after hex in '" + excerpt(data) + "'");
      return false;
    }
    ++i;
    std::vector<uint8_t> bytes;
    const std::u16string_view list = trim(data.substr(i));
    size_t start = 0;
    while (!list.empty()) {
      const size_t comma = list.find(u',', start);
      const bool last = comma == std::u16string_view::npos;
      const std::u16string_view item = trim(list.substr(start, last ? std::u16string_view::npos : comma - start));
      if (item.empty()) {
        if (last && start != 0) break;  // a trailing comma, as regedit writes none but people do
        fail(line, "an empty byte between commas in hex data");
        return false;
      }
      if (item.size() > 2 || hex_digit(item[0]) < 0 || (item.size() == 2 && hex_digit(item[1]) < 0)) {
        fail(line, "hex data must be comma-separated bytes of two hex digits, not '" + excerpt(item) + "'");
        return false;
      }
      int b = hex_digit(item[0]);
      if (item.size() == 2) b = b * 16 + hex_digit(item[1]);
      bytes.push_back(static_cast<uint8_t>(b));
      if (bytes.size() > kMaxValueBytes) {
        fail(line, "the value is larger than the 1 MiB this reader accepts");
        return false;
      }
      if (last) break;
      start = comma + 1;
    }
    if (r_->format == RegFileFormat::kRegedit4 &&
        (type == reg_type::kSz || type == reg_type::kExpandSz || type == reg_type::kMultiSz)) {
      // REGEDIT4 stores text types' bytes in the ANSI code page; the registry holds UTF-16.
      const std::u16string wide = text::cp1252_to_utf16(std::string(bytes.begin(), bytes.end()));
      bytes.clear();
      bytes.reserve(wide.size() * 2);
      for (char16_t c : wide) {
        bytes.push_back(static_cast<uint8_t>(c & 0xFF));
        bytes.push_back(static_cast<uint8_t>(c >> 8));
      }
    }
    value->type = type;
    value->data = std::move(bytes);
    return true;
  }

  struct Current {
    RegRoot root;
    std::u16string path;
  };

  MemoryRegistry* reg_;
  RegFileResult* r_;
  std::optional<Current> current_;
  bool in_deleted_key_ = false;
};

}  // namespace

RegFileResult parse_reg_text(std::u16string_view text, MemoryRegistry* into) {
  RegFileResult result;
  Parser(into, &result).run(text);
  return result;
}

RegFileResult parse_reg_file(std::span<const uint8_t> bytes, MemoryRegistry* into) {
  RegFileResult result;
  if (bytes.size() > kMaxRegFileBytes) {
    result.message = "the file is larger than 256 MiB: not a registry export this reader accepts";
    return result;
  }
  std::u16string text;
  const auto utf16 = [&](size_t skip, bool big_endian) {
    const size_t n = (bytes.size() - skip) / 2;
    text.resize(n);
    for (size_t k = 0; k < n; ++k) {
      const uint8_t a = bytes[skip + 2 * k];
      const uint8_t b = bytes[skip + 2 * k + 1];
      text[k] = big_endian ? static_cast<char16_t>((a << 8) | b) : static_cast<char16_t>((b << 8) | a);
    }
  };
  RegFileEncoding encoding;
  if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xFE) {
    encoding = RegFileEncoding::kUtf16Le;
    utf16(2, false);
  } else if (bytes.size() >= 2 && bytes[0] == 0xFE && bytes[1] == 0xFF) {
    encoding = RegFileEncoding::kUtf16Be;
    utf16(2, true);
  } else if (bytes.size() >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) {
    encoding = RegFileEncoding::kUtf8;
    text = text::utf8_to_utf16(std::string_view(reinterpret_cast<const char*>(bytes.data()) + 3, bytes.size() - 3));
  } else if (bytes.size() >= 4 && bytes.size() % 2 == 0 && bytes[0] != 0 && bytes[1] == 0 && bytes[3] == 0) {
    encoding = RegFileEncoding::kUtf16Le;
    utf16(0, false);
  } else {
    const std::string_view narrow(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (text::is_valid_utf8(narrow)) {
      encoding = RegFileEncoding::kUtf8;
      text = text::utf8_to_utf16(narrow);
    } else {
      encoding = RegFileEncoding::kAnsi;
      text = text::cp1252_to_utf16(narrow);
    }
  }
  if ((encoding == RegFileEncoding::kUtf16Le || encoding == RegFileEncoding::kUtf16Be) && bytes.size() % 2 != 0) {
    result.encoding = encoding;
    result.message = "a UTF-16 file with an odd number of bytes: the file is truncated or not UTF-16";
    return result;
  }
  result = parse_reg_text(text, into);
  result.encoding = encoding;
  return result;
}

}  // namespace mapidispatch
