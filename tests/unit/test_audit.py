"""scripts/audit.py (make audit, make audit-images): each audit fails on a known-vulnerable fixture and on an
advisory source that does not answer; the accept list accepts a finding until its expiry date, not after.

npm and pip-audit run for real against a stand-in advisory source on loopback (advisory_stub.py: the real
sources cannot answer on this machine); the Debian check runs apt in a container of the debootstrap base."""

import datetime
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from advisory_stub import NPM_ADVISORIES, AdvisoryStub
from script_loader import ROOT, load_script

audit = load_script("scripts/audit.py", "audit")

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
NPM_FIXTURE = FIXTURES / "npm-vulnerable"
PIP_FIXTURE = FIXTURES / "requirements-vulnerable.txt"
TODAY = datetime.date(2026, 12, 7)
# Nothing listens on port 9 (discard) here: a refused connection, at once.
DEAD = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def npm_cache(tmp_path, monkeypatch):
    """A cache of its own for each test's npm: npm keeps advisories it was given, by advisory id."""
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))


@pytest.fixture
def stub():
    server = AdvisoryStub()
    yield server
    server.stop()


def accept_file(tmp_path, *entries):
    path = tmp_path / "audit-accept.yml"
    path.write_text(yaml.safe_dump({"accepted": list(entries)}))
    return str(path)


def entry(id, package, expires, reason="fixture"):
    """An accept-list entry; `expires` as written in the file (YYYY-MM-DD) or a date."""
    if isinstance(expires, str):
        expires = datetime.date.fromisoformat(expires)
    return {"id": id, "package": package, "reason": reason, "expires": expires}


def run_main(capsys, *argv, accept):
    rc = audit.main([*argv, "--accept", accept], today=TODAY)
    return rc, capsys.readouterr().out


# npm audit --omit=dev ----------------------------------------------------------------------------------------

def test_npm_vulnerable_fixture_fails(stub, tmp_path, capsys):
    rc, out = run_main(capsys, f"npm={NPM_FIXTURE}", "--npm-registry", stub.url, accept=accept_file(tmp_path))
    assert rc == 1
    assert "FOUND GHSA-xvch-5gv4-984h in minimist: critical: Prototype Pollution" in out


def test_npm_below_high_does_not_fail(tmp_path, capsys):
    moderate = {"minimist": [{**NPM_ADVISORIES["minimist"][0], "severity": "moderate"}]}
    server = AdvisoryStub(npm=moderate)
    try:
        rc, out = run_main(capsys, f"npm={NPM_FIXTURE}", "--npm-registry", server.url, accept=accept_file(tmp_path))
    finally:
        server.stop()
    assert rc == 0, out
    assert "0 finding(s)" in out


def test_npm_accepted_finding_passes_until_it_expires(stub, tmp_path, capsys):
    args = (f"npm={NPM_FIXTURE}", "--npm-registry", stub.url)
    rc, out = run_main(capsys, *args, accept=accept_file(tmp_path, entry("GHSA-xvch-5gv4-984h", "minimist", "2026-12-07")))
    assert rc == 0, out
    assert "accepted until 2026-12-07: fixture" in out
    rc, out = run_main(capsys, *args, accept=accept_file(tmp_path, entry("GHSA-xvch-5gv4-984h", "minimist", "2026-12-06")))
    assert rc == 1
    assert "acceptance EXPIRED on 2026-12-06" in out


def test_npm_unreachable_advisory_source_fails(tmp_path, capsys):
    rc, out = run_main(capsys, f"npm={NPM_FIXTURE}", "--npm-registry", DEAD, accept=accept_file(tmp_path))
    assert rc == 1
    assert "NOT AUDITED source-unreachable in npm" in out
    assert "ECONNREFUSED" in out
    # Accepted for a while, it still does not read as clean.
    accept = accept_file(tmp_path, entry("source-unreachable", "npm", "2026-12-21"))
    rc, out = run_main(capsys, f"npm={NPM_FIXTURE}", "--npm-registry", DEAD, accept=accept)
    assert rc == 0
    assert out.endswith(f"passed: 0 finding(s) not accepted; NOT AUDITED: npm {NPM_FIXTURE}\n")


