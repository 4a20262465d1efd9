# Filesystem helpers. Paths are relative to the board's "/": plain relative
# paths while the working directory is "/" (as after boot), else prefixed.
import os
import json

ROOT = "" if os.getcwd() == "/" else "/"
OTA = ".ota"
STAGE = ".ota/stage"
BACKUP = ".ota/backup"
PART = ".ota/part"


def p(rel):
    return ROOT + rel


def exists(rel):
    try:
        os.stat(p(rel))
        return True
    except OSError:
        return False


def size(rel):
    try:
        return os.stat(p(rel))[6]
    except OSError:
        return -1


def is_dir(rel):
    try:
        return os.stat(p(rel))[0] & 0x4000 != 0
    except OSError:
        return False


def makedirs(rel):
    # Creates every missing parent directory of the file `rel`.
    i = rel.find("/")
    while i > 0:
        d = rel[:i]
        if not exists(d):
            os.mkdir(p(d))
        i = rel.find("/", i + 1)


def remove(rel):
    try:
        os.remove(p(rel))
    except OSError:
        pass


def rmtree(rel):
    if not is_dir(rel):
        remove(rel)
        return
    for e in os.ilistdir(p(rel)):
        rmtree(rel + "/" + e[0])
    os.rmdir(p(rel))


def walk(rel, out, base=""):
    # Appends every file path under `rel`, relative to it.
    if not is_dir(rel):
        return out
    for e in os.ilistdir(p(rel)):
        sub = base + e[0]
        if e[1] & 0x4000:
            walk(rel + "/" + e[0], out, sub + "/")
        else:
            out.append(sub)
    return out


def move(src, dst):
    # Renames, replacing dst (FAT's rename refuses an existing target).
    makedirs(dst)
    try:
        os.rename(p(src), p(dst))
    except OSError:
        if not exists(src):
            raise
        remove(dst)
        os.rename(p(src), p(dst))


def read_json(rel):
    # A missing file falls back to its complete `.tmp` (see write_json).
    for name in (rel, rel + ".tmp"):
        try:
            with open(p(name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass
    return None


def write_json(rel, obj):
    # Write then rename: readers see the old or the new document, whole.
    makedirs(rel)
    with open(p(rel + ".tmp"), "w") as f:
        f.write(json.dumps(obj))  # one write: json.dump writes token by token
    move(rel + ".tmp", rel)


def free_bytes():
    s = os.statvfs("/")
    return s[0] * s[4]


def total_bytes():
    s = os.statvfs("/")
    return s[0] * s[2]
