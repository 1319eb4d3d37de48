// Copyright MapiDispatch authors.

#include "provider.h"

namespace mapidispatch::stub {

void* Provider::lookup(int slot) {
  const ExportInfo& e = kExports[slot];
  FARPROC f = nullptr;
  if (e.primary[0] == '\0') {
    f = ::GetProcAddress(module, MAKEINTRESOURCEA(e.ordinal));  // exported by ordinal only
  } else {
    f = ::GetProcAddress(module, e.primary);
    if (f == nullptr && e.alternate[0] != '\0') f = ::GetProcAddress(module, e.alternate);
  }
  void* p = f != nullptr ? reinterpret_cast<void*>(f) : absent();
  // Release: pairs with proc()'s acquire. Racing threads store the same value.
  procs[slot].store(p, std::memory_order_release);
  return p;
}

}  // namespace mapidispatch::stub
