// Copyright MapiDispatch authors.
//
//! \file
//! The byte layout of the dispatch table: the contract between the one privileged writer (the
//! MapiDispatch service) and every process that loads the stub.
//!
//! Rules of this layout, which every change must keep:
//! - Fixed-width little-endian fields, offsets (from the start of the section) instead of
//!   pointers, explicit padding. The same bytes mean the same thing to x86, x64 and ARM64
//!   processes; the `static_assert`s at the bottom pin every size and offset.
//! - Every offset and size is a multiple of 4, so the reader can copy the table out in 32-bit
//!   words (see seqlock.h).
//! - `abi_major` changes only for an incompatible change: a reader that does not know the major
//!   version refuses the table. Additions bump `abi_minor`, go into reserved space or after the
//!   end of a structure whose size is recorded (`header_size`, `ScopeRecord::fixed_size`,
//!   `ScopeRecord::override_stride`), and readers ignore what they do not know.
//! - Integrity is two-level: the header's `checksum` covers the rest of the header and the scope
//!   directory; each directory entry carries the checksum of its scope record. A reader verifies
//!   the directory, then every record it uses, before it uses anything. The WOW64 directory has
//!   its own checksum in the header (so a 1.0 reader, which does not know that directory, still
//!   verifies the header checksum it knows).
//!
//! Two views (ABI 1.1). A 32-bit process on 64-bit Windows (WOW64) does not see what a 64-bit
//! process sees: HKLM\SOFTWARE\Microsoft\Windows Messaging Subsystem (MSMapiApps) is redirected
//! to Wow6432Node, System32 means SysWOW64 (mapi32x.dll, provider paths there), and
//! %ProgramFiles% is "Program Files (x86)". The writer resolves both and publishes the 32-bit
//! answers in a second directory. The main directory answers the writer's native view (64-bit
//! processes; every process on 32-bit Windows). A 32-bit reader under WOW64 uses the WOW64
//! directory only; if the table has none (a 1.0 writer), it does not use the table.
//!
//! Incomplete tables (ABI 1.2). When the answers do not all fit the section, the writer still
//! publishes: the machine scope of each view and, in directory order, every user scope that fits;
//! a user is kept or left out in both views alike (its SID), so no view answers a user the other
//! has dropped. The header is flagged kFlagIncomplete and counts the user scopes left out per
//! view (omitted_scope_count, wow64_omitted_scope_count). A 1.2 reader whose user's SID is not in
//! its view's directory of such a table does not use the machine scope for it (the user may have
//! settings of its own that did not fit): it resolves from the registry, as for a table it cannot
//! use (TableError::kUserNotInTable). A user that is in the directory, and a read for no user
//! (an unknown SID), use the table as always.
//!
//! What an older (1.0 or 1.1) reader does with such a table: it ignores the unknown flag and the
//! counts (they were reserved), and answers a left-out user with the machine scope, the answer it
//! gives a user without settings of their own. Accepted, not prevented, because: (1) preventing
//! it takes an incompatible change (a new major version, or a flag old readers do know such as
//! kFlagWriterStopped) that would send every old reader to the registry for every user, also for
//! complete tables; (2) older stubs live only in processes started before the package that brings
//! this writer was installed (stub and service ship together, and a process keeps the mapi32.dll
//! it loaded), and only their left-out users are affected; (3) before 1.2 the same table was not
//! published at all, and those readers kept an ever staler table in which every user who came or
//! changed since was answered with its machine scope or an old answer: the incomplete table is
//! never worse for them.
//!
//! Section layout:
//! \code
//!   [0, header_size)                         TableHeader
//!   [directory_offset, + 16 * scope_count)   ScopeDirEntry[scope_count], machine scope first,
//!                                            then user scopes sorted by (sid_hash, SID)
//!   [wow64_directory_offset,                 (ABI 1.1, when wow64_scope_count > 0) the same
//!    + 16 * wow64_scope_count)               for 32-bit processes on 64-bit Windows
//!   [.., payload_end)                        ScopeRecord blobs, each with its strings and
//!                                            override records
//!   [payload_end, total_size)                unused
//! \endcode

