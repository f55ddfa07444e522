#!/usr/bin/env bash
# Builds nsbox as scripts/build.sh does (static, link-ordered) and installs
# it as PREFIX/bin/nsbox (PREFIX: /usr/local unless given). Run as root for
# /usr/local. `nsbox --version` then names the commit it was built from.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
binary=$(scripts/build.sh -p nsbox | tail -1)
install -D -m 0755 "$binary" "$prefix/bin/nsbox"
# The completions and man page that scripts/build.sh made beside it.
share=$(dirname "$binary")/share
for file in bash-completion/completions/nsbox zsh/site-functions/_nsbox fish/vendor_completions.d/nsbox.fish man/man1/nsbox.1; do
  install -D -m 0644 "$share/$file" "$prefix/share/$file"
done
echo "installed $prefix/bin/nsbox: $("$prefix/bin/nsbox" --version)"
