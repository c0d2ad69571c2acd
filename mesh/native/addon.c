// The mesh addon: original-dst.c, the tunnel engine of dataplane.c, and heapInUse() for the
// bench's memory figure (what the engine, OpenSSL and nghttp2 hold is malloc's, not V8's).
#include <malloc.h>
#include "mesh.h"

static napi_value heap_in_use(napi_env env, napi_callback_info info) {
  struct mallinfo2 m = mallinfo2();
  napi_value v;
  napi_create_double(env, (double)m.uordblks + (double)m.hblkhd, &v);
  return v;
}

NAPI_MODULE_INIT() {
  register_original_dst(env, exports);
  register_dataplane(env, exports);
  napi_value fn;
  napi_create_function(env, "heapInUse", NAPI_AUTO_LENGTH, heap_in_use, NULL, &fn);
  napi_set_named_property(env, exports, "heapInUse", fn);
  return exports;
}
