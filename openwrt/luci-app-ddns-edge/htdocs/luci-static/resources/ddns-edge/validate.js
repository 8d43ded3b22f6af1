'use strict';
'require baseclass';

/*
 * The rules of `ddns-edge check` (ddns_edge/config.py), for the LuCI form: each function
 * takes the field's text and returns true or the reason it would be refused. An empty
 * value counts as not given, as uci treats it. tests/openwrt/test_luci.py runs every
 * case of tests/openwrt/cases.py through these functions in Chromium and through
 * `ddns-edge check`, and requires the same verdict.
 */

const TTL = [ 1, 604800 ];
const PORT = [ 1, 65535 ];
const ECHO_INTERVAL = [ 10, 86400 ];
const HOOK_TIMEOUT = [ 1, 3600 ];
const IFNAMSIZ = 16;
const ALGORITHMS = [ 'hmac-md5', 'hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512' ];
const ECHO_ALLOWED = 'allowed: http://HOST/..., https://HOST/..., dns://SERVER/NAME[/A|AAAA|TXT], exec:COMMAND';

/* Python's str.isspace() set, so that strip() and split() agree with the agent's */
const SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RE = new RegExp('[' + SPACE + ']');
const STRIP_RE = new RegExp('^[' + SPACE + ']+|[' + SPACE + ']+$', 'g');
/* what Python's str.isprintable() refuses (and the space, which isspace() refuses) */
const UNPRINTABLE_RE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const LABEL_RE = /^[A-Za-z0-9_-]{1,63}$/;
const UCI_NAME_RE = /^[A-Za-z0-9_]+$/;

function strip(s) {
	return String(s ?? '').replace(STRIP_RE, '');
}

function show(s) {
	return JSON.stringify(s.length <= 64 ? s : s.substring(0, 61) + '...');
}

function integer(value, range, unit) {
	const text = strip(value);
	const allowed = 'allowed: a whole number %d..%d%s'.format(range[0], range[1], unit || '');

	if (text === '')
		return true;
	if (!/^[0-9]+$/.test(text))
		return '%s is not a whole number; %s'.format(show(value), allowed);
	if (text.length > 18 || +text < range[0] || +text > range[1])
		return '%s is out of range; %s'.format(text.length > 18 ? show(text) : String(+text), allowed);
	return true;
}

/* names.check: the name without its trailing dot, or an Error saying what is wrong with it */
function dnsName(text, minLabels, wildcard) {
	const name = text.endsWith('.') ? text.slice(0, -1) : text;

	if (name === '')
		return new Error('it is empty or the root');
	const labels = name.split('.');
	for (let i = 0; i < labels.length; i++) {
		if (labels[i] === '*' && wildcard && i === 0)
			continue;
		if (labels[i] === '')
			return new Error('it has an empty label (two dots in a row, or a leading dot)');
		if (labels[i].length > 63)
			return new Error('a label is longer than 63 characters');
		if (!LABEL_RE.test(labels[i]))
			return new Error("labels may hold only letters, digits, '-' and '_' (use the xn-- form for international names)");
		if (labels[i].startsWith('-') || labels[i].endsWith('-'))
			return new Error("a label starts or ends with '-'");
	}
	if (name.length > 253)
		return new Error('it is longer than 253 characters');
	if (labels.length < minLabels)
		return new Error('it needs at least %d labels, e.g. www.example.com'.format(minLabels));
	return name;
}

function ip4(s) {
	const octets = s.split('.');
	return octets.length === 4 && octets.every(o =>
		/^[0-9]{1,3}$/.test(o) && +o <= 255 && !(o.length > 1 && o[0] === '0'));
}

