"""Find a record's zone and primary when the config leaves them out: SOA and MNAME through
the system resolver, as nsupdate does.

Its own module because dnspython's resolver (with ssl, for DNS over TLS and HTTPS) costs
about 2 MB of RSS: sync.py imports it only when some record needs discovery, so a router
whose config names zone and server never loads it.
"""

from __future__ import annotations


import dns.exception
import dns.name
import dns.resolver

from ddns_edge.dnsupdate import TIMEOUT, Target, absolute, first_line, name_text
from ddns_edge.addresses import ip_literal
from ddns_edge.errors import UpdateError
from ddns_edge.model import Record


def discover(record: Record, resolver: dns.resolver.Resolver | None = None, timeout: float = TIMEOUT) -> Target:
    """The record's zone (option zone, else by SOA) and primary (option server, else SOA MNAME).

    Uses the system resolver, as nsupdate does, only for what the config leaves out.
    """
    what = f"{record.name} {record.type}"
    if record.zone and record.server:
        return Target(record.zone, _address_of(record.server, resolver, what), record.port, record.server)
    resolver = resolver or system_resolver(what, timeout)
    try:
        if record.zone:
            zone = absolute(record.zone)
        else:
            zone = dns.resolver.zone_for_name(absolute(record.name), resolver=resolver, lifetime=timeout)
        server = record.server
        if server is None:
            soa = resolver.resolve(zone, "SOA", lifetime=timeout)
            server = name_text(soa[0].mname)
    except dns.resolver.NoNameservers as e:
        raise UpdateError(f"{what}: cannot find its zone: the resolvers in /etc/resolv.conf failed ({first_line(e)}); set option zone and option server") from None
    except dns.exception.Timeout:
        raise UpdateError(f"{what}: cannot find its zone: no answer from the resolvers in /etc/resolv.conf within {timeout:g} s; set option zone and option server") from None
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoRootSOA):
        raise UpdateError(f"{what}: cannot find its zone: no SOA above this name through the system resolver; set option zone and option server") from None
    return Target(name_text(zone), _address_of(server, resolver, what), record.port, server)


def system_resolver(what: str, timeout: float = TIMEOUT) -> dns.resolver.Resolver:
    try:
        resolver = dns.resolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        raise UpdateError(f"{what}: no resolver in /etc/resolv.conf to find the zone and server; set option zone and option server") from None
    resolver.lifetime = timeout
    return resolver


def _address_of(host: str, resolver: dns.resolver.Resolver | None, what: str) -> str:
    literal = ip_literal(host)
    if literal is not None:
        return str(literal)
    resolver = resolver or system_resolver(what, TIMEOUT)
    for rtype in ("A", "AAAA"):
        try:
            return resolver.resolve(host, rtype)[0].to_text()
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
        except dns.exception.DNSException as e:
            raise UpdateError(f"{what}: cannot resolve the server name {host}: {first_line(e)}") from None
    raise UpdateError(f"{what}: the server name {host} has no A or AAAA record; set option server to its address")
