/* vhost-user-socket.c: listening, connecting, socket pairs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "vhost-user-error.h"
#include "vhost-user-socket-private.h"

/* One connect() attempt: the socket, or NULL with errno's classification
 * in @error and the raw errno in @errno_out. */
static GSocket *
try_connect (const char  *path,
             int         *errno_out,
             GError     **error)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  GSocket *result;
  int fd;

  *errno_out = 0;
  if (strlen (path) >= sizeof addr.sun_path)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Socket path “%s” is longer than %" G_GSIZE_FORMAT " bytes",
                   path, sizeof addr.sun_path - 1);
      return NULL;
    }
  strcpy (addr.sun_path, path);

  /* non-blocking (GSocket makes it so anyway): a UNIX connect() then
   * succeeds, fails, or, the listener's backlog full, fails with EAGAIN,
   * which the caller retries like a refusal. Blocking, it would wait in
   * the kernel for as long as the listener does not accept: a back-end
   * that never does held the caller, past any timeout or cancellation. */
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    {
      int errsv = errno;

      *errno_out = errsv;
      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (errsv),
                   "Could not create a socket: %s", g_strerror (errsv));
      return NULL;
    }

  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      int errsv = errno;

      *errno_out = errsv;
      g_close (fd, NULL);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "Could not connect to “%s”: %s", path, g_strerror (errsv));
      return NULL;
    }

  /* on failure GSocket has closed the fd already */
  result = g_socket_new_from_fd (fd, error);
  return result;
}

/*
 * vhost_user_socket_connect:
 * @path: a UNIX socket path
 * @timeout_ms: how long to keep trying while nobody listens yet; 0 for
 *   one attempt
 *
 * Connects to @path. A listener that is not there yet (no socket file, or
 * nobody accepting) is waited for until @timeout_ms passes: front-ends
 * such as QEMU with `server=on` create their socket some time after the
 * back-end was started.
 */
GSocket *
vhost_user_socket_connect (const char    *path,
                           guint          timeout_ms,
                           GCancellable  *cancellable,
                           GError       **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;

  g_return_val_if_fail (path != NULL, NULL);

  for (;;)
    {
      GError *local_error = NULL;
      GSocket *result;
      int errsv;

      result = try_connect (path, &errsv, &local_error);
      if (result != NULL)
        return result;

      if ((errsv != ENOENT && errsv != ECONNREFUSED && errsv != EAGAIN) ||
          g_get_monotonic_time () >= deadline)
        {
          if (timeout_ms > 0 && local_error->code == VHOST_USER_ERROR_SOCKET_CONNECT)
            g_prefix_error (&local_error, "Gave up after %u ms: ", timeout_ms);
          g_propagate_error (error, local_error);
          return NULL;
        }
      g_error_free (local_error);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
}

/* A socket file nobody listens on is what a crashed or killed server
 * leaves behind; a live one belongs to somebody else. Anything that is
 * not a socket is never removed. */
static gboolean
remove_stale_socket (const char  *path,
                     GError     **error)
{
  GStatBuf st;
  GSocket *live;
  int errsv;

  if (g_lstat (path, &st) != 0)
    return TRUE;

  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "“%s” exists and is not a socket", path);
      return FALSE;
    }

  live = try_connect (path, &errsv, NULL);
  if (live != NULL)
    {
      g_object_unref (live);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "Somebody is already listening on “%s”", path);
      return FALSE;
    }
  if (errsv != ECONNREFUSED)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "Cannot tell whether “%s” is in use: %s", path, g_strerror (errsv));
      return FALSE;
    }

  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      errsv = errno;
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "Could not remove the stale socket “%s”: %s", path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* The group and mode go to the file bind() made, and to nothing else.
 * Between bind() and here whoever may write the directory can put a
 * symlink (or a hard link to another file) at @path, and chown() and
 * chmod() by path would change what it points to, as root if we are. So
 * the file is opened without following a link and must be a socket.
 * Linux gives the new file the socket inode's mode less the umask, so
 * with the mode set on the socket before bind() the chmod (through
 * /proc, as a mode cannot be set on an O_PATH fd) is needed only where
 * the umask takes bits the mode asks for: without /proc that is an error
 * rather than a chmod by path. */
