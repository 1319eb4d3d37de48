// Copyright MapiDispatch authors.
//
// The stub's per-call and first-call cost, in one run, printed as figures (never pass/fail):
//   direct         the provider's entry point called straight (the floor)
//   stub, table    through mapi32.dll, answers from the service's table (the fast path)
//   stub, registry through mapi32.dll with MAPIDISPATCH_MODE=registry: the Windows stub's way,
//                  the registry resolved on every call
// for MAPISendMail (Simple MAPI, session handling) and UlAddRef@4 (a utility function, generic
// forwarder); and the first call's cost in a fresh process, in both modes.
//
//   stub_bench [--json FILE]     run under Wine by `deploy/dev.sh bench`, or by hand
// It writes HKCU\Software\Clients\Mail for the registry mode and restores it afterwards.

#include <windows.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "mapidispatch/dispatch.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "hkcu_mail_client.h"
#include "../support/win_process.h"

namespace {

using namespace mapidispatch;

using SendMail = ULONG(WINAPI*)(ULONG_PTR, ULONG_PTR, void*, ULONG, ULONG);
using AddRef = ULONG(WINAPI*)(ULONG*);

std::wstring exe_dir() {
  wchar_t buf[MAX_PATH * 2];
  const DWORD n = GetModuleFileNameW(nullptr, buf, MAX_PATH * 2);
  std::wstring p(buf, n);
  return p.substr(0, p.find_last_of(L'\\'));
}

template <typename F>
F proc(HMODULE m, const char* name) {
  return reinterpret_cast<F>(reinterpret_cast<void*>(GetProcAddress(m, name)));
}

double now_ns() {
  static LARGE_INTEGER freq = [] {
    LARGE_INTEGER f;
    QueryPerformanceFrequency(&f);
    return f;
  }();
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  return static_cast<double>(c.QuadPart) * 1e9 / static_cast<double>(freq.QuadPart);
}

// Best of `reps` runs of `n` calls, in ns per call.
template <typename Call>
double per_call(Call call, long n, int reps = 5) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_ns();
    for (long i = 0; i < n; ++i) call();
    best = std::min(best, (now_ns() - t0) / static_cast<double>(n));
  }
  return best;
}

// Child: time the calls of one mode; write "send_ns addref_ns failures" to `out`.
int child_calls(const std::wstring& module_path, long n, const char* out) {
  HMODULE m = LoadLibraryW(module_path.c_str());
  if (m == nullptr) return 2;
  auto send = proc<SendMail>(m, "MAPISendMail");
  auto addref = proc<AddRef>(m, "UlAddRef@4");
  if (send == nullptr || addref == nullptr) return 3;
  unsigned long failures = 0;
  ULONG counter = 0;
  // Warm up: the first call binds.
  failures += send(0, 0, nullptr, 0, 0) != 0;
  // The two calls alternate, run by run, so that neither is always measured first (frequency
  // ramp-up, page faults of the first loop, another process's burst).
  double s = 1e300, a = 1e300;
  for (int r = 0; r < 5; ++r) {
    s = std::min(s, per_call([&] { failures += send(0, 0, nullptr, 0, 0) != 0; }, n, 1));
    a = std::min(a, per_call([&] { addref(&counter); }, n, 1));
  }
  std::ofstream(out) << s << " " << a << " " << failures << "\n";
  return 0;
}

// Child: the first call in a fresh process, and LoadLibrary plus the first call.
int child_first(const std::wstring& module_path, const char* out) {
  const double t0 = now_ns();
  HMODULE m = LoadLibraryW(module_path.c_str());
  if (m == nullptr) return 2;
  auto send = proc<SendMail>(m, "MAPISendMail");
  const double t1 = now_ns();
  const ULONG rc = send(0, 0, nullptr, 0, 0);
  const double t2 = now_ns();
  std::ofstream(out) << (t2 - t1) << " " << (t2 - t0) << " " << rc << "\n";
  return 0;
}

int spawn(const std::wstring& args) {
  wchar_t exe[MAX_PATH * 2];
  GetModuleFileNameW(nullptr, exe, MAX_PATH * 2);
  std::wstring cmd = L"\"" + std::wstring(exe) + L"\" " + args;
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  if (!mapidispatch::test::create_process_retrying(cmd, false, &si, &pi)) return -1;
  WaitForSingleObject(pi.hProcess, 600000);
  DWORD code = 1;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return static_cast<int>(code);
}

