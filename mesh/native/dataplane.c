// The node proxy's data path: every byte the mesh carries goes through here, never through
// JavaScript. It runs on Node's own event loop (libuv), so it calls the node proxy's decisions
// (mesh/node-proxy.ts) synchronously, with no locks and no queues between threads:
// - an accepted outbound connection: onOutbound says refuse, plain TCP to an address, or a
//   tunnel stream on one of the pooled sessions JS opened;
// - a CONNECT stream on an inbound session: onInboundStream answers a status or a pod address;
// - a finished mTLS handshake: verifyPeer checks the peer's SVID;
// - a TLS server name: serverContext names the context (identity) to present.
// What happens afterwards (established, failed, closed with byte counts, a session gone) is
// queued and told to onEvent once the engine is back at the loop, never from inside a call JS
// made. TLS is Node's own OpenSSL and HTTP/2 its nghttp2 (both exported by the node binary).
//
// A tunnelled connection is a pod socket spliced to one HTTP/2 stream: the stream's data
// source reads the pod socket straight into nghttp2's frame, and the DATA one read of the
// session brings is written to the pod socket at once; what the pod does not take yet is kept
// and not acknowledged (WINDOW_UPDATE only for bytes the pod took), so flow control bounds
// every buffer. TLS records go through a BIO pair, so the socket sees large reads and writes.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "mesh.h"

#define STREAM_WINDOW (4 * 1024 * 1024)
#define SESSION_WINDOW (32 * 1024 * 1024)
#define MAX_STREAMS 4096
#define OUT_CHUNK (256 * 1024)
#define NET_BUF (64 * 1024)
#define MAX_FRAME (256 * 1024)
// A drained buffer larger than this is given back: idle sessions and connections keep little.
#define BUF_KEEP (64 * 1024)
#define IO_BUF (64 * 1024)
#define HEADER_MAX 128
#define MAX_HEADER_LIST 8192
#define SWEEP_MS 250

typedef struct engine engine;
typedef struct session session;
typedef struct conn conn;

typedef struct {
  char *data;
  size_t off, len, cap;
} buf;

enum conn_state { C_DECIDING, C_CONNECTING, C_AWAIT_RESPONSE, C_RELAY };
enum conn_kind { K_NONE, K_PLAIN, K_TUNNEL_OUT, K_TUNNEL_IN };
enum session_state { S_CONNECTING, S_HANDSHAKE, S_READY, S_CLOSING };

enum event_type { EV_ESTABLISHED = 1, EV_FAILED = 2, EV_CLOSED = 3, EV_SESSION_DOWN = 4, EV_HANDSHAKE_FAILED = 5 };

typedef struct {
  int type;
  uint32_t id;
  double a, b;
  const char *text;
} event;

// A watched socket: its uv_poll_t must be closed (asynchronously) before its memory goes.
typedef struct {
  int fd;
  int events;
  int open;
  uv_poll_t poll;
} watch;

struct conn {
  engine *e;
  uint32_t id;
  int kind, state, inbound;
  conn *prev, *next;
  // The pod side: accepted (outbound) or connected by the engine (inbound).
  watch pod;
  // Plain relays: the upstream socket.
  watch up;
  session *s;
  int32_t stream_id;
  buf to_pod, to_up;
  int pod_eof, up_eof;   // read EOF from the pod, from the other side (socket or END_STREAM)
  int pod_shut, up_shut; // shutdown(SHUT_WR) done on the pod / upstream (tunnel: END_STREAM sent)
  int stream_closed, deferred, established, dead;
  int drained; // the last read of the pod took less than asked: the socket is empty, the next read would only say EAGAIN
  // References that keep the memory: the end itself, each watch until libuv closed it, the touched list.
  int closing;
  int touched;
  conn *next_touched;
  size_t unconsumed;
  double from_pod, to_pod_bytes;
  uint64_t deadline;
  // An inbound request's headers, until it is decided.
  char method[16], authority[HEADER_MAX], forwarded[HEADER_MAX];
  int bad_authority, bad_forwarded, status;
  size_t header_bytes;
};

struct session {
  engine *e;
  uint32_t id;
  int server, state, retiring, dead, flush_queued, blocked, peer_eof;
  session *prev, *next, *next_flush;
  watch sock;
  SSL *ssl;
  BIO *net; // the network half of the BIO pair SSL reads and writes: the engine moves its bytes
  nghttp2_session *h2;
  buf out;
  conn *touched; // connections that received DATA in this read: written to their pods after it
  int streams;
  uint64_t deadline, last_active;
};

typedef struct {
  SSL_CTX *ctx;
  uint32_t id;
} context;

typedef struct {
  engine *e;
  int inbound;
  watch sock;
} listener;

struct engine {
  napi_env env;
  uv_loop_t *loop;
  napi_ref callbacks;
  napi_async_context async;
  napi_ref resource;
  uv_timer_t sweep, kick;
  int timers_open, destroyed, destroy_requested, depth;
  napi_handle_scope scope;
  uint32_t next_id;
  conn *conns;
  session *sessions, *flush_list;
  listener *listeners[4];
  int nlisteners;
  context *contexts;
  int ncontexts, capcontexts;
  SSL_CTX *server_default;
  event *events;
  int nevents, capevents;
  int counts[2]; // connections per direction: [outbound, inbound]
  int inbound_sessions;
  int max_connections;
  uint64_t connect_timeout, handshake_timeout, idle_timeout;
  nghttp2_session_callbacks *client_callbacks, *server_callbacks;
  nghttp2_option *h2_options;
};

static unsigned char io_buffer[IO_BUF];

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// ---- buffers ------------------------------------------------------------------------------

static size_t buf_pending(const buf *b) { return b->len - b->off; }

static int buf_append(buf *b, const void *data, size_t n) {
  if (b->off == b->len) b->off = b->len = 0;
  if (b->len + n > b->cap) {
    if (b->off > 0) {
      memmove(b->data, b->data + b->off, b->len - b->off);
      b->len -= b->off;
      b->off = 0;
    }
    if (b->len + n > b->cap) {
      size_t cap = b->cap ? b->cap : 16384;
      while (cap < b->len + n) cap *= 2;
      char *p = realloc(b->data, cap);
      if (!p) return -1;
      b->data = p;
      b->cap = cap;
    }
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  return 0;
}

static void buf_free(buf *b) {
  free(b->data);
  b->data = NULL;
  b->off = b->len = b->cap = 0;
}

static void buf_drained(buf *b) {
  if (b->off == b->len && b->cap > BUF_KEEP) buf_free(b);
}

// ---- calling JavaScript -------------------------------------------------------------------

enum callback_index { CB_OUTBOUND, CB_INBOUND_STREAM, CB_VERIFY_PEER, CB_SERVER_CONTEXT, CB_EVENT };
static const char *callback_names[] = { "onOutbound", "onInboundStream", "verifyPeer", "serverContext", "onEvent" };

static napi_value call_js(engine *e, int which, size_t argc, napi_value *argv) {
  napi_env env = e->env;
  // OpenSSL's error queue is per thread, and Node's crypto shares this one: an error the
  // engine left would fail the next crypto call of JS's (a certificate parse, a key).
  ERR_clear_error();
  napi_value callbacks, fn, resource, result = NULL;
  if (napi_get_reference_value(env, e->callbacks, &callbacks) != napi_ok || !callbacks) return NULL;
  if (napi_get_named_property(env, callbacks, callback_names[which], &fn) != napi_ok) return NULL;
  napi_get_reference_value(env, e->resource, &resource);
  napi_status status = napi_make_callback(env, e->async, resource, fn, argc, argv, &result);
  if (status != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    return NULL;
  }
  return result;
}

static napi_value str(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static napi_value undef(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

static void queue_event(engine *e, int type, uint32_t id, double a, double b, const char *text) {
  if (e->nevents == e->capevents) {
    int cap = e->capevents ? e->capevents * 2 : 64;
    event *p = realloc(e->events, cap * sizeof *p);
    if (!p) return;
    e->events = p;
    e->capevents = cap;
  }
  e->events[e->nevents++] = (event){ type, id, a, b, text };
}

// ---- addresses ----------------------------------------------------------------------------

static void address_text(const struct sockaddr_storage *sa, char *text, int *port) {
  if (sa->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, INET6_ADDRSTRLEN);
    *port = ntohs(in6->sin6_port);
  } else {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, text, INET6_ADDRSTRLEN);
    *port = ntohs(in->sin_port);
  }
}

static int parse_address(const char *ip, int port, struct sockaddr_storage *sa, socklen_t *len) {
  memset(sa, 0, sizeof *sa);
  struct sockaddr_in *in = (struct sockaddr_in *)sa;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
  if (port < 0 || port > 65535) return -1;
  if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    *len = sizeof *in;
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    *len = sizeof *in6;
    return 0;
  }
  return -1;
}

