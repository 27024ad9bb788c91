"""The monitoring role's alert rules, rendered from its defaults and run by Prometheus's own `promtool`:
`check rules` (syntax, PromQL) and `test rules` over series written per alert, one case where the alert
fires (with its labels and its rendered description) and one where it must not."""

import shutil
import subprocess

import pytest
import yaml

from ansible_render import ROOT, render, role_defaults

PROMTOOL = shutil.which("promtool")


@pytest.fixture(autouse=True)
def _promtool():
    if PROMTOOL is None:  # not a skip: CI must not pass these tests without running them
        pytest.fail("promtool missing: make setup puts Debian's into .venv/bin")

NODE = {"job": "node", "instance": "node-exporter:9100"}
ROOT_FS = {**NODE, "mountpoint": "/", "fstype": "ext4", "device": "/dev/sda1"}
TMP_FS = {**NODE, "mountpoint": "/run", "fstype": "tmpfs", "device": "tmpfs"}
PG = {"job": "postgres", "instance": "postgres-exporter:9187"}
REDIS = {"job": "redis", "instance": "redis-exporter:9121"}
NGINX = {"job": "nginx", "instance": "nginx-exporter:9113"}
PROBE = {"job": "blackbox", "instance": "https://app.example.com/"}
BACKEND = {"job": "backend", "instance": "backend:8081"}
AM = {"job": "alertmanager", "instance": "alertmanager:9093"}
API = {"job": "backend", "instance": "backend:8081", "uri": "/api/items", "method": "GET"}
CONTAINER = {"id": "/system.slice/docker-0123.scope", "name": "demo-backend-1"}
BACKUP = {**NODE, "project": "demo"}
DAY = 86400


def series(name, labels, values):
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


def api_traffic(ok, failed=None, fast=None, samples=120):
    """Counters of the backend's request histogram growing, per sample, by `ok` answered (2xx), `failed`
    5xx and `fast` within the latency objective."""
    out = [series("http_server_requests_seconds_count", {**API, "status": "200"}, f"0+{ok}x{samples}")]
    if failed is not None:
        out.append(series("http_server_requests_seconds_count", {**API, "status": "500"}, f"0+{failed}x{samples}"))
    if fast is not None:
        out.append(series("http_server_requests_seconds_bucket", {**API, "status": "200", "le": "0.2"},
                          f"0+{fast}x{samples}"))
    return out


