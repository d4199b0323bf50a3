/* test-driver-ring.c: the driver ring against the back-end's ring, both layouts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A VhostUserDriverRing and a VhostUserVring share one memfd region in
 * this process, with no socket between them: the driver side adds
 * requests and kicks, the back-end side pops, fills and pushes them in
 * any order, and the driver collects them. Split and packed layouts,
 * with and without event indices; and the notification decisions of both
 * sides, each way.
 */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-driver-ring-private.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-peer-fd-private.h"
#include "vhost-user-vring-packed-private.h"
#include "vhost-user-vring-private.h"

#define MEM_SIZE 0x40000
#define DATA     0x10000

typedef struct {
  gboolean packed;
  gboolean event_idx;
  guint    size;
} Params;

typedef struct {
  VhostUserMemoryRegion *region;
  VhostUserMemoryTable  *table;
  VhostUserDriverRing   *ring;
  VhostUserVring        *vring;
  guint8                *mem;
  const Params          *params;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserVringAddress address = { 0 };

  f->params = data;
  f->region = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
  g_assert_no_error (error);
  f->table = vhost_user_memory_table_new (&f->region, 1, &error);
  g_assert_no_error (error);
  f->mem = vhost_user_memory_region_get_host_addr (f->region);
  if (f->params->packed)
    f->ring = vhost_user_driver_ring_new_packed (f->region, 0, f->params->size, &error);
  else
    f->ring = vhost_user_driver_ring_new (f->region, 0, f->params->size, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_get_packed (f->ring) == f->params->packed);
  vhost_user_driver_ring_set_event_idx (f->ring, f->params->event_idx);

  /* the back-end's view, set up as the front-end would */
  f->vring = vhost_user_vring_new (0, NULL);
  vhost_user_vring_set_memory_table (f->vring, f->table);
  vhost_user_vring_set_features (f->vring, f->params->packed, f->params->event_idx);
  vhost_user_vring_set_size (f->vring, f->params->size);
  vhost_user_vring_set_base (f->vring, f->params->packed ? 0x80008000 : 0);
  address.desc_user_addr = vhost_user_driver_ring_get_desc_addr (f->ring);
  address.avail_user_addr = vhost_user_driver_ring_get_avail_addr (f->ring);
  address.used_user_addr = vhost_user_driver_ring_get_used_addr (f->ring);
  vhost_user_vring_set_address (f->vring, &address);
  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_CALL, dup (vhost_user_driver_ring_get_call_fd (f->ring)));
  vhost_user_vring_set_started (f->vring, TRUE);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->vring);
  g_clear_object (&f->ring);
  vhost_user_memory_table_unref (f->table);
  vhost_user_memory_region_unref (f->region);
}

/* Reads and clears an eventfd: how often it was written since. */
static guint64
drain (int fd)
{
  guint64 count = 0;

  if (read (fd, &count, sizeof count) != sizeof count)
    return 0;
  return count;
}

static guint64
kicks (Fixture *f)
{
  return drain (vhost_user_driver_ring_get_kick_fd (f->ring));
}

static guint64
calls (Fixture *f)
{
  return drain (vhost_user_driver_ring_get_call_fd (f->ring));
}

/* A request of @n descriptors: @n - 1 readable, one 16-byte writable
 * buffer, all in request @tag's own stretch of memory. */
static guint
add_request (Fixture *f,
             guint    n,
             guint    tag)
{
  g_autoptr(GError) error = NULL;
  guint64 out_off[2], in_off = DATA + 0x100 * tag + 0x80;
  guint32 out_len[2] = { 8, 8 }, in_len = 16;
  guint head;

  for (guint k = 0; k + 1 < n; k++)
    {
      out_off[k] = DATA + 0x100 * tag + 8 * k;
      memcpy (f->mem + out_off[k], &tag, sizeof tag);
    }
  g_assert_true (vhost_user_driver_ring_add (f->ring, out_off, out_len, n - 1, &in_off, &in_len, 1, &head, &error));
  g_assert_no_error (error);
  return head;
}

/* Requests through many laps of the ring, completed in a shuffled order,
 * one by one or in batches; the device answers each with its tag. */
