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

/*
 * A batch: the changes of one object that one function makes together
 * (a ring's reset, a back-end's release), where no code but ours runs
 * between them. Who listens is looked up once, at the first change,
 * instead of twice a change (some 260 instructions a lookup: a reset
 * changed eight properties of each ring, and every connection's end paid
 * for 110 lookups); notifications are frozen at the first that anybody
 * hears, so that listeners see the batch's changes together, after it.
 * Nothing is frozen, nor emitted, for a batch nobody hears.
 *
 * Batches are the calling thread's, innermost first: vhost_user_notify()
 * on the innermost batch's object joins it; on any other object it
 * notifies at once. Code that is not ours (a destroy notify, a signal)
 * runs between vhost_user_notify_batch_suspend() and _resume(): what it
 * changes, and what it connects to, is looked up as outside any batch,
 * and the batch looks up who listens again after it.
 */
typedef struct _VhostUserNotifyBatch VhostUserNotifyBatch;

struct _VhostUserNotifyBatch
{
  gpointer              object;
  VhostUserNotifyBatch *outer;
  guint8                hears;    /* a VhostUserNotifyHears */
  gboolean              frozen;
};

typedef enum {
  VHOST_USER_NOTIFY_HEARS_UNKNOWN,
  VHOST_USER_NOTIFY_HEARS_NONE,
  VHOST_USER_NOTIFY_HEARS_SOME,      /* handlers of some properties only */
  VHOST_USER_NOTIFY_HEARS_ALL,
} VhostUserNotifyHears;

G_GNUC_INTERNAL extern __thread VhostUserNotifyBatch *vhost_user_notify_batches;

static inline void
vhost_user_notify_batch_begin (VhostUserNotifyBatch *batch,
                               gpointer              object)
{
  batch->object = object;
  batch->hears = VHOST_USER_NOTIFY_HEARS_UNKNOWN;
  batch->frozen = FALSE;
  batch->outer = vhost_user_notify_batches;
  vhost_user_notify_batches = batch;
}

static inline void
vhost_user_notify_batch_suspend (VhostUserNotifyBatch *batch)
{
  g_assert (vhost_user_notify_batches == batch);
  vhost_user_notify_batches = batch->outer;
}

static inline void
vhost_user_notify_batch_resume (VhostUserNotifyBatch *batch)
{
  g_assert (vhost_user_notify_batches == batch->outer);
  vhost_user_notify_batches = batch;
  batch->hears = VHOST_USER_NOTIFY_HEARS_UNKNOWN;
}

static inline void
vhost_user_notify_batch_end (VhostUserNotifyBatch *batch)
{
  g_assert (vhost_user_notify_batches == batch);
  vhost_user_notify_batches = batch->outer;
  if (batch->frozen)
    g_object_thaw_notify (batch->object);
}

static inline VhostUserNotifyHears
vhost_user_notify_who_hears (gpointer object)
{
  gboolean hears;
  guint id = vhost_user_notify_class_hears (object, &hears);

  if (!hears && g_signal_handler_find (object, G_SIGNAL_MATCH_ID, id, 0, NULL, NULL, NULL) == 0)
    return VHOST_USER_NOTIFY_HEARS_NONE;
  if (hears || g_signal_handler_find (object, G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_DETAIL, id, 0, NULL, NULL, NULL) != 0)
    return VHOST_USER_NOTIFY_HEARS_ALL;
  return VHOST_USER_NOTIFY_HEARS_SOME;
}

/* Whether a handler of "notify" for @pspec itself is connected. */
static inline gboolean
vhost_user_notify_heard_for (gpointer    object,
                             GParamSpec *pspec)
{
  gboolean hears;
  guint id = vhost_user_notify_class_hears (object, &hears);

  return g_signal_handler_find (object, G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_DETAIL, id,
                                g_param_spec_get_name_quark (pspec), NULL, NULL, NULL) != 0;
}

/* Notifies @pspec if a handler of "notify" for that property, or for all
 * of them, is connected (blocked or not): a device that watches one
 * property of a ring (its "started") does not pay for the emission of
 * all the others (some 1,500 instructions each, against two lookups). */
static inline void
vhost_user_notify (gpointer    object,
                   GParamSpec *pspec)
{
  VhostUserNotifyBatch *batch = vhost_user_notify_batches;
  gboolean hears;
  guint id;

  if (batch != NULL && batch->object == object)
    {
      if (batch->hears == VHOST_USER_NOTIFY_HEARS_UNKNOWN)
        batch->hears = vhost_user_notify_who_hears (object);
      if (batch->hears == VHOST_USER_NOTIFY_HEARS_NONE ||
          (batch->hears == VHOST_USER_NOTIFY_HEARS_SOME && !vhost_user_notify_heard_for (object, pspec)))
        return;
      if (!batch->frozen)
        {
          g_object_freeze_notify (object);
          batch->frozen = TRUE;
        }
      g_object_notify_by_pspec (object, pspec);
      return;
    }

  id = vhost_user_notify_class_hears (object, &hears);
  if (hears ||
      g_signal_handler_find (object, G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_DETAIL, id,
                             g_param_spec_get_name_quark (pspec), NULL, NULL, NULL) != 0 ||
      g_signal_handler_find (object, G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_DETAIL, id, 0, NULL, NULL, NULL) != 0)
    g_object_notify_by_pspec (object, pspec);
}
