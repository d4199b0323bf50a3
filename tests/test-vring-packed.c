/* test-vring-packed.c: the packed-ring data plane against a hostile driver
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The test is the driver: it writes packed descriptors with its own wrap
 * counter into memfd "guest memory", reads the used descriptors back and
 * sets the driver area's event suppression, and the ring pops, pushes and
 * decides on calls. Every way a driver can lie is tried; each must be an
 * error that leaves the ring alone, never a read or write outside guest
 * memory (the ASan build checks that too).
 */

#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-vring-packed-private.h"
#include "vhost-user-vring-private.h"

#define NUM      512
#define DESC     0x0000
#define DRIVER   0x2000
#define DEVICE   0x3000
#define INDIRECT 0x4000
#define DATA     0x8000
#define MEM_SIZE 0x10000

#define F_NEXT     PACKED_DESC_F_NEXT
#define F_WRITE    PACKED_DESC_F_WRITE
#define F_INDIRECT PACKED_DESC_F_INDIRECT

typedef struct {
  guint64 addr;
  guint32 len;
  guint16 flags;   /* WRITE, INDIRECT; NEXT is added between descriptors */
} Buf;

typedef struct {
  VhostUserMemoryRegion *low;     /* gpa 0 .. MEM_SIZE */
  VhostUserMemoryRegion *high;    /* gpa MEM_SIZE .. 2 * MEM_SIZE, another memfd */
  VhostUserMemoryTable  *table;
  VhostUserVring        *vring;
  guint8                *mem;     /* the low region, as the driver sees it */
  guint                  num;
  /* the driver's side */
  guint                  avail_pos, used_pos;
  gboolean               avail_wrap, used_wrap;
  guint16                chain[NUM];   /* per id out with the device: its length */
  guint                  free_desc;
} Fixture;

/* The two regions back to back in our address space (valgrind lays
 * mappings out upwards, the kernel downwards): a buffer across them is
 * then one segment, not two. */
static gboolean
regions_adjacent (Fixture *f)
{
  return vhost_user_memory_region_get_host_addr (f->high) == f->mem + MEM_SIZE;
}

static void
ring_setup (Fixture *f,
            guint    num)
{
  VhostUserVringAddress address = { 0 };

  memset (f->mem, 0, DATA);
  f->num = num;
  f->avail_pos = f->used_pos = 0;
  f->avail_wrap = f->used_wrap = TRUE;
  f->free_desc = num;
  memset (f->chain, 0, sizeof f->chain);

  vhost_user_vring_set_size (f->vring, num);
  address.desc_user_addr = vhost_user_memory_region_get_user_addr (f->low) + DESC;
  address.avail_user_addr = vhost_user_memory_region_get_user_addr (f->low) + DRIVER;
  address.used_user_addr = vhost_user_memory_region_get_user_addr (f->low) + DEVICE;
  vhost_user_vring_set_address (f->vring, &address);
  /* both positions 0, both wrap counters 1: a new ring */
  vhost_user_vring_set_base (f->vring, 0x80008000);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserMemoryRegion *regions[2];

  f->low = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  f->high = vhost_user_memory_region_new_memfd (MEM_SIZE, MEM_SIZE, &error);
  g_assert_no_error (error);
  regions[0] = f->low;
  regions[1] = f->high;
  f->table = vhost_user_memory_table_new (regions, 2, &error);
  g_assert_no_error (error);
  f->mem = vhost_user_memory_region_get_host_addr (f->low);

  f->vring = vhost_user_vring_new (0, NULL);
  vhost_user_vring_set_memory_table (f->vring, f->table);
  vhost_user_vring_set_features (f->vring, TRUE, FALSE);
  ring_setup (f, NUM);
  vhost_user_vring_set_started (f->vring, TRUE);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->vring);
  vhost_user_memory_table_unref (f->table);
  vhost_user_memory_region_unref (f->low);
  vhost_user_memory_region_unref (f->high);
}

static void
write_desc (Fixture *f,
            guint    pos,
            guint64  addr,
            guint32  len,
            guint16  id,
            guint16  flags)
{
  PackedDesc d = { addr, len, id, flags };

  memcpy (f->mem + DESC + pos * sizeof d, &d, sizeof d);
}

static PackedDesc
read_desc (Fixture *f,
           guint    pos)
{
  PackedDesc d;

  memcpy (&d, f->mem + DESC + pos * sizeof d, sizeof d);
  return d;
}

/* The driver makes @n buffers available as one chain with buffer @id,
 * the first descriptor's flags written last, as a driver must. No
 * checks: hostile tests lie with it. */
static void
make_available (Fixture   *f,
                const Buf *bufs,
                guint      n,
                guint16    id)
{
  guint first = f->avail_pos;
  guint16 first_flags = 0;

  for (guint k = 0; k < n; k++)
    {
      guint16 flags = bufs[k].flags | (k + 1 < n ? F_NEXT : 0) | packed_avail_flags (f->avail_wrap);

      if (k == 0)
        {
          first_flags = flags;
          write_desc (f, f->avail_pos, bufs[k].addr, bufs[k].len, id, read_desc (f, first).flags);
        }
      else
        write_desc (f, f->avail_pos, bufs[k].addr, bufs[k].len, id, flags);
      if (++f->avail_pos == f->num)
        {
          f->avail_pos = 0;
          f->avail_wrap = !f->avail_wrap;
        }
    }
  __atomic_store_n ((guint16 *) (f->mem + DESC + first * sizeof (PackedDesc) + PACKED_DESC_FLAGS_OFFSET),
                    first_flags, __ATOMIC_RELEASE);
  if (id < NUM)
    f->chain[id] = n;
  f->free_desc -= MIN (n, f->free_desc);
}

static void
make_available_one (Fixture *f,
                    guint64  addr,
                    guint32  len,
                    guint16  flags,
                    guint16  id)
{
  Buf b = { addr, len, flags };

  make_available (f, &b, 1, id);
}

/* The driver collects one used descriptor, if there is one. */
static gboolean
get_used (Fixture *f,
          guint   *id,
          guint   *len)
{
  PackedDesc d = read_desc (f, f->used_pos);

  if (!packed_is_used (d.flags, f->used_wrap))
    return FALSE;
  g_assert_cmpuint (d.id, <, f->num);
  g_assert_cmpuint (f->chain[d.id], >, 0);
  *id = d.id;
  *len = d.len;
  f->used_pos += f->chain[d.id];
  if (f->used_pos >= f->num)
    {
      f->used_pos -= f->num;
      f->used_wrap = !f->used_wrap;
    }
  f->free_desc += f->chain[d.id];
  f->chain[d.id] = 0;
  return TRUE;
}

static guint
driver_base (Fixture *f)
{
  return f->avail_pos | (f->avail_wrap << 15) | (f->used_pos << 16) | ((guint) f->used_wrap << 31);
}

static void
set_event (Fixture *f,
           guint    offset,
           guint16  off_wrap,
           guint16  flags)
{
  PackedEvent e = { off_wrap, flags };

  memcpy (f->mem + offset, &e, sizeof e);
}

static void
test_empty (Fixture       *f,
            gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  PackedEvent device;

  /* the device area said "do not kick" from before: an empty ring says
   * ENABLE, or the driver's next request would go unnoticed */
  set_event (f, DEVICE, 0, PACKED_EVENT_DISABLE);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  memcpy (&device, f->mem + DEVICE, sizeof device);
  g_assert_cmpuint (device.flags, ==, PACKED_EVENT_ENABLE);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x80008000);
}

