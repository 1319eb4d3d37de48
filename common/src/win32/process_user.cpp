// Copyright MapiDispatch authors.

#include "mapidispatch/win32/process_user.h"

#include <windows.h>

#include <string>

#include "mapidispatch/win32/section_security.h"
#include "mapidispatch/win32/unique_handle.h"

namespace mapidispatch::win32 {

std::u16string process_user_sid() {
  // TOKEN_USER and the largest SID fit on the stack.
  alignas(TOKEN_USER) unsigned char buf[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
  DWORD len = 0;
  // The process token's pseudo-handle (Windows 8 and later) answers TOKEN_QUERY without opening
  // and closing a handle; where it is not understood, the token is opened.
  if (!::GetTokenInformation(::GetCurrentProcessToken(), TokenUser, buf, sizeof buf, &len)) {
    UniqueKernelHandle token;
    if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, token.put())) return {};
    if (!::GetTokenInformation(token.get(), TokenUser, buf, sizeof buf, &len)) return {};
  }
  const std::string text = sid_to_string(reinterpret_cast<const TOKEN_USER*>(buf)->User.Sid);
  return std::u16string(text.begin(), text.end());  // ASCII
}

}  // namespace mapidispatch::win32
