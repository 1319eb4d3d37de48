// Copyright MapiDispatch authors.

#include "status.h"

#include <iomanip>

#include "change_log.h"
#include "cli.h"
#include "mapidispatch/json_writer.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table_layout.h"
#include "platform.h"
#include "text.h"

namespace mapidispatch::service {
namespace {

void print_target_text(const char* label, const Target& t, std::ostream& out) {
  out << "  " << std::left << std::setw(16) << label;
  if (t.path.empty()) {
    out << "(none) [" << to_string(t.status) << "]\n";
  } else {
    out << utf8(t.path) << " [" << to_string(t.status) << ", " << to_string(t.machine) << ", from "
        << to_string(t.source) << "]\n";
  }
  if (!t.client.empty()) out << "  " << std::setw(16) << "" << "client: " << utf8(t.client) << "\n";
  if (!t.reason.empty()) out << "  " << std::setw(16) << "" << "why: " << utf8(t.reason) << "\n";
}

void print_overrides_text(const ScopeResolution& s, std::ostream& out) {
  if (s.overrides.empty()) {
    out << "  " << std::left << std::setw(16) << "Overrides:" << "(none)\n";
    return;
  }
  for (const AppOverride& o : s.overrides) {
    out << "  " << std::left << std::setw(16) << "Override:" << utf8(o.module) << " -> "
        << (o.uses_mapi32x ? std::string("mapi32x.dll") : "client '" + utf8(o.client) + "'") << "\n";
    out << "  " << std::setw(16) << "" << "simple " << describe_target(o.simple) << ", extended "
        << describe_target(o.extended) << "\n";
  }
}

void print_scope_text(const ScopeResolution& s, std::ostream& out) {
  out << "\nScope " << scope_label(s) << "\n";
  out << "  " << std::left << std::setw(16) << "Default client:"
      << (s.default_client.empty() ? std::string("(none)") : utf8(s.default_client)) << " (from "
      << to_string(s.default_source) << ")" << (s.supports_utf8 ? ", SupportUTF8" : "") << "\n";
  print_target_text("Simple MAPI:", s.simple, out);
  print_target_text("Extended MAPI:", s.extended, out);
  print_target_text("mapi32x.dll:", s.mapi32x, out);
  print_overrides_text(s, out);
  if (!s.prefirstrun_message.empty())
    out << "  " << std::setw(16) << "PreFirstRun:" << utf8(s.prefirstrun_message) << "\n";
}

Json json_scope(const ScopeResolution& s) {
  Json overrides = Json::array();
  for (const AppOverride& o : s.overrides) {
    overrides.push_back(Json::object({{"module", json_string(o.module)},
                                      {"client", json_string(o.client)},
                                      {"uses_mapi32x", o.uses_mapi32x},
                                      {"simple", json_target(o.simple)},
                                      {"extended", json_target(o.extended)}}));
  }
  return Json::object({{"kind", to_string(s.kind)},
                       {"sid", json_string(s.sid)},
                       {"default_client", json_string(s.default_client)},
                       {"default_source", to_string(s.default_source)},
                       {"supports_utf8", s.supports_utf8},
                       {"simple", json_target(s.simple)},
                       {"extended", json_target(s.extended)},
                       {"mapi32x", json_target(s.mapi32x)},
                       {"prefirstrun_message", json_string(s.prefirstrun_message)},
                       {"prefirstrun_caption", json_string(s.prefirstrun_caption)},
                       {"overrides", overrides}});
}

Json json_scopes(const TableSnapshot& t) {
  Json scopes = Json::array({json_scope(t.machine)});
  for (const auto& u : t.users) scopes.push_back(json_scope(u));
  return scopes;
}

// The answers for 32-bit processes, as far as they differ from the 64-bit ones (most of a
// scope is the same in both views: the Clients\Mail keys are shared).
void print_wow64_text(const StatusReport& r, std::ostream& out) {
  if (!r.wow64) {
    out << "\n32-bit processes: the table has no answers of their own for them; 32-bit stubs read the registry\n";
    return;
  }
  out << "\n32-bit processes (WOW64: the 32-bit registry view, SysWOW64): where their answers differ\n";
  std::vector<const ScopeResolution*> native{&r.snapshot.machine};
  for (const auto& u : r.snapshot.users) native.push_back(&u);
  std::vector<const ScopeResolution*> wow64{&r.wow64->machine};
  for (const auto& u : r.wow64->users) wow64.push_back(&u);
  bool any = false;
  for (const ScopeResolution* w : wow64) {
    const ScopeResolution* n = nullptr;
    for (const ScopeResolution* c : native)
      if (c->kind == w->kind && c->sid == w->sid) n = c;
    if (n != nullptr && *n == *w) continue;
    any = true;
    if (n == nullptr) {
      print_scope_text(*w, out);
      continue;
    }
    out << "\nScope " << scope_label(*w) << ", 32-bit processes\n";
    if (n->default_client != w->default_client) out << "  Default client: " << utf8(w->default_client) << "\n";
    if (n->simple != w->simple) print_target_text("Simple MAPI:", w->simple, out);
    if (n->extended != w->extended) print_target_text("Extended MAPI:", w->extended, out);
    if (n->mapi32x != w->mapi32x) print_target_text("mapi32x.dll:", w->mapi32x, out);
    if (n->overrides != w->overrides) print_overrides_text(*w, out);
  }
  if (!any) out << "  (none: they get the same answers)\n";
}

// The running service's value of setting `name`, or null if unknown.
const EffectiveSetting* applied_setting(const StatusReport& r, const std::string& name) {
  if (!r.applied) return nullptr;
  for (const EffectiveSetting& a : *r.applied)
    if (a.name == name) return &a;
  return nullptr;
}

bool has_table(const StatusReport& r) {
  return r.opened && (r.read_result == TableError::kOk || r.read_result == TableError::kWriterStopped);
}

bool incomplete(const TableInfo& i) { return (i.flags & layout::kFlagIncomplete) != 0; }

// User scopes the writer was given for each view: published + left out.
size_t given_users(const StatusReport& r) { return r.snapshot.users.size() + r.snapshot.info.omitted_scope_count; }
size_t given_wow64_users(const StatusReport& r) {
  return r.wow64 ? r.wow64->users.size() + r.wow64->info.wow64_omitted_scope_count : 0;
}

// "4 of 11 user scope(s) did not fit in the section (64 KiB, SectionSizeKB=64); their processes
// read the registry", with the 32-bit processes' counts where they differ.
std::string incomplete_text(const StatusReport& r) {
  const TableInfo& i = r.snapshot.info;
  std::string t = std::to_string(i.omitted_scope_count) + " of " + std::to_string(given_users(r)) +
                  " user scope(s) did not fit in the section (" + std::to_string(i.total_size / 1024) + " KiB";
  const EffectiveSetting* size = applied_setting(r, "SectionSizeKB");
  for (const EffectiveSetting& st : r.settings)
    if (size == nullptr && st.name == "SectionSizeKB") size = &st;
  if (size != nullptr) t += ", SectionSizeKB=" + size->value;
  t += "); their processes read the registry";
  if (r.wow64 && (i.wow64_omitted_scope_count != i.omitted_scope_count || given_wow64_users(r) != given_users(r)))
    t += " (32-bit processes: " + std::to_string(i.wow64_omitted_scope_count) + " of " +
         std::to_string(given_wow64_users(r)) + ")";
  return t;
}

}  // namespace

StatusReport collect_status(const std::string& section, const std::string& service_name) {
  StatusReport r;
  r.section = section;
  r.service_name = service_name;
  r.service_state = service_state(service_name);
  r.settings = effective_settings(service_name);
  if (r.service_state.rfind("running", 0) == 0) r.applied = applied_settings(service_name);
  std::unique_ptr<ReadOnlySection> s;
  if (const std::error_code ec = ReadOnlySection::open(section, &s)) {
    r.open_error = ec.message();
    return r;
  }
  r.opened = true;
  r.trust = section_trust(*s);
  const TableReader reader(s->bytes());
  // Both views of one generation: a publish between the two reads is retried (bounded; a table
  // republished faster than this is shown without its WOW64 answers).
  for (int attempt = 0; attempt < 8; ++attempt) {
    r.read_result = reader.read_all(&r.snapshot);
    r.wow64.reset();
    if (!has_table(r) || r.snapshot.info.wow64_scope_count == 0) break;
    TableSnapshot w;
    const TableError e = reader.read_all(&w, {}, TableView::kWow64);
    if ((e == TableError::kOk || e == TableError::kWriterStopped) && w.info.sequence == r.snapshot.info.sequence) {
      r.wow64 = std::move(w);
      break;
    }
  }
  if (has_table(r)) r.writer_alive = process_alive(r.snapshot.info.writer_pid);
  return r;
}

bool stubs_trust(const StatusReport& r) {
  return r.opened && r.read_result == TableError::kOk && (!r.trust || r.trust->trusted);
}

int status_exit_code(const StatusReport& r) {
  if (!r.opened || r.read_result == TableError::kNotInitialized) return kStatusNoTable;
  if (!stubs_trust(r) || r.writer_alive == std::optional<bool>(false)) return kStatusFallback;
  return kStatusValid;
}

std::string verdict_line(const StatusReport& r) {
  if (!r.opened) return "no table (" + r.open_error + "): stubs read the registry";
  if (r.trust && !r.trust->trusted) return "NOT TRUSTED (" + r.trust->reason + "): stubs read the registry";
  switch (r.read_result) {
    case TableError::kOk:
      if (r.writer_alive == std::optional<bool>(false))
        return "valid, but its writer process is gone (killed?): stubs use it until the service restarts";
      if (incomplete(r.snapshot.info))
        return "valid and kept up to date, but incomplete: stubs use it; the users left out read the registry";
      return "valid and kept up to date: stubs use it";
    case TableError::kWriterStopped:
      return "writer stopped (service stopped): stubs read the registry";
    default:
      return make_error_code(r.read_result).message() + ": stubs read the registry";
  }
}

void print_status_text(const StatusReport& r, std::ostream& out) {
  out << std::left << std::setw(12) << "Section:" << r.section << "\n";
  if (!r.service_state.empty())
    out << std::setw(12) << "Service:" << r.service_name << " (" << r.service_state << ")\n";
  out << std::setw(12) << "Table:" << verdict_line(r) << "\n";
  if (!r.settings.empty()) {
    out << "Settings (source: policy = HKLM\\SOFTWARE\\Policies\\MapiDispatch, parameters = the service's Parameters key):\n";
    for (const auto& st : r.settings) {
      out << "  " << std::setw(18) << st.name << std::setw(28) << st.value << "(" << to_string(st.source) << ")";
      if (const EffectiveSetting* a = applied_setting(r, st.name); a != nullptr && !(*a == st))
        out << "  NOT APPLIED YET: the service runs with " << a->value << " (" << to_string(a->source)
            << ") until it rereads its parameters (sc control " << r.service_name << " paramchange)";
      out << "\n";
    }
  }
  if (!has_table(r)) return;
  const TableInfo& i = r.snapshot.info;
  out << std::setw(12) << "Generation:" << i.generation << "\n";
  out << std::setw(12) << "Published:" << format_filetime(i.publish_time) << "\n";
  out << std::setw(12) << "Writer:" << "pid " << i.writer_pid;
  if (r.writer_alive) out << (*r.writer_alive ? " (running)" : " (not running)");
  out << ((i.flags & layout::kFlagWriterStopped) ? ", flagged stopped" : "") << "\n";
  if (r.trust) out << std::setw(12) << "Security:" << (r.trust->trusted ? "owner and DACL trusted" : r.trust->reason) << "\n";
  out << std::setw(12) << "Size:" << i.payload_end << " of " << i.total_size << " bytes, " << i.scope_count
      << " scope(s), ABI " << layout::kAbiMajor << "." << i.abi_minor << "\n";
  if (incomplete(i)) out << std::setw(12) << "Incomplete:" << incomplete_text(r) << "\n";
  print_scope_text(r.snapshot.machine, out);
  for (const auto& u : r.snapshot.users) print_scope_text(u, out);
  print_wow64_text(r, out);
}

void print_status_json(const StatusReport& r, std::ostream& out) {
  Json settings = Json::array();
  for (const EffectiveSetting& st : r.settings) {
    const EffectiveSetting* a = applied_setting(r, st.name);
    settings.push_back(Json::object(
        {{"name", json_string(st.name)},
         {"value", json_string(st.value)},
         {"source", to_string(st.source)},
         {"applied", a == nullptr ? Json(nullptr)
                                  : Json::object({{"value", json_string(a->value)}, {"source", to_string(a->source)}})}}));
  }
  Json doc = Json::object({{"section", json_string(r.section)},
                           {"service", json_string(r.service_name)},
                           {"service_state", json_string(r.service_state)},
                           {"opened", r.opened},
                           {"open_error", json_string(r.open_error)},
                           {"read_result", to_string_table_error(r.read_result)},
                           {"stubs_use_table", stubs_trust(r)},
                           {"verdict", json_string(verdict_line(r))},
                           {"settings", settings}});
  if (r.trust) {
    doc["trusted"] = r.trust->trusted;
    doc["trust_reason"] = json_string(r.trust->reason);
  }
  if (has_table(r)) {
    const TableInfo& i = r.snapshot.info;
    doc["generation"] = i.generation;
    doc["publish_time"] = format_filetime(i.publish_time);
    doc["publish_filetime"] = i.publish_time;
    doc["writer_pid"] = i.writer_pid;
    doc["writer_alive"] = r.writer_alive ? Json(*r.writer_alive) : Json(nullptr);
    doc["writer_stopped"] = (i.flags & layout::kFlagWriterStopped) != 0;
    doc["payload_bytes"] = i.payload_end;
    doc["section_bytes"] = i.total_size;
    // Incomplete tables (table_layout.h): the user scopes given and left out, per view.
    doc["complete"] = !incomplete(i);
    doc["user_scopes"] = given_users(r);
    doc["omitted_user_scopes"] = i.omitted_scope_count;
    doc["wow64_user_scopes"] = r.wow64 ? Json(given_wow64_users(r)) : Json(nullptr);
    doc["wow64_omitted_user_scopes"] = r.wow64 ? Json(i.wow64_omitted_scope_count) : Json(nullptr);
    doc["incomplete"] = incomplete(i) ? Json(json_string(incomplete_text(r))) : Json(nullptr);
    doc["scopes"] = json_scopes(r.snapshot);
    doc["wow64_scopes"] = r.wow64 ? json_scopes(*r.wow64) : Json(nullptr);
  }
  out << json_text(doc, JsonLayout::kCompact);
}

std::string_view to_string_table_error(TableError e) {
  switch (e) {
    case TableError::kOk: return "ok";
    case TableError::kBusy: return "busy";
    case TableError::kWriterStopped: return "writer-stopped";
    case TableError::kNotInitialized: return "not-initialized";
    case TableError::kBadMagic: return "bad-magic";
    case TableError::kBadAbi: return "bad-abi";
    case TableError::kBadHeader: return "bad-header";
    case TableError::kBadDirectory: return "bad-directory";
    case TableError::kBadChecksum: return "bad-checksum";
    case TableError::kBadRecord: return "bad-record";
    case TableError::kNoMachineScope: return "no-machine-scope";
    case TableError::kRegionTooSmall: return "region-too-small";
    case TableError::kTooLarge: return "too-large";
    case TableError::kOutOfMemory: return "out-of-memory";
    case TableError::kWriterExists: return "writer-exists";
    case TableError::kUntrusted: return "untrusted";
    case TableError::kNoWow64View: return "no-wow64-view";
    case TableError::kUserNotInTable: return "user-not-in-table";
  }
  return "unknown";
}

int cmd_status(const Args& a, std::ostream& out, std::ostream&) {
  const StatusReport r = collect_status(section_for(a), a.value("--service-name", kDefaultServiceName));
  if (a.has("--json")) {
    print_status_json(r, out);
  } else {
    print_status_text(r, out);
  }
  return status_exit_code(r);
}

}  // namespace mapidispatch::service
