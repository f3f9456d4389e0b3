#!/usr/bin/env bash
# Unpacks Debian 13's Swift 6.0.3 compiler (package swiftlang) into DEST, with the newer glibc and
# libstdc++ it needs, without touching the system: private apt lists for trixie, `apt-get download`,
# `dpkg-deb`. tests/support/demo_swift.py runs DEST's swift-frontend through DEST's own dynamic loader.
# Only the compiler and its Swift/clang resources are extracted (about 0.7 of the package's 2.1 GB).
set -euo pipefail
DEST="${1:?usage: install-swift.sh DEST}"
[ -x "$DEST/usr/libexec/swift/bin/swift-frontend" ] && exit 0
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK" "$DEST.partial"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs" "$DEST.partial"
echo "deb $MIRROR trixie main" >"$WORK/sources.list"
touch "$WORK/status"
cat >"$WORK/apt.conf" <<CONF
Dir::Etc::SourceList "$WORK/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::State::Lists "$WORK/lists";
Dir::Cache "$WORK/cache";
Dir::State::status "$WORK/status";
APT::Sandbox::User "root";
CONF
export APT_CONFIG="$WORK/apt.conf"
apt-get update -qq
(cd "$WORK/debs" && apt-get download -qq swiftlang libswiftlang libc6 libstdc++6 libgcc-s1)
for deb in "$WORK"/debs/libc6_*.deb "$WORK"/debs/libstdc++6_*.deb "$WORK"/debs/libgcc-s1_*.deb \
    "$WORK"/debs/libswiftlang_*.deb; do
    dpkg-deb -x "$deb" "$DEST.partial"
done
dpkg-deb --fsys-tarfile "$WORK"/debs/swiftlang_*.deb | tar -x -C "$DEST.partial" \
    ./usr/libexec/swift/bin/swift-frontend ./usr/libexec/swift/lib/swift ./usr/libexec/swift/lib/clang
rm -rf "$DEST"
mv "$DEST.partial" "$DEST"
