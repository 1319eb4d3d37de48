// Copyright MapiDispatch authors.
//
//! \file
//! A read-only view of the Windows registry, as the resolver needs it: open a key, read a value
//! with its type, enumerate subkeys and values, in the 64- or 32-bit registry view. Two
//! implementations: win32/registry_win.h (RegOpenKeyExW and friends) and MemoryRegistry below,
//! which reg_file.h fills from a `.reg` export. Portable.
//!
//! Values are handed over as stored: raw bytes and the raw type number, so hostile data
//! (unterminated strings, embedded NULs, odd lengths, wrong types) reaches the resolver intact and
//! the decode_* helpers give it a defined meaning.
//!
//! Errors are std::error_code: the Win32 implementation returns Win32 codes in
//! std::system_category(); portable code tests for "does not exist" with is_not_found(), which
//! understands both.

#ifndef MAPIDISPATCH_REGISTRY_H_
#define MAPIDISPATCH_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace mapidispatch {

//! Registry value types (winnt.h REG_*). A value's type is any DWORD; these are the ones named.
namespace reg_type {
inline constexpr uint32_t kNone = 0;
inline constexpr uint32_t kSz = 1;
inline constexpr uint32_t kExpandSz = 2;
inline constexpr uint32_t kBinary = 3;
inline constexpr uint32_t kDword = 4;
inline constexpr uint32_t kDwordBigEndian = 5;
inline constexpr uint32_t kLink = 6;
inline constexpr uint32_t kMultiSz = 7;
inline constexpr uint32_t kQword = 11;
}  // namespace reg_type

//! "REG_SZ", "REG_EXPAND_SZ", ... or "type 0x1234" for unnamed types.
std::string reg_type_name(uint32_t type);

//! Limits the registry itself has (and the in-memory one enforces).
inline constexpr size_t kMaxKeyNameChars = 255;     //!< One path component.
inline constexpr size_t kMaxValueNameChars = 16383;
inline constexpr size_t kMaxKeyDepth = 512;         //!< Components below a root.
//! The largest value this code reads. Far above anything Clients\Mail holds (a 32,767-character
//! path is 64 KiB); a larger value is an error (RegistryError::kTooLarge), not a truncation.
inline constexpr size_t kMaxValueBytes = 1024 * 1024;

//! The predefined keys the resolver reads from.
enum class RegRoot { kLocalMachine, kCurrentUser, kUsers };
//! "HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER", "HKEY_USERS".
std::u16string_view root_name(RegRoot root);

//! Which WOW64 registry view a key is opened in (KEY_WOW64_64KEY / KEY_WOW64_32KEY).
//! kDefault is the view of the calling process (64-bit for MemoryRegistry).
enum class RegView { kDefault, k64, k32 };
std::string_view to_string(RegView view);

//! A key below a root: what "HKCU" is for a scope (HKEY_CURRENT_USER, or HKEY_USERS\<SID> when
//! the service resolves another user), or HKLM itself.
struct HivePath {
  RegRoot root = RegRoot::kLocalMachine;
  std::u16string prefix;  //!< Path below the root, no leading or trailing '\'; may be empty.
  //! "HKEY_USERS\S-1-5-21-..." etc., for explanations.
  std::u16string display() const;
  //! prefix + '\' + path (either may be empty).
  std::u16string join(std::u16string_view path) const;
};

//! One value as stored.
struct RegValue {
  uint32_t type = reg_type::kNone;
  std::vector<uint8_t> data;

  bool operator==(const RegValue&) const = default;
};

//! Portable registry failures (the Win32 implementation returns Win32 codes instead).
enum class RegistryError {
  kNotFound = 1,  //!< The key or value does not exist.
  kTooLarge,      //!< A value above kMaxValueBytes.
  kBadName,       //!< An empty path component, a component above 255 characters, too deep.
};
const std::error_category& registry_category() noexcept;
std::error_code make_error_code(RegistryError e) noexcept;
//! True for RegistryError::kNotFound and, on Windows, ERROR_FILE_NOT_FOUND / ERROR_PATH_NOT_FOUND.
bool is_not_found(const std::error_code& ec) noexcept;
//! "error 5: Access is denied." style text for explanations (code and message).
std::u16string describe_error(const std::error_code& ec);

//! An open key. Implementations do not throw except std::bad_alloc.
class RegistryKey {
 public:
  virtual ~RegistryKey() = default;
  //! Reads value `name` ("" is the key's default value) with its type and raw bytes.
  virtual std::error_code read_value(std::u16string_view name, RegValue* out) const = 0;
  //! Opens a key below this one (`path` may have several '\'-separated components), in the
  //! view this key was opened in.
  virtual std::error_code open_subkey(std::u16string_view path, std::unique_ptr<RegistryKey>* out) const = 0;
  //! Replaces *out with at most `limit` subkey names; *truncated says whether more exist.
  virtual std::error_code subkey_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const = 0;
  //! The same for value names, in the order the registry enumerates them (creation order for
  //! MemoryRegistry). "" is the default value.
  virtual std::error_code value_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const = 0;
};

//! The registry: the entry point that opens keys below a predefined root.
class Registry {
 public:
  virtual ~Registry() = default;
  //! Opens `root\path` ("" opens the root) in `view`, for reading.
  virtual std::error_code open(RegRoot root, std::u16string_view path, RegView view,
                               std::unique_ptr<RegistryKey>* out) const = 0;

