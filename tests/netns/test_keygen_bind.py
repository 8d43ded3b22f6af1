"""A key from `ddns-edge keygen` against a real BIND: BIND includes the file as it is,
ddns-edge loads it with `option file`, and the update lands under the grant keygen suggests."""

from __future__ import annotations

import os

from tools.netns.agentlib import ddns_edge, record, write_config

from ddns_edge import keygen

GRANT = "grant {key} name www.example.com. A AAAA"  # what keygen writes for zone example.com


def test_keygen_key_and_grant_work_with_bind(make_world, tmp_path):
    world = make_world(policy=[GRANT])
    text = keygen.generate(world.key_name, "hmac-sha512", zone="example.com")
    assert GRANT.format(key=world.key_name) + ";" in text  # BIND runs with the grant keygen suggests

    # BIND's named.conf includes the key file: swap tsig-keygen's key for keygen's, as it is.
    world.stop_bind()
    fd = os.open(world.key_file_path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    world.restart_bind()

    conf = write_config(tmp_path / "ddns-edge", world, record("www"), record("www6", rtype="AAAA"), key_file=world.key_file_path)
    p = ddns_edge(world, conf, "check", "--online")
    assert p.returncode == 0, p.stderr
    assert f"key {world.key_name}: accepted by" in p.stdout

    p = ddns_edge(world, conf, "once")
    assert p.returncode == 0, p.stderr
    assert world.dig("www.example.com", "A") == ["198.51.100.2"]
    assert world.dig("www.example.com", "AAAA") == ["2001:db8:1::2"]

    # the grant is as narrow as it says: one name, A and AAAA only
    other = write_config(tmp_path / "other", world, record("other", name="other.example.com"), key_file=world.key_file_path)
    p = ddns_edge(world, other, "once")
    assert p.returncode == 1
    assert "REFUSED" in p.stderr, p.stderr
    assert world.dig("other.example.com", "A") == []
    secret_line = next(line for line in text.splitlines() if line.strip().startswith("secret"))
    assert secret_line.split('"')[1] not in p.stderr + p.stdout
