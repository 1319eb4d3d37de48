# Cross build for 64-bit Windows with Debian's mingw-w64 (posix threads flavour).
# Executables run under Wine through CMAKE_CROSSCOMPILING_EMULATOR, so plain `ctest` runs them.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(_md_triple x86_64-w64-mingw32)
set(CMAKE_C_COMPILER   ${_md_triple}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_md_triple}-g++-posix)
set(CMAKE_RC_COMPILER  ${_md_triple}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${_md_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR "${CMAKE_CURRENT_LIST_DIR}/wine-run.sh")