# alert -> (fires: (interval, input series, eval time, [(labels, description)]), quiet: (interval, series, eval time))
CASES = {
    "TargetDown": (
        ("1m", [series("up", BACKEND, "1 1 0 0 0 0")], "5m",
         [(BACKEND, "backend at backend:8081 has not answered a scrape for 2m.")]),
        ("1m", [series("up", BACKEND, "0 1 0 1 0 1")], "5m"),
    ),
    "BackendDown": (
        # The one backend stops: its target goes away with its DNS name (Prometheus marks the series stale; no up == 0 to see).
        ("15s", [series("up", BACKEND, "1 1 1 1 stale")], "2m",
         [({}, "No backend container has answered a metrics scrape for 30s: the API is down (the edge answers 502/503).")]),
        # One of two backends down for a while (a rolling release, a crash the other covers).
        ("15s", [series("up", BACKEND, "1x12"), series("up", {**BACKEND, "instance": "172.20.0.9:8081"}, "0x12")], "2m"),
    ),
    "EndpointDown": (
        ("1m", [series("probe_success", PROBE, "0x5")], "3m",
         [(PROBE, "https://app.example.com/ has failed every probe (status, TLS or timeout) for 2 minutes.")]),
        ("1m", [series("probe_success", PROBE, "1 0 1 0 1 0")], "5m"),
    ),
    "CertificateExpiresSoon": (
        # time() at the 15 min evaluation is 900 s: 13 days left.
        ("1m", [series("probe_ssl_earliest_cert_expiry", PROBE, f"{900 + 13 * DAY}x20")], "15m",
         [(PROBE, "https://app.example.com/ serves a certificate that expires in 13d 0h 0m 0s: renewal is "
                  "failing or the edge did not load the renewed files.")]),
        ("1m", [series("probe_ssl_earliest_cert_expiry", PROBE, f"{900 + 30 * DAY}x20")], "15m"),
    ),
    "EdgeConnectionsDropped": (
        # 10 connections a minute accepted, 8 handled: 10 dropped over 5 minutes.
        ("1m", [series("nginx_connections_accepted", NGINX, "0+10x10"),
                series("nginx_connections_handled", NGINX, "0+8x10")], "6m",
         [(NGINX, "The edge closed 10 accepted connections without handling them in 5 minutes: nginx reached "
                  "worker_connections or its open-file limit.")]),
        ("1m", [series("nginx_connections_accepted", NGINX, "0+10x10"),
                series("nginx_connections_handled", NGINX, "0+10x10")], "6m"),
    ),
    "ApiErrorBudgetFastBurn": (
        # 60 of 660 requests a minute fail: 9.1 % > 14.4 x 0.5 %.
        ("1m", api_traffic(ok=600, failed=60), "70m",
         [({"job": "backend"}, "Over the last hour and the last 5 minutes, 9.091% of API requests failed with "
                               "a 5xx (objective: 99.5 % without).")]),
        ("1m", api_traffic(ok=600, failed=3), "70m"),
    ),
    "ApiErrorBudgetSlowBurn": (
        # 24 of 624: 3.8 % > 6 x 0.5 %, for more than 6 hours (5-minute samples: 6 h of rules at each
        # minute cost promtool tens of seconds).
        ("5m", api_traffic(ok=3000, failed=120, samples=90), "420m",
         [({"job": "backend"}, "Over the last 6 hours and the last 30 minutes, 3.846% of API requests failed "
                               "with a 5xx (objective: 99.5 % without).")]),
        ("5m", api_traffic(ok=3000, failed=60, samples=90), "420m"),
    ),
    "ApiLatencyBudgetFastBurn": (
        # 120 of 600 requests a minute within 200 ms: 80 % slow > 14.4 x 5 %.
        ("1m", api_traffic(ok=600, fast=120), "70m",
         [({"job": "backend"}, "Over the last hour and the last 5 minutes, 80% of API requests took longer "
                               "than 200 ms (objective: 95.0 % within).")]),
        ("1m", api_traffic(ok=600, fast=570), "70m"),
    ),
    "ApiLatencyBudgetSlowBurn": (
        ("5m", api_traffic(ok=3000, fast=1800, samples=90), "420m",
         [({"job": "backend"}, "Over the last 6 hours and the last 30 minutes, 40% of API requests took "
                               "longer than 200 ms (objective: 95.0 % within).")]),
        ("5m", api_traffic(ok=3000, fast=2700, samples=90), "420m"),
    ),
    "BackupStale": (
        ("1h", [series("pg_backup_last_success_timestamp_seconds", BACKUP, "0x30")], "27h",
         [(BACKUP, "The last successful backup of demo is 1d 3h 0m 0s old.")]),
        ("1h", [series("pg_backup_last_success_timestamp_seconds", BACKUP, "0x30")], "25h"),
    ),
    "BackupNeverSucceeded": (
        ("1h", [series("up", NODE, "1x30")], "27h",
         [({}, "pg-backup has written no success metric: the backup timer never ran, or the textfile directory "
               "is not the one node-exporter reads.")]),
        ("1h", [series("up", NODE, "1x30"),
                series("pg_backup_last_success_timestamp_seconds", BACKUP, "0x30")], "27h"),
    ),
    "BackupFailed": (
        ("1m", [series("pg_backup_last_status", BACKUP, "1 1 0")], "2m",
         [(BACKUP, "The last pg-backup run of demo failed; the previous sets are kept. See the backup log.")]),
        ("1m", [series("pg_backup_last_status", BACKUP, "0 1 1")], "2m"),
    ),
    "RestoreDrillFailed": (
        ("1m", [series("pg_backup_restore_drill_last_status", BACKUP, "1 0")], "1m",
         [(BACKUP, "The newest backup of demo did not restore and verify in the last drill: the backups may not "
                   "be restorable.")]),
        ("1m", [series("pg_backup_restore_drill_last_status", BACKUP, "0 1")], "1m"),
    ),
    "HostDiskLow": (
        ("1m", [series("node_filesystem_avail_bytes", ROOT_FS, "5x10"),
                series("node_filesystem_size_bytes", ROOT_FS, "100x10"),
                series("node_filesystem_readonly", ROOT_FS, "0x10")], "10m",
         [(ROOT_FS, "/ on node-exporter:9100 has 5.0 % free.")]),
        # 50 % free on /, and a full tmpfs (not a disk).
        ("1m", [series("node_filesystem_avail_bytes", ROOT_FS, "50x10"),
                series("node_filesystem_size_bytes", ROOT_FS, "100x10"),
                series("node_filesystem_readonly", ROOT_FS, "0x10"),
                series("node_filesystem_avail_bytes", TMP_FS, "0x10"),
                series("node_filesystem_size_bytes", TMP_FS, "100x10"),
                series("node_filesystem_readonly", TMP_FS, "0x10")], "10m"),
    ),
    "HostInodesLow": (
        ("1m", [series("node_filesystem_files_free", ROOT_FS, "8x10"),
                series("node_filesystem_files", ROOT_FS, "100x10"),
                series("node_filesystem_readonly", ROOT_FS, "0x10")], "10m",
         [(ROOT_FS, "/ on node-exporter:9100 has 8.0 % of its inodes free.")]),
        ("1m", [series("node_filesystem_files_free", ROOT_FS, "8x10"),
                series("node_filesystem_files", ROOT_FS, "100x10"),
                series("node_filesystem_readonly", ROOT_FS, "1x10")], "10m"),  # read-only: nothing writes
    ),
    "HostDiskFullSoon": (
        # 10 GB free, 50 MB less every 5 minutes: zero in under 17 hours.
        ("5m", [series("node_filesystem_avail_bytes", ROOT_FS, "10000000000-50000000x80"),
                series("node_filesystem_readonly", ROOT_FS, "0x80")], "400m",
         [(ROOT_FS, "/ on node-exporter:9100 fills at a rate that reaches zero free bytes within 24 hours.")]),
        # 5 MB less every 5 minutes: 6.9 days.
        ("5m", [series("node_filesystem_avail_bytes", ROOT_FS, "10000000000-5000000x80"),
                series("node_filesystem_readonly", ROOT_FS, "0x80")], "400m"),
    ),
    "ContainerMemoryNearLimit": (
        ("1m", [series("container_memory_working_set_bytes", CONTAINER, "95x10"),
                series("container_spec_memory_limit_bytes", CONTAINER, "100x10")], "10m",
         [(CONTAINER, "demo-backend-1 uses 95 % of its memory limit: the kernel kills it at 100 %.")]),
        # no limit (0) is not "near" one
        ("1m", [series("container_memory_working_set_bytes", CONTAINER, "95x10"),
                series("container_spec_memory_limit_bytes", CONTAINER, "0x10")], "10m"),
    ),
    "ContainerRestarting": (
        ("1m", [series("container_start_time_seconds", CONTAINER, "100 100 200 300 400 400")], "5m",
         [(CONTAINER, "demo-backend-1 started 4 times in 15 minutes: it is crashing and being restarted.")]),
        ("1m", [series("container_start_time_seconds", CONTAINER, "100 100 200 200 200 200")], "5m"),
    ),
    "PostgresDown": (
        ("1m", [series("pg_up", PG, "0x5")], "2m",
         [(PG, "PostgreSQL behind postgres-exporter:9187 has not answered for a minute.")]),
        ("1m", [series("pg_up", PG, "0 1 1 1 1")], "2m"),
    ),
    "PostgresConnectionsNearMax": (
        ("1m", [series("pg_stat_activity_count", {**PG, "datname": "app", "state": "active"}, "50x10"),
                series("pg_stat_activity_count", {**PG, "datname": "app", "state": "idle"}, "35x10"),
                series("pg_settings_max_connections", PG, "100x10")], "10m",
         [(PG, "85 % of max_connections are in use: new connections will soon be refused.")]),
        ("1m", [series("pg_stat_activity_count", {**PG, "datname": "app", "state": "active"}, "30x10"),
                series("pg_stat_activity_count", {**PG, "datname": "app", "state": "idle"}, "20x10"),
                series("pg_settings_max_connections", PG, "100x10")], "10m"),
    ),
    "RedisDown": (
        ("1m", [series("redis_up", REDIS, "0x5")], "2m",
         [(REDIS, "Redis behind redis-exporter:9121 has not answered for a minute: the API serves from "
                  "PostgreSQL only.")]),
        ("1m", [series("redis_up", REDIS, "1x5")], "2m"),
    ),
    "RedisEvicting": (
        ("1m", [series("redis_evicted_keys_total", REDIS, "0+60x30")], "25m",
         [(REDIS, "Redis evicts 1.0 keys/s: the cache is smaller than what the API keeps in it.")]),
        ("1m", [series("redis_evicted_keys_total", REDIS, "60x30")], "25m"),
    ),
    "RedisMemoryNearMax": (
        ("1m", [series("redis_memory_used_bytes", REDIS, "95x10"),
                series("redis_memory_max_bytes", REDIS, "100x10")], "10m",
         [(REDIS, "Redis uses 95 % of maxmemory: evictions follow.")]),
        # maxmemory 0: no limit set
        ("1m", [series("redis_memory_used_bytes", REDIS, "95x10"),
                series("redis_memory_max_bytes", REDIS, "0x10")], "10m"),
    ),
    "MonitoringConfigRejected": (
        ("1m", [series("prometheus_config_last_reload_successful", {"job": "prometheus", "instance": "localhost:9090"},
                       "1 0 0 0 0 0 0 0")], "7m",
         [({"job": "prometheus", "instance": "localhost:9090"},
           "prometheus keeps running its previous configuration: the last one written was invalid.")]),
        ("1m", [series("alertmanager_config_last_reload_successful", {"job": "alertmanager", "instance": "alertmanager:9093"},
                       "1x8")], "7m"),
    ),
    "AlertDeliveryFailing": (
        ("1m", [series("alertmanager_notifications_failed_total", {**AM, "integration": "webhook"}, "0+2x30")], "25m",
         [({**AM, "integration": "webhook"},
           "Notifications to the webhook receiver have been failing for 10 minutes: alerts reach nobody.")]),
        ("1m", [series("alertmanager_notifications_failed_total", {**AM, "integration": "webhook"}, "0x30")], "25m"),
    ),
    "Watchdog": (
        ("1m", [], "1m",
         [({}, "Route this alert to an external dead-man switch: it pages when the Watchdog stops arriving.")]),
        None,  # always fires
    ),
}


