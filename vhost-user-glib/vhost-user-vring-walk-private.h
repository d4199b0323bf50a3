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

#include "vhost-user-memory-table.h"
#include "vhost-user-ring-layout-private.h"
#include "vhost-user-vring-log-private.h"
#include "vhost-user-vring.h"

G_BEGIN_DECLS

/* A pointer to @len bytes of ring at front-end address @addr, all in one
 * mapped region, or NULL. */
static inline guint8 *
vhost_user_vring_ring_part (VhostUserMemoryTable *memory,
                            guint64               addr,
                            guint64               len)
{
  guint64 got = len;
  guint8 *p;

  if (memory == NULL)
    return NULL;
  p = vhost_user_memory_table_translate_user_addr (memory, addr, &got);
  return p != NULL && got == len ? p : NULL;
}

/* Adds @len bytes at guest-physical @gpa to @element, split where guest
 * memory is split. Returns NULL, or why the driver broke the ring.
 * Inline: it runs for every descriptor popped. */
static inline const char *
vhost_user_vring_add_buffer (VhostUserMemoryTable  *memory,
                             VhostUserVringElement *element,
                             guint64                gpa,
                             guint32                len,
                             gboolean               writable)
{
  guint64 done = 0;

  while (done < len)
    {
      guint64 chunk = len - done;
      guint8 *p;
      VhostUserVringBuffer *iov;
      guint *n;

      if (gpa + done < gpa)
        return "a buffer wraps around the address space";
      p = vhost_user_memory_table_translate_gpa (memory, gpa + done, &chunk);
      if (p == NULL)
        return "a buffer is outside guest memory";
      n = writable ? &element->n_in : &element->n_out;
      if (*n >= VHOST_USER_VRING_MAX_IOV)
        return "a request has too many pieces";
      iov = writable ? &element->in[*n] : &element->out[*n];
      iov->base = p;
      iov->len = chunk;
      (*n)++;
      if (writable)
        element->in_len += chunk;
      else
        element->out_len += chunk;
      done += chunk;
    }
  return NULL;
}

G_END_DECLS
