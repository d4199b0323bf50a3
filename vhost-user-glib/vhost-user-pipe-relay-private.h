/* vhost-user-pipe-relay-private.h: a peer's pipe, read or written by a
 * thread of its own
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VhostUserPipeRelay VhostUserPipeRelay;

VhostUserPipeRelay *vhost_user_pipe_relay_new         (int                  peer_fd,
                                                       gboolean             to_peer,
                                                       int                 *own_fd,
                                                       GError             **error);
int                 vhost_user_pipe_relay_get_done_fd (VhostUserPipeRelay  *relay);
gboolean            vhost_user_pipe_relay_is_done     (VhostUserPipeRelay  *relay);
gboolean            vhost_user_pipe_relay_propagate   (VhostUserPipeRelay  *relay,
                                                       int                 *errsv);
guint64             vhost_user_pipe_relay_get_moved   (VhostUserPipeRelay  *relay);
void                vhost_user_pipe_relay_stop        (VhostUserPipeRelay  *relay);
guint               vhost_user_pipe_relay_running     (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostUserPipeRelay, vhost_user_pipe_relay_stop)

G_END_DECLS
