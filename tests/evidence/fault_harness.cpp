// Copyright MapiDispatch authors.
//
// fault_bench's harness (fault_harness.h): the run's set-up and teardown, the registry and the
// service it drives, the child processes, the consistency check, the tallies and the verdict.

#include "fault_harness.h"

#include <windows.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../support/win_process.h"
#include "fault_control.h"
#include "mapidispatch/json_writer.h"
#include "mapidispatch/table.h"
#include "mapidispatch/table_layout.h"
#include "service_test_util.h"

namespace mapidispatch::evidence {
namespace {

using namespace std::chrono_literals;

constexpr wchar_t kMailKey[] = L"Software\\Clients\\Mail";

std::u16string provider_path(const Expectation& x, uint64_t n) {
  const std::string i = std::to_string(n % kProviderFiles);
  return x.dir + u"\\p" + std::u16string(i.begin(), i.end()) + u".dll";
}

// "" if the scope is consistent; else what is wrong. *n receives the scope's n.
std::string check_scope(const Expectation& x, const ScopeResolution& s, uint64_t* n) {
  const auto num = client_number(x, s.default_client);
  if (!num) return "default client '" + narrow16(s.default_client) + "' is not one the bench wrote";
  *n = *num;
  const std::u16string path = provider_path(x, *num);
  const std::u16string quoted = u"'" + s.default_client + u"'";
  for (const Target* t : {&s.simple, &s.extended}) {
    const char* family = t == &s.simple ? "simple" : "extended";
    if (t->client != s.default_client)
      return std::string(family) + " client '" + narrow16(t->client) + "' != default client '" +
             narrow16(s.default_client) + "'";
    if (t->path != path)
      return std::string(family) + " path '" + narrow16(t->path) + "' is not the path of client " +
             std::to_string(*num) + " ('" + narrow16(path) + "')";
    if (t->status == TargetStatus::kFound && t->machine != PeMachine::kAmd64)
      return std::string(family) + " found with machine " + std::to_string(static_cast<unsigned>(t->machine));
    if ((t->status == TargetStatus::kFound || t->status == TargetStatus::kMissing) &&
        t->reason.find(quoted) == std::u16string::npos)
      return std::string(family) + " reason does not name client " + narrow16(quoted) + ": " + narrow16(t->reason);
  }
  return {};
}

std::string rc_summary(const Tally& t) {
  std::string s;
  for (int i = 1; i < kRcBuckets; ++i) {
    if (t.rc_counts[i] == 0) continue;
    if (!s.empty()) s += ", ";
    s += (i == kRcBuckets - 1 ? std::string("other") : "rc " + std::to_string(i)) + ": " + std::to_string(t.rc_counts[i]);
  }
  return s.empty() ? "none" : s;
}

std::string rejected_summary(const uint64_t (&r)[kErrorBuckets]) {
  std::string s;
  for (int i = 0; i < kErrorBuckets; ++i) {
    if (r[i] == 0) continue;
    if (!s.empty()) s += ", ";
    s += make_error_code(static_cast<TableError>(i)).message() + ": " + std::to_string(r[i]);
  }
  return s.empty() ? "none" : s;
}

std::string short_reason(const std::string& source) {
  if (source.find("being written") != std::string::npos) return "busy";
  if (source.find("writer has stopped") != std::string::npos) return "writer stopped";
  if (source.find("checksum") != std::string::npos) return "bad checksum";
  if (source.find("magic") != std::string::npos) return "bad magic";
  if (source.find("ABI") != std::string::npos) return "bad ABI";
  if (source.find("header") != std::string::npos) return "bad header";
  if (source.find("directory") != std::string::npos) return "bad directory";
  if (source.find("record") != std::string::npos) return "bad record";
  if (source.find("no table") != std::string::npos) return "no table";
  if (source.find("no machine scope") != std::string::npos) return "no machine scope";
  return source.substr(0, 60);
}

void parse_trace(const std::wstring& path, RebindTally* out) {
  std::ifstream in(std::filesystem::path(path), std::ios::binary);
  for (std::string line; std::getline(in, line);) {
    if (line.find("] bind simple:") == std::string::npos) continue;
    if (line.find(" via table") != std::string::npos) {
      ++out->via_table;
    } else if (const size_t at = line.find(" via registry"); at != std::string::npos) {
      // "via registry (table: WHY); DECISION": only WHY says why the table was not used.
      const size_t end = line.find("; ", at);
      ++out->via_registry[short_reason(line.substr(at, end == std::string::npos ? std::string::npos : end - at))];
    }
  }
}

}  // namespace

// ---- Small helpers ----------------------------------------------------------------------------

std::wstring widen(const std::string& s) { return std::wstring(s.begin(), s.end()); }
std::string narrow(const std::wstring& w) {
  std::string s;
  for (const wchar_t c : w) s += c < 0x80 ? static_cast<char>(c) : '?';
  return s;
}
std::string narrow16(const std::u16string& w) {
  std::string s;
  for (const char16_t c : w) s += c < 0x80 ? static_cast<char>(c) : '?';
  return s;
}
std::u16string u16(const std::wstring& w) { return std::u16string(w.begin(), w.end()); }

std::wstring exe_path() {
  wchar_t buf[MAX_PATH * 2];
  const DWORD n = ::GetModuleFileNameW(nullptr, buf, MAX_PATH * 2);
  return std::wstring(buf, n);
}
std::wstring exe_dir() {
  const std::wstring p = exe_path();
  return p.substr(0, p.find_last_of(L'\\'));
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string win_error(DWORD code) {
  std::string s = test::win_error_text("", code).substr(9);  // "<code> <message>", without its line end
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// ---- The consistency check of an accepted snapshot --------------------------------------------

std::optional<uint64_t> client_number(const Expectation& x, const std::u16string& client) {
  if (client.size() <= x.prefix.size() || client.compare(0, x.prefix.size(), x.prefix) != 0) return std::nullopt;
  const std::u16string digits = client.substr(x.prefix.size());
  if (digits.size() > 18) return std::nullopt;
  uint64_t n = 0;
  for (const char16_t c : digits) {
    if (c < u'0' || c > u'9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - u'0');
  }
  return n;
}

std::string Checker::check(const TableSnapshot& snap) {
  uint64_t n_machine = 0;
  std::string problem = check_scope(x_, snap.machine, &n_machine);
  if (!problem.empty()) return "machine scope: " + problem;
  auto check_user = [&](const ScopeResolution& u) {
    uint64_t n_user = 0;
    const std::string p = check_scope(x_, u, &n_user);
    return p.empty() ? p : "user scope " + narrow16(u.sid) + ": " + p;
  };
  if (snap.user && !(problem = check_user(*snap.user)).empty()) return problem;
  for (const auto& u : snap.users)
    if (!(problem = check_user(u)).empty()) return problem;
  if (snap.info.generation < last_generation_) {
    ++order_violations_;
    last_order_problem_ = "generation " + std::to_string(snap.info.generation) + " accepted after " +
                          std::to_string(last_generation_);
  } else if (n_machine < last_n_) {
    ++order_violations_;
    last_order_problem_ = "client " + std::to_string(n_machine) + " accepted after client " + std::to_string(last_n_);
  }
  last_generation_ = std::max(last_generation_, snap.info.generation);
  last_n_ = std::max(last_n_, n_machine);
  return {};
}

// ---- Results ------------------------------------------------------------------------------------

std::string definitions_note() {
  return "Definitions: a call is session-less MAPISendMail through the stub to a provider that exists and returns "
         "SUCCESS_SUCCESS; it fails when it returns non-zero or the provider did not receive it, and counts against "
         "the goal only where Windows' stub (which keeps the provider a process loaded, and loads the registry's "
         "DLLPath in a new process) would have served it. A torn read is a snapshot a reader accepted (kOk) whose "
         "scopes do not all name one client n consistently (default client, both targets' clients, paths "
         "p<n mod 8>.dll and reasons), checked independently of the table's checksums; an accepted generation or n "
         "lower than one accepted before is an ordering violation and fails the goal too.";
}

std::string RebindTally::summary() const {
  uint64_t reg = 0;
  std::string parts;
  for (const auto& [why, n] : via_registry) {
    reg += n;
    if (!parts.empty()) parts += ", ";
    parts += why + " " + std::to_string(n);
  }
  return std::to_string(via_table + reg) + " rebinds: " + std::to_string(via_table) + " from the table, " +
         std::to_string(reg) + " from the registry" + (parts.empty() ? "" : " (" + parts + ")");
}

// ---- The harness ----------------------------------------------------------------------------------

bool Bench::set_sz(HKEY key, const wchar_t* name, const std::wstring& value) {
  ++writes_;
  return ::RegSetValueExW(key, name, 0, REG_SZ, reinterpret_cast<const BYTE*>(value.c_str()),
                          static_cast<DWORD>((value.size() + 1) * sizeof(wchar_t))) == ERROR_SUCCESS;
}

bool Bench::advance() {
  const uint64_t n = n_.load() + 1;
  const std::wstring name = client_name(n);
  HKEY k = nullptr;
  if (::RegCreateKeyExW(mail_, name.c_str(), 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, &k, nullptr) !=
      ERROR_SUCCESS)
    return false;
  ++writes_;
  const bool ok = set_sz(k, L"DLLPath", provider_file(n)) && set_sz(k, L"DLLPathEx", provider_file(n));
  ::RegCloseKey(k);
  if (!ok || !set_sz(mail_, nullptr, name)) return false;
  n_.store(n);
  return true;
}

int Bench::hostile_write(uint64_t i) {
  // Hostile data where it must not change an answer: other clients' keys (not the default),
  // MSMapiApps entries for modules no client loads, unrelated values of the default's key.
  const std::wstring junk = L"MDFault." + std::to_wstring(pid_) + L".junk" + std::to_wstring(i % 8);
  HKEY k = nullptr;
  if (::RegCreateKeyExW(mail_, junk.c_str(), 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, &k, nullptr) !=
      ERROR_SUCCESS)
    return 0;
  int writes = 1;
  std::vector<BYTE> bytes(static_cast<size_t>(rand_in(0, 96)));
  for (auto& b : bytes) b = static_cast<BYTE>(rand_in(0, 255));
  auto raw = [&](HKEY key, const wchar_t* name, DWORD type, const void* data, size_t size) {
    ++writes;
    ::RegSetValueExW(key, name, 0, type, static_cast<const BYTE*>(data), static_cast<DWORD>(size));
  };
  switch (i % 10) {
    case 0: raw(k, L"DLLPath", REG_BINARY, bytes.data(), bytes.size()); break;
    case 1: {
      const std::wstring huge(40000, L'A');
      raw(k, L"DLLPath", REG_SZ, huge.c_str(), (huge.size() + 1) * 2);
      break;
    }
    case 2: {
      const wchar_t text[] = L"C:\\no\\terminator.dll";
      raw(k, L"DLLPath", REG_SZ, text, sizeof text - 3);  // odd length, no NUL
      break;
    }
    case 3: {
      const wchar_t multi[] = L"C:\\a.dll\0C:\\b.dll\0";
      raw(k, L"DLLPathEx", REG_MULTI_SZ, multi, sizeof multi);
      break;
    }
    case 4: {
      const std::wstring expand = L"%MDFAULT_UNDEFINED_" + std::to_wstring(i) + L"%\\x.dll";
      raw(k, L"DLLPath", REG_EXPAND_SZ, expand.c_str(), (expand.size() + 1) * 2);
      break;
    }
    case 5: raw(k, L"DLLPath", REG_DWORD, bytes.data(), std::min<size_t>(bytes.size(), 3)); break;
    case 6: {
      // A value name of the longest length the registry allows.
      const std::wstring name(16383, static_cast<wchar_t>(L'a' + i % 26));
      raw(k, name.c_str(), REG_NONE, nullptr, 0);
      break;
    }
    case 7: {
      // The default client's own key: a SupportUTF8 of the wrong type (ignored, logged).
      HKEY cur = nullptr;
      if (::RegOpenKeyExW(mail_, client_name(n_.load()).c_str(), 0, KEY_SET_VALUE | KEY_WOW64_64KEY, &cur) ==
          ERROR_SUCCESS) {
        raw(cur, L"SupportUTF8", (i & 16) ? REG_BINARY : REG_SZ, bytes.data(), bytes.size() & ~size_t{1});
        ::RegCloseKey(cur);
      }
      break;
    }
    default: {
      // MSMapiApps: overrides for modules that no process here loads, of every type.
      HKEY apps = nullptr;
      if (::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr,
                            &apps, nullptr) == ERROR_SUCCESS) {
        const std::wstring module = L"mdfault-absent-" + std::to_wstring(pid_) + L"-" + std::to_wstring(i % 16) + L".exe";
        if (std::find(hostile_values_.begin(), hostile_values_.end(), module) == hostile_values_.end())
          hostile_values_.push_back(module);
        if (i % 3 == 0) {
          raw(apps, module.c_str(), REG_SZ, junk.c_str(), (junk.size() + 1) * 2);
        } else if (i % 3 == 1) {
          raw(apps, module.c_str(), REG_BINARY, bytes.data(), bytes.size());
        } else {
          raw(apps, module.c_str(), REG_SZ, L"", 2);  // empty: "use mapi32x.dll"
        }
        ::RegCloseKey(apps);
      }
      break;
    }
  }
  ::RegCloseKey(k);
  writes_ += static_cast<uint64_t>(writes);
  return writes;
}

uint32_t Bench::set_big_table(bool big) {
  constexpr int kOverrides = 1000;
  const std::wstring client = L"MDFault." + std::to_wstring(pid_) + L".big";
  HKEY k = nullptr;
  if (::RegCreateKeyExW(mail_, client.c_str(), 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, &k, nullptr) ==
      ERROR_SUCCESS) {
    set_sz(k, L"DLLPath", provider_file(0));
    set_sz(k, L"DLLPathEx", provider_file(0));
    ::RegCloseKey(k);
  }
  HKEY apps = nullptr;
  if (::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, 0, nullptr, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr,
                        &apps, nullptr) == ERROR_SUCCESS) {
    for (int i = 0; i < kOverrides; ++i) {
      const std::wstring module = L"mdfault-big-" + std::to_wstring(pid_) + L"-" + std::to_wstring(i) + L".exe";
      if (big) {
        set_sz(apps, module.c_str(), client);
        hostile_values_.push_back(module);
      } else {
        ::RegDeleteValueW(apps, module.c_str());
      }
    }
    ::RegCloseKey(apps);
  }
  // The last change is published after the debounce; wait for a table of the expected size.
  TableSnapshot snap;
  test::wait_until(
      [&] {
        return read_now(&snap) == TableError::kOk &&
               (big ? snap.machine.overrides.size() >= kOverrides : snap.machine.overrides.size() < kOverrides);
      },
      30s, 5ms);
  ::Sleep(kDebounceMs * 5);
  read_now(&snap);
  return snap.info.payload_end;
}

bool Bench::wait_current(uint64_t above, uint64_t want_n, std::chrono::milliseconds timeout, TableSnapshot* out) {
  TableSnapshot local;
  TableSnapshot* s = out ? out : &local;
  return test::wait_until(
      [&] {
        return read_now(s) == TableError::kOk && s->info.generation > above && n_of(*s) >= want_n &&
               (s->info.flags & layout::kFlagWriterStopped) == 0;
      },
      timeout, 2ms);
}

std::string Bench::start_service(uint64_t above, uint64_t want_n, double* ms) {
  const auto t0 = Clock::now();
  std::string why;
  if (std::string e = svc_->start(60s); !e.empty()) {
    why = "start: " + e + " (" + diagnose_start_failure() + ")";
  } else if (!wait_current(above, want_n, 60s)) {
    TableSnapshot s;
    const TableError read = read_now(&s);
    why = "after start, no current table within 60 s (read: " + make_error_code(read).message() + ", generation " +
          std::to_string(s.info.generation) + ", client " + std::to_string(n_of(s)) + ", wanted > " +
          std::to_string(above) + " and client " + std::to_string(want_n) + ")";
  }
  if (why.empty()) {
    start_failures_in_a_row_ = 0;
    if (ms) *ms = ms_since(t0);
    return {};
  }
  if (++start_failures_in_a_row_ == kStartFailuresToGiveUp) {
    lost_reason_ = std::to_string(kStartFailuresToGiveUp) + " starts in a row failed, the last: " + why;
    std::fprintf(stderr, "fault_bench: the service is lost: %s\n", lost_reason_.c_str());
  }
  return why;
}

bool Bench::current_before(TableSnapshot* before, std::string* error) {
  if (svc_->state() != SERVICE_RUNNING) {
    if (std::string e = start_service(0, n_.load(), nullptr); !e.empty()) {
      *error = "the service was not running and did not start: " + e;
      return false;
    }
  }
  if (wait_current(0, n_.load(), 30s, before)) return true;
  *error = "no current table within 30 s";
  return false;
}

std::string Bench::diagnose_start_failure() {
  // Wine's services.exe returns CreateProcess's own error from StartService. ERROR_INTERNAL_ERROR
  // there is ntdll's STATUS_INTERNAL_ERROR: the new process ended before it finished starting,
  // before any of the service's code ran. Whether this bench can still start the same executable
  // tells a prefix that cannot create processes from a services.exe that cannot.
  std::string out;
  const int rc = test::run_mapidispatch({L"help"}, &out, 30s);
  std::string d;
  if (rc == 0) {
    d = "the bench itself still starts mapidispatch.exe: help exited 0";
  } else if (rc == -1 && out.rfind("CreateProcess", 0) == 0) {
    d = "the bench cannot start mapidispatch.exe either: " + out.substr(0, out.find_first_of("\r\n"));
  } else if (rc == -1) {
    d = "mapidispatch.exe help, started by the bench, did not end within 30 s";
  } else {
    d = "mapidispatch.exe help, started by the bench, exited " + std::to_string(rc);
  }
  DWORD pid = 0;
  const DWORD state = svc_->state(&pid);
  return d + "; the SCM says state " + std::to_string(state) + ", process " + std::to_string(pid);
}

bool Bench::kill_pid(DWORD pid) {
  HANDLE h = ::OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, FALSE, pid);
  if (!h) return false;
  ::TerminateProcess(h, 9);
  const bool gone = ::WaitForSingleObject(h, 30000) == WAIT_OBJECT_0;
  ::CloseHandle(h);
  return gone;
}

std::map<std::wstring, uint64_t> Bench::service_stats() {
  // Control 129 makes the service write its loop counters to its State key; the value
  // "Publishes" is deleted first so that its reappearance says the write happened.
  std::map<std::wstring, uint64_t> out;
  HKEY k = nullptr;
  if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, svc_->state_key().c_str(), 0, KEY_READ | KEY_SET_VALUE | KEY_WOW64_64KEY, &k) !=
      ERROR_SUCCESS)
    return out;
  ::RegDeleteValueW(k, L"Publishes");
  if (!svc_->control(kControlWriteStats).empty()) {
    ::RegCloseKey(k);
    return out;
  }
  const bool written = test::wait_until(
      [&] { return ::RegQueryValueExW(k, L"Publishes", nullptr, nullptr, nullptr, nullptr) == ERROR_SUCCESS; }, 5s, 10ms);
  if (written) {
    for (const wchar_t* name : {L"WakeUps", L"Notifications", L"Resolves", L"Publishes"}) {
      uint64_t v = 0;
      DWORD size = sizeof v;
      if (::RegQueryValueExW(k, name, nullptr, nullptr, reinterpret_cast<BYTE*>(&v), &size) == ERROR_SUCCESS) out[name] = v;
    }
  }
  ::RegCloseKey(k);
  return out;
}

