#!/usr/bin/env python3
"""Known-vulnerability audits of what the project ships and runs (`make audit`, `make audit-images`).

Each check runs a well-kept tool and only reads its output; this file adds the one policy they share:

  npm=DIR     `npm audit --omit=dev --json` in DIR (its package-lock.json): advisories rated high or critical.
  pip         `pip-audit --local -s osv --format json` on the venv this script runs in (the controller's, installed
              from requirements.txt); `pip=FILE` audits a pinned requirements file instead. pip-audit reports
              no severity, so every known vulnerability counts.
  maven=DIR   reported as NOT AUDITED with the reason (no advisory source for Maven answers here); never fails.
  images      pending Debian security updates (`apt-get` against bookworm-security, in a throwaway container of
              each image): every image on the engine named deployer/* or demo-*; `images=REF` one image.

A finding fails the audit unless audit-accept.yml accepts it (same id, same package) with an expiry date not yet
passed. An advisory source that does not answer is a finding too (id `source-unreachable`, package = the check's
name): it fails the audit, it never reads as clean. Exit status: 0 when nothing failed, 1 otherwise, 2 on usage.
"""

import argparse
import datetime
import json
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACCEPT_FILE = ROOT / "audit-accept.yml"
NPM_SEVERITIES = ("high", "critical")
# The security archive the registry-free images install from (roles/container_images: debian mirror's host).
DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
DEBIAN_SUITE = "bookworm-security"
# Advisory sources a Maven auditor could use (OSV: osv-scanner; OSS Index: ossindex-maven-plugin; NVD: OWASP
# dependency-check; GitHub's advisory database). The Maven check probes them only to say why it cannot audit.
MAVEN_SOURCES = ("api.osv.dev", "ossindex.sonatype.org", "services.nvd.nist.gov", "api.github.com")
UNREACHABLE = "source-unreachable"


@dataclass(frozen=True)
class Finding:
    """One reason to fail: a vulnerable package (id = advisory or fixed version), or an advisory source that
    did not answer (id = UNREACHABLE, package = the check)."""

    check: str
    id: str
    package: str
    detail: str
    aliases: tuple = ()


class AcceptListError(ValueError):
    """audit-accept.yml is malformed: the audit stops rather than guessing what was meant."""


