/* test-backend-channel.c: requests from the back-end to the front-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The front-end is a thread with blocking sockets: it negotiates on the
 * main socket, hands the back-end one end of a socket pair with
 * SET_BACKEND_REQ_FD and then answers what arrives on the other end the
 * way each test asks. The back-end runs in the test's own context.
 */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-message-private.h"
#include "vhost-user-socket-private.h"

#ifndef SO_PASSPIDFD
/* Linux 6.5 (the asm-generic value), for headers older than that */
#define SO_PASSPIDFD 76
#endif

typedef enum {
  ANSWER_ACK,        /* u64 0 (and a memfd for SHARED_OBJECT_LOOKUP) */
  ANSWER_NACK,       /* u64 1 */
  ANSWER_WRONG_CODE, /* a reply to another request */
  ANSWER_SILENT,     /* none at all */
  ANSWER_NINE_FDS,   /* u64 0 with nine fds, one more than a message may carry */
} Answer;

typedef struct {
  GMainContext     *context;
  VhostUserBackend *backend;
  GSocket          *main_fe;     /* front-end's end of the main socket */
  GSocket          *channel_fe;  /* front-end's end of the back-end channel */
  GThread          *thread;
  GAsyncQueue      *seen;        /* VhostUserMessage * the front-end received */
  Answer            answer;
  guint64           protocol;
  guint             baseline_fds;
  gboolean          pass_pidfd;  /* set SO_PASSPIDFD on the back-end's end */
  gboolean          not_unix;    /* offer a TCP and a datagram socket first */
  guint64           not_unix_answers[2];
} Fixture;

/* GSocket keeps its fd non-blocking whatever it is told; the front-end
 * thread wants plain blocking calls. */
static void
make_blocking (GSocket *socket)
{
  int fd = g_socket_get_fd (socket);

  g_assert_cmpint (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK), ==, 0);
}

/* One whole message off a blocking socket, fds included. */
static gboolean
read_message (GSocket          *socket,
              VhostUserMessage *msg)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * VHOST_USER_MAX_FDS)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov = { &msg->header, VHOST_USER_HEADER_SIZE };
  int fd = g_socket_get_fd (socket);
  gssize n;

  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control.buf;
  mh.msg_controllen = sizeof control.buf;
  n = recvmsg (fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC);
  if (n != VHOST_USER_HEADER_SIZE)
    return FALSE;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c != NULL; c = CMSG_NXTHDR (&mh, c))
    for (gsize i = 0; i < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
      {
        int received;

        memcpy (&received, CMSG_DATA (c) + i * sizeof (int), sizeof received);
        vhost_user_message_add_fd (msg, received);
      }
  if (msg->header.size > 0 &&
      recv (fd, msg->payload, msg->header.size, MSG_WAITALL) != (gssize) msg->header.size)
    return FALSE;
  return TRUE;
}

static void
write_message (GSocket          *socket,
               VhostUserMessage *msg)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * VHOST_USER_MAX_FDS)];
  } control;
  struct msghdr mh = { 0 };
  gsize len;
  struct iovec iov;

  iov.iov_base = (void *) vhost_user_message_get_data (msg, &len);
  iov.iov_len = len;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (msg->n_fds > 0)
    {
      struct cmsghdr *c;

      memset (control.buf, 0, sizeof control.buf);
      mh.msg_control = control.buf;
      mh.msg_controllen = CMSG_SPACE (sizeof (int) * msg->n_fds);
      c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int) * msg->n_fds);
      memcpy (CMSG_DATA (c), msg->fds, sizeof (int) * msg->n_fds);
    }
  g_assert_cmpint (sendmsg (g_socket_get_fd (socket), &mh, MSG_NOSIGNAL), ==, (gssize) len);
  vhost_user_message_close_fds (msg);
}

