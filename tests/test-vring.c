/* test-vring.c: the split-ring data plane against a hostile driver
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The test is the driver: it writes descriptors, the available ring and
 * reads the used ring in memfd "guest memory", and the ring pops and
 * pushes. Every way a driver can lie is tried; each must be an error that
 * leaves the ring alone, never a read or write outside guest memory (the
 * ASan build checks that too).
 */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-vring-log-private.h"
#include "vhost-user-vring-private.h"
#include "vhost-user-vring-state-private.h"

#define NUM      512
#define DESC     0x0000
#define AVAIL    0x2000
#define USED     0x3000
#define DATA     0x8000
#define MEM_SIZE 0x10000

typedef struct {
  guint64 addr;
  guint32 len;
  guint16 flags;
  guint16 next;
} Desc;

typedef struct {
  VhostUserMemoryRegion *low;     /* gpa 0 .. MEM_SIZE */
  VhostUserMemoryRegion *high;    /* gpa MEM_SIZE .. 2 * MEM_SIZE, another memfd */
  VhostUserMemoryTable  *table;
  VhostUserVring        *vring;
  guint8                *mem;     /* the low region, as the driver sees it */
  guint16                avail_idx;
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
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserMemoryRegion *regions[2];
  VhostUserVringAddress address = { 0 };

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
  vhost_user_vring_set_size (f->vring, NUM);
  /* ring addresses are front-end addresses: where the region is mapped */
  address.desc_user_addr = vhost_user_memory_region_get_user_addr (f->low) + DESC;
  address.avail_user_addr = vhost_user_memory_region_get_user_addr (f->low) + AVAIL;
  address.used_user_addr = vhost_user_memory_region_get_user_addr (f->low) + USED;
  vhost_user_vring_set_address (f->vring, &address);
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
set_desc (Fixture *f,
          guint    i,
          guint64  addr,
          guint32  len,
          guint16  flags,
          guint16  next)
{
  Desc d = { addr, len, flags, next };

  memcpy (f->mem + DESC + i * sizeof d, &d, sizeof d);
}

/* The driver makes a chain starting at @head available. */
static void
make_available (Fixture *f,
                guint16  head)
{
  memcpy (f->mem + AVAIL + 4 + 2 * (f->avail_idx % NUM), &head, 2);
  f->avail_idx++;
  memcpy (f->mem + AVAIL + 2, &f->avail_idx, 2);
}

static guint16
used_idx (Fixture *f)
{
  guint16 idx;

  memcpy (&idx, f->mem + USED + 2, 2);
  return idx;
}

static void
test_empty (Fixture       *f,
            gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;

  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
}

static void
test_pop_push (Fixture       *f,
               gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint32 entry[2];

  /* a virtio-blk read: header to read, data and status to write */
  set_desc (f, 5, DATA, 16, 1, 6);
  set_desc (f, 6, DATA + 0x100, 512, 1 | 2, 7);
  set_desc (f, 7, DATA + 0x400, 1, 2, 0);
  make_available (f, 5);

  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e.head, ==, 5);
  g_assert_cmpuint (e.n_out, ==, 1);
  g_assert_cmpuint (e.n_in, ==, 2);
  g_assert_cmpuint (e.out_len, ==, 16);
  g_assert_cmpuint (e.in_len, ==, 513);
  g_assert_true (e.out[0].base == f->mem + DATA);
  g_assert_true (e.in[0].base == f->mem + DATA + 0x100);
  g_assert_cmpuint (e.in[1].len, ==, 1);
  /* the base moves with the device */
  g_assert_cmpuint (vhost_user_vring_get_base (f->vring), ==, 1);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);

  g_assert_true (vhost_user_vring_push (f->vring, 5, 513, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (used_idx (f), ==, 1);
  memcpy (entry, f->mem + USED + 4, sizeof entry);
  g_assert_cmpuint (entry[0], ==, 5);
  g_assert_cmpuint (entry[1], ==, 513);

  g_assert_false (vhost_user_vring_push (f->vring, NUM, 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
}

static void
test_push_batch (Fixture       *f,
                 gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint heads[3], lens[3] = { 10, 20, 30 }, bad[2];
  guint32 entry[2];

  for (guint i = 0; i < 3; i++)
    {
      set_desc (f, 10 + i, DATA + 0x100 * i, 64, 2, 0);
      make_available (f, 10 + i);
    }
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      heads[i] = e.head;
    }

  /* one bad head: nothing is pushed */
  bad[0] = heads[0];
  bad[1] = NUM;
  g_assert_false (vhost_user_vring_push_batch (f->vring, bad, lens, 2, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_cmpuint (used_idx (f), ==, 0);

  g_assert_true (vhost_user_vring_push_batch (f->vring, heads, lens, 3, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (used_idx (f), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      memcpy (entry, f->mem + USED + 4 + 8 * i, sizeof entry);
      g_assert_cmpuint (entry[0], ==, 10 + i);
      g_assert_cmpuint (entry[1], ==, lens[i]);
    }
  /* an empty batch is a no-op */
  g_assert_true (vhost_user_vring_push_batch (f->vring, NULL, NULL, 0, &error));
  g_assert_cmpuint (used_idx (f), ==, 3);
}

static void
test_indices_wrap (Fixture       *f,
                   gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;

  /* free-running 16-bit indices across their wrap */
  vhost_user_vring_set_base (f->vring, 0xfffe);
  f->avail_idx = 0xfffe;
  memcpy (f->mem + USED + 2, &f->avail_idx, 2);
  set_desc (f, 0, DATA, 8, 0, 0);
  for (guint i = 0; i < 4; i++)
    make_available (f, 0);
  for (guint i = 0; i < 4; i++)
    {
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      g_assert_no_error (error);
      g_assert_true (vhost_user_vring_push (f->vring, e.head, 0, &error));
    }
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (used_idx (f), ==, 2);
  g_assert_cmpuint (vhost_user_vring_get_base (f->vring), ==, 2);
}

static void
test_indirect (Fixture       *f,
               gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  Desc table[3] = {
    { DATA, 16, 1, 1 },
    { DATA + 0x100, 4096, 1 | 2, 2 },
    { DATA + 0x2000, 1, 2, 0 },
  };

  memcpy (f->mem + 0x4000, table, sizeof table);
  set_desc (f, 0, 0x4000, sizeof table, 4, 0);
  make_available (f, 0);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e.n_out, ==, 1);
  g_assert_cmpuint (e.n_in, ==, 2);
  g_assert_cmpuint (e.in_len, ==, 4097);
}

static void
test_split_across_regions (Fixture       *f,
                           gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;

  /* 0x100 bytes before the end of the low region, 0x100 after */
  set_desc (f, 0, MEM_SIZE - 0x100, 0x200, 2, 0);
  make_available (f, 0);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  if (regions_adjacent (f))
    {
      g_assert_cmpuint (e.n_in, ==, 1);
      g_assert_cmpuint (e.in[0].len, ==, 0x200);
      return;
    }
  g_assert_cmpuint (e.n_in, ==, 2);
  g_assert_cmpuint (e.in[0].len, ==, 0x100);
  g_assert_cmpuint (e.in[1].len, ==, 0x100);
  g_assert_true (e.in[1].base == vhost_user_memory_region_get_host_addr (f->high));
}

typedef void (*Sabotage) (Fixture *f);

static void bad_head (Fixture *f) { make_available (f, NUM); }
static void bad_loop (Fixture *f) { set_desc (f, 0, DATA, 8, 1, 1); set_desc (f, 1, DATA, 8, 1, 0); make_available (f, 0); }
static void bad_self (Fixture *f) { set_desc (f, 0, DATA, 8, 1, 0); make_available (f, 0); }
static void bad_next (Fixture *f) { set_desc (f, 0, DATA, 8, 1, NUM); make_available (f, 0); }
static void bad_addr (Fixture *f) { set_desc (f, 0, 3 * MEM_SIZE, 8, 0, 0); make_available (f, 0); }
static void bad_wrap (Fixture *f) { set_desc (f, 0, G_MAXUINT64 - 4, 16, 0, 0); make_available (f, 0); }
static void bad_long (Fixture *f) { set_desc (f, 0, DATA, 2 * MEM_SIZE, 0, 0); make_available (f, 0); }
static void bad_order (Fixture *f) { set_desc (f, 0, DATA, 8, 1 | 2, 1); set_desc (f, 1, DATA, 8, 0, 0); make_available (f, 0); }
static void bad_avail (Fixture *f) { f->avail_idx = NUM + 1; memcpy (f->mem + AVAIL + 2, &f->avail_idx, 2); }
static void bad_indirect_len (Fixture *f) { set_desc (f, 0, 0x4000, 20, 4, 0); make_available (f, 0); }
static void bad_indirect_zero (Fixture *f) { set_desc (f, 0, 0x4000, 0, 4, 0); make_available (f, 0); }
static void bad_indirect_addr (Fixture *f) { set_desc (f, 0, 5 * MEM_SIZE, 32, 4, 0); make_available (f, 0); }
static void bad_indirect_next (Fixture *f) { set_desc (f, 0, 0x4000, 32, 4 | 1, 1); make_available (f, 0); }

static void
bad_nested_indirect (Fixture *f)
{
  Desc inner = { 0x4000, 16, 4, 0 };

  memcpy (f->mem + 0x4000, &inner, sizeof inner);
  set_desc (f, 0, 0x4000, 16, 4, 0);
  make_available (f, 0);
}

static void
bad_indirect_loop (Fixture *f)
{
  Desc table[2] = { { DATA, 8, 1, 1 }, { DATA, 8, 1, 0 } };

  memcpy (f->mem + 0x4000, table, sizeof table);
  set_desc (f, 0, 0x4000, sizeof table, 4, 0);
  make_available (f, 0);
}

/* More pieces than an element holds: a chain of NUM tiny buffers, each
 * split across the two regions' boundary is not needed: 300 descriptors. */
static void
bad_too_many (Fixture *f)
{
  for (guint i = 0; i < 300; i++)
    set_desc (f, i, DATA + i, 1, 1, i + 1);
  set_desc (f, 299, DATA, 1, 0, 0);
  make_available (f, 0);
}

static const struct {
  const char *name;
  Sabotage    sabotage;
} hostile[] = {
  { "head-out-of-range", bad_head },
  { "loop", bad_loop },
  { "self-loop", bad_self },
  { "next-out-of-range", bad_next },
  { "buffer-outside-memory", bad_addr },
  { "buffer-wraps", bad_wrap },
  { "buffer-too-long", bad_long },
  { "readable-after-writable", bad_order },
  { "too-many-available", bad_avail },
  { "indirect-partial-descriptor", bad_indirect_len },
  { "indirect-empty", bad_indirect_zero },
  { "indirect-outside-memory", bad_indirect_addr },
  { "indirect-with-next", bad_indirect_next },
  { "indirect-nested", bad_nested_indirect },
  { "indirect-loop", bad_indirect_loop },
  { "too-many-pieces", bad_too_many },
};

static void
test_hostile (Fixture       *f,
              gconstpointer  data)
{
  Sabotage sabotage = data;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  VhostUserVringAddress address = *vhost_user_vring_get_address (f->vring);

  sabotage (f);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_vring_get_base (f->vring), ==, 0);

  /* broken: left alone, even once the driver behaves */
  set_desc (f, 0, DATA, 8, 0, 0);
  make_available (f, 0);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_vring_push (f->vring, 0, 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);

  /* until the front-end sets the ring up again */
  vhost_user_vring_set_address (f->vring, &address);
  vhost_user_vring_set_base (f->vring, f->avail_idx - 1);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
}

static void
test_stopped_untouched (Fixture       *f,
                        gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;

  set_desc (f, 0, DATA, 8, 0, 0);
  make_available (f, 0);
  vhost_user_vring_set_started (f->vring, FALSE);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_vring_get_base (f->vring), ==, 0);
}

static guint64
calls (int fd)
{
  guint64 count = 0;

  if (read (fd, &count, sizeof count) != sizeof count)
    return 0;
  return count;
}

/* VIRTIO_RING_F_EVENT_IDX: the device asks for the next kick through
 * avail_event when it finds the ring empty, and calls only when the used
 * index passes the driver's used_event. */
static void
test_event_idx (Fixture       *f,
                gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  int call = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  guint16 avail_event, used_event;

  vhost_user_vring_set_features (f->vring, FALSE, TRUE);
  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_CALL, dup (call));
  set_desc (f, 0, DATA, 8, 2, 0);
  for (guint i = 0; i < 3; i++)
    make_available (f, 0);

  /* the driver wants a call once the used index passes 1 */
  used_event = 1;
  memcpy (f->mem + AVAIL + 4 + 2 * NUM, &used_event, 2);

  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 8, &error));
  /* the first call always goes: nothing is known of earlier ones */
  g_assert_true (vhost_user_vring_call (f->vring, &error));
  g_assert_cmpuint (calls (call), ==, 1);

  /* used 1 -> 2 passes used_event 1: a call */
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 8, &error));
  g_assert_true (vhost_user_vring_call (f->vring, &error));
  g_assert_cmpuint (calls (call), ==, 1);

  /* used 2 -> 3 does not reach a used_event of 5: no call */
  used_event = 5;
  memcpy (f->mem + AVAIL + 4 + 2 * NUM, &used_event, 2);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 8, &error));
  g_assert_true (vhost_user_vring_call (f->vring, &error));
  g_assert_cmpuint (calls (call), ==, 0);

  /* empty now: the device asks to be kicked at index 3 */
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  memcpy (&avail_event, f->mem + USED + 4 + 8 * NUM, 2);
  g_assert_cmpuint (avail_event, ==, 3);
  close (call);
}

