/* vhost-user-notify-private.h: property notifications nobody hears, skipped
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GLib before 2.76 runs a whole "notify" emission for every change of a
 * property, listened to or not: some 1,700 instructions, and a ring's
 * setup and reset change six of its properties each. Later GLib skips
 * the emission itself when no notify handler was ever connected and the
 * class has no notify vfunc; this does the same check here, so the
 * library's own changes (every request of a device setup makes one or
 * two) cost a handler lookup or two: a handler of "notify" for the
 * property, or for all of them, blocked or not, lets it through.
 * (g_signal_has_handler_pending() with the property's detail would miss
 * a handler connected to all of "notify" in GLib 2.74.) Like GLib's, it
 * does not queue the change of a frozen object that nobody listens to:
 * a handler connected while notifications are frozen hears only later
 * changes.
 */

#pragma once

#include <glib-object.h>

/* "notify"'s id, and whether @object's class hears every notification
 * itself (a notify vfunc, or its own dispatch). */
static inline guint
vhost_user_notify_class_hears (gpointer  object,
                               gboolean *hears)
{
  static guint notify_id;
  static GObjectClass *object_class;
  GObjectClass *klass = G_OBJECT_GET_CLASS (object);
  guint id = (guint) g_atomic_int_get (&notify_id);

  if (G_UNLIKELY (id == 0))
    {
      g_atomic_pointer_set (&object_class, g_type_class_ref (G_TYPE_OBJECT));
      id = g_signal_lookup ("notify", G_TYPE_OBJECT);
      g_atomic_int_set (&notify_id, id);
    }
  *hears = klass->notify != NULL ||
           klass->dispatch_properties_changed != ((GObjectClass *) g_atomic_pointer_get (&object_class))->dispatch_properties_changed;
  return id;
}

/* Whether a notification of @object would reach anybody; also whether
 * freezing its notifications around a batch of changes is worth its cost
 * (in GLib 2.74 a freeze and a thaw are some 2,700 instructions). */
static inline gboolean
vhost_user_notify_wanted (gpointer object)
{
  gboolean hears;
  guint id = vhost_user_notify_class_hears (object, &hears);

  return hears || g_signal_handler_find (object, G_SIGNAL_MATCH_ID, id, 0, NULL, NULL, NULL) != 0;
}

/* Notifies @pspec if a handler of "notify" for that property, or for all
 * of them, is connected (blocked or not): a device that watches one
 * property of a ring (its "started") does not pay for the emission of
 * all the others (some 1,500 instructions each, against two lookups). */
static inline void
vhost_user_notify (gpointer    object,
                   GParamSpec *pspec)
{
  gboolean hears;
  guint id = vhost_user_notify_class_hears (object, &hears);

  if (hears ||
      g_signal_handler_find (object, G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_DETAIL, id,
                             g_param_spec_get_name_quark (pspec), NULL, NULL, NULL) != 0 ||
      g_signal_handler_find (object, G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_DETAIL, id, 0, NULL, NULL, NULL) != 0)
    g_object_notify_by_pspec (object, pspec);
}
