/* fuzz-driver-ring.c: the driver ring under a hostile back-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A VhostUserDriverRing (the front-end's side of a virtqueue, as a
 * user-space driver or a test drives it) over shared memory that the
 * back-end writes too: the input is the ring's set-up and a list of
 * operations, the driver's (add a request, direct or indirect; collect
 * used entries; kick; the restart base; a record, and a ring reopened
 * from it) interleaved with the back-end's writes, raw bytes anywhere in
 * the ring's page or the record, or a used entry it would write (any id,
 * any length). Each answer is checked against a model of what is out: a
 * request is collected only if out, once, with no more length than its
 * writable buffers; the free count adds up; the restart base counts no
 * more requests than are out.
 *
 * Input: 1 byte of set-up (bit 0 packed, bit 1 event indices, bits 2-5
 * the size), then operations until the input ends.
 */

#include <string.h>
#include <vhost-user-glib.h>

#include "fuzz-input.h"
#include "vhost-user-driver-ring-private.h"

#define PAGE       0x1000
#define MEM_SIZE   (4 * PAGE)
#define RECORD     (3 * PAGE)
#define DATA       PAGE
#define MAX_SIZE   32
#define MAX_OPS    512

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* one region for every input (a memfd per input would cost more than the
 * ring); each input's ring is laid anew */
static VhostUserMemoryRegion *region;
static guint8 *mem;

typedef struct {
  gboolean valid;                 /* lost at a reopen: what is out is the record's word */
  gboolean out[MAX_SIZE];
  guint    descs[MAX_SIZE];       /* descriptors each request took */
  guint32  writable[MAX_SIZE];
  guint    n_out;
  guint    descs_out;
} Model;

