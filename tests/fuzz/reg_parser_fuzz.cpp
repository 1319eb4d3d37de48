// Copyright MapiDispatch authors.
//
// libFuzzer target: arbitrary bytes as a `.reg` export, then the resolver over whatever was
// parsed (an error keeps what came before it), for the machine scope, HKEY_CURRENT_USER and the
// first HKEY_USERS scopes, with files and Windows Installer components the seeds name. The same
// bytes also go through the PE reader, whose import list must keep pe_image.h's rules (printable
// names within the length limit, no case-insensitive duplicate, a reason exactly when damaged).
// Nothing may crash, read out of bounds (ASan), hang, or leave a target without a reason.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "../resolver/pe_builder.h"
#include "mapidispatch/json_writer.h"
#include "mapidispatch/pe_image.h"
#include "mapidispatch/reg_file.h"
#include "mapidispatch/resolver.h"

namespace {

using namespace mapidispatch;

const MemoryFileSystem& files() {
  static const MemoryFileSystem* fs = [] {
    auto* f = new MemoryFileSystem;
    f->add_file(u"C:\\Program Files\\Fuzz\\fuzz.dll", test::provider_dll(0x8664));
    f->add_file(u"C:\\Program Files (x86)\\Fuzz\\fuzz32.dll", test::provider_dll(0x014c));
    f->add_file(u"\\\\server\\share\\fuzz.dll", test::provider_dll(0xAA64));
    f->add_file(u"C:\\Windows\\System32\\mapi32x.dll", test::provider_dll(0x8664));
    f->add_file(u"C:\\Windows\\System32\\mapisvc.inf", {'[', ']'});
    f->add_file(u"C:\\Windows\\System32\\mapi32.dll", test::provider_dll(0x8664));
    f->add_file(u"C:\\Program Files\\Fuzz\\notes.txt", {'h', 'i'});
    return f;
  }();
  return *fs;
}

const MemoryMsiComponents& msi() {
  static const MemoryMsiComponents* m = [] {
    auto* c = new MemoryMsiComponents(true, u"the fuzz component table");
    c->add(u"{29F458BE-8866-11D5-A3DD-00B0D0F3BAA7}", u"1033\\NT", u"C:\\Program Files\\Fuzz\\fuzz.dll");
    c->add(u"{29F458BE-8866-11D5-A3DD-00B0D0F3BAA7}", u"1031", u"C:\\Program Files (x86)\\Fuzz\\fuzz32.dll");
    return c;
  }();
  return *m;
}

void check(const Target& t) {
  // A resolved target always says why; abort() makes libFuzzer keep the input.
  if (t.reason.empty()) std::abort();
  (void)json_quote(t.path);
  (void)json_quote(t.reason);
}

void resolve(const MemoryRegistry& reg, const ScopeRequest& request, const ResolverOptions& options) {
  const HivePath* hive = request.kind == ScopeKind::kUser ? &request.user_hive : nullptr;
  const MapEnvironment env = make_registry_environment(reg, hive, request.sid, options.process_machine);
  ScopeResolution r;
  Explanation why;
  if (resolve_scope(request, {reg, files(), msi(), env}, options, &r, &why) != ResolveStatus::kOk) std::abort();
  check(r.simple);
  check(r.extended);
  check(r.mapi32x);
  for (const auto& o : r.overrides) {
    (void)json_quote(o.module);
    if (find_override(r, o.module) == nullptr) std::abort();
  }
  (void)explanation_to_text(why);
}

void check(const PeInfo& info) {
  if (info.imports.size() > 2 * size_t{kMaxPeImportDlls}) std::abort();
  std::set<std::string> seen;
  bool delay_seen = false;
  for (const PeImport& i : info.imports) {
    if (i.dll.empty() || i.dll.size() > kMaxPeImportNameLength) std::abort();
    std::string key;
    for (const char c : i.dll) {
      if (c < 0x20 || c > 0x7E) std::abort();
      key.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    if (!seen.insert(key).second) std::abort();
    if (delay_seen && !i.delay_load) std::abort();  // imports first, then delay-loads
    delay_seen = delay_seen || i.delay_load;
  }
  if (info.imports_status != PeStatus::kOk && info.imports_status != PeStatus::kBadImports) std::abort();
  if ((info.imports_status == PeStatus::kOk) != info.imports_reason.empty()) std::abort();
  (void)json_quote(info.imports_reason);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Exact-size heap copy: ASan flags any read past the end.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(buf.get(), data, size);
  const std::span<const uint8_t> bytes(buf.get(), size);

  PeInfo info;
  (void)read_pe_image(SpanByteSource(bytes), &info);
  check(info);  // whatever the status: imports are read even when the exports are damaged

  MemoryRegistry reg;
  (void)parse_reg_file(bytes, &reg);

  ResolverOptions options;
  options.stub_paths = {u"C:\\Windows\\System32\\mapi32.dll"};
  // One input byte picks the policy variant, so each seed explores both.
  const uint8_t variant = size != 0 ? buf[size / 2] : 0;
  if (variant & 1) options.process_machine = PeMachine::kAmd64;
  if (variant & 2) options.allow_unc_paths = true;
  if (variant & 4) options.view = RegView::k32;
  if (variant & 8) options.system_directory = u"C:\\Windows\\System32";

  resolve(reg, ScopeRequest::machine(), options);
  resolve(reg, ScopeRequest::current_user(u"S-1-5-21-1-2-3-1001"), options);
  std::vector<std::u16string> sids;
  if (!list_user_scopes(reg, &sids, 4)) {
    for (const auto& sid : sids) resolve(reg, ScopeRequest::user_from_users(sid), options);
  }
  return 0;
}
