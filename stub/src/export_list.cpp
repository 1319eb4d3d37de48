// Copyright MapiDispatch authors.

#include "export_list.h"

namespace mapidispatch::stub {

const ExportInfo kExports[kExportCount] = {
#define MD_EXPORT(slot, ordinal, primary, alternate, family, bytes, known, nargs, kind, ret) \
  {ordinal, primary, alternate, ExportFamily::family, bytes, ReturnKind::ret},
#include "exports.inc"
#undef MD_EXPORT
};

}  // namespace mapidispatch::stub
