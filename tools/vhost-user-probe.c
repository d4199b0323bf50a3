/* vhost-user-probe: what a vhost-user back-end offers, decoded
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vhost-user-probe [--json] [--device blk] SOCKET
 *
 * Connects as a front-end, asks the questions that change nothing (after
 * acknowledging the protocol features it needs to ask them) and prints
 * the answers: virtio features, protocol features, queues, memory slots,
 * config space, status.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vhost-user-glib.h>

static gboolean json;
static char *device;
static gint config_size = 60;
static gint timeout_ms = 5000;

static GOptionEntry entries[] = {
  { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
  { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "Decode the config space as this device (blk)", "TYPE" },
  { "config-size", 0, 0, G_OPTION_ARG_INT, &config_size, "Config bytes to read (default 60)", "N" },
  { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_ms, "Milliseconds to wait for the socket and each reply (default 5000)", "MS" },
  { NULL }
};

static const char *
virtio_bit_name (guint bit)
{
  static GEnumClass *klass;
  GEnumValue *value;

  if (klass == NULL)
    klass = g_type_class_ref (VHOST_USER_TYPE_VIRTIO_FEATURE_BIT);
  value = g_enum_get_value (klass, bit);
  return value != NULL ? value->value_nick : NULL;
}

static char *
describe_virtio (guint64 features)
{
  GString *s = g_string_new (NULL);

  for (guint bit = 0; bit < 64; bit++)
    if (features & VHOST_USER_FEATURE (bit))
      {
        const char *name = virtio_bit_name (bit);

        if (s->len > 0)
          g_string_append (s, json ? "\", \"" : " ");
        if (name != NULL)
          g_string_append (s, name);
        else
          g_string_append_printf (s, "bit-%u", bit);
      }
  return g_string_free (s, FALSE);
}

static char *
describe_protocol (guint64 features)
{
  g_autoptr(GFlagsClass) klass = g_type_class_ref (VHOST_USER_TYPE_PROTOCOL_FEATURES);
  GString *s = g_string_new (NULL);

  for (guint bit = 0; bit < 64; bit++)
    if (features & VHOST_USER_FEATURE (bit))
      {
        GFlagsValue *value = bit < 32 ? g_flags_get_first_value (klass, 1u << bit) : NULL;

        if (s->len > 0)
          g_string_append (s, json ? "\", \"" : " ");
        if (value != NULL)
          g_string_append (s, value->value_nick);
        else
          g_string_append_printf (s, "bit-%u", bit);
      }
  return g_string_free (s, FALSE);
}

static guint64
le (const guint8 *p,
    gsize         width)
{
  guint64 v = 0;

  for (gsize i = 0; i < width; i++)
    v |= (guint64) p[i] << (8 * i);
  return v;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserFrontend) frontend = NULL;
  g_autoptr(GBytes) config = NULL;
  g_autofree char *features_s = NULL;
  g_autofree char *protocol_s = NULL;
  g_autofree char *config_hex = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  guint64 features, protocol, queues = 0, slots = 0, status = 0;
  gboolean has_queues = FALSE, has_slots = FALSE, has_status = FALSE;
  const guint64 protocol_bit = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES);
  /* what we need to ask (and nothing that would change the device) */
  const guint64 wanted = VHOST_USER_PROTOCOL_FEATURE_MQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                         VHOST_USER_PROTOCOL_FEATURE_CONFIG | VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS |
                         VHOST_USER_PROTOCOL_FEATURE_STATUS;

  options = g_option_context_new ("SOCKET - show what a vhost-user back-end offers");
  g_option_context_set_summary (options,
    "Connects to a vhost-user back-end (the device side, \"slave\" in older texts) and prints\n"
    "its virtio features, protocol features, queue count, memory slots, config space and\n"
    "status, decoded. Only queries are sent, after acknowledging the protocol features\n"
    "they need.");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "vhost-user-probe: give one socket path (see --help)");
      return 2;
    }
  /* (a timeout of 0 would be none at all: a back-end that never answers
   * would hold the probe for good) */
  if (config_size < 0 || config_size > 4084 || timeout_ms < 1)
    {
      g_printerr ("vhost-user-probe: --config-size is 0 to 4084, --timeout at least 1\n");
      return 2;
    }

  frontend = vhost_user_frontend_new ();
  vhost_user_frontend_set_timeout (frontend, timeout_ms);
  if (!vhost_user_frontend_connect_to_path (frontend, argv[1], timeout_ms, NULL, &error))
    goto fail;

  features = vhost_user_frontend_get_u64 (frontend, VHOST_USER_REQUEST_GET_FEATURES, NULL, &error);
  if (error != NULL)
    goto fail;
  protocol = 0;
  if (features & protocol_bit)
    {
      protocol = vhost_user_frontend_get_u64 (frontend, VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES, NULL, &error);
      if (error != NULL ||
          !vhost_user_frontend_set_u64 (frontend, VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES, protocol & wanted,
                                        NULL, &error))
        goto fail;
    }

  if (protocol & VHOST_USER_PROTOCOL_FEATURE_MQ)
    {
      queues = vhost_user_frontend_get_u64 (frontend, VHOST_USER_REQUEST_GET_QUEUE_NUM, NULL, &error);
      if (error != NULL)
        goto fail;
      has_queues = TRUE;
    }
  if (protocol & VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS)
    {
      slots = vhost_user_frontend_get_u64 (frontend, VHOST_USER_REQUEST_GET_MAX_MEM_SLOTS, NULL, &error);
      if (error != NULL)
        goto fail;
      has_slots = TRUE;
    }
  if (protocol & VHOST_USER_PROTOCOL_FEATURE_STATUS)
    {
      status = vhost_user_frontend_get_u64 (frontend, VHOST_USER_REQUEST_GET_STATUS, NULL, &error);
      if (error != NULL)
        goto fail;
      has_status = TRUE;
    }
  if ((protocol & VHOST_USER_PROTOCOL_FEATURE_CONFIG) && config_size > 0)
    {
      config = vhost_user_frontend_read_config (frontend, 0, config_size, NULL, &error);
      /* a refusal is an answer too; a hang-up, silence or a malformed
       * reply is not */
      if (config == NULL && !g_error_matches (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL))
        goto fail;
      if (config == NULL)
        {
          g_printerr ("vhost-user-probe: config space: %s\n", error->message);
          g_clear_error (&error);
        }
    }

  features_s = describe_virtio (features);
  protocol_s = describe_protocol (protocol);
  if (config != NULL)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (config, &len);
      GString *hex = g_string_new (NULL);

      for (gsize i = 0; i < len; i++)
        g_string_append_printf (hex, "%02x", data[i]);
      config_hex = g_string_free (hex, FALSE);
    }

  if (json)
    {
      g_string_append_printf (out, "{\"socket\": \"%s\", \"features\": %" G_GUINT64_FORMAT ", \"feature-names\": [%s%s%s]",
                              argv[1], features, *features_s ? "\"" : "", features_s, *features_s ? "\"" : "");
      g_string_append_printf (out, ", \"protocol-features\": %" G_GUINT64_FORMAT ", \"protocol-feature-names\": [%s%s%s]",
                              protocol, *protocol_s ? "\"" : "", protocol_s, *protocol_s ? "\"" : "");
      if (has_queues)
        g_string_append_printf (out, ", \"queues\": %" G_GUINT64_FORMAT, queues);
      if (has_slots)
        g_string_append_printf (out, ", \"max-mem-slots\": %" G_GUINT64_FORMAT, slots);
      if (has_status)
        g_string_append_printf (out, ", \"status\": %" G_GUINT64_FORMAT, status);
      if (config_hex != NULL)
        g_string_append_printf (out, ", \"config\": \"%s\"", config_hex);
    }
  else
    {
      g_string_append_printf (out, "socket:             %s\n", argv[1]);
      g_string_append_printf (out, "features:           0x%016" G_GINT64_MODIFIER "x %s\n", features, features_s);
      g_string_append_printf (out, "protocol features:  0x%016" G_GINT64_MODIFIER "x %s\n", protocol, protocol_s);
      if (has_queues)
        g_string_append_printf (out, "queues:             %" G_GUINT64_FORMAT "\n", queues);
      if (has_slots)
        g_string_append_printf (out, "max memory slots:   %" G_GUINT64_FORMAT "\n", slots);
      if (has_status)
        g_string_append_printf (out, "status:             0x%" G_GINT64_MODIFIER "x\n", status);
      if (config_hex != NULL)
        g_string_append_printf (out, "config (%" G_GSIZE_FORMAT " bytes): %s\n", g_bytes_get_size (config), config_hex);
    }

  /* virtio-blk: capacity (le64, 512-byte sectors), blk_size at 20, num_queues at 34 */
  if (g_strcmp0 (device, "blk") == 0 && config != NULL && g_bytes_get_size (config) >= 36)
    {
      const guint8 *c = g_bytes_get_data (config, NULL);
      guint64 capacity = le (c, 8);

      if (json)
        g_string_append_printf (out, ", \"blk\": {\"capacity\": %" G_GUINT64_FORMAT ", \"size-bytes\": %" G_GUINT64_FORMAT
                                ", \"blk-size\": %" G_GUINT64_FORMAT ", \"num-queues\": %" G_GUINT64_FORMAT "}",
                                capacity, capacity <= G_MAXUINT64 / 512 ? capacity * 512 : G_MAXUINT64,
                                le (c + 20, 4), le (c + 34, 2));
      else
        g_string_append_printf (out, "blk:                capacity %" G_GUINT64_FORMAT " sectors (%" G_GUINT64_FORMAT
                                " MiB), block size %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT " queues\n",
                                capacity, capacity / 2048, le (c + 20, 4), le (c + 34, 2));
    }
  if (json)
    g_string_append (out, "}\n");

  fputs (out->str, stdout);
  return EXIT_SUCCESS;

fail:
  g_printerr ("vhost-user-probe: %s\n", error->message);
  return EXIT_FAILURE;
}
