// Copyright MapiDispatch authors.
//
//! \file
//! A test's default mail client in Software\Clients\Mail of HKCU or HKLM (one registry view):
//! made the default, its DLLPath and DLLPathEx pointing at provider DLLs; the previous default
//! comes back, and the client's key goes, when it goes out of scope. For the stub's registry mode
//! in tests and benchmarks, and for Wine's own mapi32.dll, which loads HKLM's default client
//! (a scratch Wine prefix).

#ifndef MAPIDISPATCH_TESTS_STUB_HKCU_MAIL_CLIENT_H_
#define MAPIDISPATCH_TESTS_STUB_HKCU_MAIL_CLIENT_H_

#include <windows.h>

#include <cwchar>
#include <string>

namespace mapidispatch::test {

class MailClientDefault {
 public:
  //! `view`: 0, KEY_WOW64_64KEY or KEY_WOW64_32KEY.
  MailClientDefault(HKEY root, REGSAM view, const wchar_t* client, const std::wstring& simple,
                    const std::wstring& extended)
      : client_(client), view_(view) {
    RegCreateKeyExW(root, L"Software\\Clients\\Mail", 0, nullptr, 0, KEY_ALL_ACCESS | view_, nullptr, &mail_, nullptr);
    DWORD size = sizeof old_;
    had_default_ = RegQueryValueExW(mail_, nullptr, nullptr, nullptr, reinterpret_cast<BYTE*>(old_), &size) == ERROR_SUCCESS;
    point_at(simple, extended);
  }
  MailClientDefault(const MailClientDefault&) = delete;
  MailClientDefault& operator=(const MailClientDefault&) = delete;
  ~MailClientDefault() {
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
    RegCreateKeyExW(mail_, client_.c_str(), 0, nullptr, 0, KEY_ALL_ACCESS | view_, nullptr, &key, nullptr);
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
  REGSAM view_;
  HKEY mail_ = nullptr;
  bool had_default_ = false;
  wchar_t old_[512] = {};
};

//! The current user's default mail client.
class HkcuMailClient : public MailClientDefault {
 public:
  HkcuMailClient(const wchar_t* client, const std::wstring& dll) : HkcuMailClient(client, dll, dll) {}
  HkcuMailClient(const wchar_t* client, const std::wstring& simple, const std::wstring& extended)
      : MailClientDefault(HKEY_CURRENT_USER, 0, client, simple, extended) {}
};

//! The machine's default mail client in one registry view (KEY_WOW64_64KEY or KEY_WOW64_32KEY).
class HklmMailDefault : public MailClientDefault {
 public:
  HklmMailDefault(REGSAM view, const wchar_t* client, const std::wstring& dll)
      : MailClientDefault(HKEY_LOCAL_MACHINE, view, client, dll, dll) {}
};

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_STUB_HKCU_MAIL_CLIENT_H_
