// rpcd plugin: the ubus object `ddns-edge`.
//
//   ubus call ddns-edge status              what the running agent last wrote (its state
//                                           file, as `ddns-edge status --json` prints it),
//                                           whether procd runs it, and the last check of the
//                                           saved config while the config is unchanged
//   ubus call ddns-edge config              /etc/config/ddns-edge without its secrets
//                                           (`ddns-edge config --json`)
//   ubus call ddns-edge check '{"online":false}'   ddns-edge check on the saved config
//   ubus call ddns-edge detect              each record's address now, and from where
//   ubus call ddns-edge keygen '{"name":"ddns-key","algorithm":"hmac-sha256","zone":"example.com"}'
//                                           a new TSIG key and its server side (BIND, Knot,
//                                           PowerDNS)
//
// rpcd answers one call at a time, and everyone's uci and LuCI wait behind it: no call here
// holds it. `status` reads the state file itself (no process: the status page asks every
// 5 s). The others run ddns-edge outside rpcd, through rpcd's own file.exec (a deferred
// reply: rpcd serves other calls meanwhile), with --time-limit, and answer when it is done.
// One run of each at a time: whoever asks for what is running already waits for that run.
// `check` and `config` answer from their last run while the config, its key files and
// ddns-edge itself are unchanged.
//
// The ACL (acl.d/luci-app-ddns-edge.json): status, config and check for read-only users;
// detect (it runs the config's exec: echo sources) and keygen (a secret) need write access.
// Licensed under the MIT license.

'use strict';

import { lstat, stat, readfile, dirname, basename } from 'fs';
import { cursor } from 'uci';
import { connect } from 'ubus';

// where they are on a router; the environment moves them for tests/luci/test_rpcd_plugin.py only
const PROG = getenv('DDNS_EDGE_RPCD_PROG') ?? '/usr/bin/ddns-edge';
const CONFIG = getenv('DDNS_EDGE_RPCD_CONFIG') ?? '/etc/config/ddns-edge';

const DEFAULT_STATE_DIR = '/var/run/ddns-edge';
const MAX_STATE = 16 * 1024 * 1024;  // bytes: as ddns_edge/state.py reads it
const TIME_LIMIT = 15;  // seconds ddns-edge may take for LuCI, which waits 20 s for an answer

// kept from load on, as LuCI's own plugins keep theirs: a deferred call outlives the handler
const ubus = connect();

const running = {};  // what runs now -> the requests waiting for it
const kept = {};  // check's and config's last answers, and what they depend on
let runs = 0;

function last_line(text) {
	const lines = filter(split(text ?? '', '\n'), length);
	return length(lines) ? lines[-1] : '';
}

function uci_get_first(type, option) {
	return cursor(dirname(CONFIG)).get_first(basename(CONFIG), type, option);
}

// What a check of the saved config depends on: the config, its key files and ddns-edge
// itself, as stat() sees them (a uci commit, an edit, a chmod or chown, an upgrade).
function signature() {
	const files = [ CONFIG, PROG ];
	cursor(dirname(CONFIG)).foreach(basename(CONFIG), 'key', function(s) {
		if (type(s.file) == 'string' && length(s.file))
			push(files, substr(s.file, 0, 1) == '/' ? s.file : `${dirname(CONFIG)}/${s.file}`);
	});
	return join('\n', map(files, function(path) {
		const st = stat(path);
		return st ? sprintf('%s %d %d %d %d %d %d %d', path, st.inode, st.size, st.mtime, st.ctime, st.mode, st.uid, st.gid)
		          : `${path} -`;
	}));
}

function kept_answer(what) {
	const last = kept[what];
	return (last && last.signature == signature()) ? last.answer : null;
}