// A non-blocking connect; the socket, or -1 with errno.
static int start_connect(const char *ip, int port) {
  struct sockaddr_storage sa;
  socklen_t len;
  if (parse_address(ip, port, &sa, &len) != 0) {
    errno = EINVAL;
    return -1;
  }
  int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&sa, len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Closes with a TCP reset (SO_LINGER 0): a refused or broken connection, never a clean end.
static void reset_fd(int fd) {
  struct linger lg = { 1, 0 };
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

// ---- watched sockets ----------------------------------------------------------------------

static void on_conn_io(uv_poll_t *handle, int status, int events);
static void on_session_io(uv_poll_t *handle, int status, int events);
static void on_listener_io(uv_poll_t *handle, int status, int events);

static int watch_start(engine *e, watch *w, int fd, void *owner) {
  w->fd = fd;
  w->events = 0;
  if (uv_poll_init_socket(e->loop, &w->poll, fd) != 0) return -1;
  w->poll.data = owner;
  w->open = 1;
  return 0;
}

static void watch_set(watch *w, int events, uv_poll_cb cb) {
  if (!w->open || w->events == events) return;
  w->events = events;
  if (events) uv_poll_start(&w->poll, events, cb);
  else uv_poll_stop(&w->poll);
}

// ---- connections --------------------------------------------------------------------------

static void session_mark(session *s);

static conn *conn_new(engine *e, int inbound) {
  conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->e = e;
  c->id = ++e->next_id;
  c->inbound = inbound;
  c->pod.fd = c->up.fd = -1;
  c->next = e->conns;
  if (e->conns) e->conns->prev = c;
  e->conns = c;
  e->counts[inbound]++;
  return c;
}

static void conn_update(conn *c) {
  if (c->dead) return;
  int pod = 0, up = 0;
  if (buf_pending(&c->to_pod)) pod |= UV_WRITABLE;
  if (c->kind == K_PLAIN && c->state == C_RELAY) {
    if (!c->pod_eof && !buf_pending(&c->to_up)) pod |= UV_READABLE;
    if (!c->up_eof && !buf_pending(&c->to_pod)) up |= UV_READABLE;
    if (buf_pending(&c->to_up)) up |= UV_WRITABLE;
  } else if (c->kind != K_PLAIN && (c->state == C_RELAY || c->state == C_AWAIT_RESPONSE)) {
    if (c->deferred) pod |= UV_READABLE;
  }
  if (c->state == C_CONNECTING) {
    if (c->kind == K_PLAIN) up = UV_WRITABLE;
    else pod = UV_WRITABLE;
  }
  watch_set(&c->pod, pod, on_conn_io);
  watch_set(&c->up, up, on_conn_io);
}

static void on_watch_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->closing == 0) free(c);
}

// libuv lets go of the descriptor (synchronously) before it is closed: a number the kernel
// hands out again must never meet a stale registration.
static void watch_close(conn *c, watch *w, int reset) {
  if (w->open) {
    w->open = 0;
    c->closing++;
    uv_close((uv_handle_t *)&w->poll, on_watch_closed);
  }
  if (w->fd >= 0) {
    if (reset) reset_fd(w->fd);
    else close(w->fd);
  }
  w->fd = -1;
}

// Ends a connection: a clean close, or a reset of both sides. Its memory goes once libuv lets go.
static void conn_end(conn *c, int reset) {
  if (c->dead) return;
  engine *e = c->e;
  c->dead = 1;
  if (c->established) queue_event(e, EV_CLOSED, c->id, c->from_pod, c->to_pod_bytes, NULL);
  if (c->s && c->stream_id > 0 && !c->stream_closed) {
    session *s = c->s;
    if (s->h2) {
      nghttp2_session_set_stream_user_data(s->h2, c->stream_id, NULL);
      if (c->unconsumed) nghttp2_session_consume_connection(s->h2, c->unconsumed);
      nghttp2_submit_rst_stream(s->h2, NGHTTP2_FLAG_NONE, c->stream_id, reset ? NGHTTP2_CANCEL : NGHTTP2_NO_ERROR);
      session_mark(s);
    }
  }
  c->closing++;
  watch_close(c, &c->pod, reset);
  watch_close(c, &c->up, reset);
  buf_free(&c->to_pod);
  buf_free(&c->to_up);
  if (c->prev) c->prev->next = c->next;
  else e->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  e->counts[c->inbound]--;
  if (--c->closing == 0) free(c);
}

// Writes what the pod is owed; returns -1 when the pod is gone.
static int flush_to_pod(conn *c) {
  while (buf_pending(&c->to_pod)) {
    ssize_t n = write(c->pod.fd, c->to_pod.data + c->to_pod.off, buf_pending(&c->to_pod));
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      return -1;
    }
    c->to_pod.off += n;
    c->to_pod_bytes += n;
    buf_drained(&c->to_pod);
    if (c->kind != K_PLAIN && c->s && c->s->h2 && c->stream_id > 0 && !c->stream_closed) {
      nghttp2_session_consume(c->s->h2, c->stream_id, n);
      c->unconsumed -= n;
      session_mark(c->s);
    }
  }
  return 0;
}

// The relay of a tunnelled connection moved on: half-closes and the end follow from its flags.
static void tunnel_progress(conn *c) {
  if (c->dead) return;
  if (flush_to_pod(c) < 0) return conn_end(c, 1);
  if (c->up_eof && !buf_pending(&c->to_pod) && !c->pod_shut) {
    shutdown(c->pod.fd, SHUT_WR);
    c->pod_shut = 1;
  }
  if (c->stream_closed && !buf_pending(&c->to_pod)) return conn_end(c, !(c->pod_shut && c->pod_eof));
  conn_update(c);
}

// One direction of a plain relay: from `from` into `to`, what `to` did not take kept in `pending`.
static int pump(int from, int to, buf *pending, int *eof, int *shut, double *count_read, double *count_written) {
  for (;;) {
    if (buf_pending(pending)) {
      ssize_t n = write(to, pending->data + pending->off, buf_pending(pending));
      if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
      pending->off += n;
      if (count_written) *count_written += n;
      if (buf_pending(pending)) return 0;
      buf_drained(pending);
    }
    if (*eof) {
      if (!*shut) {
        shutdown(to, SHUT_WR);
        *shut = 1;
      }
      return 0;
    }
    ssize_t n = read(from, io_buffer, sizeof io_buffer);
    if (n == 0) {
      *eof = 1;
      continue;
    }
    if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    if (count_read) *count_read += n;
    ssize_t w = write(to, io_buffer, n);
    if (w < 0) {
      if (errno != EAGAIN && errno != EINTR) return -1;
      w = 0;
    }
    if (count_written) *count_written += w;
    if (w < n && buf_append(pending, io_buffer + w, n - w) != 0) return -1;
    if (w < n) return 0;
  }
}