/* A reply with more fds than VhostUserMessage holds. */
static void
write_nine_fds (GSocket          *socket,
                VhostUserMessage *reply)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 9)];
  } control;
  struct msghdr mh = { 0 };
  struct cmsghdr *c;
  struct iovec iov;
  int fds[9];
  gsize len;

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = test_memfd (4096);
  iov.iov_base = (void *) vhost_user_message_get_data (reply, &len);
  iov.iov_len = len;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  memset (control.buf, 0, sizeof control.buf);
  mh.msg_control = control.buf;
  mh.msg_controllen = sizeof control.buf;
  c = CMSG_FIRSTHDR (&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof fds);
  memcpy (CMSG_DATA (c), fds, sizeof fds);
  g_assert_cmpint (sendmsg (g_socket_get_fd (socket), &mh, MSG_NOSIGNAL), ==, (gssize) len);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
}

static guint64
call (Fixture  *f,
      guint32   request,
      guint32   flags,
      gboolean  with_u64,
      guint64   value,
      int       fd)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  VhostUserMessage reply = VHOST_USER_MESSAGE_INIT;
  guint64 result = 0;

  vhost_user_message_init (&msg, request, flags);
  if (with_u64)
    vhost_user_message_set_u64 (&msg, value);
  if (fd >= 0)
    vhost_user_message_add_fd (&msg, fd);
  write_message (f->main_fe, &msg);
  if (request == VHOST_USER_REQUEST_GET_FEATURES || request == VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES ||
      (flags & VHOST_USER_FLAG_NEED_REPLY))
    {
      g_assert_true (read_message (f->main_fe, &reply));
      g_assert_cmpuint (reply.header.request, ==, request);
      vhost_user_message_get_u64 (&reply, &result);
    }
  return result;
}

static gpointer
front_end_run (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GSocket) channel_be = NULL;
  guint64 features;

  /* negotiate, then hand over the channel */
  features = call (f, VHOST_USER_REQUEST_GET_FEATURES, 0, FALSE, 0, -1);
  call (f, VHOST_USER_REQUEST_SET_FEATURES, 0, TRUE, features, -1);
  call (f, VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES, 0, FALSE, 0, -1);
  call (f, VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES, 0, TRUE, f->protocol, -1);
  if (f->not_unix)
    {
      int sockets[2] = { socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
                         socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) };

      /* the answers are the test's to check, in its own thread */
      for (guint i = 0; i < G_N_ELEMENTS (sockets); i++)
        if (sockets[i] >= 0)
          f->not_unix_answers[i] = call (f, VHOST_USER_REQUEST_SET_BACKEND_REQ_FD,
                                         VHOST_USER_FLAG_NEED_REPLY, FALSE, 0, sockets[i]);
    }
  g_assert_true (vhost_user_socket_pair (&f->channel_fe, &channel_be, NULL));
  make_blocking (f->channel_fe);
  /* an option set through our copy is the socket's, the back-end's too */
  if (f->pass_pidfd)
    {
      int one = 1;

      g_assert_cmpint (setsockopt (g_socket_get_fd (channel_be), SOL_SOCKET, SO_PASSPIDFD,
                                   &one, sizeof one), ==, 0);
    }
  call (f, VHOST_USER_REQUEST_SET_BACKEND_REQ_FD,
        (f->protocol & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK) ? VHOST_USER_FLAG_NEED_REPLY : 0,
        FALSE, 0, dup (g_socket_get_fd (channel_be)));
  /* only the back-end holds that end now: its close is our EOF */
  g_clear_object (&channel_be);
  /* without an ack, a request with a reply tells us it was handled */
  call (f, VHOST_USER_REQUEST_GET_FEATURES, 0, FALSE, 0, -1);
  g_async_queue_push (f->seen, g_new0 (VhostUserMessage, 1));  /* "ready" */

  for (;;)
    {
      VhostUserMessage *msg = g_new0 (VhostUserMessage, 1);
      VhostUserMessage reply = VHOST_USER_MESSAGE_INIT;
      const VhostUserRequestInfo *info;

      if (!read_message (f->channel_fe, msg))
        {
          g_free (msg);
          break;
        }
      info = vhost_user_request_info_lookup (VHOST_USER_CHANNEL_BACKEND, msg->header.request);
      if (f->answer != ANSWER_SILENT && info != NULL &&
          (vhost_user_message_needs_reply (msg) || info->reply == VHOST_USER_REPLY_ALWAYS))
        {
          vhost_user_message_init_reply (&reply, msg);
          if (f->answer == ANSWER_WRONG_CODE)
            reply.header.request = msg->header.request == 1 ? 2 : 1;
          vhost_user_message_set_u64 (&reply, f->answer == ANSWER_NACK ? 1 : 0);
          if (f->answer == ANSWER_ACK && msg->header.request == VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP)
            vhost_user_message_add_fd (&reply, test_memfd (4096));
          if (f->answer == ANSWER_NINE_FDS)
            write_nine_fds (f->channel_fe, &reply);
          else
            write_message (f->channel_fe, &reply);
        }
      g_async_queue_push (f->seen, msg);
    }
  return NULL;
}

