"""lean.dnspython(): dnspython without importlib.metadata (4.6 MB), and nothing broken by it."""

import subprocess
import sys


def run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_dnspython_works_without_importlib_metadata_which_stays_importable():
    out = run(
        "import sys\n"
        "from ddns_edge import lean\n"
        "lean.dnspython()\n"
        "assert 'importlib.metadata' not in sys.modules and 'email' not in sys.modules\n"
        "import dns.message, dns.name, dns.update, dns.tsig\n"
        "q = dns.message.make_query('www.example.com', 'A')\n"
        "assert dns.message.from_wire(q.to_wire()).question[0].name == dns.name.from_text('www.example.com')\n"
        "import importlib.metadata\n"  # the real one, for whoever asks later
        "print(importlib.metadata.version('dnspython'))\n"
        "import dns.resolver\n"
        "print('ok')\n"
    )
    assert out.endswith("ok\n") and out.split("\n")[0][0].isdigit()


def test_it_does_nothing_once_dnspython_is_imported():
    run(
        "import sys, dns.name\n"
        "from ddns_edge import lean\n"
        "before = dict(sys.modules)\n"
        "lean.dnspython()\n"
        "assert sys.modules.keys() == before.keys()\n"
    )


def test_a_record_with_zone_and_server_given_never_loads_the_resolver():
    run(
        "import sys\n"
        "from ddns_edge import config, lean, sync\n"
        "lean.dnspython()\n"
        "cfg = config.parse(\"config key 'k'\\n\\toption secret 'Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8='\\n\""
        " \"config record 'r'\\n\\toption name 'www.example.com'\\n\\toption device 'wan0'\\n\""
        " \"\\toption zone 'example.com'\\n\\toption server '192.0.2.53'\\n\", '/c')\n"
        "target = sync.Targets()(cfg.records[0])\n"
        "assert (target.zone, target.server) == ('example.com', '192.0.2.53'), target\n"
        "assert 'dns.resolver' not in sys.modules and 'ssl' not in sys.modules and 'ddns_edge.discovery' not in sys.modules\n"
    )
