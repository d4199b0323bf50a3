/* test-frontend.c: VhostUserFrontend against our back-end and scripted peers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Most tests put a VhostUserFrontend and a VhostUserBackend on the two ends
 * of a socket pair, in one context that the test thread runs: the
 * back-end's defaults answer, and a recorder on every back-end signal sees
 * what arrived. The tests of timeouts and of hostile replies put a thread
 * with blocking sockets on the other end instead, which writes what a
 * well-behaved back-end never would.
 */

#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-signal-args.h"
#include "test-util.h"
#include "vhost-user-message-private.h"
#include "vhost-user-socket-private.h"

#define REQ(name)  VHOST_USER_REQUEST_##name
#define PF(name)   ((guint64) VHOST_USER_PROTOCOL_FEATURE_##name)
#define F_BIT(bit) VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_##bit)
#define F_NET_MTU  VHOST_USER_FEATURE (3)

/* NET_SET_MTU, SET_VRING_ENABLE and IOTLB_MSG are gated on virtio bits 3,
 * 30 and 33; packed rings (34) take part in ring sizes */
#define OFFERED    (F_NET_MTU | F_BIT (PROTOCOL_FEATURES) | F_BIT (VERSION_1) | \
                    F_BIT (ACCESS_PLATFORM) | F_BIT (RING_PACKED))
#define PF_ALL     VHOST_USER_PROTOCOL_FEATURES_KNOWN
/* in-band notifications need REPLY_ACK (the back-end hangs up otherwise) */
#define PF_NO_ACK  (PF_ALL & ~(PF (REPLY_ACK) | PF (INBAND_NOTIFICATIONS)))
#define NUM_QUEUES 2
#define MEM_SLOTS  32
#define CONFIG_LEN 16
#define WRITABLE   8      /* config bytes 0..7 may be written */
#define UADDR      G_GUINT64_CONSTANT (0x7f0000000000)
#define WAIT_MS    5000   /* anything slower than this is a hang */
#define X64        "0x%" G_GINT64_MODIFIER "x"
/* what the scripted peers answer to GET_FEATURES */
#define PEER_FEATURES F_BIT (VERSION_1)
#define VR         (VHOST_USER_PROTOCOL_VERSION | VHOST_USER_FLAG_REPLY)

typedef struct {
  GMainContext        *context;
  VhostUserFrontend   *frontend;
  VhostUserBackend    *backend;     /* NULL when a peer thread plays the back-end */
  guint                baseline_fds;
  guint                baseline_maps;
  int                  extra_fd;    /* the other end of SET_BACKEND_REQ_FD's socket */

  /* the front-end's "disconnected" */
  guint                disconnects;
  gboolean             disconnected;
  GError              *disconnect_error;
  gboolean             should_reconnect;

  /* the back-end's signals: every name, and the watched request's arguments */
  GPtrArray           *names;
  guint32              watched;
  guint                fired;
  char                *args;
  VhostUserInvocation *held;
  gboolean             held_seen;

  /* a peer thread on blocking sockets */
  GThread             *peer;
  GSocket             *peer_socket;
  GAsyncQueue         *peer_done;
  gconstpointer        script;
} Fixture;

/* --- helpers --- */

/* Guest memory, logs and in-flight areas are all memfds: unlike the whole
 * of /proc/self/maps, which ASan and valgrind change on their own, their
 * count is exact. */
static guint
count_memfd_mappings (void)
{
  g_autofree char *maps = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  for (const char *p = maps; (p = strstr (p, "/memfd:")) != NULL; p++)
    n++;
  return n;
}

/* A memfd of @size bytes with @text at @at, to recognise it once mapped. */
static int
guest_memfd (gsize       size,
             gsize       at,
             const char *text)
{
  int fd = test_memfd (size);

  g_assert_cmpint (pwrite (fd, text, strlen (text) + 1, at), ==, (gssize) strlen (text) + 1);
  return fd;
}

static const char *
request_nick (guint request)
{
  static GEnumClass *klass;

  if (klass == NULL)
    klass = g_type_class_ref (VHOST_USER_TYPE_REQUEST_TYPE);
  return g_enum_get_value (klass, request)->value_nick;
}

static const VhostUserRequestInfo *
info_of (guint32 number)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, number);

  g_assert_nonnull (info);
  return info;
}

/* How @number is answered with what @f's front-end negotiated. */
static VhostUserReplyKind
reply_kind (Fixture *f,
            guint32  number)
{
  return vhost_user_request_info_get_reply (info_of (number),
                                            vhost_user_frontend_get_acked_protocol_features (f->frontend));
}

/* An async call's outcome, and when it came. */
typedef struct {
  GAsyncResult *result;
  gboolean      done;
  gint64        at;
} Call;

static void
call_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Call *call = user_data;

  g_assert_false (call->done);
  call->result = g_object_ref (result);
  call->done = TRUE;
  call->at = g_get_monotonic_time ();
}

static void
wait_call (Fixture *f,
           Call    *call)
{
  g_assert_true (test_iterate_until (f->context, &call->done, WAIT_MS));
}

/* Waits for a request_async() and finishes it. */
static GBytes *
finish_call (Fixture      *f,
             Call         *call,
             GUnixFDList **out_fds,
             GError      **error)
{
  GBytes *reply;

  wait_call (f, call);
  reply = vhost_user_frontend_request_finish (f->frontend, call->result, out_fds, error);
  g_clear_object (&call->result);
  return reply;
}

static void
run_later (Fixture     *f,
           guint        ms,
           GSourceFunc  func,
           gpointer     data)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, f->context);
  g_source_unref (source);
}

/* --- fixtures --- */

static void
on_disconnected (VhostUserFrontend *frontend,
                 const GError      *error,
                 gboolean           should_reconnect,
                 Fixture           *f)
{
  g_assert_false (vhost_user_frontend_get_connected (frontend));
  f->disconnects++;
  f->disconnected = TRUE;
  g_clear_error (&f->disconnect_error);
  f->disconnect_error = g_error_copy (error);
  f->should_reconnect = should_reconnect;
}

/* On every back-end signal: notes the name, and the watched request's
 * arguments; the default handler answers. */
static void
record_marshal (GClosure     *closure,
                GValue       *return_value,
                guint         n_param_values,
                const GValue *param_values,
                gpointer      invocation_hint,
                gpointer      marshal_data)
{
  Fixture *f = closure->data;
  guint request = vhost_user_invocation_get_request (g_value_get_object (&param_values[1]));

  g_ptr_array_add (f->names, (gpointer) request_nick (request));
  if (request == f->watched && f->fired++ == 0)
    f->args = test_format_signal_args (n_param_values - 2, param_values + 2);
  g_value_set_boolean (return_value, FALSE);
}

static void
reset_records (Fixture *f)
{
  g_ptr_array_set_size (f->names, 0);
  g_clear_pointer (&f->args, g_free);
  f->fired = 0;
}

/* A front-end with no peer: the test brings one. */
static void
fixture_setup_bare (Fixture       *f,
                    gconstpointer  data)
{
  f->baseline_fds = test_count_open_fds ();
  f->baseline_maps = count_memfd_mappings ();
  f->extra_fd = -1;
  f->names = g_ptr_array_new ();
  f->context = g_main_context_new ();
  /* async callbacks come back in the caller's thread-default context */
  g_main_context_push_thread_default (f->context);
  f->frontend = g_object_new (VHOST_USER_TYPE_FRONTEND, "main-context", f->context, NULL);
  g_signal_connect (f->frontend, "disconnected", G_CALLBACK (on_disconnected), f);
}

/* A front-end connected to our back-end. */
static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  guint8 config[CONFIG_LEN], mask[CONFIG_LEN] = { 0 };
  g_autoptr(GBytes) config_bytes = NULL;
  g_autoptr(GBytes) mask_bytes = NULL;
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GSocket) back = NULL;
  g_autoptr(GError) error = NULL;

  fixture_setup_bare (f, data);
  for (guint i = 0; i < CONFIG_LEN; i++)
    config[i] = 0x10 + i;
  memset (mask, 0xff, WRITABLE);
  config_bytes = g_bytes_new (config, sizeof config);
  mask_bytes = g_bytes_new (mask, sizeof mask);
  f->backend = g_object_new (VHOST_USER_TYPE_BACKEND,
                             "main-context", f->context,
                             "features", OFFERED,
                             "protocol-features", PF_ALL,
                             "num-queues", NUM_QUEUES,
                             "max-mem-slots", MEM_SLOTS,
                             "config", config_bytes,
                             "config-writable-mask", mask_bytes,
                             NULL);
  for (guint i = REQ (GET_FEATURES); i <= VHOST_USER_LAST_REQUEST; i++)
    {
      GClosure *closure = g_closure_new_simple (sizeof (GClosure), f);

      g_closure_set_marshal (closure, record_marshal);
      g_signal_connect_closure (f->backend, request_nick (i), closure, FALSE);
    }

  g_assert_true (vhost_user_socket_pair (&front, &back, &error));
  g_assert_true (vhost_user_backend_take_socket (f->backend, back, &error));
  g_assert_true (vhost_user_frontend_take_socket (f->frontend, front, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gpointer frontend = f->frontend;

  g_object_add_weak_pointer (G_OBJECT (frontend), &frontend);
  g_clear_object (&f->held);
  g_clear_object (&f->frontend);
  g_clear_object (&f->backend);
  /* a peer thread ends when it reads the hang-up */
  if (f->peer != NULL)
    g_thread_join (f->peer);
  g_clear_object (&f->peer_socket);
  g_clear_pointer (&f->peer_done, g_async_queue_unref);
  if (f->extra_fd >= 0)
    g_close (f->extra_fd, NULL);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
  g_ptr_array_unref (f->names);
  g_free (f->args);
  g_clear_error (&f->disconnect_error);

  /* no task, source or closure still holds the front-end */
  g_assert_null (frontend);
  g_assert_cmpuint (test_count_open_fds (), ==, f->baseline_fds);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps);
}

static void
negotiate (Fixture *f,
           guint64  protocol_features)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_frontend_negotiate (f->frontend, OFFERED, protocol_features, NULL, &error));
  g_assert_no_error (error);
  reset_records (f);
}

/* The back-end answers in order: once a request that always gets a reply
 * is answered, everything sent before it was processed. */
static void
sync_backend (Fixture *f,
              guint32  watched)
{
  g_autoptr(GError) error = NULL;
  guint32 marker = watched == REQ (GET_FEATURES) ? REQ (GET_PROTOCOL_FEATURES) : REQ (GET_FEATURES);

  vhost_user_frontend_get_u64 (f->frontend, marker, NULL, &error);
  g_assert_no_error (error);
}

