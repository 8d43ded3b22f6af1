'use strict';
'require view';
'require form';
'require rpc';
'require uci';
'require ui';
'require dom';
'require tools.widgets as widgets';
'require ddns-edge.validate as validate';

/*
 * Services -> Dynamic DNS (ddns-edge) -> Configuration: /etc/config/ddns-edge as a form.
 * Every field is checked by the rules of `ddns-edge check` (ddns-edge/validate.js) before
 * it can be saved. Save & Apply commits through rpcd; procd's reload trigger then runs the
 * init script's reload, which checks the config and sends the running agent SIGHUP (no
 * restart). A config the check refuses is not sent: the banner at the top says why.
 * Users with read access only see the config from `ubus call ddns-edge config`, which
 * leaves the secrets out; they are given no uci access to this config.
 *
 * Every value from the config or the agent is text: LuCI's E() and dom.content() make a
 * lone string child innerHTML, so such a value only ever goes in inside an array (a text
 * node); a textvalue or modal title, which LuCI takes as HTML, is escaped (%h).
 */

const callConfig = rpc.declare({ object: 'ddns-edge', method: 'config' });
const callCheck = rpc.declare({ object: 'ddns-edge', method: 'check', params: [ 'online' ] });
const callKeygen = rpc.declare({ object: 'ddns-edge', method: 'keygen', params: [ 'name', 'algorithm', 'zone' ] });

const CONFIG = 'ddns-edge';

function checkBanner(check) {
	if (!check)
		return E([]);
	if (!check.ok)
		return E('div', { 'class': 'alert-message warning', 'id': 'ddns-edge-refused' }, [
			E('strong', {}, _('ddns-edge check refuses the saved configuration: ')), String(check.output ?? ''), E('br'),
			_('It was not sent to the running agent, which keeps the configuration it had. Correct it and save again.')
		]);
	return E('p', { 'id': 'ddns-edge-check' }, [ _('Saved configuration: %s').format(check.output) ]);
}

/* option enabled as the agent reads it (a value that is no boolean is refused elsewhere) */
function enabled(value) {
	return [ '0', 'no', 'off', 'false', 'disabled' ].indexOf(validate.strip(value ?? '1').toLowerCase()) < 0;
}

/* rules that join fields (device/interface/source, secret/file): the other fields'
   marks follow a change in this one, once its new value is in place */
let revalidating = false;
function revalidate(section, section_id, options) {
	if (revalidating)
		return;
	window.setTimeout(() => {
		revalidating = true;
		try {
			options.forEach(o => section.getUIElement(section_id, o)?.triggerValidation());
		}
		finally {
			revalidating = false;
		}
	}, 0);
}

/* the field's value in the open form, else the saved one */
function other(section, section_id, option) {
	const v = section.formvalue(section_id, option);
	return (v != null) ? v : (uci.get(CONFIG, section_id, option) ?? '');
}

/* the record's WANs (one, or several with a policy), device/interface/source together:
   `value` is the field being validated (its new value), the others as they are */
function wansRule(section, section_id, option, value) {
	const get = o => (o === option) ? value : other(section, section_id, o);
	const devices = [].concat(get('device') ?? []).filter(x => x), networks = [].concat(get('interface') ?? []).filter(x => x);
	const valid = validate.wans(devices, networks, get('policy'), get('mwan3_policy'), get('source'), get('host_id'), get('mac'));
	if (valid !== true)
		return valid;
	return (devices.length + networks.length > 1) ? true : validate.origin(devices[0] ?? '', networks[0] ?? '', get('source'));
}

/* each value of a field that may hold several */
function each(value, rule) {
	for (const v of [].concat(value ?? [])) {
		const valid = rule(v);
		if (valid !== true)
			return valid;
	}
	return true;
}

