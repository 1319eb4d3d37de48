// Copyright MapiDispatch authors.

#include "mapidispatch/dependencies.h"

#include <algorithm>
#include <deque>
#include <set>

#include "mapidispatch/registry.h"
#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

std::u16string folder_of(std::u16string_view path) {
  const size_t slash = path.find_last_of(u"\\/");
  if (slash == std::u16string_view::npos) return {};
  std::u16string dir(path.substr(0, slash));
  // "C:\x.dll" has the folder "C:\", not "C:".
  if (dir.size() == 2 && dir[1] == u':') dir.push_back(u'\\');
  return dir;
}

std::u16string file_name_of(std::u16string_view path) {
  const size_t slash = path.find_last_of(u"\\/");
  return std::u16string(slash == std::u16string_view::npos ? path : path.substr(slash + 1));
}

std::u16string join(std::u16string_view dir, std::u16string_view name) {
  std::u16string s(dir);
  if (!s.empty() && s.back() != u'\\' && s.back() != u'/') s.push_back(u'\\');
  s += name;
  return s;
}

// The loader appends ".dll" to a module name without an extension; a trailing '.' means "no
// extension, do not append".
std::u16string module_file_name(std::u16string_view imported) {
  std::u16string name = file_name_of(imported);
  if (name.find(u'.') == std::u16string::npos) name += u".dll";
  else if (name.back() == u'.') name.pop_back();
  return name;
}

std::u16string machine_words(uint16_t raw) { return text::ascii(describe_machine(raw)); }

// Only full paths can be looked up; a relative PATH entry depends on the process's current
// folder and the service has none worth using.
bool is_searchable_folder(std::u16string_view dir) {
  const WindowsPath w = analyze_windows_path(dir);
  return (w.kind == PathKind::kDriveAbsolute || w.kind == PathKind::kUnc) && w.problem == PathProblem::kNone;
}

struct Work {
  std::u16string path;              // the importing file
  std::vector<PeImport> imports;
  std::vector<std::u16string> chain;
  size_t depth = 0;
  bool delayed = false;             // reached through a delay-load: nothing here blocks the load
};

}  // namespace

std::string_view to_string(DependencyProblem problem) {
  switch (problem) {
    case DependencyProblem::kNotFound: return "not-found";
    case DependencyProblem::kWrongMachine: return "wrong-machine";
    case DependencyProblem::kUnreadable: return "unreadable";
  }
  return "unknown";
}

std::vector<std::u16string> split_path_variable(std::u16string_view path, size_t max_entries) {
  std::vector<std::u16string> out;
  for (size_t start = 0; start <= path.size() && out.size() < max_entries;) {
    size_t end = path.find(u';', start);
    if (end == std::u16string_view::npos) end = path.size();
    std::u16string_view entry = path.substr(start, end - start);
    if (entry.size() >= 2 && entry.front() == u'"' && entry.back() == u'"') entry = entry.substr(1, entry.size() - 2);
    while (entry.size() > 3 && (entry.back() == u'\\' || entry.back() == u'/')) entry.remove_suffix(1);
    if (!entry.empty()) out.emplace_back(entry);
    start = end + 1;
  }
  return out;
}

bool is_api_set_name(std::u16string_view dll) {
  return text::istarts_with(dll, u"api-ms-win-") || text::istarts_with(dll, u"ext-ms-");
}

bool DependencyReport::blocks_load() const {
  return std::any_of(findings.begin(), findings.end(), [](const DependencyFinding& f) { return !f.delay_load; });
}

std::u16string DependencyFinding::sentence(const DependencySearch& search) const {
  std::u16string who;
  for (size_t i = 0; i < chain.size(); ++i) {
    if (i > 0) who += u" -> ";
    who += chain[i];
  }
  if (who.empty()) who = file_name_of(importer);
  std::u16string s = who + (delay_load ? u" delay-loads " : u" imports ") + dll + u": ";
  // The folders, with PATH's entries named once: they can be many and are one source.
  std::u16string where;
  for (const auto& dir : searched) {
    if (!where.empty()) where += u", ";
    where += dir;
  }
  if (!where.empty()) where += u", ";
  where += u"PATH (" + (search.path_origin.empty() ? std::u16string(u"as known here") : search.path_origin);
  where += search.path_entries == 0 ? u": empty)" : u")";
  switch (problem) {
    case DependencyProblem::kNotFound:
      s += u"not found in " + where;
      break;
    case DependencyProblem::kWrongMachine:
      s += u"only " + found_path + u" was found, an " + machine_words(found_machine) + u" DLL that an " +
           text::ascii(to_string(search.machine)) + u" process cannot load (searched " + where + u")";
      break;
    case DependencyProblem::kUnreadable:
      s += found_path + u" was found first but is not a loadable DLL (" + detail + u")";
      break;
  }
  if (delay_load) s += u"; delay-loaded, so only the calls that need it fail";
  return s;
}

