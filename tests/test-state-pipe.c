/* test-state-pipe.c: device state through a pipe whose other end does
 * not play along
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pipe of a DEVICE_STATE transfer is shared with a peer in another
 * process, maybe of another user, which may stop reading or writing it,
 * close its end early, save a state without end, answer
 * SET_DEVICE_STATE_FD with a pipe or a file of its own, make our end
 * blocking, hold the pipe's lock, or hang up in the middle of a request.
 * Each of those is played here, in this process: a VhostUserServer on a
 * worker thread of its own against our device, or a bare front-end
 * against our back-end. Neither side may hang past its timeout, crash,
 * pile up threads, or take part of a state for a whole one; the tests
 * where a hang or a crash is what went wrong run in a child, so that it
 * fails the test. The device moved between real back-end processes is
 * test-migration.c's.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gio/gunixoutputstream.h>
#include <vhost-user-glib.h>

#include "vhost-user-glib/vhost-user-peer-fd-private.h"
#include "test-migration-common.h"
#include "test-util.h"

typedef enum {
  PEER_STALLS,        /* reads one page of the state once the pipe is full, then nothing */
  PEER_CLOSES,        /* closes its end of the pipe at once */
  PEER_ENDLESS,       /* saves a state without end */
  PEER_READS,         /* reads one chunk, has the load cancelled, reads the rest once hung up on */
  PEER_SLOW_FD,       /* has the load cancelled while it answers SET_DEVICE_STATE_FD, then takes the pipe */
  PEER_FD_AFTER_GONE, /* answers SET_DEVICE_STATE_FD once the front-end has hung up */
  PEER_REFUSES_FD,    /* refuses SET_DEVICE_STATE_FD */
  PEER_OWN_PIPE,      /* answers SET_DEVICE_STATE_FD with a pipe of its own, and moves the state over it */
  PEER_OWN_FILE,      /* answers SET_DEVICE_STATE_FD with a file (a memfd) of its own */
  PEER_OWN_BLOCKING,  /* answers with a pipe of its own, and makes our end blocking once the load is under way */
  PEER_LOCKS,         /* keeps the pipe, holds its lock (a save's with a page in it), and answers */
  PEER_LOCKS_REFUSES, /* holds the pipe's lock, and refuses SET_DEVICE_STATE_FD */
  PEER_LOAD_READS,    /* reads a load to its end */
  PEER_SLOW_READS,    /* reads a load, 8 KiB every 100 ms to 320 KiB, then the rest at once */
} PeerMode;

/* How many of the library's pipe relays run in this process. */
static guint
relays_running (void)
{
  g_autoptr(GDir) tasks = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  guint n = 0;

  g_assert_nonnull (tasks);
  while ((tid = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "vhost-user-pipe"))
        n++;
    }
  return n;
}

/* Until every relay has ended (a relay stopped while the peer held the
 * lock ends once it lets go). */
static void
wait_relays_ended (void)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (relays_running () > 0 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpuint (relays_running (), ==, 0);
}

typedef struct {
  PeerMode      mode;
  int           pipe_fd;   /* the stalling peer's own copy of its end */
  GPtrArray    *streams;   /* the stalling peer keeps them open */
  GMutex        lock;
  /* the reading peer's, under the lock */
  GCond         cond;
  GCancellable *cancel;    /* the front-end's load's */
  guint8        chunk[65536];
  gboolean      hung_up;   /* its ::disconnected came */
  gboolean      done;      /* it read to an end, EOF or error */
  gboolean      eof_seen;
  GError       *read_error;
  gboolean      fd_request;  /* SET_DEVICE_STATE_FD came */
  gboolean      gone;        /* the front-end hung up since */
  gint          kicks;       /* SET_VRING_KICKs, every session's (atomic) */
  /* the peer with a pipe of its own: its thread at the other end */
  GThread      *own_thread;
  int           own_fd;
  int           own_kept;    /* the blocking peer's copy of the end it gave */
  gsize         own_bytes;   /* a load's, read to the end */
  gsize         own_expected;  /* how much the load is, 0 for a save */
  TestPipeLock *pipe_lock;   /* the locking peer's */
} Peer;

#define OWN_STATE "the peer's own state"