std::string Bench::setup() {
  // Files beside this program: the stub (as an application-local mapi32.dll) and the providers.
  const std::wstring here = exe_dir();
  for (const wchar_t* f : {L"mapi32.dll", L"fault_prov_a.dll", L"fault_prov_b.dll"})
    if (::GetFileAttributesW((here + L"\\" + f).c_str()) == INVALID_FILE_ATTRIBUTES)
      return "missing " + narrow(here + L"\\" + f) + " (build the fault_bench target)";

  // The run folder: p0..p7.dll, copies of providers A and B; the clients' traces.
  wchar_t temp[MAX_PATH];
  ::GetTempPathW(MAX_PATH, temp);
  run_dir_ = std::wstring(temp) + L"mdfault." + std::to_wstring(pid_);
  while (!run_dir_.empty() && run_dir_.back() == L'\\') run_dir_.pop_back();
  ::CreateDirectoryW(run_dir_.c_str(), nullptr);
  for (int i = 0; i < kProviderFiles; ++i) {
    const std::wstring src = here + (i % 2 == 0 ? L"\\fault_prov_a.dll" : L"\\fault_prov_b.dll");
    if (!::CopyFileW(src.c_str(), provider_file(static_cast<uint64_t>(i)).c_str(), FALSE))
      return "cannot copy the provider to " + narrow(provider_file(static_cast<uint64_t>(i))) + ": " +
             win_error(::GetLastError());
  }
  x_.prefix = u16(L"MDFault." + std::to_wstring(pid_) + L".");
  x_.dir = u16(run_dir_);

  // HKCU must not name a default of its own: it would shadow the machine default the bench drives.
  HKEY hkcu = nullptr;
  if (::RegOpenKeyExW(HKEY_CURRENT_USER, kMailKey, 0, KEY_READ, &hkcu) == ERROR_SUCCESS) {
    DWORD size = 0;
    const LSTATUS rc = ::RegQueryValueExW(hkcu, nullptr, nullptr, nullptr, nullptr, &size);
    ::RegCloseKey(hkcu);
    if (rc == ERROR_SUCCESS && size > 2)
      return "HKCU\\Software\\Clients\\Mail has a default client of its own, which would shadow the machine default "
             "this bench drives: run in a scratch Wine prefix";
  }

  // The machine default: saved, then pointed at the bench's client 1.
  if (::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kMailKey, 0, nullptr, 0, KEY_ALL_ACCESS | KEY_WOW64_64KEY, nullptr, &mail_,
                        nullptr) != ERROR_SUCCESS)
    return "cannot open HKLM\\Software\\Clients\\Mail";
  DWORD size = 0;
  if (::RegQueryValueExW(mail_, nullptr, nullptr, &saved_default_type_, nullptr, &size) == ERROR_SUCCESS) {
    std::vector<BYTE> data(size);
    if (::RegQueryValueExW(mail_, nullptr, nullptr, &saved_default_type_, data.data(), &size) == ERROR_SUCCESS)
      saved_default_ = std::move(data);
  }
  HKEY apps = nullptr;
  if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, 0, KEY_READ | KEY_WOW64_64KEY, &apps) == ERROR_SUCCESS) {
    ::RegCloseKey(apps);
  } else {
    made_msmapiapps_ = true;
  }
  if (!advance()) return "cannot write HKLM\\Software\\Clients\\Mail";

  // The service, with a short debounce so that a scenario's many publishes take little time.
  svc_ = std::make_unique<test::TestService>("fault", kDebounceMs);
  if (!svc_->ok()) return "installing the service: " + svc_->error();
  probe_ = std::make_unique<test::TableProbe>(svc_->section());
  if (std::string e = svc_->start(); !e.empty()) return "starting the service: " + e;
  if (!probe_->open()) return "the section " + svc_->section() + " never appeared";
  TableSnapshot snap;
  if (!wait_current(0, n_.load(), 30s, &snap)) return "the service never published the bench's client";
  Checker c(x_);
  if (const std::string p = c.check(snap); !p.empty())
    return "the first table fails the bench's own consistency check (the check is wrong): " + p;

  // Children find the stub's section and the control block by name; they inherit these.
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_SECTION", widen(svc_->section()).c_str());
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_NO_UI", L"1");
  control_name_ = L"Local\\MDFaultBench." + std::to_wstring(pid_) + L".control";
  if (!control_.create(control_name_)) return "cannot create the control block: " + win_error(::GetLastError());
  ctl_ = control_.get();
  return {};
}

