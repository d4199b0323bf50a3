#!/bin/bash
# test-man.sh: a manual page renders without warnings and documents
# exactly the options its program takes: every long option --help lists
# is in the page, and every option the page documents is in --help.
#
#   test-man.sh PROGRAM PAGE
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu -o pipefail

program=$1
page=$2
name=$(basename "$page")

echo "1..2"
if ! command -v groff > /dev/null; then
  echo "ok 1 # SKIP groff is not installed (apt-get install groff-base)"
else
  warnings=$(groff -man -ww -z -Tutf8 "$page" 2>&1)
  if [ -n "$warnings" ]; then
    echo "$warnings" | sed "s/^/# /"
    echo "not ok 1 - $name renders with warnings"; exit 1
  fi
  echo "ok 1 - $name renders without warnings"
fi

# the options as --help prints them, and as the page's OPTIONS section
# writes them (.BR \-\-name ...); --help-all and such are GOption's own
from_help=$("$program" --help | grep -oE '^ +(-[a-zA-Z0-9], )?--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+' |
            grep -vE -- '^--help' | sort -u)
from_page=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$page" | grep -E '^\.BR' | grep -oE '\\-\\-[a-z][a-z\\-]*' |
            sed 's/\\//g' | grep -vE -- '^--help' | sort -u)
if [ "$from_help" != "$from_page" ]; then
  diff <(echo "$from_help") <(echo "$from_page") | sed "s/^/# /" || true
  echo "not ok 2 - $name and $(basename "$program") --help list different options (< --help, > page)"; exit 1
fi
echo "ok 2 - $name documents the options of --help: $(echo $from_help)"