/* Python's ipaddress.IPv6Address rules, scope id included */
function ip6(s) {
	const pct = s.indexOf('%');
	if (pct >= 0) {
		const scope = s.substring(pct + 1);
		if (scope === '' || scope.includes('%'))
			return false;
		s = s.substring(0, pct);
	}
	const parts = s.split(':');
	if (parts.length < 3)
		return false;
	if (parts[parts.length - 1].includes('.')) {
		if (!ip4(parts.pop()))
			return false;
		parts.push('0', '0');
	}
	if (parts.length > 9)
		return false;
	let skip = null;
	for (let i = 1; i < parts.length - 1; i++) {
		if (parts[i] === '') {
			if (skip !== null)
				return false;
			skip = i;
		}
	}
	let hi, lo;
	if (skip !== null) {
		hi = skip;
		lo = parts.length - skip - 1;
		if (parts[0] === '' && --hi)
			return false;
		if (parts[parts.length - 1] === '' && --lo)
			return false;
		if (8 - (hi + lo) < 1)
			return false;
	}
	else {
		if (parts.length !== 8 || parts[0] === '' || parts[parts.length - 1] === '')
			return false;
		hi = parts.length;
		lo = 0;
	}
	return parts.slice(0, hi).concat(lo ? parts.slice(parts.length - lo) : [])
		.every(h => /^[0-9A-Fa-f]{1,4}$/.test(h));
}

/* an IPv6 address (ip6() true) as its eight 16-bit groups */
function groups6(s) {
	s = s.split('%')[0];
	let tail = [];
	const last = s.lastIndexOf(':');
	if (s.substring(last + 1).includes('.')) {
		const o = s.substring(last + 1).split('.').map(Number);
		tail = [ o[0] * 256 + o[1], o[2] * 256 + o[3] ];
		s = s.substring(0, last + 1) + (s[last - 1] === ':' ? '' : '0');
		if (s.endsWith(':0') && !s.endsWith('::0'))
			s = s.slice(0, -2) + ':';
	}
	const [ a, b ] = s.includes('::') ? s.split('::') : [ s, null ];
	const head = a ? a.split(':').filter(x => x !== '').map(h => parseInt(h, 16)) : [];
	const rest = (b != null && b !== '') ? b.split(':').filter(x => x !== '').map(h => parseInt(h, 16)) : [];
	const fill = 8 - head.length - rest.length - tail.length;
	return head.concat(b != null ? new Array(Math.max(fill, 0)).fill(0) : []).concat(rest).concat(tail);
}

/* keys.check_key_name: a DNS name as dnspython reads it, without whitespace */
function keyName(text) {
	const name = text.endsWith('.') ? text.slice(0, -1) : text;
	if (name === '' || SPACE_RE.test(name) || UNPRINTABLE_RE.test(name) || /[^\x00-\x7f]/.test(name))
		return false;
	let wire = 1, label = 0;
	for (let i = 0; i < name.length; i++) {
		if (name[i] === '.') {
			if (label === 0)
				return false;
			wire += label + 1;
			label = 0;
			continue;
		}
		if (name[i] === '\\') {
			if (/^[0-9]{3}$/.test(name.substring(i + 1, i + 4))) {
				if (+name.substring(i + 1, i + 4) > 255)
					return false;
				i += 3;
			}
			else if (++i >= name.length)
				return false;
		}
		if (++label > 63)
			return false;
	}
	if (label === 0)
		return false;
	return wire + label + 1 <= 255;
}

/* hostname of Python's urllib.parse.urlsplit: undefined when there is none, null when it raises */
/* names.check_host: a DNS name whose last label is not all digits (a mistyped address) */
function hostName(text) {
	return !(dnsName(text, 1, false) instanceof Error) && !/^[0-9]+$/.test(text.replace(/\.$/, '').split('.').pop());
}

/* echo_wire._server: NAME, NAME:PORT, ADDRESS, [IPv6]:PORT */
function dnsServer(text) {
	let host = text, port = 53;
	const m = /^\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?$/.exec(text);
	if (m) {
		host = m[1];
		if (m[2])
			port = +m[2];
	}
	else if (!((text.match(/:/g) || []).length > 1) && text.includes(':')) {
		host = text.substring(0, text.indexOf(':'));
		const p = text.substring(text.indexOf(':') + 1);
		if (!/^[0-9]{1,5}$/.test(p))
			return false;
		port = +p;
	}
	if (!host || port < 1 || port > 65535)
		return false;
	return ip4(host) || ip6(host) || (!host.includes(':') && hostName(host));
}

