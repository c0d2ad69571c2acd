// The mesh addon: original-dst.c and the tunnel engine of dataplane.c.
#include "mesh.h"

NAPI_MODULE_INIT() {
  register_original_dst(env, exports);
  register_dataplane(env, exports);
  return exports;
}
