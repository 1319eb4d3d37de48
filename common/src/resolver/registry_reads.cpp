// Copyright MapiDispatch authors.

#include "mapidispatch/registry_reads.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace mapidispatch {
namespace {

std::u16string joined(std::u16string_view a, std::u16string_view b) {
  if (a.empty()) return std::u16string(b);
  if (b.empty()) return std::u16string(a);
  std::u16string s(a);
  s += u'\\';
  s += b;
  return s;
}

class RecordingKey final : public RegistryKey {
 public:
  RecordingKey(std::unique_ptr<RegistryKey> inner, RegRoot root, RegView view, std::u16string path,
               std::vector<RegRead>* log)
      : inner_(std::move(inner)), root_(root), view_(view), path_(std::move(path)), log_(log) {}

  std::error_code read_value(std::u16string_view name, RegValue* out) const override {
    const std::error_code ec = inner_->read_value(name, out);
    RegRead r = base(RegRead::Op::kValue);
    r.name = std::u16string(name);
    r.error = ec;
    if (!ec) r.value = *out;
    log_->push_back(std::move(r));
    return ec;
  }
  std::error_code open_subkey(std::u16string_view path, std::unique_ptr<RegistryKey>* out) const override {
    std::unique_ptr<RegistryKey> key;
    const std::error_code ec = inner_->open_subkey(path, &key);
    std::u16string full = joined(path_, path);
    RegRead r = base(RegRead::Op::kOpen);
    r.path = full;
    r.error = ec;
    log_->push_back(std::move(r));
    if (!ec) *out = std::make_unique<RecordingKey>(std::move(key), root_, view_, std::move(full), log_);
    return ec;
  }
  std::error_code subkey_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const override {
    return names(RegRead::Op::kSubkeys, limit, out, truncated);
  }
  std::error_code value_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const override {
    return names(RegRead::Op::kValues, limit, out, truncated);
  }

 private:
  RegRead base(RegRead::Op op) const {
    RegRead r;
    r.op = op;
    r.root = root_;
    r.view = view_;
    r.path = path_;
    return r;
  }
  std::error_code names(RegRead::Op op, size_t limit, std::vector<std::u16string>* out, bool* truncated) const {
    const std::error_code ec = op == RegRead::Op::kSubkeys ? inner_->subkey_names(limit, out, truncated)
                                                           : inner_->value_names(limit, out, truncated);
    RegRead r = base(op);
    r.limit = limit;
    r.error = ec;
    if (!ec) {
      r.names = *out;
      r.truncated = *truncated;
    }
    log_->push_back(std::move(r));
    return ec;
  }

  std::unique_ptr<RegistryKey> inner_;
  RegRoot root_;
  RegView view_;
  std::u16string path_;
  std::vector<RegRead>* log_;
};

// The read itself, without its result: reads with equal identities are done once per replay.
void append_identity(const RegRead& r, std::string* s) {
  const auto put_size = [s](uint64_t n) { s->append(reinterpret_cast<const char*>(&n), sizeof n); };
  const auto put_text = [&](std::u16string_view t) {
    put_size(t.size());
    s->append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(char16_t));
  };
  s->push_back(static_cast<char>(r.op));
  s->push_back(static_cast<char>(r.root));
  s->push_back(static_cast<char>(r.view));
  put_text(r.path);
  put_text(r.name);
  put_size(r.limit);
}

// Identity and result: what the ledger interns.
std::string serialise(const RegRead& r) {
  std::string s;
  append_identity(r, &s);
  const auto put_size = [&s](uint64_t n) { s.append(reinterpret_cast<const char*>(&n), sizeof n); };
  // The category by address: categories are singletons, and reads are compared within a process.
  const auto* category = &r.error.category();
  s.append(reinterpret_cast<const char*>(&category), sizeof category);
  put_size(static_cast<uint64_t>(static_cast<int64_t>(r.error.value())));
  put_size(r.value.type);
  put_size(r.value.data.size());
  s.append(reinterpret_cast<const char*>(r.value.data.data()), r.value.data.size());
  put_size(r.names.size());
  for (const auto& n : r.names) {
    put_size(n.size());
    s.append(reinterpret_cast<const char*>(n.data()), n.size() * sizeof(char16_t));
  }
  s.push_back(r.truncated ? 1 : 0);
  return s;
}

}  // namespace

