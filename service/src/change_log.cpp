// Copyright MapiDispatch authors.

#include "change_log.h"

#include <map>

#include "mapidispatch/resolver.h"
#include "text.h"

namespace mapidispatch::service {
namespace {

std::string key_of(const ScopeResolution& s) { return s.kind == ScopeKind::kMachine ? std::string() : utf8(s.sid); }

void compare_target(const std::string& label, const char* family, const Target& a, const Target& b,
                    std::vector<std::string>* out) {
  // A dependency found missing (or found again) changes no status but whether the DLL loads.
  if (a.path == b.path && a.status == b.status && a.machine == b.machine &&
      reports_unloadable_dependency(a) == reports_unloadable_dependency(b))
    return;
  out->push_back(label + " " + family + ": " + describe_target(a) + " -> " + describe_target(b));
}

}  // namespace

std::string describe_target(const Target& t) {
  if (t.path.empty()) return "(none: " + std::string(to_string(t.status)) + ")";
  std::string s = utf8(t.path) + " (" + std::string(to_string(t.status));
  if (t.machine != PeMachine::kUnknown) s += ", " + std::string(to_string(t.machine));
  // A DLL that lacks some entry points is used all the same: the log says which calls will fail
  // (the reason, worded as a warning by the resolver).
  // So does one that a missing dependency keeps from loading (issue #14).
  if ((t.status == TargetStatus::kMissingExports || reports_unloadable_dependency(t)) && !t.reason.empty())
    s += "; " + utf8(t.reason);
  return s + ")";
}

std::map<std::string, std::string> unloadable_providers(std::span<const ScopeResolution> scopes,
                                                        std::string_view view) {
  std::map<std::string, std::string> out;
  auto add = [&](const Target& t) {
    if (!reports_unloadable_dependency(t)) return;
    std::string key = utf8(t.path);
    if (!view.empty()) key += " (for " + std::string(view) + "processes)";
    out.emplace(std::move(key), utf8(t.reason));
  };
  for (const auto& s : scopes) {
    add(s.simple);
    add(s.extended);
    add(s.mapi32x);
    for (const auto& o : s.overrides) {
      add(o.simple);
      add(o.extended);
    }
  }
  return out;
}

DependencyEvents dependency_events(const std::map<std::string, std::string>& before,
                                   const std::map<std::string, std::string>& after) {
  DependencyEvents e;
  for (const auto& [key, why] : after) {
    const auto it = before.find(key);
    if (it == before.end() || it->second != why) e.warnings.push_back("provider " + key + ": " + why);
  }
  for (const auto& [key, why] : before) {
    if (!after.count(key))
      e.fixed.push_back("provider " + key + " loads again: every DLL it imports is found (or no scope names it any more)");
  }
  return e;
}

std::string describe_fit(const TableFit& fit) {
  if (fit.complete()) return {};
  std::string t = std::to_string(fit.omitted) + " of " + std::to_string(fit.user_scopes) + " user scope(s) did not fit";
  if (fit.wow64_user_scopes != 0 && (fit.wow64_omitted != fit.omitted || fit.wow64_user_scopes != fit.user_scopes))
    t += "; 32-bit processes: " + std::to_string(fit.wow64_omitted) + " of " + std::to_string(fit.wow64_user_scopes);
  return t;
}

std::optional<CompletenessEvent> completeness_event(bool was_complete, const TableFit& now, const std::string& section,
                                                    size_t section_bytes, uint32_t size_kb) {
  const std::string where = "section " + section + " (" + std::to_string(section_bytes / 1024) + " KiB)";
  if (was_complete && !now.complete()) {
    return CompletenessEvent{
        true, "the table is incomplete: " + describe_fit(now) + " in " + where +
                  "; the processes of the users left out read the registry (the same answers, found by each "
                  "process itself), everybody else's use the table. Raise SectionSizeKB (now " +
                  std::to_string(size_kb) +
                  "): a section keeps the size it was created with while any process maps it, so the new size "
                  "applies once the section is created again (after a restart of Windows)"};
  }
  if (!was_complete && now.complete())
    return CompletenessEvent{false, "the table is complete again: all " + std::to_string(now.user_scopes) +
                                        " user scope(s) fit in " + where};
  return std::nullopt;
}

std::string scope_label(const ScopeResolution& s) {
  return s.kind == ScopeKind::kMachine ? std::string("machine") : "user " + utf8(s.sid);
}

std::vector<std::string> describe_changes(std::span<const ScopeResolution> before,
                                          std::span<const ScopeResolution> after, std::string_view view) {
  std::map<std::string, const ScopeResolution*> old_scopes, new_scopes;
  for (const auto& s : before) old_scopes[key_of(s)] = &s;
  for (const auto& s : after) new_scopes[key_of(s)] = &s;
  std::vector<std::string> out;
  for (const auto& [key, now] : new_scopes) {
    const std::string label = std::string(view) + scope_label(*now);
    const auto it = old_scopes.find(key);
    if (it == old_scopes.end()) {
      out.push_back(label + ": added (client '" + utf8(now->default_client) + "', simple " +
                    describe_target(now->simple) + ", extended " + describe_target(now->extended) + ")");
      continue;
    }
    const ScopeResolution& was = *it->second;
    if (was.default_client != now->default_client || was.default_source != now->default_source)
      out.push_back(label + " client: '" + utf8(was.default_client) + "' (" + std::string(to_string(was.default_source)) +
                    ") -> '" + utf8(now->default_client) + "' (" + std::string(to_string(now->default_source)) + ")");
    compare_target(label, "simple", was.simple, now->simple, &out);
    compare_target(label, "extended", was.extended, now->extended, &out);
    compare_target(label, "mapi32x", was.mapi32x, now->mapi32x, &out);
    if (was.overrides != now->overrides)
      out.push_back(label + " overrides: " + std::to_string(was.overrides.size()) + " -> " +
                    std::to_string(now->overrides.size()) + " (changed)");
    if (was.supports_utf8 != now->supports_utf8)
      out.push_back(label + " SupportUTF8: " + (was.supports_utf8 ? "1" : "0") + " -> " + (now->supports_utf8 ? "1" : "0"));
    if (was.prefirstrun_message != now->prefirstrun_message || was.prefirstrun_caption != now->prefirstrun_caption)
      out.push_back(label + " PreFirstRun changed");
  }
  for (const auto& [key, was] : old_scopes)
    if (new_scopes.find(key) == new_scopes.end()) out.push_back(std::string(view) + scope_label(*was) + ": removed");
  return out;
}

std::string join_changes(const std::vector<std::string>& items) {
  if (items.empty()) return "no change";
  std::string s;
  for (const auto& i : items) {
    if (!s.empty()) s += "; ";
    s += i;
  }
  return s;
}

}  // namespace mapidispatch::service
