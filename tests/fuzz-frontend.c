/* fuzz-frontend.c: a hostile back-end's replies and back-end channel
 * requests into a VhostUserFrontend
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The test is the back-end: it reads whatever the front-end sends (fds
 * closed, except the back-end channel's socket that SET_BACKEND_REQ_FD
 * hands over, which it keeps) and answers from the input. The input is a
 * sequence of records, after each of which the front-end's context runs
 * until it has nothing left to do:
 *
 *   0x00-0x67  start an operation of the front-end (the byte picks which,
 *              its arguments follow): negotiation, the generic request,
 *              the typed ones with replies (vring base, config, in-flight
 *              fd, shared object, shared memory config), the back-end
 *              channel's set-up, the memory table;
 *   0x68-0x7f  the front-end as the guest's IOMMU: an IOTLB message of
 *              any kind (u64 iova, size, address, u8 perm, type), or how
 *              it answers the back-end's misses from then on (a u8: by
 *              default, acknowledged with an update sent after, answered
 *              only once the update is through, refused);
 *   0x80-0xbf  raw bytes to the main socket: u16 length, bytes; bits 0-2
 *              of the control byte: fds attached (a memfd, an eventfd,
 *              /dev/null, in turn);
 *   0xc0-0xdf  a reply to the last request read: a flags byte (0: the
 *              right ones), u8 length, payload; fds as above;
 *   0xe0-0xff  a request on the back-end channel: u8 request, u8 flags
 *              (bit 0: need a reply), u8 length, payload; fds as above.
 *
 * At the end the back-end hangs up: every operation must complete (with
 * an error or not), the front-end must disconnect, and nothing may stay
 * open.
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <gio/gunixfdlist.h>
#include <vhost-user-glib.h>

#include "fuzz-input.h"
#include "test-util.h"
#include "vhost-user-message-private.h"
#include "vhost-user-socket-private.h"

#define N_POOL   3
#define MAX_PUMP 64

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

typedef struct {
  VhostUserFrontend *frontend;
  int                peer;        /* the back-end's end of the main socket */
  int                channel;     /* the back-end channel, once handed over */
  guint              watches[2];  /* peer and channel readable, in the front-end's context */
  int                pool[N_POOL];
  guint32            last_request;
  guint              pending;     /* operations not completed yet */
  gboolean           disconnected;
  gboolean           hung_up;
  guint8             iotlb_mode;  /* how misses are answered: IOTLB_* */
} Session;

enum {
  IOTLB_DEFAULT,     /* no handler: refused */
  IOTLB_ACK_FIRST,   /* acknowledged, then an update */
  IOTLB_ACK_AFTER,   /* acknowledged when the update is through */
  IOTLB_REFUSE,
  IOTLB_N_MODES
};

/* guest memory for SET_MEM_TABLE and ADD_MEM_REG, made once */
static VhostUserMemoryRegion *region;
static VhostUserMemoryTable *table;

static void
on_disconnected (VhostUserFrontend *frontend,
                 const GError      *error,
                 gboolean           should_reconnect,
                 gpointer           user_data)
{
  ((Session *) user_data)->disconnected = TRUE;
}

/* --- what each operation's completion frees --- */

#define DONE_BOOL(name) \
  static void \
  done_##name (GObject      *source, \
               GAsyncResult *result, \
               gpointer      user_data) \
  { \
    Session *s = user_data; \
    GError *error = NULL; \
    \
    if (!vhost_user_frontend_##name##_finish (VHOST_USER_FRONTEND (source), result, &error)) \
      { \
        g_assert_nonnull (error); \
        g_clear_error (&error); \
      } \
    s->pending--; \
  }

DONE_BOOL (negotiate)
DONE_BOOL (setup_backend_channel)
DONE_BOOL (set_mem_table)
DONE_BOOL (add_mem_region)
DONE_BOOL (set_vring_state)
DONE_BOOL (command)
DONE_BOOL (write_config)

static void
done_request (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Session *s = user_data;
  GError *error = NULL;
  GUnixFDList *fds = NULL;
  GBytes *reply = vhost_user_frontend_request_finish (VHOST_USER_FRONTEND (source), result, &fds, &error);

  if (reply == NULL)
    {
      g_assert_nonnull (error);
      g_clear_error (&error);
    }
  g_clear_pointer (&reply, g_bytes_unref);
  g_clear_object (&fds);
  s->pending--;
}

typedef struct {
  Session             *session;
  VhostUserInvocation *miss;   /* answered once the update is through */
} IotlbAnswer;

static void
done_iotlb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  IotlbAnswer *answer = user_data;
  GError *error = NULL;

  if (!vhost_user_frontend_send_iotlb_msg_finish (VHOST_USER_FRONTEND (source), result, &error))
    {
      g_assert_nonnull (error);
      g_clear_error (&error);
    }
  /* (the back-end may be gone by now: the answer goes nowhere) */
  if (answer->miss != NULL)
    {
      vhost_user_invocation_return_ack (answer->miss);
      g_object_unref (answer->miss);
    }
  answer->session->pending--;
  g_free (answer);
}

