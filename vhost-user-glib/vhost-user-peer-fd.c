/* vhost-user-peer-fd.c: fds whose file description a peer shares
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An fd passed with SCM_RIGHTS shares its open file description with the
 * sender's, O_NONBLOCK included: the peer can clear the flag under us,
 * and a read or a write we took to be non-blocking then waits in the
 * kernel, past every timeout and cancellation of the thread's context.
 * (The vhost-user sockets need nothing: every call on them says
 * MSG_DONTWAIT.)
 *
 * A pipe (a device's state) is opened again through /proc, which gives a
 * description of our own.
 *
 * Kick and call eventfds cannot be opened again (an anonymous inode). A
 * peer that clears the flag could hang our thread: in read(2), by
 * taking the count between our poll and our read (or before a read
 * nobody polled for), and in write(2), by filling the count to its
 * maximum. Nothing here trusts the flag:
 *
 * - a read asks for no wait itself (preadv2() with RWF_NOWAIT, which an
 *   eventfd honours whatever its flags since Linux 5.12); where the
 *   kernel refuses the flag, it reads only after poll(2) says the count
 *   is there (the race with a peer that takes it back remains there);
 * - a write is made only when poll(2) says it fits: a count too full
 *   for one more already wakes the reader, which is all a signal is for.
 *   A peer that fills the count between our poll and our write and has
 *   cleared O_NONBLOCK still blocks the write; it must win that race,
 *   at each attempt, with a thread spinning on it.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"

/* 0: not known yet, 1: RWF_NOWAIT works, -1: the kernel refuses it */
static gint nowait_reads;

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
  struct iovec iov = { &value, sizeof value };
  gssize n = -1;

  if (count != NULL)
    *count = 0;
#ifdef RWF_NOWAIT
  if (g_atomic_int_get (&nowait_reads) >= 0)
    {
      while ((n = preadv2 (fd, &iov, 1, -1, RWF_NOWAIT)) < 0 && errno == EINTR)
        ;
      if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS))
        g_atomic_int_set (&nowait_reads, -1);
      else
        {
          g_atomic_int_set (&nowait_reads, 1);
          goto done;
        }
    }
#endif
  if (!ready (fd, POLLIN))
    return FALSE;
  while ((n = read (fd, &value, sizeof value)) < 0 && errno == EINTR)
    ;
done:
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
  guint64 one = 1;

  if (!ready (fd, POLLOUT))
    return errno == EAGAIN;
  while (write (fd, &one, sizeof one) < 0)
    {
      if (errno == EAGAIN)
        return TRUE;
      if (errno != EINTR)
        return FALSE;
    }
  return TRUE;
}

/*
 * vhost_user_pipe_reopen:
 * @fd: (transfer full): an end of a pipe the peer passed
 * @for_reading: whether we read it
 * @error: return location for a #GError
 *
 * Opens the pipe @fd is an end of again, non-blocking, in a file
 * description of our own, and closes @fd. Anything but a pipe is refused
 * (a file or a device may block a read or a write, or never end), and so
 * is a pipe where /proc is not there to open it through.
 *
 * Returns: the new fd, or -1 with @error set
 */
int
vhost_user_pipe_reopen (int       fd,
                        gboolean  for_reading,
                        GError  **error)
{
  char path[32];
  struct stat st;
  int own, errsv;

  if (fstat (fd, &st) != 0 || !S_ISFIFO (st.st_mode))
    {
      g_close (fd, NULL);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS, "The fd is not a pipe");
      return -1;
    }
  g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  /* (a write end opens only while somebody has the read end: ENXIO
   * otherwise, and an end is what a write would have met anyway) */
  own = g_open (path, (for_reading ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
  errsv = errno;
  g_close (fd, NULL);
  if (own < 0)
    g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                 "Could not open the pipe again with flags of our own (%s)", g_strerror (errsv));
  return own;
}
