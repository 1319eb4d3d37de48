// Copyright MapiDispatch authors.

#include "mapidispatch/resolve_command.h"

#include <fstream>
#include <iterator>
#include <new>
#include <optional>

#include "mapidispatch/json_writer.h"
#include "mapidispatch/reg_file.h"
#include "mapidispatch/resolver.h"
#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

using text::utf16_to_utf8;
using text::utf8_to_utf16;

constexpr char kUsage[] =
    "usage: mapidispatch resolve --from FILE.reg [--user SID | --machine] [--module NAME]\n"
    "                            [--bitness x86|x64|arm64] [--root DIR] [--json] [--allow-unc]\n"
    "                            [--stub-path PATH]... [--system-dir PATH]\n"
    "                            [--msi-component {GUID},QUALIFIER=PATH]...\n"
    "Resolves a registry export (reg export / regedit, UTF-16 or ANSI) as the MAPI stub would and\n"
    "explains the answer. Without --user or --machine, the export's HKEY_CURRENT_USER is the user's\n"
    "if it has one, else the machine scope is resolved. --root DIR maps the export's paths\n"
    "(C:\\X\\a.dll -> DIR/C/X/a.dll) so files are checked; without it they are not.\n";

struct Args {
  std::string from;
  std::optional<std::string> user;
  bool machine = false;
  std::optional<std::string> module;
  std::optional<PeMachine> bitness;
  std::optional<std::string> root;
  bool json = false;
  bool allow_unc = false;
  std::vector<std::string> stub_paths;
  std::optional<std::string> system_dir;
  struct Msi {
    std::u16string category, qualifier, path;
  };
  std::vector<Msi> msi;
  bool help = false;
};

// Parses args; "" on success, else the message naming the bad argument.
std::string parse_args(const std::vector<std::string>& args, Args* a) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      const size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg.resize(eq);
      }
    }
    auto take = [&](std::string* v) -> std::string {
      if (inline_value) {
        *v = *inline_value;
      } else if (i + 1 < args.size()) {
        *v = args[++i];
      } else {
        return "the argument " + arg + " needs a value";
      }
      if (v->empty()) return "the argument " + arg + " needs a non-empty value";
      return {};
    };
    auto flag = [&]() -> std::string {
      if (inline_value) return "the argument " + arg + " takes no value";
      return {};
    };
    std::string v;
    std::string e;
    if (arg == "--help" || arg == "-h") {
      a->help = true;
    } else if (arg == "--from") {
      if (!(e = take(&v)).empty()) return e;
      if (!a->from.empty()) return "the argument --from is given twice";
      a->from = v;
    } else if (arg == "--user") {
      if (!(e = take(&v)).empty()) return e;
      if (v.rfind("S-1-", 0) != 0 && v.rfind("s-1-", 0) != 0) return "the argument --user needs a SID (S-1-...), not '" + v + "'";
      if (v.find('\\') != std::string::npos || v.size() > 184) return "the argument --user is not a SID: '" + v + "'";
      a->user = v;
    } else if (arg == "--machine") {
      if (!(e = flag()).empty()) return e;
      a->machine = true;
    } else if (arg == "--module") {
      if (!(e = take(&v)).empty()) return e;
      a->module = v;
    } else if (arg == "--bitness") {
      if (!(e = take(&v)).empty()) return e;
      if (v == "x86") a->bitness = PeMachine::kI386;
      else if (v == "x64") a->bitness = PeMachine::kAmd64;
      else if (v == "arm64") a->bitness = PeMachine::kArm64;
      else return "the argument --bitness must be x86, x64 or arm64, not '" + v + "'";
    } else if (arg == "--root") {
      if (!(e = take(&v)).empty()) return e;
      a->root = v;
    } else if (arg == "--json") {
      if (!(e = flag()).empty()) return e;
      a->json = true;
    } else if (arg == "--allow-unc") {
      if (!(e = flag()).empty()) return e;
      a->allow_unc = true;
    } else if (arg == "--stub-path") {
      if (!(e = take(&v)).empty()) return e;
      a->stub_paths.push_back(v);
    } else if (arg == "--system-dir") {
      if (!(e = take(&v)).empty()) return e;
      a->system_dir = v;
    } else if (arg == "--msi-component") {
      if (!(e = take(&v)).empty()) return e;
      const size_t comma = v.find(',');
      const size_t eq = v.find('=', comma == std::string::npos ? 0 : comma);
      if (comma == std::string::npos || eq == std::string::npos || comma == 0 || eq == comma + 1 || eq + 1 == v.size()) {
        return "the argument --msi-component needs {GUID},QUALIFIER=PATH, not '" + v + "'";
      }
      a->msi.push_back({utf8_to_utf16(v.substr(0, comma)), utf8_to_utf16(v.substr(comma + 1, eq - comma - 1)),
                        utf8_to_utf16(v.substr(eq + 1))});
    } else {
      return "unknown argument '" + arg + "'";
    }
  }
  if (a->help) return {};
  if (a->from.empty()) return "the argument --from FILE.reg is required";
  if (a->user && a->machine) return "the arguments --user and --machine exclude each other";
  return {};
}

