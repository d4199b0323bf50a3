/* vhost-user-device-log.c: the memory a migration moves besides the
 * guest's: the dirty log a device's back-end writes, and the source's
 * in-flight area put into the destination's
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Below the device's steps and its calls: they use these, and these use
 * only the front-end and the memory guard.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost-user-device-private.h"
#include "vhost-user-error.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-peer-fd-private.h"

void
vhost_user_device_drop_log (VhostUserDevice *self)
{
  if (self->log != NULL)
    munmap (self->log, self->log_size);
  self->log = NULL;
  if (self->log_fd >= 0)
    vhost_user_peer_fd_close (self->log_fd);
  self->log_fd = -1;
  self->log_size = 0;
}

/* A log covering every region: one bit per 4 KiB page of guest-physical
 * memory, in 64-bit words. Kept across reconnects (what was logged is
 * still to be sent). */
gboolean
vhost_user_device_make_log (VhostUserDevice  *self,
                            GError          **error)
{
  guint64 end = 0;
  gsize size;
  int fd;

  if (!acked_protocol (self, VHOST_USER_PROTOCOL_FEATURE_LOG_SHMFD))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                   "The back-end cannot log into shared memory (no LOG_SHMFD protocol feature)");
      return FALSE;
    }
  if (!(vhost_user_frontend_get_features (self->frontend) &
        VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL)))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FEATURE_MISMATCH,
                   "The back-end does not log its writes (no VHOST_F_LOG_ALL)");
      return FALSE;
    }
  for (guint i = 0; i < self->regions->len; i++)
    {
      VhostUserMemoryRegion *region = g_ptr_array_index (self->regions, i);

      end = MAX (end, vhost_user_memory_region_get_guest_phys_addr (region) +
                      vhost_user_memory_region_get_size (region));
    }
  size = (((end + 4095) / 4096 + 63) / 64) * 8;
  size = MAX (size, 8);
  if (self->log != NULL && self->log_size >= size)
    return TRUE;
  vhost_user_device_drop_log (self);
  /* sealed: the back-end gets the fd, and one that truncated it would
   * make the next vhost_user_device_take_dirty_log() die of SIGBUS (one
   * that sealed it against writes would keep the next back-end from
   * mapping it) */
  fd = memfd_create ("vhost-user-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate (fd, size) < 0 || fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
      (self->log = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
    {
      int saved = errno;

      self->log = NULL;
      if (fd >= 0)
        vhost_user_peer_fd_close (fd);
      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (saved), "The dirty log: %s",
                   g_strerror (saved));
      return FALSE;
    }
  self->log_fd = fd;
  self->log_size = size;
  return TRUE;
}

/* A migration's destination: the source's in-flight area goes into the
 * one this back-end just gave, before any ring starts. */
gboolean
vhost_user_device_fill_inflight (VhostUserDevice  *self,
                                 GError          **error)
{
  gsize size = g_bytes_get_size (self->inflight_contents);
  guint8 *area = MAP_FAILED;
  gpointer guard;
  guint faults;

  if (size != self->inflight_size)
    g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                 "The source's in-flight area has %" G_GSIZE_FORMAT " bytes; this back-end's has %"
                 G_GUINT64_FORMAT, size, self->inflight_size);
  else if ((area = mmap (NULL, size + self->inflight_offset, PROT_READ | PROT_WRITE, MAP_SHARED,
                         self->inflight_fd, 0)) == MAP_FAILED)
    {
      int saved = errno;

      g_set_error (error, VHOST_USER_ERROR, vhost_user_error_from_errno (saved), "The in-flight area: %s",
                   g_strerror (saved));
    }
  if (area == MAP_FAILED)
    {
      /* not this area: the next start asks for another, the source's
       * requests still to put in it */
      vhost_user_peer_fd_close (self->inflight_fd);
      self->inflight_fd = -1;
      return FALSE;
    }
  /* the back-end's memfd: truncated under the copy, it would fault */
  guard = vhost_user_mapping_guard_add (area, size + self->inflight_offset, self->inflight_fd);
  memcpy (area + self->inflight_offset, g_bytes_get_data (self->inflight_contents, NULL), size);
  faults = vhost_user_mapping_guard_remove (guard);
  munmap (area, size + self->inflight_offset);
  if (faults > 0)
    {
      g_set_error_literal (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                           "The back-end truncated its in-flight area while it was filled");
      vhost_user_peer_fd_close (self->inflight_fd);
      self->inflight_fd = -1;
      return FALSE;
    }
  g_clear_pointer (&self->inflight_contents, g_bytes_unref);
  return TRUE;
}
