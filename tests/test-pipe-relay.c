/* test-pipe-relay.c: the thread that reads and writes a peer's pipe
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The relay between a peer's pipe and one of our own (the device state's,
 * in both roles), on its own: it copies everything both ways and reports
 * how it ended; a stop ends it and closes its fds by the time it returns;
 * a peer holding the pipe's lock keeps only the relay waiting, which then
 * ends by itself once the peer lets go. Threads: run under TSan too.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "vhost-user-glib/vhost-user-error.h"
#include "vhost-user-glib/vhost-user-pipe-relay-private.h"
#include "test-util.h"

#define TOTAL (1 << 20)

static void
fill (guint8 *buf,
      gsize   len)
{
  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) (i * 7 + i / 4093);
}

static void
wait_fd (int   fd,
         short events)
{
  struct pollfd pfd = { fd, events, 0 };

  g_assert_cmpint (poll (&pfd, 1, 10000), ==, 1);
}

/* Until fewer than @n relays run in this process. */
static void
wait_relays_below (guint n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (vhost_user_pipe_relay_running () >= n && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpuint (vhost_user_pipe_relay_running (), <, n);
}

static void
wait_relays_ended (void)
{
  wait_relays_below (1);
}

/* 1 MiB through the relay, to the peer or from it: it comes whole and in
 * order, the end of the input is passed on, and the relay says it
 * copied everything; its fds are closed once it is done. */
static void
test_copy (gconstpointer data)
{
  gboolean to_peer = GPOINTER_TO_INT (data);
  g_autofree guint8 *sent = g_malloc (TOTAL);
  g_autofree guint8 *got = g_malloc (TOTAL + 1);  /* (room to see one byte too many) */
  g_autoptr(GError) error = NULL;
  VhostUserPipeRelay *relay;
  gsize written = 0, read_ = 0;
  guint fds_before = test_count_open_fds ();
  int fds[2], own, in, out, errsv;
  gboolean in_done = FALSE;

  fill (sent, TOTAL);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  relay = vhost_user_pipe_relay_new (to_peer ? fds[1] : fds[0], to_peer, &own, &error);
  g_assert_no_error (error);
  g_assert_nonnull (relay);
  /* (we write our end and read the peer's, or the other way round) */
  in = to_peer ? own : fds[1];
  out = to_peer ? fds[0] : own;
  g_assert_true (g_unix_set_fd_nonblocking (in, TRUE, NULL));
  g_assert_true (g_unix_set_fd_nonblocking (out, TRUE, NULL));

  while (!in_done)
    {
      struct pollfd pfds[2] = { { in, written < TOTAL ? POLLOUT : 0, 0 }, { out, POLLIN, 0 } };
      gssize n;

      g_assert_cmpint (poll (pfds, 2, 10000), >, 0);
      if (written < TOTAL && (pfds[0].revents & POLLOUT))
        {
          n = write (in, sent + written, MIN (TOTAL - written, 10000));
          g_assert_cmpint (n, >, 0);
          written += n;
          if (written == TOTAL)
            g_close (in, NULL);
        }
      if (pfds[1].revents & (POLLIN | POLLHUP))
        {
          n = read (out, got + read_, TOTAL - read_ + 1);
          if (n < 0 && errno == EAGAIN)
            continue;
          g_assert_cmpint (n, >=, 0);
          read_ += n;
          in_done = n == 0;
        }
    }
  g_assert_cmpuint (read_, ==, TOTAL);
  g_assert_true (memcmp (sent, got, TOTAL) == 0);
  g_close (out, NULL);

  wait_fd (vhost_user_pipe_relay_get_done_fd (relay), POLLIN);
  g_assert_true (vhost_user_pipe_relay_is_done (relay));
  g_assert_true (vhost_user_pipe_relay_propagate (relay, &errsv));
  g_assert_cmpint (errsv, ==, 0);
  vhost_user_pipe_relay_stop (relay);
  g_assert_cmpuint (test_count_open_fds (), ==, fds_before);
  wait_relays_ended ();
}

/* The peer closes its end while we write: our end breaks (EPIPE), and
 * the relay says why. */
static void
test_peer_closed (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *chunk = g_malloc0 (65536);
  VhostUserPipeRelay *relay;
  int fds[2], own, errsv;
  gssize n;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  relay = vhost_user_pipe_relay_new (fds[1], TRUE, &own, &error);
  g_assert_no_error (error);
  g_assert_false (vhost_user_pipe_relay_propagate (relay, &errsv));
  g_assert_cmpint (errsv, ==, EINPROGRESS);
  g_close (fds[0], NULL);
  /* until the relay has tried to pass something on, and our end is gone */
  do
    {
      wait_fd (own, POLLOUT);
      n = write (own, chunk, 65536);
    }
  while (n > 0 || (n < 0 && errno == EAGAIN));
  g_assert_cmpint (errno, ==, EPIPE);
  g_assert_false (vhost_user_pipe_relay_propagate (relay, &errsv));
  g_assert_cmpint (errsv, ==, EPIPE);
  g_close (own, NULL);
  vhost_user_pipe_relay_stop (relay);
  wait_relays_ended ();
}

/* A relay waiting for a peer that sends nothing: the stop ends it, and
 * every fd it had is closed once it has (test_count_open_fds() waits for
 * the relays to end). */
static void
test_stop (void)
{
  g_autoptr(GError) error = NULL;
  VhostUserPipeRelay *relay;
  guint fds_before = test_count_open_fds ();
  int fds[2], own, errsv;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  relay = vhost_user_pipe_relay_new (fds[0], FALSE, &own, &error);
  g_assert_no_error (error);
  g_usleep (G_USEC_PER_SEC / 20);
  g_assert_false (vhost_user_pipe_relay_is_done (relay));
  g_assert_false (vhost_user_pipe_relay_propagate (relay, &errsv));
  g_assert_cmpint (errsv, ==, EINPROGRESS);
  vhost_user_pipe_relay_stop (relay);
  g_close (own, NULL);
  g_close (fds[1], NULL);
  g_assert_cmpuint (test_count_open_fds (), ==, fds_before);
  wait_relays_ended ();
}

/* The peer holds the pipe's lock with a page in it: the relay waits for
 * the lock in its read, and so does nobody else; the stop returns, the
 * relay is left to itself and ends, its fds closed, once the peer lets
 * go. */
static void
test_locked (void)
{
  static const guint8 page[4096];
  g_autoptr(GError) error = NULL;
  VhostUserPipeRelay *relay;
  TestPipeLock *lock;
  guint fds_before = test_count_open_fds ();
  gint64 start;
  int fds[2], own;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_cmpint (write (fds[1], page, sizeof page), ==, sizeof page);
  lock = test_pipe_lock_hold (fds[1]);
  relay = vhost_user_pipe_relay_new (fds[0], FALSE, &own, &error);
  g_assert_no_error (error);
  /* nothing comes through */
  g_usleep (G_USEC_PER_SEC / 5);
  g_assert_true (g_unix_set_fd_nonblocking (own, TRUE, NULL));
  g_assert_cmpint (read (own, (void *) page, sizeof page), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);

  start = g_get_monotonic_time ();
  vhost_user_pipe_relay_stop (relay);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (vhost_user_pipe_relay_running (), ==, 1);
  g_close (own, NULL);

  test_pipe_lock_release (lock);
  wait_relays_ended ();
  g_close (fds[1], NULL);
  g_assert_cmpuint (test_count_open_fds (), ==, fds_before);
}

/* A relay from a pipe nobody writes to: @ends keeps the pipe's other
 * end and ours. */
static void
start_silent_relay (GPtrArray *relays,
                    GArray    *ends)
{
  g_autoptr(GError) error = NULL;
  VhostUserPipeRelay *relay;
  int fds[2], own;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  relay = vhost_user_pipe_relay_new (fds[0], FALSE, &own, &error);
  g_assert_no_error (error);
  g_ptr_array_add (relays, relay);
  g_array_append_val (ends, fds[1]);
  g_array_append_val (ends, own);
}

/* A process has at most 64 relays: the next is refused (its fd closed)
 * until one ends. */
static void
test_too_many (void)
{
  g_autoptr(GPtrArray) relays = g_ptr_array_new ();
  g_autoptr(GArray) ends = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GError) error = NULL;
  guint fds_before = test_count_open_fds ();
  int fds[2], own;

  for (guint i = 0; i < 64; i++)
    start_silent_relay (relays, ends);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_null (vhost_user_pipe_relay_new (fds[0], FALSE, &own, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_cmpint (own, ==, -1);
  g_assert_cmpuint (vhost_user_pipe_relay_running (), ==, 64);

  /* (the refused one's end went with it) */
  g_array_append_val (ends, fds[1]);

  vhost_user_pipe_relay_stop (g_ptr_array_steal_index (relays, 0));
  wait_relays_below (64);
  start_silent_relay (relays, ends);

  for (guint i = 0; i < relays->len; i++)
    vhost_user_pipe_relay_stop (g_ptr_array_index (relays, i));
  for (guint i = 0; i < ends->len; i++)
    g_close (g_array_index (ends, int, i), NULL);
  g_assert_cmpuint (test_count_open_fds (), ==, fds_before);
  wait_relays_ended ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* (our writes to a broken pipe are EPIPE) */
  signal (SIGPIPE, SIG_IGN);

  g_test_add_data_func ("/pipe-relay/copy/to-peer", GINT_TO_POINTER (TRUE), test_copy);
  g_test_add_data_func ("/pipe-relay/copy/from-peer", GINT_TO_POINTER (FALSE), test_copy);
  g_test_add_func ("/pipe-relay/peer-closed", test_peer_closed);
  g_test_add_func ("/pipe-relay/stop", test_stop);
  g_test_add_func ("/pipe-relay/locked", test_locked);
  g_test_add_func ("/pipe-relay/too-many", test_too_many);
  return g_test_run ();
}
