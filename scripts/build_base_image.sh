#!/usr/bin/env bash
# Build the grading image's base without a registry: Debian bookworm with python3 from
# Debian's own packages (debootstrap), imported into podman as localhost/comms-lab-base:bookworm.
#
#   scripts/build_base_image.sh            build if missing (idempotent)
#   scripts/build_base_image.sh --rebuild  rebuild even if present
#
# TA machines with a real Docker do not need this: the Dockerfile's default base is
# python:3.11-slim. Here no registry is reachable (see docs/notes/containers.md),
# so CI passes this image as --build-arg BASE_IMAGE. The Debian mirror is read from this
# machine's apt sources at run time; no mirror host is written into the project.
# Env: BASE_IMAGE (tag), DEBIAN_SUITE (default bookworm), MIRROR (override the apt source).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
IMAGE="${BASE_IMAGE:-localhost/comms-lab-base:bookworm}"
SUITE="${DEBIAN_SUITE:-bookworm}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/autograder/containers.conf}"

rebuild=0
[ "${1:-}" = "--rebuild" ] && rebuild=1

"$HERE/install_container_tools.sh"

if [ "$rebuild" -eq 0 ] && podman image exists "$IMAGE"; then
    echo "base image $IMAGE exists (use --rebuild to rebuild)" >&2
    exit 0
fi

# The first Debian mirror in the apt sources (deb822 "URIs:" or one-line "deb [opts] URI ...").
debian_mirror() {
    local files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ "${#files[@]}" -gt 0 ] || return 0
    {
        awk '/^[[:space:]]*URIs:/ {for (i = 2; i <= NF; i++) print $i}' "${files[@]}"
        sed -E -n 's/\[[^]]*\]//; s/^[[:space:]]*deb[[:space:]]+([^[:space:]]+).*/\1/p' "${files[@]}"
    } | grep -E '^https?://.*/debian/?$' | head -n 1 || true
}

if [ "$(id -u)" -ne 0 ]; then
    echo "building $IMAGE needs root (debootstrap); or pass another base image" >&2
    exit 1
fi
MIRROR="${MIRROR:-$(debian_mirror)}"
if [ -z "$MIRROR" ]; then
    echo "no Debian mirror found in /etc/apt/sources*; set MIRROR=<url of a Debian mirror>" >&2
    exit 1
fi

ROOTFS="$(mktemp -d /var/tmp/comms-lab-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
echo "debootstrap $SUITE from $MIRROR into $ROOTFS" >&2
start=$SECONDS
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || {
    tail -n 30 "$ROOTFS.log" >&2
    rm -f "$ROOTFS.log"
    exit 1
}
rm -f "$ROOTFS.log"
# Keep the image small: package lists and the apt cache are not needed to run Python.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    - "$IMAGE" >/dev/null
echo "built $IMAGE in $((SECONDS - start)) s" >&2
