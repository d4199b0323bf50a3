/* blk-device.c: a vhost-user-blk device, as a VhostUserBackend subclass
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The subclass sets the offer (virtio-blk features, a config space with
 * capacity, block size, queue count and the discard and write-zeroes
 * limits) and serves its queues: each ring's kick handler pops requests
 * and does the I/O with preadv()/pwritev() straight between the image
 * file and the driver's buffers, or with memcpy() on a RAM disk.
 *
 * Two knobs show what the library allows a device to do with its rings:
 * example_blk_device_set_queue_threads() serves each queue in a thread of
 * its own (the ring's kick handler runs in that thread's context), and
 * example_blk_device_set_latency() completes each request some time after
 * it was popped, as a slow disk would, so several are in flight at once.
 */

#include <errno.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "blk-device.h"

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

/* the one flag a discard or write-zeroes segment may carry */
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

/* how many used entries go back to the driver in one store of the index */
#define BATCH 64

typedef struct {
  guint32 type;
  guint32 reserved;
  guint64 sector;
} BlkHeader;

typedef struct {
  guint64 sector;
  guint32 num_sectors;
  guint32 flags;
} BlkSegment;

G_STATIC_ASSERT (sizeof (BlkHeader) == 16);
G_STATIC_ASSERT (sizeof (BlkSegment) == 16);

typedef struct _BlkRequest BlkRequest;
typedef struct _BlkQueue BlkQueue;

/* A request popped but not yet pushed (--latency): the element is popped
 * straight into its slot, so nothing is copied or allocated per request. */
struct _BlkRequest
{
  VhostUserVringElement element;
  guint                 len;         /* what the device wrote, for the used entry */
  gint64                due;         /* when to push it, monotonic µs */
  gint                  generation;  /* the ring's session it belongs to */
  BlkRequest           *next;
};

/* One queue: its ring, where it is served, and its requests in flight. */
struct _BlkQueue
{
  ExampleBlkDevice *device;
  VhostUserVring   *vring;
  guint             index;
  gulong            started_id;

  /* where the kick handler and the completions run: the back-end's
   * context, or with queue threads one of our own */
  GMainContext     *context;
  GMainLoop        *loop;
  GThread          *thread;

  /* synchronous completion: one element, reused */
  VhostUserVringElement *scratch;
  guint             heads[BATCH];
  guint             lens[BATCH];
  struct iovec     *iov;         /* VHOST_USER_VRING_MAX_IOV of them */

  /* asynchronous completion: a pool sized by the ring, the requests
   * waiting sorted by due time, one timer for the earliest */
  BlkRequest       *pool;
  guint             pool_size;
  guint             pool_fresh;  /* slots from here on were never used */
  BlkRequest       *free_list;
  BlkRequest       *pending;
  GSource          *timer;
  GRand            *rand;
  guint             n_pending;
  /* the most requests pending at once since the ring started, read where
   * the control plane runs */
  gint              max_pending;
  /* bumped whenever the ring stops: a request popped before belongs to
   * the session that stop ended. While the ring is stopped it is still
   * pushed (a GET_VRING_BASE waits for it; after a reset, or a stop that
   * did not wait, the ring refuses or drops it); once the ring has
   * started again it is handed back before anything is popped (see
   * drop_stale()), never where a request of the new session could have
   * its head */
  gint              generation;
};

struct _ExampleBlkDevice
{
  VhostUserBackend parent_instance;

  /* the disk: in memory, its first sector a label a guest can read; or
   * an image file read and written with preadv()/pwritev() */
  guint8          *ram;
  gsize            ram_size;
  int              fd;
  guint64          capacity;
  gboolean         read_only;
  guint            block_size;
  guint            num_queues;
  gboolean         quiet;         /* nothing said per front-end but errors */
  guint            poll_us;       /* each ring busy-polls this long after a kick */

  guint            latency_ms;
  guint            jitter_ms;
  gboolean         queue_threads;
  gboolean         constructed;
  GPtrArray       *queues;   /* of BlkQueue */
  /* a state transfer's copy: cancelled when the front-end goes, which
   * may keep its end of the pipe open (and the copy, and so us, alive);
   * NULL until a transfer starts */
  GCancellable    *state_cancellable;
};

G_DEFINE_FINAL_TYPE (ExampleBlkDevice, example_blk_device, VHOST_USER_TYPE_BACKEND)

static gboolean
example_blk_device_set_features (VhostUserBackend    *backend,
                                 VhostUserInvocation *invocation,
                                 guint64              features)
{
  if (!EXAMPLE_BLK_DEVICE (backend)->quiet)
    g_message ("blk: driver acknowledged features 0x%" G_GINT64_MODIFIER "x%s%s%s%s%s", features,
               features & VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH) ? " flush" : "",
               features & VHOST_USER_FEATURE (VIRTIO_BLK_F_MQ) ? " mq" : "",
               features & VHOST_USER_FEATURE (VIRTIO_BLK_F_DISCARD) ? " discard" : "",
               features & VHOST_USER_FEATURE (VIRTIO_BLK_F_WRITE_ZEROES) ? " write-zeroes" : "",
               features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES) ? " protocol-features" : "");
  return VHOST_USER_BACKEND_CLASS (example_blk_device_parent_class)->handle_set_features (backend, invocation, features);
}

static gboolean
example_blk_device_get_config (VhostUserBackend    *backend,
                               VhostUserInvocation *invocation,
                               guint                offset,
                               guint                size,
                               guint                flags)
{
  if (!EXAMPLE_BLK_DEVICE (backend)->quiet)
    g_message ("blk: front-end reads %u bytes of config at %u", size, offset);
  return VHOST_USER_BACKEND_CLASS (example_blk_device_parent_class)->handle_get_config (backend, invocation,
                                                                                        offset, size, flags);
}

/* --- the I/O --- */

/* @len bytes of @pieces from @skip on, as iovecs in @iov (empty pieces
 * left out); the caller knows they are there. */
static guint
slice (const VhostUserVringBuffer *pieces,
       guint                       n_pieces,
       gsize                       skip,
       gsize                       len,
       struct iovec               *iov)
{
  guint n = 0;

