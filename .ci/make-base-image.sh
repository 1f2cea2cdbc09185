#!/usr/bin/env bash
# Build the local, TEST-ONLY Debian bookworm base image used by the docker tests and the round trip.
# There is no Docker Hub on the CI machines, so `FROM python:...` cannot be pulled; this image stands in
# for a base image and is tagged under a name that cannot be mistaken for an official one.
# The host's CA bundle is copied in and pip/uv/requests/curl are pointed at it, because HTTPS to PyPI goes
# through a TLS-intercepting proxy here (the same need as users behind corporate proxies).
# Idempotent: does nothing when the image already exists (set ENVCAPTURE_REBUILD_BASE=1 to rebuild).
set -euo pipefail

IMAGE="${ENVCAPTURE_TEST_BASE_IMAGE:-envcapture-test/debian-bookworm:local}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HOST_CA="${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

if [ -z "${ENVCAPTURE_REBUILD_BASE:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "make-base-image: $IMAGE already exists"
    exit 0
fi

command -v debootstrap >/dev/null || { echo "make-base-image: debootstrap is not installed" >&2; exit 3; }
[ -r "$HOST_CA" ] || { echo "make-base-image: host CA bundle $HOST_CA not readable" >&2; exit 3; }

rootfs="$(mktemp -d /tmp/envcapture-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

echo "make-base-image: debootstrap bookworm into $rootfs"
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >/tmp/envcapture-debootstrap.log 2>&1 || {
    tail -n 20 /tmp/envcapture-debootstrap.log >&2
    exit 3
}
# Keep the image small and reproducible: no apt lists or caches from the bootstrap.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
install -D -m 0644 "$HOST_CA" "$rootfs/etc/ssl/host-ca.crt"

echo "make-base-image: docker import as $IMAGE"
tar -C "$rootfs" -c . | docker import \
    --change 'ENV PIP_CERT=/etc/ssl/host-ca.crt' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/host-ca.crt' \
    --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/host-ca.crt' \
    --change 'ENV CURL_CA_BUNDLE=/etc/ssl/host-ca.crt' \
    --change 'LABEL org.opencontainers.image.description="envcapture TEST-ONLY local Debian bookworm base (debootstrap minbase), not an official image"' \
    --change 'CMD ["bash"]' \
    - "$IMAGE" >/dev/null
echo "make-base-image: built $IMAGE"
