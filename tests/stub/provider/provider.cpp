// Copyright MapiDispatch authors.
//
// A MAPI provider DLL for the stub's tests. It records every call it receives, with the
// arguments that matter, as one line appended to the file named by MD_PROVIDER_LOG:
//   <PROVIDER_NAME> <pid> <function> <details>
// Variants (compile definitions): MD_SIMPLE (Simple MAPI), MD_EXTENDED (Extended MAPI and a few
// utility functions, one exported only in @N-decorated form), MD_SENDMAILW (MAPISendMailW),
// MD_CMC (a few CMC functions, xcmc.h; sessions are 32-bit there); MD_DEF_EXPORTS (names come from
// a .def file only).
// With none of them it is a DLL that exports nothing MAPI ("missing exports").

#include <windows.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mapidispatch/win32/simple_mapi.h"

#ifndef PROVIDER_NAME
#error "PROVIDER_NAME must be defined"
#endif

// MD_DEF_EXPORTS: a .def file alone says what is exported and under which names (the partial
// providers: only MAPISendMail, only @N-decorated names, only plain names).
#ifdef MD_DEF_EXPORTS
#define MD_API
#else
#define MD_API __declspec(dllexport)
#endif

namespace {

// The helpers are [[maybe_unused]]: each variant uses some of them, prov_none (no exports) none.

std::atomic<ULONG_PTR> g_next_session{0x5000};
// The lowest and highest addresses MAPIReadMail handed out for "again:<address>": the test's
// memory, not the heap's, which MAPIFreeBuffer leaves alone.
[[maybe_unused]] uintptr_t g_again_low = UINTPTR_MAX;
[[maybe_unused]] uintptr_t g_again_high = 0;

[[maybe_unused]] void record(const std::string& line) {
  wchar_t path[1024];
  const DWORD n = GetEnvironmentVariableW(L"MD_PROVIDER_LOG", path, 1024);
  if (n == 0 || n >= 1024) return;
  // Appends from many processes at once: Wine's FILE_APPEND_DATA is not atomic across processes,
  // so a named mutex orders them.
  static HANDLE mutex = CreateMutexW(nullptr, FALSE, L"Local\\mapidispatch.test.provider.log");
  WaitForSingleObject(mutex, INFINITE);
  HANDLE f = CreateFileW(path, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, nullptr);
  if (f == INVALID_HANDLE_VALUE) {
    ReleaseMutex(mutex);
    return;
  }
  const std::string text = std::string(PROVIDER_NAME) + " " + std::to_string(GetCurrentProcessId()) + " " + line + "\n";
  DWORD written = 0;
  WriteFile(f, text.data(), static_cast<DWORD>(text.size()), &written, nullptr);
  CloseHandle(f);
  ReleaseMutex(mutex);
}

[[maybe_unused]] std::string ptr(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

[[maybe_unused]] std::string hex_bytes(const char* s) {
  std::string out;
  char buf[4];
  for (; s != nullptr && *s != '\0'; ++s) {
    std::snprintf(buf, sizeof buf, "%02X", static_cast<unsigned char>(*s));
    out += buf;
  }
  return out;
}

using mapidispatch::simple_mapi::MessageA;
using mapidispatch::simple_mapi::MessageW;

[[maybe_unused]] void* allocate(size_t n) { return HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, n); }

}  // namespace

extern "C" {

#ifdef MD_SIMPLE
MD_API ULONG WINAPI MAPILogon(ULONG_PTR, LPSTR, LPSTR, ULONG, ULONG, ULONG_PTR* session) {
  *session = ++g_next_session;
  record("MAPILogon session=" + std::to_string(*session));
  return 0;
}
MD_API ULONG WINAPI MAPILogoff(ULONG_PTR session, ULONG_PTR, ULONG, ULONG) {
  record("MAPILogoff session=" + std::to_string(session));
  return 0;
}
// The subject travels as hex bytes, so a test can check the exact encoding it received.
MD_API ULONG WINAPI MAPISendMail(ULONG_PTR session, ULONG_PTR, MessageA* m, ULONG flags, ULONG) {
  record("MAPISendMail session=" + std::to_string(session) + " flags=" + std::to_string(flags) +
         " subject=" + hex_bytes(m ? m->subject : nullptr));
  return 0;
}
MD_API ULONG WINAPI MAPIReadMail(ULONG_PTR session, ULONG_PTR, LPSTR id, ULONG, ULONG, MessageA** out) {
  // "again:<hex address>": hands out that address, as a provider that returns the same memory
  // twice would (the test owns it; MAPIFreeBuffer leaves it alone).
  if (id != nullptr && std::strncmp(id, "again:", 6) == 0) {
    const auto a = static_cast<uintptr_t>(std::strtoull(id + 6, nullptr, 16));
    g_again_low = a < g_again_low ? a : g_again_low;
    g_again_high = a > g_again_high ? a : g_again_high;
    *out = reinterpret_cast<MessageA*>(a);
  } else {
    *out = static_cast<MessageA*>(allocate(sizeof(MessageA)));
  }
  record("MAPIReadMail session=" + std::to_string(session) + " buffer=" + ptr(*out));
  return 0;
}
MD_API ULONG WINAPI MAPIResolveName(ULONG_PTR session, ULONG_PTR, LPSTR, ULONG, ULONG, void** out) {
  *out = allocate(64);
  record("MAPIResolveName session=" + std::to_string(session) + " buffer=" + ptr(*out));
  return 0;
}
MD_API ULONG WINAPI MAPISendDocuments(ULONG_PTR, LPSTR, LPSTR, LPSTR, ULONG) {
  record("MAPISendDocuments");
  return 0;
}
#endif

#ifdef MD_SENDMAILW
MD_API ULONG WINAPI MAPISendMailW(ULONG_PTR session, ULONG_PTR, MessageW* m, ULONG flags, ULONG) {
  std::string subject;
  for (const wchar_t* p = m && m->subject ? m->subject : L""; *p; ++p) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(*p));
    subject += buf;
  }
  record("MAPISendMailW session=" + std::to_string(session) + " flags=" + std::to_string(flags) + " subject=" + subject);
  return 0;
}
#endif