  for (guint i = 0; i < n_pieces && len > 0; i++)
    {
      gsize take;

      if (skip >= pieces[i].len)
        {
          skip -= pieces[i].len;
          continue;
        }
      take = MIN (pieces[i].len - skip, len);
      iov[n].iov_base = (guint8 *) pieces[i].base + skip;
      iov[n].iov_len = take;
      n++;
      len -= take;
      skip = 0;
    }
  return n;
}

/* All of @len bytes between @fd at @offset and @iov, however the kernel
 * splits the transfer. A read that meets the end of the file fails: the
 * image shrank under us, and zeros would be a lie. */
static gboolean
transfer (int           fd,
          gboolean      write,
          struct iovec *iov,
          guint         n,
          guint64       offset,
          gsize         len)
{
  while (len > 0)
    {
      ssize_t done = write ? pwritev (fd, iov, MIN (n, IOV_MAX), offset)
                           : preadv (fd, iov, MIN (n, IOV_MAX), offset);

      if (done < 0 && errno == EINTR)
        continue;
      if (done <= 0)
        return FALSE;
      offset += done;
      len -= done;
      while (done > 0)
        {
          if ((gsize) done >= iov->iov_len)
            {
              done -= iov->iov_len;
              iov++;
              n--;
            }
          else
            {
              iov->iov_base = (guint8 *) iov->iov_base + done;
              iov->iov_len -= done;
              done = 0;
            }
        }
    }
  return TRUE;
}

/* Zeros written the slow way, for files whose filesystem cannot zero or
 * punch a range. */
static gboolean
write_zeros (int     fd,
             guint64 offset,
             guint64 len)
{
  static const guint8 zeros[64 * 1024];

  while (len > 0)
    {
      ssize_t done = pwrite (fd, zeros, MIN (len, sizeof zeros), offset);

      if (done < 0 && errno == EINTR)
        continue;
      if (done <= 0)
        return FALSE;
      offset += done;
      len -= done;
    }
  return TRUE;
}

static gboolean
not_supported (int errsv)
{
  return errsv == EOPNOTSUPP || errsv == ENOSYS || errsv == EINVAL;
}

/* The RAM disk: anonymous memory, zero, nothing resident until written,
 * mapped when first read or written, so that a connection given an image
 * (or doing no I/O) maps nothing. Its first sector says what it is.
 * Queue threads may race here: one mapping wins. */
static guint8 *
ram (ExampleBlkDevice *self)
{
  guint8 *map = g_atomic_pointer_get (&self->ram);

  if (G_LIKELY (map != NULL))
    return map;
  map = mmap (NULL, self->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED)
    g_error ("blk: a RAM disk of %" G_GSIZE_FORMAT " bytes: %s", self->ram_size, g_strerror (errno));
  memcpy (map, EXAMPLE_BLK_LABEL, sizeof EXAMPLE_BLK_LABEL);
  if (!g_atomic_pointer_compare_and_exchange (&self->ram, NULL, map))
    {
      munmap (map, self->ram_size);
      map = g_atomic_pointer_get (&self->ram);
    }
  return map;
}

/* The capacity, as the queues read it: SIGHUP may change it in the
 * control plane's thread while queue threads serve (--queue-threads). */
static guint64
capacity_of (ExampleBlkDevice *self)
{
  return __atomic_load_n (&self->capacity, __ATOMIC_RELAXED);
}

/* One segment of a discard or write-zeroes request, checked already.
 * Afterwards the range reads as zeros either way: a discard may punch a
 * hole; a write-zeroes punches one only when the driver allowed it
 * (unmap), else zeroes the range in place, else writes zeros. */
static gboolean
zero_range (ExampleBlkDevice *self,
            gboolean          discard,
            gboolean          unmap,
            guint64           offset,
            guint64           len)
{
  /* checked again all the same: a range that escapes is a memset
   * anywhere in this process, or an image file grown by terabytes */
  guint64 end = self->fd < 0 ? self->ram_size : capacity_of (self);

  if (offset > end || len > end - offset)
    return FALSE;
  if (self->fd < 0)
    {
      memset (ram (self) + offset, 0, len);
      return TRUE;
    }
  if (discard || unmap)
    {
      if (fallocate (self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len) == 0)
        return TRUE;
      if (!not_supported (errno))
        return FALSE;
    }
  if (fallocate (self->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, len) == 0)
    return TRUE;
  if (!not_supported (errno))
    return FALSE;
  return write_zeros (self->fd, offset, len);
}

/* A discard or write-zeroes request: every segment is checked before any
 * is carried out, so a bad one leaves the disk as it was. The segments
 * are copied out of guest memory once and the copy is what is checked
 * and carried out: the driver's buffers are shared, and a vCPU may
 * rewrite a segment checked already while those before it are zeroed. */
static guint8
discard_or_zero (ExampleBlkDevice      *self,
                 VhostUserVringElement *e,
                 gboolean               discard)
{
  BlkSegment segs[EXAMPLE_BLK_MAX_DISCARD_SEG];
  gsize payload = e->out_len - sizeof (BlkHeader);
  /* a gsize: out_len may pass 2^36 (a descriptor repeated), and the
   * count must not wrap into a small one that passes */
  gsize count = payload / sizeof (BlkSegment);
  guint64 sectors = capacity_of (self) / 512;
  guint n;

  if (self->read_only)
    return VIRTIO_BLK_S_UNSUPP;  /* the feature is not offered */
  if (payload % sizeof (BlkSegment) != 0 || count == 0 || count > EXAMPLE_BLK_MAX_DISCARD_SEG)
    return VIRTIO_BLK_S_IOERR;
  n = count;
  if (vhost_user_vring_element_copy_out (e, sizeof (BlkHeader), (guint8 *) segs, n * sizeof (BlkSegment)) !=
      n * sizeof (BlkSegment))
    return VIRTIO_BLK_S_IOERR;

  for (guint i = 0; i < n; i++)
    {
      guint64 sector = GUINT64_FROM_LE (segs[i].sector);
      guint32 num = GUINT32_FROM_LE (segs[i].num_sectors);
      guint32 flags = GUINT32_FROM_LE (segs[i].flags);

      /* unknown flags, and unmap on a discard, are not ours to guess at
       * (virtio 1.2, 5.2.6.2) */
      if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0 || (discard && flags != 0))
        return VIRTIO_BLK_S_UNSUPP;
      if (num > EXAMPLE_BLK_MAX_DISCARD_SECTORS || num > sectors || sector > sectors - num)
        return VIRTIO_BLK_S_IOERR;
    }
  for (guint i = 0; i < n; i++)
    {
      guint64 sector = GUINT64_FROM_LE (segs[i].sector);
      guint32 num = GUINT32_FROM_LE (segs[i].num_sectors);
      guint32 flags = GUINT32_FROM_LE (segs[i].flags);

      if (num > 0 && !zero_range (self, discard, (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0,
                                  sector * 512, (guint64) num * 512))
        return VIRTIO_BLK_S_IOERR;
    }
  return VIRTIO_BLK_S_OK;
}

