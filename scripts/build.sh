#!/usr/bin/env bash
# Builds the release nsbox and prints the binary's path. It is linked
# statically and not position-independent: on this kind of machine the
# dynamic loader, and then a static-pie's self-relocation, each cost about a
# tenth of a container start (nsbox --version: 0.90 ms static-pie, 0.68 ms
# static). The price is a fixed load address for nsbox's own code (stack,
# heap and mappings stay randomized), as with Go-built runc.
# The explicit --target keeps proc-macros (built for the host) dynamic.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
flags="-C target-feature=+crt-static -C relocation-model=static"
# The functions of a container start go first and side by side in the text
# (crates/cli/link-order.txt, from scripts/gen-link-order.sh): fewer page
# faults per start. Names the linker does not find are skipped silently.
# The flag names a copy named by the file's hash, so that a new file
# changes RUSTFLAGS, and cargo links anew.
# Only lld knows the flag: rustc links with it by default on x86_64 Linux
# since 1.90; an older rustc (GNU ld) builds without the ordering.
order=crates/cli/link-order.txt
minor=$(rustc -vV | sed -n 's/^release: 1\.\([0-9]*\).*/\1/p')
if [ -f "$order" ] && [ "$host" = x86_64-unknown-linux-gnu ] && [ "${minor:-0}" -ge 90 ]; then
  copy=$PWD/target/link-order-$(sha256sum "$order" | cut -c1-16).txt
  mkdir -p target
  [ -f "$copy" ] || cp "$order" "$copy"
  flags+=" -C link-arg=-Wl,--symbol-ordering-file=$copy -C link-arg=-Wl,--no-warn-symbol-ordering"
fi
export RUSTFLAGS="$flags"
# libseccomp-dev ships the static library the static binary links.
export LIBSECCOMP_LINK_TYPE=static
export LIBSECCOMP_LIB_PATH=${LIBSECCOMP_LIB_PATH:-/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)}
cargo build --release --quiet --target "$host" "$@"
out=$PWD/target/$host/release
# Shell completions and the man page, from the same clap definition as the
# binary's own flags, so they cannot fall out of step with it.
share=$out/share
mkdir -p "$share/bash-completion/completions" "$share/zsh/site-functions" "$share/fish/vendor_completions.d" "$share/man/man1"
"$out/nsbox" completions bash > "$share/bash-completion/completions/nsbox"
"$out/nsbox" completions zsh > "$share/zsh/site-functions/_nsbox"
"$out/nsbox" completions fish > "$share/fish/vendor_completions.d/nsbox.fish"
"$out/nsbox" man > "$share/man/man1/nsbox.1"
echo "$out/nsbox"
