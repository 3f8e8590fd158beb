#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pgz against gzip (and pigz where its users expect the same): each case
runs one command line through every tool, each in a fresh copy of the same
directory, and compares exit statuses, messages (the program name aside),
standard output and the resulting files: names, modes, mtimes, and for
gzip data the decompressed content and the header's name and mtime
(compressed bytes differ between deflate implementations).

"No permission" runs the tools as the user nobody (setpriv), since root
reads and writes anything.

Usage: test_pgz_compat.py PGZ [CASE...]
"""
import gzip as gz
import os
import pty
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

PGZ = os.path.abspath(sys.argv[1])
PIGZ = shutil.which("pigz")
TMP = tempfile.mkdtemp(prefix="pgz-compat-")
os.chmod(TMP, 0o755)


def stage_for_nobody():
    """pgz and the libcchain it loads, copied where the user nobody can run them:
    the build tree may lie under a directory only its owner may enter (mktemp -d).
    Return: the staged binary and the environment that makes it find its library."""
    stage = os.path.join(TMP, "nobody-bin")
    os.mkdir(stage)
    os.chmod(stage, 0o755)
    binary = os.path.join(stage, "pgz")
    shutil.copy2(PGZ, binary)
    ldd = subprocess.run(["ldd", PGZ], capture_output=True, text=True, check=True).stdout
    for line in ldd.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("libcchain.so") and "=>" in parts:
            shutil.copy2(parts[parts.index("=>") + 1], os.path.join(stage, parts[0]))
    return binary, {"LD_LIBRARY_PATH": stage}


PGZ_NOBODY, NOBODY_ENV = stage_for_nobody()
T0 = 1577934245  # input mtimes, so that header and file times are checked

TEXT = b"".join(b"line %d of some compressible text\n" % i for i in range(20000))
SMALL = b"hello world hello world\n"
RANDOM = random.Random(1).randbytes(300000)  # incompressible: a tiny loss


def gzip_bytes(data, name=None, mtime=T0):
    """A gzip member made by Python's zlib, the reference for inputs."""
    buf = bytearray(b"\x1f\x8b\x08" + (b"\x08" if name else b"\x00"))
    buf += mtime.to_bytes(4, "little") + b"\x00\x03"
    if name:
        buf += name + b"\0"
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    buf += c.compress(data) + c.flush()
    buf += (zlib.crc32(data) & 0xffffffff).to_bytes(4, "little")
    buf += (len(data) & 0xffffffff).to_bytes(4, "little")
    return bytes(buf)


