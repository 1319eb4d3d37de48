// Copyright MapiDispatch authors.
//
//! \file
//! Writing and reading the dispatch table in a memory region (table_layout.h has the bytes,
//! seqlock.h the concurrency protocol, shared_section.h the named shared memory).
//!
//! TableWriter is for the service only: one per section, enforced by the section's writer lock.
//! TableReader is for everybody else: it never writes to the region, never blocks, never trusts
//! a byte it has not validated, and gives up after a bounded number of attempts.

#ifndef MAPIDISPATCH_TABLE_H_
#define MAPIDISPATCH_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "mapidispatch/model.h"
#include "mapidispatch/seqlock.h"

namespace mapidispatch {

//! Why a table operation did not succeed. Part of the error_code vocabulary (table_category()).
enum class TableError {
  kOk = 0,
  kBusy,             //!< A write was in progress on every attempt; fall back, try again later.
  kWriterStopped,    //!< The writer flagged the table "stopped": do not trust it.
  kNotInitialized,   //!< No table has been published in the section yet.
  kBadMagic,
  kBadAbi,           //!< A major ABI version this reader does not know.
  kBadHeader,        //!< header_size, total_size or another header field out of bounds.
  kBadDirectory,     //!< Directory offset, size or ordering out of bounds.
  kBadChecksum,      //!< Header/directory or record bytes do not match their checksum.
  kBadRecord,        //!< A scope record's fields, strings or overrides out of bounds.
  kNoMachineScope,   //!< The directory does not start with the machine scope.
  kRegionTooSmall,   //!< The mapping cannot hold a header.
  kTooLarge,         //!< A publish does not fit the section, or breaks a layout limit.
  kOutOfMemory,      //!< A private copy could not be allocated.
  kWriterExists,     //!< Another writer holds the section.
  kUntrusted,        //!< The section's owner or DACL is not the service's (see section_security.h).
  //! A WOW64 read of a table without answers for 32-bit processes (a 1.0 writer, or a writer
  //! on 32-bit Windows): the caller resolves from the registry itself.
  kNoWow64View,
  //! A read for a user of a table flagged incomplete (table_layout.h, "Incomplete tables") whose
  //! view has no scope for that SID: the user's settings may be among those that did not fit, so
  //! the machine scope is not its answer; the caller resolves from the registry itself. The
  //! snapshot is filled (machine scope, info), for diagnostics.
  kUserNotInTable,
};

//! Which answers a read wants (table_layout.h, "Two views").
enum class TableView {
  kNative,  //!< The writer's native view: 64-bit processes; every process on 32-bit Windows.
  kWow64,   //!< 32-bit processes on 64-bit Windows.
};
std::string_view to_string(TableView view);

const std::error_category& table_category() noexcept;
std::error_code make_error_code(TableError e) noexcept;

//! Header facts of one consistent read.
struct TableInfo {
  uint32_t sequence = 0;
  uint64_t generation = 0;
  uint64_t publish_time = 0;  //!< FILETIME units (100 ns since 1601-01-01 UTC).
  uint32_t writer_pid = 0;
  uint32_t flags = 0;
  uint16_t abi_minor = 0;
  uint32_t scope_count = 0;
  uint32_t wow64_scope_count = 0;  //!< 0: the table has no answers for 32-bit processes.
  //! User scopes left out because they did not fit (flags has kFlagIncomplete), per view; 0 in a
  //! complete table and in tables before ABI 1.2.
  uint32_t omitted_scope_count = 0;
  uint32_t wow64_omitted_scope_count = 0;
  TableView view = TableView::kNative;  //!< The view the snapshot's scopes are of.
  uint32_t payload_end = 0;   //!< Bytes of the section in use.
  uint32_t total_size = 0;
};

//! What a reader copied out of the table, validated.
struct TableSnapshot {
  TableInfo info;
  ScopeResolution machine;
  std::optional<ScopeResolution> user;  //!< read(): the asked-for SID's scope, if it has one.
  std::vector<ScopeResolution> users;   //!< read_all(): every user scope, in directory order.
};

//! Bounds on a read. A reader never spins longer than max_attempts * spins_per_attempt pauses.
struct ReadLimits {
  int max_attempts = 16;
  int spins_per_attempt = 256;
};

//! Now, in FILETIME units, for TableHeader::publish_time.
uint64_t filetime_now() noexcept;

//! What a publish does when the user scopes do not all fit the section (or exceed kMaxScopes),
//! and with a user scope that breaks a layout limit (a string longer than kMaxStringUnits, more
//! than kMaxOverrides overrides).
enum class TableOverflow {
  kRefuse,   //!< Nothing is published: kTooLarge (the previous table stays).
  //! The machine scopes and every user scope that fits, in directory order, a user kept or left
  //! out in both views alike; the table flagged incomplete (table_layout.h, "Incomplete tables").
  //! kTooLarge only if the machine scopes themselves do not fit or break a limit.
  kPartial,
};

//! How a publish's user scopes fitted: given and left out, per view.
struct TableFit {
  uint32_t user_scopes = 0;        //!< User scopes given for the main view.
  uint32_t omitted = 0;            //!< Of them, left out.
  uint32_t wow64_user_scopes = 0;  //!< User scopes given for the WOW64 view.
  uint32_t wow64_omitted = 0;      //!< Of them, left out.
  bool complete() const noexcept { return omitted == 0 && wow64_omitted == 0; }
  bool operator==(const TableFit&) const = default;
};

namespace detail {
//! The SIDs of the previous publish, by position, with their sid_hash: a publish of one user's
//! change takes the other users' hashes from here instead of computing them again.
struct SidHashMemo {
  std::vector<char16_t> units;  //!< every SID, one after the other
  std::vector<size_t> end;      //!< SID i is units[end[i], end[i + 1])
  std::vector<uint32_t> hash;   //!< SID i's hash (0: the machine scope, none)
  //! The hash of `sid` if it was SID i last time, else 0.
  uint32_t known(size_t i, std::u16string_view sid) const noexcept;
  void remember(std::span<const ScopeResolution> scopes, const std::vector<uint32_t>& hashes);
};

//! Where a build put one view's records: what a publish of a TableDelta rewrites in place.
struct ViewPlacement {
  uint32_t directory_offset = 0;
  std::vector<uint32_t> input;     //!< directory index -> the scope's position in the build's span
  std::vector<uint32_t> capacity;  //!< directory index -> bytes of the record's slot
};

//! What a build remembers for the next one: the SIDs' hashes, and each view's placement.
struct BuildMemo {
  SidHashMemo sids;
  ViewPlacement views[2];  //!< the main view, the WOW64 view (empty: none)
};
}  // namespace detail

//! What changed since the last successful publish, for TableWriter::publish(): the machine scope
//! (of either view) and the users named. The caller promises that the spans list the same SIDs in
//! the same order as that publish did, and that every scope not named here equals the one it
//! published. A delta costs in proportion to the scopes it names, not to the table: on a farm of
//! a thousand users, one user's change no longer reads and rewrites the other 999 (issue #12).
struct TableDelta {
  bool machine = false;
  std::span<const std::u16string> users;
};

//! The service's side. Not thread-safe; one thread publishes.
class TableWriter {
 public:
  //! Takes over `region` (the whole mapping, 4-aligned). If it holds a table of this ABI major
  //! version, from a writer that stopped or died, its generation is continued; an odd count left
  //! by a writer that died mid-publish is completed, with the table flagged "writer stopped"
  //! until this writer's first publish. Generations published are above `min_generation` too
  //! (the service persists the last one, for when the section itself was gone).
  TableWriter(std::span<std::byte> region, uint32_t writer_pid, uint64_t min_generation) noexcept;

