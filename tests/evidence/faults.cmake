# fault_bench (issue #7, "Evidence", faults): the real service, the real stub and the real registry
# under Wine, with faults injected (kill mid-publish, corruption in place, registry flood, provider
# replaced, restart under 64 clients); counts of calls attempted, calls failed and torn reads.
#   fault_bench.quick  ctest entry (fixture wine): `fault_bench --quick`, about a minute; fails on
#                      any failed call Windows' stub would have served, torn read or harness error.
#   fault_bench        ctest entry with label bench (excluded from `deploy/dev.sh test`): the full
#                      run; `deploy/dev.sh evidence` runs `fault_bench.exe --json FILE` itself.
# Windows x64 only, and only where the service and the stub are built (the harness installs the
# built mapidispatch.exe; the stub is copied beside the program).

if(NOT (MINGW AND CMAKE_SIZEOF_VOID_P EQUAL 8 AND TARGET mapi32 AND TARGET mapidispatch))
  return()
endif()

# The provider the clients call: A and B, the same code with another identity.
foreach(_id a b)
  string(TOUPPER "${_id}" _ID)
  add_library(fault_prov_${_id} SHARED "${CMAKE_CURRENT_LIST_DIR}/fault_provider.cpp")
  set_target_properties(fault_prov_${_id} PROPERTIES PREFIX "" RUNTIME_OUTPUT_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  target_compile_definitions(fault_prov_${_id} PRIVATE FAULT_PROVIDER_ID="${_ID}")
  target_include_directories(fault_prov_${_id} PRIVATE "${PROJECT_SOURCE_DIR}/common/include")
  mapidispatch_target_defaults(fault_prov_${_id})
endforeach()

# fault_bench.cpp the program; fault_harness.h/.cpp the harness (and what a scenario gets and
# reports), fault_control.h and fault_children.cpp the child processes; a file per scenario.
add_executable(fault_bench
  "${CMAKE_CURRENT_LIST_DIR}/fault_bench.cpp"
  "${CMAKE_CURRENT_LIST_DIR}/fault_harness.cpp"
  "${CMAKE_CURRENT_LIST_DIR}/fault_children.cpp"
  "${CMAKE_CURRENT_LIST_DIR}/fault_kill_mid_publish.cpp"
  "${CMAKE_CURRENT_LIST_DIR}/fault_corrupt_in_place.cpp"
  "${CMAKE_CURRENT_LIST_DIR}/fault_registry_flood.cpp"
  "${CMAKE_CURRENT_LIST_DIR}/fault_provider_replaced.cpp"
  "${CMAKE_CURRENT_LIST_DIR}/fault_restart_under_load.cpp"
  "${PROJECT_SOURCE_DIR}/tests/service/service_test_util.cpp")
target_include_directories(fault_bench PRIVATE "${PROJECT_SOURCE_DIR}/tests/service")
target_link_libraries(fault_bench PRIVATE mapidispatch_common)
target_compile_definitions(fault_bench PRIVATE "MAPIDISPATCH_EXE=\"$<TARGET_FILE:mapidispatch>\"")
mapidispatch_target_defaults(fault_bench)
set_target_properties(fault_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
add_dependencies(fault_bench mapidispatch fault_prov_a fault_prov_b mapi32)
# The stub beside the program, as an application-local mapi32.dll would be.
add_custom_command(TARGET fault_bench POST_BUILD
  COMMAND ${CMAKE_COMMAND} -E copy_if_different "$<TARGET_FILE:mapi32>" "${CMAKE_CURRENT_BINARY_DIR}/mapi32.dll")

if(MAPIDISPATCH_CAN_RUN_TARGET)
  set(_md_fault_env "WINEPREFIX=${CMAKE_BINARY_DIR}/wineprefix;WINEDEBUG=-all")
  add_test(NAME fault_bench.quick COMMAND fault_bench --quick)
  # RUN_SERIAL: it drives HKLM\Software\Clients\Mail, which other Wine tests use too, and it
  # measures restarts and flood convergence, which a parallel build would distort.
  set_tests_properties(fault_bench.quick PROPERTIES
    TIMEOUT 300
    RUN_SERIAL TRUE
    FIXTURES_REQUIRED wine
    ENVIRONMENT "${_md_fault_env}")
  add_test(NAME fault_bench COMMAND fault_bench)
  set_tests_properties(fault_bench PROPERTIES
    LABELS bench
    TIMEOUT 1800
    RUN_SERIAL TRUE
    FIXTURES_REQUIRED wine
    ENVIRONMENT "${_md_fault_env}")
endif()
