/* test-migration-common.h: the fixture of the device-state tests
 * (test-migration, test-state-pipe)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <vhost-user-glib.h>

G_BEGIN_DECLS

#define IMAGE_MB    8

typedef struct {
  char                  *dir;
  char                  *image;
  GPtrArray             *processes;
  VhostUserMemoryRegion *memory;
  guint8                *mem;
  VhostUserDriverRing   *ring;
} Fixture;

/* a temporary directory with an image of IMAGE_MB in it, guest memory
 * and a ring at its start: split, or packed where @data is 2 */
void             fixture_setup     (Fixture       *f,
                                    gconstpointer  data);
/* kills the processes a test added to f->processes, removes the
 * directory */
void             fixture_teardown  (Fixture       *f,
                                    gconstpointer  data);
/* a device on @sock, connected, over the fixture's memory and ring, that
 * asks for DEVICE_STATE */
VhostUserDevice *device_for        (Fixture       *f,
                                    const char    *sock);

G_END_DECLS
