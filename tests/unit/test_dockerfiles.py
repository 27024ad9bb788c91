"""The application Dockerfile templates and the registry-free base Dockerfiles: structure,
pinning, users, labels, build-only CA, no secrets, and hadolint (no Docker needed)."""

import re
from pathlib import Path

import pytest
import yaml
from ansible.template import trust_as_template

from ansible_render import templar

from conftest import REGISTRY_FREE, ROOT, hadolint, image_is_pinned, instructions, render_dockerfile, stages

ROLE = ROOT / "roles" / "container_images"
OCI_LABELS = ("title", "version", "revision", "created", "source")
CA = "/etc/ssl/certs/ca-certificates.crt"

FRONTEND_CASES = [
    pytest.param({"container_images_flavor": flavor, "container_images_extra_ca_bundle": ca,
                  "container_images_npm_registry": registry},
                 id=f"{flavor}-{'ca' if ca else 'noca'}-{'mirror' if registry else 'npmjs'}")
    for flavor in ("official", "registry_free")
    for ca in ("", CA)
    for registry in ("", "https://npm.example.com/")
]
BACKEND_CASES = [
    pytest.param({"container_images_flavor": flavor, "container_images_extra_ca_bundle": ca,
                  "container_images_backend_prebuilt_jar": jar, "container_images_backend_cds": False,
                  "container_images_backend_runtime": runtime,
                  "container_images_maven_mirror_url": "https://maven.example.com/maven2" if not jar else ""},
                 id=f"{flavor}-{'ca' if ca else 'noca'}-{'prebuilt' if jar else 'maven'}-{runtime}")
    for flavor in ("official", "registry_free")
    for ca in ("", CA)
    for jar in ("", "/srv/app.jar")
    for runtime in ("jlink", "jre")
]
# Spring Boot's layers, least changing first, each its own COPY (its own image layer).
BOOT_LAYERS = ("dependencies", "spring-boot-loader", "snapshot-dependencies", "application")
EXTRACT = "java -Djarmode=tools -jar /build/app.jar extract --layers --destination /build/extracted"
# The jlink runtime's stage: the jars of the dependency layers in, the linked runtime out.
JRE_COPY = "--from=jre /build/jre/ /opt/java/"