def rules_of(text):
    return {r["alert"]: r for g in yaml.safe_load(text)["groups"] for r in g["rules"] if "alert" in r}


@pytest.fixture(scope="module")
def rendered():
    return render("monitoring", "alert-rules.yml.j2")


def promtool_test(tmp_path, rules_text, tests):
    """Run `tests` (promtool test groups) against `rules_text`. Groups are evaluated at their own sample
    interval: one file per interval, as promtool's evaluation interval is per file."""
    (tmp_path / "alert-rules.yml").write_text(rules_text)
    files = []
    for interval in sorted({t["interval"] for t in tests}):
        path = tmp_path / f"alert-rules.{interval}.test.yml"
        path.write_text(yaml.safe_dump({"rule_files": ["alert-rules.yml"], "evaluation_interval": interval,
                                        "tests": [t for t in tests if t["interval"] == interval]}, sort_keys=False))
        files.append(path.name)
    return subprocess.run([PROMTOOL, "test", "rules", *files], cwd=tmp_path, capture_output=True, text=True)


def expected(rule, labels, description):
    """What promtool must see: the rule's labels and annotations, with the description as rendered."""
    return {"exp_labels": {**labels, **rule["labels"]},
            "exp_annotations": {**rule["annotations"], "description": description}}


def group(interval, input_series, eval_time, alert, exp_alerts):
    return {"interval": interval, "input_series": input_series,
            "alert_rule_test": [{"eval_time": eval_time, "alertname": alert, "exp_alerts": exp_alerts}]}


