/* vhost-user-vring-element.c: one request taken off a ring
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "vhost-user-vring.h"

/* Copies between @data and the pieces of one direction, from @offset on;
 * returns how much fit. */
static gsize
copy_pieces (const VhostUserVringBuffer *pieces,
             guint                       n,
             gsize                       offset,
             guint8                     *data,
             gsize                       len,
             gboolean                    to_pieces)
{
  gsize done = 0;

  for (guint i = 0; i < n && done < len; i++)
    {
      gsize piece;

      if (offset >= pieces[i].len)
        {
          offset -= pieces[i].len;
          continue;
        }
      piece = MIN (pieces[i].len - offset, len - done);
      if (to_pieces)
        memcpy ((guint8 *) pieces[i].base + offset, data + done, piece);
      else
        memcpy (data + done, (guint8 *) pieces[i].base + offset, piece);
      done += piece;
      offset = 0;
    }
  return done;
}

/**
 * vhost_user_vring_element_copy_out: (skip)
 * @element: a request from vhost_user_vring_pop()
 * @offset: where to start in the device-readable bytes
 * @dest: (array length=len) (element-type guint8): where to copy
 * @len: the size of @dest
 *
 * Copies what the driver gave the device to read into @dest, across
 * pieces, from @offset on: a header in one piece, or a payload straight
 * to where it goes. Does not allocate.
 *
 * Not for bindings: a caller-allocated buffer whose length is an
 * argument is something PyGObject and GJS cannot pass (they would see
 * `copy_out (offset) -> (0, b'')`). They call
 * vhost_user_vring_element_read(), which returns the bytes.
 *
 * Returns: how many bytes were copied: @len, or fewer when the buffers
 *   end first
 *
 * Since: 1.0
 */
gsize
vhost_user_vring_element_copy_out (const VhostUserVringElement *element,
                                   gsize                        offset,
                                   guint8                      *dest,
                                   gsize                        len)
{
  g_return_val_if_fail (element != NULL, 0);
  g_return_val_if_fail (dest != NULL || len == 0, 0);
  g_return_val_if_fail (element->n_out <= VHOST_USER_VRING_MAX_IOV, 0);

  return copy_pieces (element->out, element->n_out, offset, dest, len, FALSE);
}

/**
 * vhost_user_vring_element_read:
 * @element: a request from vhost_user_vring_pop()
 * @offset: where to start in the device-readable bytes
 * @len: how many bytes, at most
 *
 * Copies out what the driver gave the device to read, as one block,
 * whatever pieces it came in. This is the view for bindings; it
 * allocates, so the data path of a C device uses
 * vhost_user_vring_element_copy_out() or reads
 * the `out` field of [struct@VhostUser.VringElement] directly.
 *
 * Returns: (transfer full): up to @len bytes from @offset; fewer (maybe
 *   none) when the buffers end first
 *
 * Since: 1.0
 */
GBytes *
vhost_user_vring_element_read (const VhostUserVringElement *element,
                               gsize                        offset,
                               gsize                        len)
{
  guint8 *data;

  g_return_val_if_fail (element != NULL, NULL);

  if (offset >= element->out_len)
    return g_bytes_new (NULL, 0);
  len = MIN (len, element->out_len - offset);
  data = g_malloc (MAX (len, 1));
  return g_bytes_new_take (data, vhost_user_vring_element_copy_out (element, offset, data, len));
}

/**
 * vhost_user_vring_element_write:
 * @element: a request from vhost_user_vring_pop()
 * @offset: where to start in the device-writable bytes
 * @data: (array length=len) (element-type guint8): what to write
 * @len: the length of @data
 *
 * Copies @data into the buffers the driver gave the device to write,
 * across pieces; nothing is written past them. For bindings, and for
 * code that writes a reply in one go; it does not allocate.
 *
 * Returns: how many bytes were written: @len, or fewer when the buffers
 *   end first
 *
 * Since: 1.0
 */
gsize
vhost_user_vring_element_write (VhostUserVringElement *element,
                                gsize                  offset,
                                const guint8          *data,
                                gsize                  len)
{
  g_return_val_if_fail (element != NULL, 0);
  g_return_val_if_fail (data != NULL || len == 0, 0);
  g_return_val_if_fail (element->n_in <= VHOST_USER_VRING_MAX_IOV, 0);

  return copy_pieces (element->in, element->n_in, offset, (guint8 *) data, len, TRUE);
}
