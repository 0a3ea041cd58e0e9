#!/usr/bin/env bash
# Install what the grading container needs on a Debian/Ubuntu machine: podman, runc, debootstrap.
# Idempotent: installs only what is missing. Needs root (CI runs as root on a fresh machine).
# Why runc and not crun: crun fails on hybrid cgroups (docs/notes/containers.md);
# autograder/containers.conf selects runc + cgroupfs.
set -euo pipefail

missing=()
for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${missing[*]}; run as root or install them with your package manager" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing: ${missing[*]}; no apt-get here: install them with your package manager" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