RecordingRegistry::RecordingRegistry(const Registry& inner, RegRoot root, std::vector<RegRead>* log)
    : inner_(inner), root_(root), log_(log) {}

std::error_code RecordingRegistry::open(RegRoot root, std::u16string_view path, RegView view,
                                        std::unique_ptr<RegistryKey>* out) const {
  if (root != root_) return inner_.open(root, path, view, out);
  std::unique_ptr<RegistryKey> key;
  const std::error_code ec = inner_.open(root, path, view, &key);
  RegRead r;
  r.op = RegRead::Op::kOpen;
  r.root = root;
  r.view = view;
  r.path = std::u16string(path);
  r.error = ec;
  log_->push_back(r);
  if (!ec) *out = std::make_unique<RecordingKey>(std::move(key), root, view, std::move(r.path), log_);
  return ec;
}

// ---- CachingRegistry ------------------------------------------------------------------------

namespace {

// kDefault is the process's own view: k64 in a 64-bit process, k32 in a 32-bit one (on 32-bit
// Windows there is one view, and the flags are ignored).
RegView effective(RegView view) {
  if (view != RegView::kDefault) return view;
  return sizeof(void*) == 8 ? RegView::k64 : RegView::k32;
}

RegRead identity_of(RegRead::Op op, RegRoot root, RegView view, std::u16string_view path, std::u16string_view name,
                    size_t limit) {
  RegRead r;
  r.op = op;
  r.root = root;
  r.view = effective(view);
  r.path = std::u16string(path);
  r.name = std::u16string(name);
  r.limit = limit;
  return r;
}

std::string key_of(const RegRead& r) {
  std::string s;
  append_identity(r, &s);
  return s;
}

}  // namespace

// A key of a CachingRegistry: its inner key is opened on the first read the cache cannot answer.
class CachingKey final : public RegistryKey {
 public:
  CachingKey(const Registry& inner, RegReadCache* cache, RegView view, std::u16string path,
             std::unique_ptr<RegistryKey> opened)
      : inner_(inner), cache_(cache), view_(view), path_(std::move(path)), key_(std::move(opened)) {}

  std::error_code read_value(std::u16string_view name, RegValue* out) const override {
    RegRead r = identity_of(RegRead::Op::kValue, cache_->root(), view_, path_, name, 0);
    std::string k = key_of(r);
    if (const auto it = cache_->reads_.find(k); it != cache_->reads_.end()) {
      ++cache_->hits_;
      if (!it->second.error) *out = it->second.value;
      return it->second.error;
    }
    if (const std::error_code ec = inner_key()) return ec;  // not recorded: it says nothing of the value
    r.error = key_->read_value(name, out);
    if (!r.error) r.value = *out;
    const std::error_code ec = r.error;
    cache_->reads_.emplace(std::move(k), std::move(r));
    return ec;
  }
  std::error_code open_subkey(std::u16string_view path, std::unique_ptr<RegistryKey>* out) const override {
    return CachingRegistry(inner_, cache_).open(cache_->root(), joined(path_, path), view_, out);
  }
  std::error_code subkey_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const override {
    return names(RegRead::Op::kSubkeys, limit, out, truncated);
  }
  std::error_code value_names(size_t limit, std::vector<std::u16string>* out, bool* truncated) const override {
    return names(RegRead::Op::kValues, limit, out, truncated);
  }

 private:
  std::error_code inner_key() const {
    if (key_) return {};
    return inner_.open(cache_->root(), path_, view_, &key_);
  }
  std::error_code names(RegRead::Op op, size_t limit, std::vector<std::u16string>* out, bool* truncated) const {
    RegRead r = identity_of(op, cache_->root(), view_, path_, {}, limit);
    std::string k = key_of(r);
    auto it = cache_->reads_.find(k);
    if (it != cache_->reads_.end()) {
      ++cache_->hits_;
    } else {
      if (const std::error_code ec = inner_key()) return ec;
      r.error = op == RegRead::Op::kSubkeys ? key_->subkey_names(limit, &r.names, &r.truncated)
                                            : key_->value_names(limit, &r.names, &r.truncated);
      if (r.error) {
        r.names.clear();
        r.truncated = false;
      }
      it = cache_->reads_.emplace(std::move(k), std::move(r)).first;
    }
    if (!it->second.error) {
      *out = it->second.names;
      *truncated = it->second.truncated;
    }
    return it->second.error;
  }