static void plain_progress(conn *c) {
  if (c->dead) return;
  if (pump(c->pod.fd, c->up.fd, &c->to_up, &c->pod_eof, &c->up_shut, &c->from_pod, NULL) < 0) return conn_end(c, 1);
  if (pump(c->up.fd, c->pod.fd, &c->to_pod, &c->up_eof, &c->pod_shut, NULL, &c->to_pod_bytes) < 0) return conn_end(c, 1);
  if (c->pod_eof && c->up_eof && c->pod_shut && c->up_shut) return conn_end(c, 0);
  conn_update(c);
}

static int connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

static nghttp2_nv header(const char *name, const char *value) {
  return (nghttp2_nv){ (uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value), NGHTTP2_NV_FLAG_NONE };
}

static ssize_t read_from_pod(nghttp2_session *h2, int32_t stream_id, uint8_t *out, size_t length, uint32_t *flags, nghttp2_data_source *source, void *user_data);

static void respond(session *s, int32_t stream_id, int status, conn *c) {
  char text[8];
  snprintf(text, sizeof text, "%d", status);
  nghttp2_nv nv[] = { header(":status", text) };
  nghttp2_data_provider provider = { .source.ptr = c, .read_callback = read_from_pod };
  nghttp2_submit_response(s->h2, stream_id, nv, 1, c ? &provider : NULL);
  session_mark(s);
}

// The connection is carried: the tunnel answered 200, or the socket on the far side connected.
static void conn_established(conn *c) {
  c->state = C_RELAY;
  c->deadline = 0;
  c->established = 1;
  queue_event(c->e, EV_ESTABLISHED, c->id, 0, 0, NULL);
}

// An inbound stream that will carry nothing: answered with `status` and let go of (what it sent is acknowledged).
static void refuse_stream(conn *c, int status) {
  session *s = c->s;
  int32_t id = c->stream_id;
  c->stream_id = 0;
  c->stream_closed = 1;
  if (!s->h2) return;
  nghttp2_session_set_stream_user_data(s->h2, id, NULL);
  if (c->unconsumed) nghttp2_session_consume_connection(s->h2, c->unconsumed);
  c->unconsumed = 0;
  respond(s, id, status, NULL);
}

static void conn_connected(conn *c) {
  conn_established(c);
  if (c->kind == K_TUNNEL_IN) {
    respond(c->s, c->stream_id, 200, c);
    return tunnel_progress(c);
  }
  plain_progress(c);
}

static void conn_connect_failed(conn *c) {
  queue_event(c->e, EV_FAILED, c->id, 0, 0, NULL);
  if (c->kind == K_TUNNEL_IN) refuse_stream(c, 503);
  conn_end(c, 1);
}


// ---- sessions -----------------------------------------------------------------------------

static void engine_enter(engine *e);
static void engine_leave(engine *e);
static void session_fail(session *s, const char *reason);
static void flush_touched(session *s);

static void session_update(session *s) {
  if (s->dead) return;
  int events = s->peer_eof ? 0 : UV_READABLE;
  if (s->state == S_CONNECTING || s->blocked) events |= UV_WRITABLE;
  watch_set(&s->sock, events, on_session_io);
}

static void session_mark(session *s) {
  if (s->flush_queued || s->dead) return;
  s->flush_queued = 1;
  s->next_flush = s->e->flush_list;
  s->e->flush_list = s;
}

static void on_session_closed(uv_handle_t *h) { free(h->data); }

static void session_free(session *s) {
  engine *e = s->e;
  if (s->server) e->inbound_sessions--;
  if (s->h2) nghttp2_session_del(s->h2);
  s->h2 = NULL;
  if (s->ssl) SSL_free(s->ssl);
  s->ssl = NULL;
  if (s->net) BIO_free(s->net);
  s->net = NULL;
  buf_free(&s->out);
  if (s->prev) s->prev->next = s->next;
  else e->sessions = s->next;
  if (s->next) s->next->prev = s->prev;
  int open = s->sock.open;
  if (open) {
    s->sock.open = 0;
    uv_close((uv_handle_t *)&s->sock.poll, on_session_closed);
  }
  if (s->sock.fd >= 0) close(s->sock.fd);
  s->sock.fd = -1;
  if (!open) free(s);
}

// The session is gone: every connection it carried is reset, JS is told, the memory goes at the tail.
static void session_down(session *s) {
  if (s->dead) return;
  s->dead = 1;
  engine *e = s->e;
  for (conn *c = e->conns, *next; c; c = next) {
    next = c->next;
    if (c->s != s) continue;
    c->stream_closed = 1;
    if (c->state == C_AWAIT_RESPONSE) {
      queue_event(e, EV_FAILED, c->id, -1, 0, NULL);
    }
    conn_end(c, 1);
  }
  flush_touched(s);
  if (s->sock.open) uv_poll_stop(&s->sock.poll);
  queue_event(e, EV_SESSION_DOWN, s->id, s->server, 0, NULL);
}

static void session_fail(session *s, const char *reason) {
  if (s->dead) return;
  if (reason) queue_event(s->e, EV_HANDSHAKE_FAILED, s->id, s->server, 0, reason);
  session_down(s);
}

static const char *verify_reason(long result) {
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "not-yet-valid";
    default:
      return "unknown-ca";
  }
}

static const char *ssl_reason(session *s) {
  long verify = s->ssl ? SSL_get_verify_result(s->ssl) : X509_V_OK;
  unsigned long err = ERR_peek_last_error();
  int reason = ERR_GET_REASON(err);
  ERR_clear_error();
  if (verify != X509_V_OK) return verify_reason(verify);
  if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE || reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED) return "no-client-certificate";
  if (reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA || reason == SSL_R_CERTIFICATE_VERIFY_FAILED) return "unknown-ca";
  if (reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED) return "expired";
  if (reason == SSL_R_CALLBACK_FAILED || reason == SSL_R_TLSV1_UNRECOGNIZED_NAME) return "server-name";
  return "other";
}

// The handshake is done: JS checks the peer's SVID (and, inbound, remembers who it is).
static int session_verified(session *s) {
  engine *e = s->e;
  X509 *peer = SSL_get1_peer_certificate(s->ssl);
  if (!peer) return 0;
  unsigned char *der = NULL;
  int len = i2d_X509(peer, &der);
  X509_free(peer);
  if (len <= 0) return 0;
  napi_value argv[4], buffer;
  void *data;
  napi_create_buffer_copy(e->env, len, der, &data, &buffer);
  OPENSSL_free(der);
  const char *name = SSL_get_servername(s->ssl, TLSEXT_NAMETYPE_host_name);
  argv[0] = num(e->env, s->id);
  argv[1] = buffer;
  argv[2] = num(e->env, s->server);
  argv[3] = name ? str(e->env, name) : undef(e->env);
  napi_value result = call_js(e, CB_VERIFY_PEER, 4, argv);
  bool ok = false;
  if (result) napi_get_value_bool(e->env, result, &ok);
  return ok;
}

// Ciphertext from the socket into the BIO pair, in reads as large as the pair has room for.
static int net_in(session *s) {
  for (;;) {
    char *p;
    int space = BIO_nwrite0(s->net, &p);
    if (space <= 0) return 0;
    ssize_t n = read(s->sock.fd, p, space);
    if (n > 0) {
      BIO_nwrite(s->net, &p, n);
      if (n < space) return 0;
      continue;
    }
    if (n == 0) {
      s->peer_eof = 1;
      BIO_shutdown_wr(s->net);
      return 0;
    }
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
  }
}