static void
free_seen (gpointer data)
{
  vhost_user_message_clear (data);
  g_free (data);
}

static void
start (Fixture  *f,
       guint64   protocol,
       Answer    answer)
{
  GSocket *backend_end = NULL;
  VhostUserMessage *ready;

  f->baseline_fds = test_count_open_fds ();
  f->context = g_main_context_new ();
  f->seen = g_async_queue_new_full (free_seen);
  f->protocol = protocol;
  f->answer = answer;
  f->backend = g_object_new (VHOST_USER_TYPE_BACKEND, "main-context", f->context,
                             "protocol-features", VHOST_USER_PROTOCOL_FEATURES_KNOWN, NULL);
  /* a guest without an IOMMU (the front-end here takes all it is offered):
   * test-iotlb has the IOTLB */
  vhost_user_backend_set_features (f->backend, vhost_user_backend_get_features (f->backend) &
                                   ~VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM));
  g_assert_true (vhost_user_socket_pair (&f->main_fe, &backend_end, NULL));
  make_blocking (f->main_fe);
  g_assert_true (vhost_user_backend_take_socket (f->backend, backend_end, NULL));
  g_object_unref (backend_end);
  f->thread = g_thread_new ("front-end", front_end_run, f);

  /* the back-end answers the negotiation from its context */
  while ((ready = g_async_queue_try_pop (f->seen)) == NULL)
    g_main_context_iteration (f->context, FALSE);
  g_free (ready);
}

static void
stop (Fixture *f)
{
  {
    gpointer weak = f->backend;

    g_object_add_weak_pointer (weak, &weak);
    g_clear_object (&f->backend);   /* closes both sockets of the back-end */
    /* nothing (a pending request, an invocation) kept it alive */
    g_assert_null (weak);
  }
  g_thread_join (f->thread);
  g_clear_object (&f->main_fe);
  g_clear_object (&f->channel_fe);
  g_async_queue_unref (f->seen);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_unref (f->context);
  g_assert_cmpuint (test_count_open_fds (), ==, f->baseline_fds);
}

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static guint64
request_async (Fixture                     *f,
               VhostUserBackendRequestType  request,
               GBytes                      *payload,
               int                          fd,
               int                         *out_fd,
               GError                     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_main_context_push_thread_default (f->context);
  vhost_user_backend_send_backend_request_async (f->backend, request, payload, fd, NULL, got_result, &result);
  /* the fd is borrowed: the library sent a copy, and ours is still open */
  if (fd >= 0)
    g_assert_cmpint (close (fd), ==, 0);
  while (result == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_main_context_pop_thread_default (f->context);
  return vhost_user_backend_send_backend_request_finish (f->backend, result, out_fd, error);
}

#define ALL_CHANNEL_FEATURES (VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD | \
                              VHOST_USER_PROTOCOL_FEATURE_CONFIG | VHOST_USER_PROTOCOL_FEATURE_HOST_NOTIFIER | \
                              VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS | \
                              VHOST_USER_PROTOCOL_FEATURE_SHARED_OBJECT | VHOST_USER_PROTOCOL_FEATURE_SHMEM | \
                              VHOST_USER_PROTOCOL_FEATURE_MQ)

