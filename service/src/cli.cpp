// Copyright MapiDispatch authors.

#include "cli.h"

#include <sstream>

#include "parameters.h"

#include "mapidispatch/resolve_command.h"

namespace mapidispatch::service {
namespace {

constexpr OptionSpec kServiceName{"--service-name", true, false};
constexpr OptionSpec kSection{"--section", true, false};

constexpr OptionSpec kStatusOpts[] = {kServiceName, kSection, {"--json", false, false}};
constexpr OptionSpec kExplainOpts[] = {kServiceName, kSection, {"--user", true, false},
                                       {"--module", true, true}, {"--bitness", true, false}};
constexpr OptionSpec kInstallOpts[] = {kServiceName, kSection, {"--display-name", true, false},
                                       {"--start", true, false}};
constexpr OptionSpec kNameOnlyOpts[] = {kServiceName};
constexpr OptionSpec kRunOpts[] = {kServiceName, kSection, {"--console", false, false}};

struct Command {
  std::string_view name;
  std::span<const OptionSpec> specs;
  int (*fn)(const Args&, std::ostream&, std::ostream&);
};

const Command kCommands[] = {
    {"status", kStatusOpts, &cmd_status},
    {"explain", kExplainOpts, &cmd_explain},
    {"install", kInstallOpts, &cmd_install},
    {"uninstall", kNameOnlyOpts, &cmd_uninstall},
    {"refresh", kNameOnlyOpts, &cmd_refresh},
    {"run", kRunOpts, &cmd_run},
    {"service", kNameOnlyOpts, &cmd_service},
};

int usage_error(std::ostream& err, const std::string& message) {
  err << "mapidispatch: " << message << "\n"
      << "Run 'mapidispatch help' for the commands and their options.\n";
  return kExitUsage;
}

}  // namespace

std::string Args::value(std::string_view name, std::string_view fallback) const {
  const auto it = options.find(name);
  if (it == options.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

std::vector<std::string> Args::values(std::string_view name) const {
  const auto it = options.find(name);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

bool parse_options(std::span<const std::string> args, std::span<const OptionSpec> specs, Args* out,
                   std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      *error = "unexpected argument '" + arg + "'";
      return false;
    }
    std::string name = arg;
    std::string value;
    bool inline_value = false;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name) spec = &s;
    if (spec == nullptr) {
      *error = "unknown option '" + name + "'";
      return false;
    }
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= args.size()) {
        *error = "option '" + name + "' needs a value";
        return false;
      }
      value = args[++i];
    } else if (!spec->takes_value && inline_value) {
      *error = "option '" + name + "' takes no value";
      return false;
    }
    auto& slot = out->options[name];
    if (!slot.empty() && !spec->repeatable) {
      *error = "option '" + name + "' given more than once";
      return false;
    }
    slot.push_back(value);
  }
  return true;
}

bool validate_service_name(std::string_view name, std::string* why) {
  if (name.empty() || name.size() > 80) {
    *why = "a service name is 1 to 80 characters";
    return false;
  }
  for (const char c : name) {
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      *why = "a service name may not contain '/', '\\' or control characters";
      return false;
    }
  }
  return true;
}

std::string section_for(const Args& a) {
  if (a.has("--section")) return a.value("--section");
  return configured_section_name(a.value("--service-name", kDefaultServiceName));
}

std::string usage_text() {
  std::ostringstream s;
  s << "Usage: mapidispatch COMMAND [OPTIONS]\n"
       "\n"
       "Administration of the MapiDispatch service, which publishes the MAPI dispatch table.\n"
       "\n"
       "Commands:\n"
       "  install   [--service-name NAME] [--display-name TEXT] [--section NAME] [--start auto|demand]\n"
       "            Install the service (LocalSystem, own process, restart on failure) and its\n"
       "            Event Log source. --section writes the SectionName parameter.\n"
       "  uninstall [--service-name NAME]\n"
       "            Stop and delete the service and its Event Log source.\n"
       "  run --console [--service-name NAME] [--section NAME]\n"
       "            Run the service in the foreground (debugging); Ctrl+C stops it.\n"
       "  status    [--service-name NAME] [--section NAME] [--json]\n"
       "            Read the table as a stub does: generation, publish time, writer, every scope.\n"
       "            Exit 0 if the table is valid and kept, 1 if stubs would fall back to the\n"
       "            registry, 3 if there is no table.\n"
       "  refresh   [--service-name NAME]\n"
       "            Ask the service for a full re-resolve and publish (control code 128).\n"
       "  explain   [--user SID] [--module NAME]... [--bitness x86|x64|arm64] [--section NAME]\n"
       "            How a process of that user, bitness and loaded modules would be dispatched now.\n"
       "  resolve   ARGS...\n"
       "            Resolve from the registry now, without the service (see 'mapidispatch resolve --help').\n"
       "  service   [--service-name NAME]\n"
       "            Entry point used by the Service Control Manager; not for interactive use.\n"
       "  help      This text.\n"
       "\n"
       "Defaults: --service-name "
    << kDefaultServiceName << ", --section: the service's SectionName parameter, else\n"
    << "the production section.\n";
  return s.str();
}

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) return usage_error(err, "no command given");
  const std::string& word = args[0];
  if (word == "help" || word == "--help" || word == "-h" || word == "/?") {
    out << usage_text();
    return kExitOk;
  }
  if (word == "resolve") {
    return run_resolve_command(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  }
  for (const Command& c : kCommands) {
    if (c.name != word) continue;
    Args parsed;
    parsed.command = word;
    std::string error;
    if (!parse_options(std::span<const std::string>(args).subspan(1), c.specs, &parsed, &error))
      return usage_error(err, word + ": " + error);
    if (parsed.has("--service-name") && !validate_service_name(parsed.value("--service-name"), &error))
      return usage_error(err, word + ": --service-name: " + error);
    if (parsed.has("--section") && !validate_section_name(parsed.value("--section"), &error))
      return usage_error(err, word + ": --section: " + error);
    try {
      return c.fn(parsed, out, err);
    } catch (const std::exception& e) {
      err << "mapidispatch " << word << ": " << e.what() << "\n";
      return kExitFailure;
    }
  }
  return usage_error(err, "unknown command '" + word + "'");
}

}  // namespace mapidispatch::service