static gboolean
set_file_access (const char  *path,
                 guint        mode,
                 gint64       gid,
                 GError     **error)
{
  struct stat st;
  int fd = open (path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  int errsv = 0;

  if (fd < 0 || fstat (fd, &st) != 0)
    errsv = errno;
  else if (!S_ISSOCK (st.st_mode) || st.st_nlink != 1 || st.st_uid != geteuid ())
    {
      /* (a socket, but linked from elsewhere or another user's: not the
       * one bind() just made) */
      g_close (fd, NULL);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "“%s” was replaced by something else than our socket while we set it up", path);
      return FALSE;
    }
  else if (gid >= 0 && st.st_gid != (gid_t) gid && fchownat (fd, "", (uid_t) -1, (gid_t) gid, AT_EMPTY_PATH) != 0)
    errsv = errno;
  else if ((st.st_mode & 07777) != mode)
    {
      char proc[64];

      g_snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
      if (chmod (proc, mode) != 0)
        errsv = errno;
    }
  if (fd >= 0)
    g_close (fd, NULL);
  if (errsv != 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "Could not set the group and mode of “%s”: %s", path, g_strerror (errsv));
      /* ours (a socket, or nothing followed): it must not stay */
      g_unlink (path);
      return FALSE;
    }
  return TRUE;
}

/*
 * vhost_user_socket_listen:
 * @path: where to create the socket
 * @mode: the socket file's permissions; 0 for 0600
 *
 * vhost_user_socket_listen_full() keeping the socket's group.
 */
GSocket *
vhost_user_socket_listen (const char  *path,
                          guint        mode,
                          GError     **error)
{
  return vhost_user_socket_listen_full (path, mode, -1, error);
}

/*
 * vhost_user_socket_listen_full:
 * @path: where to create the socket
 * @mode: the socket file's permissions; 0 for 0600
 * @gid: the socket file's group (0 to 4294967294), or -1 to keep the
 *   creator's
 *
 * Creates a listening UNIX socket at @path, replacing a stale socket file
 * and refusing one somebody still listens on (or anything that is not a
 * socket). The group and mode are set between bind() and listen(), so
 * nobody can connect before they are right.
 */
GSocket *
vhost_user_socket_listen_full (const char  *path,
                               guint        mode,
                               gint64       gid,
                               GError     **error)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  GSocket *result;
  int fd;
  int errsv;

  g_return_val_if_fail (path != NULL, NULL);

  if (mode == 0)
    mode = VHOST_USER_SOCKET_DEFAULT_MODE;

  if (strlen (path) >= sizeof addr.sun_path)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Socket path “%s” is longer than %" G_GSIZE_FORMAT " bytes",
                   path, sizeof addr.sun_path - 1);
      return NULL;
    }
  strcpy (addr.sun_path, path);
  /* (gid_t) 4294967295 is (gid_t) -1, which fchownat() takes for "no
   * change": the socket would keep our group and get the mode's group
   * bits all the same */
  if (gid == G_MAXUINT32)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "4294967295 is (gid_t) -1, which chown takes for no change: not a group for socket “%s”",
                   path);
      return NULL;
    }
  if (gid < -1 || gid > G_MAXUINT32)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "%" G_GINT64_FORMAT " is not a group id for socket “%s”", gid, path);
      return NULL;
    }

  if (!remove_stale_socket (path, error))
    return NULL;

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      errsv = errno;
      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (errsv),
                   "Could not create a socket: %s", g_strerror (errsv));
      return NULL;
    }

  /* (the umask may still take bits away: set_file_access() puts them back) */
  if (fchmod (fd, mode) != 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      errsv = errno;
      g_close (fd, NULL);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "Could not bind “%s”: %s", path, g_strerror (errsv));
      return NULL;
    }

  if (!set_file_access (path, mode, gid, error))
    {
      g_close (fd, NULL);
      return NULL;
    }
  if (listen (fd, SOMAXCONN) < 0)
    {
      errsv = errno;
      g_close (fd, NULL);
      g_unlink (path);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT,
                   "Could not listen on “%s”: %s", path, g_strerror (errsv));
      return NULL;
    }

  /* on failure GSocket has closed the fd already */
  result = g_socket_new_from_fd (fd, error);
  if (result == NULL)
    g_unlink (path);
  return result;
}

/* Both ends of a connected pair, as the back-end channel needs: one end
 * is passed to the back-end with SET_BACKEND_REQ_FD. */
gboolean
vhost_user_socket_pair (GSocket **first,
                        GSocket **second,
                        GError  **error)
{
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (errsv),
                   "Could not create a socket pair: %s", g_strerror (errsv));
      return FALSE;
    }

  /* on failure GSocket has closed the fd it was given */
  *first = g_socket_new_from_fd (fds[0], error);
  if (*first == NULL)
    {
      g_close (fds[1], NULL);
      return FALSE;
    }
  *second = g_socket_new_from_fd (fds[1], error);
  if (*second == NULL)
    {
      g_clear_object (first);
      return FALSE;
    }
  return TRUE;
}