/* One virtio-blk request: a header to read, data, a status byte to write
 * last. Whatever the driver sent, the disk is only touched within its
 * capacity. Returns the bytes written for the driver (the used length),
 * or 0 for a request with no byte to write a status to. */
static guint
process_request (BlkQueue              *q,
                 VhostUserVringElement *e)
{
  ExampleBlkDevice *self = q->device;
  BlkHeader header;
  guint8 status = VIRTIO_BLK_S_OK;
  gsize data_len, written = 0;
  guint64 sector, offset, capacity;
  VhostUserVringBuffer *last;
  guint n;

  if (e->n_in == 0 || e->in[e->n_in - 1].len < 1)
    return 0;  /* nowhere to say anything */
  last = &e->in[e->n_in - 1];
  if (vhost_user_vring_element_copy_out (e, 0, (guint8 *) &header, sizeof header) != sizeof header)
    {
      /* what it asks is unknown, but that it failed can be said: a
       * driver waits on its status byte */
      ((guint8 *) last->base)[last->len - 1] = VIRTIO_BLK_S_IOERR;
      return 1;
    }
  sector = GUINT64_FROM_LE (header.sector);

  switch (GUINT32_FROM_LE (header.type))
    {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
      {
        gboolean write = GUINT32_FROM_LE (header.type) == VIRTIO_BLK_T_OUT;

        data_len = write ? e->out_len - sizeof header : e->in_len - 1;  /* less the status byte */
        offset = sector * 512;
        capacity = capacity_of (self);
        if ((write && self->read_only) || data_len % 512 != 0 ||
            sector > capacity / 512 || data_len > capacity - offset)
          {
            status = VIRTIO_BLK_S_IOERR;
            break;
          }
        if (self->fd < 0)
          {
            if (write)
              vhost_user_vring_element_copy_out (e, sizeof header, ram (self) + offset, data_len);
            else
              written = vhost_user_vring_element_write (e, 0, ram (self) + offset, data_len);
            break;
          }
        n = write ? slice (e->out, e->n_out, sizeof header, data_len, q->iov)
                  : slice (e->in, e->n_in, 0, data_len, q->iov);
        if (!transfer (self->fd, write, q->iov, n, offset, data_len))
          status = VIRTIO_BLK_S_IOERR;
        else if (!write)
          written = data_len;
      }
      break;
    case VIRTIO_BLK_T_FLUSH:
      /* a RAM disk has nowhere to go */
      if (self->fd >= 0 && !self->read_only && fdatasync (self->fd) < 0)
        status = VIRTIO_BLK_S_IOERR;
      break;
    case VIRTIO_BLK_T_GET_ID:
      {
        /* up to 20 bytes, NUL-padded only if shorter (virtio 1.2, 5.2.6) */
        static const char id[20] = "vhost-user-glib";

        written = vhost_user_vring_element_write (e, 0, (const guint8 *) id, MIN (e->in_len - 1, sizeof id));
      }
      break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
      status = discard_or_zero (self, e, GUINT32_FROM_LE (header.type) == VIRTIO_BLK_T_DISCARD);
      break;
    default:
      status = VIRTIO_BLK_S_UNSUPP;
      break;
    }

  ((guint8 *) last->base)[last->len - 1] = status;
  /* the used length has 32 bits: a read of 4 GiB or more reports less
   * than it wrote, as a device may, not its length wrapped */
  return MIN (written, (gsize) G_MAXUINT32 - 1) + 1;
}

/* --- serving a queue --- */

/* The first @n of q->heads and q->lens as one batch; if the ring refuses
 * the batch whole (one of them it does not take), it hands nothing back,
 * and each goes again on its own: the others are the driver's all the
 * same, and one refused on its own is done with. Returns whether any
 * reached the driver. */
static gboolean
push_some (BlkQueue *q,
           guint     n)
{
  g_autoptr(GError) error = NULL;
  gboolean pushed = FALSE;

  if (n == 0)
    return FALSE;
  if (vhost_user_vring_push_batch (q->vring, q->heads, q->lens, n, &error))
    return TRUE;
  g_message ("blk: queue %u: %s", vhost_user_vring_get_index (q->vring), error->message);
  for (guint i = 0; n > 1 && i < n; i++)
    pushed |= vhost_user_vring_push (q->vring, q->heads[i], q->lens[i], NULL);
  return pushed;
}

static void
notify (BlkQueue *q)
{
  g_autoptr(GError) error = NULL;

  if (!vhost_user_vring_call (q->vring, &error))
    g_message ("blk: queue %u: %s", vhost_user_vring_get_index (q->vring), error->message);
}

/* Every request there is, done and pushed now. */
static void
serve_now (BlkQueue *q)
{
  g_autoptr(GError) error = NULL;
  gboolean pushed = FALSE;
  guint n = 0;

  while (vhost_user_vring_pop (q->vring, q->scratch, &error))
    {
      q->heads[n] = q->scratch->head;
      q->lens[n] = process_request (q, q->scratch);
      if (++n == BATCH)
        {
          gboolean ok = push_some (q, n);

          n = 0;
          /* the batches pushed before are the driver's all the same,
           * and it is told of them below */
          if (!ok)
            break;
          pushed = TRUE;
        }
    }
  if (error != NULL)
    g_message ("blk: queue %u: %s", vhost_user_vring_get_index (q->vring), error->message);
  if (push_some (q, n))
    pushed = TRUE;
  if (pushed)
    notify (q);
}

