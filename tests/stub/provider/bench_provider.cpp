// Copyright MapiDispatch authors.
//
// The benchmarks' provider: entry points that do (almost) nothing, so a timed call through the
// stub measures the stub's dispatch and nothing else. One entry point of every kind the stub
// dispatches (stub_bench's table of kinds).

#include <windows.h>

extern "C" {

__declspec(dllexport) ULONG WINAPI MAPISendMail(ULONG_PTR session, ULONG_PTR, void*, ULONG, ULONG) {
  return session == 0xFFFFFFFF ? 1u : 0u;
}
__declspec(dllexport) HRESULT WINAPI MAPIInitialize(void*) { return S_OK; }
__declspec(dllexport) void WINAPI MAPIUninitialize() {}
// Exported as "UlAddRef@4" (bench_provider.def): a utility function of the Extended family. As
// the real one (and Wine's): IUnknown::AddRef of the object, through its vtable.
ULONG WINAPI md_UlAddRef(void* unknown) {
  if (unknown == nullptr) return 0;
  using AddRef = ULONG(STDMETHODCALLTYPE*)(void*);
  return reinterpret_cast<AddRef>((*static_cast<void***>(unknown))[1])(unknown);
}
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
// Allocation hands out one static block: the benchmarks time dispatch, not a heap.
alignas(16) char g_block[64];
__declspec(dllexport) HRESULT WINAPI MAPIAllocateBuffer(ULONG, void** out) {
  *out = g_block;
  return S_OK;
}
__declspec(dllexport) HRESULT WINAPI MAPIAllocateMore(ULONG, void*, void** out) {
  *out = g_block;
  return S_OK;
}
// A plain-named Extended forwarder (kind 1 of the export list).
__declspec(dllexport) HRESULT WINAPI MAPIAdminProfiles(ULONG, void** out) {
  *out = nullptr;
  return S_OK;
}
// A Simple MAPI call that returns a buffer the caller frees with MAPIFreeBuffer.
__declspec(dllexport) ULONG WINAPI MAPIReadMail(ULONG_PTR, ULONG_PTR, LPSTR, ULONG, ULONG, void** out) {
  *out = g_block;
  return 0;
}
__declspec(dllexport) ULONG WINAPI MAPISendMailW(ULONG_PTR session, ULONG_PTR, void*, ULONG, ULONG) {
  return session == 0xFFFFFFFF ? 1u : 0u;
}
// CMC (xcmc.h): a send without session.
__declspec(dllexport) ULONG WINAPI cmc_send(ULONG session, void*, ULONG, ULONG, void*) { return session == 0xFFFFFFFF ? 1u : 0u; }

}  // extern "C"

BOOL WINAPI DllMain(HINSTANCE, DWORD, LPVOID) { return TRUE; }