void Bench::teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  if (ctl_) st(ctl_->stop, 1u);
  for (auto& c : children_) {
    if (c.process) {
      if (::WaitForSingleObject(c.process, 10000) != WAIT_OBJECT_0) ::TerminateProcess(c.process, 9);
      ::CloseHandle(c.process);
    }
  }
  children_.clear();
  harness_stop_ = true;
  if (harness_reader_.joinable()) harness_reader_.join();
  if (svc_ && svc_->ok()) svc_->stop();
  svc_.reset();  // uninstalls
  probe_.reset();
  if (mail_) {
    if (saved_default_) {
      ::RegSetValueExW(mail_, nullptr, 0, saved_default_type_, saved_default_->data(),
                       static_cast<DWORD>(saved_default_->size()));
    } else {
      ::RegDeleteValueW(mail_, nullptr);
    }
    // Every key the bench made: MDFault.<pid>.*
    const std::wstring prefix = L"MDFault." + std::to_wstring(pid_) + L".";
    std::vector<std::wstring> doomed;
    wchar_t name[512];
    for (DWORD i = 0;; ++i) {
      DWORD len = 512;
      if (::RegEnumKeyExW(mail_, i, name, &len, nullptr, nullptr, nullptr, nullptr) != ERROR_SUCCESS) break;
      if (std::wstring(name, len).rfind(prefix, 0) == 0) doomed.emplace_back(name, len);
    }
    for (const auto& k : doomed) ::RegDeleteTreeW(mail_, k.c_str()), ::RegDeleteKeyExW(mail_, k.c_str(), KEY_WOW64_64KEY, 0);
    ::RegCloseKey(mail_);
    mail_ = nullptr;
  }
  HKEY apps = nullptr;
  if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, &apps) == ERROR_SUCCESS) {
    for (const auto& v : hostile_values_) ::RegDeleteValueW(apps, v.c_str());
    ::RegCloseKey(apps);
  }
  if (made_msmapiapps_) ::RegDeleteKeyExW(HKEY_LOCAL_MACHINE, kMsMapiAppsKey, KEY_WOW64_64KEY, 0);
  if (!run_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(run_dir_), ec);  // files still mapped stay
  }
}

