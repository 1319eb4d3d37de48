// Copyright MapiDispatch authors.
//
//! \file
//! Would a provider DLL load? The DLLs it imports (its import table and its delay-load table),
//! looked for the way the loader looks for them when the stub calls
//! `LoadLibraryExW(path, nullptr, LOAD_WITH_ALTERED_SEARCH_PATH)` in a process of one machine:
//!
//!  1. API sets (`api-ms-win-*`, `ext-ms-*`) and KnownDLLs: the loader maps them itself, they are
//!     present (an `ext-ms-*` set that is not hosted fails only its calls, never the load);
//!  2. the folder of the DLL the stub loads (LOAD_WITH_ALTERED_SEARCH_PATH: for the whole load,
//!     its dependencies' dependencies too);
//!  3. the system folder of the process's view (System32, or SysWOW64 for a 32-bit process on
//!     64-bit Windows: the FileSystem given is then a Wow64FileSystem);
//!  4. the Windows folder;
//!  5. the PATH directories the caller knows (the service: the user's and the machine's PATH as
//!     the registry has them; a process may have its own, and its current folder and
//!     SetDllDirectory folders, which nobody outside it can know).
//!
//! A file of another machine is skipped and the search goes on, as Wine 8's loader does
//! (tests/deps, wrong_then_right; Windows' loader was not run here); if no file
//! of the right machine is found, the dependency is missing, with the wrong one named. Each
//! dependency found in the provider's folder or on PATH is followed to its own imports, bounded by
//! depth and by the number of files; one found in the system or the Windows folder is the
//! system's, and its imports are not followed.
//! A finding is a diagnosis, never a refusal: a process with another search path may load the
//! provider all the same, and the stub always tries.
//!
//! Portable, bounded, never throws except std::bad_alloc; files are read through FileSystem, so
//! the service (live), `mapidispatch resolve` (an export) and tests (memory) share it.

#ifndef MAPIDISPATCH_DEPENDENCIES_H_
#define MAPIDISPATCH_DEPENDENCIES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "mapidispatch/file_system.h"
#include "mapidispatch/model.h"
#include "mapidispatch/pe_image.h"

namespace mapidispatch {

//! Where to look, for one process view.
struct DependencySearch {
  //! The machine of the process that loads the provider; a dependency of another machine does
  //! not load into it.
  PeMachine machine = PeMachine::kAmd64;
  //! Searched in order after the provider's own folder: the system folder of the view, the
  //! Windows folder, then PATH's entries (empty entries and relative ones are ignored).
  std::vector<std::u16string> directories;
  //! How many of `directories` are PATH entries (the last ones): sentences call them "PATH".
  size_t path_entries = 0;
  //! Where PATH came from, for sentences, e.g. "the machine's and the user's PATH (registry)".
  std::u16string path_origin;
  //! KnownDLLs' file names (HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\KnownDLLs):
  //! present whatever the folders hold.
  std::vector<std::u16string> known_dlls;
  //! Optional: true if a module of that base name is already loaded in the process (the loader
  //! uses it before any search). Only a process asking about itself (the stub) can know.
  std::function<bool(std::u16string_view name)> already_loaded;
  size_t max_depth = 4;   //!< Levels of imports followed below the provider.
  size_t max_files = 64;  //!< Distinct dependency files read per provider.
};

//! What is wrong with one imported DLL.
enum class DependencyProblem {
  kNotFound,      //!< No file of that name in any folder searched.
  kWrongMachine,  //!< Only files of another machine were found (`found_path`, `found_machine`).
  kUnreadable,    //!< Found, but not a PE DLL or not readable (`detail` says why).
};
std::string_view to_string(DependencyProblem problem);

//! One imported DLL that would not load.
struct DependencyFinding {
  std::u16string dll;                  //!< The imported name, as written.
  std::u16string importer;             //!< The file that imports it (full path).
  std::vector<std::u16string> chain;   //!< File names from the provider down to `importer`.
  DependencyProblem problem = DependencyProblem::kNotFound;
  bool delay_load = false;             //!< Delay-loaded: only the calls that need it fail.
  std::u16string found_path;           //!< kWrongMachine, kUnreadable: the file found.
  uint16_t found_machine = 0;          //!< kWrongMachine: its IMAGE_FILE_HEADER.Machine.
  std::u16string detail;               //!< kUnreadable: why.
  std::vector<std::u16string> searched;  //!< Folders searched before PATH, in order (PATH's
                                         //!< entries follow them; sentences name PATH once).

