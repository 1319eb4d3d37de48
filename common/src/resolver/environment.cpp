// Copyright MapiDispatch authors.

#include "mapidispatch/environment.h"

#include <vector>

#include "mapidispatch/file_system.h"
#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

// What can be a variable reference: "%A B%" in "100% A B%" is text, not an unset variable.
bool plausible_name(std::u16string_view name) {
  return !name.empty() && name.size() <= 255 && name.find_first_of(u" \t\\/:;") == std::u16string_view::npos;
}

}  // namespace

ExpandStatus Environment::expand(std::u16string_view in, size_t max_chars, std::u16string* out,
                                 std::u16string* undefined) const {
  out->clear();
  undefined->clear();
  ExpandStatus status = ExpandStatus::kOk;
  size_t i = 0;
  while (i < in.size()) {
    const size_t open = in.find(u'%', i);
    if (open == std::u16string_view::npos) {
      out->append(in.substr(i));
      break;
    }
    out->append(in.substr(i, open - i));
    const size_t close = in.find(u'%', open + 1);
    if (close == std::u16string_view::npos) {
      out->append(in.substr(open));  // a lone '%' is text
      break;
    }
    const std::u16string_view name = in.substr(open + 1, close - open - 1);
    const std::optional<std::u16string> value = name.empty() ? std::nullopt : lookup(name);
    if (value) {
      out->append(*value);
      i = close + 1;
    } else {
      // Unset: keep "%NAME" and rescan from the second '%', as ExpandEnvironmentStringsW does.
      out->append(in.substr(open, close - open));
      if (plausible_name(name) && status == ExpandStatus::kOk) {
        status = ExpandStatus::kUndefined;
        *undefined = std::u16string(name);
      }
      i = close;
    }
    if (out->size() > max_chars) return ExpandStatus::kTooLong;
  }
  if (out->size() > max_chars) return ExpandStatus::kTooLong;
  return status;
}

std::vector<std::u16string> undefined_variables(const Environment& env, std::u16string_view in, size_t limit) {
  std::vector<std::u16string> names;
  size_t i = 0;
  while (names.size() < limit) {
    const size_t open = in.find(u'%', i);
    if (open == std::u16string_view::npos) break;
    const size_t close = in.find(u'%', open + 1);
    if (close == std::u16string_view::npos) break;
    const std::u16string_view name = in.substr(open + 1, close - open - 1);
    if (!plausible_name(name)) {
      i = close;  // text: rescan from the second '%', as the expansion does
    } else if (!env.lookup(name)) {
      names.emplace_back(name);
      i = close;
    } else {
      i = close + 1;
    }
  }
  return names;
}

void MapEnvironment::set(std::u16string_view name, std::u16string_view value) {
  vars_[text::fold(name)] = {std::u16string(name), std::u16string(value)};
}

std::optional<std::u16string> MapEnvironment::lookup(std::u16string_view name) const {
  const auto it = vars_.find(text::fold(name));
  if (it == vars_.end()) return std::nullopt;
  return it->second.second;
}

bool registry_is_64bit_windows(const Registry& registry) {
  std::unique_ptr<RegistryKey> key;
  return !registry.open(RegRoot::kLocalMachine, u"SOFTWARE\\Wow6432Node", RegView::k64, &key);
}

namespace {

// Reads a string value (expanded with `env` if REG_EXPAND_SZ); nullopt if absent or unusable.
std::optional<std::u16string> read_text(const RegistryKey& key, std::u16string_view name, const Environment& env) {
  RegValue v;
  if (key.read_value(name, &v)) return std::nullopt;
  std::u16string s;
  RegStringInfo info;
  if (decode_reg_string(v, kMaxPathChars, &s, &info) != RegStringStatus::kOk) return std::nullopt;
  if (!info.expandable) return s;
  std::u16string out, undefined;
  if (env.expand(s, kMaxPathChars, &out, &undefined) == ExpandStatus::kTooLong) return std::nullopt;
  return out;
}

// Copies every string value of `key` into env (bounded: an Environment key is small).
void import_values(const RegistryKey& key, MapEnvironment* env) {
  std::vector<std::u16string> names;
  bool truncated = false;
  if (key.value_names(1024, &names, &truncated)) return;
  for (const auto& n : names) {
    if (n.empty()) continue;
    if (auto v = read_text(key, n, *env)) env->set(n, *v);
  }
}

}  // namespace

