/* vhost-user-peer-fd.c: fds whose file description a peer shares
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An fd passed with SCM_RIGHTS shares its open file description with the
 * sender's, O_NONBLOCK included: the peer can clear the flag under us,
 * and a read or a write we took to be non-blocking then waits in the
 * kernel, past every timeout and cancellation of the thread's context.
 * Nor can we have a description of our own: an eventfd cannot be opened
 * again, and a pipe opened again through /proc checks the inode's owner
 * (a peer of another uid would be refused). So no read or write here
 * trusts the flag:
 *
 * - a read asks for no wait itself (preadv2() with RWF_NOWAIT, which
 *   pipes and eventfds honour whatever the description's flags, since
 *   Linux 5.12 for eventfds); where the kernel (or a seccomp filter)
 *   refuses the flag for that fd, it is a plain read, after poll(2) says
 *   there is something, for an eventfd (racy: a peer that takes the count
 *   back between the two wins);
 * - a pipe written to asks for no wait the same way (pwritev2());
 * - an eventfd is written only when poll(2) says one more fits: a count
 *   too full for it wakes the reader already, which is all a signal is
 *   for. Eventfds refuse RWF_NOWAIT for writes, so a peer that fills the
 *   count between our poll and our write and has cleared O_NONBLOCK still
 *   blocks the write (a peer spinning on it wins within thousands of
 *   signals). A write that waits is freed by a read of the count, which
 *   anyone holding the fd can make: each writing thread says which fd it
 *   is writing and since when, and a watchdog thread (started with the
 *   first write, waking once a second) takes the count of a write that
 *   has waited a second or more. The write then ends, one or two seconds
 *   late, and the reader still has a count to wake it.
 *
 * Not closed by any flag: a peer holding any end of a pipe can hold the
 * pipe's lock (a splice into a socket that never drains), and a read or
 * write of it then waits for the lock, in the kernel, whatever the flags.
 * The device state's pipes are therefore read and written by a relay
 * thread (vhost-user-pipe-relay.c), which takes that wait for us. The
 * close of a pipe's end waits for the lock too, where it is the last
 * reference to its file description (ours always is, for the end we
 * made): every fd a peer may have passed, or shares, is closed through
 * vhost_user_peer_fd_close(), which leaves a pipe's close to a thread.
 */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <glib/gstdio.h>

#include "vhost-user-lock-private.h"
#include "vhost-user-peer-fd-private.h"

/* preadv2()/pwritev2() with RWF_NOWAIT; -1 with errno ENOTSUP where the
 * kernel or a filter refuses the flag for @fd (asked again each time: one
 * fd's refusal says nothing of another's, and a peer chooses its fds) */
static gssize
nowait_io (int       fd,
           void     *buf,
           gsize     count,
           gboolean  write_it)
{
#ifdef RWF_NOWAIT
  struct iovec iov = { buf, count };
  gssize n;

  do
    n = write_it ? pwritev2 (fd, &iov, 1, -1, RWF_NOWAIT) : preadv2 (fd, &iov, 1, -1, RWF_NOWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS || errno == EPERM))
    errno = ENOTSUP;
  return n;
#else
  errno = ENOTSUP;
  return -1;
#endif
}

/* A thread's eventfd write under way, for the watchdog: one per thread
 * that signals, for as long as it runs. */
typedef struct {
  GMutex  lock;
  int     fd;      /* -1: none under way */
  gint64  since;
} WriteSlot;

#define RESCUE_AFTER_US G_USEC_PER_SEC

static GMutex slots_lock;
static gint watchdog_running;
static GPtrArray *slots;
static gint rescues;

/* Takes the count of each write that waited RESCUE_AFTER_US or more. */
static gpointer
watchdog (gpointer data)
{
  /* (what starting the thread allocates is done with: the data path
   * allocates nothing, and the creator waits for this) */
  g_atomic_int_set (&watchdog_running, TRUE);
  for (;;)
    {
      gint64 now;

      g_usleep (RESCUE_AFTER_US);
      now = g_get_monotonic_time ();
      vhost_user_mutex_lock (&slots_lock);
      for (guint i = 0; i < slots->len; i++)
        {
          WriteSlot *slot = g_ptr_array_index (slots, i);
          guint64 count;

          vhost_user_mutex_lock (&slot->lock);
          if (slot->fd >= 0 && now - slot->since >= RESCUE_AFTER_US && nowait_io (slot->fd, &count, sizeof count,
                                                                                FALSE) == sizeof count)
            g_atomic_int_inc (&rescues);
          vhost_user_mutex_unlock (&slot->lock);
        }
      vhost_user_mutex_unlock (&slots_lock);
    }
  return NULL;
}

