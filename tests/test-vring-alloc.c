/* test-vring-alloc.c: the data path allocates nothing
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * malloc, calloc, realloc and the aligned allocators are defined here, so
 * every allocation of the process (GLib's own included) goes through them
 * and is counted while counting is on. Then 10,000 requests go through a
 * split ring: the driver (this test) makes a chain available, the ring
 * pops it, pushes it as used and signals the call eventfd; a third of the
 * chains are indirect, with EVENT_IDX on. Not one allocation is allowed.
 *
 * Sanitizer builds and valgrind replace malloc themselves; the test skips
 * there.
 */

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-iotlb-private.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-vring-packed-private.h"
#include "vhost-user-vring-private.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

static gint counting;
static gint allocations;

/* Whoever else replaces malloc (valgrind's preload) wins over ours. */
static gboolean
malloc_is_ours (void)
{
  const char *preload = g_getenv ("LD_PRELOAD");

#ifdef SANITIZED
  g_test_skip ("The sanitizer owns malloc in this build");
  return FALSE;
#endif
  if (preload != NULL && strstr (preload, "vgpreload") != NULL)
    {
      g_test_skip ("valgrind owns malloc here");
      return FALSE;
    }
  return TRUE;
}

#ifndef SANITIZED
extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *ptr, size_t size);
extern void *__libc_memalign (size_t alignment, size_t size);

static inline void
count (void)
{
  if (__atomic_load_n (&counting, __ATOMIC_RELAXED))
    __atomic_add_fetch (&allocations, 1, __ATOMIC_RELAXED);
}

void *malloc (size_t size) { count (); return __libc_malloc (size); }
void *calloc (size_t n, size_t size) { count (); return __libc_calloc (n, size); }
void *realloc (void *ptr, size_t size) { count (); return __libc_realloc (ptr, size); }
void *memalign (size_t alignment, size_t size) { count (); return __libc_memalign (alignment, size); }
void *aligned_alloc (size_t alignment, size_t size) { count (); return __libc_memalign (alignment, size); }
int
posix_memalign (void **out, size_t alignment, size_t size)
{
  count ();
  *out = __libc_memalign (alignment, size);
  return *out != NULL ? 0 : ENOMEM;
}
#endif

#define NUM      256
#define DESC     0x0000
#define AVAIL    0x1000
#define USED     0x2000
#define INDIRECT 0x4000
#define DATA     0x8000
#define MEM_SIZE 0x20000

typedef struct {
  guint64 addr;
  guint32 len;
  guint16 flags;
  guint16 next;
} Desc;

/* With @data, behind an IOMMU: every address an IOVA, mapped a page at a
 * time (the buffers' IOVAs are the numbers of their guest-physical
 * addresses, the rings' those of their front-end addresses). */
