/* test-migration-common.c: the fixture of the device-state tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-migration-common.h"

#define RING_SIZE   64

void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  gboolean packed = GPOINTER_TO_INT (data) == 2;
  g_autoptr(GError) error = NULL;
  int fd;

  f->dir = g_dir_make_tmp ("vhost-user-migration-XXXXXX", &error);
  g_assert_no_error (error);
  f->image = g_build_filename (f->dir, "disk.img", NULL);
  fd = g_open (f->image, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, IMAGE_MB << 20), ==, 0);
  g_close (fd, NULL);
  f->processes = g_ptr_array_new_with_free_func (g_object_unref);

  /* guest memory: the ring at 0, requests' buffers from 64 KiB */
  f->memory = vhost_user_memory_region_new_memfd (0, 4 << 20, &error);
  g_assert_no_error (error);
  f->mem = vhost_user_memory_region_get_host_addr (f->memory);
  f->ring = packed ? vhost_user_driver_ring_new_packed (f->memory, 0, RING_SIZE, &error) :
                    vhost_user_driver_ring_new (f->memory, 0, RING_SIZE, &error);
  g_assert_no_error (error);
}

void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  for (guint i = 0; i < f->processes->len; i++)
    {
      GSubprocess *p = g_ptr_array_index (f->processes, i);

      g_subprocess_force_exit (p);
      g_subprocess_wait (p, NULL, NULL);
    }
  g_ptr_array_unref (f->processes);
  g_clear_object (&f->ring);
  vhost_user_memory_region_unref (f->memory);
  {
    g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *path = g_build_filename (f->dir, name, NULL);

        g_unlink (path);
      }
  }
  g_free (f->image);
  g_rmdir (f->dir);
  g_free (f->dir);
}

VhostUserDevice *
device_for (Fixture    *f,
            const char *sock)
{
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  VhostUserDevice *device;

  g_assert_true (vhost_user_frontend_connect_to_path (frontend, sock, 5000, NULL, &error));
  g_assert_no_error (error);
  device = vhost_user_device_new (frontend, 1);
  vhost_user_device_set_features (device, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1));
  vhost_user_device_set_protocol_features (device, vhost_user_device_get_protocol_features (device) |
                                                   VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE);
  g_assert_true (vhost_user_device_set_ring (device, 0, f->ring, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_device_add_memory (device, f->memory, NULL, &error));
  g_assert_no_error (error);
  return device;
}
