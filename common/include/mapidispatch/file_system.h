// Copyright MapiDispatch authors.
//
//! \file
//! How the resolver looks at files: the checks on a Windows path as text (portable, no file
//! access), and the FileSystem interface through which it tests existence and reads PE bytes.
//! Implementations: win32/resolver_win.h (the real file system), RootedFileSystem (an export's
//! drive paths mapped into a folder, for offline `mapidispatch resolve --root DIR`), and
//! MemoryFileSystem (tests, fuzzing).

#ifndef MAPIDISPATCH_FILE_SYSTEM_H_
#define MAPIDISPATCH_FILE_SYSTEM_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "mapidispatch/pe_image.h"

namespace mapidispatch {

// ---- Windows paths as text ------------------------------------------------------------------

//! The longest path the resolver accepts (the NT path limit, in UTF-16 units).
inline constexpr size_t kMaxPathChars = 32767;

//! The shape of a path.
enum class PathKind {
  kEmpty,
  kDriveAbsolute,  //!< C:\dir\file.dll (also \\?\C:\...)
  kUnc,            //!< \\server\share\... (also \\?\UNC\server\share\...)
  kDriveRelative,  //!< C:file.dll: relative to the drive's current folder.
  kRooted,         //!< \dir\file.dll: relative to the current drive.
  kRelative,       //!< file.dll, dir\file.dll: searched for by LoadLibrary (DLL planting).
  kDevice,         //!< \\.\..., \\?\ forms other than the two above, \??\...
};
std::string_view to_string(PathKind kind);

//! What is wrong with a path's text, if anything.
enum class PathProblem {
  kNone,
  kTraversal,         //!< A "." or ".." component.
  kBadCharacter,      //!< A control character, one of <>"|?*, or ':' outside the drive.
  kReservedName,      //!< CON, NUL, AUX, PRN, COM1-9, LPT1-9 as a component (any extension).
  kTrailingDotSpace,  //!< A component ending in '.' or ' ' (Windows strips them: another file).
  kEmptyComponent,    //!< "\\" inside the path.
  kTooLong,           //!< More than kMaxPathChars, or a component above 255 characters.
};
std::string_view to_string(PathProblem problem);

//! A path taken apart.
struct WindowsPath {
  PathKind kind = PathKind::kEmpty;
  PathProblem problem = PathProblem::kNone;
  std::u16string normalized;               //!< '/' as '\', \\?\ prefix removed.
  std::u16string drive;                    //!< "C" for drive paths.
  std::vector<std::u16string> components;  //!< After the drive or after \\server\share.
  std::u16string server, share;            //!< UNC paths.
  std::u16string file_name() const { return components.empty() ? std::u16string() : components.back(); }
};

//! Takes a path apart and checks its text. Never touches the file system.
WindowsPath analyze_windows_path(std::u16string_view path);

//! Windows path equality after normalization (case-insensitive, '/' as '\').
bool same_windows_path(std::u16string_view a, std::u16string_view b);

// ---- Files ----------------------------------------------------------------------------------

enum class FileKind { kMissing, kFile, kDirectory, kOther };

//! What says a file is still the one read before: its identity (volume serial number and file
//! index, where the file system has them: 0 otherwise) and its size and last write time. Equal
//! stamps: the same bytes, as far as anything short of reading them can tell.
struct FileStamp {
  uint64_t volume = 0;      //!< Volume serial number; with `index`, the file's identity.
  uint64_t index = 0;       //!< File index (NTFS file ID); 0: no identity, only the path.
  uint64_t size = 0;
  uint64_t write_time = 0;  //!< Last write time (FILETIME units, or the file system's own).
  bool has_identity() const { return index != 0; }
  bool operator==(const FileStamp&) const = default;
};

//! The file system as the resolver sees it. Paths are full Windows paths (drive-absolute or UNC)
//! that analyze_windows_path() accepted. Implementations never throw except std::bad_alloc.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  //! What is at `path`. An error other than "does not exist" goes to *ec (kind kMissing).
  virtual FileKind stat(std::u16string_view path, std::error_code* ec) const = 0;
  //! Opens a file for reading its bytes.
  virtual std::error_code open(std::u16string_view path, std::unique_ptr<ByteSource>* out) const = 0;
  //! True if both paths name the same existing file (short names, links, case): the stub's
  //! recursion guard. The default compares the normalized text only.
  virtual bool same_file(std::u16string_view a, std::u16string_view b) const { return same_windows_path(a, b); }
  //! Where this file system's answers come from, for explanations ("the live file system",
  //! "folder /tmp/x", ...).
  virtual std::u16string description() const = 0;
  //! The stamp of the file at `path` (DependencyCache: a file read before is read again only when
  //! its stamp changed); nullopt if it cannot say (missing, unreadable, or not supported).
  virtual std::optional<FileStamp> stamp(std::u16string_view /*path*/) const { return std::nullopt; }
};

