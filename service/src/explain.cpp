// Copyright MapiDispatch authors.
//
// `mapidispatch explain`: the dispatch decision a process would get now, from the table when
// stubs would trust it, else from the registry (what stubs fall back to).

#include <iomanip>

#include "change_log.h"
#include "cli.h"
#include "mapidispatch/dispatch.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "platform.h"
#include "text.h"

namespace mapidispatch::service {
namespace {

bool parse_bitness(const std::string& s, Bitness* out) {
  const std::string t = ascii_lower(s);
  if (t == "x86") *out = Bitness::kX86;
  else if (t == "x64" || t == "amd64") *out = Bitness::kX64;
  else if (t == "arm64") *out = Bitness::kArm64;
  else return false;
  return true;
}

void print_decision(const char* family, const DispatchDecision& d, std::ostream& out) {
  out << family << "\n";
  out << "  " << std::left << std::setw(10) << "Loads:"
      << (d.usable ? utf8(d.path) : std::string("nothing: calls fail")) << "\n";
  out << "  " << std::setw(10) << "Status:" << to_string(d.status) << " (" << to_string(d.machine) << ")\n";
  out << "  " << std::setw(10) << "Because:" << "decided by " << to_string(d.source);
  if (!d.client.empty()) out << ", client '" << utf8(d.client) << "'";
  if (!d.override_module.empty()) out << ", MSMapiApps override for " << utf8(d.override_module);
  out << "\n  " << std::setw(10) << "" << d.reason << "\n";
  if (!d.usable && !d.prefirstrun_message.empty())
    out << "  " << std::setw(10) << "Shows:" << utf8(d.prefirstrun_message) << "\n";
}

}  // namespace

int cmd_explain(const Args& a, std::ostream& out, std::ostream& err) {
  Bitness bitness = this_process_bitness();
  if (a.has("--bitness") && !parse_bitness(a.value("--bitness"), &bitness)) {
    err << "mapidispatch: explain: --bitness must be x86, x64 or arm64, not '" << a.value("--bitness") << "'\n"
        << "Run 'mapidispatch help' for the commands and their options.\n";
    return kExitUsage;
  }
  std::u16string sid = a.has("--user") ? utf16(a.value("--user")) : current_user_sid();
  std::vector<std::u16string> modules;
  for (const auto& m : a.values("--module")) modules.push_back(utf16(m));

  // The answers of the process's view: this program is 64-bit, so the system is, and a 32-bit
  // process runs under WOW64 and reads the table's WOW64 answers (table_layout.h, "Two views").
  const bool wow64 = bitness == Bitness::kX86 && this_process_bitness() != Bitness::kX86;
  const TableView view = wow64 ? TableView::kWow64 : TableView::kNative;

  // As a stub would: the table when it is valid, kept and trusted; else the registry.
  const std::string section = section_for(a);
  ScopeResolution machine;
  std::optional<ScopeResolution> user;
  std::string origin;
  std::unique_ptr<ReadOnlySection> s;
  TableSnapshot snap;
  std::string table_problem;
  if (const std::error_code ec = ReadOnlySection::open(section, &s)) {
    table_problem = "no table (" + ec.message() + ")";
  } else if (const auto trust = section_trust(*s); trust && !trust->trusted) {
    table_problem = "the table is not trusted (" + trust->reason + ")";
  } else if (const TableError e = TableReader(s->bytes()).read(sid, &snap, {}, view); e != TableError::kOk) {
    // kUserNotInTable: usable for others; this user's scope is one of those that did not fit.
    table_problem = e == TableError::kUserNotInTable ? make_error_code(e).message()
                                                     : "the table is not usable (" + make_error_code(e).message() + ")";
  }
  if (table_problem.empty()) {
    machine = snap.machine;
    user = snap.user;
    origin = "table " + section + ", generation " + std::to_string(snap.info.generation) +
             (wow64 ? ", answers for 32-bit processes" : "");
  } else {
    Resolutions answers;
    std::string why;
    if (!resolve_from_registry(&answers, &why)) {
      err << "mapidispatch explain: " << table_problem << ", and the registry cannot be read here: " << why << "\n";
      return kExitFailure;
    }
    for (auto& sc : wow64 && !answers.wow64_scopes.empty() ? answers.wow64_scopes : answers.scopes) {
      if (sc.kind == ScopeKind::kMachine) machine = std::move(sc);
      else if (sc.sid == sid) user = std::move(sc);
    }
    origin = "the registry, as stubs do: " + table_problem;
  }

  out << "Process:  " << to_string(bitness) << ", user " << (sid.empty() ? std::string("(unknown)") : utf8(sid))
      << (user ? " (has its own Clients\\Mail settings)" : " (uses the machine settings)") << ", modules: ";
  if (modules.empty()) out << "(none given)";
  for (size_t i = 0; i < modules.size(); ++i) out << (i ? ", " : "") << utf8(modules[i]);
  out << "\nFrom:     " << origin << "\n\n";
  const ScopeResolution* u = user ? &*user : nullptr;
  print_decision("Simple MAPI (MAPISendMail, MAPILogon, ...)",
                 decide_dispatch(machine, u, modules, bitness, Family::kSimple), out);
  out << "\n";
  print_decision("Extended MAPI (MAPIInitialize, MAPILogonEx, ...)",
                 decide_dispatch(machine, u, modules, bitness, Family::kExtended), out);
  return kExitOk;
}

}  // namespace mapidispatch::service