static void
test_round_trip (Fixture       *f,
                 gconstpointer  data)
{
  guint size = f->params->size;
  guint tags[64] = { 0 }, heads_of[64];
  guint sent = 0, done = 0;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (size, <=, 16);
  while (sent < 12 * size)
    {
      VhostUserVringElement e;
      guint heads[64], lens[64], n = 0, head, len;

      /* fill the ring */
      for (;;)
        {
          guint chain = 1 + sent % 3;

          if (chain > vhost_user_driver_ring_get_free (f->ring))
            break;
          head = add_request (f, chain, sent % 64);
          heads_of[sent % 64] = head;
          tags[head % 64] = sent % 64;
          sent++;
        }
      g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));

      while (vhost_user_vring_pop (f->vring, &e, &error))
        {
          guint tag;

          g_assert_cmpuint (e.n_in, ==, 1);
          g_assert_cmpuint (e.in_len, ==, 16);
          if (e.n_out > 0)
            {
              g_assert_cmpuint (vhost_user_vring_element_copy_out (&e, 0, (guint8 *) &tag, sizeof tag), ==, 4);
              g_assert_cmpuint (heads_of[tag], ==, e.head);
            }
          tag = tags[e.head % 64];
          vhost_user_vring_element_write (&e, 0, (guint8 *) &tag, sizeof tag);
          heads[n] = e.head;
          /* (one per chain shape, within the 16 writable bytes) */
          lens[n] = 4 + e.out_len / 2;
          n++;
        }
      g_assert_no_error (error);
      g_assert_cmpuint (n, >, 0);
      for (guint i = n; i > 1; i--)
        {
          guint j = g_test_rand_int_range (0, i), t;

          t = heads[i - 1], heads[i - 1] = heads[j], heads[j] = t;
          t = lens[i - 1], lens[i - 1] = lens[j], lens[j] = t;
        }
      if (n % 2 == 0)
        g_assert_true (vhost_user_vring_push_batch (f->vring, heads, lens, n, &error));
      else
        for (guint i = 0; i < n; i++)
          g_assert_true (vhost_user_vring_push (f->vring, heads[i], lens[i], &error));
      g_assert_no_error (error);
      g_assert_true (vhost_user_vring_call (f->vring, &error));

      for (guint i = 0; i < n; i++)
        {
          guint tag;

          g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
          g_assert_cmpuint (head, ==, heads[i]);
          g_assert_cmpuint (len, ==, lens[i]);
          memcpy (&tag, f->mem + DATA + 0x100 * tags[head % 64] + 0x80, sizeof tag);
          g_assert_cmpuint (tag, ==, tags[head % 64]);
          done++;
        }
      g_assert_false (vhost_user_driver_ring_get_used (f->ring, &head, &len));
      g_assert_cmpuint (vhost_user_driver_ring_get_free (f->ring), ==, size);
    }
  g_assert_cmpuint (done, ==, sent);
  /* both sides agree where they are */
  if (f->params->packed)
    g_assert_cmphex (vhost_user_vring_get_base (f->vring) & 0xffff, ==,
                     vhost_user_vring_get_base (f->vring) >> 16);
}

