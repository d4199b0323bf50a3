/* blk-device.c: a vhost-user-blk device, as a VhostUserBackend subclass
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The subclass sets the offer (virtio-blk features, a config space with
 * capacity, block size and queue count) and overrides two requests to
 * show chaining up: every other request gets the library's default.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "blk-device.h"

struct _ExampleBlkDevice
{
  VhostUserBackend parent_instance;

  /* the disk: in memory, its first sector a label a guest can read;
   * or an image file mapped shared (mapped is then its length) */
  guint8          *disk;
  guint64          capacity;
  gsize            mapped;
  gboolean         read_only;
  guint            block_size;
  guint            num_queues;
};

#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

typedef struct {
  guint32 type;
  guint32 reserved;
  guint64 sector;
} BlkHeader;

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

/* One virtio-blk request: a header to read, data, a status byte to write
 * last. Whatever the driver sent, the disk is only touched within its
 * capacity. */
static guint
process_request (ExampleBlkDevice      *self,
                 VhostUserVringElement *e)
{
  BlkHeader header;
  guint8 status = VIRTIO_BLK_S_OK;
  gsize data_len, written = 0;
  guint64 offset;
  VhostUserVringBuffer *last;

  if (e->n_in == 0 || e->in[e->n_in - 1].len < 1 ||
      vhost_user_vring_element_copy_out (e, 0, (guint8 *) &header, sizeof header) != sizeof header)
    return 0;  /* not a request we can even answer */

  last = &e->in[e->n_in - 1];
  data_len = e->in_len - 1;  /* all but the status byte */

  switch (header.type)
    {
    case VIRTIO_BLK_T_IN:
      offset = header.sector * 512;
      if (header.sector > self->capacity / 512 || data_len > self->capacity - offset)
        status = VIRTIO_BLK_S_IOERR;
      else
        written = vhost_user_vring_element_write (e, 0, self->disk + offset, data_len);
      break;
    case VIRTIO_BLK_T_OUT:
      offset = header.sector * 512;
      data_len = e->out_len - sizeof header;
      if (self->read_only || header.sector > self->capacity / 512 || data_len > self->capacity - offset)
        status = VIRTIO_BLK_S_IOERR;
      else
        vhost_user_vring_element_copy_out (e, sizeof header, self->disk + offset, data_len);
      break;
    case VIRTIO_BLK_T_FLUSH:
      /* An image is on disk once msync() says so; a RAM disk has nowhere to go. */
      if (self->mapped > 0 && !self->read_only && msync (self->disk, self->mapped, MS_SYNC) < 0)
        status = VIRTIO_BLK_S_IOERR;
      break;
    case VIRTIO_BLK_T_GET_ID:
      {
        /* up to 20 bytes, NUL-padded only if shorter (virtio 1.2, 5.2.6) */
        static const char id[20] = "vhost-user-glib";

        written = vhost_user_vring_element_write (e, 0, (const guint8 *) id, MIN (data_len, sizeof id));
      }
      break;
    default:
      status = VIRTIO_BLK_S_UNSUPP;
      break;
    }

  ((guint8 *) last->base)[last->len - 1] = status;
  return written + 1;
}

static void
on_kick (VhostUserVring *vring,
         gpointer        user_data)
{
  ExampleBlkDevice *self = user_data;
  VhostUserVringElement element;
  g_autoptr(GError) error = NULL;
  gboolean pushed = FALSE;

  while (vhost_user_vring_pop (vring, &element, &error))
    {
      guint len = process_request (self, &element);

      if (!vhost_user_vring_push (vring, element.head, len, &error))
        break;
      pushed = TRUE;
    }
  if (error != NULL)
    g_message ("blk: queue %u: %s", vhost_user_vring_get_index (vring), error->message);
  if (pushed)
    vhost_user_vring_notify (vring, NULL);
}

/* Every ring gets the handler, whenever the rings are (re)made. */
static void
attach_handlers (ExampleBlkDevice *self)
{
  guint n = vhost_user_backend_get_num_queues (VHOST_USER_BACKEND (self));

  for (guint i = 0; i < n; i++)
    vhost_user_vring_set_kick_handler (vhost_user_backend_get_vring (VHOST_USER_BACKEND (self), i),
                                       on_kick, self, NULL);
}

