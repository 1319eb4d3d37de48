// Copyright MapiDispatch authors.
//
//! \file
//! The export surface as data. Nothing here is exported; the exports themselves are generated
//! from common/data/mapi32-exports.tsv (exports.inc, mapi32.def) and defined in exports.cpp.
//! This is the list they are generated from, one entry per export slot: its ordinal, its two
//! names, its family, its x86 argument size and what its signature returns; and the MAPI and CMC
//! codes the stub answers with when nothing serves a call.

#ifndef MAPIDISPATCH_STUB_EXPORT_LIST_H_
#define MAPIDISPATCH_STUB_EXPORT_LIST_H_

#include <windows.h>

#include <cstdint>

namespace mapidispatch::stub {

enum class ExportFamily { kSIMPLE, kEXTENDED, kUTIL };

//! What an export's signature returns, from the failure column of mapi32-exports.tsv: decides
//! what the stub returns when nothing serves the call (exports.cpp, CodesOf).
enum class ReturnKind { kHRESULT, kSIMPLE, kCMC, kPOINTER, kCOUNT, kBOOL, kBAD, kVOID, kFILETIME, kUNKNOWN };

struct ExportInfo {
  int ordinal;
  const char* primary;    //!< The name that was called ("" for ordinal-only exports).
  const char* alternate;  //!< The other form (plain <-> @N decorated), "" if none.
  ExportFamily family;
  int arg_bytes;          //!< x86 stdcall argument bytes; 0 if unknown.
  ReturnKind ret;         //!< What its signature returns (the failure value's type).
};

#define MD_EXPORT(slot, ordinal, primary, alternate, family, bytes, known, nargs, kind, ret) +1
inline constexpr int kExportCount = 0
#include "exports.inc"
    ;
#undef MD_EXPORT

extern const ExportInfo kExports[kExportCount];

//! Slot (index into kExports) of an ordinal; -1 if none. Evaluated at compile time where the
//! ordinal is a constant (static_assert the answer), so no constant of the exports needs
//! initialising at run time (whose guard would cost a process's first call).
constexpr int slot_of_ordinal(int ordinal) {
#define MD_EXPORT(slot, ord, ...) \
  if ((ord) == ordinal) return (slot);
#include "exports.inc"
#undef MD_EXPORT
  return -1;
}

inline constexpr uint32_t kMapiSuccess = 0;
inline constexpr uint32_t kMapiEFailure = 2;
inline constexpr uint32_t kMapiENotSupported = 26;
inline constexpr uint32_t kMapiEUnicodeNotSupported = 27;
inline constexpr uint32_t kMapiForceUnicode = 0x00040000;
inline constexpr uint32_t kCmcEFailure = 8;        // CMC_E_FAILURE
inline constexpr uint32_t kCmcENotSupported = 21;  // CMC_E_NOT_SUPPORTED
inline constexpr HRESULT kMapiECallFailed = static_cast<HRESULT>(0x80004005L);
inline constexpr HRESULT kMapiENotEnoughMemory = static_cast<HRESULT>(0x8007000EL);
inline constexpr HRESULT kMapiEInvalidParameter = static_cast<HRESULT>(0x80070057L);

}  // namespace mapidispatch::stub

#endif  // MAPIDISPATCH_STUB_EXPORT_LIST_H_
