"""playbooks/images.yml on this machine's engine: the application images are built, carry no build
toolchain, run as their unprivileged users, are not rebuilt when nothing changed, and a one-line
source change rebuilds them from the cached dependency layer.

    pytest -m integration tests/integration/test_images.py -s     (-s shows sizes and times)
"""

import json
import re
import subprocess

import pytest

pytestmark = pytest.mark.integration


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def recap_changed(output):
    match = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", output)
    assert match, output[-3000:]
    return int(match.group(1))


def refs_from(output):
    """container_images_refs as reported by the role's last task."""
    block = output[output.rindex("container_images_refs:"):]
    refs = dict(re.findall(r"^\s+(\w+): (\S+)$", block.split("\n\n")[0], re.M))
    assert set(refs) >= {"edge", "frontend", "backend", "postgres", "redis"}, block[:500]
    return refs


def step_cached(output, step):
    """True when a build log shows `step` answered from the layer cache."""
    for chunk in output.split("Step ")[1:]:
        head = chunk.split("\n", 1)[0]
        if step in head and "Using cache" in chunk[:400]:
            return True
    return False


def size_mb(ref):
    return int(docker("image", "inspect", "-f", "{{.Size}}", ref).stdout.strip()) / 1e6


@pytest.fixture(scope="module")
def first_run(run_images):
    code, output, seconds = run_images()
    assert code == 0, output[-5000:]
    print(f"\n[images] first run: {seconds:.0f}s, changed={recap_changed(output)}")
    refs = refs_from(output)
    yield refs, output
    # Only the images this test made (the application images of its own app name).
    for key in ("frontend", "backend"):
        docker("rmi", refs[key], check=False)


def test_app_images_exist_with_refs(first_run, run_images):
    refs, _ = first_run
    assert refs["frontend"] == f"{run_images.app_name}-frontend:1.0.0"
    assert refs["backend"] == f"{run_images.app_name}-backend:1.0.0"
    for key in refs:
        docker("image", "inspect", refs[key])
    for key in ("frontend", "backend"):
        labels = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", refs[key]).stdout)
        assert re.fullmatch(r"[0-9a-f]{64}", labels["io.deployer.context-hash"])
        for name in ("title", "version", "revision", "created", "source"):
            assert labels[f"org.opencontainers.image.{name}"]


def test_runtime_images_have_no_build_toolchain(first_run):
    refs, _ = first_run
    frontend = docker("run", "--rm", "--entrypoint", "sh", refs["frontend"], "-c", "command -v npm node", check=False)
    assert frontend.returncode != 0, frontend.stdout
    backend = docker("run", "--rm", "--entrypoint", "sh", refs["backend"], "-c", "command -v javac mvn", check=False)
    assert backend.returncode != 0, backend.stdout
    java = docker("run", "--rm", "--entrypoint", "sh", refs["backend"], "-c", "command -v java && test -s /app/app.jar")
    assert "java" in java.stdout


def test_runtime_users(first_run):
    refs, _ = first_run
    assert docker("run", "--rm", "--entrypoint", "id", refs["frontend"], "-u").stdout.strip() == "101"
    assert docker("run", "--rm", "--entrypoint", "id", refs["backend"], "-u").stdout.strip() == "10001"
    health = json.loads(docker("image", "inspect", "-f", "{{json .Config.Healthcheck}}", refs["backend"]).stdout)
    assert "/readyz" in " ".join(health["Test"])


def test_frontend_serves_with_a_read_only_root(first_run):
    """As the stack runs it: uid 101, read-only root, tmpfs on /tmp and /var/cache/nginx, port 8080."""
    refs, _ = first_run
    name = "itest-images-frontend-ro"
    docker("rm", "-f", name, check=False)
    docker("run", "-d", "--name", name, "--read-only", "--user", "101:101", "--cap-drop", "ALL",
           "--tmpfs", "/tmp:uid=101,gid=101", "--tmpfs", "/var/cache/nginx:uid=101,gid=101", refs["frontend"])
    try:
        probe = ("for i in $(seq 50); do exec 3<>/dev/tcp/127.0.0.1/8080 2>/dev/null && break; sleep 0.1; done; "
                 "printf 'GET /some/client/route HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && cat <&3")
        response = docker("exec", name, "bash", "-c", probe).stdout
        assert re.match(r"HTTP/1\.[01] 200", response), response[:300]
        assert "<div id=" in response or "<!doctype" in response.lower(), "SPA fallback to index.html expected"
        # The bundle ships pre-compressed and nginx serves that copy (gzip_static), not a fresh compression.
        bundle = docker("exec", name, "bash", "-c", "ls /usr/share/nginx/html/assets/*.js | head -1").stdout.strip()
        assert docker("exec", name, "test", "-s", bundle + ".gz", check=False).returncode == 0, bundle
        # HTTP/1.1 as the edge speaks upstream (nginx compresses nothing for HTTP/1.0 clients).
        probe_gz = probe.replace("Host: localhost", "Host: localhost\\r\\nAccept-Encoding: gzip\\r\\nConnection: close").replace(
            "/some/client/route HTTP/1.0", bundle.removeprefix("/usr/share/nginx/html") + " HTTP/1.1")
        response = docker("exec", name, "bash", "-c", probe_gz + " | tr -d '\\r' | sed '/^$/q'").stdout  # headers only
        assert "Content-Encoding: gzip" in response, response[:300]
    finally:
        docker("rm", "-f", name, check=False)


