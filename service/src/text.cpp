// Copyright MapiDispatch authors.

#include "text.h"

#include "mapidispatch/text.h"

#include <cstdio>
#include <ctime>

namespace mapidispatch::service {

// One conversion for the whole project: common/text.h.
std::string utf8(std::u16string_view s) { return text::utf16_to_utf8(s); }

std::u16string utf16(std::string_view s) { return text::utf8_to_utf16(s); }

std::string format_filetime(uint64_t filetime) {
  if (filetime == 0) return "never";
  constexpr uint64_t kEpochDelta = 116444736000000000ULL;
  if (filetime < kEpochDelta) return "before 1970 (" + std::to_string(filetime) + ")";
  const uint64_t since_unix = filetime - kEpochDelta;
  const auto seconds = static_cast<std::time_t>(since_unix / 10000000);
  const auto millis = static_cast<unsigned>((since_unix % 10000000) / 10000);
  std::tm tm{};
#ifdef _WIN32
  if (gmtime_s(&tm, &seconds) != 0) return std::to_string(filetime);
#else
  if (gmtime_r(&seconds, &tm) == nullptr) return std::to_string(filetime);
#endif
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03u UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::vector<std::u16string> split_command_line(std::u16string_view line) {
  std::vector<std::u16string> args;
  size_t i = 0;
  auto blank = [](char16_t c) { return c == u' ' || c == u'\t'; };
  // The program name: no escapes.
  std::u16string program;
  if (i < line.size() && line[i] == u'"') {
    for (++i; i < line.size() && line[i] != u'"'; ++i) program += line[i];
    if (i < line.size()) ++i;
  } else {
    for (; i < line.size() && !blank(line[i]); ++i) program += line[i];
  }
  args.push_back(std::move(program));
  for (;;) {
    while (i < line.size() && blank(line[i])) ++i;
    if (i >= line.size()) break;
    std::u16string arg;
    bool quoted = false;
    while (i < line.size() && (quoted || !blank(line[i]))) {
      if (line[i] == u'\\') {
        size_t n = 0;
        while (i < line.size() && line[i] == u'\\') {
          ++n;
          ++i;
        }
        if (i < line.size() && line[i] == u'"') {
          arg.append(n / 2, u'\\');
          if (n % 2) {
            arg += u'"';
            ++i;
          }
        } else {
          arg.append(n, u'\\');
        }
      } else if (line[i] == u'"') {
        if (quoted && i + 1 < line.size() && line[i + 1] == u'"') {
          arg += u'"';
          i += 2;
        } else {
          quoted = !quoted;
          ++i;
        }
      } else {
        arg += line[i++];
      }
    }
    args.push_back(std::move(arg));
  }
  return args;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace mapidispatch::service
