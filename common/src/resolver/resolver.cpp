// Copyright MapiDispatch authors.

#include "mapidispatch/resolver.h"

#include <algorithm>
#include <map>
#include <memory>
#include <new>

#include "mapidispatch/pe_image.h"
#include "mapidispatch/settings.h"
#include "mapidispatch/text.h"

namespace mapidispatch {

ScopeRequest ScopeRequest::user_from_users(std::u16string sid) {
  ScopeRequest r;
  r.kind = ScopeKind::kUser;
  r.user_hive = {RegRoot::kUsers, sid};
  r.sid = std::move(sid);
  return r;
}

ScopeRequest ScopeRequest::current_user(std::u16string sid) {
  ScopeRequest r;
  r.kind = ScopeKind::kUser;
  r.sid = std::move(sid);
  r.user_hive = {RegRoot::kCurrentUser, {}};
  return r;
}

const ExplanationStep* Explanation::find(std::string_view rule) const {
  for (const auto& s : steps) {
    if (s.rule == rule) return &s;
  }
  return nullptr;
}

std::string_view to_string(ResolveStatus status) {
  switch (status) {
    case ResolveStatus::kOk: return "ok";
    case ResolveStatus::kOutOfMemory: return "out-of-memory";
    case ResolveStatus::kInternalError: return "internal-error";
  }
  return "unknown";
}

namespace {

// Starts the warning of a provider that a dependency keeps from loading (reports_unloadable_dependency).
constexpr std::u16string_view kUnloadableDependencyMarker = u"will not load here:";

using text::ascii;

constexpr std::u16string_view kMailKey = u"Software\\Clients\\Mail";
constexpr std::u16string_view kMsMapiAppsKey = u"Software\\Microsoft\\Windows Messaging Subsystem\\MSMapiApps";
constexpr size_t kMaxClientNameChars = 255;
constexpr size_t kMaxModuleNameChars = 260;
constexpr size_t kMaxLcids = 5;

std::u16string num(uint64_t v) { return ascii(std::to_string(v)); }
std::u16string quote(std::u16string_view s) { return u"'" + std::u16string(s) + u"'"; }
std::u16string value_label(std::u16string_view name) { return name.empty() ? u"(Default)" : std::u16string(name); }

enum class Families { kSimple, kExtended, kBoth };

std::u16string family_words(Families f) {
  switch (f) {
    case Families::kSimple: return u"Simple MAPI";
    case Families::kExtended: return u"Extended MAPI";
    case Families::kBoth: return u"Simple and Extended MAPI";
  }
  return {};
}

std::u16string join_names(const std::vector<std::string_view>& names) {
  std::u16string s;
  for (const auto n : names) {
    if (!s.empty()) s += u", ";
    s += ascii(n);
  }
  return s;
}

bool is_guid(std::u16string_view s) {
  if (s.size() != 38 || s.front() != u'{' || s.back() != u'}') return false;
  for (size_t i = 1; i < 37; ++i) {
    const char16_t c = s[i];
    if (i == 9 || i == 14 || i == 19 || i == 24) {
      if (c != u'-') return false;
    } else if (!((c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f') || (c >= u'A' && c <= u'F'))) {
      return false;
    }
  }
  return true;
}

std::optional<uint32_t> parse_hex_lcid(std::u16string_view s) {
  if (s.empty() || s.size() > 8) return std::nullopt;
  uint32_t v = 0;
  for (char16_t c : s) {
    int d;
    if (c >= u'0' && c <= u'9') d = c - u'0';
    else if (c >= u'a' && c <= u'f') d = c - u'a' + 10;
    else if (c >= u'A' && c <= u'F') d = c - u'A' + 10;
    else return std::nullopt;
    v = (v << 4) | static_cast<uint32_t>(d);
  }
  return v;
}

struct Hive {
  HivePath path;
  ValueSource source;
};

// What the resolver learnt about one file (dependencies.h).
using Probe = PeFileFacts;

// A string value as read: absent, unusable (with why), or text.
struct StringValue {
  bool present = false;
  bool usable = false;
  bool expandable = false;
  std::u16string text;
  std::u16string problem;
};

struct ClientResult {
  Target simple;
  Target extended;
  bool supports_utf8 = false;
};

class Resolver {
 public:
  Resolver(const ScopeRequest& request, const ResolverServices& services, const ResolverOptions& options,
           Explanation* why)
      : req_(request), svc_(services), opt_(options), why_(why) {
    if (request.kind == ScopeKind::kUser) hkcu_ = Hive{request.user_hive, ValueSource::kHkcu};
  }

  void run(ScopeResolution* out) {
    *out = {};
    out->kind = req_.kind;
    out->sid = req_.kind == ScopeKind::kUser ? req_.sid : std::u16string();
    note("scope", {}, {},
         req_.kind == ScopeKind::kUser
             ? u"user scope " + quote(req_.sid) + u": HKCU is " + hkcu_->path.display() + u", then HKEY_LOCAL_MACHINE"
             : u"machine scope: HKEY_LOCAL_MACHINE only");
    note("options", {}, {},
         u"registry view " + ascii(to_string(opt_.view)) + u"; " +
             (opt_.process_machine ? u"process machine " + ascii(to_string(*opt_.process_machine))
                                   : std::u16string(u"bitness-neutral (each stub compares the DLL's machine)")) +
             u"; UNC paths " + (opt_.allow_unc_paths ? u"allowed" : u"denied") + u" by policy; files: " +
             svc_.files.description() + u"; environment: " + svc_.environment.description() +
             u"; Windows Installer: " + svc_.msi.description());

    resolve_default(out);
    resolve_prefirstrun(out);
    resolve_mapi32x(out);
    resolve_overrides(out);
    // Reasons quote registry data; keep each well inside the table's string limit, so hostile
    // values can never make the service's publish fail.
    for (Target* t : {&out->simple, &out->extended, &out->mapi32x}) clamp(t);
    for (auto& o : out->overrides) {
      clamp(&o.simple);
      clamp(&o.extended);
    }
  }

 private:
  void note(std::string rule, std::u16string key, std::u16string value, std::u16string detail) {
    if (why_ != nullptr) why_->steps.push_back({std::move(rule), std::move(key), std::move(value), std::move(detail)});
  }

  // The view a key is read in. Of what the resolver reads, 64-bit Windows 7 and later redirect
  // for 32-bit processes only HKLM\Software (but its shared Clients subtree) and a user's
  // Software\Classes ("Registry Keys Affected by WOW64"). A 32-bit resolution reads everything
  // else in the 64-bit view: the same key on Windows; for HKLM\Software\Clients the one mail
  // clients' installers write where a registry does redirect it (Wine does); and under Wine one
  // request to open a user's key, where the 32-bit view walks the path component by component
  // (issue #12: most of the start-up's registry requests were such walks).
  RegView view_of(const Hive& h, std::u16string_view path) const {
    if (opt_.view != RegView::k32) return opt_.view;
    // The path below the root (HKEY_USERS: below the user's hive, its first component).
    const std::u16string joined = h.path.join(path);
    std::u16string_view full = joined;
    if (h.path.root == RegRoot::kUsers) {
      const size_t slash = full.find(u'\\');
      full = slash == std::u16string_view::npos ? std::u16string_view() : full.substr(slash + 1);
    }
    const auto under = [full](std::u16string_view prefix) {
      return text::istarts_with(full, prefix) && (full.size() == prefix.size() || full[prefix.size()] == u'\\');
    };
    const bool redirected = h.path.root == RegRoot::kLocalMachine ? under(u"Software") && !under(u"Software\\Clients")
                                                                  : under(u"Software\\Classes");
    return redirected ? RegView::k32 : RegView::k64;
  }

  static std::u16string display(const Hive& h, std::u16string_view path) {
    std::u16string s = h.path.display();
    if (!path.empty()) s += u'\\';
    s += path;
    return s;
  }

  // Opens a key; nullptr if absent or unreadable (an unreadable one is noted).
  std::unique_ptr<RegistryKey> open(const Hive& h, std::u16string_view path) {
    std::unique_ptr<RegistryKey> key;
    const std::error_code ec = svc_.registry.open(h.path, path, view_of(h, path), &key);
    if (!ec) return key;
    if (!is_not_found(ec)) note("registry-error", display(h, path), {}, u"the key could not be opened: " + describe_error(ec));
    return nullptr;
  }

  StringValue read_string(const RegistryKey& key, const std::u16string& key_name, std::u16string_view name,
                          size_t max_chars) {
    StringValue s;
    RegValue v;
    const std::error_code ec = key.read_value(name, &v);
    if (ec) {
      if (!is_not_found(ec)) {
        s.present = true;
        s.problem = u"could not be read: " + describe_error(ec);
        note("bad-value", key_name, value_label(name), s.problem);
      }
      return s;
    }
    s.present = true;
    RegStringInfo info;
    switch (decode_reg_string(v, max_chars, &s.text, &info)) {
      case RegStringStatus::kOk:
        s.usable = true;
        s.expandable = info.expandable;
        if (!info.terminated || info.odd_length) {
          note("string-form", key_name, value_label(name),
               std::u16string(info.terminated ? u"" : u"the string has no terminating NUL; ") +
                   (info.odd_length ? u"its byte count is odd, the last byte is ignored; " : u"") +
                   u"read as " + quote(s.text.substr(0, 200)) + u" as Windows reads it");
        }
        return s;
      case RegStringStatus::kWrongType:
        s.problem = u"is " + ascii(reg_type_name(v.type)) + u", not REG_SZ or REG_EXPAND_SZ";
        break;
      case RegStringStatus::kEmbeddedNul:
        s.problem = u"has a NUL at character " + num(info.embedded_nul) +
                    u" followed by more text: the value hides data after its end and is not used";
        break;
      case RegStringStatus::kTooLong:
        s.problem = u"is longer than " + num(max_chars) + u" characters";
        break;
    }
    note("bad-value", key_name, value_label(name), s.problem);
    return s;
  }

  std::optional<uint32_t> read_dword(const RegistryKey& key, const std::u16string& key_name, std::u16string_view name) {
    RegValue v;
    const std::error_code ec = key.read_value(name, &v);
    if (ec) {
      if (!is_not_found(ec)) note("bad-value", key_name, value_label(name), u"could not be read: " + describe_error(ec));
      return std::nullopt;
    }
    uint32_t d = 0;
    if (decode_reg_dword(v, &d)) return d;
    note("bad-value", key_name, value_label(name),
         u"is " + ascii(reg_type_name(v.type)) + u" of " + num(v.data.size()) + u" bytes, not a REG_DWORD: ignored");
    return std::nullopt;
  }

  // ---- 1. The default client ----------------------------------------------------------------

  // The (Default) of Clients\Mail in one hive, if set and usable. Set but unusable (wrong type,
  // too long for a key name...): appends why to `problems`, for the answer's reason.
  std::optional<std::u16string> default_in(const Hive& h, std::vector<std::u16string>* problems) {
    const std::u16string key_name = display(h, kMailKey);
    const auto key = open(h, kMailKey);
    if (!key) {
      note("default-client", key_name, {}, u"the key does not exist");
      return std::nullopt;
    }
    const StringValue s = read_string(*key, key_name, u"", kMaxClientNameChars);
    if (!s.present) {
      note("default-client", key_name, u"(Default)", u"not set");
      return std::nullopt;
    }
    if (!s.usable) {
      problems->push_back(u"(Default) of " + key_name + u" " + s.problem);
      return std::nullopt;
    }
    if (s.text.empty()) {
      note("default-client", key_name, u"(Default)", u"empty: no default here");
      return std::nullopt;
    }
    return s.text;
  }

  void resolve_default(ScopeResolution* out) {
    std::vector<std::u16string> problems;
    std::optional<std::u16string> from_hkcu;
    if (hkcu_) from_hkcu = default_in(*hkcu_, &problems);
    // With a usable default of the user's own, HKLM's cannot change the answer: it is read then
    // only for the explanation (the "hkcu-shadows-hklm" note). Not read otherwise, so that the
    // service, which keeps each user scope's HKLM reads (registry_reads.h), does not take every
    // such user for affected when the machine default changes.
    std::optional<std::u16string> from_hklm;
    if (!from_hkcu || why_ != nullptr) from_hklm = default_in(hklm_, &problems);
    std::optional<std::u16string> name;
    if (from_hkcu) {
      name = from_hkcu;
      out->default_source = ValueSource::kHkcu;
      note("default-client", display(*hkcu_, kMailKey), u"(Default)",
           u"names " + quote(*from_hkcu) + u": HKCU comes before HKLM");
      if (from_hklm && !text::iequals(*from_hklm, *from_hkcu)) {
        note("hkcu-shadows-hklm", display(*hkcu_, kMailKey), u"(Default)",
             u"this per-user default " + quote(*from_hkcu) + u" overrides the machine default " + quote(*from_hklm) +
                 u" of HKEY_LOCAL_MACHINE; delete it to follow the machine default");
      }
    } else if (from_hklm) {
      name = from_hklm;
      out->default_source = ValueSource::kHklm;
      note("default-client", display(hklm_, kMailKey), u"(Default)", u"names " + quote(*from_hklm));
    }
    if (!name && !problems.empty()) {
      std::u16string reason = u"no usable default mail client: ";
      for (size_t i = 0; i < problems.size(); ++i) reason += (i == 0 ? u"" : u"; ") + problems[i];
      out->simple = not_configured(std::move(reason));
      out->extended = out->simple;
      return;
    }
    if (!name) {
      out->simple = not_configured(u"no default mail client: (Default) of Software\\Clients\\Mail is not set" +
                                   std::u16string(hkcu_ ? u" in HKCU or HKLM" : u" in HKLM"));
      out->extended = out->simple;
      return;
    }
    out->default_client = *name;
    const ClientResult r = resolve_client(*name, out->default_source, u"the default");
    out->simple = r.simple;
    out->extended = r.extended;
    out->supports_utf8 = r.supports_utf8;
  }

  static void clamp(Target* t) {
    constexpr size_t kMaxReasonChars = 2048;
    if (t->reason.size() <= kMaxReasonChars) return;
    t->reason.resize(kMaxReasonChars);
    if (t->reason.back() >= 0xD800 && t->reason.back() <= 0xDBFF) t->reason.pop_back();
    t->reason += u"...";
  }

  static Target not_configured(std::u16string reason) {
    Target t;
    t.reason = std::move(reason);
    return t;
  }

  // ---- 2.-4. A client's targets ---------------------------------------------------------------

  // True while resolve_client() follows an UpstreamClient: an upstream is not followed again.
  bool following_upstream_ = false;

  // `named_by` says which value named the client ("the default", "an MSMapiApps override",
  // "UpstreamClient of client 'X'"), for the reason given when its key does not exist.
  ClientResult resolve_client(const std::u16string& name, ValueSource name_source, std::u16string_view named_by) {
    ClientResult r;
    r.simple.client = r.extended.client = name;
    if (name.find(u'\\') != std::u16string::npos || name.find(u'\0') != std::u16string::npos) {
      r.simple.status = TargetStatus::kBadValue;
      r.simple.reason = u"the client name " + quote(name) +
                        u" contains a backslash: it is not a key name under Clients\\Mail and is not followed";
      r.extended = r.simple;
      note("client-key", {}, {}, r.simple.reason);
      return r;
    }
    const std::u16string sub = std::u16string(kMailKey) + u'\\' + name;
    std::unique_ptr<RegistryKey> key;
    const Hive* where = nullptr;
    if (name_source == ValueSource::kHkcu && hkcu_) {
      key = open(*hkcu_, sub);
      if (key) {
        where = &*hkcu_;
      } else {
        note("client-key-hklm", display(*hkcu_, sub), {},
             u"the default was named in HKCU but its key is not there: the key under HKEY_LOCAL_MACHINE is used");
      }
    }
    if (!key) {
      key = open(hklm_, sub);
      if (key) where = &hklm_;
    }
    if (!key) {
      r.simple.status = TargetStatus::kBadValue;
      r.simple.reason = std::u16string(named_by) + u" names client " + quote(name) + u", but no key " +
                        std::u16string(kMailKey) + u"\\" + name + u" exists" +
                        (name_source == ValueSource::kHkcu ? u" in HKCU or HKLM" : u" in HKLM");
      r.extended = r.simple;
      note("client-key", display(hklm_, sub), {}, r.simple.reason);
      return r;
    }
    const std::u16string key_name = display(*where, sub);
    note("client-key", key_name, {}, u"client " + quote(name) + u" is read from this key");

    // MapiDispatch registered as a mail client: its key points DLLPath/DLLPathEx at the stub and
    // names, in UpstreamClient, the client that really serves the calls (the one the
    // administrator chose, or the default before MapiDispatch was installed). Followed one hop.
    const StringValue upstream = read_string(*key, key_name, u"UpstreamClient", 255);
    if (upstream.present && upstream.usable && !upstream.text.empty() && !text::iequals(upstream.text, name)) {
      if (following_upstream_) {
        note("upstream-client", key_name, u"UpstreamClient",
             u"names " + quote(upstream.text) + u", but this client is itself an upstream: not followed further");
      } else {
        note("upstream-client", key_name, u"UpstreamClient",
             u"client " + quote(name) + u" is MapiDispatch's registration: the calls go to its upstream client " +
                 quote(upstream.text));
        following_upstream_ = true;
        ClientResult up = resolve_client(upstream.text, ValueSource::kHklm, u"UpstreamClient of client " + quote(name));
        following_upstream_ = false;
        return up;
      }
    }

    if (const auto utf8 = read_dword(*key, key_name, u"SupportUTF8")) {
      r.supports_utf8 = *utf8 != 0;
      note("supports-utf8", key_name, u"SupportUTF8", r.supports_utf8 ? u"set: the client accepts UTF-8" : u"0: not set");
    }

    // MSIComponentID takes precedence over the paths.
    std::u16string msi_failure;
    const StringValue msi = read_string(*key, key_name, u"MSIComponentID", 64);
    if (msi.present && msi.usable) {
      if (!is_guid(msi.text)) {
        note("msi-component", key_name, u"MSIComponentID",
             quote(msi.text) + u" is not a {GUID}: ignored, the DLLPath values decide");
      } else {
        std::u16string path;
        msi_failure = provide_component(*key, key_name, msi.text, &path);
        if (msi_failure.empty()) {
          const std::u16string origin = u"MSIComponentID " + msi.text + u" of client " + quote(name);
          r.simple = check_target(path, false, Families::kSimple, ValueSource::kMsi, name, origin);
          r.extended = check_target(path, false, Families::kExtended, ValueSource::kMsi, name, origin);
          note("msi-component", key_name, u"MSIComponentID",
               u"the component is installed at " + quote(path) + u"; it serves both families, DLLPath and DLLPathEx are not used");
          return r;
        }
      }
    }
    r.simple = path_value(*key, key_name, *where, u"DLLPath", Families::kSimple, name, msi_failure);
    r.extended = path_value(*key, key_name, *where, u"DLLPathEx", Families::kExtended, name, msi_failure);
    return r;
  }

  Target path_value(const RegistryKey& key, const std::u16string& key_name, const Hive& where, std::u16string_view value,
                    Families family, const std::u16string& client, const std::u16string& msi_failure) {
    const StringValue s = read_string(key, key_name, value, kMaxPathChars);
    Target t;
    t.client = client;
    t.source = where.source;
    if (!s.present || (s.usable && s.text.empty())) {
      if (!msi_failure.empty()) {
        t.status = TargetStatus::kComponentNotInstalled;
        t.reason = msi_failure + u"; and the client has no " + std::u16string(value);
      } else {
        t.reason = u"client " + quote(client) + u" has " + (s.present ? u"an empty " : u"no ") + std::u16string(value) +
                   u": it does not serve " + family_words(family);
      }
      t.source = msi_failure.empty() ? ValueSource::kNone : ValueSource::kMsi;
      note(family == Families::kSimple ? "dllpath" : "dllpathex", key_name, std::u16string(value), t.reason);
      return t;
    }
    if (!s.usable) {
      t.status = TargetStatus::kBadValue;
      t.reason = std::u16string(value) + u" of client " + quote(client) + u" " + s.problem;
      return t;
    }
    const std::u16string origin = std::u16string(value) + u" of client " + quote(client) + u" (" + where.path.display() + u")";
    t = check_target(s.text, s.expandable, family, where.source, client, origin);
    note(family == Families::kSimple ? "dllpath" : "dllpathex", key_name, std::u16string(value),
         quote(t.path) + u": " + ascii(to_string(t.status)) + u": " + t.reason);
    return t;
  }

  // The LCIDs whose qualifiers are tried, in order.
  std::vector<uint32_t> lcids(const RegistryKey& client_key, const std::u16string& key_name) {
    std::vector<uint32_t> out;
    auto add = [&out](uint32_t lcid) {
      if (lcid != 0 && out.size() < kMaxLcids && std::find(out.begin(), out.end(), lcid) == out.end()) out.push_back(lcid);
    };
    for (const std::u16string_view value : {std::u16string_view(u"MSIApplicationLCID"), std::u16string_view(u"MSIOfficeLCID")}) {
      RegValue v;
      if (client_key.read_value(value, &v)) continue;
      std::vector<std::u16string> items;
      std::vector<std::u16string_view> parts;
      if (!decode_reg_multi_string(v, 64, kMaxPathChars, &items) || items.size() < 2 ||
          split_key_path(items[0], &parts)) {
        note("msi-lcid", key_name, std::u16string(value),
             u"ignored: expected REG_MULTI_SZ of a subkey and value names, found " + ascii(reg_type_name(v.type)));
        continue;
      }
      std::vector<Hive> places;
      if (hkcu_) {
        places.push_back({{hkcu_->path.root, hkcu_->path.join(u"Software\\Policy")}, ValueSource::kHkcu});
        places.push_back({{hkcu_->path.root, hkcu_->path.join(u"Software")}, ValueSource::kHkcu});
      }
      places.push_back({{RegRoot::kLocalMachine, u"Software"}, ValueSource::kHklm});
      std::optional<uint32_t> found;
      for (const Hive& place : places) {
        const auto key = open(place, items[0]);
        if (!key) continue;
        for (size_t i = 1; i < items.size() && !found; ++i) {
          RegValue d;
          uint32_t lcid = 0;
          if (!key->read_value(items[i], &d) && decode_reg_dword(d, &lcid)) {
            found = lcid;
            note("msi-lcid", display(place, items[0]), items[i], u"LCID " + num(lcid) + u" (from " + std::u16string(value) + u")");
          }
        }
        if (found) break;
      }
      if (found) {
        add(*found);
      } else {
        note("msi-lcid", key_name, std::u16string(value), u"none of its values holds a DWORD LCID under " + items[0]);
      }
    }
    if (hkcu_) {
      if (const auto key = open(*hkcu_, u"Control Panel\\International")) {
        RegValue v;
        std::u16string s;
        if (!key->read_value(u"Locale", &v) && decode_reg_string(v, 16, &s) == RegStringStatus::kOk) {
          if (const auto lcid = parse_hex_lcid(s)) add(*lcid);
        }
      }
    }
    if (const auto key = open(hklm_, u"SYSTEM\\CurrentControlSet\\Control\\Nls\\Language")) {
      RegValue v;
      std::u16string s;
      if (!key->read_value(u"Default", &v) && decode_reg_string(v, 16, &s) == RegStringStatus::kOk) {
        if (const auto lcid = parse_hex_lcid(s)) add(*lcid);
      }
    }
    add(1033);
    return out;
  }

  // Asks Windows Installer; "" and *path on success, else why not.
  std::u16string provide_component(const RegistryKey& key, const std::u16string& key_name,
                                   const std::u16string& category, std::u16string* path) {
    if (const auto wts = read_dword(key, key_name, u"MSIInstallOnWTS")) {
      note("msi-install-mode", key_name, u"MSIInstallOnWTS",
           u"is " + num(*wts) + u"; not acted on: the resolver never allows an install");
    }
    note("msi-install-mode", key_name, u"MSIComponentID",
         u"INSTALLMODE_EXISTING only; INSTALLMODE_DEFAULT is deliberately not used, so resolving never starts an "
         u"install or a repair (on a terminal server a user process must never trigger one)");
    const std::vector<uint32_t> ids = lcids(key, key_name);
    std::u16string tried;
    std::u16string broken;  // the qualifiers whose feature is absent or broken
    MsiAnswer last;
    // Only an unknown category, or no Windows Installer, ends the search: any other failure is
    // about one qualifier, and the next may be installed (Windows' stub tries it too).
    auto ends_search = [](MsiStatus st) { return st == MsiStatus::kUnavailable || st == MsiStatus::kNotInstalled; };
    for (const uint32_t lcid : ids) {
      for (const std::u16string& qualifier : {num(lcid) + u"\\NT", num(lcid)}) {
        const MsiAnswer a = svc_.msi.provide_qualified_component(category, qualifier);
        if (!tried.empty()) tried += u", ";
        tried += qualifier;
        if (a.status == MsiStatus::kFound) {
          note("msi-qualifier", key_name, u"MSIComponentID", u"qualifier " + quote(qualifier) + u" found: " + quote(a.path));
          *path = a.path;
          return {};
        }
        if (a.status == MsiStatus::kFeatureAbsent) {
          if (!broken.empty()) broken += u", ";
          broken += qualifier;
          note("msi-qualifier", key_name, u"MSIComponentID",
               u"qualifier " + quote(qualifier) + u": its feature is absent or broken; the next qualifier is tried");
        }
        last = a;
        if (ends_search(a.status)) break;
      }
      if (ends_search(last.status)) break;
    }
    std::u16string why;
    switch (last.status) {
      case MsiStatus::kNotInstalled: why = u"component " + category + u" is not installed"; break;
      case MsiStatus::kQualifierAbsent:
      case MsiStatus::kFeatureAbsent:
        if (broken.empty()) {
          why = u"component " + category + u" has none of the qualifiers " + tried;
        } else {
          why = u"component " + category + u" is published, but the feature of qualifier(s) " + broken +
                u" is absent or broken (Windows Installer: ERROR_FILE_NOT_FOUND; resolving never installs or repairs "
                u"it) and no other qualifier tried (" + tried + u") is installed";
        }
        break;
      case MsiStatus::kUnavailable:
        why = u"component " + category + u" could not be looked up: Windows Installer is not available (" + svc_.msi.description() + u")";
        break;
      case MsiStatus::kError: why = u"component " + category + u" lookup failed: " + describe_error(last.error); break;
      case MsiStatus::kFound: break;
    }
    note("msi-component", key_name, u"MSIComponentID", why + u"; falling back to DLLPath / DLLPathEx");
    return why;
  }

  // ---- The checks on one path -----------------------------------------------------------------

  const Probe& probe(const std::u16string& path) {
    // Through the pass's cache when there is one (the service: a file is read once for every
    // scope and both views, and again only when it changed), else once per resolution.
    if (opt_.dependency_cache != nullptr) return opt_.dependency_cache->get(svc_.files, path, nullptr);
    const std::u16string k = text::fold(analyze_windows_path(path).normalized);
    auto it = probes_.find(k);
    if (it != probes_.end()) return it->second;
    return probes_.emplace(k, read_pe_file(svc_.files, path)).first->second;
  }

  bool is_stub(const std::u16string& path, const WindowsPath& w, bool check_files) {
    // LoadLibrary appends ".dll" to a name without an extension: "mapi32" is the stub too.
    if (w.kind == PathKind::kRelative && w.components.size() == 1 &&
        (text::iequals(w.components[0], u"mapi32.dll") || text::iequals(w.components[0], u"mapi32"))) {
      return true;
    }
    for (const auto& stub : opt_.stub_paths) {
      if (same_windows_path(path, stub)) return true;
      if (!check_files) continue;
      // Through the pass's stamps when there is a cache (the service: the stub's files are not
      // opened again for every scope and view), else by opening both.
      if (opt_.dependency_cache != nullptr ? opt_.dependency_cache->same_file(svc_.files, path, stub)
                                           : svc_.files.same_file(path, stub))
        return true;
    }
    return false;
  }

  Target check_target(const std::u16string& raw, bool expandable, Families family, ValueSource source,
                      const std::u16string& client, const std::u16string& origin) {
    Target t;
    t.source = source;
    t.client = client;
    t.path = raw;
    auto done = [&t](TargetStatus status, std::u16string reason) {
      t.status = status;
      t.reason = std::move(reason);
      return t;
    };
    if (expandable) {
      std::u16string expanded, undefined;
      switch (svc_.environment.expand(raw, kMaxPathChars, &expanded, &undefined)) {
        case ExpandStatus::kOk: t.path = expanded; break;
        case ExpandStatus::kUndefined:
          return done(TargetStatus::kBadValue, origin + u" uses %" + undefined + u"%, which is not defined in " +
                                                   svc_.environment.description());
        case ExpandStatus::kTooLong:
          return done(TargetStatus::kInvalidPath, origin + u" expands to more than 32,767 characters");
      }
    }
    const std::u16string& path = t.path;
    if (path.empty()) return done(TargetStatus::kNotConfigured, origin + u" is empty");
    const WindowsPath w = analyze_windows_path(path);
    if (is_stub(path, w, false)) {
      return done(TargetStatus::kRecursive, origin + u" names mapi32.dll, the stub itself: loading it would recurse");
    }
    switch (w.kind) {
      case PathKind::kDriveAbsolute:
      case PathKind::kUnc:
        break;
      case PathKind::kRelative:
        // Windows' stub hands a bare name to LoadLibrary, which searches the process's folder,
        // System32, the Windows folder and PATH: such a client works there, so it is loaded the
        // same way here, with a warning. A relative path with folders depends on each process's
        // current folder: refused.
        if (w.components.size() == 1 && w.problem == PathProblem::kNone)
          return done(TargetStatus::kSearchOrder,
                      u"warning: " + origin + u" is a bare file name: each process loads it through its own DLL search "
                      u"order (its application folder, System32, the Windows folder, PATH), as Windows' stub does; "
                      u"it cannot be checked here, and a DLL of that name in an application's folder wins (DLL "
                      u"planting): write a full path");
        return done(TargetStatus::kInvalidPath, origin + u" is a relative path with folders: it would be found "
                                                        u"from each process's current folder; write a full path");
      case PathKind::kDriveRelative:
        return done(TargetStatus::kInvalidPath, origin + u" is relative to the current folder of drive " + w.drive +
                                                    u": (no '\\' after the colon); write a full path");
      case PathKind::kRooted:
        return done(TargetStatus::kInvalidPath, origin + u" has no drive letter: it depends on the current drive; write a full path");
      case PathKind::kDevice:
        return done(TargetStatus::kInvalidPath, origin + u" is a device path (\\\\.\\ or \\\\?\\ form), not a file path");
      case PathKind::kEmpty:
        return done(TargetStatus::kNotConfigured, origin + u" is empty");
    }
    switch (w.problem) {
      case PathProblem::kNone: break;
      case PathProblem::kTraversal:
        return done(TargetStatus::kInvalidPath, origin + u" contains a '.' or '..' component (path traversal): refused");
      case PathProblem::kBadCharacter:
        return done(TargetStatus::kInvalidPath, origin + u" contains a control character, one of <>\"|?*, or a ':' "
                                                        u"outside the drive (an alternate data stream)");
      case PathProblem::kReservedName:
        return done(TargetStatus::kInvalidPath, origin + u" contains a reserved device name (CON, NUL, AUX, PRN, COMn, LPTn)");
      case PathProblem::kTrailingDotSpace:
        return done(TargetStatus::kInvalidPath, origin + u" has a name ending in '.' or ' ', which Windows strips: it "
                                                        u"would open another file than the one written");
      case PathProblem::kEmptyComponent:
        return done(TargetStatus::kInvalidPath, origin + u" contains an empty name ('\\\\' inside the path, or an "
                                                        u"incomplete \\\\server\\share)");
      case PathProblem::kTooLong:
        return done(TargetStatus::kInvalidPath, origin + u" is longer than 32,767 characters or has a name longer than 255");
    }
    if (w.kind == PathKind::kUnc && !opt_.allow_unc_paths) {
      return done(TargetStatus::kDeniedByPolicy, origin + u" is a UNC path (\\\\" + w.server + u"\\" + w.share +
                                                     u"): network providers are denied unless the administrator "
                                                     u"sets the AllowUncPaths policy");
    }
    const Probe& p = probe(path);
    if (p.kind == FileKind::kMissing) {
      if (p.error) return done(TargetStatus::kMissing, origin + u" cannot be read: " + describe_error(p.error));
      return done(TargetStatus::kMissing, origin + u": the file does not exist (looked in " + svc_.files.description() + u")");
    }
    if (is_stub(path, w, true)) {
      return done(TargetStatus::kRecursive, origin + u" is the stub itself (the same file as a stub path): loading it would recurse");
    }
    if (p.kind != FileKind::kFile) return done(TargetStatus::kNotADll, origin + u" is a folder or a device, not a DLL");
    if (p.pe != PeStatus::kOk) return done(TargetStatus::kNotADll, origin + u" is not a PE image: " + text::utf8_to_utf16(p.pe_reason));
    t.machine = p.info.machine;
    const std::u16string machine = ascii(describe_machine(p.info.raw_machine));
    if (!p.info.is_dll) {
      return done(TargetStatus::kNotADll, origin + u" is a PE executable (" + machine + u") but not a DLL (IMAGE_FILE_DLL is not set)");
    }
    if (opt_.process_machine && p.info.raw_machine != static_cast<uint16_t>(*opt_.process_machine)) {
      return done(TargetStatus::kWrongBitness, origin + u" is an " + machine + u" DLL; the process is " +
                                                   ascii(to_string(*opt_.process_machine)) + u" and cannot load it");
    }
    if (!opt_.process_machine && p.info.machine == PeMachine::kUnknown) {
      return done(TargetStatus::kWrongBitness, origin + u" is a DLL for " + machine + u", which no stub (x86, x64, arm64) can load");
    }
    std::vector<std::string_view> missing;
    if (family != Families::kExtended) missing = p.missing_simple;
    if (family != Families::kSimple) {
      for (const auto m : p.missing_extended) {
        if (std::find(missing.begin(), missing.end(), m) == missing.end()) missing.push_back(m);
      }
    }
    if (!missing.empty()) {
      // A warning, not a refusal: Windows' stub loads the DLL and looks up only the function
      // called, so the DLL still serves every call it has (is_loadable()).
      done(TargetStatus::kMissingExports,
                  u"warning: " + origin + u" (" + machine + u" DLL) lacks the " + family_words(family) + u" entry points " +
                      join_names(missing) + u" (plain or @N-decorated): calls to " +
                      (missing.size() == 1 ? u"it fail" : u"them fail") +
                      u" as they would with Windows' stub; the DLL is loaded and serves every other call");
    } else {
      done(TargetStatus::kFound, origin + u": " + machine + u" DLL with the " + family_words(family) + u" entry points");
    }
    add_dependency_findings(path, p, origin, &t);
    return t;
  }

  // ---- Dependencies (ResolverOptions::check_dependencies) -----------------------------------------

  // Where a process of `machine` in this view looks for a provider's imports (dependencies.h).
  DependencySearch dependency_search(PeMachine machine) {
    DependencySearch s;
    s.machine = machine;
    s.known_dlls = opt_.known_dlls;
    const std::u16string windows = windows_directory();
    std::u16string system = opt_.system_directory;
    if (system.empty() && !windows.empty()) system = windows + u"\\System32";
    if (!system.empty()) s.directories.push_back(system);
    if (!windows.empty()) s.directories.push_back(windows);
    if (const auto path = svc_.environment.lookup(u"PATH")) {
      std::vector<std::u16string> entries = split_path_variable(*path);
      s.path_entries = entries.size();
      for (auto& e : entries) s.directories.push_back(std::move(e));
    }
    s.path_origin = u"as " + svc_.environment.description() + u" has it; a process can have its own";
    return s;
  }

  std::u16string windows_directory() const {
    if (const auto root = svc_.environment.lookup(u"SystemRoot")) return *root;
    if (const auto win = svc_.environment.lookup(u"windir")) return *win;
    return {};
  }

  // 64-bit Windows has a SysWOW64 folder.
  bool is_64bit_windows() {
    if (!is_64bit_windows_) {
      std::error_code ec;
      const std::u16string windows = windows_directory();
      is_64bit_windows_ = !windows.empty() && svc_.files.stat(windows + u"\\SysWOW64", &ec) == FileKind::kDirectory;
    }
    return *is_64bit_windows_;
  }

  // Adds what check_dependencies() finds about the provider at `path` to `t` (a loadable target).
  void add_dependency_findings(const std::u16string& path, const Probe& p, const std::u16string& origin, Target* t) {
    if (!opt_.check_dependencies || !is_loadable(t->status) || p.info.machine == PeMachine::kUnknown) return;
    const DependencySearch search = dependency_search(p.info.machine);
    // Only the processes of this view that can load the DLL matter, and their folders are the
    // view's: the 32-bit view answers x86 processes (SysWOW64); the native view of 64-bit
    // Windows answers 64-bit ones, whose System32 holds no x86 DLLs. An x86 provider there is
    // checked in the 32-bit view, not here with the wrong folders.
    if (opt_.view == RegView::k32) {
      if (p.info.machine != PeMachine::kI386) return;
    } else if (p.info.machine == PeMachine::kI386 && !opt_.process_machine && is_64bit_windows()) {
      return;
    }
    const DependencyReport r = check_dependencies(svc_.files, path, p.info.imports, search, opt_.dependency_cache);
    std::u16string blocking, delayed;
    size_t shown = 0, more = 0;
    for (const auto& f : r.findings) {
      const std::u16string sentence = f.sentence(search);
      note("dependency", f.importer, f.dll, ascii(to_string(f.problem)) + (f.delay_load ? u" (delay-loaded): " : u": ") + sentence);
      if (shown >= 5) {
        ++more;
        continue;
      }
      ++shown;
      std::u16string& into = f.delay_load ? delayed : blocking;
      if (!into.empty()) into += u"; ";
      into += sentence;
    }
    if (!r.bad_imports.empty()) note("dependency", path, {}, u"a damaged import table: " + r.bad_imports);
    if (p.info.imports_status != PeStatus::kOk)
      note("dependency", path, {}, u"the provider's own import table is damaged: " + text::utf8_to_utf16(p.info.imports_reason));
    if (r.truncated)
      note("dependency", path, {}, u"stopped following imports after " + ascii(std::to_string(search.max_depth)) +
                                       u" levels or " + ascii(std::to_string(search.max_files)) + u" files");
    if (blocking.empty() && delayed.empty()) {
      if (!p.info.imports.empty())
        note("dependency", path, {}, u"every imported DLL found (" + ascii(std::to_string(p.info.imports.size())) +
                                         u" imported directly; searched as an " + ascii(to_string(search.machine)) +
                                         u" process would, PATH " + search.path_origin + u")");
      return;
    }
    // The existing reason keeps its own "warning: " only once.
    std::u16string rest = t->reason;
    if (text::istarts_with(rest, u"warning: ")) rest.erase(0, 9);
    std::u16string w = u"warning: ";
    if (!blocking.empty()) {
      w += std::u16string(kUnloadableDependencyMarker) + u" " + blocking;
      if (!delayed.empty()) w += u"; " + delayed;
    } else {
      w += delayed;
    }
    if (more > 0) w += u"; and " + ascii(std::to_string(more)) + u" more not listed here";
    if (!blocking.empty()) w += u". The stub still loads it when called (a process's own search path may find it)";
    t->reason = w + u"; " + rest;
    (void)origin;
  }

  // ---- 5. mapi32x ------------------------------------------------------------------------------

  void resolve_mapi32x(ScopeResolution* out) {
    std::u16string dir = opt_.system_directory;
    if (dir.empty()) {
      if (const auto root = svc_.environment.lookup(u"SystemRoot")) dir = *root + u"\\System32";
    }
    Target& t = out->mapi32x;
    t.source = ValueSource::kFallback;
    if (dir.empty()) {
      t.reason = u"the system directory is unknown (%SystemRoot% is not set): the mapi32x.dll fallback cannot be checked";
      note("mapi32x", {}, {}, t.reason);
      return;
    }
    while (!dir.empty() && (dir.back() == u'\\' || dir.back() == u'/')) dir.pop_back();
    const std::u16string dll = dir + u"\\mapi32x.dll";
    const std::u16string inf = dir + u"\\mapisvc.inf";
    t = check_target(dll, false, Families::kBoth, ValueSource::kFallback, {}, u"the fallback " + dll);
    if (is_loadable(t.status)) {
      std::error_code ec;
      if (svc_.files.stat(inf, &ec) != FileKind::kFile) {
        t.status = TargetStatus::kMissing;
        t.reason = u"mapi32x.dll is in " + dir + u" but mapisvc.inf is not: the stub uses the fallback only when both exist";
      }
    }
    note("mapi32x", dll, {}, ascii(to_string(t.status)) + u": " + t.reason);
  }

  // ---- 6. PreFirstRun --------------------------------------------------------------------------

  void resolve_prefirstrun(ScopeResolution* out) {
    std::vector<const Hive*> hives;
    if (hkcu_) hives.push_back(&*hkcu_);
    hives.push_back(&hklm_);
    for (const Hive* h : hives) {
      const std::u16string key_name = display(*h, kMailKey);
      const auto key = open(*h, kMailKey);
      if (!key) continue;
      const StringValue s = read_string(*key, key_name, u"PreFirstRun", 32767);
      if (!s.present || !s.usable) continue;
      const size_t star = s.text.rfind(u'*');
      if (star == std::u16string::npos) {
        out->prefirstrun_message = s.text;
      } else {
        out->prefirstrun_message = s.text.substr(0, star);
        out->prefirstrun_caption = s.text.substr(star + 1);
      }
      note("prefirstrun", key_name, u"PreFirstRun",
           u"shown once when no provider serves a call: message " + quote(out->prefirstrun_message.substr(0, 200)) +
               u", caption " + quote(out->prefirstrun_caption.substr(0, 200)));
      return;
    }
  }

  // ---- 7. MSMapiApps ---------------------------------------------------------------------------

  void resolve_overrides(ScopeResolution* out) {
    const std::u16string key_name = display(hklm_, kMsMapiAppsKey);
    const auto key = open(hklm_, kMsMapiAppsKey);
    if (!key) {
      note("msmapiapps", key_name, {}, u"no per-application overrides (the key does not exist)");
      return;
    }
    std::vector<std::u16string> names;
    bool truncated = false;
    if (const auto ec = key->value_names(opt_.max_overrides, &names, &truncated)) {
      note("msmapiapps", key_name, {}, u"the values could not be listed: " + describe_error(ec));
      return;
    }
    if (truncated) {
      note("msmapiapps", key_name, {}, u"more than " + num(opt_.max_overrides) + u" overrides: only the first " +
                                           num(opt_.max_overrides) + u" are used");
    }
    std::map<std::u16string, ClientResult> clients;  // folded client name -> its resolution
    for (const auto& module : names) {
      if (module.empty()) {
        note("override", key_name, u"(Default)", u"the default value is not a module name: ignored");
        continue;
      }
      if (module.size() > kMaxModuleNameChars || module.find_first_of(u"\\/:") != std::u16string::npos) {
        note("override", key_name, module.substr(0, 300), u"not a file name (a path, or longer than 260 characters): ignored");
        continue;
      }
      const StringValue s = read_string(*key, key_name, module, kMaxClientNameChars);
      if (!s.usable) {
        note("override", key_name, module, u"ignored: the value " + s.problem);
        continue;
      }
      AppOverride o;
      o.module = module;
      if (s.text.empty()) {
        o.uses_mapi32x = true;
        o.simple.reason = o.extended.reason = u"MSMapiApps sends " + module + u" to mapi32x.dll (see the mapi32x target)";
        note("override", key_name, module, u"processes that load " + module + u" use mapi32x.dll");
      } else {
        o.client = s.text;
        const std::u16string folded = text::fold(s.text);
        auto it = clients.find(folded);
        if (it == clients.end()) {
          // Memoised per client, so the reason names no module: each override carries its own.
          it = clients.emplace(folded, resolve_client(s.text, ValueSource::kHklm, u"an MSMapiApps override")).first;
        }
        o.simple = it->second.simple;
        o.extended = it->second.extended;
        o.supports_utf8 = it->second.supports_utf8;
        o.simple.source = o.extended.source = ValueSource::kOverride;
        note("override", key_name, module,
             u"processes that load " + module + u" use client " + quote(s.text) + u": simple " +
                 ascii(to_string(o.simple.status)) + u", extended " + ascii(to_string(o.extended.status)));
      }
      out->overrides.push_back(std::move(o));
    }
  }

  const ScopeRequest& req_;
  const ResolverServices& svc_;
  const ResolverOptions& opt_;
  Explanation* why_;
  std::optional<Hive> hkcu_;
  Hive hklm_{{RegRoot::kLocalMachine, {}}, ValueSource::kHklm};
  std::map<std::u16string, Probe> probes_;  // folded normalized path -> what the file is
  std::optional<bool> is_64bit_windows_;
};

}  // namespace

ResolveStatus resolve_scope(const ScopeRequest& request, const ResolverServices& services,
                            const ResolverOptions& options, ScopeResolution* out, Explanation* explanation) noexcept {
  try {
    if (explanation != nullptr) explanation->steps.clear();
    Resolver(request, services, options, explanation).run(out);
    return ResolveStatus::kOk;
  } catch (const std::bad_alloc&) {
    return ResolveStatus::kOutOfMemory;
  } catch (...) {
    return ResolveStatus::kInternalError;
  }
}

std::error_code list_user_scopes(const Registry& registry, std::vector<std::u16string>* sids, size_t limit) noexcept {
  try {
    sids->clear();
    std::unique_ptr<RegistryKey> users;
    if (const auto ec = registry.open(RegRoot::kUsers, u"", RegView::kDefault, &users)) return ec;
    std::vector<std::u16string> names;
    bool truncated = false;
    // Every loaded hive has a *_Classes twin: read twice the limit to still find `limit` SIDs.
    if (const auto ec = users->subkey_names(limit * 2 + 16, &names, &truncated)) return ec;
    for (const auto& n : names) {
      if (sids->size() >= limit) break;
      if (!text::istarts_with(n, u"S-1-") || text::iends_with(n, u"_Classes")) continue;
      std::unique_ptr<RegistryKey> mail;
      if (!registry.open(RegRoot::kUsers, n + u"\\" + std::u16string(kMailKey), RegView::kDefault, &mail)) sids->push_back(n);
    }
    return {};
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  } catch (...) {
    return std::make_error_code(std::errc::io_error);
  }
}

std::string explanation_to_text(const Explanation& explanation) {
  std::string s;
  for (const auto& step : explanation.steps) {
    s += step.rule;
    s += ": ";
    if (!step.key.empty()) {
      s += text::utf16_to_utf8(step.key);
      if (!step.value.empty()) s += " [" + text::utf16_to_utf8(step.value) + "]";
      s += ": ";
    }
    s += text::utf16_to_utf8(step.detail);
    s += '\n';
  }
  return s;
}

std::vector<std::u16string> read_known_dlls(const Registry& registry) noexcept {
  std::vector<std::u16string> out;
  try {
    std::unique_ptr<RegistryKey> key;
    if (registry.open(RegRoot::kLocalMachine, u"SYSTEM\\CurrentControlSet\\Control\\Session Manager\\KnownDLLs",
                      RegView::kDefault, &key))
      return out;
    std::vector<std::u16string> names;
    bool truncated = false;
    if (key->value_names(512, &names, &truncated)) return out;
    for (const auto& n : names) {
      RegValue v;
      if (key->read_value(n, &v) || (v.type != reg_type::kSz && v.type != reg_type::kExpandSz)) continue;
      std::u16string data;
      for (size_t i = 0; i + 1 < v.data.size(); i += 2) {
        const char16_t c = static_cast<char16_t>(v.data[i] | (v.data[i + 1] << 8));
        if (c == 0) break;
        data.push_back(c);
      }
      // A plain file name only: a folder in the data is not how KnownDLLs works.
      if (data.empty() || data.size() > 255 || data.find_first_of(u"\\/:") != std::u16string::npos) continue;
      out.push_back(std::move(data));
    }
  } catch (...) {
    out.clear();  // std::bad_alloc: check without KnownDLLs (more findings, never fewer loads)
  }
  return out;
}

bool reports_unloadable_dependency(const Target& t) {
  constexpr std::u16string_view kWarning = u"warning: ";
  const std::u16string_view r = t.reason;
  return r.size() > kWarning.size() && r.substr(0, kWarning.size()) == kWarning &&
         r.substr(kWarning.size()).substr(0, kUnloadableDependencyMarker.size()) == kUnloadableDependencyMarker;
}

bool read_allow_unc_paths(const Registry& registry, RegView view) noexcept {
  try {
    // The service's rule and validation (settings.h), so the two cannot disagree.
    const SettingChoice c = read_setting(registry, *find_parameter("AllowUncPaths"), view);
    return c.source != SettingSource::kDefault && c.value.number == 1;
  } catch (...) {
    return false;  // std::bad_alloc: the safe answer
  }
}

const AppOverride* find_override(const ScopeResolution& resolution, std::u16string_view module) {
  const size_t slash = module.find_last_of(u"\\/");
  if (slash != std::u16string_view::npos) module.remove_prefix(slash + 1);
  for (const auto& o : resolution.overrides) {
    if (text::iequals(o.module, module)) return &o;
  }
  return nullptr;
}

}  // namespace mapidispatch