/* the port of an http(s) URL as urlsplit() reads it: absent, or a number up to 65535 */
function urlPort(text) {
	const rest = text.substring(text.indexOf('//') + 2);
	const hostinfo = rest.split(/[\/?#]/)[0].split('@').pop();
	const after = hostinfo.includes(']') ? hostinfo.substring(hostinfo.indexOf(']') + 1) : hostinfo;
	const port = after.includes(':') ? after.substring(after.indexOf(':') + 1) : '';
	return port === '' || (/^[0-9]+$/.test(port) && +port <= 65535);
}

function urlHost(text) {
	const rest = text.substring(text.indexOf('//') + 2);
	let netloc = rest.split(/[\/?#]/)[0];
	if ((netloc.includes('[') && !netloc.includes(']')) || (netloc.includes(']') && !netloc.includes('[')))
		return null;
	const hostinfo = netloc.substring(netloc.lastIndexOf('@') + 1);
	const host = hostinfo.includes('[') ? hostinfo.substring(hostinfo.indexOf('[') + 1).split(']')[0] : hostinfo.split(':')[0];
	return host === '' ? undefined : host;
}

return baseclass.extend({
	ALGORITHMS: ALGORITHMS,
	TTL: TTL,

	strip: strip,

	ttl(value) { return integer(value, TTL, ' seconds'); },
	port(value) { return integer(value, PORT, ''); },
	echoInterval(value) { return integer(value, ECHO_INTERVAL, ' seconds'); },
	hookTimeout(value) { return integer(value, HOOK_TIMEOUT, ' seconds'); },

	echoQuorum(value, sources) {
		if (strip(value) === '')
			return true;
		if (!sources)
			return 'needs list echo (the built-in echo list has its own quorum); allowed: 1..the number of echo sources';
		return integer(value, [ 1, sources ], ' (of %d echo sources)'.format(sources));
	},

	recordName(value) {
		if (strip(value) === '')
			return "needs option name, e.g. option name 'www.example.com'";
		const name = dnsName(strip(value), 2, true);
		return (name instanceof Error) ? '%s is not a valid DNS name: %s'.format(show(value), name.message) : true;
	},

	zone(value, recordName) {
		const text = strip(value);
		if (text === '')
			return true;
		const zone = dnsName(text, 1, false);
		if (zone instanceof Error)
			return '%s is not a valid DNS name: %s'.format(show(value), zone.message);
		const name = dnsName(strip(recordName), 2, true);
		if (!(name instanceof Error)) {
			const n = name.toLowerCase(), z = zone.toLowerCase();
			if (n !== z && !n.endsWith('.' + z))
				return '%s is not inside zone %s; allowed: the zone that holds the name (or leave zone out to find it)'.format(name, zone);
		}
		return true;
	},

	server(value) {
		const text = strip(value);
		if (text === '' || ip4(text) || ip6(text) || hostName(text))
			return true;
		return "%s is neither an IP address nor a host name; allowed: e.g. '192.0.2.53', '2001:db8::53' or 'ns1.example.com' (the port goes in option port)".format(show(value));
	},

	device(value) {
		if (value === '' || value == null)
			return true;
		if (Array.from(value).length >= IFNAMSIZ || value === '.' || value === '..' || /[\/:]/.test(value) ||
		    SPACE_RE.test(value) || UNPRINTABLE_RE.test(value))
			return "%s is not a kernel interface name; allowed: 1..15 characters without '/', ':' or spaces, e.g. 'pppoe-wan' or 'eth1'".format(show(value));
		return true;
	},

	network(value) {
		if (value === '' || value == null || UCI_NAME_RE.test(value))
			return true;
		return "%s is not an OpenWrt network name; allowed: A-Z a-z 0-9 _ such as 'wan' or 'wan6'".format(show(value));
	},

	/* the record's device, network and source together */
	origin(device, network, source) {
		if (device && network)
			return 'has both option device and option interface; allowed: one of them';
		if (!device && !network && strip(source).toLowerCase() !== 'echo')
			return "needs option device (a kernel interface such as 'pppoe-wan') or option interface (a network such as 'wan'); allowed without them: option source 'echo'";
		return true;
	},

	/* list device / list interface, option policy, option mwan3_policy: one WAN as ever, or
	   two and more (config._wans); `devices` and `networks`: a value or a list of them */
	wans(devices, networks, policy, mwan3Policy, source, hostId, mac) {
		const list = v => [].concat(v ?? []).filter(x => x != null && x !== '');
		const d = list(devices), n = list(networks), p = strip(policy ?? '').toLowerCase(), m = mwan3Policy ?? '';
		if (p !== '' && p !== 'failover' && p !== 'all')
			return "%s is not allowed; allowed: failover | all".format(show(policy));
		if (d.length && n.length)
			return (d.length + n.length > 2) ? 'names its WANs both by device and by interface; allowed: one way'
				: 'has both option device and option interface; allowed: one of them';
		const names = d.length ? d : n, kind = d.length ? 'device' : 'interface';
		for (const x of names) {
			const valid = (kind === 'device') ? this.device(x) : this.network(x);
			if (valid !== true)
				return valid;
		}
		if (new Set(names).size !== names.length)
			return 'a WAN is named twice; allowed: each WAN once';
		if (names.length < 2) {
			if (p !== '' || m !== '')
				return 'option %s needs two WANs or more'.format(p !== '' ? 'policy' : 'mwan3_policy');
			return true;
		}
		if (strip(source).toLowerCase() === 'echo')
			return "%d WANs and option source 'echo': the echo sees only the WAN the main table's default route takes; allowed: option source 'interface' or 'auto'".format(names.length);
		if (strip(hostId ?? '') !== '' || strip(mac ?? '') !== '')
			return 'a host behind the router is on one device; not with %d WANs'.format(names.length);
		if (m !== '') {
			if (kind === 'device')
				return 'mwan3_policy: mwan3 ranks networks: name the WANs by interface, as mwan3\'s config does';
			if (p === 'all')
				return "mwan3_policy: only with option policy 'failover'";
			if (!UCI_NAME_RE.test(m))
				return "%s is not an mwan3 policy name; allowed: A-Z a-z 0-9 _ such as 'wan_wanb'".format(show(m));
		}
		return true;
	},

	/* option host_id and option mac: a host behind the router (config._lan_host) */
	lanHost(hostId, mac, type, source) {
		const h = strip(hostId), m = strip(mac);
		if (h === '' && m === '')
			return true;
		if (h !== '' && m !== '')
			return 'has both option host_id and option mac; allowed: one of them';
		const name = (h !== '') ? 'host_id' : 'mac';
		if (strip(type || 'A').toUpperCase() !== 'AAAA')
			return "only for type AAAA: a host behind the router has its own IPv6 address (its A record is the router's WAN address, as a record without host_id or mac gives it); allowed: option type 'AAAA'";
		if (strip(source).toLowerCase() === 'echo')
			return "not with option source 'echo': the host's address comes from the router's own device";
		if (name === 'host_id') {
			const g = (ip6(h) && !h.includes('%')) ? groups6(h) : null;
			if (!g || g.length !== 8 || g.slice(0, 4).some(x => x) || !g.slice(4).some(x => x))
				return "%s is not an interface identifier; allowed: the host part of an IPv6 address (its low 64 bits), e.g. '::1234' or '::a8bb:ccff:fedd:eeff'".format(show(hostId));
			return true;
		}
		if (!/^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$/.test(m) || parseInt(m.substring(0, 2), 16) & 1 ||
		    /^[0:-]+$/.test(m))
			return "%s is not a host's MAC address; allowed: six hex bytes, e.g. 'aa:bb:cc:dd:ee:ff' (not a multicast one, not all zeros)".format(show(mac));
		return true;
	},

	keyName(value) {
		const text = strip(value);
		if (text === '' || keyName(text))
			return true;
		return '%s is not a valid TSIG key name; allowed: a DNS name such as ddns-key or ddns-key.example.com'.format(show(value));
	},

	secret(value) {
		if (value === '' || value == null)
			return true;
		const compact = value.split(new RegExp('[' + SPACE + ']+')).join('');
		const allowed = '; allowed: the base64 key as ddns-edge keygen or tsig-keygen prints it';
		if (compact === '')
			return 'the secret is empty' + allowed;
		/* keys.BASE64: groups of four, and padding only to fill the last one */
		if (!/^(?:[A-Za-z0-9+\/]{4})*(?:[A-Za-z0-9+\/]{2}==|[A-Za-z0-9+\/]{3}=)?$/.test(compact))
			return 'the secret is not valid base64 (A-Z a-z 0-9 + / and = padding)' + allowed;
		return true;
	},

	/* a key section: exactly one of secret and file */
	keyMaterial(secret, file) {
		if (secret && file)
			return 'has both option secret and option file; allowed: exactly one of them';
		if (!secret && !file)
			return 'has neither option secret nor option file; allowed: exactly one (secret: the base64 key; file: a key file)';
		return true;
	},

	absolutePath(value) {
		if (value === '' || value == null)
			return true;
		if (!value.startsWith('/') || value.includes('\n'))
			return '%s is not an absolute path; allowed: a path starting with /'.format(show(value));
		return true;
	},

	echoSource(value) {
		const text = strip(value);
		const bad = why => 'echo: %s; %s'.format(why, ECHO_ALLOWED);

		if (text === '')
			return bad('empty echo source');
		if (SPACE_RE.test(text) && !text.startsWith('exec:'))
			return bad('an echo URL must not hold spaces');
		const scheme = text.includes(':') ? text.split(':')[0].toLowerCase() : '';
		if (scheme === 'http' || scheme === 'https') {
			const host = urlHost(text);
			if (!text.toLowerCase().startsWith(scheme + '://') || !host)
				return bad('the %s URL has no host'.format(scheme));
			if (!urlPort(text) || (text.substring(text.indexOf('//') + 2).split(/[\/?#]/)[0].includes('[') && !ip6(host)))
				return bad('the %s URL has a bad port or host'.format(scheme));
			if (!ip4(host) && !ip6(host) && !hostName(host))
				return bad('the host in the %s URL is neither an IP address nor a valid host name'.format(scheme));
		}
		else if (scheme === 'dns') {
			if (!text.toLowerCase().startsWith('dns://'))
				return bad('a dns echo source is written dns://SERVER/NAME');
			const parts = text.substring(6).split('/');
			if ((parts.length !== 2 && parts.length !== 3) || !parts[0] || !parts[1])
				return bad('a dns echo source needs a server and a name');
			if (!dnsServer(parts[0]))
				return bad('the server of the dns echo source is not NAME, NAME:PORT, ADDRESS or [IPv6]:PORT (port 1..65535)');
			if (dnsName(parts[1], 1, false) instanceof Error)
				return bad('the name in the dns echo source is not a valid DNS name');
			if (parts.length === 3 && [ 'A', 'AAAA', 'TXT' ].indexOf(parts[2].toUpperCase()) < 0)
				return bad('the record type of a dns echo source must be A, AAAA or TXT');
		}
		else if (scheme === 'exec') {
			if (strip(text.substring(5)) === '')
				return bad('exec: needs a command');
		}
		else {
			return bad(/^[A-Za-z]{1,10}$/.test(scheme) ? 'unknown scheme %s'.format(JSON.stringify(scheme + ':')) : 'not an echo source');
		}
		return true;
	}
});
