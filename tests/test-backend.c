/* test-backend.c: VhostUserBackend driven by a raw front-end over a socket pair
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-signal-args.h"
#include "test-util.h"
#include "vhost-user-backend-private.h"
#include "vhost-user-connection-private.h"
#include "vhost-user-request-table-private.h"
#include "vhost-user-signal-shape-private.h"
#include "vhost-user-socket-private.h"

#ifdef __linux__
#include <linux/userfaultfd.h>
#endif

#define REQ(name) VHOST_USER_REQUEST_##name
#define PF(name)  ((guint64) VHOST_USER_PROTOCOL_FEATURE_##name)
#define F_PROTOCOL_FEATURES VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES)
#define F_ACCESS_PLATFORM   VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM)
#define F_VERSION_1         VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1)
#define F_NET_MTU           VHOST_USER_FEATURE (3)

/* NET_SET_MTU and IOTLB_MSG are gated on virtio bits 3 and 33 */
#define OFFERED    (F_NET_MTU | F_PROTOCOL_FEATURES | F_VERSION_1 | F_ACCESS_PLATFORM)
#define PF_ALL     VHOST_USER_PROTOCOL_FEATURES_KNOWN
/* the plain region layout: the request rows exercise XEN_MMAP's */
#define PF_ACK     (PF_ALL & ~PF (XEN_MMAP))
/* in-band notifications need REPLY_ACK, so they go with it */
#define PF_NO_ACK  (PF_ACK & ~(PF (REPLY_ACK) | PF (INBAND_NOTIFICATIONS)))
#define NUM_QUEUES 2
#define MEM_SLOTS  32
#define CONFIG_LEN 16
#define WRITABLE   8      /* config bytes 0..7 may be written */
#define UADDR      G_GUINT64_CONSTANT (0x7f0000000000)
#define TIMEOUT_MS 10000
#define X64        "0x%" G_GINT64_MODIFIER "x"

#define MSG(name) VhostUserMessage name = VHOST_USER_MESSAGE_INIT
#define REGION(gpa, size, uaddr, offset) \
  ((VhostUserWireXenMemoryRegion) { (gpa), (size), (uaddr), (offset), 0, 0 })

typedef struct {
  GMainContext        *context;
  VhostUserBackend    *backend;
  GSocket             *front_socket;
  GSocket             *back_socket;
  VhostUserConnection *front;
  guint                baseline_fds;
  guint                baseline_maps;
  /* what was negotiated: the layouts to send, the replies to expect */
  gboolean             reply_ack;
  gboolean             xen;

  /* the front-end's side */
  GQueue               replies;
  guint32              marker;
  gboolean             marker_seen;
  gboolean             closed;
  int                  extra_fd;

  /* the back-end's side */
  gboolean             disconnected;
  GError              *disconnect_error;
  gboolean             should_reconnect;

  /* recording handlers: emissions, and the first one's arguments as text */
  guint                fired;
  char                *args;
  guint                invocation_request;
  gboolean             reply_expected;

  /* handlers that answer later */
  VhostUserInvocation *held;
  gboolean             held_answered;
  guint                next_fired;
  gboolean             next_ran_after;
} Fixture;

static void
message_free (gpointer data)
{
  vhost_user_message_clear (data);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostUserMessage, message_free)

/* Guest memory, logs and in-flight areas are all memfds, and nothing else
 * maps one: unlike the whole of /proc/self/maps, which ASan and valgrind
 * change on their own, their count is exact. */
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

  if (text != NULL)
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

/* --- the raw front-end --- */

static void
on_reply (VhostUserConnection *connection,
          VhostUserMessage    *msg,
          const GError        *error,
          gpointer             user_data)
{
  Fixture *f = user_data;
  static const VhostUserMessage empty = VHOST_USER_MESSAGE_INIT;
  VhostUserMessage *copy;

  /* only the NACK to a request the table does not know escapes its checks */
  if (vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, msg->header.request) != NULL)
    g_assert_no_error (error);

  copy = g_new (VhostUserMessage, 1);
  *copy = empty;
  vhost_user_message_move (copy, msg);
  g_queue_push_tail (&f->replies, copy);
  if (copy->header.request == f->marker)
    f->marker_seen = TRUE;
}

static void
on_front_closed (VhostUserConnection *connection,
                 const GError        *error,
                 gpointer             user_data)
{
  ((Fixture *) user_data)->closed = TRUE;
}

static void
on_disconnected (VhostUserBackend *backend,
                 const GError     *error,
                 gboolean          should_reconnect,
                 Fixture          *f)
{
  g_assert_false (vhost_user_backend_get_connected (backend));
  f->disconnected = TRUE;
  g_clear_error (&f->disconnect_error);
  f->disconnect_error = g_error_copy (error);
  f->should_reconnect = should_reconnect;
}

static void
connect_front (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_socket_pair (&f->front_socket, &f->back_socket, &error));
  g_assert_true (vhost_user_backend_take_socket (f->backend, f->back_socket, &error));
  g_assert_no_error (error);
  f->front = vhost_user_connection_new (f->front_socket, VHOST_USER_CHANNEL_MAIN, TRUE, f->context);
  vhost_user_connection_set_handlers (f->front, on_reply, on_front_closed, f);
  vhost_user_connection_start (f->front);
  f->closed = f->disconnected = f->reply_ack = f->xen = FALSE;
}

/* Hangs up; our own connection tells nobody. */
static void
drop_front (Fixture *f)
{
  g_clear_object (&f->front);
  g_clear_object (&f->front_socket);
  g_clear_object (&f->back_socket);
}

/* the type fixture_setup() makes, if not the back-end itself */
static GType fixture_type;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  guint8 config[CONFIG_LEN], mask[CONFIG_LEN] = { 0 };
  g_autoptr(GBytes) config_bytes = NULL;
  g_autoptr(GBytes) mask_bytes = NULL;

  for (guint i = 0; i < CONFIG_LEN; i++)
    config[i] = 0x10 + i;
  memset (mask, 0xff, WRITABLE);
  config_bytes = g_bytes_new (config, sizeof config);
  mask_bytes = g_bytes_new (mask, sizeof mask);

  f->baseline_fds = test_count_open_fds ();
  f->baseline_maps = count_memfd_mappings ();
  f->extra_fd = -1;
  g_queue_init (&f->replies);
  f->context = g_main_context_new ();
  f->backend = g_object_new (fixture_type != 0 ? fixture_type : VHOST_USER_TYPE_BACKEND,
                             "main-context", f->context,
                             "features", OFFERED,
                             "protocol-features", PF_ALL,
                             "num-queues", NUM_QUEUES,
                             "max-mem-slots", MEM_SLOTS,
                             "config", config_bytes,
                             "config-writable-mask", mask_bytes,
                             NULL);
  g_signal_connect (f->backend, "disconnected", G_CALLBACK (on_disconnected), f);
  connect_front (f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gpointer backend = f->backend;

  g_object_add_weak_pointer (G_OBJECT (backend), &backend);
  g_clear_object (&f->held);
  drop_front (f);
  g_clear_object (&f->backend);
  g_queue_clear_full (&f->replies, message_free);
  g_free (f->args);
  if (f->extra_fd >= 0)
    g_close (f->extra_fd, NULL);
  g_clear_error (&f->disconnect_error);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  /* nothing (an invocation, a source) still holds the back-end */
  g_assert_null (backend);
  g_main_context_unref (f->context);

  g_assert_cmpuint (test_count_open_fds (), ==, f->baseline_fds);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_CONTINUE;
}

/* Iterates until *@flag (without one: until @n_replies replies are in) or
 * until the back-end hangs up. A timeout fails the test. */
static void
wait_for (Fixture        *f,
          const gboolean *flag,
          guint           n_replies)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  gboolean woken;
  /* so that the deadline is looked at when nothing else happens */
  GSource *waker = g_timeout_source_new (100);

  g_source_set_callback (waker, set_flag, &woken, NULL);
  g_source_attach (waker, f->context);
  while (!(flag != NULL ? *flag : g_queue_get_length (&f->replies) >= n_replies) && !f->closed)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (f->context, TRUE);
    }
  g_source_destroy (waker);
  g_source_unref (waker);
}

/* Runs the context for @ms, whatever happens. */
static void
spin (Fixture *f,
      guint    ms)
{
  gboolean done = FALSE;
  GSource *timer = g_timeout_source_new (ms);

  g_source_set_callback (timer, set_flag, &done, NULL);
  g_source_attach (timer, f->context);
  while (!done)
    g_main_context_iteration (f->context, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
}

static void
send_or_die (Fixture          *f,
             VhostUserMessage *msg)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_connection_send (f->front, msg, &error));
  g_assert_no_error (error);
}

/* Writes the first @len bytes of @msg (0: all) by hand, with @fds (then
 * closed) on the first byte: for what the codec would not put together. */
static void
raw_send (Fixture          *f,
          VhostUserMessage *msg,
          gsize             len,
          int              *fds,
          guint             n_fds)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 16)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov;
  gsize whole;

  g_assert_cmpuint (n_fds, <=, 16);
  iov.iov_base = (void *) vhost_user_message_get_data (msg, &whole);
  iov.iov_len = len > 0 ? len : whole;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (n_fds > 0)
    {
      struct cmsghdr *cmsg;

      memset (control.buf, 0, sizeof control.buf);
      mh.msg_control = control.buf;
      mh.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
      cmsg = CMSG_FIRSTHDR (&mh);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
      memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * n_fds);
    }
  g_assert_cmpint (sendmsg (g_socket_get_fd (f->front_socket), &mh, MSG_NOSIGNAL), ==, (gssize) iov.iov_len);
  for (guint i = 0; i < n_fds; i++)
    g_close (fds[i], NULL);
}

/* Once a request is out: sends a marker that always gets a reply and
 * waits for that. The back-end answers in order, so the request was
 * processed by then and whatever came before the marker's reply answers
 * it. Returns that answer, or NULL if there was none (f->closed says
 * whether the back-end hung up instead). */
static VhostUserMessage *
await_answer (Fixture *f,
              guint32  number)
{
  VhostUserMessage *answer;
  MSG (marker);

  f->marker = number == REQ (GET_FEATURES) ? REQ (GET_PROTOCOL_FEATURES) : REQ (GET_FEATURES);
  f->marker_seen = FALSE;
  vhost_user_message_init (&marker, f->marker, 0);
  send_or_die (f, &marker);
  wait_for (f, &f->marker_seen, 0);
  if (f->marker_seen)
    message_free (g_queue_pop_tail (&f->replies));
  f->marker = 0;

  /* one answer at most: never an ack beside a reply */
  g_assert_cmpuint (g_queue_get_length (&f->replies), <=, 1);
  answer = g_queue_pop_head (&f->replies);
  if (answer != NULL)
    {
      g_assert_cmpuint (answer->header.request, ==, number);
      g_assert_cmphex (answer->header.flags, ==, VHOST_USER_PROTOCOL_VERSION | VHOST_USER_FLAG_REPLY);
    }
  return answer;
}

static VhostUserMessage *
request (Fixture          *f,
         VhostUserMessage *msg)
{
  g_assert_true (g_queue_is_empty (&f->replies));
  send_or_die (f, msg);
  return await_answer (f, msg->header.request);
}

static VhostUserMessage *
request_raw (Fixture          *f,
             VhostUserMessage *msg,
             int              *fds,
             guint             n_fds)
{
  g_assert_true (g_queue_is_empty (&f->replies));
  raw_send (f, msg, 0, fds, n_fds);
  return await_answer (f, msg->header.request);
}

static guint64
reply_u64 (const VhostUserMessage *reply)
{
  guint64 value = G_MAXUINT64;

  g_assert_nonnull (reply);
  g_assert_true (vhost_user_message_get_u64 (reply, &value));
  return value;
}

/* An ack-type request's answer (@reply is consumed): a u64 status with
 * REPLY_ACK (every request here sets NEED_REPLY). Without, nothing for a
 * success; a refusal the front-end cannot hear ends the connection. */
static void
check_status (Fixture          *f,
              VhostUserMessage *reply,
              gboolean          success)
{
  g_autoptr(VhostUserMessage) owned = reply;

  g_assert_true (f->closed == (!f->reply_ack && !success));
  if (!f->reply_ack)
    g_assert_null (reply);
  else if (success)
    g_assert_cmpuint (reply_u64 (reply), ==, 0);
  else
    g_assert_cmpuint (reply_u64 (reply), !=, 0);
  if (reply != NULL)
    g_assert_cmpuint (reply->n_fds, ==, 0);
}

#define expect_ok(f, msg)   check_status ((f), request ((f), (msg)), TRUE)
#define expect_nack(f, msg) check_status ((f), request ((f), (msg)), FALSE)

/* The failure form of a u64 reply (@reply is consumed). */
static void
check_failure (VhostUserMessage *reply)
{
  g_autoptr(VhostUserMessage) owned = reply;

  g_assert_cmpuint (reply_u64 (reply), !=, 0);
  g_assert_cmpuint (reply->n_fds, ==, 0);
}

/* The back-end hung up for @code instead of answering (@reply is NULL). */
static void
check_closed (Fixture          *f,
              VhostUserMessage *reply,
              gint              code)
{
  g_assert_null (reply);
  g_assert_true (f->closed);
  g_assert_true (f->disconnected);
  g_assert_error (f->disconnect_error, VHOST_USER_ERROR, code);
  g_assert_false (vhost_user_backend_get_connected (f->backend));
}

#define expect_close(f, msg, code) check_closed ((f), request ((f), (msg)), (code))

static char *
format_inflight (const VhostUserMessage *reply)
{
  VhostUserWireInflight inflight;
  gboolean zeroed = FALSE;
  struct stat st;

  g_assert_true (vhost_user_message_get_inflight (reply, &inflight));
  if (reply->n_fds == 1 && inflight.mmap_size > 0 && fstat (reply->fds[0], &st) == 0 &&
      (guint64) st.st_size >= inflight.mmap_offset + inflight.mmap_size)
    {
      gsize len = inflight.mmap_offset + inflight.mmap_size;
      const guint8 *area = mmap (NULL, len, PROT_READ, MAP_SHARED, reply->fds[0], 0);

      g_assert_true (area != MAP_FAILED);
      zeroed = TRUE;
      for (gsize i = inflight.mmap_offset; i < len; i++)
        zeroed &= area[i] == 0;
      munmap ((void *) area, len);
    }
  return g_strdup_printf ("%u queues of %u, %s", inflight.num_queues, inflight.queue_size,
                          zeroed ? "a zeroed area" : "no area");
}

