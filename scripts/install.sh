#!/usr/bin/env bash
# Builds nsbox as scripts/build.sh does (static, link-ordered) and installs
# it as PREFIX/bin/nsbox (PREFIX: /usr/local unless given). Run as root for
# /usr/local. `nsbox --version` then names the commit it was built from.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
binary=$(scripts/build.sh -p nsbox | tail -1)
install -D -m 0755 "$binary" "$prefix/bin/nsbox"
# Completions and the man page, made by the binary itself.
mkdir -p "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" "$prefix/share/man/man1"
"$binary" completions bash > "$prefix/share/bash-completion/completions/nsbox"
"$binary" completions zsh > "$prefix/share/zsh/site-functions/_nsbox"
"$binary" man > "$prefix/share/man/man1/nsbox.1"
echo "installed $prefix/bin/nsbox: $("$prefix/bin/nsbox" --version)"