/* --- 1. every request, async, blocking and typed, against the back-end's defaults --- */

typedef struct {
  guint32     number;
  guint64     value;  /* the u64 sent, or the num of ring 1's state */
  gboolean    nack;   /* the default refuses it: with REPLY_ACK, a NACK */
  const char *args;   /* what a handler gets (NULL: the protocol features acked) */
  const char *reply;  /* for requests that always get a reply */
} Row;

static const Row rows[] = {
  { REQ (GET_FEATURES), 0, FALSE, "", "0x740000008" },
  { REQ (SET_FEATURES), OFFERED, FALSE, "0x740000008", NULL },
  /* negotiate() took ownership already */
  { REQ (SET_OWNER), 0, TRUE, "", NULL },
  { REQ (RESET_OWNER), 0, FALSE, "", NULL },
  /* ordered by guest address, each mapped where its text is */
  { REQ (SET_MEM_TABLE), 0, FALSE, "0x0+0x1000@0x7f0000000000/0x1000:low 0x100000+0x1000@0x7f0000100000/0x0:high", NULL },
  { REQ (SET_LOG_BASE), 0, FALSE, "0x1000 0x1000 fd", "0x0" },
  { REQ (SET_LOG_FD), 0, FALSE, "fd", NULL },
  { REQ (SET_VRING_NUM), 256, FALSE, "1 256", NULL },
  { REQ (SET_VRING_ADDR), 0, FALSE, "1 flags=1 desc=0x1000 used=0x2000 avail=0x3000 log=0x4000", NULL },
  { REQ (SET_VRING_BASE), 42, FALSE, "1 42", NULL },
  /* packed rings are negotiated: a base without its used half means
   * used = available, and both halves come back (42 | 42 << 16) */
  { REQ (GET_VRING_BASE), 0, FALSE, "1", "1 2752554" },
  { REQ (SET_VRING_KICK), 0, FALSE, "1 fd", NULL },
  { REQ (SET_VRING_CALL), 0, FALSE, "1 fd", NULL },
  { REQ (SET_VRING_ERR), 0, FALSE, "1 fd", NULL },
  { REQ (GET_PROTOCOL_FEATURES), 0, FALSE, "", "0xffffff" },
  { REQ (SET_PROTOCOL_FEATURES), 0, FALSE, NULL, NULL },
  { REQ (GET_QUEUE_NUM), 0, FALSE, "", "0x2" },
  { REQ (SET_VRING_ENABLE), 1, FALSE, "1 TRUE", NULL },
  { REQ (SEND_RARP), G_GUINT64_CONSTANT (0x563412005452), FALSE, "0x563412005452", NULL },
  { REQ (NET_SET_MTU), 1500, FALSE, "0x5dc", NULL },
  { REQ (SET_BACKEND_REQ_FD), 0, FALSE, "fd", NULL },
  /* refused: the failure form of its u64 */
  { REQ (IOTLB_MSG), 0, FALSE, "0x1000 0x2000 0x3000 3 2", "0x1" },
  { REQ (SET_VRING_ENDIAN), 0, FALSE, "1 0", NULL },
  { REQ (GET_CONFIG), 0, FALSE, "4 8 0", "offset=4 flags=0 data=1415161718191a1b" },
  { REQ (SET_CONFIG), 0, FALSE, "2 0 a0a1a2a3", NULL },
  /* refused: a negative session id */
  { REQ (CREATE_CRYPTO_SESSION), 0, FALSE, "0102030405060708090a0b0c0d0e0f10", "0xffffffffffffffff" },
  { REQ (CLOSE_CRYPTO_SESSION), 7, TRUE, "0x7", NULL },
  { REQ (POSTCOPY_ADVISE), 0, FALSE, "", "0x1" },
  { REQ (POSTCOPY_LISTEN), 0, TRUE, "", NULL },
  { REQ (POSTCOPY_END), 0, FALSE, "", "0x0" },
  { REQ (GET_INFLIGHT_FD), 0, FALSE, "2 256", "2 queues of 256, 1 fd" },
  { REQ (SET_INFLIGHT_FD), 0, FALSE, "0x8000 0x0 2 256 fd", NULL },
  { REQ (GPU_SET_SOCKET), 0, TRUE, "fd", NULL },
  { REQ (RESET_DEVICE), 0, FALSE, "", NULL },
  { REQ (VRING_KICK), 0, FALSE, "1", NULL },
  { REQ (GET_MAX_MEM_SLOTS), 0, FALSE, "", "0x20" },
  { REQ (ADD_MEM_REG), 0, FALSE, "0x200000+0x1000@0x7f0000200000/0x1000:added", NULL },
  /* matched on gpa, size and address; the offset takes no part */
  { REQ (REM_MEM_REG), 0, FALSE, "0x200000 0x1000 0x7f0000200000", NULL },
  { REQ (SET_STATUS), 0x0f, FALSE, "0xf", NULL },
  { REQ (GET_STATUS), 0, FALSE, "", "0xb" },
  /* not found: u64 1 and no fd */
  { REQ (GET_SHARED_OBJECT), 0, FALSE, "01020304-0506-0708-090a-0b0c0d0e0f10", "0x1" },
  /* refused: error bits and the no-fd bit */
  { REQ (SET_DEVICE_STATE_FD), 0, FALSE, "1 0 fd", "0x100" },
  { REQ (CHECK_DEVICE_STATE), 0, FALSE, "", "0x1" },
  { REQ (GET_SHMEM_CONFIG), 0, FALSE, "", "0 regions" },
  /* the base counts requests in flight as taken; there are none here */
  { REQ (GET_VRING_BASE_SKIP_DRAIN), 0, FALSE, "1", "1 2752554" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (rows) == VHOST_USER_LAST_REQUEST);

typedef enum {
  MODE_ASYNC,
  MODE_BLOCKING,
  MODE_TYPED,
  N_MODES
} Mode;

static const char *const mode_names[] = { "async", "blocking", "typed" };

typedef struct {
  const Row *row;
  gboolean   reply_ack;
  Mode       mode;
} RowCase;

static RowCase row_cases[2][N_MODES][G_N_ELEMENTS (rows)];

static const VhostUserWireXenMemoryRegion row_regions[] = {
  { 0x100000, 0x1000, UADDR + 0x100000, 0, 0, 0 },
  { 0, 0x1000, UADDR, 0x1000, 0, 0 },
};
static const VhostUserWireXenMemoryRegion row_added = { 0x200000, 0x1000, UADDR + 0x200000, 0x1000, 0, 0 };
static const VhostUserWireXenMemoryRegion row_removed = { 0x200000, 0x1000, UADDR + 0x200000, 0x5000, 0, 0 };
static const guint8 row_bytes[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const VhostUserWireVringAddr row_addr = { 1, 1, 0x1000, 0x2000, 0x3000, 0x4000 };

/* SET_PROTOCOL_FEATURES repeats what was negotiated */
static guint64
row_value (Fixture *f,
           guint32  number)
{
  if (number == REQ (SET_PROTOCOL_FEATURES))
    return vhost_user_frontend_get_acked_protocol_features (f->frontend);
  return rows[number - 1].value;
}

/* A row's payload, laid out by its kind, and its fds in *@fds (NULL if none). */
static GBytes *
build_row (Fixture      *f,
           guint32       number,
           GUnixFDList **fds)
{
  static const guint8 config_data[] = { 0xa0, 0xa1, 0xa2, 0xa3 };
  static const VhostUserWireIotlb iotlb = { 0x1000, 0x2000, 0x3000, 3, 2, { 0 } };
  static const VhostUserWireLog log = { 0x1000, 0x1000 };
  static const VhostUserWireInflight get_inflight = { 0, 0, NUM_QUEUES, 256, { 0 } };
  /* room for what the back-end lays out per queue */
  static const VhostUserWireInflight set_inflight = { 0x8000, 0, NUM_QUEUES, 256, { 0 } };
  static const VhostUserWireDeviceStateTransfer transfer = { 1, 0 };
  const VhostUserRequestInfo *info = info_of (number);
  gboolean xen = (vhost_user_frontend_get_acked_protocol_features (f->frontend) & PF (XEN_MMAP)) != 0;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  GBytes *payload;
  int pair[2];

  switch (info->request.kind)
    {
    case VHOST_USER_PAYLOAD_NONE:
      if (number == REQ (SET_BACKEND_REQ_FD))
        {
          g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
          vhost_user_message_add_fd (&msg, pair[0]);
          f->extra_fd = pair[1];
        }
      else if (info->request.min_fds > 0)
        vhost_user_message_add_fd (&msg, test_eventfd ());
      break;
    case VHOST_USER_PAYLOAD_U64:
      vhost_user_message_set_u64 (&msg, row_value (f, number));
      break;
    case VHOST_USER_PAYLOAD_VRING_STATE:
      vhost_user_message_set_vring_state (&msg, 1, row_value (f, number));
      break;
    case VHOST_USER_PAYLOAD_VRING_FD:
      vhost_user_message_set_vring_fd (&msg, 1, test_eventfd ());
      break;
    case VHOST_USER_PAYLOAD_VRING_ADDR:
      vhost_user_message_set_struct (&msg, &row_addr);
      break;
    case VHOST_USER_PAYLOAD_MEM_TABLE:
      g_assert_true (vhost_user_message_set_mem_table (&msg, row_regions, G_N_ELEMENTS (row_regions), xen));
      vhost_user_message_add_fd (&msg, guest_memfd (0x1000, 0, "high"));
      vhost_user_message_add_fd (&msg, guest_memfd (0x2000, 0x1000, "low"));
      break;
    case VHOST_USER_PAYLOAD_SINGLE_REGION:
      vhost_user_message_set_single_region (&msg, number == REQ (ADD_MEM_REG) ? &row_added : &row_removed, xen);
      if (number == REQ (ADD_MEM_REG))
        vhost_user_message_add_fd (&msg, guest_memfd (0x2000, 0x1000, "added"));
      break;
    case VHOST_USER_PAYLOAD_LOG:
      vhost_user_message_set_struct (&msg, &log);
      vhost_user_message_add_fd (&msg, test_memfd (0x2000));
      break;
    case VHOST_USER_PAYLOAD_IOTLB:
      vhost_user_message_set_struct (&msg, &iotlb);
      break;
    case VHOST_USER_PAYLOAD_CONFIG:
      if (number == REQ (GET_CONFIG))
        vhost_user_message_set_config (&msg, 4, 0, NULL, 8);
      else
        vhost_user_message_set_config (&msg, 2, 0, config_data, sizeof config_data);
      break;
    case VHOST_USER_PAYLOAD_OPAQUE:
    case VHOST_USER_PAYLOAD_UUID:
      vhost_user_message_set_payload (&msg, row_bytes, sizeof row_bytes);
      break;
    case VHOST_USER_PAYLOAD_INFLIGHT:
      vhost_user_message_set_struct (&msg, number == REQ (GET_INFLIGHT_FD) ? &get_inflight : &set_inflight);
      if (number == REQ (SET_INFLIGHT_FD))
        vhost_user_message_add_fd (&msg, test_memfd (set_inflight.mmap_size));
      break;
    case VHOST_USER_PAYLOAD_DEVICE_STATE:
      g_assert_no_errno (pipe2 (pair, O_CLOEXEC));
      vhost_user_message_set_struct (&msg, &transfer);
      vhost_user_message_add_fd (&msg, pair[0]);
      g_close (pair[1], NULL);
      break;
    default:
      g_assert_not_reached ();
    }

  payload = g_bytes_new (msg.payload, msg.header.size);
  *fds = NULL;
  if (msg.n_fds > 0)
    {
      /* the list takes the fds */
      *fds = g_unix_fd_list_new_from_array (msg.fds, msg.n_fds);
      msg.n_fds = 0;
    }
  vhost_user_message_clear (&msg);
  return payload;
}

/* what some requests need first */
static void
prepare_row (Fixture *f,
             guint32  number)
{
  g_autoptr(GError) error = NULL;

  if (number == REQ (GET_VRING_BASE) || number == REQ (GET_VRING_BASE_SKIP_DRAIN))
    vhost_user_frontend_set_vring_state (f->frontend, REQ (SET_VRING_BASE), 1, 42, NULL, &error);
  else if (number == REQ (GET_STATUS))
    vhost_user_frontend_set_u64 (f->frontend, REQ (SET_STATUS), 0x0b, NULL, &error);
  else if (number == REQ (REM_MEM_REG))
    {
      g_autoptr(GUnixFDList) fds = NULL;
      g_autoptr(GBytes) payload = build_row (f, REQ (ADD_MEM_REG), &fds);
      g_autoptr(GBytes) reply = vhost_user_frontend_request (f->frontend, REQ (ADD_MEM_REG), payload, fds,
                                                             NULL, NULL, &error);
    }
  g_assert_no_error (error);
  reset_records (f);
}

static char *
format_config (guint32       offset,
               guint32       flags,
               const guint8 *data,
               gsize         len)
{
  GString *s = g_string_new (NULL);

  g_string_printf (s, "offset=%u flags=%u data=", offset, flags);
  test_append_hex (s, data, len);
  return g_string_free (s, FALSE);
}

/* A reply as text, by its layout; the acknowledgement of a request that
 * gets one is "" (its u64 0, or nothing without REPLY_ACK). */
static char *
format_reply (Fixture     *f,
              guint32      number,
              GBytes      *reply,
              GUnixFDList *fds)
{
  gboolean reply_ack = (vhost_user_frontend_get_acked_protocol_features (f->frontend) & PF (REPLY_ACK)) != 0;
  gsize len;
  const guint8 *data = g_bytes_get_data (reply, &len);
  g_autofree char *text = NULL;
  VhostUserWireVringState state;
  VhostUserWireConfigHeader config;
  VhostUserWireInflight inflight;
  VhostUserWireShmemConfig shmem;
  guint64 u64 = 0;

  if (reply_kind (f, number) == VHOST_USER_REPLY_ACK)
    {
      g_assert_cmpuint (len, ==, reply_ack ? sizeof u64 : 0);
      if (reply_ack)
        memcpy (&u64, data, sizeof u64);
      g_assert_cmpuint (u64, ==, 0);
      g_assert_null (fds);
      return g_strdup ("");
    }

  switch (info_of (number)->reply_payload.kind)
    {
    case VHOST_USER_PAYLOAD_VRING_STATE:
      g_assert_cmpuint (len, ==, sizeof state);
      memcpy (&state, data, sizeof state);
      text = g_strdup_printf ("%u %u", state.index, state.num);
      break;
    case VHOST_USER_PAYLOAD_CONFIG:
      g_assert_cmpuint (len, >=, sizeof config);
      memcpy (&config, data, sizeof config);
      g_assert_cmpuint (len, ==, sizeof config + config.size);
      text = format_config (config.offset, config.flags, data + sizeof config, config.size);
      break;
    case VHOST_USER_PAYLOAD_INFLIGHT:
      {
        struct stat st;

        /* an area, in an fd that holds it */
        g_assert_cmpuint (len, ==, sizeof inflight);
        memcpy (&inflight, data, sizeof inflight);
        g_assert_nonnull (fds);
        g_assert_no_errno (fstat (g_unix_fd_list_peek_fds (fds, NULL)[0], &st));
        g_assert_cmpuint (inflight.mmap_size, >, 0);
        g_assert_cmpuint (st.st_size, >=, inflight.mmap_offset + inflight.mmap_size);
        text = g_strdup_printf ("%u queues of %u", inflight.num_queues, inflight.queue_size);
      }
      break;
    case VHOST_USER_PAYLOAD_SHMEM_CONFIG:
      g_assert_cmpuint (len, ==, sizeof shmem);
      memcpy (&shmem, data, sizeof shmem);
      text = g_strdup_printf ("%u regions", shmem.nregions);
      break;
    default:
      g_assert_cmpuint (len, ==, sizeof u64);
      memcpy (&u64, data, sizeof u64);
      text = g_strdup_printf (X64, u64);
      break;
    }
  if (fds != NULL)
    return g_strdup_printf ("%s, %d fd", text, g_unix_fd_list_get_length (fds));
  return g_steal_pointer (&text);
}

/* Sends a row with request_async() or request(); the reply as text, or
 * NULL with @error set. */
static char *
generic_call (Fixture  *f,
              guint32   number,
              gboolean  async,
              GError  **error)
{
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GUnixFDList) out_fds = NULL;
  g_autoptr(GBytes) payload = build_row (f, number, &fds);
  g_autoptr(GBytes) reply = NULL;

  if (async)
    {
      Call call = { 0 };

      vhost_user_frontend_request_async (f->frontend, number, payload, fds, NULL, call_done, &call);
      reply = finish_call (f, &call, &out_fds, error);
    }
  else
    reply = vhost_user_frontend_request (f->frontend, number, payload, fds, NULL, &out_fds, error);

  if (reply == NULL)
    {
      g_assert_null (out_fds);
      return NULL;
    }
  return format_reply (f, number, reply, out_fds);
}

static gboolean
has_typed_helper (const VhostUserRequestInfo *info)
{
  switch (info->request.kind)
    {
    case VHOST_USER_PAYLOAD_NONE:
      return info->request.min_fds == 0 && info->reply == VHOST_USER_REPLY_ALWAYS &&
             info->reply_payload.kind == VHOST_USER_PAYLOAD_U64;
    case VHOST_USER_PAYLOAD_VRING_STATE:
      /* GET_VRING_BASE_SKIP_DRAIN has only the generic call */
      return info->reply != VHOST_USER_REPLY_ALWAYS || info->number == REQ (GET_VRING_BASE);
    case VHOST_USER_PAYLOAD_U64:
    case VHOST_USER_PAYLOAD_VRING_FD:
    case VHOST_USER_PAYLOAD_VRING_ADDR:
      return TRUE;
    default:
      return info->number == REQ (GET_CONFIG) || info->number == REQ (ADD_MEM_REG);
    }
}

/* Sends a row through its typed helper; the result as generic_call()
 * formats it, or NULL with @error set. */
static char *
typed_call (Fixture  *f,
            guint32   number,
            GError  **error)
{
  VhostUserFrontend *fe = f->frontend;
  g_autoptr(GBytes) config = NULL;
  GError *local = NULL;
  guint64 value;
  gboolean ok = FALSE;
  guint base;
  int fd = -1;

  switch (number)
    {
    case REQ (GET_VRING_BASE):
      base = vhost_user_frontend_get_vring_base (fe, 1, NULL, error);
      return base == G_MAXUINT ? NULL : g_strdup_printf ("1 %u", base);
    case REQ (GET_CONFIG):
      config = vhost_user_frontend_read_config (fe, 4, 8, NULL, error);
      return config == NULL ? NULL : format_config (4, 0, g_bytes_get_data (config, NULL), g_bytes_get_size (config));
    case REQ (SET_VRING_ADDR):
      ok = vhost_user_frontend_set_vring_addr (fe, row_addr.index, row_addr.flags, row_addr.desc_user_addr,
                                               row_addr.used_user_addr, row_addr.avail_user_addr,
                                               row_addr.log_guest_addr, NULL, error);
      break;
    case REQ (ADD_MEM_REG):
      {
        /* memory from elsewhere than vhost_user_memory_region_new_memfd():
         * the generic call, the one way to describe a region by hand */
        VhostUserWireXenSingleRegion single = { 0, row_added };
        gboolean xen = (vhost_user_frontend_get_acked_protocol_features (fe) & PF (XEN_MMAP)) != 0;
        g_autoptr(GBytes) payload = g_bytes_new (&single, xen ? sizeof single : sizeof (VhostUserWireSingleRegion));
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
        g_autoptr(GBytes) reply = NULL;

        fd = guest_memfd (0x2000, 0x1000, "added");
        g_unix_fd_list_append (fds, fd, NULL);
        reply = vhost_user_frontend_request (fe, REQ (ADD_MEM_REG), payload, fds, NULL, NULL, error);
        ok = reply != NULL;
      }
      break;
    default:
      switch (info_of (number)->request.kind)
        {
        case VHOST_USER_PAYLOAD_NONE:
          value = vhost_user_frontend_get_u64 (fe, number, NULL, &local);
          if (local != NULL)
            {
              g_propagate_error (error, local);
              return NULL;
            }
          return g_strdup_printf (X64, value);
        case VHOST_USER_PAYLOAD_U64:
          ok = vhost_user_frontend_set_u64 (fe, number, row_value (f, number), NULL, error);
          break;
        case VHOST_USER_PAYLOAD_VRING_STATE:
          ok = vhost_user_frontend_set_vring_state (fe, number, 1, row_value (f, number), NULL, error);
          break;
        case VHOST_USER_PAYLOAD_VRING_FD:
          fd = test_eventfd ();
          ok = vhost_user_frontend_set_vring_fd (fe, number, 1, fd, NULL, error);
          break;
        default:
          g_assert_not_reached ();
        }
    }
  /* the helpers pass copies of the fds */
  if (fd >= 0)
    g_close (fd, NULL);
  return ok ? g_strdup ("") : NULL;
}

static void
test_request_row (Fixture       *f,
                  gconstpointer  data)
{
  const RowCase *rc = data;
  guint32 number = rc->row->number;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *args = NULL;

  negotiate (f, rc->reply_ack ? PF_ALL : PF_NO_ACK);
  prepare_row (f, number);
  f->watched = number;

  if (rc->mode == MODE_TYPED)
    reply = typed_call (f, number, &error);
  else
    reply = generic_call (f, number, rc->mode == MODE_ASYNC, &error);

  if (number == REQ (VRING_KICK) && !rc->reply_ack)
    {
      /* in-band notifications went with REPLY_ACK: refused before sending */
      sync_backend (f, number);
      g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
      g_assert_cmpuint (f->fired, ==, 0);
      return;
    }
  if (rc->row->nack && !rc->reply_ack)
    {
      g_autoptr(GError) sync_error = NULL;

      /* a refusal we could not hear: the back-end hangs up rather than
       * leave us going on as if the request had worked */
      g_assert_no_error (error);
      vhost_user_frontend_get_u64 (f->frontend, number == REQ (GET_FEATURES) ? REQ (GET_PROTOCOL_FEATURES)
                                                                            : REQ (GET_FEATURES),
                                   NULL, &sync_error);
      g_assert_nonnull (sync_error);
      g_assert_cmpuint (f->fired, ==, 1);
      g_assert_false (vhost_user_frontend_get_connected (f->frontend));
      return;
    }
  sync_backend (f, number);

  /* the arguments arrived as sent */
  g_assert_cmpuint (f->fired, ==, 1);
  args = rc->row->args != NULL ? g_strdup (rc->row->args)
                               : g_strdup_printf (X64, vhost_user_frontend_get_acked_protocol_features (f->frontend));
  g_assert_cmpstr (f->args, ==, args);

  if (rc->row->nack && rc->reply_ack)
    {
      g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
      g_assert_null (reply);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_cmpstr (reply, ==, reply_kind (f, number) == VHOST_USER_REPLY_ALWAYS ? rc->row->reply : "");
    }
  /* a refusal is an answer, not a broken connection */
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));
  g_assert_cmpuint (f->disconnects, ==, 0);
}