MapEnvironment make_registry_environment(const Registry& registry, const HivePath* user, std::u16string_view sid,
                                         std::optional<PeMachine> process_machine) {
  MapEnvironment env = make_machine_environment(registry, process_machine);
  if (user != nullptr) add_user_environment(registry, *user, sid, &env);
  return env;
}

MapEnvironment make_machine_environment(const Registry& registry, std::optional<PeMachine> process_machine) {
  MapEnvironment env(u"variables derived from the registry (defaults, Session Manager\\Environment)");
  env.set(u"SystemDrive", u"C:");
  env.set(u"SystemRoot", u"C:\\Windows");
  env.set(u"windir", u"C:\\Windows");
  env.set(u"ProgramFiles", u"C:\\Program Files");
  env.set(u"ProgramW6432", u"C:\\Program Files");
  env.set(u"ProgramFiles(x86)", u"C:\\Program Files (x86)");
  env.set(u"CommonProgramFiles", u"C:\\Program Files\\Common Files");
  env.set(u"CommonProgramW6432", u"C:\\Program Files\\Common Files");
  env.set(u"CommonProgramFiles(x86)", u"C:\\Program Files (x86)\\Common Files");
  env.set(u"ProgramData", u"C:\\ProgramData");
  env.set(u"ALLUSERSPROFILE", u"C:\\ProgramData");
  env.set(u"PUBLIC", u"C:\\Users\\Public");

  std::unique_ptr<RegistryKey> key;
  if (!registry.open(RegRoot::kLocalMachine, u"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", RegView::k64, &key)) {
    if (auto v = read_text(*key, u"SystemRoot", env)) {
      env.set(u"SystemRoot", *v);
      env.set(u"windir", *v);
      if (v->size() >= 2 && (*v)[1] == u':') env.set(u"SystemDrive", v->substr(0, 2));
    }
  }
  if (!registry.open(RegRoot::kLocalMachine, u"SOFTWARE\\Microsoft\\Windows\\CurrentVersion", RegView::k64, &key)) {
    if (auto v = read_text(*key, u"ProgramFilesDir", env)) {
      env.set(u"ProgramFiles", *v);
      env.set(u"ProgramW6432", *v);
    }
    if (auto v = read_text(*key, u"ProgramFilesDir (x86)", env)) env.set(u"ProgramFiles(x86)", *v);
    if (auto v = read_text(*key, u"CommonFilesDir", env)) {
      env.set(u"CommonProgramFiles", *v);
      env.set(u"CommonProgramW6432", *v);
    }
    if (auto v = read_text(*key, u"CommonFilesDir (x86)", env)) env.set(u"CommonProgramFiles(x86)", *v);
  }
  if (!registry.open(RegRoot::kLocalMachine, u"SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment",
                     RegView::k64, &key)) {
    import_values(*key, &env);
  }
  if (process_machine == PeMachine::kI386 && registry_is_64bit_windows(registry)) {
    env.set(u"ProgramFiles", *env.lookup(u"ProgramFiles(x86)"));
    env.set(u"CommonProgramFiles", *env.lookup(u"CommonProgramFiles(x86)"));
  }
  return env;
}

void add_user_environment(const Registry& registry, const HivePath& user_hive, std::u16string_view sid,
                          MapEnvironment* out) {
  MapEnvironment& env = *out;
  env.set_description(u"variables derived from the registry (defaults, Session Manager\\Environment, the user's "
                      u"Environment key)");
  std::unique_ptr<RegistryKey> key;
  if (!sid.empty() &&
      !registry.open(RegRoot::kLocalMachine,
                     u"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\" + std::u16string(sid),
                     RegView::k64, &key)) {
    if (auto v = read_text(*key, u"ProfileImagePath", env)) {
      env.set(u"USERPROFILE", *v);
      env.set(u"APPDATA", *v + u"\\AppData\\Roaming");
      env.set(u"LOCALAPPDATA", *v + u"\\AppData\\Local");
    }
  }
  if (!registry.open(user_hive, u"Environment", RegView::k64, &key)) import_values(*key, &env);
}

}  // namespace mapidispatch
