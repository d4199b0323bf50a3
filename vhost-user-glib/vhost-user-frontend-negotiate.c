/* vhost-user-frontend-negotiate.c: the opening handshake
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "vhost-user-enum-types.h"
#include "vhost-user-frontend-private.h"

typedef struct {
  guint64 features;
  guint64 protocol_features;
  guint   step;
} Negotiation;

static void negotiate_step (GTask *task);

static void
negotiate_reply (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_request_finish (VHOST_USER_FRONTEND (source), result, NULL, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  negotiate_step (g_steal_pointer (&task));
}

static void
send_u64_then_step (GTask                *task,
                    VhostUserRequestType  request,
                    guint64               value)
{
  VhostUserFrontend *self = g_task_get_source_object (task);
  g_autoptr(GBytes) payload = g_bytes_new (&value, sizeof value);

  vhost_user_frontend_request_async (self, request, payload, NULL, g_task_get_cancellable (task),
                                     negotiate_reply, task);
}

/* QEMU's order: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER,
 * SET_FEATURES; each step starts when the one before answered. */
static void
negotiate_step (GTask *task)
{
  VhostUserFrontend *self = g_task_get_source_object (task);
  Negotiation *n = g_task_get_task_data (task);
  const guint64 protocol_bit = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES);

  switch (n->step++)
    {
    case 0:
      vhost_user_frontend_request_async (self, VHOST_USER_REQUEST_GET_FEATURES, NULL, NULL,
                                         g_task_get_cancellable (task), negotiate_reply, task);
      break;
    case 1:
      if (!(self->features & protocol_bit))
        {
          n->step = 3;
          negotiate_step (task);
          break;
        }
      vhost_user_frontend_request_async (self, VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES, NULL, NULL,
                                         g_task_get_cancellable (task), negotiate_reply, task);
      break;
    case 2:
      send_u64_then_step (task, VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES,
                          n->protocol_features & self->protocol_features);
      break;
    case 3:
      vhost_user_frontend_request_async (self, VHOST_USER_REQUEST_SET_OWNER, NULL, NULL,
                                         g_task_get_cancellable (task), negotiate_reply, task);
      break;
    case 4:
      /* keep bit 30 when the back-end offers it: protocol features stay on */
      send_u64_then_step (task, VHOST_USER_REQUEST_SET_FEATURES,
                          (n->features | (self->features & protocol_bit)) & self->features);
      break;
    default:
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      break;
    }
}

/**
 * vhost_user_frontend_negotiate_async:
 * @self: a front-end
 * @features: the virtio features wanted
 * @protocol_features: the protocol features wanted
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the handshake is done
 * @user_data: data for @callback
 *
 * Runs the opening handshake in QEMU's order: `GET_FEATURES`, then (when
 * the back-end offers protocol features) `GET_PROTOCOL_FEATURES` and
 * `SET_PROTOCOL_FEATURES` with what both sides have, `SET_OWNER`, and
 * `SET_FEATURES` with the intersection of @features and the offer. The
 * result is in the `acked-*` properties.
 *
 * Since: 1.0
 */
void
vhost_user_frontend_negotiate_async (VhostUserFrontend   *self,
                                     guint64              features,
                                     guint64              protocol_features,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  GTask *task;
  Negotiation *n;

  g_return_if_fail (VHOST_USER_IS_FRONTEND (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vhost_user_frontend_negotiate_async);
  n = g_new0 (Negotiation, 1);
  n->features = features;
  n->protocol_features = protocol_features;
  g_task_set_task_data (task, n, g_free);
  negotiate_step (task);
}

/**
 * vhost_user_frontend_negotiate_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_negotiate_async().
 *
 * Returns: %TRUE if the handshake completed
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_negotiate_finish (VhostUserFrontend  *self,
                                      GAsyncResult       *result,
                                      GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct {
  VhostUserFrontend *self;
  guint64            features;
  guint64            protocol_features;
  GCancellable      *cancellable;
} NegotiateArgs;

static void
start_negotiate (gpointer             data,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  NegotiateArgs *args = data;

  vhost_user_frontend_negotiate_async (args->self, args->features, args->protocol_features, args->cancellable,
                                       callback, user_data);
}

/**
 * vhost_user_frontend_negotiate:
 * @self: a front-end
 * @features: the virtio features wanted
 * @protocol_features: the protocol features wanted
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_frontend_negotiate_async(); it waits
 * as vhost_user_frontend_request() does.
 *
 * Returns: %TRUE if the handshake completed
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_negotiate (VhostUserFrontend  *self,
                               guint64             features,
                               guint64             protocol_features,
                               GCancellable       *cancellable,
                               GError            **error)
{
  NegotiateArgs args = { self, features, protocol_features, cancellable };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (VHOST_USER_IS_FRONTEND (self), FALSE);

  result = vhost_user_frontend_wait (self, start_negotiate, &args, error);
  if (result == NULL)
    return FALSE;
  return vhost_user_frontend_negotiate_finish (self, result, error);
}
