/* gen-requests.c: the requests page of the reference, from the request table
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdio.h>
#include <vhost-user-glib.h>

#include "vhost-user-request-table-private.h"

static const char *payload_names[] = {
  [VHOST_USER_PAYLOAD_NONE] = "–",
  [VHOST_USER_PAYLOAD_U64] = "u64",
  [VHOST_USER_PAYLOAD_VRING_STATE] = "vring state",
  [VHOST_USER_PAYLOAD_VRING_ADDR] = "vring address",
  [VHOST_USER_PAYLOAD_VRING_FD] = "vring index + no-fd bit",
  [VHOST_USER_PAYLOAD_MEM_TABLE] = "memory table",
  [VHOST_USER_PAYLOAD_SINGLE_REGION] = "memory region",
  [VHOST_USER_PAYLOAD_LOG] = "log",
  [VHOST_USER_PAYLOAD_IOTLB] = "IOTLB",
  [VHOST_USER_PAYLOAD_CONFIG] = "config",
  [VHOST_USER_PAYLOAD_VRING_AREA] = "vring area",
  [VHOST_USER_PAYLOAD_INFLIGHT] = "inflight",
  [VHOST_USER_PAYLOAD_UUID] = "UUID",
  [VHOST_USER_PAYLOAD_DEVICE_STATE] = "device-state transfer",
  [VHOST_USER_PAYLOAD_SHMEM_MAP] = "shmem map",
  [VHOST_USER_PAYLOAD_SHMEM_CONFIG] = "shmem config",
  [VHOST_USER_PAYLOAD_OPAQUE] = "device-defined",
};

static char *
describe_payload (const VhostUserPayloadSpec *spec)
{
  GString *s = g_string_new (payload_names[spec->kind]);

  if (spec->kind != VHOST_USER_PAYLOAD_NONE)
    {
      if (spec->min_size == spec->max_size)
        g_string_append_printf (s, " (%u B)", spec->min_size);
      else
        g_string_append_printf (s, " (%u–%u B)", spec->min_size, spec->max_size);
    }
  return g_string_free (s, FALSE);
}

static char *
describe_fds (const VhostUserPayloadSpec *spec)
{
  if (spec->min_fds == spec->max_fds)
    return g_strdup_printf ("%u", spec->min_fds);
  return g_strdup_printf ("%u–%u", spec->min_fds, spec->max_fds);
}

static char *
describe_gate (const VhostUserRequestInfo *info)
{
  g_autoptr(GFlagsClass) flags = g_type_class_ref (VHOST_USER_TYPE_PROTOCOL_FEATURES);
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < flags->n_values; i++)
    if (flags->values[i].value != 0 && (info->gate_protocol & flags->values[i].value))
      g_string_append_printf (s, "%s`%s`", s->len ? ", " : "", flags->values[i].value_nick);
  for (guint bit = 0; bit < 64; bit++)
    if (info->gate_virtio & VHOST_USER_FEATURE (bit))
      g_string_append_printf (s, "%svirtio bit %u%s", s->len ? ", " : "", bit,
                              info->gate_flags & VHOST_USER_GATE_VIRTIO_OFFERED ? " (offered)" : "");
  if (s->len == 0)
    g_string_append (s, "–");
  return g_string_free (s, FALSE);
}

static void
print_table (VhostUserChannel  channel,
             GType             type)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  const VhostUserRequestInfo *table;
  guint n_rows;

  printf ("| # | name | nick | payload | fds | reply | gated by |\n");
  printf ("|---|---|---|---|---|---|---|\n");
  table = vhost_user_request_table (channel, &n_rows);
  for (guint i = 1; i < n_rows; i++)
    {
      const VhostUserRequestInfo *info = &table[i];
      g_autofree char *payload = describe_payload (&info->request);
      g_autofree char *fds = describe_fds (&info->request);
      g_autofree char *gate = describe_gate (info);
      g_autofree char *reply = NULL;

      if (info->reply == VHOST_USER_REPLY_ALWAYS)
        {
          g_autofree char *reply_payload = describe_payload (&info->reply_payload);
          g_autofree char *reply_fds = describe_fds (&info->reply_payload);

          reply = g_strdup_printf ("always: %s, %s fds", reply_payload, reply_fds);
        }
      else if (info->reply == VHOST_USER_REPLY_ACK)
        reply = g_strdup ("ack (REPLY_ACK + NEED_REPLY)");
      else
        reply = g_strdup ("none");

      printf ("| %u | `%s`%s%s%s | `%s` | %s | %s | %s | %s |\n",
              info->number, info->name,
              info->old_name ? " (was `" : "", info->old_name ? info->old_name : "",
              info->old_name ? "`)" : "",
              g_enum_get_value (klass, info->number)->value_nick,
              payload, fds, reply, gate);
    }
}

int
main (void)
{
  printf ("Title: Requests\nSlug: requests\n\n");
  printf ("# Requests\n\n");
  printf ("Generated from the library's request table, which is what validates every\n"
          "message: sizes are payload bytes; fd counts are the bounds a message may carry\n"
          "(a memory table carries one per region, a no-fd bit means none).\n\n");
  printf ("## Front-end → back-end (main socket)\n\n");
  print_table (VHOST_USER_CHANNEL_MAIN, VHOST_USER_TYPE_REQUEST_TYPE);
  printf ("\n## Back-end → front-end (back-end channel)\n\n");
  printf ("Every request here needs `backend-req`; any fd needs `backend-send-fd`.\n\n");
  print_table (VHOST_USER_CHANNEL_BACKEND, VHOST_USER_TYPE_BACKEND_REQUEST_TYPE);
  return 0;
}