/* The helpers that share guest memory, with and without XEN_MMAP (whose
 * regions are 48 bytes): SET_MEM_TABLE and ADD_MEM_REG from regions
 * allocated here. */
static void
test_typed_memory (Fixture       *f,
                   gconstpointer  data)
{
  gboolean xen = GPOINTER_TO_INT (data);
  VhostUserMemoryRegion *regions[3];
  g_autoptr(VhostUserMemoryTable) table = NULL;
  g_autoptr(GError) error = NULL;

  negotiate (f, xen ? PF_ALL : PF_ALL & ~PF (XEN_MMAP));
  for (guint i = 0; i < G_N_ELEMENTS (regions); i++)
    {
      regions[i] = vhost_user_memory_region_new_memfd (i * 0x100000, 0x1000, &error);
      g_assert_no_error (error);
      g_snprintf (vhost_user_memory_region_get_host_addr (regions[i]), 16, "region %u", i);
    }
  table = vhost_user_memory_table_new (regions, 2, &error);
  g_assert_no_error (error);

  for (guint step = 0; step < 2; step++)
    {
      g_autoptr(GString) expected = g_string_new (NULL);

      reset_records (f);
      f->watched = step == 0 ? REQ (SET_MEM_TABLE) : REQ (ADD_MEM_REG);
      if (step == 0)
        {
          g_assert_true (vhost_user_frontend_set_mem_table (f->frontend, table, NULL, &error));
          test_append_region (expected, regions[0]);
          g_string_append_c (expected, ' ');
          test_append_region (expected, regions[1]);
        }
      else
        {
          g_assert_true (vhost_user_frontend_add_mem_region (f->frontend, regions[2], NULL, &error));
          test_append_region (expected, regions[2]);
        }
      g_assert_no_error (error);
      sync_backend (f, f->watched);
      g_assert_cmpuint (f->fired, ==, 1);
      g_assert_cmpstr (f->args, ==, expected->str);
    }

  for (guint i = 0; i < G_N_ELEMENTS (regions); i++)
    vhost_user_memory_region_unref (regions[i]);
}