def _check_jre_stage(parsed, flavor):
    """The jlink stage: FROM the flavor's JDK (Maven) image, fed the dependency layers before the linking
    (so a source-only change reuses it), the application after it, for the module check only."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    jdk = defaults["container_images_official_maven"] if flavor == "official" else "deployer/maven:3.8.7-17"
    jre = [stage for stage in parsed if stage[0][1].endswith(" AS jre")]
    assert len(jre) == 1 and jre[0][0][1] == f"{jdk} AS jre"
    body = jre[0]
    deps = body.index(("COPY", "--from=build /build/extracted/dependencies/ /build/extracted/dependencies/"))
    link = next(i for i, (k, a) in enumerate(body) if k == "RUN" and "jlink --add-modules" in a)
    app = body.index(("COPY", "--from=build /build/extracted/application/ /build/extracted/application/"))
    check = next(i for i, (k, a) in enumerate(body) if k == "RUN" and "modules missing from the runtime" in a)
    assert deps < link < app < check
    run = body[link][1]
    assert "jdeps --ignore-missing-deps --print-module-deps --multi-release 17" in run
    assert '"${modules},jdk.crypto.ec"' in run, "container_images_backend_jlink_modules are added"
    for option in ("--no-man-pages", "--no-header-files", "--compress=2", "--generate-cds-archive"):
        assert option in run
    # Debian's jlink --strip-debug runs objcopy (binutils), which the JDK images lack.
    assert "--strip-debug" not in run and "--strip-java-debug-attributes" in run
    expected_os = defaults["container_images_official_debian"] if flavor == "official" else "deployer/debian:bookworm"
    assert parsed[-1][0][1] == expected_os
    return defaults


def _labels(stage):
    text = " ".join(args for keyword, args in stage if keyword == "LABEL")
    return dict(re.findall(r'([\w.-]+)="([^"]*)"', text))


def _user(stage):
    users = [args for keyword, args in stage if keyword == "USER"]
    return users[-1] if users else "root"


def _common_checks(text, vars_):
    parsed = stages(text)
    assert len(parsed) >= 2, "multi-stage build expected"
    for stage in parsed:
        ref = stage[0][1].split()[0]
        assert image_is_pinned(ref), f"unpinned FROM {ref}"
    final = parsed[-1]
    user = _user(final).split(":")[0]
    assert user not in ("root", "0", ""), "the runtime stage must run as a non-root user"
    labels = _labels(final)
    for name in OCI_LABELS:
        assert labels.get(f"org.opencontainers.image.{name}"), f"missing OCI label {name}"
    assert labels["org.opencontainers.image.revision"] == "0123456789ab"
    # No secret material baked in: no password/token/secret variables, no COPY of key files.
    for keyword, args in instructions(text):
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"(?i)(passw|secret|token|api_?key|credential)", args), f"{keyword} {args}"
        if keyword == "COPY":
            assert not re.search(r"(?i)(\.key|id_rsa|\.env\b|secrets?/)", args), f"COPY {args}"
    # The extra CA: only in build stages, and only when asked for.
    # (A prebuilt jar needs no network in its build stage, so no CA either.)
    ca_wanted = bool(vars_.get("container_images_extra_ca_bundle")) and not vars_.get("container_images_backend_prebuilt_jar")
    for index, stage in enumerate(parsed):
        has_ca = any("extra-ca" in args for _, args in stage)
        if index == len(parsed) - 1:
            assert not has_ca, "the extra CA must stay out of the runtime stage"
    assert ("extra-ca.pem" in text) == ca_wanted
    return parsed


@pytest.mark.parametrize("vars_", FRONTEND_CASES)
def test_frontend_dockerfile(vars_, tmp_path):
    text = render_dockerfile("frontend.Dockerfile.j2", **vars_)
    parsed = _common_checks(text, vars_)
    build, final = parsed[0], parsed[-1]
    flavor = vars_["container_images_flavor"]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    expected_node = defaults["container_images_official_node"] if flavor == "official" else "deployer/node:18"
    expected_nginx = defaults["container_images_official_nginx"] if flavor == "official" else "deployer/nginx:1.22"
    assert build[0][1] == f"{expected_node} AS build"
    assert final[0][1] == expected_nginx
    # Dependencies first (cached layer), then the sources, then the build.
    body = [(k, a) for k, a in build]
    copy_lock = body.index(("COPY", "package.json package-lock.json ./"))
    npm_ci = next(i for i, (k, a) in enumerate(body) if k == "RUN" and a.startswith("npm ci"))
    copy_src = body.index(("COPY", ". ."))
    npm_build = next(i for i, (k, a) in enumerate(body) if k == "RUN" and "npm run build" in a)
    assert copy_lock < npm_ci < copy_src < npm_build
    assert "gzip -9 -k -n" in body[npm_build][1], "assets are pre-compressed for gzip_static"
    if vars_["container_images_extra_ca_bundle"]:
        env = " ".join(a for k, a in build if k == "ENV")
        assert "NODE_EXTRA_CA_CERTS=" in env and "npm_config_cafile=" in env
    assert ("npm_config_registry=https://npm.example.com/" in text) == bool(vars_["container_images_npm_registry"])
    assert ("COPY", "--from=build /src/dist/ /usr/share/nginx/html/") in final
    assert _user(final) == "101:101"
    assert ("EXPOSE", "8080") in final
    assert not any(k == "HEALTHCHECK" for k, _ in final), "compose defines the frontend health check"
    assert not any(k == "RUN" and re.search(r"\b(npm|node)\b", a) for k, a in final)
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    code, output = hadolint(path)
    assert code == 0, output


@pytest.mark.parametrize("vars_", BACKEND_CASES)
def test_backend_dockerfile(vars_, tmp_path):
    text = render_dockerfile("backend.Dockerfile.j2", **vars_)
    parsed = _common_checks(text, vars_)
    build, final = parsed[0], parsed[-1]
    prebuilt = bool(vars_["container_images_backend_prebuilt_jar"])
    if prebuilt:
        assert not any("mvn" in a for _, a in build)
        assert ("COPY", "app.jar /build/app.jar") in build
        copy_jar = build.index(("COPY", "app.jar /build/app.jar"))
        extract = next(i for i, (k, a) in enumerate(build) if k == "RUN" and EXTRACT in a)
        assert copy_jar < extract
        assert "maven-settings.xml" not in text and "ImportCa.java" not in text
    else:
        body = list(build)
        pom = body.index(("COPY", "pom.xml ./"))
        warm = next(i for i, (k, a) in enumerate(body) if k == "RUN" and "-DskipTests" in a)
        src = body.index(("COPY", "src ./src"))
        full = next(i for i, (k, a) in enumerate(body) if k == "RUN" and a.startswith("mvn -B -DskipTests package"))
        extract = next(i for i, (k, a) in enumerate(body) if k == "RUN" and EXTRACT in a)
        assert pom < warm < src < full < extract
        assert "COPY maven-settings.xml /root/.m2/settings.xml" in text
        if vars_["container_images_extra_ca_bundle"]:
            assert any(k == "RUN" and "ImportCa.java" in a for k, a in build)
    # The extracted layers, not the fat jar: one COPY per layer, in Spring Boot's order, so a source-only
    # change rebuilds and ships the application layer (and what follows it) only; the linked runtime first.
    jlink = vars_["container_images_backend_runtime"] == "jlink"
    copies = [a for k, a in final if k == "COPY"]
    assert copies == [JRE_COPY] * jlink + [f"--from=build /build/extracted/{layer}/ /app/" for layer in BOOT_LAYERS]
    if jlink:
        _check_jre_stage(parsed, vars_["container_images_flavor"])
        env = " ".join(a for k, a in final if k == "ENV")
        assert "JAVA_HOME=/opt/java" in env and "PATH=/opt/java/bin:" in env
    else:
        assert not any(stage[0][1].endswith(" AS jre") for stage in parsed) and "jlink" not in text
    assert "/build/app.jar /app" not in text
    assert _user(final) == "10001:10001"
    assert ("WORKDIR", "/app") in final
    assert ("STOPSIGNAL", "SIGTERM") in final
    assert ("EXPOSE", "8080") in final
    env = " ".join(a for k, a in final if k == "ENV")
    assert "-XX:MaxRAMPercentage=75" in env and "-XX:+ExitOnOutOfMemoryError" in env
    # The GC is named: a 1-CPU limit would otherwise get Serial while the CDS training run of a multi-core
    # build got G1.
    assert "-XX:+UseG1GC" in env
    entry = [a for k, a in final if k == "ENTRYPOINT"]
    assert entry == ['["/usr/local/bin/app-entrypoint"]']
    # java is PID 1 (exec), with $JAVA_OPTS, on the thin jar whose manifest names lib/*.jar.
    assert "'exec java $JAVA_OPTS -jar /app/app.jar \"$@\"'" in text
    assert "SharedArchiveFile" not in text and "ArchiveClassesAtExit" not in text, "CDS is off in these cases"
    health = [a for k, a in final if k == "HEALTHCHECK"]
    assert len(health) == 1 and "/dev/tcp/127.0.0.1/8080" in health[0] and "/readyz" in health[0]
    assert "curl" not in health[0]
    assert not any(k == "RUN" and re.search(r"\b(mvn|javac)\b", a) for k, a in final)
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    code, output = hadolint(path)
    assert code == 0, output


@pytest.mark.parametrize("jar", ["", "/srv/app.jar"], ids=["maven", "prebuilt"])
def test_backend_dockerfile_with_cds(jar, tmp_path):
    vars_ = {"container_images_flavor": "registry_free", "container_images_backend_prebuilt_jar": jar,
             "container_images_backend_cds": True}
    text = render_dockerfile("backend.Dockerfile.j2", **vars_)
    final = _common_checks(text, vars_)[-1]
    copies = [i for i, (k, _) in enumerate(final) if k == "COPY"]
    assert [final[i][1] for i in copies] == [JRE_COPY] + [f"--from=build /build/extracted/{layer}/ /app/"
                                                         for layer in BOOT_LAYERS]
    # The training run: after the last layer, before USER (it writes /app/app.jsa as root, read-only later),
    # with the image's $JAVA_OPTS (the same GC as at run time), no database (Flyway off for this run only:
    # a -D of this RUN, not an ENV that would reach production).
    env = next(i for i, (k, _) in enumerate(final) if k == "ENV")
    train = [i for i, (k, a) in enumerate(final) if k == "RUN" and "-XX:ArchiveClassesAtExit=/app/app.jsa" in a]
    user = next(i for i, (k, _) in enumerate(final) if k == "USER")
    assert len(train) == 1 and env < copies[-1] < train[0] < user
    run = final[train[0]][1]
    assert run.startswith("java $JAVA_OPTS ") and "-Dspring.context.exit=onRefresh" in run
    assert "-Dspring.flyway.enabled=false" in run and "-jar /app/app.jar" in run
    assert not any(k == "ENV" and "flyway" in a.lower() for k, a in final)
    # The entrypoint maps the archive, still exec'ing java as PID 1.
    assert "'exec java $JAVA_OPTS -XX:SharedArchiveFile=/app/app.jsa -jar /app/app.jar \"$@\"'" in text
    assert [a for k, a in final if k == "ENTRYPOINT"] == ['["/usr/local/bin/app-entrypoint"]']
    assert ("STOPSIGNAL", "SIGTERM") in final and _user(final) == "10001:10001"
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    code, output = hadolint(path)
    assert code == 0, output


def test_jlink_runtime_is_the_default():
    text = render_dockerfile("backend.Dockerfile.j2", container_images_flavor="registry_free")
    parsed = stages(text)
    assert [stage[0][1] for stage in parsed] == ["deployer/maven:3.8.7-17 AS build", "deployer/maven:3.8.7-17 AS jre",
                                                 "deployer/debian:bookworm"]
    assert 'org.opencontainers.image.base.name="deployer/debian:bookworm"' in text


def test_cds_is_on_by_default():
    text = render_dockerfile("backend.Dockerfile.j2", container_images_flavor="registry_free")
    assert "-XX:SharedArchiveFile=/app/app.jsa" in text and "-XX:ArchiveClassesAtExit=/app/app.jsa" in text


def test_build_args_are_declared_after_the_dependency_layer():
    text = render_dockerfile("frontend.Dockerfile.j2", container_images_flavor="registry_free",
                             container_images_frontend_build_args={"VITE_API_BASE": "/api"})
    build = stages(text)[0]
    arg = build.index(("ARG", "VITE_API_BASE"))
    npm_ci = next(i for i, (k, a) in enumerate(build) if k == "RUN" and a.startswith("npm ci"))
    assert arg > npm_ci, "build args must not invalidate the npm ci layer"
    assert "/api" not in text, "build arg values are passed at build time, not rendered"


REGISTRY_FREE_IMAGES = sorted(p.name for p in REGISTRY_FREE.iterdir() if (p / "Dockerfile").exists())


def test_every_registry_free_image_has_a_dockerfile_and_every_dockerfile_is_used():
    role_vars = yaml.safe_load((ROOT / "roles/container_images/vars/main.yml").read_text())
    recipes = role_vars["container_images__registry_free_recipes"]
    names = templar(["container_images"]).template(trust_as_template("{{ container_images__registry_free_names }}"))
    assert names[-len(role_vars["container_images__monitoring"]):] == role_vars["container_images__monitoring"]
    dirs = {recipes.get(name, {}).get("dir", name) for name in names}
    assert sorted(dirs) == REGISTRY_FREE_IMAGES
    # The shared Dockerfile takes each program of the Prometheus set from its recipe.
    tools = {name for name, r in recipes.items() if r.get("dir") == "prometheus-tool"}
    assert tools == set(role_vars["container_images__monitoring"]) - {"cadvisor", "haproxy"}
    for name in tools:
        assert set(recipes[name]["args"]) <= {"PACKAGE", "COMMAND", "DATA_DIR", "PRUNE"}


@pytest.mark.parametrize("name", REGISTRY_FREE_IMAGES)
def test_registry_free_dockerfile(name):
    path = REGISTRY_FREE / name / "Dockerfile"
    text = path.read_text()
    parsed = instructions(text)
    assert parsed[0] == ("ARG", "BASE_IMAGE=deployer/debian:bookworm")
    assert ("FROM", "${BASE_IMAGE}") in parsed
    for keyword, args in parsed:
        if keyword == "RUN" and "apt-get install" in args:
            for install in re.findall(r"apt-get install[^&]*", args):
                assert "--no-install-recommends" in install, install
            assert "rm -rf /var/lib/apt/lists/*" in args, "apt lists must not stay in the layer"
    labels = " ".join(a for k, a in parsed if k == "LABEL")
    for label in ("title", "description", "version", "base.name"):
        assert f"org.opencontainers.image.{label}=" in labels
    # An ARG before the first FROM is not seen after a FROM: the stage that labels the base declares it again.
    last_from = max(i for i, (k, _) in enumerate(parsed) if k == "FROM")
    assert ("ARG", "BASE_IMAGE") in parsed[last_from:], "base.name would be empty"
    nobody = {"prometheus-tool", "cadvisor", "haproxy"}
    expected_user = {"postgres": "999:999", "redis": "999:999"}.get(name, "65534:65534" if name in nobody else None)
    users = [a for k, a in parsed if k == "USER"]
    assert (users[-1] if users else None) == expected_user
    code, output = hadolint(path)
    assert code == 0, output


def test_registry_free_contracts():
    # The official prom/* images: the program as entrypoint (the stack passes every flag), nobody, data owned by it.
    tool = (REGISTRY_FREE / "prometheus-tool" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/usr/local/bin/component"]' in tool and 'ln -s "/usr/bin/${COMMAND}"' in tool
    assert 'install -d -o 65534 -g 65534 -m 0750 "${DATA_DIR}"' in tool and "ca-certificates" in tool
    nginx = (REGISTRY_FREE / "nginx" / "Dockerfile").read_text()
    assert "--uid 101" in nginx and "--gid 101" in nginx and "STOPSIGNAL SIGQUIT" in nginx
    assert "ln -sf /dev/stdout /var/log/nginx/access.log" in nginx
    assert 'CMD ["nginx", "-g", "daemon off;"]' in nginx
    postgres = (REGISTRY_FREE / "postgres" / "Dockerfile").read_text()
    assert postgres.index("--uid 999") < postgres.index("apt-get install")
    assert "STOPSIGNAL SIGINT" in postgres and "PGDATA=/var/lib/postgresql/data" in postgres
    assert "PATH=/usr/lib/postgresql/15/bin:" in postgres
    entry = (REGISTRY_FREE / "postgres" / "docker-entrypoint.sh").read_text()
    for needle in ("POSTGRES_PASSWORD", "POSTGRES_USER postgres", "POSTGRES_DB", "POSTGRES_INITDB_ARGS",
                   "/docker-entrypoint-initdb.d/", "scram-sha-256", 'exec "$@"'):
        assert needle in entry, needle
    redis = (REGISTRY_FREE / "redis" / "Dockerfile").read_text()
    assert redis.index("--uid 999") < redis.index("apt-get install")
    assert "WORKDIR /data" in redis and 'CMD ["redis-server"]' in redis
    # Spring Boot is not packaged by Debian: the builder goes to Maven Central like the official image.
    maven = (REGISTRY_FREE / "maven" / "Dockerfile").read_text()
    assert "maven-repo" not in maven and "settings.xml" not in maven


def test_defaults_are_prefixed_documented_and_specified():
    defaults_text = (ROLE / "defaults" / "main.yml").read_text()
    defaults = yaml.safe_load(defaults_text)
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert all(name.startswith("container_images_") for name in defaults)
    assert set(defaults) == set(specs), set(defaults) ^ set(specs)
    assert specs["container_images_flavor"]["choices"] == ["auto", "official", "registry_free"]
    assert all("type" in spec for spec in specs.values())
    vars_ = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    assert all(name.startswith("container_images__") for name in vars_)
    lines = defaults_text.splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^container_images_\w+:", line):
            above = lines[index - 1] if index else ""
            assert above.startswith("#") or re.match(r"^container_images_\w+:", above), f"undocumented: {line}"
    for key in ("node", "nginx", "maven", "jre", "postgres", "redis", "debian"):
        assert image_is_pinned(defaults[f"container_images_official_{key}"])


@pytest.mark.parametrize("cds", [True, False], ids=["cds", "nocds"])
def test_build_created_is_declared_after_the_last_run(cds):
    # The role passes a new BUILD_CREATED per build; a RUN after the ARG would miss the cache every time and
    # every later layer (the dependencies too) would be new.
    text = render_dockerfile("backend.Dockerfile.j2", container_images_flavor="registry_free",
                             container_images_backend_cds=cds)
    final = stages(text)[-1]
    arg = final.index(("ARG", "BUILD_CREATED=unknown"))
    assert all(i < arg for i, (k, _) in enumerate(final) if k == "RUN")
    assert arg < next(i for i, (k, _) in enumerate(final) if k == "LABEL")
