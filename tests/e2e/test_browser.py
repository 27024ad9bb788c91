"""Real browsers against the deployed stack through the edge: tests/browser/stack.test.mjs, run once in
Debian's Chromium and once in Debian's Firefox ESR (puppeteer-core: CDP and WebDriver BiDi; no browser
download). The SPA adds an item that a reload still lists, says to wait when the edge answers 429, and
Swagger UI's "Try it out" works, with no CSP violation, script error or console error. A failing test
leaves a screenshot in .cache/reports/browser/."""

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "browser"


@pytest.mark.parametrize("browser", ["chromium", "firefox"])
def test_the_stack_in_a_real_browser(deployed, browser):
    assert (SUITE / "node_modules" / "puppeteer-core").is_dir(), "run make setup (npm ci in tests/browser)"
    env = {**os.environ, "BROWSER": browser, "BASE_URL": "https://localhost",
           "ARTIFACTS": str(ROOT / ".cache" / "reports" / "browser")}
    run = subprocess.run(["node", "--test", "--test-reporter=spec", "stack.test.mjs"], cwd=SUITE, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    print(run.stdout[-4000:])
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