/* A reply as text, by its layout. */
static char *
format_reply (const VhostUserMessage *reply)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN,
                                                                     reply->header.request);
  guint32 index, num, offset, flags, size;
  VhostUserWireShmemConfig shmem;
  const guint8 *data;
  GString *s;
  guint used = 0;

  g_assert_nonnull (info);
  switch (info->reply_payload.kind)
    {
    case VHOST_USER_PAYLOAD_VRING_STATE:
      g_assert_true (vhost_user_message_get_vring_state (reply, &index, &num));
      return g_strdup_printf ("%u %u", index, num);
    case VHOST_USER_PAYLOAD_CONFIG:
      g_assert_true (vhost_user_message_get_config (reply, &offset, &flags, &data, &size));
      s = g_string_new (NULL);
      g_string_printf (s, "offset=%u flags=%u data=", offset, flags);
      test_append_hex (s, data, size);
      return g_string_free (s, FALSE);
    case VHOST_USER_PAYLOAD_INFLIGHT:
      return format_inflight (reply);
    case VHOST_USER_PAYLOAD_SHMEM_CONFIG:
      g_assert_true (vhost_user_message_get_shmem_config (reply, &shmem));
      for (guint i = 0; i < G_N_ELEMENTS (shmem.memory_sizes); i++)
        used += shmem.memory_sizes[i] != 0;
      return g_strdup_printf ("%u regions, %u sizes", shmem.nregions, used);
    default:
      return g_strdup_printf (X64 "%s", reply_u64 (reply), reply->n_fds > 0 ? " fd" : "");
    }
}

/* @reply is consumed */
static void
check_reply (VhostUserMessage *reply,
             const char       *expected)
{
  g_autoptr(VhostUserMessage) owned = reply;
  g_autofree char *text = NULL;

  g_assert_nonnull (reply);
  text = format_reply (reply);
  g_assert_cmpstr (text, ==, expected);
}

/* --- requests: every one asks for an ack --- */

static VhostUserMessage *
msg_empty (VhostUserMessage *msg,
           guint32           request)
{
  vhost_user_message_init (msg, request, VHOST_USER_FLAG_NEED_REPLY);
  return msg;
}

static VhostUserMessage *
msg_u64 (VhostUserMessage *msg,
         guint32           request,
         guint64           value)
{
  vhost_user_message_set_u64 (msg_empty (msg, request), value);
  return msg;
}

static VhostUserMessage *
msg_state (VhostUserMessage *msg,
           guint32           request,
           guint32           index,
           guint32           num)
{
  vhost_user_message_set_vring_state (msg_empty (msg, request), index, num);
  return msg;
}

/* takes @fd; -1 sets the no-fd bit */
static VhostUserMessage *
msg_ring_fd (VhostUserMessage *msg,
             guint32           request,
             guint             index,
             int               fd)
{
  vhost_user_message_set_vring_fd (msg_empty (msg, request), index, fd);
  return msg;
}

static VhostUserMessage *
msg_addr (VhostUserMessage *msg,
          guint32           index,
          guint64           desc,
          guint64           avail,
          guint64           used)
{
  VhostUserWireVringAddr addr = { index, 0, desc, used, avail, 0 };

  vhost_user_message_set_struct (msg_empty (msg, REQ (SET_VRING_ADDR)), &addr);
  return msg;
}

static VhostUserMessage *
msg_config (VhostUserMessage *msg,
            guint32           request,
            guint32           offset,
            const guint8     *data,
            guint32           size)
{
  g_assert_true (vhost_user_message_set_config (msg_empty (msg, request), offset, 0, data, size));
  return msg;
}

/* a region, with a memfd of @file_size unless that is 0 */
static VhostUserMessage *
msg_region (Fixture                            *f,
            VhostUserMessage                   *msg,
            guint32                             request,
            const VhostUserWireXenMemoryRegion *region,
            gsize                               file_size)
{
  vhost_user_message_set_single_region (msg_empty (msg, request), region, f->xen);
  if (file_size > 0)
    vhost_user_message_add_fd (msg, guest_memfd (file_size, 0, NULL));
  return msg;
}

/* SET_MEM_TABLE, a memfd of @file_size for each region */
static VhostUserMessage *
msg_table (Fixture                            *f,
           VhostUserMessage                   *msg,
           const VhostUserWireXenMemoryRegion *regions,
           guint                               n,
           gsize                               file_size)
{
  g_assert_true (vhost_user_message_set_mem_table (msg_empty (msg, REQ (SET_MEM_TABLE)), regions, n, f->xen));
  for (guint i = 0; i < n; i++)
    vhost_user_message_add_fd (msg, guest_memfd (file_size, 0, NULL));
  return msg;
}

/* As QEMU orders it: GET_FEATURES, GET and SET_PROTOCOL_FEATURES (unless
 * @protocol_features is 0), SET_FEATURES; nothing asks for an ack. */
static void
negotiate (Fixture *f,
           guint64  features,
           guint64  protocol_features)
{
  guint64 offered_protocol = vhost_user_backend_get_protocol_features (f->backend);
  g_autofree char *offer = g_strdup_printf (X64, vhost_user_backend_get_features (f->backend));
  MSG (msg);

  vhost_user_message_init (&msg, REQ (GET_FEATURES), 0);
  check_reply (request (f, &msg), offer);
  if (protocol_features != 0)
    {
      g_free (offer);
      offer = g_strdup_printf (X64, offered_protocol);
      vhost_user_message_init (&msg, REQ (GET_PROTOCOL_FEATURES), 0);
      check_reply (request (f, &msg), offer);
      vhost_user_message_init (&msg, REQ (SET_PROTOCOL_FEATURES), 0);
      vhost_user_message_set_u64 (&msg, protocol_features);
      g_assert_null (request (f, &msg));
      g_assert_cmphex (vhost_user_backend_get_acked_protocol_features (f->backend), ==,
                       protocol_features & offered_protocol);
    }
  vhost_user_message_init (&msg, REQ (SET_FEATURES), 0);
  vhost_user_message_set_u64 (&msg, features);
  g_assert_null (request (f, &msg));
  g_assert_cmphex (vhost_user_backend_get_acked_features (f->backend), ==, features);

  f->reply_ack = (protocol_features & offered_protocol & PF (REPLY_ACK)) != 0;
  f->xen = (protocol_features & offered_protocol & PF (XEN_MMAP)) != 0;
}

/* a property of ring @index: int and boolean ones alike */
static int
vring_prop (Fixture    *f,
            guint       index,
            const char *property)
{
  int value;

  g_object_get (vhost_user_backend_get_vring (f->backend, index), property, &value, NULL);
  return value;
}

static guint
n_regions (Fixture *f)
{
  return vhost_user_memory_table_get_n_regions (vhost_user_backend_get_memory_table (f->backend));
}

/* --- a handler for any signal: records, lets the default run --- */

static void
record_marshal (GClosure     *closure,
                GValue       *return_value,
                guint         n_param_values,
                const GValue *param_values,
                gpointer      invocation_hint,
                gpointer      marshal_data)
{
  Fixture *f = closure->data;
  VhostUserInvocation *invocation = g_value_get_object (&param_values[1]);

  if (f->fired++ == 0)
    {
      f->invocation_request = vhost_user_invocation_get_request (invocation);
      f->reply_expected = vhost_user_invocation_get_reply_expected (invocation);
      f->args = test_format_signal_args (n_param_values - 2, param_values + 2);
    }
  g_value_set_boolean (return_value, FALSE);
}

static void
connect_recorder (Fixture *f,
                  guint    request)
{
  GClosure *closure = g_closure_new_simple (sizeof (GClosure), f);

  g_closure_set_marshal (closure, record_marshal);
  g_assert_cmpuint (g_signal_connect_closure (f->backend, request_nick (request), closure, FALSE), >, 0);
}

static void
reset_recorder (Fixture *f)
{
  g_clear_pointer (&f->args, g_free);
  f->fired = 0;
}

/* --- 1. every request, through its signal and its default --- */

typedef struct {
  guint32     number;
  gboolean    fails;  /* the default refuses it */
  const char *args;   /* what a handler gets (NULL: the protocol features acked) */
  const char *reply;  /* for requests that always get a reply, when they succeed */
} Row;

