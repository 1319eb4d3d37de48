// Copyright MapiDispatch authors.
//
//! \file
//! A portable, bounds-checked reader of PE/COFF images: is a file a DLL, for which machine, and
//! which names does it export. It reads bytes through ByteSource (a file, or memory) and never
//! loads or maps the image, so a hostile file cannot run code or make it read out of bounds.
//! Every offset, RVA and size is checked with 64-bit arithmetic before use; work is bounded by
//! kMaxPeSections and kMaxPeExportNames.
//!
//! It also reads which DLLs the image imports (the import and delay-load tables, see
//! PeInfo::imports), bounded by kMaxPeImportDlls and kMaxPeImportNameLength.
//!
//! Also the contract of a MAPI provider: which exports each family's DLL must have.

#ifndef MAPIDISPATCH_PE_IMAGE_H_
#define MAPIDISPATCH_PE_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mapidispatch/model.h"

namespace mapidispatch {

//! Random access to the bytes of a file.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  //! The size in bytes.
  virtual uint64_t size() const = 0;
  //! Fills `out` from `offset`; false if that range is not entirely inside the source or the read
  //! failed. Never reads past size().
  virtual bool read(uint64_t offset, std::span<uint8_t> out) const = 0;
};

//! A ByteSource over memory the caller keeps alive.
class SpanByteSource final : public ByteSource {
 public:
  explicit SpanByteSource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  bool read(uint64_t offset, std::span<uint8_t> out) const override;

 private:
  std::span<const uint8_t> bytes_;
};

inline constexpr uint16_t kMaxPeSections = 96;        //!< The Windows loader's own limit.
inline constexpr uint32_t kMaxPeExportNames = 65536;  //!< More is treated as a malformed table.
inline constexpr size_t kMaxPeExportNameLength = 1024;
inline constexpr uint32_t kMaxPeImportDlls = 4096;    //!< Descriptors per table; more is malformed.
inline constexpr size_t kMaxPeImportNameLength = 255; //!< A DLL file name (MAX_PATH component).

//! One DLL an image imports.
struct PeImport {
  std::string dll;          //!< The name as written in the table (case kept; usually no folder).
  bool delay_load = false;  //!< From the delay-load table: loaded on first call, not with the image.
};

//! Why an image was not read.
enum class PeStatus {
  kOk,
  kTooSmall,         //!< Shorter than a DOS header.
  kNotMz,            //!< No "MZ" signature.
  kBadLfanew,        //!< e_lfanew points outside the file.
  kNotPe,            //!< No "PE\0\0" signature at e_lfanew.
  kBadHeaders,       //!< COFF or optional header truncated or inconsistent.
  kBadSections,      //!< Section table truncated or too long.
  kBadExports,       //!< Export directory or its tables outside the image.
  kReadError,        //!< The source could not be read.
  kBadImports,       //!< The import or delay-load table is outside the image or malformed (only
                     //!< PeInfo::imports_status; the image itself still reads as kOk).
};
std::string_view to_string(PeStatus status);

//! What the reader found.
struct PeInfo {
  uint16_t raw_machine = 0;                //!< IMAGE_FILE_HEADER.Machine as stored.
  PeMachine machine = PeMachine::kUnknown; //!< kUnknown for machines the resolver does not name.
  uint16_t characteristics = 0;
  bool is_dll = false;                     //!< IMAGE_FILE_DLL and IMAGE_FILE_EXECUTABLE_IMAGE.
  bool pe32_plus = false;                  //!< Optional header magic 0x20B (64-bit images).
  std::vector<std::string> export_names;   //!< Named exports, in table order.
  //! The DLLs the image imports: the import table's, then the delay-load table's, each in table
  //! order, a name listed twice (case-insensitive ASCII) kept once (an import wins over a
  //! delay-load). Bound imports and forwarders are not followed.
  std::vector<PeImport> imports;
  //! kOk, or kBadImports when either table is damaged: `imports` then holds what was read before
  //! the damage and `imports_reason` says where. A damaged import table does not make the image
  //! unreadable (read_pe_image still returns kOk): the loader's verdict on it is its own.
  //!
  //! How the tables are read (data directories 1 and 13, each only if NumberOfRvaAndSizes
  //! includes it; an RVA or size of 0 is no table):
  //! - RVAs map through the section table's file-backed data, or to the same file offset below
  //!   SizeOfHeaders; a directory's Size is not trusted beyond being non-zero: descriptors are
  //!   read until the terminator, as the loader does.
  //! - The import table (20-byte IMAGE_IMPORT_DESCRIPTORs) ends at the first descriptor whose
  //!   Name or FirstThunk is 0 (normally an all-zero one); the delay-load table (32-byte
  //!   IMAGE_DELAYLOAD_DESCRIPTORs) at the first whose DllNameRVA is 0. A delay-load descriptor
  //!   with Attributes bit 0 clear (Visual C++ 6) holds virtual addresses: ImageBase is
  //!   subtracted, and an address below it is damage.
  //! - Damage, per table (the first damage ends that table, the other table is still read, and
  //!   `imports_reason` holds one sentence per damaged table, naming the table and descriptor):
  //!   descriptors outside the sections and headers or running past their section or the file
  //!   before the terminator; more than kMaxPeImportDlls descriptors; a name outside the image,
  //!   empty, without NUL within kMaxPeImportNameLength bytes or before its section's end, or
  //!   with a byte that is not printable ASCII (0x20-0x7E).
  //! - Read even when the export directory is damaged (read_pe_image returns kBadExports then),
  //!   not when the headers or the section table are.
  PeStatus imports_status = PeStatus::kOk;
  std::string imports_reason;
};

//! Reads the headers and export names. `reason` (if given) gets a sentence for an administrator
//! on failure. A PE32 header with a 64-bit machine (or PE32+ with x86) is kBadHeaders.
PeStatus read_pe_image(const ByteSource& source, PeInfo* out, std::string* reason = nullptr);

//! "x86", "x64", "arm64", or "machine 0x1c4" for others.
std::string describe_machine(uint16_t raw_machine);

// ---- What a provider must export ----------------------------------------------------------------

//! The two provider families of mapi32-exports.tsv: DLLPath serves Simple MAPI, DLLPathEx serves
//! Extended MAPI and its utility functions.
enum class ExportFamily { kSimple, kExtended };
std::string_view to_string(ExportFamily family);

//! One required entry point: found under its plain name or its stdcall-decorated
//! `name@x86_arg_bytes` (providers are not consistent about which they export; the decorated form
//! appears on every architecture, see mapi32-exports.tsv).
struct RequiredExport {
  std::string_view name;
  uint16_t x86_arg_bytes;
};

//! The minimal set a provider of `family` must export for the stub to bind to it:
//! - Simple: MAPILogon, MAPILogoff, MAPISendMail (the session and the call every client makes),
//!   and MAPIFreeBuffer, because buffers Simple MAPI returns (MAPIReadMail, MAPIAddress,
//!   MAPIResolveName, MAPIDetails) must be freed by the provider that allocated them.
//! - Extended: MAPIInitialize, MAPIUninitialize, MAPILogonEx, MAPIAllocateBuffer, MAPIFreeBuffer:
//!   the lifetime and session entry points and the allocator every Extended client uses.
//! Argument sizes are the x86_arg_bytes column of mapi32-exports.tsv.
std::span<const RequiredExport> required_exports(ExportFamily family);

//! The required exports of `family` that `info` lacks (empty: it has them all).
std::vector<std::string_view> missing_exports(const PeInfo& info, ExportFamily family);

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_PE_IMAGE_H_