// Reports every path as unchecked: resolve ran without --root.
class UncheckedFileSystem final : public FileSystem {
 public:
  FileKind stat(std::u16string_view, std::error_code* ec) const override {
    *ec = std::make_error_code(std::errc::operation_not_supported);
    return FileKind::kMissing;
  }
  std::error_code open(std::u16string_view, std::unique_ptr<ByteSource>*) const override {
    return std::make_error_code(std::errc::operation_not_supported);
  }
  std::u16string description() const override {
    return u"nothing: files are not checked without --root DIR (statuses 'missing' mean 'not checked')";
  }
};

struct Effective {
  const char* from;  // "override", "default", "fallback", "none"
  const Target* target;
};

Effective effective(const ScopeResolution& r, const AppOverride* o, bool simple) {
  const Target* candidate = &(simple ? r.simple : r.extended);
  const char* from = "default";
  if (o != nullptr) {
    candidate = o->uses_mapi32x ? &r.mapi32x : &(simple ? o->simple : o->extended);
    from = "override";
  }
  if (is_loadable(candidate->status)) return {from, candidate};
  if (is_loadable(r.mapi32x.status)) return {"fallback", &r.mapi32x};
  return {"none", candidate};
}

struct Context {
  const Args& args;
  const RegFileResult& parsed;
  const ScopeRequest& request;
  const ResolverOptions& options;
  const ScopeResolution& r;
  const Explanation& why;
  const AppOverride* module_override;
  std::u16string hkcu_display;
};

// A string member that may be null.
template <typename T>
Json json_string_or_null(const std::optional<T>& s) {
  return s ? json_string(*s) : Json(nullptr);
}

