/* fuzz-ring.c: the split and packed walkers over hostile guest memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Three targets from one source (FUZZ_MODE): fuzz-split and fuzz-packed,
 * where the input is the guest memory (descriptors, rings and indices,
 * data) and a list of operations of the device (pop, push, batches,
 * element reads and writes, calls with and without event idx, the dirty
 * log, stops with and without draining) interleaved with the driver
 * writing memory; and fuzz-inflight, where the input also gives the
 * in-flight area a restarted back-end recovers from (either layout).
 *
 * The operations include a network device's receive path: packets written
 * across merged buffers (vhost_user_vring_receive(), which pops and hands
 * back what it cannot use), batches popped at once and requests handed
 * back (vhost_user_vring_unpop()).
 *
 * Input: 8 bytes of set-up (layout and features, ring size, base, in-flight
 * area length), a count of operation bytes and the operations, then the
 * contents of guest memory: two one-page regions in different memfds, gpa
 * 0 and gpa 0x1000, with the rings in the first. fuzz-inflight reads the
 * area after the operations and before guest memory.
 */

#include <string.h>
#include <vhost-user-glib.h>

#include "fuzz-input.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-vring-private.h"

#define FUZZ_SPLIT    0
#define FUZZ_PACKED   1
#define FUZZ_INFLIGHT 2

#define PAGE      0x1000
#define DESC      0x000
#define DRIVER    0x400   /* split: the available ring */
#define DEVICE    0x600   /* split: the used ring */
#define MAX_NUM   64
#define AREA_MAX  (32 + 32 * MAX_NUM)
#define LOG_SIZE  8

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Guest memory and its table live across inputs (a memfd and a mapping
 * per input would cost more than the walk); each input lays every byte
 * of it anew, so no input sees another's. */
static VhostUserMemoryRegion *regions[2];
static VhostUserMemoryTable *table;

static void
memory_init (void)
{
  GError *error = NULL;

  if (table != NULL)
    return;
  regions[0] = vhost_user_memory_region_new_memfd (0, PAGE, &error);
  g_assert_no_error (error);
  regions[1] = vhost_user_memory_region_new_memfd (PAGE, PAGE, &error);
  g_assert_no_error (error);
  table = vhost_user_memory_table_new (regions, 2, &error);
  g_assert_no_error (error);
}

static void
count_call (VhostUserVring *vring,
            gpointer        user_data)
{
  (*(guint *) user_data)++;
}

static void
set_flag (VhostUserVring *vring,
          gpointer        user_data)
{
  *(gboolean *) user_data = TRUE;
}

static VhostUserVring *
ring_new (gboolean packed,
          gboolean event_idx,
          guint    num,
          guint32  base,
          GBytes  *area,
          guint   *n_calls)
{
  VhostUserVring *vring = vhost_user_vring_new (0, NULL);
  guint64 user_addr = vhost_user_memory_region_get_user_addr (regions[0]);
  VhostUserVringAddress address = {
    .desc_user_addr = user_addr + DESC,
    .avail_user_addr = user_addr + DRIVER,
    .used_user_addr = user_addr + DEVICE,
  };

  vhost_user_vring_set_memory_table (vring, table);
  vhost_user_vring_set_features (vring, packed, event_idx);
  vhost_user_vring_set_size (vring, num);
  vhost_user_vring_set_address (vring, &address);
  vhost_user_vring_set_base (vring, base);
  vhost_user_vring_set_call_func (vring, count_call, n_calls);
  if (area != NULL)
    vhost_user_vring_set_inflight_area (vring, area, FALSE);
  vhost_user_vring_set_started (vring, TRUE);
  return vring;
}

/* The device's side of a request popped: its buffers read and written
 * the ways a device does. */
