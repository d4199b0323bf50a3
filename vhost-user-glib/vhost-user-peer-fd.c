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
 *   blocks the write: one win is enough, and a peer spinning on it wins
 *   within thousands of signals. Not closed yet.
 *
 * Not closed either: a peer holding any end of a pipe can hold the
 * pipe's lock (a splice into a socket that never drains), and our read or
 * write of it then waits for the lock, in the kernel, whatever the flags.
 * Only a thread of its own could absorb that.
 */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/uio.h>

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
