// Copyright MapiDispatch authors.

#include "mapidispatch/model.h"

namespace mapidispatch {

std::string_view to_string(ScopeKind kind) {
  switch (kind) {
    case ScopeKind::kMachine: return "machine";
    case ScopeKind::kUser: return "user";
  }
  return "unknown";
}

std::string_view to_string(ValueSource source) {
  switch (source) {
    case ValueSource::kNone: return "none";
    case ValueSource::kHkcu: return "hkcu";
    case ValueSource::kHklm: return "hklm";
    case ValueSource::kMsi: return "msi";
    case ValueSource::kFallback: return "fallback";
    case ValueSource::kOverride: return "override";
  }
  return "unknown";
}

std::string_view to_string(TargetStatus status) {
  switch (status) {
    case TargetStatus::kNotConfigured: return "not-configured";
    case TargetStatus::kFound: return "found";
    case TargetStatus::kMissing: return "missing";
    case TargetStatus::kWrongBitness: return "wrong-bitness";
    case TargetStatus::kNotADll: return "not-a-dll";
    case TargetStatus::kMissingExports: return "missing-exports";
    case TargetStatus::kRecursive: return "recursive";
    case TargetStatus::kComponentNotInstalled: return "component-not-installed";
    case TargetStatus::kInvalidPath: return "invalid-path";
    case TargetStatus::kDeniedByPolicy: return "denied-by-policy";
    case TargetStatus::kBadValue: return "bad-value";
    case TargetStatus::kSearchOrder: return "search-order";
  }
  return "unknown";
}

std::string_view to_string(PeMachine machine) {
  switch (machine) {
    case PeMachine::kUnknown: return "unknown";
    case PeMachine::kI386: return "x86";
    case PeMachine::kAmd64: return "x64";
    case PeMachine::kArm64: return "arm64";
  }
  return "other";
}

}  // namespace mapidispatch
