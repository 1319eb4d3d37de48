// Copyright MapiDispatch authors.

#include "mapidispatch/dispatch.h"

#include "mapidispatch/text.h"

namespace mapidispatch {
namespace {

char16_t fold(char16_t c) { return (c >= u'A' && c <= u'Z') ? static_cast<char16_t>(c - u'A' + u'a') : c; }

const Target& family_target(const ScopeResolution& s, Family f) { return f == Family::kSimple ? s.simple : s.extended; }
const Target& family_target(const AppOverride& o, Family f) { return f == Family::kSimple ? o.simple : o.extended; }

// The status a target has for a process of `bitness`.
TargetStatus effective_status(const Target& t, Bitness bitness) {
  // A bare file name's machine is unknown until a process loads it (the loader refuses one of the
  // wrong bitness, as it would under Windows' stub).
  if (t.status == TargetStatus::kSearchOrder) return t.status;
  if (is_loadable(t.status) && t.machine != machine_of(bitness)) return TargetStatus::kWrongBitness;
  return t.status;
}

std::string describe(const Target& t, TargetStatus status, Bitness bitness) {
  std::string s = text::utf16_to_utf8(t.path.empty() ? u"(no path)" : std::u16string_view(t.path));
  s += " is ";
  s += to_string(status);
  if (status == TargetStatus::kWrongBitness) {
    s += " (a ";
    s += to_string(t.machine);
    s += " DLL; this process is ";
    s += to_string(bitness);
    s += ")";
  }
  if (!t.reason.empty()) {
    s += ": ";
    s += text::utf16_to_utf8(t.reason);
  }
  return s;
}

void take(DispatchDecision* d, const Target& t, TargetStatus status, DecisionSource source) {
  d->status = status;
  d->machine = t.machine;
  d->source = source;
  d->client = t.client;
  d->usable = is_loadable(status);
  d->named_path = t.path;
  if (d->usable) d->path = t.path;
}

}  // namespace

std::string_view to_string(Family family) { return family == Family::kSimple ? "simple" : "extended"; }

std::string_view to_string(Bitness bitness) {
  switch (bitness) {
    case Bitness::kX86: return "x86";
    case Bitness::kX64: return "x64";
    case Bitness::kArm64: return "arm64";
  }
  return "unknown";
}

PeMachine machine_of(Bitness bitness) {
  switch (bitness) {
    case Bitness::kX86: return PeMachine::kI386;
    case Bitness::kX64: return PeMachine::kAmd64;
    case Bitness::kArm64: return PeMachine::kArm64;
  }
  return PeMachine::kUnknown;
}

Bitness this_process_bitness() {
#if defined(_M_ARM64) || defined(__aarch64__)
  return Bitness::kArm64;
#elif defined(_M_X64) || defined(__x86_64__)
  return Bitness::kX64;
#else
  return Bitness::kX86;
#endif
}

std::string_view to_string(DecisionSource source) {
  switch (source) {
    case DecisionSource::kOverride: return "override";
    case DecisionSource::kUserScope: return "user";
    case DecisionSource::kMachineScope: return "machine";
    case DecisionSource::kFallback: return "fallback";
    case DecisionSource::kNone: return "none";
  }
  return "unknown";
}

bool equal_file_names(std::u16string_view a, std::u16string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (fold(a[i]) != fold(b[i])) return false;
  return true;
}

DispatchDecision decide_dispatch(const ScopeResolution& machine, const ScopeResolution* user,
                                 std::span<const std::u16string> loaded_modules, Bitness bitness,
                                 Family family) {
  const ScopeResolution& scope = user != nullptr ? *user : machine;
  DispatchDecision d;
  d.prefirstrun_message = scope.prefirstrun_message;
  d.prefirstrun_caption = scope.prefirstrun_caption;
  const std::string scope_name = user != nullptr ? "user " + text::utf16_to_utf8(user->sid) : std::string("machine");

  // 1. MSMapiApps: a per-process decision, made before the default client is even looked at.
  for (const AppOverride& o : scope.overrides) {
    bool loaded = false;
    for (const auto& m : loaded_modules) loaded = loaded || equal_file_names(m, o.module);
    if (!loaded) continue;
    d.override_module = o.module;
    const Target& t = o.uses_mapi32x ? scope.mapi32x : family_target(o, family);
    const TargetStatus status = effective_status(t, bitness);
    take(&d, t, status, DecisionSource::kOverride);
    d.supports_utf8 = o.uses_mapi32x ? false : o.supports_utf8;
    d.reason = "MSMapiApps override for loaded module " + text::utf16_to_utf8(o.module) + " -> " +
               (o.uses_mapi32x ? std::string("mapi32x.dll") : "client " + text::utf16_to_utf8(o.client)) + ": " +
               describe(t, status, bitness);
    // Usable or not, the override decides: the Windows stub loads the override's DLL and fails
    // if it cannot, it does not fall through to the default client. The reason says why.
    return d;
  }

  // 2. The scope's default client.
  const Target& t = family_target(scope, family);
  const TargetStatus status = effective_status(t, bitness);
  take(&d, t, status, user != nullptr ? DecisionSource::kUserScope : DecisionSource::kMachineScope);
  d.supports_utf8 = scope.supports_utf8;
  const std::string client = scope.default_client.empty() ? std::string("(none)") : text::utf16_to_utf8(scope.default_client);
  d.reason = std::string(to_string(family)) + " MAPI, " + scope_name + " scope, default client " + client +
             ": " + describe(t, status, bitness);
  if (d.usable) return d;

  // 3. mapi32x.dll, when no client serves the family.
  const TargetStatus fallback_status = effective_status(scope.mapi32x, bitness);
  if (is_loadable(fallback_status)) {
    const std::string why = d.reason;
    take(&d, scope.mapi32x, fallback_status, DecisionSource::kFallback);
    d.client.clear();
    d.supports_utf8 = false;
    d.reason = why + "; using the mapi32x.dll fallback " + text::utf16_to_utf8(scope.mapi32x.path);
    return d;
  }

  // 4. Nothing serves it: keep the default target's status (the most useful "why") and path.
  d.usable = false;
  d.path.clear();
  d.named_path = t.path;
  d.reason += "; no mapi32x.dll fallback (" + std::string(to_string(fallback_status)) + ")";
  return d;
}

}  // namespace mapidispatch
