/* fuzz-memtable.c: memory tables built, grown and shrunk by a hostile
 * front-end, with every translation checked against a model
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is a sequence of what SET_MEM_TABLE, ADD_MEM_REG and
 * REM_MEM_REG ask of the back-end's memory table (the regions' guest and
 * front-end addresses, sizes, mmap offsets and fds: memfds of three sizes
 * and /dev/null), with translations in between: guest-physical and
 * front-end addresses, reads and writes. The model is the list of
 * regions of the table the library accepted: an address inside one of
 * them must translate to the byte of its file at the right offset, with
 * no more length than the region has left; an address outside all of
 * them must not translate. The files hold a pattern, so a wrong offset
 * shows.
 */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <vhost-user-glib.h>

#include "fuzz-input.h"
#include "test-util.h"
#include "vhost-user-memory-table-private.h"

#define MAX_SLOTS 8
#define N_FDS     4

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* the files regions map, made once: their contents never change (a
 * write puts back what was read) */
static const gsize fd_sizes[N_FDS] = { 0x1000, 0x4000, 0x10000, 0 };
static int fds[N_FDS] = { -1, -1, -1, -1 };

static guint8
pattern (guint fd_index,
         guint64 offset)
{
  return (guint8) (offset * 7 + (offset >> 8) + fd_index * 31);
}

static void
files_init (void)
{
  if (fds[0] >= 0)
    return;
  for (guint i = 0; i < N_FDS; i++)
    {
      g_autofree guint8 *buf = NULL;

      if (fd_sizes[i] == 0)
        {
          /* not a regular file: no size to check, and it does not map */
          fds[i] = open ("/dev/null", O_RDWR | O_CLOEXEC);
          g_assert_cmpint (fds[i], >=, 0);
          continue;
        }
      buf = g_malloc (fd_sizes[i]);
      fds[i] = test_memfd (fd_sizes[i]);
      for (gsize o = 0; o < fd_sizes[i]; o++)
        buf[o] = pattern (i, o);
      g_assert_cmpint (pwrite (fds[i], buf, fd_sizes[i], 0), ==, (gssize) fd_sizes[i]);
    }
}

typedef struct {
  guint64 gpa, size, user_addr, mmap_offset;
  guint   fd_index;
} Spec;

/* Mostly small, overlapping values; now and then any 64-bit ones, to
 * reach the overflow checks. */
static Spec
next_spec (Input *in)
{
  guint8 how = next_u8 (in);
  Spec s;

  s.fd_index = how % N_FDS;
  if (how & 0x80)
    {
      s.gpa = next_u64 (in);
      s.size = next_u64 (in);
      s.user_addr = next_u64 (in);
      s.mmap_offset = next_u64 (in);
    }
  else
    {
      s.gpa = (guint64) next_u16 (in) << 4;
      s.size = (how & 0x40) ? (guint64) next_u16 (in) : (guint64) (next_u8 (in) + 1) << 8;
      s.user_addr = G_GUINT64_CONSTANT (0x100000) + ((guint64) next_u16 (in) << 4);
      s.mmap_offset = (how & 0x20) ? next_u16 (in) : (guint64) (next_u8 (in) & 0x3f) << 8;
    }
  return s;
}

static VhostUserMemoryRegion *
region_new (const Spec *s)
{
  GError *error = NULL;
  VhostUserMemoryRegion *region;

  region = vhost_user_memory_region_new_map (s->gpa, s->size, s->user_addr, s->mmap_offset,
                                             fds[s->fd_index], &error);
  if (region == NULL)
    {
      g_assert_nonnull (error);
      g_clear_error (&error);
      return NULL;
    }
  /* mapped only if the file holds it all */
  g_assert_cmpuint (fd_sizes[s->fd_index], >=, s->mmap_offset + s->size);
  return region;
}

/* The model: which file and offset an address of the table is at. */
typedef struct {
  Spec specs[MAX_SLOTS + 1];
  guint n;
} Model;

