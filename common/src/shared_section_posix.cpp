// Copyright MapiDispatch authors.
//
// POSIX shared memory for the native build: tests, sanitizers, benchmarks.

#include <utility>  // before Boost (Boost 1.74 with GCC 12 in C++20)

#include <sys/file.h>

#include <cerrno>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"

namespace mapidispatch {
namespace bip = boost::interprocess;
namespace {

std::error_code from_boost(const bip::interprocess_exception& e) {
  const int native = e.get_native_error();
  return {native != 0 ? native : EIO, std::generic_category()};
}

class PosixWritable final : public WritableSection {
 public:
  PosixWritable(bip::shared_memory_object shm, bip::mapped_region region, bool created)
      : shm_(std::move(shm)), region_(std::move(region)), created_(created) {}
  std::span<std::byte> bytes() override { return {static_cast<std::byte*>(region_.get_address()), region_.get_size()}; }
  bool created() const override { return created_; }

 private:
  bip::shared_memory_object shm_;  // its fd carries the flock() writer lock
  bip::mapped_region region_;
  bool created_;
};

class PosixReadOnly final : public ReadOnlySection {
 public:
  PosixReadOnly(bip::shared_memory_object shm, bip::mapped_region region)
      : shm_(std::move(shm)), region_(std::move(region)) {}
  std::span<const std::byte> bytes() const override {
    return {static_cast<const std::byte*>(region_.get_address()), region_.get_size()};
  }
  void* native_handle() const override { return nullptr; }

 private:
  bip::shared_memory_object shm_;
  bip::mapped_region region_;
};

}  // namespace

std::error_code WritableSection::create(const std::string& name, uint32_t size, std::unique_ptr<WritableSection>* out) {
  try {
    bip::permissions perm(0644);  // others may read, only the owner writes
    bip::shared_memory_object shm(bip::open_or_create, name.c_str(), bip::read_write, perm);
    // The writer lock: released by the kernel when this process dies, however it dies.
    if (::flock(shm.get_mapping_handle().handle, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return TableError::kWriterExists;
      return {errno, std::generic_category()};
    }
    bip::offset_t current = 0;
    shm.get_size(current);
    const bool created = current == 0;
    if (created) shm.truncate(size);
    bip::mapped_region region(shm, bip::read_write);
    *out = std::make_unique<PosixWritable>(std::move(shm), std::move(region), created);
    return {};
  } catch (const bip::interprocess_exception& e) {
    return from_boost(e);
  }
}

std::error_code ReadOnlySection::open(const std::string& name, std::unique_ptr<ReadOnlySection>* out) {
  try {
    bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_only);
    bip::offset_t size = 0;
    if (!shm.get_size(size) || size == 0) return TableError::kNotInitialized;
    bip::mapped_region region(shm, bip::read_only);
    *out = std::make_unique<PosixReadOnly>(std::move(shm), std::move(region));
    return {};
  } catch (const bip::interprocess_exception& e) {
    return from_boost(e);
  }
}

void remove_shared_section(const std::string& name) noexcept { bip::shared_memory_object::remove(name.c_str()); }

}  // namespace mapidispatch
