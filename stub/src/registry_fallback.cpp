// Copyright MapiDispatch authors.
//
// The stub's registry mode: the resolver the service runs, over this process's own HKCU and
// HKLM, its environment, the live file system and Windows Installer (existing installs only).
// The answer is for this process's bitness, so a provider of the other bitness comes back
// kWrongBitness with its reason instead of being loaded. UNC provider paths follow the
// administrator's AllowUncPaths, read where the service reads it (read_allow_unc_paths()).

#include "registry_fallback.h"

#include <windows.h>

#include "dllmain.h"
#include "mapidispatch/dispatch.h"
#include "mapidispatch/resolver.h"
#include "mapidispatch/win32/registry_win.h"
#include "mapidispatch/win32/resolver_win.h"

namespace mapidispatch::stub {

bool resolve_from_registry(const std::u16string& sid, ScopeResolution* machine, std::optional<ScopeResolution>* user,
                           std::string* why) noexcept {
  try {
    ResolverOptions options;
    options.process_machine = machine_of(this_process_bitness());
    options.stub_paths = win32::default_stub_paths();
    wchar_t self[MAX_PATH * 4];
    const DWORD n = ::GetModuleFileNameW(g_self, self, static_cast<DWORD>(std::size(self)));
    if (n > 0 && n < std::size(self)) options.stub_paths.emplace_back(self, self + n);
    // The same UNC policy as the service's answers, so that the stub denies or loads a UNC
    // provider as the table would have said. Read per resolution: a policy change applies at
    // the next one, as it does in the service.
    options.allow_unc_paths = read_allow_unc_paths(win32::Win32Registry());
#if defined(_M_IX86) || defined(__i386__)
    // Under WOW64, read as the service reads the answers for 32-bit processes: the 32-bit view,
    // in which the resolver reads HKLM\Software\Clients in the 64-bit view (shared by both views
    // on Windows 7 and later; Wine keeps a separate Wow6432Node copy). Without this, a 32-bit
    // process would get one provider from the table and another from the registry.
    BOOL wow64 = FALSE;
    if (::IsWow64Process(::GetCurrentProcess(), &wow64) && wow64) options.view = RegView::k32;
#endif
    // HKCU before HKLM is the resolver's rule, so the current user's scope is the whole answer
    // for this process: it serves as the "machine" scope of decide_dispatch().
    ScopeResolution scope;
    const ResolveStatus status = win32::resolve_live(ScopeRequest::current_user(sid), options, &scope);
    if (status != ResolveStatus::kOk) {
      *why = "registry resolution failed: " + std::string(to_string(status));
      return false;
    }
    scope.kind = ScopeKind::kMachine;
    scope.sid.clear();
    *machine = std::move(scope);
    user->reset();
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace mapidispatch::stub