PeFileFacts read_pe_file(const FileSystem& files, std::u16string_view path) {
  PeFileFacts f;
  f.kind = files.stat(path, &f.error);
  if (f.kind != FileKind::kFile) return f;
  std::unique_ptr<ByteSource> src;
  if (const auto ec = files.open(path, &src)) {
    f.kind = FileKind::kMissing;
    f.error = ec;
    return f;
  }
  f.pe = read_pe_image(*src, &f.info, &f.pe_reason);
  if (f.pe == PeStatus::kOk) {
    f.missing_simple = missing_exports(f.info, ExportFamily::kSimple);
    f.missing_extended = missing_exports(f.info, ExportFamily::kExtended);
  }
  f.info.export_names.clear();  // only the verdicts are kept
  f.info.export_names.shrink_to_fit();
  return f;
}

DependencyCache::PathRecord& DependencyCache::record(const FileSystem& files, std::u16string_view path) {
  std::u16string key = files.description();
  key.push_back(u'\0');
  key += text::fold(path);
  return paths_[key];
}

std::optional<FileStamp> DependencyCache::stamp(const FileSystem& files, std::u16string_view path) {
  PathRecord& rec = record(files, path);
  if (rec.pass == pass_) return rec.stamp;  // stamped already in this pass
  const std::optional<FileStamp> stamp = files.stamp(path);
  // Facts of another stamp (or of a file without one) are not this file's: get() reads again.
  if (!(stamp && rec.stamp == stamp)) rec.entry.reset();
  rec.stamp = stamp;
  rec.pass = pass_;
  return stamp;
}

bool DependencyCache::same_file(const FileSystem& files, std::u16string_view a, std::u16string_view b) {
  const std::optional<FileStamp> sa = stamp(files, a), sb = stamp(files, b);
  if (sa && sb && sa->has_identity() && sb->has_identity()) return sa->volume == sb->volume && sa->index == sb->index;
  return files.same_file(a, b);
}

const DependencyCache::Entry& DependencyCache::get(const FileSystem& files, std::u16string_view path, size_t* reads) {
  PathRecord& rec = record(files, path);
  if (rec.entry && rec.pass == pass_) return *rec.entry;  // checked already in this pass
  const std::optional<FileStamp> stamp = this->stamp(files, path);
  if (rec.entry) return *rec.entry;  // unchanged since read
  if (stamp && stamp->has_identity()) {
    // The same file under another path (or through the other view): read once.
    const auto it = identities_.find({stamp->volume, stamp->index});
    if (it != identities_.end() && it->second.first == *stamp) {
      if (auto shared = it->second.second.lock()) {
        rec.entry = std::move(shared);
        return *rec.entry;
      }
    }
  }
  rec.entry = std::make_shared<const Entry>(read_pe_file(files, path));
  if (rec.entry->kind == FileKind::kFile) {  // opened and read (a missing file costs a stat)
    ++reads_;
    if (reads != nullptr) ++*reads;
  }
  if (stamp && stamp->has_identity()) identities_[{stamp->volume, stamp->index}] = {*stamp, rec.entry};
  return *rec.entry;
}

void DependencyCache::begin_pass(bool forget_unused) {
  if (forget_unused) {
    // What nothing used since the last forgetting pass is dropped (uninstalled providers, old
    // PATHs); the identities of dropped entries go with them.
    for (auto it = paths_.begin(); it != paths_.end();) {
      if (it->second.pass < forget_mark_) it = paths_.erase(it);
      else ++it;
    }
    for (auto it = identities_.begin(); it != identities_.end();) {
      if (it->second.second.expired()) it = identities_.erase(it);
      else ++it;
    }
  }
  ++pass_;
  if (forget_unused) forget_mark_ = pass_;
}