void Bench::reset_control() {
  std::memset(static_cast<void*>(ctl_), 0, sizeof(Control));
  ctl_->magic = kControlMagic;
  next_slot_ = 0;
  traces_.clear();
}

int Bench::spawn(SlotKind kind, const std::vector<std::string>& args, const std::wstring& trace) {
  if (next_slot_ >= kMaxSlots) return -1;
  const int slot = next_slot_++;
  ctl_->slots[slot].kind = static_cast<uint32_t>(kind);
  std::wstring cmd = L"\"" + exe_path() + L"\" --child " + (kind == SlotKind::kReader ? L"reader" : L"client") + L" \"" +
                     control_name_ + L"\" " + std::to_wstring(slot);
  for (const auto& a : args) cmd += L" \"" + widen(a) + L"\"";
  // The stub reads MAPIDISPATCH_TRACE once per process: each client gets a file of its own.
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_TRACE", trace.empty() ? nullptr : trace.c_str());
  if (!trace.empty()) {
    ::DeleteFileW(trace.c_str());
    traces_.push_back(trace);
  }
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  const bool ok = test::create_process_retrying(cmd, false, &si, &pi);
  ::SetEnvironmentVariableW(L"MAPIDISPATCH_TRACE", nullptr);
  if (!ok) {
    std::fprintf(stderr, "CreateProcess failed: %s\n", win_error(::GetLastError()).c_str());
    return -1;
  }
  ::CloseHandle(pi.hThread);
  children_.push_back({pi.hProcess, slot, kind});
  return slot;
}

