// Copyright MapiDispatch authors.
//
// main() of every test program: runs a registered child entry point when started as
// `<exe> --md-child NAME ARGS...`, else GoogleTest.

#include "test_main.h"

#include "win_process.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char** environ;
#endif

namespace mapidispatch::test {
namespace {

std::map<std::string, ChildMain>& children() {
  static std::map<std::string, ChildMain> map;
  return map;
}

constexpr char kChildFlag[] = "--md-child";

}  // namespace

bool register_child(const char* name, ChildMain fn) {
  children()[name] = fn;
  return true;
}

Child::Child(Child&& o) noexcept {
  *this = std::move(o);
}

Child& Child::operator=(Child&& o) noexcept {
#ifdef _WIN32
  std::swap(process_, o.process_);
#else
  std::swap(pid_, o.pid_);
#endif
  return *this;
}

#ifdef _WIN32
Child::~Child() {
  if (process_ != nullptr) {
    kill();
    ::CloseHandle(process_);
  }
}
bool Child::valid() const { return process_ != nullptr; }
int Child::wait() {
  if (process_ == nullptr) return -1;
  if (::WaitForSingleObject(process_, 120000) != WAIT_OBJECT_0) return -1;
  DWORD code = 0;
  ::GetExitCodeProcess(process_, &code);
  ::CloseHandle(process_);
  process_ = nullptr;
  return static_cast<int>(code);
}
void Child::kill() {
  if (process_ != nullptr) ::TerminateProcess(process_, 9);
}

Child spawn_self_child(const std::string& name, const std::vector<std::string>& args) {
  wchar_t exe[MAX_PATH];
  ::GetModuleFileNameW(nullptr, exe, MAX_PATH);
  std::wstring cmd = L"\"" + std::wstring(exe) + L"\" " + L"--md-child ";
  auto append = [&cmd](const std::string& s) {
    cmd += L" \"";
    for (char c : s) cmd += static_cast<wchar_t>(static_cast<unsigned char>(c));
    cmd += L"\"";
  };
  append(name);
  for (const auto& a : args) append(a);
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  Child child;
  if (create_process_retrying(cmd, false, &si, &pi)) {
    ::CloseHandle(pi.hThread);
    child.process_ = pi.hProcess;
  } else {
    std::fprintf(stderr, "CreateProcessW failed: %lu\n", ::GetLastError());
  }
  return child;
}

std::string unique_name(const std::string& stem) {
  static std::atomic<int> counter{0};
  return "Local\\" + stem + "." + std::to_string(::GetCurrentProcessId()) + "." + std::to_string(counter++);
}
#else
Child::~Child() {
  if (pid_ > 0) {
    kill();
    wait();
  }
}
bool Child::valid() const { return pid_ > 0; }
int Child::wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return -1;
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
void Child::kill() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

Child spawn_self_child(const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> argv_s = {"/proc/self/exe", kChildFlag, name};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  Child child;
  if (n <= 0) return child;
  exe[n] = '\0';
  pid_t pid = -1;
  if (::posix_spawn(&pid, exe, nullptr, nullptr, argv.data(), environ) == 0) child.pid_ = pid;
  return child;
}

std::string unique_name(const std::string& stem) {
  static std::atomic<int> counter{0};
  return "/" + stem + "." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}
#endif

}  // namespace mapidispatch::test

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], mapidispatch::test::kChildFlag) == 0) {
    const auto it = mapidispatch::test::children().find(argv[2]);
    if (it == mapidispatch::test::children().end()) {
      std::fprintf(stderr, "no child entry point named %s\n", argv[2]);
      return 125;
    }
    return it->second(std::vector<std::string>(argv + 3, argv + argc));
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