def test_the_frontends_lockfile_passes_when_the_source_knows_nothing_against_it(tmp_path, capsys):
    server = AdvisoryStub(npm={})
    try:
        rc, out = run_main(capsys, f"npm={ROOT / 'files/demo-app/frontend'}", "--npm-registry", server.url,
                           accept=accept_file(tmp_path))
    finally:
        server.stop()
    assert rc == 0, out


# pip-audit (OSV) ---------------------------------------------------------------------------------------------

def test_pip_vulnerable_fixture_fails(stub, tmp_path, capsys):
    rc, out = run_main(capsys, f"pip={PIP_FIXTURE}", "--osv-url", f"{stub.url}/v1/query", accept=accept_file(tmp_path))
    assert rc == 1
    assert "FOUND PYSEC-2021-108 in urllib3: urllib3 1.26.4 (fixed in: 1.26.5)" in out


def test_pip_finding_accepted_by_an_alias(stub, tmp_path, capsys):
    accept = accept_file(tmp_path, entry("CVE-2021-33503", "urllib3", "2027-01-31"))
    rc, out = run_main(capsys, f"pip={PIP_FIXTURE}", "--osv-url", f"{stub.url}/v1/query", accept=accept)
    assert rc == 0, out


def test_the_venv_is_audited_package_by_package_without_debians_packages(tmp_path, capsys):
    server = AdvisoryStub(osv={})
    try:
        rc, out = run_main(capsys, "pip", "--osv-url", f"{server.url}/v1/query", accept=accept_file(tmp_path))
    finally:
        server.stop()
    assert rc == 0, out
    assert {"ansible-core", "jinja2", "pip-audit"} <= set(server.asked)
    assert "python-apt" not in server.asked  # Debian's python3-apt, seen through --system-site-packages


def test_pip_unreachable_advisory_source_fails(tmp_path, capsys):
    rc, out = run_main(capsys, f"pip={PIP_FIXTURE}", "--osv-url", f"{DEAD}/v1/query", accept=accept_file(tmp_path))
    assert rc == 1
    assert "NOT AUDITED source-unreachable in pip" in out


def test_a_package_pip_audit_skipped_is_a_finding(monkeypatch):
    # pip-audit with PyPI's JSON API answering 404 skips every package and says "No known vulnerabilities".
    report = {"dependencies": [{"name": "jinja2", "skip_reason": "Dependency not found on PyPI"},
                               {"name": "pyyaml", "version": "6.0.3", "vulns": []}]}
    monkeypatch.setattr(audit, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, json.dumps(report), ""))
    assert [(f.id, f.package) for f in audit.pip_findings()] == [("not-audited", "jinja2")]


# Maven -------------------------------------------------------------------------------------------------------

def test_maven_is_reported_not_audited_with_the_probe_results(monkeypatch, capsys):
    assert "does not resolve" in audit.reachable("advisories.invalid")
    line = audit.maven_report("backend", sources=("advisories.invalid",))
    assert line == ("[audit] maven backend: NOT AUDITED: no advisory source for Maven answers from this machine: "
                    "advisories.invalid (name does not resolve)")
    monkeypatch.setattr(audit, "reachable", lambda host: None)
    assert "no Maven auditor is wired up although api.osv.dev" in audit.maven_report("backend")
    assert audit.main(["maven=backend", "--accept", "/nonexistent"], today=TODAY) == 0
    assert capsys.readouterr().out.endswith("[audit] passed: 0 finding(s) not accepted; NOT AUDITED: maven=backend\n")


# Debian security updates in images -----------------------------------------------------------------------------

BASE = "deployer/debian:bookworm"


def docker_base():
    if not shutil.which("docker") or subprocess.run(["docker", "image", "inspect", BASE],
                                                    capture_output=True, check=False).returncode:
        pytest.skip(f"needs a Docker engine with {BASE} (make setup)")


