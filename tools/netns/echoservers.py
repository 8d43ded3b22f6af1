"""Echo servers for the netns tests: "the internet" that tells the router its address.

World.start_echo() runs this in the srv namespace: `python echoservers.py CONFIG.json`, where
the config names a log file and the HTTP, HTTPS and DNS (UDP) sockets to serve. It prints
"ready" once every socket is bound. Each request is appended to the log as one JSON line:
{"kind": "http"|"https"|"dns", "what": path or "name type", "client": address}.

HTTP and HTTPS paths:
  /ip        the asker's address as text (what a real echo service answers)
  /html      an HTML page that holds the address
  /lie       always 198.51.100.66 (a lying or stale source)
  /private   always 100.64.0.9
  /markup    markup that is not HTML at first sight (as plain text; an attacker on the path)
  /big       10 MB of text, streamed without a length (must be cut off, not read)
  /slow      the asker's address, after 10 s
DNS names, for A, AAAA and TXT questions:
  whoami.test.  the asker's address (A for an IPv4 asker, AAAA for IPv6, or TXT)
  lie.test.     198.51.100.66 / 2001:db8:66::66
"""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import ssl
import sys
import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

LIE4, LIE6 = "198.51.100.66", "2001:db8:66::66"
MARKUP = "x<img/src=x/onerror=document.title='owned'>"

_log_lock = threading.Lock()
_log_path = None


def _log(kind: str, what: str, client: str) -> None:
    with _log_lock, open(_log_path, "a") as f:
        f.write(json.dumps({"kind": kind, "what": what, "client": client}) + "\n")


def _client(address: str) -> str:
    return address[7:] if address.startswith("::ffff:") else address


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    kind = "http"

    def log_message(self, *args):
        pass

    def do_GET(self):
        client = _client(self.client_address[0])
        _log(self.kind, self.path, client)
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = (client + "\n").encode() * 1024
            try:
                sent = 0
                while sent < 10_000_000:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # the client stopped reading, as it must
            self.close_connection = True
            return
        if self.path == "/slow":
            time.sleep(10)
        body, ctype = {
            "/ip": (f"{client}\n", "text/plain"),
            "/slow": (f"{client}\n", "text/plain"),
            "/html": (f"<!DOCTYPE html>\n<html><body><p>Your address is {client}</p></body></html>\n", "text/html"),
            "/lie": (f"{LIE6 if ':' in client else LIE4}\n", "text/plain"),
            "/private": ("100.64.0.9\n", "text/plain"),
            "/markup": (MARKUP + "\n", "text/plain"),
        }.get(self.path, ("not found\n", "text/plain"))
        data = body.encode()
        self.send_response(200 if body != "not found\n" else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class TLSHandler(Handler):
    kind = "https"


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # HTTPServer's own would look up the host's name: no resolver answers in the world
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class Server6(Server):
    address_family = socket.AF_INET6


def _http(addr: str, port: int, handler, tls: ssl.SSLContext | None = None) -> Server:
    server = (Server6 if ":" in addr else Server)((addr, port), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _dns(addr: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))

    def serve():
        while True:
            wire, peer = sock.recvfrom(4096)
            try:
                query = dns.message.from_wire(wire)
                q = query.question[0]
            except Exception:
                continue
            client = _client(peer[0])
            name, rtype = q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype)
            _log("dns", f"{name} {rtype}", client)
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            value = {"whoami.test.": client, "lie.test.": LIE6 if ":" in client else LIE4}.get(name)
            if value is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif rtype == "TXT":
                response.answer.append(dns.rrset.from_text(q.name, 0, "IN", "TXT", f'"{value}"'))
            elif rtype == ("AAAA" if ":" in value else "A"):
                response.answer.append(dns.rrset.from_text(q.name, 0, "IN", rtype, value))
            sock.sendto(response.to_wire(), peer)

    threading.Thread(target=serve, daemon=True).start()


def main(path: str) -> None:
    global _log_path
    with open(path) as f:
        conf = json.load(f)
    _log_path = conf["log"]
    tls = None
    if conf.get("https"):
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(conf["cert"], conf["key"])
    for addr, port in conf.get("http", []):
        _http(addr, port, Handler)
    for addr, port in conf.get("https", []):
        _http(addr, port, TLSHandler, tls)
    for addr, port in conf.get("dns", []):
        _dns(addr, port)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1])