/* --- 2. cancellation --- */

static gboolean
hold_invocation (VhostUserBackend    *backend,
                 VhostUserInvocation *invocation,
                 Fixture             *f)
{
  g_assert_null (f->held);
  f->held = g_object_ref (invocation);
  f->held_seen = TRUE;
  return TRUE;
}

static gboolean
answer_held (gpointer data)
{
  Fixture *f = data;

  /* a value no request of these tests gets otherwise */
  vhost_user_invocation_return_u64 (f->held, 0x1234);
  g_clear_object (&f->held);
  return G_SOURCE_REMOVE;
}

static gboolean
cancel_now (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

/* A request the back-end holds is cancelled, async or blocking: the caller
 * hears at once. The back-end answers later, while the next request waits
 * behind it: that one gets its own answer, not the stale one. */
static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  gboolean blocking = GPOINTER_TO_INT (data);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  gint64 cancelled_at;
  gulong id;

  negotiate (f, PF_ALL);
  id = g_signal_connect (f->backend, "get-queue-num", G_CALLBACK (hold_invocation), f);
  if (blocking)
    {
      run_later (f, 50, cancel_now, cancellable);
      cancelled_at = g_get_monotonic_time () + 50 * G_TIME_SPAN_MILLISECOND;
      g_assert_cmphex (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_QUEUE_NUM), cancellable, &error), ==,
                       G_MAXUINT64);
      g_assert_cmpint (g_get_monotonic_time () - cancelled_at, <, G_USEC_PER_SEC / 2);
    }
  else
    {
      g_autoptr(GBytes) reply = NULL;
      Call call = { 0 };

      vhost_user_frontend_request_async (f->frontend, REQ (GET_QUEUE_NUM), NULL, NULL, cancellable, call_done,
                                         &call);
      g_assert_true (test_iterate_until (f->context, &f->held_seen, WAIT_MS));
      cancelled_at = g_get_monotonic_time ();
      g_cancellable_cancel (cancellable);
      reply = finish_call (f, &call, NULL, &error);
      g_assert_null (reply);
      g_assert_cmpint (call.at - cancelled_at, <, G_USEC_PER_SEC / 2);
    }
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  /* the back-end still holds it */
  g_assert_nonnull (f->held);
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));

  g_signal_handler_disconnect (f->backend, id);
  run_later (f, 50, answer_held, f);
  g_assert_cmpuint (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_MAX_MEM_SLOTS), NULL, &error), ==, MEM_SLOTS);
  g_assert_no_error (error);
  g_assert_null (f->held);
  g_assert_cmpuint (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_QUEUE_NUM), NULL, &error), ==, NUM_QUEUES);
  g_assert_no_error (error);
  g_assert_cmpuint (f->disconnects, ==, 0);
}

/* Once a request is over, answered or cancelled, its cancellable no longer
 * reaches the front-end: callers share one across calls and may reset it,
 * and the front-end may be gone by the time it is cancelled again. */
static void
test_cancel_done (Fixture       *f,
                  gconstpointer  data)
{
  gboolean cancel = GPOINTER_TO_INT (data);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  negotiate (f, PF_ALL);
  if (cancel)
    {
      g_signal_connect (f->backend, "get-queue-num", G_CALLBACK (hold_invocation), f);
      run_later (f, 50, cancel_now, cancellable);
      vhost_user_frontend_get_u64 (f->frontend, REQ (GET_QUEUE_NUM), cancellable, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      answer_held (f);
    }
  else
    {
      g_assert_cmphex (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_FEATURES), cancellable, &error), ==,
                       OFFERED);
      g_assert_no_error (error);
    }
  /* the late answer is in, and dropped */
  sync_backend (f, REQ (GET_QUEUE_NUM));
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));
  /* the request is over: nothing of it stays on the cancellable */
  g_assert_false (g_signal_has_handler_pending (cancellable, g_signal_lookup ("cancelled", G_TYPE_CANCELLABLE),
                                                0, TRUE));
}

/* --- peers on blocking sockets --- */

/* GSocket keeps its fd non-blocking whatever it is told; peer threads want
 * plain blocking calls. */
static void
make_blocking (GSocket *socket)
{
  int fd = g_socket_get_fd (socket);

  g_assert_cmpint (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK), ==, 0);
}

/* One whole message off blocking @fd, fds included; FALSE at the end of
 * the stream. */
static gboolean
read_message (int               fd,
              VhostUserMessage *msg)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * VHOST_USER_MAX_FDS)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov = { &msg->header, VHOST_USER_HEADER_SIZE };

  vhost_user_message_clear (msg);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control.buf;
  mh.msg_controllen = sizeof control.buf;
  if (recvmsg (fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC) != VHOST_USER_HEADER_SIZE)
    return FALSE;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c != NULL; c = CMSG_NXTHDR (&mh, c))
    for (gsize i = 0; i < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
      {
        int received;

        memcpy (&received, CMSG_DATA (c) + i * sizeof (int), sizeof received);
        vhost_user_message_add_fd (msg, received);
      }
  return msg->header.size == 0 ||
         recv (fd, msg->payload, msg->header.size, MSG_WAITALL) == (gssize) msg->header.size;
}

/* Writes the first @len bytes of a 12-byte header that says @request,
 * @flags and @size followed by the u64 @value; an eventfd rides on the
 * first byte if @with_fd. */
static void
write_reply (int      fd,
             guint32  request,
             guint32  flags,
             guint32  size,
             guint64  value,
             gsize    len,
             gboolean with_fd)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int))];
  } control;
  guint8 buf[VHOST_USER_HEADER_SIZE + sizeof (guint64)];
  VhostUserWireHeader header = { request, flags, size };
  struct msghdr mh = { 0 };
  struct iovec iov = { buf, MIN (len, sizeof buf) };
  int extra = -1;

  memcpy (buf, &header, sizeof header);
  memcpy (buf + sizeof header, &value, sizeof value);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (with_fd)
    {
      struct cmsghdr *c;

      extra = test_eventfd ();
      memset (control.buf, 0, sizeof control.buf);
      mh.msg_control = control.buf;
      mh.msg_controllen = sizeof control.buf;
      c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (c), &extra, sizeof extra);
    }
  if (iov.iov_len > 0)
    g_assert_cmpint (sendmsg (fd, &mh, MSG_NOSIGNAL), ==, (gssize) iov.iov_len);
  if (extra >= 0)
    g_close (extra, NULL);
}

