// Copyright MapiDispatch authors.
//
// Windows shared memory: the writer creates the section through Boost.Interprocess with an
// explicit security descriptor; readers open it with plain Win32 because the trust check needs
// READ_CONTROL on the very handle that is mapped, and Boost's open asks for FILE_MAP_READ only
// (a second open by name for the check would race with the name being replaced).

#include <utility>  // before Boost (Boost 1.74 with GCC 12 in C++20)

#include <windows.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/windows_shared_memory.hpp>

#include "mapidispatch/section_trust.h"
#include "mapidispatch/shared_section.h"
#include "mapidispatch/table.h"
#include "mapidispatch/win32/section_security.h"
#include "mapidispatch/win32/unique_handle.h"

namespace mapidispatch {
namespace bip = boost::interprocess;
namespace {

using win32::UniqueKernelHandle;
using win32::UniqueLocalMemory;
using win32::UniqueMappedView;

std::error_code last_error() { return {static_cast<int>(::GetLastError()), std::system_category()}; }

std::wstring widen(const std::string& s) {
  if (s.empty()) return {};
  const int n = ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring w(static_cast<size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), w.data(), n);
  return w;
}

std::error_code from_boost(const bip::interprocess_exception& e) {
  const int native = e.get_native_error();
  return {native != 0 ? native : ERROR_GEN_FAILURE, std::system_category()};
}

class WinWritable final : public WritableSection {
 public:
  WinWritable(UniqueKernelHandle lock, bip::windows_shared_memory shm, bip::mapped_region region, bool created)
      : lock_(std::move(lock)), shm_(std::move(shm)), region_(std::move(region)), created_(created) {}
  ~WinWritable() override {
    // Fails harmlessly if called on another thread than the one that took the lock; the mutex is
    // then released as abandoned when that thread ends, which the next writer accepts.
    ::ReleaseMutex(lock_.get());
  }
  std::span<std::byte> bytes() override { return {static_cast<std::byte*>(region_.get_address()), region_.get_size()}; }
  bool created() const override { return created_; }

 private:
  UniqueKernelHandle lock_;
  bip::windows_shared_memory shm_;
  bip::mapped_region region_;
  bool created_;
};

class WinReadOnly final : public ReadOnlySection {
 public:
  WinReadOnly(UniqueKernelHandle section, UniqueMappedView view, size_t size)
      : section_(std::move(section)), view_(std::move(view)), size_(size) {}
  std::span<const std::byte> bytes() const override { return {static_cast<const std::byte*>(view_.get()), size_}; }
  void* native_handle() const override { return section_.get(); }

 private:
  UniqueKernelHandle section_;
  UniqueMappedView view_;
  size_t size_;
};

}  // namespace

std::error_code WritableSection::create(const std::string& name, uint32_t size, std::unique_ptr<WritableSection>* out) {
  const std::wstring wname = widen(name);

  // The writer lock. The mutex is owned by the calling thread: create, publish through and
  // destroy a WritableSection on one thread.
  UniqueLocalMemory lock_sd;
  if (auto ec = win32::make_writer_lock_security_descriptor(&lock_sd)) return ec;
  SECURITY_ATTRIBUTES lock_sa{sizeof lock_sa, lock_sd.get(), FALSE};
  UniqueKernelHandle lock(::CreateMutexW(&lock_sa, FALSE, (wname + L".Writer").c_str()));
  if (!lock) return last_error();
  const DWORD wait = ::WaitForSingleObject(lock.get(), 0);
  if (wait == WAIT_TIMEOUT) return TableError::kWriterExists;
  if (wait != WAIT_OBJECT_0 && wait != WAIT_ABANDONED) return last_error();  // abandoned: the last writer died

  UniqueLocalMemory sd;
  if (auto ec = win32::make_table_security_descriptor(&sd)) {
    ::ReleaseMutex(lock.get());
    return ec;
  }
  SECURITY_ATTRIBUTES sa{sizeof sa, sd.get(), FALSE};
  try {
    bool created = false;
    bip::windows_shared_memory shm;
    try {
      shm = bip::windows_shared_memory(bip::open_only, name.c_str(), bip::read_write);
    } catch (const bip::interprocess_exception&) {
      shm = bip::windows_shared_memory(bip::create_only, name.c_str(), bip::read_write, size,
                                       bip::permissions(&sa));
      created = true;
    }
    if (!created) {
      // Somebody else's section under our name (created before the service started) would let
      // its creator change what every process loads: refuse it.
      UniqueKernelHandle check(::OpenFileMappingW(READ_CONTROL, FALSE, wname.c_str()));
      if (!check) {
        const auto ec = last_error();
        ::ReleaseMutex(lock.get());
        return ec;
      }
      SecurityDescription desc;
      if (auto ec = win32::describe_object_security(check.get(), &desc)) {
        ::ReleaseMutex(lock.get());
        return ec;
      }
      if (!evaluate_table_trust(desc).trusted) {
        ::ReleaseMutex(lock.get());
        return TableError::kUntrusted;
      }
    }
    bip::mapped_region region(shm, bip::read_write);
    *out = std::make_unique<WinWritable>(std::move(lock), std::move(shm), std::move(region), created);
    return {};
  } catch (const bip::interprocess_exception& e) {
    ::ReleaseMutex(lock.get());
    return from_boost(e);
  }
}

std::error_code ReadOnlySection::open(const std::string& name, std::unique_ptr<ReadOnlySection>* out) {
  const std::wstring wname = widen(name);
  UniqueKernelHandle section(::OpenFileMappingW(FILE_MAP_READ | READ_CONTROL, FALSE, wname.c_str()));
  if (!section) return last_error();
  UniqueMappedView view(::MapViewOfFile(section.get(), FILE_MAP_READ, 0, 0, 0));
  if (!view) return last_error();
  MEMORY_BASIC_INFORMATION mbi{};
  if (::VirtualQuery(view.get(), &mbi, sizeof mbi) == 0) return last_error();
  *out = std::make_unique<WinReadOnly>(std::move(section), std::move(view), mbi.RegionSize);
  return {};
}

void remove_shared_section(const std::string&) noexcept {}

}  // namespace mapidispatch