/* The back-end's wishes about kicks, as the driver honours them. */
static void
test_kick_suppression (Fixture       *f,
                       gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint8 *used = f->mem + (vhost_user_driver_ring_get_used_addr (f->ring) -
                           vhost_user_memory_region_get_user_addr (f->region));
  guint size = f->params->size;

  /* a new ring: kick */
  add_request (f, 1, 0);
  g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
  g_assert_cmpuint (kicks (f), ==, 1);

  if (!f->params->event_idx)
    {
      /* the back-end says "do not kick" (split: NO_NOTIFY; packed: DISABLE) */
      guint16 no = f->params->packed ? PACKED_EVENT_DISABLE : 1;

      memcpy (used + (f->params->packed ? 2 : 0), &no, 2);
      add_request (f, 1, 1);
      g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
      g_assert_cmpuint (kicks (f), ==, 0);
      no = 0;
      memcpy (used + (f->params->packed ? 2 : 0), &no, 2);
      add_request (f, 1, 2);
      g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
      g_assert_cmpuint (kicks (f), ==, 1);
      if (f->params->packed)
        {
          /* DESC is reserved without event indices: kick */
          guint16 desc = PACKED_EVENT_DESC;

          memcpy (used + 2, &desc, 2);
          add_request (f, 1, 3);
          g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
          g_assert_cmpuint (kicks (f), ==, 1);
        }
      return;
    }

  if (!f->params->packed)
    {
      /* split: the back-end, finding its ring empty, asks for a kick at
       * the next index; requests added past it need no more kicks */
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      g_assert_false (vhost_user_vring_pop (f->vring, &e, &error));
      g_assert_no_error (error);
      add_request (f, 1, 1);
      g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
      g_assert_cmpuint (kicks (f), ==, 1);
      add_request (f, 1, 2);
      g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
      g_assert_cmpuint (kicks (f), ==, 0);
      /* a kick decision without anything added kicks nobody */
      g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
      g_assert_cmpuint (kicks (f), ==, 0);
      return;
    }

  /* packed: our back-end always says ENABLE; a device asking for a
   * descriptor event is played here, at position 3 of the next lap */
  {
    PackedEvent ev = { 3, PACKED_EVENT_DESC };   /* wrap counter 0 */
    guint head, len;

    memcpy (used, &ev, sizeof ev);
    g_assert_cmpuint (size, ==, 5);
    /* drain what there is, to make room for a lap */
    g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
    g_assert_true (vhost_user_vring_push (f->vring, e.head, 0, &error));
    g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
    memcpy (used, &ev, sizeof ev);   /* the empty pop may have said ENABLE */
    /* positions 1..4 of wrap 1: none is the event */
    for (guint i = 0; i < 4; i++)
      add_request (f, 1, 10 + i);
    g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
    g_assert_cmpuint (kicks (f), ==, 0);
    for (guint i = 0; i < 4; i++)
      {
        g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
        g_assert_true (vhost_user_vring_push (f->vring, e.head, 0, &error));
        g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
      }
    /* positions 0..2 of wrap 0: not yet */
    for (guint i = 0; i < 3; i++)
      add_request (f, 1, 20 + i);
    g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
    g_assert_cmpuint (kicks (f), ==, 0);
    /* position 3 of wrap 0: the event */
    add_request (f, 1, 23);
    g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
    g_assert_cmpuint (kicks (f), ==, 1);
  }
}

/* The driver's wishes about calls, as the back-end honours them: with
 * event indices the driver, finding nothing used, asks for a call at
 * the next used entry, and only then. */
static void
test_calls (Fixture       *f,
            gconstpointer  data)
{
  VhostUserVringElement e;
  g_autoptr(GError) error = NULL;
  guint head, len;

  for (guint i = 0; i < 3; i++)
    add_request (f, 1, i);
  g_assert_false (vhost_user_driver_ring_get_used (f->ring, &head, &len));

  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
      g_assert_true (vhost_user_vring_push (f->vring, e.head, 1, &error));
      g_assert_true (vhost_user_vring_call (f->vring, &error));
      /* without event indices every used entry is called; with them the
       * first (the driver asked for it), then none until it asks again */
      g_assert_cmpuint (calls (f), ==, f->params->event_idx && i > 0 ? 0 : 1);
    }
  for (guint i = 0; i < 3; i++)
    g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  /* nothing more: the driver asks again, and is called again */
  g_assert_false (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  add_request (f, 1, 5);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 1, &error));
  g_assert_true (vhost_user_vring_call (f->vring, &error));
  g_assert_cmpuint (calls (f), ==, 1);
  g_assert_no_error (error);
}

