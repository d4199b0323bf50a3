/* vhost-user-vring-walk-private.h: what both ring walkers share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The split walker (vhost-user-vring-split.c) and the packed one
 * (vhost-user-vring-packed.c) never call up into vhost-user-vring.c: a
 * driver that broke the ring is reported as a reason, a static string
 * the walker leaves in its `why` argument when it returns FALSE, and
 * vhost-user-vring.c breaks the ring with it (error eventfd, NEEDS_RESET,
 * the GError the device sees). A walker that returns FALSE without a
 * reason found the ring empty, or refused a caller's mistake in @error.
 */

#pragma once

#include "vhost-user-iotlb-private.h"
#include "vhost-user-memory-table-private.h"
#include "vhost-user-ring-layout-private.h"
#include "vhost-user-vring-log-private.h"
#include "vhost-user-vring.h"

G_BEGIN_DECLS

/* How a ring's addresses become pointers in this process: through the
 * memory table (ring addresses are front-end addresses, buffers
 * guest-physical), or with VIRTIO_F_ACCESS_PLATFORM through the IOTLB
 * first (every address the driver gives is an IOVA, mapped to a
 * front-end address). Kept in the ring, under its lock. */
typedef enum {
  VHOST_USER_VRING_AREA_DESC,     /* the descriptor table (packed: the ring) */
  VHOST_USER_VRING_AREA_DRIVER,   /* the available ring (packed: driver event area) */
  VHOST_USER_VRING_AREA_DEVICE,   /* the used ring (packed: device event area) */
  VHOST_USER_VRING_N_AREAS
} VhostUserVringArea;

typedef struct {
  VhostUserMemoryTable *memory;
  VhostUserIotlb       *iotlb;            /* NULL: no IOMMU */
  /* Each part of the ring as last translated (forgotten when the memory,
   * the ring's addresses or size change). With the IOTLB, pushes use it
   * even after an invalidation (the invalidation's answer waits for the
   * requests out, see vhost-user-backend-handlers.c), pops translate
   * again once one came (stale). */
  guint8               *area[VHOST_USER_VRING_N_AREAS];
  guint64               area_addr[VHOST_USER_VRING_N_AREAS];
  guint64               area_len[VHOST_USER_VRING_N_AREAS];
  gboolean              stale;
  /* the lookup the IOTLB could not answer: the walker's caller asks the
   * front-end and parks the ring, instead of breaking it */
  gboolean              missed;
  guint64               miss_iova;
  guint                 miss_perm;
  /* the IOVAs the buffers of the request being popped span, first and
   * last byte: what an invalidation is checked against */
  guint64               span_first;
  guint64               span_last;
  /* without the IOTLB: the region the last buffer was in (size 0: none),
   * so that most buffers take no lookup; forgotten with the areas */
  guint64               window_start;
  guint64               window_size;
  guint8               *window_base;
} VhostUserVringXlat;

/* The access each part of a ring needs. Split rings: the device reads the
 * descriptors and the available ring and writes the used ring; packed
 * rings: the device writes used descriptors into the ring itself. */
static inline guint
vhost_user_vring_area_perm (gboolean           packed,
                            VhostUserVringArea area)
{
  switch (area)
    {
    case VHOST_USER_VRING_AREA_DESC:
      return packed ? VHOST_USER_IOTLB_PERM_RW : VHOST_USER_IOTLB_PERM_RO;
    case VHOST_USER_VRING_AREA_DRIVER:
      return VHOST_USER_IOTLB_PERM_RO;
    default:
      return VHOST_USER_IOTLB_PERM_WO;
    }
}

/* The guest-physical address of front-end address @user_addr, for the
 * log; FALSE if it is in no region. */
