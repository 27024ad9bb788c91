#!/usr/bin/env bash
# Lynis hardening index of a fresh test host before and after site.yml (provisioning and the stack).
# Informational only (not part of `make test`): uses the Molecule scenario `default` (its systemd host).
#   scripts/lynis-report.sh          fresh hosts, audit, converge, audit, destroy
#   scripts/lynis-report.sh --keep   same, but leave the hosts running (molecule destroy)
# Prints "before=<n> after=<n>"; the full reports go to .cache/lynis/{before,after}.{log,dat}.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
keep=false
[[ "${1:-}" == "--keep" ]] && keep=true
host=deployer-host
out=.cache/lynis
mkdir -p "$out"

audit() { # $1: before|after
  docker exec "$host" bash -c 'command -v lynis >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lynis >/dev/null 2>&1; }'
  docker exec "$host" lynis audit system --quick --no-colors --no-log --report-file /tmp/lynis-report.dat >"$out/$1.log" 2>&1 || true
  docker exec "$host" cat /tmp/lynis-report.dat >"$out/$1.dat"
  sed -n 's/^hardening_index=//p' "$out/$1.dat"
}

# Creating and destroying the hosts runs async tasks, which Mitogen cannot (see the Makefile's molecule target).
molecule_hosts() { ANSIBLE_STRATEGY=linear molecule "$@" -s default >>"$out/molecule.log" 2>&1; }
: >"$out/molecule.log"
molecule_hosts destroy
molecule_hosts create   # create + prepare
before=$(audit before)
molecule converge -s default >"$out/converge.log" 2>&1 || { echo "converge failed, see $out/converge.log" >&2; exit 1; }
after=$(audit after)
$keep || molecule_hosts destroy
echo "lynis hardening index: before=$before after=$after (reports in $out/)"