/* The thread is gone (no write of its is under way). */
static void
slot_forget (gpointer data)
{
  WriteSlot *slot = data;

  vhost_user_mutex_lock (&slots_lock);
  g_ptr_array_remove_fast (slots, slot);
  vhost_user_mutex_unlock (&slots_lock);
  g_mutex_clear (&slot->lock);
  g_free (slot);
}

static WriteSlot *
write_slot (void)
{
  static GPrivate key = G_PRIVATE_INIT (slot_forget);
  WriteSlot *slot = g_private_get (&key);

  if (G_LIKELY (slot != NULL))
    return slot;
  slot = g_new0 (WriteSlot, 1);
  g_mutex_init (&slot->lock);
  slot->fd = -1;
  g_private_set (&key, slot);
  vhost_user_mutex_lock (&slots_lock);
  if (slots == NULL)
    {
      GThread *thread;

      slots = g_ptr_array_new ();
      /* (15 characters at most: a longer name is refused, and the thread
       * would go by its creator's, a ring's thread's in a device) */
      thread = g_thread_new ("vhost-user-wdog", watchdog, NULL);
      while (!g_atomic_int_get (&watchdog_running))
        g_thread_yield ();
      g_thread_unref (thread);
    }
  g_ptr_array_add (slots, slot);
  vhost_user_mutex_unlock (&slots_lock);
  return slot;
}

static gboolean
ready (int   fd,
       short events)
{
  struct pollfd pfd = { fd, events, 0 };
  int n;

  while ((n = poll (&pfd, 1, 0)) < 0 && errno == EINTR)
    ;
  if (n < 0)
    return FALSE;
  if (pfd.revents & POLLNVAL)
    {
      errno = EBADF;
      return FALSE;
    }
  if (!(pfd.revents & events))
    {
      errno = EAGAIN;
      return FALSE;
    }
  return TRUE;
}

/*
 * vhost_user_eventfd_drain:
 * @fd: an eventfd
 * @count: (out) (optional): its count, 0 when there was none
 *
 * Takes the eventfd's count, without ever waiting for one.
 *
 * Returns: %TRUE if there was a count; %FALSE with errno set otherwise
 *   (%EAGAIN: none)
 */
gboolean
vhost_user_eventfd_drain (int      fd,
                          guint64 *count)
{
  guint64 value = 0;
  gssize n;

  if (count != NULL)
    *count = 0;
  n = nowait_io (fd, &value, sizeof value, FALSE);
  if (n < 0 && errno == ENOTSUP)
    {
      if (!ready (fd, POLLIN))
        return FALSE;
      while ((n = read (fd, &value, sizeof value)) < 0 && errno == EINTR)
        ;
    }
  if (n != sizeof value)
    {
      if (n >= 0)
        errno = EINVAL;
      return FALSE;
    }
  if (count != NULL)
    *count = value;
  return TRUE;
}

/*
 * vhost_user_eventfd_signal:
 * @fd: an eventfd
 *
 * Adds one to the eventfd's count, unless the count is too full for it
 * (the reader is woken already); never waits.
 *
 * Returns: %TRUE if the reader has a count to wake it; %FALSE with errno
 *   set if the fd is not usable
 */
gboolean
vhost_user_eventfd_signal (int fd)
{
  if (!ready (fd, POLLOUT))
    return errno == EAGAIN;
  return vhost_user_eventfd_write_watched (fd);
}

/*
 * vhost_user_eventfd_write_watched:
 * @fd: an eventfd
 *
 * Adds one to the eventfd's count, as the watchdog watches: a write that
 * waits is freed a second or two later (the count taken).
 *
 * Returns: %TRUE if the reader has a count to wake it; %FALSE with errno
 *   set if the fd is not usable
 */
