// Copyright MapiDispatch authors.
//
// TEMPORARY resolver (see the header): replaced by an adapter over common/resolver.h when it
// lands.

#include "win/registry_scope_source.h"

#include <windows.h>

#include <algorithm>
#include <stdexcept>

#include "text.h"
#include "win/registry.h"

#ifdef MAPIDISPATCH_HAVE_RESOLVER
#include "mapidispatch/resolver.h"
#include "mapidispatch/win32/registry_win.h"
#include "mapidispatch/win32/resolver_win.h"
#endif

namespace mapidispatch::service {
namespace {

char16_t fold(char16_t c) { return (c >= u'A' && c <= u'Z') ? static_cast<char16_t>(c - u'A' + u'a') : c; }

bool iequals(std::u16string_view a, std::u16string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (fold(a[i]) != fold(b[i])) return false;
  return true;
}

bool istarts_with(std::u16string_view s, std::u16string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

Target with(TargetStatus status, std::u16string path, ValueSource source, std::u16string client, std::u16string reason) {
  Target t;
  t.status = status;
  t.path = std::move(path);
  t.source = source;
  t.client = std::move(client);
  t.reason = std::move(reason);
  return t;
}

// The PE machine of a DLL, or why the file is not one.
TargetStatus read_pe(const std::u16string& path, PeMachine* machine, std::u16string* reason) {
  const std::wstring p(as_wide(path));
  win32::UniqueKernelHandle f(::CreateFileW(p.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                            nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!f) {
    const DWORD e = ::GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND) {
      *reason = u"the file does not exist";
      return TargetStatus::kMissing;
    }
    *reason = u"the file cannot be opened (error " + utf16(std::to_string(e)) + u")";
    return TargetStatus::kMissing;
  }
  auto read_at = [&](LONG offset, void* buf, DWORD n) {
    if (::SetFilePointer(f.get(), offset, nullptr, FILE_BEGIN) == INVALID_SET_FILE_POINTER) return false;
    DWORD got = 0;
    return ::ReadFile(f.get(), buf, n, &got, nullptr) && got == n;
  };
  unsigned char dos[64];
  if (!read_at(0, dos, sizeof dos) || dos[0] != 'M' || dos[1] != 'Z') {
    *reason = u"the file is not a PE image (no MZ header)";
    return TargetStatus::kNotADll;
  }
  const LONG pe = static_cast<LONG>(dos[0x3C] | (dos[0x3D] << 8) | (dos[0x3E] << 16) | (static_cast<unsigned>(dos[0x3F]) << 24));
  unsigned char nt[24];
  if (pe <= 0 || pe > 64 * 1024 * 1024 || !read_at(pe, nt, sizeof nt) || nt[0] != 'P' || nt[1] != 'E' || nt[2] || nt[3]) {
    *reason = u"the file is not a PE image (no PE header)";
    return TargetStatus::kNotADll;
  }
  *machine = static_cast<PeMachine>(nt[4] | (nt[5] << 8));
  const unsigned characteristics = nt[22] | (nt[23] << 8);
  if ((characteristics & 0x2000) == 0) {  // IMAGE_FILE_DLL
    *reason = u"the file is a PE image but not a DLL";
    return TargetStatus::kNotADll;
  }
  return TargetStatus::kFound;
}

std::vector<std::u16string> subkey_names(HKEY key) {
  std::vector<std::u16string> names;
  for (DWORD i = 0;; ++i) {
    wchar_t name[256];
    DWORD len = 256;
    const LSTATUS rc = ::RegEnumKeyExW(key, i, name, &len, nullptr, nullptr, nullptr, nullptr);
    if (rc == ERROR_NO_MORE_ITEMS) break;
    if (rc == ERROR_MORE_DATA) continue;  // longer than any SID
    if (rc != ERROR_SUCCESS) break;
    names.emplace_back(as_u16(std::wstring_view(name, len)));
  }
  return names;
}

class RegistryScopeSource final : public ScopeSource {
 public:
  std::vector<std::u16string> user_sids() override {
    std::vector<std::u16string> out;
    for (auto& n : subkey_names(HKEY_USERS))
      if (is_user_hive_sid(n)) out.push_back(std::move(n));
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<ScopeResolution> resolve_all(const std::vector<std::u16string>& users,
                                           const ResolveOptions& options) override {
    allow_unc_ = options.allow_unc_paths;
    std::vector<ScopeResolution> out;
    UniqueHkey hklm_mail;
    open_key(HKEY_LOCAL_MACHINE, kClientsMailPath, KEY_READ, &hklm_mail);
    overrides_ = read_overrides(hklm_mail.get());
    mapi32x_ = resolve_mapi32x();

    ScopeResolution machine;
    machine.kind = ScopeKind::kMachine;
    fill_scope(&machine, nullptr, hklm_mail.get(), ValueSource::kHklm);
    out.push_back(std::move(machine));

    for (const auto& sid : users) {
      UniqueHkey user_mail;
      if (open_key(HKEY_USERS, std::wstring(as_wide(sid)) + L"\\" + kClientsMailPath, KEY_READ, &user_mail)) continue;
      bool bad = false;
      if (read_string(user_mail.get(), L"", &bad).empty() && !bad) continue;  // no default of its own
      ScopeResolution u;
      u.kind = ScopeKind::kUser;
      u.sid = sid;
      fill_scope(&u, user_mail.get(), hklm_mail.get(), ValueSource::kHkcu);
      out.push_back(std::move(u));
    }
    return out;
  }

 private:
  // `user_mail` null for the machine scope.
  void fill_scope(ScopeResolution* s, HKEY user_mail, HKEY hklm_mail, ValueSource user_source) {
    HKEY mail = user_mail ? user_mail : hklm_mail;
    bool bad = false;
    s->default_client = mail ? read_string(mail, L"", &bad) : std::u16string();
    s->default_source = s->default_client.empty() ? ValueSource::kNone : (user_mail ? user_source : ValueSource::kHklm);
    const std::u16string prefirstrun = mail ? read_string(mail, L"PreFirstRun") : std::u16string();
    if (const size_t star = prefirstrun.rfind(u'*'); star != std::u16string::npos) {
      s->prefirstrun_message = prefirstrun.substr(0, star);
      s->prefirstrun_caption = prefirstrun.substr(star + 1);
    } else {
      s->prefirstrun_message = prefirstrun;
    }
    s->mapi32x = mapi32x_;
    s->overrides = overrides_;
    if (bad) {
      s->simple = with(TargetStatus::kBadValue, {}, s->default_source, {}, u"the (Default) value of Clients\\Mail is not a string");
      s->extended = s->simple;
      return;
    }
    if (s->default_client.empty()) {
      s->simple = with(TargetStatus::kNotConfigured, {}, ValueSource::kNone, {}, u"no default mail client is set");
      s->extended = s->simple;
      return;
    }
    // A client named in HKCU but absent there is read from HKLM (the SDK's behaviour).
    ValueSource client_source = s->default_source;
    UniqueHkey client = open_client(user_mail, s->default_client);
    if (!client && user_mail) {
      client = open_client(hklm_mail, s->default_client);
      client_source = ValueSource::kHklm;
    }
    resolve_client(client.get(), s->default_client, client_source, &s->simple, &s->extended, &s->supports_utf8);
  }

  static UniqueHkey open_client(HKEY mail, const std::u16string& name) {
    UniqueHkey k;
    if (mail) ::RegOpenKeyExW(mail, std::wstring(as_wide(name)).c_str(), 0, KEY_READ | KEY_WOW64_64KEY, k.put());
    return k;
  }

  void resolve_client(HKEY client, const std::u16string& name, ValueSource source, Target* simple, Target* extended,
                      bool* utf8_flag) {
    if (!client) {
      *simple = with(TargetStatus::kNotConfigured, {}, source, name, u"the client key Clients\\Mail\\" + name + u" does not exist");
      *extended = *simple;
      return;
    }
    RawValue v;
    uint32_t flag = 0;
    std::string why;
    if (!read_raw(client, L"SupportUTF8", &v) && v.present && raw_to_dword(v, &flag, &why)) *utf8_flag = flag != 0;
    const bool has_msi = !read_string(client, L"MSIComponentID").empty();
    auto one = [&](const wchar_t* value) {
      bool bad = false;
      const std::u16string path = read_string(client, value, &bad);
      if (bad) return with(TargetStatus::kBadValue, {}, source, name, utf16(utf8(std::wstring_view(value))) + u" is not a string");
      if (path.empty()) {
        return with(TargetStatus::kNotConfigured, {}, source, name,
                    has_msi ? u"MSIComponentID is set; the temporary resolver does not query Windows Installer"
                            : utf16(utf8(std::wstring_view(value))) + u" is not set");
      }
      return check_provider_path(path, source, name, allow_unc_);
    };
    *simple = one(L"DLLPath");
    *extended = one(L"DLLPathEx");
  }

  std::vector<AppOverride> read_overrides(HKEY hklm_mail) {
    std::vector<AppOverride> out;
    UniqueHkey apps;
    if (open_key(HKEY_LOCAL_MACHINE, kMsMapiAppsPath, KEY_READ, &apps)) return out;
    for (DWORD i = 0; out.size() < 4096; ++i) {
      wchar_t name[16384];
      DWORD len = 16384;
      const LSTATUS rc = ::RegEnumValueW(apps.get(), i, name, &len, nullptr, nullptr, nullptr, nullptr);
      if (rc == ERROR_NO_MORE_ITEMS) break;
      if (rc != ERROR_SUCCESS) continue;
      if (len == 0) continue;  // the (Default) value names no module
      AppOverride o;
      o.module.assign(as_u16(std::wstring_view(name, len)));
      bool bad = false;
      o.client = read_string(apps.get(), std::wstring_view(name, len), &bad);
      if (bad) {
        o.simple = with(TargetStatus::kBadValue, {}, ValueSource::kOverride, {}, u"the MSMapiApps value is not a string");
        o.extended = o.simple;
      } else if (o.client.empty()) {
        o.uses_mapi32x = true;
        o.simple = mapi32x_;
        o.extended = mapi32x_;
      } else {
        UniqueHkey client = open_client(hklm_mail, o.client);
        resolve_client(client.get(), o.client, ValueSource::kOverride, &o.simple, &o.extended, &o.supports_utf8);
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  Target resolve_mapi32x() {
    wchar_t sys[MAX_PATH];
    const UINT n = ::GetSystemDirectoryW(sys, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return with(TargetStatus::kMissing, {}, ValueSource::kFallback, {}, u"no system directory");
    const std::u16string dir(as_u16(std::wstring_view(sys, n)));
    const std::wstring inf = std::wstring(sys, n) + L"\\mapisvc.inf";
    Target t = check_provider_path(dir + u"\\mapi32x.dll", ValueSource::kFallback, {}, true);
    if (t.status == TargetStatus::kFound && ::GetFileAttributesW(inf.c_str()) == INVALID_FILE_ATTRIBUTES) {
      t.status = TargetStatus::kMissing;
      t.reason = u"mapi32x.dll exists but mapisvc.inf does not";
    }
    return t;
  }

  bool allow_unc_ = false;
  std::vector<AppOverride> overrides_;
  Target mapi32x_;
};

}  // namespace

bool is_user_hive_sid(std::u16string_view name) {
  if (name.size() >= 8 && iequals(name.substr(name.size() - 8), u"_Classes")) return false;
  return istarts_with(name, u"S-1-5-21-") || istarts_with(name, u"S-1-12-1-");
}

Target check_provider_path(std::u16string path, ValueSource source, std::u16string client, bool allow_unc) {
  Target t = with(TargetStatus::kFound, path, source, std::move(client), {});
  if (path.size() > 32767) {
    t.path.clear();
    t.status = TargetStatus::kInvalidPath;
    t.reason = u"the path is longer than 32767 characters";
    return t;
  }
  const bool unc = istarts_with(path, u"\\\\");
  const bool drive = path.size() >= 3 && path[1] == u':' && (path[2] == u'\\' || path[2] == u'/') &&
                     ((path[0] >= u'A' && path[0] <= u'Z') || (path[0] >= u'a' && path[0] <= u'z'));
  if (!unc && !drive) {
    t.status = TargetStatus::kInvalidPath;
    t.reason = u"the path is not absolute";
    return t;
  }
  if (path.find(u"\\..\\") != std::u16string::npos || path.find(u"/../") != std::u16string::npos ||
      (path.size() >= 3 && path.substr(path.size() - 3) == u"\\..")) {
    t.status = TargetStatus::kInvalidPath;
    t.reason = u"the path contains '..'";
    return t;
  }
  if (unc && !allow_unc) {
    t.status = TargetStatus::kDeniedByPolicy;
    t.reason = u"UNC provider paths are denied (parameter AllowUncPaths is 0)";
    return t;
  }
  const size_t slash = path.find_last_of(u"\\/");
  if (iequals(path.substr(slash + 1), u"mapi32.dll")) {
    t.status = TargetStatus::kRecursive;
    t.reason = u"the path names mapi32.dll, the stub itself";
    return t;
  }
  t.status = read_pe(path, &t.machine, &t.reason);
  return t;
}

#ifdef MAPIDISPATCH_HAVE_RESOLVER
namespace {

// The real resolver (common/resolver.h) over the live registry, files and Windows Installer.
class ResolverScopeSource final : public ScopeSource {
 public:
  std::vector<std::u16string> user_sids() override {
    // Every loaded user hive is watched, also those without Clients\Mail yet (a user can
    // create it any time); only those with it get a scope (resolve_all).
    return RegistryScopeSource().user_sids();
  }

  std::vector<ScopeResolution> resolve_all(const std::vector<std::u16string>&, const ResolveOptions& options) override {
    ResolverOptions opts;
    opts.allow_unc_paths = options.allow_unc_paths;
    // Bitness-neutral: each stub compares the recorded machine with its own.
    std::vector<ScopeResolution> out(1);
    if (const ResolveStatus st = win32::resolve_live(ScopeRequest::machine(), opts, &out[0]); st != ResolveStatus::kOk)
      throw std::runtime_error("resolving the machine scope: " + std::string(to_string(st)));
    std::vector<std::u16string> sids;
    if (const std::error_code ec = list_user_scopes(registry_, &sids))
      throw std::runtime_error("listing the user scopes: " + ec.message());
    for (auto& sid : sids) {
      ScopeResolution u;
      if (const ResolveStatus st = win32::resolve_live(ScopeRequest::user_from_users(sid), opts, &u);
          st != ResolveStatus::kOk)
        throw std::runtime_error("resolving user " + utf8(sid) + ": " + std::string(to_string(st)));
      out.push_back(std::move(u));
    }
    return out;
  }

 private:
  win32::Win32Registry registry_;
};

}  // namespace
#endif

std::unique_ptr<ScopeSource> make_scope_source() {
#ifdef MAPIDISPATCH_HAVE_RESOLVER
  return std::make_unique<ResolverScopeSource>();
#else
  // Until common/ has the resolver: the small one above.
  return std::make_unique<RegistryScopeSource>();
#endif
}

}  // namespace mapidispatch::service
