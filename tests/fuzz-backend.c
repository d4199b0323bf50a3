/* fuzz-backend.c: a hostile front-end's message stream, with fds, into a
 * VhostUserBackend
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The whole dispatch, not only the codec: the input is a sequence of
 * records, each a message (header and as much payload as its size says
 * or the input has left, sent as it is: a lying size takes the next
 * record's bytes) with up to seven fds attached over SCM_RIGHTS, or a
 * write of the driver into guest memory followed by a kick. The fds are
 * real: memfds of three sizes (guest memory tables map them, and ring
 * requests then walk them), two eventfds (kick and call), /dev/null, a
 * socket (a back-end channel nobody answers) and both ends of a pipe (a
 * device state to save or load: the device offers DEVICE_STATE, saves a
 * few bytes and reads a state to its end). After each record the
 * back-end's context runs until it has nothing left to do and its
 * replies are read (fds in them closed); at the end the front-end hangs
 * up and the back-end must disconnect and go away leaving nothing open.
 * The rings' kick handlers pop every request, write into it and push it,
 * as a device does.
 *
 * A record: one control byte, then
 *   bits 0-2 clear of bit 6: n_fds, fds taken from the pool from the
 *     kind in bits 3-5 on; then a 12-byte header and its payload;
 *   bit 6: a driver write: the memfd (u8), the offset (u16), a length
 *     (u8) and the bytes, then both eventfds are written (a kick).
 */

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-message-private.h"
#include "vhost-user-socket-private.h"

#define N_MEMFDS  3
#define N_POOL    9
#define MAX_PUMP  64

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static const gsize memfd_sizes[N_MEMFDS] = { 0x10000, 0x1000, 0x100000 };

typedef struct {
  VhostUserBackend *backend;
  int               peer;          /* our end of the back-end's socket */
  int               channel;       /* our end of the back-end channel we may pass */
  guint             watches[2];    /* peer and channel readable, in the back-end's context */
  int               pool[N_POOL];  /* memfds, eventfds, /dev/null, the channel's other end, a pipe */
  guint8           *maps[N_MEMFDS];
  gboolean          disconnected;
  gboolean          hung_up;       /* sending failed: the back-end is gone */
} Session;

static void
on_disconnected (VhostUserBackend *backend,
                 const GError     *error,
                 gboolean          should_reconnect,
                 gpointer          user_data)
{
  ((Session *) user_data)->disconnected = TRUE;
}

/* A device: every request popped is written into and used. */
static void
on_kick (VhostUserVring *vring,
         gpointer        user_data)
{
  /* (one element for the process: 8 KiB allocated per kick was a tenth
   * of the target's time, in ASan's allocator) */
  static VhostUserVringElement element;
  VhostUserVringElement *e = &element;
  static const guint8 status[16] = { 0 };
  GError *error = NULL;
  guint n = 0;

  while (n++ < 1024 && vhost_user_vring_pop (vring, e, &error))
    {
      gsize written = vhost_user_vring_element_write (e, 0, status, MIN (e->in_len, sizeof status));
      guint8 header[16];

      vhost_user_vring_element_copy_out (e, 0, header, MIN (e->out_len, sizeof header));
      if (!vhost_user_vring_push (vring, e->head, written, &error))
        break;
    }
  g_clear_error (&error);
  if (!vhost_user_vring_call (vring, &error))
    g_clear_error (&error);
}

/* A device's state: a few bytes saved, a state loaded read to its end
 * (at most 4 KiB kept), the stream closed either way; synchronously, so
 * that its fd is closed when the session's context goes idle (a close_async
 * would close it in a worker thread, a moment later). A load's splice
 * reads in a worker thread, which sees the end once the session has gone
 * and the library's relay has closed its pipe: the session's end waits
 * for the transfers under way (state_ops). */
static guint state_ops;

static void
state_saved (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
  state_ops--;
}

static void
state_loaded (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GInputStream *stream = user_data;

  g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, NULL);
  g_input_stream_close (stream, NULL, NULL);
  g_object_unref (stream);
  g_object_unref (source);
  state_ops--;
}

