"""pg_backup role end to end on this machine's Docker engine (no systemd: the cron fallback is used).

A throw-away compose project (postgres + a stand-in `backend`) runs from a temp dir; the role is applied
with ansible-playbook against localhost; backups, restore drill, guarded restore after destroying the
database volume, failure handling (postgres down, disk full), encryption + restic offsite and retention
are exercised. RPO/RTO and timings are printed (pytest -s to see them).

    pytest -m integration tests/integration/test_backup.py -s
"""

import datetime as dt
import getpass
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
IMAGE = "bk-test-postgres"
PROJECT = f"bk-test-{uuid.uuid4().hex[:6]}"
CONFIRM = "yes-destroy-current-data"

DOCKERFILE = """\
FROM deployer/debian:bookworm
RUN groupadd --system --gid 999 postgres \\
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --no-create-home --shell /bin/bash postgres \\
 && mkdir -p /var/lib/postgresql && chown postgres:postgres /var/lib/postgresql \\
 && apt-get update \\
 && apt-get install -y --no-install-recommends postgresql-common \\
 && sed -ri 's/#(create_main_cluster) .*$/\\1 = false/' /etc/postgresql-common/createcluster.conf \\
 && apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /var/run/postgresql /var/lib/postgresql/data \\
 && chown postgres:postgres /var/run/postgresql /var/lib/postgresql/data
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data/pgdata LANG=C.UTF-8
USER 999:999
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
STOPSIGNAL SIGINT
"""

ENTRYPOINT = """\
#!/bin/bash
# bk-test postgres: initdb on first start (superuser POSTGRES_USER, trust on the local socket), then run.
set -euo pipefail
user="${POSTGRES_USER:-app}" db="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" -U "$user" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  [ "$db" = postgres ] || createdb -U "$user" -O "$user" "$db"
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='' "$@"
"""

# Same shape as the real stack's postgres service (uid 999, read-only root, tmpfs socket dir).
COMPOSE = f"""\
name: {PROJECT}
services:
  postgres:
    image: {IMAGE}
    user: "999:999"
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    environment:
      POSTGRES_USER: app
      POSTGRES_DB: app
    volumes:
      - pgdata:/var/lib/postgresql/data
    tmpfs:
      - /tmp:size=64m,uid=999,gid=999,mode=0700
      - /var/run/postgresql:size=1m,uid=999,gid=999,mode=0775
    healthcheck:
      test: ["CMD", "pg_isready", "-q", "-U", "app", "-d", "app"]
      interval: 1s
      timeout: 3s
      retries: 60
  backend:
    image: {IMAGE}
    user: "999:999"
    entrypoint: ["sleep", "infinity"]
    init: true
    depends_on:
      postgres: {{condition: service_healthy}}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
volumes:
  pgdata: {{}}
"""

SEED_SQL = """
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created timestamptz DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(12,2), note text);
INSERT INTO customers (name, email) SELECT 'customer ' || i, 'c' || i || '@example.test' FROM generate_series(1, 5000) i;
INSERT INTO orders (customer_id, total, note)
  SELECT 1 + (i % 5000), (i * 7 % 100000) / 100.0, md5(i::text) FROM generate_series(1, 100000) i;
CREATE SCHEMA "Audit";
CREATE TABLE "Audit"."Log Entries" (id int, payload jsonb);
INSERT INTO "Audit"."Log Entries" SELECT i, jsonb_build_object('i', i, 'u', 'ü€') FROM generate_series(1, 300) i;
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 900;
"""

# Content checksum of every user table (ordered by all columns), for "identical after restore".
CHECKSUM_SQL = """
SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1
"""


def sh(cmd, check=True, **kw):
    res = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"{cmd} -> {res.returncode}\nSTDOUT:\n{res.stdout}\nSTDERR:\n{res.stderr}")
    return res


