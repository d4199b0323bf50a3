/* vhost-user-device-rings.c: a device's rings as the VMM configures them:
 * a driver ring in this process or addresses and eventfds of its own,
 * their fds and bases, and kicks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vhost-user-device.h"
#include "vhost-user-device-private.h"
#include "vhost-user-driver-ring-private.h"
#include "vhost-user-error.h"
#include "vhost-user-peer-fd-private.h"

static Ring *
ring_to_configure (VhostUserDevice *self,
                   guint            index,
                   GError         **error)
{
  if (index >= self->n_rings)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Ring %u: the device has %u rings", index, self->n_rings);
      return NULL;
    }
  if (self->state == VHOST_USER_DEVICE_STATE_RUNNING || self->busy)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Ring %u: a ring is configured while the device is stopped", index);
      return NULL;
    }
  return &self->rings[index];
}

static int
new_eventfd (GError **error)
{
  int fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (saved), "eventfd: %s",
                   g_strerror (saved));
    }
  return fd;
}

/**
 * vhost_user_device_set_ring:
 * @self: a stopped device
 * @index: the ring
 * @ring: a driver ring laid out in one of the device's memory regions
 * @error: return location for a #GError
 *
 * Runs ring @index on @ring, a driver in this process: its size,
 * addresses, layout and eventfds. A packed @ring makes the device want
 * `VIRTIO_F_RING_PACKED`; after a reconnect its base comes from @ring's
 * own positions.
 *
 * Returns: %TRUE, or %FALSE with @error set (no such ring, or the device
 *   is running)
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_set_ring (VhostUserDevice      *self,
                            guint                 index,
                            VhostUserDriverRing  *ring,
                            GError              **error)
{
  Ring *r;

  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (VHOST_USER_IS_DRIVER_RING (ring), FALSE);

  if ((r = ring_to_configure (self, index, error)) == NULL)
    return FALSE;
  /* the same ring again keeps its base: a VMM that sets its rings again
   * after a stop goes on where they stopped */
  if (r->driver != ring)
    r->base = vhost_user_driver_ring_get_packed (ring) ? 0x80008000 : 0;
  g_set_object (&r->driver, ring);
  r->size = vhost_user_driver_ring_get_size (ring);
  r->desc = vhost_user_driver_ring_get_desc_addr (ring);
  r->avail = vhost_user_driver_ring_get_avail_addr (ring);
  r->used = vhost_user_driver_ring_get_used_addr (ring);
  r->configured = TRUE;
  vhost_user_device_update_call_watches (self);
  return TRUE;
}

/**
 * vhost_user_device_set_ring_addresses:
 * @self: a stopped device
 * @index: the ring
 * @size: its size
 * @desc_user_addr: the descriptor table (packed: the ring), as a
 *   front-end address in one of the device's memory regions (an IOVA
 *   behind an IOMMU, see below)
 * @avail_user_addr: the available ring (packed: driver event area)
 * @used_user_addr: the used ring (packed: device event area)
 * @error: return location for a #GError
 *
 * Runs ring @index where a guest's driver put it. Unless
 * vhost_user_device_set_ring_fds() gave others, the ring gets kick and
 * call eventfds of the device's own (vhost_user_device_get_ring_kick_fd(),
 * vhost_user_device_get_ring_call_fd()). Behind the guest's IOMMU
 * (`VIRTIO_F_ACCESS_PLATFORM`) the addresses are the I/O virtual
 * addresses the guest's driver wrote, which the back-end translates
 * through its IOTLB like any buffer's.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_set_ring_addresses (VhostUserDevice  *self,
                                      guint             index,
                                      guint             size,
                                      guint64           desc_user_addr,
                                      guint64           avail_user_addr,
                                      guint64           used_user_addr,
                                      GError          **error)
{
  Ring *r;

  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);

  if ((r = ring_to_configure (self, index, error)) == NULL)
    return FALSE;
  if (size == 0 || size > 0x8000)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Ring %u: a ring holds 1 to 32768 descriptors, not %u", index, size);
      return FALSE;
    }
  if ((r->kick_fd < 0 && (r->kick_fd = new_eventfd (error)) < 0) ||
      (r->call_fd < 0 && (r->call_fd = new_eventfd (error)) < 0))
    return FALSE;
  g_clear_object (&r->driver);
  r->size = size;
  r->desc = desc_user_addr;
  r->avail = avail_user_addr;
  r->used = used_user_addr;
  r->configured = TRUE;
  vhost_user_device_update_call_watches (self);
  return TRUE;
}

/**
 * vhost_user_device_set_ring_fds:
 * @self: a stopped device
 * @index: a ring given by addresses
 * @kick_fd: the eventfd the driver kicks (a guest's ioeventfd), or -1
 *   for one of the device's own; borrowed: the device keeps a duplicate
 * @call_fd: the eventfd the back-end signals (a guest's irqfd), or -1
 *   for one of the device's own; borrowed
 * @error: return location for a #GError
 *
 * Gives the ring the eventfds a VMM wired to its guest.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_set_ring_fds (VhostUserDevice  *self,
                                guint             index,
                                int               kick_fd,
                                int               call_fd,
                                GError          **error)
{
  int fds[2] = { -1, -1 };
  const int given[2] = { kick_fd, call_fd };
  Ring *r;

  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);

  if ((r = ring_to_configure (self, index, error)) == NULL)
    return FALSE;
  if (r->driver != NULL)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "Ring %u runs on a driver ring, which has its own eventfds", index);
      return FALSE;
    }
  for (guint i = 0; i < 2; i++)
    {
      fds[i] = given[i] >= 0 ? fcntl (given[i], F_DUPFD_CLOEXEC, 3) : new_eventfd (error);
      if (fds[i] < 0)
        {
          int saved = errno;

          if (given[i] >= 0)
            g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (saved), "Ring %u: fd %d: %s",
                         index, given[i], g_strerror (saved));
          if (i == 1)
            vhost_user_peer_fd_close (fds[0]);
          return FALSE;
        }
    }
  if (r->kick_fd >= 0)
    vhost_user_peer_fd_close (r->kick_fd);
  if (r->call_fd >= 0)
    vhost_user_peer_fd_close (r->call_fd);
  r->kick_fd = fds[0];
  r->call_fd = fds[1];
  vhost_user_device_update_call_watches (self);
  return TRUE;
}

/**
 * vhost_user_device_get_ring_kick_fd:
 * @self: a device
 * @index: a configured ring
 *
 * The eventfd that kicks the ring: a VMM gives it to KVM as an ioeventfd
 * for the queue's notify address.
 *
 * Returns: the fd, the device's (or its driver ring's): valid while the
 *   ring is configured; dup() it to keep it. -1 for a ring not configured.
 *
 * Since: 1.0
 */
