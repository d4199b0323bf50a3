/* vhost-user-pipe-relay.c: a peer's pipe, read or written by a thread of
 * its own
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A peer that holds any end of a pipe can hold the pipe's lock for as
 * long as it likes: a splice() from the pipe into a socket nobody drains,
 * or into the pipe from a socket nobody writes, waits with the lock
 * taken. Every read and write of the pipe, ours included, then waits for
 * the lock in the kernel, whatever O_NONBLOCK or RWF_NOWAIT say, and no
 * timeout or cancellation reaches it (poll(2) does not take the lock, so
 * it still says the pipe is ready). Only a thread can take that wait for
 * us. So the device state's pipes (SET_DEVICE_STATE_FD, both roles) are
 * never read or written where the library's work is done: a relay thread
 * copies between the peer's pipe and a pipe of our own, whose other end
 * is the one we use, and which nobody else holds. Our side then sees a
 * peer that holds the lock as one that stops reading or writing, which
 * the timeouts and cancellations are there for; a relay stopped while it
 * waits for the lock is left to end by itself once the peer lets go, and
 * frees what it has then.
 *
 * The relay's own pipe holds what the kernel gives a pipe (64 KiB), and
 * the relay one chunk more: a transfer is only as far ahead of the peer
 * as that.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-lock-private.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-pipe-relay-private.h"

#define CHUNK (64 * 1024)

/* Relays a process may have at once: one that a peer holds in the
 * pipe's lock costs a thread and four fds until the peer lets go, and a
 * peer can hold many pipes' (or one pipe's, opened again and again)
 * across sessions; past this, a transfer is refused rather than the
 * process's fds used up. */
#define MAX_RELAYS 64

/* Two owners, the thread and the caller, and whichever lets go last frees
 * it: a caller whose stop finds the thread done frees everything at once,
 * so that its fds are all closed when the stop returns. */
struct _VhostUserPipeRelay
{
  gboolean         to_peer;
  int              peer_fd;   /* the thread's, closed when it ends */
  int              own_fd;    /* the thread's end of our pipe, likewise */
  int              own_size;  /* our pipe's capacity */
  int              stop_fd;   /* eventfd: the owner let go */
  int              done_fd;   /* eventfd: the thread has ended */
  GMutex           lock;
  gboolean         finished;  /* under the lock: the result is known */
  int              errsv;     /* 0: the input's end reached and all of it written */
  gsize            moved;     /* atomic: bytes written so far */
  gboolean         done;      /* under the lock: the thread is done with it */
  gboolean         abandoned; /* under the lock: the caller is */
};

static gint running;

static void
relay_free (VhostUserPipeRelay *relay)
{
  g_close (relay->stop_fd, NULL);
  g_close (relay->done_fd, NULL);
  g_mutex_clear (&relay->lock);
  g_free (relay);
}

/* Until @fd is ready for @events (or in error, which the I/O then
 * reports); FALSE if the owner let go first. */
static gboolean
relay_wait (VhostUserPipeRelay *relay,
            int                 fd,
            short               events)
{
  struct pollfd fds[2] = { { fd, events, 0 }, { relay->stop_fd, POLLIN, 0 } };

  while (poll (fds, 2, -1) < 0)
    if (errno != EINTR)
      return FALSE;
  return !(fds[1].revents & POLLIN);
}

/* How much to take from the peer: what our pipe has room for, so that
 * the peer sees its writes taken as ours are read, as it would if we
 * read its pipe ourselves (a relay that took a whole chunk it cannot pass
 * on would look stalled to the peer until our side read all of it). 0
 * while our pipe is full. (Our pipe's lock is nobody else's to hold.) */
static gsize
relay_room (VhostUserPipeRelay *relay)
{
  int queued = 0;

  if (relay->to_peer || relay->own_size <= 0 || ioctl (relay->own_fd, FIONREAD, &queued) != 0)
    return CHUNK;
  return queued < relay->own_size ? MIN (CHUNK, (gsize) (relay->own_size - queued)) : 0;
}