class Env:
    def __init__(self, base: Path):
        self.base = base
        self.stack = base / "stack"
        self.backups = base / "backups"
        self.textfile = base / "textfile"
        self.hook_out = base / "hook.out"
        self.inventory = base / "inventory.ini"
        self.backup = f"/usr/local/sbin/{PROJECT}-pg-backup"
        self.drill = f"/usr/local/sbin/{PROJECT}-pg-restore-drill"
        self.restore = f"/usr/local/sbin/{PROJECT}-pg-restore"
        self.vars = {
            # The stack contract (roles/stack) of a throwaway project: the playbooks wire it into pg_backup.
            "stack_project": PROJECT,
            "stack_dir": str(self.stack),
            "pg_backup_dir": str(self.backups),
            "pg_backup_textfile_dir": str(self.textfile),
            "pg_backup_on_failure_command": f'echo "$PG_BACKUP_MODE|$PG_BACKUP_ERROR" >> {self.hook_out}',
            "pg_backup_lock_timeout": 30,
            # This project has no Redis (tests/e2e/test_restore.py covers the cache on the real stack).
            "pg_backup_restore_redis_caches": [],
        }

    def compose(self, *args, check=True):
        return sh(["docker", "compose", "--project-directory", str(self.stack), *args], check=check)

    def psql(self, sql, db="app"):
        return self.compose("exec", "-T", "postgres", "psql", "-U", "app", "-d", db, "-AtqX",
                            "-v", "ON_ERROR_STOP=1", "-c", sql).stdout

    def playbook(self, name, *extra, check=True, vars_=None):
        vars_file = self.base / f"vars-{uuid.uuid4().hex[:6]}.json"
        vars_file.write_text(json.dumps({**self.vars, **(vars_ or {})}))
        env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
        return sh([str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), f"playbooks/{name}",
                   "-e", f"@{vars_file}", *extra], check=check, cwd=REPO, env=env)

    def checksums(self):
        tables = self.psql(CHECKSUM_SQL).splitlines()
        out = {}
        for t in tables:
            out[t] = self.psql(f"SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x")
        return out

    def sets(self, tier="daily"):
        d = self.backups / tier
        return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.exists() else []

    def metrics(self, name="pg_backup"):
        out = {}
        for line in (self.textfile / f"{PROJECT}_{name}.prom").read_text().splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key.split("{")[0]] = float(value)
        return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if shutil.which("docker") is None or sh("docker info", check=False).returncode != 0:
        pytest.skip("needs a Docker engine")
    if os.geteuid() != 0:
        pytest.skip("the role installs into /usr/local/sbin and /etc: run as root")
    base = tmp_path_factory.mktemp("bk-test")
    e = Env(base)
    if sh(["docker", "image", "inspect", IMAGE], check=False).returncode != 0:
        ctx = base / "image"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        (ctx / "entrypoint.sh").write_text(ENTRYPOINT)
        (ctx / "entrypoint.sh").chmod(0o755)
        sh(["docker", "build", "-q", "-t", IMAGE, str(ctx)])
    e.stack.mkdir()
    (e.stack / "compose.yaml").write_text(COMPOSE)
    e.inventory.write_text(f"[app_servers]\nlocalhost ansible_connection=local ansible_user={getpass.getuser()} ansible_python_interpreter={VENV_BIN / 'python'}\n")
    e.compose("up", "-d", "--wait")
    e.psql(SEED_SQL)
    yield e
    e.compose("down", "-v", "--remove-orphans", check=False)
    for p in (e.backup, e.drill, e.restore, f"/etc/cron.d/{PROJECT}-pg-backup", f"/run/lock/{PROJECT}-pg-backup.lock"):
        Path(p).unlink(missing_ok=True)
    for d in (f"/etc/{PROJECT}-pg-backup", f"/usr/local/lib/{PROJECT}-pg-backup", f"/var/cache/{PROJECT}-pg-backup"):
        shutil.rmtree(d, ignore_errors=True)


def test_bad_input_fails_before_any_change(env):
    res = env.playbook("backups.yml", check=False, vars_={"pg_backup_project": "bk-test-bad", "pg_backup_offsite": "s3"})
    assert res.returncode != 0
    assert "pg_backup_offsite" in res.stdout + res.stderr
    assert not Path("/usr/local/sbin/bk-test-bad-pg-backup").exists()
    res = env.playbook("backups.yml", check=False, vars_={"pg_backup_project": "bk-test-bad", "pg_backup_keep_daily": 0})
    assert res.returncode != 0 and "pg_backup_keep_daily" in res.stdout
    assert not Path("/etc/bk-test-bad-pg-backup").exists()