/* The pool holds as many requests as the ring has descriptors, so it is
 * never the limit. It is (re)made while nothing is pending: a ring's size
 * changes only while it is stopped, and a stop waits for every request
 * popped to be pushed. */
static void
ensure_pool (BlkQueue *q)
{
  guint size = vhost_user_vring_get_size (q->vring);

  if (q->pool_size >= size || q->pending != NULL)
    return;
  g_free (q->pool);
  q->pool = g_new0 (BlkRequest, size);
  q->pool_size = size;
  q->pool_fresh = 0;
  q->free_list = NULL;
}

/* The slot the next request goes to: one freed, else the first never
 * used. Slots are taken in order, never threaded through all at once:
 * the pool is calloc'd, and a slot holds a whole element (8 KiB), so a
 * ring of 32768 entries costs the pages of the requests it had in
 * flight, not 128 MiB. */
static BlkRequest *
next_slot (BlkQueue *q)
{
  if (q->free_list != NULL)
    return q->free_list;
  return q->pool_fresh < q->pool_size ? &q->pool[q->pool_fresh] : NULL;
}

static void
take_slot (BlkQueue   *q,
           BlkRequest *req)
{
  if (req == q->free_list)
    q->free_list = req->next;
  else
    q->pool_fresh++;
}

/* The requests of a session that ended, handed back at the first look
 * at the ring in the next, before anything of it is popped: the ring
 * refuses them (none of their heads is out) and so learns that their
 * buffers are no longer in use, and none can complete a request of the
 * new session that got the same head. */
static void
drop_stale (BlkQueue *q,
            gint      generation)
{
  BlkRequest **at = &q->pending;

  while (*at != NULL)
    {
      BlkRequest *req = *at;

      if (req->generation == generation)
        {
          at = &req->next;
          continue;
        }
      *at = req->next;
      q->n_pending--;
      vhost_user_vring_push (q->vring, req->element.head, req->len, NULL);
      req->next = q->free_list;
      q->free_list = req;
    }
}

static void
arm_timer (BlkQueue *q)
{
  g_source_set_ready_time (q->timer, q->pending != NULL ? q->pending->due : -1);
}

/* Every request there is, done now and pushed when its time comes. The
 * I/O happens at once, the answer is what is late: the driver sees a
 * slow disk, and several requests in flight. */
static void
serve_later (BlkQueue *q)
{
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_monotonic_time ();
  gint generation = g_atomic_int_get (&q->generation);
  BlkRequest *req;

  if (vhost_user_vring_get_started (q->vring))
    drop_stale (q, generation);
  ensure_pool (q);
  /* seeded per queue, made when first wanted: a setup does not pay for it */
  if (q->device->jitter_ms > 0 && q->rand == NULL)
    q->rand = g_rand_new_with_seed (q->index + 1);
  while ((req = next_slot (q)) != NULL && vhost_user_vring_pop (q->vring, &req->element, &error))
    {
      BlkRequest **at = &q->pending;
      gint64 delay = q->device->latency_ms;
      gint latest = g_atomic_int_get (&q->generation);
      gboolean before_stop = FALSE;

      if (latest != generation)
        {
          /* (--queue-threads) the ring stopped since the generation was
           * read, and may have started again. A request popped after the
           * restart is the new session's, its head perhaps one an old
           * request holds: the ring takes it back, and the new session
           * pops it again. One popped before the stop it does not take
           * back (a stop ends what can be): it is the ended session's,
           * done and labelled so like those popped before it. */
          if (vhost_user_vring_unpop (q->vring, req->element.head, NULL))
            {
              generation = latest;
              if (vhost_user_vring_get_started (q->vring))
                drop_stale (q, generation);
              continue;
            }
          before_stop = TRUE;
        }
      take_slot (q, req);
      req->len = process_request (q, &req->element);
      req->generation = generation;
      if (q->device->jitter_ms > 0)
        delay += g_rand_int_range (q->rand, -(gint32) q->device->jitter_ms, q->device->jitter_ms + 1);
      req->due = now + MAX (delay, 0) * G_TIME_SPAN_MILLISECOND;
      /* sorted by due time, in pop order among equals */
      while (*at != NULL && (*at)->due <= req->due)
        at = &(*at)->next;
      req->next = *at;
      *at = req;
      if ((gint) ++q->n_pending > g_atomic_int_get (&q->max_pending))
        g_atomic_int_set (&q->max_pending, q->n_pending);
      if (before_stop)
        {
          generation = latest;
          if (vhost_user_vring_get_started (q->vring))
            drop_stale (q, generation);
        }
    }
  if (error != NULL)
    g_message ("blk: queue %u: %s", vhost_user_vring_get_index (q->vring), error->message);
  arm_timer (q);
}

static gboolean
on_timer (gpointer user_data)
{
  BlkQueue *q = user_data;
  gint64 now = g_get_monotonic_time ();
  gint generation = g_atomic_int_get (&q->generation);
  gboolean was_full = next_slot (q) == NULL, pushed = FALSE;
  guint n = 0;

  while (q->pending != NULL && q->pending->due <= now)
    {
      BlkRequest *req = q->pending;

      q->pending = req->next;
      q->n_pending--;
      if (req->generation == generation)
        {
          q->heads[n] = req->element.head;
          q->lens[n] = req->len;
          if (++n == BATCH)
            {
              pushed |= push_some (q, n);
              n = 0;
            }
        }
      else
        {
          /* of a session that ended, the ring stopped since: a ring
           * draining for GET_VRING_BASE takes it, one reset refuses it.
           * On its own, as the ring may refuse it, and with its length
           * for the first case. (Had the ring started again, nothing of
           * the new session was popped yet: see drop_stale().) */
          pushed |= vhost_user_vring_push (q->vring, req->element.head, req->len, NULL);
        }
      req->next = q->free_list;
      q->free_list = req;
    }
  if (n > 0)
    pushed |= push_some (q, n);
  if (pushed)
    notify (q);
  arm_timer (q);
  /* requests left on the ring while the pool was empty: no kick will
   * come for them */
  if (was_full && vhost_user_vring_get_started (q->vring))
    serve_later (q);
  return G_SOURCE_CONTINUE;
}