// Ciphertext from the BIO pair to the socket, many records to a write; `blocked` when the socket is full.
static int net_out(session *s) {
  s->blocked = 0;
  for (;;) {
    char *p;
    int avail = BIO_nread0(s->net, &p);
    if (avail <= 0) return 0;
    ssize_t n = write(s->sock.fd, p, avail);
    if (n > 0) {
      BIO_nread(s->net, &p, n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      s->blocked = 1;
      return 0;
    }
    return -1;
  }
}

static void session_read(session *s);

static void session_handshake(session *s) {
  if (net_in(s) < 0) return session_fail(s, "other");
  ERR_clear_error();
  int r = SSL_do_handshake(s->ssl);
  int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(s->ssl, r);
  const char *reason = r == 1 || err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ? NULL : ssl_reason(s);
  // An alert on the way out (a refused certificate) is sent before the socket closes.
  if (net_out(s) < 0 && !reason) return session_fail(s, "other");
  if (reason) return session_fail(s, reason);
  if (r == 1) {
    if (SSL_get_verify_result(s->ssl) != X509_V_OK) return session_fail(s, verify_reason(SSL_get_verify_result(s->ssl)));
    if (!session_verified(s)) return session_fail(s, NULL);
    s->state = S_READY;
    s->deadline = 0;
    s->last_active = now_ms();
    session_mark(s);
    // The peer's first frames may have come with its last handshake message.
    return session_read(s);
  }
  if (s->peer_eof) return session_fail(s, "other");
  session_update(s);
}

// Writes what the last read brought to each pod it was for.
static void flush_touched(session *s) {
  while (s->touched) {
    conn *c = s->touched;
    s->touched = c->next_touched;
    c->touched = 0;
    tunnel_progress(c);
    if (--c->closing == 0 && c->dead) free(c);
  }
}

static void session_read(session *s) {
  for (int rounds = 0; rounds < 64 && !s->dead; rounds++) {
    if (net_in(s) < 0) return session_down(s);
    int got = 0;
    for (;;) {
      ERR_clear_error();
      int r = SSL_read(s->ssl, io_buffer, sizeof io_buffer);
      if (r <= 0) {
        if (SSL_get_error(s->ssl, r) == SSL_ERROR_WANT_READ) break;
        // The peer closed (close_notify or EOF) or the stream is broken.
        return session_down(s);
      }
      got = 1;
      s->last_active = now_ms();
      if (nghttp2_session_mem_recv(s->h2, io_buffer, r) < 0) return session_down(s);
      if (s->dead) return;
    }
    flush_touched(s);
    if (!got) break;
  }
  if (net_out(s) < 0) return session_down(s);
  session_mark(s);
}

// Sends what nghttp2 has: frames gathered into up to 256 KiB, sealed into TLS records in the
// BIO pair, and written to the socket in as few writes as it takes.
static void session_flush(session *s) {
  if (s->dead || s->state == S_CONNECTING || s->state == S_HANDSHAKE) return;
  for (;;) {
    if (!buf_pending(&s->out)) {
      s->out.off = s->out.len = 0;
      int frames = 0;
      while (s->out.len < OUT_CHUNK) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(s->h2, &data);
        if (n < 0) return session_down(s);
        if (n == 0) break;
        frames++;
        s->last_active = now_ms();
        if (n >= 16384 && s->out.len == 0) {
          // A large DATA frame is sealed from nghttp2's own buffer; only what TLS did not take is kept.
          ERR_clear_error();
          int r = SSL_write(s->ssl, data, n);
          if (r <= 0 && SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_WRITE) return session_down(s);
          if (r < 0) r = 0;
          if (r < n && buf_append(&s->out, data + r, n - r) != 0) return session_down(s);
          break;
        }
        if (buf_append(&s->out, data, n) != 0) return session_down(s);
      }
      if (!buf_pending(&s->out)) {
        if (net_out(s) < 0) return session_down(s);
        if (s->blocked || frames == 0) break;
        continue;
      }
    }
    ERR_clear_error();
    int r = SSL_write(s->ssl, s->out.data + s->out.off, buf_pending(&s->out));
    if (r > 0) {
      s->out.off += r;
      continue;
    }
    if (SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_WRITE) return session_down(s);
    if (net_out(s) < 0) return session_down(s);
    if (s->blocked) break;
  }
  if (s->dead) return;
  buf_drained(&s->out);
  if (net_out(s) < 0) return session_down(s);
  if (s->retiring && s->streams == 0 && s->state == S_READY) {
    s->state = S_CLOSING;
    nghttp2_session_terminate_session(s->h2, NGHTTP2_NO_ERROR);
    return session_flush(s);
  }
  if (!s->blocked && !buf_pending(&s->out) && !nghttp2_session_want_read(s->h2) && !nghttp2_session_want_write(s->h2)) return session_down(s);
  session_update(s);
}

static void on_session_io(uv_poll_t *handle, int status, int events) {
  session *s = handle->data;
  engine *e = s->e;
  engine_enter(e);
  if (status < 0) {
    session_fail(s, s->state == S_READY || s->state == S_CLOSING ? NULL : "other");
  } else if (s->state == S_CONNECTING) {
    if (connect_result(s->sock.fd) != 0) session_fail(s, "connect");
    else {
      s->state = S_HANDSHAKE;
      session_handshake(s);
    }
  } else if (s->state == S_HANDSHAKE) {
    session_handshake(s);
  } else {
    if (events & UV_READABLE) session_read(s);
    if (events & UV_WRITABLE) session_mark(s);
  }
  engine_leave(e);
}

