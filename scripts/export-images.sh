#!/usr/bin/env bash
# Saves the image set built on this engine (registry-free bases, builders, demo app images)
# into one archive, so Molecule test hosts load it instead of building or pulling:
# shared layers are stored once. Rewritten only when an image changed.
set -euo pipefail
archive=${1:?archive path}
mkdir -p "$(dirname "$archive")"
mapfile -t refs < <(docker images --format '{{.Repository}}:{{.Tag}}' \
  | grep -E '^(deployer/|demo-)' | grep -v '<none>' | sort)
[ ${#refs[@]} -gt 0 ] || { echo "no deployer images on this engine: run playbooks/images.yml first" >&2; exit 1; }
ids=$(for r in "${refs[@]}"; do echo "$r $(docker image inspect -f '{{.Id}}' "$r")"; done | sha256sum | cut -d' ' -f1)
if [ -f "$archive" ] && [ "$(cat "$archive.id" 2>/dev/null)" = "$ids" ]; then
  echo "[export-images] $archive is current"; exit 0
fi
docker save -o "$archive.tmp" "${refs[@]}"
mv "$archive.tmp" "$archive"
echo "$ids" >"$archive.id"
echo "[export-images] $(du -h "$archive" | cut -f1) ${refs[*]}"