static const Row rows[] = {
  { REQ (GET_FEATURES), FALSE, "", "0x340000008" },
  { REQ (SET_FEATURES), FALSE, "0x340000008", NULL },
  { REQ (SET_OWNER), FALSE, "", NULL },
  { REQ (RESET_OWNER), FALSE, "", NULL },
  /* ordered by guest address, each mapped where its text is */
  { REQ (SET_MEM_TABLE), FALSE, "0x0+0x1000@0x7f0000000000/0x1000:low 0x100000+0x1000@0x7f0000100000/0x0:high", NULL },
  { REQ (SET_LOG_BASE), FALSE, "0x1000 0x1000 fd", "0x0" },
  { REQ (SET_LOG_FD), FALSE, "fd", NULL },
  { REQ (SET_VRING_NUM), FALSE, "1 256", NULL },
  { REQ (SET_VRING_ADDR), FALSE, "1 flags=1 desc=0x1000 used=0x2000 avail=0x3000 log=0x4000", NULL },
  { REQ (SET_VRING_BASE), FALSE, "1 42", NULL },
  { REQ (GET_VRING_BASE), FALSE, "1", "1 42" },
  { REQ (SET_VRING_KICK), FALSE, "1 fd", NULL },
  { REQ (SET_VRING_CALL), FALSE, "1 fd", NULL },
  { REQ (SET_VRING_ERR), FALSE, "1 fd", NULL },
  { REQ (GET_PROTOCOL_FEATURES), FALSE, "", "0xffffff" },
  { REQ (SET_PROTOCOL_FEATURES), FALSE, NULL, NULL },
  { REQ (GET_QUEUE_NUM), FALSE, "", "0x2" },
  { REQ (SET_VRING_ENABLE), FALSE, "1 TRUE", NULL },
  { REQ (SEND_RARP), FALSE, "0x563412005452", NULL },
  { REQ (NET_SET_MTU), FALSE, "0x5dc", NULL },
  { REQ (SET_BACKEND_REQ_FD), FALSE, "fd", NULL },
  { REQ (IOTLB_MSG), TRUE, "0x1000 0x2000 0x3000 3 2", NULL },
  { REQ (SET_VRING_ENDIAN), FALSE, "1 0", NULL },
  { REQ (GET_CONFIG), FALSE, "4 8 0", "offset=4 flags=0 data=1415161718191a1b" },
  { REQ (SET_CONFIG), FALSE, "2 0 a0a1a2a3", NULL },
  { REQ (CREATE_CRYPTO_SESSION), TRUE, "0102030405060708090a0b0c0d0e0f10", NULL },
  { REQ (CLOSE_CRYPTO_SESSION), TRUE, "0x7", NULL },
  /* refused with CONFIGURE_MEM_SLOTS acked; LISTEN without ADVISE */
  { REQ (POSTCOPY_ADVISE), TRUE, "", NULL },
  { REQ (POSTCOPY_LISTEN), TRUE, "", NULL },
  { REQ (POSTCOPY_END), FALSE, "", "0x0" },
  { REQ (GET_INFLIGHT_FD), FALSE, "2 256", "2 queues of 256, a zeroed area" },
  { REQ (SET_INFLIGHT_FD), FALSE, "0x8000 0x0 2 256 fd", NULL },
  { REQ (GPU_SET_SOCKET), TRUE, "fd", NULL },
  { REQ (RESET_DEVICE), FALSE, "", NULL },
  { REQ (VRING_KICK), FALSE, "1", NULL },
  { REQ (GET_MAX_MEM_SLOTS), FALSE, "", "0x20" },
  { REQ (ADD_MEM_REG), FALSE, "0x200000+0x1000@0x7f0000200000/0x1000:added", NULL },
  /* matched on gpa, size and address; the offset takes no part */
  { REQ (REM_MEM_REG), FALSE, "0x200000 0x1000 0x7f0000200000", NULL },
  { REQ (SET_STATUS), FALSE, "0xf", NULL },
  { REQ (GET_STATUS), FALSE, "", "0xb" },
  { REQ (GET_SHARED_OBJECT), TRUE, "01020304-0506-0708-090a-0b0c0d0e0f10", NULL },
  { REQ (SET_DEVICE_STATE_FD), FALSE, "1 0 fd", "0x100" },
  { REQ (CHECK_DEVICE_STATE), TRUE, "", NULL },
  { REQ (GET_SHMEM_CONFIG), FALSE, "", "0 regions, 0 sizes" },
  { REQ (GET_VRING_BASE_SKIP_DRAIN), FALSE, "1", "1 42" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (rows) == VHOST_USER_LAST_REQUEST);

typedef struct {
  const Row *row;
  gboolean   reply_ack;
} RowCase;

static RowCase row_cases[2][G_N_ELEMENTS (rows)];

static const VhostUserWireXenMemoryRegion row_regions[] = {
  { 0x100000, 0x1000, UADDR + 0x100000, 0, 0, 0 },
  { 0, 0x1000, UADDR, 0x1000, 0, 0 },
};
static const VhostUserWireXenMemoryRegion row_added = { 0x200000, 0x1000, UADDR + 0x200000, 0x1000, 0, 0 };
static const guint8 row_bytes[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* what some requests need first */
static void
prepare_row (Fixture *f,
             guint32  number)
{
  MSG (msg);

  if (number == REQ (GET_VRING_BASE) || number == REQ (GET_VRING_BASE_SKIP_DRAIN))
    expect_ok (f, msg_state (&msg, REQ (SET_VRING_BASE), 1, 42));
  else if (number == REQ (GET_STATUS))
    expect_ok (f, msg_u64 (&msg, REQ (SET_STATUS), 0x0b));
  else if (number == REQ (REM_MEM_REG))
    expect_ok (f, msg_region (f, &msg, REQ (ADD_MEM_REG), &row_added, 0x2000));
}

static VhostUserMessage *
build_row (Fixture          *f,
           guint32           number,
           VhostUserMessage *msg)
{
  static const guint8 config_data[] = { 0xa0, 0xa1, 0xa2, 0xa3 };
  static const VhostUserWireVringAddr addr = { 1, 1, 0x1000, 0x2000, 0x3000, 0x4000 };
  static const VhostUserWireIotlb iotlb = { 0x1000, 0x2000, 0x3000, 3, 2, { 0 } };
  static const VhostUserWireLog log = { 0x1000, 0x1000 };
  static const VhostUserWireInflight get_inflight = { 0, 0, NUM_QUEUES, 256, { 0 } };
  static const VhostUserWireInflight set_inflight = { 0x8000, 0, NUM_QUEUES, 256, { 0 } };
  static const VhostUserWireDeviceStateTransfer transfer = { 1, 0 };
  int pair[2];

  msg_empty (msg, number);
  switch (number)
    {
    case REQ (SET_FEATURES):
      vhost_user_message_set_u64 (msg, vhost_user_backend_get_acked_features (f->backend));
      break;
    case REQ (SET_PROTOCOL_FEATURES):
      vhost_user_message_set_u64 (msg, vhost_user_backend_get_acked_protocol_features (f->backend));
      break;
    case REQ (SEND_RARP):
      vhost_user_message_set_u64 (msg, G_GUINT64_CONSTANT (0x563412005452));
      break;
    case REQ (NET_SET_MTU):
      vhost_user_message_set_u64 (msg, 1500);
      break;
    case REQ (CLOSE_CRYPTO_SESSION):
      vhost_user_message_set_u64 (msg, 7);
      break;
    case REQ (SET_STATUS):
      vhost_user_message_set_u64 (msg, 0x0f);
      break;
    case REQ (SET_MEM_TABLE):
      vhost_user_message_set_mem_table (msg, row_regions, 2, f->xen);
      vhost_user_message_add_fd (msg, guest_memfd (0x1000, 0, "high"));
      vhost_user_message_add_fd (msg, guest_memfd (0x2000, 0x1000, "low"));
      break;
    case REQ (SET_LOG_BASE):
      vhost_user_message_set_struct (msg, &log);
      vhost_user_message_add_fd (msg, test_memfd (0x2000));
      break;
    case REQ (SET_BACKEND_REQ_FD):
      g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
      vhost_user_message_add_fd (msg, pair[0]);
      f->extra_fd = pair[1];
      break;
    case REQ (SET_LOG_FD):
    case REQ (GPU_SET_SOCKET):
      vhost_user_message_add_fd (msg, test_eventfd ());
      break;
    case REQ (SET_VRING_NUM):
      vhost_user_message_set_vring_state (msg, 1, 256);
      break;
    case REQ (SET_VRING_BASE):
      vhost_user_message_set_vring_state (msg, 1, 42);
      break;
    case REQ (SET_VRING_ENABLE):
      vhost_user_message_set_vring_state (msg, 1, 1);
      break;
    case REQ (GET_VRING_BASE):
    case REQ (GET_VRING_BASE_SKIP_DRAIN):
    case REQ (SET_VRING_ENDIAN):
    case REQ (VRING_KICK):
      vhost_user_message_set_vring_state (msg, 1, 0);
      break;
    case REQ (SET_VRING_ADDR):
      vhost_user_message_set_struct (msg, &addr);
      break;
    case REQ (SET_VRING_KICK):
    case REQ (SET_VRING_CALL):
    case REQ (SET_VRING_ERR):
      vhost_user_message_set_vring_fd (msg, 1, test_eventfd ());
      break;
    case REQ (IOTLB_MSG):
      vhost_user_message_set_struct (msg, &iotlb);
      break;
    case REQ (GET_CONFIG):
      vhost_user_message_set_config (msg, 4, 0, NULL, 8);
      break;
    case REQ (SET_CONFIG):
      vhost_user_message_set_config (msg, 2, 0, config_data, sizeof config_data);
      break;
    case REQ (CREATE_CRYPTO_SESSION):
    case REQ (GET_SHARED_OBJECT):
      vhost_user_message_set_payload (msg, row_bytes, sizeof row_bytes);
      break;
    case REQ (GET_INFLIGHT_FD):
      vhost_user_message_set_struct (msg, &get_inflight);
      break;
    case REQ (SET_INFLIGHT_FD):
      /* room for what this back-end lays out per queue */
      vhost_user_message_set_struct (msg, &set_inflight);
      vhost_user_message_add_fd (msg, test_memfd (0x8000));
      break;
    case REQ (ADD_MEM_REG):
      vhost_user_message_set_single_region (msg, &row_added, f->xen);
      vhost_user_message_add_fd (msg, guest_memfd (0x2000, 0x1000, "added"));
      break;
    case REQ (REM_MEM_REG):
      msg_region (f, msg, number, &REGION (row_added.guest_phys_addr, row_added.memory_size,
                                           row_added.userspace_addr, 0x5000), 0);
      break;
    case REQ (SET_DEVICE_STATE_FD):
      g_assert_no_errno (pipe (pair));
      vhost_user_message_set_struct (msg, &transfer);
      vhost_user_message_add_fd (msg, pair[0]);
      g_close (pair[1], NULL);
      break;
    default:
      break;
    }
  return msg;
}

/* The failure form of a request that always gets a reply (consumed). */
static void
check_failure_form (Fixture          *f,
                    guint32           number,
                    VhostUserMessage *reply)
{
  g_autoptr(VhostUserMessage) owned = reply;
  gint64 session_id;

  if (number == REQ (CREATE_CRYPTO_SESSION))
    {
      if (f->closed)
        {
          g_test_incomplete ("CREATE_CRYPTO_SESSION has no failure form in the request table, "
                             "though a negative session id is one: refusing it hangs up");
          return;
        }
      g_assert_cmpuint (reply->header.size, >=, sizeof session_id);
      memcpy (&session_id, reply->payload, sizeof session_id);
      g_assert_cmpint (session_id, <, 0);
      return;
    }

  g_assert_false (f->closed);
  /* SET_DEVICE_STATE_FD: an error in bits 0-7, and bit 8 for "no fd" */
  if (number == REQ (SET_DEVICE_STATE_FD))
    g_assert_cmphex (reply_u64 (reply) & 0x1ff, >, 0x100);
  check_failure (g_steal_pointer (&owned));
}

static void
test_request_row (Fixture       *f,
                  gconstpointer  data)
{
  const RowCase *rc = data;
  guint32 number = rc->row->number;
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, number);
  g_autofree char *args = NULL;
  VhostUserMessage *reply;
  MSG (msg);

  negotiate (f, OFFERED, rc->reply_ack ? PF_ALL : PF_NO_ACK);
  prepare_row (f, number);
  connect_recorder (f, number);
  reply = request (f, build_row (f, number, &msg));

  /* without REPLY_ACK there are no in-band notifications */
  if (number == REQ (VRING_KICK) && !rc->reply_ack)
    {
      g_assert_cmpuint (f->fired, ==, 0);
      check_status (f, reply, FALSE);
      return;
    }

  g_assert_cmpuint (f->fired, ==, 1);
  g_assert_cmpuint (f->invocation_request, ==, number);
  g_assert_true (f->reply_expected == (info->reply == VHOST_USER_REPLY_ALWAYS || rc->reply_ack ||
                                       info->ack_without_reply_ack));
  args = rc->row->args != NULL ? g_strdup (rc->row->args)
                               : g_strdup_printf (X64, vhost_user_backend_get_acked_protocol_features (f->backend));
  g_assert_cmpstr (f->args, ==, args);

  if (info->reply == VHOST_USER_REPLY_ACK && info->ack_without_reply_ack && !rc->reply_ack)
    {
      /* acknowledged anyway, as QEMU waits for it */
      g_autoptr(VhostUserMessage) owned = reply;

      g_assert_false (f->closed);
      g_assert_cmpuint (reply_u64 (reply) != 0, ==, rc->row->fails);
    }
  else if (info->reply == VHOST_USER_REPLY_ACK)
    check_status (f, reply, !rc->row->fails);
  else if (rc->row->fails)
    check_failure_form (f, number, reply);
  else
    check_reply (reply, rc->row->reply);
}

/* --- postcopy --- */

#ifdef __linux__
/* Whether this process may use userfaultfd on shared memory; if so, the
 * back-end offers PAGEFAULT (a device must add it: the default offer
 * leaves it out, postcopy trusting the front-end). */
static gboolean
postcopy_here (Fixture *f)
{
  g_autoptr(VhostUserBackend) plain = vhost_user_backend_new ();

  g_assert_cmphex (vhost_user_backend_get_protocol_features (plain) & PF (PAGEFAULT), ==, 0);
  if (!vhost_user_backend_postcopy_supported ())
    return FALSE;
  vhost_user_backend_set_protocol_features (f->backend,
                                            vhost_user_backend_get_protocol_features (f->backend) | PF (PAGEFAULT));
  return TRUE;
}

/* Waits for @n replies on the raw front-end, without a marker (which the
 * postcopy exchange would take for its confirmation). */
static VhostUserMessage *
next_reply (Fixture *f)
{
  wait_for (f, NULL, 1);
  g_assert_false (f->closed);
  return g_queue_pop_head (&f->replies);
}

typedef struct {
  const VhostUserMemoryTable *table;
  guint64                     gpa;
  char                        data[32];
} GuestRead;

static gpointer
read_guest (gpointer data)
{
  GuestRead *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = vhost_user_memory_table_read_gpa (r->table, r->gpa, sizeof r->data, &error);

  g_assert_no_error (error);
  memcpy (r->data, g_bytes_get_data (bytes, NULL), sizeof r->data);
  return NULL;
}

/* QEMU's exchange as a destination: ADVISE, LISTEN, then a table the
 * back-end answers with its own addresses and only registers (and uses)
 * once the front-end confirms. A page the back-end reads before it
 * arrived stops the reading thread until the front-end places it and
 * wakes it; after END nothing stops. */
static void
test_postcopy (Fixture       *f,
               gconstpointer  data)
{
  static const VhostUserWireXenMemoryRegion region = { 0, 0x4000, UADDR, 0, 0, 0 };
  g_autoptr(VhostUserMessage) advise = NULL;
  g_autoptr(VhostUserMessage) table_reply = NULL;
  g_autoptr(VhostUserMessage) ack = NULL;
  g_autoptr(VhostUserMessage) end = NULL;
  VhostUserWireMemoryTableHeader header;
  VhostUserWireMemoryRegion answered;
  struct uffd_msg fault;
  struct uffdio_range wake;
  struct pollfd pfd;
  GuestRead r = { 0 };
  GThread *reader;
  int uffd, memfd;
  guint64 base;
  MSG (msg);

  if (!postcopy_here (f))
    {
      g_test_skip ("userfaultfd on shared memory is not allowed here (needs root or vm.unprivileged_userfaultfd)");
      return;
    }
  negotiate (f, OFFERED, PF_ACK & ~PF (CONFIGURE_MEM_SLOTS));

  advise = request (f, msg_empty (&msg, REQ (POSTCOPY_ADVISE)));
  g_assert_nonnull (advise);
  g_assert_cmpuint (advise->header.size, ==, 0);
  g_assert_cmpuint (advise->n_fds, ==, 1);
  uffd = vhost_user_message_steal_fd (advise, 0);
  check_status (f, request (f, msg_empty (&msg, REQ (POSTCOPY_LISTEN))), TRUE);

  /* nothing of the region is there yet */
  memfd = test_memfd (0x4000);
  vhost_user_message_set_mem_table (msg_empty (&msg, REQ (SET_MEM_TABLE)), &region, 1, FALSE);
  vhost_user_message_add_fd (&msg, fcntl (memfd, F_DUPFD_CLOEXEC, 3));
  send_or_die (f, &msg);
  table_reply = next_reply (f);
  g_assert_cmpuint (table_reply->header.request, ==, REQ (SET_MEM_TABLE));
  g_assert_cmpuint (table_reply->header.size, ==, sizeof header + sizeof answered);
  g_assert_cmpuint (table_reply->n_fds, ==, 0);
  memcpy (&header, table_reply->payload, sizeof header);
  memcpy (&answered, table_reply->payload + sizeof header, sizeof answered);
  g_assert_cmpuint (header.nregions, ==, 1);
  g_assert_cmphex (answered.guest_phys_addr, ==, 0);
  g_assert_cmphex (answered.memory_size, ==, 0x4000);
  base = answered.userspace_addr;
  g_assert_cmphex (base, !=, UADDR);
  g_assert_cmphex (base % sysconf (_SC_PAGESIZE), ==, 0);
  /* not in use before the front-end can serve its faults */
  g_assert_cmpuint (n_regions (f), ==, 0);

  /* the confirmation: a u64 0 under the request's number, then the ack */
  vhost_user_message_set_u64 (msg_empty (&msg, REQ (SET_MEM_TABLE)), 0);
  send_or_die (f, &msg);
  ack = next_reply (f);
  g_assert_cmpuint (ack->header.request, ==, REQ (SET_MEM_TABLE));
  g_assert_cmpuint (reply_u64 (ack), ==, 0);
  g_assert_cmpuint (n_regions (f), ==, 1);
  g_assert_cmphex ((guint64) (guintptr) vhost_user_memory_region_get_host_addr (
                     vhost_user_memory_table_get_region (vhost_user_backend_get_memory_table (f->backend), 0)),
                   ==, base);

  /* the back-end touches a page that has not arrived: it waits */
  r.table = vhost_user_backend_get_memory_table (f->backend);
  r.gpa = 0x1010;
  reader = g_thread_new ("guest-read", read_guest, &r);
  pfd.fd = uffd;
  pfd.events = POLLIN;
  g_assert_cmpint (poll (&pfd, 1, TIMEOUT_MS), ==, 1);
  g_assert_cmpint (read (uffd, &fault, sizeof fault), ==, sizeof fault);
  g_assert_cmpuint (fault.event, ==, UFFD_EVENT_PAGEFAULT);
  g_assert_cmphex (fault.arg.pagefault.address, ==, base + 0x1000);
  /* the front-end places the page (in the shared file, as QEMU's copy
   * into its own mapping does) and wakes the reader */
  g_assert_cmpint (pwrite (memfd, "arrived by postcopy", 20, 0x1010), ==, 20);
  wake.start = base + 0x1000;
  wake.len = sysconf (_SC_PAGESIZE);
  g_assert_no_errno (ioctl (uffd, UFFDIO_WAKE, &wake));
  g_thread_join (reader);
  g_assert_cmpstr (r.data, ==, "arrived by postcopy");

  /* END: the memory is the back-end's own again, nothing waits */
  end = request (f, msg_empty (&msg, REQ (POSTCOPY_END)));
  g_assert_cmpuint (reply_u64 (end), ==, 0);
  r.gpa = 0x2000;
  memset (r.data, 0x55, sizeof r.data);
  read_guest (&r);
  g_assert_cmpuint (r.data[0], ==, 0);
  pfd.revents = 0;
  g_assert_cmpint (poll (&pfd, 1, 0), ==, 0);
  g_close (uffd, NULL);
  g_close (memfd, NULL);
}

/* QEMU asks POSTCOPY_LISTEN for its ack whether or not REPLY_ACK was
 * negotiated, and waits for it (from a review): it gets one. */
static void
test_postcopy_listen_acked (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(VhostUserMessage) advise = NULL;
  g_autoptr(VhostUserMessage) ack = NULL;
  MSG (msg);

  if (!postcopy_here (f))
    {
      g_test_skip ("userfaultfd on shared memory is not allowed here (needs root or vm.unprivileged_userfaultfd)");
      return;
    }
  negotiate (f, OFFERED, PF_NO_ACK & ~PF (CONFIGURE_MEM_SLOTS));
  advise = request (f, msg_empty (&msg, REQ (POSTCOPY_ADVISE)));
  g_assert_cmpuint (advise->n_fds, ==, 1);
  ack = request (f, msg_empty (&msg, REQ (POSTCOPY_LISTEN)));
  g_assert_cmpuint (reply_u64 (ack), ==, 0);
}

/* What the spec forbids or the order rules out: ADVISE with memory slots
 * (refused, no fd), LISTEN before ADVISE or with memory mapped, and a
 * confirmation that is not u64 0 (the back-end hangs up: it cannot tell
 * arrived pages from missing ones any more). */
static void
test_postcopy_refused (Fixture       *f,
                       gconstpointer  data)
{
  static const VhostUserWireXenMemoryRegion region = { 0, 0x4000, UADDR, 0, 0, 0 };
  g_autoptr(VhostUserMessage) advise = NULL;
  g_autoptr(VhostUserMessage) table_reply = NULL;
  MSG (msg);

  if (!postcopy_here (f))
    {
      g_test_skip ("userfaultfd on shared memory is not allowed here (needs root or vm.unprivileged_userfaultfd)");
      return;
    }
  negotiate (f, OFFERED, PF_ACK);
  check_failure (request (f, msg_empty (&msg, REQ (POSTCOPY_ADVISE))));
  drop_front (f);
  spin (f, 50);

  connect_front (f);
  negotiate (f, OFFERED, PF_ACK & ~PF (CONFIGURE_MEM_SLOTS));
  check_status (f, request (f, msg_empty (&msg, REQ (POSTCOPY_LISTEN))), FALSE);
  check_status (f, request (f, msg_table (f, &msg, &region, 1, 0x4000)), TRUE);
  advise = request (f, msg_empty (&msg, REQ (POSTCOPY_ADVISE)));
  g_assert_cmpuint (advise->n_fds, ==, 1);
  check_status (f, request (f, msg_empty (&msg, REQ (POSTCOPY_LISTEN))), FALSE);
  drop_front (f);
  spin (f, 50);

  connect_front (f);
  negotiate (f, OFFERED, PF_ACK & ~PF (CONFIGURE_MEM_SLOTS));
  g_clear_pointer (&advise, message_free);
  advise = request (f, msg_empty (&msg, REQ (POSTCOPY_ADVISE)));
  g_assert_cmpuint (advise->n_fds, ==, 1);
  check_status (f, request (f, msg_empty (&msg, REQ (POSTCOPY_LISTEN))), TRUE);
  send_or_die (f, msg_table (f, &msg, &region, 1, 0x4000));
  table_reply = next_reply (f);
  vhost_user_message_set_u64 (msg_empty (&msg, REQ (SET_MEM_TABLE)), 1);
  send_or_die (f, &msg);
  wait_for (f, &f->disconnected, 0);
  g_assert_true (f->disconnected);
  g_assert_error (f->disconnect_error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_assert_cmpuint (n_regions (f), ==, 0);
}

/* The confirmation is SET_MEM_TABLE's: QEMU sends our reply back, REPLY
 * flag and all, with a u64 0 in it. The next request of a front-end that
 * does not confirm is none, even when its payload is eight zero bytes,
 * as SET_VRING_BASE's of ring 0 to 0 is (from a review): the back-end
 * hangs up with the memory unused. */
static void
test_postcopy_confirmation (Fixture       *f,
                            gconstpointer  data)
{
  static const VhostUserWireXenMemoryRegion region = { 0, 0x4000, UADDR, 0, 0, 0 };
  static const VhostUserWireVringState ring_0_at_0 = { 0, 0 };
  g_autoptr(VhostUserMessage) advise = NULL;
  g_autoptr(VhostUserMessage) table_reply = NULL;
  g_autoptr(VhostUserMessage) ack = NULL;
  MSG (msg);

  if (!postcopy_here (f))
    {
      g_test_skip ("userfaultfd on shared memory is not allowed here (needs root or vm.unprivileged_userfaultfd)");
      return;
    }
  negotiate (f, OFFERED, PF_ACK & ~PF (CONFIGURE_MEM_SLOTS));
  advise = request (f, msg_empty (&msg, REQ (POSTCOPY_ADVISE)));
  g_assert_cmpuint (advise->n_fds, ==, 1);
  check_status (f, request (f, msg_empty (&msg, REQ (POSTCOPY_LISTEN))), TRUE);
  send_or_die (f, msg_table (f, &msg, &region, 1, 0x4000));
  table_reply = next_reply (f);
  vhost_user_message_init (&msg, REQ (SET_MEM_TABLE), VHOST_USER_FLAG_REPLY);
  vhost_user_message_set_u64 (&msg, 0);
  send_or_die (f, &msg);
  ack = next_reply (f);
  g_assert_cmpuint (ack->header.request, ==, REQ (SET_MEM_TABLE));
  g_assert_cmpuint (reply_u64 (ack), ==, 0);
  g_assert_cmpuint (n_regions (f), ==, 1);
  drop_front (f);
  spin (f, 50);

  connect_front (f);
  negotiate (f, OFFERED, PF_ACK & ~PF (CONFIGURE_MEM_SLOTS));
  g_clear_pointer (&advise, message_free);
  advise = request (f, msg_empty (&msg, REQ (POSTCOPY_ADVISE)));
  g_assert_cmpuint (advise->n_fds, ==, 1);
  check_status (f, request (f, msg_empty (&msg, REQ (POSTCOPY_LISTEN))), TRUE);
  send_or_die (f, msg_table (f, &msg, &region, 1, 0x4000));
  g_clear_pointer (&table_reply, message_free);
  table_reply = next_reply (f);
  g_assert_cmpuint (n_regions (f), ==, 0);
  vhost_user_message_set_payload (msg_empty (&msg, REQ (SET_VRING_BASE)), &ring_0_at_0, sizeof ring_0_at_0);
  send_or_die (f, &msg);
  wait_for (f, &f->disconnected, 0);
  g_assert_true (f->disconnected);
  g_assert_error (f->disconnect_error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_assert_cmpuint (n_regions (f), ==, 0);
}
#endif

/* --- 2. handlers that answer later, or never --- */

static gboolean
answer_later (gpointer data)
{
  Fixture *f = data;

  vhost_user_invocation_return_u64 (f->held, 0x1234);
  g_clear_object (&f->held);
  f->held_answered = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
hold_invocation (VhostUserBackend    *backend,
                 VhostUserInvocation *invocation,
                 Fixture             *f)
{
  f->held = g_object_ref (invocation);
  return TRUE;
}

static gboolean
hold_for_50ms (VhostUserBackend    *backend,
               VhostUserInvocation *invocation,
               Fixture             *f)
{
  GSource *later = g_timeout_source_new (50);

  g_source_set_callback (later, answer_later, f, NULL);
  g_source_attach (later, f->context);
  g_source_unref (later);
  return hold_invocation (backend, invocation, f);
}

static gboolean
note_next (VhostUserBackend    *backend,
           VhostUserInvocation *invocation,
           guint                index,
           guint                num,
           Fixture             *f)
{
  f->next_fired++;
  f->next_ran_after = f->held_answered;
  return FALSE;
}

static void
test_deferred_answer (Fixture       *f,
                      gconstpointer  data)
{
  gint64 start;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  g_signal_connect (f->backend, "get-features", G_CALLBACK (hold_for_50ms), f);
  g_signal_connect (f->backend, "set-vring-num", G_CALLBACK (note_next), f);

  start = g_get_monotonic_time ();
  send_or_die (f, msg_empty (&msg, REQ (GET_FEATURES)));
  send_or_die (f, msg_state (&msg, REQ (SET_VRING_NUM), 0, 64));

  /* while the first request is unanswered the second is not even read */
  spin (f, 20);
  g_assert_false (vhost_user_invocation_get_completed (f->held));
  g_assert_cmpuint (f->next_fired, ==, 0);
  g_assert_true (g_queue_is_empty (&f->replies));

  wait_for (f, NULL, 2);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * G_TIME_SPAN_MILLISECOND);
  check_reply (g_queue_pop_head (&f->replies), "0x1234");
  check_status (f, g_queue_pop_head (&f->replies), TRUE);
  g_assert_cmpuint (f->next_fired, ==, 1);
  g_assert_true (f->next_ran_after);
  g_assert_cmpuint (vring_prop (f, 0, "size"), ==, 64);
}

static gboolean
answer_and_decline (VhostUserBackend    *backend,
                    VhostUserInvocation *invocation,
                    Fixture             *f)
{
  f->fired++;
  vhost_user_invocation_return_u64 (invocation, 5);
  return FALSE;
}

static gpointer
answer_five (gpointer data)
{
  vhost_user_invocation_return_u64 (data, 5);
  return NULL;
}

/* The same, answered by another thread the handler waited for: the
 * answer is complete before the context hears of it. */
static gboolean
answer_in_thread_and_decline (VhostUserBackend    *backend,
                              VhostUserInvocation *invocation,
                              Fixture             *f)
{
  f->fired++;
  g_thread_join (g_thread_new ("answer", answer_five, invocation));
  return FALSE;
}

/* A handler that answers and still returns FALSE: the default does not
 * run (it would answer a second time, a critical). */
static void
test_answered_declined (Fixture       *f,
                        gconstpointer  data)
{
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  g_signal_connect (f->backend, "get-queue-num", G_CALLBACK (answer_and_decline), f);
  send_or_die (f, msg_empty (&msg, REQ (GET_QUEUE_NUM)));
  wait_for (f, NULL, 1);
  g_assert_cmpuint (f->fired, ==, 1);
  check_reply (g_queue_pop_head (&f->replies), "0x5");

  g_signal_handlers_disconnect_by_func (f->backend, answer_and_decline, f);
  g_signal_connect (f->backend, "get-queue-num", G_CALLBACK (answer_in_thread_and_decline), f);
  send_or_die (f, msg_empty (&msg, REQ (GET_QUEUE_NUM)));
  wait_for (f, NULL, 1);
  g_assert_cmpuint (f->fired, ==, 2);
  check_reply (g_queue_pop_head (&f->replies), "0x5");
}

static gpointer
answer_from_thread (gpointer data)
{
  VhostUserInvocation *invocation = data;

  vhost_user_invocation_return_u64 (invocation, 7);
  g_object_unref (invocation);
  return NULL;
}

static void
test_answer_from_thread (Fixture       *f,
                         gconstpointer  data)
{
  GThread *thread;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  g_signal_connect (f->backend, "get-queue-num", G_CALLBACK (hold_invocation), f);
  send_or_die (f, msg_empty (&msg, REQ (GET_QUEUE_NUM)));
  while (f->held == NULL)
    g_main_context_iteration (f->context, TRUE);

  /* the reply still goes out from the back-end's context */
  thread = g_thread_new ("answer", answer_from_thread, g_steal_pointer (&f->held));
  wait_for (f, NULL, 1);
  g_thread_join (thread);
  check_reply (g_queue_pop_head (&f->replies), "0x7");
}

static gboolean
claim_and_drop (VhostUserBackend    *backend,
                VhostUserInvocation *invocation,
                Fixture             *f)
{
  f->fired++;
  return TRUE;
}

static void
test_dropped_always (Fixture       *f,
                     gconstpointer  data)
{
  MSG (msg);

  /* GET_FEATURES cannot say "failed": hanging up is the honest answer */
  g_signal_connect (f->backend, "get-features", G_CALLBACK (claim_and_drop), f);
  expect_close (f, msg_empty (&msg, REQ (GET_FEATURES)), VHOST_USER_ERROR_HANDLER_FAILED);
  g_assert_cmpuint (f->fired, ==, 1);
  g_assert_false (f->should_reconnect);
}

static void
test_dropped_ack (Fixture       *f,
                  gconstpointer  data)
{
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  g_signal_connect (f->backend, "set-owner", G_CALLBACK (claim_and_drop), f);
  expect_nack (f, msg_empty (&msg, REQ (SET_OWNER)));
  g_assert_cmpuint (f->fired, ==, 1);
  g_assert_false (vhost_user_backend_get_owner (f->backend));
}

/* --- 3. the reference implementation's scenarios --- */

static void
test_second_owner (Fixture       *f,
                   gconstpointer  data)
{
  gboolean owner = FALSE;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  expect_ok (f, msg_empty (&msg, REQ (SET_OWNER)));
  expect_nack (f, msg_empty (&msg, REQ (SET_OWNER)));
  g_object_get (f->backend, "owner", &owner, NULL);
  g_assert_true (owner);
}

static void
test_features (Fixture       *f,
               gconstpointer  data)
{
  const guint64 subset = F_PROTOCOL_FEATURES | F_VERSION_1;
  guint64 acked = 0;
  MSG (msg);

  /* negotiate() checks that GET_FEATURES returns the offer */
  negotiate (f, OFFERED, PF_ACK);
  expect_ok (f, msg_u64 (&msg, REQ (SET_FEATURES), subset));
  g_object_get (f->backend, "acked-features", &acked, NULL);
  g_assert_cmphex (acked, ==, subset);

  expect_nack (f, msg_u64 (&msg, REQ (SET_FEATURES), subset | VHOST_USER_FEATURE (5)));
  g_object_get (f->backend, "acked-features", &acked, NULL);
  g_assert_cmphex (acked, ==, subset);
}

static void
test_protocol_features (Fixture       *f,
                        gconstpointer  data)
{
  const guint64 offer = PF (MQ) | PF (REPLY_ACK) | PF (CONFIG);
  guint64 acked = 0;

  g_object_set (f->backend, "protocol-features", offer, NULL);
  negotiate (f, OFFERED, offer);
  g_object_get (f->backend, "acked-protocol-features", &acked, NULL);
  g_assert_cmphex (acked, ==, offer);
}

/* Bits never offered are refused, not dropped: the front-end would
 * believe them acknowledged, and SET_PROTOCOL_FEATURES has no answer
 * without REPLY_ACK, so the back-end hangs up (as DPDK does). */
static void
test_protocol_features_not_offered (Fixture       *f,
                                    gconstpointer  data)
{
  const guint64 offer = PF (MQ) | PF (REPLY_ACK) | PF (CONFIG);
  g_autoptr(VhostUserMessage) reply = NULL;
  guint64 acked = 0;
  MSG (msg);

  g_object_set (f->backend, "protocol-features", offer, NULL);
  vhost_user_message_init (&msg, REQ (GET_PROTOCOL_FEATURES), 0);
  reply = request (f, &msg);
  g_assert_cmphex (reply_u64 (reply), ==, offer);
  expect_close (f, msg_u64 (&msg, REQ (SET_PROTOCOL_FEATURES), offer | PF (LOG_SHMFD)),
                VHOST_USER_ERROR_FEATURE_MISMATCH);
  g_object_get (f->backend, "acked-protocol-features", &acked, NULL);
  g_assert_cmphex (acked, ==, 0);
}

/* --- 4. gates --- */

static void
test_gating (Fixture       *f,
             gconstpointer  data)
{
  MSG (msg);

  /* bit 30 acknowledged, not a single protocol feature */
  negotiate (f, OFFERED, 0);
  connect_recorder (f, REQ (GET_CONFIG));
  connect_recorder (f, REQ (SET_STATUS));
  connect_recorder (f, REQ (GET_QUEUE_NUM));

  check_reply (request (f, msg_config (&msg, REQ (GET_CONFIG), 0, NULL, 4)), "offset=0 flags=0 data=");
  /* with REPLY_ACK alone, a refusal is a NACK (without it, see
   * test_unheard_refusal) */
  vhost_user_message_init (&msg, REQ (SET_PROTOCOL_FEATURES), 0);
  vhost_user_message_set_u64 (&msg, PF (REPLY_ACK));
  g_assert_null (request (f, &msg));
  f->reply_ack = TRUE;
  expect_nack (f, msg_u64 (&msg, REQ (SET_STATUS), 0x0f));
  g_assert_cmphex (vhost_user_backend_get_status (f->backend), ==, 0);

  /* GET_QUEUE_NUM cannot say "failed" */
  expect_close (f, msg_empty (&msg, REQ (GET_QUEUE_NUM)), VHOST_USER_ERROR_INVALID_OPERATION);
  g_assert_cmpuint (f->fired, ==, 0);
}

static void
test_gating_enable (Fixture       *f,
                    gconstpointer  data)
{
  MSG (msg);

  /* SET_VRING_ENABLE exists only with bit 30 acknowledged */
  negotiate (f, OFFERED & ~F_PROTOCOL_FEATURES, PF_ACK);
  connect_recorder (f, REQ (SET_VRING_ENABLE));
  expect_nack (f, msg_state (&msg, REQ (SET_VRING_ENABLE), 0, 0));
  g_assert_cmpuint (f->fired, ==, 0);
  g_assert_true (vring_prop (f, 0, "enabled"));
}

/* QEMU's net device enables its first queue pair before SET_FEATURES,
 * on the strength of the offer: taken, and kept once features are set */
static void
test_gating_enable_before_features (Fixture       *f,
                                    gconstpointer  data)
{
  MSG (msg);

  expect_ok (f, msg_state (&msg, REQ (SET_VRING_ENABLE), 0, 1));
  g_assert_true (vring_prop (f, 0, "enabled"));
  expect_ok (f, msg_u64 (&msg, REQ (SET_FEATURES), OFFERED));
  g_assert_true (vring_prop (f, 0, "enabled"));
  g_assert_false (vring_prop (f, 1, "enabled"));
}

static void
test_gating_offer (Fixture       *f,
                   gconstpointer  data)
{
  MSG (msg);

  /* without bit 30 offered there are no protocol features to ask about */
  g_object_set (f->backend, "features", OFFERED & ~F_PROTOCOL_FEATURES, NULL);
  connect_recorder (f, REQ (GET_PROTOCOL_FEATURES));
  expect_close (f, msg_empty (&msg, REQ (GET_PROTOCOL_FEATURES)), VHOST_USER_ERROR_INVALID_OPERATION);
  g_assert_cmpuint (f->fired, ==, 0);
}

/* --- 5. a hostile front-end --- */

/* A refusal the front-end asked not to hear (no REPLY_ACK; or REPLY_ACK
 * without NEED_REPLY, as crosvm sends everything) would leave it setting
 * up a device that will not work: the back-end hangs up and says why. */
static void
test_unheard_refusal (Fixture       *f,
                      gconstpointer  data)
{
  gboolean with_reply_ack = GPOINTER_TO_INT (data);
  MSG (msg);

  negotiate (f, OFFERED, with_reply_ack ? PF_ACK : PF_NO_ACK);
  connect_recorder (f, REQ (SET_VRING_NUM));
  /* what succeeds still needs no answer */
  msg_state (&msg, REQ (SET_VRING_NUM), 0, 256);
  msg.header.flags &= ~VHOST_USER_FLAG_NEED_REPLY;
  g_assert_null (request (f, &msg));
  g_assert_false (f->closed);

  g_test_expect_message ("VhostUser", G_LOG_LEVEL_MESSAGE,
                         "*closing the connection: SET_VRING_NUM refused, and the front-end asked for no reply*");
  msg_state (&msg, REQ (SET_VRING_NUM), 1, 3);
  msg.header.flags &= ~VHOST_USER_FLAG_NEED_REPLY;
  f->reply_ack = FALSE;
  expect_close (f, &msg, VHOST_USER_ERROR_INVALID_PARAM);
  g_test_assert_expected_messages ();
  g_assert_true (g_str_has_prefix (f->disconnect_error->message, "SET_VRING_NUM refused"));
}

/* The protocol's largest ring by default (crosvm sets every ring to
 * 32768), and not one more. */
static void
test_ring_max_size (Fixture       *f,
                    gconstpointer  data)
{
  MSG (msg);

  g_assert_cmpuint (vhost_user_backend_get_max_queue_size (f->backend), ==, 32768);
  negotiate (f, OFFERED, PF_ACK);
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_NUM), 0, 32768));
  g_assert_cmpuint (vring_prop (f, 0, "size"), ==, 32768);
  expect_nack (f, msg_state (&msg, REQ (SET_VRING_NUM), 1, 65536));
  g_assert_cmpuint (vring_prop (f, 1, "size"), ==, 0);
}

