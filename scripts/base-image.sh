#!/usr/bin/env bash
# Base images the test suite needs, built only when they are not already present:
#   deployer/debian:bookworm            - Debian 12 from debootstrap (only when no registry answers)
#   deployer-test/systemd-host:bookworm - a fresh systemd Debian 12 host for Molecule
#   deployer-test/minimal-host:bookworm - a minimal Debian 12 host for Molecule (no init, no cron)
set -euo pipefail
cd "$(dirname "$0")/.."
base=debian:bookworm
if ! docker image inspect "$base" >/dev/null 2>&1 && ! timeout 60 docker pull -q "$base" >/dev/null 2>&1; then
  base=deployer/debian:bookworm
  echo "[base-image] no registry: $base from debootstrap: $(roles/container_images/files/debian-base.sh "$base")"
fi
for kind in systemd minimal; do
  image=deployer-test/$kind-host:bookworm
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    echo "[base-image] building $image FROM $base"
    DOCKER_BUILDKIT=0 docker build -q --build-arg BASE_IMAGE="$base" -t "$image" "molecule/resources/$kind-host" >/dev/null
  fi
  echo "[base-image] $image ready"
done