int
vhost_user_device_get_ring_kick_fd (VhostUserDevice *self,
                                    guint            index)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), -1);
  g_return_val_if_fail (index < self->n_rings, -1);
  return self->rings[index].configured ? ring_kick_fd (&self->rings[index]) : -1;
}

/**
 * vhost_user_device_get_ring_call_fd:
 * @self: a device
 * @index: a configured ring
 *
 * The eventfd the back-end signals when it used buffers: a VMM gives it
 * to KVM as an irqfd.
 *
 * Returns: the fd, the device's (or its driver ring's): valid while the
 *   ring is configured; dup() it to keep it. -1 for a ring not configured.
 *
 * Since: 1.0
 */
int
vhost_user_device_get_ring_call_fd (VhostUserDevice *self,
                                    guint            index)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), -1);
  g_return_val_if_fail (index < self->n_rings, -1);
  return self->rings[index].configured ? ring_call_fd (&self->rings[index]) : -1;
}

/**
 * vhost_user_device_get_ring_base:
 * @self: a device
 * @index: a ring
 *
 * The base the ring's next start gives the back-end: the one
 * vhost_user_device_stop() collected with `GET_VRING_BASE` (packed rings:
 * both halves, as the request carries them), or where it began.
 *
 * Returns: the base
 *
 * Since: 1.0
 */
guint
vhost_user_device_get_ring_base (VhostUserDevice *self,
                                 guint            index)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), 0);
  g_return_val_if_fail (index < self->n_rings, 0);
  return self->rings[index].base;
}

/**
 * vhost_user_device_get_ring_enabled:
 * @self: a device
 * @index: a ring
 *
 * Says whether a ring is enabled.
 *
 * Returns: whether the ring is (or will be, on start) enabled
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_get_ring_enabled (VhostUserDevice *self,
                                    guint            index)
{
  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (index < self->n_rings, FALSE);
  return self->rings[index].enabled;
}

/**
 * vhost_user_device_kick:
 * @self: a device
 * @index: a configured ring
 * @error: return location for a #GError
 *
 * Kicks the ring's eventfd, as a guest's notify would.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_kick (VhostUserDevice  *self,
                        guint             index,
                        GError          **error)
{
  int fd;

  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);

  fd = index < self->n_rings && self->rings[index].configured ? ring_kick_fd (&self->rings[index]) : -1;
  if (fd < 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "Ring %u is not configured", index);
      return FALSE;
    }
  if (!vhost_user_eventfd_signal (fd))
    {
      int saved = errno;

      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (saved), "Kicking ring %u: %s", index,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/**
 * vhost_user_device_set_ring_base:
 * @self: a stopped device
 * @index: a ring
 * @base: where the ring goes on from (packed rings: both halves, as
 *   `SET_VRING_BASE` carries them)
 * @error: return location for a #GError
 *
 * Sets the base the ring's next start gives the back-end: on a migration's
 * destination, the base the source's vhost_user_device_stop() collected.
 * Call it after vhost_user_device_set_ring(): a new driver ring starts
 * from its own beginning.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
vhost_user_device_set_ring_base (VhostUserDevice  *self,
                                 guint             index,
                                 guint             base,
                                 GError          **error)
{
  Ring *r;

  g_return_val_if_fail (VHOST_USER_IS_DEVICE (self), FALSE);

  if ((r = ring_to_configure (self, index, error)) == NULL)
    return FALSE;
  r->base = base;
  return TRUE;
}
