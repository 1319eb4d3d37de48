// Copyright MapiDispatch authors.
//
//! \file
//! Which registry reads an answer came from, so that a later change can be judged by whether it
//! changes any of them. Portable.
//!
//! Why: `RegNotifyChangeKeyValue` on a subtree says that something below the key changed, never
//! what. After a write under `HKLM\Software\Clients\Mail`, the service must re-resolve every user
//! scope whose answer can depend on it (issue #12 item 1), and on a farm most users' answers do
//! not: a user's own default names one client, whose key the resolver reads under HKCU and then
//! HKLM. Re-resolving them all cost the whole farm's work for every machine-wide write.
//!
//! So the service resolves each user scope through a RecordingRegistry, which keeps every read
//! below one root (HKLM) with what it gave: a key opened or not, a value's type and bytes, a key's
//! subkey or value names. The reads are deterministic functions of the registry, and the resolver
//! is a deterministic function of its reads (and of files and Windows Installer, which the
//! service's revalidation and refresh check, as before). So after an HKLM notification a
//! RegReadLedger does each distinct read of all scopes once more: a scope whose reads all give
//! what they gave has the answer it had, as far as HKLM goes; the others are re-resolved.

#ifndef MAPIDISPATCH_REGISTRY_READS_H_
#define MAPIDISPATCH_REGISTRY_READS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "mapidispatch/registry.h"

namespace mapidispatch {

//! One registry read and what it gave.
struct RegRead {
  enum class Op : uint8_t {
    kOpen,     //!< Opening `path` (the result: `error` only).
    kValue,    //!< Reading value `name` of `path`.
    kSubkeys,  //!< Listing at most `limit` subkey names of `path`.
    kValues,   //!< Listing at most `limit` value names of `path`.
  };
  // The read.
  Op op = Op::kOpen;
  RegRoot root = RegRoot::kLocalMachine;
  RegView view = RegView::kDefault;
  std::u16string path;  //!< Below the root, as given (a key opened below another: both joined).
  std::u16string name;  //!< kValue only.
  size_t limit = 0;     //!< kSubkeys, kValues only.
  // What it gave.
  std::error_code error;
  RegValue value;                     //!< kValue, when `error` is none.
  std::vector<std::u16string> names;  //!< kSubkeys, kValues, when `error` is none.
  bool truncated = false;             //!< kSubkeys, kValues.

  bool operator==(const RegRead&) const = default;
};

//! A Registry that passes every call to `inner` and appends each read below `root` (opening a
//! key, reading a value, listing names) to `*log`, with its result. Reads below other roots pass
//! through unrecorded. The keys it opens record their own reads the same way. `inner` and `log`
//! must outlive it and every key it opened.
class RecordingRegistry final : public Registry {
 public:
  RecordingRegistry(const Registry& inner, RegRoot root, std::vector<RegRead>* log);
  std::error_code open(RegRoot root, std::u16string_view path, RegView view,
                       std::unique_ptr<RegistryKey>* out) const override;

 private:
  const Registry& inner_;
  RegRoot root_;
  std::vector<RegRead>* log_;
};

//! Reads below one root, each done once and then answered from memory: what a user scope's two
//! resolutions (native and 32-bit processes) share. 64-bit Windows redirects nothing of a
//! user's hive that the resolver reads (it reads those keys in the 64-bit view for both, see
//! view_of in resolver.cpp), so the 32-bit resolution's user reads are the native one's, and
//! under Wine each costs a registry server request or several. Not thread-safe; one per user
//! and pass (a change made between the two resolutions is the next notification's).
class RegReadCache {
 public:
  explicit RegReadCache(RegRoot root) : root_(root) {}
  RegRoot root() const { return root_; }
  //! Distinct reads done through the cache so far, and reads answered from memory.
  size_t reads() const { return reads_.size(); }
  size_t hits() const { return hits_; }

 private:
  friend class CachingRegistry;
  friend class CachingKey;
  RegRoot root_;
  std::unordered_map<std::string, RegRead> reads_;  // identity (views made canonical) -> read and result
  size_t hits_ = 0;
};

//! A Registry that answers each read below cache->root() from `*cache` when the same read (same
//! operation, path, name, limit and effective view: kDefault is this process's own view) was
//! done through it before, else from `inner`, recording it. Keys it opens open their inner key
//! only when a read misses. Reads below other roots pass through. `inner` and `cache` must
//! outlive it and every key it opened.
class CachingRegistry final : public Registry {
 public:
  CachingRegistry(const Registry& inner, RegReadCache* cache) : inner_(inner), cache_(cache) {}
  std::error_code open(RegRoot root, std::u16string_view path, RegView view,
                       std::unique_ptr<RegistryKey>* out) const override;

 private:
  const Registry& inner_;
  RegReadCache* cache_;
};

//! `read` done again through `registry`: the same read, with what it gives now (compare the two
//! with ==). Never throws but std::bad_alloc.
RegRead replay(const Registry& registry, const RegRead& read);

//! The recorded reads of many scopes (a user SID each, say), each distinct read-and-result kept
//! once: on a farm a thousand users read the same few HKLM keys. Not thread-safe.
class RegReadLedger {
 public:
  //! Replaces what `scope` read.
  void set(const std::u16string& scope, const std::vector<RegRead>& reads);
  void erase(const std::u16string& scope);
  //! Forgets every scope, and the reads they held.
  void clear();

  //! Does each distinct read once more through `registry` and returns the scopes (sorted) with at
  //! least one read that gives another answer now. `*reads_done`, if given: how many reads that took.
  std::vector<std::u16string> changed_scopes(const Registry& registry, size_t* reads_done = nullptr) const;

  size_t scope_count() const { return scopes_.size(); }
  //! Distinct reads kept (with their results), including those no scope holds any more until
  //! the next clear().
  size_t distinct_reads() const { return reads_.size(); }

 private:
  std::vector<RegRead> reads_;                              // interned
  std::unordered_map<std::string, uint32_t> index_;         // serialised read and result -> id
  std::map<std::u16string, std::vector<uint32_t>> scopes_;  // scope -> sorted ids
};

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_REGISTRY_READS_H_
