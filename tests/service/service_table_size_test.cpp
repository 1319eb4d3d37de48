// Copyright MapiDispatch authors.
//
// No cliff when the table grows (issue #12 item 4): the real service under Wine's SCM with a
// section too small for its answers (SectionSizeKB at its minimum, user hives whose scopes are
// big: each names a provider by a long path). The machine scope and the users that fit are
// published, the table flagged incomplete; `status` (text, JSON, exit code) says so; the log
// has one warning for it, however many publishes follow; once enough hives have unloaded the
// table is complete again, with one information entry. The start-up resolve reports its
// progress to the SCM (growing checkpoints while scopes resolve). Part of service_scm_test
// (same program, same prefix); the helpers are service_test_util.h's.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <windows.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mapidispatch/table_layout.h"
#include "service_test_util.h"
#include "win/logging.h"

namespace mapidispatch::test {
namespace {

using namespace std::chrono_literals;

std::u16string as_u16(const std::wstring& w) { return std::u16string(w.begin(), w.end()); }

// SIDs of this test's hives, unique to this process.
std::wstring size_test_sid(int n) {
  return L"S-1-5-21-4040404040-5050505050-6060606060-" + std::to_wstring(::GetCurrentProcessId()) + L"0" +
         std::to_wstring(100 + n);
}

// A provider path of about 2,000 characters that does not exist: every scope naming it carries it
// (path, reason), so a few users fill a 64 KiB section.
std::wstring long_missing_path(int n) {
  std::wstring p = L"C:\\md-size-missing-" + std::to_wstring(n);
  for (int i = 0; i < 9; ++i) p += L"\\" + std::wstring(200, static_cast<wchar_t>(L'a' + i));
  return p + L"\\provider.dll";
}

// `n` user hives, each with its own default client naming a long missing path. Whatever happens,
// the destructor unloads what is still loaded and deletes the files.
class BigHives {
 public:
  explicit BigHives(int n) {
    wchar_t temp[MAX_PATH];
    ::GetTempPathW(MAX_PATH, temp);
    for (int i = 0; i < n; ++i) {
      sids_.push_back(size_test_sid(i));
      files_.push_back(std::wstring(temp) + L"md-size-" + std::to_wstring(::GetCurrentProcessId()) + L"-" +
                       std::to_wstring(i) + L".dat");
      loaded_.push_back(false);
      const std::string made =
          make_hive_file(L"MDSize.Client" + std::to_wstring(i), files_.back(), long_missing_path(i));
      if (!made.empty() && error_.empty()) error_ = made;
    }
  }
  ~BigHives() {
    for (size_t i = 0; i < sids_.size(); ++i) {
      if (loaded_[i]) ::RegUnLoadKeyW(HKEY_USERS, sids_[i].c_str());
      ::DeleteFileW(files_[i].c_str());
    }
  }
  BigHives(const BigHives&) = delete;
  BigHives& operator=(const BigHives&) = delete;

  const std::string& error() const { return error_; }
  std::string load(size_t i) {
    const LSTATUS rc = ::RegLoadKeyW(HKEY_USERS, sids_[i].c_str(), files_[i].c_str());
    if (rc != ERROR_SUCCESS) return win_error_text("RegLoadKey", static_cast<DWORD>(rc));
    loaded_[i] = true;
    return {};
  }
  std::string unload(size_t i) {
    const LSTATUS rc = ::RegUnLoadKeyW(HKEY_USERS, sids_[i].c_str());
    if (rc != ERROR_SUCCESS) return win_error_text("RegUnLoadKey", static_cast<DWORD>(rc));
    loaded_[i] = false;
    return {};
  }
  const std::vector<std::wstring>& sids() const { return sids_; }

