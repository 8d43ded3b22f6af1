"""Tests against OpenWrt's real daemons (procd, ubusd, rpcd, uhttpd) and LuCI in Chromium.

They need an OpenWrt stack, which this repository does not hold and CI does not have: no
upstream OpenWrt code is part of the project. Without one they are skipped with one line
(in CI too); everything that can be checked without the stack runs always (tests/luci: the
form's rules in Node.js against `ddns-edge check`, and the views with markup in every
field; tests/packaging: the init scripts under stand-ins, the ACL and the menu). To run them, build OpenWrt's daemons from their sources
into a directory of your own that provides stack.sh as below, and run, as root:

    DDNS_EDGE_OPENWRT_WEB=/path/to/it make test

With the variable set they are not skipped: what they need (root, chromium, ip, named) must
be there, or the session stops and says what is missing (DDNS_EDGE_SKIP_OPENWRT=1 turns that
into a skip, outside CI). `make test` installs chromium when the variable is set.

The interface: `bash $DDNS_EDGE_OPENWRT_WEB/stack.sh SUBCOMMAND PREFIX ...`, exit status 0
on success (anything else fails the test with the log). PREFIX is a fresh directory under
/tmp (or the developer's DDNS_EDGE_OPENWRT_PREFIX, reused); the router's files are
PREFIX/rootfs, which the tests read and write from outside (etc/config/*).

    build PREFIX
        Install into PREFIX/rootfs, as OpenWrt's packages lay them out: ubusd and the ubus
        CLI; procd as the service manager (rc.common, functions.sh, procd.sh, /sbin/reload_config,
        /etc/init.d/* enable/disable making /etc/rc.d/S??name and K??name links); logd and
        logread; rpcd with its ucode plugin support (/usr/share/rpcd/ucode/*.uc) and what LuCI
        needs (session, uci, file, luci plugins); uhttpd with /ubus and LuCI at /cgi-bin/luci;
        LuCI (base, admin modules, the bootstrap theme); the uci CLI; a busybox userland (sh,
        id, kill, cat, ...). Root logs in to LuCI as root / admin; /etc/config/rpcd holds that
        login as a router has it (the tests append `config login` sections to it).
    install-app PREFIX APPDIR
        A LuCI app from its source folder, as luci.mk installs it: APPDIR/htdocs/* under /www,
        APPDIR/root/* under /; LuCI's caches dropped.
    install-service PREFIX NAME INIT CONFIG SRC=DEST [SRC=DEST ...] --user USER --python=PYTHON --bind DIR [--bind DIR ...]
        INIT as /etc/init.d/NAME (mode 755), CONFIG as /etc/config/NAME, each host file SRC
        as DEST inside (the venv's console script as /usr/bin/ddns-edge); USER a system user
        with a group of its own; the host interpreter PYTHON (and its standard library) usable
        inside at its own path; each DIR bind-mounted read-only at its own path (the venv and
        the checkout).
    start PREFIX PORT
        Called inside a network namespace (`ip netns exec NS bash stack.sh start ...`): start
        the stack there in private mount and pid namespaces chrooted into PREFIX/rootfs (/proc
        shows the stack's own processes), with uhttpd on 127.0.0.1:PORT; return once ubus,
        rpcd and uhttpd answer, leaving the stack running after the caller exits. procd logs a
        service's stdout and stderr to logd, and logd serves /dev/log inside.
    stop PREFIX
        Stop all that start started and unmount it.
    exec PREFIX CMD [ARG ...]
        Run CMD inside the running stack (its mounts, pids and root; the caller's network
        namespace), with stdin, stdout and stderr passed through, exiting with CMD's status:
        `ubus call ...`, `uci ...`, `logread`, `/etc/init.d/ddns-edge start`, `/sbin/reload_config`,
        `sh -c ...`, `cat /proc/PID/status`, `id -u ddns-edge`, `kill ...`.
"""
