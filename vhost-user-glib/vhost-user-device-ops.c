/* vhost-user-device-ops.c: what a VMM asks of a device: start and stop,
 * memory added and removed, a ring enabled or disabled, a reconnection;
 * each queued, run one at a time, async or blocking
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "vhost-user-device-private.h"
#include "vhost-user-error.h"

/**
 * vhost_user_device_start_async:
 * @self: a device whose front-end is connected
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Applies the device's state and runs its rings. On a connection not set
 * up yet: negotiation (refusing a back-end without the packed layout the
 * rings need or, after a reconnect, with other features than before),
 * the back-end channel where `BACKEND_REQ` is wanted, the memory, the
 * in-flight area (asked for once, kept for every reconnect); then each
 * configured ring's size, base, addresses, kick and call, then the rings
 * enabled, then `SET_STATUS` where negotiated. A start that fails after
 * the back-end was told anything closes the connection: nothing
 * half-applied stays running.
 *
 * Since: 1.0
 */
void
vhost_user_device_start_async (VhostUserDevice     *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));
  vhost_user_device_queue_op (self, OP_START, NULL, 0, FALSE, FALSE, NULL, cancellable, callback, user_data);
}

/**
 * vhost_user_device_start_finish:
 * @self: a device
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_device_start_async().
 *
 * Returns: %TRUE when the rings run, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_start_finish (VhostUserDevice  *self,
                                GAsyncResult     *result,
                                GError          **error)
{
  return vhost_user_device_op_finish (self, result, OP_START, error);
}

/**
 * vhost_user_device_start:
 * @self: a device whose front-end is connected
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_device_start_async(). Refused while an
 * async operation is under way.
 *
 * Returns: %TRUE when the rings run, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_start (VhostUserDevice  *self,
                         GCancellable     *cancellable,
                         GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  return vhost_user_device_run_blocking (self, OP_START, NULL, 0, FALSE, NULL, cancellable, error);
}

/**
 * vhost_user_device_stop_async:
 * @self: a device
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Stops the rings: each disabled (where protocol features are
 * negotiated), then `GET_VRING_BASE` for each, which also waits for the
 * back-end to finish what it took; the bases are kept
 * (vhost_user_device_get_ring_base()) for the next start. Then status 0
 * where `STATUS` is negotiated. Memory and the in-flight area stay. A
 * device that is not running is left as it is, and will not start on a
 * reconnect.
 *
 * A stop that fails once it has begun (a request refused or not answered
 * in time, a base no ring of its kind can have: a split ring's above
 * 0xffff, a packed ring's position outside the ring, which is
 * %VHOST_USER_ERROR_INVALID_MESSAGE) closes the connection, since the
 * back-end's rings are then in no known state and hanging up is what
 * stops them all; the device is
 * %VHOST_USER_DEVICE_STATE_DISCONNECTED, and once
 * vhost_user_device_reconnect() has brought it back (stopped), a start
 * takes each ring's base from shared memory, as after a lost back-end.
 *
 * Since: 1.0
 */
void
vhost_user_device_stop_async (VhostUserDevice     *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));
  vhost_user_device_queue_op (self, OP_STOP, NULL, 0, FALSE, FALSE, NULL, cancellable, callback, user_data);
}

/**
 * vhost_user_device_stop_finish:
 * @self: a device
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_device_stop_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_stop_finish (VhostUserDevice  *self,
                               GAsyncResult     *result,
                               GError          **error)
{
  return vhost_user_device_op_finish (self, result, OP_STOP, error);
}

/**
 * vhost_user_device_stop:
 * @self: a device
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_device_stop_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_stop (VhostUserDevice  *self,
                        GCancellable     *cancellable,
                        GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  return vhost_user_device_run_blocking (self, OP_STOP, NULL, 0, FALSE, NULL, cancellable, error);
}

/**
 * vhost_user_device_add_memory_async:
 * @self: a device
 * @region: guest memory (vhost_user_memory_region_new_memfd()), not
 *   overlapping the device's other regions
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Adds guest memory. A back-end already set up gets it at once:
 * `ADD_MEM_REG` where `CONFIGURE_MEM_SLOTS` is negotiated, else the whole
 * new table with `SET_MEM_TABLE`; every later setup gives it too.
 *
 * Since: 1.0
 */
void
vhost_user_device_add_memory_async (VhostUserDevice       *self,
                                    VhostUserMemoryRegion *region,
                                    GCancellable          *cancellable,
                                    GAsyncReadyCallback    callback,
                                    gpointer               user_data)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));
  g_return_if_fail (region != NULL);
  vhost_user_device_queue_op (self, OP_ADD_MEMORY, region, 0, FALSE, FALSE, NULL, cancellable, callback, user_data);
}

/**
 * vhost_user_device_add_memory_finish:
 * @self: a device
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_device_add_memory_async().
 *
 * Returns: %TRUE, or %FALSE with @error set (the region is then not the
 *   device's)
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_add_memory_finish (VhostUserDevice  *self,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  return vhost_user_device_op_finish (self, result, OP_ADD_MEMORY, error);
}

/**
 * vhost_user_device_add_memory:
 * @self: a device
 * @region: guest memory
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_device_add_memory_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_add_memory (VhostUserDevice        *self,
                              VhostUserMemoryRegion  *region,
                              GCancellable           *cancellable,
                              GError                **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (region != NULL, FALSE);
  return vhost_user_device_run_blocking (self, OP_ADD_MEMORY, region, 0, FALSE, NULL, cancellable, error);
}

/**
 * vhost_user_device_remove_memory_async:
 * @self: a device
 * @region: one of the device's regions
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Removes guest memory: `REM_MEM_REG`, or a new `SET_MEM_TABLE`. A region
 * that holds a running ring is refused.
 *
 * Since: 1.0
 */
