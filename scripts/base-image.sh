#!/usr/bin/env bash
# Base images the test suite needs, built only when they are not already present:
#   deployer/debian:bookworm            - Debian 12 from debootstrap (only when no registry answers)
#   deployer-test/systemd-host:bookworm - a fresh systemd Debian 12 host for Molecule
set -euo pipefail
cd "$(dirname "$0")/.."
host_image=deployer-test/systemd-host:bookworm
base=debian:bookworm
if ! docker image inspect "$base" >/dev/null 2>&1 && ! timeout 60 docker pull -q "$base" >/dev/null 2>&1; then
  base=deployer/debian:bookworm
  echo "[base-image] no registry: $base from debootstrap: $(roles/container_images/files/debian-base.sh "$base")"
fi
if ! docker image inspect "$host_image" >/dev/null 2>&1; then
  echo "[base-image] building $host_image FROM $base"
  DOCKER_BUILDKIT=0 docker build -q --build-arg BASE_IMAGE="$base" -t "$host_image" molecule/resources/systemd-host >/dev/null
fi
echo "[base-image] $host_image ready"