static void
test_no_allocation (gconstpointer data)
{
  gboolean iommu = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMemoryRegion) region = NULL;
  g_autoptr(VhostUserMemoryTable) table = NULL;
  g_autoptr(VhostUserIotlb) iotlb = NULL;
  g_autoptr(VhostUserVring) vring = NULL;
  VhostUserVringAddress address = { 0 };
  VhostUserVringElement *e = g_new0 (VhostUserVringElement, 1);
  guint16 avail_idx = 0;
  int call = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  guint8 *mem;
  guint64 value;

  if (!malloc_is_ours ())
    {
      g_free (e);
      close (call);
      return;
    }
  region = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  g_assert_no_error (error);
  table = vhost_user_memory_table_new (&region, 1, &error);
  g_assert_no_error (error);
  mem = vhost_user_memory_region_get_host_addr (region);

  vring = vhost_user_vring_new (0, NULL);
  vhost_user_vring_set_memory_table (vring, table);
  vhost_user_vring_set_features (vring, FALSE, TRUE);
  vhost_user_vring_set_size (vring, NUM);
  address.desc_user_addr = vhost_user_memory_region_get_user_addr (region) + DESC;
  address.avail_user_addr = vhost_user_memory_region_get_user_addr (region) + AVAIL;
  address.used_user_addr = vhost_user_memory_region_get_user_addr (region) + USED;
  vhost_user_vring_set_address (vring, &address);
  vhost_user_vring_take_fd (vring, VHOST_USER_VRING_FD_CALL, dup (call));
  if (iommu)
    {
      guint64 user = vhost_user_memory_region_get_user_addr (region);

      iotlb = vhost_user_iotlb_new (1024);
      for (guint64 page = 0; page < MEM_SIZE; page += 0x1000)
        {
          g_assert_true (vhost_user_iotlb_update (iotlb, page, 0x1000, user + page, VHOST_USER_IOTLB_PERM_RW, &error));
          g_assert_true (vhost_user_iotlb_update (iotlb, user + page, 0x1000, user + page, VHOST_USER_IOTLB_PERM_RW,
                                                  &error));
        }
      g_assert_no_error (error);
      vhost_user_vring_set_iotlb (vring, iotlb);
    }
  vhost_user_vring_set_started (vring, TRUE);

  {
    /* an indirect table: header, data, status */
    Desc indirect[3] = {
      { DATA, 16, 1, 1 },
      { DATA + 0x100, 4096, 1 | 2, 2 },
      { DATA + 0x2000, 1, 2, 0 },
    };

    memcpy (mem + INDIRECT, indirect, sizeof indirect);
  }

  for (int round = 0; round < 10001; round++)
    {
      guint16 head = (round * 3) % NUM;
      guint16 used_event = avail_idx;   /* interrupt me every time */

      if (round % 3 == 0)
        {
          Desc d = { INDIRECT, 3 * sizeof (Desc), 4, 0 };

          memcpy (mem + DESC + head * sizeof d, &d, sizeof d);
        }
      else
        {
          Desc chain[3] = {
            { DATA, 16, 1, (head + 1) % NUM },
            { DATA + 0x100, 512, 1 | 2, (head + 2) % NUM },
            { DATA + 0x400, 1, 2, 0 },
          };

          for (int i = 0; i < 3; i++)
            memcpy (mem + DESC + ((head + i) % NUM) * sizeof (Desc), &chain[i], sizeof (Desc));
        }
      memcpy (mem + AVAIL + 4 + 2 * (avail_idx % NUM), &head, 2);
      memcpy (mem + AVAIL + 4 + 2 * NUM, &used_event, 2);
      avail_idx++;
      memcpy (mem + AVAIL + 2, &avail_idx, 2);

      /* the first round warms up whatever is lazily set up once */
      if (round == 1)
        __atomic_store_n (&counting, 1, __ATOMIC_RELAXED);

      g_assert_true (vhost_user_vring_pop (vring, e, NULL));
      g_assert_true (vhost_user_vring_push (vring, e->head, e->in_len, NULL));
      g_assert_true (vhost_user_vring_call (vring, NULL));
    }
  __atomic_store_n (&counting, 0, __ATOMIC_RELAXED);

  g_assert_cmpint (allocations, ==, 0);
  /* and the work was done: every call went out */
  g_assert_cmpint (read (call, &value, sizeof value), ==, sizeof value);
  g_assert_cmpuint (value, ==, 10001);
  g_free (e);
  close (call);
}

/* A network device's receive path: packets into merged receive buffers
 * (vhost_user_vring_receive()), every fourth round a ring one buffer
 * short (the popped ones handed back, then filled once the driver posts
 * another), and a transmit-side batch pop. */
