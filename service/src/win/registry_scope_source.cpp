// Copyright MapiDispatch authors.

#include "win/registry_scope_source.h"

#include <windows.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <stdexcept>

#include "mapidispatch/registry_reads.h"
#include "mapidispatch/resolver.h"
#include "mapidispatch/text.h"
#include "mapidispatch/win32/registry_win.h"
#include "mapidispatch/win32/resolver_win.h"
#include "text.h"

namespace mapidispatch::service {
namespace {

class ResolverScopeSource final : public ScopeSource {
 public:
  std::vector<std::u16string> user_sids() override {
    // Every loaded user hive is watched, also those without Clients\Mail yet (a user can create
    // it any time); only those with it get a scope (resolve_all).
    std::vector<std::u16string> out;
    for (DWORD i = 0;; ++i) {
      wchar_t name[256];
      DWORD len = 256;
      const LSTATUS rc = ::RegEnumKeyExW(HKEY_USERS, i, name, &len, nullptr, nullptr, nullptr, nullptr);
      if (rc == ERROR_NO_MORE_ITEMS) break;
      if (rc == ERROR_MORE_DATA) continue;  // longer than any SID
      if (rc != ERROR_SUCCESS) break;
      std::u16string sid(as_u16(std::wstring_view(name, len)));
      if (is_user_hive_sid(sid)) out.push_back(std::move(sid));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Resolutions resolve_all(const ResolveOptions& options) override {
    ResolverOptions opts = resolver_options(options);
    // Provider and dependency files (dependencies.h): each read once for every scope and both
    // views, and read again only when its stamp (identity, size, write time) changed since the
    // last pass; a full pass (start, refresh, revalidation, machine-wide changes) stamps each
    // distinct file once and forgets what nothing uses any more.
    dependency_cache_.begin_pass(true);
    opts.dependency_cache = &dependency_cache_;
    // The machine's environment variables, once per full pass (not once per user and view).
    environments_.emplace(MachineEnvironments{make_machine_environment(registry_, std::nullopt),
                                              make_machine_environment(registry_, PeMachine::kI386)});
    opts.machine_environments = &*environments_;
    // Bitness-neutral: each stub compares the recorded machine with its own.
    std::vector<std::u16string> sids;
    if (const std::error_code ec = list_user_scopes(registry_, &sids))
      throw std::runtime_error("listing the user scopes: " + ec.message());
    // SID order, the order apply_user_scopes() keeps, so that an incremental answer and a full one
    // compare equal when they are.
    std::sort(sids.begin(), sids.end());
    // 32-bit processes see another registry view and another System32: resolve again for them.
    // This process is 64-bit (the service is x64 only), so SysWOW64 exists exactly on 64-bit
    // Windows.
    const bool wow64 = has_wow64();
    // Progress: every scope of every view is a step (the service's start-up checkpoints).
    const size_t total = (sids.size() + 1) * (wow64 ? 2 : 1);
    size_t done = 0;
    const Step step = [&] {
      if (options.on_scope_resolved) options.on_scope_resolved(++done, total);
    };
    // Each user's HKLM reads, both views, for the next machine-wide change (resolve_machine).
    machine_reads_.clear();
    Resolutions out;
    out.scopes.resize(1);
    resolve_checked(&win32::resolve_live, ScopeRequest::machine(), opts, &out.scopes[0], "the machine scope", "");
    step();
    if (wow64) {
      out.wow64_scopes.resize(1);
      resolve_checked(&win32::resolve_live_wow64, ScopeRequest::machine(), opts, &out.wow64_scopes[0],
                      "the machine scope", kWow64Label);
      step();
    }
    // User by user, both views at once: they share their reads of the user's hive.
    for (const auto& sid : sids) {
      UserScopes u = resolve_user_views(sid, opts, wow64);
      out.scopes.push_back(std::move(*u.native));
      step();
      if (wow64) {
        out.wow64_scopes.push_back(std::move(*u.wow64));
        step();
      }
    }
    return out;
  }

  MachineScopes resolve_machine(const ResolveOptions& options) override {
    // The users first: the judgement compares each user's reads with the registry as it is now,
    // before anything is resolved again.
    MachineScopes out;
    out.affected_users = machine_reads_.changed_scopes(registry_, &out.reads_done);
    ResolverOptions opts = resolver_options(options);
    // A machine-wide change is when files appear (an install writes its DLLs, then its keys):
    // what this pass resolves looks at the disk again (stamps), not at the last full pass's.
    dependency_cache_.begin_pass(false);
    opts.dependency_cache = &dependency_cache_;
    resolve_checked(&win32::resolve_live, ScopeRequest::machine(), opts, &out.native, "the machine scope", "");
    if (has_wow64()) {
      out.wow64.emplace();
      resolve_checked(&win32::resolve_live_wow64, ScopeRequest::machine(), opts, &*out.wow64, "the machine scope",
                      kWow64Label);
    }
    return out;
  }

  UserScopes resolve_user(const std::u16string& sid, const ResolveOptions& options) override {
    UserScopes out;
    // The scope exists exactly where list_user_scopes() would list it: the hive has its own
    // Software\Clients\Mail key.
    std::unique_ptr<RegistryKey> mail;
    if (registry_.open(RegRoot::kUsers, sid + u"\\Software\\Clients\\Mail", RegView::kDefault, &mail)) {
      machine_reads_.erase(sid);
      return out;
    }
    ResolverOptions opts = resolver_options(options);
    // One user's change trusts the stamps of the last full pass: a user's registry write changes
    // nothing on disk, and stamping again every candidate path of every import (most of them
    // absent: each folder of the search order) cost 23 ms per change at 1,000 hives under Wine
    // (farm_bench: p50 46.8 ms against 23.6 ms without). Files that change on disk are the
    // revalidation's (RevalidateMinutes) and refresh's to find, as for the providers themselves.
    opts.dependency_cache = &dependency_cache_;
    return resolve_user_views(sid, opts, has_wow64());
  }

 private:
  ResolverOptions resolver_options(const ResolveOptions& options) const {
    ResolverOptions opts;
    // Those of the last full pass, if any (resolve_all reads them again).
    opts.machine_environments = environments_ ? &*environments_ : nullptr;
    opts.allow_unc_paths = options.allow_unc_paths;
    // Name the DLL a provider cannot load before anybody calls (issue #14); KnownDLLs does not
    // change while Windows runs, so it is read once.
    opts.check_dependencies = true;
    opts.known_dlls = known_dlls_;
    return opts;
  }

  using ResolveFn = ResolveStatus (*)(const ScopeRequest&, ResolverOptions, ScopeResolution*, Explanation*) noexcept;
  using Step = std::function<void()>;
  static constexpr const char* kWow64Label = " (32-bit processes)";

  // This process is 64-bit (the service is x64 only), so SysWOW64 exists exactly on 64-bit
  // Windows: then 32-bit processes have answers of their own.
  static bool has_wow64() {
    if constexpr (sizeof(void*) == 8) return !win32::wow64_system_directory().empty();
    return false;
  }

  static void resolve_checked(ResolveFn resolve, const ScopeRequest& request, const ResolverOptions& opts,
                              ScopeResolution* out, const std::string& what, const char* view) {
    if (const ResolveStatus st = resolve(request, opts, out, nullptr); st != ResolveStatus::kOk)
      throw std::runtime_error("resolving " + what + view + ": " + std::string(to_string(st)));
  }

  // One user's scope in the native view and, with `wow64`, for 32-bit processes: the two share
  // one cache of the user's hive reads (RegReadCache: nothing a user's hive holds that the
  // resolver reads is redirected), and their HKLM reads become the user's in machine_reads_.
  UserScopes resolve_user_views(const std::u16string& sid, ResolverOptions opts, bool wow64) {
    RegReadCache user_reads(RegRoot::kUsers);
    std::vector<RegRead> reads;
    opts.user_reads = &user_reads;
    opts.machine_reads = &reads;
    const ScopeRequest request = ScopeRequest::user_from_users(sid);
    const std::string what = "user " + utf8(sid);
    UserScopes out;
    out.native.emplace();
    resolve_checked(&win32::resolve_live, request, opts, &*out.native, what, "");
    if (wow64) {
      out.wow64.emplace();
      resolve_checked(&win32::resolve_live_wow64, request, opts, &*out.wow64, what, kWow64Label);
    }
    machine_reads_.set(sid, reads);
    return out;
  }

  win32::Win32Registry registry_;
  std::vector<std::u16string> known_dlls_ = read_known_dlls(registry_);
  DependencyCache dependency_cache_;  // across passes, see resolve_all
  RegReadLedger machine_reads_;       // each user scope's HKLM reads, see resolve_machine
  std::optional<MachineEnvironments> environments_;  // of the last full pass, see resolve_all
};

}  // namespace

bool is_user_hive_sid(std::u16string_view name) {
  if (text::iends_with(name, u"_Classes")) return false;
  return text::istarts_with(name, u"S-1-5-21-") || text::istarts_with(name, u"S-1-12-1-");
}

std::unique_ptr<ScopeSource> make_scope_source() { return std::make_unique<ResolverScopeSource>(); }

}  // namespace mapidispatch::service
