"""A man in the middle for DNS over UDP, in the isp namespace: holds back and replays UPDATEs.

tests/netns/test_replay.py runs it as `replayproxy.py LISTEN_ADDR LISTEN_PORT SERVER_ADDR`
after an nftables DNAT sends the router's UDP DNS traffic for the server to it. It forwards
every datagram to the server and the answer back to the router from the socket the
datagram came in on, so conntrack makes the answer come from the server's address again:
the agent sees an ordinary path. Commands on stdin, one per line:

    hold      hold back the next UPDATE (it is not forwarded; the agent's resend will be)
    lose      forward the next UPDATE, and drop the server's answer to it (it landed; the
              agent never hears so, and its resend a second later finds the work done)
    release   forward the held UPDATE to the server now (the late copy of the issue)
    capture   keep a copy of every UPDATE forwarded from now on
    replay    send the first captured UPDATE to the server again (an attacker's replay)
    stats     print how many queries and UPDATEs it has forwarded from the router so far

It prints `ready`, then `held`, `lost rcode=N`, `released rcode=N`, `replayed rcode=N` (the server's
answer's rcode; a TSIG error such as BADTIME comes as NOTAUTH, 9) and `stats queries=N
updates=M` as they happen. `Proxy` below starts it from a test or the bench.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

OPCODE_UPDATE = 5


def opcode(data: bytes) -> int:
    return (data[2] >> 3) & 0xF if len(data) >= 12 else -1


def ask(server: tuple[str, int], data: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(data, server)
        try:
            return s.recv(65535)
        except OSError:
            return None


def rcode(answer: bytes | None) -> str:
    return "none" if answer is None or len(answer) < 4 else str(answer[3] & 0xF)


def main() -> None:
    listen = (sys.argv[1], int(sys.argv[2]))
    server = (sys.argv[3], 53)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(listen)
    lock = threading.Lock()
    state = {"hold": False, "held": None, "lose": False, "capture": False, "captured": [], "queries": 0, "updates": 0}

    def say(line: str) -> None:
        with lock:
            print(line, flush=True)

    def forward(data: bytes, peer, lose: bool = False) -> None:
        answer = ask(server, data)
        if lose:
            say(f"lost rcode={rcode(answer)}")
        elif answer is not None:
            sock.sendto(answer, peer)

    def serve() -> None:
        while True:
            data, peer = sock.recvfrom(65535)
            with lock:
                state["updates" if opcode(data) == OPCODE_UPDATE else "queries"] += 1
                if opcode(data) == OPCODE_UPDATE and state["hold"]:
                    state["hold"], state["held"] = False, data
                    print("held", flush=True)
                    continue
                if opcode(data) == OPCODE_UPDATE and state["capture"]:
                    state["captured"].append(data)
                lose = opcode(data) == OPCODE_UPDATE and state["lose"]
                state["lose"] = state["lose"] and not lose
            threading.Thread(target=forward, args=(data, peer, lose), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    say("ready")
    for line in sys.stdin:
        command = line.strip()
        if command == "hold":
            with lock:
                state["hold"] = True
        elif command == "lose":
            with lock:
                state["lose"] = True
        elif command == "release":
            with lock:
                data, state["held"] = state["held"], None
            say(f"released rcode={rcode(ask(server, data)) if data else 'nothing held'}")
        elif command == "capture":
            with lock:
                state["capture"] = True
        elif command == "replay":
            with lock:
                data = state["captured"][0] if state["captured"] else None
            say(f"replayed rcode={rcode(ask(server, data)) if data else 'nothing captured'}")
        elif command == "stats":
            with lock:
                line = f"stats queries={state['queries']} updates={state['updates']}"
            say(line)


class Proxy:
    """The proxy in a world's isp namespace, with the nftables DNAT that sends it the router's
    UDP DNS traffic for the world's BIND; `command()` and `expect()` talk to it."""

    ADDR, PORT = "198.51.100.1", 5353  # the isp's address on the router's link

    def __init__(self, world):
        self.world = world
        world.ns_exec(world.isp_ns, ["nft", "-f", "-"], input=(
            "table ip replay {\n  chain pre {\n    type nat hook prerouting priority -100;\n"
            f'    iifname "to-rtr" ip daddr {world.bind_addr4} udp dport 53 dnat to {self.ADDR}:{self.PORT}\n  }}\n}}\n'))
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", world.isp_ns, sys.executable, os.path.abspath(__file__), self.ADDR, str(self.PORT), world.bind_addr4],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.expect("ready")

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str) -> str:
        line = self.proc.stdout.readline().strip()
        if not line.startswith(prefix):
            raise AssertionError(f"the proxy said {line!r}, not {prefix!r}...")
        return line

    def stats(self) -> dict[str, int]:
        self.command("stats")
        return {k: int(v) for k, v in (part.split("=") for part in self.expect("stats").split()[1:])}

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.world.ns_exec(self.world.isp_ns, ["nft", "delete", "table", "ip", "replay"], check=False)


if __name__ == "__main__":
    main()