static gboolean
on_save_state (VhostUserBackend *backend,
               GOutputStream    *stream,
               guint             phase,
               gpointer          user_data)
{
  static const char state[] = "a state";

  state_ops++;
  g_output_stream_write_all_async (stream, state, sizeof state, G_PRIORITY_DEFAULT, NULL, state_saved, NULL);
  return TRUE;
}

static gboolean
on_load_state (VhostUserBackend *backend,
               GInputStream     *stream,
               guint             phase,
               gpointer          user_data)
{
  GOutputStream *memory = g_memory_output_stream_new (g_malloc (4096), 4096, NULL, g_free);

  state_ops++;
  g_output_stream_splice_async (memory, stream, G_OUTPUT_STREAM_SPLICE_NONE, G_PRIORITY_DEFAULT, NULL,
                                state_loaded, g_object_ref (stream));
  return TRUE;
}

/* Reads whatever the back-end sent on @fd, closing fds that came with
 * it. FALSE once the back-end closed it. */
static gboolean
drain (int fd)
{
  for (;;)
    {
      guint8 buf[4096];
      union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * 16)];
      } control;
      struct iovec iov = { buf, sizeof buf };
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
      for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c != NULL; c = CMSG_NXTHDR (&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
          for (gsize i = 0; i < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
            {
              int received;

              memcpy (&received, CMSG_DATA (c) + i * sizeof (int), sizeof received);
              close (received);
            }
    }
}

/* The answers are read in the back-end's own context, from the poll it
 * makes anyway: probing both sockets after every iteration was half the
 * target's system calls. */
static gboolean
on_readable (int          fd,
             GIOCondition condition,
             gpointer     user_data)
{
  guint *watch = user_data;

  if (drain (fd))
    return G_SOURCE_CONTINUE;
  *watch = 0;
  return G_SOURCE_REMOVE;
}

/* (may recurse: GLib 2.74 otherwise takes the fd out of the poll set for
 * each dispatch and puts it back, waking its own context twice) */
static guint
watch (int    fd,
       guint *id)
{
  GSource *source = g_unix_fd_source_new (fd, G_IO_IN);
  guint result;

  g_source_set_can_recurse (source, TRUE);
  g_source_set_callback (source, G_SOURCE_FUNC (on_readable), id, NULL);
  result = g_source_attach (source, NULL);
  g_source_unref (source);
  return result;
}

/* The back-end's context until it is idle, and its answers read. Bounded:
 * a ring polled without a kick fd is never idle. */
