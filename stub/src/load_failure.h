// Copyright MapiDispatch authors.
//
//! \file
//! Why a provider did not load, in words: the loader's error code and message, and which DLL the
//! provider (or a DLL it imports) needs and this process cannot find, or finds only for another
//! machine (mapidispatch/dependencies.h), looked for as this process's loader looks for it.
//! Only on the failure path: it reads files and the registry.

#ifndef MAPIDISPATCH_STUB_LOAD_FAILURE_H_
#define MAPIDISPATCH_STUB_LOAD_FAILURE_H_

#include <string>

namespace mapidispatch::stub {

//! "<path>: error <code> (<message>): <what is missing>", e.g. "C:\Fab\fab.dll: error 126 (The
//! specified module could not be found.): fab.dll imports VCRUNTIME140_1.dll: not found in
//! C:\Fab, C:\Windows\system32, C:\Windows, PATH (this process's PATH)". `path` is what
//! LoadLibraryExW(path, nullptr, LOAD_WITH_ALTERED_SEARCH_PATH) failed on, `error` its
//! GetLastError(). The search is this process's: its machine, the system and Windows folders,
//! its PATH, KnownDLLs, the modules it has loaded. Never throws: if something fails on the way
//! (out of memory), the text says what was found until then.
std::string describe_load_failure(const std::wstring& path, unsigned long error) noexcept;

//! Sends `line` (UTF-8) to an attached debugger or a DebugView-style monitor
//! (OutputDebugStringW), prefixed "MapiDispatch mapi32.dll: ". Never throws.
void debug_output(const std::string& line) noexcept;

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_LOAD_FAILURE_H_
