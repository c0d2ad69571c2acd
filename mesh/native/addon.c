// The mesh addon: original-dst.c, the tunnel engine of dataplane.c, and heapInUse() for the
// bench's memory figure (what the engine, OpenSSL and nghttp2 hold is malloc's, not V8's).
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include "mesh.h"

napi_value throw_errno(napi_env env, const char *what, int err) {
  static const struct {
    int err;
    const char *name;
  } names[] = { { ENOENT, "ENOENT" }, { EBADF, "EBADF" }, { ENOTSOCK, "ENOTSOCK" }, { EADDRINUSE, "EADDRINUSE" }, { EADDRNOTAVAIL, "EADDRNOTAVAIL" }, { EACCES, "EACCES" }, { EINVAL, "EINVAL" }, { ENOMEM, "ENOMEM" }, { EAFNOSUPPORT, "EAFNOSUPPORT" } };
  const char *name = "EIO";
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].err == err) name = names[i].name;
  char message[200];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value code, msg, error;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

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