void
vhost_user_device_remove_memory_async (VhostUserDevice       *self,
                                       VhostUserMemoryRegion *region,
                                       GCancellable          *cancellable,
                                       GAsyncReadyCallback    callback,
                                       gpointer               user_data)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));
  g_return_if_fail (region != NULL);
  vhost_user_device_queue_op (self, OP_REMOVE_MEMORY, region, 0, FALSE, FALSE, NULL, cancellable, callback, user_data);
}

/**
 * vhost_user_device_remove_memory_finish:
 * @self: a device
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_device_remove_memory_async().
 *
 * Returns: %TRUE, or %FALSE with @error set (the region is then still
 *   the device's)
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_remove_memory_finish (VhostUserDevice  *self,
                                        GAsyncResult     *result,
                                        GError          **error)
{
  return vhost_user_device_op_finish (self, result, OP_REMOVE_MEMORY, error);
}

/**
 * vhost_user_device_remove_memory:
 * @self: a device
 * @region: one of the device's regions
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_device_remove_memory_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_remove_memory (VhostUserDevice        *self,
                                 VhostUserMemoryRegion  *region,
                                 GCancellable           *cancellable,
                                 GError                **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (region != NULL, FALSE);
  return vhost_user_device_run_blocking (self, OP_REMOVE_MEMORY, region, 0, FALSE, NULL, cancellable, error);
}

/**
 * vhost_user_device_set_ring_enabled_async:
 * @self: a device
 * @index: a ring
 * @enabled: whether the back-end may process it
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Enables or disables a ring (`SET_VRING_ENABLE` on a running device;
 * kept for the next start otherwise), as a guest's driver does for the
 * queues it uses.
 *
 * Since: 1.0
 */
void
vhost_user_device_set_ring_enabled_async (VhostUserDevice     *self,
                                          guint                index,
                                          gboolean             enabled,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));

  if (index >= self->n_rings)
    {
      g_task_report_new_error (self, callback, user_data, vhost_user_device_set_ring_enabled_async,
                               VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                               "Ring %u: the device has %u rings", index, self->n_rings);
      return;
    }
  vhost_user_device_queue_op (self, OP_ENABLE, NULL, index, !!enabled, FALSE, NULL, cancellable, callback, user_data);
}

/**
 * vhost_user_device_set_ring_enabled_finish:
 * @self: a device
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_device_set_ring_enabled_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_set_ring_enabled_finish (VhostUserDevice  *self,
                                           GAsyncResult     *result,
                                           GError          **error)
{
  return vhost_user_device_op_finish (self, result, OP_ENABLE, error);
}

/**
 * vhost_user_device_set_ring_enabled:
 * @self: a device
 * @index: a ring
 * @enabled: whether the back-end may process it
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_device_set_ring_enabled_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_set_ring_enabled (VhostUserDevice  *self,
                                    guint             index,
                                    gboolean          enabled,
                                    GCancellable     *cancellable,
                                    GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);

  if (index >= self->n_rings)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Ring %u: the device has %u rings", index, self->n_rings);
      return FALSE;
    }
  return vhost_user_device_run_blocking (self, OP_ENABLE, NULL, index, !!enabled, NULL, cancellable, error);
}

/**
 * vhost_user_device_reconnect_async:
 * @self: a device
 * @cancellable: (nullable): a #GCancellable, which stops the attempts
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Brings a lost back-end back: dials the front-end's path again
 * (vhost_user_frontend_reconnect()), with #VhostUserDevice::reconnecting
 * before each attempt, waiting 10 ms, then twice as long each time up to
 * #VhostUserDevice:reconnect-delay-max, at most
 * #VhostUserDevice:reconnect-attempts times; then replays the device's
 * state as vhost_user_device_start_async() gives it, with each ring's
 * base from shared memory (the used index of a split ring) and the kept
 * in-flight area, and kicks every ring (if the device was running). A
 * back-end that goes away again during the replay is dialled again; one
 * that comes back with other features or fewer queues is refused for
 * good. Emits #VhostUserDevice::reconnected when done. Does nothing on a
 * device whose back-end is there.
 *
 * Since: 1.0
 */
void
vhost_user_device_reconnect_async (VhostUserDevice     *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));
  vhost_user_device_queue_op (self, OP_RECONNECT, NULL, 0, FALSE, FALSE, NULL, cancellable, callback, user_data);
}

/**
 * vhost_user_device_reconnect_finish:
 * @self: a device
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_device_reconnect_async().
 *
 * Returns: %TRUE once the back-end has the device's state again, or
 *   %FALSE with @error set (the device is then disconnected)
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_reconnect_finish (VhostUserDevice  *self,
                                    GAsyncResult     *result,
                                    GError          **error)
{
  return vhost_user_device_op_finish (self, result, OP_RECONNECT, error);
}

/**
 * vhost_user_device_reconnect:
 * @self: a device
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_device_reconnect_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_reconnect (VhostUserDevice  *self,
                             GCancellable     *cancellable,
                             GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  return vhost_user_device_run_blocking (self, OP_RECONNECT, NULL, 0, FALSE, NULL, cancellable, error);
}