static void
model_from_table (Model                      *model,
                  const VhostUserMemoryTable *table,
                  const Spec                 *specs,
                  VhostUserMemoryRegion     **regions,
                  guint                       n_specs)
{
  model->n = vhost_user_memory_table_get_n_regions (table);
  g_assert_cmpuint (model->n, <=, G_N_ELEMENTS (model->specs));
  for (guint i = 0; i < model->n; i++)
    {
      VhostUserMemoryRegion *r = vhost_user_memory_table_get_region (table, i);
      guint j;

      for (j = 0; j < n_specs; j++)
        if (regions[j] == r)
          break;
      g_assert_cmpuint (j, <, n_specs);
      model->specs[i] = specs[j];
      g_assert_cmpuint (vhost_user_memory_region_get_guest_phys_addr (r), ==, specs[j].gpa);
      g_assert_cmpuint (vhost_user_memory_region_get_size (r), ==, specs[j].size);
      g_assert_cmpuint (vhost_user_memory_region_get_user_addr (r), ==, specs[j].user_addr);
    }
}

/* One address, both ways of naming it. */
static void
check_address (const VhostUserMemoryTable *table,
               const Model                *model,
               guint64                     addr,
               gboolean                    by_user_addr)
{
  guint64 len = G_MAXUINT64;   /* (in: as much as there is) */
  guint8 *p;
  gboolean inside = FALSE, matched = FALSE;

  p = by_user_addr ? vhost_user_memory_table_translate_user_addr (table, addr, &len)
                   : vhost_user_memory_table_translate_gpa (table, addr, &len);
  for (guint i = 0; i < model->n; i++)
    {
      const Spec *s = &model->specs[i];
      guint64 start = by_user_addr ? s->user_addr : s->gpa;
      guint64 offset;

      if (addr < start || addr - start >= s->size)
        continue;
      inside = TRUE;
      offset = s->mmap_offset + (addr - start);
      if (p != NULL && len == s->size - (addr - start) &&
          p[0] == pattern (s->fd_index, offset) && p[len - 1] == pattern (s->fd_index, offset + len - 1))
        matched = TRUE;
    }
  if (!inside)
    g_assert_null (p);
  else
    g_assert_true (matched);
}

/* Reads and writes by guest address: what is read is what the files
 * hold, across regions where they are contiguous; writing it back
 * changes nothing. */
