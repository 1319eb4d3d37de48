// Copyright MapiDispatch authors.

#include "mapidispatch/win32/process_user.h"

#include <windows.h>
#include <sddl.h>

#include "mapidispatch/win32/unique_handle.h"

namespace mapidispatch::win32 {

std::u16string process_user_sid() {
  UniqueKernelHandle token;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, token.put())) return {};
  // TOKEN_USER and the largest SID fit on the stack.
  alignas(TOKEN_USER) unsigned char buf[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
  DWORD len = 0;
  if (!::GetTokenInformation(token.get(), TokenUser, buf, sizeof buf, &len)) return {};
  LPWSTR text = nullptr;
  if (!::ConvertSidToStringSidW(reinterpret_cast<const TOKEN_USER*>(buf)->User.Sid, &text)) return {};
  UniqueLocalMemory owned(text);
  return std::u16string(reinterpret_cast<const char16_t*>(text));
}

}  // namespace mapidispatch::win32