std::string Bench::begin_load(const std::string& scenario, int clients, int readers, DWORD pace_ms, uint32_t phase) {
  scenario_ = scenario;
  reset_control();
  set_phase(phase);
  for (int i = 0; i < readers; ++i)
    if (spawn(SlotKind::kReader, {svc_->section(), narrow16(x_.prefix), narrow(run_dir_)}, L"") < 0)
      return "cannot start a reader process";
  for (int i = 0; i < clients; ++i) {
    const std::wstring trace = run_dir_ + L"\\trace." + widen(scenario) + L"." + std::to_wstring(next_slot_) + L".log";
    if (spawn(SlotKind::kClient, {std::to_string(pace_ms), "0"}, trace) < 0) return "cannot start a client process";
  }
  harness_tally_ = Tally{};
  harness_stop_ = false;
  harness_reader_ = std::thread([this] {
    Checker checker(x_);
    uint32_t last_seq = 0;
    while (!harness_stop_) {
      TableSnapshot snap;
      const TableError e = probe_->read(&snap);
      if (e == TableError::kOk) {
        const std::string problem = checker.check(snap);
        if (problem.empty()) {
          ++harness_tally_.reads_ok;
        } else {
          if (harness_tally_.reads_torn++ == 0)
            harness_tally_.problems.push_back("harness reader: torn read, generation " +
                                              std::to_string(snap.info.generation) + ": " + problem);
        }
      } else {
        ++harness_tally_.reads_rejected[std::min<int>(static_cast<int>(e), kErrorBuckets - 1)];
      }
      if (checker.order_violations() != harness_tally_.order_violations) {
        harness_tally_.order_violations = checker.order_violations();
        harness_tally_.problems.push_back("harness reader: ordering: " + checker.last_order_problem());
      }
      const uint32_t seq = probe_->sequence();
      if (seq == last_seq) ::Sleep(1);
      last_seq = seq;
    }
  });
  // Every child running and every client past its first call.
  const bool up = test::wait_until(
      [&] {
        for (const auto& c : children_) {
          if (::WaitForSingleObject(c.process, 0) == WAIT_OBJECT_0) continue;  // died: end_load says so
          const Slot& s = ctl_->slots[c.slot];
          if (ld(s.started) == 0) return false;
          uint64_t calls = 0;
          for (const auto& pc : s.phase) calls += ld(pc.attempted);
          if (c.kind == SlotKind::kClient && calls == 0) return false;
        }
        return true;
      },
      120s, 20ms);
  if (!up) return "the children did not all start within 120 s";
  return {};
}