//! Files held in memory, by Windows path (case-insensitive). Folders exist implicitly above files
//! and explicitly with add_directory().
class MemoryFileSystem final : public FileSystem {
 public:
  void add_file(std::u16string_view path, std::vector<uint8_t> bytes);
  void add_directory(std::u16string_view path);
  FileKind stat(std::u16string_view path, std::error_code* ec) const override;
  std::error_code open(std::u16string_view path, std::unique_ptr<ByteSource>* out) const override;
  std::u16string description() const override { return u"files held in memory"; }
  //! Each file has an identity of its own (index) and a write time that grows with every
  //! add_file(), so a replaced file has another stamp.
  std::optional<FileStamp> stamp(std::u16string_view path) const override;

 private:
  struct MemoryFile {
    std::shared_ptr<const std::vector<uint8_t>> bytes;
    uint64_t index = 0;
    uint64_t version = 0;
  };
  std::map<std::u16string, MemoryFile> files_;  // folded path
  uint64_t next_version_ = 1;
  std::map<std::u16string, bool> dirs_;
};

//! An export's drive paths mapped into a folder: `C:\Program Files\X\a.dll` is
//! `root/C/Program Files/X/a.dll`, `\\server\share\x.dll` is `root/UNC/server/share/x.dll`.
//! Each component is matched case-insensitively (text::iequals) against the folder's entries,
//! since Windows paths are case-insensitive and the copy's case may differ; an exact match wins.
class RootedFileSystem final : public FileSystem {
 public:
  explicit RootedFileSystem(std::filesystem::path root) : root_(std::move(root)) {}
  FileKind stat(std::u16string_view path, std::error_code* ec) const override;
  std::error_code open(std::u16string_view path, std::unique_ptr<ByteSource>* out) const override;
  bool same_file(std::u16string_view a, std::u16string_view b) const override;
  std::u16string description() const override;
  //! Size and last write time (no identity: a copy's files are told apart by path).
  std::optional<FileStamp> stamp(std::u16string_view path) const override;

  //! The local path a Windows path maps to, if every component exists (the last may be missing:
  //! then the mapped name is returned as written). nullopt if a folder on the way is missing.
  std::optional<std::filesystem::path> map(std::u16string_view windows_path) const;

 private:
  std::filesystem::path root_;
};

//! The file system as a 32-bit process on 64-bit Windows sees it (WOW64 file system
//! redirection), over the 64-bit view `inner`: `<windows>\System32\...` is
//! `<windows>\SysWOW64\...` except the folders WOW64 exempts (catroot, catroot2, driverstore,
//! drivers\etc, logfiles, spool), and `<windows>\Sysnative\...` is the real System32. For the
//! service, which checks for 32-bit processes the provider paths they would load. Paths keep
//! their text everywhere else; `windows_directory` is e.g. "C:\Windows".
class Wow64FileSystem final : public FileSystem {
 public:
  Wow64FileSystem(const FileSystem& inner, std::u16string windows_directory)
      : inner_(inner), windows_(std::move(windows_directory)) {}
  FileKind stat(std::u16string_view path, std::error_code* ec) const override;
  std::error_code open(std::u16string_view path, std::unique_ptr<ByteSource>* out) const override;
  bool same_file(std::u16string_view a, std::u16string_view b) const override;
  std::u16string description() const override;
  std::optional<FileStamp> stamp(std::u16string_view path) const override { return inner_.stamp(redirect(path)); }

  //! The path a 32-bit process's access to `path` reaches.
  std::u16string redirect(std::u16string_view path) const;

 private:
  const FileSystem& inner_;
  std::u16string windows_;
};

//! A ByteSource over a file on the local file system, through std::ifstream (portable).
std::error_code open_local_file(const std::filesystem::path& path, std::unique_ptr<ByteSource>* out);

//! A local path from UTF-8 text (command-line arguments are UTF-8 on every platform here).
std::filesystem::path local_path_from_utf8(std::string_view utf8);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_FILE_SYSTEM_H_
