/* vhost-user-error.c: the VHOST_USER_ERROR domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>

#include "vhost-user-error.h"

/**
 * vhost_user_error_quark:
 *
 * The quark behind %VHOST_USER_ERROR.
 *
 * Returns: the error domain of vhost-user-glib
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (vhost-user-error-quark, vhost_user_error)

/**
 * vhost_user_error_should_reconnect:
 * @error: an error returned by vhost-user-glib
 *
 * Whether the connection should be torn down and built again after
 * @error, rather than the operation retried or the session given up.
 *
 * A message cut short, a broken socket and a failure inside the back-end
 * may all be cured by a new connection (the front-end then replays its
 * setup). A transient socket error only needs the same operation again;
 * protocol violations, feature mismatches and handler failures happen the
 * same way on a new connection. A peer that did not answer in time
 * (%VHOST_USER_ERROR_TIMED_OUT) may answer a new connection; a deliberate
 * close (%VHOST_USER_ERROR_CLOSED) is not a failure to recover from. Errors outside %VHOST_USER_ERROR are never
 * reasons to reconnect.
 *
 * Returns: %TRUE if reconnecting is the way to recover from @error
 *
 * Since: 1.0
 */
gboolean
vhost_user_error_should_reconnect (const GError *error)
{
  g_return_val_if_fail (error != NULL, FALSE);

  if (error->domain != VHOST_USER_ERROR)
    return FALSE;

  switch ((VhostUserError) error->code)
    {
    case VHOST_USER_ERROR_PARTIAL_MESSAGE:
    case VHOST_USER_ERROR_SOCKET_BROKEN:
    case VHOST_USER_ERROR_BACKEND_INTERNAL:
    case VHOST_USER_ERROR_TIMED_OUT:
      return TRUE;

    case VHOST_USER_ERROR_FAILED:
    case VHOST_USER_ERROR_INVALID_PARAM:
    case VHOST_USER_ERROR_INVALID_OPERATION:
    case VHOST_USER_ERROR_INVALID_MESSAGE:
    case VHOST_USER_ERROR_OVERSIZED_MESSAGE:
    case VHOST_USER_ERROR_INCORRECT_FDS:
    case VHOST_USER_ERROR_SOCKET_CONNECT:
    case VHOST_USER_ERROR_SOCKET_RETRY:
    case VHOST_USER_ERROR_SOCKET_ERROR:
    case VHOST_USER_ERROR_FEATURE_MISMATCH:
    case VHOST_USER_ERROR_HANDLER_FAILED:
    case VHOST_USER_ERROR_CLOSED:
    default:
      return FALSE;
    }
}

/**
 * vhost_user_error_from_errno:
 * @errno_value: an `errno` value from a socket operation
 *
 * Classifies a socket error by what a connection manager should do about
 * it: %VHOST_USER_ERROR_SOCKET_RETRY for a signal or a momentary shortage
 * (`EAGAIN`, `EINTR`, `ENOBUFS`, `ENOMEM`), %VHOST_USER_ERROR_SOCKET_BROKEN
 * when the peer is gone (`ECONNRESET`, `EPIPE`),
 * %VHOST_USER_ERROR_SOCKET_CONNECT when the socket may not be reached
 * (`EACCES`) and %VHOST_USER_ERROR_SOCKET_ERROR for everything else.
 *
 * Returns: the matching #VhostUserError code
 *
 * Since: 1.0
 */
VhostUserError
vhost_user_error_from_errno (int errno_value)
{
  switch (errno_value)
    {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ENOBUFS:
    case ENOMEM:
      return VHOST_USER_ERROR_SOCKET_RETRY;

    case ECONNRESET:
    case EPIPE:
      return VHOST_USER_ERROR_SOCKET_BROKEN;

    case EACCES:
      return VHOST_USER_ERROR_SOCKET_CONNECT;

    default:
      return VHOST_USER_ERROR_SOCKET_ERROR;
    }
}