 private:
  std::vector<std::wstring> sids_, files_;
  std::vector<bool> loaded_;
  std::string error_;
};

bool lists(const TableSnapshot& s, const std::wstring& sid) {
  return std::any_of(s.users.begin(), s.users.end(), [&](const ScopeResolution& u) { return u.sid == as_u16(sid); });
}

size_t count_lines(const std::string& log, const std::string& level, const std::string& needle) {
  size_t n = 0;
  for (size_t at = 0; (at = log.find(needle, at)) != std::string::npos; ++at) {
    const size_t newline = log.rfind('\n', at);
    const size_t begin = newline == std::string::npos ? 0 : newline + 1;
    const std::string head = log.substr(begin, at - begin);
    if (head.find(level) != std::string::npos) ++n;
  }
  return n;
}

// Starts the service and watches it start as the SCM shows it: every START_PENDING checkpoint
// and wait hint seen by polling QueryServiceStatusEx every 10 ms (one poller: Wine's SCM,
// flooded with status queries, has been seen to hold a service's RUNNING report back for a
// minute), until RUNNING or STOPPED.
struct StartWatch {
  std::string error;            // "" once RUNNING
  std::set<DWORD> checkpoints;  // while START_PENDING, the service's own reports (checkpoint > 0)
  std::set<DWORD> wait_hints;   // with them
};

StartWatch start_and_watch(const std::wstring& name, std::chrono::milliseconds timeout) {
  StartWatch w;
  SC_HANDLE scm = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
  if (scm == nullptr) return {win_error_text("OpenSCManager", ::GetLastError()), {}, {}};
  SC_HANDLE svc = ::OpenServiceW(scm, name.c_str(), SERVICE_START | SERVICE_QUERY_STATUS);
  if (svc == nullptr) {
    w.error = win_error_text("OpenService", ::GetLastError());
  } else if (!::StartServiceW(svc, 0, nullptr)) {
    w.error = win_error_text("StartService", ::GetLastError());
  } else {
    w.error = "the service did not reach RUNNING in time";
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      SERVICE_STATUS_PROCESS sp{};
      DWORD needed = 0;
      if (::QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&sp), sizeof sp, &needed)) {
        // Checkpoint 0: the SCM's own state before the service's first report.
        if (sp.dwCurrentState == SERVICE_START_PENDING && sp.dwCheckPoint > 0) {
          w.checkpoints.insert(sp.dwCheckPoint);
          w.wait_hints.insert(sp.dwWaitHint);
        } else if (sp.dwCurrentState == SERVICE_RUNNING) {
          w.error.clear();
          break;
        } else if (sp.dwCurrentState == SERVICE_STOPPED && !w.checkpoints.empty()) {
          w.error = "the service stopped during start-up";
          break;
        }
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  if (svc != nullptr) ::CloseServiceHandle(svc);
  ::CloseServiceHandle(scm);
  return w;
}

TEST(ServiceTableSize, ATableLargerThanItsSectionIsPublishedIncompleteSaidAndCompletedAgain) {
  ASSERT_TRUE(enable_hive_privileges());
  constexpr int kHives = 96;
  BigHives hives(kHives);
  ASSERT_EQ(hives.error(), "");
  for (int i = 0; i < kHives; ++i) ASSERT_EQ(hives.load(static_cast<size_t>(i)), "") << i;

  TestService svc("tablesize");
  ASSERT_TRUE(svc.ok()) << svc.error();
  ASSERT_TRUE(svc.set_parameter(L"SectionSizeKB", 64));  // the minimum
  ASSERT_TRUE(reg_set_sz(HKEY_LOCAL_MACHINE, svc.parameters_key(), L"LogLevel", L"debug"));
  const std::wstring section(svc.section().begin(), svc.section().end());
  TableProbe probe(svc.section());

  // Start, watching the SCM's checkpoints while the service resolves its 1 + 96 scopes (twice:
  // the answers for 32-bit processes).
  const auto started_at = std::chrono::steady_clock::now();
  const StartWatch watch = start_and_watch(svc.name(), 90s);
  const double start_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_at).count();
  ASSERT_EQ(watch.error, "");
  ASSERT_TRUE(probe.open()) << "the section " << svc.section() << " never appeared";

