// Copyright MapiDispatch authors.
//
//! \file
//! The named shared memory that holds the table.
//!
//! Windows: a pagefile-backed section (Boost.Interprocess windows_shared_memory) created with the
//! descriptor of win32/section_security.h, plus a named mutex "<name>.Writer" that admits one
//! writer. The section lives while any process holds a handle or a view, so a restarted service
//! finds the section its predecessor's readers still map.
//! POSIX (the native build, for tests and benchmarks): a shm object (Boost.Interprocess
//! shared_memory_object) and flock() on it as the writer lock.
//!
//! Names: on Windows the kernel object name ("Global\\MapiDispatch.Table" in production,
//! "Local\\..." in tests); on POSIX a shm name. Writers map read-write, readers read-only.

#ifndef MAPIDISPATCH_SHARED_SECTION_H_
#define MAPIDISPATCH_SHARED_SECTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>

namespace mapidispatch {

//! The default section name of the production service.
#ifdef _WIN32
inline constexpr char kDefaultSectionName[] = "Global\\MapiDispatch.Table";
#else
inline constexpr char kDefaultSectionName[] = "/MapiDispatch.Table";
#endif

//! Default section size: room for thousands of user scopes; untouched pages cost nothing.
inline constexpr uint32_t kDefaultSectionSize = 4u * 1024 * 1024;

//! The writer's read-write mapping, holding the writer lock for its lifetime.
class WritableSection {
 public:
  //! Creates the section (or opens the one a previous writer left) and takes the writer lock.
  //! Errors: TableError::kWriterExists if another writer holds the lock; kUntrusted (Windows) if
  //! an existing section's owner or DACL is not the service's, e.g. a squatter created it first;
  //! a system error otherwise. `size` applies when the section is created; an existing section
  //! keeps its size.
  static std::error_code create(const std::string& name, uint32_t size, std::unique_ptr<WritableSection>* out);

  virtual ~WritableSection() = default;
  virtual std::span<std::byte> bytes() = 0;
  //! True if this call created the section; false if it reopened an existing one.
  virtual bool created() const = 0;

 protected:
  WritableSection() = default;
};

//! A reader's read-only mapping.
class ReadOnlySection {
 public:
  //! Opens and maps the section read-only. On Windows the handle also carries READ_CONTROL, so
  //! the trust check reads the descriptor of the very object that is mapped.
  static std::error_code open(const std::string& name, std::unique_ptr<ReadOnlySection>* out);

  virtual ~ReadOnlySection() = default;
  virtual std::span<const std::byte> bytes() const = 0;
  //! The section handle (Windows HANDLE), or nullptr on POSIX.
  virtual void* native_handle() const = 0;

 protected:
  ReadOnlySection() = default;
};

//! POSIX: removes the shm name (tests). Windows: no-op (sections vanish with their last handle).
void remove_shared_section(const std::string& name) noexcept;

}  // namespace mapidispatch

#endif  // MAPIDISPATCH_SHARED_SECTION_H_
