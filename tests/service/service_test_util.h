// Copyright MapiDispatch authors.
//
//! \file
//! Helpers of the service tests and the service benchmark (Windows): the built mapidispatch.exe
//! installed under a unique test service name with a Local\ section, the table read as a stub
//! reads it, registry edits, bounded waits.

#ifndef MAPIDISPATCH_TESTS_SERVICE_SERVICE_TEST_UTIL_H_
#define MAPIDISPATCH_TESTS_SERVICE_SERVICE_TEST_UTIL_H_

#include <windows.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"

namespace mapidispatch::test {

//! The Windows path of the built mapidispatch.exe (MAPIDISPATCH_EXE, a host path under Wine).
std::wstring mapidispatch_exe();

//! Runs mapidispatch.exe with `args`; its exit code (-1 if it could not run or did not end in
//! `timeout`). stdout and stderr go to `output`.
int run_mapidispatch(const std::vector<std::wstring>& args, std::string* output,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60));

//! Runs the program `exe` with `args`, as run_mapidispatch() runs mapidispatch.exe.
int run_program(const std::wstring& exe, const std::vector<std::wstring>& args, std::string* output,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));

//! The whole file as bytes ("" if it cannot be read).
std::string read_text_file(const std::wstring& path);

//! Waits until `pred` holds, checking every `step`; false at the deadline.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(5));

//! "<op> failed: <code> <message>".
std::string win_error_text(const char* op, DWORD code);

//! A service installed from the built executable under a unique name; uninstalled by the
//! destructor whatever happened.
class TestService {
 public:
  //! Installs (demand start) with a unique name and a unique Local\ section, then writes
  //! `debounce_ms` as DebounceMs. Check ok() / error().
  explicit TestService(const std::string& stem, DWORD debounce_ms = 50);
  ~TestService();
  TestService(const TestService&) = delete;
  TestService& operator=(const TestService&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::wstring& name() const { return name_; }
  const std::string& section() const { return section_; }
  std::wstring parameters_key() const;
  std::wstring state_key() const;

  //! StartService and wait for RUNNING (or an error text).
  std::string start(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  //! SERVICE_CONTROL_STOP and wait for STOPPED.
  std::string stop(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  //! Sends a control code (128, PARAMCHANGE...).
  std::string control(DWORD code);
  //! Kills the service process (TerminateProcess) and waits for it to be gone.
  std::string kill();
  //! Waits for the service's process to exit (a crash it causes itself).
  bool wait_process_exit(std::chrono::milliseconds timeout);
  //! The current state (SERVICE_RUNNING...) and pid; 0 on failure.
  DWORD state(DWORD* pid = nullptr) const;
  //! Sets a REG_DWORD under Parameters.
  bool set_parameter(const wchar_t* name, DWORD value);

 private:
  std::wstring name_;
  std::string section_;
  std::string error_;
  bool installed_ = false;
  DWORD last_pid_ = 0;
};

//! The table as a stub reads it: a read-only mapping of the section, kept open.
class TableProbe {
 public:
  explicit TableProbe(std::string section) : section_(std::move(section)) {}
  //! Opens the section (waits up to `timeout` for it to exist).
  bool open(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void close() { mapping_.reset(); }
  //! read_all of `view` into *snap; the reader's verdict.
  TableError read(TableSnapshot* snap, TableView view = TableView::kNative) const;
  //! read() of the machine scope and `sid`'s (empty: the machine scope only), as a stub reads
  //! at a call: a fraction of a read of every scope of a farm.
  TableError read_scope(std::u16string_view sid, TableSnapshot* snap, TableView view = TableView::kNative) const;
  //! The sequence count (odd while a write is in progress or was abandoned).
  uint32_t sequence() const;
  //! Waits for a kOk table with generation > `above` that satisfies `pred` (if given).
  bool wait_generation_above(uint64_t above, std::chrono::milliseconds timeout, TableSnapshot* snap = nullptr,
                             const std::function<bool(const TableSnapshot&)>& pred = nullptr) const;
  //! The generation of a kOk or kWriterStopped read; 0 otherwise.
  uint64_t generation() const;

 private:
  std::string section_;
  std::unique_ptr<ReadOnlySection> mapping_;
};

//! Registry edits under HKLM (64-bit view).
bool reg_set_sz(HKEY root, const std::wstring& key, const wchar_t* name, const std::wstring& value);
bool reg_set_dword(HKEY root, const std::wstring& key, const wchar_t* name, DWORD value);
bool reg_delete_tree(HKEY root, const std::wstring& key);
//! Deletes one value (64-bit view); true if it is gone (also when it was never there).
bool reg_delete_value(HKEY root, const std::wstring& key, const wchar_t* name);

//! Deletes a value when it goes out of scope: a test's registry edits undone whatever happened.
struct ScopedRegValue {
  HKEY root;
  std::wstring key, name;
  ~ScopedRegValue() { reg_delete_value(root, key, name.c_str()); }
};

//! The path of a DLL that exists on every Windows (and Wine) system: system32\kernel32.dll.
std::wstring system_dll(const wchar_t* name = L"kernel32.dll");

//! Asks the service for its counters (control 129) and reads `name` (WakeUps, Resolves,
//! Publishes, CpuMicroseconds...) from its State key once it has written them. False on failure.
bool service_counter(TestService& svc, const wchar_t* name, uint64_t* value);

//! The number of handles process `pid` holds: GetProcessHandleCount, or, where that answers 0
//! for another process (Wine), the process's entries in NtQuerySystemInformation's
//! SystemHandleInformation. -1 if neither answers.
long process_handle_count(DWORD pid);
//! The number of threads of process `pid` (a Toolhelp snapshot); -1 on failure.
int process_thread_count(DWORD pid);

//! Enables SE_RESTORE_NAME and SE_BACKUP_NAME, which RegLoadKey and RegSaveKey need. False if the
//! process token cannot be opened.
bool enable_hive_privileges();

//! Writes a user hive file whose Software\Clients\Mail (Default) is `client`, with that client's
//! key (DLLPath `dll`, and a second client `client2` if given); with an empty `client`, a hive
//! without Clients\Mail. "" on success, else what failed.
std::string make_hive_file(const std::wstring& client, const std::wstring& hive, const std::wstring& dll = system_dll(),
                           const std::wstring& client2 = {});

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_SERVICE_SERVICE_TEST_UTIL_H_
