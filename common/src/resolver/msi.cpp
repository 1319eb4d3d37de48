// Copyright MapiDispatch authors.

#include "mapidispatch/msi.h"

#include "mapidispatch/text.h"

namespace mapidispatch {

std::string_view to_string(MsiStatus status) {
  switch (status) {
    case MsiStatus::kFound: return "found";
    case MsiStatus::kNotInstalled: return "not-installed";
    case MsiStatus::kQualifierAbsent: return "qualifier-absent";
    case MsiStatus::kFeatureAbsent: return "feature-absent";
    case MsiStatus::kUnavailable: return "unavailable";
    case MsiStatus::kError: return "error";
  }
  return "unknown";
}

void MemoryMsiComponents::add(std::u16string_view category, std::u16string_view qualifier, std::u16string_view path) {
  table_[{text::fold(category), text::fold(qualifier)}] = std::u16string(path);
}

void MemoryMsiComponents::add_feature_absent(std::u16string_view category, std::u16string_view qualifier) {
  table_[{text::fold(category), text::fold(qualifier)}] = std::nullopt;
}

MsiAnswer MemoryMsiComponents::provide_qualified_component(std::u16string_view category,
                                                           std::u16string_view qualifier) const {
  MsiAnswer a;
  if (!available_) return a;
  const std::u16string c = text::fold(category);
  const auto it = table_.find({c, text::fold(qualifier)});
  if (it != table_.end()) {
    if (!it->second) {
      a.status = MsiStatus::kFeatureAbsent;
      return a;
    }
    a.status = MsiStatus::kFound;
    a.path = *it->second;
    return a;
  }
  const auto near = table_.lower_bound({c, std::u16string()});
  a.status = (near != table_.end() && near->first.first == c) ? MsiStatus::kQualifierAbsent : MsiStatus::kNotInstalled;
  return a;
}

}  // namespace mapidispatch