gboolean
vhost_user_eventfd_write_watched (int fd)
{
  WriteSlot *slot = write_slot ();
  guint64 one = 1;
  gboolean ok = TRUE;

  vhost_user_mutex_lock (&slot->lock);
  slot->fd = fd;
  slot->since = g_get_monotonic_time ();
  vhost_user_mutex_unlock (&slot->lock);
  while (write (fd, &one, sizeof one) < 0)
    {
      if (errno == EAGAIN)
        break;
      if (errno != EINTR)
        {
          ok = FALSE;
          break;
        }
    }
  /* (the watchdog holds the lock while it reads @fd: once it is ours
   * again, it no longer can) */
  vhost_user_mutex_lock (&slot->lock);
  slot->fd = -1;
  vhost_user_mutex_unlock (&slot->lock);
  return ok;
}

/*
 * vhost_user_eventfd_rescues:
 *
 * How many waiting writes the watchdog has freed, in this process.
 *
 * Returns: the count
 */
guint
vhost_user_eventfd_rescues (void)
{
  return g_atomic_int_get (&rescues);
}

/*
 * vhost_user_pipe_read:
 * @fd: an end of a pipe
 * @buf: (out): where to read to
 * @count: at most this much
 *
 * read(2) that never waits, whatever the file description's flags (but
 * see the top of this file).
 *
 * Returns: what read(2) does; -1 with errno %EAGAIN when the pipe is
 *   empty
 */
gssize
vhost_user_pipe_read (int    fd,
                      void  *buf,
                      gsize  count)
{
  gssize n = nowait_io (fd, buf, count, FALSE);

  if (n < 0 && errno == ENOTSUP)
    while ((n = read (fd, buf, count)) < 0 && errno == EINTR)
      ;
  return n;
}

/*
 * vhost_user_pipe_write:
 * @fd: an end of a pipe
 * @buf: what to write
 * @count: how much
 *
 * write(2) that never waits, whatever the file description's flags (but
 * see the top of this file): it may write part of @buf.
 *
 * Returns: what write(2) does; -1 with errno %EAGAIN when the pipe is
 *   full
 */
gssize
vhost_user_pipe_write (int         fd,
                       const void *buf,
                       gsize       count)
{
  gssize n = nowait_io (fd, (void *) buf, count, TRUE);

  if (n < 0 && errno == ENOTSUP)
    while ((n = write (fd, buf, count)) < 0 && errno == EINTR)
      ;
  return n;
}

/* Pipes' closes, in threads of a pool of their own (GLib's shared
 * threads): at most this many wait for a pipe's lock at once; past them,
 * closes wait in the pool's queue, their fds still open. */
#define MAX_CLOSERS 16

static gint closes_pending;

static void
close_fd (gpointer data,
          gpointer user_data)
{
  g_close (GPOINTER_TO_INT (data) - 1, NULL);
  g_atomic_int_dec_and_test (&closes_pending);
}

/*
 * vhost_user_peer_fd_close:
 * @fd: an fd a peer passed, or shares, or -1
 *
 * Closes @fd without waiting for the peer: a pipe's end is closed in a
 * thread, since the close of the last reference to its file description
 * waits for the pipe's lock, which the peer may hold for good. Anything
 * else is closed at once.
 */
void
vhost_user_peer_fd_close (int fd)
{
  static gsize closers_made;
  static GThreadPool *closers;
  struct stat st;

  if (fd < 0)
    return;
  /* (fstat does not take the pipe's lock) */
  if (fstat (fd, &st) != 0 || !S_ISFIFO (st.st_mode))
    {
      g_close (fd, NULL);
      return;
    }
  if (g_once_init_enter (&closers_made))
    {
      closers = g_thread_pool_new (close_fd, NULL, MAX_CLOSERS, FALSE, NULL);
      g_once_init_leave (&closers_made, 1);
    }
  g_atomic_int_inc (&closes_pending);
  /* (a pool that cannot start a thread now keeps the task queued) */
  g_thread_pool_push (closers, GINT_TO_POINTER (fd + 1), NULL);
}

/*
 * vhost_user_peer_fd_closes_pending:
 *
 * Returns: how many closes vhost_user_peer_fd_close() has left to a
 *   thread that have not returned yet
 */
guint
vhost_user_peer_fd_closes_pending (void)
{
  return g_atomic_int_get (&closes_pending);
}
