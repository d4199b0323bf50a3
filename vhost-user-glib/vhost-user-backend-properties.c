/* vhost-user-backend-properties.c: what a back-end offers, its limits
 * and timeouts, and the rings its queue count makes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The properties' accessors and GObject's get/set_property for them
 * (vhost-user-backend.c installs them), and the back-end's rings, made
 * anew when the number of queues changes.
 */

#include "config.h"

#include <string.h>

#include "vhost-user-backend-private.h"
#include "vhost-user-vring-private.h"
#include "vhost-user-notify-private.h"

void
vhost_user_backend_drop_vrings (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  /* a ring a device thread still holds must not call back into us */
  for (guint i = 0; i < priv->vrings->len; i++)
    {
      vhost_user_vring_set_broken_func (vring_at (self, i), NULL, NULL);
      vhost_user_vring_set_call_func (vring_at (self, i), NULL, NULL);
      vhost_user_vring_set_miss_func (vring_at (self, i), NULL, NULL);
      g_object_set_data (G_OBJECT (vring_at (self, i)), "vhost-user-backend-misses", NULL);
    }
  g_ptr_array_set_size (priv->vrings, 0);
}

void
vhost_user_backend_rebuild_vrings (VhostUserBackend *self)
{
  VhostUserBackendPrivate *priv = priv_of (self);

  vhost_user_backend_drop_vrings (self);
  for (guint i = 0; i < priv->num_queues; i++)
    {
      VhostUserVring *vring = vhost_user_vring_new (i, priv->context);

      vhost_user_vring_set_memory_table (vring, priv->memory_table);
      vhost_user_vring_set_broken_func (vring, vhost_user_backend_ring_broken, self);
      vhost_user_backend_watch_misses (self, vring);
      vhost_user_vring_set_iotlb (vring, priv->iotlb);
      g_ptr_array_add (priv->vrings, vring);
    }
  vhost_user_backend_update_logging (self);
  vhost_user_backend_update_inflight (self);
  vhost_user_backend_update_inband (self);
}

void
vhost_user_backend_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  VhostUserBackend *self = VHOST_USER_BACKEND (object);
  VhostUserBackendPrivate *priv = priv_of (self);

  switch (prop_id)
    {
    case PROP_MAIN_CONTEXT:
      g_value_set_boxed (value, priv->context);
      break;
    case PROP_FEATURES:
      g_value_set_uint64 (value, priv->features);
      break;
    case PROP_PROTOCOL_FEATURES:
      g_value_set_uint64 (value, priv->protocol_features);
      break;
    case PROP_NUM_QUEUES:
      g_value_set_uint (value, priv->num_queues);
      break;
    case PROP_MAX_QUEUE_SIZE:
      g_value_set_uint (value, priv->max_queue_size);
      break;
    case PROP_MAX_MEM_SLOTS:
      g_value_set_uint (value, priv->max_mem_slots);
      break;
    case PROP_CONFIG:
      g_value_set_boxed (value, priv->config);
      break;
    case PROP_CONFIG_WRITABLE_MASK:
      g_value_set_boxed (value, priv->config_writable_mask);
      break;
    case PROP_ACKED_FEATURES:
      g_value_set_uint64 (value, priv->acked_features);
      break;
    case PROP_ACKED_PROTOCOL_FEATURES:
      g_value_set_uint64 (value, priv->acked_protocol_features);
      break;
    case PROP_OWNER:
      g_value_set_boolean (value, priv->owner);
      break;
    case PROP_STATUS:
      g_value_set_uint64 (value, priv->status);
      break;
    case PROP_MEMORY_TABLE:
      g_value_set_boxed (value, priv->memory_table);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, priv->connection != NULL);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, priv->timeout_ms);
      break;
    case PROP_DRAIN_TIMEOUT:
      g_value_set_uint (value, priv->drain_timeout_ms);
      break;
    case PROP_POLL_WINDOW:
      g_value_set_uint (value, priv->poll_window_us);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