/* Chains of 1 to 8 descriptors, readable ones first, then writable. */
static void
test_chains (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  for (guint n = 1; n <= 8; n++)
    for (guint n_out = 0; n_out <= n; n_out++)
      {
        VhostUserVringElement e;
        Buf bufs[8];
        guint16 id = (n * 9 + n_out) % NUM;
        guint used_before = f->used_pos, id_used, len_used;

        for (guint k = 0; k < n; k++)
          {
            bufs[k].addr = DATA + 0x100 * k;
            bufs[k].len = 16 + k;
            bufs[k].flags = k < n_out ? 0 : F_WRITE;
          }
        make_available (f, bufs, n, id);
        g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (e.head, ==, id);
        g_assert_cmpuint (e.n_out, ==, n_out);
        g_assert_cmpuint (e.n_in, ==, n - n_out);
        for (guint k = 0; k < n; k++)
          {
            VhostUserVringBuffer *b = k < n_out ? &e.out[k] : &e.in[k - n_out];

            g_assert_true (b->base == f->mem + DATA + 0x100 * k);
            g_assert_cmpuint (b->len, ==, 16 + k);
          }
        /* the available half of the base moved by the chain */
        g_assert_cmphex (vhost_user_vring_get_base (f->vring) & 0xffff, ==, f->avail_pos | (f->avail_wrap << 15));
        g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
        g_assert_no_error (error);

        g_assert_true (vhost_user_vring_push (f->vring, id, 7 * n, &error));
        g_assert_no_error (error);
        /* written where the driver looks next, publishing id and length */
        g_assert_true (get_used (f, &id_used, &len_used));
        g_assert_cmpuint (id_used, ==, id);
        g_assert_cmpuint (len_used, ==, 7 * n);
        g_assert_cmpuint ((used_before + n) % NUM, ==, f->used_pos);
        g_assert_false (get_used (f, &id_used, &len_used));
        g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, driver_base (f));
      }
}

/* One chain as long as the ring: legal, the ring's every descriptor. */
static void
test_whole_ring_chain (Fixture       *f,
                       gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  Buf bufs[16];
  guint id, len;

  ring_setup (f, 16);
  for (guint k = 0; k < 16; k++)
    bufs[k] = (Buf) { DATA + k, 1, k < 6 ? 0 : F_WRITE };
  make_available (f, bufs, 16, 15);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e.n_out, ==, 6);
  g_assert_cmpuint (e.n_in, ==, 10);
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 10, &error));
  g_assert_true (get_used (f, &id, &len));
  g_assert_cmpuint (id, ==, 15);
  /* a full lap: both wrap counters flipped */
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0);
  g_assert_cmphex (driver_base (f), ==, 0);
}

static void
test_indirect (Fixture       *f,
               gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  /* in a table only WRITE counts; NEXT is ignored */
  PackedDesc table[4] = {
    { DATA, 16, 0, F_NEXT },
    { DATA + 0x100, 4096, 0, 0 },
    { MEM_SIZE - 0x80, 0x100, 0, F_WRITE },   /* across both regions */
    { DATA + 0x2000, 1, 0, F_WRITE },
  };
  guint id, len;

  memcpy (f->mem + INDIRECT, table, sizeof table);
  make_available_one (f, INDIRECT, sizeof table, F_INDIRECT, 42);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e.head, ==, 42);
  g_assert_cmpuint (e.n_out, ==, 2);
  g_assert_cmpuint (e.out_len, ==, 16 + 4096);
  g_assert_cmpuint (e.in_len, ==, 0x101);
  if (regions_adjacent (f))
    {
      g_assert_cmpuint (e.n_in, ==, 2);
      g_assert_cmpuint (e.in[0].len, ==, 0x100);
    }
  else
    {
      g_assert_cmpuint (e.n_in, ==, 3);
      g_assert_true (e.in[1].base == vhost_user_memory_region_get_host_addr (f->high));
    }
  /* an indirect chain takes one descriptor of the ring */
  g_assert_true (vhost_user_vring_push (f->vring, 42, 1, &error));
  g_assert_true (get_used (f, &id, &len));
  g_assert_cmpuint (f->used_pos, ==, 1);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x80018001);
}

static void
test_split_across_regions (Fixture       *f,
                           gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  Buf bufs[2] = {
    { MEM_SIZE - 0x100, 0x200, 0 },          /* 0x100 in each region */
    { MEM_SIZE - 0x10, 0x20, F_WRITE },
  };

  make_available (f, bufs, 2, 0);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  if (regions_adjacent (f))
    {
      g_assert_cmpuint (e.n_out, ==, 1);
      g_assert_cmpuint (e.n_in, ==, 1);
      g_assert_cmpuint (e.out[0].len, ==, 0x200);
      g_assert_cmpuint (e.in[0].len, ==, 0x20);
      return;
    }
  g_assert_cmpuint (e.n_out, ==, 2);
  g_assert_cmpuint (e.n_in, ==, 2);
  g_assert_cmpuint (e.out[0].len, ==, 0x100);
  g_assert_true (e.out[1].base == vhost_user_memory_region_get_host_addr (f->high));
  g_assert_cmpuint (e.in[1].len, ==, 0x10);
}

/* Many laps of a small ring of an odd size (packed rings need no power
 * of two), chains of 1-3 descriptors, completed in order, in reverse or
 * shuffled, one by one or in batches. */
static void
test_wrap (Fixture       *f,
           gconstpointer  data)
{
  guint mode = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  guint requests = 0, completed = 0;
  guint expected_len[NUM] = { 0 };

  ring_setup (f, 7);
  while (requests < 40 * 7)
    {
      VhostUserVringElement e;
      guint heads[7], lens[7], n = 0, id, len;

      /* the driver fills what it can: free descriptors and free ids */
      for (;;)
        {
          guint chain = 1 + requests % 3;
          Buf bufs[3];
          guint16 free_id = 0;

          while (free_id < f->num && f->chain[free_id] != 0)
            free_id++;
          if (chain > f->free_desc || free_id == f->num)
            break;
          for (guint k = 0; k < chain; k++)
            bufs[k] = (Buf) { DATA + 0x100 * free_id + k, 8, k == chain - 1 ? F_WRITE : 0 };
          make_available (f, bufs, chain, free_id);
          requests++;
        }
      while (vhost_user_vring_pop (f->vring, &e, &error))
        {
          heads[n] = e.head;
          lens[n] = 1000 * requests + e.head;
          expected_len[e.head] = lens[n];
          n++;
        }
      g_assert_no_error (error);
      g_assert_cmpuint (n, >, 0);

      if (mode == 1)
        for (guint i = 0; i < n / 2; i++)
          {
            guint t = heads[i];

            heads[i] = heads[n - 1 - i];
            heads[n - 1 - i] = t;
            t = lens[i];
            lens[i] = lens[n - 1 - i];
            lens[n - 1 - i] = t;
          }
      else if (mode == 2)
        for (guint i = n; i > 1; i--)
          {
            guint j = g_test_rand_int_range (0, i), t;

            t = heads[i - 1];
            heads[i - 1] = heads[j];
            heads[j] = t;
            t = lens[i - 1];
            lens[i - 1] = lens[j];
            lens[j] = t;
          }

      if (requests % 2 == 0)
        g_assert_true (vhost_user_vring_push_batch (f->vring, heads, lens, n, &error));
      else
        for (guint i = 0; i < n; i++)
          g_assert_true (vhost_user_vring_push (f->vring, heads[i], lens[i], &error));
      g_assert_no_error (error);

      /* the driver sees them in the order they were pushed */
      for (guint i = 0; i < n; i++)
        {
          g_assert_true (get_used (f, &id, &len));
          g_assert_cmpuint (id, ==, heads[i]);
          g_assert_cmpuint (len, ==, expected_len[id]);
          completed++;
        }
      g_assert_false (get_used (f, &id, &len));
      g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, driver_base (f));
    }
  g_assert_cmpuint (completed, ==, requests);
  g_assert_cmpuint (f->free_desc, ==, 7);
}

