// Copyright MapiDispatch authors.
//
// The stub against providers nobody here wrote, x64 and x86 (under Wine's WoW64), in table mode
// (the test process writes the table with the answers the real resolver gives for this user)
// and in registry mode (MAPIDISPATCH_MODE=registry, the Windows stub's way):
// - Wine's winemapi.dll as the Simple MAPI provider. It exports only part of Simple MAPI (no
//   MAPIFreeBuffer) and imports MAPIAllocateBuffer from mapi32.dll, i.e. from this stub. It hands
//   mail to the desktop through winebrowser and `xdg-email`, which ctest puts on PATH as a script
//   that records its arguments (MD_MAIL_LOG).
// - Wine's own mapi32.dll, copied under another name, as the Extended MAPI provider: the same
//   calls made through the stub and directly into that copy must give the same results.
// - Our own partial providers: only MAPISendMail; only decorated names; only plain names.
// - Every export with nothing configured: no crash, the failure value its signature gives, and on
//   x86 the caller's stack exactly as a stdcall callee of that argument size leaves it.

#include <gtest/gtest.h>

#include <windows.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mapidispatch/resolver.h"
#include "mapidispatch/text.h"
#include "mapidispatch/win32/process_user.h"
#include "mapidispatch/win32/resolver_win.h"
#include "stub_world.h"

