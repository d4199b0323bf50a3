/* fuzz-codec.c: arbitrary bytes and fd counts through the codec
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Built with -Dfuzzing=true and clang this is a libFuzzer target. Built
 * normally it is a test: a fixed-seed generator feeds it messages whose
 * headers name every request of both channels, with payload sizes at and
 * around each row's bounds and random contents, so that every validation
 * path sees hostile input under ASan/UBSan on every run.
 */

#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-message-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static guint n_accepted;

/* data[0]: bit 0 channel, bit 1 expect a reply, bits 2-5 fd count (0-15),
 * bit 6 XEN_MMAP negotiated; the rest is the message. */
int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  g_autoptr(GString) line = g_string_new (NULL);
  GError *error = NULL;
  int fds[16];
  guint n_fds;
  VhostUserChannel channel;
  gboolean expect_reply;
  guint64 features;

  if (size < 1)
    return 0;

  channel = (data[0] & 1) ? VHOST_USER_CHANNEL_BACKEND : VHOST_USER_CHANNEL_MAIN;
  expect_reply = (data[0] & 2) != 0;
  n_fds = (data[0] >> 2) & 0xf;
  features = (data[0] & 0x40) ? VHOST_USER_PROTOCOL_FEATURE_XEN_MMAP : 0;
  for (guint i = 0; i < n_fds; i++)
    fds[i] = test_eventfd ();

  /* what the connection does: how much is missing, then parse */
  if (vhost_user_message_bytes_needed (data + 1, size - 1, &error) < 0)
    g_clear_error (&error);

  if (vhost_user_message_parse (&msg, data + 1, size - 1, fds, n_fds, channel,
                                expect_reply, features, &error))
    {
      /* a valid message decodes without reading past its payload */
      vhost_user_message_describe (&msg, channel, line);
      vhost_user_message_clear (&msg);
      n_accepted++;
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == VHOST_USER_ERROR);
      g_clear_error (&error);
    }

  /* parse owns the fds either way */
  for (guint i = 0; i < n_fds; i++)
    g_assert_false (test_fd_is_open (fds[i]));
  return 0;
}

#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION

static void
feed (GRand       *rand,
      guint8       control,
      guint32      request,
      guint32      flags,
      guint32      size)
{
  g_autofree guint8 *buf = NULL;
  VhostUserWireHeader header = { request, flags, size };
  gsize len = 1 + sizeof header + MIN (size, VHOST_USER_MAX_PAYLOAD + 16);

  /* sometimes cut short or run long */
  switch (g_rand_int_range (rand, 0, 8))
    {
    case 0: len = g_rand_int_range (rand, 1, len + 1); break;
    case 1: len += g_rand_int_range (rand, 1, 16); break;
    default: break;
    }

  buf = g_malloc (len);
  buf[0] = control;
  for (gsize i = 1; i < len; i++)
    buf[i] = g_rand_int (rand);
  memcpy (buf + 1, &header, MIN (sizeof header, len - 1));

  /* structured fields that size the payload get plausible values half the time */
  if (len >= 1 + sizeof header + 8 && g_rand_boolean (rand))
    {
      guint32 small = g_rand_int_range (rand, 0, 10);

      memcpy (buf + 1 + sizeof header, &small, sizeof small);
      if (len >= 1 + sizeof header + 8 && g_rand_boolean (rand))
        {
          guint32 config_size = size >= 12 ? size - 12 : 0;
          memcpy (buf + 1 + sizeof header + 4, &config_size, sizeof config_size);
        }
    }

  LLVMFuzzerTestOneInput (buf, len);
}

static void
test_generated (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (0x76686f73);
  guint baseline = test_count_open_fds ();
  guint iterations = g_test_slow () ? 200000 : 20000;

  for (guint i = 0; i < iterations; i++)
    {
      guint channel = g_rand_int_range (rand, 0, 2);
      const VhostUserRequestInfo *table;
      const VhostUserRequestInfo *row;
      guint n_rows;
      guint32 request, size, flags;
      guint8 control;

      table = vhost_user_request_table (channel, &n_rows);
      request = g_rand_int_range (rand, 0, n_rows + 2);
      row = request > 0 && request < n_rows ? &table[request] : NULL;

      switch (g_rand_int_range (rand, 0, 6))
        {
        case 0: size = row ? row->request.min_size : 0; break;
        case 1: size = row ? row->request.max_size : 8; break;
        case 2: size = row ? row->reply_payload.max_size : 8; break;
        case 3: size = g_rand_int_range (rand, 0, 64); break;
        case 4: size = g_rand_int_range (rand, 0, VHOST_USER_MAX_PAYLOAD + 2); break;
        default: size = g_rand_int (rand); break;
        }
      if (g_rand_boolean (rand) && size > 0)
        size += g_rand_int_range (rand, -1, 2);

      flags = VHOST_USER_PROTOCOL_VERSION;
      switch (g_rand_int_range (rand, 0, 6))
        {
        case 0: flags |= VHOST_USER_FLAG_REPLY; break;
        case 1: flags |= VHOST_USER_FLAG_NEED_REPLY; break;
        case 2: flags = g_rand_int (rand); break;
        default: break;
        }

      control = channel | ((flags & VHOST_USER_FLAG_REPLY) && g_rand_boolean (rand) ? 2 : 0);
      control |= (g_rand_int_range (rand, 0, 4) == 0 ? g_rand_int_range (rand, 0, 16)
                                                     : g_rand_int_range (rand, 0, 2)) << 2;
      control |= g_rand_boolean (rand) ? 0x40 : 0;
      feed (rand, control, request, flags, size);
    }

  g_assert_cmpuint (test_count_open_fds (), ==, baseline);
  /* the generator must reach the accepting paths too, not only the
   * early rejections */
  g_test_message ("%u of %u inputs accepted", n_accepted, iterations);
  g_assert_cmpuint (n_accepted, >, iterations / 100);
}

/* The committed corpus (tests/fuzz/corpus/fuzz-codec/): the seeds and
 * what libFuzzer kept; every well-formed one is accepted. */
static void
test_corpus (void)
{
  g_autofree char *dir_path = g_test_build_filename (G_TEST_DIST, "fuzz", "corpus", "fuzz-codec", NULL);
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  guint baseline = test_count_open_fds ();
  guint n = 0, before = n_accepted;
  const char *name;

  dir = g_dir_open (dir_path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autofree char *contents = NULL;
      gsize len;

      g_assert_true (g_file_get_contents (path, &contents, &len, &error));
      g_assert_no_error (error);
      LLVMFuzzerTestOneInput ((const guint8 *) contents, len);
      n++;
    }
  g_clear_pointer (&dir, g_dir_close);
  g_test_message ("%u inputs, %u accepted", n, n_accepted - before);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpuint (n_accepted - before, >, 0);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/fuzz/codec/generated", test_generated);
  g_test_add_func ("/fuzz/codec/corpus", test_corpus);

  return g_test_run ();
}

#endif
