// What the mesh addon's two parts share: the original destination of a redirected socket
// (original-dst.c) and the tunnel engine (dataplane.c), registered by addon.c.
#ifndef WEFT_MESH_H
#define WEFT_MESH_H
#include <node_api.h>
#include <sys/socket.h>

// The address a redirected connection was first sent to (conntrack's answer); 0, or an errno.
int read_original_dst(int fd, struct sockaddr_storage *dst);

// Throws an Error with `code` the errno's name ("EIO" for the rarer ones) and returns NULL.
napi_value throw_errno(napi_env env, const char *what, int err);

void register_original_dst(napi_env env, napi_value exports);
void register_dataplane(napi_env env, napi_value exports);

#endif
