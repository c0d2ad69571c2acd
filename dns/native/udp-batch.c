// A UDP socket read and written in batches (recvmmsg/sendmmsg) for the DNS query path: one
// call into JavaScript per batch of up to `batch` queries instead of Node's dgram machinery
// per packet (a Buffer, an rinfo object, an event and a send request each). JavaScript owns
// the memory: `in` holds the received queries (one `slot`-byte slot each), `out` the replies
// it wrote (one slot each), `meta` (Int32) the lengths and addresses; see dns/udp-batch.ts
// for the layout. The socket is non-blocking: a reply the kernel cannot take
// at once (EAGAIN) is dropped, as a full socket buffer drops a datagram.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define META 8
#define MAX_BATCH 256
// At most this many batches per readiness event, so timers and other sockets get their turn.
#define ROUNDS 8

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int closing;
  napi_ref callback;
  napi_ref buffers[3];
  napi_async_context context;
  napi_async_cleanup_hook_handle cleanup;
  uint8_t *in;
  uint8_t *out;
  int32_t *meta;
  size_t slot;
  int batch;
  struct mmsghdr in_msgs[MAX_BATCH];
  struct iovec in_iov[MAX_BATCH];
  struct sockaddr_in6 in_addr[MAX_BATCH];
  struct mmsghdr out_msgs[MAX_BATCH];
  struct iovec out_iov[MAX_BATCH];
} Sock;

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value code, msg, error;
  napi_create_string_utf8(env, err == EADDRINUSE ? "EADDRINUSE" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EACCES ? "EACCES" : "EIO", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static void write_meta(Sock *s, int i) {
  int32_t *m = s->meta + i * META;
  struct mmsghdr *h = &s->in_msgs[i];
  m[0] = (int32_t)h->msg_len;
  m[1] = (h->msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
  // The address as 4 (IPv4) or 16 bytes in m[4..7], its family in m[2], its port in m[3].
  if (s->in_addr[i].sin6_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&s->in_addr[i];
    m[2] = 4;
    m[3] = ntohs(a->sin_port);
    memcpy(&m[4], &a->sin_addr, 4);
  } else {
    m[2] = 6;
    m[3] = ntohs(s->in_addr[i].sin6_port);
    memcpy(&m[4], &s->in_addr[i].sin6_addr, 16);
  }
  h->msg_hdr.msg_namelen = sizeof(struct sockaddr_in6);
  h->msg_hdr.msg_flags = 0;
}

static void send_replies(Sock *s, int count) {
  int32_t *replies = s->meta + s->batch * META;
  for (int j = 0; j < count; j++) {
    int target = replies[j * 2 + 1];
    if (target < 0 || target >= s->batch) target = 0;
    s->out_iov[j].iov_base = s->out + j * s->slot;
    s->out_iov[j].iov_len = (size_t)replies[j * 2] <= s->slot ? (size_t)replies[j * 2] : 0;
    s->out_msgs[j].msg_hdr.msg_name = &s->in_addr[target];
    s->out_msgs[j].msg_hdr.msg_namelen = s->in_addr[target].sin6_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  }
  int sent = 0;
  while (sent < count) {
    int r = sendmmsg(s->fd, s->out_msgs + sent, (unsigned)(count - sent), MSG_DONTWAIT);
    if (r > 0) sent += r;
    else if (r < 0 && errno == EINTR) continue;
    // This one could not go (EAGAIN, or an address the kernel refuses): drop it, send the rest.
    else sent++;
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  Sock *s = handle->data;
  (void)events;
  if (status < 0 || s->closing) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, arg, result;
  napi_get_reference_value(env, s->callback, &callback);
  napi_get_global(env, &receiver);
  for (int round = 0; round < ROUNDS && !s->closing; round++) {
    int n = recvmmsg(s->fd, s->in_msgs, (unsigned)s->batch, MSG_DONTWAIT, NULL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (int i = 0; i < n; i++) write_meta(s, i);
    napi_create_int32(env, n, &arg);
    napi_status st = napi_make_callback(env, s->context, receiver, callback, 1, &arg, &result);
    if (st != napi_ok) {
      // A throw from the batch handler is a bug: report it as uncaught. Anything else (the
      // environment is shutting down) just ends the round.
      napi_value error;
      if (st == napi_pending_exception && napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
      break;
    }
    int32_t replies = 0;
    napi_get_value_int32(env, result, &replies);
    if (replies > n) replies = n;
    if (replies > 0 && !s->closing) send_replies(s, replies);
    if (n < s->batch) break;
  }
  napi_close_handle_scope(env, scope);
}

static void on_closed(uv_handle_t *handle) {
  Sock *s = handle->data;
  close(s->fd);
  napi_delete_reference(s->env, s->callback);
  for (int i = 0; i < 3; i++) napi_delete_reference(s->env, s->buffers[i]);
  napi_async_destroy(s->env, s->context);
  if (s->cleanup) napi_remove_async_cleanup_hook(s->cleanup);
  free(s);
}

static void shut(Sock *s) {
  if (s->closing) return;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

/** The environment (a worker thread) is going away with the socket still open. */
static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *data) {
  Sock *s = data;
  if (s->closing) {
    // close() ran; on_closed will remove the hook.
    return;
  }
  shut(s);
  (void)hook;
}

static int buffer_of(napi_env env, napi_value value, void **data, size_t *length) {
  bool is;
  napi_is_typedarray(env, value, &is);
  if (!is) return 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, data, &ab, &offset) != napi_ok) return 0;
  if (type == napi_int32_array) *length *= 4;
  return 1;
}

// open(host, port, ipv6, v6only, reusePort, receiveBuffer, in, out, meta, slot, batch, onBatch) → handle
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 12) {
    napi_throw_type_error(env, NULL, "open: 12 arguments");
    return NULL;
  }
  char host[64];
  size_t hostLength;
  int32_t port, receiveBuffer, slot, batch;
  bool ipv6, v6only, reusePort;
  napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hostLength);
  napi_get_value_int32(env, argv[1], &port);
  napi_get_value_bool(env, argv[2], &ipv6);
  napi_get_value_bool(env, argv[3], &v6only);
  napi_get_value_bool(env, argv[4], &reusePort);
  napi_get_value_int32(env, argv[5], &receiveBuffer);
  napi_get_value_int32(env, argv[9], &slot);
  napi_get_value_int32(env, argv[10], &batch);
  void *in, *out, *meta;
  size_t inLength, outLength, metaLength;
  if (!buffer_of(env, argv[6], &in, &inLength) || !buffer_of(env, argv[7], &out, &outLength) || !buffer_of(env, argv[8], &meta, &metaLength) || batch < 1 || batch > MAX_BATCH || slot < 512 ||
      inLength < (size_t)slot * batch || outLength < (size_t)slot * batch || metaLength < (size_t)batch * (META + 2) * 4) {
    napi_throw_range_error(env, NULL, "open: buffers too small for slot × batch");
    return NULL;
  }
  struct sockaddr_in6 address;
  memset(&address, 0, sizeof address);
  socklen_t addressLength;
  if (ipv6) {
    address.sin6_family = AF_INET6;
    address.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &address.sin6_addr) != 1) return throw_errno(env, "open: not an IPv6 address", EINVAL);
    addressLength = sizeof(struct sockaddr_in6);
  } else {
    struct sockaddr_in *a4 = (struct sockaddr_in *)&address;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) return throw_errno(env, "open: not an IPv4 address", EINVAL);
    addressLength = sizeof(struct sockaddr_in);
  }
  int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1, zero = 0;
  if (ipv6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? &one : &zero, sizeof one);
  if (reusePort && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "setsockopt SO_REUSEPORT", e);
  }
  // Best effort: the kernel caps it at net.core.rmem_max.
  if (receiveBuffer > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
  if (bind(fd, (struct sockaddr *)&address, addressLength) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  Sock *s = calloc(1, sizeof(Sock));
  if (s == NULL || uv_poll_init(loop, &s->poll, fd) != 0) {
    free(s);
    close(fd);
    return throw_errno(env, "open: cannot watch the socket", ENOMEM);
  }
  s->env = env;
  s->fd = fd;
  s->in = in;
  s->out = out;
  s->meta = meta;
  s->slot = (size_t)slot;
  s->batch = batch;
  for (int i = 0; i < batch; i++) {
    s->in_iov[i].iov_base = s->in + (size_t)i * slot;
    s->in_iov[i].iov_len = (size_t)slot;
    s->in_msgs[i].msg_hdr.msg_iov = &s->in_iov[i];
    s->in_msgs[i].msg_hdr.msg_iovlen = 1;
    s->in_msgs[i].msg_hdr.msg_name = &s->in_addr[i];
    s->in_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in6);
    s->out_msgs[i].msg_hdr.msg_iov = &s->out_iov[i];
    s->out_msgs[i].msg_hdr.msg_iovlen = 1;
  }
  napi_create_reference(env, argv[11], 1, &s->callback);
  for (int i = 0; i < 3; i++) napi_create_reference(env, argv[6 + i], 1, &s->buffers[i]);
  napi_value resourceName;
  napi_create_string_utf8(env, "weft:dns-udp-batch", NAPI_AUTO_LENGTH, &resourceName);
  napi_async_init(env, NULL, resourceName, &s->context);
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  napi_add_async_cleanup_hook(env, on_env_cleanup, s, &s->cleanup);
  napi_value handle;
  napi_create_external(env, s, NULL, NULL, &handle);
  return handle;
}