  //! Publishes a new table: generation + 1, writer-stopped flag cleared. `wow64_scopes`: the
  //! answers for 32-bit processes on 64-bit Windows (machine scope first, like `scopes`), or
  //! empty for none. kTooLarge if it does not fit the region or breaks a limit of
  //! table_layout.h (with kPartial: if the machine scopes do not); the previous table then stays.
  //! last_fit() says what a successful publish left out.
  //!
  //! `delta` (optional): what changed since the last successful publish (TableDelta's promise).
  //! The named scopes' records are rewritten in their slots, or after the last record when they
  //! grew; the rest of the image is the last one's. Readers see the same answers a full build
  //! gives; only where the records lie differs. The whole image is built as without a delta when
  //! a delta cannot be applied: nothing published yet by this writer, the last table incomplete,
  //! another number of scopes, a named SID not in the table, no room after the last record, or
  //! slots left behind grown to a quarter of the payload (the full build packs them again).
  //! Either way the whole image is copied into the region, so a publish still repairs a region
  //! that something else wrote into.
  std::error_code publish(std::span<const ScopeResolution> scopes,
                          std::span<const ScopeResolution> wow64_scopes = {},
                          TableOverflow overflow = TableOverflow::kRefuse, const TableDelta* delta = nullptr);

  //! Flags the current table "writer stopped" (service stop): readers stop trusting it.
  std::error_code mark_stopped() noexcept;

  //! The generation of the last publish (or the continued one before the first).
  uint64_t generation() const noexcept { return generation_; }
  //! Bytes the last publish used.
  size_t payload_bytes() const noexcept { return payload_bytes_; }
  //! The user scopes the last successful publish was given and left out.
  const TableFit& last_fit() const noexcept { return fit_; }
  //! What the constructor found in the region.
  bool recovered_odd_count() const noexcept { return recovered_odd_; }
  uint64_t recovered_generation() const noexcept { return recovered_generation_; }
  //! Publishes that applied a delta, and that built the whole image (tests and statistics).
  uint64_t delta_publishes() const noexcept { return delta_publishes_; }
  uint64_t full_builds() const noexcept { return full_builds_; }

