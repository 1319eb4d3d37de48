// Copyright MapiDispatch authors.
//
// mapidispatch.exe: the MapiDispatch service and the administrator's command line.

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"
#include "text.h"

#ifdef _WIN32
#include <windows.h>

#endif

int main(int argc, char** argv) {
  std::vector<std::string> args;
#ifdef _WIN32
  // argv is in the ANSI code page; the wide command line is what the user typed. Split here
  // rather than with CommandLineToArgvW, which would load shell32 (and its dependencies) into
  // the service for one call.
  (void)argc;
  (void)argv;
  const auto all = mapidispatch::service::split_command_line(
      mapidispatch::service::as_u16(std::wstring_view(::GetCommandLineW())));
  for (size_t i = 1; i < all.size(); ++i) args.push_back(mapidispatch::service::utf8(all[i]));
#else
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
#endif
  try {
    const int rc = mapidispatch::service::run_cli(args, std::cout, std::cerr);
    std::cout.flush();
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "mapidispatch: " << e.what() << "\n";
    return 1;
  }
}
