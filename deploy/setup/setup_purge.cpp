// Copyright MapiDispatch authors.
//
// mapidispatch-setup purge: what is left at a real uninstall (setup_actions.h).

#include <windows.h>
#include <shlobj.h>

#include <string>
#include <vector>

#include "setup_actions.h"
#include "setup_core.h"

namespace mapidispatch::setup {
namespace {

constexpr wchar_t kSetupParentKey[] = L"SOFTWARE\\MapiDispatch";

bool remove_tree_dir(const std::wstring& dir) {
  WIN32_FIND_DATAW fd;
  HANDLE h = ::FindFirstFileW((dir + L"\\*").c_str(), &fd);
  if (h != INVALID_HANDLE_VALUE) {
    do {
      const std::wstring name = fd.cFileName;
      if (name == L"." || name == L"..") continue;
      const std::wstring p = dir + L"\\" + name;
      if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
        remove_tree_dir(p);
      else
        ::DeleteFileW(p.c_str());
    } while (::FindNextFileW(h, &fd));
    ::FindClose(h);
  }
  return ::RemoveDirectoryW(dir.c_str()) != 0;
}

}  // namespace

int cmd_purge(const std::vector<std::wstring>& argv) {
  Args a;
  std::wstring why;
  if (!parse(argv, {L"--service", L"--keep-logs"}, &a, &why) || !a.positional.empty()) return fail(why, kUsage);
  const std::wstring service = opt(a, L"--service", L"MapiDispatch");
  for (const std::wstring& key : {std::wstring(kSetupKey), parameters_key(service), service_key(service) + L"\\State",
                                  eventlog_key(service)}) {
    if (!key_exists(key)) continue;
    const LSTATUS rc = delete_tree(key);
    log_line(rc == ERROR_SUCCESS ? L"removed HKLM\\" + key : L"could not remove HKLM\\" + key + L": " + win_error_text(rc));
  }
  delete_if_empty(kSetupParentKey);
  if (opt(a, L"--keep-logs") != L"1") {
    wchar_t* data = nullptr;
    if (SUCCEEDED(::SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &data))) {
      const std::wstring dir = std::wstring(data) + L"\\MapiDispatch";
      ::CoTaskMemFree(data);
      if (is_dir(dir)) log_line(remove_tree_dir(dir) ? L"removed " + dir : L"could not remove all of " + dir);
    }
  }
  return kOk;
}

}  // namespace mapidispatch::setup