 private:
  void write_image_locked() noexcept;
  //! Applies `delta` to image_ for generation `generation`; false, image_ untouched, where it
  //! cannot (publish() says when).
  bool apply_delta(std::span<const ScopeResolution> scopes, std::span<const ScopeResolution> wow64_scopes,
                   const TableDelta& delta, uint64_t generation, size_t limit);

  std::span<std::byte> region_;
  uint32_t writer_pid_;
  uint64_t generation_ = 0;
  bool recovered_odd_ = false;
  uint64_t recovered_generation_ = 0;
  //! The last published [0, payload_end), a private copy, while image_valid_; also the buffer the
  //! next publish builds into. One copy: a second, kept for its memory, was 1.4 MB of working set
  //! on a farm of 1,000 users (issue #12), and building into this one faults in nothing new.
  std::vector<std::byte> image_;
  bool image_valid_ = false;
  size_t payload_bytes_ = 0;
  detail::BuildMemo memo_;
  size_t slack_ = 0;  //!< bytes of image_ in slots no record uses any more (moved to the end)
  TableFit fit_;
  uint64_t delta_publishes_ = 0;
  uint64_t full_builds_ = 0;
};

//! Serializes scopes into a complete table image (header, directories, records) of the given
//! generation, checksums sealed and the sequence count 0. For the writer, tests and fuzz seeds.
//! `wow64_scopes` empty: no WOW64 directory. `overflow`: what to do with user scopes that do not
//! fit `total_size`; `fit` (optional) receives what was given and left out.
std::error_code build_table_image(std::span<const ScopeResolution> scopes, uint64_t generation,
                                  uint64_t publish_time, uint32_t writer_pid, uint32_t total_size,
                                  std::vector<std::byte>* image,
                                  std::span<const ScopeResolution> wow64_scopes = {},
                                  TableOverflow overflow = TableOverflow::kRefuse, TableFit* fit = nullptr);

//! build_table_image(), taking the hashes of SIDs it was given last time from `memo` and
//! remembering this time's, and where it put each record; the same image.
std::error_code build_table_image_with(std::span<const ScopeResolution> scopes, uint64_t generation,
                                       uint64_t publish_time, uint32_t writer_pid, uint32_t total_size,
                                       std::vector<std::byte>* image, std::span<const ScopeResolution> wow64_scopes,
                                       TableOverflow overflow, TableFit* fit, detail::BuildMemo* memo);

//! Recomputes the header checksum of an image after its header or directory was edited (tests
//! and the fuzz harness use it to reach validation beyond the checksum).
void reseal_table_image(std::span<std::byte> image) noexcept;

//! Everybody else's side. Thread-safe: it only loads from the region.
class TableReader {
 public:
  //! `region`: the read-only mapping, 4-aligned, its whole size (the table's total_size may be
  //! smaller, never larger).
  explicit TableReader(std::span<const std::byte> region) noexcept : region_(region) {}

  //! The fast path: one acquire load. Equal to a sequence a read returned means nothing was
  //! published since, so the answers copied out then still hold. Inline: the stub calls it on
  //! every MAPI call.
  uint32_t sequence() const noexcept {
    if (region_.size() < kHeaderBytes) return 1;  // odd: never "unchanged and valid"
    // Acquire: see seqlock::read_begin(). Offset 16 is TableHeader::sequence.
    return seqlock::read_begin(reinterpret_cast<const uint32_t*>(region_.data() + 16));
  }

  //! Copies out the machine scope and, if the table has one, the scope of user `sid`, of `view`.
  //! kOk or kWriterStopped (snapshot filled: the table is consistent but nobody keeps it), or
  //! kUserNotInTable (snapshot filled: the table is incomplete and `sid` is not in it; `sid`
  //! empty never gives it), or an error (snapshot unspecified; kNoWow64View for a kWow64 read of
  //! a table without that view). Never throws; never loops beyond `limits`.
  TableError read(std::u16string_view sid, TableSnapshot* out, const ReadLimits& limits = {},
                  TableView view = TableView::kNative) const noexcept;

  //! Copies out every scope of `view` (for `mapidispatch status`).
  TableError read_all(TableSnapshot* out, const ReadLimits& limits = {},
                      TableView view = TableView::kNative) const noexcept;

 private:
  static constexpr size_t kHeaderBytes = 128;  // sizeof(layout::TableHeader)
  enum class Want { kOneUser, kAll };
  TableError read_impl(Want want, std::u16string_view sid, TableSnapshot* out, const ReadLimits& limits,
                       TableView view) const;

  std::span<const std::byte> region_;
};

}  // namespace mapidispatch

template <>
struct std::is_error_code_enum<mapidispatch::TableError> : std::true_type {};

#endif  // MAPIDISPATCH_TABLE_H_