/* Without event idx, NO_INTERRUPT in the available ring's flags asks for
 * no calls. */
static void
test_no_interrupt (Fixture       *f,
                   gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  int call = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  guint16 flags = 1;

  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_CALL, dup (call));
  set_desc (f, 0, DATA, 8, 2, 0);
  make_available (f, 0);
  make_available (f, 0);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 8, &error));
  memcpy (f->mem + AVAIL, &flags, 2);
  g_assert_true (vhost_user_vring_call (f->vring, &error));
  g_assert_cmpuint (calls (call), ==, 0);
  flags = 0;
  memcpy (f->mem + AVAIL, &flags, 2);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 8, &error));
  g_assert_true (vhost_user_vring_call (f->vring, &error));
  g_assert_cmpuint (calls (call), ==, 1);
  close (call);
}

static void
on_kick (VhostUserVring *vring,
         gpointer        user_data)
{
  (*(guint *) user_data)++;
}

static void
test_kick (Fixture       *f,
           gconstpointer  data)
{
  guint kicks = 0;
  guint64 one = 1;
  int kick = test_eventfd ();

  /* starting counts as a look at the ring; then each kick */
  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_kick_handler (f->vring, on_kick, &kicks, NULL);
  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_KICK, dup (kick));
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_cmpuint (kicks, ==, 1);
  g_assert_cmpint (write (kick, &one, sizeof one), ==, sizeof one);
  while (kicks < 2)
    g_main_context_iteration (NULL, TRUE);
  /* stopped: kicks are not looked at */
  vhost_user_vring_set_started (f->vring, FALSE);
  g_assert_cmpint (write (kick, &one, sizeof one), ==, sizeof one);
  for (guint i = 0; i < 5; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (kicks, ==, 2);
  close (kick);
}

typedef struct {
  VhostUserVring *vring;
  int             kick;
  guint           runs;
  guint           depth;
  guint           max_depth;
} NestedKick;

static void
on_kick_nesting (VhostUserVring *vring,
                 gpointer        user_data)
{
  NestedKick *n = user_data;
  guint64 one = 1;

  n->depth++;
  n->max_depth = MAX (n->max_depth, n->depth);
  n->runs++;
  /* the second run kicks again and runs the context, as a handler making
   * a blocking call of its own would */
  if (n->runs == 2)
    {
      g_assert_cmpint (write (n->kick, &one, sizeof one), ==, sizeof one);
      for (guint i = 0; i < 10; i++)
        g_main_context_iteration (NULL, FALSE);
    }
  n->depth--;
}

/* A kick is handled without waking the context up again afterwards; a
 * kick seen by an iteration nested in the handler runs the handler once
 * more after it returns, never inside itself. */
static void
test_kick_nested (Fixture       *f,
                  gconstpointer  data)
{
  NestedKick n = { f->vring, test_eventfd (), 0, 0, 0 };
  guint64 one = 1;

  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_kick_handler (f->vring, on_kick_nesting, &n, NULL);
  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_KICK, dup (n.kick));
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_cmpuint (n.runs, ==, 1);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (test_context_is_asleep (NULL));

  g_assert_cmpint (write (n.kick, &one, sizeof one), ==, sizeof one);
  while (n.runs < 3)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (n.max_depth, ==, 1);
  g_assert_true (test_context_is_asleep (NULL));
  g_assert_cmpuint (n.runs, ==, 3);
  vhost_user_vring_set_started (f->vring, FALSE);
  close (n.kick);
}

typedef struct {
  Fixture *f;
  guint    popped;          /* in all */
  guint    runs;
  guint    most_in_a_run;
  guint    popped_when_other_ran;   /* G_MAXUINT until it ran */
  guint    popped_when_low_ran;     /* the same, for a G_PRIORITY_LOW source */
  gboolean other_thread_popped;     /* a pop from another thread, made when the budget was spent */
} Refilling;

#define REFILL_CAP 10000

/* A driver that keeps up: every request popped is pushed, and made
 * available again at once (up to REFILL_CAP, so that an unbounded run
 * ends too). */
static void
on_kick_refilling (VhostUserVring *vring,
                   gpointer        user_data)
{
  Refilling *r = user_data;
  VhostUserVringElement e;
  guint in_this_run = 0;

  r->runs++;
  while (vhost_user_vring_pop (vring, &e, NULL))
    {
      g_assert_true (vhost_user_vring_push (vring, e.head, 0, NULL));
      r->popped++;
      in_this_run++;
      if (r->popped < REFILL_CAP)
        make_available (r->f, e.head);
    }
  r->most_in_a_run = MAX (r->most_in_a_run, in_this_run);
}

static gboolean
note_other_source (gpointer user_data)
{
  Refilling *r = user_data;

  r->popped_when_other_ran = r->popped;
  return G_SOURCE_REMOVE;
}

static gboolean
note_low_source (gpointer user_data)
{
  Refilling *r = user_data;

  r->popped_when_low_ran = r->popped;
  return G_SOURCE_REMOVE;
}

/* A run of the kick handler pops at most the ring's budget, and the rest
 * waits for a rerun that gives the context's other sources their turn:
 * a driver that keeps the ring full cannot hold the context (its control
 * socket, the other rings). Before, the first run went on as long as the
 * driver kept up, here all 10,000 requests. Budget 0: no bound. */