DependencyReport check_dependencies(const FileSystem& files, std::u16string_view provider_path,
                                    const std::vector<PeImport>& imports, const DependencySearch& search,
                                    DependencyCache* cache) {
  DependencyReport report;
  DependencyCache local;
  DependencyCache& c = cache != nullptr ? *cache : local;

  // LOAD_WITH_ALTERED_SEARCH_PATH: the provider's folder first, for every level of the load.
  // A DLL found in the system or the Windows folder is the system's: its own imports are not
  // followed (Windows resolves them among its own files; a broken Windows is not the provider's
  // finding, and walking it would cost the most for the least).
  std::vector<std::u16string> folders;
  std::vector<bool> follow;
  const std::u16string own = folder_of(provider_path);
  if (!own.empty()) {
    folders.push_back(own);
    follow.push_back(true);
  }
  const size_t path_from = search.directories.size() - std::min(search.path_entries, search.directories.size());
  std::vector<std::u16string> searched_names;  // what sentences list
  if (!own.empty()) searched_names.push_back(own);
  for (size_t i = 0; i < search.directories.size(); ++i) {
    const std::u16string& d = search.directories[i];
    if (!is_searchable_folder(d)) continue;
    if (std::any_of(folders.begin(), folders.end(), [&](const std::u16string& f) { return same_windows_path(f, d); }))
      continue;  // the loader looks once per folder
    folders.push_back(d);
    follow.push_back(i >= path_from);
    if (i < path_from) searched_names.push_back(d);
  }

  std::set<std::u16string> walked;  // folded paths of files whose imports are queued
  walked.insert(text::fold(provider_path));
  std::deque<Work> queue;
  queue.push_back(Work{std::u16string(provider_path), imports, {file_name_of(provider_path)}, 0, false});
  size_t files_walked = 0;

  while (!queue.empty()) {
    Work w = std::move(queue.front());
    queue.pop_front();
    for (const PeImport& imp : w.imports) {
      const std::u16string dll = text::utf8_to_utf16(imp.dll);
      const std::u16string name = module_file_name(dll);
      const bool delayed = w.delayed || imp.delay_load;
      if (is_api_set_name(name)) continue;
      if (std::any_of(search.known_dlls.begin(), search.known_dlls.end(),
                      [&](const std::u16string& k) { return text::iequals(k, name); }))
        continue;
      if (search.already_loaded && search.already_loaded(name)) continue;

      DependencyFinding f;
      f.dll = dll;
      f.importer = w.path;
      f.chain = w.chain;
      f.delay_load = delayed;
      bool found = false;
      bool wrong = false;
      for (size_t fi = 0; fi < folders.size(); ++fi) {
        const std::u16string candidate = join(folders[fi], name);
        const DependencyCache::Entry& e = c.get(files, candidate, &report.files_read);
        if (e.kind == FileKind::kMissing || e.kind == FileKind::kDirectory) continue;
        if (e.kind != FileKind::kFile || e.pe != PeStatus::kOk || !e.info.is_dll) {
          // The loader stops at the first file of the name that is not an image of another
          // machine: a file that is no DLL fails the load.
          f.problem = DependencyProblem::kUnreadable;
          f.found_path = candidate;
          f.detail = e.kind != FileKind::kFile ? u"not a regular file"
                     : e.pe != PeStatus::kOk   ? text::utf8_to_utf16(e.pe_reason)
                                               : u"a PE executable, not a DLL";
          break;
        }
        if (e.info.raw_machine != static_cast<uint16_t>(search.machine)) {
          // Skipped, as (Wine's) loader skips an image of another machine and searches on.
          if (!wrong) {
            wrong = true;
            f.found_path = candidate;
            f.found_machine = e.info.raw_machine;
          }
          continue;
        }
        found = true;
        if (e.info.imports_status != PeStatus::kOk && report.bad_imports.empty())
          report.bad_imports = candidate + u": " + text::utf8_to_utf16(e.info.imports_reason);
        const std::u16string key = text::fold(candidate);
        if (follow[fi] && !walked.count(key)) {
          if (w.depth + 1 > search.max_depth || files_walked >= search.max_files) {
            if (!e.info.imports.empty()) report.truncated = true;
          } else {
            walked.insert(key);
            ++files_walked;
            std::vector<std::u16string> chain = w.chain;
            chain.push_back(file_name_of(candidate));
            queue.push_back(Work{candidate, e.info.imports, std::move(chain), w.depth + 1, delayed});
          }
        }
        break;
      }
      if (found) continue;
      if (f.problem != DependencyProblem::kUnreadable) f.problem = wrong ? DependencyProblem::kWrongMachine : DependencyProblem::kNotFound;
      f.searched = searched_names;
      report.findings.push_back(std::move(f));
    }
  }
  // Load failures first: they are what an administrator fixes first.
  std::stable_sort(report.findings.begin(), report.findings.end(),
                   [](const DependencyFinding& a, const DependencyFinding& b) { return !a.delay_load && b.delay_load; });
  return report;
}

}  // namespace mapidispatch