void
vhost_user_backend_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  VhostUserBackend *self = VHOST_USER_BACKEND (object);
  VhostUserBackendPrivate *priv = priv_of (self);

  switch (prop_id)
    {
    case PROP_MAIN_CONTEXT:
      priv->context = g_value_dup_boxed (value);
      if (priv->context == NULL)
        priv->context = g_main_context_ref_thread_default ();
      break;
    case PROP_FEATURES:
      vhost_user_backend_set_features (self, g_value_get_uint64 (value));
      break;
    case PROP_PROTOCOL_FEATURES:
      vhost_user_backend_set_protocol_features (self, g_value_get_uint64 (value));
      break;
    case PROP_NUM_QUEUES:
      vhost_user_backend_set_num_queues (self, g_value_get_uint (value));
      break;
    case PROP_MAX_QUEUE_SIZE:
      vhost_user_backend_set_max_queue_size (self, g_value_get_uint (value));
      break;
    case PROP_MAX_MEM_SLOTS:
      vhost_user_backend_set_max_mem_slots (self, g_value_get_uint (value));
      break;
    case PROP_CONFIG:
      vhost_user_backend_set_config (self, g_value_get_boxed (value));
      break;
    case PROP_CONFIG_WRITABLE_MASK:
      vhost_user_backend_set_config_writable_mask (self, g_value_get_boxed (value));
      break;
    case PROP_TIMEOUT:
      vhost_user_backend_set_timeout (self, g_value_get_uint (value));
      break;
    case PROP_DRAIN_TIMEOUT:
      vhost_user_backend_set_drain_timeout (self, g_value_get_uint (value));
      break;
    case PROP_POLL_WINDOW:
      vhost_user_backend_set_poll_window (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

#define OFFER_ACCESSORS(type, name, prop)                                        \
  type                                                                           \
  vhost_user_backend_get_##name (VhostUserBackend *self)                         \
  {                                                                              \
    g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), 0);                      \
    return priv_of (self)->name;                                                 \
  }

/**
 * vhost_user_backend_get_features:
 * @self: a back-end
 *
 * Gets the virtio features offered.
 *
 * Returns: the virtio features offered
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint64, features, PROP_FEATURES)

/**
 * vhost_user_backend_get_protocol_features:
 * @self: a back-end
 *
 * Gets the protocol features offered.
 *
 * Returns: the protocol features offered
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint64, protocol_features, PROP_PROTOCOL_FEATURES)

/**
 * vhost_user_backend_get_num_queues:
 * @self: a back-end
 *
 * Gets the number of queues.
 *
 * Returns: the number of queues
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint, num_queues, PROP_NUM_QUEUES)

/**
 * vhost_user_backend_get_max_queue_size:
 * @self: a back-end
 *
 * Gets the largest ring size accepted.
 *
 * Returns: the largest ring size accepted
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint, max_queue_size, PROP_MAX_QUEUE_SIZE)

/**
 * vhost_user_backend_get_max_mem_slots:
 * @self: a back-end
 *
 * Gets how many memory regions may be mapped.
 *
 * Returns: how many memory regions may be mapped
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint, max_mem_slots, PROP_MAX_MEM_SLOTS)

/**
 * vhost_user_backend_get_acked_features:
 * @self: a back-end
 *
 * Gets the virtio features the front-end acknowledged.
 *
 * Returns: the virtio features the front-end acknowledged
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint64, acked_features, PROP_ACKED_FEATURES)

/**
 * vhost_user_backend_get_acked_protocol_features:
 * @self: a back-end
 *
 * Gets the protocol features in use.
 *
 * Returns: the protocol features in use
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint64, acked_protocol_features, PROP_ACKED_PROTOCOL_FEATURES)

/**
 * vhost_user_backend_get_owner:
 * @self: a back-end
 *
 * Gets whether a front-end took ownership.
 *
 * Returns: whether a front-end took ownership
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (gboolean, owner, PROP_OWNER)

/**
 * vhost_user_backend_get_status:
 * @self: a back-end
 *
 * Gets the virtio device status.
 *
 * Returns: the virtio device status
 *
 * Since: 1.0
 */
OFFER_ACCESSORS (guint64, status, PROP_STATUS)

#undef OFFER_ACCESSORS

#define OFFER_SETTER(type, name, prop, check)                                    \
  void                                                                           \
  vhost_user_backend_set_##name (VhostUserBackend *self,                         \
                                 type              value)                        \
  {                                                                              \
    VhostUserBackendPrivate *priv;                                               \
                                                                                 \
    g_return_if_fail (VHOST_USER_IS_BACKEND (self));                             \
    g_return_if_fail (check);                                                    \
    priv = priv_of (self);                                                       \
    if (priv->name == value)                                                     \
      return;                                                                    \
    priv->name = value;                                                          \
    vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[prop]);                \
  }

