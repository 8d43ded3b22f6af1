"""A small DNS server that misbehaves on purpose, for tests/netns/test_hostile.py.

Run inside a namespace: `misbehave.py ADDRESS SPOOF_ADDRESS MODE KEYNAME SECRET`. It plays
an authoritative server for every query and UPDATE (empty answers, NOERROR), signed with
the key, except for what MODE says:

  wrong-id    first an answer with a wrong ID, then the right one
  unsigned    answers without a TSIG
  badsig      answers signed with another secret
  garbage     bytes that are no DNS message, nothing else
  spoof       the right answer, but from SPOOF_ADDRESS
  truncated   over UDP an unsigned TC answer; over TCP the right one
  dribble     over UDP an unsigned TC answer; over TCP a 512-byte answer announced, then
              a byte of it every 2 s (a server, or anyone on the path, holding the exchange)
  race        the first UPDATE fails NXRRSET (another writer got there first), then behaves
  race-always every UPDATE fails NXRRSET
  drop-first  the first datagram is never answered (its answer lost on the way)
  forged-first     an unsigned NOERROR with the right ID just before each right answer
  refused-first    an unsigned REFUSED just before each right answer
  servfail-first   an unsigned SERVFAIL just before each right answer
  unsigned-refused only unsigned REFUSED answers
  unsigned-servfail only unsigned SERVFAIL answers
  slow        every answer 6 s late (each in a thread of its own: later queries wait for nothing)
  fine        behaves

Each request's opcode (QUERY or UPDATE) is printed on stdout, a line each.
"""

import base64
import socket
import sys
import threading
import time

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.tsig


def main():
    address, spoof, mode, keyname, secret = sys.argv[1:6]
    key = dns.tsig.Key(keyname, base64.b64decode(secret), "hmac-sha256")
    other = dns.tsig.Key(keyname, b"another secret, thirty-two bytes", "hmac-sha256")

    def answer(data, signed_with=key):
        query = dns.message.from_wire(data, keyring=key)
        response = dns.message.make_response(query)
        response.flags |= 0x0400  # AA
        if signed_with is None:
            response.keyring = None
            response.tsig = None
        elif signed_with is not key:
            response.use_tsig(signed_with)
        return query, response

    def dribble(conn):
        with conn:
            try:
                conn.sendall(b"\x02\x00")
                for _ in range(512):
                    time.sleep(2)
                    conn.sendall(b"\x00")
            except OSError:
                pass

    def serve_tcp():
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((address, 53))
        srv.listen(8)
        while True:
            conn, _ = srv.accept()
            if mode == "dribble":
                threading.Thread(target=dribble, args=(conn,), daemon=True).start()
                continue
            with conn:
                size = int.from_bytes(conn.recv(2), "big")
                data = b""
                while len(data) < size:
                    data += conn.recv(size - len(data))
                _, response = answer(data)
                wire = response.to_wire()
                conn.sendall(len(wire).to_bytes(2, "big") + wire)

    threading.Thread(target=serve_tcp, daemon=True).start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((address, 53))
    liar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    liar.bind((spoof, 53))
    print("ready", flush=True)
    raced = False
    dropped = False
    while True:
        data, peer = udp.recvfrom(65535)
        if mode == "drop-first" and not dropped:
            dropped = True
            continue
        if mode == "garbage":
            udp.sendto(b"\x13\x37 this is not DNS", peer)
            continue
        if mode in ("truncated", "dribble"):
            query = dns.message.from_wire(data, keyring=key)
            tc = dns.message.make_response(query)
            tc.keyring = None
            tc.tsig = None
            tc.flags |= 0x0200  # TC
            udp.sendto(tc.to_wire(), peer)
            continue
        signer = {"unsigned": None, "badsig": other}.get(mode, key)
        query, response = answer(data, signer)
        opcode = dns.opcode.to_text(query.opcode())
        print(opcode, flush=True)
        if opcode == "UPDATE" and (mode == "race-always" or (mode == "race" and not raced)):
            response.set_rcode(dns.rcode.NXRRSET)
            raced = True
        if mode == "wrong-id":
            wrong = dns.message.make_response(query)
            wrong.id = (query.id + 1) % 65536
            udp.sendto(wrong.to_wire(), peer)
        forged = {"forged-first": dns.rcode.NOERROR, "refused-first": dns.rcode.REFUSED, "servfail-first": dns.rcode.SERVFAIL,
                  "unsigned-refused": dns.rcode.REFUSED, "unsigned-servfail": dns.rcode.SERVFAIL}.get(mode)
        if forged is not None:
            lie = dns.message.make_response(query)
            lie.flags |= dns.flags.AA
            lie.set_rcode(forged)
            lie.keyring = None
            lie.tsig = None
            udp.sendto(lie.to_wire(), peer)
            if mode.startswith("unsigned-"):
                continue
        if mode == "slow":
            threading.Timer(6.0, udp.sendto, (response.to_wire(), peer)).start()
            continue
        (liar if mode == "spoof" else udp).sendto(response.to_wire(), peer)


if __name__ == "__main__":
    main()