static void
test_no_allocation_receive (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMemoryRegion) region = NULL;
  g_autoptr(VhostUserMemoryTable) table = NULL;
  g_autoptr(VhostUserVring) vring = NULL;
  VhostUserVringAddress address = { 0 };
  VhostUserVringElement *scratch = g_new0 (VhostUserVringElement, 4);
  guint8 header[12] = { 0 }, packet[150] = { 0 };
  guint16 avail_idx = 0, next = 0;
  guint received = 0, n;
  guint8 *mem;

  if (!malloc_is_ours ())
    {
      g_free (scratch);
      return;
    }
  region = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  g_assert_no_error (error);
  table = vhost_user_memory_table_new (&region, 1, &error);
  g_assert_no_error (error);
  mem = vhost_user_memory_region_get_host_addr (region);

  vring = vhost_user_vring_new (0, NULL);
  vhost_user_vring_set_memory_table (vring, table);
  vhost_user_vring_set_features (vring, FALSE, TRUE);
  vhost_user_vring_set_size (vring, NUM);
  address.desc_user_addr = vhost_user_memory_region_get_user_addr (region) + DESC;
  address.avail_user_addr = vhost_user_memory_region_get_user_addr (region) + AVAIL;
  address.used_user_addr = vhost_user_memory_region_get_user_addr (region) + USED;
  vhost_user_vring_set_address (vring, &address);
  vhost_user_vring_set_started (vring, TRUE);

  for (int round = 0; round < 10001; round++)
    {
      gboolean short_round = round % 4 == 3;

      /* two 100-byte buffers (one first, on a short round) */
      for (guint i = 0; i < 2; i++)
        {
          Desc d = { DATA + 0x100 * (next % 64), 100, 2, 0 };
          guint16 head = next % NUM;

          if (short_round && i == 1)
            {
              g_assert_false (vhost_user_vring_receive (vring, scratch, 4, header, sizeof header, 10, packet,
                                                        sizeof packet, &n, NULL));
              g_assert_cmpuint (vhost_user_vring_get_in_flight (vring), ==, 0);
            }
          memcpy (mem + DESC + head * sizeof d, &d, sizeof d);
          memcpy (mem + AVAIL + 4 + 2 * (avail_idx % NUM), &head, 2);
          avail_idx++;
          next++;
          memcpy (mem + AVAIL + 2, &avail_idx, 2);
        }

      if (round == 1)
        __atomic_store_n (&counting, 1, __ATOMIC_RELAXED);

      g_assert_true (vhost_user_vring_receive (vring, scratch, 4, header, sizeof header, 10, packet, sizeof packet,
                                               &n, NULL));
      g_assert_cmpuint (n, ==, 2);
      received++;
      /* and the transmit side's batch pop, of a ring found empty */
      g_assert_true (vhost_user_vring_pop_batch (vring, scratch, 4, &n, NULL));
      g_assert_cmpuint (n, ==, 0);
    }
  __atomic_store_n (&counting, 0, __ATOMIC_RELAXED);

  g_assert_cmpint (allocations, ==, 0);
  g_assert_cmpuint (received, ==, 10001);
  {
    guint16 used_idx;

    memcpy (&used_idx, mem + USED + 2, 2);
    g_assert_cmpuint (used_idx, ==, (guint16) (2 * 10001));
  }
  g_free (scratch);
}

/* The same through a packed ring of an odd size: chains of three over
 * the ring's end and indirect tables, completed two at a time in
 * reverse, with the driver asking for a call at every used descriptor. */
