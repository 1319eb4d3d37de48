// Copyright MapiDispatch authors.
//
// A small Simple MAPI provider for the live demonstration (deploy/dev.sh demo) and the
// end-to-end test: a "mail client" DLL that delivers every message it is given as an .eml file
// into the Outbox folder beside the DLL, so an administrator can see which client received which
// mail. Built twice, as "Contoso Mail" and "Fabrikam Mail" (PROVIDER_NAME).
//
// Exports the Simple MAPI entry points the resolver requires (MAPILogon, MAPILogoff, MAPISendMail,
// MAPIFreeBuffer) and MAPISendMailW.

#include <windows.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "mapidispatch/win32/simple_mapi.h"

#ifndef PROVIDER_NAME
#error "PROVIDER_NAME must be defined"
#endif

namespace {

constexpr ULONG kSuccess = 0;
constexpr ULONG kFailure = 2;

HMODULE g_module = nullptr;
std::atomic<ULONG_PTR> g_next_session{0x1000};
std::atomic<unsigned> g_sequence{0};

using mapidispatch::simple_mapi::MessageA;
using mapidispatch::simple_mapi::MessageW;

std::string narrow(const wchar_t* w) {
  if (w == nullptr) return {};
  const int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, nullptr, 0, nullptr, nullptr);
  std::string s(n > 0 ? n - 1 : 0, '\0');
  if (n > 1) WideCharToMultiByte(CP_UTF8, 0, w, -1, s.data(), n, nullptr, nullptr);
  return s;
}

std::string process_name() {
  wchar_t path[MAX_PATH];
  const DWORD n = GetModuleFileNameW(nullptr, path, MAX_PATH);
  std::wstring p(path, n);
  const size_t slash = p.find_last_of(L"\\/");
  return narrow((slash == std::wstring::npos ? p : p.substr(slash + 1)).c_str());
}

// Writes one message as an .eml file into <folder of this DLL>\Outbox.
ULONG deliver(const std::string& subject, const std::string& body, const std::string& to, const char* entry) {
  wchar_t path[MAX_PATH];
  const DWORD n = GetModuleFileNameW(g_module, path, MAX_PATH);
  if (n == 0 || n >= MAX_PATH) return kFailure;
  std::wstring dir(path, n);
  dir = dir.substr(0, dir.find_last_of(L"\\/")) + L"\\Outbox";
  CreateDirectoryW(dir.c_str(), nullptr);
  SYSTEMTIME t;
  GetSystemTime(&t);
  wchar_t name[128];
  swprintf(name, 128, L"\\%04u%02u%02u-%02u%02u%02u-%03u-%lu-%u.eml", t.wYear, t.wMonth, t.wDay, t.wHour, t.wMinute,
           t.wSecond, t.wMilliseconds, GetCurrentProcessId(), g_sequence.fetch_add(1));
  char date[64];
  std::snprintf(date, sizeof date, "%04u-%02u-%02u %02u:%02u:%02u.%03u UTC", t.wYear, t.wMonth, t.wDay, t.wHour,
                t.wMinute, t.wSecond, t.wMilliseconds);
  const std::string text = "From: " + process_name() + " <" + process_name() + "@farm.example>\r\n" +
                           "To: " + (to.empty() ? std::string("undisclosed-recipients:;") : to) + "\r\n" +
                           "Subject: " + subject + "\r\n" + "Date: " + date + "\r\n" +
                           "X-Mailer: " PROVIDER_NAME " (" + entry + ")\r\n" +
                           "X-Sender-Process: " + process_name() + " pid " + std::to_string(GetCurrentProcessId()) +
                           "\r\n\r\n" + body + "\r\n";
  HANDLE f = CreateFileW((dir + name).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (f == INVALID_HANDLE_VALUE) return kFailure;
  DWORD written = 0;
  const BOOL ok = WriteFile(f, text.data(), static_cast<DWORD>(text.size()), &written, nullptr);
  CloseHandle(f);
  return ok && written == text.size() ? kSuccess : kFailure;
}

}  // namespace

extern "C" {

__declspec(dllexport) ULONG WINAPI MAPILogon(ULONG_PTR, LPSTR, LPSTR, ULONG, ULONG, ULONG_PTR* session) {
  if (session == nullptr) return kFailure;
  *session = ++g_next_session;
  return kSuccess;
}

__declspec(dllexport) ULONG WINAPI MAPILogoff(ULONG_PTR, ULONG_PTR, ULONG, ULONG) { return kSuccess; }

__declspec(dllexport) ULONG WINAPI MAPISendMail(ULONG_PTR, ULONG_PTR, MessageA* m, ULONG, ULONG) {
  if (m == nullptr) return kFailure;
  std::string to;
  for (ULONG i = 0; i < m->recip_count && m->recips != nullptr; ++i)
    to += (to.empty() ? "" : ", ") + std::string(m->recips[i].address ? m->recips[i].address : "");
  return deliver(m->subject ? m->subject : "", m->note_text ? m->note_text : "", to, "MAPISendMail");
}

__declspec(dllexport) ULONG WINAPI MAPISendMailW(ULONG_PTR, ULONG_PTR, MessageW* m, ULONG, ULONG) {
  if (m == nullptr) return kFailure;
  std::string to;
  for (ULONG i = 0; i < m->recip_count && m->recips != nullptr; ++i)
    to += (to.empty() ? "" : ", ") + narrow(m->recips[i].address);
  return deliver(narrow(m->subject), narrow(m->note_text), to, "MAPISendMailW");
}

__declspec(dllexport) ULONG WINAPI MAPIFreeBuffer(void* p) {
  if (p != nullptr) HeapFree(GetProcessHeap(), 0, p);
  return kSuccess;
}

}  // extern "C"

BOOL WINAPI DllMain(HINSTANCE module, DWORD reason, LPVOID) {
  if (reason == DLL_PROCESS_ATTACH) g_module = module;
  return TRUE;
}