/* Reads until the front-end hangs up; returns how many messages came. */
static guint
drain (int fd)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  guint n = 0;

  while (read_message (fd, &msg))
    n++;
  vhost_user_message_clear (&msg);
  return n;
}

/* --- 3. timeouts --- */

static gpointer
silent_peer (gpointer data)
{
  Fixture *f = data;

  return GUINT_TO_POINTER (drain (g_socket_get_fd (f->peer_socket)));
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) first = NULL;
  Call call = { 0 };
  gboolean connected = TRUE;
  gint64 start, elapsed;

  g_assert_true (vhost_user_socket_pair (&front, &f->peer_socket, &error));
  make_blocking (f->peer_socket);
  f->peer = g_thread_new ("silent back-end", silent_peer, f);
  g_assert_true (vhost_user_frontend_take_socket (f->frontend, front, &error));
  g_object_set (f->frontend, "timeout", 200, NULL);
  g_assert_cmpuint (vhost_user_frontend_get_timeout (f->frontend), ==, 200);

  /* one request waits behind the other: both fail once the first is late */
  start = g_get_monotonic_time ();
  vhost_user_frontend_request_async (f->frontend, REQ (GET_FEATURES), NULL, NULL, NULL, call_done, &call);
  g_assert_cmphex (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_FEATURES), NULL, &error), ==, G_MAXUINT64);
  elapsed = g_get_monotonic_time () - start;
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed, >=, 190 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (elapsed, <, WAIT_MS * G_TIME_SPAN_MILLISECOND);
  g_clear_error (&error);
  first = finish_call (f, &call, NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT);

  g_assert_cmpuint (f->disconnects, ==, 1);
  g_assert_error (f->disconnect_error, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT);
  g_assert_true (f->should_reconnect);
  g_object_get (f->frontend, "connected", &connected, NULL);
  g_assert_false (connected);

  /* the peer read both requests, then the hang-up */
  g_assert_cmpuint (GPOINTER_TO_UINT (g_thread_join (g_steal_pointer (&f->peer))), ==, 2);
}

/* --- 4. gating --- */

typedef struct {
  const VhostUserRequestInfo *info;
  gboolean                    virtio;  /* the virtio gate is missing, else the protocol one */
} GateCase;

static GateCase gate_cases[2 * G_N_ELEMENTS (rows)];

static void
test_gating (Fixture       *f,
             gconstpointer  data)
{
  const GateCase *gc = data;
  guint32 number = gc->info->number;
  const guint64 inband_needs = PF (BACKEND_REQ) | PF (REPLY_ACK);
  guint64 protocol = PF_ALL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  Call call = { 0 };
  guint fds_before;

  if (gc->virtio)
    g_object_set (f->backend, "features", OFFERED & ~gc->info->gate_virtio, NULL);
  else
    protocol &= ~(guint64) gc->info->gate_protocol;
  /* in-band notifications without what they need make the back-end hang up */
  if ((protocol & inband_needs) != inband_needs)
    protocol &= ~PF (INBAND_NOTIFICATIONS);
  negotiate (f, protocol);
  fds_before = test_count_open_fds ();

  payload = build_row (f, number, &fds);
  vhost_user_frontend_request_async (f->frontend, number, payload, fds, NULL, call_done, &call);
  reply = finish_call (f, &call, NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  reply = vhost_user_frontend_request (f->frontend, number, payload, fds, NULL, NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_assert_null (reply);

  /* only the marker reached the back-end, and the connection is fine */
  sync_backend (f, number);
  g_assert_cmpuint (f->names->len, ==, 1);
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));

  /* the fds given were not kept */
  g_clear_object (&fds);
  if (f->extra_fd >= 0)
    g_close (g_steal_fd (&f->extra_fd), NULL);
  g_assert_cmpuint (test_count_open_fds (), ==, fds_before);
}

/* --- 5. hostile back-ends --- */

typedef struct {
  const char *name;
  guint32     first;     /* the request whose answer is scripted */
  gboolean    second;    /* a GET_FEATURES waits behind it */
  guint32     request;   /* the answer's header */
  guint32     flags;
  guint32     size;
  gsize       written;   /* how much of header and u64 goes out */
  gboolean    with_fd;
  gboolean    hang_up;   /* then close, rather than wait for the front-end to */
  gint        code;
} Hostile;

#define HDR      VHOST_USER_HEADER_SIZE
#define WHOLE    (HDR + 8)
#define E(code)  VHOST_USER_ERROR_##code

static const Hostile hostile_cases[] = {
  { "wrong-request", REQ (GET_FEATURES), TRUE, REQ (GET_PROTOCOL_FEATURES), VR, 8, WHOLE, FALSE, FALSE,
    E (INVALID_MESSAGE) },
  { "unknown-request", REQ (GET_FEATURES), TRUE, 99, VR, 8, WHOLE, FALSE, FALSE, E (INVALID_MESSAGE) },
  { "wrong-size", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), VR, 4, HDR + 4, FALSE, FALSE, E (INVALID_MESSAGE) },
  /* a reply that may carry no fd */
  { "extra-fd", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), VR, 8, WHOLE, TRUE, FALSE, E (INCORRECT_FDS) },
  /* no REPLY_ACK: SET_OWNER gets no answer, and nothing waits for one */
  { "unsolicited", REQ (SET_OWNER), FALSE, REQ (SET_OWNER), VR, 8, WHOLE, FALSE, FALSE, E (INVALID_MESSAGE) },
  { "need-reply-flag", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), VR | VHOST_USER_FLAG_NEED_REPLY, 8, WHOLE,
    FALSE, FALSE, E (INVALID_MESSAGE) },
  { "not-a-reply", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), VHOST_USER_PROTOCOL_VERSION, 8, WHOLE, FALSE, FALSE,
    E (INVALID_MESSAGE) },
  { "bad-version", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), 2 | VHOST_USER_FLAG_REPLY, 8, WHOLE, FALSE, FALSE,
    E (INVALID_MESSAGE) },
  { "reserved-flags", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), VR | 0x10, 8, WHOLE, FALSE, FALSE,
    E (INVALID_MESSAGE) },
  { "oversized", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), VR, 0x100000, HDR, FALSE, FALSE,
    E (OVERSIZED_MESSAGE) },
  { "partial-payload", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), VR, 8, HDR + 3, FALSE, TRUE,
    E (PARTIAL_MESSAGE) },
  { "partial-header", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), VR, 8, 5, FALSE, TRUE, E (PARTIAL_MESSAGE) },
  { "partial-with-fd", REQ (GET_FEATURES), TRUE, REQ (GET_FEATURES), VR, 8, 5, TRUE, TRUE, E (PARTIAL_MESSAGE) },
  { "hang-up", REQ (GET_FEATURES), TRUE, 0, 0, 0, 0, FALSE, TRUE, E (SOCKET_BROKEN) },
};

static int
accept_one (Fixture *f)
{
  int fd = accept4 (g_socket_get_fd (f->peer_socket), NULL, NULL, SOCK_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

/* The first connection follows the script; the second is a back-end that
 * answers GET_FEATURES, for after the reconnect. */
static gpointer
hostile_peer (gpointer data)
{
  Fixture *f = data;
  const Hostile *h = f->script;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  int fd = accept_one (f);

  /* every request is read before the answer: a socket closed on unread
   * bytes would reset the connection instead of ending the stream */
  g_assert_true (read_message (fd, &msg));
  g_assert_cmpuint (msg.header.request, ==, h->first);
  if (h->second)
    {
      g_assert_true (read_message (fd, &msg));
      g_assert_cmpuint (msg.header.request, ==, REQ (GET_FEATURES));
    }
  write_reply (fd, h->request, h->flags, h->size, PEER_FEATURES, h->written, h->with_fd);
  if (!h->hang_up)
    drain (fd);
  g_close (fd, NULL);
  g_async_queue_push (f->peer_done, (gpointer) "first connection");

  fd = accept_one (f);
  while (read_message (fd, &msg))
    if (msg.header.request == REQ (GET_FEATURES))
      write_reply (fd, REQ (GET_FEATURES), VR, 8, PEER_FEATURES, WHOLE, FALSE);
  vhost_user_message_clear (&msg);
  g_close (fd, NULL);
  return NULL;
}

static void
test_hostile (Fixture       *f,
              gconstpointer  data)
{
  const Hostile *h = data;
  char *path = test_socket_path_new ("back-end.sock");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = NULL;
  Call first = { 0 }, second = { 0 };
  guint fds_before;

  f->script = h;
  f->peer_socket = vhost_user_socket_listen (path, VHOST_USER_SOCKET_DEFAULT_MODE, &error);
  g_assert_no_error (error);
  make_blocking (f->peer_socket);
  f->peer_done = g_async_queue_new ();
  f->peer = g_thread_new ("hostile back-end", hostile_peer, f);
  fds_before = test_count_open_fds ();

  g_assert_true (vhost_user_frontend_connect_to_path (f->frontend, path, 0, NULL, &error));
  g_assert_no_error (error);
  vhost_user_frontend_request_async (f->frontend, h->first, NULL, NULL, NULL, call_done, &first);
  if (h->second)
    vhost_user_frontend_request_async (f->frontend, REQ (GET_FEATURES), NULL, NULL, NULL, call_done, &second);

  /* every request that waited fails with the reason; none hangs */
  reply = finish_call (f, &first, NULL, &error);
  if (reply_kind (f, h->first) == VHOST_USER_REPLY_ALWAYS)
    g_assert_error (error, VHOST_USER_ERROR, h->code);
  else
    g_assert_no_error (error);
  g_clear_error (&error);
  g_clear_pointer (&reply, g_bytes_unref);
  if (h->second)
    {
      reply = finish_call (f, &second, NULL, &error);
      g_assert_error (error, VHOST_USER_ERROR, h->code);
      g_clear_error (&error);
    }
  g_assert_true (test_iterate_until (f->context, &f->disconnected, WAIT_MS));
  g_assert_cmpuint (f->disconnects, ==, 1);
  g_assert_error (f->disconnect_error, VHOST_USER_ERROR, h->code);
  g_assert_true (f->should_reconnect == vhost_user_error_should_reconnect (f->disconnect_error));
  g_assert_false (vhost_user_frontend_get_connected (f->frontend));

  /* a request now fails at once */
  g_assert_cmphex (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_FEATURES), NULL, &error), ==, G_MAXUINT64);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
  g_clear_error (&error);

  /* once the peer let go, every fd of that connection is closed */
  g_assert_nonnull (g_async_queue_timeout_pop (f->peer_done, WAIT_MS * G_TIME_SPAN_MILLISECOND));
  g_assert_cmpuint (test_count_open_fds (), ==, fds_before);

  /* and the front-end starts again */
  g_assert_true (vhost_user_frontend_reconnect (f->frontend, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_FEATURES), NULL, &error), ==, PEER_FEATURES);
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_frontend_get_features (f->frontend), ==, PEER_FEATURES);
  g_assert_cmpuint (f->disconnects, ==, 1);

  vhost_user_frontend_close (f->frontend);
  g_thread_join (g_steal_pointer (&f->peer));
  g_clear_object (&f->peer_socket);
  test_socket_path_free (path);
}