static gpointer
own_pipe_reads (gpointer data)
{
  Peer *peer = data;
  guint8 buf[4096];
  gssize n;

  while ((n = read (peer->own_fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    peer->own_bytes += MAX (n, 0);
  g_close (peer->own_fd, NULL);
  return NULL;
}

/* One chunk of the load read, so our end is in use: blocking from now
 * on (the flag is the file description's, which a passed fd shares),
 * and nothing more read until the front-end has gone. */
static gpointer
own_pipe_stalls (gpointer data)
{
  Peer *peer = data;
  guint8 buf[4096];

  g_assert_cmpint (read (peer->own_fd, buf, sizeof buf), >, 0);
  g_assert_cmpint (fcntl (peer->own_kept, F_SETFL, fcntl (peer->own_kept, F_GETFL) & ~O_NONBLOCK), ==, 0);
  g_mutex_lock (&peer->lock);
  while (!peer->gone)
    g_cond_wait (&peer->cond, &peer->lock);
  g_mutex_unlock (&peer->lock);
  g_close (peer->own_fd, NULL);
  g_close (peer->own_kept, NULL);
  return NULL;
}

static gpointer
own_pipe_writes (gpointer data)
{
  Peer *peer = data;

  g_assert_cmpint (write (peer->own_fd, OWN_STATE, sizeof OWN_STATE), ==, sizeof OWN_STATE);
  g_close (peer->own_fd, NULL);
  return NULL;
}

/* The state moves over the peer's pipe, by its thread: done once it
 * ended, and a load must have come whole. */
static gboolean
peer_check_state (VhostUserBackend    *backend,
                  VhostUserInvocation *invocation,
                  Peer                *peer)
{
  if (peer->mode != PEER_OWN_PIPE || peer->own_thread == NULL)
    return FALSE;
  g_thread_join (g_steal_pointer (&peer->own_thread));
  vhost_user_invocation_return_u64 (invocation, peer->own_bytes == peer->own_expected ? 0 : 1);
  return TRUE;
}

static void
peer_first_chunk (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error), >, 0);
  g_assert_no_error (error);
  /* the VMM gives up on the migration, part of the state read */
  g_cancellable_cancel (peer->cancel);
}

/* The session is over (and the library's stream let go): the rest, in a
 * device's blocking reads, to whichever end comes. */
static void
peer_disconnected (VhostUserBackend *backend,
                   GError           *reason,
                   gboolean          should_reconnect,
                   Peer             *peer)
{
  GInputStream *stream;
  GError *error = NULL;
  gssize n;

  g_mutex_lock (&peer->lock);
  stream = peer->streams->len > 0 ? g_object_ref (g_ptr_array_index (peer->streams, 0)) : NULL;
  if (stream == NULL)
    {
      /* (gone before the device had its stream) */
      peer->hung_up = peer->done = TRUE;
      g_cond_signal (&peer->cond);
    }
  g_mutex_unlock (&peer->lock);
  if (stream == NULL)
    return;
  while ((n = g_input_stream_read (stream, peer->chunk, sizeof peer->chunk, NULL, &error)) > 0)
    ;
  g_mutex_lock (&peer->lock);
  peer->hung_up = TRUE;
  peer->eof_seen = n == 0;
  peer->read_error = error;
  peer->done = TRUE;
  g_cond_signal (&peer->cond);
  g_mutex_unlock (&peer->lock);
  g_input_stream_close (stream, NULL, NULL);
  g_object_unref (stream);
}

static gboolean
peer_state_fd (VhostUserBackend    *backend,
               VhostUserInvocation *invocation,
               guint                direction,
               guint                phase,
               int                  fd,
               Peer                *peer)
{
  if (peer->mode == PEER_STALLS)
    {
      g_mutex_lock (&peer->lock);
      peer->pipe_fd = dup (fd);
      g_mutex_unlock (&peer->lock);
    }
  if (peer->mode == PEER_FD_AFTER_GONE)
    {
      g_signal_connect (backend, "disconnected", G_CALLBACK (peer_disconnected), peer);
      g_mutex_lock (&peer->lock);
      peer->fd_request = TRUE;
      g_cond_signal (&peer->cond);
      while (!peer->gone)
        g_cond_wait (&peer->cond, &peer->lock);
      g_mutex_unlock (&peer->lock);
    }
  if (peer->mode == PEER_SLOW_FD)
    {
      /* the VMM gives up before the reply comes (a late reply is
       * dropped): the default handler takes the pipe all the same,
       * unless the hang-up came first */
      g_signal_connect (backend, "disconnected", G_CALLBACK (peer_disconnected), peer);
      g_cancellable_cancel (peer->cancel);
      g_usleep (G_USEC_PER_SEC / 10);
    }
  if (peer->mode == PEER_REFUSES_FD)
    {
      vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                                                  "Not now");
      return TRUE;
    }
  if (peer->mode == PEER_OWN_PIPE)
    {
      int fds[2];

      /* (bit 8 clear: "use my fd"; ours is ours to close, a copy is sent) */
      g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
      peer->own_fd = fds[direction == 1 ? 0 : 1];
      peer->own_bytes = 0;
      peer->own_thread = g_thread_new ("own pipe", direction == 1 ? own_pipe_reads : own_pipe_writes, peer);
      vhost_user_invocation_return_fd (invocation, 0, fds[direction == 1 ? 1 : 0]);
      g_close (fds[direction == 1 ? 1 : 0], NULL);
      return TRUE;
    }
  if (peer->mode == PEER_OWN_BLOCKING)
    {
      int fds[2];

      g_assert_cmpint (direction, ==, 1);
      g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
      peer->own_fd = fds[0];
      peer->own_kept = fds[1];
      peer->own_thread = g_thread_new ("stalling pipe", own_pipe_stalls, peer);
      vhost_user_invocation_return_fd (invocation, 0, fds[1]);
      return TRUE;
    }
  if (peer->mode == PEER_LOCKS_REFUSES)
    {
      g_mutex_lock (&peer->lock);
      peer->pipe_lock = test_pipe_lock_hold (fd);
      g_mutex_unlock (&peer->lock);
      vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                                                  "Not now");
      return TRUE;
    }
  if (peer->mode == PEER_LOCKS)
    {
      static const guint8 page[4096];

      /* a save has something to read, so that the front-end reads */
      if (direction == 0)
        g_assert_cmpint (write (fd, page, sizeof page), ==, sizeof page);
      g_mutex_lock (&peer->lock);
      peer->pipe_fd = dup (fd);
      peer->pipe_lock = test_pipe_lock_hold (fd);
      g_mutex_unlock (&peer->lock);
      vhost_user_invocation_return_u64 (invocation, 0x100);
      return TRUE;
    }
  if (peer->mode == PEER_OWN_FILE)
    {
      int file = memfd_create ("own-state", MFD_CLOEXEC);

      g_assert_cmpint (file, >=, 0);
      vhost_user_invocation_return_fd (invocation, 0, file);
      g_close (file, NULL);
      return TRUE;
    }
  return FALSE;
}

/* Reads to the end (or the first error). */
static void
load_read (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Peer *peer = user_data;

  if (g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL) > 0)
    g_input_stream_read_async (G_INPUT_STREAM (source), peer->chunk, sizeof peer->chunk, G_PRIORITY_DEFAULT, NULL,
                               load_read, peer);
}

static gpointer
slow_reads (gpointer data)
{
  GInputStream *stream = data;
  guint8 buf[8192];
  gsize total = 0;
  gssize n;

  while ((n = g_input_stream_read (stream, buf, sizeof buf, NULL, NULL)) > 0)
    if ((total += n) < 320 * 1024)
      g_usleep (G_USEC_PER_SEC / 10);
  g_input_stream_close (stream, NULL, NULL);
  g_object_unref (stream);
  return NULL;
}

static gboolean
peer_load_state (VhostUserBackend *backend,
                 GInputStream     *stream,
                 guint             phase,
                 Peer             *peer)
{
  if (peer->mode == PEER_CLOSES)
    g_input_stream_close (stream, NULL, NULL);
  else
    {
      g_mutex_lock (&peer->lock);
      g_ptr_array_add (peer->streams, g_object_ref (stream));
      g_mutex_unlock (&peer->lock);
    }
  if (peer->mode == PEER_SLOW_READS)
    peer->own_thread = g_thread_new ("slow reads", slow_reads, g_object_ref (stream));
  if (peer->mode == PEER_LOAD_READS)
    g_input_stream_read_async (stream, peer->chunk, sizeof peer->chunk, G_PRIORITY_DEFAULT, NULL,
                               load_read, peer);
  if (peer->mode == PEER_READS)
    {
      g_signal_connect (backend, "disconnected", G_CALLBACK (peer_disconnected), peer);
      g_input_stream_read_async (stream, peer->chunk, sizeof peer->chunk, G_PRIORITY_DEFAULT, NULL,
                                 peer_first_chunk, peer);
    }
  return TRUE;
}