int Bench::spawn_fresh(int calls) {
  const std::wstring trace = run_dir_ + L"\\trace." + widen(scenario_) + L"." + std::to_wstring(next_slot_) + L".log";
  return spawn(SlotKind::kFreshClient, {"2", std::to_string(calls)}, trace);
}

void Bench::wait_fresh(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (const auto& c : children_) {
    if (c.kind != SlotKind::kFreshClient) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    ::WaitForSingleObject(c.process, static_cast<DWORD>(std::max<long long>(left, 0)));
  }
}

Tally Bench::end_load(const std::function<bool(SlotKind, int)>& windows_would_fail) {
  Tally t;
  st(ctl_->stop, 1u);
  for (auto& c : children_) {
    DWORD code = 0;
    if (::WaitForSingleObject(c.process, 60000) != WAIT_OBJECT_0) {
      ::TerminateProcess(c.process, 9);
      ::WaitForSingleObject(c.process, 10000);
      t.problems.push_back("child in slot " + std::to_string(c.slot) + " did not stop within 60 s; killed");
    }
    ::GetExitCodeProcess(c.process, &code);
    ::CloseHandle(c.process);
    c.process = nullptr;
    const Slot& s = ctl_->slots[c.slot];
    if (code != 0) {
      ++t.child_crashes;
      t.problems.push_back((c.kind == SlotKind::kReader ? "reader" : "client") + std::string(" in slot ") +
                           std::to_string(c.slot) + " exited with code " + std::to_string(code));
    }
    if (ld(s.has_problem) != 0) t.problems.push_back("slot " + std::to_string(c.slot) + ": " + std::string(s.problem));
    if (c.kind == SlotKind::kReader) {
      t.reads_ok += ld(s.reads_ok);
      t.reads_torn += ld(s.reads_torn);
      t.order_violations += ld(s.order_violations);
      for (int i = 0; i < kErrorBuckets; ++i) t.reads_rejected[i] += ld(s.reads_rejected[i]);
      continue;
    }
    for (int p = 0; p < kPhases; ++p) {
      const PhaseCounts& pc = s.phase[p];
      PhaseCounts& into = c.kind == SlotKind::kFreshClient ? t.fresh_by_phase[p] : t.by_phase[p];
      into.attempted += ld(pc.attempted);
      into.acked += ld(pc.acked);
      into.rc_nonzero += ld(pc.rc_nonzero);
      into.no_ack += ld(pc.no_ack);
      into.served_a += ld(pc.served_a);
      into.served_b += ld(pc.served_b);
      t.attempted += ld(pc.attempted);
      const uint64_t failed = ld(pc.rc_nonzero) + ld(pc.no_ack);
      if (windows_would_fail && windows_would_fail(c.kind, p)) {
        t.failed_windows_too += failed;
      } else {
        t.failed += failed;
      }
    }
    for (int i = 0; i < kRcBuckets; ++i) t.rc_counts[i] += ld(s.rc_counts[i]);
    // A client that died mid-call lost that call.
    if (code != 0) ++t.failed;
  }
  children_.clear();
  harness_stop_ = true;
  if (harness_reader_.joinable()) harness_reader_.join();
  t.reads_ok += harness_tally_.reads_ok;
  t.reads_torn += harness_tally_.reads_torn;
  t.order_violations += harness_tally_.order_violations;
  for (int i = 0; i < kErrorBuckets; ++i) t.reads_rejected[i] += harness_tally_.reads_rejected[i];
  for (const auto& p : harness_tally_.problems) t.problems.push_back(p);
  return t;
}

