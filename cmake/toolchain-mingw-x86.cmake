# Cross build for 32-bit Windows with Debian's mingw-w64 (posix threads flavour).
# Executables run under Wine's WoW64 (Debian's wine32:i386, which deploy/dev.sh installs): the
# 64-bit loader starts a 32-bit program in the same 64-bit prefix, where IsWow64Process is TRUE,
# as on 64-bit Windows.
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
set(CMAKE_CROSSCOMPILING_EMULATOR "${CMAKE_CURRENT_LIST_DIR}/wine-run.sh")