/* A device's handler gives the bytes it has; the library pads the read
 * with zeros to the spec's 256 bytes, and refuses what no read can be. */
static gboolean
config_two_bytes (VhostUserBackend    *backend,
                  VhostUserInvocation *invocation,
                  guint                offset,
                  guint                size,
                  guint                flags,
                  gpointer             user_data)
{
  static const guint8 bytes[] = { 0xab, 0xcd, 0xef };
  g_autoptr(GBytes) data = g_bytes_new (bytes, GPOINTER_TO_UINT (user_data));

  vhost_user_invocation_return_config (invocation, data);
  return TRUE;
}

static void
test_config_short_handler (Fixture       *f,
                           gconstpointer  data)
{
  gulong id;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  id = g_signal_connect (f->backend, "get-config", G_CALLBACK (config_two_bytes), GUINT_TO_POINTER (2));
  check_reply (request (f, msg_config (&msg, REQ (GET_CONFIG), 0, NULL, 6)), "offset=0 flags=0 data=abcd00000000");
  check_reply (request (f, msg_config (&msg, REQ (GET_CONFIG), 250, NULL, 6)), "offset=250 flags=0 data=abcd00000000");
  /* past the 256 bytes a short answer is the handler's mistake */
  check_reply (request (f, msg_config (&msg, REQ (GET_CONFIG), 251, NULL, 6)), "offset=251 flags=0 data=");
  g_signal_handler_disconnect (f->backend, id);
  /* and so is a long one anywhere */
  g_signal_connect (f->backend, "get-config", G_CALLBACK (config_two_bytes), GUINT_TO_POINTER (3));
  check_reply (request (f, msg_config (&msg, REQ (GET_CONFIG), 0, NULL, 2)), "offset=0 flags=0 data=");
  g_assert_false (f->closed);
}

