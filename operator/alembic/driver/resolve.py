# Runs as `python3 -c` with argv ROOT ALEMBIC, after a first line `BOOT = "<bootstrap.py>"` the
# C++ side puts before it: finds the interpreter of the alembic script (its #! line, or pip's
# `#!/bin/sh` trampoline) and runs BOOT in it.
import os
import re
import shutil
import sys

root, cmd = sys.argv[1], sys.argv[2]
if root:
    os.chdir(root)
path = shutil.which(cmd) or cmd
try:
    with open(path, "rb") as f:
        head = f.read(1024).decode("utf-8", "replace").splitlines()
except OSError as e:
    sys.stderr.write("alembic-sidecar: cannot read %s (from --alembic-cmd %s): %s\n"
                     % (path, cmd, e.strerror))
    sys.exit(127)
argv = head[0][2:].split() if head and head[0].startswith("#!") else []
if argv and os.path.basename(argv[0]) in ("sh", "bash") and len(head) > 1:
    m = re.search(r"exec'\s+\"?([^\"\s]+)", head[1])
    argv = [m.group(1)] if m else []
if not argv:
    sys.stderr.write("alembic-sidecar: %s is not a Python script with a #! line; pass --python\n"
                     % path)
    sys.exit(127)
if len(argv) == 1 and os.path.realpath(shutil.which(argv[0]) or argv[0]) == \
        os.path.realpath(sys.executable):
    exec(BOOT)  # noqa: F821 - defined by the line the C++ side puts first
else:
    try:
        os.execvp(argv[0], argv + ["-c", BOOT])  # noqa: F821
    except OSError as e:
        sys.stderr.write("alembic-sidecar: cannot run %s (the interpreter of %s): %s\n"
                         % (argv[0], path, e.strerror))
        sys.exit(127)
