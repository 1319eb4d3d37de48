// Copyright MapiDispatch authors.
//
//! \file
//! What DllMain records: this DLL's module handle. Nothing else happens in DllMain (dllmain.cpp
//! says why).

#ifndef MAPIDISPATCH_STUB_DLLMAIN_H_
#define MAPIDISPATCH_STUB_DLLMAIN_H_

#include <windows.h>

namespace mapidispatch::stub {

//! The module handle of this DLL (set in DllMain: bookkeeping only).
extern HMODULE g_self;

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_DLLMAIN_H_
