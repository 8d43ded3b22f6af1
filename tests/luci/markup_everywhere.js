'use strict';
/*
 * Markup through every field the ddns-edge views show (view_standin.js runs them as LuCI
 * would): the state file, the check, detect, an rpc error, the read-only config, a key's
 * name in the grid, a section's name in a modal title, and keygen's dialog. Prints, per
 * scenario, the elements made from markup (none may be), the innerHTML writes that held
 * the payload, and the page's text (where the payload must show, as text).
 *
 * Each field gets its own payload, <img src=x onerror=alert('FIELD')>, and the output says
 * which were fed (`fed`: each must show on the page as text, but those the view formats as
 * numbers, `numbers`).
 *
 * Usage: node markup_everywhere.js VIEWDIR
 */

const path = require('path');
const S = require('./view_standin.js');
const open = S.open;
S.open = (...args) => (opened = open(...args));

const [ VIEWS ] = process.argv.slice(2);
let fed = [];
function P(field) {
	fed.push(field);
	return `<img src=x onerror=alert('${field}')>`;
}
const NUMBERS = [ 'service.pid', 'state.pid', 'failures' ];
const STATUS = path.join(VIEWS, 'status.js');
const CONFIG = path.join(VIEWS, 'config.js');

let opened = null;

function outcome(name) {
	return {
		scenario: name,
		calls: opened ? opened.calls : [],
		detectButton: !!S.body.querySelector('#ddns-edge-detect-button'),
		fromMarkup: S.fromMarkup(),
		innerHTML: [ ...S.innerHTMLWrites ],
		text: S.body.textContent,
		fed: fed.filter(f => NUMBERS.indexOf(f) < 0),
		numbers: fed.filter(f => NUMBERS.indexOf(f) >= 0)
	};
}

async function click(el) {
	for (const fn of el.listeners.click || [])
		await fn({ target: el, currentTarget: el });
}

function byId(id) {
	const e = S.body.querySelector('#' + id);
	if (!e)
		throw new Error('no #' + id + ' on the page');
	return e;
}

function record(n) {
	return {
		name: P(`name${n}`), type: P(`type${n}`), address: P(`address${n}`), source: P(`source${n}`),
		changed_at: P(`changed_at${n}`), confirmed_at: P(`confirmed_at${n}`), last_error: P(`last_error${n}`),
		error_at: P(`error_at${n}`), failures: P('failures'), next_retry: P(`next_retry${n}`),
		echo: (n == 1) ? { at: P('echo.at'), address: P('echo.address'), reason: P('echo.reason') } : null,
		wans: (n == 2) ? { policy: P('wans.policy'), wans: [ P('wans.wan') ], choice: P('wans.choice'), why: P('wans.why') } : null
	};
}

function fullStatus(extra) {
	return Object.assign({ service: { running: true, pid: P('service.pid') },
		state: { version: 1, pid: P('state.pid'), written_at: P('state.written_at'), records: [ record(1), record(2) ] } }, extra || {});
}