static void
test_no_allocation_packed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMemoryRegion) region = NULL;
  g_autoptr(VhostUserMemoryTable) table = NULL;
  g_autoptr(VhostUserVring) vring = NULL;
  VhostUserVringAddress address = { 0 };
  VhostUserVringElement *e = g_new0 (VhostUserVringElement, 1);
  const guint num = 255;
  guint pos = 0, used_pos = 0, calls_wanted = 0;
  gboolean wrap = TRUE, used_wrap = TRUE;
  int call = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  guint8 *mem;
  guint64 value;

  if (!malloc_is_ours ())
    {
      g_free (e);
      close (call);
      return;
    }
  region = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  g_assert_no_error (error);
  table = vhost_user_memory_table_new (&region, 1, &error);
  g_assert_no_error (error);
  mem = vhost_user_memory_region_get_host_addr (region);

  vring = vhost_user_vring_new (0, NULL);
  vhost_user_vring_set_memory_table (vring, table);
  vhost_user_vring_set_features (vring, TRUE, TRUE);
  vhost_user_vring_set_size (vring, num);
  vhost_user_vring_set_base (vring, 0x80008000);
  address.desc_user_addr = vhost_user_memory_region_get_user_addr (region) + DESC;
  address.avail_user_addr = vhost_user_memory_region_get_user_addr (region) + AVAIL;
  address.used_user_addr = vhost_user_memory_region_get_user_addr (region) + USED;
  vhost_user_vring_set_address (vring, &address);
  vhost_user_vring_take_fd (vring, VHOST_USER_VRING_FD_CALL, dup (call));
  vhost_user_vring_set_started (vring, TRUE);

  {
    PackedDesc indirect[3] = {
      { DATA, 16, 0, 0 },
      { DATA + 0x100, 4096, 0, 0 },
      { DATA + 0x2000, 1, 0, PACKED_DESC_F_WRITE },
    };

    memcpy (mem + INDIRECT, indirect, sizeof indirect);
  }

  for (int round = 0; round < 5001; round++)
    {
      guint heads[2], lens[2];

      /* two requests, ids 0 and 1 */
      for (guint16 id = 0; id < 2; id++)
        {
          PackedDesc chain[3] = {
            { DATA, 16, id, 0 },
            { DATA + 0x100, 512, id, PACKED_DESC_F_WRITE },
            { DATA + 0x400, 1, id, PACKED_DESC_F_WRITE },
          };
          PackedDesc single = { INDIRECT, 3 * sizeof (PackedDesc), id, PACKED_DESC_F_INDIRECT };
          gboolean use_indirect = (round + id) % 3 == 0;
          guint n = use_indirect ? 1 : 3, first = pos;
          guint16 first_flags = 0;

          for (guint k = 0; k < n; k++)
            {
              PackedDesc d = use_indirect ? single : chain[k];

              d.flags |= (k + 1 < n ? PACKED_DESC_F_NEXT : 0) | packed_avail_flags (wrap);
              if (k == 0)
                first_flags = d.flags, d.flags = 0;
              memcpy (mem + DESC + pos * sizeof d, &d, sizeof d);
              if (++pos == num)
                pos = 0, wrap = !wrap;
            }
          memcpy (mem + DESC + first * sizeof (PackedDesc) + PACKED_DESC_FLAGS_OFFSET, &first_flags, 2);
        }
      {
        /* call me at the next used descriptor */
        PackedEvent ev = { used_pos | (used_wrap ? 0x8000 : 0), PACKED_EVENT_DESC };

        memcpy (mem + AVAIL, &ev, sizeof ev);
      }

      if (round == 1)
        __atomic_store_n (&counting, 1, __ATOMIC_RELAXED);

      for (guint i = 0; i < 2; i++)
        {
          g_assert_true (vhost_user_vring_pop (vring, e, NULL));
          heads[1 - i] = e->head;
          lens[1 - i] = e->in_len;
        }
      g_assert_true (vhost_user_vring_push_batch (vring, heads, lens, 2, NULL));
      g_assert_true (vhost_user_vring_call (vring, NULL));
      if (round >= 1)
        calls_wanted++;
      /* the driver's used position moves past both chains */
      for (guint i = 0; i < 2; i++)
        {
          used_pos += (round + heads[i]) % 3 == 0 ? 1 : 3;
          if (used_pos >= num)
            used_pos -= num, used_wrap = !used_wrap;
        }
    }
  __atomic_store_n (&counting, 0, __ATOMIC_RELAXED);

  g_assert_cmpint (allocations, ==, 0);
  g_assert_cmpint (read (call, &value, sizeof value), ==, sizeof value);
  g_assert_cmpuint (value, ==, calls_wanted + 1);
  g_assert_cmphex (vhost_user_vring_get_base (vring),
                   ==, pos | (wrap << 15) | (used_pos << 16) | ((guint) used_wrap << 31));
  g_free (e);
  close (call);
}

/* The counter itself works: a GLib allocation is seen. */
static void
test_counter_sees_glib (void)
{
  gpointer p;

  if (!malloc_is_ours ())
    return;
  __atomic_store_n (&counting, 1, __ATOMIC_RELAXED);
  p = g_malloc (64);
  __atomic_store_n (&counting, 0, __ATOMIC_RELAXED);
  g_free (p);
  g_assert_cmpint (allocations, ==, 1);
  allocations = 0;
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vring/alloc/counter-sees-glib", test_counter_sees_glib);
  g_test_add_data_func ("/vring/alloc/none-on-the-data-path", GINT_TO_POINTER (FALSE), test_no_allocation);
  g_test_add_data_func ("/vring/alloc/none-through-the-iotlb", GINT_TO_POINTER (TRUE), test_no_allocation);
  g_test_add_func ("/vring/alloc/none-on-the-packed-data-path", test_no_allocation_packed);
  g_test_add_func ("/vring/alloc/none-on-the-receive-path", test_no_allocation_receive);
  return g_test_run ();
}
