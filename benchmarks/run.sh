#!/usr/bin/env bash
# `make bench`: deploy a TUNED stack (this project's playbook, project bench-tuned) and an untuned
# BASELINE (benchmarks/baseline/compose.yaml, project bench-baseline) from the same images, load
# both with wrk on this machine only, and write benchmarks/results/ (JSON, PNG, HTML, Markdown).
#
#   benchmarks/run.sh              full run (~17 min), archived; ends with the medians of the last 3
#   make bench BENCH_RUNS=3        three full runs in a row
#   BENCH_QUICK=1 benchmarks/run.sh  smoke run of the same phases (~6 min, 2,000 connections)
#   KEEP_BENCH=1 ...               leave both stacks running afterwards
#
# Heavy steps (image check, deploys, the load phase) run under `flock $BENCH_LOCK` (default
# /tmp/heavy.lock) so they never overlap other heavy jobs on the machine (e.g. `make test`).
# Never touches the `demo` project or /opt/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/benchmarks
RES=$BENCH/results
VENV=${VENV:-$ROOT/.venv}
PY=$VENV/bin/python
export PATH=$VENV/bin:$PATH
export ANSIBLE_FORCE_COLOR=0
LOCK=${BENCH_LOCK:-/tmp/heavy.lock}
TUNED=bench-tuned
TUNED_DIR=/opt/bench-tuned
BASE=bench-baseline
BASE_DIR=/opt/bench-baseline
export BENCH_QUICK=${BENCH_QUICK:-0}
log() { printf '\033[1m[bench]\033[0m %s\n' "$*"; }

tuned_compose() { docker compose -p "$TUNED" --project-directory "$TUNED_DIR" "$@"; }
base_compose() { docker compose -p "$BASE" --project-directory "$BASE_DIR" "$@"; }

teardown() {
  [ -f "$TUNED_DIR/monitoring/compose.yaml" ] && { docker compose -p "$TUNED-monitoring" --project-directory "$TUNED_DIR/monitoring" down -v --remove-orphans || true; }
  [ -f "$TUNED_DIR/compose.yaml" ] && { tuned_compose unpause >/dev/null 2>&1 || true; tuned_compose down -v --remove-orphans || true; }
  [ -f "$BASE_DIR/compose.yaml" ] && { base_compose unpause >/dev/null 2>&1 || true; base_compose down -v --remove-orphans || true; }
  docker network rm "${TUNED}_metrics" >/dev/null 2>&1 || true
  return 0
}

# Runs "$@" and writes {"seconds": .., "changed": ..} for an ansible run to $out.
timed_playbook() {
  local out=$1 logf=$2; shift 2
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  "$@" >"$logf" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  "$PY" - "$t0" "$t1" "$logf" "$rc" >"$out" <<'EOF'
import json, re, sys
t0, t1, logf, rc = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
recap = re.findall(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", open(logf).read())
ok, changed, unreach, failed = map(int, recap[-1]) if recap else (None,) * 4
print(json.dumps({"seconds": round(t1 - t0, 1), "ok": ok, "changed": changed, "failed": failed, "rc": rc}))
EOF
  [ "$rc" -eq 0 ] || { tail -40 "$logf"; echo "failed: $* (log: $logf)" >&2; return "$rc"; }
}

wait_https() {  # url, timeout seconds; prints seconds waited
  local url=$1 limit=$2 t0=$SECONDS
  until curl -skf -o /dev/null --max-time 5 "$url"; do
    [ $((SECONDS - t0)) -lt "$limit" ] || { echo "timeout waiting for $url" >&2; return 1; }
    sleep 1
  done
}

# ---------------------------------------------------------------- phases run under the lock
phase_deploy() {
  # Images (no-op when the lead's/the last build is current) so "cold" measures the deploy only.
  log "image set (playbooks/images.yml; builds only what is missing)"
  ansible-playbook playbooks/images.yml -i local -e @benchmarks/tuned-vars.yml >"$RES/images-playbook.log" 2>&1 \
    || { tail -40 "$RES/images-playbook.log"; exit 1; }
  rm -rf "$TUNED_DIR"

  log "cold deploy of $TUNED (no project directory, containers or volumes)"
  timed_playbook "$RES/.deploy-cold.json" "$RES/deploy-cold.log" \
    ansible-playbook playbooks/deploy.yml -i local -e @benchmarks/tuned-vars.yml
  log "no-change re-run of the deploy playbook"
  timed_playbook "$RES/.deploy-rerun.json" "$RES/deploy-rerun.log" \
    ansible-playbook playbooks/deploy.yml -i local -e @benchmarks/tuned-vars.yml

  log "monitoring set of $TUNED (playbooks/monitoring.yml): its own CPU and memory are measured during the load"
  ansible-playbook playbooks/monitoring.yml -i local -e @benchmarks/tuned-vars.yml >"$RES/monitoring-playbook.log" 2>&1 \
    || { tail -40 "$RES/monitoring-playbook.log"; exit 1; }

  log "baseline $BASE from benchmarks/baseline/compose.yaml"
  mkdir -p "$BASE_DIR/tls"
  cp -r "$BENCH/baseline/." "$BASE_DIR/"
  # Same certificate (ECDSA P-256) as the tuned edge, so TLS costs the same.
  cp -L "$TUNED_DIR/tls/live/fullchain.pem" "$TUNED_DIR/tls/live/privkey.pem" "$BASE_DIR/tls/"
  chmod 0600 "$BASE_DIR/tls/privkey.pem"
  local svc img
  : >"$BASE_DIR/.env"
  for svc in edge frontend backend postgres redis; do
    img=$(docker inspect -f '{{.Config.Image}}' "$(tuned_compose ps -q "$svc" | head -1)")
    echo "${svc^^}_IMAGE=$img" >>"$BASE_DIR/.env"
  done
  local t0=$SECONDS
  base_compose up -d --quiet-pull
  wait_https "https://127.0.0.1:28443/api/items" 240
  echo "$((SECONDS - t0))" >"$RES/.baseline-up"
}

phase_load() {
  log "load phase: tuned (baseline paused)"
  base_compose pause
  wait_https "https://127.0.0.1:18443/api/items" 120
  "$PY" "$BENCH/bench.py" --name tuned --project "$TUNED" --port 8443 --sweep --out "$RES/tuned.json"
  tuned_compose pause
  base_compose unpause
  log "load phase: baseline (tuned paused)"
  wait_https "https://127.0.0.1:28443/api/items" 120
  local rate
  rate=$("$PY" -c 'import json,sys; h=json.load(open(sys.argv[1])).get("hold"); print(h["target_rate"] if h else 0)' "$RES/tuned.json")
  "$PY" "$BENCH/bench.py" --name baseline --project "$BASE" --port 443 --hold-rate "$rate" --out "$RES/baseline.json"
  tuned_compose unpause
}

case "${1:-}" in
  --phase) "phase_$2"; exit 0 ;;