def make_tree(root, files):
    for name, spec in files.items():
        p = os.path.join(root, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if isinstance(spec, tuple) and spec[0] == "symlink":
            os.symlink(spec[1], p)
            continue
        if isinstance(spec, tuple) and spec[0] == "hardlink":
            os.link(os.path.join(root, spec[1]), p)
            continue
        mode = 0o644
        if isinstance(spec, tuple):
            spec, mode = spec
        with open(p, "wb") as f:
            f.write(spec)
        os.chmod(p, mode)
        os.utime(p, (T0, T0))


def describe_data(data):
    """Decompressed content and header fields for gzip data, else the bytes."""
    if data[:2] != b"\x1f\x8b":
        return ("raw", data)
    try:
        out = gz.decompress(data)
    except Exception as e:  # noqa: BLE001 - a damaged output is a difference
        return ("bad gzip", repr(e))
    flg = data[3]
    name = data[10:data.index(b"\0", 10)] if flg & 8 else None
    return ("gzip", out, name, int.from_bytes(data[4:8], "little"))


def snapshot(root):
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                result[rel] = ("dir", oct(st.st_mode & 0o7777))
            elif stat.S_ISLNK(st.st_mode):
                result[rel] = ("symlink", os.readlink(p))
            else:
                with open(p, "rb") as f:
                    result[rel] = (oct(st.st_mode & 0o7777), int(st.st_mtime), st.st_nlink,
                                   describe_data(f.read()))
    return result


def normalize(text, prog):
    lines = []
    for line in text.decode(errors="replace").splitlines():
        if line.startswith(prog + ":"):
            line = "PROG:" + line[len(prog) + 1:]
        line = line.replace(f"`{prog} --help'", "`PROG --help'")
        lines.append(line.replace(f"type: {prog} -h", "type: PROG -h"))
    return "\n".join(lines)


def run(tool, files, args, stdin=b"", user=None, setup=None, tty=None, full=False):
    root = tempfile.mkdtemp(dir=TMP)
    os.chmod(root, 0o755)
    make_tree(root, files)
    if setup:
        setup(root)
    pgz = PGZ_NOBODY if user else PGZ
    prog = {"gzip": "gzip", "pgz": pgz, "pigz": PIGZ}[tool]
    cmd = [prog, *args]
    if tool == "pgz":
        cmd = [pgz, "-p", "2", *args]
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    if user:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        if tool == "pgz":
            env.update(NOBODY_ENV)
    if tty:
        # A terminal on the standard stream named by tty.
        master, slave = pty.openpty()
        std = {"stdin": None, "stdout": subprocess.PIPE}
        std[tty] = slave
        p = subprocess.run(cmd, cwd=root, stdin=std["stdin"] if tty == "stdin" else
                           subprocess.DEVNULL, stdout=std["stdout"],
                           stderr=subprocess.PIPE, timeout=120, env=env)
        os.close(slave)
        os.close(master)
    elif full:
        with open("/dev/full", "wb") as out:
            p = subprocess.run(cmd, cwd=root, input=stdin, stdout=out,
                               stderr=subprocess.PIPE, timeout=120, env=env)
    else:
        p = subprocess.run(cmd, cwd=root, input=stdin, capture_output=True, timeout=120,
                           env=env)
    if user and p.returncode == 127:
        raise AssertionError(f"{prog} cannot be started as the user nobody\n"
                             f"{p.stderr.decode(errors='replace')}")
    name = {"gzip": "gzip", "pgz": "pgz", "pigz": "pigz"}[tool]
    if setup:  # let the snapshot read what the tool could not
        subprocess.run(["chmod", "-R", "u+rwX", root], check=True)
    return {"status": p.returncode, "stderr": normalize(p.stderr, name),
            "stdout": describe_data(p.stdout or b""), "files": snapshot(root)}


# name: (files, args, options); options: stdin, pigz (also compare with
# pigz: a set of the fields to compare), user, setup, stdout_raw.
F = {"f": TEXT, "g": (SMALL, 0o640)}
CASES = {
    "compress": (F, ["f"], {"pigz": {"status", "files"}}),
    "compress several": (F, ["f", "g"], {"pigz": {"status", "files"}}),
    "keep": (F, ["-k", "f"], {"pigz": {"status", "files"}}),
    "stdout": (F, ["-c", "f"], {"pigz": {"status", "files", "stdout"}}),
    "stdout several": (F, ["-c", "f", "g"], {}),
    "verbose": (F, ["-v", "f", "g"], {}),
    "verbose keep": (F, ["-vk", "g"], {}),
    "quiet": ({"f": TEXT, "f.gz": b"x"}, ["-q", "f"], {}),
    "fast": (F, ["-1", "f"], {"pigz": {"status", "files"}}),
    "best": (F, ["-9", "f"], {"pigz": {"status", "files"}}),
    "level 4": (F, ["-4", "-k", "f"], {"pigz": {"status", "files"}}),
    "--fast": (F, ["--fast", "f"], {"pigz": {"status", "files"}}),
    "--best": (F, ["--best", "f"], {"pigz": {"status", "files"}}),
    "no name": (F, ["-n", "f"], {"pigz": {"status", "files"}}),
    "name": (F, ["-N", "f"], {"pigz": {"status", "files"}}),
    "suffix": (F, ["-S", ".zz", "f"], {"pigz": {"status", "files"}}),
    "suffix decompress": ({"f.zz": gzip_bytes(TEXT, b"f")}, ["-d", "-S", ".zz", "f.zz"],
                          {"pigz": {"status", "files"}}),
    "invalid suffix": (F, ["-S", "", "f"], {}),
    "recursive": ({"d/a": TEXT, "d/e/b": SMALL, "d/e/c.gz": gzip_bytes(SMALL)}, ["-r", "d"],
                  {}),
    "recursive decompress": ({"d/a.gz": gzip_bytes(TEXT, b"a"), "d/e/b.gz": gzip_bytes(SMALL),
                              "d/e/c": SMALL}, ["-dr", "d"], {}),
    "directory": ({"d/a": TEXT}, ["d"], {}),
    "stdin": (F, ["-n"], {"stdin": TEXT, "pigz": {"status", "stdout"}}),
    "stdin dash": (F, ["-n", "-"], {"stdin": TEXT, "pigz": {"status", "stdout"}}),
    "stdin and files": (F, ["-nc", "f", "-", "g"], {"stdin": SMALL}),
    "empty": ({"e": b""}, ["e"], {"pigz": {"status", "files"}}),
    "empty stdin": ({}, ["-n"], {"stdin": b""}),
    "decompress": ({"f.gz": gzip_bytes(TEXT, b"f")}, ["-d", "f.gz"],
                   {"pigz": {"status", "files"}}),
    "decompress name": ({"x.gz": gzip_bytes(TEXT, b"f")}, ["-dN", "x.gz"],
                        {"pigz": {"status", "files"}}),
    "decompress keep verbose": ({"f.gz": gzip_bytes(TEXT, b"f")}, ["-dkv", "f.gz"], {}),
    "decompress without suffix": ({"f.gz": gzip_bytes(TEXT, b"f")}, ["-d", "f"], {}),
    "decompress unknown suffix": (F, ["-d", "f"], {}),
    "decompress stdout": ({"f.gz": gzip_bytes(TEXT, b"f")}, ["-dc", "f.gz"],
                          {"pigz": {"status", "files", "stdout"}}),
    "decompress stdin": ({}, ["-d"], {"stdin": gzip_bytes(TEXT)}),
    "decompress empty member": ({"e.gz": gzip_bytes(b"", b"e")}, ["-d", "e.gz"],
                                {"pigz": {"status", "files"}}),
    "decompress empty file": ({"e.gz": b""}, ["-d", "e.gz"], {"pigz": {"status", "files"}}),
    "multi-member": ({"m.gz": gzip_bytes(TEXT, b"m") + gzip_bytes(SMALL) + gzip_bytes(b"")},
                     ["-d", "m.gz"], {"pigz": {"status", "files"}}),
    "multi-member test": ({"m.gz": gzip_bytes(TEXT) + gzip_bytes(SMALL)}, ["-tv", "m.gz"], {}),
    "trailing garbage": ({"t.gz": gzip_bytes(SMALL, b"t") + b"garbage"}, ["-d", "t.gz"], {}),
    "trailing zeros": ({"t.gz": gzip_bytes(SMALL, b"t") + bytes(700)}, ["-d", "t.gz"], {}),
    "zeros then garbage": ({"t.gz": gzip_bytes(SMALL) + bytes(7) + b"x"}, ["-t", "t.gz"], {}),
    "truncated member after one": ({"t.gz": gzip_bytes(SMALL) + gzip_bytes(TEXT)[:30]},
                                   ["-t", "t.gz"], {}),
    "one stray byte": ({"t.gz": gzip_bytes(SMALL) + b"\x1f"}, ["-t", "t.gz"], {}),
    "crc error": ({"c.gz": gzip_bytes(TEXT)[:-8] + b"\0\0\0\0" + gzip_bytes(TEXT)[-4:]},
                  ["-d", "c.gz"], {"pigz": {"status", "files"}}),
    "length error": ({"c.gz": gzip_bytes(TEXT)[:-4] + b"\0\0\0\0"}, ["-t", "c.gz"],
                     {"pigz": {"status", "files"}}),
    "truncated": ({"c.gz": gzip_bytes(TEXT)[:200]}, ["-d", "c.gz"],
                  {"pigz": {"status", "files"}}),
    "corrupt deflate": ({"c.gz": gzip_bytes(SMALL)[:10] + b"\xff" * 20}, ["-t", "c.gz"],
                        {"pigz": {"status"}}),
    "not gzip": ({"n.gz": b"not gzip data at all\n"}, ["-d", "n.gz"],
                 {"pigz": {"status", "files"}}),
    "not gzip force stdout": ({"n.gz": b"plain\n"}, ["-dcf", "n.gz"], {}),
    "test": ({"f.gz": gzip_bytes(TEXT, b"f")}, ["-t", "f.gz"], {"pigz": {"status", "files"}}),
    "test verbose": ({"f.gz": gzip_bytes(TEXT, b"f")}, ["-tv", "f.gz"], {}),
    "list": ({"f.gz": gzip_bytes(TEXT, b"f"), "n.gz": gzip_bytes(SMALL)},
             ["-l", "f.gz", "n.gz"], {}),
    "list verbose": ({"f.gz": gzip_bytes(TEXT, b"f")}, ["-lv", "f.gz"], {}),
    "list stored time": ({"x.gz": gzip_bytes(TEXT, b"f", 1234567890), "n.gz": gzip_bytes(SMALL)},
                         ["-lv", "x.gz", "n.gz"], {}),
    "list stored name": ({"x.gz": gzip_bytes(TEXT, b"f", 1234567890), "n.gz": gzip_bytes(SMALL)},
                         ["-lvN", "x.gz", "n.gz"], {}),
    "list tiny loss": ({"r.gz": gzip_bytes(RANDOM, b"r")}, ["-l", "r.gz"], {}),
    "list quiet": ({"f.gz": gzip_bytes(TEXT, b"f")}, ["-lq", "f.gz"], {}),
    "exists": ({"f": TEXT, "f.gz": b"old"}, ["f"], {}),
    "exists force": ({"f": TEXT, "f.gz": b"old"}, ["-f", "f"], {"pigz": {"status", "files"}}),
    "already suffixed": ({"f.gz": gzip_bytes(TEXT)}, ["f.gz"], {}),
    "missing": (F, ["f", "nothing", "g"], {"pigz": {"status", "files"}}),
    "symlink": ({"f": TEXT, "s": ("symlink", "f")}, ["s"], {}),
    "symlink force": ({"f": TEXT, "s": ("symlink", "f")}, ["-f", "s"], {}),
    "symlink stdout": ({"f": TEXT, "s": ("symlink", "f")}, ["-c", "s"], {}),
    "hard link": ({"f": TEXT, "h": ("hardlink", "f")}, ["f"], {}),
    "hard link keep": ({"f": TEXT, "h": ("hardlink", "f")}, ["-k", "f"], {}),
    "hard link force": ({"f": TEXT, "h": ("hardlink", "f")}, ["-f", "f"], {}),
    "space in name": ({"a b": TEXT}, ["a b"], {"pigz": {"status", "files"}}),
    "leading dash": ({"-x": TEXT}, ["--", "-x"], {"pigz": {"status", "files"}}),
    "leading dash decompress": ({"-x.gz": gzip_bytes(TEXT)}, ["-d", "--", "-x.gz"], {}),
    "unreadable": ({"f": (TEXT, 0o000)}, ["f"],
                   {"user": True, "setup": "own"}),
    "read-only directory": (F, ["f"], {"user": True, "setup": "rodir"}),
    "invalid option": (F, ["-x", "f"], {}),
    "disk full": (F, ["-c", "f"], {"full": True}),
    "disk full decompress": ({"f.gz": gzip_bytes(TEXT)}, ["-dc", "f.gz"], {"full": True}),
    "terminal output stdin": (F, [], {"tty": "stdout"}),
    "terminal input": (F, ["-d"], {"tty": "stdin"}),
    "decompress unreadable": ({"f.gz": (gzip_bytes(TEXT), 0o000)}, ["-d", "f.gz"],
                              {"user": True, "setup": "own"}),
    "decompress read-only directory": ({"f.gz": gzip_bytes(TEXT)}, ["-d", "f.gz"],
                                       {"user": True, "setup": "rodir"}),
    "level 0": (F, ["-0", "f"], {"only_pigz": True}),
    "help": (F, ["-h"], {"fields": {"status", "files"}}),
    "--help": (F, ["--help"], {"fields": {"status", "files"}}),
    "version": (F, ["-V"], {"fields": {"status", "files"}}),
    "--version": (F, ["--version"], {"fields": {"status", "files"}}),
}


def setup_for(kind):
    def own(root):
        os.chown(root, 65534, 65534)
        for n in os.listdir(root):
            os.chown(os.path.join(root, n), 65534, 65534)

    def rodir(root):
        own(root)
        os.chmod(root, 0o555)
    return {"own": own, "rodir": rodir, None: None}[kind]


def compare(name, ref_tool, tool, fields):
    files, args, o = CASES[name]
    kw = dict(stdin=o.get("stdin", b""), user=o.get("user"), setup=setup_for(o.get("setup")),
              tty=o.get("tty"), full=o.get("full", False))
    a = run(ref_tool, files, args, **kw)
    b = run(tool, files, args, **kw)
    for field in fields:
        if a[field] != b[field]:
            raise AssertionError(f"{name} {args}: {field} differs:\n{ref_tool}: "
                                 f"{a[field]!r}\n{tool}: {b[field]!r}")


def test_cases():
    failures = []
    for name, (files, args, o) in CASES.items():
        try:
            if not o.get("only_pigz"):
                compare(name, "gzip", "pgz",
                        o.get("fields", {"status", "stderr", "stdout", "files"}))
            if PIGZ and (o.get("pigz") or o.get("only_pigz")):
                compare(name, "pigz", "pgz", o.get("pigz", {"status", "files", "stdout"}))
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        raise AssertionError(f"{len(failures)} of {len(CASES)} cases differ:\n" +
                             "\n".join(failures))


if __name__ == "__main__":
    if not PIGZ:
        print("pigz is not installed: pgz is compared with gzip only")
    sys.exit(run_tests(globals(), sys.argv[2:],
                       cleanup=lambda: subprocess.run(["rm", "-rf", TMP], check=False)))