static gboolean
peer_vring_kick (VhostUserBackend    *backend,
                 VhostUserInvocation *invocation,
                 guint                index,
                 int                  fd,
                 Peer                *peer)
{
  g_atomic_int_inc (&peer->kicks);
  return FALSE;
}

static guint8 endless_chunk[65536];

static void
endless_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  /* until the front-end stops reading and closes its end */
  if (g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    g_output_stream_write_all_async (G_OUTPUT_STREAM (source), endless_chunk, sizeof endless_chunk,
                                     G_PRIORITY_DEFAULT, NULL, endless_written, NULL);
  else
    g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
}

static gboolean
peer_save_state (VhostUserBackend *backend,
                 GOutputStream    *stream,
                 guint             phase,
                 Peer             *peer)
{
  g_output_stream_write_all_async (stream, endless_chunk, sizeof endless_chunk, G_PRIORITY_DEFAULT, NULL,
                                   endless_written, NULL);
  return TRUE;
}

static void
peer_added (VhostUserServer  *server,
            VhostUserBackend *backend,
            Peer             *peer)
{
  vhost_user_backend_set_protocol_features (backend, vhost_user_backend_get_protocol_features (backend) |
                                                     VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE);
  g_signal_connect (backend, "set-device-state-fd", G_CALLBACK (peer_state_fd), peer);
  g_signal_connect (backend, "load-state", G_CALLBACK (peer_load_state), peer);
  g_signal_connect (backend, "save-state", G_CALLBACK (peer_save_state), peer);
  g_signal_connect (backend, "set-vring-kick", G_CALLBACK (peer_vring_kick), peer);
  g_signal_connect (backend, "check-device-state", G_CALLBACK (peer_check_state), peer);
}

/* A back-end in this process, on its own worker thread per connection,
 * that plays @mode on the state's pipe; listening on peer.sock. */
static VhostUserServer *
peer_listen (Fixture     *f,
             Peer        *peer,
             PeerMode     mode,
             char       **sock)
{
  g_autoptr(VhostUserServer) server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, TRUE);
  g_autoptr(GError) error = NULL;

  peer->mode = mode;
  peer->pipe_fd = -1;
  g_mutex_init (&peer->lock);
  g_cond_init (&peer->cond);
  peer->streams = g_ptr_array_new_with_free_func (g_object_unref);
  peer->cancel = g_cancellable_new ();
  *sock = g_build_filename (f->dir, "peer.sock", NULL);
  g_signal_connect (server, "backend-added", G_CALLBACK (peer_added), peer);
  g_assert_true (vhost_user_server_listen (server, *sock, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&server);
}

/* Once the server is stopped: what the peer kept. */
static void
peer_clear (Peer *peer)
{
  g_mutex_lock (&peer->lock);
  g_clear_pointer (&peer->streams, g_ptr_array_unref);
  if (peer->pipe_fd >= 0)
    g_close (peer->pipe_fd, NULL);
  peer->pipe_fd = -1;
  g_clear_error (&peer->read_error);
  g_clear_object (&peer->cancel);
  g_mutex_unlock (&peer->lock);
  g_cond_clear (&peer->cond);
  g_mutex_clear (&peer->lock);
}

/* A front-end on @sock that moves device state (no device around it). */
static void
connect_for_state (VhostUserFrontend *frontend,
                   const char        *sock)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_frontend_connect_to_path (frontend, sock, 5000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_negotiate (frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                                VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE, NULL, &error));
  g_assert_no_error (error);
}

/* Until the pipe @fd reads from holds 64 KiB: the device writing into it
 * waits. */
static void
wait_pipe_full (int fd)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  int queued = 0;

  while ((ioctl (fd, FIONREAD, &queued) != 0 || queued < 65536) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpint (queued, >=, 65536);
}

/* Once the device has filled the pipe, one page is read: poll then says
 * the pipe is writable, though not for a whole chunk. */
static gpointer
peer_read_one_page (gpointer data)
{
  Peer *peer = data;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  guint8 page[4096];

  while (g_get_monotonic_time () < deadline)
    {
      int fd, queued = 0;

      g_mutex_lock (&peer->lock);
      fd = peer->pipe_fd;
      g_mutex_unlock (&peer->lock);
      if (fd >= 0 && ioctl (fd, FIONREAD, &queued) == 0 && queued >= 65536)
        {
          g_assert_cmpint (read (fd, page, sizeof page), ==, sizeof page);
          return NULL;
        }
      g_usleep (1000);
    }
  return NULL;
}

/* A back-end that stops reading the state with the pipe all but full, or
 * that closes its end early: loading the state fails with a clear error,
 * within the front-end's timeout, and neither blocks the VMM's thread in
 * write(2) (before: for ever, past any timeout or cancellation) nor kills
 * it with SIGPIPE (before: the process died). In a child, so that a hang
 * or a signal fails the test. */
