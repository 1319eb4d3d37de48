# Compiler settings shared by every MapiDispatch target.  Third-party headers are SYSTEM includes,
# so -Werror applies to our code only.

# gcc/clang warning options and Windows definitions of every target, also for the few binaries a
# custom command builds with another compiler (tests/stub: the x86 test provider of the x64 build).
set(MAPIDISPATCH_GCC_WARNINGS -Wall -Wextra -Wshadow -Wnon-virtual-dtor)
if(MAPIDISPATCH_WERROR)
  list(APPEND MAPIDISPATCH_GCC_WARNINGS -Werror)
endif()
set(MAPIDISPATCH_WIN32_DEFINITIONS _WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX UNICODE _UNICODE)

function(mapidispatch_target_defaults target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive- /utf-8 /Zc:__cplusplus)
    if(MAPIDISPATCH_WERROR)
      target_compile_options(${target} PRIVATE /WX)
    endif()
    target_compile_definitions(${target} PRIVATE ${MAPIDISPATCH_WIN32_DEFINITIONS})
  else()
    target_compile_options(${target} PRIVATE ${MAPIDISPATCH_GCC_WARNINGS})
    if(WIN32)
      target_compile_definitions(${target} PRIVATE ${MAPIDISPATCH_WIN32_DEFINITIONS})
    endif()
  endif()
  if(MINGW)
    # Self-contained binaries: no libstdc++/libgcc/winpthread DLLs to ship or to find under Wine.
    target_link_options(${target} PRIVATE -static -static-libgcc -static-libstdc++)
  endif()
endfunction()

if(MAPIDISPATCH_BUILD_FUZZERS)
  # Coverage instrumentation for everything the fuzz targets reach; each target links libFuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      "-fsanitize-coverage-ignorelist=${PROJECT_SOURCE_DIR}/tests/fuzz/coverage-ignorelist.txt")
  add_link_options(-fsanitize=address,undefined)
elseif(MAPIDISPATCH_SANITIZER STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(MAPIDISPATCH_SANITIZER STREQUAL "thread")
  # GCC warns that TSan does not model std::atomic_thread_fence (-Wtsan). The seqlock's data
  # accesses are all atomic, so TSan still sees no data race; the stress test's invariant checks
  # the ordering the fences provide.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
  add_link_options(-fsanitize=thread)
elseif(NOT MAPIDISPATCH_SANITIZER STREQUAL "")
  message(FATAL_ERROR "MAPIDISPATCH_SANITIZER must be address, thread or empty, not '${MAPIDISPATCH_SANITIZER}'")
endif()