static void
test_hostile_sizes (Fixture       *f,
                    gconstpointer  data)
{
  VhostUserWireInflight empty = { 0 };
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);

  msg_state (&msg, REQ (SET_VRING_NUM), 0, 64)->header.size = 4;
  expect_nack (f, &msg);
  g_assert_cmpuint (vring_prop (f, 0, "size"), ==, 0);
  msg_u64 (&msg, REQ (SET_FEATURES), 0)->header.size = 16;
  expect_nack (f, &msg);
  g_assert_cmphex (vhost_user_backend_get_acked_features (f->backend), ==, OFFERED);

  /* a table announcing a region it carries half of; a region without the
   * padding in front of it */
  msg_table (f, &msg, &REGION (0, 0x1000, UADDR, 0), 1, 0x1000)->header.size -= 16;
  expect_nack (f, &msg);
  msg_region (f, &msg, REQ (ADD_MEM_REG), &REGION (0, 0x1000, UADDR, 0), 0x1000)->header.size = 32;
  expect_nack (f, &msg);
  g_assert_cmpuint (n_regions (f), ==, 0);

  /* requests with a failure form get it */
  msg_config (&msg, REQ (GET_CONFIG), 0, NULL, 4)->header.size += 4;
  check_reply (request (f, &msg), "offset=0 flags=0 data=");
  vhost_user_message_set_payload (msg_empty (&msg, REQ (GET_INFLIGHT_FD)), &empty, 16);
  check_reply (request (f, &msg), "0 queues of 0, no area");

  /* GET_VRING_BASE has none */
  msg_state (&msg, REQ (GET_VRING_BASE), 0, 0)->header.size = 0;
  expect_close (f, &msg, VHOST_USER_ERROR_INVALID_MESSAGE);
}

static void
test_hostile_fds (Fixture       *f,
                  gconstpointer  data)
{
  VhostUserWireXenMemoryRegion regions[8];
  VhostUserWireLog log = { 0x1000, 0 };
  int fds[12];
  guint open_fds;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  /* a second log eventfd replaces the first, which is closed */
  expect_ok (f, build_row (f, REQ (SET_LOG_FD), &msg));
  open_fds = test_count_open_fds ();
  expect_ok (f, build_row (f, REQ (SET_LOG_FD), &msg));
  g_assert_cmpuint (test_count_open_fds (), ==, open_fds);

  /* neither an fd nor the no-fd bit; the no-fd bit and an fd anyway */
  expect_nack (f, msg_u64 (&msg, REQ (SET_VRING_KICK), 0));
  g_assert_false (vring_prop (f, 0, "started"));
  vhost_user_message_add_fd (msg_u64 (&msg, REQ (SET_VRING_CALL), 0x100), test_eventfd ());
  expect_nack (f, &msg);
  g_assert_cmpint (vring_prop (f, 0, "call-fd"), ==, -1);

  /* an fd on a request that takes none */
  fds[0] = test_eventfd ();
  check_status (f, request_raw (f, msg_empty (&msg, REQ (SET_OWNER)), fds, 1), FALSE);
  g_assert_false (vhost_user_backend_get_owner (f->backend));

  /* fewer fds than regions, and more than any message carries */
  for (guint i = 0; i < G_N_ELEMENTS (regions); i++)
    regions[i] = REGION (i * 0x1000, 0x1000, UADDR + i * 0x1000, 0);
  msg_table (f, &msg, regions, 1, 0x1000);
  vhost_user_message_set_mem_table (&msg, regions, 2, FALSE);
  expect_nack (f, &msg);
  vhost_user_message_set_mem_table (msg_empty (&msg, REQ (SET_MEM_TABLE)), regions, 8, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = test_memfd (0x1000);
  check_status (f, request_raw (f, &msg, fds, G_N_ELEMENTS (fds)), FALSE);
  g_assert_cmpuint (n_regions (f), ==, 0);

  /* a region without its fd; an eventfd where a socket belongs */
  expect_nack (f, msg_region (f, &msg, REQ (ADD_MEM_REG), &regions[0], 0));
  vhost_user_message_add_fd (msg_empty (&msg, REQ (SET_BACKEND_REQ_FD)), test_eventfd ());
  expect_nack (f, &msg);

  /* SET_LOG_BASE without its fd: the failure form */
  vhost_user_message_set_struct (msg_empty (&msg, REQ (SET_LOG_BASE)), &log);
  check_failure (request (f, &msg));

  /* every fd that came in was closed */
  g_assert_cmpuint (test_count_open_fds (), ==, open_fds);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps);

  /* GET_FEATURES cannot fail: fds on it end the session */
  fds[0] = test_eventfd ();
  fds[1] = test_eventfd ();
  check_closed (f, request_raw (f, msg_empty (&msg, REQ (GET_FEATURES)), fds, 2),
                VHOST_USER_ERROR_INCORRECT_FDS);
}

/* An fd of kind @kind that is not an eventfd: a pipe whose writer is
 * gone, a memfd, a socket whose peer is gone (each polls readable for
 * ever), a timerfd (an anonymous inode too), /dev/null. */
#define N_NOT_EVENTFDS 5
static int
not_eventfd (guint kind)
{
  int pair[2];

  switch (kind)
    {
    case 0:
      g_assert_no_errno (pipe2 (pair, O_CLOEXEC));
      close (pair[1]);
      return pair[0];
    case 1:
      return test_memfd (0x1000);
    case 2:
      g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
      close (pair[1]);
      return pair[0];
    case 3:
      pair[0] = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC);
      g_assert_cmpint (pair[0], >=, 0);
      return pair[0];
    default:
      pair[0] = open ("/dev/null", O_RDWR | O_CLOEXEC);
      g_assert_cmpint (pair[0], >=, 0);
      return pair[0];
    }
}

/* Kick, call, err and log fds are eventfds: anything else is refused
 * (INCORRECT_FDS, a NACK) and closed, and the session goes on. A pipe
 * whose writer is gone, taken as a kick fd, polled readable for ever:
 * the ring's kick source ran without pause and took a core. */
static void
test_hostile_not_eventfds (Fixture       *f,
                           gconstpointer  data)
{
  const guint32 requests[] = { REQ (SET_VRING_KICK), REQ (SET_VRING_CALL), REQ (SET_VRING_ERR) };
  const char *properties[] = { "kick-fd", "call-fd", "err-fd" };
  guint open_fds;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  open_fds = test_count_open_fds ();
  for (guint kind = 0; kind < N_NOT_EVENTFDS; kind++)
    {
      g_test_message ("fd kind %u", kind);
      for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
        {
          expect_nack (f, msg_ring_fd (&msg, requests[i], 0, not_eventfd (kind)));
          g_assert_cmpint (vring_prop (f, 0, properties[i]), ==, -1);
        }
      vhost_user_message_add_fd (msg_empty (&msg, REQ (SET_LOG_FD)), not_eventfd (kind));
      expect_nack (f, &msg);
    }
  g_assert_false (vring_prop (f, 0, "started"));
  g_assert_cmpuint (test_count_open_fds (), ==, open_fds);

  /* the refusal, as the responder has it before any handler runs */
  {
    const VhostUserRequestInfo *info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN,
                                                                       REQ (SET_VRING_KICK));
    VhostUserShapeLimits limits = { NUM_QUEUES, 1024, MEM_SLOTS, FALSE };
    GValue values[VHOST_USER_SHAPE_MAX_ARGS] = { G_VALUE_INIT };
    g_autoptr(GError) error = NULL;
    guint n_values = 0;

    msg_ring_fd (&msg, REQ (SET_VRING_KICK), 0, not_eventfd (0));
    g_assert_false (vhost_user_shape_decode (info->shape, info, &msg, &limits, values, &n_values, &error));
    g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS);
    vhost_user_message_clear (&msg);
  }

  /* eventfds are taken */
  for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      expect_ok (f, msg_ring_fd (&msg, requests[i], 0, test_eventfd ()));
      g_assert_cmpint (vring_prop (f, 0, properties[i]), >=, 0);
    }
  g_assert_true (vring_prop (f, 0, "started"));
  vhost_user_message_add_fd (msg_empty (&msg, REQ (SET_LOG_FD)), test_eventfd ());
  expect_ok (f, &msg);
}

/* Whether the decoder takes @fd as SET_VRING_CALL's eventfd. */
static gboolean
decodes_as_eventfd (int fd)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_MAIN, REQ (SET_VRING_CALL));
  VhostUserShapeLimits limits = { NUM_QUEUES, 1024, MEM_SLOTS, FALSE };
  GValue values[VHOST_USER_SHAPE_MAX_ARGS] = { G_VALUE_INIT };
  g_autoptr(GError) error = NULL;
  guint n_values = 0;
  gboolean taken;
  MSG (msg);

  msg_ring_fd (&msg, REQ (SET_VRING_CALL), 0, fd);
  taken = vhost_user_shape_decode (info->shape, info, &msg, &limits, values, &n_values, &error);
  for (guint i = 0; i < n_values; i++)
    g_value_unset (&values[i]);
  /* (the message's fd is @fd itself: the caller still has it) */
  msg.n_fds = 0;
  vhost_user_message_clear (&msg);
  return taken;
}

/* The check reads the calling thread's fd table in /proc, by its thread
 * id, which it keeps: a child forked after a check looks at its own,
 * where the same number may be something else. */
static void
test_eventfd_check_after_fork (void)
{
  int efd = test_eventfd ();
  int status = 0;
  pid_t child;

  g_assert_true (decodes_as_eventfd (efd));
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      int pair[2];

      /* in the parent the number stays an eventfd */
      if (pipe2 (pair, O_CLOEXEC) != 0 || dup2 (pair[0], efd) != efd)
        _exit (2);
      _exit (decodes_as_eventfd (efd) ? 1 : 0);
    }
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_true (decodes_as_eventfd (efd));
  close (efd);
}

