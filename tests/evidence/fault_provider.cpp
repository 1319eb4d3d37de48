// Copyright MapiDispatch authors.
//
// The MAPI provider of fault_bench: a complete Simple and Extended MAPI export set (so that the
// resolver reports it "found" for DLLPath and DLLPathEx) whose MAPISendMail acknowledges each
// call in the caller's own message: it writes its identity, FAULT_PROVIDER_ID ("A" or "B"), into
// the buffer the caller passed as lpszNoteText. The caller knows exactly which calls reached a
// provider, and which provider, without files or locks shared between processes (the stub's
// test providers log to a file under a named mutex, which would dominate a 64-process run).
//
// The note text is an output buffer here only because fault_bench passes a writable one; a real
// provider never writes to it.

#include <windows.h>

#include <atomic>

#include "mapidispatch/win32/simple_mapi.h"

#ifndef FAULT_PROVIDER_ID
#error "FAULT_PROVIDER_ID must be defined (a one-character string)"
#endif

namespace {

std::atomic<ULONG_PTR> g_next_session{0x7000};

void* allocate(size_t n) { return HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, n); }

}  // namespace

extern "C" {

__declspec(dllexport) ULONG WINAPI MAPILogon(ULONG_PTR, LPSTR, LPSTR, ULONG, ULONG, ULONG_PTR* session) {
  if (session != nullptr) *session = ++g_next_session;
  return 0;
}

__declspec(dllexport) ULONG WINAPI MAPILogoff(ULONG_PTR, ULONG_PTR, ULONG, ULONG) { return 0; }

__declspec(dllexport) ULONG WINAPI MAPISendMail(ULONG_PTR, ULONG_PTR, mapidispatch::simple_mapi::MessageA* m, ULONG,
                                                ULONG) {
  if (m != nullptr && m->note_text != nullptr) {
    m->note_text[0] = FAULT_PROVIDER_ID[0];
    m->note_text[1] = '\0';
  }
  return 0;  // SUCCESS_SUCCESS
}

__declspec(dllexport) ULONG WINAPI MAPIFreeBuffer(void* p) {
  HeapFree(GetProcessHeap(), 0, p);
  return 0;
}

__declspec(dllexport) HRESULT WINAPI MAPIInitialize(void*) { return S_OK; }
__declspec(dllexport) void WINAPI MAPIUninitialize() {}
__declspec(dllexport) HRESULT WINAPI MAPILogonEx(ULONG_PTR, LPSTR, LPSTR, ULONG, void** session) {
  if (session != nullptr) *session = nullptr;
  return S_OK;
}
__declspec(dllexport) HRESULT WINAPI MAPIAllocateBuffer(ULONG size, void** out) {
  *out = allocate(size);
  return *out != nullptr ? S_OK : E_OUTOFMEMORY;
}

}  // extern "C"

BOOL WINAPI DllMain(HINSTANCE, DWORD, LPVOID) { return TRUE; }