static gboolean
timer_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs timer_funcs = { NULL, NULL, timer_dispatch, NULL, NULL, NULL };

static void
on_kick (VhostUserVring *vring,
         gpointer        user_data)
{
  BlkQueue *q = user_data;

  if (q->device->latency_ms > 0 || q->device->jitter_ms > 0)
    serve_later (q);
  else
    serve_now (q);
}

/* Emitted where the control plane runs; the queue may be elsewhere, so
 * only an atomic. */
static void
on_started (VhostUserVring *vring,
            GParamSpec     *pspec,
            gpointer        user_data)
{
  BlkQueue *q = user_data;
  gint most;

  if (vhost_user_vring_get_started (vring))
    return;
  /* the session is over: see BlkQueue.generation */
  g_atomic_int_inc (&q->generation);
  /* what a driver really kept in flight, for whoever tests one */
  most = g_atomic_int_and (&q->max_pending, 0);
  if (most > 0 && !q->device->quiet)
    g_message ("blk: queue %u stopped; up to %d requests were in flight at once",
               vhost_user_vring_get_index (vring), most);
}

static gpointer
queue_thread (gpointer data)
{
  BlkQueue *q = data;

  g_main_context_push_thread_default (q->context);
  g_main_loop_run (q->loop);
  g_main_context_pop_thread_default (q->context);
  return NULL;
}

static BlkQueue *
queue_new (ExampleBlkDevice *self,
           guint             index)
{
  VhostUserBackend *backend = VHOST_USER_BACKEND (self);
  BlkQueue *q = g_new0 (BlkQueue, 1);

  q->device = self;
  q->vring = g_object_ref (vhost_user_backend_get_vring (backend, index));
  q->index = index;
  /* 8 KiB and 16 KiB that every pop fills in before use: not zeroed
   * (a queue is made per ring per connection) */
  q->scratch = g_new (VhostUserVringElement, 1);
  q->iov = g_new (struct iovec, VHOST_USER_VRING_MAX_IOV);

  if (self->queue_threads)
    {
      g_autofree char *name = g_strdup_printf ("blk-queue-%u", index);

      q->context = g_main_context_new ();
      q->loop = g_main_loop_new (q->context, FALSE);
      q->thread = g_thread_new (name, queue_thread, q);
      vhost_user_vring_set_context (q->vring, q->context);
    }
  else
    q->context = g_main_context_ref (vhost_user_backend_get_main_context (backend));

  q->timer = g_source_new (&timer_funcs, sizeof (GSource));
  g_source_set_static_name (q->timer, "blk latency");
  g_source_set_callback (q->timer, on_timer, q, NULL);
  g_source_attach (q->timer, q->context);

  vhost_user_vring_set_poll_window (q->vring, self->poll_us);
  q->started_id = g_signal_connect (q->vring, "notify::started", G_CALLBACK (on_started), q);
  vhost_user_vring_set_kick_handler (q->vring, on_kick, q, NULL);
  return q;
}

/* Nothing of ours runs once this returns: the kick watch and the timer
 * are gone and the thread has been joined. Requests still pending are
 * dropped: the ring they came from is being torn down. */
static gboolean
quit_queue_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
queue_free (BlkQueue *q)
{
  vhost_user_vring_set_kick_handler (q->vring, NULL, NULL, NULL);
  g_signal_handler_disconnect (q->vring, q->started_id);
  if (q->thread != NULL)
    {
      vhost_user_vring_set_context (q->vring, NULL);
      /* from inside the loop: a quit before the thread entered
       * g_main_loop_run() would be lost, and the join wait for ever */
      g_main_context_invoke_full (q->context, G_PRIORITY_HIGH, quit_queue_loop, g_main_loop_ref (q->loop),
                                  (GDestroyNotify) g_main_loop_unref);
      g_thread_join (q->thread);
      g_main_loop_unref (q->loop);
    }
  /* only now: the queue's thread may have been in the timer's dispatch,
   * which sets the timer's next time */
  g_source_destroy (q->timer);
  g_source_unref (q->timer);
  g_main_context_unref (q->context);
  g_object_unref (q->vring);
  g_clear_pointer (&q->rand, g_rand_free);
  g_free (q->scratch);
  g_free (q->iov);
  g_free (q->pool);
  g_free (q);
}

/* Every ring gets a queue, whenever the rings or how they are served
 * change (only while no front-end is connected). */
static void
rebuild_queues (ExampleBlkDevice *self)
{
  guint n = vhost_user_backend_get_num_queues (VHOST_USER_BACKEND (self));
  gboolean same = self->constructed && self->queues->len == n;

  /* each setter of a connection's setup calls this: the queues are made
   * again only when they would differ (their number, their rings, how
   * they are served) */
  for (guint i = 0; same && i < n; i++)
    {
      BlkQueue *q = g_ptr_array_index (self->queues, i);

      same = q->vring == vhost_user_backend_get_vring (VHOST_USER_BACKEND (self), i) &&
             (q->thread != NULL) == self->queue_threads;
    }
  if (same)
    return;
  g_ptr_array_set_size (self->queues, 0);
  /* the back-end knows its context once constructed */
  if (!self->constructed)
    return;
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (self->queues, queue_new (self, i));
}

static void
release_disk (ExampleBlkDevice *self)
{
  if (self->ram != NULL)
    munmap (self->ram, self->ram_size);
  self->ram = NULL;
  if (self->fd >= 0)
    g_close (self->fd, NULL);
  self->fd = -1;
}

/* --- migration: the device's own state ---
 *
 * What a destination must agree on before it serves the disk: the
 * geometry the driver was told (capacity, block size, queues) and the
 * config space as the driver left it. Little-endian, versioned:
 *   "VUGBLK\0\0", u32 version (1), u32 block size, u64 capacity,
 *   u32 queues, u32 config length, the config bytes. */

#define STATE_MAGIC   "VUGBLK\0\0"
#define STATE_HEADER  (8 + 4 + 4 + 8 + 4 + 4)

