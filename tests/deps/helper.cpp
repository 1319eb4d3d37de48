// Copyright MapiDispatch authors.
//
// The helper DLLs of the dependency fixtures (tests/deps/CMakeLists.txt): one cdecl function,
// MD_HELPER_EXPORT (undecorated on both machines, so that one import library name fits the
// x64 and the x86 build); with MD_HELPER_IMPORT it calls that function of another DLL, so that
// it imports it (mdlevel1.dll -> mdlevel2missing.dll).

#ifndef MD_HELPER_EXPORT
#error "MD_HELPER_EXPORT must name the exported function"
#endif

#ifdef MD_HELPER_IMPORT
extern "C" int MD_HELPER_IMPORT(void);
#endif

extern "C" __declspec(dllexport) int MD_HELPER_EXPORT(void) {
#ifdef MD_HELPER_IMPORT
  return MD_HELPER_IMPORT() + 1;
#else
  return 42;
#endif
}