/* A valid payload (and fd) for each back-end request but IOTLB, which
 * needs VIRTIO_F_ACCESS_PLATFORM. */
static GBytes *
payload_for (VhostUserBackendRequestType  request,
             int                         *fd)
{
  *fd = -1;
  switch (request)
    {
    case VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG:
      {
        VhostUserWireVringArea area = { 0, 4096, 0 };

        *fd = test_memfd (4096);
        return g_bytes_new (&area, sizeof area);
      }
    case VHOST_USER_BACKEND_REQUEST_VRING_CALL:
    case VHOST_USER_BACKEND_REQUEST_VRING_ERR:
      {
        VhostUserWireVringState state = { 0, 0 };

        return g_bytes_new (&state, sizeof state);
      }
    case VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD:
    case VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE:
    case VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP:
      return g_bytes_new ("0123456789abcdef", 16);
    case VHOST_USER_BACKEND_REQUEST_SHMEM_MAP:
    case VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP:
      {
        VhostUserWireShmemMap map = { 0, { 0 }, 0, 0, 4096, 1 };

        if (request == VHOST_USER_BACKEND_REQUEST_SHMEM_MAP)
          *fd = test_memfd (4096);
        return g_bytes_new (&map, sizeof map);
      }
    case VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG:
    default:
      return NULL;
    }
}

static void
test_every_request (gconstpointer data)
{
  gboolean reply_ack = GPOINTER_TO_INT (data);
  Fixture f = { 0 };

  /* in-band notifications need REPLY_ACK: without it they stay off */
  start (&f, reply_ack ? ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK
                       : ALL_CHANNEL_FEATURES & ~VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS,
         ANSWER_ACK);

  for (guint request = VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG;
       request <= VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP; request++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) payload = NULL;
      VhostUserMessage *seen;
      int fd, out_fd = -1;
      guint64 value;
      gboolean always = request == VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP;

      payload = payload_for (request, &fd);
      g_test_message ("%s", vhost_user_backend_request_type_get_name (request));
      value = request_async (&f, request, payload, fd, &out_fd, &error);
      if (!reply_ack && (request == VHOST_USER_BACKEND_REQUEST_VRING_CALL ||
                         request == VHOST_USER_BACKEND_REQUEST_VRING_ERR))
        {
          /* refused before anything was sent */
          g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpuint (value, ==, 0);

      /* what the front-end got: the request, its payload, its fd, and a
       * request for an ack only when REPLY_ACK is on */
      seen = g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC);
      g_assert_nonnull (seen);
      g_assert_cmpuint (seen->header.request, ==, request);
      g_assert_cmpuint (seen->header.size, ==, payload ? g_bytes_get_size (payload) : 0);
      if (payload != NULL)
        g_assert_cmpmem (seen->payload, seen->header.size, g_bytes_get_data (payload, NULL), g_bytes_get_size (payload));
      g_assert_cmpuint (seen->n_fds, ==, fd >= 0 ? 1 : 0);
      g_assert_cmpint (vhost_user_message_needs_reply (seen), ==, reply_ack && !always);
      free_seen (seen);

      /* the lookup's answer brings an fd back */
      if (always)
        {
          g_assert_cmpint (out_fd, >=, 0);
          g_assert_true (test_fd_is_open (out_fd));
          g_close (out_fd, NULL);
        }
      else
        g_assert_cmpint (out_fd, ==, -1);
    }

  /* the typed form, blocking, from the back-end's own thread */
  {
    g_autoptr(GError) error = NULL;

    g_assert_true (vhost_user_backend_notify_config_change (f.backend, NULL, &error));
    g_assert_no_error (error);
    free_seen (g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC));
  }

  stop (&f);
}

