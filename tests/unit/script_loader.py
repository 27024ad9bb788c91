"""Load the project's stand-alone scripts (hyphenated or extensionless file names, benchmarks/) as modules for
unit tests."""

import importlib.util
from importlib.machinery import SourceFileLoader
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_script(relpath, name):
    """The module at ROOT/relpath, imported under `name` (its `if __name__ == "__main__"` block does not run)."""
    path = str(ROOT / relpath)
    spec = importlib.util.spec_from_file_location(name, path, loader=SourceFileLoader(name, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