esac

# ---------------------------------------------------------------- main
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 10100 ] || log "warning: only $(ulimit -n) open files allowed; 10,000 connections need more"
log "open files limit $(ulimit -n)"

if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
command -v curl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null
if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
  log "installing matplotlib into $VENV (benchmarks/requirements.txt)"
  "$VENV/bin/pip" install -q -r "$BENCH/requirements.txt" || log "no matplotlib: tables only, no PNG plots"
fi

mkdir -p "$RES"
rm -f "$RES"/*.json "$RES"/*.png "$RES"/*.html "$RES"/*.md "$RES"/*.log "$RES"/.deploy-* "$RES"/.baseline-up
[ "${KEEP_BENCH:-0}" = 1 ] || trap teardown EXIT

log "removing any previous bench stacks"
teardown
rm -rf "$TUNED_DIR" "$BASE_DIR"

started=$SECONDS
flock "$LOCK" "$0" --phase deploy
"$PY" - "$RES" <<'EOF'
import json, sys
from pathlib import Path
res = Path(sys.argv[1])
d = {"cold": json.loads((res / ".deploy-cold.json").read_text()),
     "rerun": json.loads((res / ".deploy-rerun.json").read_text()),
     "baseline_up_seconds": int((res / ".baseline-up").read_text()),
     "note": "cold = no project directory, containers or volumes; images already built"}
(res / "deploy.json").write_text(json.dumps(d, indent=2) + "\n")
print(json.dumps(d))
EOF

# Image sizes; a single-stage build would ship at least its builder image (JDK + Maven, Node).
"$PY" - "$RES" "$TUNED_DIR" <<'EOF'
import json, subprocess, sys
from pathlib import Path
res, tuned_dir = Path(sys.argv[1]), sys.argv[2]
def size(ref):
    out = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", ref], capture_output=True, text=True)
    return round(int(out.stdout) / 1e6, 1) if out.returncode == 0 else None
refs = {l.split("=")[0][:-6].lower(): l.split("=", 1)[1].strip()
        for l in open(f"/opt/bench-baseline/.env") if "=" in l}
names = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                       capture_output=True, text=True).stdout.split()
builder = {"backend": next((n for n in names if n.split(":")[0].endswith("maven")), None),
           "frontend": next((n for n in names if n.split(":")[0].endswith("node")), None)}
out = {}
for svc, ref in refs.items():
    out[f"{svc} ({ref})"] = {"mb": size(ref),
                             "single_stage_min_mb": size(builder[svc]) if builder.get(svc) else None,
                             "builder": builder.get(svc)}
(res / "images.json").write_text(json.dumps(out, indent=2) + "\n")
EOF
[ -f "$ROOT/.cache/reports/zero-downtime.json" ] && cp "$ROOT/.cache/reports/zero-downtime.json" "$RES/"

flock "$LOCK" "$0" --phase load
"$PY" "$BENCH/report.py" "$RES" >/dev/null
log "done in $((SECONDS - started)) s: $RES/summary.md, report.html, latency.png, throughput.png, sweep.png"
cat "$RES/summary.md"
# A full run joins the archive; the headline figures are the medians of the last 3 (medians.md).
[ "$BENCH_QUICK" = 1 ] || "$PY" "$BENCH/medians.py" --archive "$RES"
