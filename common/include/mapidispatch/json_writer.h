// Copyright MapiDispatch authors.
//
//! \file
//! The JSON of the administrator's commands (`resolve --json`, `status --json`), built with
//! nlohmann-json. Not for the stub (it never includes this header, and no object the stub links
//! uses it). Documents keep their members in the order they are added (ordered_json), as
//! scripts read them. Strings are UTF-8: UTF-16 input is converted with surrogate pairs joined
//! and lone surrogates replaced by U+FFFD; UTF-8 input is validated, each invalid sequence
//! replaced by U+FFFD. Written out, `"`, `\` and every control character (U+0000-U+001F, and
//! U+007F) are escaped: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, the others as `\u00xx`;
//! everything else (`/`, non-ASCII) is written as is.

#ifndef MAPIDISPATCH_JSON_WRITER_H_
#define MAPIDISPATCH_JSON_WRITER_H_

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "mapidispatch/model.h"

namespace mapidispatch {

//! A JSON value whose objects keep their members in insertion order.
using Json = nlohmann::ordered_json;

//! A JSON string holding `s` (see the file comment for what invalid text becomes).
Json json_string(std::u16string_view s);
Json json_string(std::string_view utf8);

//! A Target as both commands write it: status, machine, source, path, client, reason,
//! dependency_blocks_load (reports_unloadable_dependency()).
Json json_target(const Target& t);

enum class JsonLayout {
  kPretty,   //!< Two-space indentation, `"key": value`, one member or element a line (resolve).
  kCompact,  //!< No whitespace at all (status).
};

//! The document as a command prints it, with a final newline.
std::string json_text(const Json& document, JsonLayout layout);

//! `s` as a JSON string literal (with the quotes), escaped as json_text does.
std::string json_quote(std::u16string_view s);
std::string json_quote(std::string_view utf8);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_JSON_WRITER_H_
