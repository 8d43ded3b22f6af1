"""The echo's wire (pure): echo sources as written in the config, and the answers they give.

`parse_source` is the one check of an echo source: `check` refuses at file:line what it
refuses, so a round never meets a source it cannot ask. The answer parsers take bytes (an
HTTP answer, a DNS message, a command's output) and return an Answer: exactly one public
address of the round's family, or the reason it was rejected, which the operator reads.
The rounds that ask the sources, and their transports, are echo.py's.

dnspython is imported by parse_dns alone: config.py checks echo sources with this module,
and `status`, which reads the config for its state_dir, never speaks DNS.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, urlsplit

from ddns_edge import names
from ddns_edge.addresses import ip_literal, is_public
from ddns_edge.model import Answer, EchoSource, IPAddress

MAX_BODY = 4096  # bytes of an answer's body (or a command's output)
MAX_HEAD = 8192  # bytes of an HTTP answer's status line and headers
MAX_READ = MAX_HEAD + MAX_BODY + 1024  # never read more than this of an HTTP answer (chunk framing)

FAMILY_NAMES = {4: "IPv4", 6: "IPv6"}
TYPE_OF_FAMILY = {4: "A", 6: "AAAA"}
DNS_TYPES = ("A", "AAAA", "TXT")
ALLOWED = "allowed: http://HOST/..., https://HOST/..., dns://SERVER/NAME[/A|AAAA|TXT], exec:COMMAND"


# ------------------------------------------------------------------ sources


def strip_password(text: str) -> str:
    """`text` with the password of a URL's userinfo removed (user@host stays)."""
    m = re.match(r"(?i)((?:https?|dns)://)([^/@]*)@", text)
    if m is None:
        return text
    user = m.group(2).split(":", 1)[0]
    return m.group(1) + (user + "@" if user else "") + text[m.end():]


def parse_source(text: str, position: int | None = None) -> EchoSource:
    """Parse and check one echo source (the `position`-th of the config's list, from 1);
    ValueError says what is wrong (never repeating the text: a URL may hold a password).
    Its `shown` is how it appears anywhere (the log, the state file, `detect`, the config
    shown to LuCI's read-only users): a URL without its password, an exec: source by its
    program and place (exec_name), never its command."""
    text = text.strip()
    if not text:
        raise ValueError("empty echo source")
    shown = strip_password(text)
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme != "exec" and any(c.isspace() for c in text):
        raise ValueError("an echo URL must not hold spaces")
    if scheme in ("http", "https"):
        return _parse_http(text, scheme, shown)
    if scheme == "dns":
        return _parse_dns(text, shown)
    if scheme == "exec":
        command = text[len("exec:"):].strip()
        if not command:
            raise ValueError("exec: needs a command")
        return EchoSource(text, "exec", exec_name(command, position), command=command)
    raise ValueError(f"unknown scheme {scheme + ':'!r}" if scheme.isalpha() and len(scheme) <= 10 else "not an echo source")


def exec_name(command: str, position: int | None = None) -> str:
    """How the log names an exec: source: the program's name and the source's place in the
    list ('exec:ssh (echo source 3)'), never the command, which may hold a password."""
    program = "command"
    for word in command.split():
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word):
            continue  # VAR=value before the program
        base = word.rsplit("/", 1)[-1]
        if re.fullmatch(r"[A-Za-z0-9._+-]{1,32}", base):
            program = base
        break
    return f"exec:{program}" + (f" (echo source {position})" if position else "")


def _parse_http(text: str, scheme: str, shown: str) -> EchoSource:
    if not text.lower().startswith(scheme + "://"):
        raise ValueError(f"the {scheme} URL has no host")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:  # a port out of range or not a number, a bad [IPv6] literal
        raise ValueError(f"the {scheme} URL has a bad port or host") from None
    if not host:
        raise ValueError(f"the {scheme} URL has no host")
    if ip_literal(host) is None and not names.is_host(host):
        raise ValueError(f"the host in the {scheme} URL is neither an IP address nor a valid host name (use the xn-- form for international names)")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username is not None else None
    return EchoSource(text, scheme, shown, host=host, port=port, target=target, auth=auth)


def _parse_dns(text: str, shown: str) -> EchoSource:
    if not text.lower().startswith("dns://"):
        raise ValueError("a dns echo source is written dns://SERVER/NAME")
    parts = text[len("dns://"):].split("/")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError("a dns echo source needs a server and a name")
    server = _server(parts[0])
    if server is None:
        raise ValueError("the server of the dns echo source is not NAME, NAME:PORT, ADDRESS or [IPv6]:PORT (port 1..65535)")
    if not names.is_valid(parts[1]):
        raise ValueError("the name in the dns echo source is not a valid DNS name")
    rtype = parts[2].upper() if len(parts) == 3 and parts[2] else None
    if rtype not in (None, *DNS_TYPES):
        raise ValueError("the record type of a dns echo source must be A, AAAA or TXT")
    return EchoSource(text, "dns", shown, host=server[0], port=server[1], name=parts[1], rtype=rtype)