static void
release_disk (ExampleBlkDevice *self)
{
  if (self->mapped > 0)
    munmap (self->disk, self->mapped);
  else
    g_free (self->disk);
  self->disk = NULL;
  self->mapped = 0;
}

static void
example_blk_device_finalize (GObject *object)
{
  ExampleBlkDevice *self = EXAMPLE_BLK_DEVICE (object);

  release_disk (self);
  G_OBJECT_CLASS (example_blk_device_parent_class)->finalize (object);
}

static void
example_blk_device_class_init (ExampleBlkDeviceClass *klass)
{
  VhostUserBackendClass *backend_class = VHOST_USER_BACKEND_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = example_blk_device_finalize;

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
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_MQ) |
                                   VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_INDIRECT_DESC) |
                                   VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX) |
                                   VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED));
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
static void
update_config (ExampleBlkDevice *self)
{
  VhostUserBackend *backend = VHOST_USER_BACKEND (self);
  guint8 config[BLK_CONFIG_SIZE] = { 0 };
  g_autoptr(GBytes) bytes = NULL;
  guint64 features = vhost_user_backend_get_features (backend) & ~VHOST_USER_FEATURE (VIRTIO_BLK_F_RO);

  put_le (config, BLK_CONFIG_CAPACITY, self->capacity / 512, 8);
  put_le (config, BLK_CONFIG_SEG_MAX, 126, 4);
  put_le (config, BLK_CONFIG_BLK_SIZE, self->block_size, 4);
  put_le (config, BLK_CONFIG_NUM_QUEUES, self->num_queues, 2);
  bytes = g_bytes_new (config, sizeof config);

  vhost_user_backend_set_config (backend, bytes);
  vhost_user_backend_set_features (backend, features | (self->read_only ? VHOST_USER_FEATURE (VIRTIO_BLK_F_RO) : 0));
  vhost_user_backend_set_num_queues (backend, self->num_queues);
  attach_handlers (self);
}

void
example_blk_device_set_geometry (ExampleBlkDevice *self,
                                 guint64           capacity_bytes,
                                 guint             block_size,
                                 guint             num_queues)
{
  /* a RAM disk whose first sector says what it is */
  release_disk (self);
  self->capacity = capacity_bytes - capacity_bytes % 512;
  self->disk = g_malloc0 (self->capacity);
  self->read_only = FALSE;
  memcpy (self->disk, EXAMPLE_BLK_LABEL, sizeof EXAMPLE_BLK_LABEL);
  self->block_size = block_size;
  self->num_queues = num_queues;
  update_config (self);
}

/* Serves @path instead of the RAM disk: the file is mapped shared, so
 * a write lands in the page cache at once and FLUSH is an msync(). The
 * capacity is the file's size rounded down to whole sectors. Whoever
 * shrinks the file under a running device gets what mmap gives (SIGBUS);
 * a device for production would use pread/pwrite or io_uring instead. */
gboolean
example_blk_device_set_image (ExampleBlkDevice  *self,
                              const char        *path,
                              gboolean           read_only,
                              GError           **error)
{
  struct stat st;
  guint64 size;
  void *map;
  int fd;

  fd = g_open (path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Opening %s: %s", path, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  size = (guint64) st.st_size - (guint64) st.st_size % 512;
  if (!S_ISREG (st.st_mode) || size == 0 || size > G_MAXSIZE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s is not a regular file of at least one sector", path);
      close (fd);
      return FALSE;
    }
  map = mmap (NULL, size, read_only ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close (fd);
  if (map == MAP_FAILED)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Mapping %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  release_disk (self);
  self->disk = map;
  self->mapped = size;
  self->capacity = size;
  self->read_only = read_only;
  update_config (self);
  return TRUE;
}

/* The disk's contents, for whoever wants to check what a guest wrote. */
GBytes *
example_blk_device_read (ExampleBlkDevice *self,
                         guint64           offset,
                         gsize             len)
{
  if (offset > self->capacity || len > self->capacity - offset)
    return NULL;
  return g_bytes_new (self->disk + offset, len);
}