static void
check_read_write (const VhostUserMemoryTable *table,
                  guint64                     gpa,
                  gsize                       len)
{
  GError *error = NULL;
  GBytes *bytes = vhost_user_memory_table_read_gpa (table, gpa, len, &error);

  if (bytes == NULL)
    {
      g_assert_nonnull (error);
      g_clear_error (&error);
      return;
    }
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, len);
  if (len > 0)
    {
      guint64 avail = len;
      const guint8 *p = vhost_user_memory_table_translate_gpa (table, gpa, &avail);

      g_assert_nonnull (p);
      g_assert_cmpint (memcmp (p, g_bytes_get_data (bytes, NULL), avail), ==, 0);
    }
  g_assert_true (vhost_user_memory_table_write_gpa (table, gpa, bytes, &error));
  g_assert_no_error (error);
  g_bytes_unref (bytes);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  Input in = { data, size, 0 };
  VhostUserMemoryTable *table;
  Model model = { .n = 0 };
  GError *error = NULL;

  files_init ();
  table = vhost_user_memory_table_new_empty ();

  while (in.pos < in.size)
    {
      guint8 op = next_u8 (&in);

      switch (op % 5)
        {
        case 0:   /* SET_MEM_TABLE: all regions mapped, or none taken */
          {
            Spec specs[MAX_SLOTS];
            VhostUserMemoryRegion *regions[MAX_SLOTS];
            guint n = next_u8 (&in) % (MAX_SLOTS + 1), mapped = 0;
            VhostUserMemoryTable *t = NULL;

            for (guint i = 0; i < n; i++)
              {
                specs[i] = next_spec (&in);
                if ((regions[mapped] = region_new (&specs[i])) != NULL)
                  specs[mapped++] = specs[i];
              }
            if (mapped == n)
              {
                t = vhost_user_memory_table_new (regions, n, &error);
                if (t != NULL)
                  {
                    model_from_table (&model, t, specs, regions, n);
                    vhost_user_memory_table_unref (table);
                    table = t;
                  }
                else
                  {
                    g_assert_nonnull (error);
                    g_clear_error (&error);
                  }
              }
            /* the table took its own references */
            for (guint i = 0; i < mapped; i++)
              vhost_user_memory_region_unref (regions[i]);
          }
          break;
        case 1:   /* ADD_MEM_REG */
          {
            Spec specs[MAX_SLOTS + 1];
            VhostUserMemoryRegion *regions[MAX_SLOTS + 1];
            guint n = vhost_user_memory_table_get_n_regions (table);
            VhostUserMemoryTable *t;

            g_assert_cmpuint (n, <=, MAX_SLOTS);
            specs[n] = next_spec (&in);
            regions[n] = region_new (&specs[n]);
            if (regions[n] == NULL)
              break;
            for (guint i = 0; i < n; i++)
              {
                specs[i] = model.specs[i];
                regions[i] = vhost_user_memory_table_get_region (table, i);
              }
            t = vhost_user_memory_table_add (table, regions[n], MAX_SLOTS, &error);
            if (t != NULL)
              {
                model_from_table (&model, t, specs, regions, n + 1);
                vhost_user_memory_table_unref (table);
                table = t;
              }
            else
              {
                g_assert_nonnull (error);
                g_clear_error (&error);
              }
            vhost_user_memory_region_unref (regions[n]);
          }
          break;
        case 2:   /* REM_MEM_REG: one of the table's, or anything */
          {
            guint which = next_u8 (&in);
            Spec s = which < model.n ? model.specs[which] : next_spec (&in);
            Spec specs[MAX_SLOTS + 1];
            VhostUserMemoryRegion *regions[MAX_SLOTS + 1];
            guint n = model.n;
            VhostUserMemoryTable *t;

            for (guint i = 0; i < n; i++)
              {
                specs[i] = model.specs[i];
                regions[i] = vhost_user_memory_table_get_region (table, i);
              }
            t = vhost_user_memory_table_remove (table, s.gpa, s.size, s.user_addr, &error);
            if (t != NULL)
              {
                g_assert_cmpuint (vhost_user_memory_table_get_n_regions (t), ==, n - 1);
                model_from_table (&model, t, specs, regions, n);
                vhost_user_memory_table_unref (table);
                table = t;
              }
            else
              {
                g_assert_true (which >= n);
                g_assert_nonnull (error);
                g_clear_error (&error);
              }
          }
          break;
        case 3:   /* translations, near a region's edges or anywhere */
          {
            guint8 how = next_u8 (&in);
            guint64 addr;

            if (model.n > 0 && (how & 1))
              {
                const Spec *s = &model.specs[next_u8 (&in) % model.n];
                guint64 start = (how & 2) ? s->user_addr : s->gpa;
                gint delta = (gint8) next_u8 (&in);

                addr = start + ((how & 4) ? s->size : 0) + delta;
              }
            else
              addr = (how & 8) ? next_u64 (&in) : (guint64) next_u16 (&in) << 4;
            check_address (table, &model, addr, (how & 2) != 0);
          }
          break;
        case 4:
          {
            guint64 gpa = (guint64) next_u16 (&in) << 4;

            check_read_write (table, gpa, next_u16 (&in));
          }
          break;
        default:
          g_assert_not_reached ();
        }
    }

  g_assert_cmpuint (vhost_user_memory_table_get_n_regions (table), ==, model.n);
  vhost_user_memory_table_unref (table);
  return 0;
}
