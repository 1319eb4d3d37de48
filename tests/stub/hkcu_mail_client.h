// Copyright MapiDispatch authors.
//
//! \file
//! A test's mail client in HKCU\Software\Clients\Mail: made the default, its DLLPath and
//! DLLPathEx pointing at a provider DLL; the previous default comes back when it goes out of
//! scope. For the stub's registry mode in tests and benchmarks (a scratch Wine prefix).

#ifndef MAPIDISPATCH_TESTS_STUB_HKCU_MAIL_CLIENT_H_
#define MAPIDISPATCH_TESTS_STUB_HKCU_MAIL_CLIENT_H_

#include <windows.h>

#include <cwchar>
#include <string>

namespace mapidispatch::test {

class HkcuMailClient {
 public:
  HkcuMailClient(const wchar_t* client, const std::wstring& dll) : HkcuMailClient(client, dll, dll) {}
  //! DLLPath `simple`, DLLPathEx `extended`.
  HkcuMailClient(const wchar_t* client, const std::wstring& simple, const std::wstring& extended) : client_(client) {
    RegCreateKeyExW(HKEY_CURRENT_USER, L"Software\\Clients\\Mail", 0, nullptr, 0, KEY_ALL_ACCESS, nullptr, &mail_, nullptr);
    DWORD size = sizeof old_;
    had_default_ = RegQueryValueExW(mail_, nullptr, nullptr, nullptr, reinterpret_cast<BYTE*>(old_), &size) == ERROR_SUCCESS;
    point_at(simple, extended);
  }
  HkcuMailClient(const HkcuMailClient&) = delete;
  HkcuMailClient& operator=(const HkcuMailClient&) = delete;
  ~HkcuMailClient() {
    RegDeleteTreeW(mail_, client_.c_str());
    if (had_default_) set(mail_, nullptr, old_); else RegDeleteValueW(mail_, nullptr);
    RegCloseKey(mail_);
  }

  //! Makes the client the default and points both families at `dll`.
  void point_at(const std::wstring& dll) { point_at(dll, dll); }
  //! Makes the client the default: DLLPath `simple`, DLLPathEx `extended`.
  void point_at(const std::wstring& simple, const std::wstring& extended) {
    set(mail_, nullptr, client_.c_str());
    HKEY key = nullptr;
    RegCreateKeyExW(mail_, client_.c_str(), 0, nullptr, 0, KEY_ALL_ACCESS, nullptr, &key, nullptr);
    set(key, L"DLLPath", simple.c_str());
    set(key, L"DLLPathEx", extended.c_str());
    RegCloseKey(key);
  }

 private:
  static void set(HKEY k, const wchar_t* name, const wchar_t* value) {
    RegSetValueExW(k, name, 0, REG_SZ, reinterpret_cast<const BYTE*>(value),
                   static_cast<DWORD>((std::wcslen(value) + 1) * sizeof(wchar_t)));
  }
  std::wstring client_;
  HKEY mail_ = nullptr;
  bool had_default_ = false;
  wchar_t old_[512] = {};
};

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_STUB_HKCU_MAIL_CLIENT_H_