static void
test_kick_budget (Fixture       *f,
                  gconstpointer  data)
{
  Refilling r = { f, 0, 0, 0, G_MAXUINT, G_MAXUINT, FALSE };
  int kick = test_eventfd ();
  GSource *low = g_idle_source_new ();

  g_assert_cmpuint (vhost_user_vring_get_budget (f->vring), ==, VHOST_USER_VRING_DEFAULT_BUDGET);
  vhost_user_vring_set_started (f->vring, FALSE);
  set_desc (f, 7, DATA, 16, 2, 0);
  make_available (f, 7);
  vhost_user_vring_set_kick_handler (f->vring, on_kick_refilling, &r, NULL);
  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_KICK, dup (kick));
  g_idle_add (note_other_source, &r);
  /* (another ring busy-polling is at this priority) */
  g_source_set_priority (low, G_PRIORITY_LOW);
  g_source_set_callback (low, note_low_source, &r, NULL);
  g_source_attach (low, NULL);
  g_source_unref (low);
  /* (the first run comes at once: a ring that starts is looked at) */
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_cmpuint (r.popped, ==, VHOST_USER_VRING_DEFAULT_BUDGET);
  /* a new kick fd meanwhile makes a new watch: the rerun is not lost */
  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_KICK, dup (kick));
  for (guint i = 0; i < 10 * REFILL_CAP && r.popped < REFILL_CAP; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (r.popped, ==, REFILL_CAP);
  g_assert_cmpuint (r.most_in_a_run, ==, VHOST_USER_VRING_DEFAULT_BUDGET);
  g_assert_cmpuint (r.runs, >=, REFILL_CAP / VHOST_USER_VRING_DEFAULT_BUDGET);
  /* the idle, and a busy-polling ring's source, ran between the first
   * runs, not after the driver stopped */
  g_assert_cmpuint (r.popped_when_other_ran, <, 2 * VHOST_USER_VRING_DEFAULT_BUDGET);
  g_assert_cmpuint (r.popped_when_low_ran, <, 2 * VHOST_USER_VRING_DEFAULT_BUDGET);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (test_context_is_asleep (NULL));

  /* no bound */
  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_budget (f->vring, 0);
  r.popped = r.most_in_a_run = 0;
  make_available (f, 7);
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_cmpuint (r.popped, ==, REFILL_CAP);
  g_assert_cmpuint (r.most_in_a_run, ==, REFILL_CAP);
  vhost_user_vring_set_started (f->vring, FALSE);
  close (kick);
}

static gpointer
pop_in_thread (gpointer data)
{
  VhostUserVringElement e;

  return vhost_user_vring_pop (data, &e, NULL) ? GUINT_TO_POINTER (e.head + 1) : NULL;
}

/* First run only: pops what the budget allows, then has another thread
 * pop one more before it returns. */
static void
on_kick_then_thread (VhostUserVring *vring,
                     gpointer        user_data)
{
  Refilling *r = user_data;
  VhostUserVringElement e;
  guint head;

  if (r->runs++ > 0)
    return;
  while (vhost_user_vring_pop (vring, &e, NULL))
    {
      g_assert_true (vhost_user_vring_push (vring, e.head, 0, NULL));
      r->popped++;
      make_available (r->f, e.head);
    }
  head = GPOINTER_TO_UINT (g_thread_join (g_thread_new ("pop", pop_in_thread, vring)));
  r->other_thread_popped = head != 0;
  if (head != 0)
    g_assert_true (vhost_user_vring_push (vring, head - 1, 0, NULL));
}

/* The budget bounds the run's own pops: another thread's meanwhile (a
 * tap watch in another context filling receive buffers) are not, and a
 * bound below VHOST_USER_VRING_MAX_UNPOP acts as that one. */
static void
test_kick_budget_other_thread (Fixture       *f,
                               gconstpointer  data)
{
  Refilling r = { f, 0, 0, 0, G_MAXUINT, G_MAXUINT, FALSE };

  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_budget (f->vring, 3);
  set_desc (f, 7, DATA, 16, 2, 0);
  make_available (f, 7);
  vhost_user_vring_set_kick_handler (f->vring, on_kick_then_thread, &r, NULL);
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_cmpuint (r.popped, ==, VHOST_USER_VRING_MAX_UNPOP);
  g_assert_true (r.other_thread_popped);
  vhost_user_vring_set_started (f->vring, FALSE);
}

/* get_context() names the context the kick watch is attached to: the
 * one the ring was made with (the back-end's), or the one set for it. */
static void
test_context (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GMainContext) backend_context = g_main_context_new ();
  g_autoptr(GMainContext) ring_context = g_main_context_new ();
  g_autoptr(VhostUserVring) vring = vhost_user_vring_new (0, backend_context);
  guint kicks = 0;
  guint64 one = 1;
  int kick = test_eventfd ();

  g_assert_true (vhost_user_vring_get_context (f->vring) == g_main_context_default ());
  g_assert_true (vhost_user_vring_get_context (vring) == backend_context);
  vhost_user_vring_set_kick_handler (vring, on_kick, &kicks, NULL);
  vhost_user_vring_take_fd (vring, VHOST_USER_VRING_FD_KICK, dup (kick));
  vhost_user_vring_set_started (vring, TRUE);
  g_assert_cmpuint (kicks, ==, 1);

  /* a kick is handled where get_context() says, and nowhere else */
  g_assert_cmpint (write (kick, &one, sizeof one), ==, sizeof one);
  g_assert_false (g_main_context_iteration (NULL, FALSE) && kicks > 1);
  while (kicks < 2)
    g_main_context_iteration (vhost_user_vring_get_context (vring), TRUE);

  vhost_user_vring_set_context (vring, ring_context);
  g_assert_true (vhost_user_vring_get_context (vring) == ring_context);
  g_assert_cmpint (write (kick, &one, sizeof one), ==, sizeof one);
  g_assert_false (g_main_context_iteration (backend_context, FALSE));
  g_assert_cmpuint (kicks, ==, 2);
  while (kicks < 3)
    g_main_context_iteration (vhost_user_vring_get_context (vring), TRUE);

  /* back to the back-end's */
  vhost_user_vring_set_context (vring, NULL);
  g_assert_true (vhost_user_vring_get_context (vring) == backend_context);
  vhost_user_vring_set_started (vring, FALSE);
  close (kick);
}

/* A head pushed twice, or one never popped, is refused: the driver's
 * used ring only ever gets what it made available. */
