/* vhost-user-peer-fd-private.h: fds whose file description a peer shares
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean vhost_user_eventfd_drain  (int         fd,
                                    guint64    *count);
gboolean vhost_user_eventfd_signal (int         fd);
gboolean vhost_user_eventfd_write_watched (int   fd);
guint    vhost_user_eventfd_rescues       (void);
gssize   vhost_user_pipe_read      (int         fd,
                                    void       *buf,
                                    gsize       count);
gssize   vhost_user_pipe_write     (int         fd,
                                    const void *buf,
                                    gsize       count);
void     vhost_user_peer_fd_close  (int         fd);
guint    vhost_user_peer_fd_closes_pending (void);

G_END_DECLS