  //! One sentence, e.g. "fabrikam.dll imports VCRUNTIME140_1.dll: not found in C:\Program
  //! Files\Fabrikam, C:\Windows\System32, C:\Windows, PATH (the machine's)".
  std::u16string sentence(const DependencySearch& search) const;
  bool operator==(const DependencyFinding&) const = default;
};

//! Everything found about one provider.
struct DependencyReport {
  std::vector<DependencyFinding> findings;  //!< Load failures first, then delay-load warnings.
  size_t files_read = 0;                    //!< Dependency files read (not from the cache).
  bool truncated = false;                   //!< max_depth or max_files stopped the walk.
  std::u16string bad_imports;               //!< Non-empty: a damaged import table (whose, why).

  //! True when a non-delay-loaded dependency is missing: LoadLibrary of the provider would fail.
  bool blocks_load() const;
};

//! What one file is, as the resolver checks providers and dependencies: whether it exists, its
//! PE headers, machine, imports, and which required exports it lacks (export names are not kept).
struct PeFileFacts {
  FileKind kind = FileKind::kMissing;
  std::error_code error;    //!< Why a file that exists could not be read (kind is then kMissing).
  PeStatus pe = PeStatus::kOk;
  std::string pe_reason;
  PeInfo info;              //!< export_names cleared; imports kept.
  std::vector<std::string_view> missing_simple;    //!< missing_exports(info, kSimple)
  std::vector<std::string_view> missing_extended;  //!< missing_exports(info, kExtended)
};

//! Reads what `path` is (one stat, one open, the headers).
PeFileFacts read_pe_file(const FileSystem& files, std::u16string_view path);

//! The PE facts of provider and dependency files, shared by every scope and both views, read
//! again only when a file changed (issue #12 item 1, issue #14 item 1). A file is looked up by
//! its path (and file system: a Wow64FileSystem's System32 is another folder); within a pass
//! (begin_pass()) the first use of a path checks its FileStamp, later uses trust it; a stamp
//! that did not change keeps the facts, and a file with an identity (volume and file index) is
//! read once whatever path names it (the same DLL through both views). A file system without
//! stamps is read once per pass. Not thread-safe.
class DependencyCache {
 public:
  using Entry = PeFileFacts;
  //! The facts of `path` through `files`; *reads grows by one if the file had to be opened and
  //! read (a missing one costs a stat, and its stamp, each pass).
  //! The reference stays valid until the next begin_pass().
  const Entry& get(const FileSystem& files, std::u16string_view path, size_t* reads);
  //! The stamp of `path` through `files` as of this pass (taken at its first use in the pass,
  //! shared with get()); nullopt where the file system gives none (a missing file).
  std::optional<FileStamp> stamp(const FileSystem& files, std::u16string_view path);
  //! FileSystem::same_file through the pass's stamps: two paths with identities are compared by
  //! them (volume and file index) without opening either file again; otherwise files.same_file.
  bool same_file(const FileSystem& files, std::u16string_view a, std::u16string_view b);
  //! Starts a pass: paths are stamped again at their first use. With `forget_unused` (a full
  //! pass: every scope will be resolved), what nothing used since the last such pass is dropped.
  void begin_pass(bool forget_unused = false);
  size_t size() const { return paths_.size(); }
  //! Files opened and read since the cache was made.
  size_t reads() const { return reads_; }

 private:
  struct PathRecord {
    std::optional<FileStamp> stamp;
    uint64_t pass = 0;  // the pass `stamp` was taken in
    std::shared_ptr<const Entry> entry;  // null, or the facts of the file as `stamp` says
  };
  PathRecord& record(const FileSystem& files, std::u16string_view path);
  std::map<std::u16string, PathRecord> paths_;  // description, NUL, folded path
  std::map<std::pair<uint64_t, uint64_t>, std::pair<FileStamp, std::weak_ptr<const Entry>>> identities_;
  uint64_t pass_ = 1;
  uint64_t forget_mark_ = 1;
  size_t reads_ = 0;
};

//! True for names the loader resolves through the API set schema: `api-ms-win-*` and `ext-ms-*`
//! (case-insensitive; with or without ".dll").
bool is_api_set_name(std::u16string_view dll);

//! The folders of a PATH value in the order the loader searches them: split at ';', an entry's
//! surrounding double quotes removed, trailing '\' or '/' dropped (but not a drive root's "C:\"),
//! empty entries skipped; at most `max_entries`. One rule for the service's walk (the user's PATH
//! from the registry) and the stub's diagnosis of a failed load (its process's PATH).
std::vector<std::u16string> split_path_variable(std::u16string_view path, size_t max_entries = SIZE_MAX);

//! Walks the imports of the provider at `provider_path`, whose own imports are `imports` (from
//! read_pe_image), as a process of `search.machine` would resolve them. `cache` may be null.
DependencyReport check_dependencies(const FileSystem& files, std::u16string_view provider_path,
                                    const std::vector<PeImport>& imports, const DependencySearch& search,
                                    DependencyCache* cache);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_DEPENDENCIES_H_
