/* blk-device.c: a vhost-user-blk device, as a VhostUserBackend subclass
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The subclass sets the offer (virtio-blk features, a config space with
 * capacity, block size and queue count) and overrides two requests to
 * show chaining up: every other request gets the library's default.
 */

#include <string.h>

#include "blk-device.h"

struct _ExampleBlkDevice
{
  VhostUserBackend parent_instance;
};

G_DEFINE_FINAL_TYPE (ExampleBlkDevice, example_blk_device, VHOST_USER_TYPE_BACKEND)

static gboolean
example_blk_device_set_features (VhostUserBackend    *backend,
                                 VhostUserInvocation *invocation,
                                 guint64              features)
{
  g_message ("blk: driver acknowledged features 0x%" G_GINT64_MODIFIER "x%s%s%s", features,
             features & VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH) ? " flush" : "",
             features & VHOST_USER_FEATURE (VIRTIO_BLK_F_MQ) ? " mq" : "",
             features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES) ? " protocol-features" : "");
  return VHOST_USER_BACKEND_CLASS (example_blk_device_parent_class)->set_features (backend, invocation, features);
}

static gboolean
example_blk_device_get_config (VhostUserBackend    *backend,
                               VhostUserInvocation *invocation,
                               guint                offset,
                               guint                size,
                               guint                flags)
{
  g_message ("blk: front-end reads %u bytes of config at %u", size, offset);
  return VHOST_USER_BACKEND_CLASS (example_blk_device_parent_class)->get_config (backend, invocation,
                                                                                 offset, size, flags);
}

static void
example_blk_device_class_init (ExampleBlkDeviceClass *klass)
{
  VhostUserBackendClass *backend_class = VHOST_USER_BACKEND_CLASS (klass);

  backend_class->set_features = example_blk_device_set_features;
  backend_class->get_config = example_blk_device_get_config;
}

static void
example_blk_device_init (ExampleBlkDevice *self)
{
  VhostUserBackend *backend = VHOST_USER_BACKEND (self);

  vhost_user_backend_set_features (backend,
                                   vhost_user_backend_get_features (backend) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_SEG_MAX) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_BLK_SIZE) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_MQ));
  example_blk_device_set_geometry (self, 64 * 1024 * 1024, 512, 1);
}

static void
put_le (guint8  *config,
        gsize    offset,
        guint64  value,
        gsize    width)
{
  for (gsize i = 0; i < width; i++)
    config[offset + i] = (value >> (8 * i)) & 0xff;
}

/* The config space says it all: the capacity is in 512-byte sectors
 * whatever the block size. */
void
example_blk_device_set_geometry (ExampleBlkDevice *self,
                                 guint64           capacity_bytes,
                                 guint             block_size,
                                 guint             num_queues)
{
  guint8 config[BLK_CONFIG_SIZE] = { 0 };
  g_autoptr(GBytes) bytes = NULL;

  put_le (config, BLK_CONFIG_CAPACITY, capacity_bytes / 512, 8);
  put_le (config, BLK_CONFIG_SEG_MAX, 126, 4);
  put_le (config, BLK_CONFIG_BLK_SIZE, block_size, 4);
  put_le (config, BLK_CONFIG_NUM_QUEUES, num_queues, 2);
  bytes = g_bytes_new (config, sizeof config);

  vhost_user_backend_set_config (VHOST_USER_BACKEND (self), bytes);
  vhost_user_backend_set_num_queues (VHOST_USER_BACKEND (self), num_queues);
}
