"""Field values that the LuCI form and `ddns-edge check` must judge alike.

Each case is (option, value): `js(case)` is the call to ddns-edge/validate.js that the form
makes for that field, and `config(case, secret)` a config that is valid except, perhaps,
for that value. Both tests/luci/test_validate_js.py (validate.js in Node.js, always) and
tests/openwrt/test_luci.py (in LuCI, in Chromium, where a stack is given) run both and
compare the verdicts (accepted or refused).
"""

from __future__ import annotations

import json

ZWSP = "\u200b"  # a format character: not printable for Python, \p{Cf} for JavaScript

CASES: list[tuple[str, str]] = [
    *(("ttl", v) for v in ("1", "60", "604800", "0", "604801", " 60 ", "6O", "-1", "+5", "0000000000000000060", "1e3", "\u0663")),
    *(("port", v) for v in ("1", "53", "65535", "0", "65536", "5 3")),
    *(("echo_interval", v) for v in ("10", "86400", "9", "86401")),
    *(("hook_timeout", v) for v in ("1", "3600", "0", "3601")),
    *(("name", v) for v in ("www.example.com", "www.example.com.", "*.example.com", "_acme.example.com", "example",
                            "a..example.com", "www.exa mple.com", "x" * 64 + ".com", "w*w.example.com", "\u00fc.example.com",
                            "-www.example.com", "www-.example.com", "w-w.example.com")),
    *(("zone", v) for v in ("example.com", "EXAMPLE.com.", "com", "other.com", "www.example.com", "ple.com", "exa..com")),
    *(("server", v) for v in ("192.0.2.53", "2001:db8::53", "ns1.example.com", "fe80::1%wan0", "::ffff:192.0.2.1",
                              "192.0.2.256", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7::", "1::2:3:4:5:6:7:8", "a b", "ns1..example.com")),
    *(("device", v) for v in ("wan0", "pppoe-wan", "a" * 15, "a" * 16, "eth0:1", "a/b", ".", "..", "br lan", "wan" + ZWSP, "w\u00e4n")),
    *(("interface", v) for v in ("wan", "wan_6", "WAN6", "wan-6", "wan.6")),
    *(("keyname", v) for v in ("ddns-key", "ddns-key.example.com.", "bad name", "a..b", "x" * 64, "x" * 63 + "." + "y" * 63,
                               ".")),
    *(("secret", v) for v in ("QQ==", "QUJD", "QUJD=", "QUJD RA==", "QQ=", "QQ", "====", "Q", "QU=I", "not base64!", "QUJD===", "QQ===", "QUI==", "QQ==QQ==")),
    *(("state_dir", v) for v in ("/tmp/ddns", "tmp/ddns")),
    *(("hook", v) for v in ("/etc/ddns-edge/on-change", "on-change")),
    *(("echo", v) for v in ("https://ip.example.net/", "http://192.0.2.80:8080/ip", "HTTPS://ip.example.net", "http://", "http://:80/",
                            "http://user@/", "ftp://ip.example.net/", "ip.example.net", "https://ip example.net/",
                            "dns://192.0.2.1/whoami.example.net/TXT", "dns://192.0.2.1/whoami.example.net", "dns://192.0.2.1/whoami.example.net/MX",
                            "dns://192.0.2.1", "dns:///whoami.example.net", "dns://192.0.2.1/bad..name", "exec:ssh host echo $SSH_CONNECTION",
                            "exec:   ", "http://[::1/", "https://[2001:db8::1]/ip",
                            # the host and port rules echo_wire.parse_source keeps (check refuses what a round would)
                            "http://h.example:99999/", "http://h.example:x/", "http://h.example:/", "http://1.2.3.4.5/",
                            "https://[2001:db8::1]:8443/ip", "http://[nothex]/", "http://bad_host-.example/",
                            "dns://ns.example:99999/x", "dns://ns.example:5353/x.example", "dns://ns..example/x.example",
                            "dns://192.0.2.256/x.example", "dns://[2001:db8::53]:5353/x.example", "dns://2001:db8::53/x.example")),
    *(("echo_quorum", v) for v in ("1", "2", "3", "0")),  # with two echo sources
    ("echo_quorum_alone", "1"),  # without any
    *(("origin", v) for v in ("device", "interface", "both", "neither", "neither-echo")),
    *(("host_id", v) for v in ("::1234", "::a8bb:ccff:fedd:eeff", "::A8BB:0:0:1", "0:0:0:0:1:2:3:4", "::1.2.3.4", "::",
                               "2001:db8::1", "1::", "::1:2:3:4:5", "::g", "1234", "::1%eth0")),
    *(("mac", v) for v in ("aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "02:00:00:00:00:01", "01:00:5e:00:00:01", "00:00:00:00:00:00",
                           "aa:bb:cc:dd:ee", "aa:bb-cc:dd:ee:ff", "aabb.ccdd.eeff")),
    *(("lan_host", v) for v in ("both", "type-A", "source-echo")),
    *(("wans", v) for v in ("two-interfaces", "two-devices-all", "three-FAILOVER", "one-policy", "one-mwan3", "dup", "mix", "echo",
                            "mwan3-dev", "mwan3-all", "mwan3-ok", "mwan3-bad", "policy-bad", "bad-dev", "bad-net")),
]

# (devices, networks, policy, mwan3_policy, source) of each "wans" case
WANS = {
    "two-interfaces": ([], ["wan", "wanb"], "", "", "auto"),
    "two-devices-all": (["wan0", "wan1"], [], "all", "", "auto"),
    "three-FAILOVER": ([], ["wan", "wanb", "lte"], "FAILOVER", "", "interface"),
    "one-policy": (["wan0"], [], "all", "", "auto"),
    "one-mwan3": ([], ["wan"], "", "wan_wanb", "auto"),
    "dup": ([], ["wan", "wanb", "wan"], "", "", "auto"),
    "mix": (["wan0"], ["wanb"], "", "", "auto"),
    "echo": (["wan0", "wan1"], [], "", "", "echo"),
    "mwan3-dev": (["wan0", "wan1"], [], "", "wan_wanb", "auto"),
    "mwan3-all": ([], ["wan", "wanb"], "all", "wan_wanb", "auto"),
    "mwan3-ok": ([], ["wan", "wanb"], "failover", "wan_wanb", "auto"),
    "mwan3-bad": ([], ["wan", "wanb"], "", "wan-b", "auto"),
    "policy-bad": ([], ["wan", "wanb"], "first", "", "auto"),
    "bad-dev": (["wan0", "a/b"], [], "", "", "auto"),
    "bad-net": ([], ["wan", "wan.b"], "", "", "auto"),
}


def js(case: tuple[str, str]) -> str:
    """The JavaScript expression (with `v`, the validate module) the form evaluates."""
    option, value = case
    q = json.dumps(value)
    calls = {
        "ttl": f"v.ttl({q})", "port": f"v.port({q})", "echo_interval": f"v.echoInterval({q})",
        "hook_timeout": f"v.hookTimeout({q})", "name": f"v.recordName({q})",
        "zone": f"v.zone({q}, 'www.example.com')", "server": f"v.server({q})",
        "device": f"v.device({q})", "interface": f"v.network({q})", "keyname": f"v.keyName({q})",
        "secret": f"v.secret({q})", "state_dir": f"v.absolutePath({q})", "hook": f"v.absolutePath({q})",
        "echo": f"v.echoSource({q})", "echo_quorum": f"v.echoQuorum({q}, 2)", "echo_quorum_alone": f"v.echoQuorum({q}, 0)",
        "host_id": f"v.lanHost({q}, '', 'AAAA', 'auto')", "mac": f"v.lanHost('', {q}, 'AAAA', 'auto')",
    }
    if option == "lan_host":
        return {"both": "v.lanHost('::1', 'aa:bb:cc:dd:ee:ff', 'AAAA', 'auto')", "type-A": "v.lanHost('::1', '', 'A', 'auto')",
                "source-echo": "v.lanHost('::1', '', 'AAAA', 'echo')"}[value]
    if option == "wans":
        devices, networks, policy, mwan3, source = WANS[value]
        return f"v.wans({json.dumps(devices)}, {json.dumps(networks)}, {json.dumps(policy)}, {json.dumps(mwan3)}, {json.dumps(source)}, '', '')"
    if option == "origin":
        device, network, source = {"device": ("wan0", "", "auto"), "interface": ("", "wan", "auto"), "both": ("wan0", "wan", "auto"),
                                   "neither": ("", "", "auto"), "neither-echo": ("", "", "echo")}[value]
        return f"v.origin({json.dumps(device)}, {json.dumps(network)}, {json.dumps(source)})"
    return calls[option]


def config(case: tuple[str, str], secret: str) -> str:
    """A config that `ddns-edge check` accepts, but for the case's value."""
    option, value = case
    agent = {"state_dir": "/var/run/ddns-edge"}
    echo: list[str] = []
    key = {"name": "ddns-key", "algorithm": "hmac-sha256", "secret": secret}
    record = {"name": "www.example.com", "type": "A", "device": "wan0", "key": "home"}
    if option in ("ttl", "port", "name", "zone", "server", "device", "interface"):
        record.pop("device") if option == "interface" else None
        record[option] = value
    elif option in ("echo_interval", "hook_timeout", "state_dir", "hook"):
        agent[option] = value
    elif option == "keyname":
        key["name"] = value
    elif option == "secret":
        key["secret"] = value
    elif option == "echo":
        echo = [value]
    elif option == "echo_quorum":
        echo = ["https://a.example.net/", "https://b.example.net/"]
        agent["echo_quorum"] = value
    elif option == "echo_quorum_alone":
        agent["echo_quorum"] = value
    elif option in ("host_id", "mac"):
        record.update({"type": "AAAA", "device": "br-lan", option: value})
    elif option == "lan_host":
        record.update({"both": {"type": "AAAA", "host_id": "::1", "mac": "aa:bb:cc:dd:ee:ff"}, "type-A": {"host_id": "::1"},
                       "source-echo": {"type": "AAAA", "host_id": "::1", "source": "echo"}}[value])
    elif option == "origin":
        record.pop("device")
        record.update({"device": {"device": "wan0"}, "interface": {"interface": "wan"}, "both": {"device": "wan0", "interface": "wan"},
                       "neither": {}, "neither-echo": {"source": "echo"}}[value])
    lists: list[tuple[str, str]] = []
    if option == "wans":
        devices, networks, policy, mwan3, source = WANS[value]
        record.pop("device")
        lists = [("device", d) for d in devices] + [("interface", n) for n in networks]
        record.update({k: v for k, v in (("policy", policy), ("mwan3_policy", mwan3), ("source", source)) if v})
    lines = ["config agent 'agent'", *(f"\toption {k} '{v}'" for k, v in agent.items()), *(f"\tlist echo '{e}'" for e in echo),
             "", "config key 'home'", *(f"\toption {k} '{v}'" for k, v in key.items()),
             "", "config record 'www'", *(f"\toption {k} '{v}'" for k, v in record.items()), *(f"\tlist {k} '{v}'" for k, v in lists)]
    return "\n".join(lines) + "\n"
