/* vhost-user-device-migration.c: what a migration asks of a device: the
 * dirty log, the back-end's own state, the requests in flight
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-device-private.h"
#include "vhost-user-error.h"
#include "vhost-user-memory-table-private.h"

/**
 * vhost_user_device_save_state_async:
 * @self: a stopped device
 * @destination: where the device's state goes; written, not closed
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Saves the back-end's own device state, as a migration's source does:
 * `SET_DEVICE_STATE_FD` (save, phase stopped) with a pipe (or the fd the
 * back-end answers with), everything the back-end writes copied into
 * @destination, then `CHECK_DEVICE_STATE`. Needs the `DEVICE_STATE`
 * protocol feature, and the rings stopped (vhost_user_device_stop()).
 *
 * The pipe is never waited on for longer than the front-end's
 * [property@VhostUser.Frontend:timeout] without progress
 * (%VHOST_USER_ERROR_TIMED_OUT), and the wait ends when the back-end
 * goes or vhost_user_device_close() is called (%VHOST_USER_ERROR_CLOSED).
 * An fd the back-end answers with must be a pipe, and it may send at most
 * [property@VhostUser.Device:max-state-size] bytes.
 *
 * Since: 1.0
 */
void
vhost_user_device_save_state_async (VhostUserDevice     *self,
                                    GOutputStream       *destination,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));
  g_return_if_fail (G_IS_OUTPUT_STREAM (destination));
  vhost_user_device_queue_op (self, OP_SAVE_STATE, NULL, 0, FALSE, FALSE, G_OBJECT (destination), cancellable, callback, user_data);
}

/**
 * vhost_user_device_save_state_finish:
 * @self: a device
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_device_save_state_async().
 *
 * Returns: %TRUE if the back-end saved its state and says so, or %FALSE
 *   with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_save_state_finish (VhostUserDevice  *self,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  return vhost_user_device_op_finish (self, result, OP_SAVE_STATE, error);
}

/**
 * vhost_user_device_save_state:
 * @self: a stopped device
 * @destination: where the device's state goes; written, not closed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_device_save_state_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_save_state (VhostUserDevice  *self,
                              GOutputStream    *destination,
                              GCancellable     *cancellable,
                              GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (destination), FALSE);
  return vhost_user_device_run_blocking (self, OP_SAVE_STATE, NULL, 0, FALSE, G_OBJECT (destination), cancellable, error);
}

/**
 * vhost_user_device_load_state_async:
 * @self: a device that is not running
 * @source: the state another back-end saved; read to its end, not closed
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Loads device state into the back-end, as a migration's destination
 * does before it starts the rings: the connection is set up first if it
 * is not (features, memory, in-flight area), then `SET_DEVICE_STATE_FD`
 * (load, phase stopped), @source copied into the pipe and the pipe
 * closed, then `CHECK_DEVICE_STATE`. The pipe is waited on as
 * vhost_user_device_save_state_async() says.
 *
 * A load that fails or is cancelled once the back-end has taken the
 * pipe (or may have: `SET_DEVICE_STATE_FD` cancelled before its reply)
 * closes the connection (the device's state becomes
 * %VHOST_USER_DEVICE_STATE_DISCONNECTED, and
 * [signal@VhostUser.Device::backend-lost] is not emitted): the pipe
 * cannot say that the state was cut short, and the back-end would take
 * its end for the end of the state. Reconnect
 * (vhost_user_device_reconnect_async()) before trying again. A state the
 * back-end refuses at `CHECK_DEVICE_STATE` leaves it connected: it knows
 * it has none. That holds for a back-end that closes its end of the pipe
 * before the end of @source too (one that stops reading a state it
 * cannot take): `CHECK_DEVICE_STATE` is still sent, and a non-zero
 * answer fails the load with %VHOST_USER_ERROR_BACKEND_INTERNAL,
 * connected; an answer of 0, or none, fails it with
 * %VHOST_USER_ERROR_SOCKET_BROKEN and closes the connection.
 *
 * Since: 1.0
 */
void
vhost_user_device_load_state_async (VhostUserDevice     *self,
                                    GInputStream        *source,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));
  g_return_if_fail (G_IS_INPUT_STREAM (source));
  vhost_user_device_queue_op (self, OP_LOAD_STATE, NULL, 0, FALSE, FALSE, G_OBJECT (source), cancellable, callback, user_data);
}

/**
 * vhost_user_device_load_state_finish:
 * @self: a device
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_device_load_state_async().
 *
 * Returns: %TRUE if the back-end took the state, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_load_state_finish (VhostUserDevice  *self,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  return vhost_user_device_op_finish (self, result, OP_LOAD_STATE, error);
}

/**
 * vhost_user_device_load_state:
 * @self: a device that is not running
 * @source: the state another back-end saved
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_device_load_state_async(). A load
 * that fails or is cancelled after the back-end took the pipe closes the
 * connection, unless the back-end refused the state at
 * `CHECK_DEVICE_STATE` (even after closing its end of the pipe early),
 * as vhost_user_device_load_state_async() says.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_load_state (VhostUserDevice  *self,
                              GInputStream     *source,
                              GCancellable     *cancellable,
                              GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (G_IS_INPUT_STREAM (source), FALSE);
  return vhost_user_device_run_blocking (self, OP_LOAD_STATE, NULL, 0, FALSE, G_OBJECT (source), cancellable, error);
}

/**
 * vhost_user_device_set_logging_async:
 * @self: a set-up device
 * @logging: whether the back-end logs its writes to guest memory
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Starts or stops dirty logging, as a migration's source does around its
 * pre-copy passes. On: a log of one bit per 4 KiB page of every region
 * (a memfd), `SET_LOG_BASE`, `SET_FEATURES` with `VHOST_F_LOG_ALL`, and
 * each running ring's `SET_VRING_ADDR` with the log flag and its used
 * ring's guest address. Off: the same undone. Needs `LOG_SHMFD` and a
 * back-end that offers `VHOST_F_LOG_ALL`. Logging survives a reconnect.
 * Read the log with vhost_user_device_take_dirty_log().
 *
 * Since: 1.0
 */
