"""roles/container_images/files/pack-context.py: the reproducible source archive the role copies to the host
(its stdout is the archive's path; the role deletes that path's directory afterwards)."""

import os
import shutil
import tarfile
import tempfile

import pytest

from script_loader import load_script

pack_context = load_script("roles/container_images/files/pack-context.py", "pack_context")

# As the role calls it (container_images_context_excludes and the files it renders into the context).
EXCLUDES = "--exclude=node_modules,dist,target,.git,,coverage"
EXCLUDE_TOP = "--exclude-top=Dockerfile,.dockerignore,nginx.conf"


@pytest.fixture(autouse=True)
def _temp_in_tmp_path(tmp_path, monkeypatch):
    """The archives' new temporary directories go below this test's tmp_path."""
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(out))


def _tree(root, files):
    """Create files {relative path: content}; a value (content, mode) sets the mode."""
    for rel, content in files.items():
        content, mode = content if isinstance(content, tuple) else (content, 0o644)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(mode)
    return root


def _pack(capsys, src, *args):
    pack_context.main(["pack-context.py", str(src), *args])
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    return out.strip()


APP = {
    "Dockerfile": "FROM app's own\n",
    ".dockerignore": "*\n",
    "package.json": "{}\n",
    "run.sh": ("#!/bin/sh\n", 0o700),
    "secret-ish.txt": ("private\n", 0o600),
    "src/main.js": "console.log(1)\n",
    "src/Dockerfile": "a nested Dockerfile is the app's own file\n",
    "examples/nginx.conf/site.conf": "so is a nested directory named like a rendered file\n",
    "node_modules/left-pad/index.js": "x\n",
    "src/node_modules/dep.js": "x\n",
    "dist/bundle.js": "x\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    "coverage": "a file named like an excluded directory is excluded too\n",
}


def test_archive_holds_the_tree_without_excluded_names(tmp_path, capsys):
    src = _tree(tmp_path / "app", APP)
    (src / "link").symlink_to("package.json")
    archive = _pack(capsys, src, EXCLUDES, EXCLUDE_TOP)

    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        # sorted, top-level Dockerfile/.dockerignore dropped, node_modules/dist/.git/coverage dropped at any depth
        assert names == ["examples", "examples/nginx.conf", "examples/nginx.conf/site.conf", "link", "package.json",
                         "run.sh", "secret-ish.txt", "src", "src/Dockerfile", "src/main.js"]
        by_name = {m.name: m for m in members}
        assert tar.extractfile("src/main.js").read() == b"console.log(1)\n"
        assert tar.extractfile("src/Dockerfile").read() == APP["src/Dockerfile"].encode()
    assert by_name["link"].issym() and by_name["link"].linkname == "package.json"
    assert by_name["src"].isdir() and by_name["src"].mode == 0o755
    # modes reduced to 0644 / 0755 (executable), so the umask of a checkout does not matter
    assert by_name["run.sh"].mode == 0o755
    assert by_name["secret-ish.txt"].mode == by_name["package.json"].mode == 0o644
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")


def test_the_printed_directory_holds_only_the_archive(tmp_path, capsys):
    """The role removes `stdout | dirname` after the copy: it must be a new directory of its own."""
    src = _tree(tmp_path / "app", {"a": "1\n"})
    first, second = _pack(capsys, src), _pack(capsys, src)
    assert os.path.dirname(first) != os.path.dirname(second)
    for archive in (first, second):
        assert os.path.basename(archive) == "src.tar.gz"
        assert os.listdir(os.path.dirname(archive)) == ["src.tar.gz"]
        assert os.path.dirname(os.path.dirname(archive)) == str(tmp_path / "out")


def test_same_sources_give_the_same_bytes(tmp_path, capsys):
    one = _tree(tmp_path / "one", APP)
    two = tmp_path / "elsewhere" / "two"
    shutil.copytree(one, two)
    # another checkout: other times, other permission bits that do not change the meaning
    os.utime(two / "package.json", (1_000_000, 1_000_000))
    (two / "package.json").chmod(0o664)
    (two / "run.sh").chmod(0o775)
    a = _pack(capsys, one, EXCLUDES, EXCLUDE_TOP)
    b = _pack(capsys, two, EXCLUDES, EXCLUDE_TOP)
    data = open(a, "rb").read()
    assert data == open(b, "rb").read()
    # gzip header: no file name flag, mtime 0
    assert data[3] & 0x08 == 0 and data[4:8] == b"\0\0\0\0"

    (two / "src" / "main.js").write_text("console.log(2)\n")
    assert open(_pack(capsys, two, EXCLUDES, EXCLUDE_TOP), "rb").read() != data


def test_hard_linked_files_are_archived_with_their_content(tmp_path, capsys):
    """A second name of a hard-linked file is a file of the context like any other: it must be in the
    archive with its content, and the archive must not depend on how the files are linked."""
    linked = _tree(tmp_path / "linked", {"a.txt": "same\n"})
    os.link(linked / "a.txt", linked / "b.txt")
    copied = _tree(tmp_path / "copied", {"a.txt": "same\n", "b.txt": "same\n"})
    archive = _pack(capsys, linked)
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["a.txt", "b.txt"]
        assert tar.extractfile("b.txt").read() == b"same\n"
    assert open(archive, "rb").read() == open(_pack(capsys, copied), "rb").read()


def test_special_files_are_left_out(tmp_path, capsys):
    """A named pipe (or socket) in a working tree is no build input; reading it would block the pack."""
    src = _tree(tmp_path / "app", {"a.txt": "1\n"})
    os.mkfifo(src / "dev.pipe")
    with tarfile.open(_pack(capsys, src)) as tar:
        assert tar.getnames() == ["a.txt"]


def test_a_missing_source_directory_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match=r"pack-context: .*/nope is not a directory"):
        pack_context.main(["pack-context.py", str(tmp_path / "nope")])