def test_promtool_accepts_the_rules(tmp_path, rendered):
    path = tmp_path / "alert-rules.yml"
    path.write_text(rendered)
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_documented_and_has_a_case(rendered):
    rules = rules_of(rendered)
    assert set(rules) == set(CASES)
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "none"}, name
        assert set(rule["annotations"]) == {"summary", "description", "source", "runbook_url"}, name
        assert rule["annotations"]["runbook_url"] == f"docs/runbooks.md#{name.lower()}"


def test_every_runbook_anchor_exists(rendered):
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    for name in rules_of(rendered):
        assert f"## {name}\n" in runbooks, f"docs/runbooks.md has no section for {name}"


def test_each_alert_fires_when_it_should_and_only_then(tmp_path, rendered):
    rules = rules_of(rendered)
    tests = []
    for name, (fires, quiet) in CASES.items():
        interval, input_series, eval_time, alerts = fires
        tests.append(group(interval, input_series, eval_time, name,
                           [expected(rules[name], labels, desc) for labels, desc in alerts]))
        if quiet:
            tests.append(group(*quiet, name, []))
    done = promtool_test(tmp_path, rendered, tests)
    assert done.returncode == 0, done.stdout + done.stderr


def fires(tmp_path, rules_text, alert, case):
    """Whether `alert` fires in `case`: promtool fails a test that expects it quiet."""
    done = promtool_test(tmp_path, rules_text, [group(*case, alert, [])])
    assert done.returncode == 0 or alert in done.stdout + done.stderr, done.stdout + done.stderr
    return done.returncode != 0