void
vhost_user_device_set_logging_async (VhostUserDevice     *self,
                                     gboolean             logging,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_return_if_fail (VHOST_USER_IS_DEVICE (self));
  vhost_user_device_queue_op (self, OP_LOG, NULL, 0, !!logging, FALSE, NULL, cancellable, callback, user_data);
}

/**
 * vhost_user_device_set_logging_finish:
 * @self: a device
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_device_set_logging_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_set_logging_finish (VhostUserDevice  *self,
                                      GAsyncResult     *result,
                                      GError          **error)
{
  return vhost_user_device_op_finish (self, result, OP_LOG, error);
}

/**
 * vhost_user_device_set_logging:
 * @self: a set-up device
 * @logging: whether the back-end logs its writes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of vhost_user_device_set_logging_async().
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_set_logging (VhostUserDevice  *self,
                               gboolean          logging,
                               GCancellable     *cancellable,
                               GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  return vhost_user_device_run_blocking (self, OP_LOG, NULL, 0, !!logging, NULL, cancellable, error);
}

/**
 * vhost_user_device_get_logging:
 * @self: a device
 *
 * Says whether dirty logging is on.
 *
 * Returns: %TRUE while the back-end logs its writes
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_get_logging (VhostUserDevice *self)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  return self->logging;
}

/**
 * vhost_user_device_take_dirty_log:
 * @self: a device
 *
 * Reads and clears the dirty log: bit n (of byte n / 8, least significant
 * first) says the back-end wrote guest-physical page n (4 KiB) since the
 * last call. Each 64-bit word is read and cleared in one atomic step, so
 * a write the back-end logs meanwhile is in this bitmap or the next,
 * never lost. Send the pages it names again.
 *
 * Returns: (transfer full) (nullable): the bitmap, or %NULL while
 *   logging is off (turning it off drops the log: take the last pass
 *   before)
 *
 * Since: 1.0
 */
GBytes *
vhost_user_device_take_dirty_log (VhostUserDevice *self)
{
  guint64 *copy;
  gsize words;

  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), NULL);

  if (self->log == NULL)
    return NULL;
  words = self->log_size / 8;
  copy = g_new (guint64, words);
  for (gsize i = 0; i < words; i++)
    copy[i] = __atomic_exchange_n (&self->log[i], 0, __ATOMIC_ACQ_REL);
  return g_bytes_new_take (copy, words * 8);
}

/**
 * vhost_user_device_dup_inflight:
 * @self: a device
 *
 * Copies the in-flight area the back-end keeps (`INFLIGHT_SHMFD`): on a
 * migration's source, after a stop with #VhostUserDevice:drain-on-stop
 * %FALSE, it holds the requests the back-end took and did not finish.
 * Give it to the destination's device with vhost_user_device_set_inflight().
 *
 * Returns: (transfer full) (nullable): the area's bytes, or %NULL when
 *   the device has none (or the back-end truncated it meanwhile)
 *
 * Since: 1.0
 */
GBytes *
vhost_user_device_dup_inflight (VhostUserDevice *self)
{
  guint8 *area;
  GBytes *copy;
  gpointer guard;

  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), NULL);

  if (self->inflight_fd < 0 || self->inflight_size == 0)
    return NULL;
  area = mmap (NULL, self->inflight_size + self->inflight_offset, PROT_READ, MAP_SHARED, self->inflight_fd, 0);
  if (area == MAP_FAILED)
    return NULL;
  /* the back-end's memfd: truncated under the copy, it would fault */
  guard = vhost_user_mapping_guard_add (area, self->inflight_size + self->inflight_offset, self->inflight_fd);
  copy = g_bytes_new (area + self->inflight_offset, self->inflight_size);
  if (vhost_user_mapping_guard_remove (guard) > 0)
    {
      g_message ("vhost-user device: the back-end truncated its in-flight area while it was copied");
      g_clear_pointer (&copy, g_bytes_unref);
    }
  munmap (area, self->inflight_size + self->inflight_offset);
  return copy;
}

/**
 * vhost_user_device_set_inflight:
 * @self: a device not set up yet
 * @contents: a source's in-flight area (vhost_user_device_dup_inflight())
 * @error: return location for a #GError
 *
 * On a migration's destination: the next setup writes @contents into the
 * in-flight area the back-end gives (`GET_INFLIGHT_FD`, for as many rings
 * of the same size as the source's) before any ring starts, so that the
 * back-end does the requests the source left in flight. The rings' bases
 * come from vhost_user_device_set_ring_base().
 *
 * Returns: %TRUE, or %FALSE with @error set (the device already has an
 *   area)
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_set_inflight (VhostUserDevice  *self,
                                GBytes           *contents,
                                GError          **error)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (contents != NULL, FALSE);

  if (self->inflight_fd >= 0 || self->busy)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "The device has an in-flight area already: set a source's before the first start");
      return FALSE;
    }
  g_clear_pointer (&self->inflight_contents, g_bytes_unref);
  self->inflight_contents = g_bytes_ref (contents);
  return TRUE;
}