static inline gboolean
vhost_user_vring_user_addr_to_gpa (VhostUserMemoryTable *memory,
                                   guint64               user_addr,
                                   guint64              *gpa)
{
  guint n = memory != NULL ? vhost_user_memory_table_get_n_regions (memory) : 0;

  for (guint i = 0; i < n; i++)
    {
      VhostUserMemoryRegion *r = vhost_user_memory_table_get_region (memory, i);
      guint64 start = vhost_user_memory_region_get_user_addr (r);

      if (user_addr >= start && user_addr - start < vhost_user_memory_region_get_size (r))
        {
          *gpa = vhost_user_memory_region_get_guest_phys_addr (r) + (user_addr - start);
          return TRUE;
        }
    }
  return FALSE;
}

/* Records a miss for the caller, and says so. */
static inline const char *
vhost_user_vring_xlat_miss (VhostUserVringXlat *x,
                            guint64             iova,
                            guint               perm)
{
  x->missed = TRUE;
  x->miss_iova = iova;
  x->miss_perm = perm;
  return "an IOVA the IOTLB does not map yet";
}

static inline const char *
vhost_user_vring_xlat_denied (guint perm)
{
  return perm & VHOST_USER_IOTLB_PERM_WO ? "the device would write where the IOMMU allows it only to read"
                                         : "the device would read where the IOMMU allows it only to write";
}

/* One piece of @len bytes at IOVA @iova as a pointer, shortened in @len
 * to what is contiguous; the front-end address in @user_addr. */
static inline guint8 *
vhost_user_vring_xlat_iova (VhostUserVringXlat  *x,
                            guint64              iova,
                            guint64             *len,
                            guint                perm,
                            guint64             *user_addr,
                            const char         **why)
{
  guint8 *p;

  switch (vhost_user_iotlb_translate (x->iotlb, iova, len, perm, user_addr))
    {
    case VHOST_USER_IOTLB_NOT_CACHED:
      *why = vhost_user_vring_xlat_miss (x, iova, perm);
      return NULL;
    case VHOST_USER_IOTLB_DENIED:
      *why = vhost_user_vring_xlat_denied (perm);
      return NULL;
    case VHOST_USER_IOTLB_HIT:
    default:
      break;
    }
  p = vhost_user_memory_table_translate_user_addr (x->memory, *user_addr, len);
  if (p == NULL)
    *why = "the IOMMU maps an IOVA outside guest memory";
  return p;
}

/* @len bytes at @addr, all contiguous in this process, for an access of
 * @perm: a front-end address (@user_space: ring parts) or a
 * guest-physical one (indirect tables), or an IOVA with the IOTLB, which
 * may cover it with several entries. NULL, with why, if not (@why is
 * left alone otherwise). */
static inline guint8 *
vhost_user_vring_translate_range (VhostUserVringXlat  *x,
                                  guint64              addr,
                                  guint64              len,
                                  guint                perm,
                                  gboolean             user_space,
                                  const char         **why)
{
  const char *outside = "a ring or table outside guest memory";
  guint64 got = len, done = 0, user_addr;
  guint8 *first = NULL;

  if (x->memory == NULL)
    return *why = outside, NULL;
  if (x->iotlb == NULL)
    {
      first = user_space ? vhost_user_memory_table_translate_user_addr (x->memory, addr, &got)
                         : vhost_user_memory_table_translate_gpa (x->memory, addr, &got);
      if (first == NULL || got != len)
        return *why = outside, NULL;
      return first;
    }
  if (len == 0 || len - 1 > G_MAXUINT64 - addr)
    return *why = outside, NULL;
  while (done < len)
    {
      guint8 *p;

      got = len - done;
      p = vhost_user_vring_xlat_iova (x, addr + done, &got, perm, &user_addr, why);
      if (p == NULL)
        return NULL;
      if (first == NULL)
        first = p;
      else if (p != first + done)
        {
          *why = "a ring or table the IOMMU maps to pieces apart";
          return NULL;
        }
      done += got;
    }
  return first;
}

static G_GNUC_NO_INLINE guint8 *
vhost_user_vring_ring_part_translate (VhostUserVringXlat *x,
                                      gboolean            packed,
                                      VhostUserVringArea  area,
                                      guint64             addr,
                                      guint64             len)
{
  const char *why;
  guint8 *p;

  p = vhost_user_vring_translate_range (x, addr, len, vhost_user_vring_area_perm (packed, area), TRUE, &why);
  if (p != NULL)
    {
      x->area[area] = p;
      x->area_addr[area] = addr;
      x->area_len[area] = len;
    }
  return p;
}