static void
test_push_batch (Fixture       *f,
                 gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint heads[3], lens[3] = { 10, 20, 30 }, bad[2], twice[2], id, len;
  Buf two[2] = { { DATA, 8, 0 }, { DATA + 8, 8, F_WRITE } };

  make_available (f, two, 2, 5);
  make_available_one (f, DATA, 8, F_WRITE, 3);
  make_available (f, two, 2, 9);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      heads[2 - i] = e.head;   /* complete in reverse */
    }

  /* one bad head, or one named twice: nothing is used */
  bad[0] = heads[0];
  bad[1] = NUM;
  g_assert_false (vhost_user_vring_push_batch (f->vring, bad, lens, 2, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  twice[0] = twice[1] = heads[1];
  g_assert_false (vhost_user_vring_push_batch (f->vring, twice, lens, 2, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  bad[1] = 4;   /* in range, but never popped */
  g_assert_false (vhost_user_vring_push_batch (f->vring, bad, lens, 2, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (get_used (f, &id, &len));
  g_assert_cmphex (vhost_user_vring_get_base (f->vring) >> 16, ==, 0x8000);

  g_assert_true (vhost_user_vring_push_batch (f->vring, heads, lens, 3, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (get_used (f, &id, &len));
      g_assert_cmpuint (id, ==, heads[i]);
      g_assert_cmpuint (len, ==, lens[i]);
    }
  /* 9 (two descriptors) at 0, 3 at 2, 5 (two) at 3: used at 5 */
  g_assert_cmpuint (read_desc (f, 0).id, ==, 9);
  g_assert_cmpuint (read_desc (f, 2).id, ==, 3);
  g_assert_cmpuint (read_desc (f, 3).id, ==, 5);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x80058005);
  /* used ids are not out any more; an empty batch is a no-op */
  g_assert_false (vhost_user_vring_push (f->vring, heads[0], 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_true (vhost_user_vring_push_batch (f->vring, NULL, NULL, 0, &error));
  g_assert_no_error (error);
  /* and none of it broke the ring */
  make_available_one (f, DATA, 8, 0, 1);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
}

static void
test_base (Fixture       *f,
           gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;

  /* a used half of 0 is read as "used = available" (DPDK sends that) */
  vhost_user_vring_set_base (f->vring, 0x0003);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x00030003);
  vhost_user_vring_set_base (f->vring, 0x8003);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x80038003);
  /* both halves as given */
  vhost_user_vring_set_base (f->vring, 0x00058007);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x00058007);

  /* resuming mid-ring: the driver is at 7, wrap 1, and 2 were never used */
  f->avail_pos = 7;
  f->used_pos = 5;
  f->used_wrap = FALSE;
  write_desc (f, 5, DATA, 99, 77, packed_avail_flags (TRUE));
  make_available_one (f, DATA, 8, F_WRITE, 0);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x00058008);
  g_assert_true (vhost_user_vring_push (f->vring, 0, 8, &error));
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x00068008);
  g_assert_true (packed_is_used (read_desc (f, 5).flags, FALSE));
  g_assert_cmpuint (read_desc (f, 5).id, ==, 0);
  g_assert_cmpuint (read_desc (f, 5).len, ==, 8);
}

/* A ring whose features say packed after its base was set keeps the
 * base, read the packed way. */
static void
test_base_before_features (Fixture       *f,
                           gconstpointer  data)
{
  vhost_user_vring_set_features (f->vring, FALSE, FALSE);
  vhost_user_vring_set_base (f->vring, 0x8004);
  vhost_user_vring_set_features (f->vring, TRUE, FALSE);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x80048004);
}

static void
test_stopped_untouched (Fixture       *f,
                        gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;

  make_available_one (f, DATA, 8, 0, 0);
  vhost_user_vring_set_started (f->vring, FALSE);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x80008000);
}

static guint64
calls (int fd)
{
  guint64 count = 0;

  if (read (fd, &count, sizeof count) != sizeof count)
    return 0;
  return count;
}

/* One request through the ring, and whether the driver was called. */
static guint64
one_request (Fixture *f,
             int      call)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint id, len;

  make_available_one (f, DATA, 8, F_WRITE, 1);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 8, &error));
  g_assert_true (vhost_user_vring_call (f->vring, &error));
  g_assert_no_error (error);
  g_assert_true (get_used (f, &id, &len));
  return calls (call);
}

/* The driver area's flags: ENABLE calls, DISABLE does not, DESC without
 * EVENT_IDX is reserved and calls. */
static void
test_event_flags (Fixture       *f,
                  gconstpointer  data)
{
  int call = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);

  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_CALL, dup (call));
  set_event (f, DRIVER, 0, PACKED_EVENT_ENABLE);
  g_assert_cmpuint (one_request (f, call), ==, 1);
  set_event (f, DRIVER, 0, PACKED_EVENT_DISABLE);
  g_assert_cmpuint (one_request (f, call), ==, 0);
  g_assert_cmpuint (one_request (f, call), ==, 0);
  set_event (f, DRIVER, 0x8000 | 100, PACKED_EVENT_DESC);
  g_assert_cmpuint (one_request (f, call), ==, 1);
  set_event (f, DRIVER, 0, PACKED_EVENT_ENABLE);
  g_assert_cmpuint (one_request (f, call), ==, 1);
  close (call);
}

/* With EVENT_IDX the driver names the used position (and wrap counter)
 * it wants a call at; across laps of a ring of 5. */
static void
test_event_idx (Fixture       *f,
                gconstpointer  data)
{
  int call = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);

  vhost_user_vring_set_features (f->vring, TRUE, TRUE);
  ring_setup (f, 5);
  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_CALL, dup (call));

  /* the first call always goes: nothing is known of earlier ones */
  set_event (f, DRIVER, 0x8000 | 3, PACKED_EVENT_DESC);
  g_assert_cmpuint (one_request (f, call), ==, 1);    /* used 0 -> 1 */
  g_assert_cmpuint (one_request (f, call), ==, 0);    /* 1 -> 2 */
  g_assert_cmpuint (one_request (f, call), ==, 0);    /* 2 -> 3 */
  g_assert_cmpuint (one_request (f, call), ==, 1);    /* 3 -> 4 passes 3 */
  /* the next lap's position 1 (wrap 0): not at 4 -> 0, nor at 0 -> 1 */
  set_event (f, DRIVER, 1, PACKED_EVENT_DESC);
  g_assert_cmpuint (one_request (f, call), ==, 0);
  g_assert_false (f->used_wrap);
  g_assert_cmpuint (one_request (f, call), ==, 0);
  g_assert_cmpuint (one_request (f, call), ==, 1);    /* 1 -> 2 of wrap 0 */
  /* the same position with the other wrap counter is a lap away */
  set_event (f, DRIVER, 0x8000 | 2, PACKED_EVENT_DESC);
  g_assert_cmpuint (one_request (f, call), ==, 0);
  /* several used before one notify: the event is among them */
  {
    VhostUserVringElement e;
    g_autoptr(GError) error = NULL;
    guint id, len;

    set_event (f, DRIVER, 4, PACKED_EVENT_DESC);   /* used is at 3, wrap 0 */
    for (guint i = 0; i < 3; i++)
      make_available_one (f, DATA, 8, F_WRITE, i);
    for (guint i = 0; i < 3; i++)
      {
        g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
        g_assert_true (vhost_user_vring_push (f->vring, e.head, 8, &error));
      }
    g_assert_true (vhost_user_vring_call (f->vring, &error));
    g_assert_cmpuint (calls (call), ==, 1);
    for (guint i = 0; i < 3; i++)
      g_assert_true (get_used (f, &id, &len));
  }
  /* a position outside the ring is answered with a call */
  set_event (f, DRIVER, 0x8000 | 7, PACKED_EVENT_DESC);
  g_assert_cmpuint (one_request (f, call), ==, 1);
  close (call);
}

