// Copyright MapiDispatch authors.
//
// The benchmarks' provider: entry points that do (almost) nothing, so a timed call through the
// stub measures the stub's dispatch and nothing else.

#include <windows.h>

extern "C" {

__declspec(dllexport) ULONG WINAPI MAPISendMail(ULONG_PTR session, ULONG_PTR, void*, ULONG, ULONG) {
  return session == 0xFFFFFFFF ? 1u : 0u;
}
__declspec(dllexport) HRESULT WINAPI MAPIInitialize(void*) { return S_OK; }
__declspec(dllexport) void WINAPI MAPIUninitialize() {}
// Exported as "UlAddRef@4" (bench_provider.def): a utility function of the Extended family.
ULONG WINAPI md_UlAddRef(ULONG* p) { return p ? ++*p : 0; }
// The rest of the entry points the resolver requires of a provider of each family.
__declspec(dllexport) ULONG WINAPI MAPILogon(ULONG_PTR, LPSTR, LPSTR, ULONG, ULONG, ULONG_PTR* s) {
  *s = 1;
  return 0;
}
__declspec(dllexport) ULONG WINAPI MAPILogoff(ULONG_PTR, ULONG_PTR, ULONG, ULONG) { return 0; }
__declspec(dllexport) ULONG WINAPI MAPIFreeBuffer(void*) { return 0; }
__declspec(dllexport) HRESULT WINAPI MAPILogonEx(ULONG_PTR, LPSTR, LPSTR, ULONG, void** s) {
  *s = nullptr;
  return S_OK;
}
__declspec(dllexport) HRESULT WINAPI MAPIAllocateBuffer(ULONG, void** out) {
  *out = nullptr;
  return E_OUTOFMEMORY;
}

}  // extern "C"

BOOL WINAPI DllMain(HINSTANCE, DWORD, LPVOID) { return TRUE; }
