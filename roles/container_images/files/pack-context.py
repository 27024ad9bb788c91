#!/usr/bin/env python3
"""Pack a source directory into a reproducible .tar.gz (sorted names, mtime 0, owner 0:0).

Runs on the controller. Usage: pack-context.py SRC_DIR [--exclude=name,...] [--exclude-top=name,...]
Prints the path of the archive, written in a new temporary directory. The same sources always
give the same bytes, so copying the archive to the host is idempotent. Any path component named
in --exclude (node_modules, dist, target, ...) is skipped with everything below it; names in
--exclude-top are skipped at the top level only (the files the role renders into the context:
Dockerfile, .dockerignore, ... so that an app's own copies do not fight with them).
"""
import gzip
import io
import os
import sys
import tarfile
import tempfile


def main(argv):
    src = os.path.abspath(argv[1])
    excludes, top = set(), set()
    for arg in argv[2:]:
        if arg.startswith("--exclude="):
            excludes.update(x for x in arg.split("=", 1)[1].split(",") if x)
        elif arg.startswith("--exclude-top="):
            top.update(x for x in arg.split("=", 1)[1].split(",") if x)
    if not os.path.isdir(src):
        sys.exit(f"pack-context: {src} is not a directory")
    entries = []
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in excludes and not (root == src and d in top))
        rel_root = os.path.relpath(root, src)
        for name in sorted(dirs + [f for f in files if f not in excludes]):
            rel = os.path.normpath(os.path.join(rel_root, name))
            if rel in top:
                continue
            entries.append(rel)
    out_dir = tempfile.mkdtemp(prefix="container-images-")
    out = os.path.join(out_dir, "src.tar.gz")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(entries):
            path = os.path.join(src, rel)
            info = tar.gettarinfo(path, arcname=rel)
            if info.islnk():
                # A second name of a hard-linked file: tarfile makes it a link entry, stored as a
                # regular file instead so it is archived (with its content) like any other file.
                info.type, info.linkname, info.size = tarfile.REGTYPE, "", os.lstat(path).st_size
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                info.mode = 0o755 if info.mode & 0o111 else 0o644
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            elif info.isdir():
                info.mode = 0o755
                tar.addfile(info)
            elif info.issym():
                tar.addfile(info)
    with open(out, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(buf.getvalue())
    print(out)


if __name__ == "__main__":
    main(sys.argv)
