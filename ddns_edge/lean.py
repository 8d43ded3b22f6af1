"""Import dnspython without importlib.metadata: 4.6 MB of RSS that ddns-edge has no use for.

dnspython's dns._features imports importlib.metadata (and with it email, zipfile, csv,
pathlib ...) only to ask which optional packages are installed: idna, cryptography,
httpx, aioquic, trio, wmi. ddns-edge uses none of their features (its names are ASCII, as
names.py checks; no DNSSEC, DoH, DoQ), so it tells dnspython "no" to each, with the
dns._features.force() that dnspython provides for where importlib.metadata does not work,
and lets it import a stand-in for the moment of its own import. A later
`import importlib.metadata` gets the real one. dnspython before 2.6 (2.4.1 is what OpenWrt
24.10 and 25.12 ship) has no dns._features and never imports importlib.metadata: nothing to do. cli.py calls this before any command that
speaks DNS; tests/unit/test_lean.py pins it.
"""

from __future__ import annotations

import sys
import types

FEATURES = ("dnssec", "doh", "doq", "idna", "trio", "wmi")  # dns._features' optional packages


def dnspython() -> None:
    if any(m in sys.modules for m in ("dns._features", "dns.name", "importlib.metadata")):
        return  # already imported: nothing to save
    stub = types.ModuleType("importlib.metadata")
    sys.modules["importlib.metadata"] = stub
    try:
        try:
            import dns._features
        except ModuleNotFoundError as e:
            if e.name != "dns._features":
                raise
        else:
            for feature in FEATURES:
                dns._features.force(feature, False)
        import dns.message  # noqa: F401  (what every DNS command needs, imported while the stand-in is there)
    finally:
        if sys.modules.get("importlib.metadata") is stub:
            del sys.modules["importlib.metadata"]