std::vector<double> read_numbers(const std::wstring& path) {
  std::ifstream in{std::string(path.begin(), path.end())};
  std::vector<double> v;
  for (double d; in >> d;) v.push_back(d);
  return v;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::wstring dir = exe_dir();
  const std::wstring provider = dir + L"\\prov_bench.dll";
  const std::wstring stub = dir + L"\\mapi32.dll";
  if (argc >= 2 && std::strcmp(argv[1], "--child-calls") == 0 && argc == 5) {
    const std::string which = argv[2];
    return child_calls(which == "direct" ? provider : stub, std::atol(argv[3]), argv[4]);
  }
  if (argc >= 2 && std::strcmp(argv[1], "--child-first") == 0 && argc == 3) return child_first(stub, argv[2]);
  const char* json = (argc == 3 && std::strcmp(argv[1], "--json") == 0) ? argv[2] : nullptr;

  // The table, published by this process, pointing at the bench provider.
  const std::string section = "Local\\mapidispatch.bench." + std::to_string(GetCurrentProcessId());
  std::unique_ptr<WritableSection> ws;
  if (auto ec = WritableSection::create(section, 1 << 20, &ws)) {
    std::fprintf(stderr, "cannot create the table: %s\n", ec.message().c_str());
    return 1;
  }
  TableWriter writer(ws->bytes(), GetCurrentProcessId(), 0);
  ScopeResolution machine;
  machine.default_client = u"MapiDispatch Bench";
  const std::u16string p16(provider.begin(), provider.end());
  machine.simple = {TargetStatus::kFound, machine_of(this_process_bitness()), ValueSource::kHklm, p16, u"MapiDispatch Bench", {}};
  machine.extended = machine.simple;
  std::vector<ScopeResolution> scopes{machine};
  writer.publish(scopes);
  SetEnvironmentVariableW(L"MAPIDISPATCH_SECTION", std::wstring(section.begin(), section.end()).c_str());
  SetEnvironmentVariableW(L"MAPIDISPATCH_NO_UI", L"1");
  test::HkcuMailClient registry(L"MapiDispatch Bench", provider);

  wchar_t tmp[MAX_PATH];
  GetTempPathW(MAX_PATH, tmp);
  const std::wstring out = std::wstring(tmp) + L"mapidispatch.bench." + std::to_wstring(GetCurrentProcessId()) + L".txt";
  const std::string out8(out.begin(), out.end());

  struct Mode { const char* name; const wchar_t* which; const wchar_t* env_mode; long n; };
  const Mode modes[] = {{"direct", L"direct", nullptr, 2000000},
                        {"stub, table", L"stub", nullptr, 2000000},
                        {"stub, registry", L"stub", L"registry", 2000}};
  double send_ns[3] = {}, addref_ns[3] = {}, failures[3] = {};
  for (int i = 0; i < 3; ++i) {
    SetEnvironmentVariableW(L"MAPIDISPATCH_MODE", modes[i].env_mode);
    DeleteFileW(out.c_str());
    const int rc = spawn(L"--child-calls " + std::wstring(modes[i].which) + L" " + std::to_wstring(modes[i].n) + L" \"" + out + L"\"");
    const auto v = read_numbers(out);
    if (rc != 0 || v.size() != 3) {
      std::fprintf(stderr, "%s: child failed (%d)\n", modes[i].name, rc);
      continue;
    }
    send_ns[i] = v[0];
    addref_ns[i] = v[1];
    failures[i] = v[2];
  }

  constexpr int kFresh = 15;
  double first_ns[2] = {}, first_load_ns[2] = {};
  const wchar_t* first_modes[2] = {nullptr, L"registry"};
  for (int m = 0; m < 2; ++m) {
    SetEnvironmentVariableW(L"MAPIDISPATCH_MODE", first_modes[m]);
    std::vector<double> call, load;
    for (int i = 0; i < kFresh; ++i) {
      DeleteFileW(out.c_str());
      if (spawn(L"--child-first \"" + out + L"\"") != 0) continue;
      const auto v = read_numbers(out);
      if (v.size() == 3 && v[2] == 0) {
        call.push_back(v[0]);
        load.push_back(v[1]);
      }
    }
    first_ns[m] = median(call);
    first_load_ns[m] = median(load);
  }
  SetEnvironmentVariableW(L"MAPIDISPATCH_MODE", nullptr);
  DeleteFileW(out.c_str());

  std::printf("MapiDispatch stub benchmark (x64, under %s)\n", GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version") ? "Wine" : "Windows");
  std::printf("per-call cost, ns/call (best of 5 runs)      direct    stub,table   stub,registry\n");
  std::printf("  MAPISendMail (Simple, session check)   %9.1f    %9.1f    %12.1f\n", send_ns[0], send_ns[1], send_ns[2]);
  std::printf("  UlAddRef@4  (utility, generic)         %9.1f    %9.1f    %12.1f\n", addref_ns[0], addref_ns[1], addref_ns[2]);
  std::printf("  failed calls                           %9.0f    %9.0f    %12.0f\n", failures[0], failures[1], failures[2]);
  const auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::printf("ratios (targets: table/direct <= 1.5; registry/table >= 100)\n");
  std::printf("  MAPISendMail: table/direct %.2fx, registry/table %.0fx\n", ratio(send_ns[1], send_ns[0]), ratio(send_ns[2], send_ns[1]));
  std::printf("  UlAddRef@4:   table/direct %.2fx, registry/table %.0fx\n", ratio(addref_ns[1], addref_ns[0]), ratio(addref_ns[2], addref_ns[1]));
  std::printf("first call in a fresh process (median of %d): table %.1f us (with LoadLibrary %.1f us); registry %.1f us (with LoadLibrary %.1f us)\n",
              kFresh, first_ns[0] / 1000, first_load_ns[0] / 1000, first_ns[1] / 1000, first_load_ns[1] / 1000);
  if (json != nullptr) {
    std::ofstream j(json);
    j << "{\n  \"send_mail_ns\": {\"direct\": " << send_ns[0] << ", \"table\": " << send_ns[1] << ", \"registry\": " << send_ns[2]
      << "},\n  \"ul_add_ref_ns\": {\"direct\": " << addref_ns[0] << ", \"table\": " << addref_ns[1] << ", \"registry\": " << addref_ns[2]
      << "},\n  \"failed_calls\": {\"direct\": " << failures[0] << ", \"table\": " << failures[1] << ", \"registry\": " << failures[2]
      << "},\n  \"first_call_ns\": {\"table\": " << first_ns[0] << ", \"registry\": " << first_ns[1]
      << "},\n  \"first_call_with_load_ns\": {\"table\": " << first_load_ns[0] << ", \"registry\": " << first_load_ns[1] << "}\n}\n";
  }
  return 0;
}
