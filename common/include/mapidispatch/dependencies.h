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

//! The PE facts of dependency files, by folded full path, so that the scopes and both views that
//! share a file read it once per resolve. Not thread-safe; the service keeps one per resolve.
class DependencyCache {
 public:
  struct Entry {
    FileKind kind = FileKind::kMissing;
    PeStatus pe = PeStatus::kOk;
    std::string pe_reason;
    uint16_t raw_machine = 0;
    bool is_dll = false;
    std::vector<PeImport> imports;
    PeStatus imports_status = PeStatus::kOk;
    std::string imports_reason;
  };
  //! The entry for `path` read through `files` (FileSystem::description() is part of the key, so
  //! the native view and a Wow64FileSystem do not share System32 by mistake).
  const Entry& get(const FileSystem& files, std::u16string_view path, size_t* reads);
  size_t size() const { return entries_.size(); }

 private:
  std::map<std::u16string, Entry> entries_;
};

//! True for names the loader resolves through the API set schema: `api-ms-win-*` and `ext-ms-*`
//! (case-insensitive; with or without ".dll").
bool is_api_set_name(std::u16string_view dll);

//! Walks the imports of the provider at `provider_path`, whose own imports are `imports` (from
//! read_pe_image), as a process of `search.machine` would resolve them. `cache` may be null.
DependencyReport check_dependencies(const FileSystem& files, std::u16string_view provider_path,
                                    const std::vector<PeImport>& imports, const DependencySearch& search,
                                    DependencyCache* cache);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_DEPENDENCIES_H_