@pytest.fixture(scope="module")
def outdated_image():
    """The base image with zlib1g recorded at bookworm's release version, which bookworm-security updated
    (1:1.2.13.dfsg-1+deb12u1): apt must see a pending security update, whatever the base's own state."""
    docker_base()
    name, tag = "deployer-audit-fixture", "deployer-test/audit-outdated:bookworm"
    lower = ("awk '/^Package: /{p=($2==\"zlib1g\")} p && /^Version: /{$0=\"Version: 1:1.2.13.dfsg-1\"} {print}' "
             "/var/lib/dpkg/status >/tmp/s && cat /tmp/s >/var/lib/dpkg/status")
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    subprocess.run(["docker", "run", "--name", name, BASE, "sh", "-c", lower], check=True, capture_output=True)
    subprocess.run(["docker", "commit", name, tag], check=True, capture_output=True)
    subprocess.run(["docker", "rm", name], check=True, capture_output=True)
    yield tag
    subprocess.run(["docker", "rmi", tag], capture_output=True, check=False)


def test_image_missing_a_security_update_fails(outdated_image, tmp_path, capsys):
    rc, out = run_main(capsys, f"images={outdated_image}", accept=accept_file(tmp_path))
    assert rc == 1
    assert "zlib1g 1:1.2.13.dfsg-1 -> 1:1.2.13.dfsg-1+deb12u" in out


def test_image_check_with_an_unreachable_mirror_fails(outdated_image, tmp_path, capsys):
    rc, out = run_main(capsys, f"images={outdated_image}", "--debian-mirror", f"{DEAD}/debian-security",
                       accept=accept_file(tmp_path))
    assert rc == 1
    assert "NOT AUDITED source-unreachable in debian" in out
    assert "FOUND" not in out


def test_an_engine_that_does_not_answer_fails(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(audit, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "no engine"))
    assert audit.main(["images", "--accept", accept_file(tmp_path)], today=TODAY) == 1
    assert "docker images failed: no engine" in capsys.readouterr().err


def test_no_image_to_check_fails(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(audit, "local_images", lambda: [])
    rc, out = run_main(capsys, "images", accept=accept_file(tmp_path))
    assert rc == 1
    assert "no deployer/* or demo-* image" in out


# The accept list ----------------------------------------------------------------------------------------------

FINDING = audit.Finding("pip", "PYSEC-1", "urllib3", "detail", ("CVE-1",))


def test_acceptance_needs_the_same_package_and_a_date_not_passed():
    assert audit.acceptance(FINDING, [entry("CVE-1", "requests", datetime.date(2027, 1, 1))], TODAY) == (None, False)
    valid = entry("PYSEC-1", "urllib3", TODAY)
    assert audit.acceptance(FINDING, [valid], TODAY) == (valid, False)
    assert audit.acceptance(FINDING, [valid], TODAY + datetime.timedelta(days=1)) == (valid, True)


@pytest.mark.parametrize("text, message", [
    ("accepted: {}", "expected a mapping with an `accepted` list"),
    ("accepted: [x]", "entry 1 is not a mapping"),
    ("accepted: [{id: A, package: p, expires: 2027-01-01}]", "entry 1 needs a non-empty `reason`"),
    ("accepted: [{id: A, package: p, reason: r, expires: soon}]", "entry 1 (A) needs `expires: YYYY-MM-DD`"),
])
def test_a_malformed_accept_list_stops_the_audit(tmp_path, capsys, text, message):
    path = tmp_path / "accept.yml"
    path.write_text(text)
    with pytest.raises(audit.AcceptListError, match=message.replace("(", r"\(").replace(")", r"\)")):
        audit.load_accept_list(path)
    assert audit.main(["maven=x", "--accept", str(path)], today=TODAY) == 1
    assert message in capsys.readouterr().err


def test_an_expired_acceptance_that_matches_nothing_is_pointed_out(tmp_path, capsys):
    rc, out = run_main(capsys, "maven=x", accept=accept_file(tmp_path, entry("GHSA-old", "lodash", "2026-01-01")))
    assert rc == 0
    assert "the acceptance of GHSA-old in lodash has expired: remove it" in out


def test_the_projects_accept_list_is_valid():
    for item in audit.load_accept_list(audit.ACCEPT_FILE):
        ahead = item["expires"] - datetime.date.today()
        assert ahead < datetime.timedelta(days=366), f"{item['id']} in {item['package']}: accept for a year at most"


def test_an_unknown_check_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        audit.main(["npm"])  # npm needs a directory
    assert exc.value.code == 2
