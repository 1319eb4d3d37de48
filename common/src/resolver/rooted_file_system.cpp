// Copyright MapiDispatch authors.
//
// The parts of file_system.h that use std::filesystem and iostreams (offline tools and tests),
// in their own object file so that the stub, which links the resolver, does not pull them in.

#include <fstream>

#include "mapidispatch/file_system.h"
#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

std::filesystem::path to_fs_path(std::u16string_view s) {
#ifdef _WIN32
  static_assert(sizeof(wchar_t) == sizeof(char16_t));
  return std::filesystem::path(std::wstring(s.begin(), s.end()));
#else
  return std::filesystem::path(text::utf16_to_utf8(s));
#endif
}

std::u16string from_fs_path(const std::filesystem::path& p) {
#ifdef _WIN32
  const std::wstring w = p.wstring();
  return std::u16string(w.begin(), w.end());
#else
  return text::utf8_to_utf16(p.string());
#endif
}

}  // namespace

// ---- Local files --------------------------------------------------------------------------------

namespace {

class LocalFile final : public ByteSource {
 public:
  LocalFile(std::ifstream in, uint64_t size) : in_(std::move(in)), size_(size) {}
  uint64_t size() const override { return size_; }
  bool read(uint64_t offset, std::span<uint8_t> out) const override {
    if (offset > size_ || out.size() > size_ - offset) return false;
    if (out.empty()) return true;
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
    return in_.good() || static_cast<size_t>(in_.gcount()) == out.size();
  }

 private:
  mutable std::ifstream in_;  // reads are not concurrent: the resolver is single-threaded
  uint64_t size_;
};

}  // namespace

std::error_code open_local_file(const std::filesystem::path& path, std::unique_ptr<ByteSource>* out) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return ec;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::make_error_code(std::errc::permission_denied);
  *out = std::make_unique<LocalFile>(std::move(in), size);
  return {};
}

std::filesystem::path local_path_from_utf8(std::string_view utf8) { return to_fs_path(text::utf8_to_utf16(utf8)); }

// ---- RootedFileSystem ---------------------------------------------------------------------------

std::optional<std::filesystem::path> RootedFileSystem::map(std::u16string_view windows_path) const {
  const WindowsPath w = analyze_windows_path(windows_path);
  std::vector<std::u16string> parts;
  if (w.kind == PathKind::kDriveAbsolute) {
    parts.push_back(w.drive);
  } else if (w.kind == PathKind::kUnc) {
    parts = {u"UNC", w.server, w.share};
  } else {
    return std::nullopt;
  }
  if (w.problem == PathProblem::kTraversal || w.problem == PathProblem::kEmptyComponent) return std::nullopt;
  parts.insert(parts.end(), w.components.begin(), w.components.end());
  std::filesystem::path cur = root_;
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    std::error_code ec;
    const std::filesystem::path exact = cur / to_fs_path(parts[i]);
    if (std::filesystem::exists(std::filesystem::symlink_status(exact, ec))) {
      cur = exact;
      continue;
    }
    std::optional<std::filesystem::path> match;
    size_t scanned = 0;
    for (std::filesystem::directory_iterator it(cur, ec), end; !ec && it != end; it.increment(ec)) {
      if (++scanned > 100000) break;  // a folder this large is not a Windows tree copy
      if (text::iequals(from_fs_path(it->path().filename()), parts[i])) {
        match = it->path();
        break;
      }
    }
    if (match) {
      cur = *match;
    } else if (last) {
      cur = exact;
    } else {
      return std::nullopt;
    }
  }
  return cur;
}

FileKind RootedFileSystem::stat(std::u16string_view path, std::error_code* ec) const {
  ec->clear();
  const auto p = map(path);
  if (!p) return FileKind::kMissing;
  std::error_code e;
  const auto st = std::filesystem::status(*p, e);
  if (st.type() == std::filesystem::file_type::not_found) return FileKind::kMissing;
  if (e) {
    *ec = e;
    return FileKind::kMissing;
  }
  if (st.type() == std::filesystem::file_type::regular) return FileKind::kFile;
  if (st.type() == std::filesystem::file_type::directory) return FileKind::kDirectory;
  return FileKind::kOther;
}

std::error_code RootedFileSystem::open(std::u16string_view path, std::unique_ptr<ByteSource>* out) const {
  const auto p = map(path);
  if (!p) return std::make_error_code(std::errc::no_such_file_or_directory);
  return open_local_file(*p, out);
}

bool RootedFileSystem::same_file(std::u16string_view a, std::u16string_view b) const {
  if (same_windows_path(a, b)) return true;
  const auto pa = map(a);
  const auto pb = map(b);
  if (!pa || !pb) return false;
  std::error_code ec;
  return std::filesystem::equivalent(*pa, *pb, ec) && !ec;
}

std::u16string RootedFileSystem::description() const { return u"folder " + from_fs_path(root_); }

std::optional<FileStamp> RootedFileSystem::stamp(std::u16string_view path) const {
  const auto p = map(path);
  if (!p) return std::nullopt;
  std::error_code e1, e2;
  const auto size = std::filesystem::file_size(*p, e1);
  const auto time = std::filesystem::last_write_time(*p, e2);
  if (e1 || e2) return std::nullopt;
  FileStamp s;
  s.size = size;
  s.write_time = static_cast<uint64_t>(time.time_since_epoch().count());
  return s;
}

}  // namespace mapidispatch