const scenarios = {
	async 'status: the state file, a refused check, detect'() {
		const s = S.open(STATUS, { writer: true, replies: { status: fullStatus(), check: { ok: false, code: 2, output: P('check.output') },
			detect: { ok: true, output: P('detect.output') } } });
		S.body.appendChild(await s.view.render(await s.view.load()));
		await click(byId('ddns-edge-detect-button'));
	},
	async 'status: refreshed every 5 s, an accepted check from the status'() {
		const s = S.open(STATUS, { writer: true, replies: { status: fullStatus({ check: { ok: true, code: 0, output: P('status.check.output') } }),
			check: { ok: true, code: 0, output: 'ok' } } });
		S.body.appendChild(await s.view.render(await s.view.load()));
		for (const fn of s.polls)
			await fn();
	},
	async 'status, read-only: polled three times, the check kept by the plugin'() {
		const s = S.open(STATUS, { writer: false, replies: { status: fullStatus({ check: { ok: true, code: 0, output: 'ok' } }),
			check: { ok: true, code: 0, output: 'ok' } } });
		S.body.appendChild(await s.view.render(await s.view.load()));
		for (let i = 0; i < 3; i++)
			for (const fn of s.polls)
				await fn();
	},
	async 'status: no state, the error, detect rejected'() {
		const s = S.open(STATUS, { writer: true, replies: { status: { service: {}, error: P('status.error') }, check: { ok: true, code: 0, output: 'ok' },
			detect: new Error(P('detect.error')) } });
		S.body.appendChild(await s.view.render(await s.view.load()));
		for (const fn of s.polls)
			await fn();
		await click(byId('ddns-edge-detect-button'));
	},
	async 'config, read-only: the config without secrets, a refused check'() {
		const section = { '.type': P('.type'), '.name': P('.name'), '.anonymous': false, secret_set: true,
			[P('option name')]: P('option value'), echo: [ P('list value 1'), P('list value 2') ] };
		const s = S.open(CONFIG, { writer: false, replies: { config: { sections: [ section ] }, check: { ok: false, code: 2, output: P('check.output') } } });
		S.body.appendChild(await s.view.render(await s.view.load()));
	},
	async 'config, read-only: an accepted check'() {
		const s = S.open(CONFIG, { writer: false, replies: { config: { sections: [] }, check: { ok: true, code: 0, output: P('check.output') } } });
		S.body.appendChild(await s.view.render(await s.view.load()));
	},
	async 'config: a key name in the grid, a section name in a modal title'() {
		const s = S.open(CONFIG, { writer: true, uci: { www: { '.type': 'record', key: P('option key') } },
			replies: { check: { ok: true, code: 0, output: P('check.output') } } });
		S.body.appendChild(await s.view.render(await s.view.load()));
		const records = s.sections.find(x => x.type === 'record');
		const keys = s.sections.find(x => x.type === 'key');
		/* as LuCI shows them: a grid cell is E('td', {}, textvalue), a modal title E('h4', {}, title) */
		S.body.appendChild(S.E('td', {}, records.options.key.textvalue('www')));
		S.body.appendChild(S.E('h4', {}, records.modaltitle(P('record section'))));
		S.body.appendChild(S.E('h4', {}, keys.modaltitle(P('key section'))));
	},
	async 'config: New key, its name, keygen refused, keygen failed, the key shown'() {
		let answer = { ok: false, error: P('keygen.error') };
		const s = S.open(CONFIG, { writer: true, replies: { check: null, keygen: () => answer } });
		S.body.appendChild(await s.view.render(await s.view.load()));
		const keys = s.sections.find(x => x.type === 'key');
		const seen = [];
		keys.handleNewKey();
		const name = byId('ddns-edge-newkey-name');
		name.value = P('typed key name');  /* validate.js's message repeats it */
		await click(byId('ddns-edge-newkey-generate'));
		seen.push(S.body.textContent);
		name.value = 'ddns-key';
		await click(byId('ddns-edge-newkey-generate'));
		seen.push(S.body.textContent);
		answer = new Error(P('keygen rejected'));
		await click(byId('ddns-edge-newkey-generate'));
		seen.push(S.body.textContent);
		answer = { ok: true, key: 'key "ddns-key" {\n\talgorithm hmac-sha256;\n\tsecret "' + P('keygen.key') + '";\n};\n' };
		await click(byId('ddns-edge-newkey-generate'));
		S.body.appendChild(S.E('div', {}, [ seen.join('\n') ]));  /* what each step showed, as text */
	}
};

(async () => {
	const out = [];
	for (const [ name, run ] of Object.entries(scenarios)) {
		S.reset();
		fed = [];
		opened = null;
		try {
			await run();
			out.push(outcome(name));
		}
		catch (e) {
			out.push({ scenario: name, error: String(e && e.stack || e) });
		}
	}
	process.stdout.write(JSON.stringify(out));
})();
