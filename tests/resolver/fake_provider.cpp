// Copyright MapiDispatch authors.
//
// A real DLL from the mingw linker with the MAPI entry points a provider must export (x64:
// plain names; x86: stdcall-decorated names such as MAPILogon@24), for the Win32 file and PE
// tests. Never loaded: the resolver only reads it.

#include <windows.h>

#define MD_EXPORT extern "C" __declspec(dllexport)

MD_EXPORT ULONG WINAPI MAPILogon(ULONG_PTR, LPSTR, LPSTR, ULONG, ULONG, void*) { return 2; }
MD_EXPORT ULONG WINAPI MAPILogoff(ULONG_PTR, ULONG_PTR, ULONG, ULONG) { return 2; }
MD_EXPORT ULONG WINAPI MAPISendMail(ULONG_PTR, ULONG_PTR, void*, ULONG, ULONG) { return 2; }
MD_EXPORT ULONG WINAPI MAPIFreeBuffer(void*) { return 0; }
MD_EXPORT HRESULT WINAPI MAPIInitialize(void*) { return E_FAIL; }
MD_EXPORT void WINAPI MAPIUninitialize() {}
MD_EXPORT HRESULT WINAPI MAPILogonEx(ULONG_PTR, LPSTR, LPSTR, ULONG, void*) { return E_FAIL; }
MD_EXPORT LONG WINAPI MAPIAllocateBuffer(ULONG, void**) { return E_FAIL; }
