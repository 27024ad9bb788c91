"""Filters for the Compose stack role.

Sizing: Postgres and Redis do not read cgroup limits, so their memory settings are
derived from the limit the stack gives them, with PGTune's rules of thumb (web profile).
Releases: which release directories and application images fall out of the rollback window.
Secrets: which password each server gets, from what the host runs, the inventory and the controller.
"""

import hashlib
import json
import re

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def size_to_bytes(value):
    """'768m' -> 805306368. Accepts Compose/Docker sizes: b, k, m, g, t (optionally with 'b'/'ib')."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*", str(value).lower())
    if not match:
        raise ValueError(f"not a memory size: {value!r} (use e.g. 512m or 2g)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit])


def _pg_size(num_bytes):
    """Postgres size literal, rounded down to whole MB (kB below 1 MB)."""
    if num_bytes >= 1024**2:
        return f"{num_bytes // 1024**2}MB"
    return f"{max(num_bytes // 1024, 64)}kB"


def pg_tuning(memory_limit, max_connections=100):
    """Postgres settings for a container with the given memory limit.

    shared_buffers 25 %, effective_cache_size 75 %, maintenance_work_mem 1/16,
    work_mem = (limit - shared_buffers) / (3 * max_connections), min 4 MB-ish floor of 64 kB.
    shm_size must hold shared_buffers plus parallel-query segments: give it shared_buffers + 64 MB.
    """
    limit = size_to_bytes(memory_limit)
    max_connections = int(max_connections)
    if limit < 128 * 1024**2:
        raise ValueError(f"postgres memory limit {memory_limit!r} is below 128m")
    shared_buffers = limit // 4
    work_mem = (limit - shared_buffers) // (3 * max_connections)
    return {
        "settings": {
            "max_connections": str(max_connections),
            "shared_buffers": _pg_size(shared_buffers),
            "effective_cache_size": _pg_size(limit * 3 // 4),
            "maintenance_work_mem": _pg_size(min(limit // 16, 2 * 1024**3)),
            "work_mem": _pg_size(work_mem),
        },
        "shm_size": f"{(shared_buffers + 64 * 1024**2) // 1024**2}m",
    }


def redis_maxmemory(memory_limit, ratio=0.75):
    """Redis maxmemory in bytes: a share of the container limit, leaving room for
    fragmentation, buffers and the AOF rewrite fork."""
    ratio = float(ratio)
    if not 0 < ratio < 1:
        raise ValueError(f"redis maxmemory ratio must be between 0 and 1, got {ratio}")
    return int(size_to_bytes(memory_limit) * ratio)


def releases_to_prune(manifests, keep, built):
    """manifests: {release: {service: image_ref}}; keep: releases to keep (rollback window);
    built: the services whose images are built per release (the contract's `build` services).

    Returns {"releases": [...], "images": [...]}: releases outside the window, and the
    built images only they use (base images such as postgres are never pruned).
    """
    built = set(built)
    keep = set(keep)
    kept_refs = {ref for release, images in manifests.items() if release in keep for ref in images.values()}
    pruned = sorted(release for release in manifests if release not in keep)
    images = sorted(
        {
            ref
            for release in pruned
            for service, ref in manifests[release].items()
            if service in built and ref not in kept_refs
        }
    )
    return {"releases": pruned, "images": images}


def release_history(history, release, keep, rollback=False):
    """The release stack after `release` went live: a deploy pushes it (an earlier entry of the same tag
    moves to the top), a rollback pops what lay above it; the newest `keep` entries are kept."""
    history = list(history or [])
    if rollback:
        if release not in history:
            raise ValueError(f"release {release} is not in the history {history}")
        history = history[: history.index(release) + 1]
    else:
        history = [entry for entry in history if entry != release] + [release]
    return history[-int(keep):]


def failed_containers(ps_lines, hash_lines):
    """IDs of the containers a failed release left behind: created from another definition than the live
    compose file asks for (`docker compose config --hash '*'` lines: "<service> <hash>") and not healthy.
    ps_lines: "<id>|<service>|<config hash>|<status>" (docker ps). A healthy one (a service the release had
    already replaced) stays until the live definition replaces it without downtime."""
    live = dict(line.split()[:2] for line in hash_lines if line.strip())
    failed = []
    for line in ps_lines:
        if not line.strip():
            continue
        cid, service, config_hash, status = line.split("|", 3)
        if config_hash != live.get(service) and "(healthy)" not in status:
            failed.append(cid)
    return failed


def unready_containers(containers):
    """"<name>: <status>" of each container (docker_host_info's list) that is not up and, when it has a
    health check, healthy: Compose's `--wait` can return 0 at its timeout with a container still
    "health: starting" (compose v2.40 waitDependencies ends its poll on the deadline without an error)."""
    unready = []
    for container in containers:
        status = container["Status"]
        if not status.startswith("Up") or "(health: starting)" in status or "(unhealthy)" in status:
            unready.append(f"{container['Names'][0].lstrip('/')}: {status}")
    return unready


def upstream_network(container, networks):
    """The first of `networks` on which a container (`docker container inspect` output) has an address: the
    network its service shares with the edge, else `app`, where a release from before the edge had a network per
    proxied service runs it. None of them fails loudly rather than leaving the edge with no server."""
    on = container["NetworkSettings"]["Networks"]
    for network in networks:
        if (on.get(network) or {}).get("IPAddress"):
            return network
    raise ValueError(f"container {container['Name']} has no address on {' or '.join(networks)}")


def upstream_servers(inspected, networks, port):
    """nginx `server` lines for containers (`docker container inspect` output), each by its address on its
    upstream_network: the edge's servers of a service during a rolling replacement."""
    return "".join(f"server {c['NetworkSettings']['Networks'][upstream_network(c, networks)]['IPAddress']}:{port}"
                   " max_fails=3 fail_timeout=10s;\n" for c in inspected)


def upstream_networks_used(inspected, networks):
    """The networks the edge must be on to reach these containers by their upstream_network."""
    return sorted({upstream_network(container, networks) for container in inspected})


def service_images(services):
    """{service: the image it runs}: its own, or another service's (`image: backend` for a worker)."""
    return {service["name"]: service.get("image") or service["name"] for service in services}


def compose_string(value):
    """A scalar as a compose.yaml string that arrives verbatim: JSON-quoted (valid YAML, so quotes and
    newlines cannot add keys) with `$` doubled (Compose would interpolate it from the host's environment)."""
    return json.dumps(str(value).replace("$", "$$"))


def added_service_limits(service):
    """{where, memory, cpus} of an added service's contract entry, defaults filled in: what compose.yaml
    gives it and what the preflight checks."""
    return {"where": f"stack_services[{service['name']}].", "memory": service.get("memory", "256m"),
            "cpus": service.get("cpus", "0.5")}


def choose_secret(sources, rotate=False):
    """Pick one password from `sources` ({explicit, host, stored, fresh}; '' where absent) and say why.

    The host's value wins over the controller's store, so a controller without the store adopts it;
    it changes only for an explicit (e.g. vaulted) value or a rotation. Returns {value, source, rotated, host}:
    source is explicit, rotation, host, stored or fresh; rotated is true when the host runs another value.
    """
    explicit, host, stored, fresh = (str(sources.get(k) or "").strip() for k in ("explicit", "host", "stored", "fresh"))
    if not fresh:
        raise ValueError("choose_secret needs a fresh random value")
    for source, value in (("explicit", explicit), ("rotation", fresh if rotate else ""), ("host", host),
                          ("stored", stored), ("fresh", fresh)):
        if value:
            return {"value": value, "source": source, "rotated": bool(host) and value != host, "host": host}


def host_passwords(secret_files, contents, running=None):
    """{password: the value the host's files hold} from the secret-file table and each file's text.

    Each entry may carry `parse`, a regex whose first group is the password (e.g. Redis's `requirepass`
    line); otherwise the whole file, trimmed, is. `running` ({secret name: text}) holds what a running
    server reads, which may be older than the file (a bind mount keeps a replaced file's inode); its value
    wins over the file's. The first file with a value wins. A value already taken by an earlier password
    is not adopted again: the stack never gives two passwords one value, so a shared one is a file from
    before they were split (e.g. the application reading the superuser's).
    """
    def read(entry, text):
        match = re.search(entry.get("parse", r"(?s)\A(.*)\Z"), text or "", re.MULTILINE)
        return match.group(1).strip() if match else ""

    found = {}
    for entry, text in zip(secret_files, contents):
        if found.get(entry["password"]):
            continue
        value = read(entry, (running or {}).get(entry.get("name"))) or read(entry, text)
        found[entry["password"]] = "" if value in found.values() else value
    return found


def secret_digests(services, secret_files, passwords, salt):
    """{service: a digest of the passwords it reads}, for the services that read any: the core services
    by the secret-file table's `reader`, added services by the table entries their `secrets` name. As a
    label, a rotation changes the definition of exactly the containers that read the rotated password.
    """
    by_name = {entry["name"]: entry["password"] for entry in secret_files}
    reads = {}
    for entry in secret_files:
        reads.setdefault(entry["reader"], set()).add(entry["password"])
    for service in services:
        for secret in service.get("secrets") or []:
            reads.setdefault(service["name"], set()).add(by_name[secret["source"]])
    return {name: hashlib.sha256(":".join([salt] + [passwords[p] for p in sorted(read)]).encode()).hexdigest()[:16]
            for name, read in reads.items()}


class FilterModule:
    def filters(self):
        return {
            "size_to_bytes": size_to_bytes,
            "pg_tuning": pg_tuning,
            "redis_maxmemory": redis_maxmemory,
            "releases_to_prune": releases_to_prune,
            "release_history": release_history,
            "failed_containers": failed_containers,
            "unready_containers": unready_containers,
            "upstream_servers": upstream_servers,
            "upstream_networks_used": upstream_networks_used,
            "service_images": service_images,
            "choose_secret": choose_secret,
            "host_passwords": host_passwords,
            "compose_string": compose_string,
            "added_service_limits": added_service_limits,
            "secret_digests": secret_digests,
        }
