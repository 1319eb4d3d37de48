# Where the third-party libraries come from:
#   native (Linux)  Debian's packages, found with find_package.
#   mingw           the same Debian packages' headers (Boost, spdlog, fmt and nlohmann-json are
#                   used header-only), through an include folder that links only those four,
#                   never /usr/include itself (its glibc headers would shadow mingw's); GoogleTest
#                   is built from Debian's source package.
#   msvc            vcpkg (vcpkg.json at the top level).
# nlohmann-json (the JSON of `resolve` and `status`) is nlohmann_json::nlohmann_json everywhere;
# the stub never includes it.

add_library(mapidispatch_thirdparty INTERFACE)

if(MINGW)
  set(_md_tp "${CMAKE_BINARY_DIR}/thirdparty-include")
  file(MAKE_DIRECTORY "${_md_tp}")
  set(MAPIDISPATCH_SYSTEM_INCLUDE "/usr/include" CACHE PATH "Where Debian's boost/spdlog/fmt/nlohmann headers are")
  foreach(_lib boost spdlog fmt nlohmann)
    if(NOT EXISTS "${MAPIDISPATCH_SYSTEM_INCLUDE}/${_lib}")
      message(FATAL_ERROR "${MAPIDISPATCH_SYSTEM_INCLUDE}/${_lib} not found: install libboost-dev libspdlog-dev libfmt-dev nlohmann-json3-dev")
    endif()
    file(CREATE_LINK "${MAPIDISPATCH_SYSTEM_INCLUDE}/${_lib}" "${_md_tp}/${_lib}" SYMBOLIC)
  endforeach()
  target_include_directories(mapidispatch_thirdparty SYSTEM INTERFACE "${_md_tp}")
  # The headers are in the folder above; the same target name as find_package's.
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  # Header-only use of spdlog and fmt; Debian's tweakme.h asks for the external fmt, which is
  # then header-only too.
  target_compile_definitions(mapidispatch_thirdparty INTERFACE
    SPDLOG_HEADER_ONLY FMT_HEADER_ONLY BOOST_USE_WINDOWS_H)

  if(MAPIDISPATCH_BUILD_TESTS)
    set(MAPIDISPATCH_GOOGLETEST_SOURCE "/usr/src/googletest" CACHE PATH "GoogleTest source tree")
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(gtest_disable_pthreads OFF CACHE BOOL "" FORCE)
    add_subdirectory("${MAPIDISPATCH_GOOGLETEST_SOURCE}" "${CMAKE_BINARY_DIR}/googletest" EXCLUDE_FROM_ALL SYSTEM)
    # GoogleTest's own CMake already defines GTest::gtest and GTest::gtest_main.
  endif()
else()
  find_package(Boost 1.74 REQUIRED)
  target_link_libraries(mapidispatch_thirdparty INTERFACE Boost::headers)
  find_package(nlohmann_json 3.9 REQUIRED)  # ordered_json: 3.9
  find_package(Threads REQUIRED)
  target_link_libraries(mapidispatch_thirdparty INTERFACE Threads::Threads)
  if(NOT WIN32)
    target_link_libraries(mapidispatch_thirdparty INTERFACE rt)
  endif()
  if(MAPIDISPATCH_BUILD_TESTS)
    find_package(GTest REQUIRED)
  endif()
  if(MAPIDISPATCH_BUILD_BENCHMARKS AND NOT CMAKE_CROSSCOMPILING)
    find_package(benchmark REQUIRED)
  endif()
endif()