@pytest.mark.parametrize("knob, value, alert, case", [
    # 20 days left: quiet at the default 14, fires at 30.
    ("monitoring_cert_min_days", 30, "CertificateExpiresSoon",
     ("1m", [series("probe_ssl_earliest_cert_expiry", PROBE, f"{900 + 20 * DAY}x20")], "15m")),
    # 40 % free: quiet at the default 10 %, fires at 50 %.
    ("monitoring_disk_min_free_percent", 50, "HostDiskLow",
     ("1m", [series("node_filesystem_avail_bytes", ROOT_FS, "40x10"),
             series("node_filesystem_size_bytes", ROOT_FS, "100x10"),
             series("node_filesystem_readonly", ROOT_FS, "0x10")], "10m")),
    # 80 % of requests slower than 200 ms, 5 % slower than 500 ms: fires at the default threshold, quiet at
    # 0.5 s (the threshold names the histogram bucket the rule reads).
    ("monitoring_slo_latency_seconds", 0.5, "ApiLatencyBudgetFastBurn",
     ("1m", api_traffic(ok=600, fast=120) + [series("http_server_requests_seconds_bucket",
                                                    {**API, "status": "200", "le": "0.5"}, "0+570x120")], "70m")),
])
def test_thresholds_are_variables(tmp_path, rendered, knob, value, alert, case):
    assert knob in role_defaults("monitoring")
    changed = render("monitoring", "alert-rules.yml.j2", {knob: value})
    assert fires(tmp_path, rendered, alert, case) != fires(tmp_path, changed, alert, case), (
        f"{alert} fires alike with and without {knob}={value}")