/* The IOMMU maps every page to the guest memory's first one. */
static gboolean
on_iotlb_msg (VhostUserFrontend   *frontend,
              VhostUserInvocation *invocation,
              guint64              iova,
              guint64              size,
              guint64              user_addr,
              guint                perm,
              guint                type,
              gpointer             user_data)
{
  Session *s = user_data;
  IotlbAnswer *answer;

  switch (s->iotlb_mode)
    {
    case IOTLB_DEFAULT:
      return FALSE;
    case IOTLB_REFUSE:
      vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                                                  "no such IOVA");
      return TRUE;
    default:
      break;
    }
  answer = g_new0 (IotlbAnswer, 1);
  answer->session = s;
  if (s->iotlb_mode == IOTLB_ACK_FIRST)
    vhost_user_invocation_return_ack (invocation);
  else
    answer->miss = g_object_ref (invocation);
  s->pending++;
  vhost_user_frontend_send_iotlb_msg_async (frontend, iova & ~(guint64) 0xfff, 0x1000,
                                            vhost_user_memory_region_get_user_addr (region), perm,
                                            VHOST_USER_IOTLB_UPDATE, NULL, done_iotlb, answer);
  return TRUE;
}

static void
done_vring_base (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Session *s = user_data;
  GError *error = NULL;

  vhost_user_frontend_get_vring_base_finish (VHOST_USER_FRONTEND (source), result, &error);
  g_clear_error (&error);
  s->pending--;
}

static void
done_config (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Session *s = user_data;
  GError *error = NULL;
  GBytes *config = vhost_user_frontend_read_config_finish (VHOST_USER_FRONTEND (source), result, &error);

  g_assert_true ((config == NULL) == (error != NULL));
  g_clear_pointer (&config, g_bytes_unref);
  g_clear_error (&error);
  s->pending--;
}

static void
done_inflight (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Session *s = user_data;
  GError *error = NULL;
  guint64 mmap_size = 0, mmap_offset = 0;
  int fd = vhost_user_frontend_get_inflight_fd_finish (VHOST_USER_FRONTEND (source), result, &mmap_size,
                                                       &mmap_offset, &error);

  g_assert_true ((fd < 0) == (error != NULL));
  if (fd >= 0)
    close (fd);
  g_clear_error (&error);
  s->pending--;
}

static void
done_shared_object (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Session *s = user_data;
  GError *error = NULL;
  int fd = vhost_user_frontend_get_shared_object_finish (VHOST_USER_FRONTEND (source), result, &error);

  g_assert_true ((fd < 0) == (error != NULL));
  if (fd >= 0)
    close (fd);
  g_clear_error (&error);
  s->pending--;
}

static void
done_shmem_config (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Session *s = user_data;
  GError *error = NULL;
  guint n = 0;
  guint64 *sizes = vhost_user_frontend_get_shmem_config_finish (VHOST_USER_FRONTEND (source), result, &n, &error);

  g_assert_true ((sizes == NULL) == (error != NULL));
  g_free (sizes);
  g_clear_error (&error);
  s->pending--;
}

/* --- the fake back-end --- */

/* Reads what the front-end sent on @fd; FALSE once it closed it. The
 * main socket's request numbers are noted for the replies; an fd that
 * comes with SET_BACKEND_REQ_FD is kept as the back-end channel. */
