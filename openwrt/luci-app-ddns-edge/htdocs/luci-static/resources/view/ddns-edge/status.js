'use strict';
'require view';
'require poll';
'require rpc';
'require ui';
'require dom';

/*
 * Services -> Dynamic DNS (ddns-edge) -> Status: what the running agent last wrote to its
 * state file (ubus call ddns-edge status: the plugin reads the file, no process starts),
 * refreshed every 5 seconds while the page is open, and whether `ddns-edge check` accepts
 * the saved config (run once per change of the config: the plugin keeps its answer).
 *
 * Every value from the agent, its state file, a server, an echo or the config is text:
 * LuCI's E() and dom.content() make a lone string child innerHTML, so such a value only
 * ever goes in inside an array (a text node), never alone (STYLE.md).
 */

const callStatus = rpc.declare({ object: 'ddns-edge', method: 'status' });
const callCheck = rpc.declare({ object: 'ddns-edge', method: 'check', params: [ 'online' ] });
const callDetect = rpc.declare({ object: 'ddns-edge', method: 'detect' });

const COLUMNS = [ _('Record'), _('Published address'), _('From'), _('Changed'), _('Confirmed'), _('Last error'), _('Next retry') ];

function when(iso) {
	return (typeof(iso) == 'string' && iso) ? iso.replace('T', ' ').replace('Z', ' UTC') : '-';
}

/* a value from outside as the page's text */
function text(value) {
	return E('span', {}, [ (value == null || value === '') ? '-' : String(value) ]);
}

return view.extend({
	load() {
		return Promise.all([
			L.resolveDefault(callStatus(), {}),
			L.resolveDefault(callCheck(false), null)
		]);
	},

	renderAgent(status, check) {
		const svc = status.service || {};
		const state = status.state;
		const lines = [];

		if (svc.running)
			lines.push(E('p', {}, [ E('strong', {}, _('Agent running')), ' ', _('(pid %d, under procd as user ddns-edge)').format(svc.pid) ]));
		else
			lines.push(E('p', {}, [ E('strong', {}, _('Agent not running')), ' ',
				_('(procd starts it once a record is enabled and the config passes ddns-edge check)') ]));

		if (state)
			lines.push(E('p', {}, [ _('State written %s by pid %d.').format(when(state.written_at), state.pid) ]));
		else if (status.error && (!check || check.ok))
			lines.push(E('p', {}, [ String(status.error) ]));

		if (check && !check.ok)
			lines.push(E('div', { 'class': 'alert-message warning', 'id': 'ddns-edge-refused' }, [
				E('strong', {}, _('The saved configuration is refused: ')), String(check.output ?? ''), E('br'),
				svc.running ? _('The running agent keeps the configuration it had.') : ''
			]));
		else if (check)
			lines.push(E('p', { 'id': 'ddns-edge-check' }, [ _('Configuration check: %s').format(check.output) ]));

		return E('div', { 'id': 'ddns-edge-agent' }, lines);
	},

	renderRecords(status) {
		const table = E('table', { 'class': 'table', 'id': 'ddns-edge-records' }, [
			E('tr', { 'class': 'tr table-titles' }, COLUMNS.map(c => E('th', { 'class': 'th' }, c)))
		]);
		const records = Array.isArray(status.state?.records) ? status.state.records : [];

		cbi_update_table(table, records.map(r => [
			text('%s %s'.format(r.name, r.type)),
			r.address ? text(r.address) : E('em', {}, _('not set by this agent')),
			r.echo ? E('span', {}, [ String(r.source || _('echo')), E('br'),
				E('small', {}, [ _('echo at %s: %s (%s)').format(when(r.echo.at), r.echo.address || _('no agreement'), r.echo.reason) ]) ])
				: r.wans ? E('span', {}, [ String(r.source || '-'), E('br'),
					E('small', {}, [ _('WANs %s (%s): now %s: %s').format(Array.isArray(r.wans.wans) ? r.wans.wans.join(', ') : '-',
						String(r.wans.policy), String(r.wans.choice || '-'), String(r.wans.why || '-')) ]) ])
				: text(r.source),
			text(when(r.changed_at)),
			text(when(r.confirmed_at)),
			r.last_error ? text('%s: %s'.format(when(r.error_at), r.last_error)) : text(null),
			r.next_retry ? text(_('%s (%d failure(s) in a row)').format(when(r.next_retry), r.failures)) : text(null)
		]), E('em', {}, status.state ? _('No record is enabled.') : _('No state yet: the agent has not written its state file.')));

		return table;
	},

	handleDetect(ev) {
		const out = document.getElementById('ddns-edge-detect');
		dom.content(out, E('em', { 'class': 'spinning' }, _('Asking...')));
		return callDetect().then(r => dom.content(out, E('pre', {}, [ String(r.output || '-') ])),
			e => dom.content(out, E('p', {}, [ String(e.message) ])));
	},

	/* the check: kept by the plugin while the config stands (status.check); asked again,
	   one run at a time, when the config changed */
	refresh(agent, records) {
		return L.resolveDefault(callStatus(), {}).then(s => {
			if (s.check || this.checking)
				return [ s, s.check ?? this.check ];
			this.checking = true;
			return L.resolveDefault(callCheck(false), null).then(c => [ s, c ]).finally(() => this.checking = false);
		}).then(([ s, c ]) => {
			this.check = c;
			dom.content(agent, this.renderAgent(s, c));
			dom.content(records, this.renderRecords(s));
		});
	},

	render(data) {
		const [ status, check ] = data;
		const agent = E('div', {}, this.renderAgent(status, check));
		const records = E('div', {}, this.renderRecords(status));
		const writer = L.hasViewPermission();

		this.check = check;
		poll.add(() => this.refresh(agent, records), 5);

		return E('div', { 'class': 'cbi-map' }, [
			E('h2', {}, _('Dynamic DNS (ddns-edge)')),
			E('div', { 'class': 'cbi-map-descr' },
				_('ddns-edge keeps DNS records on this router\'s WAN address: it follows the kernel\'s address events and sends TSIG-signed RFC 2136 updates. This page refreshes every 5 seconds.')),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, _('Agent')), agent ]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, _('Records')), records ]),
			writer ? E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, _('Addresses now')),
				E('p', {}, _('What each record would get now, and from where (ddns-edge detect; this may ask the echo sources, and runs exec: sources).')),
				E('button', { 'class': 'cbi-button cbi-button-action', 'id': 'ddns-edge-detect-button', 'click': ui.createHandlerFn(this, 'handleDetect') }, _('Detect')),
				E('div', { 'id': 'ddns-edge-detect' })
			]) : E([])
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
