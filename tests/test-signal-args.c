/* test-signal-args.c: a signal's arguments as text
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "test-signal-args.h"
#include "test-util.h"

#define X64 "0x%" G_GINT64_MODIFIER "x"

void
test_append_hex (GString      *s,
                 const guint8 *data,
                 gsize         len)
{
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", data[i]);
}

void
test_append_region (GString                     *s,
                    const VhostUserMemoryRegion *region)
{
  g_string_append_printf (s, X64 "+" X64 "@" X64 "/" X64 ":%s",
                          vhost_user_memory_region_get_guest_phys_addr (region),
                          vhost_user_memory_region_get_size (region),
                          vhost_user_memory_region_get_user_addr (region),
                          vhost_user_memory_region_get_mmap_offset (region),
                          (const char *) vhost_user_memory_region_get_host_addr (region));
}

/* Written during the emission: fds are only valid then, and memory is
 * read where it is mapped. */
char *
test_format_signal_args (guint         n,
                         const GValue *values)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      const GValue *v = &values[i];

      if (i > 0)
        g_string_append_c (s, ' ');
      if (G_VALUE_HOLDS_UINT (v))
        g_string_append_printf (s, "%u", g_value_get_uint (v));
      else if (G_VALUE_HOLDS_UINT64 (v))
        g_string_append_printf (s, X64, g_value_get_uint64 (v));
      else if (G_VALUE_HOLDS_BOOLEAN (v))
        g_string_append (s, g_value_get_boolean (v) ? "TRUE" : "FALSE");
      else if (G_VALUE_HOLDS_INT (v))
        g_string_append (s, g_value_get_int (v) >= 0 && test_fd_is_open (g_value_get_int (v)) ? "fd" : "no-fd");
      else if (G_VALUE_HOLDS_STRING (v))
        g_string_append (s, g_value_get_string (v));
      else if (G_VALUE_HOLDS (v, G_TYPE_BYTES))
        {
          gsize len;
          const guint8 *bytes = g_bytes_get_data (g_value_get_boxed (v), &len);

          test_append_hex (s, bytes, len);
        }
      else if (G_VALUE_HOLDS (v, VHOST_USER_TYPE_VRING_ADDRESS))
        {
          const VhostUserVringAddress *a = g_value_get_boxed (v);

          g_string_append_printf (s, "flags=%u desc=" X64 " used=" X64 " avail=" X64 " log=" X64, a->flags,
                                  a->desc_user_addr, a->used_user_addr, a->avail_user_addr, a->log_guest_addr);
        }
      else if (G_VALUE_HOLDS (v, VHOST_USER_TYPE_MEMORY_REGION))
        test_append_region (s, g_value_get_boxed (v));
      else if (G_VALUE_HOLDS (v, VHOST_USER_TYPE_MEMORY_TABLE))
        {
          const VhostUserMemoryTable *table = g_value_get_boxed (v);

          for (guint j = 0; j < vhost_user_memory_table_get_n_regions (table); j++)
            {
              if (j > 0)
                g_string_append_c (s, ' ');
              test_append_region (s, vhost_user_memory_table_get_region (table, j));
            }
        }
      else
        g_assert_not_reached ();
    }
  return g_string_free (s, FALSE);
}
