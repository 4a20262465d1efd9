# Board files that belong to the updater or the board, not to a release: no
# manifest may write, delete or keep-replace them (docs/protocols.md, "Reserved
# paths"). The host refuses to release them from the same list
# (src/core/reserved.ts); a test holds the two lists equal. Compared
# case-insensitively because FAT folds case (".OTA/x" is ".ota/x").
RESERVED = ("ota_config.json", "version.json", "boot.py", ".ota", "ota")


def reserved(path):
    p = path.lower()
    for r in RESERVED:
        if p == r or p.startswith(r + "/"):
            return r
    return None