/* Copies until the input's end (0), or returns why not (an errno). */
static int
relay_copy (VhostUserPipeRelay *relay,
            guint8             *buf)
{
  int in = relay->to_peer ? relay->own_fd : relay->peer_fd;
  int out = relay->to_peer ? relay->peer_fd : relay->own_fd;

  for (;;)
    {
      gsize room = relay_room (relay);
      gssize n;
      gsize done = 0;

      if (room == 0)
        {
          if (!relay_wait (relay, out, POLLOUT))
            return ECANCELED;
          /* (poll says a page is free; the count may lag) */
          room = MAX (relay_room (relay), 4096);
        }
      n = vhost_user_pipe_read (in, buf, room);

      if (n == 0)
        return 0;
      if (n < 0 && errno == EAGAIN)
        {
          if (!relay_wait (relay, in, POLLIN))
            return ECANCELED;
          continue;
        }
      if (n < 0)
        return errno;
      while (done < (gsize) n)
        {
          gssize m = vhost_user_pipe_write (out, buf + done, n - done);

          if (m > 0)
            {
              done += m;
              g_atomic_pointer_add (&relay->moved, m);
            }
          else if (m < 0 && errno == EAGAIN)
            {
              if (!relay_wait (relay, out, POLLOUT))
                return ECANCELED;
            }
          else
            return m < 0 ? errno : EIO;
        }
    }
}

static gpointer
relay_thread (gpointer data)
{
  VhostUserPipeRelay *relay = data;
  g_autofree guint8 *buf = g_malloc (CHUNK);
  sigset_t pipe_set;
  guint64 one = 1;
  gboolean abandoned;
  int errsv;

  /* a write to a pipe without readers is EPIPE here; the SIGPIPE it
   * raises stays pending on this thread, and goes with it */
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, NULL);
  /* (here, since changing the flags of the description the peer shares
   * may take the pipe's lock: O_ASYNC's change does. The reads and writes
   * ask for no wait themselves; this is for where the kernel refuses
   * that, and makes them plain) */
  g_unix_set_fd_nonblocking (relay->peer_fd, TRUE, NULL);

  errsv = relay_copy (relay, buf);
  vhost_user_mutex_lock (&relay->lock);
  relay->finished = TRUE;
  relay->errsv = errsv;
  vhost_user_mutex_unlock (&relay->lock);
  /* ours first: its end (EOF, or EPIPE) is how the owner hears of a
   * result it reads from the pipe; the peer's last, which may be the
   * pipe's last reference (its release takes the lock too) */
  g_close (relay->own_fd, NULL);
  g_close (relay->peer_fd, NULL);
  vhost_user_mutex_lock (&relay->lock);
  relay->done = TRUE;
  abandoned = relay->abandoned;
  while (write (relay->done_fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
  vhost_user_mutex_unlock (&relay->lock);
  if (abandoned)
    relay_free (relay);
  g_atomic_int_dec_and_test (&running);
  return NULL;
}

/*
 * vhost_user_pipe_relay_new:
 * @peer_fd: (transfer full): an end of a pipe the peer holds the other
 *   end of (or a copy of this one)
 * @to_peer: whether we write to @peer_fd (else we read it)
 * @own_fd: (out): our end of the relay's pipe, non-blocking: written if
 *   @to_peer, closed at the end of what we write; read otherwise, to its
 *   end when @peer_fd's is reached (or the relay fails: see
 *   vhost_user_pipe_relay_propagate())
 *
 * Starts a relay thread between @peer_fd and @own_fd, unless the process
 * has too many already.
 *
 * Returns: (transfer full): the relay, to stop with
 *   vhost_user_pipe_relay_stop(); %NULL with @error set (@peer_fd is
 *   closed)
 */
VhostUserPipeRelay *
vhost_user_pipe_relay_new (int        peer_fd,
                           gboolean   to_peer,
                           int       *own_fd,
                           GError   **error)
{
  VhostUserPipeRelay *relay;
  GThread *thread;
  GError *thread_error = NULL;
  int fds[2];
  int stop_fd, done_fd;

  *own_fd = -1;
  if ((guint) g_atomic_int_add (&running, 1) >= MAX_RELAYS)
    {
      g_atomic_int_dec_and_test (&running);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Too many device-state transfers under way in this process (%u)", MAX_RELAYS);
      vhost_user_peer_fd_close (peer_fd);
      return NULL;
    }
  stop_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  done_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0 || done_fd < 0 || pipe2 (fds, O_CLOEXEC | O_NONBLOCK) < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_ERROR,
                   "Could not make a pipe for the device's state: %s", g_strerror (errsv));
      if (stop_fd >= 0)
        g_close (stop_fd, NULL);
      if (done_fd >= 0)
        g_close (done_fd, NULL);
      vhost_user_peer_fd_close (peer_fd);
      g_atomic_int_dec_and_test (&running);
      return NULL;
    }

  relay = g_new0 (VhostUserPipeRelay, 1);
  g_mutex_init (&relay->lock);
  relay->to_peer = to_peer;
  relay->peer_fd = peer_fd;
  relay->own_fd = to_peer ? fds[0] : fds[1];
  relay->own_size = fcntl (fds[0], F_GETPIPE_SZ);
  relay->stop_fd = stop_fd;
  relay->done_fd = done_fd;

  thread = g_thread_try_new ("vhost-user-pipe", relay_thread, relay, &thread_error);
  if (thread == NULL)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_ERROR,
                   "Could not start a thread for the device's state: %s", thread_error->message);
      g_error_free (thread_error);
      g_close (fds[0], NULL);
      g_close (fds[1], NULL);
      vhost_user_peer_fd_close (peer_fd);
      relay_free (relay);
      g_atomic_int_dec_and_test (&running);
      return NULL;
    }
  g_thread_unref (thread);
  *own_fd = to_peer ? fds[1] : fds[0];
  return relay;
}

