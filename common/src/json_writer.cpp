// Copyright MapiDispatch authors.

#include "mapidispatch/json_writer.h"

#include "mapidispatch/resolver.h"
#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

// nlohmann-json escapes U+0000-U+001F only; DEL is a control character too (a terminal acts on
// it), so it is written as \u007f. In UTF-8 a 0x7F byte is always DEL, and in a document it can
// only be inside a string: every one is escaped, nothing else changes.
std::string dump(const Json& j, int indent) {
  const std::string s = j.dump(indent, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == '\x7f') {
      out += "\\u007f";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Json json_string(std::u16string_view s) { return text::utf16_to_utf8(s); }

Json json_string(std::string_view utf8) {
  if (text::is_valid_utf8(utf8)) return std::string(utf8);
  return text::utf16_to_utf8(text::utf8_to_utf16(utf8));
}

Json json_target(const Target& t) {
  return Json::object({{"status", to_string(t.status)},
                       {"machine", to_string(t.machine)},
                       {"source", to_string(t.source)},
                       {"path", json_string(t.path)},
                       {"client", json_string(t.client)},
                       {"reason", json_string(t.reason)},
                       // The reason says a DLL it imports is missing (issue #14): the provider is
                       // still loaded when called, but will fail here unless a process finds it.
                       {"dependency_blocks_load", reports_unloadable_dependency(t)}});
}

std::string json_text(const Json& document, JsonLayout layout) {
  return dump(document, layout == JsonLayout::kPretty ? 2 : -1) + '\n';
}

std::string json_quote(std::u16string_view s) { return dump(json_string(s), -1); }

std::string json_quote(std::string_view utf8) { return dump(json_string(utf8), -1); }

}  // namespace mapidispatch