static gboolean
drain (Session *s,
       int      fd,
       gboolean main_socket)
{
  for (;;)
    {
      VhostUserWireHeader header;
      guint8 payload[512];
      union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * 16)];
      } control;
      struct iovec iov = { &header, sizeof header };
      struct msghdr mh = { 0 };
      gssize n;

      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      mh.msg_control = control.buf;
      mh.msg_controllen = sizeof control.buf;
      n = recvmsg (fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0)
        return errno == EAGAIN || errno == EINTR;
      if (n == 0)
        return FALSE;
      if (main_socket && n == sizeof header)
        s->last_request = header.request;
      for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c != NULL; c = CMSG_NXTHDR (&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
          for (gsize i = 0; i < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
            {
              int received;

              memcpy (&received, CMSG_DATA (c) + i * sizeof (int), sizeof received);
              if (main_socket && n == sizeof header && header.request == VHOST_USER_REQUEST_SET_BACKEND_REQ_FD &&
                  s->channel < 0)
                s->channel = received;
              else
                close (received);
            }
      /* the payload (the front-end writes a message at once) */
      if (n == sizeof header)
        {
          guint32 left = header.size;
          gssize got;

          while (left > 0 && (got = recv (fd, payload, MIN (left, sizeof payload), MSG_DONTWAIT)) > 0)
            left -= got;
        }
    }
}

static guint watch (Session *s, int fd);

/* What the front-end sends is read in its own context, from the poll it
 * makes anyway (probing the sockets after every iteration cost a
 * recvmsg each, most finding nothing). */
static gboolean
on_readable (int          fd,
             GIOCondition condition,
             gpointer     user_data)
{
  Session *s = user_data;
  guint *id = fd == s->peer ? &s->watches[0] : &s->watches[1];

  if (drain (s, fd, fd == s->peer))
    {
      if (s->channel >= 0 && s->watches[1] == 0 && fd == s->peer)
        s->watches[1] = watch (s, s->channel);
      return G_SOURCE_CONTINUE;
    }
  *id = 0;
  return G_SOURCE_REMOVE;
}

/* (may recurse: GLib 2.74 otherwise takes the fd out of the poll set for
 * each dispatch and puts it back, waking its own context twice) */
static guint
watch (Session *s,
       int      fd)
{
  GSource *source = g_unix_fd_source_new (fd, G_IO_IN);
  guint result;

  g_source_set_can_recurse (source, TRUE);
  g_source_set_callback (source, G_SOURCE_FUNC (on_readable), s, NULL);
  result = g_source_attach (source, NULL);
  g_source_unref (source);
  return result;
}

static void
pump (Session *s)
{
  for (guint i = 0; i < MAX_PUMP && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
send_bytes (Session      *s,
            int           fd,
            const guint8 *bytes,
            gsize         len,
            guint         n_fds)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 8)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov = { (void *) bytes, len };

  if (len == 0)
    return;
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
      for (guint i = 0; i < n_fds; i++)
        memcpy (CMSG_DATA (cmsg) + i * sizeof (int), &s->pool[i % N_POOL], sizeof (int));
    }
  while (len > 0)
    {
      gssize n = sendmsg (fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n < 0 && errno == EAGAIN && !s->disconnected)
        {
          pump (s);
          continue;
        }
      if (n < 0)
        {
          if (fd == s->peer)
            s->hung_up = TRUE;
          return;
        }
      mh.msg_control = NULL;
      mh.msg_controllen = 0;
      iov.iov_base = (guint8 *) iov.iov_base + n;
      iov.iov_len -= n;
      len -= n;
    }
}

/* A framed message: @request, @flags, @payload. */
static void
send_message (Session      *s,
              int           fd,
              guint32       request,
              guint32       flags,
              const guint8 *payload,
              gsize         len,
              guint         n_fds)
{
  guint8 buf[VHOST_USER_HEADER_SIZE + 256];
  VhostUserWireHeader header = { request, flags, (guint32) len };

  g_assert_cmpuint (len, <=, 256);
  memcpy (buf, &header, sizeof header);
  memcpy (buf + sizeof header, payload, len);
  send_bytes (s, fd, buf, sizeof header + len, n_fds);
}

