// Copyright MapiDispatch authors.
//
// The provider of the dependency fixtures (tests/deps/CMakeLists.txt): the entry points the
// resolver requires of a Simple and of an Extended MAPI provider, answering at once and logging
// nothing (MAPISendMail returns SUCCESS_SUCCESS). DepUse() calls the one function of the DLL the
// fixture is about (MD_DEP_IMPORT, from an import library made for the fixture), so that the
// linker keeps the import; no test calls it (for `delay` it would load mdnotthere2.dll).

#include <windows.h>

#ifndef MD_DEP_IMPORT
#error "MD_DEP_IMPORT must name the imported function"
#endif

#ifdef MD_DEP_IMPORT_WINAPI
// A Windows API (the `apiset` fixture: WakeByAddressSingle from api-ms-win-core-synch-l1-2-0.dll),
// declared by <windows.h>.
#define MD_DEP_CALL() (MD_DEP_IMPORT(nullptr), 0)
#else
extern "C" int MD_DEP_IMPORT(void);
#define MD_DEP_CALL() MD_DEP_IMPORT()
#endif

extern "C" {

__declspec(dllexport) int WINAPI DepUse() { return MD_DEP_CALL(); }

__declspec(dllexport) ULONG WINAPI MAPISendMail(ULONG_PTR, ULONG_PTR, void*, ULONG, ULONG) { return 0; }
__declspec(dllexport) ULONG WINAPI MAPILogon(ULONG_PTR, LPSTR, LPSTR, ULONG, ULONG, ULONG_PTR* session) {
  if (session != nullptr) *session = 0xD0;
  return 0;
}
__declspec(dllexport) ULONG WINAPI MAPILogoff(ULONG_PTR, ULONG_PTR, ULONG, ULONG) { return 0; }
__declspec(dllexport) ULONG WINAPI MAPIFreeBuffer(void* p) {
  if (p != nullptr) HeapFree(GetProcessHeap(), 0, p);
  return 0;
}
__declspec(dllexport) HRESULT WINAPI MAPIInitialize(void*) { return S_OK; }
__declspec(dllexport) void WINAPI MAPIUninitialize() {}
__declspec(dllexport) HRESULT WINAPI MAPILogonEx(ULONG_PTR, LPSTR, LPSTR, ULONG, void** session) {
  if (session != nullptr) *session = nullptr;
  return MAKE_HRESULT(SEVERITY_ERROR, FACILITY_ITF, 0x10F);  // MAPI_E_NOT_FOUND: no profiles here
}
__declspec(dllexport) HRESULT WINAPI MAPIAllocateBuffer(ULONG size, void** out) {
  if (out == nullptr) return E_INVALIDARG;
  *out = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, size == 0 ? 1 : size);
  return *out != nullptr ? S_OK : E_OUTOFMEMORY;
}

}  // extern "C"