/* A pointer to @len bytes of the ring's part @area at front-end address
 * (or IOVA) @addr, all in one piece, or NULL. Several times a pop: the
 * part as last translated, inline, and the lookup out of line. */
static inline guint8 *
vhost_user_vring_ring_part (VhostUserVringXlat *x,
                            gboolean            packed,
                            VhostUserVringArea  area,
                            guint64             addr,
                            guint64             len)
{
  if (G_LIKELY (x->area[area] != NULL && x->area_addr[area] == addr && x->area_len[area] >= len))
    return x->area[area];
  return vhost_user_vring_ring_part_translate (x, packed, area, addr, len);
}

/* Adds @len bytes at @addr (guest-physical, or an IOVA) to @element,
 * split where guest memory (or the IOMMU's mapping) is split, and for a
 * writable buffer what it covers of guest memory to @written, for the
 * log. Returns NULL, or why the driver broke the ring (or the IOTLB
 * missed). Inline: it runs for every descriptor popped. */
static inline const char *
vhost_user_vring_add_buffer (VhostUserVringXlat    *x,
                             VhostUserVringElement *element,
                             VhostUserVringWritten *written,
                             guint64                addr,
                             guint32                len,
                             gboolean               writable)
{
  guint perm = writable ? VHOST_USER_IOTLB_PERM_WO : VHOST_USER_IOTLB_PERM_RO;
  guint first = writable ? element->n_in : element->n_out;
  guint64 done = 0;

  while (done < len)
    {
      guint64 chunk = len - done, gpa = addr + done, user_addr = 0;
      const char *why = NULL;
      guint8 *p;
      VhostUserVringBuffer *iov;
      guint *n;

      if (addr + done < addr)
        return "a buffer wraps around the address space";
      if (x->iotlb != NULL)
        {
          p = vhost_user_vring_xlat_iova (x, addr + done, &chunk, perm, &user_addr, &why);
          if (p == NULL)
            return why;
          x->span_first = MIN (x->span_first, addr + done);
          x->span_last = MAX (x->span_last, addr + done + (chunk - 1));
          if (writable && written != NULL && !vhost_user_vring_user_addr_to_gpa (x->memory, user_addr, &gpa))
            return "the IOMMU maps an IOVA outside guest memory";
        }
      else
        {
          guint64 offset = gpa - x->window_start;

          if (G_UNLIKELY (offset >= x->window_size))
            {
              x->window_base = vhost_user_memory_table_gpa_region (x->memory, gpa, &x->window_start,
                                                                   &x->window_size);
              if (x->window_base == NULL)
                {
                  x->window_size = 0;
                  return "a buffer is outside guest memory";
                }
              offset = gpa - x->window_start;
            }
          chunk = MIN (chunk, x->window_size - offset);
          p = x->window_base + offset;
        }
      n = writable ? &element->n_in : &element->n_out;
      iov = writable ? &element->in[*n] : &element->out[*n];
      /* pieces of one buffer that are contiguous here are one: the IOMMU
       * maps a page at a time, a buffer is often contiguous in memory
       * (never merged with another buffer: devices see each as given) */
      if (*n > first && (guint8 *) iov[-1].base + iov[-1].len == p)
        iov[-1].len += chunk;
      else
        {
          if (*n >= VHOST_USER_VRING_MAX_IOV)
            return "a request has too many pieces";
          iov->base = p;
          iov->len = chunk;
          (*n)++;
        }
      if (writable)
        {
          element->in_len += chunk;
          /* what a push logs: these addresses, not what the table says by then */
          if (written != NULL)
            vhost_user_vring_written_add (written, gpa, chunk);
        }
      else
        element->out_len += chunk;
      done += chunk;
    }
  return NULL;
}

G_END_DECLS