static void
test_load_unread (Fixture       *f,
                  gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  g_autofree guint8 *state = g_malloc0 (1 << 20);
  GThread *reader = NULL;
  gint64 start;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, GPOINTER_TO_INT (data), &sock);
  device = device_for (f, sock);
  /* short for the peer that stalls; the one that closes its end must not
   * time out on a loaded machine before its close lands */
  g_object_set (vhost_user_device_get_frontend (device), "timeout", peer.mode == PEER_STALLS ? 1000 : 20000, NULL);
  if (peer.mode == PEER_STALLS)
    reader = g_thread_new ("peer reader", peer_read_one_page, &peer);

  in = g_memory_input_stream_new_from_data (g_steal_pointer (&state), 1 << 20, g_free);
  start = g_get_monotonic_time ();
  g_assert_false (vhost_user_device_load_state (device, in, NULL, &error));
  g_test_message ("after %" G_GINT64_FORMAT " ms: %s", (g_get_monotonic_time () - start) / 1000, error->message);
  if (peer.mode == PEER_STALLS)
    g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT);
  else
    g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
  /* the back-end took the pipe and did not refuse the state itself: hung
   * up on, as the end of the pipe does not say the state was cut short */
  g_assert_false (vhost_user_frontend_get_connected (vhost_user_device_get_frontend (device)));
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);

  if (reader != NULL)
    g_thread_join (reader);
  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A load the VMM cancels once the back-end has read part of the state:
 * the device hangs up (the state DISCONNECTED), so that the back-end does
 * not take the end of the pipe for the end of the state and start its
 * rings on part of one (before, the connection stayed up and the device
 * STOPPED, ready to start). A read the back-end's device makes after the
 * hang-up fails rather than end (before, it read EOF as for a whole
 * state). Cancelled while the back-end answers SET_DEVICE_STATE_FD, the
 * load hangs up too, as the back-end may take the pipe though we drop
 * its reply (before, the connection went on, and the back-end took our
 * close of the pipe for an empty state). */