/* a well-formed request for ring @index, whatever it is about */
static VhostUserMessage *
msg_for_ring (VhostUserMessage *msg,
              guint32           request,
              guint             index)
{
  if (request == REQ (SET_VRING_ADDR))
    return msg_addr (msg, index, 0x1000, 0x2000, 0x3000);
  if (request == REQ (SET_VRING_KICK) || request == REQ (SET_VRING_CALL) || request == REQ (SET_VRING_ERR))
    return msg_ring_fd (msg, request, index, test_eventfd ());
  return msg_state (msg, request, index, request == REQ (SET_VRING_NUM) ? 64 : 1);
}

static void
test_hostile_ring (Fixture       *f,
                   gconstpointer  data)
{
  static const guint32 per_ring[] = {
    REQ (SET_VRING_NUM), REQ (SET_VRING_ADDR), REQ (SET_VRING_BASE), REQ (SET_VRING_KICK),
    REQ (SET_VRING_CALL), REQ (SET_VRING_ERR), REQ (SET_VRING_ENABLE), REQ (SET_VRING_ENDIAN),
    REQ (VRING_KICK),
  };
  static const guint bad_index[] = { NUM_QUEUES, 255 };
  /* sizes a power of two up to max-queue-size (256 here), enable 0 or 1 */
  static const struct { guint32 request, num; } bad_value[] = {
    { REQ (SET_VRING_NUM), 0 }, { REQ (SET_VRING_NUM), 3 }, { REQ (SET_VRING_NUM), 100 },
    { REQ (SET_VRING_NUM), 512 }, { REQ (SET_VRING_NUM), G_MAXUINT32 },
    { REQ (SET_VRING_ENABLE), 2 }, { REQ (SET_VRING_ENABLE), G_MAXUINT32 },
  };
  MSG (msg);

  vhost_user_backend_set_max_queue_size (f->backend, 256);
  negotiate (f, OFFERED, PF_ACK);
  for (guint i = 0; i < G_N_ELEMENTS (per_ring); i++)
    connect_recorder (f, per_ring[i]);
  connect_recorder (f, REQ (GET_VRING_BASE));

  for (guint i = 0; i < G_N_ELEMENTS (per_ring); i++)
    for (guint j = 0; j < G_N_ELEMENTS (bad_index); j++)
      expect_nack (f, msg_for_ring (&msg, per_ring[i], bad_index[j]));
  for (guint i = 0; i < G_N_ELEMENTS (bad_value); i++)
    expect_nack (f, msg_state (&msg, bad_value[i].request, 0, bad_value[i].num));
  g_assert_cmpuint (f->fired, ==, 0);
  g_assert_cmpuint (vring_prop (f, 0, "size"), ==, 0);
  g_assert_false (vring_prop (f, 0, "enabled"));

  /* the largest size, on the last ring, is fine */
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_NUM), NUM_QUEUES - 1, 256));
  g_assert_cmpstr (f->args, ==, "1 256");
  reset_recorder (f);

  /* GET_VRING_BASE cannot say "failed" */
  expect_close (f, msg_state (&msg, REQ (GET_VRING_BASE), NUM_QUEUES, 0), VHOST_USER_ERROR_INVALID_PARAM);
  g_assert_cmpuint (f->fired, ==, 0);
}

static void
test_hostile_mem_table (Fixture       *f,
                        gconstpointer  data)
{
  static const struct {
    const char                  *what;
    guint                        n;
    VhostUserWireXenMemoryRegion r[2];
  } bad[] = {
    { "gpa wraps", 1, { { G_GUINT64_CONSTANT (0xfffffffffffff000), 0x2000, UADDR, 0, 0, 0 } } },
    { "uaddr wraps", 1, { { 0x100000, 0x1000, G_GUINT64_CONSTANT (0xfffffffffffff800), 0, 0, 0 } } },
    { "offset wraps", 1, { { 0x100000, 0x1000, UADDR, G_GUINT64_CONSTANT (0xfffffffffffff800), 0, 0 } } },
    { "size 0", 1, { { 0x100000, 0, UADDR, 0, 0, 0 } } },
    { "offset past the file", 1, { { 0x100000, 0x1000, UADDR, 0x2000, 0, 0 } } },
    { "gpa overlap", 2, { { 0x100000, 0x1000, UADDR, 0, 0, 0 }, { 0x100800, 0x1000, UADDR + 0x10000, 0, 0, 0 } } },
    { "uaddr overlap", 2, { { 0x100000, 0x1000, UADDR, 0, 0, 0 }, { 0x200000, 0x1000, UADDR + 0x800, 0, 0, 0 } } },
    { "same region twice", 2, { { 0, 0x1000, UADDR, 0, 0, 0 }, { 0, 0x1000, UADDR, 0, 0, 0 } } },
  };
  VhostUserMemoryTable *table;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  expect_ok (f, msg_table (f, &msg, &REGION (0, 0x1000, UADDR, 0), 1, 0x2000));
  table = vhost_user_backend_get_memory_table (f->backend);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps + 1);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("memory table: %s", bad[i].what);
      expect_nack (f, msg_table (f, &msg, bad[i].r, bad[i].n, 0x2000));
      /* the table in use stays, and nothing is left half-mapped */
      g_assert_true (vhost_user_backend_get_memory_table (f->backend) == table);
      g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps + 1);
    }

  /* a table of nothing unmaps everything */
  expect_ok (f, msg_table (f, &msg, NULL, 0, 0));
  g_assert_cmpuint (n_regions (f), ==, 0);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps);
}

static void
test_hostile_mem_slots (Fixture       *f,
                        gconstpointer  data)
{
  VhostUserWireXenMemoryRegion regions[3];
  MSG (msg);

  vhost_user_backend_set_max_mem_slots (f->backend, 2);
  negotiate (f, OFFERED, PF_ACK);
  check_reply (request (f, msg_empty (&msg, REQ (GET_MAX_MEM_SLOTS))), "0x2");

  for (guint i = 0; i < 3; i++)
    {
      regions[i] = REGION (i * 0x100000, 0x1000, UADDR + i * 0x100000, 0);
      check_status (f, request (f, msg_region (f, &msg, REQ (ADD_MEM_REG), &regions[i], 0x1000)), i < 2);
    }
  g_assert_cmpuint (n_regions (f), ==, 2);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps + 2);

  /* not there; there with another size; there at another address */
  expect_nack (f, msg_region (f, &msg, REQ (REM_MEM_REG), &regions[2], 0));
  expect_nack (f, msg_region (f, &msg, REQ (REM_MEM_REG), &REGION (0, 0x2000, UADDR, 0), 0));
  expect_nack (f, msg_region (f, &msg, REQ (REM_MEM_REG), &REGION (0, 0x1000, UADDR + 0x1000, 0), 0));
  g_assert_cmpuint (n_regions (f), ==, 2);
  expect_ok (f, msg_region (f, &msg, REQ (REM_MEM_REG), &regions[0], 0));
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps + 1);

  /* a whole table past the slots */
  expect_nack (f, msg_table (f, &msg, regions, 3, 0x1000));
  g_assert_cmpuint (n_regions (f), ==, 1);
}

static void
test_hostile_config (Fixture       *f,
                     gconstpointer  data)
{
  /* past the config's end and within the spec's 256 bytes, zeros; past
   * those, and empty reads, the failure form */
  static const struct { guint32 offset, size; const char *reply; } reads[] = {
    { 12, 8, "offset=12 flags=0 data=1c1d1e1f00000000" },
    { CONFIG_LEN, 1, "offset=16 flags=0 data=00" },
    { 0, CONFIG_LEN + 1, "offset=0 flags=0 data=101112131415161718191a1b1c1d1e1f00" },
    { 252, 4, "offset=252 flags=0 data=00000000" },
    { 253, 4, "offset=253 flags=0 data=" },
    { 0, 257, "offset=0 flags=0 data=" },
    { G_MAXUINT32, 2, "offset=4294967295 flags=0 data=" },
    { 0, 0, "offset=0 flags=0 data=" },
  };
  g_autoptr(GBytes) before = NULL;
  guint8 bytes[CONFIG_LEN] = { 0 };
  GBytes *config;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  before = g_bytes_ref (vhost_user_backend_get_config (f->backend));
  for (guint i = 0; i < G_N_ELEMENTS (reads); i++)
    check_reply (request (f, msg_config (&msg, REQ (GET_CONFIG), reads[i].offset, NULL, reads[i].size)),
                 reads[i].reply);

  /* writes past the end, and to read-only bytes (8 on) */
  expect_nack (f, msg_config (&msg, REQ (SET_CONFIG), 14, bytes, 4));
  expect_nack (f, msg_config (&msg, REQ (SET_CONFIG), G_MAXUINT32, bytes, 2));
  expect_nack (f, msg_config (&msg, REQ (SET_CONFIG), 6, bytes, 4));
  g_assert_true (g_bytes_equal (vhost_user_backend_get_config (f->backend), before));

  /* a read-only byte written with the value it has is no change */
  memcpy (bytes, g_bytes_get_data (before, NULL), CONFIG_LEN);
  bytes[7] = 0xee;
  expect_ok (f, msg_config (&msg, REQ (SET_CONFIG), 6, bytes + 6, 4));
  config = vhost_user_backend_get_config (f->backend);
  g_assert_cmpmem (g_bytes_get_data (config, NULL), g_bytes_get_size (config), bytes, CONFIG_LEN);
}

static void
test_hostile_shared_areas (Fixture       *f,
                           gconstpointer  data)
{
  static const VhostUserWireInflight bad_inflight[] = {
    { 0, 0, 0, 256, { 0 } }, { 0, 0, NUM_QUEUES, 0, { 0 } }, { 0, 0, NUM_QUEUES + 1, 256, { 0 } },
    { 0, 0, 1, G_MAXUINT16, { 0 } },
  };
  /* size 0, a file too small, an offset that wraps */
  static const struct { VhostUserWireLog log; gsize file; } bad_log[] = {
    { { 0, 0 }, 0x1000 }, { { 0x1000, 0x1000 }, 0x1000 }, { { 0x2000, G_GUINT64_CONSTANT (0xfffffffffffff000) }, 0x1000 },
  };
  VhostUserWireInflight too_big = { 0x2000, 0, NUM_QUEUES, 256, { 0 } };
  VhostUserWireLog log = { 0x1000, 0 };
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  for (guint i = 0; i < G_N_ELEMENTS (bad_inflight); i++)
    {
      vhost_user_message_set_struct (msg_empty (&msg, REQ (GET_INFLIGHT_FD)), &bad_inflight[i]);
      check_reply (request (f, &msg), "0 queues of 0, no area");
    }
  vhost_user_message_set_struct (msg_empty (&msg, REQ (SET_INFLIGHT_FD)), &too_big);
  vhost_user_message_add_fd (&msg, test_memfd (0x1000));
  expect_nack (f, &msg);

  for (guint i = 0; i < G_N_ELEMENTS (bad_log); i++)
    {
      vhost_user_message_set_struct (msg_empty (&msg, REQ (SET_LOG_BASE)), &bad_log[i].log);
      vhost_user_message_add_fd (&msg, test_memfd (bad_log[i].file));
      check_failure (request (f, &msg));
    }
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps);

  /* a second log replaces the first */
  for (guint i = 0; i < 2; i++)
    {
      vhost_user_message_set_struct (msg_empty (&msg, REQ (SET_LOG_BASE)), &log);
      vhost_user_message_add_fd (&msg, test_memfd (0x1000));
      check_reply (request (f, &msg), "0x0");
      g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps + 1);
    }
}

/* The /proc/self/maps line of the back-end's in-flight area. */
static char *
inflight_mapping (void)
{
  g_autofree char *maps = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "memfd:vhost-user-inflight") != NULL)
      return g_strdup (lines[i]);
  return NULL;
}

/* The area GET_INFLIGHT_FD made, handed back whole by SET_INFLIGHT_FD as
 * QEMU does on every start, keeps its mapping; another file is mapped. */
static void
test_inflight_handed_back (Fixture       *f,
                           gconstpointer  data)
{
  VhostUserWireInflight ask = { 0, 0, NUM_QUEUES, 64, { 0 } }, given;
  g_autofree char *before = NULL, *after = NULL;
  VhostUserMessage *reply;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  vhost_user_message_set_struct (msg_empty (&msg, REQ (GET_INFLIGHT_FD)), &ask);
  reply = request (f, &msg);
  g_assert_nonnull (reply);
  g_assert_cmpuint (reply->n_fds, ==, 1);
  memcpy (&given, reply->payload, sizeof given);
  before = inflight_mapping ();
  g_assert_nonnull (before);

  vhost_user_message_set_struct (msg_empty (&msg, REQ (SET_INFLIGHT_FD)), &given);
  vhost_user_message_add_fd (&msg, vhost_user_message_steal_fd (reply, 0));
  message_free (reply);
  expect_ok (f, &msg);
  after = inflight_mapping ();
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps + 1);

  /* a file of its own, the same size: mapped instead */
  vhost_user_message_set_struct (msg_empty (&msg, REQ (SET_INFLIGHT_FD)), &given);
  vhost_user_message_add_fd (&msg, test_memfd (given.mmap_size));
  expect_ok (f, &msg);
  g_assert_null (inflight_mapping ());
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps + 1);
}

static void
test_hostile_vring_addr (Fixture       *f,
                         gconstpointer  data)
{
  static const struct { guint64 desc, avail, used; } bad[] = {
    { UADDR + 8, UADDR + 0x1000, UADDR + 0x2000 },    /* desc not 16-aligned */
    { UADDR, UADDR + 0x1001, UADDR + 0x2000 },        /* avail not 2-aligned */
    { UADDR, UADDR + 0x1000, UADDR + 0x2002 },        /* used not 4-aligned */
    { 0x1000, UADDR + 0x1000, UADDR + 0x2000 },       /* desc outside guest memory */
    { UADDR, UADDR + 0x4000, UADDR + 0x2000 },        /* avail just past it */
    { UADDR, UADDR + 0x1000, UADDR - 0x1000 },        /* used just before it */
  };
  const VhostUserVringAddress *address = vhost_user_vring_get_address (vhost_user_backend_get_vring (f->backend, 0));
  MSG (msg);

  /* without an IOMMU, ring addresses are front-end addresses, checked */
  negotiate (f, OFFERED & ~F_ACCESS_PLATFORM, PF_ACK);
  expect_ok (f, msg_table (f, &msg, &REGION (0, 0x4000, UADDR, 0), 1, 0x4000));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      expect_nack (f, msg_addr (&msg, 0, bad[i].desc, bad[i].avail, bad[i].used));
      g_assert_cmphex (address->desc_user_addr, ==, 0);
    }
  expect_ok (f, msg_addr (&msg, 0, UADDR, UADDR + 0x1000, UADDR + 0x2000));
  g_assert_cmphex (address->used_user_addr, ==, UADDR + 0x2000);
}

