// Copyright MapiDispatch authors.
//
//! \file
//! Text conversions the resolver, the `.reg` parser and the JSON writer share. Portable, no
//! locale dependence, never throws except std::bad_alloc.
//!
//! Windows compares registry key names, value names and file names case-insensitively by
//! upper-casing each UTF-16 unit (RtlUpcaseUnicodeChar). fold_case() reproduces that for ASCII,
//! Latin-1, Latin Extended-A, Greek and Cyrillic; other units compare exactly. That covers the
//! names found under Clients\Mail and in provider paths; it is documented as an approximation.

#ifndef MAPIDISPATCH_TEXT_H_
#define MAPIDISPATCH_TEXT_H_

#include <string>
#include <string_view>

namespace mapidispatch::text {

//! UTF-16 to UTF-8. Surrogate pairs become one 4-byte sequence; a lone surrogate becomes U+FFFD.
std::string utf16_to_utf8(std::u16string_view s);

//! UTF-8 to UTF-16. Each invalid or overlong sequence, surrogate code point and code point above
//! U+10FFFF becomes one U+FFFD; `*valid` (if given) says whether there was none.
std::u16string utf8_to_utf16(std::string_view s, bool* valid = nullptr);

//! True if `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

//! Windows-1252 ("ANSI" of Western European Windows) to UTF-16; the five undefined bytes map to
//! the C1 control of the same value, as Windows' own conversion does.
std::u16string cp1252_to_utf16(std::string_view s);

//! Bytes 0-127 widened; for literals and ASCII-only identifiers.
std::u16string ascii(std::string_view s);

//! The upper-case form Windows compares names by (see the file comment).
char16_t fold_case(char16_t c);
//! fold_case() of every unit.
std::u16string fold(std::u16string_view s);
//! Windows name equality: equal after fold_case().
bool iequals(std::u16string_view a, std::u16string_view b);
//! `s` ends with `suffix`, compared as iequals() does.
bool iends_with(std::u16string_view s, std::u16string_view suffix);
//! `s` starts with `prefix`, compared as iequals() does.
bool istarts_with(std::u16string_view s, std::u16string_view prefix);

}  // namespace mapidispatch::text

#endif  // MAPIDISPATCH_TEXT_H_