#ifdef MD_CMC
// CMC_session_id is a 32-bit CMC_uint32; these numbers are kept apart from MAPILogon's.
std::atomic<ULONG> g_next_cmc_session{0x7000};
MD_API ULONG WINAPI cmc_logon(LPSTR, LPSTR, LPSTR, void*, ULONG, USHORT, ULONG, ULONG* session, void*) {
  *session = ++g_next_cmc_session;
  record("cmc_logon session=" + std::to_string(*session));
  return 0;
}
MD_API ULONG WINAPI cmc_logoff(ULONG session, ULONG, ULONG, void*) {
  record("cmc_logoff session=" + std::to_string(session));
  return 0;
}
MD_API ULONG WINAPI cmc_send(ULONG session, void*, ULONG flags, ULONG, void*) {
  record("cmc_send session=" + std::to_string(session) + " flags=" + std::to_string(flags));
  return 0;
}
MD_API ULONG WINAPI cmc_list(ULONG session, LPSTR, ULONG, void*, ULONG* count, ULONG, void** result, void*) {
  *result = allocate(64);
  if (count != nullptr) *count = 0;
  record("cmc_list session=" + std::to_string(session) + " buffer=" + ptr(*result));
  return 0;
}
MD_API ULONG WINAPI cmc_free(void* memory) {
  record("cmc_free buffer=" + ptr(memory));
  HeapFree(GetProcessHeap(), 0, memory);
  return 0;
}
MD_API ULONG WINAPI cmc_send_documents(LPSTR, LPSTR subject, LPSTR, ULONG, LPSTR, LPSTR, LPSTR, ULONG) {
  record("cmc_send_documents subject=" + hex_bytes(subject));
  return 0;
}
#endif

#if defined(MD_SIMPLE) || defined(MD_EXTENDED)
MD_API ULONG WINAPI MAPIFreeBuffer(void* p) {
  record("MAPIFreeBuffer buffer=" + ptr(p));
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (a < g_again_low || a > g_again_high) HeapFree(GetProcessHeap(), 0, p);
  return 0;
}
#endif

#ifdef MD_EXTENDED
MD_API HRESULT WINAPI MAPIInitialize(void*) {
  record("MAPIInitialize");
  return S_OK;
}
MD_API void WINAPI MAPIUninitialize() { record("MAPIUninitialize"); }
MD_API HRESULT WINAPI MAPILogonEx(ULONG_PTR, LPSTR, LPSTR, ULONG flags, void** session) {
  *session = nullptr;
  record("MAPILogonEx flags=" + std::to_string(flags));
  return S_OK;
}
MD_API HRESULT WINAPI MAPIAllocateBuffer(ULONG size, void** out) {
  *out = allocate(size);
  record("MAPIAllocateBuffer size=" + std::to_string(size) + " buffer=" + ptr(*out));
  return S_OK;
}
// Exported only as "HrQueryAllRows@24" (see the .def): the stub must find it when called by
// the plain name, and by ordinal.
HRESULT WINAPI md_HrQueryAllRows(void* table, void* tags, void* restriction, void* sort, LONG max_rows, void** rows) {
  (void)table; (void)tags; (void)restriction; (void)sort;
  *rows = nullptr;
  record("HrQueryAllRows max_rows=" + std::to_string(max_rows));
  return S_OK;
}
// FILETIME by value in, FILETIME out: checks the forwarders' calling-convention claims.
FILETIME WINAPI md_FtAddFt(FILETIME a, FILETIME b) {
  ULARGE_INTEGER x{{a.dwLowDateTime, a.dwHighDateTime}}, y{{b.dwLowDateTime, b.dwHighDateTime}};
  x.QuadPart += y.QuadPart;
  record("FtAddFt");
  return FILETIME{x.LowPart, x.HighPart};
}
#endif

}  // extern "C"

BOOL WINAPI DllMain(HINSTANCE, DWORD, LPVOID) { return TRUE; }