static void
state_written (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(VhostUserBackend) backend = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    vhost_user_backend_fail_state_transfer (backend, error);
  /* the close says the state is complete (or failed) */
  g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
}

/* Made for a transfer (most connections have none), dropped when the
 * front-end goes. */
static GCancellable *
state_cancellable (ExampleBlkDevice *self)
{
  if (self->state_cancellable == NULL)
    self->state_cancellable = g_cancellable_new ();
  return self->state_cancellable;
}

static gboolean
on_save_state (VhostUserBackend *backend,
               GOutputStream    *stream,
               guint             phase,
               gpointer          user_data)
{
  ExampleBlkDevice *self = EXAMPLE_BLK_DEVICE (backend);
  GBytes *config = vhost_user_backend_get_config (backend);
  GByteArray *state = g_byte_array_new ();
  guint32 u32;
  guint64 u64;
  gsize len;

  g_byte_array_append (state, (const guint8 *) STATE_MAGIC, 8);
  u32 = GUINT32_TO_LE (1);
  g_byte_array_append (state, (guint8 *) &u32, 4);
  u32 = GUINT32_TO_LE (self->block_size);
  g_byte_array_append (state, (guint8 *) &u32, 4);
  u64 = GUINT64_TO_LE (self->capacity);
  g_byte_array_append (state, (guint8 *) &u64, 8);
  u32 = GUINT32_TO_LE (self->num_queues);
  g_byte_array_append (state, (guint8 *) &u32, 4);
  len = config != NULL ? g_bytes_get_size (config) : 0;
  u32 = GUINT32_TO_LE (len);
  g_byte_array_append (state, (guint8 *) &u32, 4);
  if (len > 0)
    g_byte_array_append (state, g_bytes_get_data (config, NULL), len);

  g_message ("blk: saving the device's state (%u bytes)", state->len);
  /* async: the front-end reads the pipe while we write it */
  g_output_stream_write_all_async (stream, state->data, state->len, G_PRIORITY_DEFAULT, state_cancellable (self),
                                   state_written, g_object_ref (backend));
  g_object_set_data_full (G_OBJECT (stream), "state", state, (GDestroyNotify) g_byte_array_unref);
  return TRUE;
}

/* Checks the saved state against this disk, and takes its config. */
static gboolean
apply_state (ExampleBlkDevice  *self,
             GBytes            *state,
             GError           **error)
{
  gsize size;
  const guint8 *p = g_bytes_get_data (state, &size);
  guint32 version, block_size, queues, config_len;
  guint64 capacity;

  if (size < STATE_HEADER || memcmp (p, STATE_MAGIC, 8) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "Not the state of a vhost-user-glib blk device");
      return FALSE;
    }
  memcpy (&version, p + 8, 4);
  memcpy (&block_size, p + 12, 4);
  memcpy (&capacity, p + 16, 8);
  memcpy (&queues, p + 24, 4);
  memcpy (&config_len, p + 28, 4);
  version = GUINT32_FROM_LE (version);
  block_size = GUINT32_FROM_LE (block_size);
  capacity = GUINT64_FROM_LE (capacity);
  queues = GUINT32_FROM_LE (queues);
  config_len = GUINT32_FROM_LE (config_len);
  if (version != 1 || config_len != size - STATE_HEADER)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "State version %u of %" G_GSIZE_FORMAT
                   " bytes: this device reads version 1", version, size);
      return FALSE;
    }
  if (capacity != self->capacity || block_size != self->block_size || queues != self->num_queues)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The saved device served %" G_GUINT64_FORMAT " bytes in %u-byte blocks on %u queues; this one "
                   "serves %" G_GUINT64_FORMAT " bytes in %u-byte blocks on %u queues",
                   capacity, block_size, queues, self->capacity, self->block_size, self->num_queues);
      return FALSE;
    }
  if (config_len > 0)
    {
      g_autoptr(GBytes) config = g_bytes_new (p + STATE_HEADER, config_len);

      vhost_user_backend_set_config (VHOST_USER_BACKEND (self), config);
    }
  return TRUE;
}

static void
state_read (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(ExampleBlkDevice) self = user_data;
  GOutputStream *memory = G_OUTPUT_STREAM (source);
  g_autoptr(GInputStream) stream = g_object_steal_data (G_OBJECT (memory), "from");
  g_autoptr(GError) error = NULL;

  if (g_output_stream_splice_finish (memory, result, &error) >= 0)
    {
      g_autoptr(GBytes) state = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (memory));

      if (apply_state (self, state, &error))
        g_message ("blk: loaded the device's state (%" G_GSIZE_FORMAT " bytes)", g_bytes_get_size (state));
    }
  if (error != NULL)
    {
      g_message ("blk: refusing the device's state: %s", error->message);
      vhost_user_backend_fail_state_transfer (VHOST_USER_BACKEND (self), error);
    }
  g_input_stream_close (stream, NULL, NULL);
  g_object_unref (memory);
}

static gboolean
on_load_state (VhostUserBackend *backend,
               GInputStream     *stream,
               guint             phase,
               gpointer          user_data)
{
  /* a state is a few hundred bytes: a front-end that streams more is
   * not sending one, and is not let fill our memory */
  GOutputStream *memory = g_memory_output_stream_new (g_malloc (64 * 1024), 64 * 1024, NULL, g_free);

  /* read to the end: the front-end's close of its end of the pipe */
  g_object_set_data_full (G_OBJECT (memory), "from", g_object_ref (stream), g_object_unref);
  g_output_stream_splice_async (memory, stream, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, G_PRIORITY_DEFAULT,
                                state_cancellable (EXAMPLE_BLK_DEVICE (backend)), state_read, g_object_ref (backend));
  return TRUE;
}

static void
example_blk_device_disconnected (VhostUserBackend *backend,
                                 const GError     *error,
                                 gboolean          should_reconnect)
{
  ExampleBlkDevice *self = EXAMPLE_BLK_DEVICE (backend);

  if (self->state_cancellable != NULL)
    {
      g_cancellable_cancel (self->state_cancellable);
      g_clear_object (&self->state_cancellable);
    }
  VHOST_USER_BACKEND_CLASS (example_blk_device_parent_class)->disconnected (backend, error, should_reconnect);
}