RebindTally Bench::rebinds() {
  RebindTally rb;
  for (const auto& path : traces_) parse_trace(path, &rb);
  return rb;
}

void Bench::fill_common(ScenarioResult* r, const Tally& t, const RebindTally& rb) {
  r->calls_attempted = t.attempted;
  r->calls_failed = t.failed;
  r->torn_reads = t.reads_torn;
  r->reads_checked = t.reads_ok + t.reads_torn;
  r->details.add("failed_windows_too", t.failed_windows_too);
  r->details.add("order_violations", t.order_violations);
  r->details.add("child_crashes", t.child_crashes);
  r->details.add_text("failed_return_codes", rc_summary(t));
  r->details.add_text("reads_rejected", rejected_summary(t.reads_rejected));
  r->details.add("rebinds_via_table", rb.via_table);
  uint64_t reg = 0;
  for (const auto& [why, n] : rb.via_registry) reg += n;
  r->details.add("rebinds_via_registry", reg);
  r->details.add_text("rebinds", rb.summary());
  std::string problems;
  for (size_t i = 0; i < t.problems.size() && i < 8; ++i) problems += (i ? " | " : "") + t.problems[i];
  if (!problems.empty()) r->details.add_text("problems", problems);
}

void judge(ScenarioResult* r, const Tally& t, std::vector<std::string> shortfalls) {
  if (r->calls_failed != 0)
    shortfalls.insert(shortfalls.begin(), std::to_string(r->calls_failed) +
                                              " calls failed that Windows' stub would have served (" + rc_summary(t) + ")");
  if (r->torn_reads != 0) shortfalls.insert(shortfalls.begin(), std::to_string(r->torn_reads) + " torn reads accepted");
  if (t.order_violations != 0) shortfalls.push_back(std::to_string(t.order_violations) + " ordering violations");
  if (t.child_crashes != 0) shortfalls.push_back(std::to_string(t.child_crashes) + " child processes died");
  if (r->calls_attempted == 0) shortfalls.push_back("no call was made");
  if (r->reads_checked == 0) shortfalls.push_back("no read was accepted");
  r->meets_goal = shortfalls.empty();
  std::string verdict;
  for (const auto& s : shortfalls) verdict += (verdict.empty() ? "" : "; ") + s;
  r->note = (r->meets_goal ? std::string("meets goal. ") : "FALLS SHORT: " + verdict + ". ") + r->note + " " +
            definitions_note();
}

std::string ms_text(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  return buf;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

}  // namespace mapidispatch::evidence