def test_image_sizes(first_run):
    refs, output = first_run
    flavor = re.search(r"container_images flavor: (\w+)", output).group(1)
    builders = {"official": {}, "registry_free": {"node builder": "deployer/node:18", "maven builder": "deployer/maven:3.8.7-17"}}
    rows = [(key, refs[key]) for key in ("frontend", "backend", "edge", "postgres", "redis")]
    rows += list(builders.get(flavor, {}).items())
    print(f"\n[images] sizes ({flavor}):")
    for name, ref in rows:
        print(f"  {name:14} {ref:40} {size_mb(ref):7.0f} MB")
    if flavor == "registry_free":
        assert size_mb(refs["frontend"]) < size_mb("deployer/node:18")
        # The CDS archive (container_images_backend_cds, 74 MB for the demo) is made for the runtime image and
        # can outweigh the builder's toolchain: compare the rest.
        archive = docker("run", "--rm", "--entrypoint", "sh", refs["backend"], "-c",
                         "stat -c %s /app/app.jsa 2>/dev/null || echo 0").stdout.strip()
        print(f"  CDS archive    {int(archive) / 1e6:.0f} MB")
        assert size_mb(refs["backend"]) - int(archive) / 1e6 < size_mb("deployer/maven:3.8.7-17")


def test_second_run_changes_nothing(first_run, run_images):
    code, output, seconds = run_images()
    assert code == 0, output[-5000:]
    print(f"\n[images] second run: {seconds:.0f}s")
    assert recap_changed(output) == 0, output[-5000:]


def layers(ref):
    return json.loads(docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", ref).stdout)


def test_one_line_change_rebuilds_from_cached_dependencies(first_run, run_images, workspace):
    refs, _ = first_run
    before = {key: docker("image", "inspect", "-f", "{{.Id}}", refs[key]).stdout.strip() for key in ("frontend", "backend")}
    backend_layers = layers(refs["backend"])
    cds = "ArchiveClassesAtExit" in docker("history", "--no-trunc", refs["backend"]).stdout
    frontend_file = next(p for p in sorted((workspace["frontend"] / "src").rglob("*"))
                         if p.is_file() and p.suffix in (".js", ".jsx", ".ts", ".tsx"))
    backend_file = next(p for p in sorted((workspace["backend"] / "src" / "main").rglob("*.java")))
    frontend_file.write_text(frontend_file.read_text() + "\n// one-line change\n")
    # One line of code (not a comment): the compiled application changes.
    backend_file.write_text(backend_file.read_text() + "\nclass OneLineChange { static final int LINE = 1; }\n")
    code, output, seconds = run_images("-v")
    assert code == 0, output[-5000:]
    print(f"\n[images] rebuild after a one-line change: {seconds:.0f}s")
    assert recap_changed(output) > 0
    after = {key: docker("image", "inspect", "-f", "{{.Id}}", refs[key]).stdout.strip() for key in ("frontend", "backend")}
    assert before["frontend"] != after["frontend"] and before["backend"] != after["backend"]
    # The legacy builder prints "Step n/m : RUN npm ci ..." then " ---> Using cache" for a cached layer.
    for step in ("RUN npm ci", "RUN mvn -B -q -DskipTests package"):
        assert step_cached(output, step), f"{step} was not cached"
    # Spring Boot's layers: only the application layer (and the CDS archive, made from the whole classpath)
    # changed; the JRE, the user and the dependency and loader layers kept their digests, so a host that
    # has the previous release pulls or loads only those.
    after_layers = layers(refs["backend"])
    changed = [i for i, (old, new) in enumerate(zip(backend_layers, after_layers)) if old != new]
    top = len(after_layers) - 1
    print(f"\n[images] backend layers: {len(after_layers)}, changed: {changed} (CDS: {cds})")
    assert len(after_layers) == len(backend_layers)
    assert changed == ([top - 1, top] if cds else [top])
    # The replaced images are removed by the role (container_images_remove_replaced), not left dangling.
    for key in ("frontend", "backend"):
        assert docker("image", "inspect", before[key], check=False).returncode != 0, f"{key}: old image left behind"
