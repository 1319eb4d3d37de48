# Cross build for 32-bit Windows with Debian's mingw-w64 (posix threads flavour).
# No emulator: this platform has no 32-bit Wine, so x86 binaries are checked statically
# (PE machine type, export table) rather than run.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR X86)
set(_md_triple i686-w64-mingw32)
set(CMAKE_C_COMPILER   ${_md_triple}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_md_triple}-g++-posix)
set(CMAKE_RC_COMPILER  ${_md_triple}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${_md_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
