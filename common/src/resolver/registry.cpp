// Copyright MapiDispatch authors.

#include "mapidispatch/registry.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "mapidispatch/text.h"

namespace mapidispatch {

std::string reg_type_name(uint32_t type) {
  switch (type) {
    case reg_type::kNone: return "REG_NONE";
    case reg_type::kSz: return "REG_SZ";
    case reg_type::kExpandSz: return "REG_EXPAND_SZ";
    case reg_type::kBinary: return "REG_BINARY";
    case reg_type::kDword: return "REG_DWORD";
    case reg_type::kDwordBigEndian: return "REG_DWORD_BIG_ENDIAN";
    case reg_type::kLink: return "REG_LINK";
    case reg_type::kMultiSz: return "REG_MULTI_SZ";
    case 8: return "REG_RESOURCE_LIST";
    case 9: return "REG_FULL_RESOURCE_DESCRIPTOR";
    case 10: return "REG_RESOURCE_REQUIREMENTS_LIST";
    case reg_type::kQword: return "REG_QWORD";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "type 0x";
  bool started = false;
  for (int shift = 28; shift >= 0; shift -= 4) {
    const unsigned nibble = (type >> shift) & 0xF;
    if (nibble != 0 || started || shift == 0) {
      s.push_back(kHex[nibble]);
      started = true;
    }
  }
  return s;
}

std::u16string_view root_name(RegRoot root) {
  switch (root) {
    case RegRoot::kLocalMachine: return u"HKEY_LOCAL_MACHINE";
    case RegRoot::kCurrentUser: return u"HKEY_CURRENT_USER";
    case RegRoot::kUsers: return u"HKEY_USERS";
  }
  return u"HKEY_?";
}

std::string_view to_string(RegView view) {
  switch (view) {
    case RegView::kDefault: return "default";
    case RegView::k64: return "64";
    case RegView::k32: return "32";
  }
  return "unknown";
}

std::u16string HivePath::display() const {
  std::u16string s(root_name(root));
  if (!prefix.empty()) {
    s += u'\\';
    s += prefix;
  }
  return s;
}

std::u16string HivePath::join(std::u16string_view path) const {
  std::u16string s = prefix;
  if (!s.empty() && !path.empty()) s += u'\\';
  s += path;
  return s;
}

namespace {

class RegistryCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mapidispatch.registry"; }
  std::string message(int ev) const override {
    switch (static_cast<RegistryError>(ev)) {
      case RegistryError::kNotFound: return "the registry key or value does not exist";
      case RegistryError::kTooLarge: return "the registry value is larger than 1 MiB";
      case RegistryError::kBadName: return "the registry key path or value name is malformed";
    }
    return "unknown registry error";
  }
};

}  // namespace

const std::error_category& registry_category() noexcept {
  static const RegistryCategory category;
  return category;
}

std::error_code make_error_code(RegistryError e) noexcept { return {static_cast<int>(e), registry_category()}; }

bool is_not_found(const std::error_code& ec) noexcept {
  if (ec.category() == registry_category()) return ec.value() == static_cast<int>(RegistryError::kNotFound);
#ifdef _WIN32
  // ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND.
  if (ec.category() == std::system_category()) return ec.value() == 2 || ec.value() == 3;
#endif
  return false;
}

std::u16string describe_error(const std::error_code& ec) {
  std::string s = "error " + std::to_string(ec.value()) + ": " + ec.message();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '.')) s.pop_back();
  return text::utf8_to_utf16(s);
}

std::error_code Registry::open(const HivePath& hive, std::u16string_view path, RegView view,
                               std::unique_ptr<RegistryKey>* out) const {
  return open(hive.root, hive.join(path), view, out);
}

std::error_code split_key_path(std::u16string_view path, std::vector<std::u16string_view>* parts) {
  parts->clear();
  if (path.empty()) return {};
  size_t start = 0;
  while (true) {
    const size_t end = path.find(u'\\', start);
    const std::u16string_view part = path.substr(start, end == std::u16string_view::npos ? std::u16string_view::npos : end - start);
    if (part.empty() || part.size() > kMaxKeyNameChars || parts->size() >= kMaxKeyDepth) {
      parts->clear();
      return RegistryError::kBadName;
    }
    parts->push_back(part);
    if (end == std::u16string_view::npos) break;
    start = end + 1;
  }
  return {};
}