typedef void (*Sabotage) (Fixture *f);

static void
bad_chain_too_long (Fixture *f)
{
  /* every descriptor says NEXT: the chain comes round to its head (empty
   * buffers, so that no other limit is met first) */
  for (guint k = 0; k < NUM; k++)
    write_desc (f, k, DATA, 0, 0, F_NEXT | packed_avail_flags (TRUE));
}

static void bad_id (Fixture *f) { make_available_one (f, DATA, 8, 0, NUM); }
static void bad_id_max (Fixture *f) { make_available_one (f, DATA, 8, 0, 0xffff); }
static void bad_addr (Fixture *f) { make_available_one (f, 3 * MEM_SIZE, 8, 0, 0); }
static void bad_wrap (Fixture *f) { make_available_one (f, G_MAXUINT64 - 4, 16, 0, 0); }
static void bad_long (Fixture *f) { make_available_one (f, DATA, 2 * MEM_SIZE, 0, 0); }
static void bad_indirect_len (Fixture *f) { make_available_one (f, INDIRECT, 20, F_INDIRECT, 0); }
static void bad_indirect_zero (Fixture *f) { make_available_one (f, INDIRECT, 0, F_INDIRECT, 0); }
static void bad_indirect_addr (Fixture *f) { make_available_one (f, 5 * MEM_SIZE, 32, F_INDIRECT, 0); }
static void bad_indirect_huge (Fixture *f) { make_available_one (f, INDIRECT, 0xfffffff0, F_INDIRECT, 0); }
static void bad_base (Fixture *f) { vhost_user_vring_set_base (f->vring, 0x80000000 | (0x8000 | NUM)); }

static void
bad_indirect_next (Fixture *f)
{
  Buf bufs[2] = { { INDIRECT, 32, F_INDIRECT }, { DATA, 8, F_WRITE } };

  make_available (f, bufs, 2, 0);
}

static void
bad_indirect_in_chain (Fixture *f)
{
  Buf bufs[2] = { { DATA, 8, 0 }, { INDIRECT, 32, F_INDIRECT } };

  make_available (f, bufs, 2, 0);
}

static void
bad_nested_indirect (Fixture *f)
{
  PackedDesc table[2] = { { DATA, 8, 0, 0 }, { INDIRECT, 32, 0, F_INDIRECT } };

  memcpy (f->mem + INDIRECT, table, sizeof table);
  make_available_one (f, INDIRECT, sizeof table, F_INDIRECT, 0);
}

static void
bad_order (Fixture *f)
{
  Buf bufs[2] = { { DATA, 8, F_WRITE }, { DATA, 8, 0 } };

  make_available (f, bufs, 2, 0);
}

static void
bad_indirect_order (Fixture *f)
{
  PackedDesc table[2] = { { DATA, 8, 0, F_WRITE }, { DATA, 8, 0, 0 } };

  memcpy (f->mem + INDIRECT, table, sizeof table);
  make_available_one (f, INDIRECT, sizeof table, F_INDIRECT, 0);
}

static void
bad_too_many_pieces (Fixture *f)
{
  Buf bufs[300];

  for (guint k = 0; k < 300; k++)
    bufs[k] = (Buf) { DATA + k, 1, 0 };
  make_available (f, bufs, 300, 0);
}

static void
bad_ring_unmapped (Fixture *f)
{
  VhostUserVringAddress address = *vhost_user_vring_get_address (f->vring);

  address.desc_user_addr = vhost_user_memory_region_get_user_addr (f->low) + MEM_SIZE - 16;
  vhost_user_vring_set_address (f->vring, &address);
  make_available_one (f, DATA, 8, 0, 0);
}

/* The id of a request the device still holds, made available again. */
static void
bad_id_in_use (Fixture *f)
{
  VhostUserVringElement e;

  make_available_one (f, DATA, 8, 0, 3);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, NULL));
  make_available_one (f, DATA, 8, 0, 3);
}

/* More descriptors available than the ring holds beside those the
 * device holds: the second chain runs into the first. */
static void
bad_overcommit (Fixture *f)
{
  VhostUserVringElement e;
  Buf bufs[NUM - 1];

  for (guint k = 0; k < NUM - 1; k++)
    bufs[k] = (Buf) { DATA + k, 1, k < 255 ? 0 : F_WRITE };
  make_available (f, bufs, NUM - 1, 0);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, NULL));
  bufs[0].flags = 0;
  make_available (f, bufs, 2, 1);
}

static const struct {
  const char *name;
  Sabotage    sabotage;
  const char *why;       /* in the error message */
} hostile[] = {
  { "chain-longer-than-ring", bad_chain_too_long, "longer than the ring" },
  { "id-out-of-range", bad_id, "id outside the ring" },
  { "id-max", bad_id_max, "id outside the ring" },
  { "id-in-use", bad_id_in_use, "already in use" },
  { "more-than-the-ring", bad_overcommit, "beside those in use" },
  { "buffer-outside-memory", bad_addr, "outside guest memory" },
  { "buffer-wraps", bad_wrap, "outside guest memory" },
  { "buffer-too-long", bad_long, "outside guest memory" },
  { "readable-after-writable", bad_order, "readable buffer after a writable" },
  { "too-many-pieces", bad_too_many_pieces, "too many pieces" },
  { "indirect-partial-descriptor", bad_indirect_len, "not whole descriptors" },
  { "indirect-empty", bad_indirect_zero, "not whole descriptors" },
  { "indirect-outside-memory", bad_indirect_addr, "indirect table outside guest memory" },
  { "indirect-huge", bad_indirect_huge, "longer than any ring" },
  { "indirect-with-next", bad_indirect_next, "with NEXT" },
  { "indirect-in-chain", bad_indirect_in_chain, "in a chain" },
  { "indirect-nested", bad_nested_indirect, "names another" },
  { "indirect-readable-after-writable", bad_indirect_order, "readable buffer after a writable" },
  { "ring-outside-memory", bad_ring_unmapped, "ring is not in guest memory" },
  { "base-outside-ring", bad_base, "available position is outside" },
};

static void
test_hostile (Fixture       *f,
              gconstpointer  data)
{
  guint which = GPOINTER_TO_UINT (data);
  Sabotage sabotage = hostile[which].sabotage;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint base;
  PackedDesc used_before;

  sabotage (f);
  base = vhost_user_vring_get_base (f->vring);
  used_before = read_desc (f, 0);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, hostile[which].why));
  g_clear_error (&error);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, base);

  /* broken: left alone, even once the driver behaves */
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_vring_push (f->vring, 0, 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_cmpmem (&used_before, sizeof used_before, f->mem + DESC, sizeof used_before);

  /* until the front-end sets the ring up again */
  ring_setup (f, NUM);
  make_available_one (f, DATA, 8, F_WRITE, 3);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e.head, ==, 3);
}