def test_role_installs_cron_fallback_and_is_idempotent(env):
    res = env.playbook("backups.yml", "--check")  # check mode on a fresh host must not fail
    assert not Path(env.backup).exists()
    env.playbook("backups.yml")
    res = env.playbook("backups.yml")
    assert "changed=0" in res.stdout, res.stdout
    for script in (env.backup, env.drill, env.restore):
        st = os.stat(script)
        assert st.st_uid == 0 and oct(st.st_mode & 0o777) == "0o700"
    cron = Path(f"/etc/cron.d/{PROJECT}-pg-backup").read_text()
    assert f"root {env.backup} --random-delay" in cron and env.drill in cron
    assert oct(env.backups.stat().st_mode & 0o777) == "0o700"


def test_backup_writes_verified_private_files_status_and_metrics(env):
    t0 = time.monotonic()
    res = sh([env.backup])
    elapsed = time.monotonic() - t0
    set_dir = Path(res.stdout.strip())
    assert set_dir.parent == env.backups / "daily"
    names = sorted(p.name for p in set_dir.iterdir())
    assert {"app.dump", "app.rowcounts.tsv", "postgres.dump", "globals.sql", "SHA256SUMS"} <= set(names), names
    assert not [n for n in names if n.startswith(".")], "temp files left behind"
    for p in [set_dir, *set_dir.iterdir()]:
        st = p.stat()
        assert st.st_uid == 0 and st.st_gid == 0
        assert oct(st.st_mode & 0o777) == ("0o700" if p.is_dir() else "0o600"), p
    sh("sha256sum --quiet -c SHA256SUMS", cwd=set_dir)
    assert "public.orders\t100000" in (set_dir / "app.rowcounts.tsv").read_text()
    assert "CREATE ROLE app" in (set_dir / "globals.sql").read_text()
    status = json.loads((env.backups / "last-success.json").read_text())
    assert status["status"] == "success" and status["set"] == f"daily/{set_dir.name}"
    assert {d["name"] for d in status["databases"]} == {"app", "postgres"}
    assert status["size_bytes"] > 100_000
    m = env.metrics()
    assert m["pg_backup_last_status"] == 1
    assert abs(m["pg_backup_last_success_timestamp_seconds"] - time.time()) < 60
    assert m["pg_backup_last_size_bytes"] == status["size_bytes"]
    assert sh([env.backup, "--check-freshness", "1h"]).returncode == 0
    time.sleep(1.1)
    stale = sh([env.backup, "--check-freshness", "0"], check=False)
    assert stale.returncode == 1 and "STALE" in stale.stdout
    print(f"\n[timing] backup of {status['size_bytes']} bytes (100k+5k rows): {elapsed:.2f}s wall")


def test_restore_drill_passes_and_records_duration(env):
    t0 = time.monotonic()
    sh([env.drill])
    elapsed = time.monotonic() - t0
    drill = json.loads((env.backups / "last-restore-drill.json").read_text())
    assert drill["status"] == "success"
    assert {d["name"]: d["result"] for d in drill["databases"]}["app"] == "ok"
    assert env.metrics("pg_restore_drill")["pg_backup_restore_drill_last_status"] == 1
    assert "app_restore_check" not in env.psql("SELECT datname FROM pg_database", db="postgres")
    print(f"\n[timing] restore drill: {elapsed:.2f}s wall, pg_restore {drill['restore_seconds']}s")


