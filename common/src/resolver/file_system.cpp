// Copyright MapiDispatch authors.

#include "mapidispatch/file_system.h"

#include <algorithm>

#include "mapidispatch/text.h"

namespace mapidispatch {

std::string_view to_string(PathKind kind) {
  switch (kind) {
    case PathKind::kEmpty: return "empty";
    case PathKind::kDriveAbsolute: return "drive-absolute";
    case PathKind::kUnc: return "unc";
    case PathKind::kDriveRelative: return "drive-relative";
    case PathKind::kRooted: return "rooted";
    case PathKind::kRelative: return "relative";
    case PathKind::kDevice: return "device";
  }
  return "unknown";
}

std::string_view to_string(PathProblem problem) {
  switch (problem) {
    case PathProblem::kNone: return "none";
    case PathProblem::kTraversal: return "traversal";
    case PathProblem::kBadCharacter: return "bad-character";
    case PathProblem::kReservedName: return "reserved-name";
    case PathProblem::kTrailingDotSpace: return "trailing-dot-or-space";
    case PathProblem::kEmptyComponent: return "empty-component";
    case PathProblem::kTooLong: return "too-long";
  }
  return "unknown";
}

namespace {

bool is_letter(char16_t c) { return (c >= u'A' && c <= u'Z') || (c >= u'a' && c <= u'z'); }

bool is_reserved(std::u16string_view component) {
  std::u16string_view base = component.substr(0, component.find(u'.'));
  while (!base.empty() && base.back() == u' ') base.remove_suffix(1);
  static constexpr std::u16string_view kNames[] = {u"CON", u"PRN", u"AUX", u"NUL"};
  for (const auto n : kNames) {
    if (text::iequals(base, n)) return true;
  }
  if (base.size() == 4 && (text::istarts_with(base, u"COM") || text::istarts_with(base, u"LPT")) && base[3] >= u'1' &&
      base[3] <= u'9') {
    return true;
  }
  return false;
}

PathProblem check_component(std::u16string_view c) {
  if (c.empty()) return PathProblem::kEmptyComponent;
  if (c == u"." || c == u"..") return PathProblem::kTraversal;
  if (c.size() > 255) return PathProblem::kTooLong;  // no file system allows a longer name
  for (char16_t ch : c) {
    if (ch < 0x20 || ch == u'<' || ch == u'>' || ch == u'"' || ch == u'|' || ch == u'?' || ch == u'*' || ch == u':') {
      return PathProblem::kBadCharacter;
    }
  }
  if (c.back() == u'.' || c.back() == u' ') return PathProblem::kTrailingDotSpace;
  if (is_reserved(c)) return PathProblem::kReservedName;
  return PathProblem::kNone;
}

// Problems by severity: traversal is what an attacker aims for, so it is named first.
int severity(PathProblem p) {
  switch (p) {
    case PathProblem::kNone: return 0;
    case PathProblem::kTraversal: return 7;
    case PathProblem::kTooLong: return 6;
    case PathProblem::kBadCharacter: return 5;
    case PathProblem::kEmptyComponent: return 4;
    case PathProblem::kReservedName: return 3;
    case PathProblem::kTrailingDotSpace: return 2;
  }
  return 1;
}

std::vector<std::u16string> split(std::u16string_view s) {
  std::vector<std::u16string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(u'\\', start);
    parts.emplace_back(s.substr(start, end == std::u16string_view::npos ? std::u16string_view::npos : end - start));
    if (end == std::u16string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

}  // namespace

WindowsPath analyze_windows_path(std::u16string_view path) {
  WindowsPath w;
  if (path.empty()) return w;
  std::u16string s(path);
  std::replace(s.begin(), s.end(), u'/', u'\\');
  if (s.size() >= 4 && (s.compare(0, 4, u"\\\\?\\") == 0 || s.compare(0, 4, u"\\??\\") == 0)) {
    const std::u16string rest = s.substr(4);
    if (text::istarts_with(rest, u"UNC\\")) {
      s = u"\\\\" + rest.substr(4);
    } else if (rest.size() >= 3 && is_letter(rest[0]) && rest[1] == u':' && rest[2] == u'\\') {
      s = rest;
    } else {
      w.kind = PathKind::kDevice;
      w.normalized = s;
      return w;
    }
  } else if (s.size() >= 4 && s.compare(0, 4, u"\\\\.\\") == 0) {
    w.kind = PathKind::kDevice;
    w.normalized = s;
    return w;
  }
  w.normalized = s;
  if (s.size() >= 2 && s[0] == u'\\' && s[1] == u'\\') {
    w.kind = PathKind::kUnc;
    std::vector<std::u16string> parts = split(std::u16string_view(s).substr(2));
    w.server = parts[0];
    w.share = parts.size() > 1 ? parts[1] : std::u16string();
    if (w.server.empty() || w.share.empty()) w.problem = PathProblem::kEmptyComponent;
    if (parts.size() > 2) w.components.assign(parts.begin() + 2, parts.end());
  } else if (s.size() >= 2 && is_letter(s[0]) && s[1] == u':') {
    w.drive = std::u16string(1, static_cast<char16_t>(text::fold_case(s[0])));
    if (s.size() >= 3 && s[2] == u'\\') {
      w.kind = PathKind::kDriveAbsolute;
      if (s.size() > 3) w.components = split(std::u16string_view(s).substr(3));
    } else {
      w.kind = PathKind::kDriveRelative;
      if (s.size() > 2) w.components = split(std::u16string_view(s).substr(2));
    }
  } else if (s[0] == u'\\') {
    w.kind = PathKind::kRooted;
    if (s.size() > 1) w.components = split(std::u16string_view(s).substr(1));
  } else {
    w.kind = PathKind::kRelative;
    w.components = split(s);
  }
  for (const auto& c : w.components) {
    const PathProblem p = check_component(c);
    if (severity(p) > severity(w.problem)) w.problem = p;
  }
  if (w.kind == PathKind::kUnc && w.problem == PathProblem::kNone) {
    const PathProblem p = std::max(check_component(w.server), check_component(w.share),
                                   [](PathProblem a, PathProblem b) { return severity(a) < severity(b); });
    w.problem = p;
  }
  if (path.size() > kMaxPathChars && severity(PathProblem::kTooLong) > severity(w.problem)) w.problem = PathProblem::kTooLong;
  return w;
}

bool same_windows_path(std::u16string_view a, std::u16string_view b) {
  return text::iequals(analyze_windows_path(a).normalized, analyze_windows_path(b).normalized);
}

// ---- MemoryFileSystem ---------------------------------------------------------------------------

namespace {

class SharedBytes final : public ByteSource {
 public:
  explicit SharedBytes(std::shared_ptr<const std::vector<uint8_t>> bytes) : bytes_(std::move(bytes)), view_(*bytes_) {}
  uint64_t size() const override { return view_.size(); }
  bool read(uint64_t offset, std::span<uint8_t> out) const override { return view_.read(offset, out); }

 private:
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
  SpanByteSource view_;
};

std::u16string memory_key(std::u16string_view path) {
  std::u16string k = text::fold(analyze_windows_path(path).normalized);
  while (k.size() > 3 && k.back() == u'\\') k.pop_back();
  return k;
}

}  // namespace

void MemoryFileSystem::add_file(std::u16string_view path, std::vector<uint8_t> bytes) {
  MemoryFile& f = files_[memory_key(path)];
  if (f.index == 0) f.index = files_.size();  // one identity per path, kept when replaced
  f.bytes = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  f.version = next_version_++;
}

std::optional<FileStamp> MemoryFileSystem::stamp(std::u16string_view path) const {
  const auto it = files_.find(memory_key(path));
  if (it == files_.end()) return std::nullopt;
  return FileStamp{1, it->second.index, it->second.bytes->size(), it->second.version};
}

void MemoryFileSystem::add_directory(std::u16string_view path) { dirs_[memory_key(path)] = true; }

FileKind MemoryFileSystem::stat(std::u16string_view path, std::error_code* ec) const {
  ec->clear();
  const std::u16string k = memory_key(path);
  if (files_.count(k) != 0) return FileKind::kFile;
  if (dirs_.count(k) != 0) return FileKind::kDirectory;
  const std::u16string prefix = k + u'\\';
  const auto it = files_.lower_bound(prefix);
  if (it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0) return FileKind::kDirectory;
  return FileKind::kMissing;
}

std::error_code MemoryFileSystem::open(std::u16string_view path, std::unique_ptr<ByteSource>* out) const {
  const auto it = files_.find(memory_key(path));
  if (it == files_.end()) return std::make_error_code(std::errc::no_such_file_or_directory);
  *out = std::make_unique<SharedBytes>(it->second.bytes);
  return {};
}

}  // namespace mapidispatch

// ---- Wow64FileSystem ----------------------------------------------------------------------------

namespace mapidispatch {

std::u16string Wow64FileSystem::redirect(std::u16string_view path) const {
  const WindowsPath w = analyze_windows_path(path);
  const WindowsPath win = analyze_windows_path(windows_);
  if (w.kind != PathKind::kDriveAbsolute || win.kind != PathKind::kDriveAbsolute || win.components.empty() ||
      !text::iequals(w.drive, win.drive) || w.components.size() <= win.components.size() + 1)
    return std::u16string(path);
  for (size_t i = 0; i < win.components.size(); ++i)
    if (!text::iequals(w.components[i], win.components[i])) return std::u16string(path);
  const size_t at = win.components.size();  // the folder under the Windows directory
  const std::u16string_view folder = w.components[at];
  std::u16string_view to;
  if (text::iequals(folder, u"System32")) {
    // The subfolders WOW64 leaves alone (Microsoft Learn, "File System Redirector").
    const std::u16string_view sub = w.components[at + 1];
    const bool exempt = text::iequals(sub, u"catroot") || text::iequals(sub, u"catroot2") ||
                        text::iequals(sub, u"driverstore") || text::iequals(sub, u"logfiles") ||
                        text::iequals(sub, u"spool") ||
                        (text::iequals(sub, u"drivers") && w.components.size() > at + 2 &&
                         text::iequals(w.components[at + 2], u"etc"));
    if (exempt) return std::u16string(path);
    to = u"SysWOW64";
  } else if (text::iequals(folder, u"Sysnative")) {
    to = u"System32";
  } else {
    return std::u16string(path);
  }
  std::u16string out = win.drive + u":";
  for (size_t i = 0; i < w.components.size(); ++i) {
    out += u'\\';
    out += i == at ? std::u16string(to) : w.components[i];
  }
  return out;
}

FileKind Wow64FileSystem::stat(std::u16string_view path, std::error_code* ec) const {
  return inner_.stat(redirect(path), ec);
}

std::error_code Wow64FileSystem::open(std::u16string_view path, std::unique_ptr<ByteSource>* out) const {
  return inner_.open(redirect(path), out);
}

bool Wow64FileSystem::same_file(std::u16string_view a, std::u16string_view b) const {
  return inner_.same_file(redirect(a), redirect(b));
}

std::u16string Wow64FileSystem::description() const {
  return inner_.description() + u", as a 32-bit process sees it (WOW64: System32 is SysWOW64)";
}

}  // namespace mapidispatch
