"""What the OpenWrt packages of ddns-edge carry, whatever their format (.ipk or .apk).

tools/mkipk.py writes it as OpenWrt 24.10's opkg installs it, tools/mkapk.py as 25.12's apk
does. Both take from here: the release table (package manager, Python, the feed's names),
the version string, the files and where they go, Depends, the user and group, the conffiles
and the package's own maintainer-script parts. The values the feed Makefile holds
(openwrt/Makefile: PKG_VERSION, PKG_RELEASE, USERID, conffiles, the description; the LuCI
app's Makefile) are read from it, so the SDK's package and ours cannot drift apart.

Byte code. OpenWrt's python3 never writes byte code itself (the feed patches
Py_DontWriteBytecodeFlag to 1), so a module shipped as .py alone is compiled in memory at
every start. The SDK's build (openwrt/Makefile, Py3Package) ships .pyc made by the feed's
host Python of the release's version. These packages are built on any machine, without
that Python, so they ship the sources and have the router compile them once, with its own
interpreter: /etc/uci-defaults/ddns-edge-bytecode runs `python3.X -m compileall`. OpenWrt's
default_postinst runs a package's uci-defaults scripts when it is installed on a running
router (before it starts the service); in an image (IPKG_INSTROOT set) it runs nothing, and
the script runs at the image's first boot instead; either way it is deleted once it
succeeds. The byte code lands in ddns_edge/__pycache__, which the package manager does not
know of, so the prerm part removes it before the files go.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEED_MAKEFILE = "openwrt/Makefile"
LUCI_DIR = "openwrt/luci-app-ddns-edge"
# The feed as README's `src-link ddnsedge /path/to/ddns-edge` adds it: SOURCE is the package
# directory below the SDK (package-defaults.mk: $(patsubst $(TOPDIR)/%,%,$(CURDIR))).
SOURCE = "feeds/ddnsedge/openwrt"
LUCI_SOURCE = "feeds/ddnsedge/openwrt/luci-app-ddns-edge"


class BuildError(Exception):
    """Something in the tree stops the build; the message says what."""


# --- the releases -------------------------------------------------------------------------

# The standard-library modules the packages feed splits out of python3-light, and their
# packages: lang/python/python3/files/python3-package-*.mk of each branch (Py3BasePackage's
# file lists). python3-light is the rest of /usr/lib/python3.X but idlelib, tkinter,
# turtledemo, webbrowser.py and _osx_support.py, which no package installs.
_SPLIT_COMMON = {
    "asyncio": "python3-asyncio",
    "unicodedata": "python3-codecs",
    "ctypes": "python3-ctypes",
    "dbm": "python3-dbm",
    "decimal": "python3-decimal",
    "email": "python3-email",
    "logging": "python3-logging",
    "lzma": "python3-lzma",
    "multiprocessing": "python3-multiprocessing",
    "curses": "python3-ncurses",
    "ssl": "python3-openssl",  # _ssl (and _hashlib: hashlib has built-in fallbacks)
    "doctest": "python3-pydoc",
    "pydoc": "python3-pydoc",
    "pydoc_data": "python3-pydoc",
    "readline": "python3-readline",
    "sqlite3": "python3-sqlite3",
    "unittest": "python3-unittest",
    "urllib": "python3-urllib",
    "uuid": "python3-uuid",
    "ensurepip": "python3-venv",
    "venv": "python3-venv",
    "xml": "python3-xml",
    "xmlrpc": "python3-xml",
    "pyexpat": "python3-xml",
    # python3-light modules that import a split one when they are imported
    "http": "python3-email",  # http.client: email.parser, email.message
}
_NOT_PACKAGED = ("idlelib", "tkinter", "turtledemo", "webbrowser", "_osx_support")


@dataclasses.dataclass(frozen=True)
class Release:
    """One stable OpenWrt release, as its packages feed builds Python packages."""

    name: str
    manager: str  # opkg (.ipk) or apk (apk-tools 3, .apk)
    python: str  # lang/python/python3-version.mk: PYTHON3_VERSION_MAJOR.MINOR
    python_micro: str  # what the release's feed ships, for the README and the tests
    split: dict[str, str]  # stdlib module -> the feed package that installs it
    absent: tuple[str, ...] = _NOT_PACKAGED  # stdlib modules of the host no package installs


RELEASES = {
    "24.10": Release("24.10", "opkg", "3.11", "3.11.14", {
        **_SPLIT_COMMON,
        "cgi": "python3-cgi",
        "cgitb": "python3-cgitb",
        "distutils": "python3-distutils",
        "lib2to3": "python3-lib2to3",
    }),
    # Python 3.12 and 3.13 removed these (PEP 594, PEP 632, ...); so did the feed's packages.
    "25.12": Release("25.12", "apk", "3.13", "3.13.9", dict(_SPLIT_COMMON), _NOT_PACKAGED + (
        "aifc", "asynchat", "asyncore", "audioop", "cgi", "cgitb", "chunk", "crypt", "distutils", "imghdr", "imp",
        "lib2to3", "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "smtpd", "sndhdr", "spwd", "sunau",
        "telnetlib", "uu", "xdrlib")),
}
FORMAT_RELEASE = {"opkg": "24.10", "apk": "25.12"}

INTERPRETER = "python3-light"
# Third-party top-level modules -> the packages feed's names (both releases).
THIRD_PARTY = {"dns": "python3-dns", "pyroute2": "python3-pyroute2"}


def release_for_python(manager: str, python_version: str) -> Release:
    """The release whose feed has this Python, else the format's release with another Python
    (a Python the feed may move to: its split packages are taken as that release's)."""
    if not re.fullmatch(r"3\.\d+", python_version):
        raise BuildError(f"python version {python_version!r}: allowed: 3.N, as in the feed's python3-version.mk")
    return dataclasses.replace(RELEASES[FORMAT_RELEASE[manager]], python=python_version)


# --- the tree -------------------------------------------------------------------------------


def _read(root: str, rel: str) -> bytes:
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()


def version(root: str = ROOT) -> str:
    """ddns_edge.__version__, read without importing the package."""
    m = re.search(rb'^__version__\s*=\s*["\']([^"\']+)["\']', _read(root, "ddns_edge/__init__.py"), re.MULTILINE)
    if not m:
        raise BuildError("ddns_edge/__init__.py has no __version__")
    return m.group(1).decode()


def makefile_value(text: str, name: str, where: str) -> str:
    """NAME:=value of a feed Makefile (the first one)."""
    m = re.search(rf"^[ \t]*{name}[ \t]*:?=[ \t]*(.*)$", text, re.MULTILINE)
    if not m:
        raise BuildError(f"{where} has no {name}")
    return m.group(1).strip()


def makefile_define(text: str, name: str, where: str) -> list[str]:
    """The lines of `define NAME ... endef`."""
    m = re.search(rf"^define {re.escape(name)}\n(.*?)^endef$", text, re.MULTILINE | re.DOTALL)
    if not m:
        raise BuildError(f"{where} has no define {name}")
    return m.group(1).splitlines()


def package_files(root: str = ROOT) -> list[str]:
    """The package's .py files, relative to root, sorted (no tests, no byte code)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "ddns_edge")):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        out += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames if f.endswith(".py")]
    return sorted(out)


def imported_modules(root: str = ROOT) -> set[str]:
    """Every absolute module name ddns_edge imports, anywhere in its files (lazy imports too)."""
    names: set[str] = set()
    for rel in package_files(root):
        tree = ast.parse(_read(root, rel), rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def split_package(module: str, release: Release) -> str | None:
    """The feed package of a stdlib module that python3-light lacks (the longest known
    prefix: xml.etree before xml), else None."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in release.split:
            return release.split[prefix]
    if parts[0] in release.absent:
        raise BuildError(f"ddns_edge imports {module!r}, which no package of the OpenWrt {release.name} feed installs")
    return None


def depends(root: str, release: Release) -> list[str]:
    """The feed packages ddns-edge needs, as the Makefile's DEPENDS lists them (the SDK adds
    libc in front): the interpreter, the third-party packages, the split stdlib packages."""
    third: set[str] = set()
    stdlib: set[str] = set()
    for name in imported_modules(root):
        top = name.split(".")[0]
        if top in ("ddns_edge", "__future__"):
            continue
        if top in THIRD_PARTY:
            third.add(THIRD_PARTY[top])
            continue
        # the release's standard library, not the host's: a module Python 3.13 removed (cgi)
        # is the 24.10 feed's python3-cgi even when this runs on 3.13
        package = split_package(name, release)  # raises for what the release's feed does not install
        if package:
            stdlib.add(package)
        elif top not in sys.stdlib_module_names:
            raise BuildError(f"ddns_edge imports {top!r}, which is neither the standard library nor in THIRD_PARTY; add its feed package to tools/pkgspec.py")
    return [INTERPRETER, *sorted(third), *sorted(stdlib)]


def source_date_epoch(root: str = ROOT) -> int:
    """SOURCE_DATE_EPOCH, else the git HEAD commit time, else 0: never the clock."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    try:
        out = subprocess.run(["git", "-C", root, "log", "-1", "--format=%ct"], capture_output=True, text=True, timeout=10)
        return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else 0
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


# --- the packages ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Package:
    """One binary package as the SDK's package-pack.mk sees it, before any format."""

    name: str
    version: str  # VERSION: PKG_VERSION-rPKG_RELEASE
    depends: tuple[str, ...]  # Depends, libc first, as the SDK writes them
    description: tuple[str, ...]  # Package/NAME/description, line by line (TITLE without one)
    section: str
    license: str
    maintainer: str
    source: str  # SOURCE: the package's directory below the SDK (apk's origin)
    require_user: str  # USERID, "" for none
    conffiles: tuple[str, ...]
    files: dict[str, tuple[int, bytes]]  # path on the router -> (mode, content)
    postinst: str  # Package/NAME/postinst (the SDK's postinst-pkg), "" for none
    prerm: str  # Package/NAME/prerm (prerm-pkg), "" for none
    mtime: int  # every file's, and SourceDateEpoch


LAUNCHER = """\
#!/usr/bin/python3
import sys

from ddns_edge.cli import main

sys.exit(main())
"""

BYTECODE_SCRIPT = "/etc/uci-defaults/ddns-edge-bytecode"


def site_dir(python_version: str) -> str:
    """PYTHON3_PKG_DIR of python3-package.mk."""
    return f"/usr/lib/python{python_version}/site-packages"


def bytecode_script(python_version: str) -> str:
    """The uci-defaults script that compiles the agent once on the router (sourced by
    default_postinst or /etc/init.d/boot: no exit; its status is the last command's)."""
    pkg = f"{site_dir(python_version)}/ddns_edge"
    return f"""\
#!/bin/sh
# ddns-edge: compile the agent once with this router's python{python_version}, so that it is
# not compiled in memory at every start (OpenWrt's python3 never writes byte code itself).
# Run when the package is installed, or at the first boot of an image that holds it.
rm -rf {pkg}/__pycache__
python{python_version} -m compileall -q --invalidation-mode timestamp {pkg}
"""


def bytecode_prerm(python_version: str) -> str:
    """Package/ddns-edge/prerm: the byte code the router made is no file of the package."""
    return f"""\
#!/bin/sh
rm -rf "${{IPKG_INSTROOT}}{site_dir(python_version)}/ddns_edge/__pycache__"
"""


def _release_number(root: str, text: str) -> str:
    pkg_version = makefile_value(text, "PKG_VERSION", FEED_MAKEFILE)
    if pkg_version != version(root):
        raise BuildError(f"{FEED_MAKEFILE} PKG_VERSION {pkg_version} differs from ddns_edge.__version__ {version(root)}")
    return makefile_value(text, "PKG_RELEASE", FEED_MAKEFILE)


def version_string(root: str, release_number: str | None = None) -> str:
    """PKG_VERSION-rPKG_RELEASE, as the SDK of 24.10 and 25.12 writes it (apk refuses 0.1.0-1)."""
    text = _read(root, FEED_MAKEFILE).decode()
    number = _release_number(root, text) if release_number is None else release_number
    if not re.fullmatch(r"[0-9]+", number):
        raise BuildError(f"release {number!r}: allowed: a number such as 1 (PKG_RELEASE)")
    return f"{version(root)}-r{number}"


def ddns_edge(root: str, release: Release, release_number: str | None = None, mtime: int | None = None) -> Package:
    """The agent's package: the code under the release's site-packages, the launcher, the
    procd init script, the default config (a conffile, 0600) and the byte-code script."""
    text = _read(root, FEED_MAKEFILE).decode()
    site = site_dir(release.python)
    files = {
        "/usr/bin/ddns-edge": (0o755, LAUNCHER.encode()),
        "/etc/init.d/ddns-edge": (0o755, _read(root, "openwrt/files/ddns-edge.init")),
        "/etc/hotplug.d/iface/95-ddns-edge": (0o644, _read(root, "openwrt/files/ddns-edge.hotplug")),
        "/etc/config/ddns-edge": (0o600, _read(root, "openwrt/files/ddns-edge.config")),
        BYTECODE_SCRIPT: (0o755, bytecode_script(release.python).encode()),
    }
    for rel in package_files(root):
        files[f"{site}/{rel}"] = (0o644, _read(root, rel))
    return Package(
        name="ddns-edge",
        version=version_string(root, release_number),
        depends=("libc", *depends(root, release)),
        description=tuple(makefile_define(text, "Package/ddns-edge/description", FEED_MAKEFILE)),
        section=makefile_value(text, "SECTION", FEED_MAKEFILE),
        license=makefile_value(text, "PKG_LICENSE", FEED_MAKEFILE),
        maintainer=makefile_value(text, "PKG_MAINTAINER", FEED_MAKEFILE),
        source=SOURCE,
        require_user=makefile_value(text, "USERID", FEED_MAKEFILE),
        conffiles=tuple(makefile_define(text, "Package/ddns-edge/conffiles", FEED_MAKEFILE)),
        files=files,
        postinst="",
        prerm=bytecode_prerm(release.python),
        mtime=source_date_epoch(root) if mtime is None else mtime,
    )


# luci.mk's Package/NAME/postinst: on a running router, drop LuCI's caches and have rpcd
# re-read its ACLs and plugins (SIGHUP: rpcd re-executes itself).
LUCI_POSTINST = """\
#!/bin/sh
[ -n "${IPKG_INSTROOT}" ] || {
	rm -f /tmp/luci-indexcache.*
	rm -rf /tmp/luci-modulecache/
	killall -HUP rpcd 2>/dev/null
	exit 0
}
"""


def luci_files(root: str = ROOT) -> dict[str, tuple[int, bytes]]:
    """The LuCI app's files where luci.mk puts them: htdocs/ under /www, root/ under /."""
    files = {}
    for sub, prefix in (("htdocs", "/www"), ("root", "")):
        base = os.path.join(root, LUCI_DIR, sub)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                rel = os.path.relpath(os.path.join(dirpath, name), base).replace(os.sep, "/")
                files[f"{prefix}/{rel}"] = (0o644, _read(base, rel))
    if not files:
        raise BuildError(f"{LUCI_DIR} has no htdocs/ or root/ files")
    return files


def luci_app(root: str, release_number: str | None = None, mtime: int | None = None) -> Package:
    """luci-app-ddns-edge (Architecture all) as luci.mk builds it; the description is the
    title (package.mk's default when there is none)."""
    where = f"{LUCI_DIR}/Makefile"
    text = _read(root, where).decode()
    return Package(
        name="luci-app-ddns-edge",
        version=version_string(root, release_number),
        depends=("libc", *(d.lstrip("+") for d in makefile_value(text, "LUCI_DEPENDS", where).split())),
        description=(makefile_value(text, "LUCI_TITLE", where),),
        section="luci",
        license=makefile_value(text, "PKG_LICENSE", where),
        maintainer=makefile_value(text, "PKG_MAINTAINER", where),
        source=LUCI_SOURCE,
        require_user="",
        conffiles=(),
        files=luci_files(root),
        postinst=LUCI_POSTINST,
        prerm="",
        mtime=source_date_epoch(root) if mtime is None else mtime,
    )


# --- what the SDK's scripts share -----------------------------------------------------------

SCRIPT_GUARD_NO_SCRIPT = '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n'
SCRIPT_SOURCE_FUNCTIONS = "[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n. ${IPKG_INSTROOT}/lib/functions.sh\n"


def without_shebang(script: str) -> str:
    """A package script part as the SDK embeds it (sed '/^\\s*#!/d')."""
    return "".join(line for line in script.splitlines(keepends=True) if not line.lstrip().startswith("#!"))
