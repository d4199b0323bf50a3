/* fuzz-replay.c: a libFuzzer target, built without libFuzzer, as a test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Linked with one fuzz target (FUZZ_TARGET names it), this is its test:
 * every input of its committed corpus, tests/fuzz/corpus/FUZZ_TARGET/,
 * goes through LLVMFuzzerTestOneInput once, under whatever the build has
 * (ASan and UBSan in CI, valgrind with --setup valgrind), and no fd may
 * be left open after it. Files named on the command line are run instead
 * (a crash libFuzzer found, replayed in a debugger).
 */

#include <glib.h>

#include "test-util.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* What is open, to tell which fd leaked. */
static void
print_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/fd/%s", name);
      g_autofree char *target = g_file_read_link (path, NULL);

      g_test_message ("fd %s: %s", name, target);
    }
}

static void
run_one (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len;
  g_autoptr(GError) error = NULL;
  guint baseline;
  static const guint8 empty[1];

  /* what a target keeps across inputs (guest memory, GLib's own wakeup
   * fd) is made by its first one: that one is empty */
  LLVMFuzzerTestOneInput (empty, 0);
  baseline = test_count_open_fds ();

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  LLVMFuzzerTestOneInput ((const guint8 *) contents, len);
  if (test_count_open_fds () != baseline)
    print_open_fds ();
  g_assert_cmpuint (test_count_open_fds (), ==, baseline);
}

static void
test_corpus (void)
{
  g_autofree char *dir_path = g_test_build_filename (G_TEST_DIST, "fuzz", "corpus", FUZZ_TARGET, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, &error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  /* the same order on every run */
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  g_assert_cmpuint (names->len, >, 0);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir_path, names->pdata[i], NULL);

      run_one (path);
    }
  g_test_message ("%u inputs of %s replayed", names->len, dir_path);
}

static void
test_files (gconstpointer data)
{
  for (char **p = (char **) data; *p != NULL; p++)
    run_one (*p);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  if (argc > 1)
    g_test_add_data_func ("/fuzz/" FUZZ_TARGET "/files", argv + 1, test_files);
  else
    g_test_add_func ("/fuzz/" FUZZ_TARGET "/corpus", test_corpus);

  return g_test_run ();
}