/* The next request the front-end saw, checked against what a front-end
 * of another make expects on the wire. */
static void
expect_seen (Fixture     *f,
             guint32      request,
             gconstpointer payload,
             gsize        size,
             guint        n_fds)
{
  VhostUserMessage *seen = g_async_queue_timeout_pop (f->seen, 10 * G_USEC_PER_SEC);

  g_assert_nonnull (seen);
  g_assert_cmpuint (seen->header.request, ==, request);
  g_assert_cmpmem (seen->payload, seen->header.size, payload, size);
  g_assert_cmpuint (seen->n_fds, ==, n_fds);
  g_assert_true (vhost_user_message_needs_reply (seen));
  free_seen (seen);
}

/* The typed requests, as a front-end of another make sees them. */
static void
test_typed (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;
  const guint8 uuid[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8 };
  int memfd, fd;

  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_ACK);
  memfd = test_memfd (0x4000);
  g_assert_true (vhost_user_backend_set_shmem_region (f.backend, 2, 0x8000, &error));

  {
    VhostUserWireVringArea area = { 0, 0x1000, 0x2000 };

    g_assert_true (vhost_user_backend_set_host_notifier (f.backend, 0, memfd, 0x2000, 0x1000, NULL, &error));
    g_assert_no_error (error);
    expect_seen (&f, VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG, &area, sizeof area, 1);
    /* withdrawn: the no-fd bit, nothing else */
    area.u64 = 0x100;
    area.size = area.offset = 0;
    g_assert_true (vhost_user_backend_set_host_notifier (f.backend, 0, -1, 0x2000, 0x1000, NULL, &error));
    g_assert_no_error (error);
    expect_seen (&f, VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG, &area, sizeof area, 0);
  }
  {
    VhostUserWireVringState state = { 0, 0 };

    g_assert_true (vhost_user_backend_send_vring_err (f.backend, 0, NULL, &error));
    g_assert_no_error (error);
    expect_seen (&f, VHOST_USER_BACKEND_REQUEST_VRING_ERR, &state, sizeof state, 0);
    g_assert_true (vhost_user_backend_send_vring_call (f.backend, 0, NULL, &error));
    g_assert_no_error (error);
    expect_seen (&f, VHOST_USER_BACKEND_REQUEST_VRING_CALL, &state, sizeof state, 0);
  }

  /* shared objects: the UUID goes in wire order, the fd stays here */
  g_assert_true (vhost_user_backend_add_shared_object (f.backend, "12345678-9abc-def0-0102-030405060708", memfd,
                                                       NULL, &error));
  g_assert_no_error (error);
  expect_seen (&f, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD, uuid, sizeof uuid, 0);
  fd = vhost_user_backend_lookup_shared_object (f.backend, "00000000-0000-0000-0000-000000000001", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (test_fd_is_open (fd));
  g_close (fd, NULL);
  {
    VhostUserMessage *seen = g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC);

    g_assert_cmpuint (seen->header.request, ==, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP);
    g_assert_cmpuint (seen->payload[15], ==, 1);
    free_seen (seen);
  }
  g_assert_true (vhost_user_backend_remove_shared_object (f.backend, "123456789ABCDEF00102030405060708", NULL, &error));
  g_assert_no_error (error);
  expect_seen (&f, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE, uuid, sizeof uuid, 0);

  /* shared memory */
  {
    VhostUserWireShmemMap map = { 2, { 0 }, 0x3000, 0x1000, 0x2000, 1 };

    g_assert_true (vhost_user_backend_shmem_map (f.backend, 2, 0x1000, memfd, 0x3000, 0x2000, TRUE, NULL, &error));
    g_assert_no_error (error);
    expect_seen (&f, VHOST_USER_BACKEND_REQUEST_SHMEM_MAP, &map, sizeof map, 1);
    map.fd_offset = 0;
    map.flags = 0;
    g_assert_true (vhost_user_backend_shmem_unmap (f.backend, 2, 0x1000, 0x2000, NULL, &error));
    g_assert_no_error (error);
    expect_seen (&f, VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP, &map, sizeof map, 0);
  }

  g_close (memfd, NULL);
  stop (&f);
}