/*
 * vhost_user_pipe_relay_get_done_fd:
 *
 * Returns: an fd that polls readable once the relay has ended and closed
 *   its fds (the peer's among them)
 */
int
vhost_user_pipe_relay_get_done_fd (VhostUserPipeRelay *relay)
{
  return relay->done_fd;
}

/*
 * vhost_user_pipe_relay_is_done:
 *
 * Returns: whether the relay has ended and closed its fds
 */
gboolean
vhost_user_pipe_relay_is_done (VhostUserPipeRelay *relay)
{
  gboolean done;

  vhost_user_mutex_lock (&relay->lock);
  done = relay->done;
  vhost_user_mutex_unlock (&relay->lock);
  return done;
}

/*
 * vhost_user_pipe_relay_propagate:
 * @errsv: (out): why it failed (%EPIPE: the peer's pipe lost its reader;
 *   %EINPROGRESS: it runs still)
 *
 * The relay's result, known once our end of its pipe has reached its end
 * (a relay from the peer) or once it is done (to the peer).
 *
 * Returns: %TRUE if it copied everything to the end of its input
 */
gboolean
vhost_user_pipe_relay_propagate (VhostUserPipeRelay *relay,
                                 int                *errsv)
{
  gboolean finished;

  vhost_user_mutex_lock (&relay->lock);
  finished = relay->finished;
  *errsv = finished ? relay->errsv : EINPROGRESS;
  vhost_user_mutex_unlock (&relay->lock);
  return *errsv == 0;
}

/*
 * vhost_user_pipe_relay_get_moved:
 *
 * Returns: how many bytes the relay has written so far (to the peer or
 *   to us): it moves while they do
 */
guint64
vhost_user_pipe_relay_get_moved (VhostUserPipeRelay *relay)
{
  return (guint64) g_atomic_pointer_get (&relay->moved);
}

/*
 * vhost_user_pipe_relay_stop:
 *
 * Lets go of the relay, without waiting: one still running ends soon
 * (when the peer lets go, if it holds the pipe's lock) and closes its fds
 * then; vhost_user_pipe_relay_running() counts it until it has.
 */
void
vhost_user_pipe_relay_stop (VhostUserPipeRelay *relay)
{
  guint64 one = 1;
  gboolean done;

  if (relay == NULL)
    return;
  if (!vhost_user_pipe_relay_is_done (relay))
    while (write (relay->stop_fd, &one, sizeof one) < 0 && errno == EINTR)
      ;
  vhost_user_mutex_lock (&relay->lock);
  done = relay->done;
  relay->abandoned = TRUE;
  vhost_user_mutex_unlock (&relay->lock);
  /* (once done, the thread no longer touches it) */
  if (done)
    relay_free (relay);
}

/*
 * vhost_user_pipe_relay_running:
 *
 * Returns: how many relay threads this process has, stopped ones still
 *   waiting for a peer among them
 */
guint
vhost_user_pipe_relay_running (void)
{
  return g_atomic_int_get (&running);
}
