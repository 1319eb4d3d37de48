// Copyright MapiDispatch authors.

#include "mapidispatch/win32/registry_win.h"

#include <vector>

#include "mapidispatch/win32/unique_hkey.h"

namespace mapidispatch::win32 {
namespace {

static_assert(sizeof(wchar_t) == sizeof(char16_t), "Windows wchar_t is UTF-16");

std::wstring wide(std::u16string_view s) { return std::wstring(s.begin(), s.end()); }
std::u16string narrow16(const wchar_t* s, size_t n) { return std::u16string(s, s + n); }
std::error_code win32_error(LONG rc) { return {static_cast<int>(rc), std::system_category()}; }

class Win32Key final : public RegistryKey {
 public:
  Win32Key(UniqueHkey key, REGSAM view) : key_(std::move(key)), handle_(key_.get()), view_(view) {}
  //! A predefined key (HKEY_USERS...): used, never closed.
  Win32Key(HKEY predefined, REGSAM view) : handle_(predefined), view_(view) {}

  std::error_code read_value(std::u16string_view name, RegValue* out) const override {
    const std::wstring n = wide(name);
    std::vector<uint8_t> buf(512);
    // A value can grow between two calls; a few rounds settle it.
    for (int attempt = 0; attempt < 4; ++attempt) {
      DWORD type = 0;
      DWORD size = static_cast<DWORD>(buf.size());
      const LONG rc = ::RegQueryValueExW(handle_, n.c_str(), nullptr, &type, buf.data(), &size);
      if (rc == ERROR_SUCCESS) {
        buf.resize(size);
        out->type = type;
        out->data = std::move(buf);
        return {};
      }
      if (rc != ERROR_MORE_DATA) return win32_error(rc);
      if (size > kMaxValueBytes) return RegistryError::kTooLarge;
      buf.resize(size);
    }
    return win32_error(ERROR_MORE_DATA);
  }

  std::error_code open_subkey(std::u16string_view path, std::unique_ptr<RegistryKey>* out) const override {
    UniqueHkey sub;
    const LONG rc = ::RegOpenKeyExW(handle_, wide(path).c_str(), 0, KEY_READ | view_, sub.put());
    if (rc != ERROR_SUCCESS) return win32_error(rc);
    *out = std::make_unique<Win32Key>(std::move(sub), view_);
    return {};
  }

  std::error_code subkey_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const override {
    out->clear();
    *truncated = false;
    wchar_t name[kMaxKeyNameChars + 1];
    for (DWORD i = 0;; ++i) {
      DWORD len = static_cast<DWORD>(std::size(name));
      const LONG rc = ::RegEnumKeyExW(handle_, i, name, &len, nullptr, nullptr, nullptr, nullptr);
      if (rc == ERROR_NO_MORE_ITEMS) return {};
      if (rc != ERROR_SUCCESS) return win32_error(rc);
      if (out->size() >= limit) {
        *truncated = true;
        return {};
      }
      out->push_back(narrow16(name, len));
    }
  }

  std::error_code value_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const override {
    out->clear();
    *truncated = false;
    std::vector<wchar_t> name(kMaxValueNameChars + 1);
    for (DWORD i = 0;; ++i) {
      DWORD len = static_cast<DWORD>(name.size());
      const LONG rc = ::RegEnumValueW(handle_, i, name.data(), &len, nullptr, nullptr, nullptr, nullptr);
      if (rc == ERROR_NO_MORE_ITEMS) return {};
      if (rc != ERROR_SUCCESS) return win32_error(rc);
      if (out->size() >= limit) {
        *truncated = true;
        return {};
      }
      out->push_back(narrow16(name.data(), len));
    }
  }

 private:
  UniqueHkey key_;
  HKEY handle_;
  REGSAM view_;
};

}  // namespace

REGSAM view_flag(RegView view) {
  switch (view) {
    case RegView::kDefault: return 0;
    case RegView::k64: return KEY_WOW64_64KEY;
    case RegView::k32: return KEY_WOW64_32KEY;
  }
  return 0;
}

std::error_code Win32Registry::open(RegRoot root, std::u16string_view path, RegView view,
                                    std::unique_ptr<RegistryKey>* out) const {
  HKEY base = nullptr;
  std::wstring full;
  switch (root) {
    case RegRoot::kLocalMachine: base = roots_.local_machine; full = roots_.local_machine_path; break;
    case RegRoot::kCurrentUser: base = roots_.current_user; full = roots_.current_user_path; break;
    case RegRoot::kUsers: base = roots_.users; full = roots_.users_path; break;
  }
  if (!full.empty() && !path.empty()) full += L'\\';
  full += wide(path);
  if (full.empty()) {
    // RegOpenKeyExW would hand back the predefined key itself, which is not ours to close.
    *out = std::make_unique<Win32Key>(base, view_flag(view));
    return {};
  }
  UniqueHkey key;
  const LONG rc = ::RegOpenKeyExW(base, full.c_str(), 0, KEY_READ | view_flag(view), key.put());
  if (rc != ERROR_SUCCESS) return win32_error(rc);
  *out = std::make_unique<Win32Key>(std::move(key), view_flag(view));
  return {};
}

}  // namespace mapidispatch::win32