static void
add (VhostUserDriverRing *ring,
     Model               *model,
     Input               *in,
     gboolean             indirect)
{
  guint64 out_offsets[3], in_offsets[3];
  guint32 out_lens[3], in_lens[3];
  guint n_out = next_u8 (in) % 4, n_in = next_u8 (in) % 4;
  guint64 total = 0;
  GError *error = NULL;
  guint head;
  gboolean ok;

  n_out = MIN (n_out, 3);
  n_in = MIN (n_in, 3);
  for (guint k = 0; k < n_out + n_in; k++)
    {
      guint64 off = DATA + (next_u16 (in) % (2 * PAGE));
      guint32 len = next_u16 (in) % 512;

      if (k < n_out)
        out_offsets[k] = off, out_lens[k] = len;
      else
        in_offsets[k - n_out] = off, in_lens[k - n_out] = len, total += len;
    }
  if (indirect)
    ok = vhost_user_driver_ring_add_indirect (ring, 0x2800 + 16 * (next_u8 (in) % 64), out_offsets,
                                              out_lens, n_out, in_offsets, in_lens, n_in, &head, &error);
  else
    ok = vhost_user_driver_ring_add (ring, out_offsets, out_lens, n_out, in_offsets, in_lens, n_in, &head, &error);
  if (!ok)
    {
      g_assert_nonnull (error);
      g_clear_error (&error);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (head, <, vhost_user_driver_ring_get_size (ring));
  if (!model->valid)
    return;
  g_assert_false (model->out[head]);
  model->out[head] = TRUE;
  model->descs[head] = indirect ? 1 : n_out + n_in;
  model->writable[head] = (guint32) MIN (total, G_MAXUINT32);
  model->n_out++;
  model->descs_out += model->descs[head];
}

static void
collect (VhostUserDriverRing *ring,
         Model               *model)
{
  guint head, len;

  if (!vhost_user_driver_ring_get_used (ring, &head, &len))
    return;
  g_assert_cmpuint (head, <, vhost_user_driver_ring_get_size (ring));
  if (!model->valid)
    return;
  g_assert_true (model->out[head]);
  g_assert_cmpuint (len, <=, model->writable[head]);
  model->out[head] = FALSE;
  model->n_out--;
  model->descs_out -= model->descs[head];
}

/* A used entry as a back-end writes one: split, the next used element
 * and the index over it; packed, a descriptor at a slot with the used
 * flags of a wrap counter. */
static void
write_used (VhostUserDriverRing *ring,
            Input               *in)
{
  guint size = vhost_user_driver_ring_get_size (ring);
  guint32 id = next_u8 (in) % (size + 2), len = next_u16 (in);

  if (!vhost_user_driver_ring_get_packed (ring))
    {
      guint8 *used = (guint8 *) (guintptr) vhost_user_driver_ring_get_used_addr (ring);
      guint16 idx;
      guint32 entry[2] = { id, len };

      memcpy (&idx, used + 2, 2);
      memcpy (used + 4 + 8 * (idx % size), entry, sizeof entry);
      idx += 1 + (next_u8 (in) % 4 == 0 ? next_u8 (in) : 0);
      __atomic_store_n ((guint16 *) (used + 2), idx, __ATOMIC_RELEASE);
    }
  else
    {
      guint8 *slot = (guint8 *) (guintptr) vhost_user_driver_ring_get_desc_addr (ring) + 16 * (next_u8 (in) % size);
      guint16 id16 = id, flags = next_u8 (in) & 1 ? 0x8080 : 0;

      memcpy (slot + 8, &len, 4);
      memcpy (slot + 12, &id16, 2);
      __atomic_store_n ((guint16 *) (slot + 14), flags, __ATOMIC_RELEASE);
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  static const guint sizes[] = { 1, 2, 4, 8, 16, 32, 3, 5, 7, 12, 31, 2, 4, 8, 16, 32 };
  Input in = { data, size, 0 };
  VhostUserDriverRing *ring;
  GError *error = NULL;
  Model model = { TRUE };
  guint setup, ring_size;
  gboolean packed;

  if (region == NULL)
    {
      region = vhost_user_memory_region_new_memfd (0, MEM_SIZE, &error);
      g_assert_no_error (error);
      mem = vhost_user_memory_region_get_host_addr (region);
    }
  memset (mem, 0, MEM_SIZE);

  setup = next_u8 (&in);
  packed = setup & 1;
  ring_size = sizes[(setup >> 2) % G_N_ELEMENTS (sizes)];
  /* (a split ring's size is a power of two) */
  if (!packed && (ring_size & (ring_size - 1)) != 0)
    ring_size = 8;
  ring = packed ? vhost_user_driver_ring_new_packed (region, 0, ring_size, &error) :
                  vhost_user_driver_ring_new (region, 0, ring_size, &error);
  g_assert_no_error (error);
  vhost_user_driver_ring_set_event_idx (ring, (setup & 2) != 0);

  for (guint ops = 0; ops < MAX_OPS && in.pos < in.size; ops++)
    {
      guint op = next_u8 (&in);

      switch (op % 10)
        {
        case 0:
        case 1:
          add (ring, &model, &in, FALSE);
          break;
        case 2:
          add (ring, &model, &in, TRUE);
          break;
        case 3:
          collect (ring, &model);
          break;
        case 4:
          write_used (ring, &in);
          break;
        case 5:
          {
            /* anything the back-end writes in the ring's page, or the record */
            guint off = (op & 0x10 ? RECORD : 0) + next_u16 (&in) % PAGE, n = next_u8 (&in) % 16;

            for (guint k = 0; k < n && off + k < MEM_SIZE; k++)
              mem[off + k] = next_u8 (&in);
          }
          break;
        case 6:
          if (!vhost_user_driver_ring_kick (ring, &error))
            g_clear_error (&error);
          vhost_user_driver_ring_clear_call (ring);
          break;
        case 7:
          {
            guint outstanding = 0;

            vhost_user_driver_ring_restart_base (ring, &outstanding);
            if (model.valid)
              g_assert_cmpuint (outstanding, <=, model.n_out);
          }
          break;
        case 8:
          if (!vhost_user_driver_ring_set_record (ring, RECORD, &error))
            g_clear_error (&error);
          break;
        case 9:
          {
            /* the driver starts again from its record, as the back-end
             * left it */
            VhostUserDriverRing *again = vhost_user_driver_ring_reopen (region, RECORD, &error);

            if (again == NULL)
              {
                g_assert_nonnull (error);
                g_clear_error (&error);
                break;
              }
            g_object_unref (ring);
            ring = again;
            model.valid = FALSE;
          }
          break;
        }
      g_assert_cmpuint (vhost_user_driver_ring_get_free (ring), <=, vhost_user_driver_ring_get_size (ring));
      if (model.valid)
        {
          g_assert_cmpuint (vhost_user_driver_ring_get_free (ring), ==,
                            vhost_user_driver_ring_get_size (ring) - model.descs_out);
          g_assert_cmpuint (vhost_user_driver_ring_get_in_flight (ring), ==, model.n_out);
        }
    }
  g_object_unref (ring);
  return 0;
}