static void
example_blk_device_constructed (GObject *object)
{
  ExampleBlkDevice *self = EXAMPLE_BLK_DEVICE (object);

  G_OBJECT_CLASS (example_blk_device_parent_class)->constructed (object);
  self->constructed = TRUE;
  rebuild_queues (self);
}

static void
example_blk_device_dispose (GObject *object)
{
  ExampleBlkDevice *self = EXAMPLE_BLK_DEVICE (object);

  /* before the back-end resets its rings: our handlers go first */
  g_ptr_array_set_size (self->queues, 0);
  G_OBJECT_CLASS (example_blk_device_parent_class)->dispose (object);
}

static void
example_blk_device_finalize (GObject *object)
{
  ExampleBlkDevice *self = EXAMPLE_BLK_DEVICE (object);

  g_ptr_array_unref (self->queues);
  g_clear_object (&self->state_cancellable);
  release_disk (self);
  G_OBJECT_CLASS (example_blk_device_parent_class)->finalize (object);
}

static void
example_blk_device_class_init (ExampleBlkDeviceClass *klass)
{
  VhostUserBackendClass *backend_class = VHOST_USER_BACKEND_CLASS (klass);

  G_OBJECT_CLASS (klass)->constructed = example_blk_device_constructed;
  G_OBJECT_CLASS (klass)->dispose = example_blk_device_dispose;
  G_OBJECT_CLASS (klass)->finalize = example_blk_device_finalize;

  backend_class->handle_set_features = example_blk_device_set_features;
  backend_class->handle_get_config = example_blk_device_get_config;
  backend_class->disconnected = example_blk_device_disconnected;
  /* the device's own class handlers: connecting to its own signals cost
   * each connection's device two handlers made and destroyed */
  g_signal_override_class_handler ("save-state", G_TYPE_FROM_CLASS (klass), G_CALLBACK (on_save_state));
  g_signal_override_class_handler ("load-state", G_TYPE_FROM_CLASS (klass), G_CALLBACK (on_load_state));
}

static guint64 default_capacity = 64 * 1024 * 1024;
static guint default_block_size = 512;
static guint default_num_queues = 1;

static void
example_blk_device_init (ExampleBlkDevice *self)
{
  VhostUserBackend *backend = VHOST_USER_BACKEND (self);

  self->fd = -1;
  self->queues = g_ptr_array_new_with_free_func ((GDestroyNotify) queue_free);
  vhost_user_backend_set_features (backend,
                                   vhost_user_backend_get_features (backend) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_SEG_MAX) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_BLK_SIZE) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_MQ) |
                                   VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_INDIRECT_DESC) |
                                   VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX) |
                                   VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED));
  example_blk_device_set_geometry (self, default_capacity, default_block_size, default_num_queues);

  /* a migration moves the device's state: offer it */
  vhost_user_backend_set_protocol_features (backend, vhost_user_backend_get_protocol_features (backend) |
                                                     VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE);
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
 * whatever the block size. Discard and write-zeroes are offered only
 * where writes are. */
static void
update_config (ExampleBlkDevice *self)
{
  VhostUserBackend *backend = VHOST_USER_BACKEND (self);
  guint8 config[BLK_CONFIG_SIZE] = { 0 };
  g_autoptr(GBytes) bytes = NULL;
  guint64 writes = VHOST_USER_FEATURE (VIRTIO_BLK_F_DISCARD) | VHOST_USER_FEATURE (VIRTIO_BLK_F_WRITE_ZEROES);
  guint64 features = vhost_user_backend_get_features (backend) & ~(VHOST_USER_FEATURE (VIRTIO_BLK_F_RO) | writes);

  put_le (config, BLK_CONFIG_CAPACITY, self->capacity / 512, 8);
  put_le (config, BLK_CONFIG_SEG_MAX, 126, 4);
  put_le (config, BLK_CONFIG_BLK_SIZE, self->block_size, 4);
  put_le (config, BLK_CONFIG_NUM_QUEUES, self->num_queues, 2);
  if (!self->read_only)
    {
      put_le (config, BLK_CONFIG_MAX_DISCARD_SECTORS, EXAMPLE_BLK_MAX_DISCARD_SECTORS, 4);
      put_le (config, BLK_CONFIG_MAX_DISCARD_SEG, EXAMPLE_BLK_MAX_DISCARD_SEG, 4);
      put_le (config, BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT, self->block_size / 512, 4);
      put_le (config, BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS, EXAMPLE_BLK_MAX_DISCARD_SECTORS, 4);
      put_le (config, BLK_CONFIG_MAX_WRITE_ZEROES_SEG, EXAMPLE_BLK_MAX_DISCARD_SEG, 4);
      /* with the unmap flag, an image gets a hole where it can */
      config[BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP] = 1;
    }
  bytes = g_bytes_new (config, sizeof config);

  vhost_user_backend_set_config (backend, bytes);
  /* the offer and the rings stay as they are under a front-end: a resize
   * changes the config alone */
  if (vhost_user_backend_get_connected (backend))
    return;
  vhost_user_backend_set_features (backend, features | (self->read_only ? VHOST_USER_FEATURE (VIRTIO_BLK_F_RO) : writes));
  vhost_user_backend_set_num_queues (backend, self->num_queues);
  rebuild_queues (self);
}

/* The geometry devices start with: a server makes one per connection,
 * and one made with the geometry it will be given builds its queues once,
 * not again when example_blk_device_set_geometry() changes them. */
void
example_blk_device_set_default_geometry (guint64 capacity_bytes,
                                         guint   block_size,
                                         guint   num_queues)
{
  default_capacity = capacity_bytes;
  default_block_size = block_size;
  default_num_queues = num_queues;
}

void
example_blk_device_set_geometry (ExampleBlkDevice *self,
                                 guint64           capacity_bytes,
                                 guint             block_size,
                                 guint             num_queues)
{
  /* a RAM disk not used yet, of this geometry already: nothing to remake */
  if (self->fd < 0 && self->ram == NULL && !self->read_only &&
      self->capacity == capacity_bytes - capacity_bytes % 512 &&
      self->block_size == block_size && self->num_queues == num_queues)
    return;

  /* a RAM disk, mapped when first used (see ram()) */
  release_disk (self);
  self->capacity = capacity_bytes - capacity_bytes % 512;
  self->ram_size = self->capacity;
  self->read_only = FALSE;
  self->block_size = block_size;
  self->num_queues = num_queues;
  update_config (self);
}