/* A front-end that refuses: each typed call fails, and nothing is kept
 * (an object refused is not answered from the back-end's table). */
static void
test_typed_refused (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;
  int memfd;

  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_NACK);
  memfd = test_memfd (0x1000);
  g_assert_false (vhost_user_backend_add_shared_object (f.backend, "12345678-9abc-def0-0102-030405060708", memfd,
                                                        NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  free_seen (g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC));
  /* not ours any more: the front-end is asked, and says no */
  g_assert_cmpint (vhost_user_backend_lookup_shared_object (f.backend, "12345678-9abc-def0-0102-030405060708",
                                                            NULL, &error), ==, -1);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  free_seen (g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC));
  g_assert_false (vhost_user_backend_remove_shared_object (f.backend, "12345678-9abc-def0-0102-030405060708",
                                                           NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_backend_send_vring_err (f.backend, 0, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  free_seen (g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC));
  g_close (memfd, NULL);
  stop (&f);
}

/* A front-end whose answer carries nine fds: the lookup fails, the
 * channel goes (its replies can no longer be trusted), and every fd that
 * came is closed (stop() counts them). */
static void
test_nine_fds_in_reply (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;

  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_NINE_FDS);
  g_assert_cmpint (vhost_user_backend_lookup_shared_object (f.backend, "12345678-9abc-def0-0102-030405060708",
                                                            NULL, &error), ==, -1);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS);
  g_clear_error (&error);
  g_assert_true (vhost_user_backend_get_connected (f.backend));
  stop (&f);
}

static void
test_nack (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;

  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_NACK);
  g_assert_cmpuint (request_async (&f, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG, NULL, -1, NULL, &error),
                    ==, G_MAXUINT64);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  stop (&f);
}

