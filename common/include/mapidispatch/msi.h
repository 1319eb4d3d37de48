// Copyright MapiDispatch authors.
//
//! \file
//! Windows Installer qualified components (the MSIComponentID of a mail client), behind an
//! interface. The Win32 implementation (win32/resolver_win.h) calls MsiProvideQualifiedComponentW
//! with INSTALLMODE_EXISTING only: resolving never starts an install or a repair (on a terminal
//! server a user process must never trigger one). MemoryMsiComponents answers from a table
//! (tests, and `mapidispatch resolve --msi-component` offline).

#ifndef MAPIDISPATCH_MSI_H_
#define MAPIDISPATCH_MSI_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace mapidispatch {

//! One answer for one (category, qualifier). Only kNotInstalled and kUnavailable say something
//! about the whole category: the resolver stops trying qualifiers on them and tries the next
//! qualifier after any other failure, as Windows' stub does.
enum class MsiStatus {
  kFound,            //!< path holds the component's key path.
  kNotInstalled,     //!< The category (component) is unknown (ERROR_UNKNOWN_COMPONENT).
  kQualifierAbsent,  //!< The category exists but not with this qualifier (ERROR_INDEX_ABSENT).
  //! The category publishes this qualifier, but the feature of its component is absent or
  //! broken: not installed locally, advertised only, or its key file missing (ERROR_FILE_NOT_FOUND,
  //! which INSTALLMODE_EXISTING gives instead of installing or repairing). Says nothing about the
  //! category's other qualifiers, which may be installed.
  kFeatureAbsent,
  kUnavailable,      //!< Windows Installer cannot be asked (offline, no table).
  kError,            //!< Any other failure; error holds it.
};
std::string_view to_string(MsiStatus status);

struct MsiAnswer {
  MsiStatus status = MsiStatus::kUnavailable;
  std::u16string path;
  std::error_code error;
};

class MsiComponents {
 public:
  virtual ~MsiComponents() = default;
  //! The path of the qualified component `category` ("{GUID}") with `qualifier` ("1033\NT"),
  //! if installed. Never installs, repairs or shows UI. Never throws except std::bad_alloc.
  virtual MsiAnswer provide_qualified_component(std::u16string_view category, std::u16string_view qualifier) const = 0;
  //! Where the answers come from, for explanations.
  virtual std::u16string description() const = 0;
};

//! Answers from a table: (category, qualifier) -> path, both compared case-insensitively.
//! A category with no entry at all is kNotInstalled; a known category without the qualifier is
//! kQualifierAbsent. With `available` false every answer is kUnavailable.
class MemoryMsiComponents final : public MsiComponents {
 public:
  explicit MemoryMsiComponents(bool available = true, std::u16string description = u"a fixed component table")
      : available_(available), description_(std::move(description)) {}
  //! (category, qualifier) is installed at `path`: kFound. Replaces an earlier entry of the pair.
  void add(std::u16string_view category, std::u16string_view qualifier, std::u16string_view path);
  //! (category, qualifier) is published but its feature is absent or broken: kFeatureAbsent.
  //! The category counts as known. Replaces an earlier entry of the pair.
  void add_feature_absent(std::u16string_view category, std::u16string_view qualifier);
  MsiAnswer provide_qualified_component(std::u16string_view category, std::u16string_view qualifier) const override;
  std::u16string description() const override { return description_; }

 private:
  bool available_;
  std::u16string description_;
  // Folded keys -> the path; no path: the feature is absent or broken.
  std::map<std::pair<std::u16string, std::u16string>, std::optional<std::u16string>> table_;
};

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_MSI_H_
