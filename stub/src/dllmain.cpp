// Copyright MapiDispatch authors.
//
// DllMain does bookkeeping only: it remembers this module's handle and turns off thread
// notifications. Nothing is resolved, opened or loaded here (that runs under the loader lock);
// all of it happens on the first call of an export.

#include "dllmain.h"

namespace mapidispatch::stub {

HMODULE g_self = nullptr;

}  // namespace mapidispatch::stub

extern "C" BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID) {
  if (reason == DLL_PROCESS_ATTACH) {
    mapidispatch::stub::g_self = instance;
    ::DisableThreadLibraryCalls(instance);
  }
  return TRUE;
}
