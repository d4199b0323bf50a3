/* blk-device.h: a vhost-user-blk device, as a VhostUserBackend subclass
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <vhost-user-glib.h>

G_BEGIN_DECLS

#define EXAMPLE_TYPE_BLK_DEVICE (example_blk_device_get_type ())

G_DECLARE_FINAL_TYPE (ExampleBlkDevice, example_blk_device, EXAMPLE, BLK_DEVICE, VhostUserBackend)

/* virtio-blk feature bits this device offers */
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* the config space's fields (virtio 1.2, 5.2.4) */
#define BLK_CONFIG_CAPACITY                 0   /* le64, in 512-byte sectors */
#define BLK_CONFIG_SEG_MAX                  12  /* le32 */
#define BLK_CONFIG_BLK_SIZE                 20  /* le32 */
#define BLK_CONFIG_NUM_QUEUES               34  /* le16 */
#define BLK_CONFIG_MAX_DISCARD_SECTORS      36  /* le32 */
#define BLK_CONFIG_MAX_DISCARD_SEG          40  /* le32 */
#define BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT 44  /* le32 */
#define BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS 48  /* le32 */
#define BLK_CONFIG_MAX_WRITE_ZEROES_SEG     52  /* le32 */
#define BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP   56  /* u8 */
/* what the disk's first sector starts with */
#define EXAMPLE_BLK_LABEL "VHOST-USER-GLIB example disk"
/* room for every field a front-end may read, zero where unused */
#define BLK_CONFIG_SIZE        128

/* what one discard or write-zeroes request may ask for */
#define EXAMPLE_BLK_MAX_DISCARD_SECTORS 65536
#define EXAMPLE_BLK_MAX_DISCARD_SEG     32

GBytes *example_blk_device_read (ExampleBlkDevice *self,
                                 guint64           offset,
                                 gsize             len);
void example_blk_device_set_default_geometry (guint64 capacity_bytes,
                                              guint   block_size,
                                              guint   num_queues);
void example_blk_device_set_geometry (ExampleBlkDevice *self,
                                      guint64           capacity_bytes,
                                      guint             block_size,
                                      guint             num_queues);
gboolean example_blk_device_set_image (ExampleBlkDevice  *self,
                                       const char        *path,
                                       gboolean           read_only,
                                       GError           **error);
gboolean example_blk_device_take_image_fd (ExampleBlkDevice  *self,
                                           int                fd,
                                           const char        *name,
                                           gboolean           read_only,
                                           GError           **error);
gboolean example_blk_device_refresh_capacity (ExampleBlkDevice *self);
void example_blk_device_set_latency (ExampleBlkDevice *self,
                                     guint             latency_ms,
                                     guint             jitter_ms);
void example_blk_device_set_queue_threads (ExampleBlkDevice *self,
                                           gboolean          queue_threads);
void example_blk_device_set_quiet (ExampleBlkDevice *self,
                                   gboolean          quiet);
void example_blk_device_set_poll (ExampleBlkDevice *self,
                                  guint             poll_us);

G_END_DECLS