// Run `ddns-edge -c CONFIG ARGS` outside rpcd; answer(code, stdout, stderr) makes the
// reply (code null: it did not finish). The reply is deferred; `what` names the run, and
// whoever asks for the same while it runs waits for it. With `keep`, the answer is kept
// for kept_answer() when nothing it depends on changed while it ran.
function run(req, what, args, answer, keep) {
	if (running[what]) {
		push(running[what], req);
		return req.defer();
	}
	const before = keep ? signature() : null;
	const deferred = ubus?.defer('file', 'exec', {
		command: PROG, params: [ '--time-limit', `${TIME_LIMIT}`, '-c', CONFIG, ...args ]
	}, function(status, result) {
		const reply = (status == 0) ? answer(result?.code, result?.stdout ?? '', result?.stderr ?? '')
			: answer(null, '', `ddns-edge ${args[0]} did not finish (ubus status ${status})`);
		if (keep && status == 0 && before == signature())
			kept[what] = { signature: before, answer: reply };
		const waiting = running[what];
		delete running[what];
		for (let r in waiting)
			r.reply(reply);
	});
	if (!deferred)
		return answer(null, '', `cannot run ${PROG}: no ubus, or no rpcd file plugin (rpcd-mod-file)`);
	running[what] = [ req ];
	return deferred;
}

function outcome(code, stdout, stderr) {
	const output = trim(trim(stdout) + '\n' + trim(stderr));
	return { ok: code === 0, code: code ?? -1, output };
}

// The state file as ddns_edge/state.py reads it: a regular file (a link is not followed),
// at most 16 MiB, a JSON object with a list of records; else why not, as `ddns-edge status`
// says it.
function read_state() {
	let dir = uci_get_first('agent', 'state_dir');
	dir = (type(dir) == 'string' && length(dir)) ? rtrim(dir, '/') : DEFAULT_STATE_DIR;
	const path = `${dir}/state.json`;
	const st = lstat(path);
	if (!st)
		return { error: `no state file in ${dir}: is \`ddns-edge run\` running?` };
	let why;
	if (st.type == 'link')
		why = 'a symbolic link, which is never followed';
	else if (st.type != 'file')
		why = `not a regular file (${st.type})`;
	else if (st.size > MAX_STATE)
		why = 'larger than 16 MiB';
	else {
		let data;
		try {
			data = json(readfile(path, MAX_STATE) ?? '');
		}
		catch (e) {
			data = null;
		}
		if (type(data) == 'object' && type(data.records) == 'array')
			return { state: data };
		why = 'not a ddns-edge state file';
	}
	return { error: `${path}: unreadable state file: ${why}` };
}

function service() {
	const list = ubus?.call('service', 'list', { name: 'ddns-edge' });
	const instance = list?.['ddns-edge']?.instances?.instance1;
	return { running: !!instance?.running, pid: instance?.pid ?? null };
}

const methods = {
	status: {
		call: function() {
			const out = { service: service(), ...read_state() };
			const check = kept_answer('check');
			if (check)
				out.check = check;
			return out;
		}
	},

	config: {
		call: function(req) {
			return kept_answer('config') ?? run(req, 'config', [ 'config', '--json' ], function(code, stdout, stderr) {
				let data;
				try {
					data = (code === 0) ? json(stdout) : null;
				}
				catch (e) {
					data = null;
				}
				return (type(data?.sections) == 'array') ? data
					: { sections: [], error: last_line(stderr) || 'ddns-edge config printed no config' };
			}, true);
		}
	},

	check: {
		args: { online: false },
		call: function(req) {
			if (req.args?.online)
				return run(req, 'check --online', [ 'check', '--online' ], outcome);
			return kept_answer('check') ?? run(req, 'check', [ 'check' ], outcome, true);
		}
	},

	detect: {
		call: function(req) {
			return run(req, 'detect', [ 'detect' ], outcome);
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
			// each run its own: two callers never get the same secret
			return run(req, `keygen ${++runs}`, args, function(code, stdout, stderr) {
				return (code === 0) ? { ok: true, key: stdout } : { ok: false, error: last_line(stderr) || 'ddns-edge keygen failed' };
			});
		}
	}
};

return { 'ddns-edge': methods };
