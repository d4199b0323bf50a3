/* fuzz-input.h: a fuzz target's input read as little-endian integers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const guint8 *data;
  size_t        size;
  size_t        pos;
} Input;

/* Past the end, the input reads as zeros. */
static inline guint8
next_u8 (Input *in)
{
  return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline guint
next_u16 (Input *in)
{
  guint lo = next_u8 (in);

  return lo | (next_u8 (in) << 8);
}

static inline guint32
next_u32 (Input *in)
{
  guint32 lo = next_u16 (in);

  return lo | ((guint32) next_u16 (in) << 16);
}

static inline guint64
next_u64 (Input *in)
{
  guint64 v = 0;

  for (guint i = 0; i < 8; i++)
    v |= (guint64) next_u8 (in) << (8 * i);
  return v;
}

G_END_DECLS
