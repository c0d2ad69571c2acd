// The address a redirected TCP connection was first sent to, before nftables' `redirect`
// rewrote it to the node proxy's port: getsockopt SO_ORIGINAL_DST (IPv4) or
// IP6T_SO_ORIGINAL_DST (IPv6) on the accepted socket, which conntrack answers. Node has no
// call for it. The tunnel engine (dataplane.c) asks for every connection it accepts;
// originalDestination(fd) is the same answer for a socket of Node's.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "mesh.h"

int read_original_dst(int fd, struct sockaddr_storage *dst) {
  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return errno;
  memset(dst, 0, sizeof *dst);
  if (local.ss_family == AF_INET) {
    len = sizeof(struct sockaddr_in);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, dst, &len) != 0) return errno;
  } else if (local.ss_family == AF_INET6) {
    len = sizeof(struct sockaddr_in6);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, dst, &len) != 0) return errno;
  } else {
    return EAFNOSUPPORT;
  }
  return 0;
}

// originalDestination(fd) → { address, port, family }; throws ENOENT when conntrack has no entry for it.
static napi_value original_destination(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "originalDestination(fd): fd must be a socket's file descriptor");
    return NULL;
  }
  struct sockaddr_storage dst;
  int err = read_original_dst(fd, &dst);
  if (err) return throw_errno(env, "original destination", err);
  char text[INET6_ADDRSTRLEN];
  int port, family;
  if (dst.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&dst;
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
    family = 4;
  } else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&dst;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
    family = 6;
  }
  napi_value result, address, port_value, family_value;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_int32(env, port, &port_value);
  napi_create_int32(env, family, &family_value);
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", port_value);
  napi_set_named_property(env, result, "family", family_value);
  return result;
}

void register_original_dst(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "originalDestination", NAPI_AUTO_LENGTH, original_destination, NULL, &fn);
  napi_set_named_property(env, exports, "originalDestination", fn);
}