def _server(text: str) -> tuple[str, int] | None:
    """dns:// server part: `name`, `name:port`, `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]:port`."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?", text)
    if m:
        host, port = m.group(1), int(m.group(2) or 53)
    elif text.count(":") > 1:
        host, port = text, 53
    elif ":" in text:
        host, _, p = text.partition(":")
        if not p.isdigit() or len(p) > 5:
            return None
        port = int(p)
    else:
        host, port = text, 53
    if not host or not 0 < port < 65536:
        return None
    if ip_literal(host) is None and (":" in host or not names.is_host(host)):
        return None
    return host, port


def applies(source: EchoSource, family: int) -> bool:
    """False when `source` can never answer for `family` (and so is not asked)."""
    if source.kind == "dns" and source.rtype in ("A", "AAAA") and source.rtype != TYPE_OF_FAMILY[family]:
        return False
    literal = ip_literal(source.host)
    return literal is None or literal.version == family


# ------------------------------------------------------------------ answers


def reject(why: str, no_route: bool = False) -> Answer:
    return Answer(None, why, no_route)


def check(address: IPAddress, family: int) -> Answer:
    """The address if it is public and of `family`, else the rejection."""
    if address.version != family:
        return reject(f"an {FAMILY_NAMES[address.version]} address ({address}) where {FAMILY_NAMES[family]} was asked")
    if not is_public(address):
        return reject(f"a private address ({address})")
    return Answer(address)


def to_address(token: bytes | str) -> IPAddress | None:
    """`token` as an address (IPv4-mapped IPv6 as IPv4), or None."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not 2 <= len(token) <= 45:
        return None
    try:
        address = ipaddress.ip_address(token)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# What of an answer may be repeated as it is: letters, digits and a little punctuation. No
# markup (< > & quotes), no control characters, nothing beyond ASCII: the reason goes to
# the log, the state file and the LuCI page, and whoever is on the path of an http://
# source writes these bytes.
_SHOWN_AS_IS = re.compile(rb"[A-Za-z0-9 .,:;_+=/()\[\]{}-]*")


def describe(data: bytes, limit: int = 40) -> str:
    """A rejected answer (or part of one) for the operator: quoted when it holds only the
    harmless characters above (up to `limit` of them), else described by its size and
    whether it is text, never repeated: 'not an address: 40 bytes of text' (pure)."""
    size = f"{len(data)} byte{'' if len(data) == 1 else 's'}"
    if _SHOWN_AS_IS.fullmatch(data):
        shown = repr(data[:limit].decode("ascii"))
        return shown if len(data) <= limit else f"{shown}... ({size})"
    try:
        text = data.decode("utf-8").isprintable()
    except UnicodeDecodeError:
        text = False
    return f"{size} of text" if text else f"{size}, not text"


def parse_text(body: bytes, family: int) -> Answer:
    """A text answer whose first token is the address, and the only address in it."""
    text = body.strip()
    if not text:
        return reject("an empty answer")
    if text[:1] == b"<" or b"<html" in text[:MAX_BODY].lower():
        return reject("an HTML page, not an address")
    tokens = text.split()
    address = to_address(tokens[0])
    if address is None:
        return reject(f"not an address: {describe(tokens[0])}")
    others = {a for a in map(to_address, tokens[1:]) if a is not None and a != address}
    if others:
        return reject(f"more than one address ({address}, {sorted(others, key=str)[0]})")
    return check(address, family)


_STATUS_RE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: [^\r\n]*)?")
_TOKEN_RE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_http(raw: bytes, family: int, eof: bool = True) -> Answer | None:
    """An HTTP/1.x answer, as read so far, as an Answer; None: incomplete, read on (only when not `eof`)."""
    if len(raw) > MAX_READ:
        return reject(f"an answer larger than {MAX_READ} bytes; not read further")
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        if len(raw) > MAX_HEAD:
            return reject(f"HTTP headers larger than {MAX_HEAD} bytes")
        if not eof:
            return None
        return reject("no answer" if not raw else "not an HTTP answer" if not raw.startswith(b"HTTP/") else "an HTTP answer cut short")
    if end > MAX_HEAD:
        return reject(f"HTTP headers larger than {MAX_HEAD} bytes")
    lines = raw[:end].split(b"\r\n")
    status = _STATUS_RE.fullmatch(lines[0])
    if status is None:
        return reject(f"not an HTTP answer: {describe(lines[0])}")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN_RE.fullmatch(name):
            return reject(f"a malformed HTTP header: {describe(line)}")
        name, value = name.lower(), value.strip()
        if name in headers and name == b"content-length" and headers[name] != value:
            return reject("conflicting Content-Length headers")
        headers[name] = value
    code = int(status.group(1))
    if code != 200:
        return reject(f"HTTP status {code}" + (" (redirects are not followed)" if 300 <= code < 400 else ""))
    ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if ctype in (b"text/html", b"application/xhtml+xml"):
        return reject("an HTML page, not an address")
    body = raw[end + 4:]
    if b"transfer-encoding" in headers:
        if headers[b"transfer-encoding"].lower() != b"chunked":
            return reject("an HTTP transfer encoding other than chunked")
        body, complete, problem = dechunk(body)
        if problem:
            return reject(problem)
        if not complete:
            return None if not eof else reject("an HTTP answer cut short")
    elif b"content-length" in headers:
        length = headers[b"content-length"]
        if not length.isdigit() or len(length) > 12:
            return reject(f"a bad Content-Length: {describe(length)}")
        if int(length) > MAX_BODY:
            return reject(f"an answer of {int(length)} bytes; at most {MAX_BODY} are read")
        if len(body) < int(length):
            return None if not eof else reject("an HTTP answer cut short")
        body = body[: int(length)]
    elif len(body) > MAX_BODY:
        return reject(f"an answer larger than {MAX_BODY} bytes; not read further")
    elif not eof:
        return None
    return parse_text(body, family)