static void
test_push_not_out (Fixture       *f,
                   gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint heads[2], lens[2] = { 0, 0 };

  set_desc (f, 3, DATA, 64, 2, 0);
  make_available (f, 3);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_false (vhost_user_vring_push (f->vring, 4, 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  /* a batch naming it twice: nothing pushed, and it stays out */
  heads[0] = heads[1] = 3;
  g_assert_false (vhost_user_vring_push_batch (f->vring, heads, lens, 2, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_cmpuint (used_idx (f), ==, 0);
  g_assert_true (vhost_user_vring_push (f->vring, 3, 0, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_vring_push (f->vring, 3, 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_assert_cmpuint (used_idx (f), ==, 1);
  g_assert_cmpuint (vhost_user_vring_get_in_flight (f->vring), ==, 0);
}

/* The driver makes a head available again while the device holds it. */
static void
test_head_already_out (Fixture       *f,
                       gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;

  set_desc (f, 3, DATA, 64, 2, 0);
  make_available (f, 3);
  make_available (f, 3);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
}

/* A restarted device on the same guest memory and in-flight area: a new
 * ring object, set up as the front-end would set it up again. */
static VhostUserVring *
restart (Fixture *f,
         GBytes  *area,
         guint    base)
{
  VhostUserVring *vring = vhost_user_vring_new (0, NULL);

  vhost_user_vring_set_memory_table (vring, f->table);
  vhost_user_vring_set_size (vring, NUM);
  vhost_user_vring_set_address (vring, vhost_user_vring_get_address (f->vring));
  vhost_user_vring_set_base (vring, base);
  vhost_user_vring_set_inflight_area (vring, area, FALSE);
  vhost_user_vring_set_started (vring, TRUE);
  return vring;
}

static void
set_true (VhostUserVring *vring,
          gpointer        user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* The device dies after a batch reached the used ring and before the
 * area said so: the restarted one must not hand that batch out again. */
static void
test_inflight_torn_batch (Fixture       *f,
                          gconstpointer  data)
{
  gsize area_len = 16 + 16 * NUM;
  guint8 *area_mem = g_malloc0 (area_len);
  g_autoptr(GBytes) area = g_bytes_new_with_free_func (area_mem, area_len, g_free, area_mem);
  g_autoptr(VhostUserVring) again = NULL;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint heads[3], lens[2] = { 1, 1 };

  /* the fixture's ring started without the area: start it again with it */
  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_inflight_area (f->vring, area, FALSE);
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_cmpuint (*(guint16 *) (area_mem + 8), ==, 1);     /* version */
  g_assert_cmpuint (*(guint16 *) (area_mem + 10), ==, NUM);  /* desc_num */

  for (guint i = 0; i < 3; i++)
    {
      set_desc (f, 20 + i, DATA + 0x100 * i, 64, 2, 0);
      make_available (f, 20 + i);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      heads[i] = e.head;
      g_assert_cmpuint (area_mem[16 + 16 * heads[i]], ==, 1);
    }
  g_assert_true (vhost_user_vring_push_batch (f->vring, heads, lens, 2, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (used_idx (f), ==, 2);
  g_assert_cmpuint (area_mem[16 + 16 * heads[0]], ==, 0);
  g_assert_cmpuint (*(guint16 *) (area_mem + 14), ==, 2);    /* used_idx */

  /* tear it: the used ring has the batch, the area does not */
  area_mem[16 + 16 * heads[0]] = 1;
  area_mem[16 + 16 * heads[1]] = 1;
  *(guint16 *) (area_mem + 14) = 0;

  again = restart (f, area, 0);
  g_assert_cmpuint (vhost_user_vring_get_base (again), ==, 3);
  g_assert_true (vhost_user_vring_pop (again, &e, &error));
  g_assert_cmpuint (e.head, ==, heads[2]);
  g_assert_false (vhost_user_vring_pop (again, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (area_mem[16 + 16 * heads[0]], ==, 0);
  g_assert_cmpuint (*(guint16 *) (area_mem + 14), ==, 2);
}

/* The front-end writes the area too: whatever it holds, a restart only
 * hands out heads inside the ring, and never more than it holds. */
static void
test_inflight_hostile_area (Fixture       *f,
                            gconstpointer  data)
{
  gsize area_len = 16 + 16 * NUM;
  guint8 *area_mem = g_malloc (area_len);
  g_autoptr(GBytes) area = g_bytes_new_with_free_func (area_mem, area_len, g_free, area_mem);
  g_autoptr(VhostUserVring) again = NULL;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint popped = 0;

  for (guint i = 0; i < NUM; i++)
    set_desc (f, i, DATA, 8, 2, 0);
  memset (area_mem, 0xff, area_len);
  for (guint i = 0; i < NUM; i++)
    area_mem[16 + 16 * i] = 1;             /* everything "in flight" */
  *(guint16 *) (area_mem + 8) = 1;
  *(guint16 *) (area_mem + 10) = NUM;
  *(guint16 *) (area_mem + 12) = 0xffff;   /* last_batch_head outside the ring */
  *(guint16 *) (area_mem + 14) = 7;        /* and a torn batch to walk */

  again = restart (f, area, 0);
  while (vhost_user_vring_pop (again, &e, &error))
    {
      g_assert_cmpuint (e.head, <, NUM);
      popped++;
    }
  /* all of them, and then a ring whose indices make no sense: broken */
  g_assert_cmpuint (popped, ==, NUM);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
}

/* GET_VRING_BASE_SKIP_DRAIN: the ring stops with two requests out; they
 * stay in the area, the base counts them, a late push of one is dropped
 * without reaching the used ring, and a restart on the same area hands
 * both out again, oldest first. */
static void
test_stop_skip_drain (Fixture       *f,
                      gconstpointer  data)
{
  gsize area_len = 16 + 16 * NUM;
  guint8 *area_mem = g_malloc0 (area_len);
  g_autoptr(GBytes) area = g_bytes_new_with_free_func (area_mem, area_len, g_free, area_mem);
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint heads[3];
  guint32 base = 0;
  gboolean drained = FALSE;

  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_inflight_area (f->vring, area, FALSE);
  vhost_user_vring_set_started (f->vring, TRUE);

  /* one pushed (the used ring moves to 1), two left out */
  for (guint i = 0; i < 3; i++)
    {
      set_desc (f, 30 + i, DATA + 0x100 * i, 64, 2, 0);
      make_available (f, 30 + i);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      heads[i] = e.head;
    }
  g_assert_true (vhost_user_vring_push (f->vring, heads[0], 1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (used_idx (f), ==, 1);

  vhost_user_vring_when_drained (f->vring, set_true, &drained, NULL);
  g_assert_false (drained);
  vhost_user_vring_stop_skip_drain (f->vring, &base);
  g_assert_cmpuint (base, ==, 3);                            /* as consumed */
  g_assert_false (vhost_user_vring_get_started (f->vring));
  g_assert_cmpuint (vhost_user_vring_get_in_flight (f->vring), ==, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (drained);                                   /* a waiting GET_VRING_BASE answers */
  g_assert_cmpuint (area_mem[16 + 16 * heads[1]], ==, 1);
  g_assert_cmpuint (area_mem[16 + 16 * heads[2]], ==, 1);

  /* the device finishes one late: dropped quietly */
  g_assert_true (vhost_user_vring_push (f->vring, heads[1], 1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (used_idx (f), ==, 1);
  g_assert_cmpuint (area_mem[16 + 16 * heads[1]], ==, 1);
  /* named twice, it is refused like any head not out */
  g_assert_false (vhost_user_vring_push (f->vring, heads[1], 1, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* a successor on the same area, from the base the front-end has */
  vhost_user_vring_set_base (f->vring, base);
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_cmpuint (vhost_user_vring_get_base (f->vring), ==, 3);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_cmpuint (e.head, ==, heads[1]);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_cmpuint (e.head, ==, heads[2]);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_vring_push (f->vring, heads[2], 1, &error));
  g_assert_true (vhost_user_vring_push (f->vring, heads[1], 1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (used_idx (f), ==, 3);
  g_assert_cmpuint (area_mem[16 + 16 * heads[1]], ==, 0);
  g_assert_cmpuint (area_mem[16 + 16 * heads[2]], ==, 0);
}

/* An area known to be all zeros (one the back-end just made) is left
 * untouched by a start, so that a device set up and stopped unused never
 * faults its pages in, and is laid out by the first pop; once the ring
 * wrote to it, being told again that it is new changes nothing: what is
 * in flight is handed out again. */
static void
test_inflight_lay_out_at_first_pop (Fixture       *f,
                                    gconstpointer  data)
{
  gsize area_len = 16 + 16 * NUM;
  guint8 *area_mem = g_malloc0 (area_len);
  g_autoptr(GBytes) area = g_bytes_new_with_free_func (area_mem, area_len, g_free, area_mem);
  guint8 *zeros = g_malloc0 (area_len);
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint heads[2];
  guint32 base = 0;

  /* two used already: the layout must record where the ring was */
  for (guint i = 0; i < 2; i++)
    {
      set_desc (f, 40 + i, DATA, 64, 2, 0);
      make_available (f, 40 + i);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      g_assert_true (vhost_user_vring_push (f->vring, e.head, 1, &error));
    }
  g_assert_cmpuint (used_idx (f), ==, 2);

  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_inflight_area (f->vring, area, TRUE);
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_cmpmem (area_mem, area_len, zeros, area_len);

  for (guint i = 0; i < 2; i++)
    {
      set_desc (f, 50 + i, DATA + 0x100 * i, 64, 2, 0);
      make_available (f, 50 + i);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      g_assert_no_error (error);
      heads[i] = e.head;
    }
  g_assert_cmpuint (*(guint16 *) (area_mem + 8), ==, 1);     /* version */
  g_assert_cmpuint (*(guint16 *) (area_mem + 10), ==, NUM);  /* desc_num */
  g_assert_cmpuint (*(guint16 *) (area_mem + 14), ==, 2);    /* used_idx at start */
  g_assert_cmpuint (area_mem[16 + 16 * heads[0]], ==, 1);
  g_assert_cmpuint (area_mem[16 + 16 * heads[1]], ==, 1);
  g_assert_true (vhost_user_vring_push (f->vring, heads[0], 1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (*(guint16 *) (area_mem + 14), ==, 3);

  /* stopped with one out; the same area, claimed new again */
  vhost_user_vring_stop_skip_drain (f->vring, &base);
  g_assert_cmpuint (base, ==, 4);
  vhost_user_vring_set_inflight_area (f->vring, area, TRUE);
  vhost_user_vring_set_base (f->vring, base);
  vhost_user_vring_set_started (f->vring, TRUE);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_cmpuint (e.head, ==, heads[1]);
  g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_free (zeros);
}

/* A request popped before the ring restarted on a new area can be pushed
 * before anything is popped on it: the layout goes first, so the used
 * index the area keeps is the ring's; and an area handed over again
 * while the ring runs keeps the layout the ring owes it. A successor
 * then hands out exactly what is still out. */
static void
test_inflight_push_before_first_pop (Fixture       *f,
                                     gconstpointer  data)
{
  gsize area_len = 16 + 16 * NUM;
  guint8 *area_mem = g_malloc0 (area_len);
  g_autoptr(GBytes) area = g_bytes_new_with_free_func (area_mem, area_len, g_free, area_mem);
  g_autoptr(VhostUserVring) again = NULL;
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint old, later;

  set_desc (f, 60, DATA, 64, 2, 0);
  make_available (f, 60);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  old = e.head;

  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_inflight_area (f->vring, area, TRUE);
  vhost_user_vring_set_started (f->vring, TRUE);
  /* the same area again, while the ring runs and owes it its layout */
  vhost_user_vring_set_inflight_area (f->vring, area, TRUE);
  g_assert_cmpuint (*(guint16 *) (area_mem + 8), ==, 0);

  g_assert_true (vhost_user_vring_push (f->vring, old, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (*(guint16 *) (area_mem + 8), ==, 1);     /* version */
  g_assert_cmpuint (*(guint16 *) (area_mem + 10), ==, NUM);  /* desc_num */
  g_assert_cmpuint (*(guint16 *) (area_mem + 14), ==, used_idx (f));

  set_desc (f, 61, DATA + 0x100, 64, 2, 0);
  make_available (f, 61);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  later = e.head;
  g_assert_cmpuint (*(guint16 *) (area_mem + 14), ==, used_idx (f));

  /* the device dies with one request out */
  again = restart (f, area, used_idx (f));
  g_assert_true (vhost_user_vring_pop (again, &e, &error));
  g_assert_cmpuint (e.head, ==, later);
  g_assert_false (vhost_user_vring_pop (again, &e, &error));
  g_assert_no_error (error);
}

/* Guest memory written from outside the data path (bindings, tests):
 * across regions, and never partly. */
static void
test_write_gpa (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello, guest", 12);
  g_autoptr(GBytes) seen = NULL;
  guint8 *high = vhost_user_memory_region_get_host_addr (f->high);

  /* 5 bytes at the end of the low region, 7 at the start of the high */
  g_assert_true (vhost_user_memory_table_write_gpa (f->table, MEM_SIZE - 5, hello, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (f->mem + MEM_SIZE - 5, 5, "hello", 5);
  g_assert_cmpmem (high, 7, ", guest", 7);
  seen = vhost_user_memory_table_read_gpa (f->table, MEM_SIZE - 5, 12, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (seen, hello));

  /* running off the end of guest memory: nothing written */
  memset (high + MEM_SIZE - 5, 0, 5);
  g_assert_false (vhost_user_memory_table_write_gpa (f->table, 2 * MEM_SIZE - 5, hello, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_cmpmem (high + MEM_SIZE - 5, 5, "\0\0\0\0\0", 5);
  /* wrapping around the address space, and outside it altogether */
  g_assert_false (vhost_user_memory_table_write_gpa (f->table, G_MAXUINT64 - 3, hello, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_memory_table_write_gpa (f->table, 4 * MEM_SIZE, hello, &error));
  g_clear_error (&error);
  /* nothing to write is fine anywhere in memory */
  g_clear_pointer (&hello, g_bytes_unref);
  hello = g_bytes_new (NULL, 0);
  g_assert_true (vhost_user_memory_table_write_gpa (f->table, 0, hello, &error));
  g_assert_no_error (error);
  /* and reads as long as a binding likes are refused before allocating */
  g_assert_null (vhost_user_memory_table_read_gpa (f->table, 0, G_MAXSIZE, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
}

static gboolean
page_dirty (const guint8 *log,
            guint64       gpa)
{
  return (log[gpa / 4096 / 8] >> (gpa / 4096 % 8)) & 1;
}

/* With dirty logging, a push marks the pages the request's buffers were
 * in when it was popped: the driver may rewrite the descriptors (direct
 * and indirect) meanwhile, and the pages it names then are not the ones
 * the device wrote. */
static void
test_log_what_was_popped (Fixture       *f,
                          gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint8 bits[2 * MEM_SIZE / 4096 / 8] = { 0 };
  g_autoptr(GBytes) log = g_bytes_new_static (bits, sizeof bits);
  Desc table[2] = {
    { DATA + 0x1000, 16, 1, 1 },          /* readable */
    { DATA + 0x2000, 0x2000, 2, 0 },      /* writable: pages 10 and 11 */
  };
  /* pages of the high region, out of order */
  static const guint scattered[] = { 1, 3, 5, 7, 9, 11, 13, 2, 4, 6, 8, 14 };

  vhost_user_vring_set_logging (f->vring, TRUE, log, -1);

  /* a direct chain: a readable header, then 0x100 writable bytes on page 8 */
  set_desc (f, 0, DATA + 0x6000, 16, 1, 1);
  set_desc (f, 1, DATA, 0x100, 2, 0);
  make_available (f, 0);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  /* the driver moves the writable buffer to page 12 and makes it longer */
  set_desc (f, 1, DATA + 0x4000, 0x3000, 2, 0);
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 0x100, &error));
  g_assert_no_error (error);
  g_assert_true (page_dirty (bits, DATA));
  for (guint64 gpa = DATA + 0x1000; gpa < 2 * MEM_SIZE; gpa += 0x1000)
    g_assert_false (page_dirty (bits, gpa));
  g_assert_false (page_dirty (bits, DATA + 0x6000));

  /* an indirect table rewritten after the pop */
  memset (bits, 0, sizeof bits);
  memcpy (f->mem + 0x4000, table, sizeof table);
  set_desc (f, 2, 0x4000, sizeof table, 4, 0);
  make_available (f, 2);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  table[1].addr = MEM_SIZE;
  memcpy (f->mem + 0x4000, table, sizeof table);
  /* the device wrote 0x1800 bytes: both pages */
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 0x1800, &error));
  g_assert_no_error (error);
  g_assert_true (page_dirty (bits, DATA + 0x2000));
  g_assert_true (page_dirty (bits, DATA + 0x3000));
  g_assert_false (page_dirty (bits, MEM_SIZE));
  g_assert_false (page_dirty (bits, DATA + 0x1000));

  /* more scattered buffers than a head's record keeps apart: every page
   * written is still marked (with pages between them at worst), nothing
   * outside the first and last */
  memset (bits, 0, sizeof bits);
  for (guint i = 0; i < G_N_ELEMENTS (scattered); i++)
    set_desc (f, 3 + i, MEM_SIZE + scattered[i] * 0x1000, 0x10, 2 | (i + 1 < G_N_ELEMENTS (scattered) ? 1 : 0), 4 + i);
  make_available (f, 3);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e.n_in, ==, G_N_ELEMENTS (scattered));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, G_N_ELEMENTS (scattered) * 0x10, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (scattered); i++)
    g_assert_true (page_dirty (bits, MEM_SIZE + scattered[i] * 0x1000));
  g_assert_false (page_dirty (bits, MEM_SIZE));
  g_assert_false (page_dirty (bits, MEM_SIZE + 15 * 0x1000));
}

/* Nine writable buffers of 16 bytes, one per page of the high region,
 * in this chain order: from its two ends inwards, as a read into
 * scattered page-cache pages can be. One more than a head's record
 * keeps apart. */
static const guint alternating[] = { 0, 15, 1, 14, 2, 13, 3, 12, 4 };

static void
pop_alternating (Fixture               *f,
                 VhostUserVringElement *e)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (alternating); i++)
    set_desc (f, 3 + i, MEM_SIZE + alternating[i] * 0x1000, 0x10,
              2 | (i + 1 < G_N_ELEMENTS (alternating) ? 1 : 0), 4 + i);
  make_available (f, 3);
  g_assert_true (vhost_user_vring_pop (f->vring, e, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (e->n_in, ==, G_N_ELEMENTS (alternating));
}

/* Past the record's bound the buffers nearest each other in guest
 * memory share a span, not the nearest in the chain: pages 0-4 and
 * 12-15 are next to each other, and the pages between 4 and 12 are
 * never written, so they stay clean. Merging chain-order neighbours put
 * 12 and 4 in one span and marked 5-11 too (in a large guest, most of
 * its memory). */
static void
test_log_merges_nearest (Fixture       *f,
                         gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint8 bits[2 * MEM_SIZE / 4096 / 8] = { 0 };
  g_autoptr(GBytes) log = g_bytes_new_static (bits, sizeof bits);

  vhost_user_vring_set_logging (f->vring, TRUE, log, -1);
  pop_alternating (f, &e);
  g_assert_true (vhost_user_vring_push (f->vring, e.head, G_N_ELEMENTS (alternating) * 0x10, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (alternating); i++)
    g_assert_true (page_dirty (bits, MEM_SIZE + alternating[i] * 0x1000));
  for (guint page = 5; page < 12; page++)
    g_assert_false (page_dirty (bits, MEM_SIZE + page * 0x1000));
  for (guint64 gpa = 0; gpa < MEM_SIZE; gpa += 0x1000)
    g_assert_false (page_dirty (bits, gpa));
}

/* A push that reports fewer bytes than the buffers hold marks what its
 * length reaches in chain order, whatever the order the record keeps
 * (guest addresses): every byte before the length is in a span whose
 * first byte is too, and a span whose first byte is past the length is
 * left alone, merged or not. */
static void
test_log_partial_push (Fixture       *f,
                       gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint8 bits[2 * MEM_SIZE / 4096 / 8] = { 0 };
  g_autoptr(GBytes) log = g_bytes_new_static (bits, sizeof bits);

  vhost_user_vring_set_logging (f->vring, TRUE, log, -1);

  /* eight of the nine: not page 4, the last in the chain, nor the pages
   * up to 12 (before, 12 and 4 were one span, marked whole once 12 was
   * written) */
  pop_alternating (f, &e);
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 8 * 0x10, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 8; i++)
    g_assert_true (page_dirty (bits, MEM_SIZE + alternating[i] * 0x1000));
  for (guint page = 4; page < 12; page++)
    g_assert_false (page_dirty (bits, MEM_SIZE + page * 0x1000));

  /* three and a half: 0, 15, 1 and 14, none of the rest */
  memset (bits, 0, sizeof bits);
  pop_alternating (f, &e);
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 0x38, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    g_assert_true (page_dirty (bits, MEM_SIZE + alternating[i] * 0x1000));
  for (guint i = 4; i < G_N_ELEMENTS (alternating); i++)
    g_assert_false (page_dirty (bits, MEM_SIZE + alternating[i] * 0x1000));

  /* the first alone: page 0 (and page 1 if it shares its span), never
   * page 15, the next in the chain */
  memset (bits, 0, sizeof bits);
  pop_alternating (f, &e);
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 0x10, &error));
  g_assert_no_error (error);
  g_assert_true (page_dirty (bits, MEM_SIZE));
  for (guint page = 2; page < 16; page++)
    g_assert_false (page_dirty (bits, MEM_SIZE + page * 0x1000));
}

/* A table the ring was moved off while a request was out goes when the
 * request does, handed back as much as pushed (a network device hands
 * back what does not fit). Before, only a push let them go: a ring whose
 * requests all came back unpopped kept every old table. */
static void
test_unpop_releases_tables (Fixture       *f,
                            gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;

  set_desc (f, 5, DATA, 16, 2, 0);
  make_available (f, 5);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_no_error (error);
  vhost_user_vring_set_memory_table (f->vring, f->table);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 1);
  g_assert_true (vhost_user_vring_unpop (f->vring, e.head, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 0);
}

/* Pops requests 5 and 6, then moves the ring to another table: the old
 * one is kept while they are out. */
static void
hold_two_across_tables (Fixture *f)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;

  for (guint16 head = 5; head <= 6; head++)
    {
      set_desc (f, head, DATA + 0x100 * head, 16, 2, 0);
      make_available (f, head);
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      g_assert_no_error (error);
    }
  vhost_user_vring_set_memory_table (f->vring, f->table);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 1);
}

/* A refused batch hands nothing back: its requests are still out, the
 * table their buffers lie in stays, and each counts when it comes again
 * on its own. Before, the refusal counted the batch done, and pushed
 * again one by one (as the blk example does) the requests were counted
 * twice: the old table went while request 6 was still out. */
static void
test_refused_batch_keeps_tables (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint heads[2] = { 5, NUM }, lens[2] = { 0, 0 };

  hold_two_across_tables (f);
  g_assert_false (vhost_user_vring_push_batch (f->vring, heads, lens, 2, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_vring_get_in_flight (f->vring), ==, 2);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 1);

  g_assert_true (vhost_user_vring_push (f->vring, 5, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 1);
  g_assert_true (vhost_user_vring_push (f->vring, 6, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 0);
  g_assert_cmpuint (vhost_user_vring_get_in_flight (f->vring), ==, 0);
  g_assert_cmpuint (used_idx (f), ==, 2);
}

/* On a ring the driver broke, what the device holds is done with when it
 * comes back refused: once each, however often it comes. Before, every
 * refusal counted: request 5 pushed twice let a stop's drain finish, and
 * the old table go, while request 6 was still out. */
static void
test_broken_counts_once (Fixture       *f,
                         gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint heads[2] = { 6, 6 }, lens[2] = { 0, 0 };
  gboolean drained = FALSE;

  hold_two_across_tables (f);
  bad_loop (f);
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

  /* (named twice in a batch: once) */
  g_assert_false (vhost_user_vring_push_batch (f->vring, heads, lens, 2, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_vring_get_in_flight (f->vring), ==, 0);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (drained);
  g_assert_cmpuint (used_idx (f), ==, 0);
}

/* After GET_VRING_BASE_SKIP_DRAIN, a batch that mixes a request of the
 * ended session with a head that is not out is refused whole, before
 * anything is dropped; pushed on its own, the old request is dropped
 * (once). Before, the batch dropped the old request and then refused the
 * other head: reported refused, and pushed again on its own, the old
 * request was refused and counted a second time. */
static void
test_mixed_sessions_batch (Fixture       *f,
                           gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint heads[2] = { 0, 31 }, lens[2] = { 1, 1 };
  guint32 base = 0;

  set_desc (f, 30, DATA, 64, 2, 0);
  make_available (f, 30);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  heads[0] = e.head;
  vhost_user_vring_stop_skip_drain (f->vring, &base);

  g_assert_false (vhost_user_vring_push_batch (f->vring, heads, lens, 2, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_true (vhost_user_vring_push (f->vring, heads[0], 1, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_vring_push (f->vring, heads[0], 1, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpuint (used_idx (f), ==, 0);
}

/* After GET_VRING_BASE_SKIP_DRAIN, a batch naming one of the ended
 * session's requests twice drops and counts it once: the table request 6
 * still has buffers in stays. */
static void
test_abandoned_named_twice (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint heads[2] = { 5, 5 }, lens[2] = { 1, 1 };
  guint32 base = 0;

  hold_two_across_tables (f);
  vhost_user_vring_stop_skip_drain (f->vring, &base);
  g_assert_true (vhost_user_vring_push_batch (f->vring, heads, lens, 2, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 1);
  g_assert_true (vhost_user_vring_push (f->vring, 6, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_vring_get_n_retired_tables (f->vring), ==, 0);
  g_assert_cmpuint (used_idx (f), ==, 0);
}

/* --- guest memory the front-end truncates after it was mapped --- */

/* In a child: a region whose memfd (not sealed against shrinking) the
 * front-end truncates once it is mapped. Touching it used to be SIGBUS;
 * now the pages gone read as zeros, writes to them go nowhere, and the
 * ring living there is just empty. */
static void
truncated_child (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  g_autoptr(GBytes) seen = NULL;
  VhostUserMemoryRegion *region;
  VhostUserMemoryTable *table;
  VhostUserVring *vring;
  VhostUserVringAddress address = { 0 };
  VhostUserVringElement e;
  int fd = test_memfd (MEM_SIZE);
  guint64 uaddr = 0x7f0000000000;

  region = vhost_user_memory_region_new_map (0, MEM_SIZE, uaddr, 0, fd, &error);
  g_assert_no_error (error);
  table = vhost_user_memory_table_new (&region, 1, &error);
  g_assert_no_error (error);
  vring = vhost_user_vring_new (0, NULL);
  vhost_user_vring_set_memory_table (vring, table);
  vhost_user_vring_set_size (vring, NUM);
  address.desc_user_addr = uaddr + DESC;
  address.avail_user_addr = uaddr + AVAIL;
  address.used_user_addr = uaddr + USED;
  vhost_user_vring_set_address (vring, &address);
  vhost_user_vring_set_started (vring, TRUE);

  g_assert_cmpint (ftruncate (fd, 0), ==, 0);

  g_assert_true (vhost_user_memory_table_write_gpa (table, DATA, hello, &error));
  g_assert_no_error (error);
  seen = vhost_user_memory_table_read_gpa (table, DATA + 0x1000, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (seen, NULL), 5, "\0\0\0\0\0", 5);
  g_assert_false (vhost_user_vring_pop (vring, &e, &error));
  g_assert_no_error (error);

  g_object_unref (vring);
  vhost_user_memory_table_unref (table);
  vhost_user_memory_region_unref (region);
  close (fd);
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

/* The library skips the notification of a change nobody listens to
 * (GLib 2.74 emits it regardless): a handler connected to "notify" or to
 * one property's, blocked or not, hears every change; none is heard
 * twice, and an unchanged value is not a change. */
static void
test_notify_heard (void)
{
  g_autoptr(VhostUserVring) vring = vhost_user_vring_new (0, NULL);
  guint any = 0, size = 0, enabled = 0;
  gulong id;

  vhost_user_vring_set_size (vring, 64);
  vhost_user_vring_set_enabled (vring, TRUE);
  g_signal_connect (vring, "notify::size", G_CALLBACK (count_notify), &size);
  vhost_user_vring_set_size (vring, 128);
  vhost_user_vring_set_size (vring, 128);
  vhost_user_vring_set_enabled (vring, FALSE);
  g_assert_cmpuint (size, ==, 1);
  id = g_signal_connect (vring, "notify", G_CALLBACK (count_notify), &any);
  vhost_user_vring_set_enabled (vring, TRUE);
  vhost_user_vring_set_size (vring, 256);
  g_assert_cmpuint (any, ==, 2);
  g_assert_cmpuint (size, ==, 2);
  g_signal_handler_block (vring, id);
  g_signal_connect (vring, "notify::enabled", G_CALLBACK (count_notify), &enabled);
  vhost_user_vring_set_enabled (vring, FALSE);
  g_assert_cmpuint (enabled, ==, 1);
  g_assert_cmpuint (any, ==, 2);
  g_signal_handler_unblock (vring, id);
  vhost_user_vring_set_enabled (vring, TRUE);
  g_assert_cmpuint (any, ==, 3);
  g_assert_cmpuint (enabled, ==, 2);
}

typedef struct {
  VhostUserVring *vring;
  guint enabled, kick, poll;
  guint size_seen;
  int kick_seen;
} ResetHeard;

static void
heard_enabled (GObject    *object,
               GParamSpec *pspec,
               gpointer    user_data)
{
  ResetHeard *heard = user_data;

  heard->enabled++;
  heard->size_seen = vhost_user_vring_get_size (VHOST_USER_VRING (object));
  heard->kick_seen = vhost_user_vring_get_kick_fd (VHOST_USER_VRING (object));
}

static void
connect_kick_counter (gpointer user_data)
{
  ResetHeard *heard = user_data;

  g_signal_connect (heard->vring, "notify::kick-fd", G_CALLBACK (count_notify), &heard->kick);
  /* a change made right there, with the handler just connected */
  g_signal_connect (heard->vring, "notify::poll-window", G_CALLBACK (count_notify), &heard->poll);
  vhost_user_vring_set_poll_window (heard->vring, 77);
}

static void
drained_never (VhostUserVring *vring,
               gpointer        user_data)
{
  g_assert_not_reached ();
}

/* A reset changes a ring's properties as one batch: who listens is looked
 * up once, not for each change, yet a handler of one property hears its
 * change, after the whole reset (notifications are frozen once anybody
 * listens); one of all of "notify" hears every change; and a handler
 * connected by code that runs inside the reset (a drained callback's
 * destroy notify) hears the change that code makes and the reset's
 * changes after it. */
static void
test_notify_batch (void)
{
  g_autoptr(VhostUserVring) vring = vhost_user_vring_new (0, NULL);
  ResetHeard heard = { vring, 0 }, other = { NULL, 0 };
  guint any = 0;
  gulong id;

  vhost_user_vring_set_size (vring, 64);
  vhost_user_vring_set_enabled (vring, TRUE);
  vhost_user_vring_take_fd (vring, VHOST_USER_VRING_FD_KICK, eventfd (0, EFD_CLOEXEC));
  g_signal_connect (vring, "notify::enabled", G_CALLBACK (heard_enabled), &heard);
  vhost_user_vring_reset (vring);
  g_assert_cmpuint (heard.enabled, ==, 1);
  g_assert_cmpuint (heard.size_seen, ==, 0);
  g_assert_cmpint (heard.kick_seen, ==, -1);

  /* nobody listens to a second ring but the handler the destroy notify
   * connects (the batch has found nobody by then) */
  other.vring = vhost_user_vring_new (1, NULL);
  vhost_user_vring_set_size (other.vring, 64);
  vhost_user_vring_take_fd (other.vring, VHOST_USER_VRING_FD_KICK, eventfd (0, EFD_CLOEXEC));
  vhost_user_vring_set_started (other.vring, TRUE);
  vhost_user_vring_when_drained (other.vring, drained_never, &other, connect_kick_counter);
  vhost_user_vring_reset (other.vring);
  g_assert_cmpuint (other.kick, ==, 1);
  g_assert_cmpuint (other.poll, ==, 1);
  g_object_unref (other.vring);

  id = g_signal_connect (vring, "notify", G_CALLBACK (count_notify), &any);
  vhost_user_vring_set_size (vring, 64);
  vhost_user_vring_set_enabled (vring, TRUE);
  g_assert_cmpuint (any, ==, 2);
  any = 0;
  vhost_user_vring_reset (vring);
  /* size, enabled, address (always), base is 0 already */
  g_assert_cmpuint (any, ==, 3);
  g_assert_cmpuint (heard.enabled, ==, 3);
  g_signal_handler_disconnect (vring, id);
}

static void
test_truncated_memory (void)
{
  if (g_test_subprocess ())
    {
      truncated_child ();
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* In a child: a region that ends inside a page (a front-end may give
 * any size), truncated once mapped. The mapping spans the whole last
 * page, and the guard must cover it too. */
static void
truncated_partial_child (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  g_autoptr(GBytes) seen = NULL;
  VhostUserMemoryRegion *region;
  VhostUserMemoryTable *table;
  int fd = test_memfd (0x1800);

  region = vhost_user_memory_region_new_map (0, 0x1800, 0x7f0000000000, 0, fd, &error);
  g_assert_no_error (error);
  table = vhost_user_memory_table_new (&region, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ftruncate (fd, 0), ==, 0);
  g_assert_true (vhost_user_memory_table_write_gpa (table, 0x1800 - 5, hello, &error));
  g_assert_no_error (error);
  seen = vhost_user_memory_table_read_gpa (table, 0x1000, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (seen, NULL), 5, "\0\0\0\0\0", 5);
  vhost_user_memory_table_unref (table);
  vhost_user_memory_region_unref (region);
  close (fd);
}

static void
test_truncated_partial_page (void)
{
  if (g_test_subprocess ())
    {
      truncated_partial_child ();
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* In a child: a region on hugetlbfs that ends inside its huge page (the
 * mapping spans the whole page), truncated once mapped. The guard
 * replaces whole huge pages, so it must cover the page's end too. */
static void
truncated_huge_child (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) seen = NULL;
  VhostUserMemoryRegion *region;
  VhostUserMemoryTable *table;
  int fd = memfd_create ("vhost-user-test-huge", MFD_CLOEXEC | MFD_HUGETLB);
  gsize huge = 2 << 20;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, huge), ==, 0);
  region = vhost_user_memory_region_new_map (0, huge / 2, 0x7f0000000000, 0, fd, &error);
  g_assert_no_error (error);
  table = vhost_user_memory_table_new (&region, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ftruncate (fd, 0), ==, 0);
  seen = vhost_user_memory_table_read_gpa (table, 0x1000, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (seen, NULL), 5, "\0\0\0\0\0", 5);
  vhost_user_memory_table_unref (table);
  vhost_user_memory_region_unref (region);
  close (fd);
}

/* A huge page to spare: none is reserved unless the host was set up so. */
static gboolean
have_free_huge_page (void)
{
  int fd = memfd_create ("vhost-user-test-huge", MFD_CLOEXEC | MFD_HUGETLB);
  gboolean free_page;

  if (fd < 0)
    return FALSE;
  free_page = ftruncate (fd, 2 << 20) == 0 && fallocate (fd, 0, 0, 2 << 20) == 0;
  close (fd);
  return free_page;
}

static void
test_truncated_huge_memory (void)
{
  if (g_test_subprocess ())
    {
      truncated_huge_child ();
      return;
    }
  if (!have_free_huge_page ())
    {
      g_test_skip ("No 2 MiB huge page free (vm.nr_hugepages)");
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* In a child: guest memory on a hugetlbfs memfd sealed against
 * shrinking, as QEMU's memory-backend-memfd,hugetlb=on makes it. The seal
 * does not forbid punching a hole: the front-end punches the huge page
 * under a buffer and takes it back from the pool (with every other free
 * one), and our next touch finds no page to fault in. The guard puts
 * zeros there; without it, that touch is SIGBUS. */
static void
punched_huge_child (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  g_autoptr(GBytes) seen = NULL;
  VhostUserMemoryRegion *region;
  VhostUserMemoryTable *table;
  int fd = memfd_create ("vhost-user-test-huge", MFD_CLOEXEC | MFD_HUGETLB | MFD_ALLOW_SEALING);
  int hog = memfd_create ("vhost-user-test-hog", MFD_CLOEXEC | MFD_HUGETLB);
  gsize huge = 2 << 20;
  guint taken = 0;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (hog, >=, 0);
  g_assert_cmpint (ftruncate (fd, huge), ==, 0);
  g_assert_cmpint (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), ==, 0);
  region = vhost_user_memory_region_new_map (0, huge, 0x7f0000000000, 0, fd, &error);
  g_assert_no_error (error);
  table = vhost_user_memory_table_new (&region, 1, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_memory_table_write_gpa (table, 0x1000, hello, &error));
  g_assert_no_error (error);

  g_assert_cmpint (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, huge), ==, 0);
  while (fallocate (hog, 0, (off_t) taken * huge, huge) == 0)
    taken++;
  g_assert_cmpuint (taken, >, 0);
  g_test_message ("took %u free huge pages", taken);

  seen = vhost_user_memory_table_read_gpa (table, 0x1000, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (seen, NULL), 5, "\0\0\0\0\0", 5);
  vhost_user_memory_table_unref (table);
  vhost_user_memory_region_unref (region);
  close (hog);
  close (fd);
}

static void
test_punched_huge_memory (void)
{
  if (g_test_subprocess ())
    {
      punched_huge_child ();
      return;
    }
  if (!have_free_huge_page ())
    {
      g_test_skip ("No 2 MiB huge page free (vm.nr_hugepages)");
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* What is not a file is guarded too: its end is whatever the peer's fd
 * says, which fstat() cannot tell (a device's memory, a KVM vCPU's), and
 * a file sealed against shrinking needs no guard. */
static void
test_guard_policy (void)
{
  int zero = open ("/dev/zero", O_RDWR | O_CLOEXEC);
  int unsealed = test_memfd (0x1000);
  int sealed = memfd_create ("vhost-user-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  gpointer guard;

  g_assert_cmpint (zero, >=, 0);
  g_assert_cmpint (sealed, >=, 0);
  g_assert_cmpint (ftruncate (sealed, 0x1000), ==, 0);
  g_assert_cmpint (fcntl (sealed, F_ADD_SEALS, F_SEAL_SHRINK), ==, 0);

  guard = vhost_user_mapping_guard_add ((void *) 0x1000, 0x1000, zero);
  g_assert_nonnull (guard);
  vhost_user_mapping_guard_remove (guard);
  guard = vhost_user_mapping_guard_add ((void *) 0x1000, 0x1000, unsealed);
  g_assert_nonnull (guard);
  vhost_user_mapping_guard_remove (guard);
  g_assert_null (vhost_user_mapping_guard_add ((void *) 0x1000, 0x1000, sealed));
  close (zero);
  close (unsealed);
  close (sealed);
}

/* A hugetlbfs file sealed against shrinking is guarded all the same: a
 * hole punched in it SIGBUSes once the pool has no page left to fill it
 * (/vring/memory/punched-huge, where the host has huge pages). Making
 * the file and sealing it takes no huge page. */
static void
test_guard_policy_sealed_huge (void)
{
  int fd = memfd_create ("vhost-user-test-huge", MFD_CLOEXEC | MFD_HUGETLB | MFD_ALLOW_SEALING);
  gpointer guard;

  if (fd < 0 || ftruncate (fd, 2 << 20) != 0)
    {
      if (fd >= 0)
        close (fd);
      g_test_skip ("No hugetlbfs memfd (MFD_HUGETLB) here");
      return;
    }
  g_assert_cmpint (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), ==, 0);
  guard = vhost_user_mapping_guard_add ((void *) (2 << 20), 2 << 20, fd);
  g_assert_nonnull (guard);
  vhost_user_mapping_guard_remove (guard);
  close (fd);
}

/* Marking a range sets exactly its pages' bits, whatever the alignment
 * of the range and of the log (whole words are set at once), and stops
 * at the log's end, ranges that run to the end of the address space
 * included. */
static void
test_log_write_ranges (void)
{
  guint8 *storage = g_malloc0 (64 + 8);
  guint8 *bits = storage + 3;   /* a log that does not start on a word */
  const gsize log_len = 61;
  g_autoptr(GBytes) bytes = g_bytes_new_static (bits, log_len);
  VhostUserVringLog log = { bytes, TRUE, -1 };
  GRand *rand = g_rand_new_with_seed (7);
  guint8 want[61];

  for (guint round = 0; round < 20000; round++)
    {
      guint64 gpa = (guint64) g_rand_int_range (rand, 0, log_len * 8 + 40) * VHOST_USER_VRING_LOG_PAGE +
                    g_rand_int_range (rand, 0, VHOST_USER_VRING_LOG_PAGE);
      guint64 len = round % 10 == 0 ? G_MAXUINT64 - gpa
                                    : (guint64) g_rand_int_range (rand, 0, 700) * VHOST_USER_VRING_LOG_PAGE / 2;

      memset (bits, 0, log_len);
      memset (want, 0, sizeof want);
      if (len > 0)
        for (guint64 page = gpa / VHOST_USER_VRING_LOG_PAGE;
             page <= (gpa + len - 1) / VHOST_USER_VRING_LOG_PAGE && page < log_len * 8; page++)
          want[page / 8] |= 1u << (page % 8);
      vhost_user_vring_log_write (&log, gpa, len);
      g_assert_cmpmem (bits, log_len, want, log_len);
    }
  /* nothing outside the log */
  g_assert_cmpuint (storage[0] | storage[1] | storage[2], ==, 0);
  for (gsize i = 3 + log_len; i < 64 + 8; i++)
    g_assert_cmpuint (storage[i], ==, 0);
  g_rand_free (rand);
  g_free (storage);
}

/* A head's record of written spans, filled with random chains (pieces
 * anywhere in 64 pages, some going on from the one before, some just
 * before it in memory, some naming memory another already did): the spans stay in address order and
 * apart from each other, and a push of any length marks every page a
 * byte before that length is in. */
static void
test_log_written_random (void)
{
  guint8 bits[64 / 8] = { 0 };
  g_autoptr(GBytes) bytes = g_bytes_new_static (bits, sizeof bits);
  VhostUserVringLog log = { bytes, TRUE, -1 };
  GRand *rand = g_rand_new_with_seed (11);

  for (guint round = 0; round < 5000; round++)
    {
      VhostUserVringWritten written = { 0 };
      guint64 gpas[40], lens[40], total = 0, len;
      guint n = g_rand_int_range (rand, 1, G_N_ELEMENTS (gpas) + 1);

      for (guint i = 0; i < n; i++)
        {
          guint how = i > 0 ? g_rand_int_range (rand, 0, 8) : 7;

          lens[i] = g_rand_int_range (rand, 1, 3 * VHOST_USER_VRING_LOG_PAGE / 2);
          if (how < 2)        /* on from the one before */
            gpas[i] = gpas[i - 1] + lens[i - 1];
          else if (how == 2 && gpas[i - 1] >= lens[i])   /* just before it */
            gpas[i] = gpas[i - 1] - lens[i];
          else
            gpas[i] = (guint64) g_rand_int_range (rand, 0, 60) * VHOST_USER_VRING_LOG_PAGE +
                      g_rand_int_range (rand, 0, VHOST_USER_VRING_LOG_PAGE);
          if (gpas[i] >= 64 * VHOST_USER_VRING_LOG_PAGE)
            gpas[i] = 0;
          lens[i] = MIN (lens[i], 64 * VHOST_USER_VRING_LOG_PAGE - gpas[i]);
          vhost_user_vring_written_add (&written, gpas[i], lens[i]);
          total += lens[i];
        }

      g_assert_cmpuint (written.n, >=, 1);
      g_assert_cmpuint (written.n, <=, VHOST_USER_VRING_LOG_SPANS);
      for (guint i = 0; i + 1 < written.n; i++)
        g_assert_cmpuint (written.spans[i].gpa + written.spans[i].span, <=, written.spans[i + 1].gpa);

      memset (bits, 0, sizeof bits);
      len = g_rand_int_range (rand, 0, total + 2);
      vhost_user_vring_log_written (&log, &written, len);
      for (guint i = 0, offset = 0; i < n && offset < len; offset += lens[i], i++)
        {
          guint64 end = gpas[i] + MIN (lens[i], len - offset);

          for (guint64 gpa = gpas[i]; gpa < end; gpa += VHOST_USER_VRING_LOG_PAGE - gpa % VHOST_USER_VRING_LOG_PAGE)
            g_assert_true (page_dirty (bits, gpa));
        }
    }
  g_rand_free (rand);
}

/* Memory the library allocates is sealed against shrinking (and
 * growing): a back-end in another process can check the seal, and need
 * not guard against SIGBUS. */
static void
test_own_memory_sealed (void)
{
  g_autoptr(GError) error = NULL;
  VhostUserMemoryRegion *region = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  int fd;

  g_assert_no_error (error);
  fd = vhost_user_memory_region_get_fd (region);
  g_assert_cmpint (fcntl (fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW), ==, F_SEAL_SHRINK | F_SEAL_GROW);
  g_assert_cmpint (ftruncate (fd, 0), <, 0);
  vhost_user_memory_region_unref (region);
}

/* A ring's tables are sized by the size it is set to, and only the
 * layout's own: a split ring of the protocol's largest size carries no
 * packed record (1 MiB, laid out at once), and gets one when the layout
 * turns packed. */
static void
test_tables_by_layout (void)
{
  g_autoptr(VhostUserVring) vring = vhost_user_vring_new (0, NULL);

  vhost_user_vring_set_size (vring, 32768);
  g_assert_nonnull (vring->split_out);
  g_assert_null (vring->packed_ring.chains);
  g_assert_null (vring->packed_ring.own_record);

  vhost_user_vring_set_features (vring, TRUE, FALSE);
  g_assert_nonnull (vring->packed_ring.chains);
  g_assert_cmpuint (vring->packed_ring.n_chains, ==, 32768);
  g_assert_nonnull (vring->packed_ring.own_record);

  vhost_user_vring_set_size (vring, 256);
  g_assert_cmpuint (vring->packed_ring.n_chains, ==, 256);

  vhost_user_vring_set_features (vring, FALSE, FALSE);
  g_assert_null (vring->packed_ring.chains);
  g_assert_null (vring->packed_ring.own_record);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func, data) g_test_add ("/vring/split/" path, Fixture, data, fixture_setup, func, fixture_teardown)
  ADD ("empty", test_empty, NULL);
  ADD ("pop-push", test_pop_push, NULL);
  ADD ("unpop-releases-tables", test_unpop_releases_tables, NULL);
  g_test_add_func ("/vring/notify-heard", test_notify_heard);
  g_test_add_func ("/vring/notify-batch", test_notify_batch);
  g_test_add_func ("/vring/memory/truncated", test_truncated_memory);
  g_test_add_func ("/vring/memory/truncated-partial-page", test_truncated_partial_page);
  g_test_add_func ("/vring/memory/truncated-huge", test_truncated_huge_memory);
  g_test_add_func ("/vring/memory/guard-policy", test_guard_policy);
  g_test_add_func ("/vring/memory/sealed-huge-guarded", test_guard_policy_sealed_huge);
  g_test_add_func ("/vring/memory/punched-huge", test_punched_huge_memory);
  g_test_add_func ("/vring/log/write-ranges", test_log_write_ranges);
  g_test_add_func ("/vring/log/written-random", test_log_written_random);
  g_test_add_func ("/vring/memory/own-memory-sealed", test_own_memory_sealed);
  g_test_add_func ("/vring/memory/tables-by-layout", test_tables_by_layout);
  ADD ("log-what-was-popped", test_log_what_was_popped, NULL);
  ADD ("log-merges-nearest", test_log_merges_nearest, NULL);
  ADD ("log-partial-push", test_log_partial_push, NULL);
  ADD ("push-batch", test_push_batch, NULL);
  ADD ("indices-wrap", test_indices_wrap, NULL);
  ADD ("indirect", test_indirect, NULL);
  ADD ("split-across-regions", test_split_across_regions, NULL);
  ADD ("stopped-untouched", test_stopped_untouched, NULL);
  ADD ("kick", test_kick, NULL);
  ADD ("kick/nested", test_kick_nested, NULL);
  ADD ("kick/budget", test_kick_budget, NULL);
  ADD ("kick/budget-other-thread", test_kick_budget_other_thread, NULL);
  ADD ("context", test_context, NULL);
  ADD ("event-idx", test_event_idx, NULL);
  ADD ("no-interrupt", test_no_interrupt, NULL);
  ADD ("push-not-out", test_push_not_out, NULL);
  ADD ("head-already-out", test_head_already_out, NULL);
  ADD ("inflight-torn-batch", test_inflight_torn_batch, NULL);
  ADD ("inflight-hostile-area", test_inflight_hostile_area, NULL);
  ADD ("stop-skip-drain", test_stop_skip_drain, NULL);
  ADD ("inflight-lay-out-at-first-pop", test_inflight_lay_out_at_first_pop, NULL);
  ADD ("inflight-push-before-first-pop", test_inflight_push_before_first_pop, NULL);
  ADD ("push/refused-batch-keeps-tables", test_refused_batch_keeps_tables, NULL);
  ADD ("push/broken-counts-once", test_broken_counts_once, NULL);
  ADD ("push/mixed-sessions-batch", test_mixed_sessions_batch, NULL);
  ADD ("push/abandoned-named-twice", test_abandoned_named_twice, NULL);
  ADD ("write-gpa", test_write_gpa, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      g_autofree char *path = g_strconcat ("/vring/split/hostile/", hostile[i].name, NULL);

      g_test_add (path, Fixture, hostile[i].sabotage, fixture_setup, test_hostile, fixture_teardown);
    }
#undef ADD

  return g_test_run ();
}