/* --- 5b. a back-end that answers only what it is asked to (DPDK) --- */

#define DPDK_FEATURES (F_BIT (VERSION_1) | F_BIT (PROTOCOL_FEATURES) | F_BIT (ACCESS_PLATFORM))

/* DPDK 22.11's vhost library on the main socket: the replies its
 * requests always have, and a u64 status for any other request with
 * NEED_REPLY, REPLY_ACK or not; nothing without it. Returns the flags
 * IOTLB_MSG came with. */
static gpointer
dpdk_peer (gpointer data)
{
  Fixture *f = data;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  int fd = g_socket_get_fd (f->peer_socket);
  guint32 iotlb_flags = 0;

  while (read_message (fd, &msg))
    {
      guint32 request = msg.header.request;

      if (request == REQ (IOTLB_MSG))
        iotlb_flags = msg.header.flags;
      if (request == REQ (GET_FEATURES))
        write_reply (fd, request, VR, 8, DPDK_FEATURES, WHOLE, FALSE);
      else if (request == REQ (GET_PROTOCOL_FEATURES))
        write_reply (fd, request, VR, 8, PF (REPLY_ACK) | PF (BACKEND_REQ), WHOLE, FALSE);
      else if (msg.header.flags & VHOST_USER_FLAG_NEED_REPLY)
        write_reply (fd, request, VR, 8, 0, WHOLE, FALSE);
    }
  vhost_user_message_clear (&msg);
  return GUINT_TO_POINTER (iotlb_flags);
}

/* IOTLB_MSG always has a reply, but DPDK sends it only when NEED_REPLY
 * asks, as QEMU always does: an update sent without the flag waited for
 * an answer that never came (the ring then never started). */
static void
test_iotlb_need_reply (Fixture       *f,
                       gconstpointer  data)
{
  gboolean reply_ack = GPOINTER_TO_INT (data);
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GError) error = NULL;
  guint32 flags;

  g_assert_true (vhost_user_socket_pair (&front, &f->peer_socket, &error));
  make_blocking (f->peer_socket);
  f->peer = g_thread_new ("DPDK-like back-end", dpdk_peer, f);
  g_assert_true (vhost_user_frontend_take_socket (f->frontend, front, &error));
  /* a missing reply fails the test, not the suite's timeout */
  g_object_set (f->frontend, "timeout", WAIT_MS, NULL);
  g_assert_true (vhost_user_frontend_negotiate (f->frontend, DPDK_FEATURES, reply_ack ? PF (REPLY_ACK) : 0, NULL,
                                                &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_frontend_get_acked_features (f->frontend), ==, DPDK_FEATURES);

  g_assert_true (vhost_user_frontend_send_iotlb_msg (f->frontend, 0x1000, 0x1000, UADDR, 3, 2, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));

  vhost_user_frontend_close (f->frontend);
  flags = GPOINTER_TO_UINT (g_thread_join (g_steal_pointer (&f->peer)));
  g_assert_cmphex (flags, ==, VHOST_USER_PROTOCOL_VERSION | VHOST_USER_FLAG_NEED_REPLY);
}

/* A back-end whose IOTLB_MSG and SET_DEVICE_STATE_FD statuses are all
 * ones; requests asking for an ack get 0. */
static gpointer
all_ones_peer (gpointer data)
{
  Fixture *f = data;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  int fd = g_socket_get_fd (f->peer_socket);

  while (read_message (fd, &msg))
    {
      guint32 request = msg.header.request;

      if (request == REQ (GET_FEATURES))
        write_reply (fd, request, VR, 8, DPDK_FEATURES, WHOLE, FALSE);
      else if (request == REQ (GET_PROTOCOL_FEATURES))
        write_reply (fd, request, VR, 8, PF (REPLY_ACK) | PF (DEVICE_STATE), WHOLE, FALSE);
      else if (request == REQ (IOTLB_MSG) || request == REQ (SET_DEVICE_STATE_FD))
        write_reply (fd, request, VR, 8, G_MAXUINT64, WHOLE, FALSE);
      else if (msg.header.flags & VHOST_USER_FLAG_NEED_REPLY)
        write_reply (fd, request, VR, 8, 0, WHOLE, FALSE);
      vhost_user_message_clear (&msg);
    }
  vhost_user_message_clear (&msg);
  return NULL;
}

/* A status of all ones is a failure like any other non-zero one, with an
 * error. It used to mean "no reply" inside the library: the call failed
 * with no GError, and a device's state save counted as done. */
static void
test_status_all_ones (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GError) error = NULL;
  int pipe_fds[2], out_fd = -1;

  g_assert_true (vhost_user_socket_pair (&front, &f->peer_socket, &error));
  make_blocking (f->peer_socket);
  f->peer = g_thread_new ("all-ones back-end", all_ones_peer, f);
  g_assert_true (vhost_user_frontend_take_socket (f->frontend, front, &error));
  g_object_set (f->frontend, "timeout", WAIT_MS, NULL);
  g_assert_true (vhost_user_frontend_negotiate (f->frontend, DPDK_FEATURES, PF (REPLY_ACK) | PF (DEVICE_STATE), NULL,
                                                &error));
  g_assert_no_error (error);

  g_assert_false (vhost_user_frontend_send_iotlb_msg (f->frontend, 0x1000, 0x1000, UADDR, 3, 2, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);

  g_assert_cmpint (pipe (pipe_fds), ==, 0);
  g_assert_false (vhost_user_frontend_set_device_state_fd (f->frontend, 0, 0, pipe_fds[1], &out_fd, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_assert_cmpint (out_fd, ==, -1);
  close (pipe_fds[0]);
  close (pipe_fds[1]);
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));

  vhost_user_frontend_close (f->frontend);
  g_thread_join (g_steal_pointer (&f->peer));
}

/* A back-end that answers SET_DEVICE_STATE_FD "use my fd" (bit 8 clear),
 * with one. */
static gpointer
own_fd_peer (gpointer data)
{
  Fixture *f = data;
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  int fd = g_socket_get_fd (f->peer_socket);

  while (read_message (fd, &msg))
    {
      guint32 request = msg.header.request;

      if (request == REQ (GET_FEATURES))
        write_reply (fd, request, VR, 8, DPDK_FEATURES, WHOLE, FALSE);
      else if (request == REQ (GET_PROTOCOL_FEATURES))
        write_reply (fd, request, VR, 8, PF (REPLY_ACK) | PF (DEVICE_STATE), WHOLE, FALSE);
      else if (request == REQ (SET_DEVICE_STATE_FD))
        write_reply (fd, request, VR, 8, 0, WHOLE, TRUE);
      else if (msg.header.flags & VHOST_USER_FLAG_NEED_REPLY)
        write_reply (fd, request, VR, 8, 0, WHOLE, FALSE);
      vhost_user_message_clear (&msg);
    }
  vhost_user_message_clear (&msg);
  return NULL;
}

/* A caller that did not ask for the back-end's own fd (out_fd NULL) is
 * told the back-end answered with one: the pipe it sent is no longer
 * used (before, the fd was closed and the call succeeded, and the caller
 * moved the state over a pipe nobody read). With out_fd, it gets it. */
static void
test_state_fd_own (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GError) error = NULL;
  int pipe_fds[2], out_fd = -1;
  guint fds;

  g_assert_true (vhost_user_socket_pair (&front, &f->peer_socket, &error));
  make_blocking (f->peer_socket);
  f->peer = g_thread_new ("own-fd back-end", own_fd_peer, f);
  g_assert_true (vhost_user_frontend_take_socket (f->frontend, front, &error));
  g_object_set (f->frontend, "timeout", WAIT_MS, NULL);
  g_assert_true (vhost_user_frontend_negotiate (f->frontend, DPDK_FEATURES, PF (REPLY_ACK) | PF (DEVICE_STATE), NULL,
                                                &error));
  g_assert_no_error (error);
  g_assert_cmpint (pipe (pipe_fds), ==, 0);
  fds = test_count_open_fds ();

  g_assert_false (vhost_user_frontend_set_device_state_fd (f->frontend, 0, 0, pipe_fds[1], NULL, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS);
  g_clear_error (&error);
  g_assert_cmpuint (test_count_open_fds (), ==, fds);

  g_assert_true (vhost_user_frontend_set_device_state_fd (f->frontend, 0, 0, pipe_fds[1], &out_fd, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (out_fd, >=, 0);
  close (out_fd);
  close (pipe_fds[0]);
  close (pipe_fds[1]);

  vhost_user_frontend_close (f->frontend);
  g_thread_join (g_steal_pointer (&f->peer));
}

/* A back-end in another process (so that blocking calls isolate): each
 * GET_FEATURES is answered with how many it has had. Plain syscalls: it
 * is a child of a threaded process. */
static void
counting_peer (int fd)
{
  guint64 n = 0;

  for (;;)
    {
      VhostUserWireHeader header;
      guint8 payload[256];
      guint8 reply[VHOST_USER_HEADER_SIZE + sizeof n];

      if (recv (fd, &header, sizeof header, MSG_WAITALL) != sizeof header || header.size > sizeof payload ||
          (header.size > 0 && recv (fd, payload, header.size, MSG_WAITALL) != (gssize) header.size))
        break;
      if (header.request != REQ (GET_FEATURES))
        continue;
      n++;
      header.flags = VR;
      header.size = sizeof n;
      memcpy (reply, &header, sizeof header);
      memcpy (reply + sizeof header, &n, sizeof n);
      if (send (fd, reply, sizeof reply, MSG_NOSIGNAL) != sizeof reply)
        break;
    }
  _exit (0);
}

typedef struct {
  VhostUserFrontend *frontend;
  guint64            first, second;
  GError            *error;
  gboolean           done;
} Nested;

static void
first_answered (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Nested *n = user_data;

  n->first = vhost_user_frontend_get_u64_finish (n->frontend, result, &n->error);
  g_assert_no_error (n->error);
  /* from inside the first reply's delivery: the wait moves the connection
   * to a context of its own, whose source reads on */
  n->second = vhost_user_frontend_get_u64 (n->frontend, REQ (GET_FEATURES), NULL, &n->error);
  n->done = TRUE;
}

/* A blocking call made while a reply is being delivered gets its own
 * reply. The message being delivered used to stay in the connection's
 * receive buffer until its handlers returned: the wait's new source found
 * it there, complete, and delivered it again, as the answer to the
 * blocking call. */
static void
test_blocking_in_reply (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GSocket) front = NULL;
  g_autoptr(GError) error = NULL;
  Nested n = { f->frontend };
  int pair[2], status;
  pid_t child;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      close (pair[0]);
      counting_peer (pair[1]);
    }
  close (pair[1]);
  front = g_socket_new_from_fd (pair[0], &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_take_socket (f->frontend, front, &error));
  g_object_set (f->frontend, "timeout", WAIT_MS, NULL);

  vhost_user_frontend_get_u64_async (f->frontend, REQ (GET_FEATURES), NULL, first_answered, &n);
  while (!n.done)
    g_main_context_iteration (f->context, TRUE);
  g_assert_no_error (n.error);
  g_assert_cmpuint (n.first, ==, 1);
  g_assert_cmpuint (n.second, ==, 2);
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));

  vhost_user_frontend_close (f->frontend);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
}

