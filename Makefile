# make test | demo | bench | lint | ipk | apk
#
# As root on a fresh Debian, `make test` sets the machine up first: the tools the
# integration tests run (iproute2, nftables, bind9, bind9-dnsutils, and the WAN clients'
# pppoe, dnsmasq-base, radvd, kea-dhcp6-server, dhcpcd-base; nodejs for the LuCI form's rules;
# apt-get, without starting any of their services), and two venvs with the package and its test
# extra, the two ends of what routers run; then it runs the whole suite in each:
#   .venv-floor  what OpenWrt 24.10 and 25.12 ship: dnspython 2.4.1 and pyroute2 0.7.9 (the floors
#                in setup.cfg), on Python 3.11 (24.10's);
#   .venv        the newest dnspython and pyroute2 on PyPI, on the newest Python 3 found here
#                (3.13, 25.12's, where pyenv or the system has it). demo, bench and ruff use it.
# `make lint` (ruff, and mypy in both venvs) runs first.
# Without root it only warns about missing tools (tests/netns/conftest.py decides).

PYTHON ?= python3
PYTHON_FLOOR ?= python3.11
PYTHON_NEWEST ?= $(shell for p in python3.14 python3.13 $$(ls -d $$HOME/.pyenv/versions/3.1[3-9]*/bin/python3.1[3-9] 2>/dev/null \
	| sort -rV) $(PYTHON); do $$p -c 'import ensurepip, venv' 2>/dev/null && { echo $$p; break; }; done)
FLOOR_PINS := dnspython==2.4.1 pyroute2==0.7.9
VENV ?= .venv
FLOOR_VENV ?= .venv-floor
PYTEST_ARGS ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed.stamp
FLOOR_STAMP := $(FLOOR_VENV)/.installed.stamp

# The tools the netns world runs, and the Debian packages that hold them. The WAN clients
# (tools/netns/wanclients.py): rp-pppoe, dnsmasq, busybox udhcpc, radvd, Kea, dhcpcd.
TOOLS := ip nft named dig nsupdate tsig-keygen named-journalprint faketime busybox openssl \
	pppoe-server pppoe dnsmasq radvd kea-dhcp6 dhcpcd node
PACKAGES := iproute2 nftables bind9 bind9-dnsutils faketime busybox openssl \
	pppoe dnsmasq-base radvd kea-dhcp6-server dhcpcd-base nodejs

export PATH := $(PATH):/usr/sbin:/sbin

.PHONY: test demo lint host-tools bench

test: host-tools $(STAMP) $(FLOOR_STAMP) lint
	$(FLOOR_VENV)/bin/python -m pytest -q $(PYTEST_ARGS) tests
	$(PY) -m pytest -q $(PYTEST_ARGS) tests

demo: host-tools $(STAMP)
	$(PY) -m tools.demo

# Figures from the namespace world, side by side with ddclient (installed here when missing,
# as root, without starting its service): `make bench`, or `make bench BENCH_ARGS=--quick`.
bench: host-tools $(STAMP)
	@if ! command -v ddclient >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "make: installing ddclient for the comparison"; \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d; \
			trap 'rm -f /usr/sbin/policy-rc.d' EXIT; fi; \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ddclient; } \
			|| echo "make: ddclient not installed; the bench runs without it" >&2; fi
	$(PY) -m tools.bench $(BENCH_ARGS)

# ruff (ruff.toml) over everything, and mypy (mypy.ini) over ddns_edge in both venvs: the types
# hold against the newest dnspython and against 2.4.1. Both come with the test extra.
lint: $(STAMP) $(FLOOR_STAMP)
	$(PY) -m ruff check ddns_edge tests tools
	$(PY) -m mypy
	$(FLOOR_VENV)/bin/python -m mypy

# Install what is missing, as root. A policy-rc.d that says "no" keeps the bind9 package
# from starting a named of its own (Debian containers usually have one already).
host-tools:
	@missing=""; \
	for tool in $(TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	packages="$(PACKAGES)"; \
	if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
		missing="$$missing python3-venv"; packages="$$packages python3 python3-venv"; fi; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "make: missing$$missing; run as root to install them" >&2; exit 0; fi; \
	echo "make: missing$$missing: installing $$packages"; \
	if [ ! -e /usr/sbin/policy-rc.d ]; then \
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d; \
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT; fi; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$packages

# The venvs, (re)installed when the packaging metadata or the pins change (remove a venv to
# have it made again with another Python).
$(STAMP): setup.cfg pyproject.toml | host-tools
	test -x $(PY) || $(PYTHON_NEWEST) -m venv $(VENV)
	$(PY) -m pip install -q -U -e '.[test]'
	touch $@

$(FLOOR_STAMP): setup.cfg pyproject.toml Makefile | host-tools
	test -x $(FLOOR_VENV)/bin/python || $(PYTHON_FLOOR) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install -q -e '.[test]' $(FLOOR_PINS)
	touch $@

# The OpenWrt packages, without the SDK, into $(DIST): `make ipk` for 24.10 (opkg, Python 3.11),
# `make apk` for 25.12 (apk-tools 3, Python 3.13); each writes ddns-edge and luci-app-ddns-edge.
# `make ipk PYTHON3_VERSION=3.12` for a feed with another Python.
DIST ?= dist
ipk: PYTHON3_VERSION = 3.11
apk: PYTHON3_VERSION = 3.13

.PHONY: ipk apk
ipk apk:
	$(PYTHON) -m tools.mk$@ -o $(DIST) --python-version $(PYTHON3_VERSION)

# The OpenWrt stack tests (tests/openwrt) run only when DDNS_EDGE_OPENWRT_WEB names a directory
# whose stack.sh provides OpenWrt's daemons (tests/openwrt/__init__.py says what it must do);
# then they need chromium too, installed here. Without the variable they are skipped.
OPENWRT_PACKAGES := chromium fonts-dejavu-core

.PHONY: openwrt-tools
test: openwrt-tools
openwrt-tools:
	@if [ -z "$$DDNS_EDGE_OPENWRT_WEB" ]; then exit 0; fi; \
	missing=$$(for p in $(OPENWRT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ] || ! command -v apt-get >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "make: missing" $$missing "(the OpenWrt stack tests); run as root" >&2; exit 0; fi; \
	echo "make: installing" $$missing; apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing
