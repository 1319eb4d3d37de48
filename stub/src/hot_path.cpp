// Copyright MapiDispatch authors.

#include "hot_path.h"

extern "C" {
constinit mapidispatch::stub::HotState md_hot_state;
}