def test_restore_drill_detects_a_mismatch(env):
    set_dir = Path(json.loads((env.backups / "last-success.json").read_text())["path"])
    counts = set_dir / "app.rowcounts.tsv"
    original = counts.read_text()
    try:
        counts.write_text(original.replace("public.orders\t100000", "public.orders\t99999"))
        sums = set_dir / "SHA256SUMS"
        sums_orig = sums.read_text()
        sh("sha256sum -- * > SHA256SUMS.new && grep -v SHA256SUMS SHA256SUMS.new > SHA256SUMS; rm -f SHA256SUMS.new", cwd=set_dir)
        res = sh([env.drill], check=False)
        assert res.returncode != 0 and "MISMATCH" in res.stderr
        assert env.metrics("pg_restore_drill")["pg_backup_restore_drill_last_status"] == 0
        assert "restore-drill|" in env.hook_out.read_text()
    finally:
        counts.write_text(original)
        sums.write_text(sums_orig)
        os.chmod(counts, 0o600)
        os.chmod(sums, 0o600)
    sh([env.drill])


def test_restore_refuses_without_confirmation(env):
    before = env.checksums()
    res = env.playbook("restore.yml", check=False)
    assert res.returncode != 0
    assert "REFUSING TO RESTORE" in res.stdout and "pg_backup_restore_confirm=yes-destroy-current-data" in res.stdout
    res = env.playbook("restore.yml", "-e", "pg_backup_restore_confirm=yes", check=False)
    assert res.returncode != 0 and "REFUSING TO RESTORE" in res.stdout
    assert env.sets("pre-restore") == [], "nothing may happen before the confirmation"
    assert env.checksums() == before


def test_disaster_destroy_volume_then_restore_is_identical(env):
    before = env.checksums()
    assert len(before) == 3
    last_success = json.loads((env.backups / "last-success.json").read_text())["timestamp"]
    # disaster: container and data volume gone; a fresh empty database comes up
    env.compose("down", "-v")
    env.compose("up", "-d", "--wait")
    assert "orders" not in env.psql("SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")
    rpo = time.time() - last_success
    t0 = time.monotonic()
    res = env.playbook("restore.yml", "-e", f"pg_backup_restore_confirm={CONFIRM}")
    rto = time.monotonic() - t0
    assert env.checksums() == before
    assert "RTO" in res.stdout
    assert len(env.sets("pre-restore")) == 1, "a safety backup is taken first"
    ps = env.compose("ps", "--format", "{{.Service}} {{.Health}}").stdout
    assert "backend healthy" in ps
    flat = " ".join(res.stdout.split())
    found = re.search(r"RTO ([\d.]+)s \(application down ([\d.]+)s, database restore ([\d.]+)s", flat)
    assert found, flat[-2000:]
    print(f"\n[DR] volume destroyed; RPO {rpo:.0f}s (time since the last successful backup); RTO {rto:.1f}s wall for the "
          f"restore playbook (playbook's own figure {found[1]}s: backend down {found[2]}s, pg_restore+verify {found[3]}s)")


def test_restore_named_set_by_id(env):
    env.psql("DELETE FROM orders WHERE id > 90000")
    set_name = env.sets("daily")[-1]
    env.playbook("restore.yml", "-e", f"pg_backup_restore_confirm={CONFIRM}", "-e", f"pg_backup_restore_set=daily/{set_name}")
    assert env.psql("SELECT count(*) FROM orders") == "100000\n"


def test_failed_backup_postgres_down_keeps_old_sets(env):
    old = env.sets("daily")
    ok_ts = env.metrics()["pg_backup_last_success_timestamp_seconds"]
    env.hook_out.unlink(missing_ok=True)
    env.compose("stop", "postgres")
    try:
        res = sh([env.backup], check=False)
    finally:
        env.compose("up", "-d", "--wait")
    assert res.returncode != 0
    assert "FAILED" in res.stderr
    assert env.sets("daily") == old
    m = env.metrics()
    assert m["pg_backup_last_status"] == 0
    assert m["pg_backup_last_success_timestamp_seconds"] == ok_ts
    assert m["pg_backup_last_failure_timestamp_seconds"] > ok_ts
    assert env.hook_out.read_text().startswith("backup|")