static void
on_config_change_told (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (vhost_user_backend_notify_config_change_finish (VHOST_USER_BACKEND (source), result, &error))
    g_message ("blk: the front-end was told the config changed");
  else
    g_message ("blk: could not tell the front-end the config changed: %s", error->message);
}

/* Serves @path instead of the RAM disk, through its file descriptor:
 * requests are preadv()/pwritev() between the file and the driver's
 * buffers, FLUSH is fdatasync(). The capacity is the file's size rounded
 * down to whole sectors; should the file shrink under a running device,
 * reads past its end fail with an I/O error (a mapping would SIGBUS). */
gboolean
example_blk_device_set_image (ExampleBlkDevice  *self,
                              const char        *path,
                              gboolean           read_only,
                              GError           **error)
{
  int fd = g_open (path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Opening %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  return example_blk_device_take_image_fd (self, fd, path, read_only, error);
}

/* The same with an image already open (@fd is taken, even on failure;
 * @name says which file in errors): a server opens its image once and
 * gives each connection's device a duplicate, instead of a path lookup
 * per connection. */
gboolean
example_blk_device_take_image_fd (ExampleBlkDevice  *self,
                                  int                fd,
                                  const char        *name,
                                  gboolean           read_only,
                                  GError           **error)
{
  struct stat st;
  guint64 size;

  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Opening %s: %s", name, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  size = (guint64) st.st_size - (guint64) st.st_size % 512;
  if (!S_ISREG (st.st_mode) || size == 0 || size > G_MAXINT64)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s is not a regular file of at least one sector", name);
      close (fd);
      return FALSE;
    }
  release_disk (self);
  self->fd = fd;
  self->capacity = size;
  self->read_only = read_only;
  update_config (self);
  return TRUE;
}

/**
 * example_blk_device_refresh_capacity:
 *
 * Takes the image file's size again (it grew or shrank under the device)
 * into the config space, and tells the front-end (BACKEND_CONFIG_CHANGE_MSG)
 * if the capacity changed: QEMU reads the config again and interrupts the
 * guest, whose driver takes the new size. In the back-end's context.
 *
 * Returns: whether the capacity changed
 */
gboolean
example_blk_device_refresh_capacity (ExampleBlkDevice *self)
{
  VhostUserBackend *backend = VHOST_USER_BACKEND (self);
  struct stat st;
  guint64 size;

  if (self->fd < 0 || fstat (self->fd, &st) < 0)
    return FALSE;
  size = (guint64) st.st_size - (guint64) st.st_size % 512;
  if (size == self->capacity || size == 0)
    return FALSE;
  g_message ("blk: capacity %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " sectors", self->capacity / 512, size / 512);
  /* queue threads read it meanwhile (capacity_of()) */
  __atomic_store_n (&self->capacity, size, __ATOMIC_RELAXED);
  update_config (self);
  if (vhost_user_backend_get_connected (backend))
    vhost_user_backend_notify_config_change_async (backend, NULL, on_config_change_told, NULL);
  return TRUE;
}

/**
 * example_blk_device_set_poll:
 * @poll_us: how long each ring busy-polls after a kick, in microseconds;
 *   0 not to
 *
 * See vhost_user_vring_set_poll_window(). Only while no front-end is
 * connected.
 */
void
example_blk_device_set_poll (ExampleBlkDevice *self,
                             guint             poll_us)
{
  self->poll_us = poll_us;
  for (guint i = 0; i < self->queues->len; i++)
    vhost_user_vring_set_poll_window (((BlkQueue *) g_ptr_array_index (self->queues, i))->vring, poll_us);
}

/**
 * example_blk_device_set_quiet:
 * @quiet: %TRUE to say nothing per front-end but errors
 *
 * Without it the device logs (g_message()) what each front-end
 * negotiated, its config reads and each queue's deepest queue depth.
 */
void
example_blk_device_set_quiet (ExampleBlkDevice *self,
                              gboolean          quiet)
{
  self->quiet = quiet;
}

/**
 * example_blk_device_set_latency:
 * @latency_ms: how long each request takes, in milliseconds; 0 to answer
 *   at once
 * @jitter_ms: how much each request's time varies either way, so that
 *   requests complete out of order
 *
 * Simulates a slow disk: each request is done when it is popped but
 * pushed back to the driver only after its time, from a timer in the
 * ring's context. Only while no front-end is connected.
 */
void
example_blk_device_set_latency (ExampleBlkDevice *self,
                                guint             latency_ms,
                                guint             jitter_ms)
{
  self->latency_ms = latency_ms;
  self->jitter_ms = MIN (jitter_ms, latency_ms);
}

/**
 * example_blk_device_set_queue_threads:
 * @queue_threads: whether each queue gets a thread of its own
 *
 * Serves each queue in its own thread, with its own main context: the
 * ring's kick handler and completions run there, the control plane stays
 * in the back-end's context. Only while no front-end is connected.
 */
void
example_blk_device_set_queue_threads (ExampleBlkDevice *self,
                                      gboolean          queue_threads)
{
  self->queue_threads = queue_threads;
  rebuild_queues (self);
}

/* The disk's contents, for whoever wants to check what a guest wrote. */
GBytes *
example_blk_device_read (ExampleBlkDevice *self,
                         guint64           offset,
                         gsize             len)
{
  g_autofree guint8 *buf = NULL;
  struct iovec iov;

  if (offset > self->capacity || len > self->capacity - offset)
    return NULL;
  if (self->fd < 0)
    return g_bytes_new (ram (self) + offset, len);
  buf = g_malloc (len);
  iov.iov_base = buf;
  iov.iov_len = len;
  if (!transfer (self->fd, FALSE, &iov, 1, offset, len))
    return NULL;
  return g_bytes_new_take (g_steal_pointer (&buf), len);
}