def load_accept_list(path):
    """The entries of the accept list at `path` (none when the file does not exist), validated:
    each has id, package, reason (non-empty strings) and expires (a YYYY-MM-DD date)."""
    path = Path(path)
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text()) or {}
    entries = data.get("accepted") if isinstance(data, dict) else None
    entries = [] if isinstance(data, dict) and entries is None else entries  # `accepted:` with nothing in it
    if not isinstance(entries, list):
        raise AcceptListError(f"{path}: expected a mapping with an `accepted` list")
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise AcceptListError(f"{path}: entry {n} is not a mapping")
        for key in ("id", "package", "reason"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise AcceptListError(f"{path}: entry {n} needs a non-empty `{key}`")
        if not isinstance(entry.get("expires"), datetime.date):
            raise AcceptListError(f"{path}: entry {n} ({entry['id']}) needs `expires: YYYY-MM-DD`")
    return entries


def matches(entry, finding):
    """Whether an accept-list entry names this finding: its id (or one of its aliases) and its package."""
    return entry["id"] in {finding.id, *finding.aliases} and entry["package"] == finding.package


def acceptance(finding, entries, today):
    """(entry, expired) for the accept-list entry that names this finding, or (None, False).
    An entry is valid up to and including its expiry date."""
    for entry in entries:
        if matches(entry, finding):
            return entry, entry["expires"] < today
    return None, False


def judge(findings, entries, today):
    """Print each finding with its verdict; the number of findings that fail (not accepted, or accepted
    with an expiry date in the past)."""
    failed = 0
    for f in findings:
        entry, expired = acceptance(f, entries, today)
        what = "NOT AUDITED" if f.id == UNREACHABLE else "FOUND"
        line = f"[audit] {f.check}: {what} {f.id} in {f.package}: {f.detail}"
        if entry and not expired:
            print(f"{line} -- accepted until {entry['expires']}: {entry['reason']}")
            continue
        if entry:
            line += f" -- acceptance EXPIRED on {entry['expires']}"
        print(line)
        failed += 1
    return failed


def run(cmd, cwd=None):
    """A command's CompletedProcess (text output captured, never raising on a non-zero status)."""
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


def npm_findings(directory, registry=None):
    """High and critical advisories for the production dependencies locked in DIR/package-lock.json."""
    check = f"npm {directory}"
    cmd = ["npm", "audit", "--omit=dev", "--audit-level=high", "--json"]
    if registry:
        cmd.append(f"--registry={registry}")
    proc = run(cmd, cwd=directory)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = {}
    if "vulnerabilities" not in report or "error" in report:
        reason = report.get("message") or (proc.stderr.strip().splitlines() or ["no report"])[-1]
        return [Finding(check, UNREACHABLE, "npm", f"npm audit got no advisories: {reason}")]
    findings = []
    for vuln in report["vulnerabilities"].values():
        # `via` lists the advisories against this package itself (objects) and, for a package that is only
        # vulnerable through a dependency, that dependency's name (a string, reported under its own entry).
        for adv in vuln.get("via", []):
            if isinstance(adv, dict) and adv.get("severity") in NPM_SEVERITIES:
                adv_id = adv.get("url", "").rstrip("/").rsplit("/", 1)[-1] or str(adv.get("source"))
                findings.append(Finding(check, adv_id, adv["name"],
                                        f"{adv['severity']}: {adv.get('title', '')} ({adv['name']} {adv.get('range', '')})"))
    return sorted(set(findings), key=lambda f: (f.package, f.id))


def pip_findings(requirements=None, osv_url=None):
    """Known vulnerabilities (OSV's advisory data, any severity) in this interpreter's environment, or in a
    pinned requirements file (its lines only: --no-deps, nothing installed)."""
    check = f"pip {requirements or 'venv'}"
    # OSV rather than pip-audit's default (PyPI's JSON API): OSV holds PyPI's advisories and GitHub's, and a
    # service that does not answer is an error; PyPI answering 404 makes pip-audit skip the package as unknown.
    cmd = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off",
           "--vulnerability-service", "osv"]
    if osv_url:
        cmd += ["--osv-url", osv_url]
    if requirements:
        cmd += ["--requirement", str(requirements), "--no-deps", "--disable-pip"]
    else:
        # The venv's own packages: Debian's (python3-apt, certbot, ... seen through --system-site-packages) carry
        # Debian's version numbers and fixes, which PyPI advisories do not describe.
        cmd.append("--local")
    proc = run(cmd)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = {}
    if "dependencies" not in report:
        reason = (proc.stderr.strip().splitlines() or ["no report"])[-1]
        return [Finding(check, UNREACHABLE, "pip", f"pip-audit got no advisories: {reason}")]
    findings = []
    for dep in report["dependencies"]:
        if "skip_reason" in dep:
            # pip-audit reports a package it could not look up as skipped and the run as clean: not here.
            findings.append(Finding(check, "not-audited", dep["name"], dep["skip_reason"]))
        for vuln in dep.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions", [])) or "none"
            findings.append(Finding(check, vuln["id"], dep["name"], f"{dep['name']} {dep['version']} (fixed in: {fixed})",
                                    tuple(vuln.get("aliases", []))))
    return findings


