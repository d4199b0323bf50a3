/* test-error.c: error domain, reconnect classification, enums against the table
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <gio/gio.h>
#include <vhost-user-glib.h>

#include "vhost-user-request-table-private.h"

/* the reference implementation's Error::should_reconnect() */
static const struct {
  VhostUserError code;
  gboolean       reconnect;
} reconnect_table[] = {
  { VHOST_USER_ERROR_FAILED, FALSE },
  { VHOST_USER_ERROR_INVALID_PARAM, FALSE },
  { VHOST_USER_ERROR_INVALID_OPERATION, FALSE },
  { VHOST_USER_ERROR_INVALID_MESSAGE, FALSE },
  { VHOST_USER_ERROR_PARTIAL_MESSAGE, TRUE },
  { VHOST_USER_ERROR_OVERSIZED_MESSAGE, FALSE },
  { VHOST_USER_ERROR_INCORRECT_FDS, FALSE },
  { VHOST_USER_ERROR_SOCKET_CONNECT, FALSE },
  { VHOST_USER_ERROR_SOCKET_BROKEN, TRUE },
  { VHOST_USER_ERROR_SOCKET_RETRY, FALSE },
  { VHOST_USER_ERROR_SOCKET_ERROR, FALSE },
  { VHOST_USER_ERROR_BACKEND_INTERNAL, TRUE },
  { VHOST_USER_ERROR_FEATURE_MISMATCH, FALSE },
  { VHOST_USER_ERROR_HANDLER_FAILED, FALSE },
  /* added by the 1.0 redesign, after the reference implementation's codes */
  { VHOST_USER_ERROR_CLOSED, FALSE },
  { VHOST_USER_ERROR_TIMED_OUT, TRUE },
};

static void
test_should_reconnect (void)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (VHOST_USER_TYPE_ERROR);
  g_autoptr(GError) other = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "not ours");

  /* every code is classified here, so a new code needs a decision */
  g_assert_cmpuint (klass->n_values, ==, G_N_ELEMENTS (reconnect_table));

  for (gsize i = 0; i < G_N_ELEMENTS (reconnect_table); i++)
    {
      g_autoptr(GError) error = g_error_new_literal (VHOST_USER_ERROR, reconnect_table[i].code, "x");

      g_test_message ("%s", g_enum_get_value (klass, reconnect_table[i].code)->value_nick);
      g_assert_cmpint (vhost_user_error_should_reconnect (error), ==, reconnect_table[i].reconnect);
    }

  g_assert_false (vhost_user_error_should_reconnect (other));

  /* the new codes come last: the old numbers are unchanged */
  g_assert_cmpint (VHOST_USER_ERROR_CLOSED, ==, VHOST_USER_ERROR_HANDLER_FAILED + 1);
  g_assert_cmpint (VHOST_USER_ERROR_TIMED_OUT, ==, VHOST_USER_ERROR_CLOSED + 1);
}

static void
test_from_errno (void)
{
  static const struct {
    int            errno_value;
    VhostUserError code;
  } table[] = {
    { EAGAIN, VHOST_USER_ERROR_SOCKET_RETRY },
    { EWOULDBLOCK, VHOST_USER_ERROR_SOCKET_RETRY },
    { EINTR, VHOST_USER_ERROR_SOCKET_RETRY },
    { ENOBUFS, VHOST_USER_ERROR_SOCKET_RETRY },
    { ENOMEM, VHOST_USER_ERROR_SOCKET_RETRY },
    { ECONNRESET, VHOST_USER_ERROR_SOCKET_BROKEN },
    { EPIPE, VHOST_USER_ERROR_SOCKET_BROKEN },
    { EACCES, VHOST_USER_ERROR_SOCKET_CONNECT },
    { EBADF, VHOST_USER_ERROR_SOCKET_ERROR },
    { ECONNREFUSED, VHOST_USER_ERROR_SOCKET_ERROR },
    { ENOENT, VHOST_USER_ERROR_SOCKET_ERROR },
    { 0, VHOST_USER_ERROR_SOCKET_ERROR },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (table); i++)
    g_assert_cmpint (vhost_user_error_from_errno (table[i].errno_value), ==, table[i].code);
}