/* --- in-flight tracking (INFLIGHT_SHMFD), the spec's packed layout --- */

#define AREA_LEN              (PACKED_RECORD_HEADER + PACKED_RECORD_ENTRY * NUM)
#define A16(a, off)           (*(guint16 *) ((a) + (off)))
#define A_VERSION(a)          A16 (a, 8)
#define A_DESC_NUM(a)         A16 (a, 10)
#define A_FREE_HEAD(a)        A16 (a, 12)
#define A_OLD_FREE_HEAD(a)    A16 (a, 14)
#define A_USED_IDX(a)         A16 (a, 16)
#define A_OLD_USED_IDX(a)     A16 (a, 18)
#define A_USED_WRAP(a)        ((a)[20])
#define A_OLD_USED_WRAP(a)    ((a)[21])
#define A_ENTRY(a, i)         ((a) + PACKED_RECORD_HEADER + PACKED_RECORD_ENTRY * (i))
#define E_INFLIGHT(a, i)      (A_ENTRY (a, i)[0])
#define E_NEXT(a, i)          A16 (A_ENTRY (a, i), 2)
#define E_LAST(a, i)          A16 (A_ENTRY (a, i), 4)
#define E_NUM(a, i)           A16 (A_ENTRY (a, i), 6)
#define E_COUNTER(a, i)       (*(guint64 *) (A_ENTRY (a, i) + 8))
#define E_ID(a, i)            A16 (A_ENTRY (a, i), 16)
#define E_FLAGS(a, i)         A16 (A_ENTRY (a, i), 18)
#define E_LEN(a, i)           (*(guint32 *) (A_ENTRY (a, i) + 20))
#define E_ADDR(a, i)          (*(guint64 *) (A_ENTRY (a, i) + 24))

static GBytes *
area_new (guint8 **mem)
{
  *mem = g_malloc0 (AREA_LEN);
  return g_bytes_new_with_free_func (*mem, AREA_LEN, g_free, *mem);
}

/* The fixture's ring, started again with @area. */
static void
start_with_area (Fixture *f,
                 GBytes  *area)
{
  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_inflight_area (f->vring, area, FALSE);
  vhost_user_vring_set_started (f->vring, TRUE);
}

/* A restarted device on the same guest memory and in-flight area: a new
 * ring object, set up as QEMU sets it up again after the back-end died:
 * with the base of the last clean stop, here the very first one. */
static VhostUserVring *
restart (Fixture *f,
         GBytes  *area)
{
  VhostUserVring *vring = vhost_user_vring_new (0, NULL);

  vhost_user_vring_set_memory_table (vring, f->table);
  vhost_user_vring_set_features (vring, TRUE, FALSE);
  vhost_user_vring_set_size (vring, f->num);
  vhost_user_vring_set_address (vring, vhost_user_vring_get_address (f->vring));
  vhost_user_vring_set_base (vring, 0x80008000);
  vhost_user_vring_set_inflight_area (vring, area, FALSE);
  vhost_user_vring_set_started (vring, TRUE);
  return vring;
}

/* A fresh area is laid out: version, size, every entry on the free list;
 * a pop copies its descriptors in, a push takes them out again. */