/**
 * vhost_user_backend_set_features:
 * @self: a back-end
 * @features: the virtio features to offer
 *
 * Sets [property@VhostUser.Backend:features].
 *
 * Since: 1.0
 */
OFFER_SETTER (guint64, features, PROP_FEATURES, TRUE)

/**
 * vhost_user_backend_set_protocol_features:
 * @self: a back-end
 * @features: the protocol features to offer
 *
 * Sets [property@VhostUser.Backend:protocol-features].
 *
 * Since: 1.0
 */
OFFER_SETTER (guint64, protocol_features, PROP_PROTOCOL_FEATURES, TRUE)

/**
 * vhost_user_backend_set_max_queue_size:
 * @self: a back-end
 * @max_queue_size: the largest ring size to accept, at most 32768
 *
 * Sets [property@VhostUser.Backend:max-queue-size].
 *
 * Since: 1.0
 */
OFFER_SETTER (guint, max_queue_size, PROP_MAX_QUEUE_SIZE, value > 0 && value <= VHOST_USER_BACKEND_MAX_QUEUE_SIZE)

/**
 * vhost_user_backend_set_max_mem_slots:
 * @self: a back-end
 * @max_mem_slots: how many memory regions may be mapped
 *
 * Sets [property@VhostUser.Backend:max-mem-slots].
 *
 * Since: 1.0
 */
OFFER_SETTER (guint, max_mem_slots, PROP_MAX_MEM_SLOTS, value > 0)

#undef OFFER_SETTER

/**
 * vhost_user_backend_set_num_queues:
 * @self: a back-end
 * @num_queues: the number of queues, 1 to 256
 *
 * Sets [property@VhostUser.Backend:num-queues]; only while no front-end
 * is connected.
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_num_queues (VhostUserBackend *self,
                                   guint             num_queues)
{
  VhostUserBackendPrivate *priv;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));
  g_return_if_fail (num_queues > 0 && num_queues <= VHOST_USER_BACKEND_MAX_QUEUES);

  priv = priv_of (self);
  g_return_if_fail (priv->connection == NULL);
  if (priv->num_queues == num_queues)
    return;
  priv->num_queues = num_queues;
  /* before construction the rings wait for the main context */
  if (priv->responder != NULL)
    vhost_user_backend_rebuild_vrings (self);
  vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_NUM_QUEUES]);
}

/* Replaces a GBytes property's value, notifying when it changed. */
static void
set_bytes_property (VhostUserBackend  *self,
                    GBytes           **field,
                    GBytes            *value,
                    guint              prop)
{
  if (*field == value)
    return;
  g_clear_pointer (field, g_bytes_unref);
  *field = value != NULL ? g_bytes_ref (value) : NULL;
  vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[prop]);
}

/**
 * vhost_user_backend_get_config:
 * @self: a back-end
 *
 * Gets the config space.
 *
 * Returns: (transfer none) (nullable): the config space
 *
 * Since: 1.0
 */
GBytes *
vhost_user_backend_get_config (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  return priv_of (self)->config;
}

/**
 * vhost_user_backend_set_config:
 * @self: a back-end
 * @config: (nullable): the config space
 *
 * Sets [property@VhostUser.Backend:config]. A device whose config changes
 * while a front-end is connected should also tell it (the back-end
 * channel's `CONFIG_CHANGE_MSG`).
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_config (VhostUserBackend *self,
                               GBytes           *config)
{
  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  set_bytes_property (self, &priv_of (self)->config, config, PROP_CONFIG);
}

/**
 * vhost_user_backend_get_config_writable_mask:
 * @self: a back-end
 *
 * Gets the writable mask of the config space.
 *
 * Returns: (transfer none) (nullable): the writable mask of the config space
 *
 * Since: 1.0
 */
GBytes *
vhost_user_backend_get_config_writable_mask (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  return priv_of (self)->config_writable_mask;
}

/**
 * vhost_user_backend_set_config_writable_mask:
 * @self: a back-end
 * @mask: (nullable): which config bits `SET_CONFIG` may change
 *
 * Sets [property@VhostUser.Backend:config-writable-mask].
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_config_writable_mask (VhostUserBackend *self,
                                             GBytes           *mask)
{
  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  set_bytes_property (self, &priv_of (self)->config_writable_mask, mask, PROP_CONFIG_WRITABLE_MASK);
}

/**
 * vhost_user_backend_get_memory_table:
 * @self: a back-end
 *
 * Gets the guest memory currently mapped (possibly.
 *
 * Returns: (transfer none): the guest memory currently mapped (possibly
 *   no regions)
 *
 * Since: 1.0
 */