std::string_view to_string(RegStringStatus status) {
  switch (status) {
    case RegStringStatus::kOk: return "ok";
    case RegStringStatus::kWrongType: return "wrong-type";
    case RegStringStatus::kEmbeddedNul: return "embedded-nul";
    case RegStringStatus::kTooLong: return "too-long";
  }
  return "unknown";
}

RegStringStatus decode_reg_string(const RegValue& value, size_t max_chars, std::u16string* out, RegStringInfo* info) {
  out->clear();
  RegStringInfo local;
  RegStringInfo& i = info != nullptr ? *info : local;
  i = {};
  if (value.type != reg_type::kSz && value.type != reg_type::kExpandSz) return RegStringStatus::kWrongType;
  i.expandable = value.type == reg_type::kExpandSz;
  i.odd_length = value.data.size() % 2 != 0;
  const size_t units = value.data.size() / 2;
  auto unit = [&value](size_t k) {
    return static_cast<char16_t>(value.data[2 * k] | (static_cast<unsigned>(value.data[2 * k + 1]) << 8));
  };
  // The string ends at the first NUL; anything but NULs after it is hidden data.
  size_t len = 0;
  while (len < units && unit(len) != 0) ++len;
  i.terminated = len < units;
  for (size_t k = len; k < units; ++k) {
    if (unit(k) != 0) {
      i.embedded_nul = len;
      return RegStringStatus::kEmbeddedNul;
    }
  }
  if (len > max_chars) return RegStringStatus::kTooLong;
  out->resize(len);
  for (size_t k = 0; k < len; ++k) (*out)[k] = unit(k);
  return RegStringStatus::kOk;
}

bool decode_reg_multi_string(const RegValue& value, size_t max_items, size_t max_chars, std::vector<std::u16string>* out) {
  out->clear();
  if (value.type != reg_type::kMultiSz) return false;
  const size_t units = value.data.size() / 2;
  std::u16string current;
  for (size_t k = 0; k < units; ++k) {
    const auto c = static_cast<char16_t>(value.data[2 * k] | (static_cast<unsigned>(value.data[2 * k + 1]) << 8));
    if (c == 0) {
      if (current.empty()) return true;  // the empty string ends the list
      if (out->size() >= max_items) return false;
      out->push_back(std::move(current));
      current.clear();
      continue;
    }
    if (current.size() >= max_chars) return false;
    current.push_back(c);
  }
  if (!current.empty()) {
    if (out->size() >= max_items) return false;
    out->push_back(std::move(current));
  }
  return true;
}

bool decode_reg_dword(const RegValue& value, uint32_t* out) {
  if (value.type != reg_type::kDword || value.data.size() != 4) return false;
  *out = value.data[0] | (uint32_t{value.data[1]} << 8) | (uint32_t{value.data[2]} << 16) | (uint32_t{value.data[3]} << 24);
  return true;
}

RegValue make_reg_string(std::u16string_view text, uint32_t type) {
  RegValue v;
  v.type = type;
  v.data.reserve(text.size() * 2 + 2);
  for (char16_t c : text) {
    v.data.push_back(static_cast<uint8_t>(c & 0xFF));
    v.data.push_back(static_cast<uint8_t>(c >> 8));
  }
  v.data.push_back(0);
  v.data.push_back(0);
  return v;
}

RegValue make_reg_dword(uint32_t x) {
  RegValue v;
  v.type = reg_type::kDword;
  v.data = {static_cast<uint8_t>(x), static_cast<uint8_t>(x >> 8), static_cast<uint8_t>(x >> 16), static_cast<uint8_t>(x >> 24)};
  return v;
}