void write_json(const Context& c, std::ostream& out) {
  Json stub_paths = Json::array();
  for (const auto& p : c.options.stub_paths) stub_paths.push_back(json_string(p));
  Json overrides = Json::array();
  for (const auto& o : c.r.overrides) {
    overrides.push_back(Json::object({{"module", json_string(o.module)},
                                      {"client", json_string(o.client)},
                                      {"uses_mapi32x", o.uses_mapi32x},
                                      {"supports_utf8", o.supports_utf8},
                                      {"simple", json_target(o.simple)},
                                      {"extended", json_target(o.extended)}}));
  }
  Json effective_doc = Json::object(
      {{"module", json_string_or_null(c.args.module)},
       {"override", c.module_override ? json_string(c.module_override->module) : Json(nullptr)}});
  for (const bool simple : {true, false}) {
    const Effective e = effective(c.r, c.module_override, simple);
    effective_doc[simple ? "simple" : "extended"] = Json::object({{"from", e.from}, {"target", json_target(*e.target)}});
  }
  Json explanation = Json::array();
  for (const auto& step : c.why.steps) {
    explanation.push_back(Json::object({{"rule", json_string(step.rule)},
                                        {"key", json_string(step.key)},
                                        {"value", json_string(step.value)},
                                        {"detail", json_string(step.detail)}}));
  }
  const Json doc = Json::object({
      {"schema", "mapidispatch.resolve/1"},
      {"input", Json::object({{"file", json_string(c.args.from)},
                              {"format", to_string(c.parsed.format)},
                              {"encoding", to_string(c.parsed.encoding)},
                              {"keys", static_cast<uint64_t>(c.parsed.keys)},
                              {"values", static_cast<uint64_t>(c.parsed.values)}})},
      {"options", Json::object({{"bitness", c.options.process_machine ? to_string(*c.options.process_machine)
                                                                      : std::string_view("neutral")},
                                {"registry_view", to_string(c.options.view)},
                                {"allow_unc", c.options.allow_unc_paths},
                                {"root", json_string_or_null(c.args.root)},
                                {"files_checked", c.args.root.has_value()},
                                {"system_directory", json_string(c.options.system_directory)},
                                {"stub_paths", stub_paths}})},
      {"status", "ok"},
      {"scope", Json::object({{"kind", to_string(c.r.kind)},
                              {"sid", json_string(c.r.sid)},
                              {"hkcu", c.request.kind == ScopeKind::kUser ? json_string(c.hkcu_display) : Json(nullptr)}})},
      {"default_client", Json::object({{"name", json_string(c.r.default_client)},
                                       {"source", to_string(c.r.default_source)}})},
      {"simple", json_target(c.r.simple)},
      {"extended", json_target(c.r.extended)},
      {"mapi32x", json_target(c.r.mapi32x)},
      {"supports_utf8", c.r.supports_utf8},
      {"prefirstrun", Json::object({{"message", json_string(c.r.prefirstrun_message)},
                                    {"caption", json_string(c.r.prefirstrun_caption)}})},
      {"overrides", overrides},
      {"effective", effective_doc},
      {"explanation", explanation},
  });
  out << json_text(doc, JsonLayout::kPretty);
}

// Text for the terminal: C0 and C1 controls and DEL as \xNN (resolve_command.h says why).
std::string shown(std::u16string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::u16string clean;
  clean.reserve(s.size());
  for (const char16_t c : s) {
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) {
      clean += u"\\x";
      clean += static_cast<char16_t>(kHex[c >> 4]);
      clean += static_cast<char16_t>(kHex[c & 15]);
    } else {
      clean += c;
    }
  }
  return utf16_to_utf8(clean);
}
// The same for UTF-8 text (the arguments); invalid sequences become U+FFFD.
std::string shown(std::string_view utf8) { return shown(utf8_to_utf16(utf8)); }

void text_target(std::ostream& out, const char* label, const Target& t) {
  out << label << to_string(t.status);
  if (t.machine != PeMachine::kUnknown) out << " " << to_string(t.machine);
  if (!t.path.empty()) out << "  " << shown(t.path);
  out << "\n                  source " << to_string(t.source);
  if (!t.client.empty()) out << ", client " << shown(t.client);
  if (!t.reason.empty()) out << ": " << shown(t.reason);
  out << "\n";
}