static void
test_quark (void)
{
  g_assert_cmpstr (g_quark_to_string (VHOST_USER_ERROR), ==, "vhost-user-error-quark");
}

/* "SET_BACKEND_REQ_FD" -> "set-backend-req-fd"; back-end channel names
 * lose their BACKEND_ prefix, as the enum values do. */
static char *
nick_from_name (const char       *name,
                VhostUserChannel  channel)
{
  char *nick;

  if (channel == VHOST_USER_CHANNEL_BACKEND && g_str_has_prefix (name, "BACKEND_"))
    name += strlen ("BACKEND_");
  nick = g_ascii_strdown (name, -1);
  g_strdelimit (nick, "_", '-');
  return nick;
}

static void
check_enum_against_table (GType            type,
                          VhostUserChannel channel)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  const VhostUserRequestInfo *table;
  guint n_rows;

  table = vhost_user_request_table (channel, &n_rows);
  /* the enum has NONE plus one value per row */
  g_assert_cmpuint (klass->n_values, ==, n_rows);

  for (guint i = 1; i < n_rows; i++)
    {
      GEnumValue *value = g_enum_get_value (klass, table[i].number);
      g_autofree char *nick = nick_from_name (table[i].name, channel);

      g_assert_cmpuint (table[i].number, ==, i);
      g_assert_nonnull (value);
      g_assert_cmpstr (value->value_nick, ==, nick);
    }
}

static void
test_enums (void)
{
  check_enum_against_table (VHOST_USER_TYPE_REQUEST_TYPE, VHOST_USER_CHANNEL_MAIN);
  check_enum_against_table (VHOST_USER_TYPE_BACKEND_REQUEST_TYPE, VHOST_USER_CHANNEL_BACKEND);

  g_assert_cmpstr (vhost_user_request_type_get_name (VHOST_USER_REQUEST_SET_BACKEND_REQ_FD), ==,
                   "SET_BACKEND_REQ_FD");
  g_assert_cmpstr (vhost_user_request_type_get_name (VHOST_USER_REQUEST_GET_SHMEM_CONFIG), ==,
                   "GET_SHMEM_CONFIG");
  g_assert_null (vhost_user_request_type_get_name (VHOST_USER_REQUEST_NONE));
  g_assert_null (vhost_user_request_type_get_name (VHOST_USER_LAST_REQUEST + 1));
  g_assert_cmpstr (vhost_user_backend_request_type_get_name (VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG), ==,
                   "BACKEND_CONFIG_CHANGE_MSG");
  g_assert_null (vhost_user_backend_request_type_get_name (11));
}

static void
test_protocol_features (void)
{
  g_autoptr(GFlagsClass) klass = g_type_class_ref (VHOST_USER_TYPE_PROTOCOL_FEATURES);

  /* the spec's bit numbers */
  g_assert_cmpuint (VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, ==, 1u << 3);
  g_assert_cmpuint (VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS, ==, 1u << 15);
  g_assert_cmpuint (VHOST_USER_PROTOCOL_FEATURE_SHMEM, ==, 1u << 22);
  g_assert_cmpstr (g_flags_get_first_value (klass, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ)->value_nick, ==,
                   "backend-req");
  g_assert_cmpuint (VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES), ==, 0x40000000);
  g_assert_cmpuint (VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED), ==,
                    G_GUINT64_CONSTANT (0x400000000));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/error/should-reconnect", test_should_reconnect);
  g_test_add_func ("/error/from-errno", test_from_errno);
  g_test_add_func ("/error/quark", test_quark);
  g_test_add_func ("/enums/match-table", test_enums);
  g_test_add_func ("/enums/protocol-features", test_protocol_features);

  return g_test_run ();
}