def reachable(host, port=443, timeout=5.0):
    """None when a TCP connection to host:port opens, else why not (for the report)."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return None
    except socket.gaierror:
        return "name does not resolve"
    except OSError as err:
        return err.strerror or type(err).__name__


def maven_report(directory, sources=MAVEN_SOURCES):
    """The line saying why the Maven dependencies of DIR are not audited (probing the advisory sources)."""
    probes = {host: reachable(host) for host in sources}
    down = ", ".join(f"{host} ({why})" for host, why in probes.items() if why)
    up = [host for host, why in probes.items() if not why]
    if up:
        reason = f"no Maven auditor is wired up although {', '.join(up)} answers (docs/security.md#audits)"
    else:
        reason = f"no advisory source for Maven answers from this machine: {down}"
    return f"[audit] maven {directory}: NOT AUDITED: {reason}"


# Runs in a throwaway container of the image, as root: fetch only the security suite's index (any fetch error
# fails: --error-on=any), then simulate a full upgrade. Every `Inst pkg [installed] (candidate ...)` line is a
# security update the image lacks.
APT_PROBE = r"""
set -e
echo "deb $AUDIT_MIRROR $AUDIT_SUITE main" >/tmp/audit.list
opts="-o Dir::Etc::SourceList=/tmp/audit.list -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=/tmp/lists"
mkdir -p /tmp/lists/partial
apt-get -q $opts --error-on=any update >&2
ls /tmp/lists | grep -q '_Packages' || { echo "no package index fetched" >&2; exit 3; }
apt-get -s $opts dist-upgrade
"""
INST = re.compile(r"^Inst (\S+) \[(\S+)\] \((\S+) ", re.M)


def local_images(pattern=r"^(deployer/|demo-)"):
    """References of the engine's images whose repository matches `pattern` (the set make images builds and
    scripts/export-images.sh exports)."""
    proc = run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"])
    if proc.returncode:
        raise RuntimeError(f"docker images failed: {proc.stderr.strip()}")
    return sorted({ref for ref in proc.stdout.split() if re.match(pattern, ref) and "<none>" not in ref})


def image_findings(image, mirror=DEBIAN_SECURITY_MIRROR, suite=DEBIAN_SUITE):
    """Security updates (from mirror's suite) that `image` has not installed."""
    check = f"debian {image}"
    proc = run(["docker", "run", "--rm", "--user", "0", "--entrypoint", "/bin/sh",
                "-e", f"AUDIT_MIRROR={mirror}", "-e", f"AUDIT_SUITE={suite}", image, "-c", APT_PROBE])
    if proc.returncode:
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(("E:", "W:", "Err:", "docker:"))]
        reason = "; ".join(lines[-3:]) or (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return [Finding(check, UNREACHABLE, "debian", f"apt could not read {suite} from {mirror}: {reason}")]
    return [Finding(check, new, pkg, f"{pkg} {old} -> {new} ({suite})") for pkg, old, new in INST.findall(proc.stdout)]


def main(argv=None, today=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     epilog="checks: npm=DIR, pip[=REQUIREMENTS], maven=DIR, images[=REF]")
    parser.add_argument("checks", nargs="+", metavar="CHECK")
    parser.add_argument("--accept", default=ACCEPT_FILE, help="accept list (default: %(default)s)")
    parser.add_argument("--npm-registry", help="npm registry whose advisory endpoint to ask (default: npm's)")
    parser.add_argument("--osv-url", help="OSV query URL for pip-audit (default: pip-audit's, api.osv.dev)")
    parser.add_argument("--debian-mirror", default=DEBIAN_SECURITY_MIRROR, help="default: %(default)s")
    args = parser.parse_args(argv)
    today = today or datetime.date.today()
    try:
        entries = load_accept_list(args.accept)
    except (AcceptListError, yaml.YAMLError) as err:
        print(f"[audit] {err}", file=sys.stderr)
        return 1
    findings, failed, not_audited = [], 0, []
    for spec in args.checks:
        kind, _, value = spec.partition("=")
        if kind == "npm" and value:
            found = npm_findings(value, args.npm_registry)
        elif kind == "pip":
            found = pip_findings(value or None, args.osv_url)
        elif kind == "maven" and value:
            print(maven_report(value))
            not_audited.append(spec)
            continue
        elif kind == "images":
            try:
                refs = [value] if value else local_images()
            except RuntimeError as err:
                print(f"[audit] {err}", file=sys.stderr)
                return 1
            print(f"[audit] images: {len(refs)} image(s) against {args.debian_mirror} {DEBIAN_SUITE}: {' '.join(refs)}")
            found = [f for ref in refs for f in image_findings(ref, args.debian_mirror)]
            if not refs:
                found = [Finding("images", "no-images", "debian", "no deployer/* or demo-* image: run make images")]
        else:
            parser.error(f"unknown check {spec!r}")
        print(f"[audit] {spec}: {len(found)} finding(s)")
        failed += judge(found, entries, today)
        findings += found
    for entry in entries:
        if entry["expires"] < today and not any(matches(entry, f) for f in findings):
            print(f"[audit] note: the acceptance of {entry['id']} in {entry['package']} has expired: remove it")
    not_audited += [f.check for f in findings if f.id == UNREACHABLE]
    # A pass with checks that could not run says so in its last line too: it is not a clean bill.
    gaps = f"; NOT AUDITED: {', '.join(not_audited)}" if not_audited else ""
    print(f"[audit] {'FAILED' if failed else 'passed'}: {failed} finding(s) not accepted{gaps}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # each line as it comes, between make's own lines
    sys.exit(main())
