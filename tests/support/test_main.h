// Copyright MapiDispatch authors.
//
//! \file
//! Test programs that re-launch themselves as child processes (the Crashpad pattern), to test
//! cross-process behaviour for real: `MD_CHILD_MAIN(name) { ... return exit_code; }` defines a
//! child entry point; spawn_self_child() starts this same executable running it.

#ifndef MAPIDISPATCH_TESTS_SUPPORT_TEST_MAIN_H_
#define MAPIDISPATCH_TESTS_SUPPORT_TEST_MAIN_H_

#include <string>
#include <vector>

namespace mapidispatch::test {

using ChildMain = int (*)(const std::vector<std::string>& args);

//! Registers a child entry point (MD_CHILD_MAIN does it at static initialisation).
bool register_child(const char* name, ChildMain fn);

//! A running child process.
class Child {
 public:
  Child() = default;
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  //! Waits for the child to exit; its exit code, or -1 if it could not be waited for.
  int wait();
  //! Kills the child at once (TerminateProcess / SIGKILL), as a crash would end it.
  void kill();
  bool valid() const;

 private:
  friend Child spawn_self_child(const std::string&, const std::vector<std::string>&);
#ifdef _WIN32
  void* process_ = nullptr;
#else
  int pid_ = -1;
#endif
};

//! Starts this test executable as a child running the entry point `name` with `args`.
Child spawn_self_child(const std::string& name, const std::vector<std::string>& args = {});

//! A name unique to this process and call, for sections and keys that tests create.
std::string unique_name(const std::string& stem);

}  // namespace mapidispatch::test

#define MD_CHILD_MAIN(name)                                                                  \
  static int md_child_##name(const std::vector<std::string>& args);                          \
  static const bool md_child_registered_##name = ::mapidispatch::test::register_child(#name, \
                                                                                      &md_child_##name); \
  static int md_child_##name([[maybe_unused]] const std::vector<std::string>& args)

#endif  // MAPIDISPATCH_TESTS_SUPPORT_TEST_MAIN_H_