namespace mapidispatch {
namespace {

std::wstring system_dir() {
  wchar_t buf[MAX_PATH];
  const UINT n = GetSystemDirectoryW(buf, MAX_PATH);  // a 32-bit process's System32 is SysWOW64
  return std::wstring(buf, n);
}

std::wstring winemapi_path() { return system_dir() + L"\\winemapi.dll"; }

// Wine's mapi32.dll under another name beside the test program (copied once per build folder).
std::wstring wine_mapi32_copy() {
  const std::wstring copy = provider_path(L"wine_mapi32_copy");
  if (GetFileAttributesW(copy.c_str()) == INVALID_FILE_ATTRIBUTES)
    CopyFileW((system_dir() + L"\\mapi32.dll").c_str(), copy.c_str(), TRUE);
  return copy;
}

// The mail `xdg-email` received, from the recording script on PATH (a Unix path; Wine's Z:).
std::string mail_log() {
  char unix_path[1024];
  const DWORD n = GetEnvironmentVariableA("MD_MAIL_LOG", unix_path, sizeof unix_path);
  if (n == 0 || n >= sizeof unix_path) return {};
  std::string dos = "Z:" + std::string(unix_path, n);
  for (char& c : dos) c = c == '/' ? '\\' : c;
  return read_file(std::wstring(dos.begin(), dos.end()));
}

// winebrowser starts xdg-email asynchronously: waits up to 30 s for `needle` in the mail log.
bool mail_arrives(const std::string& needle) {
  for (int i = 0; i < 300; ++i) {
    if (mail_log().find(needle) != std::string::npos) return true;
    Sleep(100);
  }
  std::fprintf(stderr, "no mail with '%s' arrived; the log has:\n%s\n", needle.c_str(), mail_log().c_str());
  return false;
}

std::string bits() { return sizeof(void*) == 8 ? "x64" : "x86"; }

// The current user's answer from the real resolver, for this process's bitness: what the service
// would publish for this user (as the machine scope of a one-scope table).
ScopeResolution resolve_here() {
  ResolverOptions options;
  options.process_machine = kThisMachine;
  options.stub_paths = win32::default_stub_paths();
  options.stub_paths.push_back(u16(exe_dir() + L"\\mapi32.dll"));
#if !defined(_WIN64)
  options.view = RegView::k32;  // as the service resolves for 32-bit processes
#endif
  ScopeResolution scope;
  const ResolveStatus st = win32::resolve_live(ScopeRequest::current_user(win32::process_user_sid()), options, &scope);
  if (st != ResolveStatus::kOk) std::fprintf(stderr, "resolve_live: %s\n", std::string(to_string(st)).c_str());
  scope.kind = ScopeKind::kMachine;
  scope.sid.clear();
  return scope;
}

// Table mode publishes what the resolver says now; registry mode lets the stub read it itself.
void use_mode(World& w, const std::string& mode) {
  if (mode == "registry") SetEnvironmentVariableW(L"MAPIDISPATCH_MODE", L"registry");
  else w.publish(resolve_here());
}

using ResolveName = ULONG(WINAPI*)(ULONG_PTR, ULONG_PTR, LPSTR, ULONG, ULONG, void**);

// ---- Wine's winemapi.dll as the Simple MAPI provider ----------------------------------------------

int winemapi_scenario(const std::string& mode) {
  World w;
  test::HkcuMailClient client(L"MapiDispatch Compat Native", winemapi_path());
  if (mode == "table") {
    const ScopeResolution scope = resolve_here();
    // What status and explain show: a warning naming the calls that will fail, not a refusal.
    CHECK_THAT(scope.simple.status == TargetStatus::kMissingExports);
    const std::string why = text::utf16_to_utf8(scope.simple.reason);
    CHECK_THAT(why.find("warning") != std::string::npos && why.find("MAPIFreeBuffer") != std::string::npos);
    if (g_failures) std::fprintf(stderr, "simple: %s\n", why.c_str());
  }
  use_mode(w, mode);
  const std::string subject = "compat " + mode + " " + bits() + " " + std::to_string(GetCurrentProcessId());
  simple_mapi::RecipA to{0, 1, const_cast<LPSTR>("Bob"), const_cast<LPSTR>("SMTP:bob@example.com"), 0, nullptr};
  simple_mapi::MessageA m{};
  m.subject = const_cast<LPSTR>(subject.c_str());
  m.note_text = const_cast<LPSTR>("sent through the MapiDispatch stub");
  m.recip_count = 1;
  m.recips = &to;
  CHECK_EQ_U(w.by_name<SendMail>("MAPISendMail")(0, 0, &m, 0, 0), 0u);
  std::string escaped = subject;
  for (size_t p; (p = escaped.find(' ')) != std::string::npos;) escaped.replace(p, 1, "%20");
  CHECK_THAT(mail_arrives("mailto:bob@example.com?subject=" + escaped));
  // winemapi has no MAPISendMailW: the stub converts the message for its MAPISendMail.
  const std::wstring wide_subject = L"wide " + std::wstring(subject.begin(), subject.end());
  simple_mapi::RecipW to_w{0, 1, const_cast<LPWSTR>(L"Bob"), const_cast<LPWSTR>(L"SMTP:bob@example.com"), 0, nullptr};
  simple_mapi::MessageW mw{};
  mw.subject = const_cast<LPWSTR>(wide_subject.c_str());
  mw.recip_count = 1;
  mw.recips = &to_w;
  CHECK_EQ_U(w.by_name<SendMailW>("MAPISendMailW")(0, 0, &mw, 0, 0), 0u);
  CHECK_THAT(mail_arrives("subject=wide%20" + escaped));
  // A call winemapi lacks (no CMC at all) fails alone, with CMC's "not supported".
  CHECK_EQ_U(w.by_name<CmcLogoff>("cmc_logoff")(0, 0, 0, nullptr), 21u);
  // winemapi builds what MAPIResolveName returns with mapi32's MAPIAllocateBuffer (this stub,
  // whose own allocator serves it: no Extended provider has it); MAPIFreeBuffer frees it there.
  void* recip = nullptr;
  const ULONG rn = w.by_name<ResolveName>("MAPIResolveName")(0, 0, const_cast<LPSTR>("SMTP:bob@example.com"), 0, 0, &recip);
  if (rn == 0) {
    CHECK_THAT(recip != nullptr);
    CHECK_EQ_U(w.by_name<FreeBuffer>("MAPIFreeBuffer")(recip), 0u);
  }
  std::printf("%s %s: MAPIResolveName through winemapi returned %lu\n", bits().c_str(), mode.c_str(), rn);
  // The table's answer was used (the x86 stub under WOW64: its WOW64 view), or the registry's.
  const std::string t = w.trace();
  CHECK_THAT(t.find(mode == "table" ? "via table generation" : "via registry (forced)") != std::string::npos);
  CHECK_THAT(t.find(sizeof(void*) == 8 ? "view=native" : "view=wow64") != std::string::npos);
  // A live change of the default: the next call follows it, without a restart.
  client.point_at(provider_path(L"prov_simple"));
  if (mode == "table") w.publish(resolve_here());
  CHECK_EQ_U(send(w, "after the change"), 0u);
  CHECK_THAT(w.last_call() == "S MAPISendMail session=0 flags=0 subject=" + hex("after the change"));
  if (g_failures) std::fprintf(stderr, "trace:\n%s\n", w.trace().c_str());
  return g_failures;
}
MD_CHILD_MAIN(winemapi_table) { return winemapi_scenario("table"); }
MD_CHILD_MAIN(winemapi_registry) { return winemapi_scenario("registry"); }

// ---- Wine's mapi32.dll, renamed, as the Extended MAPI provider ---------------------------------

// A COM object with only IUnknown, for UlAddRef.
struct FakeUnknown {
  struct Vtbl {
    HRESULT(STDMETHODCALLTYPE* query)(FakeUnknown*, REFIID, void**);
    ULONG(STDMETHODCALLTYPE* add_ref)(FakeUnknown*);
    ULONG(STDMETHODCALLTYPE* release)(FakeUnknown*);
  };
  const Vtbl* vtbl;
  ULONG refs = 1;
  static HRESULT STDMETHODCALLTYPE Query(FakeUnknown*, REFIID, void** out) {
    *out = nullptr;
    return E_NOINTERFACE;
  }
  static ULONG STDMETHODCALLTYPE AddRef(FakeUnknown* self) { return ++self->refs; }
  static ULONG STDMETHODCALLTYPE Release(FakeUnknown* self) { return --self->refs; }
};
const FakeUnknown::Vtbl kFakeVtbl{&FakeUnknown::Query, &FakeUnknown::AddRef, &FakeUnknown::Release};

struct PropValue {  // SPropValue: the tag, padding, then the union (16 bytes on x64: SBinary)
  ULONG tag;
  ULONG pad;
  union {
    LONG l;
    LPSTR a;
    LONGLONG big;
    struct {
      ULONG cb;
      BYTE* lpb;
    } bin;
  } value;
};
static_assert(sizeof(PropValue) == (sizeof(void*) == 8 ? 24 : 16));
using LogonEx = HRESULT(WINAPI*)(ULONG_PTR, LPSTR, LPSTR, ULONG, void**);
using AllocateMore = HRESULT(WINAPI*)(ULONG, void*, void**);
using AddRef = ULONG(WINAPI*)(void*);
using PropCopyMore = HRESULT(WINAPI*)(PropValue*, PropValue*, AllocateMore, void*);
using BadRglpszA = BOOL(WINAPI*)(LPSTR*, ULONG);

// The Extended calls of the issue, through `get(name)`: the stub's exports or the copy's.
template <typename Get>
std::vector<std::string> extended_calls(Get get, AllocateMore more) {
  std::vector<std::string> r;
  auto say = [&](const std::string& what, unsigned long long v) { r.push_back(what + "=" + std::to_string(v)); };
  say("MAPIInitialize", static_cast<uint32_t>(get.template operator()<Initialize>("MAPIInitialize")(nullptr)));
  void* session = reinterpret_cast<void*>(1);
  say("MAPILogonEx", static_cast<uint32_t>(get.template operator()<LogonEx>("MAPILogonEx")(0, nullptr, nullptr, 0, &session)));
  void* buf = nullptr;
  say("MAPIAllocateBuffer", static_cast<uint32_t>(get.template operator()<AllocateBuffer>("MAPIAllocateBuffer")(64, &buf)));
  say("allocated", buf != nullptr);
  void* rows = reinterpret_cast<void*>(1);
  say("HrQueryAllRows@24", static_cast<uint32_t>(get.template operator()<QueryAllRows>("HrQueryAllRows@24")(nullptr, nullptr, nullptr, nullptr, 5, &rows)));
  FakeUnknown unk{&kFakeVtbl};
  say("UlAddRef@4", get.template operator()<AddRef>("UlAddRef@4")(&unk));
  PropValue src{0x00010003, 0, {}}, dst{};
  src.value.l = 42;
  say("PropCopyMore@16.long", static_cast<uint32_t>(get.template operator()<PropCopyMore>("PropCopyMore@16")(&dst, &src, more, buf)));
  say("copied.long", dst.tag == src.tag && dst.value.l == 42);
  PropValue s8{0x0002001E, 0, {}}, d8{};
  s8.value.a = const_cast<LPSTR>("copied string");
  say("PropCopyMore@16.string8", static_cast<uint32_t>(get.template operator()<PropCopyMore>("PropCopyMore@16")(&d8, &s8, more, buf)));
  say("copied.string8", d8.value.a != nullptr && d8.value.a != s8.value.a && std::strcmp(d8.value.a, "copied string") == 0);
  LPSTR good[] = {const_cast<LPSTR>("a"), const_cast<LPSTR>("b")};
  LPSTR bad[] = {const_cast<LPSTR>("a"), nullptr};
  say("FBadRglpszA@8.good", get.template operator()<BadRglpszA>("FBadRglpszA@8")(good, 2));
  say("FBadRglpszA@8.bad", get.template operator()<BadRglpszA>("FBadRglpszA@8")(bad, 2));
  say("MAPIFreeBuffer", get.template operator()<FreeBuffer>("MAPIFreeBuffer")(buf));
  get.template operator()<Uninitialize>("MAPIUninitialize")();
  return r;
}

int wine_mapi32_scenario(const std::string& mode) {
  World w;
  const std::wstring copy = wine_mapi32_copy();
  // HKCU, not HKLM: Wine's mapi32 loads HKLM's default client's DLLPathEx in its DllMain.
  test::HkcuMailClient client(L"MapiDispatch Compat Wine MAPI", provider_path(L"prov_simple"), copy);
  use_mode(w, mode);
  auto through_stub = [&]<typename F>(const char* name) { return w.by_name<F>(name); };
  const std::vector<std::string> via_stub = extended_calls(through_stub, w.by_name<AllocateMore>("MAPIAllocateMore"));
  HMODULE direct = GetModuleHandleW(copy.c_str());
  CHECK_THAT(direct != nullptr);  // the stub loaded the copy; the direct calls use the same module
  if (direct == nullptr) direct = LoadLibraryW(copy.c_str());
  auto into_copy = [&]<typename F>(const char* name) {
    FARPROC p = GetProcAddress(direct, name);
    if (p == nullptr) {
      std::fprintf(stderr, "Wine's mapi32 does not export %s\n", name);
      std::exit(95);
    }
    return proc_cast<F>(p);
  };
  const std::vector<std::string> via_copy =
      extended_calls(into_copy, proc_cast<AllocateMore>(GetProcAddress(direct, "MAPIAllocateMore")));
  CHECK_THAT(via_stub == via_copy);
  for (size_t i = 0; i < via_stub.size(); ++i)
    std::printf("%s %s: %-28s stub %-14s direct %s\n", bits().c_str(), mode.c_str(), via_stub[i].substr(0, via_stub[i].find('=')).c_str(),
                via_stub[i].substr(via_stub[i].find('=') + 1).c_str(),
                i < via_copy.size() ? via_copy[i].substr(via_copy[i].find('=') + 1).c_str() : "-");
  CHECK_THAT(std::find(via_stub.begin(), via_stub.end(), "copied.string8=1") != via_stub.end());
  if (g_failures) std::fprintf(stderr, "trace:\n%s\n", w.trace().c_str());
  return g_failures;
}
MD_CHILD_MAIN(wine_mapi32_table) { return wine_mapi32_scenario("table"); }
MD_CHILD_MAIN(wine_mapi32_registry) { return wine_mapi32_scenario("registry"); }

// ---- Our partial providers ---------------------------------------------------------------------

// Only MAPISendMail (the other Simple calls fail alone); only decorated names; only plain names.
int partial_scenario(const std::string& mode) {
  World w;
  test::HkcuMailClient client(L"MapiDispatch Compat Partial", provider_path(L"prov_sendonly"));
  use_mode(w, mode);
  CHECK_EQ_U(send(w, "only send"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "P MAPISendMail"));
  ULONG_PTR session = 0;
  CHECK_EQ_U(w.by_name<Logon>("MAPILogon")(0, nullptr, nullptr, 0, 0, &session), 26u);  // MAPI_E_NOT_SUPPORTED
  CHECK_EQ_U(static_cast<uint32_t>(w.by_name<Initialize>("MAPIInitialize")(nullptr)), 0x80004005u);
  for (const wchar_t* provider : {L"prov_decorated", L"prov_plain"}) {
    client.point_at(provider_path(provider));
    if (mode == "table") w.publish(resolve_here());
    const std::string tag = provider == std::wstring(L"prov_decorated") ? "D" : "L";
    CHECK_EQ_U(send(w, "forms"), 0u);  // called plain: found plain or decorated
    CHECK_THAT(starts_with(w.last_call(), tag + " MAPISendMail"));
    CHECK_EQ_U(w.by_ordinal<SendMail>(211)(0, 0, nullptr, 0, 0), 0u);
    CHECK_EQ_U(static_cast<uint32_t>(w.by_name<Initialize>("MAPIInitialize@4")(nullptr)), 0u);  // called decorated
    CHECK_THAT(w.last_call() == tag + " MAPIInitialize");
    void* rows = reinterpret_cast<void*>(1);
    CHECK_EQ_U(w.by_name<QueryAllRows>("HrQueryAllRows@24")(nullptr, nullptr, nullptr, nullptr, 3, &rows), 0u);
    CHECK_THAT(w.last_call() == tag + " HrQueryAllRows max_rows=3");
    w.by_name<Uninitialize>("MAPIUninitialize@0")();
  }
  if (g_failures) std::fprintf(stderr, "trace:\n%s\n", w.trace().c_str());
  return g_failures;
}
MD_CHILD_MAIN(partial_providers_table) { return partial_scenario("table"); }
MD_CHILD_MAIN(partial_providers_registry) { return partial_scenario("registry"); }

// ---- The same answer in both modes, 32-bit too -------------------------------------------------

// Windows shares HKLM\Software\Clients between the registry views; Wine keeps a Wow6432Node copy.
// Each view names another client here: a 32-bit process must get the 64-bit view's in table
// mode (the service's WOW64 answers) and in registry mode alike, as on Windows.
int modes_agree_scenario(const std::string& mode) {
  World w;
  test::HklmMailDefault view64(KEY_WOW64_64KEY, L"MapiDispatch Agree 64", provider_path(L"prov_simple"));
  test::HklmMailDefault view32(KEY_WOW64_32KEY, L"MapiDispatch Agree 32", provider_path(L"prov_a"));
  use_mode(w, mode);
  CHECK_EQ_U(send(w, "agree"), 0u);
  CHECK_THAT(starts_with(w.last_call(), "S MAPISendMail"));
  if (g_failures) std::fprintf(stderr, "trace:\n%s\n", w.trace().c_str());
  return g_failures;
}
MD_CHILD_MAIN(hklm_clients_table) { return modes_agree_scenario("table"); }
MD_CHILD_MAIN(hklm_clients_registry) { return modes_agree_scenario("registry"); }

// ---- Every export with nothing configured --------------------------------------------------------

struct ExportRow {
  std::string name;
  int ordinal = 0;
  int bytes = -1;  // -1: unknown
  std::string failure;
};

// The rows of a tab-separated file of the project's (a Unix path, read through Wine's Z:).
std::vector<std::vector<std::string>> tsv_rows(const char* unix_path) {
  std::string dos = std::string("Z:") + unix_path;
  for (char& c : dos) c = c == '/' ? '\\' : c;
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file(std::wstring(dos.begin(), dos.end())));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line.rfind("name\t", 0) == 0) continue;
    std::vector<std::string> f;
    std::istringstream ls(line);
    for (std::string field; std::getline(ls, field, '\t');) f.push_back(field);
    rows.push_back(std::move(f));
  }
  return rows;
}

