/* vhost-user-error.h: the VHOST_USER_ERROR domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <glib.h>

#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

/**
 * VHOST_USER_ERROR:
 *
 * The error domain of vhost-user-glib; codes are #VhostUserError.
 *
 * Since: 1.0
 */
#define VHOST_USER_ERROR (vhost_user_error_quark ())

/**
 * VhostUserError:
 * @VHOST_USER_ERROR_FAILED: a failure that fits no other code
 * @VHOST_USER_ERROR_INVALID_PARAM: a request carried a value out of range
 * @VHOST_USER_ERROR_INVALID_OPERATION: the request is not allowed by what was negotiated
 * @VHOST_USER_ERROR_INVALID_MESSAGE: a malformed message: bad flags, size or content
 * @VHOST_USER_ERROR_PARTIAL_MESSAGE: only part of a message was sent or received
 * @VHOST_USER_ERROR_OVERSIZED_MESSAGE: a message larger than any request allows
 * @VHOST_USER_ERROR_INCORRECT_FDS: a message carried too many or too few file descriptors
 * @VHOST_USER_ERROR_SOCKET_CONNECT: could not connect to (or listen for) the peer
 * @VHOST_USER_ERROR_SOCKET_BROKEN: the connection is broken or the peer closed it
 * @VHOST_USER_ERROR_SOCKET_RETRY: a transient socket error; retry the operation
 * @VHOST_USER_ERROR_SOCKET_ERROR: any other socket error
 * @VHOST_USER_ERROR_BACKEND_INTERNAL: the back-end reported a failure (old name "slave internal error")
 * @VHOST_USER_ERROR_FEATURE_MISMATCH: virtio or protocol features do not match what was offered
 * @VHOST_USER_ERROR_HANDLER_FAILED: a request handler failed
 * @VHOST_USER_ERROR_CLOSED: the connection was closed on purpose, by this
 *   side's `close ()` (or dispose); nothing to recover from
 * @VHOST_USER_ERROR_TIMED_OUT: the peer did not answer a request within
 *   the role's `timeout`; the connection was closed, since later replies
 *   could no longer be matched to their requests
 *
 * Error codes of the %VHOST_USER_ERROR domain. Whether a connection is
 * worth re-establishing after one of them is answered by
 * vhost_user_error_should_reconnect().
 *
 * Since: 1.0
 */
typedef enum {
  VHOST_USER_ERROR_FAILED,
  VHOST_USER_ERROR_INVALID_PARAM,
  VHOST_USER_ERROR_INVALID_OPERATION,
  VHOST_USER_ERROR_INVALID_MESSAGE,
  VHOST_USER_ERROR_PARTIAL_MESSAGE,
  VHOST_USER_ERROR_OVERSIZED_MESSAGE,
  VHOST_USER_ERROR_INCORRECT_FDS,
  VHOST_USER_ERROR_SOCKET_CONNECT,
  VHOST_USER_ERROR_SOCKET_BROKEN,
  VHOST_USER_ERROR_SOCKET_RETRY,
  VHOST_USER_ERROR_SOCKET_ERROR,
  VHOST_USER_ERROR_BACKEND_INTERNAL,
  VHOST_USER_ERROR_FEATURE_MISMATCH,
  VHOST_USER_ERROR_HANDLER_FAILED,
  VHOST_USER_ERROR_CLOSED,
  VHOST_USER_ERROR_TIMED_OUT,
} VhostUserError;

VHOST_USER_AVAILABLE_IN_ALL
GQuark          vhost_user_error_quark            (void);
VHOST_USER_AVAILABLE_IN_ALL
gboolean        vhost_user_error_should_reconnect (const GError *error);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserError  vhost_user_error_from_errno       (int           errno_value);

G_END_DECLS