def dechunk(data: bytes) -> tuple[bytes, bool, str | None]:
    """Chunked transfer coding: (body so far, complete, problem)."""
    out, pos = bytearray(), 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(out), False, None if len(data) - pos < 64 else "a malformed chunked HTTP answer"
        size = data[pos:eol].split(b";", 1)[0].strip()
        if not size or len(size) > 8 or not all(c in b"0123456789abcdefABCDEF" for c in size):
            return bytes(out), False, "a malformed chunked HTTP answer"
        n = int(size, 16)
        if n == 0:
            return bytes(out), True, None
        if len(out) + n > MAX_BODY:
            return bytes(out), False, f"an answer larger than {MAX_BODY} bytes; not read further"
        start = eol + 2
        if len(data) < start + n + 2:
            out += data[start:start + n]
            return bytes(out), False, None
        if data[start + n:start + n + 2] != b"\r\n":
            return bytes(out), False, "a malformed chunked HTTP answer"
        out += data[start:start + n]
        pos = start + n + 2


def parse_dns(wire: bytes, query_id: int, qname: str, rtype: str, family: int) -> Answer:
    """A DNS answer to (`query_id`, `qname`, `rtype`): exactly one address in A, AAAA or TXT data."""
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype

    try:
        msg = dns.message.from_wire(wire)
    except Exception as e:  # any bytes may arrive: every way of being malformed is one rejection
        return reject(f"not a DNS answer ({type(e).__name__})")
    if msg.id != query_id or not msg.flags & dns.flags.QR:
        return reject("not the answer to our query")
    if msg.flags & dns.flags.TC:
        return reject("a truncated DNS answer")
    want_type = dns.rdatatype.from_text(rtype)
    try:
        name = dns.name.from_text(qname)
    except Exception:
        return reject("a bad name")
    if len(msg.question) != 1 or (msg.question[0].name, msg.question[0].rdtype, msg.question[0].rdclass) != (name, want_type, dns.rdataclass.IN):
        return reject("the answer to another question")
    if msg.rcode() != dns.rcode.NOERROR:
        return reject(f"DNS {dns.rcode.to_text(msg.rcode())}")
    owners = {name}
    for rrset in msg.answer:  # follow CNAMEs in order
        if rrset.rdtype == dns.rdatatype.CNAME and rrset.name in owners:
            owners.update(r.target for r in rrset)
    addresses: list[IPAddress] = []
    for rrset in msg.answer:
        if rrset.name not in owners or rrset.rdtype != want_type or rrset.rdclass != dns.rdataclass.IN:
            continue
        for rdata in rrset:
            if want_type == dns.rdatatype.TXT:
                addresses += [a for s in rdata.strings for a in map(to_address, s.split()) if a is not None]
            else:
                address = to_address(rdata.address)
                if address is not None:
                    addresses.append(address)
    distinct = list(dict.fromkeys(addresses))
    if not distinct:
        return reject(f"no address in the {rtype} answer")
    if len(distinct) > 1:
        return reject(f"more than one address ({distinct[0]}, {distinct[1]})")
    return check(distinct[0], family)


def parse_exec(output: bytes, status: int | None, family: int) -> Answer:
    """A command's result: exit status 0 and an address as the first address in its output.
    Nothing it printed is repeated (a command's output may hold a secret)."""
    if status is None:
        return reject("did not finish in time")
    if status != 0:
        return reject(f"exited with status {status} (its output is not logged: run it by hand to see why)")
    if len(output) > MAX_BODY:
        return reject(f"printed more than {MAX_BODY} bytes")
    for token in output.split():
        address = to_address(token.strip(b"\"'[](),;"))
        if address is not None:
            return check(address, family)
    if not output.strip():
        return reject("printed nothing")
    return reject(f"printed no address ({len(output.strip())} bytes, not logged)")