static Sock *sock_of(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "not a socket handle");
    return NULL;
  }
  return data;
}

// port(handle) → the bound port
static napi_value js_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Sock *s = sock_of(env, argv[0]);
  if (!s) return NULL;
  struct sockaddr_in6 a;
  socklen_t length = sizeof a;
  if (getsockname(s->fd, (struct sockaddr *)&a, &length) < 0) return throw_errno(env, "getsockname", errno);
  napi_create_int32(env, ntohs(a.sin6_port), &result);
  return result;
}

// sendTo(handle, bytes, family, address (4 or 16 bytes), port): one reply outside a batch
// (an answer that came back from upstream). Returns false when the kernel did not take it.
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Sock *s = sock_of(env, argv[0]);
  if (!s) return NULL;
  void *bytes, *addr;
  size_t length, addrLength;
  int32_t family, port;
  if (!buffer_of(env, argv[1], &bytes, &length) || !buffer_of(env, argv[3], &addr, &addrLength)) {
    napi_throw_type_error(env, NULL, "sendTo: bytes and address must be typed arrays");
    return NULL;
  }
  napi_get_value_int32(env, argv[2], &family);
  napi_get_value_int32(env, argv[4], &port);
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  socklen_t alen;
  if (family == 4 && addrLength >= 4) {
    struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    memcpy(&a4->sin_addr, addr, 4);
    alen = sizeof(struct sockaddr_in);
  } else if (family == 6 && addrLength >= 16) {
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    memcpy(&a.sin6_addr, addr, 16);
    alen = sizeof(struct sockaddr_in6);
  } else {
    napi_throw_range_error(env, NULL, "sendTo: bad address");
    return NULL;
  }
  ssize_t r = s->closing ? -1 : sendto(s->fd, bytes, length, MSG_DONTWAIT, (struct sockaddr *)&a, alen);
  napi_get_boolean(env, r >= 0, &result);
  return result;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Sock *s = sock_of(env, argv[0]);
  if (s) shut(s);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"port", NULL, js_port, NULL, NULL, NULL, napi_default, NULL},
    {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