static void
test_hostile_header (Fixture       *f,
                     gconstpointer  data)
{
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);

  /* unknown requests: a NACK if asked for one, else nothing */
  check_failure (request (f, msg_empty (&msg, 99)));
  vhost_user_message_init (&msg, 99, 0);
  g_assert_null (request (f, &msg));

  /* a reply is nothing to act on, nor to answer */
  vhost_user_message_init (&msg, REQ (SET_OWNER), VHOST_USER_FLAG_REPLY);
  g_assert_null (request (f, &msg));
  vhost_user_message_init (&msg, REQ (SET_OWNER), VHOST_USER_FLAG_REPLY | VHOST_USER_FLAG_NEED_REPLY);
  g_assert_null (request (f, &msg));

  /* a reserved flag bit; a version that does not exist */
  msg_empty (&msg, REQ (SET_OWNER))->header.flags |= 0x10;
  expect_nack (f, &msg);
  msg_empty (&msg, REQ (SET_OWNER))->header.flags = 0x2 | VHOST_USER_FLAG_NEED_REPLY;
  expect_nack (f, &msg);
  g_assert_false (vhost_user_backend_get_owner (f->backend));

  /* after all that, the session goes on */
  expect_ok (f, msg_empty (&msg, REQ (SET_OWNER)));
  g_assert_true (vhost_user_backend_get_owner (f->backend));

  /* a payload larger than any request: no framing to recover */
  msg_empty (&msg, REQ (SET_CONFIG))->header.size = VHOST_USER_MAX_PAYLOAD + 1;
  raw_send (f, &msg, VHOST_USER_HEADER_SIZE, NULL, 0);
  wait_for (f, &f->closed, 0);
  check_closed (f, NULL, VHOST_USER_ERROR_OVERSIZED_MESSAGE);
  g_assert_false (f->should_reconnect);
}

/* --- 6. disconnects --- */

/* A session holding one of everything a disconnect must let go of. */
static void
populate (Fixture *f)
{
  VhostUserWireInflight inflight = { 0, 0, NUM_QUEUES, 64, { 0 } };
  MSG (msg);

  expect_ok (f, build_row (f, REQ (SET_MEM_TABLE), &msg));
  check_reply (request (f, build_row (f, REQ (SET_LOG_BASE), &msg)), "0x0");
  expect_ok (f, build_row (f, REQ (SET_LOG_FD), &msg));
  expect_ok (f, build_row (f, REQ (SET_BACKEND_REQ_FD), &msg));
  expect_ok (f, msg_empty (&msg, REQ (SET_OWNER)));
  for (guint i = 0; i < NUM_QUEUES; i++)
    {
      expect_ok (f, msg_state (&msg, REQ (SET_VRING_NUM), i, 64));
      expect_ok (f, msg_ring_fd (&msg, REQ (SET_VRING_KICK), i, test_eventfd ()));
      expect_ok (f, msg_ring_fd (&msg, REQ (SET_VRING_CALL), i, test_eventfd ()));
      expect_ok (f, msg_ring_fd (&msg, REQ (SET_VRING_ERR), i, test_eventfd ()));
      expect_ok (f, msg_state (&msg, REQ (SET_VRING_ENABLE), i, 1));
    }
  vhost_user_message_set_struct (msg_empty (&msg, REQ (GET_INFLIGHT_FD)), &inflight);
  check_reply (request (f, &msg), "2 queues of 64, a zeroed area");

  /* two regions, the log and the in-flight area */
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps + 4);
  g_close (f->extra_fd, NULL);
  f->extra_fd = -1;
}

static void
check_released (Fixture *f)
{
  g_assert_false (vhost_user_backend_get_connected (f->backend));
  g_assert_cmpuint (n_regions (f), ==, 0);
  for (guint i = 0; i < NUM_QUEUES; i++)
    {
      g_assert_cmpint (vring_prop (f, i, "kick-fd"), ==, -1);
      g_assert_cmpint (vring_prop (f, i, "call-fd"), ==, -1);
      g_assert_cmpint (vring_prop (f, i, "err-fd"), ==, -1);
      g_assert_false (vring_prop (f, i, "started"));
      g_assert_false (vring_prop (f, i, "enabled"));
    }
  g_assert_false (vhost_user_backend_get_owner (f->backend));
  g_assert_cmphex (vhost_user_backend_get_acked_features (f->backend), ==, 0);
  g_assert_cmphex (vhost_user_backend_get_acked_protocol_features (f->backend), ==, 0);
  g_assert_cmpuint (count_memfd_mappings (), ==, f->baseline_maps);
}

static void
test_disconnect_peer (Fixture       *f,
                      gconstpointer  data)
{
  guint open_fds;

  negotiate (f, OFFERED, PF_ACK);
  open_fds = test_count_open_fds ();
  populate (f);

  drop_front (f);
  wait_for (f, &f->disconnected, 0);
  g_assert_error (f->disconnect_error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
  g_assert_true (f->should_reconnect);
  check_released (f);
  /* everything that came in is closed, and both ends of the socket */
  g_assert_cmpuint (test_count_open_fds (), ==, open_fds - 2);
}

static void
test_disconnect_local (Fixture       *f,
                       gconstpointer  data)
{
  guint open_fds;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  open_fds = test_count_open_fds ();
  populate (f);

  vhost_user_backend_close (f->backend);
  g_assert_true (f->disconnected);
  /* closing on purpose is not a broken socket: nothing to reconnect */
  g_assert_error (f->disconnect_error, VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED);
  g_assert_false (f->should_reconnect);
  check_released (f);
  wait_for (f, &f->closed, 0);
  drop_front (f);
  g_assert_cmpuint (test_count_open_fds (), ==, open_fds - 2);

  /* a new front-end is served as if it were the first */
  connect_front (f);
  negotiate (f, OFFERED, PF_ACK);
  expect_ok (f, msg_empty (&msg, REQ (SET_OWNER)));
  check_reply (request (f, msg_empty (&msg, REQ (GET_QUEUE_NUM))), "0x2");
}

static void
test_disconnect_mid_message (Fixture       *f,
                             gconstpointer  data)
{
  guint open_fds;
  int fd;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  open_fds = test_count_open_fds ();
  fd = test_eventfd ();

  /* the header, an fd and half the payload; then nobody */
  raw_send (f, msg_ring_fd (&msg, REQ (SET_VRING_KICK), 0, -1), VHOST_USER_HEADER_SIZE + 4, &fd, 1);
  drop_front (f);
  wait_for (f, &f->disconnected, 0);
  g_assert_error (f->disconnect_error, VHOST_USER_ERROR, VHOST_USER_ERROR_PARTIAL_MESSAGE);
  g_assert_true (f->should_reconnect);
  check_released (f);
  g_assert_cmpuint (test_count_open_fds (), ==, open_fds - 2);
}

static void
test_disconnect_stale_invocation (Fixture       *f,
                                  gconstpointer  data)
{
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  g_signal_connect (f->backend, "get-queue-num", G_CALLBACK (hold_invocation), f);
  send_or_die (f, msg_empty (&msg, REQ (GET_QUEUE_NUM)));
  while (f->held == NULL)
    g_main_context_iteration (f->context, TRUE);

  /* the front-end leaves while its request is being answered */
  drop_front (f);
  wait_for (f, &f->disconnected, 0);
  connect_front (f);
  negotiate (f, OFFERED, PF_ACK);

  /* that answer belongs to a connection that is gone */
  vhost_user_invocation_return_u64 (f->held, 7);
  g_clear_object (&f->held);
  g_signal_handlers_disconnect_by_func (f->backend, hold_invocation, f);
  spin (f, 20);
  if (!g_queue_is_empty (&f->replies))
    {
      g_test_incomplete ("an invocation completed after a reconnect answers on the new connection");
      return;
    }
  check_reply (request (f, msg_empty (&msg, REQ (GET_QUEUE_NUM))), "0x2");
}

/* --- 7. ring states --- */

static void
test_ring_start_stop (Fixture       *f,
                      gconstpointer  data)
{
  guint64 value = 1;
  guint open_fds;
  int kick = test_eventfd ();
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  g_assert_false (vring_prop (f, 0, "started"));
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_NUM), 0, 64));
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_BASE), 0, 7));
  expect_ok (f, msg_ring_fd (&msg, REQ (SET_VRING_KICK), 0, dup (kick)));
  g_assert_true (vring_prop (f, 0, "started"));
  g_assert_false (vring_prop (f, 0, "enabled"));
  g_assert_false (vring_prop (f, 1, "started"));

  /* the ring holds our very eventfd */
  g_assert_cmpint (write (kick, &value, sizeof value), ==, sizeof value);
  value = 0;
  g_assert_cmpint (read (vring_prop (f, 0, "kick-fd"), &value, sizeof value), ==, sizeof value);
  g_assert_cmpuint (value, ==, 1);
  g_close (kick, NULL);
  expect_ok (f, msg_ring_fd (&msg, REQ (SET_VRING_CALL), 0, test_eventfd ()));

  /* a later kick fd replaces the first, which is closed */
  open_fds = test_count_open_fds ();
  expect_ok (f, msg_ring_fd (&msg, REQ (SET_VRING_KICK), 0, test_eventfd ()));
  g_assert_cmpuint (test_count_open_fds (), ==, open_fds);

  /* GET_VRING_BASE stops the ring and forgets nothing */
  check_reply (request (f, msg_state (&msg, REQ (GET_VRING_BASE), 0, 0)), "0 7");
  g_assert_false (vring_prop (f, 0, "started"));
  g_assert_cmpint (vring_prop (f, 0, "kick-fd"), >=, 0);
  g_assert_cmpint (vring_prop (f, 0, "call-fd"), >=, 0);
  g_assert_cmpuint (vring_prop (f, 0, "base"), ==, 7);
  g_assert_cmpuint (vring_prop (f, 0, "size"), ==, 64);

  /* an in-band kick starts it again */
  expect_ok (f, msg_state (&msg, REQ (VRING_KICK), 0, 0));
  g_assert_true (vring_prop (f, 0, "started"));
}

static void
test_ring_enable (Fixture       *f,
                  gconstpointer  data)
{
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  g_assert_false (vring_prop (f, 1, "enabled"));
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_ENABLE), 1, 1));
  g_assert_true (vring_prop (f, 1, "enabled"));
  g_assert_false (vring_prop (f, 0, "enabled"));
  /* independent bits: a stopped ring keeps track of its enable bit */
  g_assert_false (vring_prop (f, 1, "started"));
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_ENABLE), 1, 0));
  g_assert_false (vring_prop (f, 1, "enabled"));

  /* without bit 30 there is no SET_VRING_ENABLE: every ring is enabled */
  expect_ok (f, msg_u64 (&msg, REQ (SET_FEATURES), OFFERED & ~F_PROTOCOL_FEATURES));
  for (guint i = 0; i < NUM_QUEUES; i++)
    g_assert_true (vring_prop (f, i, "enabled"));
}

static void
test_ring_reset (Fixture       *f,
                 gconstpointer  data)
{
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  expect_ok (f, msg_empty (&msg, REQ (SET_OWNER)));
  expect_ok (f, msg_u64 (&msg, REQ (SET_STATUS), 0x0f));
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_NUM), 0, 64));
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_BASE), 0, 9));
  expect_ok (f, msg_ring_fd (&msg, REQ (SET_VRING_KICK), 0, test_eventfd ()));
  expect_ok (f, msg_ring_fd (&msg, REQ (SET_VRING_CALL), 0, test_eventfd ()));
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_ENABLE), 0, 1));

  expect_ok (f, msg_empty (&msg, REQ (RESET_DEVICE)));
  g_assert_false (vring_prop (f, 0, "started"));
  g_assert_false (vring_prop (f, 0, "enabled"));
  g_assert_cmpint (vring_prop (f, 0, "kick-fd"), ==, -1);
  g_assert_cmpint (vring_prop (f, 0, "call-fd"), ==, -1);
  g_assert_cmpuint (vring_prop (f, 0, "size"), ==, 0);
  g_assert_cmpuint (vring_prop (f, 0, "base"), ==, 0);
  check_reply (request (f, msg_empty (&msg, REQ (GET_STATUS))), "0x0");
  /* the session stays */
  g_assert_true (vhost_user_backend_get_owner (f->backend));
  g_assert_cmphex (vhost_user_backend_get_acked_protocol_features (f->backend), ==, PF_ACK);

  /* RESET_OWNER, deprecated: the rings stop, the session stays */
  expect_ok (f, msg_ring_fd (&msg, REQ (SET_VRING_KICK), 0, test_eventfd ()));
  expect_ok (f, msg_state (&msg, REQ (SET_VRING_ENABLE), 0, 1));
  expect_ok (f, msg_empty (&msg, REQ (RESET_OWNER)));
  g_assert_false (vring_prop (f, 0, "started"));
  g_assert_false (vring_prop (f, 0, "enabled"));
  g_assert_true (vhost_user_backend_get_owner (f->backend));
}

/* Every row of the table is a signal of the row's nick and shape, with a
 * class closure that answers (the row tests above send each one). */
static void
check_signals_from_table (GType            type,
                          VhostUserChannel channel)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (type);
  const VhostUserRequestInfo *table;
  guint n_rows;

  table = vhost_user_request_table (channel, &n_rows);
  for (guint i = 1; i < n_rows; i++)
    {
      GType types[VHOST_USER_SHAPE_MAX_ARGS];
      guint n_args = vhost_user_shape_get_param_types (table[i].shape, types);
      GSignalQuery query;

      g_signal_query (g_signal_lookup (table[i].nick, type), &query);
      g_assert_cmpuint (query.signal_id, !=, 0);
      g_assert_cmpstr (query.signal_name, ==, table[i].nick);
      g_assert_true (query.return_type == G_TYPE_BOOLEAN);
      g_assert_cmpuint (query.n_params, ==, 1 + n_args);
      g_assert_true (query.param_types[0] == VHOST_USER_TYPE_INVOCATION);
      for (guint p = 0; p < n_args; p++)
        g_assert_true (query.param_types[1 + p] == types[p]);
    }
}

/* Invocations are reused from one request to the next, but only where
 * nobody can tell: one watched (a weak reference, data) is finalized
 * when its request is over, and one kept is never made another's. */
typedef struct {
  guint                mode;
  VhostUserInvocation *seen;       /* not a reference */
  VhostUserInvocation *kept;
  gboolean             finalized;
  gboolean             data_freed;
} Watch;

enum { WATCH_NOTHING, WATCH_WEAK_REF, WATCH_DATA, WATCH_KEEP };

static void
set_true (gpointer data)
{
  *(gboolean *) data = TRUE;
}

static void
on_watched_finalized (gpointer  data,
                      GObject  *where_the_object_was)
{
  set_true (data);
}

static gboolean
watch_invocation (VhostUserBackend    *backend,
                  VhostUserInvocation *invocation,
                  gpointer             user_data)
{
  Watch *w = user_data;

  w->seen = invocation;
  if (w->mode == WATCH_WEAK_REF)
    g_object_weak_ref (G_OBJECT (invocation), on_watched_finalized, &w->finalized);
  else if (w->mode == WATCH_DATA)
    g_object_set_data_full (G_OBJECT (invocation), "watch", &w->data_freed, set_true);
  else if (w->mode == WATCH_KEEP && w->kept == NULL)
    w->kept = g_object_ref (invocation);
  return FALSE;   /* the default handler answers */
}

