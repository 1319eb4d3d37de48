# Performance evidence (issue #7), included by tests/evidence/CMakeLists.txt. Figures only: these
# programs print and write JSON, nothing passes or fails on a number. `deploy/dev.sh evidence`
# (deploy/scripts/evidence.sh) builds and runs them with the other benchmarks.
#   propagation_bench  Windows x64 (Wine): registry write -> all of N reader processes see it
#   throughput_bench   native and Windows: reads per second, quiet and under a 10 Hz writer
#   table_size         native: bytes of the published table against the number of user scopes

if(WIN32 AND TARGET mapidispatch)
  add_executable(propagation_bench propagation_bench.cpp ../service/service_test_util.cpp)
  target_link_libraries(propagation_bench PRIVATE mapidispatch_common)
  target_compile_definitions(propagation_bench PRIVATE "MAPIDISPATCH_EXE=\"$<TARGET_FILE:mapidispatch>\"")
  add_dependencies(propagation_bench mapidispatch)
  mapidispatch_target_defaults(propagation_bench)
  if(MAPIDISPATCH_CAN_RUN_TARGET)
    add_test(NAME propagation_bench COMMAND propagation_bench --quick)
    set_tests_properties(propagation_bench PROPERTIES
      LABELS bench
      TIMEOUT 600
      FIXTURES_REQUIRED wine
      ENVIRONMENT "WINEPREFIX=${CMAKE_BINARY_DIR}/wineprefix;WINEDEBUG=-all")
  endif()
endif()

if(MAPIDISPATCH_SANITIZER STREQUAL "")
  add_executable(throughput_bench throughput_bench.cpp)
  target_link_libraries(throughput_bench PRIVATE mapidispatch_test_support)
  mapidispatch_target_defaults(throughput_bench)
  if(MAPIDISPATCH_CAN_RUN_TARGET)
    add_test(NAME throughput_bench COMMAND throughput_bench --quick)
    set_tests_properties(throughput_bench PROPERTIES LABELS bench TIMEOUT 300)
    if(MINGW)
      set_tests_properties(throughput_bench PROPERTIES
        FIXTURES_REQUIRED wine
        ENVIRONMENT "WINEPREFIX=${CMAKE_BINARY_DIR}/wineprefix;WINEDEBUG=-all")
    endif()
  endif()
endif()

if(NOT CMAKE_CROSSCOMPILING)
  add_executable(table_size table_size.cpp)
  target_link_libraries(table_size PRIVATE mapidispatch_test_support)
  mapidispatch_target_defaults(table_size)
endif()
