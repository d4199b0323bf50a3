/* vhost-user-frontend-private.h: what the front-end's files share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * vhost-user-frontend.c            the object, its properties, connecting
 * vhost-user-frontend-requests.c   any request; the typed requests of the
 *                                  simple layouts (u64, rings, commands)
 * vhost-user-frontend-memory.c     typed requests about memory, config
 *                                  space, in-flight areas and fds
 * vhost-user-frontend-negotiate.c  the opening handshake
 * vhost-user-frontend-channel.c    the back-end channel: requests from the
 *                                  back-end and their signals
 */

#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "vhost-user-connection-private.h"
#include "vhost-user-frontend.h"
#include "vhost-user-invocation-private.h"
#include "vhost-user-object-registry-private.h"
#include "vhost-user-requester-private.h"
#include "vhost-user-responder-private.h"

G_BEGIN_DECLS

struct _VhostUserFrontend
{
  GObject              parent_instance;

  GMainContext        *context;
  VhostUserConnection *connection;
  VhostUserRequester  *requester;
  char                *path;
  guint                timeout_ms;
  gboolean             request_acks;

  /* the back-end channel: requests from the back-end, one at a time */
  VhostUserConnection *backend_channel;
  VhostUserResponder  *channel_responder;

  guint64              features;
  guint64              acked_features;
  /* a SET_FEATURES of ours went out on this connection: acked_features
   * is what the back-end has, not only what we know of */
  gboolean             features_set;
  guint64              protocol_features;
  guint64              acked_protocol_features;
  /* 1 + the highest ring index a request of ours set up: what the
   * back-end channel's ring requests are checked against */
  guint                n_rings;

  /* what the back-end shared over its channel (vhost-user-frontend-channel.c):
   * the shared objects' registry (maybe other front-ends' too), host
   * notifiers by ring index, the shared memory regions' sizes as
   * GET_SHMEM_CONFIG said (NULL until it was asked) and the mappings the
   * back-end made in them */
  VhostUserObjectRegistry *objects;
  GHashTable          *host_notifiers;
  guint64             *shmem_sizes;
  GPtrArray           *shmem_mappings;
};

/* vhost-user-frontend.c */
void     vhost_user_frontend_track_state            (gpointer                     user_data,
                                                     guint32                      request,
                                                     GBytes                      *sent,
                                                     GBytes                      *reply);

/* vhost-user-frontend-requests.c: the typed requests' plumbing. Each
 * layout has a builder (arguments to payload and fds, or an error before
 * anything is sent) and, where the reply says more than "done", a parser;
 * the blocking and the async forms share both. */
typedef struct {
  GBytes      *payload;
  GUnixFDList *fd_list;
} VhostUserBuilt;

void     vhost_user_built_clear                     (VhostUserBuilt              *b);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VhostUserBuilt, vhost_user_built_clear)

gboolean vhost_user_frontend_build                  (VhostUserBuilt              *b,
                                                     gconstpointer                data,
                                                     gsize                        size,
                                                     const int                   *fds,
                                                     guint                        n_fds,
                                                     GError                     **error);
gboolean vhost_user_frontend_check_layout           (VhostUserRequestType         request,
                                                     VhostUserPayloadKind         request_kind,
                                                     VhostUserPayloadKind         reply_kind,
                                                     GError                     **error);
void     vhost_user_frontend_send_built             (VhostUserFrontend           *self,
                                                     VhostUserRequestType         request,
                                                     VhostUserBuilt              *b,
                                                     gboolean                     ok,
                                                     GError                      *error,
                                                     gpointer                     source_tag,
                                                     GCancellable                *cancellable,
                                                     GAsyncReadyCallback          callback,
                                                     gpointer                     user_data);
GBytes  *vhost_user_frontend_call_built             (VhostUserFrontend           *self,
                                                     VhostUserRequestType         request,
                                                     VhostUserBuilt              *b,
                                                     gboolean                     ok,
                                                     GCancellable                *cancellable,
                                                     GError                     **error);
GBytes  *vhost_user_frontend_finish_built           (VhostUserFrontend           *self,
                                                     GAsyncResult                *result,
                                                     gpointer                     source_tag,
                                                     GBytes                     **out_sent,
                                                     GUnixFDList                **out_fd_list,
                                                     GError                     **error);
gboolean vhost_user_frontend_finish_done            (VhostUserFrontend           *self,
                                                     GAsyncResult                *result,
                                                     gpointer                     source_tag,
                                                     GError                     **error);
guint64  vhost_user_frontend_parse_u64              (GBytes                      *reply,
                                                     GError                     **error);
gboolean vhost_user_frontend_xen_layout             (VhostUserFrontend           *self);

/* Runs @start until it is done, on a private context (but for a peer in
 * this process: see vhost_user_frontend_request()). */
GAsyncResult *vhost_user_frontend_wait              (VhostUserFrontend           *self,
                                                     VhostUserRequesterStartFunc  start,
                                                     gpointer                     data,
                                                     GError                     **error);

/* vhost-user-frontend-channel.c */
void     vhost_user_frontend_init_channel           (VhostUserFrontend           *self);
void     vhost_user_frontend_close_backend_channel  (VhostUserFrontend           *self);
void     vhost_user_frontend_finalize_channel       (VhostUserFrontend           *self);
void     vhost_user_frontend_class_init_channel     (GType                        type);
void     vhost_user_frontend_track_channel          (VhostUserFrontend           *self,
                                                     guint32                      request,
                                                     GBytes                      *reply);
void     vhost_user_frontend_forget_shared          (VhostUserFrontend           *self);

G_END_DECLS