static void
test_inflight_layout (Fixture       *f,
                      gconstpointer  data)
{
  guint8 *a;
  g_autoptr(GBytes) area = area_new (&a);
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  Buf two[2] = { { DATA, 16, 0 }, { DATA + 0x100, 32, F_WRITE } };
  guint id, len;

  A_VERSION (a) = 0;
  memset (a + PACKED_RECORD_HEADER, 0xff, AREA_LEN - PACKED_RECORD_HEADER);
  start_with_area (f, area);
  g_assert_cmpuint (A_VERSION (a), ==, 1);
  g_assert_cmpuint (A_DESC_NUM (a), ==, NUM);
  g_assert_cmpuint (A_FREE_HEAD (a), ==, 0);
  g_assert_cmpuint (A_USED_WRAP (a), ==, 1);
  for (guint i = 0; i < NUM; i++)
    {
      g_assert_cmpuint (E_INFLIGHT (a, i), ==, 0);
      g_assert_cmpuint (E_NEXT (a, i), ==, i + 1);
    }

  make_available_one (f, DATA, 8, 0, 4);
  make_available (f, two, 2, 9);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  /* id 4 in entry 0, id 9 in entries 1 and 2 */
  g_assert_cmpuint (E_INFLIGHT (a, 0), ==, 1);
  g_assert_cmpuint (E_NUM (a, 0), ==, 1);
  g_assert_cmpuint (E_LAST (a, 0), ==, 0);
  g_assert_cmpuint (E_ID (a, 0), ==, 4);
  g_assert_cmpuint (E_INFLIGHT (a, 1), ==, 1);
  g_assert_cmpuint (E_NUM (a, 1), ==, 2);
  g_assert_cmpuint (E_LAST (a, 1), ==, 2);
  g_assert_cmpuint (E_COUNTER (a, 1), >, E_COUNTER (a, 0));
  g_assert_cmpuint (E_ADDR (a, 2), ==, DATA + 0x100);
  g_assert_cmpuint (E_LEN (a, 2), ==, 32);
  g_assert_cmphex (E_FLAGS (a, 2) & (F_WRITE | F_NEXT), ==, F_WRITE);
  g_assert_cmpuint (E_ID (a, 2), ==, 9);
  g_assert_cmpuint (A_FREE_HEAD (a), ==, 3);
  g_assert_cmpuint (A_OLD_FREE_HEAD (a), ==, 3);

  /* the second first: its entries go back to the head of the free list */
  g_assert_true (vhost_user_vring_push (f->vring, 9, 32, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (E_INFLIGHT (a, 1), ==, 0);
  g_assert_cmpuint (A_FREE_HEAD (a), ==, 1);
  g_assert_cmpuint (E_NEXT (a, 2), ==, 3);
  g_assert_cmpuint (A_USED_IDX (a), ==, 2);
  g_assert_cmpuint (A_OLD_USED_IDX (a), ==, 2);
  g_assert_cmpuint (A_OLD_FREE_HEAD (a), ==, 1);
  g_assert_true (vhost_user_vring_push (f->vring, 4, 0, &error));
  g_assert_cmpuint (A_FREE_HEAD (a), ==, 0);
  g_assert_cmpuint (E_NEXT (a, 0), ==, 1);
  g_assert_cmpuint (A_USED_IDX (a), ==, 3);
  g_assert_true (get_used (f, &id, &len));
  g_assert_true (get_used (f, &id, &len));
}

/* Requests completed out of order, then the device dies: the new one
 * hands out the rest in the order they were first taken (not the order
 * of their entries in the area), rebuilt from the area (the ring holds
 * used descriptors over some of them by now), with positions from the
 * area, whatever base the front-end sent; then the requests no back-end
 * took. */
static void
test_inflight_out_of_order (Fixture       *f,
                            gconstpointer  data)
{
  guint8 *a;
  g_autoptr(GBytes) area = area_new (&a);
  g_autoptr(VhostUserVring) again = NULL;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint id, len, done[2] = { 3, 2 }, lens[2] = { 30, 20 };
  guint expected[3] = { 0, 1, 4 };

  start_with_area (f, area);
  /* two first, completed in order: the free list is 1, 0, 2, ... now */
  for (guint i = 10; i < 12; i++)
    {
      make_available_one (f, DATA, 8, F_WRITE, i);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
    }
  for (guint i = 10; i < 12; i++)
    {
      g_assert_true (vhost_user_vring_push (f->vring, i, 0, &error));
      g_assert_true (get_used (f, &id, &len));
    }
  g_assert_cmpuint (A_FREE_HEAD (a), ==, 1);

  /* ids 0-4 with chains of 1, 2, 3, 1, 2 descriptors: positions 2-10;
   * id 1 takes entries 0 and 2, after id 0 took entry 1 */
  for (guint i = 0; i < 5; i++)
    {
      Buf bufs[3];
      guint n = 1 + (i * 4) % 3;

      for (guint k = 0; k < n; k++)
        bufs[k] = (Buf) { DATA + 0x100 * i + 0x10 * k, 8 + k, k == n - 1 ? F_WRITE : 0 };
      make_available (f, bufs, n, i);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      g_assert_cmpuint (e.head, ==, i);
    }
  g_assert_no_error (error);
  g_assert_cmpuint (E_INFLIGHT (a, 0), ==, 1);
  g_assert_cmpuint (E_ID (a, 0), ==, 1);
  /* 3 (one descriptor) and 2 (three) used: the driver's used position is
   * 6, and the used descriptors sit over ids 0 and 1 at 2 and 3 */
  g_assert_true (vhost_user_vring_push_batch (f->vring, done, lens, 2, &error));
  g_assert_true (get_used (f, &id, &len));
  g_assert_cmpuint (id, ==, 3);
  g_assert_true (get_used (f, &id, &len));
  g_assert_cmpuint (id, ==, 2);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x8006800b);
  /* one more the first device never took */
  make_available_one (f, DATA + 0x800, 64, F_WRITE, 3);

  again = restart (f, area);
  /* used where the driver reads next, available past the 5 descriptors
   * of the three in flight */
  g_assert_cmphex (vhost_user_vring_get_base (again), ==, 0x8006800b);
  for (guint i = 0; i < 3; i++)
    {
      guint n = 1 + (expected[i] * 4) % 3;

      g_assert_true (vhost_user_vring_pop (again, &e, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (e.head, ==, expected[i]);
      g_assert_cmpuint (e.n_out, ==, n - 1);
      g_assert_cmpuint (e.n_in, ==, 1);
      g_assert_true (e.in[0].base == f->mem + DATA + 0x100 * expected[i] + 0x10 * (n - 1));
      g_assert_cmpuint (e.in[0].len, ==, 8 + n - 1);
      if (n > 1)
        g_assert_true (e.out[0].base == f->mem + DATA + 0x100 * expected[i]);
    }
  g_assert_true (vhost_user_vring_pop (again, &e, &error));
  g_assert_cmpuint (e.head, ==, 3);
  g_assert_true (e.in[0].base == f->mem + DATA + 0x800);
  g_assert_false (vhost_user_vring_pop (again, &e, &error));
  g_assert_no_error (error);

  /* all of them complete; the driver sees each once */
  for (guint i = 0; i < 3; i++)
    g_assert_true (vhost_user_vring_push (again, expected[i], 100 + expected[i], &error));
  g_assert_true (vhost_user_vring_push (again, 3, 64, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (get_used (f, &id, &len));
      g_assert_cmpuint (id, ==, expected[i]);
      g_assert_cmpuint (len, ==, 100 + expected[i]);
    }
  g_assert_true (get_used (f, &id, &len));
  g_assert_cmpuint (id, ==, 3);
  g_assert_false (get_used (f, &id, &len));
  g_assert_cmphex (vhost_user_vring_get_base (again), ==, driver_base (f));
  g_assert_cmpuint (f->free_desc, ==, NUM);
}

/* An indirect request comes back whole after a restart. */
static void
test_inflight_indirect (Fixture       *f,
                        gconstpointer  data)
{
  guint8 *a;
  g_autoptr(GBytes) area = area_new (&a);
  g_autoptr(VhostUserVring) again = NULL;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  PackedDesc table[3] = {
    { DATA, 16, 0, 0 },
    { MEM_SIZE - 0x80, 0x100, 0, F_WRITE },   /* across both regions */
    { DATA + 0x2000, 1, 0, F_WRITE },
  };
  guint id, len;

  start_with_area (f, area);
  memcpy (f->mem + INDIRECT, table, sizeof table);
  make_available_one (f, INDIRECT, sizeof table, F_INDIRECT, 42);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);

  again = restart (f, area);
  g_assert_cmphex (vhost_user_vring_get_base (again), ==, 0x80008001);
  memset (&e, 0, sizeof e);
  g_assert_true (vhost_user_vring_pop (again, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e.head, ==, 42);
  g_assert_cmpuint (e.n_out, ==, 1);
  g_assert_cmpuint (e.n_in, ==, regions_adjacent (f) ? 2 : 3);
  g_assert_cmpuint (e.in_len, ==, 0x101);
  if (!regions_adjacent (f))
    g_assert_true (e.in[1].base == vhost_user_memory_region_get_host_addr (f->high));
  g_assert_true (vhost_user_vring_push (again, 42, 0x101, &error));
  g_assert_true (get_used (f, &id, &len));
  g_assert_cmpuint (id, ==, 42);
  g_assert_cmphex (vhost_user_vring_get_base (again), ==, 0x80018001);
}

/* Three popped, two pushed in one batch; the device dies after the used
 * descriptors reached the driver and before the area said so (old_*
 * still from before the batch): the new one rolls forward and hands out
 * only the third. */
static void
test_inflight_torn_batch (Fixture       *f,
                          gconstpointer  data)
{
  guint8 *a;
  g_autoptr(GBytes) area = area_new (&a);
  g_autoptr(VhostUserVring) again = NULL;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint heads[3], lens[2] = { 1, 1 }, id, len;

  start_with_area (f, area);
  for (guint i = 0; i < 3; i++)
    {
      make_available_one (f, DATA + 0x100 * i, 64, F_WRITE, 5 + i);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      heads[i] = e.head;
    }
  g_assert_true (vhost_user_vring_push_batch (f->vring, heads, lens, 2, &error));
  g_assert_no_error (error);

  /* tear it: as if it died before clearing inflight and the old_* fields */
  E_INFLIGHT (a, 0) = E_INFLIGHT (a, 1) = 1;
  A_OLD_FREE_HEAD (a) = 3;
  A_OLD_USED_IDX (a) = 0;

  again = restart (f, area);
  g_assert_cmphex (vhost_user_vring_get_base (again), ==, 0x80028003);
  g_assert_cmpuint (A_OLD_USED_IDX (a), ==, 2);
  g_assert_cmpuint (A_FREE_HEAD (a), ==, 1);
  g_assert_cmpuint (E_INFLIGHT (a, 0), ==, 0);
  g_assert_cmpuint (E_INFLIGHT (a, 1), ==, 0);
  g_assert_true (vhost_user_vring_pop (again, &e, &error));
  g_assert_cmpuint (e.head, ==, heads[2]);
  g_assert_false (vhost_user_vring_pop (again, &e, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_vring_push (again, heads[2], 1, &error));
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (get_used (f, &id, &len));
      g_assert_cmpuint (id, ==, heads[i]);
    }
  g_assert_cmphex (vhost_user_vring_get_base (again), ==, driver_base (f));
}

/* The device dies in the middle of a push, before the used descriptors
 * reached the driver, and in the middle of a pop: both are rolled back,
 * and all three requests are handed out again. */
static void
test_inflight_unfinished (Fixture       *f,
                          gconstpointer  data)
{
  guint8 *a;
  g_autoptr(GBytes) area = area_new (&a);
  g_autoptr(VhostUserVring) again = NULL;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint id, len;

  start_with_area (f, area);
  for (guint i = 0; i < 3; i++)
    {
      make_available_one (f, DATA + 0x100 * i, 64, F_WRITE, 5 + i);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
    }
  /* a push of the first two got as far as the free list and used_idx */
  E_NEXT (a, 0) = 3;
  E_NEXT (a, 1) = 0;
  A_FREE_HEAD (a) = 1;
  A_USED_IDX (a) = 2;
  /* and a pop had taken entry 3 */
  E_INFLIGHT (a, 3) = 1;
  E_NUM (a, 3) = 1;
  E_COUNTER (a, 3) = 1;
  A_FREE_HEAD (a) = 4;

  again = restart (f, area);
  g_assert_cmphex (vhost_user_vring_get_base (again), ==, 0x80008003);
  g_assert_cmpuint (A_FREE_HEAD (a), ==, 3);
  g_assert_cmpuint (A_USED_IDX (a), ==, 0);
  g_assert_cmpuint (E_INFLIGHT (a, 3), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (vhost_user_vring_pop (again, &e, &error));
      g_assert_cmpuint (e.head, ==, 5 + i);
      g_assert_true (vhost_user_vring_push (again, e.head, 8, &error));
    }
  g_assert_false (vhost_user_vring_pop (again, &e, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (get_used (f, &id, &len));
      g_assert_cmpuint (id, ==, 5 + i);
    }
}

/* The front-end writes the area too: whatever it says, a restart hands
 * out only requests that pass a pop's checks, and a lie breaks the ring
 * with an error, never a read or write outside guest memory or the
 * area. Two requests (entries 0 and 1) were in flight. */
typedef void (*Liar) (guint8 *a);

static void lie_used (guint8 *a) { A_USED_IDX (a) = A_OLD_USED_IDX (a) = NUM; }
static void lie_num (guint8 *a) { E_NUM (a, 0) = NUM; }
static void lie_num_zero (guint8 *a) { E_NUM (a, 1) = 0; }
static void lie_next (guint8 *a) { E_NUM (a, 0) = 2; E_NEXT (a, 0) = 0xffff; }
static void lie_last (guint8 *a) { E_LAST (a, 0) = 7; }
static void lie_id (guint8 *a) { E_ID (a, 0) = 0xffff; }
static void lie_id_twice (guint8 *a) { E_ID (a, 1) = E_ID (a, 0); }
static void lie_addr (guint8 *a) { E_ADDR (a, 1) = 5 * MEM_SIZE; }
static void lie_indirect (guint8 *a) { E_FLAGS (a, 0) |= F_INDIRECT; E_LEN (a, 0) = 20; }
static void lie_free_head (guint8 *a) { A_FREE_HEAD (a) = A_OLD_FREE_HEAD (a) = 0xffff; }

static void
lie_everything (guint8 *a)
{
  memset (a + 12, 0xff, AREA_LEN - 12);
}

static const struct {
  const char *name;
  Liar        lie;
  const char *why;
} liars[] = {
  { "used-outside-ring", lie_used, "used position is outside the ring" },
  { "chain-too-long", lie_num, "chains do not fit in the ring" },
  { "chain-empty", lie_num_zero, "chains do not fit in the ring" },
  { "chain-leaves-ring", lie_next, "leaves the ring" },
  { "chain-wrong-end", lie_last, "does not end where it says" },
  { "id-outside-ring", lie_id, "id outside the ring" },
  { "id-twice", lie_id_twice, "already in use" },
  { "buffer-outside-memory", lie_addr, "outside guest memory" },
  { "indirect-partial", lie_indirect, "not whole descriptors" },
  { "free-list-outside-ring", lie_free_head, "free list leaves the ring" },
  { "everything", lie_everything, "used position is outside the ring" },
};

static void
test_inflight_hostile_area (Fixture       *f,
                            gconstpointer  data)
{
  guint which = GPOINTER_TO_UINT (data);
  guint8 *a;
  g_autoptr(GBytes) area = area_new (&a);
  g_autoptr(VhostUserVring) again = NULL;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint popped = 0;

  start_with_area (f, area);
  for (guint i = 0; i < 2; i++)
    {
      make_available_one (f, DATA + 0x100 * i, 64, F_WRITE, i);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
    }
  make_available_one (f, DATA + 0x200, 64, F_WRITE, 2);
  liars[which].lie (a);

  again = restart (f, area);
  while (vhost_user_vring_pop (again, &e, &error))
    {
      g_assert_cmpuint (e.head, <, NUM);
      g_assert_cmpuint (++popped, <=, 3);
    }
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, liars[which].why));
  /* broken: left alone */
  g_clear_error (&error);
  g_assert_false (vhost_user_vring_pop (again, &e, &error));
  g_assert_no_error (error);
}

/* --- dirty-page logging --- */

static gboolean
page_dirty (const guint8 *log,
            guint64       gpa)
{
  guint64 page = gpa / 4096;

  return (log[page / 8] >> (page % 8)) & 1;
}

/* What a push marks: the first len bytes of the request's writable
 * buffers (indirect ones too, across regions), known from what was
 * recorded at pop even when used descriptors have overwritten the ring
 * where the request was, or the driver its indirect table; the used descriptors at the descriptor ring's
 * own address; the device area, when the device writes it, at
 * log_guest_addr (QEMU gives the device area's address there). */
static void
test_dirty_log (Fixture       *f,
                gconstpointer  data)
{
  gsize log_size = 2 * MEM_SIZE / 4096 / 8;
  guint8 *log = g_malloc0 (log_size);
  g_autoptr(GBytes) log_bytes = g_bytes_new_with_free_func (log, log_size, g_free, log);
  VhostUserVringAddress address = *vhost_user_vring_get_address (f->vring);
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  PackedDesc table[2] = {
    { DATA + 0x4000, 0x1000, 0, F_WRITE },            /* page 12 */
    { MEM_SIZE + 0x1000, 0x1000, 0, F_WRITE },        /* page 17, the high region */
  };
  Buf request[2] = { { DATA, 16, 0 }, { DATA + 0x1000, 0x2000, F_WRITE } };   /* pages 8; 9, 10 */
  guint id, len, n_dirty = 0;

  address.flags = 1;   /* VHOST_VRING_F_LOG */
  address.log_guest_addr = DEVICE;
  vhost_user_vring_set_address (f->vring, &address);
  vhost_user_vring_set_logging (f->vring, TRUE, log_bytes, -1);

  make_available (f, request, 2, 0);
  memcpy (f->mem + INDIRECT, table, sizeof table);
  make_available_one (f, INDIRECT, sizeof table, F_INDIRECT, 1);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < log_size; i++)
    g_assert_cmpuint (log[i], ==, 0);
  /* the driver rewrites the indirect table once it was popped: the push
   * marks where the buffers were, not where the table says now */
  table[0].addr = DATA + 0x6000;
  memcpy (f->mem + INDIRECT, table, sizeof table);

  /* the indirect one first: its used descriptor lands on the other's */
  g_assert_true (vhost_user_vring_push (f->vring, 1, 0x1001, &error));
  g_assert_true (vhost_user_vring_push (f->vring, 0, 0x1001, &error));
  g_assert_no_error (error);
  g_assert_true (get_used (f, &id, &len));
  g_assert_true (get_used (f, &id, &len));

  g_assert_true (page_dirty (log, DESC));
  g_assert_true (page_dirty (log, DATA + 0x1000));
  g_assert_true (page_dirty (log, DATA + 0x2000));
  g_assert_true (page_dirty (log, DATA + 0x4000));
  g_assert_true (page_dirty (log, MEM_SIZE + 0x1000));
  g_assert_false (page_dirty (log, DEVICE));
  g_assert_false (page_dirty (log, DATA + 0x6000));
  for (guint64 gpa = 0; gpa < 2 * MEM_SIZE; gpa += 4096)
    n_dirty += page_dirty (log, gpa);
  g_assert_cmpuint (n_dirty, ==, 5);

  /* the device area, written when an empty ring says ENABLE again */
  set_event (f, DEVICE, 0, PACKED_EVENT_DISABLE);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_true (page_dirty (log, DEVICE));
}

static void
set_true (VhostUserVring *vring,
          gpointer        user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* On a packed ring the driver broke, what the device holds is done with
 * when it comes back refused, once each (test-vring.c has the split
 * ring's); a refused batch of valid ids hands nothing back before. */
static void
test_broken_counts_once (Fixture       *f,
                         gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint ids[2] = { 5, NUM }, lens[2] = { 0, 0 };
  gboolean drained = FALSE;

  make_available_one (f, DATA, 8, F_WRITE, 5);
  make_available_one (f, DATA + 0x100, 8, F_WRITE, 7);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      g_assert_no_error (error);
    }
  vhost_user_vring_set_memory_table (f->vring, f->table);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 1);
  g_assert_false (vhost_user_vring_push_batch (f->vring, ids, lens, 2, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 1);

  /* a buffer outside guest memory: broken */
  make_available_one (f, 3 * MEM_SIZE, 8, F_WRITE, 9);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_when_drained (f->vring, set_true, &drained, NULL);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_false (vhost_user_vring_push (f->vring, 5, 0, &error));
      g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
      g_clear_error (&error);
      g_assert_cmpuint (vhost_user_vring_get_in_flight (f->vring), ==, 1);
      g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 1);
    }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_false (drained);
  g_assert_false (vhost_user_vring_push (f->vring, 7, 0, &error));
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_vring_get_in_flight (f->vring), ==, 0);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (drained);
}