  TableSnapshot snap;
  ASSERT_TRUE(probe.wait_generation_above(0, 20s, &snap)) << "nothing was published";
  ASSERT_TRUE(snap.info.flags & layout::kFlagIncomplete) << "96 big user scopes cannot fit 64 KiB";
  EXPECT_EQ(snap.info.total_size, 64u * 1024);
  EXPECT_EQ(snap.info.abi_minor, layout::kAbiMinor);
  std::vector<std::wstring> kept, left_out;
  for (const auto& sid : hives.sids()) (lists(snap, sid) ? kept : left_out).push_back(sid);
  std::printf("start-up %.0f ms; generation %llu: %zu user scope(s) published, %u left out (%u for 32-bit "
              "processes), %u of %u bytes; this test's hives: %zu kept, %zu left out\n",
              start_ms, static_cast<unsigned long long>(snap.info.generation), snap.users.size(),
              snap.info.omitted_scope_count, snap.info.wow64_omitted_scope_count, snap.info.payload_end,
              snap.info.total_size, kept.size(), left_out.size());
  ASSERT_FALSE(kept.empty()) << "the users that fit are published";
  ASSERT_FALSE(left_out.empty());
  EXPECT_GE(snap.info.omitted_scope_count, left_out.size());
  // Both views keep or leave out a user together.
  TableSnapshot w32;
  ASSERT_EQ(probe.read(&w32, TableView::kWow64), TableError::kOk);
  EXPECT_EQ(w32.info.generation, snap.info.generation);
  for (const auto& sid : hives.sids()) EXPECT_EQ(lists(w32, sid), lists(snap, sid));
  EXPECT_EQ(w32.info.wow64_omitted_scope_count, snap.info.omitted_scope_count);

  // As a stub reads it: a user left out is sent to the registry, a user kept is answered.
  {
    std::unique_ptr<ReadOnlySection> ro;
    ASSERT_FALSE(ReadOnlySection::open(svc.section(), &ro));
    const TableReader reader(ro->bytes());
    TableSnapshot one;
    EXPECT_EQ(reader.read(as_u16(left_out[0]), &one), TableError::kUserNotInTable);
    EXPECT_EQ(reader.read(as_u16(left_out[0]), &one, {}, TableView::kWow64), TableError::kUserNotInTable);
    ASSERT_EQ(reader.read(as_u16(kept[0]), &one), TableError::kOk);
    EXPECT_TRUE(one.user.has_value());
  }

  // status: still trusted (exit 0), and it says what was left out and why.
  std::string out;
  EXPECT_EQ(run_mapidispatch({L"status", L"--section", section, L"--service-name", svc.name()}, &out), 0) << out;
  const std::string line = "Incomplete: " + std::to_string(snap.info.omitted_scope_count) + " of " +
                           std::to_string(snap.users.size() + snap.info.omitted_scope_count) +
                           " user scope(s) did not fit in the section (64 KiB, SectionSizeKB=64); their processes "
                           "read the registry";
  EXPECT_NE(out.find(line), std::string::npos) << "expected: " << line << "\n" << out;
  EXPECT_NE(out.find("valid and kept up to date, but incomplete"), std::string::npos) << out;
  EXPECT_EQ(run_mapidispatch({L"status", L"--section", section, L"--service-name", svc.name(), L"--json"}, &out), 0)
      << out;
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("stubs_use_table"), true) << out;
  EXPECT_EQ(j.at("complete"), false) << out;
  EXPECT_EQ(j.at("omitted_user_scopes"), snap.info.omitted_scope_count) << out;
  EXPECT_EQ(j.at("user_scopes"), snap.users.size() + snap.info.omitted_scope_count) << out;
  EXPECT_EQ(j.at("wow64_omitted_user_scopes"), snap.info.wow64_omitted_scope_count) << out;

