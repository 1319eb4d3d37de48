// Copyright MapiDispatch authors.
//
//! \file
//! Reading `.reg` exports (what `reg export` and regedit write) into a MemoryRegistry, so test
//! cases read like registry exports and an administrator can hand us a broken machine's export.
//! Portable; never throws except std::bad_alloc; work and memory linear in the input.
//!
//! Accepted:
//! - Encodings: UTF-16LE with BOM (regedit's "Windows Registry Editor Version 5.00" files),
//!   UTF-16BE with BOM, UTF-16LE without BOM (detected by its NUL high bytes), UTF-8 with BOM,
//!   and BOM-less 8-bit files, read as UTF-8 when they are valid UTF-8 and as Windows-1252
//!   ("ANSI", REGEDIT4) otherwise.
//! - The first non-blank line is `Windows Registry Editor Version 5.00` or `REGEDIT4`.
//! - `[KEY]` creates a key; `[-KEY]` deletes it and its subtree. Roots: HKEY_LOCAL_MACHINE
//!   (HKLM), HKEY_CURRENT_USER (HKCU), HKEY_USERS (HKU); HKEY_CLASSES_ROOT (HKCR) is stored as
//!   HKLM\SOFTWARE\Classes and HKEY_CURRENT_CONFIG (HKCC) as
//!   HKLM\SYSTEM\CurrentControlSet\Hardware Profiles\Current.
//! - `"name"=...` or `@=...` (the default value), with data `"string"` (REG_SZ; escapes `\\`,
//!   `\"`, and Wine regedit's `\n`, `\r`, `\0`), `dword:` 1-8 hex digits, `hex:` bytes
//!   (REG_BINARY), `hex(N):` bytes of type N in hex (`hex(2):` REG_EXPAND_SZ, `hex(7):`
//!   REG_MULTI_SZ, `hex(b):` REG_QWORD, any other type number), or `-` (delete the value).
//!   In REGEDIT4 files the bytes of hex(1), hex(2) and hex(7) are ANSI (Windows-1252) text and are
//!   stored as UTF-16LE, as regedit imports them.
//! - A line ending in `\` continues on the next line (hex data); `;` starts a comment line.
//!
//! Anything else is an error with the line number; nothing partial is reported as success, but
//! what was parsed before the error stays in the registry.

#ifndef MAPIDISPATCH_REG_FILE_H_
#define MAPIDISPATCH_REG_FILE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "mapidispatch/registry.h"

namespace mapidispatch {

//! The largest export accepted (bytes).
inline constexpr size_t kMaxRegFileBytes = 256u * 1024 * 1024;

enum class RegFileFormat { kUnknown, kRegedit5, kRegedit4 };
enum class RegFileEncoding { kUnknown, kUtf16Le, kUtf16Be, kUtf8, kAnsi };
std::string_view to_string(RegFileFormat format);
std::string_view to_string(RegFileEncoding encoding);

//! The outcome of a parse.
struct RegFileResult {
  bool ok = false;
  size_t line = 0;        //!< On error: 1-based line the error is on (0: not about a line).
  std::string message;    //!< On error: what is wrong, in words (UTF-8).
  RegFileFormat format = RegFileFormat::kUnknown;
  RegFileEncoding encoding = RegFileEncoding::kUnknown;
  size_t keys = 0;              //!< [KEY] sections read.
  size_t values = 0;            //!< Values set.
  size_t deleted_keys = 0;      //!< [-KEY] sections.
  size_t deleted_values = 0;    //!< "name"=- lines.
};

//! Parses `bytes` (a whole file) into `into`. Never throws except std::bad_alloc.
RegFileResult parse_reg_file(std::span<const uint8_t> bytes, MemoryRegistry* into);

//! The same for text already decoded (UTF-16); the encoding is reported as kUnknown.
RegFileResult parse_reg_text(std::u16string_view text, MemoryRegistry* into);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_REG_FILE_H_
