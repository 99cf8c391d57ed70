#!/usr/bin/env bash
# Shows how vendor/candle-core differs from the published candle-core 0.11.1
# and fails if anything but the changes listed in
# vendor/candle-core/ECHOLAB-PATCHES.md differs.
#
#   scripts/check_vendored_candle.sh
#
# The published crate is taken from cargo's download cache when it is there,
# else from crates.io, and checked against the checksum that crates.io
# publishes for it (the one the Cargo.lock of echolab 0.1 recorded).
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.11.1
checksum=d11c8be87cfbaef9ebb62fb3f850d1fc8e00cc1d11d393fdbe55a4d5c2cdb325
folder=$(mktemp -d)
trap 'rm -rf "$folder"' EXIT
crate="$folder/candle-core-$version.crate"
cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/candle-core-$version.crate 2>/dev/null | head -n 1 || true)
if [ -n "$cached" ]; then
    cp "$cached" "$crate"
else
    curl --fail --silent --show-error --location \
        "https://static.crates.io/crates/candle-core/candle-core-$version.crate" -o "$crate"
fi
echo "$checksum  $crate" | sha256sum --check --quiet
tar -xzf "$crate" -C "$folder"
published="$folder/candle-core-$version/src"
# Every file of the published sources is vendored; only these may differ.
allowed="backprop.rs"
status=0
changed=$(diff -rq "$published" vendor/candle-core/src | sed -E 's#^Files .*/src/(.*) and .* differ$#\1#' || true)
for file in $changed; do
    case " $allowed " in
        *" $file "*) ;;
        *) echo "vendor/candle-core/src: unexpected difference: $file" >&2; status=1 ;;
    esac
done
diff -ru "$published" vendor/candle-core/src || true
if [ "$status" = 0 ]; then
    echo "vendor/candle-core: the published candle-core $version with the changes of ECHOLAB-PATCHES.md only"
fi
exit "$status"