#ifndef MAPIDISPATCH_TABLE_LAYOUT_H_
#define MAPIDISPATCH_TABLE_LAYOUT_H_

#include <cstddef>
#include <cstdint>

namespace mapidispatch::layout {

//! "MDTB" in memory order.
inline constexpr uint32_t kMagic = 0x4254444Du;
inline constexpr uint16_t kAbiMajor = 1;
//! 1: the WOW64 directory (TableHeader::wow64_*).
//! 2: incomplete tables (kFlagIncomplete, TableHeader::omitted_scope_count and
//!    wow64_omitted_scope_count).
inline constexpr uint16_t kAbiMinor = 2;

//! Longest string the table carries, in UTF-16 code units: the longest Win32 path (32,767
//! characters). A longer string in a table is invalid.
inline constexpr uint32_t kMaxStringUnits = 32767;
//! Most scopes (the machine plus user SIDs) a table may list.
inline constexpr uint32_t kMaxScopes = 65536;
//! Most MSMapiApps overrides one scope may carry.
inline constexpr uint32_t kMaxOverrides = 4096;
//! Largest table section: 256 MiB. Protects readers from huge copy-outs of garbage sizes.
inline constexpr uint32_t kMaxTotalSize = 256u * 1024 * 1024;

//! TableHeader::flags bits.
enum HeaderFlags : uint32_t {
  //! The writer has stopped (service stop or shutdown): nobody keeps this table true any more.
  //! Readers must not trust it and fall back to reading the registry.
  kFlagWriterStopped = 1u << 0,
  //! ABI 1.2. Some user scopes did not fit the section and were left out (the header counts
  //! them). A reader whose user's SID is not in its view's directory must not use the machine
  //! scope for it: it reads the registry. See "Incomplete tables" above. A 1.2 reader refuses a
  //! table that counts left-out scopes without this flag (it would answer them with the machine
  //! scope); the flag without counts only sends readers to the registry, and is accepted.
  kFlagIncomplete = 1u << 1,
};

//! At offset 0 of the section.
struct TableHeader {
  uint32_t magic;             //!< kMagic.
  uint16_t abi_major;         //!< kAbiMajor; readers refuse another major version.
  uint16_t abi_minor;         //!< Readers accept any minor version.
  uint32_t header_size;       //!< Bytes of header the writer wrote; >= sizeof(TableHeader).
  uint32_t total_size;        //!< Size of the section as created; <= the reader's mapping size.
  //! Seqlock count. Odd while a write is in progress. Accessed only through seqlock.h, never
  //! as a plain field. 32 bits so that every reader, 32-bit ones included, loads it with one
  //! plain aligned load from a read-only page.
  uint32_t sequence;
  //! CRC-32C over header bytes [kChecksumStart, header_size) and then the scope directory.
  uint32_t checksum;
  uint32_t flags;             //!< HeaderFlags; unknown bits are ignored.
  uint32_t reserved0;         //!< Zero.
  //! Grows by at least one with every publish that changes the payload, also across service
  //! restarts. Readers compare generations to tell "same answers" from "new answers".
  uint64_t generation;
  uint64_t publish_time;      //!< FILETIME units (100 ns since 1601-01-01 UTC) of the publish.
  uint32_t writer_pid;        //!< Process id of the writer that published.
  uint32_t scope_count;       //!< Entries in the scope directory; <= kMaxScopes.
  uint32_t directory_offset;  //!< From the section start.
  uint32_t payload_end;       //!< End of the last record, from the section start.
  //! ABI 1.1: entries in the WOW64 directory (answers for 32-bit processes on 64-bit Windows);
  //! 0 = the table has none. <= kMaxScopes. Zero in a 1.0 table (it was reserved).
  uint32_t wow64_scope_count;
  uint32_t wow64_directory_offset;    //!< From the section start; 0 when wow64_scope_count is 0.
  uint32_t wow64_directory_checksum;  //!< CRC-32C over the WOW64 directory's entries.
  uint32_t reserved1;                 //!< Zero.
  //! ABI 1.2: user scopes of the main directory's view left out because they did not fit
  //! (kFlagIncomplete); <= kMaxScopes. Zero in a complete table and in 1.0 and 1.1 tables (it was
  //! reserved); readers of those versions ignore it.
  uint32_t omitted_scope_count;
  uint32_t wow64_omitted_scope_count;  //!< ABI 1.2: the same for the WOW64 directory's view.
  uint8_t reserved[40];       //!< Zero; room to grow.
};

//! The header's checksum covers its bytes from here on (everything but the identification,
//! sizes, the sequence count and the checksum itself).
inline constexpr uint32_t kChecksumStart = 24;

//! One entry of the scope directory.
struct ScopeDirEntry {
  uint32_t record_offset;    //!< From the section start.
  uint32_t record_size;      //!< Bytes; >= ScopeRecord's fixed part.
  uint32_t record_checksum;  //!< CRC-32C over the record's bytes.
  uint32_t sid_hash;         //!< sid_hash() of the scope's SID; 0 for the machine scope.
};

//! A string inside a record: UTF-16LE code units, no terminator stored.
struct StringRef {
  uint32_t offset;  //!< From the start of the containing ScopeRecord; 0 with length 0 = empty.
  uint32_t length;  //!< In UTF-16 code units; <= kMaxStringUnits.
};

//! A resolved provider DLL for one MAPI family (Simple or Extended), or why there is none.
struct TargetRecord {
  uint32_t status;   //!< model.h TargetStatus; unknown values mean "not usable".
  uint16_t machine;  //!< PE machine type of the file (model.h PeMachine); 0 if unknown.
  uint16_t source;   //!< model.h ValueSource: which registry data named the path.
  StringRef path;    //!< Full path of the DLL.
  StringRef client;  //!< Name of the Clients\Mail subkey that named it.
  StringRef reason;  //!< Human-readable explanation, for logs and the admin commands.
};

//! ScopeRecord::flags bits.
enum ScopeFlags : uint32_t {
  kScopeSupportsUtf8 = 1u << 0,  //!< The default client sets SupportUTF8.
};

//! One scope: the machine (HKLM), or a user SID with its own HKCU settings.
struct ScopeRecord {
  uint32_t fixed_size;     //!< Bytes of this fixed part the writer wrote; >= sizeof(ScopeRecord).
  uint32_t kind;           //!< model.h ScopeKind.
  uint32_t flags;          //!< ScopeFlags; unknown bits are ignored.
  uint32_t default_source; //!< model.h ValueSource of the default client name.
  StringRef sid;           //!< Empty for the machine scope.
  StringRef default_client;
  StringRef prefirstrun_message;
  StringRef prefirstrun_caption;
  TargetRecord simple;     //!< DLLPath provider (Simple MAPI).
  TargetRecord extended;   //!< DLLPathEx provider (Extended MAPI and utility functions).
  TargetRecord mapi32x;    //!< The mapi32x.dll fallback.
  uint32_t override_count;   //!< MSMapiApps overrides; <= kMaxOverrides.
  uint32_t override_offset;  //!< From the start of this record.
  uint32_t override_stride;  //!< Bytes per override; >= sizeof(OverrideRecord).
  uint32_t reserved;         //!< Zero.
};

//! OverrideRecord::flags bits.
enum OverrideFlags : uint32_t {
  kOverrideUsesMapi32x = 1u << 0,   //!< Empty MSMapiApps data: use mapi32x.dll.
  kOverrideSupportsUtf8 = 1u << 1,  //!< The override's client sets SupportUTF8.
};

//! One MSMapiApps value: a module name and what processes that load it use.
struct OverrideRecord {
  StringRef module;      //!< EXE or DLL file name, e.g. "SearchProtocolHost.exe".
  StringRef client;      //!< Clients\Mail subkey name; empty with kOverrideUsesMapi32x.
  uint32_t flags;        //!< OverrideFlags.
  uint32_t reserved;     //!< Zero.
  TargetRecord simple;
  TargetRecord extended;
};

// The layout is identical for 32-bit and 64-bit processes: pin every size and offset.
static_assert(sizeof(TableHeader) == 128);
static_assert(offsetof(TableHeader, magic) == 0);
static_assert(offsetof(TableHeader, abi_major) == 4);
static_assert(offsetof(TableHeader, abi_minor) == 6);
static_assert(offsetof(TableHeader, header_size) == 8);
static_assert(offsetof(TableHeader, total_size) == 12);
static_assert(offsetof(TableHeader, sequence) == 16);
static_assert(offsetof(TableHeader, checksum) == 20);
static_assert(offsetof(TableHeader, flags) == kChecksumStart);
static_assert(offsetof(TableHeader, reserved0) == 28);
static_assert(offsetof(TableHeader, generation) == 32);
static_assert(offsetof(TableHeader, publish_time) == 40);
static_assert(offsetof(TableHeader, writer_pid) == 48);
static_assert(offsetof(TableHeader, scope_count) == 52);
static_assert(offsetof(TableHeader, directory_offset) == 56);
static_assert(offsetof(TableHeader, payload_end) == 60);
static_assert(offsetof(TableHeader, wow64_scope_count) == 64);
static_assert(offsetof(TableHeader, wow64_directory_offset) == 68);
static_assert(offsetof(TableHeader, wow64_directory_checksum) == 72);
static_assert(offsetof(TableHeader, reserved1) == 76);
static_assert(offsetof(TableHeader, omitted_scope_count) == 80);
static_assert(offsetof(TableHeader, wow64_omitted_scope_count) == 84);
static_assert(offsetof(TableHeader, reserved) == 88);

static_assert(sizeof(ScopeDirEntry) == 16);
static_assert(offsetof(ScopeDirEntry, record_checksum) == 8);
static_assert(offsetof(ScopeDirEntry, sid_hash) == 12);

static_assert(sizeof(StringRef) == 8);
static_assert(sizeof(TargetRecord) == 32);
static_assert(offsetof(TargetRecord, machine) == 4);
static_assert(offsetof(TargetRecord, source) == 6);
static_assert(offsetof(TargetRecord, path) == 8);
static_assert(offsetof(TargetRecord, client) == 16);
static_assert(offsetof(TargetRecord, reason) == 24);

static_assert(sizeof(ScopeRecord) == 160);
static_assert(offsetof(ScopeRecord, sid) == 16);
static_assert(offsetof(ScopeRecord, default_client) == 24);
static_assert(offsetof(ScopeRecord, prefirstrun_message) == 32);
static_assert(offsetof(ScopeRecord, prefirstrun_caption) == 40);
static_assert(offsetof(ScopeRecord, simple) == 48);
static_assert(offsetof(ScopeRecord, extended) == 80);
static_assert(offsetof(ScopeRecord, mapi32x) == 112);
static_assert(offsetof(ScopeRecord, override_count) == 144);
static_assert(offsetof(ScopeRecord, override_offset) == 148);
static_assert(offsetof(ScopeRecord, override_stride) == 152);

static_assert(sizeof(OverrideRecord) == 88);
static_assert(offsetof(OverrideRecord, flags) == 16);
static_assert(offsetof(OverrideRecord, simple) == 24);
static_assert(offsetof(OverrideRecord, extended) == 56);

}  // namespace mapidispatch::layout

#endif  // MAPIDISPATCH_TABLE_LAYOUT_H_