// Every string that comes from the export or the arguments goes through shown().
void write_text(const Context& c, std::ostream& out) {
  out << "Export:           " << shown(c.args.from) << " (" << to_string(c.parsed.format) << ", "
      << to_string(c.parsed.encoding) << ", " << c.parsed.keys << " keys, " << c.parsed.values << " values)\n";
  out << "Scope:            " << to_string(c.r.kind);
  if (c.request.kind == ScopeKind::kUser) {
    if (!c.r.sid.empty()) out << " " << shown(c.r.sid);
    out << " (HKCU = " << shown(c.hkcu_display) << ")";
  }
  out << "\nProcess:          "
      << (c.options.process_machine ? std::string(to_string(*c.options.process_machine)) : std::string("bitness-neutral"))
      << "\nDefault client:   "
      << (c.r.default_client.empty() ? std::string("(none)") : shown(c.r.default_client) + " (" +
                                                                   std::string(to_string(c.r.default_source)) + ")")
      << "\n";
  text_target(out, "Simple MAPI:      ", c.r.simple);
  text_target(out, "Extended MAPI:    ", c.r.extended);
  text_target(out, "mapi32x fallback: ", c.r.mapi32x);
  out << "SupportUTF8:      " << (c.r.supports_utf8 ? "yes" : "no") << "\n";
  if (!c.r.prefirstrun_message.empty() || !c.r.prefirstrun_caption.empty()) {
    out << "PreFirstRun:      \"" << shown(c.r.prefirstrun_message) << "\" (caption \""
        << shown(c.r.prefirstrun_caption) << "\")\n";
  }
  out << "Overrides:        " << c.r.overrides.size() << "\n";
  for (const auto& o : c.r.overrides) {
    out << "  " << shown(o.module) << " -> ";
    if (o.uses_mapi32x) {
      out << "mapi32x.dll\n";
    } else {
      out << "client " << shown(o.client) << ": simple " << to_string(o.simple.status) << ", extended "
          << to_string(o.extended.status) << "\n";
    }
  }
  out << "Effective";
  if (c.args.module) out << " for a process loading " << shown(*c.args.module);
  if (c.module_override) out << " (override " << shown(c.module_override->module) << ")";
  out << ":\n";
  for (const bool simple : {true, false}) {
    const Effective e = effective(c.r, c.module_override, simple);
    out << (simple ? "  Simple MAPI:    " : "  Extended MAPI:  ") << e.from << " -> " << to_string(e.target->status);
    if (!e.target->path.empty()) out << "  " << shown(e.target->path);
    out << "\n";
  }
  out << "Explanation:\n";
  size_t n = 0;
  for (const auto& step : c.why.steps) {
    out << "  " << ++n << ". " << step.rule << ": ";
    if (!step.key.empty()) {
      out << shown(step.key);
      if (!step.value.empty()) out << " [" << shown(step.value) << "]";
      out << ": ";
    }
    out << shown(step.detail) << "\n";
  }
}