  // More publishes while it stays incomplete (a forced refresh, a hive unloaded): no more warnings.
  ASSERT_EQ(svc.control(128), "");
  ASSERT_TRUE(probe.wait_generation_above(snap.info.generation, 20s, &snap)) << "no publish after the refresh";
  ASSERT_EQ(hives.unload(kHives - 1), "");
  ASSERT_TRUE(probe.wait_generation_above(snap.info.generation, 20s, &snap, [&](const TableSnapshot& s) {
    return !lists(s, hives.sids().back());
  })) << "the unloaded hive's scope stayed";
  ASSERT_TRUE(snap.info.flags & layout::kFlagIncomplete);

  // Hives unload until the rest fits: complete again, and every remaining user is listed.
  for (int i = kHives - 2; i >= 1; --i) ASSERT_EQ(hives.unload(static_cast<size_t>(i)), "") << i;
  ASSERT_TRUE(probe.wait_generation_above(snap.info.generation, 30s, &snap, [&](const TableSnapshot& s) {
    return (s.info.flags & layout::kFlagIncomplete) == 0 && s.info.omitted_scope_count == 0;
  })) << "the table never became complete again (" << snap.info.omitted_scope_count << " left out)";
  EXPECT_TRUE(lists(snap, hives.sids()[0]));
  EXPECT_EQ(run_mapidispatch({L"status", L"--section", section, L"--service-name", svc.name()}, &out), 0) << out;
  EXPECT_EQ(out.find("Incomplete:"), std::string::npos) << out;
  EXPECT_NE(out.find("valid and kept up to date: stubs use it"), std::string::npos) << out;
  ASSERT_EQ(svc.stop(), "");

  // The log: every incomplete publish says so on its line; ONE warning (the Event Log's) when
  // the table became incomplete, ONE information entry when it was complete again.
  const std::string log = read_text_file(service::log_file_path(svc.name()));
  EXPECT_GE(count_lines(log, "[info]", ", INCOMPLETE: "), 3u) << log;
  EXPECT_EQ(count_lines(log, "[warning]", "the table is incomplete: "), 1u) << log;
  EXPECT_NE(log.find("user scope(s) did not fit in section " + svc.section() + " (64 KiB); the processes of the users "
                     "left out read the registry"),
            std::string::npos)
      << log;
  EXPECT_EQ(count_lines(log, "[info]", "the table is complete again: all "), 1u) << log;

  // Start-up progress: a checkpoint after each start-up step (4) and one per 250 ms while the
  // scopes resolved (each logged at debug level); the wait hint is the time to the next one.
  const size_t resolve_reports = count_lines(log, "[debug]", "start-up: ");
  std::string seen;
  for (const DWORD c : watch.checkpoints) seen += std::to_string(c) + " ";
  std::printf("start-up: checkpoints seen while START_PENDING: %s(%zu resolve checkpoint(s) logged)\n", seen.c_str(),
              resolve_reports);
  ASSERT_FALSE(watch.checkpoints.empty()) << "START_PENDING was never seen";
  EXPECT_EQ(watch.wait_hints, std::set<DWORD>{30000});
  EXPECT_LE(*watch.checkpoints.rbegin(), 4u + resolve_reports);
  // Each resolve checkpoint but the last is followed by at least 250 ms of START_PENDING: seen.
  if (resolve_reports >= 2) {
    for (DWORD c = 5; c < 4u + resolve_reports; ++c) EXPECT_TRUE(watch.checkpoints.count(c)) << "checkpoint " << c;
  }
  // The steps are the scopes of both views: "start-up: 130 of 196 scope(s) resolved".
  if (const size_t at = log.find("start-up: "); at != std::string::npos) {
    unsigned done = 0, total = 0;
    ASSERT_EQ(std::sscanf(log.c_str() + at, "start-up: %u of %u scope(s) resolved", &done, &total), 2)
        << log.substr(at, 80);
    EXPECT_GE(total, 2u * (1 + kHives));
    EXPECT_LE(done, total);
  } else {
    std::printf("note: the start-up resolve took less than 250 ms: no checkpoint during it to observe\n");
  }
}

}  // namespace
}  // namespace mapidispatch::test