static void
use_element (VhostUserVringElement *e,
             Input                 *in)
{
  guint8 buf[64];
  gsize offset = next_u8 (in);
  gsize len = next_u8 (in) % sizeof buf;
  GBytes *bytes;

  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) i;
  vhost_user_vring_element_write (e, offset, buf, len);
  vhost_user_vring_element_copy_out (e, offset, buf, len);
  bytes = vhost_user_vring_element_read (e, offset, len);
  g_clear_pointer (&bytes, g_bytes_unref);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  Input in = { data, size, 0 };
  Input ops;
  guint8 setup, *mem;
  gboolean packed, event_idx;
  guint num, n_ops, n_out = 0, n_calls = 0;
  guint32 base;
  gsize area_len;
  guint8 *area_mem = NULL;
  GBytes *area = NULL;
  guint8 *log_mem = g_malloc0 (LOG_SIZE);
  GBytes *log = g_bytes_new_take (log_mem, LOG_SIZE);
  VhostUserVring *vring;
  VhostUserVringElement *e = g_new0 (VhostUserVringElement, 1);
  guint out[2 * MAX_NUM], lens[2 * MAX_NUM];
  GError *error = NULL;

  memory_init ();

  setup = next_u8 (&in);
  packed = FUZZ_MODE == FUZZ_PACKED || (FUZZ_MODE == FUZZ_INFLIGHT && (setup & 1));
  event_idx = (setup & 2) != 0;
  /* split rings are a power of two; packed ones any size */
  num = packed ? 1u + next_u8 (&in) % MAX_NUM : 1u << (next_u8 (&in) % 7);
  base = next_u32 (&in);
  area_len = next_u16 (&in);   /* (not inside MIN: evaluated once) */
  area_len = MIN (area_len, AREA_MAX);
  n_ops = next_u8 (&in);
  ops = (Input) { data + in.pos, MIN (n_ops, size - MIN (in.pos, size)), 0 };
  in.pos += ops.size;

  if (FUZZ_MODE == FUZZ_INFLIGHT)
    {
      /* aligned as the library maps it; the length as the front-end said */
      area_mem = g_malloc0 (MAX (area_len, 1));
      for (gsize i = 0; i < area_len; i++)
        area_mem[i] = next_u8 (&in);
      area = g_bytes_new_take (area_mem, area_len);
    }

  for (guint r = 0; r < 2; r++)
    {
      mem = vhost_user_memory_region_get_host_addr (regions[r]);
      memset (mem, 0, PAGE);
      if (in.pos < size)
        memcpy (mem, data + in.pos, MIN (PAGE, size - in.pos));
      in.pos += PAGE;
    }
  mem = vhost_user_memory_region_get_host_addr (regions[0]);

  vring = ring_new (packed, event_idx, num, base, area, &n_calls);

  while (ops.pos < ops.size)
    {
      guint8 op = next_u8 (&ops);

      switch (op % 15)
        {
        case 0:   /* pop until empty or broken */
        case 1:   /* pop one */
          do
            {
              if (!vhost_user_vring_pop (vring, e, &error))
                break;
              g_assert_cmpuint (e->head, <, MAX (num, 1));
              if (n_out < G_N_ELEMENTS (out))
                out[n_out++] = e->head;
              use_element (e, &ops);
            }
          while (op % 15 == 0);
          g_clear_error (&error);
          break;
        case 2:   /* push the oldest out */
          if (n_out > 0)
            {
              if (!vhost_user_vring_push (vring, out[0], next_u8 (&ops), &error))
                g_clear_error (&error);
              memmove (out, out + 1, --n_out * sizeof out[0]);
            }
          break;
        case 3:   /* push all out, newest first */
          for (guint i = 0; i < n_out; i++)
            lens[i] = next_u8 (&ops);
          for (guint i = 0; i < n_out / 2; i++)
            {
              guint t = out[i];

              out[i] = out[n_out - 1 - i];
              out[n_out - 1 - i] = t;
            }
          if (!vhost_user_vring_push_batch (vring, out, lens, n_out, &error))
            g_clear_error (&error);
          n_out = 0;
          break;
        case 4:   /* a head the device never had, or one twice */
          if (!vhost_user_vring_push (vring, next_u16 (&ops), 1, &error))
            g_clear_error (&error);
          break;
        case 5:
          if (!vhost_user_vring_call (vring, &error))
            g_clear_error (&error);
          break;
        case 6:   /* the driver writes the rings meanwhile */
          {
            guint offset = next_u16 (&ops) % (2 * PAGE);
            guint8 value = next_u8 (&ops);

            ((guint8 *) vhost_user_memory_region_get_host_addr (regions[offset / PAGE]))[offset % PAGE] = value;
          }
          break;
        case 7:   /* stopped and started again (recovery from the area) */
          vhost_user_vring_set_started (vring, FALSE);
          vhost_user_vring_set_started (vring, TRUE);
          break;
        case 8:   /* a new base while stopped */
          vhost_user_vring_set_started (vring, FALSE);
          vhost_user_vring_set_base (vring, next_u32 (&ops));
          vhost_user_vring_set_started (vring, TRUE);
          n_out = 0;
          break;
        case 9:   /* dirty logging on or off, with or without the used ring's log address */
          {
            VhostUserVringAddress address = *vhost_user_vring_get_address (vring);
            guint8 how = next_u8 (&ops);

            address.flags = how & 1;
            address.log_guest_addr = (how & 2) ? DEVICE : (guint64) next_u16 (&ops) << 4;
            vhost_user_vring_set_address (vring, &address);
            vhost_user_vring_set_logging (vring, (how & 4) != 0, (how & 8) ? log : NULL, -1);
          }
          break;
        case 10:  /* GET_VRING_BASE_SKIP_DRAIN, then a new session */
          {
            guint32 stopped_at = 0;

            vhost_user_vring_stop_skip_drain (vring, &stopped_at);
            vhost_user_vring_set_started (vring, TRUE);
          }
          break;
        case 11:  /* a stop that waits for what is out */
          {
            gboolean drained = FALSE;

            vhost_user_vring_when_drained (vring, set_flag, &drained, NULL);
            while (g_main_context_iteration (NULL, FALSE))
              ;
            if (drained)
              vhost_user_vring_set_started (vring, FALSE);
          }
          break;
        case 12:  /* a packet in, its header's count of buffers or not */
          {
            VhostUserVringElement scratch[4];
            guint8 header[12] = { 0 }, packet[200];
            gsize header_len = next_u8 (&ops) % (sizeof header + 1);
            gsize len = next_u8 (&ops) % (sizeof packet + 1);
            gssize count_at = (gssize) (next_u8 (&ops) % 12) - 1;
            guint n_used = 0;

            for (gsize i = 0; i < len; i++)
              packet[i] = (guint8) (i * 7);
            if (count_at + 2 > (gssize) header_len)
              count_at = -1;
            if (!vhost_user_vring_receive (vring, scratch, 1 + next_u8 (&ops) % G_N_ELEMENTS (scratch),
                                           header_len > 0 ? header : NULL, header_len, count_at,
                                           packet, len, &n_used, &error))
              g_clear_error (&error);
            g_assert_cmpuint (n_used, <=, G_N_ELEMENTS (scratch));
          }
          break;
        case 13:  /* a batch popped at once */
          {
            VhostUserVringElement batch[8];
            guint n = 0;

            if (!vhost_user_vring_pop_batch (vring, batch, 1 + next_u8 (&ops) % G_N_ELEMENTS (batch), &n, &error))
              g_clear_error (&error);
            g_assert_cmpuint (n, <=, G_N_ELEMENTS (batch));
            for (guint i = 0; i < n; i++)
              {
                g_assert_cmpuint (batch[i].head, <, MAX (num, 1));
                if (n_out < G_N_ELEMENTS (out))
                  out[n_out++] = batch[i].head;
              }
          }
          break;
        case 14:  /* the newest out handed back, or a head never popped */
          {
            guint head = n_out > 0 && (next_u8 (&ops) & 1) ? out[n_out - 1] : next_u16 (&ops);

            if (vhost_user_vring_unpop (vring, head, &error))
              {
                if (n_out > 0 && head == out[n_out - 1])
                  n_out--;
              }
            else
              g_clear_error (&error);
          }
          break;
        default:
          g_assert_not_reached ();
        }
    }

  /* a new ring on what this one left behind, as a restarted back-end */
  if (FUZZ_MODE == FUZZ_INFLIGHT)
    {
      VhostUserVring *again;

      g_object_unref (vring);
      again = ring_new (packed, event_idx, num, base, area, &n_calls);
      n_out = 0;
      while (vhost_user_vring_pop (again, e, &error) && n_out < G_N_ELEMENTS (out))
        {
          g_assert_cmpuint (e->head, <, num);
          out[n_out] = e->head;
          lens[n_out++] = 1;
        }
      g_clear_error (&error);
      if (!vhost_user_vring_push_batch (again, out, lens, n_out, &error))
        g_clear_error (&error);
      vring = again;
    }

  g_object_unref (vring);
  /* whatever the ring queued (drained and broken notifications) */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_pointer (&area, g_bytes_unref);
  g_bytes_unref (log);
  g_free (e);
  return 0;
}