def test_failed_backup_disk_full_removes_partial_files(env, tmp_path):
    old_sets = {t: env.sets(t) for t in ("daily", "weekly", "monthly", "pre-restore")}
    aside = tmp_path / "aside"
    sh(["cp", "-a", str(env.backups), str(aside)])  # keeps the weekly/monthly hard links
    used = int(sh(["du", "-sb", str(aside)]).stdout.split()[0])
    size = used + 4 * 1024 * 1024
    if sh(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(env.backups)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        sh(f"cp -a {aside}/. {env.backups}/")
        free = shutil.disk_usage(env.backups).free
        sh(["fallocate", "-l", str(max(free - 200_000, 0)), str(env.backups / "filler")])
        res = sh([env.backup], check=False)
        assert res.returncode != 0, res.stderr
        assert {t: env.sets(t) for t in old_sets} == old_sets
        leftovers = [p for p in env.backups.rglob(".*") if p.is_file()]
        assert leftovers == [], leftovers
        assert env.metrics()["pg_backup_last_status"] == 0
        for t, sets in old_sets.items():
            for s in sets:
                sh("sha256sum --quiet -c SHA256SUMS", cwd=env.backups / t / s)
    finally:
        sh(["umount", str(env.backups)])
    assert sh([env.backup]).returncode == 0


def test_encrypted_backup_with_restic_offsite(env, tmp_path):
    key = tmp_path / "age.key"
    sh(["age-keygen", "-o", str(key)])
    recipient = sh(["age-keygen", "-y", str(key)]).stdout.strip()
    repo = tmp_path / "restic-repo"
    extra = {
        "pg_backup_age_recipients": [recipient],
        "pg_backup_age_identity_file": str(key),
        "pg_backup_offsite": "restic",
        "pg_backup_restic_repository": str(repo),
        "pg_backup_restic_password": "test-only-restic-password",
    }
    try:
        res = env.playbook("backups.yml", vars_=extra)
        assert "test-only-restic-password" not in res.stdout
        assert oct(Path(f"/etc/{PROJECT}-pg-backup/restic-password").stat().st_mode & 0o777) == "0o600"
        set_dir = Path(sh([env.backup]).stdout.strip())
        names = {p.name for p in set_dir.iterdir()}
        assert {"app.dump.age", "globals.sql.age"} <= names and "app.dump" not in names
        assert (set_dir / "app.dump.age").read_bytes().startswith(b"age-encryption.org/v1")
        sh([env.drill])  # decrypts with the identity file
        snaps = sh(["restic", "-r", str(repo), "--password-file", f"/etc/{PROJECT}-pg-backup/restic-password",
                    "snapshots", "--json"]).stdout
        assert len(json.loads(snaps)) >= 1
    finally:
        env.playbook("backups.yml")  # back to the plain configuration


def test_retention_keeps_configured_counts(env):
    # A future Sunday that is also the 1st of a month: the new set is promoted to weekly and monthly.
    day = dt.date.today().replace(day=1)
    while True:
        day = (day + dt.timedelta(days=32)).replace(day=1)
        if day.isoweekday() == 7:
            break
    now = int(dt.datetime(day.year, day.month, 1, 2, 15, tzinfo=dt.timezone.utc).timestamp())
    for tier, count in (("daily", 12), ("weekly", 9), ("monthly", 10)):
        for i in range(count):
            ts = dt.datetime.fromtimestamp(now - (i + 1) * 86400 * (1 if tier == "daily" else 7 if tier == "weekly" else 31),
                                           dt.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
            d = env.backups / tier / ts
            d.mkdir(mode=0o700, exist_ok=True)
            (d / "SHA256SUMS").write_text("")
    partial = env.backups / "daily" / "2000-01-01T000000Z"
    partial.mkdir()
    new = Path(sh([env.backup], env={**os.environ, "PG_BACKUP_NOW": str(now)}).stdout.strip())
    assert len(env.sets("daily")) == 7
    assert len(env.sets("weekly")) == 4
    assert len(env.sets("monthly")) == 6
    for tier in ("daily", "weekly", "monthly"):
        assert env.sets(tier)[-1] == new.name, tier
    assert not partial.exists()
    weekly_dump = env.backups / "weekly" / new.name / "app.dump"
    assert weekly_dump.stat().st_ino == (new / "app.dump").stat().st_ino, "promotion hard-links the daily set"