static void
pump (Session *s)
{
  for (guint i = 0; i < MAX_PUMP && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
send_record (Session      *s,
             const guint8 *bytes,
             gsize         len,
             const int    *fds,
             guint         n_fds)
{
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 8)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov = { (void *) bytes, len };

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
  while (len > 0 && !s->hung_up)
    {
      gssize n = sendmsg (s->peer, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n < 0 && errno == EAGAIN)
        {
          /* a full socket: the back-end reads on */
          pump (s);
          if (s->disconnected)
            s->hung_up = TRUE;
          continue;
        }
      if (n < 0)
        {
          s->hung_up = TRUE;
          break;
        }
      /* the fds went with the first byte */
      mh.msg_control = NULL;
      mh.msg_controllen = 0;
      iov.iov_base = (guint8 *) iov.iov_base + n;
      iov.iov_len -= n;
      len -= n;
    }
}

static void
session_init (Session *s)
{
  GError *error = NULL;
  GSocket *ours = NULL, *theirs = NULL;
  int pair[2];
  guint8 config[16] = { 1, 2, 3, 4 };
  GBytes *bytes;

  memset (s, 0, sizeof *s);
  /* GTask's class starts GLib's worker thread and its context's eventfd,
   * once a process: on the first input, not on the one that first sends
   * a request of the back-end's own */
  g_type_ensure (G_TYPE_TASK);
  s->backend = g_object_new (VHOST_USER_TYPE_BACKEND, "num-queues", 2, "max-queue-size", 256, NULL);
  vhost_user_backend_set_protocol_features (s->backend,
                                            vhost_user_backend_get_protocol_features (s->backend) |
                                            VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS |
                                            VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE);
  g_signal_connect (s->backend, "save-state", G_CALLBACK (on_save_state), NULL);
  g_signal_connect (s->backend, "load-state", G_CALLBACK (on_load_state), NULL);
  bytes = g_bytes_new (config, sizeof config);
  vhost_user_backend_set_config (s->backend, bytes);
  g_bytes_unref (bytes);
  memset (config, 0, sizeof config);
  memset (config + 8, 0xff, 8);
  bytes = g_bytes_new (config, sizeof config);
  vhost_user_backend_set_config_writable_mask (s->backend, bytes);
  g_bytes_unref (bytes);
  for (guint i = 0; i < 2; i++)
    vhost_user_vring_set_kick_handler (vhost_user_backend_get_vring (s->backend, i), on_kick, NULL, NULL);
  g_signal_connect (s->backend, "disconnected", G_CALLBACK (on_disconnected), s);

  g_assert_true (vhost_user_socket_pair (&ours, &theirs, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_backend_take_socket (s->backend, ours, &error));
  g_assert_no_error (error);
  s->peer = dup (g_socket_get_fd (theirs));
  g_object_unref (ours);
  g_object_unref (theirs);

  for (guint i = 0; i < N_MEMFDS; i++)
    {
      s->pool[i] = test_memfd (memfd_sizes[i]);
      s->maps[i] = mmap (NULL, memfd_sizes[i], PROT_READ | PROT_WRITE, MAP_SHARED, s->pool[i], 0);
      g_assert_true (s->maps[i] != MAP_FAILED);
    }
  s->pool[3] = test_eventfd ();
  s->pool[4] = test_eventfd ();
  s->pool[5] = open ("/dev/null", O_RDWR | O_CLOEXEC);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  s->pool[6] = pair[0];
  s->channel = pair[1];
  g_assert_true (g_unix_open_pipe (s->pool + 7, FD_CLOEXEC, NULL));
  s->watches[0] = watch (s->peer, &s->watches[0]);
  s->watches[1] = watch (s->channel, &s->watches[1]);
}

static void
session_finish (Session *s)
{
  for (guint i = 0; i < G_N_ELEMENTS (s->watches); i++)
    g_clear_handle_id (&s->watches[i], g_source_remove);
  close (s->peer);
  /* (blocking: the hang-up wakes the back-end; one that never noticed
   * would hang here, which libFuzzer reports) */
  for (guint i = 0; i < 1000 && !s->disconnected; i++)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (s->disconnected);
  /* the pipe's ends first: a device's state read or written waits on
   * them, and ends (end of file, or a broken pipe) once they go */
  close (s->pool[7]);
  close (s->pool[8]);
  g_object_unref (s->backend);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  while (state_ops > 0)
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < N_MEMFDS; i++)
    munmap (s->maps[i], memfd_sizes[i]);
  for (guint i = 0; i < 7; i++)
    close (s->pool[i]);
  close (s->channel);
}

static void
run_input (const guint8 *data,
           gsize         size)
{
  Session s;
  gsize pos = 0;

  session_init (&s);
  while (pos < size && !s.hung_up && !s.disconnected)
    {
      guint8 control = data[pos++];

      if (control & 0x40)
        {
          /* the driver writes guest memory, then kicks */
          guint which, offset, len;
          guint64 one = 1;

          if (size - pos < 4)
            break;
          which = data[pos] % N_MEMFDS;
          offset = data[pos + 1] | (data[pos + 2] << 8);
          len = MIN (data[pos + 3], size - pos - 4);
          pos += 4;
          offset %= memfd_sizes[which];
          memcpy (s.maps[which] + offset, data + pos, MIN (len, memfd_sizes[which] - offset));
          pos += len;
          g_assert_cmpint (write (s.pool[3], &one, sizeof one), ==, sizeof one);
          g_assert_cmpint (write (s.pool[4], &one, sizeof one), ==, sizeof one);
        }
      else
        {
          int fds[8];
          guint n_fds = control & 7;
          guint32 payload_size = 0;
          gsize len;

          for (guint i = 0; i < n_fds; i++)
            fds[i] = s.pool[((control >> 3) + i) % N_POOL];
          if (size - pos >= VHOST_USER_HEADER_SIZE)
            memcpy (&payload_size, data + pos + 8, sizeof payload_size);
          len = MIN (size - pos, (gsize) VHOST_USER_HEADER_SIZE + payload_size);
          send_record (&s, data + pos, len, fds, n_fds);
          pos += len;
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