/* Requests the generic call sends as they are (any number, even unknown
 * ones: the request table decides what the reply must be). */
static void
start_operation (Session *s,
                 guint8   op,
                 Input   *in)
{
  VhostUserFrontend *f = s->frontend;

  if (op >= 0x68)
    {
      if (op & 1)
        s->iotlb_mode = next_u8 (in) % IOTLB_N_MODES;
      else
        {
          guint64 iova = next_u64 (in), size = next_u64 (in), user_addr = next_u64 (in);
          guint perm = next_u8 (in);
          IotlbAnswer *answer = g_new0 (IotlbAnswer, 1);

          answer->session = s;
          s->pending++;
          vhost_user_frontend_send_iotlb_msg_async (f, iova, size, user_addr, perm, next_u8 (in), NULL,
                                                    done_iotlb, answer);
        }
      return;
    }
  s->pending++;
  switch (op % 13)
    {
    case 0:
      {
        guint64 features = next_u64 (in);

        vhost_user_frontend_negotiate_async (f, features, next_u64 (in), NULL, done_negotiate, s);
      }
      break;
    case 1:
      {
        guint request = next_u8 (in);
        guint len = next_u8 (in) % 64;
        guint8 payload[64];
        GBytes *bytes;

        for (guint i = 0; i < len; i++)
          payload[i] = next_u8 (in);
        bytes = g_bytes_new (payload, len);
        vhost_user_frontend_request_async (f, request, len > 0 ? bytes : NULL, NULL, NULL, done_request, s);
        g_bytes_unref (bytes);
      }
      break;
    case 2:
      vhost_user_frontend_get_vring_base_async (f, next_u8 (in) % 4, NULL, done_vring_base, s);
      break;
    case 3:
      {
        guint offset = next_u8 (in);

        vhost_user_frontend_read_config_async (f, offset, next_u8 (in), NULL, done_config, s);
      }
      break;
    case 4:
      {
        guint num_queues = next_u8 (in);

        vhost_user_frontend_get_inflight_fd_async (f, num_queues, next_u16 (in), NULL, done_inflight, s);
      }
      break;
    case 5:
      vhost_user_frontend_get_shared_object_async (f, "0123456789abcdef0123456789abcdef", NULL,
                                                   done_shared_object, s);
      break;
    case 6:
      vhost_user_frontend_get_shmem_config_async (f, NULL, done_shmem_config, s);
      break;
    case 7:
      vhost_user_frontend_setup_backend_channel_async (f, NULL, done_setup_backend_channel, s);
      break;
    case 8:
      vhost_user_frontend_set_mem_table_async (f, table, NULL, done_set_mem_table, s);
      break;
    case 9:
      vhost_user_frontend_add_mem_region_async (f, region, NULL, done_add_mem_region, s);
      break;
    case 10:
      {
        static const VhostUserRequestType requests[] = {
          VHOST_USER_REQUEST_SET_VRING_NUM, VHOST_USER_REQUEST_SET_VRING_BASE,
          VHOST_USER_REQUEST_SET_VRING_ENABLE,
        };
        VhostUserRequestType request = requests[next_u8 (in) % G_N_ELEMENTS (requests)];
        guint index = next_u8 (in);

        vhost_user_frontend_set_vring_state_async (f, request, index, next_u16 (in), NULL, done_set_vring_state, s);
      }
      break;
    case 11:
      {
        static const VhostUserRequestType requests[] = {
          VHOST_USER_REQUEST_SET_OWNER, VHOST_USER_REQUEST_RESET_OWNER, VHOST_USER_REQUEST_RESET_DEVICE,
        };

        vhost_user_frontend_command_async (f, requests[next_u8 (in) % G_N_ELEMENTS (requests)], NULL,
                                           done_command, s);
      }
      break;
    case 12:
      {
        guint8 config[16];
        guint offset = next_u8 (in);
        guint len = next_u8 (in) % sizeof config;
        GBytes *bytes;

        for (guint i = 0; i < len; i++)
          config[i] = next_u8 (in);
        bytes = g_bytes_new (config, len);
        vhost_user_frontend_write_config_async (f, offset, 0, bytes, NULL, done_write_config, s);
        g_bytes_unref (bytes);
      }
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
session_init (Session *s)
{
  GError *error = NULL;
  GSocket *ours = NULL, *theirs = NULL;

  memset (s, 0, sizeof *s);
  s->channel = -1;
  /* once a process: GLib's worker thread (GTask's class) and the memory */
  g_type_ensure (G_TYPE_TASK);
  if (table == NULL)
    {
      region = vhost_user_memory_region_new_memfd (0, 0x10000, &error);
      g_assert_no_error (error);
      table = vhost_user_memory_table_new (&region, 1, &error);
      g_assert_no_error (error);
    }
  s->frontend = vhost_user_frontend_new ();
  g_signal_connect (s->frontend, "disconnected", G_CALLBACK (on_disconnected), s);
  g_signal_connect (s->frontend, "iotlb-msg", G_CALLBACK (on_iotlb_msg), s);
  g_assert_true (vhost_user_socket_pair (&ours, &theirs, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_take_socket (s->frontend, ours, &error));
  g_assert_no_error (error);
  s->peer = dup (g_socket_get_fd (theirs));
  g_object_unref (ours);
  g_object_unref (theirs);
  s->pool[0] = test_memfd (0x1000);
  s->pool[1] = test_eventfd ();
  s->pool[2] = open ("/dev/null", O_RDWR | O_CLOEXEC);
  s->watches[0] = watch (s, s->peer);
}

static void
session_finish (Session *s)
{
  for (guint i = 0; i < G_N_ELEMENTS (s->watches); i++)
    g_clear_handle_id (&s->watches[i], g_source_remove);
  close (s->peer);
  if (s->channel >= 0)
    close (s->channel);
  /* (blocking: the hang-up wakes the front-end; one that never noticed
   * would hang here, which libFuzzer reports) */
  for (guint i = 0; i < 1000 && (!s->disconnected || s->pending > 0); i++)
    g_main_context_iteration (NULL, TRUE);
  /* a back-end that hangs up fails everything it was asked */
  g_assert_true (s->disconnected);
  g_assert_cmpuint (s->pending, ==, 0);
  g_object_unref (s->frontend);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint i = 0; i < N_POOL; i++)
    close (s->pool[i]);
}

static void
run_input (const guint8 *data,
           gsize         size)
{
  Input in = { data, size, 0 };
  Session s;

  session_init (&s);
  while (in.pos < in.size && !s.hung_up)
    {
      guint8 control = next_u8 (&in);
      guint n_fds = control & 7;
      guint8 buf[256];
      guint len;

      if (control < 0x80)
        start_operation (&s, control, &in);
      else if (control < 0xc0)
        {
          len = next_u16 (&in);   /* (not inside MIN: evaluated once) */
          len = MIN (len, in.size - in.pos);
          send_bytes (&s, s.peer, data + in.pos, len, n_fds);
          in.pos += len;
        }
      else if (control < 0xe0)
        {
          guint8 flags = next_u8 (&in);

          len = next_u8 (&in);
          for (guint i = 0; i < len; i++)
            buf[i] = next_u8 (&in);
          send_message (&s, s.peer, s.last_request,
                        flags == 0 ? VHOST_USER_PROTOCOL_VERSION | VHOST_USER_FLAG_REPLY : flags,
                        buf, len, n_fds);
        }
      else
        {
          guint request = next_u8 (&in);
          guint8 flags = next_u8 (&in);

          len = next_u8 (&in);
          for (guint i = 0; i < len; i++)
            buf[i] = next_u8 (&in);
          if (s.channel >= 0)
            send_message (&s, s.channel, request,
                          VHOST_USER_PROTOCOL_VERSION | ((flags & 1) ? VHOST_USER_FLAG_NEED_REPLY : 0),
                          buf, len, n_fds);
        }
      pump (&s);
    }
  session_finish (&s);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  run_input (data, size);
  /* no fd left behind: libFuzzer itself does not count them (the
   * replay test does too) */
  test_fuzz_check_fds (run_input, data, size);
  return 0;
}