  //! open(hive.root, hive.join(path), view, out).
  std::error_code open(const HivePath& hive, std::u16string_view path, RegView view,
                       std::unique_ptr<RegistryKey>* out) const;
};

//! Splits a key path at '\'. Empty components (a leading, trailing or doubled '\'), components
//! above kMaxKeyNameChars and paths deeper than kMaxKeyDepth are RegistryError::kBadName.
std::error_code split_key_path(std::u16string_view path, std::vector<std::u16string_view>* parts);

// ---- Decoding values --------------------------------------------------------------------------

//! How a string value's bytes were read.
enum class RegStringStatus {
  kOk,           //!< text holds the string.
  kWrongType,    //!< Neither REG_SZ nor REG_EXPAND_SZ (nor REG_MULTI_SZ where accepted).
  kEmbeddedNul,  //!< A NUL followed by more non-NUL text: the value hides data after the end.
  kTooLong,      //!< More characters than the caller's maximum.
};
std::string_view to_string(RegStringStatus status);

//! Facts about a string value that an administrator may want to know even when it decoded.
struct RegStringInfo {
  bool expandable = false;    //!< REG_EXPAND_SZ.
  bool terminated = false;    //!< The data ended with a NUL (an unterminated one still decodes).
  bool odd_length = false;    //!< An odd byte count; the last byte was ignored.
  size_t embedded_nul = 0;    //!< kEmbeddedNul: the character index of the NUL.
};

//! Decodes a REG_SZ / REG_EXPAND_SZ value as Windows' string APIs see it: UTF-16LE, ending at
//! the data's end or at its terminating NUL(s). At most `max_chars` characters (not counting the
//! terminator). On failure *out is empty.
RegStringStatus decode_reg_string(const RegValue& value, size_t max_chars, std::u16string* out,
                                  RegStringInfo* info = nullptr);

//! Decodes a REG_MULTI_SZ value: the strings up to the first empty one (the list terminator) or
//! the data's end; at most `max_items` strings of at most `max_chars` each. False if the type is
//! not REG_MULTI_SZ or a limit is exceeded.
bool decode_reg_multi_string(const RegValue& value, size_t max_items, size_t max_chars,
                             std::vector<std::u16string>* out);

//! Decodes a REG_DWORD value (exactly 4 bytes, little-endian). False otherwise.
bool decode_reg_dword(const RegValue& value, uint32_t* out);

//! Builders, for tests and for the `.reg` parser.
RegValue make_reg_string(std::u16string_view text, uint32_t type = reg_type::kSz);
RegValue make_reg_dword(uint32_t v);
RegValue make_reg_multi_string(const std::vector<std::u16string>& items);

// ---- The in-memory registry -------------------------------------------------------------------

//! A registry held in memory: what a `.reg` export describes. Key and value names compare as
//! Windows compares them (text::iequals) and keep the case they were first written with.
//! Subkeys enumerate in case-insensitive order (as Windows returns them), values in creation order.
//!
//! Views: like 64-bit Windows 7 and later, a 32-bit view of HKEY_LOCAL_MACHINE\SOFTWARE\<X>
//! reads HKEY_LOCAL_MACHINE\SOFTWARE\Wow6432Node\<X>, except for the shared keys Classes and
//! Clients (so Clients\Mail is the same in both views, and MSMapiApps is not). HKEY_CURRENT_USER
//! and HKEY_USERS are not redirected.
//!
//! Not thread-safe for writes. Keys opened from it point into it: do not modify the registry or
//! destroy it while keys are open.
class MemoryRegistry final : public Registry {
 public:
  MemoryRegistry();
  ~MemoryRegistry() override;
  MemoryRegistry(const MemoryRegistry&) = delete;
  MemoryRegistry& operator=(const MemoryRegistry&) = delete;

  std::error_code open(RegRoot root, std::u16string_view path, RegView view,
                       std::unique_ptr<RegistryKey>* out) const override;
  using Registry::open;

  //! Creates `path` and its missing parents (no redirection: `path` is the physical key).
  std::error_code create_key(RegRoot root, std::u16string_view path);
  //! Deletes `path` with everything below it. Deleting a missing key is not an error; deleting
  //! a root is RegistryError::kBadName.
  std::error_code delete_key(RegRoot root, std::u16string_view path);
  //! Sets a value, creating the key if needed. kTooLarge above kMaxValueBytes; kBadName for a
  //! name above kMaxValueNameChars.
  std::error_code set_value(RegRoot root, std::u16string_view path, std::u16string_view name, RegValue value);
  //! Deletes a value; a missing one is not an error.
  std::error_code delete_value(RegRoot root, std::u16string_view path, std::u16string_view name);

  //! True if the root has at least one subkey or value.
  bool has_content(RegRoot root) const;
  //! Keys below the roots (not counting the roots) and values, in the whole registry.
  size_t key_count() const;
  size_t value_count() const;

  struct Node;  //!< Implementation detail.

 private:
  Node* find(RegRoot root, const std::vector<std::u16string_view>& parts) const;

  std::unique_ptr<Node> roots_[3];
};

}  // namespace mapidispatch

template <>
struct std::is_error_code_enum<mapidispatch::RegistryError> : std::true_type {};

#endif  // MAPIDISPATCH_REGISTRY_H_