return view.extend({
	load() {
		return Promise.all([
			L.hasViewPermission() ? null : L.resolveDefault(callConfig(), { sections: [] }),
			L.resolveDefault(callCheck(false), null)
		]);
	},

	render(data) {
		const [ redacted, check ] = data;

		if (!L.hasViewPermission()) {
			this.handleSave = this.handleSaveApply = this.handleReset = null;  /* no footer buttons */
			return this.renderReadOnly(redacted, check);
		}

		const m = new form.Map(CONFIG, _('Dynamic DNS (ddns-edge)'),
			_('The DNS records this router keeps on its WAN address, the TSIG keys that sign their updates, and the agent. Fields are checked as <code>ddns-edge check</code> checks them; Save & Apply reloads the running agent (no restart).'));

		this.renderRecords(m);
		this.renderKeys(m);
		this.renderAgent(m);

		return m.render().then(node => E([], [ checkBanner(check), node ]));
	},

	renderRecords(m) {
		const s = m.section(form.GridSection, 'record', _('Records'),
			_('Each record is a DNS name and type kept on the address of a device (or of an OpenWrt network).'));
		s.addremove = true;
		s.anonymous = false;
		s.nodescriptions = true;
		s.addbtntitle = _('Add record');
		s.modaltitle = id => _('Record') + ' » ' + '%h'.format(id);

		let o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.default = '1';
		o.editable = true;

		o = s.option(form.Value, 'name', _('DNS name'), _('The owner name, e.g. www.example.com'));
		o.rmempty = false;
		o.validate = function(section_id, value) {
			const valid = validate.recordName(value);
			if (valid !== true)
				return valid;
			const name = validate.strip(value).replace(/\.$/, '').toLowerCase();
			const type = other(this.section, section_id, 'type') || 'A';
			if (!enabled(other(this.section, section_id, 'enabled')))
				return true;
			for (const r of uci.sections(CONFIG, 'record')) {
				if (r['.name'] === section_id || !enabled(r.enabled))
					continue;
				if (validate.strip(r.name ?? '').replace(/\.$/, '').toLowerCase() === name && (r.type || 'A').toUpperCase() === type.toUpperCase())
					return _("%s %s is already managed by config record '%s'; allowed: one enabled record per name and type").format(name, type, r['.name']);
			}
			return true;
		};

		o = s.option(form.ListValue, 'type', _('Type'));
		o.value('A', _('A (IPv4)'));
		o.value('AAAA', _('AAAA (IPv6)'));
		o.default = 'A';

		o = s.option(widgets.DeviceSelect, 'device', _('Device'),
			_('The kernel interface that carries the WAN address, e.g. pppoe-wan; several: the record follows them by its WAN policy.'));
		o.noaliases = true;
		o.optional = true;
		o.multiple = true;
		o.validate = function(section_id, value) {
			revalidate(this.section, section_id, [ 'interface', 'policy', 'mwan3_policy' ]);
			const valid = each(value, v => validate.device(v));
			return (valid !== true) ? valid : wansRule(this.section, section_id, 'device', value);
		};

		o = s.option(widgets.NetworkSelect, 'interface', _('Or network'),
			_('An OpenWrt network such as wan: its device comes from netifd; several (two WANs, e.g. with mwan3): by the WAN policy.'));
		o.optional = true;
		o.modalonly = true;
		o.multiple = true;
		o.validate = function(section_id, value) {
			revalidate(this.section, section_id, [ 'device', 'policy', 'mwan3_policy' ]);
			const valid = each(value, v => validate.network(v));
			return (valid !== true) ? valid : wansRule(this.section, section_id, 'interface', value);
		};

		o = s.option(form.ListValue, 'policy', _('WAN policy'),
			_('With several WANs: failover publishes the first one online (as mwan3 says, when it runs); all publishes every online WAN\'s address.'));
		o.value('', _('failover'));
		o.value('all', _('all'));
		o.optional = true;
		o.rmempty = true;
		o.modalonly = true;
		o.validate = function(section_id, value) {
			revalidate(this.section, section_id, [ 'device', 'interface', 'mwan3_policy' ]);
			return wansRule(this.section, section_id, 'policy', value);
		};

		o = s.option(form.Value, 'mwan3_policy', _('mwan3 policy'),
			_('failover in the order this mwan3 policy ranks the networks (else in the order given).'));
		o.optional = true;
		o.rmempty = true;
		o.modalonly = true;
		o.placeholder = 'wan_wanb';
		o.validate = function(section_id, value) {
			revalidate(this.section, section_id, [ 'device', 'interface', 'policy' ]);
			return wansRule(this.section, section_id, 'mwan3_policy', value);
		};

		o = s.option(form.ListValue, 'source', _('Source'),
			_('auto: the device\'s public address, else the echo (behind CGNAT); interface: the device only; echo: always the echo.'));
		o.value('auto', _('auto'));
		o.value('interface', _('interface'));
		o.value('echo', _('echo'));
		o.default = 'auto';
		o.validate = function(section_id, value) {
			revalidate(this.section, section_id, [ 'device', 'interface' ]);
			return true;
		};

		o = s.option(form.Value, 'host_id', _('Host part'),
			_('AAAA of a host behind the router (IPv6): this host part, e.g. ::1234, on the device\'s delegated prefixes; the device is then the LAN, e.g. br-lan.'));
		o.optional = true;
		o.modalonly = true;
		o.validate = function(section_id, value) {
			revalidate(this.section, section_id, [ 'mac' ]);
			return validate.lanHost(value, other(this.section, section_id, 'mac'), other(this.section, section_id, 'type'),
				other(this.section, section_id, 'source'));
		};

		o = s.option(form.Value, 'mac', _('Or MAC'),
			_('AAAA of a host behind the router (IPv6): its address in the device\'s neighbour table, found by its MAC.'));
		o.optional = true;
		o.modalonly = true;
		o.validate = function(section_id, value) {
			revalidate(this.section, section_id, [ 'host_id' ]);
			return validate.lanHost(other(this.section, section_id, 'host_id'), value, other(this.section, section_id, 'type'),
				other(this.section, section_id, 'source'));
		};

		o = s.option(form.ListValue, 'key', _('Key'), _('The key section that signs this record\'s updates.'));
		o.textvalue = function(section_id) {  /* HTML, as LuCI's own textvalue gives it */
			return '%h'.format(this.cfgvalue(section_id) || _('(the only key)'));
		};
		o.load = function(section_id) {
			this.keylist = [];
			this.vallist = [];
			this.value('', _('(the only key)'));
			uci.sections(CONFIG, 'key').forEach(k => this.value(k['.name']));
			return this.super('load', [ section_id ]);
		};
		o.validate = function(section_id, value) {
			const keys = uci.sections(CONFIG, 'key').map(k => k['.name']);
			if (value && keys.indexOf(value) < 0)
				return _('no config key section named %s; allowed: one of the key sections (%s)').format(value, keys.join(', '));
			if (!value && keys.length === 0)
				return _('no config key section is defined; add one');
			if (!value && keys.length > 1)
				return _('there are %d key sections (%s); allowed: option key naming one of them').format(keys.length, keys.join(', '));
			return true;
		};

		o = s.option(form.Value, 'ttl', _('TTL'), _('Seconds, %d..%d.').format(validate.TTL[0], validate.TTL[1]));
		o.placeholder = '60';
		o.modalonly = true;
		o.validate = (section_id, value) => validate.ttl(value);

		o = s.option(form.Value, 'zone', _('Zone'), _('Found with an SOA query when left empty.'));
		o.placeholder = 'example.com';
		o.modalonly = true;
		o.validate = function(section_id, value) {
			return validate.zone(value, other(this.section, section_id, 'name'));
		};

		o = s.option(form.Value, 'server', _('Server'), _('The zone\'s primary; the SOA\'s MNAME when left empty.'));
		o.placeholder = '192.0.2.53';
		o.modalonly = true;
		o.validate = (section_id, value) => validate.server(value);

		o = s.option(form.Value, 'port', _('Port'));
		o.placeholder = '53';
		o.modalonly = true;
		o.validate = (section_id, value) => validate.port(value);
	},

	renderKeys(m) {
		const s = m.section(form.GridSection, 'key', _('Keys'),
			_('TSIG keys: the secret itself, or a key file (a BIND key clause or a dnssec-keygen K*.private file). New key makes one and shows the server side to copy.'));
		s.addremove = true;
		s.anonymous = false;
		s.nodescriptions = true;
		s.addbtntitle = _('Add key');
		s.modaltitle = id => _('Key') + ' » ' + '%h'.format(id);
		s.renderSectionAdd = function(extra_class) {
			const el = form.GridSection.prototype.renderSectionAdd.apply(this, [ extra_class ]);
			el.appendChild(E('button', {
				'class': 'cbi-button cbi-button-action',
				'id': 'ddns-edge-newkey',
				'click': ui.createHandlerFn(this, () => this.handleNewKey())
			}, [ _('New key...') ]));
			return el;
		};
		s.handleNewKey = function() {
			return showNewKey(m);
		};

		let o = s.option(form.Value, 'name', _('Key name'), _('The TSIG key name; the section name when left empty.'));
		o.validate = (section_id, value) => validate.keyName(value);

		o = s.option(form.ListValue, 'algorithm', _('Algorithm'));
		o.value('', _('(from the key file, else hmac-sha256)'));
		validate.ALGORITHMS.forEach(a => o.value(a));

		o = s.option(form.Value, 'secret', _('Secret'), _('The base64 secret, as ddns-edge keygen or tsig-keygen prints it.'));
		o.password = true;
		o.modalonly = true;
		o.validate = function(section_id, value) {
			revalidate(this.section, section_id, [ 'file' ]);
			const valid = validate.secret(value);
			return (valid !== true) ? valid : validate.keyMaterial(value, other(this.section, section_id, 'file'));
		};

		o = s.option(form.Value, 'file', _('Or key file'), _('Instead of the secret: a key file, readable by root and group ddns-edge only.'));
		o.placeholder = '/etc/ddns-edge/ddns-key.key';
		o.validate = function(section_id, value) {
			revalidate(this.section, section_id, [ 'secret' ]);
			return validate.keyMaterial(other(this.section, section_id, 'secret'), value);
		};
	},

	renderAgent(m) {
		const s = m.section(form.NamedSection, 'agent', 'agent', _('Agent'));

		let o = s.option(form.ListValue, 'log_level', _('Log level'));
		[ 'debug', 'info', 'notice', 'warning', 'error' ].forEach(l => o.value(l));
		o.default = 'info';

		o = s.option(form.Value, 'state_dir', _('State directory'), _('Where the agent writes state.json (tmpfs: no flash wear).'));
		o.placeholder = '/var/run/ddns-edge';
		o.validate = (section_id, value) => validate.absolutePath(value);

		o = s.option(form.DynamicList, 'echo', _('Echo sources'),
			_('Asked for the public address when the WAN address is private: http(s) URLs, dns://SERVER/NAME[/TYPE] or exec:COMMAND. A built-in list when empty.'));
		o.validate = (section_id, value) => (value === '' || value == null) ? true : validate.echoSource(value);

		o = s.option(form.Value, 'echo_interval', _('Echo interval'), _('Seconds between echo re-checks, only while an echo is in use.'));
		o.placeholder = '300';
		o.validate = (section_id, value) => validate.echoInterval(value);

		o = s.option(form.Value, 'echo_quorum', _('Echo quorum'), _('How many echo sources must agree.'));
		o.validate = function(section_id, value) {
			const echo = [].concat(this.section.formvalue(section_id, 'echo') ?? uci.get(CONFIG, section_id, 'echo') ?? []);
			return validate.echoQuorum(value, echo.filter(e => e !== '').length);
		};

		o = s.option(form.Value, 'hook', _('Hook'), _('A program run (as user ddns-edge) after each change that landed.'));
		o.placeholder = '/etc/ddns-edge/on-change';
		o.validate = (section_id, value) => validate.absolutePath(value);

		o = s.option(form.Value, 'hook_timeout', _('Hook timeout'), _('Seconds before a hook still running is killed.'));
		o.placeholder = '30';
		o.validate = (section_id, value) => validate.hookTimeout(value);
	},

	renderReadOnly(data, check) {
		const sections = data?.sections || [];
		const show = v => Array.isArray(v) ? v.join(', ') : String(v ?? '');

		return E('div', { 'class': 'cbi-map', 'id': 'ddns-edge-readonly' }, [
			E('h2', {}, _('Dynamic DNS (ddns-edge)')),
			E('div', { 'class': 'cbi-map-descr' }, _('Read-only: you may see this configuration, without its secrets, but not change it.')),
			checkBanner(check),
			...sections.map(sec => E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, [ "config %s '%s'".format(sec['.type'], sec['.name']) ]),
				E('table', { 'class': 'table' }, Object.keys(sec).filter(k => k[0] !== '.' && k !== 'secret_set').map(k =>
					E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td left', 'width': '33%' }, [ k ]), E('td', { 'class': 'td left' }, [ show(sec[k]) ]) ])
				).concat(sec.secret_set != null ? [
					E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td left' }, 'secret'), E('td', { 'class': 'td left' }, E('em', {}, _('(set; hidden)'))) ])
				] : []))
			]))
		]);
	}
});

