#!/usr/bin/env python3
"""Fail unless every collection pinned in requirements.yml is installed at that version.

Prints the missing ones; `make setup` then installs them from Galaxy when it answers.
"""
import json
import subprocess
import sys

import yaml

wanted = {c["name"]: str(c["version"]) for c in yaml.safe_load(open("requirements.yml"))["collections"]}
out = subprocess.run(["ansible-galaxy", "collection", "list", "--format", "json"],
                     capture_output=True, text=True, check=True).stdout
installed = {}
for path_entries in json.loads(out).values():
    for name, meta in path_entries.items():
        installed.setdefault(name, set()).add(meta["version"])
missing = [f"{n}:{v}" for n, v in wanted.items() if v not in installed.get(n, set())]
if missing:
    print("missing collections: " + " ".join(missing))
    sys.exit(1)
print("collections ok: " + ", ".join(f"{n} {v}" for n, v in wanted.items()))