static void
test_bad_sizes (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMemoryRegion) region = vhost_user_memory_region_new_memfd (0, 0x1000, &error);
  g_autoptr(VhostUserDriverRing) ring = NULL;

  g_assert_null (vhost_user_driver_ring_new (region, 0, 12, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_null (vhost_user_driver_ring_new_packed (region, 0, 0, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_null (vhost_user_driver_ring_new_packed (region, 0, 32769, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  /* 255 descriptors and two event areas fill a page but one */
  g_assert_null (vhost_user_driver_ring_new_packed (region, 0, 256, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  ring = vhost_user_driver_ring_new_packed (region, 0, 255, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_driver_ring_get_used_addr (ring) - vhost_user_driver_ring_get_desc_addr (ring),
                    ==, 255 * 16 + 4);
}

/* The driver consumes the back-end's calls with clear_call(): the call
 * fd polls readable after a call, and no longer once cleared. */
static void
test_clear_call (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  GPollFD pfd = { vhost_user_driver_ring_get_call_fd (f->ring), G_IO_IN, 0 };
  guint head, len;

  g_assert_false (vhost_user_driver_ring_clear_call (f->ring));
  add_request (f, 1, 0);
  g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 0, &error));
  g_assert_true (vhost_user_vring_call (f->vring, &error));
  g_assert_no_error (error);

  g_assert_cmpint (g_poll (&pfd, 1, 0), ==, 1);
  g_assert_true (vhost_user_driver_ring_clear_call (f->ring));
  pfd.revents = 0;
  g_assert_cmpint (g_poll (&pfd, 1, 0), ==, 0);
  g_assert_false (vhost_user_driver_ring_clear_call (f->ring));
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, e.head);
}

/* A used entry whose length claims more than the request's writable
 * buffers hold (the back-end's word, in shared memory): the driver is
 * told no more than they hold (before, 0xffffffff, and a caller that
 * read back that much of its buffers read past them). */
static void
test_used_length_clamped (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  guint head, len;
  guint8 *claimed;
  guint32 all = G_MAXUINT32;

  add_request (f, 2, 0);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 4, &error));
  g_assert_no_error (error);
  /* split: the first used element's length; packed: the first
   * descriptor's, which the used descriptor overwrote */
  if (f->params->packed)
    claimed = (guint8 *) (guintptr) vhost_user_driver_ring_get_desc_addr (f->ring) + 8;
  else
    claimed = (guint8 *) (guintptr) vhost_user_driver_ring_get_used_addr (f->ring) + 4 + 4;
  g_assert_cmpuint (*(guint32 *) claimed, ==, 4);
  memcpy (claimed, &all, sizeof all);
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, e.head);
  g_assert_cmpuint (len, ==, 16);
}

/* Where a back-end that lost its state goes on from: the used index is
 * the back-end's, and one far behind does not make more requests out
 * than were ever made available (before, up to 65535). */
static void
test_restart_base_bounded (Fixture       *f,
                           gconstpointer  data)
{
  guint16 *used_idx = (guint16 *) ((guint8 *) (guintptr) vhost_user_driver_ring_get_used_addr (f->ring) + 2);
  guint outstanding = 0;

  add_request (f, 1, 0);
  add_request (f, 1, 1);
  g_assert_cmpuint (vhost_user_driver_ring_restart_base (f->ring, &outstanding), ==, 0);
  g_assert_cmpuint (outstanding, ==, 2);
  *used_idx = 1000;
  g_assert_cmpuint (vhost_user_driver_ring_restart_base (f->ring, &outstanding), ==, 1000);
  g_assert_cmpuint (outstanding, ==, 2);
}

/* Used entries a back-end should not write, in the split ring's used
 * ring: an id outside the ring, an id never made available, an id
 * collected once and named again. Each is stepped over; the requests
 * really out are collected once each. */
static void
test_hostile_used_entries (Fixture       *f,
                           gconstpointer  data)
{
  guint8 *used = (guint8 *) (guintptr) vhost_user_driver_ring_get_used_addr (f->ring);
  guint head0 = add_request (f, 1, 0), head1 = add_request (f, 1, 1), head, len;
  guint32 entries[][2] = {
    { f->params->size + 5, 4 },
    { (head0 + 2) % f->params->size, 4 },
    { head0, 4 },
    { head0, 4 },
  };
  guint16 idx = G_N_ELEMENTS (entries);

  g_assert_cmpuint ((head0 + 2) % f->params->size, !=, head1);
  memcpy (used + 4, entries, sizeof entries);
  __atomic_store_n ((guint16 *) (used + 2), idx, __ATOMIC_RELEASE);
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, head0);
  g_assert_cmpuint (len, ==, 4);
  g_assert_false (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (vhost_user_driver_ring_get_free (f->ring), ==, f->params->size - 1);

  entries[0][0] = head1;
  memcpy (used + 4 + 8 * idx, entries[0], sizeof entries[0]);
  __atomic_store_n ((guint16 *) (used + 2), idx + 1, __ATOMIC_RELEASE);
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, head1);
  g_assert_false (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (vhost_user_driver_ring_get_free (f->ring), ==, f->params->size);
}

/* The peer's copy of an eventfd: the same file description, so its
 * flags are ours too. */
static int
peer_copy_blocking (int fd)
{
  int copy = dup (fd);

  g_assert_cmpint (copy, >=, 0);
  g_assert_cmpint (fcntl (copy, F_SETFL, fcntl (copy, F_GETFL) & ~O_NONBLOCK), ==, 0);
  return copy;
}

static void
count_runs (VhostUserVring *vring,
            gpointer        user_data)
{
  (*(guint *) user_data)++;
}

/* A peer holds the same file description as we do of every eventfd it
 * is handed, O_NONBLOCK included. One that clears the flag and then
 * fills the count (a write of one more would wait for a read) or takes
 * it back (a read would wait for a write) hangs none of: the driver's
 * kick, its look for a call, the back-end's call, the back-end's read
 * of a kick taken back between its poll and its read (before, each
 * blocked in the kernel for good). In a child, so that a hang fails the
 * test. */
static void
test_eventfds_made_blocking (Fixture       *f,
                             gconstpointer  data)
{
  const guint64 full = G_GUINT64_CONSTANT (0xfffffffffffffffe), one = 1;
  GMainContext *context = g_main_context_default ();
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  GPollFD fds[16];
  gint priority, timeout, n;
  guint runs = 0;
  int kick, call;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  kick = peer_copy_blocking (vhost_user_driver_ring_get_kick_fd (f->ring));
  call = peer_copy_blocking (vhost_user_driver_ring_get_call_fd (f->ring));

  /* the driver's kick, the back-end having filled the count: skipped,
   * as the count wakes the back-end already */
  g_assert_cmpint (write (kick, &full, sizeof full), ==, sizeof full);
  add_request (f, 1, 0);
  g_assert_true (vhost_user_driver_ring_kick (f->ring, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (drain (kick), ==, full);

  /* the driver's look for a call, none there */
  g_assert_false (vhost_user_driver_ring_clear_call (f->ring));

  /* the back-end's call, the front-end having filled the count */
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 0, &error));
  g_assert_cmpint (write (call, &full, sizeof full), ==, sizeof full);
  g_assert_true (vhost_user_vring_call (f->vring, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_clear_call (f->ring));

  /* the back-end's read of a kick the front-end took back between the
   * context's poll and the dispatch */
  vhost_user_vring_set_started (f->vring, FALSE);
  vhost_user_vring_set_kick_handler (f->vring, count_runs, &runs, NULL);
  vhost_user_vring_take_fd (f->vring, VHOST_USER_VRING_FD_KICK, dup (kick));
  vhost_user_vring_set_started (f->vring, TRUE);
  runs = 0;
  g_assert_cmpint (write (kick, &one, sizeof one), ==, sizeof one);
  g_assert_true (g_main_context_acquire (context));
  g_main_context_prepare (context, &priority);
  n = g_main_context_query (context, priority, &timeout, fds, G_N_ELEMENTS (fds));
  g_assert_cmpint (n, <=, G_N_ELEMENTS (fds));
  g_assert_cmpint (g_poll (fds, n, 5000), >, 0);
  g_assert_true (g_main_context_check (context, priority, fds, n));
  g_assert_cmpuint (drain (kick), ==, 1);
  g_main_context_dispatch (context);
  g_main_context_release (context);
  /* (a kick with nothing behind it is still a look at the ring) */
  g_assert_cmpuint (runs, ==, 1);

  close (kick);
  close (call);
}

/* The race a check before the write leaves: the peer fills the count
 * between our poll and our write, the flag cleared. The write (made here
 * without the poll, as if the peer had won) waits, and the watchdog frees
 * it a second or two later by taking the count; the reader has ours
 * (before, it waited for good). In a child, so that a hang fails it. */
static void
test_eventfd_write_rescued (Fixture       *f,
                            gconstpointer  data)
{
  const guint64 full = G_GUINT64_CONSTANT (0xfffffffffffffffe);
  guint rescues;
  int call;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  call = peer_copy_blocking (vhost_user_driver_ring_get_call_fd (f->ring));
  g_assert_cmpint (write (call, &full, sizeof full), ==, sizeof full);
  rescues = vhost_user_eventfd_rescues ();
  g_assert_true (vhost_user_eventfd_write_watched (vhost_user_driver_ring_get_call_fd (f->ring)));
  g_assert_cmpuint (vhost_user_eventfd_rescues (), ==, rescues + 1);
  g_assert_cmpuint (drain (call), ==, 1);
  close (call);
}

#define RECORD 0x8000

/* The driver dies with requests out (one completed and not collected
 * yet, one not completed) and is started again: the reopened ring holds
 * both as out, collects them as the back-end completes them, never hands
 * out their descriptors meanwhile, and goes on. A record that lies is
 * refused. */
static void
test_record (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint size = f->params->size, chains[3] = { 1, 2, 1 };
  VhostUserVringElement e[3], extra;
  guint head, len, again;
  guint8 *record = f->mem + RECORD;
  guint16 saved;

  /* where it may not go, and when */
  g_assert_false (vhost_user_driver_ring_set_record (f->ring, 0x10, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_driver_ring_set_record (f->ring, MEM_SIZE - 8, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_true (vhost_user_driver_ring_set_record (f->ring, RECORD, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 3; i++)
    add_request (f, chains[i], i);
  g_assert_cmpuint (vhost_user_driver_ring_get_in_flight (f->ring), ==, 3);
  g_assert_false (vhost_user_driver_ring_set_record (f->ring, RECORD, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  for (guint i = 0; i < 3; i++)
    g_assert_true (vhost_user_vring_pop (f->vring, &e[i], &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_vring_push (f->vring, e[1].head, 7, &error));
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, e[1].head);
  g_assert_true (vhost_user_vring_push (f->vring, e[0].head, 9, &error));
  g_assert_no_error (error);

  /* the driver goes; another takes the ring back */
  g_clear_object (&f->ring);
  f->ring = vhost_user_driver_ring_reopen (f->region, RECORD, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->ring);
  g_assert_true (vhost_user_driver_ring_get_packed (f->ring) == f->params->packed);
  g_assert_cmpuint (vhost_user_driver_ring_get_size (f->ring), ==, size);
  vhost_user_driver_ring_set_event_idx (f->ring, f->params->event_idx);
  g_assert_cmpuint (vhost_user_driver_ring_get_in_flight (f->ring), ==, 2);
  g_assert_cmpuint (vhost_user_driver_ring_get_free (f->ring), ==, size - chains[0] - chains[2]);

  /* the one completed before is collected now */
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, e[0].head);
  g_assert_cmpuint (len, ==, 9);
  g_assert_false (vhost_user_driver_ring_get_used (f->ring, &head, &len));

  /* a new request takes nothing still out, and goes round */
  again = add_request (f, 1, 3);
  if (!f->params->packed)
    g_assert_cmpuint (again, !=, e[2].head);
  g_assert_true (vhost_user_vring_pop (f->vring, &extra, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (extra.head, ==, again);
  g_assert_true (vhost_user_vring_push (f->vring, e[2].head, 5, &error));
  g_assert_true (vhost_user_vring_push (f->vring, extra.head, 6, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, e[2].head);
  g_assert_cmpuint (len, ==, 5);
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, again);
  g_assert_cmpuint (vhost_user_driver_ring_get_in_flight (f->ring), ==, 0);
  g_assert_cmpuint (vhost_user_driver_ring_get_free (f->ring), ==, size);

  /* and once more from here, with nothing out */
  g_clear_object (&f->ring);
  f->ring = vhost_user_driver_ring_reopen (f->region, RECORD, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_driver_ring_get_in_flight (f->ring), ==, 0);
  g_assert_cmpuint (vhost_user_driver_ring_get_free (f->ring), ==, size);
  vhost_user_driver_ring_set_event_idx (f->ring, f->params->event_idx);
  again = add_request (f, 2, 4);
  g_assert_true (vhost_user_vring_pop (f->vring, &extra, &error));
  g_assert_cmpuint (extra.head, ==, again);
  g_assert_true (vhost_user_vring_push (f->vring, extra.head, 3, &error));
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, again);

  /* records that lie: a chain longer than the ring, two chains sharing a
   * descriptor (split), no record at all */
  memcpy (&saved, record + 32, 2);
  memcpy (record + 32, &(guint16) { size + 1 }, 2);
  g_assert_null (vhost_user_driver_ring_reopen (f->region, RECORD, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  if (!f->params->packed)
    {
      /* heads 0 and 1 both out, head 0's chain of two running into 1 */
      guint16 two = 2, one = 1, next = 1;

      memcpy (record + 32, &two, 2);
      memcpy (record + 34, &one, 2);
      memcpy (f->mem + vhost_user_driver_ring_get_desc_addr (f->ring) -
              vhost_user_memory_region_get_user_addr (f->region) + 14, &next, 2);
      g_assert_null (vhost_user_driver_ring_reopen (f->region, RECORD, &error));
      g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
      g_clear_error (&error);
    }
  memcpy (record + 32, &saved, 2);
  memset (record, 0, 4);
  g_assert_null (vhost_user_driver_ring_reopen (f->region, RECORD, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
}

/* A split ring's used index further ahead than the ring holds: the
 * back-end broke the ring, and nothing is taken from it (before, the
 * driver walked up to 65,535 stale entries, for as long as the back-end
 * kept moving the index). */
static void
test_used_index_ahead (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserVringElement e;
  guint16 *used_idx, real;
  guint head, len;

  add_request (f, 1, 0);
  g_assert_true (vhost_user_vring_pop (f->vring, &e, &error));
  g_assert_true (vhost_user_vring_push (f->vring, e.head, 3, &error));
  g_assert_no_error (error);
  used_idx = (guint16 *) (f->mem + (vhost_user_driver_ring_get_used_addr (f->ring) -
                                    vhost_user_memory_region_get_user_addr (f->region)) + 2);
  real = *used_idx;
  *used_idx = real + f->params->size;
  g_assert_false (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (vhost_user_driver_ring_get_in_flight (f->ring), ==, 1);
  *used_idx = real;
  g_assert_true (vhost_user_driver_ring_get_used (f->ring, &head, &len));
  g_assert_cmpuint (head, ==, e.head);
  g_assert_cmpuint (len, ==, 3);
}

typedef struct {
  guint16  *word;     /* in the shared region */
  guint16   good, bad;
  gint      stop;
} Flipper;

static gpointer
flip (gpointer data)
{
  Flipper *fl = data;

  while (!g_atomic_int_get (&fl->stop))
    {
      __atomic_store_n (fl->word, fl->bad, __ATOMIC_RELAXED);
      __atomic_store_n (fl->word, fl->good, __ATOMIC_RELAXED);
    }
  return NULL;
}

/* A back-end rewriting the record, or the descriptors a chain runs
 * through, while the ring is taken back: what is read is checked, and
 * what was checked is what is used. (Before, the record was checked,
 * then read again: a chain's next field read as 0xfff0 the second time
 * wrote outside the driver's arrays, which ASan reports.) */
static void
test_record_rewritten (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint size = f->params->size;
  Flipper fl = { NULL, 0, 0, 0 };
  GThread *thread;
  guint head, refused = 0;

  g_assert_true (vhost_user_driver_ring_set_record (f->ring, RECORD, &error));
  g_assert_no_error (error);
  add_request (f, 1, 0);
  head = add_request (f, 2, 1);
  g_clear_object (&f->ring);

  if (f->params->packed)
    {
      /* the chain's length in the record: far more than the ring holds */
      fl.word = (guint16 *) (f->mem + RECORD + vhost_user_driver_ring_get_record_size (0)) + head;
      fl.bad = 0xffff;
    }
  else
    {
      /* the next field of the chain's first descriptor (the ring is at
       * offset 0 of the region): far outside the ring */
      fl.word = (guint16 *) (f->mem + 16 * head + 14);
      fl.bad = 0xfff0;
    }
  fl.good = *fl.word;
  thread = g_thread_new ("flip", flip, &fl);
  for (guint i = 0; i < 20000; i++)
    {
      VhostUserDriverRing *ring = vhost_user_driver_ring_reopen (f->region, RECORD, &error);

      if (ring == NULL)
        {
          g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
          g_clear_error (&error);
          refused++;
          continue;
        }
      g_assert_cmpuint (vhost_user_driver_ring_get_in_flight (ring), ==, 2);
      g_assert_cmpuint (vhost_user_driver_ring_get_free (ring), ==, size - 3);
      g_object_unref (ring);
    }
  g_atomic_int_set (&fl.stop, 1);
  g_thread_join (thread);
  g_test_message ("%u of 20000 reopens saw the rewritten value", refused);
}

int
main (int   argc,
      char *argv[])
{
  static const struct {
    const char *name;
    Params      params;
  } layouts[] = {
    { "split", { FALSE, FALSE, 8 } },
    { "split-event-idx", { FALSE, TRUE, 8 } },
    { "packed", { TRUE, FALSE, 5 } },
    { "packed-event-idx", { TRUE, TRUE, 5 } },
  };

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (layouts); i++)
    {
      g_autofree char *round_trip = g_strdup_printf ("/driver-ring/%s/round-trip", layouts[i].name);
      g_autofree char *kick = g_strdup_printf ("/driver-ring/%s/kick-suppression", layouts[i].name);
      g_autofree char *call = g_strdup_printf ("/driver-ring/%s/calls", layouts[i].name);
      g_autofree char *clear_call = g_strdup_printf ("/driver-ring/%s/clear-call", layouts[i].name);
      g_autofree char *record = g_strdup_printf ("/driver-ring/%s/record", layouts[i].name);
      g_autofree char *rewritten = g_strdup_printf ("/driver-ring/%s/record-rewritten", layouts[i].name);
      g_autofree char *ahead = g_strdup_printf ("/driver-ring/%s/used-index-ahead", layouts[i].name);
      g_autofree char *blocking = g_strdup_printf ("/driver-ring/%s/eventfds-made-blocking", layouts[i].name);
      g_autofree char *clamped = g_strdup_printf ("/driver-ring/%s/used-length-clamped", layouts[i].name);

      g_test_add (round_trip, Fixture, &layouts[i].params, fixture_setup, test_round_trip, fixture_teardown);
      g_test_add (kick, Fixture, &layouts[i].params, fixture_setup, test_kick_suppression, fixture_teardown);
      g_test_add (call, Fixture, &layouts[i].params, fixture_setup, test_calls, fixture_teardown);
      g_test_add (clear_call, Fixture, &layouts[i].params, fixture_setup, test_clear_call, fixture_teardown);
      g_test_add (record, Fixture, &layouts[i].params, fixture_setup, test_record, fixture_teardown);
      g_test_add (rewritten, Fixture, &layouts[i].params, fixture_setup, test_record_rewritten, fixture_teardown);
      g_test_add (clamped, Fixture, &layouts[i].params, fixture_setup, test_used_length_clamped, fixture_teardown);
      g_test_add (blocking, Fixture, &layouts[i].params, fixture_setup, test_eventfds_made_blocking,
                  fixture_teardown);
      if (!layouts[i].params.packed)
        {
          g_autofree char *restart = g_strdup_printf ("/driver-ring/%s/restart-base-bounded", layouts[i].name);
          g_autofree char *hostile = g_strdup_printf ("/driver-ring/%s/hostile-used-entries", layouts[i].name);

          g_test_add (ahead, Fixture, &layouts[i].params, fixture_setup, test_used_index_ahead, fixture_teardown);
          g_test_add (restart, Fixture, &layouts[i].params, fixture_setup, test_restart_base_bounded,
                      fixture_teardown);
          g_test_add (hostile, Fixture, &layouts[i].params, fixture_setup, test_hostile_used_entries,
                      fixture_teardown);
        }
    }
  g_test_add_func ("/driver-ring/bad-sizes", test_bad_sizes);
  g_test_add ("/driver-ring/eventfd-write-rescued", Fixture, &layouts[0].params, fixture_setup,
              test_eventfd_write_rescued, fixture_teardown);

  return g_test_run ();
}
