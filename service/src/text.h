// Copyright MapiDispatch authors.
//
//! \file
//! Small text helpers of mapidispatch.exe: UTF-8 / UTF-16 conversion, FILETIME formatting,
//! command lines. Portable. (JSON: mapidispatch/json_writer.h.)

#ifndef MAPIDISPATCH_SERVICE_TEXT_H_
#define MAPIDISPATCH_SERVICE_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mapidispatch::service {

//! UTF-16 to UTF-8; a lone surrogate becomes U+FFFD.
std::string utf8(std::u16string_view s);
//! UTF-8 to UTF-16; an invalid byte sequence becomes U+FFFD.
std::u16string utf16(std::string_view s);

#ifdef _WIN32
//! wchar_t is UTF-16 on Windows.
inline std::wstring_view as_wide(std::u16string_view s) {
  return {reinterpret_cast<const wchar_t*>(s.data()), s.size()};
}
inline std::u16string_view as_u16(std::wstring_view s) {
  return {reinterpret_cast<const char16_t*>(s.data()), s.size()};
}
inline std::string utf8(std::wstring_view s) { return utf8(as_u16(s)); }
inline std::wstring wide(std::string_view s) {
  const std::u16string u = utf16(s);
  return std::wstring(as_wide(u));
}
#endif

//! "2026-11-21 11:02:35.123 UTC" for FILETIME units (100 ns since 1601-01-01 UTC); "never" for 0.
std::string format_filetime(uint64_t filetime);

//! Splits a Windows command line into arguments by the rules of the Microsoft C runtime (and
//! CommandLineToArgvW): the program name (first argument) ends at the first blank or closing
//! quote, without escapes; later arguments are separated by blanks outside quotes; 2n
//! backslashes before a quote give n backslashes and the quote toggles quoting, 2n+1 give n and
//! a literal quote; backslashes elsewhere are literal; "" inside quotes is a literal quote.
std::vector<std::u16string> split_command_line(std::u16string_view line);

//! ASCII lower case.
std::string ascii_lower(std::string_view s);

}  // namespace mapidispatch::service

#endif  // MAPIDISPATCH_SERVICE_TEXT_H_