static void
test_load_cancelled (Fixture       *f,
                     gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  gint64 deadline;

  if (!g_test_subprocess ())
    {
      /* (a peer that is never hung up on waits for good) */
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, GPOINTER_TO_INT (data), &sock);
  device = device_for (f, sock);

  /* more than the pipe holds: the copy is under way at the cancel */
  in = g_memory_input_stream_new_from_data (g_malloc0 (1 << 20), 1 << 20, g_free);
  g_assert_false (vhost_user_device_load_state (device, in, peer.cancel, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (vhost_user_frontend_get_connected (vhost_user_device_get_frontend (device)));
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);

  /* and the back-end saw the hang-up: done is set only by its
   * ::disconnected handler, so the wait is the check */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  g_mutex_lock (&peer.lock);
  while (!peer.done)
    g_assert_true (g_cond_wait_until (&peer.cond, &peer.lock, deadline));
  /* and read the end of the pipe, after it, as no end of the state */
  if (peer.mode == PEER_READS)
    {
      g_assert_false (peer.eof_seen);
      g_assert_error (peer.read_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    }
  g_mutex_unlock (&peer.lock);

  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A front-end that hangs up while the back-end takes SET_DEVICE_STATE_FD:
 * the reply cannot be sent, which ends the session then and there, and
 * the transfer it had just made is let go; the device is not told
 * (before, the transfer was freed with the session and then used by the
 * emission's idle: a use after free, a crash or garbage, that any
 * front-end could cause). In a child, so that a crash fails the test. */
static void
test_gone_at_state_fd (Fixture       *f,
                       gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  int fds[2];

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, PEER_FD_AFTER_GONE, &sock);
  connect_for_state (frontend, sock);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  vhost_user_frontend_set_device_state_fd_async (frontend, 1, 0, fds[0], NULL, NULL, NULL);

  g_mutex_lock (&peer.lock);
  while (!peer.fd_request)
    g_assert_true (g_cond_wait_until (&peer.cond, &peer.lock, deadline));
  g_mutex_unlock (&peer.lock);
  vhost_user_frontend_close (frontend);
  g_mutex_lock (&peer.lock);
  peer.gone = TRUE;
  g_cond_broadcast (&peer.cond);
  while (!peer.hung_up)
    g_assert_true (g_cond_wait_until (&peer.cond, &peer.lock, deadline));
  g_mutex_unlock (&peer.lock);

  /* the worker's next iterations, where the emission's idle runs */
  g_usleep (G_USEC_PER_SEC / 5);
  g_mutex_lock (&peer.lock);
  g_assert_cmpuint (peer.streams->len, ==, 0);
  g_mutex_unlock (&peer.lock);
  vhost_user_server_stop (server);
  g_close (fds[0], NULL);
  g_close (fds[1], NULL);
  peer_clear (&peer);
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* A start refused because a failed load hung up ("not connected") is not
 * wanted by the reconnect the load's docs ask for: the device comes back
 * STOPPED, no ring kicked, ready for the load to be tried again (before,
 * the start left want_running set and the reconnect started the rings on
 * a back-end with no state). In a child, as test_load_unread(). */
static void
test_load_failed_start (Fixture       *f,
                        gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, PEER_CLOSES, &sock);
  device = device_for (f, sock);
  g_object_set (vhost_user_device_get_frontend (device), "timeout", 20000, NULL);

  /* the peer closes its end without a refusal: the load hangs up */
  in = g_memory_input_stream_new_from_data (g_malloc0 (1 << 20), 1 << 20, g_free);
  g_assert_false (vhost_user_device_load_state (device, in, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);
  g_clear_error (&error);

  g_assert_false (vhost_user_device_start (device, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);

  /* (async: the server accepts in this thread's main context, which a
   * blocking call on a device with no session does not run) */
  vhost_user_device_reconnect_async (device, NULL, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (vhost_user_device_reconnect_finish (device, result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_STOPPED);
  g_assert_cmpint (g_atomic_int_get (&peer.kicks), ==, 0);

  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A back-end that saves a state without end: the save stops at the
 * device's max-state-size with a clear error, and the destination holds
 * no more than that (before, it grew until memory ran out). */
static void
test_save_endless (Fixture       *f,
                   gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GOutputStream) saved = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  guint64 max = 0;

  server = peer_listen (f, &peer, PEER_ENDLESS, &sock);
  device = device_for (f, sock);
  g_object_get (device, "max-state-size", &max, NULL);
  g_assert_cmpuint (max, ==, G_GUINT64_CONSTANT (1) << 30);
  g_object_set (device, "max-state-size", (guint64) (4 << 20), NULL);

  g_assert_false (vhost_user_device_save_state (device, saved, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_OVERSIZED_MESSAGE);
  g_assert_cmpuint (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (saved)), <=, 4 << 20);

  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

static void
saved (GObject      *source,
       GAsyncResult *result,
       gpointer      user_data)
{
  GError **error = user_data;

  g_assert_false (vhost_user_device_save_state_finish (VHOST_USER_DEVICE (source), result, error));
  g_assert_nonnull (*error);
}

/* A save into a destination that takes nothing (the caller's stream: a
 * pipe nobody reads), and a back-end that goes meanwhile: the save ends,
 * CLOSED, and lets the stream go (before, the copy behind it went on
 * waiting on the stream, holding it and the state's pipe, for as long as
 * the stream stalled: the back-end's going ended only waits for the
 * pipe). */
static void
test_save_stalled_destination (Fixture       *f,
                               gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GOutputStream) destination = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  GMainContext *context = g_main_context_default ();
  GOutputStream *left = NULL;
  gint64 deadline, stopped;
  int fds[2], queued = 0;

  server = peer_listen (f, &peer, PEER_ENDLESS, &sock);
  device = device_for (f, sock);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  /* (a write the stream makes once poll says "writable" must not block) */
  g_assert_true (g_unix_set_fd_nonblocking (fds[1], TRUE, &error));
  g_assert_no_error (error);
  destination = g_unix_output_stream_new (fds[1], TRUE);

  vhost_user_device_save_state_async (device, destination, NULL, saved, &error);
  /* the destination full: the copy waits on the caller's stream */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while ((ioctl (fds[0], FIONREAD, &queued) != 0 || queued < 65536) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, FALSE);
  g_assert_cmpint (queued, >=, 65536);
  /* and the back-end's next chunk read from the state's pipe, to be
   * written (the copy waits on the pipe no longer) */
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC / 5;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, FALSE);
  g_assert_null (error);

  vhost_user_server_stop (server);
  stopped = g_get_monotonic_time ();
  deadline = stopped + 10 * G_USEC_PER_SEC;
  while (error == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, FALSE);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED);
  g_test_message ("after %" G_GINT64_FORMAT " ms: %s", (g_get_monotonic_time () - stopped) / 1000, error->message);

  g_object_add_weak_pointer (G_OBJECT (destination), (gpointer *) &left);
  g_clear_object (&destination);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (left != NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, FALSE);
  g_assert_null (left);

  vhost_user_device_close (device);
  g_close (fds[0], NULL);
  peer_clear (&peer);
}

/* How many of GLib's worker threads (GThreadPool's, as GTask runs its
 * threads in, named "pool-...") are in poll(2) or write(2) now: waiting
 * on I/O, as a blocking write does, rather than for work. */
static guint
workers_in_io (void)
{
  g_autoptr(GDir) tasks = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  guint n = 0;

  g_assert_nonnull (tasks);
  while ((tid = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *comm_path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *syscall_path = g_strdup_printf ("/proc/self/task/%s/syscall", tid);
      g_autofree char *comm = NULL;
      g_autofree char *line = NULL;

      if (g_file_get_contents (comm_path, &comm, NULL, NULL) && g_str_has_prefix (comm, "pool-") &&
          !g_str_has_prefix (comm, "pool-spawner") && g_file_get_contents (syscall_path, &line, NULL, NULL) &&
          (g_str_has_prefix (line, "1 ") || g_str_has_prefix (line, "7 ")))
        n++;
    }
  return n;
}

/* A front-end that asks for the state and never reads the pipe: the
 * back-end's device writes it with async calls, which wait in the
 * back-end's context, not in a worker thread blocked for good (the
 * transfer's streams were not pollable: GIO ran each write in a thread
 * of its pool, which waited in poll(2) for the pipe, then in write(2)). */
static void
test_save_unread (Fixture       *f,
                  gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  int fds[2];

  if (!g_file_test ("/proc/self/task", G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("no /proc/self/task to see threads in");
      return;
    }
  server = peer_listen (f, &peer, PEER_ENDLESS, &sock);
  connect_for_state (frontend, sock);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_true (vhost_user_frontend_set_device_state_fd (frontend, 0, 0, fds[1], NULL, NULL, &error));
  g_assert_no_error (error);
  g_close (fds[1], NULL);

  /* the pipe full: a write the device makes now waits */
  wait_pipe_full (fds[0]);
  g_usleep (200 * 1000);
  g_assert_cmpuint (workers_in_io (), ==, 0);

  /* the device's write fails once nobody can read: it closes its stream */
  g_close (fds[0], NULL);
  vhost_user_frontend_close (frontend);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A front-end that keeps a copy of the pipe's end it passed for a save,
 * and clears O_NONBLOCK through it once the pipe is full: the device's
 * next write, once there is room for part of a chunk, does not wait in
 * the kernel for the rest (before, the back-end's thread blocked in
 * write(2) for good, and the session's end with it, so that stopping
 * the server never returned). In a child, so that the hang fails it. */
static void
test_save_made_blocking (Fixture       *f,
                         gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  guint8 page[4096];
  int fds[2];

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, PEER_ENDLESS, &sock);
  connect_for_state (frontend, sock);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_true (vhost_user_frontend_set_device_state_fd (frontend, 0, 0, fds[1], NULL, NULL, &error));
  g_assert_no_error (error);

  wait_pipe_full (fds[0]);
  /* the device waits for room; it will have a page of it, on a blocking
   * file description if it shares ours */
  g_assert_cmpint (fcntl (fds[1], F_SETFL, fcntl (fds[1], F_GETFL) & ~O_NONBLOCK), ==, 0);
  g_assert_cmpint (read (fds[0], page, sizeof page), ==, sizeof page);
  g_usleep (G_USEC_PER_SEC / 5);

  vhost_user_frontend_close (frontend);
  vhost_user_server_stop (server);
  g_close (fds[0], NULL);
  g_close (fds[1], NULL);
  peer_clear (&peer);
}

/* A front-end of another uid than the back-end's (QEMU as its own user):
 * the pipe it passes is its, and the back-end takes it as it is (before,
 * it opened it again through /proc for flags of its own, which the
 * pipe's owner check refused: every SET_DEVICE_STATE_FD failed). Root
 * only (the pipe is made as root, then the process becomes nobody); in a
 * child, which does that. */
static void
test_other_uid (Fixture       *f,
                gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  int fds[2];

  if (getuid () != 0)
    {
      g_test_skip ("needs root, to make the pipe as another uid than the back-end's");
      return;
    }
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  /* the socket where nobody reaches it */
  g_assert_cmpint (g_chmod (f->dir, 0711), ==, 0);
  server = peer_listen (f, &peer, PEER_ENDLESS, &sock);
  g_assert_cmpint (g_chmod (sock, 0666), ==, 0);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_cmpint (setgid (65534), ==, 0);
  g_assert_cmpint (setuid (65534), ==, 0);

  connect_for_state (frontend, sock);
  g_assert_true (vhost_user_frontend_set_device_state_fd (frontend, 0, 0, fds[1], NULL, NULL, &error));
  g_assert_no_error (error);

  g_close (fds[0], NULL);
  g_close (fds[1], NULL);
  vhost_user_frontend_close (frontend);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A back-end that refuses SET_DEVICE_STATE_FD: the load and the save
 * fail with its refusal, nothing was taken, and the connection goes on:
 * the device starts after them. */
static void
test_refused_at_fd (Fixture       *f,
                    gconstpointer  data)
{
  Peer peer = { 0 };
  g_autofree char *sock = NULL;
  g_autoptr(VhostUserServer) server = peer_listen (f, &peer, PEER_REFUSES_FD, &sock);
  g_autoptr(VhostUserDevice) device = device_for (f, sock);
  g_autoptr(GOutputStream) saved = g_memory_output_stream_new_resizable ();
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (OWN_STATE, sizeof OWN_STATE, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (vhost_user_device_load_state (device, in, NULL, &error));
  g_test_message ("load: %s", error->message);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_STOPPED);
  g_clear_error (&error);
  g_assert_false (vhost_user_device_save_state (device, saved, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_STOPPED);
  g_clear_error (&error);
  g_assert_cmpuint (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (saved)), ==, 0);

  g_assert_true (vhost_user_device_start (device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_RUNNING);

  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A back-end that answers SET_DEVICE_STATE_FD with a pipe of its own
 * ("use my fd"): the device moves the state over that pipe, a load of
 * more than a pipe holds arrives whole, a save brings what the back-end
 * wrote; the pipe we made is closed unused. */
static void
test_own_pipe (Fixture       *f,
               gconstpointer  data)
{
  Peer peer = { 0 };
  g_autofree char *sock = NULL;
  g_autoptr(VhostUserServer) server = peer_listen (f, &peer, PEER_OWN_PIPE, &sock);
  g_autoptr(VhostUserDevice) device = device_for (f, sock);
  g_autoptr(GOutputStream) saved = g_memory_output_stream_new_resizable ();
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (g_malloc0 (1 << 20), 1 << 20, g_free);
  g_autoptr(GError) error = NULL;

  peer.own_expected = 1 << 20;
  g_assert_true (vhost_user_device_load_state (device, in, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (peer.own_bytes, ==, 1 << 20);
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_STOPPED);

  peer.own_expected = 0;
  g_assert_true (vhost_user_device_save_state (device, saved, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (saved, NULL, NULL));
  g_assert_cmpuint (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (saved)), ==, sizeof OWN_STATE);
  g_assert_cmpstr (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (saved)), ==, OWN_STATE);
  g_assert_true (vhost_user_frontend_get_connected (vhost_user_device_get_frontend (device)));

  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A back-end that answers with a pipe of its own, keeps a copy of the
 * end it gave, and clears O_NONBLOCK through it once the load is under
 * way, then reads no more: the load times out (before, the copy's next
 * write blocked in the kernel, past every timeout and cancellation, for
 * good). In a child, so that the hang fails the test. */
static void
test_own_pipe_blocking (Fixture       *f,
                        gconstpointer  data)
{
  Peer peer = { 0 };
  g_autofree char *sock = NULL;
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, PEER_OWN_BLOCKING, &sock);
  device = device_for (f, sock);
  g_object_set (vhost_user_device_get_frontend (device), "timeout", 500, NULL);
  in = g_memory_input_stream_new_from_data (g_malloc0 (1 << 20), 1 << 20, g_free);
  g_assert_false (vhost_user_device_load_state (device, in, NULL, &error));
  g_test_message ("load: %s", error->message);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT);
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);

  g_mutex_lock (&peer.lock);
  peer.gone = TRUE;
  g_cond_broadcast (&peer.cond);
  g_mutex_unlock (&peer.lock);
  g_thread_join (peer.own_thread);
  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A back-end that holds the lock of the state's pipe (a splice() waiting
 * with it taken): the save or the load times out, and the VMM's thread
 * is not held in the kernel (before, the copy's read or write of the
 * pipe waited for the lock, past every timeout, for as long as the
 * back-end liked); the relay that waits in its place ends once the
 * back-end lets go. In a child, so that the hang fails the test. */
static void
test_pipe_locked (Fixture       *f,
                  gconstpointer  data)
{
  gboolean save = GPOINTER_TO_INT (data);
  Peer peer = { 0 };
  g_autofree char *sock = NULL;
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, PEER_LOCKS, &sock);
  device = device_for (f, sock);
  g_object_set (vhost_user_device_get_frontend (device), "timeout", 500, NULL);
  if (save)
    {
      g_autoptr(GOutputStream) saved = g_memory_output_stream_new_resizable ();

      ok = vhost_user_device_save_state (device, saved, NULL, &error);
    }
  else
    {
      g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (g_malloc0 (1 << 20), 1 << 20, g_free);

      ok = vhost_user_device_load_state (device, in, NULL, &error);
    }
  g_assert_false (ok);
  g_test_message ("%s: %s", save ? "save" : "load", error->message);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT);
  g_assert_cmpuint (relays_running (), ==, 1);

  g_mutex_lock (&peer.lock);
  test_pipe_lock_release (g_steal_pointer (&peer.pipe_lock));
  g_mutex_unlock (&peer.lock);
  wait_relays_ended ();
  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A back-end that holds the lock of the pipe, then refuses it: the save
 * fails with the refusal, and the VMM's thread is not held (before, the
 * close of our end, the last reference to it, waited for the lock for as
 * long as the back-end liked). In a child, so that the hang fails the
 * test. */
static void
test_pipe_locked_refused (Fixture       *f,
                          gconstpointer  data)
{
  Peer peer = { 0 };
  g_autofree char *sock = NULL;
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GOutputStream) saved = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, PEER_LOCKS_REFUSES, &sock);
  device = device_for (f, sock);
  g_object_set (vhost_user_device_get_frontend (device), "timeout", 2000, NULL);
  g_assert_false (vhost_user_device_save_state (device, saved, NULL, &error));
  g_test_message ("save: %s", error->message);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  /* and the device goes on */
  g_assert_true (vhost_user_frontend_get_connected (vhost_user_device_get_frontend (device)));

  g_mutex_lock (&peer.lock);
  test_pipe_lock_release (g_steal_pointer (&peer.pipe_lock));
  g_mutex_unlock (&peer.lock);
  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* A front-end that sends, with a request, the end of a pipe whose lock
 * it holds, and closes its own copy at once: the back-end's close of the
 * fd it does not take is the last reference to it. The session ends as
 * it should, and the server stops (before, the session's thread waited
 * in close() for the lock, for as long as the front-end liked: no
 * hang-up, and stopping the server never returned). In a child, so that
 * the hang fails the test. */
static void
test_backend_pipe_locked_stray (Fixture       *f,
                                gconstpointer  data)
{
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autofree char *sock = NULL;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  guint32 header[3] = { VHOST_USER_REQUEST_GET_FEATURES, 1, 0 };
  union {
    struct cmsghdr align;
    char           buf[CMSG_SPACE (sizeof (int))];
  } control = { 0 };
  struct iovec iov = { header, sizeof header };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf };
  struct cmsghdr *cmsg = CMSG_FIRSTHDR (&mh);
  struct pollfd pfd;
  guint32 reply[5];
  gint64 deadline;
  TestPipeLock *lock;
  int fds[2], client;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, PEER_ENDLESS, &sock);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  /* (through a write end of its own: ours goes) */
  lock = test_pipe_lock_hold (fds[0]);
  client = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_strlcpy (addr.sun_path, sock, sizeof addr.sun_path);
  g_assert_cmpint (connect (client, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &fds[1], sizeof (int));
  g_assert_cmpint (sendmsg (client, &mh, 0), ==, sizeof header);
  g_close (fds[1], NULL);

  /* the request is refused with a hang-up (a reply has no room for an
   * error), which comes; the server accepts in this thread's context */
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  pfd = (struct pollfd) { client, POLLIN, 0 };
  while (poll (&pfd, 1, 0) == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpint (poll (&pfd, 1, 0), ==, 1);
  g_assert_cmpint (read (client, reply, sizeof reply), <=, 0);
  g_close (client, NULL);
  vhost_user_server_stop (server);

  /* the close left to a thread ends once the lock is let go */
  test_pipe_lock_release (lock);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (vhost_user_peer_fd_closes_pending () > 0 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpuint (vhost_user_peer_fd_closes_pending (), ==, 0);
  g_close (fds[0], NULL);
  peer_clear (&peer);
}

/* A load whose relay the front-end holds in its pipe's lock, which the
 * device has closed its stream on at once: a second transfer is refused
 * while the first relay waits, so that a front-end cannot pile up relays
 * on one session (before, each SET_DEVICE_STATE_FD was taken, and left a
 * thread and four fds behind). */
static void
test_backend_relay_busy (Fixture       *f,
                         gconstpointer  data)
{
  static const guint8 page[4096];
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  TestPipeLock *lock;
  int fds[2], more[2];

  server = peer_listen (f, &peer, PEER_CLOSES, &sock);
  connect_for_state (frontend, sock);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_cmpint (write (fds[1], page, sizeof page), ==, sizeof page);
  lock = test_pipe_lock_hold (fds[1]);
  g_assert_true (vhost_user_frontend_set_device_state_fd (frontend, 1, 0, fds[0], NULL, NULL, &error));
  g_assert_no_error (error);
  g_usleep (G_USEC_PER_SEC / 5);
  g_assert_cmpuint (relays_running (), ==, 1);

  g_assert_true (g_unix_open_pipe (more, FD_CLOEXEC, &error));
  g_assert_false (vhost_user_frontend_set_device_state_fd (frontend, 1, 0, more[0], NULL, NULL, &error));
  g_test_message ("second: %s", error->message);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);
  g_assert_cmpuint (relays_running (), ==, 1);

  /* once the relay is free, so is the session */
  test_pipe_lock_release (lock);
  g_close (fds[1], NULL);
  wait_relays_ended ();
  g_assert_true (vhost_user_frontend_set_device_state_fd (frontend, 1, 0, more[0], NULL, NULL, &error));
  g_assert_no_error (error);
  g_close (more[1], NULL);
  g_close (more[0], NULL);
  g_close (fds[0], NULL);
  vhost_user_frontend_close (frontend);
  vhost_user_server_stop (server);
  wait_relays_ended ();
  peer_clear (&peer);
}

/* A back-end that reads the state slowly but steadily, 8 KiB every
 * 100 ms, with the front-end's timeout at 500 ms: the load succeeds. The
 * timeout is for no progress, and the end of the load, once all the
 * state is with the relay, has progress too (before, that wait was
 * timed whole: what the relay still held, up to 128 KiB, took up to
 * 1.6 s to go, and the load failed with "took no device state for
 * 500 ms"). The device reads the last 192 KiB, which the pipes and the
 * back-end's relay hold once ours is done, at once: CHECK_DEVICE_STATE
 * waits for them within the same 500 ms. */
static void
test_load_slow (Fixture       *f,
                gconstpointer  data)
{
  Peer peer = { 0 };
  g_autofree char *sock = NULL;
  g_autoptr(VhostUserServer) server = peer_listen (f, &peer, PEER_SLOW_READS, &sock);
  g_autoptr(VhostUserDevice) device = device_for (f, sock);
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (g_malloc0 (512 * 1024), 512 * 1024, g_free);
  g_autoptr(GError) error = NULL;

  g_object_set (vhost_user_device_get_frontend (device), "timeout", 500, NULL);
  if (!vhost_user_device_load_state (device, in, NULL, &error))
    g_test_message ("load: %s", error->message);
  g_assert_no_error (error);
  g_thread_join (g_steal_pointer (&peer.own_thread));

  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

/* The other way round: a front-end that holds the lock of the pipe it
 * passed, while the device saves or loads. The back-end's session goes
 * on (a request is answered, the front-end's going ends the session and
 * the server stops); before, the device's write or read of the pipe, in
 * the session's thread, waited for the lock for as long as the front-end
 * liked, the session with it. In a child, so that the hang fails the
 * test. */
static void
test_backend_pipe_locked (Fixture       *f,
                          gconstpointer  data)
{
  gboolean save = GPOINTER_TO_INT (data);
  Peer peer = { 0 };
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  TestPipeLock *lock;
  int fds[2];

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  server = peer_listen (f, &peer, save ? PEER_ENDLESS : PEER_LOAD_READS, &sock);
  connect_for_state (frontend, sock);
  g_object_set (frontend, "timeout", 2000, NULL);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  if (!save)
    {
      static const guint8 page[4096];

      /* something to read, so that the device's side reads */
      g_assert_cmpint (write (fds[1], page, sizeof page), ==, sizeof page);
    }
  lock = test_pipe_lock_hold (fds[1]);
  g_assert_true (vhost_user_frontend_set_device_state_fd (frontend, save ? 0 : 1, 0, fds[save ? 1 : 0], NULL, NULL,
                                                          &error));
  g_assert_no_error (error);
  /* the device's first write or read is under way */
  g_usleep (G_USEC_PER_SEC / 5);
  g_assert_cmpuint (relays_running (), ==, 1);

  vhost_user_frontend_get_u64 (frontend, VHOST_USER_REQUEST_GET_FEATURES, NULL, &error);
  g_assert_no_error (error);
  vhost_user_frontend_close (frontend);
  vhost_user_server_stop (server);

  test_pipe_lock_release (lock);
  g_close (fds[0], NULL);
  g_close (fds[1], NULL);
  wait_relays_ended ();
  peer_clear (&peer);
}

/* Whether an fd of this process is the peer's memfd. */
static gboolean
own_file_open (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      if (target != NULL && g_str_has_prefix (target, "/memfd:own-state"))
        return TRUE;
    }
  return FALSE;
}

/* A back-end that answers SET_DEVICE_STATE_FD with an fd of its own that
 * is not a pipe (a file: a read of it may never end, or end anywhere):
 * refused, INCORRECT_FDS, and closed; as the back-end took the transfer
 * on that fd, the device hangs up rather than leave it a state it could
 * take for whole. */
static void
test_own_file (Fixture       *f,
               gconstpointer  data)
{
  Peer peer = { 0 };
  g_autofree char *sock = NULL;
  g_autoptr(VhostUserServer) server = peer_listen (f, &peer, PEER_OWN_FILE, &sock);
  g_autoptr(VhostUserDevice) device = device_for (f, sock);
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (OWN_STATE, sizeof OWN_STATE, NULL);
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  g_assert_false (vhost_user_device_load_state (device, in, NULL, &error));
  g_test_message ("load: %s", error->message);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS);
  g_assert_cmpint (vhost_user_device_get_state (device), ==, VHOST_USER_DEVICE_STATE_DISCONNECTED);
  /* (the back-end's worker closes the copy it sent once sendmsg() is
   * done, which may be a moment after our read of the reply) */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (own_file_open () && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_false (own_file_open ());

  vhost_user_device_close (device);
  vhost_user_server_stop (server);
  peer_clear (&peer);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/migration/device-state/load-unread", Fixture, GINT_TO_POINTER (PEER_STALLS), fixture_setup,
              test_load_unread, fixture_teardown);
  g_test_add ("/migration/device-state/load-closed-early", Fixture, GINT_TO_POINTER (PEER_CLOSES), fixture_setup,
              test_load_unread, fixture_teardown);
  g_test_add ("/migration/device-state/load-cancelled", Fixture, GINT_TO_POINTER (PEER_READS), fixture_setup,
              test_load_cancelled, fixture_teardown);
  g_test_add ("/migration/device-state/load-cancelled-at-fd", Fixture, GINT_TO_POINTER (PEER_SLOW_FD), fixture_setup,
              test_load_cancelled, fixture_teardown);
  g_test_add ("/migration/device-state/load-failed-start", Fixture, NULL, fixture_setup, test_load_failed_start,
              fixture_teardown);
  g_test_add ("/migration/device-state/gone-at-state-fd", Fixture, NULL, fixture_setup, test_gone_at_state_fd,
              fixture_teardown);
  g_test_add ("/migration/device-state/save-endless", Fixture, NULL, fixture_setup, test_save_endless,
              fixture_teardown);
  g_test_add ("/migration/device-state/save-stalled-destination", Fixture, NULL, fixture_setup,
              test_save_stalled_destination, fixture_teardown);
  g_test_add ("/migration/device-state/save-unread", Fixture, NULL, fixture_setup, test_save_unread,
              fixture_teardown);
  g_test_add ("/migration/device-state/save-made-blocking", Fixture, NULL, fixture_setup, test_save_made_blocking,
              fixture_teardown);
  g_test_add ("/migration/device-state/other-uid", Fixture, NULL, fixture_setup, test_other_uid, fixture_teardown);
  g_test_add ("/migration/device-state/refused-at-fd", Fixture, NULL, fixture_setup, test_refused_at_fd,
              fixture_teardown);
  g_test_add ("/migration/device-state/own-pipe", Fixture, NULL, fixture_setup, test_own_pipe, fixture_teardown);
  g_test_add ("/migration/device-state/own-pipe-blocking", Fixture, NULL, fixture_setup, test_own_pipe_blocking,
              fixture_teardown);
  g_test_add ("/migration/device-state/own-file", Fixture, NULL, fixture_setup, test_own_file, fixture_teardown);
  g_test_add ("/migration/device-state/save-pipe-locked", Fixture, GINT_TO_POINTER (TRUE), fixture_setup,
              test_pipe_locked, fixture_teardown);
  g_test_add ("/migration/device-state/load-pipe-locked", Fixture, GINT_TO_POINTER (FALSE), fixture_setup,
              test_pipe_locked, fixture_teardown);
  g_test_add ("/migration/device-state/backend-save-pipe-locked", Fixture, GINT_TO_POINTER (TRUE), fixture_setup,
              test_backend_pipe_locked, fixture_teardown);
  g_test_add ("/migration/device-state/backend-load-pipe-locked", Fixture, GINT_TO_POINTER (FALSE), fixture_setup,
              test_backend_pipe_locked, fixture_teardown);
  g_test_add ("/migration/device-state/pipe-locked-refused", Fixture, NULL, fixture_setup, test_pipe_locked_refused,
              fixture_teardown);
  g_test_add ("/migration/device-state/backend-pipe-locked-stray", Fixture, NULL, fixture_setup,
              test_backend_pipe_locked_stray, fixture_teardown);
  g_test_add ("/migration/device-state/backend-relay-busy", Fixture, NULL, fixture_setup, test_backend_relay_busy,
              fixture_teardown);
  g_test_add ("/migration/device-state/load-slow", Fixture, NULL, fixture_setup, test_load_slow, fixture_teardown);
  return g_test_run ();
}
