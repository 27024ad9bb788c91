"""Fixtures for the image build tests: a temporary inventory for this machine's engine, copies of
the demo application (or small stand-ins while files/demo-app is incomplete) and a runner."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
DEMO = ROOT / "files" / "demo-app"
EXTRA_CA = "/etc/ssl/certs/ca-certificates.crt"

INVENTORY = """\
all:
  children:
    app_servers:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

STANDIN_PACKAGE = """{
  "name": "standin-frontend", "version": "1.0.0", "private": true,
  "scripts": {"build": "node build.js"},
  "devDependencies": {"is-number": "7.0.0"}
}
"""
STANDIN_LOCK = """{
  "name": "standin-frontend", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": {"name": "standin-frontend", "version": "1.0.0", "devDependencies": {"is-number": "7.0.0"}},
    "node_modules/is-number": {
      "version": "7.0.0", "resolved": "https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz",
      "integrity": "sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==",
      "dev": true, "engines": {"node": ">=0.12.0"}
    }
  }
}
"""
STANDIN_BUILD = """const fs = require('fs');
require('is-number');
fs.mkdirSync('dist/assets', { recursive: true });
const js = fs.readFileSync('src/app.js', 'utf8');
const hash = require('crypto').createHash('sha256').update(js).digest('hex').slice(0, 8);
fs.writeFileSync(`dist/assets/app-${hash}.js`, js);
fs.writeFileSync('dist/index.html', `<!doctype html><div id="root"></div><script src="/assets/app-${hash}.js"></script>`);
"""
STANDIN_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>demo</groupId><artifactId>standin-backend</artifactId><version>1.0.0</version>
  <properties><maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <dependencies><dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId>
    <version>42.5.5</version></dependency></dependencies>
  <build><finalName>app</finalName><plugins>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-surefire-plugin</artifactId><version>2.22.3</version></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-jar-plugin</artifactId><version>3.3.0</version>
      <configuration><archive><manifest><mainClass>demo.App</mainClass></manifest></archive></configuration></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-shade-plugin</artifactId><version>3.4.1</version>
      <executions><execution><phase>package</phase><goals><goal>shade</goal></goals></execution></executions></plugin>
  </plugins></build>
</project>
"""
STANDIN_APP = """package demo;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;

public class App {
    public static void main(String[] args) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress(8080), 0);
        server.createContext("/actuator/health", ex -> {
            byte[] body = "{\\"status\\":\\"UP\\"}".getBytes();
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
    }
}
"""


def _real_demo_ready():
    return (DEMO / "frontend" / "package.json").is_file() and (DEMO / "frontend" / "package-lock.json").is_file() \
        and (DEMO / "backend" / "pom.xml").is_file()


def _write_standins(frontend, backend):
    (frontend / "src").mkdir(parents=True)
    (frontend / "package.json").write_text(STANDIN_PACKAGE)
    (frontend / "package-lock.json").write_text(STANDIN_LOCK)
    (frontend / "build.js").write_text(STANDIN_BUILD)
    (frontend / "src" / "app.js").write_text('console.log("stand-in");\n')
    (backend / "src" / "main" / "java" / "demo").mkdir(parents=True)
    (backend / "pom.xml").write_text(STANDIN_POM)
    (backend / "src" / "main" / "java" / "demo" / "App.java").write_text(STANDIN_APP)


@pytest.fixture(scope="session")
def docker_available():
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory, docker_available):
    """Inventory, source copies and build dir in one temp directory."""
    base = tmp_path_factory.mktemp("images")
    (base / "inventory.yml").write_text(INVENTORY)
    frontend, backend = base / "src" / "frontend", base / "src" / "backend"
    ignore = shutil.ignore_patterns("node_modules", "dist", "target")
    if _real_demo_ready():
        shutil.copytree(DEMO / "frontend", frontend, ignore=ignore)
        shutil.copytree(DEMO / "backend", backend, ignore=ignore)
        kind = "demo app"
    else:
        _write_standins(frontend, backend)
        kind = "stand-ins (files/demo-app is incomplete)"
    print(f"\n[images] sources: {kind}")
    return {"base": base, "frontend": frontend, "backend": backend, "build": base / "build"}


@pytest.fixture(scope="session")
def run_images(workspace):
    """Run playbooks/images.yml; returns (returncode, output, seconds)."""
    app_name = os.environ.get("IMAGES_TEST_APP_NAME", "itest")
    extra = {
        "container_images_app_name": app_name,
        "container_images_app_version": "1.0.0",
        "container_images_flavor": os.environ.get("IMAGES_TEST_FLAVOR", "auto"),
        "container_images_frontend_src": str(workspace["frontend"]),
        "container_images_backend_src": str(workspace["backend"]),
        "container_images_build_dir": str(workspace["build"]),
        "container_images_extra_ca_bundle": EXTRA_CA if Path(EXTRA_CA).is_file() else "",
    }

    def run(*args):
        cmd = [str(VENV_BIN / "ansible-playbook"), "playbooks/images.yml", "-i", str(workspace["base"] / "inventory.yml"),
               "-e", __import__("json").dumps(extra), *args]
        env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
               "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started

    run.app_name = app_name
    return run