/* --- 6. negotiation --- */

/* More than offered on both sides, less than offered too: what is kept
 * is what both have. A back-end without bit 30 hears nothing of
 * protocol features. */
#define WANTED           (F_BIT (VERSION_1) | F_BIT (PROTOCOL_FEATURES) | F_BIT (EVENT_IDX) | VHOST_USER_FEATURE (40))
#define WANTED_PROTOCOL  (PF (MQ) | PF (REPLY_ACK) | PF (CONFIG) | PF (STATUS) | (G_GUINT64_CONSTANT (1) << 40))
#define BACKEND_PROTOCOL (PF_ALL & ~PF (STATUS))

typedef enum {
  NEGOTIATE_BLOCKING,
  NEGOTIATE_ASYNC,
  NEGOTIATE_NO_PROTOCOL,
} NegotiateCase;

static void
test_negotiate (Fixture       *f,
                gconstpointer  data)
{
  NegotiateCase nc = GPOINTER_TO_INT (data);
  static const char *const qemu_order[] = {
    "get-features", "get-protocol-features", "set-protocol-features", "set-owner", "set-features", NULL
  };
  static const char *const without_protocol[] = { "get-features", "set-owner", "set-features", NULL };
  guint64 offered = nc == NEGOTIATE_NO_PROTOCOL ? OFFERED & ~F_BIT (PROTOCOL_FEATURES) : OFFERED;
  guint64 offered_protocol = nc == NEGOTIATE_NO_PROTOCOL ? 0 : BACKEND_PROTOCOL;
  guint64 values[4];
  g_autoptr(GError) error = NULL;

  g_object_set (f->backend, "features", offered, "protocol-features", BACKEND_PROTOCOL, NULL);
  if (nc == NEGOTIATE_ASYNC)
    {
      Call call = { 0 };

      vhost_user_frontend_negotiate_async (f->frontend, WANTED, WANTED_PROTOCOL, NULL, call_done, &call);
      wait_call (f, &call);
      g_assert_true (vhost_user_frontend_negotiate_finish (f->frontend, call.result, &error));
      g_clear_object (&call.result);
    }
  else
    g_assert_true (vhost_user_frontend_negotiate (f->frontend, WANTED, WANTED_PROTOCOL, NULL, &error));
  g_assert_no_error (error);

  g_ptr_array_add (f->names, NULL);
  g_assert_cmpstrv ((const char *const *) f->names->pdata, nc == NEGOTIATE_NO_PROTOCOL ? without_protocol : qemu_order);
  g_object_get (f->frontend, "features", &values[0], "acked-features", &values[1],
                "protocol-features", &values[2], "acked-protocol-features", &values[3], NULL);
  g_assert_cmphex (values[0], ==, offered);
  g_assert_cmphex (values[1], ==, WANTED & offered);
  g_assert_cmphex (values[2], ==, offered_protocol);
  g_assert_cmphex (values[3], ==, WANTED_PROTOCOL & offered_protocol);
  /* both sides agree */
  g_assert_cmphex (vhost_user_backend_get_acked_features (f->backend), ==, values[1]);
  g_assert_cmphex (vhost_user_backend_get_acked_protocol_features (f->backend), ==, values[3]);
  g_assert_true (vhost_user_backend_get_owner (f->backend));
}

/* --- 7. a refusal --- */

static gboolean
refuse_vring_num (VhostUserBackend    *backend,
                  VhostUserInvocation *invocation,
                  guint                index,
                  guint                num,
                  Fixture             *f)
{
  vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                                              "Refused by the test");
  return TRUE;
}

static void
test_nack (Fixture       *f,
           gconstpointer  data)
{
  /* 0: no REPLY_ACK; 1: REPLY_ACK; 2: REPLY_ACK, acks not asked for (crosvm) */
  guint mode = GPOINTER_TO_UINT (data);
  gboolean reply_ack = mode == 1;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (mode == 2)
    vhost_user_frontend_set_request_acks (f->frontend, FALSE);
  negotiate (f, mode == 0 ? PF_NO_ACK : PF_ALL);
  g_assert_true (vhost_user_frontend_get_request_acks (f->frontend) == (mode != 2));
  g_signal_connect (f->backend, "set-vring-num", G_CALLBACK (refuse_vring_num), f);
  ok = vhost_user_frontend_set_vring_state (f->frontend, REQ (SET_VRING_NUM), 0, 64, NULL, &error);
  if (reply_ack)
    g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  else
    g_assert_no_error (error);  /* without REPLY_ACK no answer comes */
  g_assert_true (ok == !reply_ack);
  g_clear_error (&error);

  if (!reply_ack)
    {
      /* so the back-end hangs up rather than have us set up a ring it
       * refused: the next request fails, and we are told */
      vhost_user_frontend_get_u64 (f->frontend, REQ (GET_FEATURES), NULL, &error);
      g_assert_nonnull (error);
      g_assert_false (vhost_user_frontend_get_connected (f->frontend));
      g_assert_cmpuint (f->disconnects, ==, 1);
      return;
    }

  /* a NACK heard, the connection carries on */
  sync_backend (f, REQ (SET_VRING_NUM));
  g_assert_cmpuint (f->names->len, ==, 2);
  g_assert_cmpuint (vhost_user_vring_get_size (vhost_user_backend_get_vring (f->backend, 0)), ==, 0);
  g_assert_true (vhost_user_frontend_set_vring_state (f->frontend, REQ (SET_VRING_ENABLE), 0, 1, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->disconnects, ==, 0);
}

/* --- life cycle --- */

/* Another thread's blocking call: the test's thread owns the context. */
static gpointer
call_from_thread (gpointer data)
{
  Fixture *f = data;
  GError *error = NULL;

  g_assert_cmphex (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_FEATURES), NULL, &error), ==, G_MAXUINT64);
  return error;
}