// The export list with the argument sizes the stub uses: the list's, else the supplement's.
std::vector<ExportRow> export_rows() {
  std::map<std::string, int> supplement;
  for (const auto& f : tsv_rows(MAPIDISPATCH_SUPPLEMENT_TSV))
    if (f.size() >= 2) supplement[f[0]] = std::stoi(f[1]);
  std::vector<ExportRow> rows;
  for (const auto& f : tsv_rows(MAPIDISPATCH_EXPORTS_TSV)) {
    if (f.size() < 7) continue;
    int bytes = f[2].empty() ? -1 : std::stoi(f[2]);
    if (bytes < 0 && supplement.count(f[0])) bytes = supplement[f[0]];
    rows.push_back({f[0], std::stoi(f[1]), bytes, f[6]});
  }
  return rows;
}

// Calls `fn` with `nargs` zero arguments; the 64-bit result. On x86 also how far the callee left
// ESP from where the caller had it before pushing the arguments: 0 for a stdcall callee that pops
// exactly nargs * 4 bytes.
uint64_t call_with_zeros(void* fn, int nargs, long* esp_delta) {
#if defined(_WIN64)
  *esp_delta = 0;
  using Fn12 = uint64_t (*)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t,
                            uintptr_t, uintptr_t, uintptr_t, uintptr_t);
  (void)nargs;  // x64: callers pass every slot; callees ignore the ones they do not take
  return reinterpret_cast<Fn12>(fn)(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
#else
  uint32_t lo = 0, hi = 0, count = static_cast<uint32_t>(nargs);
  // ESI keeps the caller's ESP across the call (callee-saved); the loop pushes the zeros.
  __asm__ volatile(
      "movl %%esp, %%esi\n\t"
      "1:\n\t"
      "testl %%ecx, %%ecx\n\t"
      "jz 2f\n\t"
      "pushl $0\n\t"
      "decl %%ecx\n\t"
      "jmp 1b\n"
      "2:\n\t"
      "call *%%ebx\n\t"
      "movl %%esp, %%ecx\n\t"
      "subl %%esi, %%ecx\n\t"
      "movl %%esi, %%esp\n\t"
      : "=a"(lo), "=d"(hi), "+c"(count)
      : "b"(fn)
      : "esi", "memory", "cc");
  *esp_delta = static_cast<int32_t>(count);
  return (uint64_t{hi} << 32) | lo;
#endif
}

