// rpcd plugin: the ubus object `ddns-edge`, answered by the ddns-edge command line.
//
//   ubus call ddns-edge status              what the running agent last wrote (its state
//                                           file) and whether procd runs it
//   ubus call ddns-edge config              /etc/config/ddns-edge without its secrets
//   ubus call ddns-edge check '{"online":false}'   ddns-edge check on the saved config
//   ubus call ddns-edge detect              each record's address now, and from where
//   ubus call ddns-edge keygen '{"name":"ddns-key","algorithm":"hmac-sha256","zone":"example.com"}'
//                                           a new TSIG key and its server side (BIND, Knot,
//                                           PowerDNS); needs write access (it is a secret)
//
// Nothing stays resident: each call runs the command once. Licensed under the MIT license.

'use strict';

import { popen } from 'fs';
import { cursor } from 'uci';
import { connect } from 'ubus';

const PROG = '/usr/bin/ddns-edge';
const CONFIG = '/etc/config/ddns-edge';

function quote(s) {
	return "'" + replace(s, "'", "'\\''") + "'";
}

// run `ddns-edge -c CONFIG ARGS...`: { code, output } (stdout and stderr, trimmed)
function run(args) {
	const cmd = join(' ', map([ PROG, '-c', CONFIG, ...args ], quote)) + ' 2>&1';
	const proc = popen(cmd, 'r');
	if (!proc)
		return { code: 127, output: `cannot run ${PROG}` };
	const output = trim(proc.read('all') ?? '');
	const code = proc.close();
	return { code, output };
}

function last_line(text) {
	const lines = filter(split(text ?? '', '\n'), length);
	return length(lines) ? lines[-1] : '';
}

function service() {
	const ubus = connect();
	const list = ubus?.call('service', 'list', { name: 'ddns-edge' });
	const instance = list?.['ddns-edge']?.instances?.instance1;
	ubus?.disconnect();
	return { running: !!instance?.running, pid: instance?.pid ?? null };
}

const methods = {
	status: {
		call: function() {
			const r = run([ 'status', '--json' ]);
			const out = { service: service() };
			if (r.code == 0) {
				const state = json(substr(r.output, index(r.output, '{')));
				if (type(state) == 'object')
					out.state = state;
				else
					out.error = 'ddns-edge status printed no state';
			}
			else {
				out.error = last_line(r.output);
			}
			return out;
		}
	},

	config: {
		call: function() {
			const sections = [];
			cursor().foreach('ddns-edge', null, function(s) {
				const out = {};
				for (let k, v in s)
					if (k != 'secret')
						out[k] = v;
				if (s.secret != null)
					out.secret_set = length(s.secret) > 0;
				push(sections, out);
			});
			return { sections };
		}
	},

	check: {
		args: { online: false },
		call: function(req) {
			const r = run(req.args?.online ? [ 'check', '--online' ] : [ 'check' ]);
			return { ok: r.code == 0, code: r.code, output: r.output };
		}
	},

	detect: {
		call: function() {
			const r = run([ 'detect' ]);
			return { ok: r.code == 0, code: r.code, output: r.output };
		}
	},

	keygen: {
		args: { name: 'ddns-key', algorithm: 'hmac-sha256', zone: 'example.com' },
		call: function(req) {
			const name = req.args?.name;
			if (type(name) != 'string' || !length(name))
				return { ok: false, error: 'keygen needs a key name, e.g. {"name": "ddns-key"}' };
			const args = [ 'keygen', name ];
			if (length(req.args?.algorithm))
				push(args, '--algorithm', req.args.algorithm);
			if (length(req.args?.zone))
				push(args, '--zone', req.args.zone);
			const r = run(args);
			return r.code == 0 ? { ok: true, key: r.output + '\n' } : { ok: false, error: last_line(r.output) };
		}
	}
};

return { 'ddns-edge': methods };