static void
test_wrong_reply_closes_channel (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;

  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_WRONG_CODE);
  request_async (&f, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG, NULL, -1, NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* the channel is gone; the main connection is not */
  request_async (&f, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG, NULL, -1, NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_assert_true (vhost_user_backend_get_connected (f.backend));
  stop (&f);
}

static void
test_gates (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) uuid = g_bytes_new ("0123456789abcdef", 16);
  VhostUserWireVringArea area = { 0, 4096, 0 };
  g_autoptr(GBytes) area_bytes = g_bytes_new (&area, sizeof area);

  /* a channel, but neither fds nor shared objects nor host notifiers */
  start (&f, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
             VHOST_USER_PROTOCOL_FEATURE_HOST_NOTIFIER | VHOST_USER_PROTOCOL_FEATURE_CONFIG, ANSWER_ACK);

  request_async (&f, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD, uuid, -1, NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);

  request_async (&f, VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG, area_bytes, test_memfd (4096), NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);

  /* a payload that does not fit the request */
  request_async (&f, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG, uuid, -1, NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* IOTLB needs VIRTIO_F_ACCESS_PLATFORM */
  request_async (&f, VHOST_USER_BACKEND_REQUEST_IOTLB_MSG, NULL, -1, NULL, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  stop (&f);
}

static gboolean
cancel_soon (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

/* A front-end that never answers: the blocking form gives up when
 * cancelled (a late reply would be dropped, so the channel stays); one
 * that times out takes the channel with it, since the front-end is not
 * answering any more; the main connection stays. */
static void
test_cancel_while_waiting (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  GSource *timeout;

  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_SILENT);
  /* the cancelled request waits for its reply until its own deadline */
  vhost_user_backend_set_timeout (f.backend, 300);
  timeout = g_timeout_source_new (50);
  g_source_set_callback (timeout, cancel_soon, cancellable, NULL);
  g_source_attach (timeout, f.context);
  g_source_unref (timeout);

  g_assert_cmpuint (vhost_user_backend_send_backend_request (f.backend, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG,
                                                             NULL, -1, cancellable, NULL, &error), ==, G_MAXUINT64);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_assert_false (vhost_user_backend_notify_config_change (f.backend, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT);
  g_assert_true (vhost_user_error_should_reconnect (error));
  g_clear_error (&error);
  g_assert_false (vhost_user_backend_notify_config_change (f.backend, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_assert_true (vhost_user_backend_get_connected (f.backend));
  stop (&f);
}

/* The context for @ms, whatever comes. */
static void
iterate_for (GMainContext *context,
             guint         ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (context, FALSE))
      g_usleep (1000);
}

/* A front-end that never answers an in-band call: one call per ring is
 * on its way at a time however often the ring calls, the rest merged
 * into one that waits for the answer (here, for the channel's timeout).
 * Each used to be a message and a pending reply of its own: a front-end
 * that made the device call and never answered grew the back-end's
 * queues without bound. */
static void
test_inband_call_unanswered (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;
  VhostUserVring *vring;
  VhostUserMessage *seen;

  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_SILENT);
  vhost_user_backend_set_timeout (f.backend, 300);
  vring = vhost_user_backend_get_vring (f.backend, 0);
  for (guint i = 0; i < 100; i++)
    {
      g_assert_true (vhost_user_vring_call (vring, &error));
      g_assert_no_error (error);
      while (g_main_context_iteration (f.context, FALSE))
        ;
    }
  seen = g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC);
  g_assert_nonnull (seen);
  g_assert_cmpuint (seen->header.request, ==, VHOST_USER_BACKEND_REQUEST_VRING_CALL);
  g_assert_true (vhost_user_message_needs_reply (seen));
  free_seen (seen);
  g_assert_null (g_async_queue_timeout_pop (f.seen, 100 * 1000));

  /* no answer in time: the channel goes, and the merged call with it */
  iterate_for (f.context, 600);
  g_assert_null (g_async_queue_try_pop (f.seen));
  g_assert_false (vhost_user_backend_notify_config_change (f.backend, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  stop (&f);
}

/* Calls before the in-band call is sent are in it; a call after it was
 * sent gets one more, after the answer (the front-end may have looked at
 * the used ring before), and no more than one. */
static void
test_inband_call_follow_up (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;
  VhostUserVring *vring;
  VhostUserMessage *seen;

  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_ACK);
  vring = vhost_user_backend_get_vring (f.backend, 0);
  for (guint i = 0; i < 3; i++)
    g_assert_true (vhost_user_vring_call (vring, &error));
  /* sent; the front-end answers, and the answer waits in our socket */
  g_main_context_iteration (f.context, FALSE);
  seen = g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC);
  g_assert_nonnull (seen);
  g_assert_cmpuint (seen->header.request, ==, VHOST_USER_BACKEND_REQUEST_VRING_CALL);
  free_seen (seen);

  for (guint i = 0; i < 3; i++)
    g_assert_true (vhost_user_vring_call (vring, &error));
  g_assert_no_error (error);
  iterate_for (f.context, 100);
  seen = g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC);
  g_assert_nonnull (seen);
  g_assert_cmpuint (seen->header.request, ==, VHOST_USER_BACKEND_REQUEST_VRING_CALL);
  free_seen (seen);
  iterate_for (f.context, 100);
  g_assert_null (g_async_queue_try_pop (f.seen));
  stop (&f);
}

/* A TCP socket, then a UNIX datagram one, as the channel: each refused
 * and closed (stop() counts the fds), and the session goes on to take the
 * UNIX stream socket that follows. A TCP channel is the front-end's to
 * set SO_LINGER on, and our close() of it then waits the linger time. */
static void
test_not_unix_refused (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;

  f.not_unix = TRUE;
  f.not_unix_answers[0] = f.not_unix_answers[1] = G_MAXUINT64;
  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_ACK);
  for (guint i = 0; i < G_N_ELEMENTS (f.not_unix_answers); i++)
    {
      /* G_MAXUINT64: the test could not make the socket */
      g_assert_cmpuint (f.not_unix_answers[i], !=, G_MAXUINT64);
      g_assert_cmpuint (f.not_unix_answers[i], !=, 0);
    }
  g_assert_true (vhost_user_backend_get_connected (f.backend));
  g_assert_cmpuint (request_async (&f, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG,
                                   NULL, -1, NULL, &error), ==, 0);
  g_assert_no_error (error);
  free_seen (g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC));
  stop (&f);
}

