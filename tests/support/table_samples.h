// Copyright MapiDispatch authors.
//
//! \file
//! Resolutions for table tests, benchmarks and fuzz seeds.

#ifndef MAPIDISPATCH_TESTS_SUPPORT_TABLE_SAMPLES_H_
#define MAPIDISPATCH_TESTS_SUPPORT_TABLE_SAMPLES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "mapidispatch/model.h"

namespace mapidispatch::test {

std::u16string u16(const std::string& ascii);

//! A machine scope with both targets found, an override of each kind and a PreFirstRun text.
ScopeResolution sample_machine(const std::string& client = "Contoso Mail");

//! A user scope whose HKCU names another client.
ScopeResolution sample_user(int index);

//! The machine plus `users` user scopes.
std::vector<ScopeResolution> sample_scopes(int users);

//! A table whose every string encodes `stamp`, in strings longer than a cache line: a reader that
//! mixed two publishes would see two stamps (stamp_consistent() is false).
std::vector<ScopeResolution> stamped_scopes(uint64_t stamp, int users);
bool stamp_consistent(const ScopeResolution& scope, uint64_t* stamp);

}  // namespace mapidispatch::test

#endif  // MAPIDISPATCH_TESTS_SUPPORT_TABLE_SAMPLES_H_