MD_CHILD_MAIN(every_export_with_nothing_configured) {
  World w;
  w.publish(machine_scope(nullptr, nullptr));  // a table that names no provider for anybody
  int called = 0;
  for (const ExportRow& e : export_rows()) {
    void* fn = reinterpret_cast<void*>(
        e.name == "(none)" ? GetProcAddress(w.stub(), MAKEINTRESOURCEA(e.ordinal)) : GetProcAddress(w.stub(), e.name.c_str()));
    if (fn == nullptr) {
      std::fprintf(stderr, "%s (%d) is not exported\n", e.name.c_str(), e.ordinal);
      ++g_failures;
      continue;
    }
    // Unknown size on x86: cdecl-safe (the failure routine pops nothing), so push none.
    long delta = 0;
    const uint64_t r = call_with_zeros(fn, e.bytes < 0 ? 0 : e.bytes / 4, &delta);
    ++called;
    const uint32_t v = static_cast<uint32_t>(r);
    uint64_t want = 0;
    if (e.failure == "hresult" || e.failure == "unknown") want = 0x80004005u;
    if (e.failure == "simple") want = 2;
    if (e.failure == "cmc") want = 8;
    if (e.failure == "bad") want = 1;
    // The stub's own allocator answers MAPIAllocateBuffer(0, NULL): an invalid parameter.
    if (e.name.rfind("MAPIAllocateBuffer", 0) == 0) want = 0x80070057u;
    bool ok = e.failure == "void" || (e.failure == "filetime" ? r == 0 : v == want);
    if (delta != 0) ok = false;
    if (!ok) {
      std::fprintf(stderr, "%s (ordinal %d, %s): returned 0x%llx, ESP moved %ld bytes; expected 0x%llx\n", e.name.c_str(),
                   e.ordinal, e.failure.c_str(), static_cast<unsigned long long>(r), delta,
                   static_cast<unsigned long long>(want));
      ++g_failures;
    }
  }
  std::printf("%s: %d exports called with nothing configured, %d wrong\n", bits().c_str(), called, g_failures);
  CHECK_THAT(called > 180);
  return g_failures;
}

// ---- The tests ------------------------------------------------------------------------------

class Compat : public ::testing::TestWithParam<const char*> {};

TEST_P(Compat, Scenario) {
  auto child = test::spawn_self_child(GetParam());
  EXPECT_EQ(child.wait(), 0) << "scenario " << GetParam() << ": see its checks above";
}

INSTANTIATE_TEST_SUITE_P(InAFreshProcess, Compat,
                         ::testing::Values("winemapi_table", "winemapi_registry", "wine_mapi32_table",
                                           "wine_mapi32_registry", "partial_providers_table",
                                           "partial_providers_registry", "hklm_clients_table",
                                           "hklm_clients_registry", "every_export_with_nothing_configured"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace mapidispatch
