"""Suite-wide rules.
- Tests parse ansible-playbook output: no colour codes in it, whatever the caller exports
  (the Makefile forces colour for humans).
- A skip is a missing prerequisite. On a developer machine that is a hint; in CI (CI=true),
  where `make setup` installs everything, it is a failure."""

import os

import pytest

os.environ["ANSIBLE_FORCE_COLOR"] = "0"
os.environ["ANSIBLE_NOCOLOR"] = "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every prerequisite must be present: {report.longrepr}"