RegValue make_reg_multi_string(const std::vector<std::u16string>& items) {
  RegValue v;
  v.type = reg_type::kMultiSz;
  for (const auto& s : items) {
    for (char16_t c : s) {
      v.data.push_back(static_cast<uint8_t>(c & 0xFF));
      v.data.push_back(static_cast<uint8_t>(c >> 8));
    }
    v.data.push_back(0);
    v.data.push_back(0);
  }
  v.data.push_back(0);
  v.data.push_back(0);
  return v;
}

// ---- MemoryRegistry ---------------------------------------------------------------------------

struct MemoryRegistry::Node {
  struct Slot {
    std::u16string name;
    std::optional<RegValue> value;  // empty: deleted (a tombstone keeps creation order cheap)
  };
  std::u16string name;
  std::map<std::u16string, std::unique_ptr<Node>> children;  // by folded name
  std::vector<Slot> values;                                  // creation order
  std::map<std::u16string, size_t> value_index;              // folded name -> values[]
  size_t live_values = 0;

  // Drops tombstones once they are the majority, so deletions stay amortised O(log n).
  void compact() {
    if (values.size() < 16 || live_values * 2 > values.size()) return;
    std::vector<Slot> kept;
    kept.reserve(live_values);
    value_index.clear();
    for (auto& s : values) {
      if (!s.value) continue;
      value_index[text::fold(s.name)] = kept.size();
      kept.push_back(std::move(s));
    }
    values = std::move(kept);
  }
};

namespace {

size_t count_keys(const MemoryRegistry::Node& n) {
  size_t k = 0;
  for (const auto& [_, child] : n.children) k += 1 + count_keys(*child);
  return k;
}

size_t count_values(const MemoryRegistry::Node& n) {
  size_t k = n.live_values;
  for (const auto& [_, child] : n.children) k += count_values(*child);
  return k;
}

// The physical path of a logical one in `view` (see the class comment on views).
std::vector<std::u16string> redirect(RegRoot root, const std::vector<std::u16string_view>& parts, RegView view) {
  std::vector<std::u16string> out(parts.begin(), parts.end());
  if (view == RegView::k32 && root == RegRoot::kLocalMachine && out.size() >= 2 && text::iequals(out[0], u"SOFTWARE") &&
      !text::iequals(out[1], u"Wow6432Node") && !text::iequals(out[1], u"Classes") && !text::iequals(out[1], u"Clients")) {
    out.insert(out.begin() + 1, u"Wow6432Node");
  }
  return out;
}

class MemoryKey final : public RegistryKey {
 public:
  MemoryKey(const MemoryRegistry* reg, RegRoot root, std::u16string path, RegView view, const MemoryRegistry::Node* node)
      : reg_(reg), root_(root), path_(std::move(path)), view_(view), node_(node) {}

  std::error_code read_value(std::u16string_view name, RegValue* out) const override {
    const auto it = node_->value_index.find(text::fold(name));
    if (it == node_->value_index.end() || !node_->values[it->second].value) return RegistryError::kNotFound;
    *out = *node_->values[it->second].value;
    return {};
  }

  std::error_code open_subkey(std::u16string_view path, std::unique_ptr<RegistryKey>* out) const override {
    std::u16string full = path_;
    if (!full.empty() && !path.empty()) full += u'\\';
    full += path;
    return reg_->open(root_, full, view_, out);
  }

  std::error_code subkey_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const override {
    out->clear();
    *truncated = false;
    for (const auto& [_, child] : node_->children) {
      if (out->size() >= limit) {
        *truncated = true;
        break;
      }
      out->push_back(child->name);
    }
    return {};
  }

  std::error_code value_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const override {
    out->clear();
    *truncated = false;
    for (const auto& slot : node_->values) {
      if (!slot.value) continue;
      if (out->size() >= limit) {
        *truncated = true;
        break;
      }
      out->push_back(slot.name);
    }
    return {};
  }

 private:
  const MemoryRegistry* reg_;
  RegRoot root_;
  std::u16string path_;
  RegView view_;
  const MemoryRegistry::Node* node_;
};

}  // namespace

MemoryRegistry::MemoryRegistry() {
  for (auto& r : roots_) r = std::make_unique<Node>();
}