/* SO_PASSPIDFD, where this kernel has it (Linux 6.5). */
static gboolean
have_passpidfd (void)
{
  int pair[2];
  int one = 1;
  int errsv;
  int r;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  r = setsockopt (pair[0], SOL_SOCKET, SO_PASSPIDFD, &one, sizeof one);
  errsv = errno;
  close (pair[0]);
  close (pair[1]);
  if (r == 0)
    return TRUE;
  g_assert_true (errsv == ENOPROTOOPT || errsv == EINVAL);
  return FALSE;
}

/* A front-end that kept a copy of the channel it passed and set
 * SO_PASSPIDFD on it: each of our reads on the channel then brings a
 * pidfd as well as the reply. They are closed as they come, not one
 * more fd open per read until the process runs out. */
static void
test_passpidfd_no_leak (void)
{
  Fixture f = { 0 };
  guint before;

  if (!have_passpidfd ())
    {
      g_test_skip ("SO_PASSPIDFD needs Linux 6.5");
      return;
    }
  f.pass_pidfd = TRUE;
  start (&f, ALL_CHANNEL_FEATURES | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ANSWER_ACK);
  before = test_count_open_fds ();
  for (guint i = 0; i < 50; i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_cmpuint (request_async (&f, VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG,
                                       NULL, -1, NULL, &error), ==, 0);
      g_assert_no_error (error);
      free_seen (g_async_queue_timeout_pop (f.seen, 10 * G_USEC_PER_SEC));
    }
  g_assert_cmpuint (test_count_open_fds (), ==, before);
  stop (&f);
}

static void
test_no_channel (void)
{
  g_autoptr(VhostUserBackend) backend = vhost_user_backend_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (vhost_user_backend_notify_config_change (backend, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* once-per-process fds (the default context's, GTask's worker
   * context's) are no test's leak */
  g_main_context_default ();
  g_type_ensure (G_TYPE_TASK);

  g_test_add_data_func ("/backend-channel/every-request/reply-ack", GINT_TO_POINTER (TRUE), test_every_request);
  g_test_add_data_func ("/backend-channel/every-request/no-reply-ack", GINT_TO_POINTER (FALSE), test_every_request);
  g_test_add_func ("/backend-channel/nack", test_nack);
  g_test_add_func ("/backend-channel/typed", test_typed);
  g_test_add_func ("/backend-channel/typed-refused", test_typed_refused);
  g_test_add_func ("/backend-channel/nine-fds-in-reply", test_nine_fds_in_reply);
  g_test_add_func ("/backend-channel/wrong-reply-closes-channel", test_wrong_reply_closes_channel);
  g_test_add_func ("/backend-channel/gates", test_gates);
  g_test_add_func ("/backend-channel/no-channel", test_no_channel);
  g_test_add_func ("/backend-channel/passpidfd-no-leak", test_passpidfd_no_leak);
  g_test_add_func ("/backend-channel/not-unix-refused", test_not_unix_refused);
  g_test_add_func ("/backend-channel/cancel-while-waiting", test_cancel_while_waiting);
  g_test_add_func ("/backend-channel/inband-call/unanswered", test_inband_call_unanswered);
  g_test_add_func ("/backend-channel/inband-call/follow-up", test_inband_call_follow_up);

  return g_test_run ();
}