static session *session_new(engine *e, int fd, int server) {
  session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->e = e;
  s->id = ++e->next_id;
  s->server = server;
  s->sock.fd = fd;
  if (server) e->inbound_sessions++;
  s->next = e->sessions;
  if (e->sessions) e->sessions->prev = s;
  e->sessions = s;
  nghttp2_settings_entry settings[] = {
    { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
    { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS },
    { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
    { NGHTTP2_SETTINGS_MAX_FRAME_SIZE, MAX_FRAME },
    { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST },
  };
  int r = server ? nghttp2_session_server_new2(&s->h2, e->server_callbacks, s, e->h2_options) : nghttp2_session_client_new2(&s->h2, e->client_callbacks, s, e->h2_options);
  if (r != 0 || watch_start(e, &s->sock, fd, s) != 0) {
    s->dead = 1;
    session_free(s);
    return NULL;
  }
  nghttp2_submit_settings(s->h2, NGHTTP2_FLAG_NONE, settings, sizeof settings / sizeof settings[0]);
  nghttp2_session_set_local_window_size(s->h2, NGHTTP2_FLAG_NONE, 0, SESSION_WINDOW);
  s->last_active = now_ms();
  return s;
}

static int attach_pair(session *s) {
  BIO *internal;
  if (BIO_new_bio_pair(&internal, NET_BUF, &s->net, NET_BUF) != 1) return -1;
  SSL_set_bio(s->ssl, internal, internal);
  return 0;
}

static session *find_session(engine *e, uint32_t id) {
  for (session *s = e->sessions; s; s = s->next)
    if (s->id == id) return s;
  return NULL;
}

// ---- nghttp2 callbacks --------------------------------------------------------------------

static ssize_t read_from_pod(nghttp2_session *h2, int32_t stream_id, uint8_t *out, size_t length, uint32_t *flags, nghttp2_data_source *source, void *user_data) {
  conn *c = source->ptr;
  if (!c || c->dead) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  // An outbound tunnel sends what the pod wrote without waiting for the 200: one round trip
  // less for a new connection. The destination proxy holds it until policy allowed the stream
  // and the pod is connected, and drops it otherwise.
  if (c->state != C_RELAY && c->state != C_AWAIT_RESPONSE) {
    c->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (c->drained) {
    c->drained = 0;
    c->deferred = 1;
    conn_update(c);
    return NGHTTP2_ERR_DEFERRED;
  }
  ssize_t n = read(c->pod.fd, out, length);
  if (n > 0) {
    c->from_pod += n;
    c->drained = (size_t)n < length;
    return n;
  }
  if (n == 0) {
    c->pod_eof = 1;
    c->up_shut = 1;
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  if (errno == EAGAIN || errno == EINTR) {
    c->deferred = 1;
    conn_update(c);
    return NGHTTP2_ERR_DEFERRED;
  }
  return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

// DATA frames as large as the peer takes (weft's peers take 256 KiB): fewer frames and reads.
static ssize_t data_length(nghttp2_session *h2, uint8_t type, int32_t stream_id, int32_t session_window, int32_t stream_window, uint32_t max_frame, void *user_data) {
  int32_t n = session_window < stream_window ? session_window : stream_window;
  return n < (int32_t)max_frame ? n : (ssize_t)max_frame;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len, void *user_data) {
  conn *c = nghttp2_session_get_stream_user_data(h2, stream_id);
  if (!c || c->dead || c->kind == K_NONE) {
    nghttp2_session_consume(h2, stream_id, len);
    return 0;
  }
  // Gathered and written once the read is done (many records to a write); acknowledged as written.
  if (buf_append(&c->to_pod, data, len) != 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
  c->unconsumed += len;
  if (c->state == C_RELAY && !c->touched) {
    session *s = user_data;
    c->touched = 1;
    c->closing++;
    c->next_touched = s->touched;
    s->touched = c;
  }
  return 0;
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *user_data) {
  session *s = user_data;
  if (!s->server || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  conn *c = conn_new(s->e, 1);
  if (!c) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  c->kind = K_NONE;
  c->state = C_DECIDING;
  c->s = s;
  c->stream_id = frame->hd.stream_id;
  s->streams++;
  nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, c);
  return 0;
}

static void copy_header(char *dst, size_t cap, const uint8_t *value, size_t len, int *bad) {
  size_t used = strlen(dst);
  if (used) {
    // Repeated: joined as HTTP would, so the parser in JS refuses more than one.
    if (used + 2 + len >= cap) return (void)(*bad = 1);
    memcpy(dst + used, ", ", 2);
    used += 2;
  } else if (len >= cap) {
    return (void)(*bad = 1);
  }
  if (memchr(value, 0, len)) return (void)(*bad = 1);
  memcpy(dst + used, value, len);
  dst[used + len] = 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name, size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data) {
  conn *c = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
  if (!c || c->dead) return 0;
  session *s = user_data;
  if (s->server) {
    // SETTINGS_MAX_HEADER_LIST_SIZE, counted as RFC 9113 does (32 bytes per field besides its name and value).
    c->header_bytes += namelen + valuelen + 32;
    if (c->header_bytes > MAX_HEADER_LIST) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    int ignored = 0;
    if (namelen == 7 && !memcmp(name, ":method", 7)) copy_header(c->method, sizeof c->method, value, valuelen, &ignored);
    else if (namelen == 10 && !memcmp(name, ":authority", 10)) copy_header(c->authority, sizeof c->authority, value, valuelen, &c->bad_authority);
    else if (namelen == 9 && !memcmp(name, "forwarded", 9)) copy_header(c->forwarded, sizeof c->forwarded, value, valuelen, &c->bad_forwarded);
  } else if (namelen == 7 && !memcmp(name, ":status", 7) && valuelen == 3) {
    c->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
  }
  return 0;
}

static void decide_inbound(session *s, conn *c);

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user_data) {
  session *s = user_data;
  int32_t id = frame->hd.stream_id;
  if (id == 0) {
    if (frame->hd.type == NGHTTP2_GOAWAY && !s->retiring) {
      s->retiring = 1;
      if (!s->server) queue_event(s->e, EV_SESSION_DOWN, s->id, 0, 0, NULL);
    }
    return 0;
  }
  conn *c = nghttp2_session_get_stream_user_data(h2, id);
  if (!c || c->dead) return 0;
  int end = (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
  if (s->server && frame->hd.type == NGHTTP2_HEADERS && c->state == C_DECIDING) {
    if (end) c->up_eof = 1;
    decide_inbound(s, c);
    return 0;
  }
  if (!s->server && frame->hd.type == NGHTTP2_HEADERS && c->state == C_AWAIT_RESPONSE && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
    if (c->status != 200) {
      queue_event(s->e, EV_FAILED, c->id, c->status, 0, NULL);
      conn_end(c, 1);
      return 0;
    }
    conn_established(c);
    if (c->deferred) {
      c->deferred = 0;
      nghttp2_session_resume_data(h2, id);
    }
    if (end) c->up_eof = 1;
    tunnel_progress(c);
    return 0;
  }
  if (end) {
    c->up_eof = 1;
    if (c->state == C_RELAY) tunnel_progress(c);
  }
  return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code, void *user_data) {
  session *s = user_data;
  conn *c = nghttp2_session_get_stream_user_data(h2, stream_id);
  if (s->streams > 0) s->streams--;
  session_mark(s);
  if (!c || c->dead) return 0;
  c->stream_closed = 1;
  if (c->unconsumed) nghttp2_session_consume_connection(h2, c->unconsumed);
  c->unconsumed = 0;
  if (c->state == C_AWAIT_RESPONSE) {
    queue_event(s->e, EV_FAILED, c->id, -1, 0, NULL);
    return conn_end(c, 1), 0;
  }
  if (c->state != C_RELAY || error_code != NGHTTP2_NO_ERROR) return conn_end(c, 1), 0;
  tunnel_progress(c);
  return 0;
}

static void decide_inbound(session *s, conn *c) {
  engine *e = s->e;
  napi_env env = e->env;
  napi_value argv[5];
  argv[0] = num(env, s->id);
  argv[1] = num(env, c->id);
  argv[2] = str(env, c->method);
  argv[3] = c->bad_authority || !c->authority[0] ? undef(env) : str(env, c->authority);
  argv[4] = c->bad_forwarded || !c->forwarded[0] ? undef(env) : str(env, c->forwarded);
  napi_value result = call_js(e, CB_INBOUND_STREAM, 5, argv);
  if (c->dead || s->dead) return;
  napi_valuetype type = napi_undefined;
  if (result) napi_typeof(env, result, &type);
  char ip[INET6_ADDRSTRLEN + 1] = { 0 };
  int32_t port = 0, status = 500;
  if (type == napi_number) {
    napi_get_value_int32(env, result, &status);
  } else if (type == napi_object) {
    napi_value v;
    size_t len = 0;
    napi_get_element(env, result, 0, &v);
    napi_get_value_string_utf8(env, v, ip, sizeof ip, &len);
    napi_get_element(env, result, 1, &v);
    napi_get_value_int32(env, v, &port);
    status = 0;
  }
  if (status == 0 && e->counts[1] > e->max_connections) status = 503;
  int fd = -1;
  if (status == 0) {
    fd = start_connect(ip, port);
    if (fd < 0) status = 503;
  }
  if (status != 0) {
    if (status == 503) queue_event(e, EV_FAILED, c->id, 0, 0, NULL);
    refuse_stream(c, status);
    return conn_end(c, 0);
  }
  c->kind = K_TUNNEL_IN;
  c->state = C_CONNECTING;
  c->deadline = now_ms() + e->connect_timeout;
  // The watch owns the descriptor from here, whether or not libuv took it.
  if (watch_start(e, &c->pod, fd, c) != 0) return conn_connect_failed(c);
  conn_update(c);
}

// ---- connections' I/O ---------------------------------------------------------------------

static void on_conn_io(uv_poll_t *handle, int status, int events) {
  conn *c = handle->data;
  engine *e = c->e;
  engine_enter(e);
  if (c->dead) return engine_leave(e);
  if (c->state == C_CONNECTING) {
    int fd = c->kind == K_PLAIN ? c->up.fd : c->pod.fd;
    if (status < 0 || connect_result(fd) != 0) conn_connect_failed(c);
    else conn_connected(c);
    return engine_leave(e);
  }
  if (c->kind == K_PLAIN) {
    plain_progress(c);
  } else {
    if (status < 0) {
      conn_end(c, 1);
    } else {
      if ((events & UV_READABLE) && c->deferred && c->s && c->s->h2) {
        c->deferred = 0;
        nghttp2_session_resume_data(c->s->h2, c->stream_id);
        session_mark(c->s);
      }
      tunnel_progress(c);
    }
  }
  engine_leave(e);
}

// ---- outbound: accepted connections --------------------------------------------------------

static void start_tunnel(engine *e, conn *c, uint32_t session_id, const char *authority, const char *forwarded) {
  session *s = find_session(e, session_id);
  if (!s || s->dead || s->retiring) {
    queue_event(e, EV_FAILED, c->id, -1, 0, NULL);
    return conn_end(c, 1);
  }
  nghttp2_nv nv[] = { header(":method", "CONNECT"), header(":authority", authority), header("forwarded", forwarded) };
  nghttp2_data_provider provider = { .source.ptr = c, .read_callback = read_from_pod };
  int32_t id = nghttp2_submit_request(s->h2, NULL, nv, 3, &provider, c);
  if (id < 0) {
    queue_event(e, EV_FAILED, c->id, -1, 0, NULL);
    return conn_end(c, 1);
  }
  s->streams++;
  c->kind = K_TUNNEL_OUT;
  c->s = s;
  c->stream_id = id;
  c->state = C_AWAIT_RESPONSE;
  c->deadline = now_ms() + e->connect_timeout;
  session_mark(s);
}

static void accept_outbound(engine *e, int fd) {
  struct sockaddr_storage peer, local, dst;
  socklen_t len = sizeof peer;
  if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0) return reset_fd(fd);
  len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return reset_fd(fd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  conn *c = conn_new(e, 0);
  if (!c) return reset_fd(fd);
  if (watch_start(e, &c->pod, fd, c) != 0) return conn_end(c, 1);
  if (e->counts[0] > e->max_connections) {
    queue_event(e, EV_FAILED, c->id, -2, 0, NULL);
    return conn_end(c, 1);
  }
  napi_env env = e->env;
  char peer_ip[INET6_ADDRSTRLEN], local_ip[INET6_ADDRSTRLEN], dst_ip[INET6_ADDRSTRLEN];
  int peer_port, local_port, dst_port;
  address_text(&peer, peer_ip, &peer_port);
  address_text(&local, local_ip, &local_port);
  int err = read_original_dst(fd, &dst);
  napi_value argv[7];
  argv[0] = num(env, c->id);
  argv[1] = str(env, peer_ip);
  argv[2] = num(env, peer_port);
  argv[3] = str(env, local_ip);
  argv[4] = num(env, local_port);
  if (err == 0) {
    address_text(&dst, dst_ip, &dst_port);
    argv[5] = str(env, dst_ip);
    argv[6] = num(env, dst_port);
  } else {
    argv[5] = undef(env);
    argv[6] = num(env, err);
  }
  napi_value result = call_js(e, CB_OUTBOUND, 7, argv);
  if (c->dead) return;
  // [1, ip, port]: plain TCP; [2, session, authority, forwarded]: a tunnel stream; anything else: refused.
  uint32_t kind = 0;
  bool is_array = false;
  if (result) napi_is_array(env, result, &is_array);
  napi_value v;
  if (is_array && napi_get_element(env, result, 0, &v) == napi_ok) napi_get_value_uint32(env, v, &kind);
  if (kind == 1) {
    char ip[INET6_ADDRSTRLEN + 1] = { 0 };
    int32_t port = 0;
    size_t n;
    napi_get_element(env, result, 1, &v);
    napi_get_value_string_utf8(env, v, ip, sizeof ip, &n);
    napi_get_element(env, result, 2, &v);
    napi_get_value_int32(env, v, &port);
    int up = start_connect(ip, port);
    c->kind = K_PLAIN;
    c->state = C_CONNECTING;
    c->deadline = now_ms() + e->connect_timeout;
    if (up < 0 || watch_start(e, &c->up, up, c) != 0) return conn_connect_failed(c);
    return conn_update(c);
  }
  if (kind == 2) {
    uint32_t session_id = 0;
    char authority[HEADER_MAX] = { 0 }, forwarded[HEADER_MAX] = { 0 };
    size_t n;
    napi_get_element(env, result, 1, &v);
    napi_get_value_uint32(env, v, &session_id);
    napi_get_element(env, result, 2, &v);
    napi_get_value_string_utf8(env, v, authority, sizeof authority, &n);
    napi_get_element(env, result, 3, &v);
    napi_get_value_string_utf8(env, v, forwarded, sizeof forwarded, &n);
    return start_tunnel(e, c, session_id, authority, forwarded);
  }
  conn_end(c, 1);
}

static void accept_inbound(engine *e, int fd) {
  // Sessions from peers (and from anyone, until the handshake proves otherwise) count against the same limit as connections.
  if (e->inbound_sessions >= e->max_connections) return reset_fd(fd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  session *s = session_new(e, fd, 1);
  if (!s) return reset_fd(fd);
  s->ssl = SSL_new(e->server_default);
  if (!s->ssl || attach_pair(s) != 0) return session_fail(s, "other");
  SSL_set_app_data(s->ssl, s);
  SSL_set_accept_state(s->ssl);
  s->state = S_HANDSHAKE;
  s->deadline = now_ms() + e->handshake_timeout;
  session_handshake(s);
}

static void on_listener_io(uv_poll_t *handle, int status, int events) {
  listener *l = handle->data;
  engine *e = l->e;
  engine_enter(e);
  for (int i = 0; i < 64 && l->sock.fd >= 0; i++) {
    int fd = accept4(l->sock.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    if (l->inbound) accept_inbound(e, fd);
    else accept_outbound(e, fd);
  }
  engine_leave(e);
}

// ---- TLS contexts -------------------------------------------------------------------------

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen, void *arg) {
  for (unsigned int i = 0; i < inlen; i += in[i] + 1) {
    if (in[i] == 2 && i + 3 <= inlen && in[i + 1] == 'h' && in[i + 2] == '2') {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static SSL_CTX *context_of(engine *e, uint32_t id) {
  for (int i = 0; i < e->ncontexts; i++)
    if (e->contexts[i].id == id) return e->contexts[i].ctx;
  return NULL;
}

// The TLS server name asks for an identity: JS names the context that presents it.
static int on_server_name(SSL *ssl, int *alert, void *arg) {
  session *s = SSL_get_app_data(ssl);
  engine *e = s->e;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  napi_value argv[1] = { name ? str(e->env, name) : undef(e->env) };
  napi_value result = call_js(e, CB_SERVER_CONTEXT, 1, argv);
  uint32_t id = 0;
  if (result) napi_get_value_uint32(e->env, result, &id);
  SSL_CTX *ctx = id ? context_of(e, id) : NULL;
  if (!ctx) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  SSL_set_SSL_CTX(ssl, ctx);
  SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *base_context(void) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (!ctx) return NULL;
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
  return ctx;
}

// ---- the engine's loop tail ---------------------------------------------------------------

// A libuv callback of the engine's: in a handle scope of its own; the tail runs as it returns.
static void engine_enter(engine *e) {
  if (e->depth++ == 0) napi_open_handle_scope(e->env, &e->scope);
}

static void deliver_events(engine *e) {
  while (e->nevents > 0 && !e->destroyed) {
    int n = e->nevents;
    event *batch = malloc(n * sizeof *batch);
    if (!batch) return;
    memcpy(batch, e->events, n * sizeof *batch);
    e->nevents = 0;
    for (int i = 0; i < n; i++) {
      napi_handle_scope scope;
      napi_open_handle_scope(e->env, &scope);
      napi_value argv[5] = { num(e->env, batch[i].type), num(e->env, batch[i].id), num(e->env, batch[i].a), num(e->env, batch[i].b), batch[i].text ? str(e->env, batch[i].text) : undef(e->env) };
      call_js(e, CB_EVENT, 5, argv);
      napi_close_handle_scope(e->env, scope);
    }
    free(batch);
  }
}

static void engine_tail(engine *e) {
  for (int rounds = 0; rounds < 8; rounds++) {
    while (e->flush_list) {
      session *s = e->flush_list;
      e->flush_list = s->next_flush;
      s->flush_queued = 0;
      session_flush(s);
    }
    for (session *s = e->sessions, *next; s; s = next) {
      next = s->next;
      if (s->dead) session_free(s);
    }
    if (!e->nevents) break;
    e->depth++;
    deliver_events(e);
    e->depth--;
  }
}

static void engine_release(napi_env env, engine *e);

static void engine_leave(engine *e) {
  if (e->depth > 1) {
    e->depth--;
    return;
  }
  if (!e->destroyed) engine_tail(e);
  ERR_clear_error();
  e->depth = 0;
  napi_close_handle_scope(e->env, e->scope);
  if (e->destroy_requested) engine_release(e->env, e);
}

static void on_kick(uv_timer_t *t) {
  engine *e = t->data;
  engine_enter(e);
  engine_leave(e);
}

// A method JS called: what it set in motion (output, events) waits for the loop, so JS is
// never called back from inside its own call.
static void js_enter(engine *e) { e->depth++; }

static void js_leave(engine *e) {
  ERR_clear_error();
  if (--e->depth == 0 && !e->destroyed) uv_timer_start(&e->kick, on_kick, 0, 0);
}

static void on_sweep(uv_timer_t *t) {
  engine *e = t->data;
  uint64_t now = now_ms();
  engine_enter(e);
  for (conn *c = e->conns, *next; c; c = next) {
    next = c->next;
    if (!c->deadline || c->deadline > now || c->dead) continue;
    if (c->state == C_CONNECTING) conn_connect_failed(c);
    else if (c->state == C_AWAIT_RESPONSE) {
      queue_event(e, EV_FAILED, c->id, -1, 0, NULL);
      conn_end(c, 1);
    }
  }
  for (session *s = e->sessions; s; s = s->next) {
    if (s->dead) continue;
    if (s->deadline && s->deadline <= now && s->state != S_READY && s->state != S_CLOSING) session_fail(s, "timeout");
    else if (s->state == S_READY && !s->retiring && now - s->last_active >= e->idle_timeout) {
      s->retiring = 1;
      if (!s->server) queue_event(e, EV_SESSION_DOWN, s->id, 0, 0, NULL);
      session_mark(s);
    }
  }
  engine_leave(e);
}

// ---- the JavaScript face ------------------------------------------------------------------

static engine *engine_of(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  void *data;
  napi_get_cb_info(env, info, argc, argv, NULL, &data);
  engine *e = data;
  if (e->destroyed) {
    napi_throw_error(env, "EDESTROYED", "the mesh data path was stopped");
    return NULL;
  }
  return e;
}

static int32_t arg_int(napi_env env, napi_value v) {
  int32_t n = 0;
  napi_get_value_int32(env, v, &n);
  return n;
}

static char *arg_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

// listen(inbound, host, port) → the port bound (port 0: a free one).
static napi_value js_listen(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  engine *e = engine_of(env, info, &argc, argv);
  if (!e) return NULL;
  bool inbound = false;
  napi_get_value_bool(env, argv[0], &inbound);
  char host[INET6_ADDRSTRLEN + 1] = { 0 };
  size_t n;
  napi_get_value_string_utf8(env, argv[1], host, sizeof host, &n);
  struct sockaddr_storage sa;
  socklen_t len;
  if (e->nlisteners >= 4) return throw_errno(env, "listen", EINVAL);
  if (parse_address(host, arg_int(env, argv[2]), &sa, &len) != 0) return throw_errno(env, "listen: not an IP address", EINVAL);
  int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // A restarted agent takes new connections on the same ports while the old one drains.
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (sa.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, 4096) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "listen", err);
  }
  struct sockaddr_storage bound;
  len = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &len);
  char text[INET6_ADDRSTRLEN];
  int port;
  address_text(&bound, text, &port);
  listener *l = calloc(1, sizeof *l);
  l->e = e;
  l->inbound = inbound;
  l->sock.fd = fd;
  uv_poll_init_socket(e->loop, &l->sock.poll, fd);
  l->sock.poll.data = l;
  l->sock.open = 1;
  watch_set(&l->sock, UV_READABLE, on_listener_io);
  e->listeners[e->nlisteners++] = l;
  return num(env, port);
}

static void on_listener_closed(uv_handle_t *h) { free(h->data); }

static void close_listeners(engine *e) {
  for (int i = 0; i < e->nlisteners; i++) {
    listener *l = e->listeners[i];
    uv_close((uv_handle_t *)&l->sock.poll, on_listener_closed);
    close(l->sock.fd);
    l->sock.fd = -1;
  }
  e->nlisteners = 0;
}

static napi_value js_stop_listening(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  engine *e = engine_of(env, info, &argc, NULL);
  if (e) close_listeners(e);
  return NULL;
}

// createContext(certPem, keyPem, rootPem) → an id; the identity presented and the root trusted.
static napi_value js_create_context(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  engine *e = engine_of(env, info, &argc, argv);
  if (!e) return NULL;
  char *pems[3];
  for (int i = 0; i < 3; i++) pems[i] = arg_string(env, argv[i]);
  SSL_CTX *ctx = base_context();
  int ok = ctx && pems[0] && pems[1] && pems[2];
  if (ok) {
    BIO *bio = BIO_new_mem_buf(pems[0], -1);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    ok = cert && SSL_CTX_use_certificate(ctx, cert) == 1;
    X509 *extra;
    while (ok && (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL))) SSL_CTX_add0_chain_cert(ctx, extra);
    X509_free(cert);
    BIO_free(bio);
  }
  if (ok) {
    BIO *bio = BIO_new_mem_buf(pems[1], -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(key);
    BIO_free(bio);
  }
  if (ok) {
    BIO *bio = BIO_new_mem_buf(pems[2], -1);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    X509 *root;
    int roots = 0;
    while ((root = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
      X509_STORE_add_cert(store, root);
      X509_free(root);
      roots++;
    }
    BIO_free(bio);
    ok = roots > 0;
  }
  for (int i = 0; i < 3; i++) free(pems[i]);
  ERR_clear_error();
  if (!ok) {
    if (ctx) SSL_CTX_free(ctx);
    napi_throw_error(env, "EINVAL", "the mesh identity's certificate, key or root does not parse");
    return NULL;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2", 3);
  if (e->ncontexts == e->capcontexts) {
    int cap = e->capcontexts ? e->capcontexts * 2 : 8;
    context *p = realloc(e->contexts, cap * sizeof *p);
    if (!p) {
      SSL_CTX_free(ctx);
      napi_throw_error(env, "ENOMEM", "out of memory");
      return NULL;
    }
    e->contexts = p;
    e->capcontexts = cap;
  }
  uint32_t id = ++e->next_id;
  e->contexts[e->ncontexts++] = (context){ ctx, id };
  return num(env, id);
}

// freeContext(id): handshakes under way keep their own reference.
static napi_value js_free_context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  engine *e = engine_of(env, info, &argc, argv);
  if (!e) return NULL;
  uint32_t id = arg_int(env, argv[0]);
  for (int i = 0; i < e->ncontexts; i++) {
    if (e->contexts[i].id != id) continue;
    SSL_CTX_free(e->contexts[i].ctx);
    e->contexts[i] = e->contexts[--e->ncontexts];
    break;
  }
  return NULL;
}

// openSession(host, port, serverName, contextId) → a session id; it connects and shakes hands in the background.
static napi_value js_open_session(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  engine *e = engine_of(env, info, &argc, argv);
  if (!e) return NULL;
  char host[INET6_ADDRSTRLEN + 1] = { 0 }, name[256] = { 0 };
  size_t n;
  napi_get_value_string_utf8(env, argv[0], host, sizeof host, &n);
  napi_get_value_string_utf8(env, argv[2], name, sizeof name, &n);
  SSL_CTX *ctx = context_of(e, arg_int(env, argv[3]));
  if (!ctx) return throw_errno(env, "openSession: no such context", EINVAL);
  int fd = start_connect(host, arg_int(env, argv[1]));
  if (fd < 0) return throw_errno(env, "connect", errno);
  js_enter(e);
  session *s = session_new(e, fd, 0);
  napi_value result = NULL;
  if (!s) {
    close(fd);
    throw_errno(env, "openSession", ENOMEM);
  } else {
    s->ssl = SSL_new(ctx);
    if (!s->ssl || attach_pair(s) != 0) {
      session_fail(s, "other");
      js_leave(e);
      return throw_errno(env, "openSession", ENOMEM);
    }
    SSL_set_app_data(s->ssl, s);
    SSL_set_tlsext_host_name(s->ssl, name);
    SSL_set_connect_state(s->ssl);
    s->state = S_CONNECTING;
    s->deadline = now_ms() + e->connect_timeout;
    session_update(s);
    result = num(env, s->id);
  }
  js_leave(e);
  return result;
}

// retireSession(id): no new streams; it closes (GOAWAY) once its streams have ended.
static napi_value js_retire_session(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  engine *e = engine_of(env, info, &argc, argv);
  if (!e) return NULL;
  js_enter(e);
  uint32_t id = arg_int(env, argv[0]);
  for (session *s = e->sessions; s; s = s->next) {
    if (s->dead || (id && s->id != id) || (!id && s->server)) continue;
    if (s->state == S_CONNECTING || s->state == S_HANDSHAKE) {
      session_fail(s, NULL);
      continue;
    }
    s->retiring = 1;
    session_mark(s);
  }
  js_leave(e);
  return NULL;
}

// carried() → connections under way (both directions, deciding, connecting or relaying).
static napi_value js_carried(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  engine *e = engine_of(env, info, &argc, NULL);
  if (!e) return NULL;
  return num(env, e->counts[0] + e->counts[1]);
}

static void engine_destroy(engine *e) {
  if (e->destroyed) return;
  e->depth++;
  close_listeners(e);
  while (e->conns) conn_end(e->conns, 1);
  for (session *s = e->sessions; s; s = s->next) s->dead = 1;
  while (e->sessions) session_free(e->sessions);
  e->flush_list = NULL;
  e->nevents = 0;
  e->destroyed = 1;
  e->depth--;
  for (int i = 0; i < e->ncontexts; i++) SSL_CTX_free(e->contexts[i].ctx);
  e->ncontexts = 0;
  SSL_CTX_free(e->server_default);
  nghttp2_session_callbacks_del(e->client_callbacks);
  nghttp2_session_callbacks_del(e->server_callbacks);
  nghttp2_option_del(e->h2_options);
  free(e->events);
  free(e->contexts);
  e->events = NULL;
  e->contexts = NULL;
  uv_timer_stop(&e->sweep);
  uv_timer_stop(&e->kick);
  ERR_clear_error();
}

static void on_timer_closed(uv_handle_t *h) {
  engine *e = h->data;
  if (--e->timers_open == 0) free(e);
}

static void engine_release(napi_env env, engine *e) {
  engine_destroy(e);
  if (e->callbacks) napi_delete_reference(env, e->callbacks);
  if (e->resource) napi_delete_reference(env, e->resource);
  if (e->async) napi_async_destroy(env, e->async);
  e->callbacks = e->resource = NULL;
  e->async = NULL;
  uv_close((uv_handle_t *)&e->sweep, on_timer_closed);
  uv_close((uv_handle_t *)&e->kick, on_timer_closed);
}

static void on_env_cleanup(void *arg) {
  engine *e = arg;
  engine_destroy(e);
}

// destroy(): every connection reset, every session and listener closed; the engine takes no more calls.
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  void *data;
  napi_get_cb_info(env, info, &argc, NULL, NULL, &data);
  engine *e = data;
  if (e->destroyed || e->destroy_requested) return NULL;
  napi_remove_env_cleanup_hook(env, on_env_cleanup, e);
  // Called from JS the engine called (a microtask after a callback): it goes when that call returns.
  if (e->depth > 0) {
    e->destroy_requested = 1;
    return NULL;
  }
  engine_release(env, e);
  return NULL;
}

// createEngine(callbacks, { connectTimeoutMs, handshakeTimeoutMs, idleTimeoutMs, maxConnections }) → the engine's methods.
static napi_value js_create_engine(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "createEngine(callbacks, options)");
    return NULL;
  }
  engine *e = calloc(1, sizeof *e);
  e->env = env;
  napi_get_uv_event_loop(env, &e->loop);
  napi_create_reference(env, argv[0], 1, &e->callbacks);
  napi_value resource, name, v;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &e->resource);
  napi_create_string_utf8(env, "weft:mesh-dataplane", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &e->async);
  const char *keys[] = { "connectTimeoutMs", "handshakeTimeoutMs", "idleTimeoutMs", "maxConnections" };
  double values[4] = { 10000, 10000, 600000, 16384 };
  for (int i = 0; i < 4; i++) {
    bool has = false;
    napi_has_named_property(env, argv[1], keys[i], &has);
    if (has && napi_get_named_property(env, argv[1], keys[i], &v) == napi_ok) napi_get_value_double(env, v, &values[i]);
  }
  e->connect_timeout = values[0];
  e->handshake_timeout = values[1];
  e->idle_timeout = values[2];
  e->max_connections = values[3];
  e->server_default = base_context();
  SSL_CTX_set_tlsext_servername_callback(e->server_default, on_server_name);
  SSL_CTX_set_verify(e->server_default, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  for (int server = 0; server < 2; server++) {
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_data_source_read_length_callback(cb, data_length);
    if (server) nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    if (server) e->server_callbacks = cb;
    else e->client_callbacks = cb;
  }
  nghttp2_option_new(&e->h2_options);
  nghttp2_option_set_no_auto_window_update(e->h2_options, 1);
  nghttp2_option_set_max_outbound_ack(e->h2_options, 1000);
  uv_timer_init(e->loop, &e->sweep);
  uv_timer_init(e->loop, &e->kick);
  e->sweep.data = e->kick.data = e;
  e->timers_open = 2;
  uv_timer_start(&e->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
  uv_unref((uv_handle_t *)&e->sweep);
  napi_add_env_cleanup_hook(env, on_env_cleanup, e);

  napi_value api;
  napi_create_object(env, &api);
  napi_property_descriptor methods[] = {
    { "listen", NULL, js_listen, NULL, NULL, NULL, napi_default, e },
    { "stopListening", NULL, js_stop_listening, NULL, NULL, NULL, napi_default, e },
    { "createContext", NULL, js_create_context, NULL, NULL, NULL, napi_default, e },
    { "freeContext", NULL, js_free_context, NULL, NULL, NULL, napi_default, e },
    { "openSession", NULL, js_open_session, NULL, NULL, NULL, napi_default, e },
    { "retireSession", NULL, js_retire_session, NULL, NULL, NULL, napi_default, e },
    { "carried", NULL, js_carried, NULL, NULL, NULL, napi_default, e },
    { "destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, e },
  };
  napi_define_properties(env, api, sizeof methods / sizeof methods[0], methods);
  return api;
}

void register_dataplane(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "createEngine", NAPI_AUTO_LENGTH, js_create_engine, NULL, &fn);
  napi_set_named_property(env, exports, "createEngine", fn);
}