/* New key: ddns-edge keygen (over ubus), its text to copy, and "Add as a key section" */
function showNewKey(m) {
	const section = E('input', { 'class': 'cbi-input-text', 'id': 'ddns-edge-newkey-section', 'value': 'home' });
	const name = E('input', { 'class': 'cbi-input-text', 'id': 'ddns-edge-newkey-name', 'value': 'ddns-key' });
	const zone = E('input', { 'class': 'cbi-input-text', 'id': 'ddns-edge-newkey-zone', 'placeholder': 'example.com' });
	const algorithm = E('select', { 'class': 'cbi-input-select', 'id': 'ddns-edge-newkey-algorithm' },
		validate.ALGORITHMS.map(a => E('option', { 'value': a, 'selected': a === 'hmac-sha256' || null }, a)));
	const out = E('div', { 'id': 'ddns-edge-newkey-out' });
	const row = (label, el) => E('div', { 'class': 'cbi-value' }, [ E('label', { 'class': 'cbi-value-title' }, label), E('div', { 'class': 'cbi-value-field' }, el) ]);
	let generated = null;

	const add = function() {
		const sid = section.value.trim();
		if (!/^[A-Za-z0-9_]+$/.test(sid) || uci.get(CONFIG, sid) != null) {
			dom.content(out.querySelector('.ddns-edge-add-error') || out, E('p', { 'class': 'ddns-edge-add-error' },
				_('The section name must be new and hold only A-Z a-z 0-9 _.')));
			return;
		}
		m.data.add(CONFIG, 'key', sid);
		m.data.set(CONFIG, sid, 'name', generated.name);
		m.data.set(CONFIG, sid, 'algorithm', generated.algorithm);
		m.data.set(CONFIG, sid, 'secret', generated.secret);
		ui.hideModal();
		return m.save(null, true);
	};

	const generate = function() {
		const valid = validate.keyName(name.value);
		if (valid !== true || !name.value.trim())
			return dom.content(out, E('p', {}, [ valid === true ? _('Give the key a name.') : String(valid) ]));
		dom.content(out, E('em', { 'class': 'spinning' }, _('Generating...')));
		return callKeygen(name.value.trim(), algorithm.value, zone.value.trim()).then(r => {
			if (!r.ok)
				return dom.content(out, E('p', {}, [ String(r.error ?? '') ]));
			const secret = (r.key.match(/secret\s+"([^"]+)"/) || [])[1];
			const alg = (r.key.match(/algorithm\s+([A-Za-z0-9.-]+)\s*;/) || [])[1];
			generated = { name: name.value.trim().replace(/\.$/, ''), algorithm: alg, secret: secret };
			dom.content(out, [
				E('p', {}, _('The key and its server side (BIND, Knot, PowerDNS). Copy what the DNS server needs; it is shown only now.')),
				E('textarea', { 'class': 'cbi-input-textarea', 'id': 'ddns-edge-newkey-text', 'readonly': 'readonly',
					'rows': 14, 'style': 'width:100%; font-family:monospace' }, [ r.key ]),
				E('div', { 'class': 'right' }, [
					E('button', { 'class': 'cbi-button cbi-button-positive', 'id': 'ddns-edge-newkey-add', 'click': ui.createHandlerFn(this, add) },
						_('Add as key section'))
				])
			]);
		}, e => dom.content(out, E('p', {}, [ String(e.message) ])));
	};

	ui.showModal(_('New key'), [
		E('p', {}, _('ddns-edge keygen makes a new TSIG key on the router.')),
		row(_('Section name'), section),
		row(_('Key name'), name),
		row(_('Algorithm'), algorithm),
		row(_('Zone (for the server-side examples)'), zone),
		out,
		E('div', { 'class': 'right' }, [
			E('button', { 'class': 'cbi-button', 'click': ui.hideModal }, _('Close')), ' ',
			E('button', { 'class': 'cbi-button cbi-button-action', 'id': 'ddns-edge-newkey-generate', 'click': ui.createHandlerFn(this, generate) },
				_('Generate'))
		])
	]);
}