  const Registry& inner_;
  RegReadCache* cache_;
  RegView view_;
  std::u16string path_;
  mutable std::unique_ptr<RegistryKey> key_;
};

std::error_code CachingRegistry::open(RegRoot root, std::u16string_view path, RegView view,
                                      std::unique_ptr<RegistryKey>* out) const {
  if (root != cache_->root()) return inner_.open(root, path, view, out);
  RegRead r = identity_of(RegRead::Op::kOpen, root, view, path, {}, 0);
  std::string k = key_of(r);
  std::unique_ptr<RegistryKey> opened;
  if (const auto it = cache_->reads_.find(k); it != cache_->reads_.end()) {
    ++cache_->hits_;
    if (it->second.error) return it->second.error;
  } else {
    r.error = inner_.open(root, path, view, &opened);
    const std::error_code ec = r.error;
    cache_->reads_.emplace(std::move(k), std::move(r));
    if (ec) return ec;
  }
  *out = std::make_unique<CachingKey>(inner_, cache_, view, std::u16string(path), std::move(opened));
  return {};
}

RegRead replay(const Registry& registry, const RegRead& read) {
  RegRead now;
  now.op = read.op;
  now.root = read.root;
  now.view = read.view;
  now.path = read.path;
  now.name = read.name;
  now.limit = read.limit;
  std::unique_ptr<RegistryKey> key;
  now.error = registry.open(read.root, read.path, read.view, &key);
  if (now.error || read.op == RegRead::Op::kOpen) return now;
  switch (read.op) {
    case RegRead::Op::kValue:
      now.error = key->read_value(read.name, &now.value);
      if (now.error) now.value = {};
      break;
    case RegRead::Op::kSubkeys:
      now.error = key->subkey_names(read.limit, &now.names, &now.truncated);
      break;
    case RegRead::Op::kValues:
      now.error = key->value_names(read.limit, &now.names, &now.truncated);
      break;
    case RegRead::Op::kOpen:
      break;
  }
  if (now.error) {
    now.names.clear();
    now.truncated = false;
  }
  return now;
}

void RegReadLedger::set(const std::u16string& scope, const std::vector<RegRead>& reads) {
  std::vector<uint32_t> ids;
  ids.reserve(reads.size());
  for (const RegRead& r : reads) {
    auto [it, added] = index_.try_emplace(serialise(r), static_cast<uint32_t>(reads_.size()));
    if (added) reads_.push_back(r);
    ids.push_back(it->second);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  ids.shrink_to_fit();
  scopes_[scope] = std::move(ids);
}

void RegReadLedger::erase(const std::u16string& scope) { scopes_.erase(scope); }

void RegReadLedger::clear() {
  reads_.clear();
  index_.clear();
  scopes_.clear();
}

std::vector<std::u16string> RegReadLedger::changed_scopes(const Registry& registry, size_t* reads_done) const {
  // Each interned read a scope holds, judged once; each distinct identity read once.
  std::vector<int8_t> verdict(reads_.size(), -1);  // -1 not judged, 0 same, 1 changed
  std::unordered_map<std::string, RegRead> now;
  size_t done = 0;
  std::vector<std::u16string> changed;
  for (const auto& [scope, ids] : scopes_) {
    bool scope_changed = false;
    for (const uint32_t id : ids) {
      if (verdict[id] < 0) {
        std::string identity;
        append_identity(reads_[id], &identity);
        auto it = now.find(identity);
        if (it == now.end()) {
          it = now.emplace(std::move(identity), replay(registry, reads_[id])).first;
          ++done;
        }
        verdict[id] = it->second == reads_[id] ? 0 : 1;
      }
      if (verdict[id] == 1) {
        scope_changed = true;
        break;
      }
    }
    if (scope_changed) changed.push_back(scope);
  }
  if (reads_done != nullptr) *reads_done = done;
  return changed;
}

}  // namespace mapidispatch
