// Copyright MapiDispatch authors.
//
// The resolver's rule and hostile-input cases as data: a registry export, the files and
// Windows Installer components the machine has, options, and the checks on the answer. The
// native suite runs them on the in-memory registry the export describes; the Windows suite runs
// the same cases on the real registry, with the export written into a scratch key.

#ifndef MAPIDISPATCH_TESTS_RESOLVER_RESOLVER_CASES_H_
#define MAPIDISPATCH_TESTS_RESOLVER_RESOLVER_CASES_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mapidispatch/resolver.h"

namespace mapidispatch::test {

// Everything but the registry: files, Windows Installer, environment, options, scope.
struct World {
  MemoryFileSystem files;
  MemoryMsiComponents msi;
  MapEnvironment env;
  ResolverOptions options;
  ScopeRequest request = ScopeRequest::current_user(u"S-1-5-21-1-2-3-1001");
  World();
  // A provider DLL with every required export, for `machine`.
  void provider(const std::u16string& path, uint16_t machine = 0x8664);
};

struct Outcome {
  ResolveStatus status = ResolveStatus::kInternalError;
  ScopeResolution r;
  Explanation why;
  // The explanation as text, for failure messages.
  std::string text() const;
  // True if a step with `rule` mentions `fragment` (UTF-8) in its detail.
  bool says(const std::string& rule, const std::string& fragment = {}) const;
};

struct ResolverCase {
  std::string name;
  std::string reg;  // .reg text after the header line
  std::function<void(World&)> setup;
  std::function<void(const Outcome&)> verify;
};

const std::vector<ResolverCase>& resolver_cases();

// GoogleTest prints a failing parameter by its name.
inline void PrintTo(const ResolverCase& c, std::ostream* os) { *os << c.name; }

// "Windows Registry Editor Version 5.00" + the case's text.
std::string export_text(const ResolverCase& c);

Outcome resolve_with(const Registry& registry, World& world);

// read_allow_unc_paths() cases: the AllowUncPaths value of the Group Policy key and of the
// service's Parameters key (none: no value), and the effective setting the service applies.
struct UncPolicyCase {
  std::string name;
  std::optional<RegValue> policy;
  std::optional<RegValue> parameters;
  bool allowed = false;
};
inline void PrintTo(const UncPolicyCase& c, std::ostream* os) { *os << c.name; }
const std::vector<UncPolicyCase>& unc_policy_cases();
// Writes the case's values into HKLM\SOFTWARE\Policies\MapiDispatch and
// HKLM\SYSTEM\CurrentControlSet\Services\MapiDispatch\Parameters of `registry`.
void write_unc_policy(const UncPolicyCase& c, MemoryRegistry* registry);

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_RESOLVER_RESOLVER_CASES_H_