static void
request_protocol_features (Fixture *f)
{
  MSG (msg);

  message_free (request (f, msg_empty (&msg, REQ (GET_PROTOCOL_FEATURES))));
}

static void
test_invocation_recycled (Fixture       *f,
                          gconstpointer  data)
{
  Watch w = { WATCH_NOTHING };
  VhostUserInvocation *first;

  g_signal_connect (f->backend, "get-protocol-features", G_CALLBACK (watch_invocation), &w);

  /* nobody watching: the same object serves the next request */
  request_protocol_features (f);
  first = w.seen;
  request_protocol_features (f);
  g_assert_true (w.seen == first);

  w.mode = WATCH_WEAK_REF;
  request_protocol_features (f);
  g_assert_true (w.finalized);

  w.mode = WATCH_DATA;
  request_protocol_features (f);
  g_assert_true (w.data_freed);

  w.mode = WATCH_KEEP;
  request_protocol_features (f);
  g_assert_nonnull (w.kept);
  w.mode = WATCH_NOTHING;
  for (guint i = 0; i < 3; i++)
    {
      request_protocol_features (f);
      g_assert_true (w.seen != w.kept);
    }
  /* the marker requests (GET_FEATURES) went through the spare too */
  g_assert_cmpstr (vhost_user_invocation_get_request_name (w.kept), ==, "GET_PROTOCOL_FEATURES");
  g_assert_true (vhost_user_invocation_get_completed (w.kept));
  g_clear_object (&w.kept);
}

/* ... the back-end's for main-socket requests, the front-end's for
 * those of the back-end channel */
static void
test_signals_from_table (void)
{
  check_signals_from_table (VHOST_USER_TYPE_BACKEND, VHOST_USER_CHANNEL_MAIN);
  check_signals_from_table (VHOST_USER_TYPE_FRONTEND, VHOST_USER_CHANNEL_BACKEND);
}

/* A subclass may chain up to every vfunc, disconnected included. */
static void
test_chain_up_disconnected (void)
{
  g_autoptr(VhostUserBackend) backend = vhost_user_backend_new ();
  g_autoptr(GError) error = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN, "gone");
  VhostUserBackendClass *klass = VHOST_USER_BACKEND_GET_CLASS (backend);

  g_assert_nonnull (klass->disconnected);
  klass->disconnected (backend, error, TRUE);
}

/* The rings watch their kicks in the back-end's own context, which is
 * only known once the back-end is constructed. */
static void
test_rings_in_main_context (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(VhostUserBackend) backend = g_object_new (VHOST_USER_TYPE_BACKEND, "num-queues", 2,
                                                      "main-context", context, NULL);

  for (guint i = 0; i < 2; i++)
    g_assert_true (vhost_user_vring_get_context (vhost_user_backend_get_vring (backend, i)) == context);
}

static gboolean
note_thread_default (VhostUserBackend    *backend,
                     VhostUserInvocation *invocation,
                     gpointer             user_data)
{
  GMainContext **seen = user_data;

  *seen = g_main_context_ref_thread_default ();
  return FALSE;
}

/* Handlers run with the back-end's context as thread-default, whoever
 * dispatches the socket (a blocking call's private wait does), so what
 * they start asynchronously completes where the back-end lives. */
static void
test_handlers_thread_default (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GMainContext) elsewhere = g_main_context_new ();
  g_autoptr(GMainContext) seen = NULL;
  VhostUserMessage *reply;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  g_signal_connect (f->backend, "get-queue-num", G_CALLBACK (note_thread_default), &seen);
  g_main_context_push_thread_default (elsewhere);
  reply = request (f, msg_empty (&msg, REQ (GET_QUEUE_NUM)));
  g_main_context_pop_thread_default (elsewhere);
  g_assert_cmpuint (reply_u64 (reply), ==, NUM_QUEUES);
  message_free (reply);
  g_assert_true (seen == f->context);
}

/* Two subclasses that answer GET_QUEUE_NUM themselves: one overrides the
 * vfunc, the other the signal's class handler */
typedef VhostUserBackend      TestVfuncBackend;
typedef VhostUserBackendClass TestVfuncBackendClass;
typedef VhostUserBackend      TestOverrideBackend;
typedef VhostUserBackendClass TestOverrideBackendClass;

static GType test_vfunc_backend_get_type (void);
static GType test_override_backend_get_type (void);
G_DEFINE_TYPE (TestVfuncBackend, test_vfunc_backend, VHOST_USER_TYPE_BACKEND)
G_DEFINE_TYPE (TestOverrideBackend, test_override_backend, VHOST_USER_TYPE_BACKEND)

static gboolean
answer_7 (VhostUserBackend    *backend,
          VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, 7);
  return TRUE;
}

static gboolean
answer_9 (VhostUserBackend    *backend,
          VhostUserInvocation *invocation)
{
  vhost_user_invocation_return_u64 (invocation, 9);
  return TRUE;
}

static gboolean
answer_11 (VhostUserBackend    *backend,
           VhostUserInvocation *invocation,
           gpointer             user_data)
{
  vhost_user_invocation_return_u64 (invocation, 11);
  return TRUE;
}

static void
test_vfunc_backend_class_init (TestVfuncBackendClass *klass)
{
  klass->handle_get_queue_num = answer_7;
}

static void
test_vfunc_backend_init (TestVfuncBackend *self)
{
}

static void
test_override_backend_class_init (TestOverrideBackendClass *klass)
{
  g_signal_override_class_handler ("get-queue-num", G_TYPE_FROM_CLASS (klass), G_CALLBACK (answer_9));
}

static void
test_override_backend_init (TestOverrideBackend *self)
{
}

static void
fixture_setup_subclass (Fixture       *f,
                        gconstpointer  data)
{
  fixture_type = ((GType (*) (void)) data) ();
  fixture_setup (f, NULL);
  fixture_type = 0;
}

static guint64
ask_queue_num (Fixture *f)
{
  VhostUserMessage *reply;
  guint64 value;
  MSG (msg);

  reply = request (f, msg_empty (&msg, REQ (GET_QUEUE_NUM)));
  value = reply_u64 (reply);
  message_free (reply);
  return value;
}

/* With no handler connected, the responder calls the class's vfunc
 * instead of emitting; that must change nothing a subclass sees: its
 * vfunc answers, a class handler it overrode answers, and a handler
 * connected afterwards (then emitted to) goes before either. */
static void
test_dispatch_paths (Fixture       *f,
                     gconstpointer  data)
{
  guint64 expected = data == test_vfunc_backend_get_type ? 7 :
                     data == test_override_backend_get_type ? 9 : NUM_QUEUES;
  gulong id;

  negotiate (f, OFFERED, PF_ACK);
  g_assert_cmpuint (ask_queue_num (f), ==, expected);
  id = g_signal_connect (f->backend, "get-queue-num", G_CALLBACK (answer_11), NULL);
  g_assert_cmpuint (ask_queue_num (f), ==, 11);
  g_signal_handler_disconnect (f->backend, id);
  g_assert_cmpuint (ask_queue_num (f), ==, expected);
}

static gboolean
chain_to_set_vring_call (VhostUserBackend    *backend,
                         VhostUserInvocation *invocation,
                         int                  fd,
                         gpointer             user_data)
{
  return VHOST_USER_BACKEND_GET_CLASS (backend)->handle_set_vring_call (backend, invocation, 0, fd);
}

/* A ring takes only its own request's fd, which the decoder checked is
 * an eventfd (the ring closes it without care for pipes): a handler of
 * another request (a socket, a pipe in hand) that chains up to the
 * ring's default is a programming error, and no fd reaches the ring. */
static void
test_ring_fd_from_another_request (Fixture       *f,
                                   gconstpointer  data)
{
  VhostUserMessage *answer;
  MSG (msg);

  negotiate (f, OFFERED, PF_ACK);
  g_signal_connect (f->backend, "set-backend-req-fd", G_CALLBACK (chain_to_set_vring_call), NULL);
  g_test_expect_message ("VhostUser", G_LOG_LEVEL_CRITICAL, "*take_vring_fd*");
  answer = request (f, build_row (f, REQ (SET_BACKEND_REQ_FD), &msg));
  if (answer != NULL)
    message_free (answer);
  g_test_assert_expected_messages ();
  g_assert_cmpint (vring_prop (f, 0, "call-fd"), ==, -1);
}

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Connecting to a front-end that listens, without blocking: the back-end
 * serves it once connected, whether anybody finishes the call or not. */
static void
test_connect_async (void)
{
  g_autofree char *path = g_build_filename (g_get_tmp_dir (), "connect-async.sock", NULL);
  g_autofree char *missing = g_build_filename (g_get_tmp_dir (), "nobody.sock", NULL);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(VhostUserBackend) backend = g_object_new (VHOST_USER_TYPE_BACKEND, "main-context", context, NULL);
  g_autoptr(VhostUserBackend) unfinished = g_object_new (VHOST_USER_TYPE_BACKEND, "main-context", context, NULL);
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  listener = vhost_user_socket_listen (path, VHOST_USER_SOCKET_DEFAULT_MODE, &error);
  g_assert_no_error (error);

  g_main_context_push_thread_default (context);
  vhost_user_backend_connect_to_path_async (backend, path, TIMEOUT_MS, NULL, got_result, &result);
  vhost_user_backend_connect_to_path_async (unfinished, path, TIMEOUT_MS, NULL, NULL, NULL);
  while (result == NULL || !vhost_user_backend_get_connected (unfinished))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (context, TRUE);
    }
  g_assert_true (vhost_user_backend_connect_to_path_finish (backend, result, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_backend_get_connected (backend));
  g_clear_object (&result);

  vhost_user_backend_close (unfinished);
  vhost_user_backend_connect_to_path_async (unfinished, missing, 0, NULL, got_result, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_assert_false (vhost_user_backend_connect_to_path_finish (unfinished, result, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  g_assert_false (vhost_user_backend_get_connected (unfinished));
  g_main_context_pop_thread_default (context);
  g_unlink (path);
}

int
main (int   argc,
      char *argv[])
{
  const VhostUserRequestInfo *table;
  guint n_rows;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* the default context's wake-up fd is not a leak of any test */
  g_main_context_default ();

  /* a request added to the protocol needs a row here */
  table = vhost_user_request_table (VHOST_USER_CHANNEL_MAIN, &n_rows);
  g_assert_cmpuint (n_rows, ==, G_N_ELEMENTS (rows) + 1);
  for (guint ack = 0; ack < 2; ack++)
    for (guint i = 1; i < n_rows; i++)
      {
        g_autofree char *path = g_strdup_printf ("/backend/request/%s/%s", ack ? "reply-ack" : "no-reply-ack",
                                                 table[i].name);

        g_assert_cmpuint (rows[i - 1].number, ==, table[i].number);
        row_cases[ack][i - 1] = (RowCase) { &rows[i - 1], ack };
        g_test_add (path, Fixture, &row_cases[ack][i - 1], fixture_setup, test_request_row, fixture_teardown);
      }

#define ADD(path, func) g_test_add ("/backend/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("deferred/answer-later", test_deferred_answer);
  ADD ("invocation/recycled", test_invocation_recycled);
#ifdef __linux__
  ADD ("postcopy/fault-served", test_postcopy);
  ADD ("postcopy/refused", test_postcopy_refused);
  ADD ("postcopy/confirmation", test_postcopy_confirmation);
  ADD ("postcopy/listen-acked-without-reply-ack", test_postcopy_listen_acked);
#endif
  ADD ("deferred/answered-declined", test_answered_declined);
  ADD ("deferred/answer-from-thread", test_answer_from_thread);
  ADD ("deferred/dropped-always", test_dropped_always);
  ADD ("deferred/dropped-ack", test_dropped_ack);
  ADD ("scenario/second-owner", test_second_owner);
  ADD ("scenario/features", test_features);
  ADD ("scenario/protocol-features", test_protocol_features);
  ADD ("scenario/protocol-features-not-offered", test_protocol_features_not_offered);
  ADD ("gating/no-protocol-features", test_gating);
  ADD ("gating/vring-enable", test_gating_enable);
  ADD ("gating/vring-enable-before-features", test_gating_enable_before_features);
  ADD ("gating/protocol-features-not-offered", test_gating_offer);
  g_test_add ("/backend/refusal/unheard/no-reply-ack", Fixture, GINT_TO_POINTER (FALSE), fixture_setup,
              test_unheard_refusal, fixture_teardown);
  g_test_add ("/backend/refusal/unheard/no-need-reply", Fixture, GINT_TO_POINTER (TRUE), fixture_setup,
              test_unheard_refusal, fixture_teardown);
  ADD ("ring/max-size", test_ring_max_size);
  ADD ("inflight/handed-back", test_inflight_handed_back);
  ADD ("hostile/payload-size", test_hostile_sizes);
  ADD ("hostile/fds", test_hostile_fds);
  ADD ("hostile/eventfds-only", test_hostile_not_eventfds);
  g_test_add_func ("/backend/hostile/eventfd-check-after-fork", test_eventfd_check_after_fork);
  ADD ("hostile/ring", test_hostile_ring);
  ADD ("hostile/mem-table", test_hostile_mem_table);
  ADD ("hostile/mem-slots", test_hostile_mem_slots);
  ADD ("hostile/config", test_hostile_config);
  ADD ("config/short-handler", test_config_short_handler);
  ADD ("hostile/shared-areas", test_hostile_shared_areas);
  ADD ("hostile/vring-addr", test_hostile_vring_addr);
  ADD ("hostile/header", test_hostile_header);
  ADD ("disconnect/peer", test_disconnect_peer);
  ADD ("disconnect/local", test_disconnect_local);
  ADD ("disconnect/mid-message", test_disconnect_mid_message);
  ADD ("disconnect/stale-invocation", test_disconnect_stale_invocation);
  ADD ("ring/start-stop", test_ring_start_stop);
  ADD ("ring/enable", test_ring_enable);
  ADD ("ring/reset", test_ring_reset);
  ADD ("signals/thread-default", test_handlers_thread_default);
  ADD ("hostile/ring-fd-from-another-request", test_ring_fd_from_another_request);
  g_test_add ("/backend/signals/dispatch/base", Fixture, vhost_user_backend_get_type, fixture_setup_subclass,
              test_dispatch_paths, fixture_teardown);
  g_test_add ("/backend/signals/dispatch/vfunc", Fixture, test_vfunc_backend_get_type, fixture_setup_subclass,
              test_dispatch_paths, fixture_teardown);
  g_test_add ("/backend/signals/dispatch/class-handler", Fixture, test_override_backend_get_type,
              fixture_setup_subclass, test_dispatch_paths, fixture_teardown);
#undef ADD
  g_test_add_func ("/backend/signals/from-table", test_signals_from_table);
  g_test_add_func ("/backend/signals/chain-up-disconnected", test_chain_up_disconnected);
  g_test_add_func ("/backend/ring/main-context", test_rings_in_main_context);
  g_test_add_func ("/backend/connect-async", test_connect_async);

  return g_test_run ();
}