MemoryRegistry::~MemoryRegistry() = default;

MemoryRegistry::Node* MemoryRegistry::find(RegRoot root, const std::vector<std::u16string_view>& parts) const {
  Node* n = roots_[static_cast<int>(root)].get();
  for (const auto part : parts) {
    const auto it = n->children.find(text::fold(part));
    if (it == n->children.end()) return nullptr;
    n = it->second.get();
  }
  return n;
}

std::error_code MemoryRegistry::open(RegRoot root, std::u16string_view path, RegView view,
                                     std::unique_ptr<RegistryKey>* out) const {
  std::vector<std::u16string_view> parts;
  if (const auto ec = split_key_path(path, &parts)) return ec;
  const std::vector<std::u16string> physical = redirect(root, parts, view);
  const Node* n = roots_[static_cast<int>(root)].get();
  for (const auto& part : physical) {
    const auto it = n->children.find(text::fold(part));
    if (it == n->children.end()) return RegistryError::kNotFound;
    n = it->second.get();
  }
  *out = std::make_unique<MemoryKey>(this, root, std::u16string(path), view, n);
  return {};
}

std::error_code MemoryRegistry::create_key(RegRoot root, std::u16string_view path) {
  std::vector<std::u16string_view> parts;
  if (const auto ec = split_key_path(path, &parts)) return ec;
  Node* n = roots_[static_cast<int>(root)].get();
  for (const auto part : parts) {
    auto& slot = n->children[text::fold(part)];
    if (!slot) {
      slot = std::make_unique<Node>();
      slot->name = std::u16string(part);
    }
    n = slot.get();
  }
  return {};
}

std::error_code MemoryRegistry::delete_key(RegRoot root, std::u16string_view path) {
  std::vector<std::u16string_view> parts;
  if (const auto ec = split_key_path(path, &parts)) return ec;
  if (parts.empty()) return RegistryError::kBadName;
  const std::u16string_view leaf = parts.back();
  parts.pop_back();
  if (Node* parent = find(root, parts)) parent->children.erase(text::fold(leaf));
  return {};
}

std::error_code MemoryRegistry::set_value(RegRoot root, std::u16string_view path, std::u16string_view name, RegValue value) {
  if (name.size() > kMaxValueNameChars) return RegistryError::kBadName;
  if (value.data.size() > kMaxValueBytes) return RegistryError::kTooLarge;
  if (const auto ec = create_key(root, path)) return ec;
  std::vector<std::u16string_view> parts;
  (void)split_key_path(path, &parts);
  Node* n = find(root, parts);
  const std::u16string folded = text::fold(name);
  const auto it = n->value_index.find(folded);
  if (it != n->value_index.end() && n->values[it->second].value) {
    n->values[it->second].value = std::move(value);
    return {};
  }
  // A new value (or one deleted before) goes last, as Windows enumerates a re-created value.
  n->value_index[folded] = n->values.size();
  n->values.push_back({std::u16string(name), std::move(value)});
  ++n->live_values;
  return {};
}

std::error_code MemoryRegistry::delete_value(RegRoot root, std::u16string_view path, std::u16string_view name) {
  std::vector<std::u16string_view> parts;
  if (const auto ec = split_key_path(path, &parts)) return ec;
  Node* n = find(root, parts);
  if (n == nullptr) return {};
  const auto it = n->value_index.find(text::fold(name));
  if (it == n->value_index.end()) return {};
  if (n->values[it->second].value) {
    n->values[it->second].value.reset();
    --n->live_values;
  }
  n->value_index.erase(it);
  n->compact();
  return {};
}

bool MemoryRegistry::has_content(RegRoot root) const {
  const Node& n = *roots_[static_cast<int>(root)];
  return !n.children.empty() || n.live_values != 0;
}

size_t MemoryRegistry::key_count() const {
  size_t k = 0;
  for (const auto& r : roots_) k += count_keys(*r);
  return k;
}

size_t MemoryRegistry::value_count() const {
  size_t k = 0;
  for (const auto& r : roots_) k += count_values(*r);
  return k;
}

}  // namespace mapidispatch