VhostUserMemoryTable *
vhost_user_backend_get_memory_table (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  return priv_of (self)->memory_table;
}

/**
 * vhost_user_backend_get_timeout:
 * @self: a back-end
 *
 * Gets [property@VhostUser.Backend:timeout].
 *
 * Returns: the back-end channel's timeout in milliseconds, 0 for none
 *
 * Since: 1.0
 */
guint
vhost_user_backend_get_timeout (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), 0);
  return priv_of (self)->timeout_ms;
}

/**
 * vhost_user_backend_set_timeout:
 * @self: a back-end
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@VhostUser.Backend:timeout]; requests already sent keep
 * the deadline they had.
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_timeout (VhostUserBackend *self,
                                guint             timeout_ms)
{
  VhostUserBackendPrivate *priv;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  priv = priv_of (self);
  if (priv->timeout_ms == timeout_ms)
    return;
  priv->timeout_ms = timeout_ms;
  if (priv->channel_requester != NULL)
    vhost_user_requester_set_timeout (priv->channel_requester, timeout_ms);
  vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_TIMEOUT]);
}

/**
 * vhost_user_backend_get_drain_timeout:
 * @self: a back-end
 *
 * Gets [property@VhostUser.Backend:drain-timeout].
 *
 * Returns: how long `GET_VRING_BASE` waits for the device, in
 *   milliseconds, 0 for ever
 *
 * Since: 1.0
 */
guint
vhost_user_backend_get_drain_timeout (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), 0);
  return priv_of (self)->drain_timeout_ms;
}

/**
 * vhost_user_backend_set_drain_timeout:
 * @self: a back-end
 * @timeout_ms: milliseconds, 0 for ever
 *
 * Sets [property@VhostUser.Backend:drain-timeout].
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_drain_timeout (VhostUserBackend *self,
                                      guint             timeout_ms)
{
  VhostUserBackendPrivate *priv;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));

  priv = priv_of (self);
  if (priv->drain_timeout_ms == timeout_ms)
    return;
  priv->drain_timeout_ms = timeout_ms;
  vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_DRAIN_TIMEOUT]);
}

/**
 * vhost_user_backend_get_poll_window:
 * @self: a back-end
 *
 * Gets [property@VhostUser.Backend:poll-window].
 *
 * Returns: how long the socket is polled after a request, in
 *   microseconds, 0 for not at all
 *
 * Since: 1.0
 */
guint
vhost_user_backend_get_poll_window (VhostUserBackend *self)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), 0);
  return priv_of (self)->poll_window_us;
}

/**
 * vhost_user_backend_set_poll_window:
 * @self: a back-end
 * @window_us: microseconds, at most one second; 0 to sleep at once
 *
 * Sets [property@VhostUser.Backend:poll-window], for the connection of
 * now and those to come.
 *
 * Since: 1.0
 */
void
vhost_user_backend_set_poll_window (VhostUserBackend *self,
                                    guint             window_us)
{
  VhostUserBackendPrivate *priv;

  g_return_if_fail (VHOST_USER_IS_BACKEND (self));
  g_return_if_fail (window_us <= G_USEC_PER_SEC);

  priv = priv_of (self);
  if (priv->poll_window_us == window_us)
    return;
  priv->poll_window_us = window_us;
  if (priv->connection != NULL)
    vhost_user_connection_set_poll_window (priv->connection, window_us);
  vhost_user_notify (G_OBJECT (self), vhost_user_backend_pspecs[PROP_POLL_WINDOW]);
}

/**
 * vhost_user_backend_get_vring:
 * @self: a back-end
 * @index: a queue index, below [property@VhostUser.Backend:num-queues]
 *
 * Gets the queue's ring.
 *
 * Returns: (transfer none): the queue's ring
 *
 * Since: 1.0
 */
VhostUserVring *
vhost_user_backend_get_vring (VhostUserBackend *self,
                              guint             index)
{
  g_return_val_if_fail (VHOST_USER_IS_BACKEND (self), NULL);
  g_return_val_if_fail (index < priv_of (self)->vrings->len, NULL);
  return vring_at (self, index);
}