static void
test_lifecycle (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(VhostUserFrontend) fresh = vhost_user_frontend_new ();
  g_autoptr(GSocket) spare = NULL;
  g_autoptr(GSocket) spare_peer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = NULL;
  Call call = { 0 };

  /* a front-end never connected */
  g_assert_false (vhost_user_frontend_get_connected (fresh));
  g_assert_cmpuint (vhost_user_frontend_get_timeout (fresh), ==, 30000);
  g_assert_true (vhost_user_frontend_get_main_context (fresh) == f->context);
  g_assert_false (vhost_user_frontend_reconnect (fresh, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_cmphex (vhost_user_frontend_get_u64 (fresh, REQ (GET_FEATURES), NULL, &error), ==, G_MAXUINT64);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
  g_clear_error (&error);

  /* one back-end at a time; requests the protocol has; blocking calls
   * from the thread that can run the front-end's context */
  g_assert_true (vhost_user_socket_pair (&spare, &spare_peer, &error));
  g_assert_false (vhost_user_frontend_take_socket (f->frontend, spare, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  for (guint i = 0; i < 2; i++)
    {
      reply = vhost_user_frontend_request (f->frontend, i == 0 ? 0 : VHOST_USER_LAST_REQUEST + 1, NULL, NULL, NULL,
                                           NULL, &error);
      g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
      g_clear_error (&error);
    }
  error = g_thread_join (g_thread_new ("other thread", call_from_thread, f));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);

  /* closing fails what waits, says so once, and forgets the session */
  negotiate (f, PF_ALL);
  g_signal_connect (f->backend, "get-queue-num", G_CALLBACK (hold_invocation), f);
  vhost_user_frontend_request_async (f->frontend, REQ (GET_QUEUE_NUM), NULL, NULL, NULL, call_done, &call);
  g_assert_true (test_iterate_until (f->context, &f->held_seen, WAIT_MS));
  vhost_user_frontend_close (f->frontend);
  reply = finish_call (f, &call, NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED);
  g_assert_cmpuint (f->disconnects, ==, 1);
  g_assert_false (f->should_reconnect);
  g_assert_false (vhost_user_frontend_get_connected (f->frontend));
  g_assert_cmphex (vhost_user_frontend_get_acked_features (f->frontend), ==, 0);
  g_assert_cmphex (vhost_user_frontend_get_acked_protocol_features (f->frontend), ==, 0);
  vhost_user_frontend_close (f->frontend);
  g_assert_cmpuint (f->disconnects, ==, 1);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Answers GET_VRING_BASE with *base, for whichever ring was asked. */
static gboolean
answer_base (VhostUserBackend    *backend,
             VhostUserInvocation *invocation,
             guint                index,
             guint               *base)
{
  VhostUserWireVringState state = { index, *base };
  g_autoptr(GBytes) payload = g_bytes_new (&state, sizeof state);

  vhost_user_invocation_return_bytes (invocation, payload, -1);
  return TRUE;
}

/* A split ring's base is a 16-bit index: once the features say the rings
 * are split, a back-end's wider answer is refused (from a review: it went
 * on as it came). A packed ring's fills all 32 bits; before any
 * SET_FEATURES, and through the generic call, the answer is relayed. */
static void
test_vring_base_checked (Fixture       *f,
                         gconstpointer  data)
{
  static const VhostUserWireVringState asked = { 1, 0 };
  const VhostUserWireVringState wide = { 1, 0x12345 };
  g_autoptr(GBytes) payload = g_bytes_new (&asked, sizeof asked);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  Call call = { 0 };
  guint base = 0x12345;

  g_signal_connect (f->backend, "get-vring-base", G_CALLBACK (answer_base), &base);
  g_assert_cmphex (vhost_user_frontend_get_vring_base (f->frontend, 1, NULL, &error), ==, 0x12345);
  g_assert_no_error (error);

  g_assert_true (vhost_user_frontend_negotiate (f->frontend, OFFERED & ~F_BIT (RING_PACKED), PF_ALL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_frontend_get_vring_base (f->frontend, 1, NULL, &error), ==, G_MAXUINT);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  vhost_user_frontend_get_vring_base_async (f->frontend, 1, NULL, call_done, &call);
  wait_call (f, &call);
  g_assert_cmphex (vhost_user_frontend_get_vring_base_finish (f->frontend, call.result, &error), ==, G_MAXUINT);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_clear_object (&call.result);
  reply = vhost_user_frontend_request (f->frontend, REQ (GET_VRING_BASE), payload, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), &wide, sizeof wide);
  base = 0xffff;
  g_assert_cmphex (vhost_user_frontend_get_vring_base (f->frontend, 1, NULL, &error), ==, 0xffff);
  g_assert_no_error (error);

  g_assert_true (vhost_user_frontend_set_u64 (f->frontend, REQ (SET_FEATURES), OFFERED, NULL, &error));
  g_assert_no_error (error);
  base = 0x80128345;
  g_assert_cmphex (vhost_user_frontend_get_vring_base (f->frontend, 1, NULL, &error), ==, 0x80128345);
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));
}

/* The child of test_blocking_isolated: a back-end in another process
 * that answers one GET_FEATURES on @fd, late, then waits for the
 * hang-up. Raw system calls only: it runs after fork(). */
static void G_GNUC_NORETURN
forked_peer_serve (int fd)
{
  const guint32 header[3] = { 1, 0x5, 8 };    /* GET_FEATURES, version 1 | reply, 8 bytes */
  const guint64 features = G_GUINT64_CONSTANT (0x12345678);
  guint8 reply[20], buf[64];

  if (read (fd, buf, 12) != 12)
    _exit (1);
  memcpy (reply, header, sizeof header);
  memcpy (reply + sizeof header, &features, sizeof features);
  g_usleep (200 * 1000);
  if (write (fd, reply, sizeof reply) != sizeof reply)
    _exit (2);
  while (read (fd, buf, sizeof buf) > 0)
    ;
  _exit (0);
}

static void G_GNUC_NORETURN
forked_peer_listen (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int listener, fd;

  listener = socket (AF_UNIX, SOCK_STREAM, 0);
  strncpy (addr.sun_path, path, sizeof addr.sun_path - 1);
  if (listener < 0 || bind (listener, (struct sockaddr *) &addr, sizeof addr) != 0 || listen (listener, 1) != 0 ||
      (fd = accept (listener, NULL, NULL)) < 0)
    _exit (1);
  forked_peer_serve (fd);
}

/* A blocking call to a back-end in another process waits on a private
 * context: the front-end's context runs nothing else meanwhile (a peer in
 * this process, as in the other tests, is the exception). */
static void
test_blocking_isolated (Fixture       *f,
                        gconstpointer  data)
{
  gboolean handed_over = GPOINTER_TO_INT (data);
  g_autofree char *path = g_build_filename (g_get_tmp_dir (), "isolated.sock", NULL);
  g_autoptr(GError) error = NULL;
  gboolean idle_ran = FALSE;
  GSource *idle;
  int pair[2] = { -1, -1 };
  int status;
  pid_t pid;

  /* a VMM that spawns its device on a socket pair it made: the pair's
   * credentials name the VMM's process, yet the peer is another */
  if (handed_over)
    g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
  else
    g_unlink (path);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0 && handed_over)
    {
      close (pair[0]);
      forked_peer_serve (pair[1]);
    }
  if (pid == 0)
    forked_peer_listen (path);

  if (handed_over)
    {
      g_autoptr(GSocket) socket = g_socket_new_from_fd (pair[0], &error);

      close (pair[1]);
      g_assert_no_error (error);
      g_assert_true (vhost_user_frontend_take_socket (f->frontend, socket, &error));
    }
  else
    vhost_user_frontend_connect_to_path (f->frontend, path, WAIT_MS, NULL, &error);
  g_assert_no_error (error);
  idle = g_idle_source_new ();
  g_source_set_callback (idle, set_flag, &idle_ran, NULL);
  g_source_attach (idle, f->context);
  g_source_unref (idle);

  g_assert_cmphex (vhost_user_frontend_get_u64 (f->frontend, REQ (GET_FEATURES), NULL, &error), ==, 0x12345678);
  g_assert_no_error (error);
  g_assert_false (idle_ran);
  g_assert_true (test_iterate_until (f->context, &idle_ran, WAIT_MS));

  vhost_user_frontend_close (f->frontend);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_unlink (path);
}

int
main (int   argc,
      char *argv[])
{
  const VhostUserRequestInfo *table;
  guint n_rows, n_gates = 0;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* the default context's wake-up fd is not a leak of any test, nor the
   * worker context that GTask's type starts */
  g_main_context_default ();
  g_type_ensure (G_TYPE_TASK);

  /* a request added to the protocol needs a row here */
  table = vhost_user_request_table (VHOST_USER_CHANNEL_MAIN, &n_rows);
  g_assert_cmpuint (n_rows, ==, G_N_ELEMENTS (rows) + 1);
  for (guint i = 1; i < n_rows; i++)
    g_assert_cmpuint (rows[i - 1].number, ==, table[i].number);

  for (guint ack = 0; ack < 2; ack++)
    for (Mode mode = 0; mode < N_MODES; mode++)
      for (guint i = 1; i < n_rows; i++)
        {
          g_autofree char *path = NULL;

          if (mode == MODE_TYPED && !has_typed_helper (&table[i]))
            continue;
          path = g_strdup_printf ("/frontend/request/%s/%s/%s", ack ? "reply-ack" : "no-reply-ack",
                                  mode_names[mode], table[i].name);
          row_cases[ack][mode][i - 1] = (RowCase) { &rows[i - 1], ack, mode };
          g_test_add (path, Fixture, &row_cases[ack][mode][i - 1], fixture_setup, test_request_row,
                      fixture_teardown);
        }

  for (guint i = 1; i < n_rows; i++)
    for (guint virtio = 0; virtio < 2; virtio++)
      {
        g_autofree char *path = NULL;

        if ((virtio ? table[i].gate_virtio : table[i].gate_protocol) == 0)
          continue;
        path = g_strdup_printf ("/frontend/gating/%s/%s", table[i].name, virtio ? "virtio" : "protocol");
        gate_cases[n_gates] = (GateCase) { &table[i], virtio };
        g_test_add (path, Fixture, &gate_cases[n_gates++], fixture_setup, test_gating, fixture_teardown);
      }

  for (guint i = 0; i < G_N_ELEMENTS (hostile_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/frontend/hostile/%s", hostile_cases[i].name);

      g_test_add (path, Fixture, &hostile_cases[i], fixture_setup_bare, test_hostile, fixture_teardown);
    }

#define ADD(path, data, func) \
  g_test_add ("/frontend/" path, Fixture, (data), fixture_setup, func, fixture_teardown)
  ADD ("typed/memory/plain", GINT_TO_POINTER (FALSE), test_typed_memory);
  ADD ("typed/memory/xen", GINT_TO_POINTER (TRUE), test_typed_memory);
  ADD ("cancel/async", GINT_TO_POINTER (FALSE), test_cancel);
  ADD ("cancel/blocking", GINT_TO_POINTER (TRUE), test_cancel);
  ADD ("cancel/done/answered", GINT_TO_POINTER (FALSE), test_cancel_done);
  ADD ("cancel/done/cancelled", GINT_TO_POINTER (TRUE), test_cancel_done);
  ADD ("negotiate/blocking", GINT_TO_POINTER (NEGOTIATE_BLOCKING), test_negotiate);
  ADD ("negotiate/async", GINT_TO_POINTER (NEGOTIATE_ASYNC), test_negotiate);
  ADD ("negotiate/no-protocol-features", GINT_TO_POINTER (NEGOTIATE_NO_PROTOCOL), test_negotiate);
  ADD ("nack/reply-ack", GINT_TO_POINTER (TRUE), test_nack);
  ADD ("nack/no-reply-ack", GINT_TO_POINTER (FALSE), test_nack);
  ADD ("nack/reply-ack-not-requested", GINT_TO_POINTER (2), test_nack);
  ADD ("lifecycle", NULL, test_lifecycle);
  ADD ("vring-base-checked", NULL, test_vring_base_checked);
#undef ADD
  g_test_add ("/frontend/timeout", Fixture, NULL, fixture_setup_bare, test_timeout, fixture_teardown);
  g_test_add ("/frontend/iotlb-need-reply/reply-ack", Fixture, GINT_TO_POINTER (TRUE), fixture_setup_bare,
              test_iotlb_need_reply, fixture_teardown);
  g_test_add ("/frontend/iotlb-need-reply/no-reply-ack", Fixture, GINT_TO_POINTER (FALSE), fixture_setup_bare,
              test_iotlb_need_reply, fixture_teardown);
  g_test_add ("/frontend/status-all-ones", Fixture, NULL, fixture_setup_bare, test_status_all_ones, fixture_teardown);
  g_test_add ("/frontend/state-fd-own", Fixture, NULL, fixture_setup_bare, test_state_fd_own, fixture_teardown);
  g_test_add ("/frontend/blocking/in-reply", Fixture, NULL, fixture_setup_bare, test_blocking_in_reply,
              fixture_teardown);
  g_test_add ("/frontend/blocking/isolated", Fixture, GINT_TO_POINTER (FALSE), fixture_setup_bare,
              test_blocking_isolated, fixture_teardown);
  g_test_add ("/frontend/blocking/isolated-handed-over", Fixture, GINT_TO_POINTER (TRUE), fixture_setup_bare,
              test_blocking_isolated, fixture_teardown);

  return g_test_run ();
}