/* GET_VRING_BASE_SKIP_DRAIN on a packed ring: two chains out stay in the
 * record, the base counts them, a late push of one is dropped without a
 * used descriptor, and a restart on the same area hands both out again,
 * oldest first. */
static void
test_stop_skip_drain (Fixture       *f,
                      gconstpointer  data)
{
  guint8 *a;
  g_autoptr(GBytes) area = area_new (&a);
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  Buf two[2] = { { DATA, 16, 0 }, { DATA + 0x100, 32, F_WRITE } };
  guint32 base = 0;
  guint id, len;
  gboolean drained = FALSE;

  start_with_area (f, area);
  make_available_one (f, DATA, 8, F_WRITE, 5);
  make_available (f, two, 2, 7);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_cmpuint (e.head, ==, 5);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_cmpuint (e.head, ==, 7);
  g_assert_no_error (error);

  vhost_user_vring_when_drained (f->vring, set_true, &drained, NULL);
  vhost_user_vring_stop_skip_drain (f->vring, &base);
  /* available past both chains (3 descriptors), nothing used */
  g_assert_cmphex (base, ==, 0x80008003);
  g_assert_false (vhost_user_vring_get_started (f->vring));
  g_assert_cmpuint (vhost_user_vring_get_in_flight (f->vring), ==, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (drained);
  g_assert_cmpuint (E_INFLIGHT (a, 0), ==, 1);
  g_assert_cmpuint (E_INFLIGHT (a, 1), ==, 1);

  /* the device finishes one late: dropped quietly, the record keeps it */
  g_assert_true (vhost_user_vring_push (f->vring, 7, 32, &error));
  g_assert_no_error (error);
  g_assert_false (get_used (f, &id, &len));
  g_assert_cmpuint (E_INFLIGHT (a, 1), ==, 1);
  g_assert_cmpuint (A_USED_IDX (a), ==, 0);

  /* a successor on the same area */
  vhost_user_vring_set_base (f->vring, base);
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_cmphex (vhost_user_vring_get_base (f->vring), ==, 0x80008003);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_cmpuint (e.head, ==, 5);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_cmpuint (e.head, ==, 7);
  g_assert_cmpuint (e.n_out, ==, 1);
  g_assert_cmpuint (e.n_in, ==, 1);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_vring_push (f->vring, 7, 32, &error));
  g_assert_true (vhost_user_vring_push (f->vring, 5, 8, &error));
  g_assert_no_error (error);
  g_assert_true (get_used (f, &id, &len));
  g_assert_cmpuint (id, ==, 7);
  g_assert_true (get_used (f, &id, &len));
  g_assert_cmpuint (id, ==, 5);
  g_assert_cmpuint (E_INFLIGHT (a, 0), ==, 0);
  g_assert_cmpuint (E_INFLIGHT (a, 1), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func, data) g_test_add ("/vring/packed/" path, Fixture, data, fixture_setup, func, fixture_teardown)
  ADD ("empty", test_empty, NULL);
  ADD ("chains", test_chains, NULL);
  ADD ("whole-ring-chain", test_whole_ring_chain, NULL);
  ADD ("indirect", test_indirect, NULL);
  ADD ("split-across-regions", test_split_across_regions, NULL);
  ADD ("wrap/in-order", test_wrap, GUINT_TO_POINTER (0));
  ADD ("wrap/reversed", test_wrap, GUINT_TO_POINTER (1));
  ADD ("wrap/shuffled", test_wrap, GUINT_TO_POINTER (2));
  ADD ("push-batch", test_push_batch, NULL);
  ADD ("base", test_base, NULL);
  ADD ("base-before-features", test_base_before_features, NULL);
  ADD ("stopped-untouched", test_stopped_untouched, NULL);
  ADD ("event-flags", test_event_flags, NULL);
  ADD ("event-idx", test_event_idx, NULL);
  ADD ("inflight-layout", test_inflight_layout, NULL);
  ADD ("inflight-out-of-order", test_inflight_out_of_order, NULL);
  ADD ("inflight-indirect", test_inflight_indirect, NULL);
  ADD ("inflight-torn-batch", test_inflight_torn_batch, NULL);
  ADD ("inflight-unfinished", test_inflight_unfinished, NULL);
  ADD ("dirty-log", test_dirty_log, NULL);
  ADD ("stop-skip-drain", test_stop_skip_drain, NULL);
  ADD ("push/broken-counts-once", test_broken_counts_once, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (liars); i++)
    {
      g_autofree char *path = g_strconcat ("/vring/packed/inflight-hostile-area/", liars[i].name, NULL);

      g_test_add (path, Fixture, GUINT_TO_POINTER (i), fixture_setup, test_inflight_hostile_area, fixture_teardown);
    }
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      g_autofree char *path = g_strconcat ("/vring/packed/hostile/", hostile[i].name, NULL);

      g_test_add (path, Fixture, GUINT_TO_POINTER (i), fixture_setup, test_hostile, fixture_teardown);
    }
#undef ADD

  return g_test_run ();
}