int run(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  Args args;
  if (const std::string e = parse_args(argv, &args); !e.empty()) {
    err << "mapidispatch resolve: " << e << "\n" << kUsage;
    return kResolveExitUsage;
  }
  if (args.help) {
    out << kUsage;
    return kResolveExitOk;
  }

  std::ifstream in(local_path_from_utf8(args.from), std::ios::binary);
  if (!in) {
    err << "mapidispatch resolve: cannot read " << args.from << ": the file does not exist or is not readable\n";
    return kResolveExitInput;
  }
  std::vector<uint8_t> bytes;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bytes.insert(bytes.end(), buf, buf + in.gcount());
    if (bytes.size() > kMaxRegFileBytes) {
      err << "mapidispatch resolve: " << args.from << " is larger than 256 MiB: not a registry export this reader accepts\n";
      return kResolveExitInput;
    }
  }
  if (in.bad()) {
    err << "mapidispatch resolve: cannot read " << args.from << ": read error\n";
    return kResolveExitInput;
  }
  MemoryRegistry registry;
  const RegFileResult parsed = parse_reg_file(bytes, &registry);
  if (!parsed.ok) {
    err << "mapidispatch resolve: " << args.from;
    if (parsed.line != 0) err << ":" << parsed.line;
    err << ": " << parsed.message << "\n";
    return kResolveExitInput;
  }

  // The scope: --user SID reads HKEY_USERS\SID (or the export's HKEY_CURRENT_USER if the export
  // has no such hive but has an HKEY_CURRENT_USER: `reg export HKCU\...` run as that user).
  ScopeRequest request;
  std::u16string scope_note;
  if (args.user) {
    const std::u16string sid = utf8_to_utf16(*args.user);
    request = ScopeRequest::user_from_users(sid);
    std::unique_ptr<RegistryKey> probe;
    if (registry.open(RegRoot::kUsers, sid, RegView::kDefault, &probe) && registry.has_content(RegRoot::kCurrentUser)) {
      request = ScopeRequest::current_user(sid);
      scope_note = u"the export has no HKEY_USERS\\" + sid + u": its HKEY_CURRENT_USER is taken as that user's hive";
    }
  } else if (!args.machine && registry.has_content(RegRoot::kCurrentUser)) {
    request = ScopeRequest::current_user({});
  }

  const HivePath* user_hive = request.kind == ScopeKind::kUser ? &request.user_hive : nullptr;
  const MapEnvironment env = make_registry_environment(registry, user_hive, request.sid, args.bitness);
  const bool wow64 = registry_is_64bit_windows(registry);
  const std::u16string system_root = env.lookup(u"SystemRoot").value_or(u"C:\\Windows");

  ResolverOptions options;
  options.process_machine = args.bitness;
  options.view = args.bitness == PeMachine::kI386 ? RegView::k32 : RegView::k64;
  options.allow_unc_paths = args.allow_unc;
  options.stub_paths = {system_root + u"\\System32\\mapi32.dll"};
  if (wow64) options.stub_paths.push_back(system_root + u"\\SysWOW64\\mapi32.dll");
  for (const auto& p : args.stub_paths) options.stub_paths.push_back(utf8_to_utf16(p));
  if (args.system_dir) {
    options.system_directory = utf8_to_utf16(*args.system_dir);
  } else {
    options.system_directory =
        system_root + (args.bitness == PeMachine::kI386 && wow64 ? u"\\SysWOW64" : u"\\System32");
  }

  MemoryMsiComponents msi(!args.msi.empty(), args.msi.empty()
                                                  ? u"not available offline (give --msi-component {GUID},QUALIFIER=PATH)"
                                                  : u"the --msi-component list");
  for (const auto& m : args.msi) msi.add(m.category, m.qualifier, m.path);
  UncheckedFileSystem unchecked;
  std::optional<RootedFileSystem> rooted;
  if (args.root) {
    std::error_code ec;
    const auto root = local_path_from_utf8(*args.root);
    if (!std::filesystem::is_directory(root, ec)) {
      err << "mapidispatch resolve: the argument --root must name a folder: " << *args.root << " is not one\n";
      return kResolveExitUsage;
    }
    rooted.emplace(root);
  }
  const FileSystem& files = rooted ? static_cast<const FileSystem&>(*rooted) : unchecked;
  // Imports can be followed only where there are files to read them from.
  options.check_dependencies = rooted.has_value();
  if (options.check_dependencies) options.known_dlls = read_known_dlls(registry);
  const ResolverServices services{registry, files, msi, env};

  ScopeResolution r;
  Explanation why;
  const ResolveStatus status = resolve_scope(request, services, options, &r, &why);
  if (status != ResolveStatus::kOk) {
    err << "mapidispatch resolve: resolution failed: " << to_string(status) << "\n";
    return kResolveExitInternal;
  }
  if (!scope_note.empty()) why.steps.insert(why.steps.begin() + 1, {"scope", {}, {}, scope_note});
  why.steps.push_back(
      {"dependency-offline", {}, {},
       rooted ? u"each provider's imports were looked for in the files under --root, in its folder, the system folder, "
                u"the Windows folder and the export's PATH; offline nothing says what a process adds (its own PATH, "
                u"SetDllDirectory folders, modules it has already loaded), so a process may still find what is "
                u"reported missing here"
              : u"the DLLs each provider imports were not checked: there are no files offline (give --root FOLDER "
                u"with a copy of the drives to check them)"});
  const AppOverride* o = args.module ? find_override(r, utf8_to_utf16(*args.module)) : nullptr;
  if (args.module) {
    why.steps.push_back({"module", {}, {},
                         o ? u"MSMapiApps has an override for " + o->module + u": it decides for that process"
                           : u"MSMapiApps has no override for " + utf8_to_utf16(*args.module) +
                                 u": the scope's default applies"});
  }
  const Context c{args, parsed, request, options, r, why, o,
                  request.kind == ScopeKind::kUser ? request.user_hive.display() : std::u16string()};
  if (args.json) {
    write_json(c, out);
  } else {
    write_text(c, out);
  }
  out.flush();
  return kResolveExitOk;
}

}  // namespace

int run_resolve_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) noexcept {
  try {
    return run(args, out, err);
  } catch (const std::bad_alloc&) {
    try {
      err << "mapidispatch resolve: out of memory\n";
    } catch (...) {
    }
    return kResolveExitInternal;
  } catch (...) {
    try {
      err << "mapidispatch resolve: internal error\n";
    } catch (...) {
    }
    return kResolveExitInternal;
  }
}

}  // namespace mapidispatch
