'use strict';
/*
 * A stand-in for the parts of the browser and of LuCI that the ddns-edge views use, so that
 * Node.js runs status.js and config.js as they ship. Written for these tests from LuCI's
 * documented behaviour (luci.js dom.create/append/content/attr, cbi.js cbi_update_table and
 * ui.js's table update, ui.showModal, form.js's textvalue and renderTextValue); no LuCI code
 * is copied here. What matters most is copied exactly: how a child becomes part of the page.
 *
 * - E(tag, attrs, children) / dom.create: an array tag makes a fragment; attrs that are
 *   not a plain object are the children; function attributes are event listeners.
 * - dom.append(node, children): an array's items are appended, a node as it is, anything
 *   else in an array as a text node; a function is called; a lone non-node value is set as
 *   node.innerHTML. dom.content() empties the node first.
 * - cbi_update_table(table, rows, placeholder): a row's cell that is an array is
 *   [sort key, what to show]; each cell goes in as E('td', {}, cell): a lone string is HTML.
 * - ui.showModal(title, children): E('h4', {}, title) (HTML when a string), then children.
 * - form: a GridSection cell shows option.textvalue(id) as E('td', {}, value): HTML.
 *
 * The document: elements, text nodes and fragments. Setting innerHTML parses the markup
 * into elements (tags, attributes, text), as a browser does, and every element made so is
 * marked `fromMarkup`: the tests look for those, and for any attribute named on*. Nothing
 * is executed.
 */

const { loadView } = require('./luci_standin.js');

class Node {
	constructor() { this.childNodes = []; this.parentNode = null; }
	get firstChild() { return this.childNodes[0] || null; }
	get lastChild() { return this.childNodes[this.childNodes.length - 1] || null; }
	get firstElementChild() { return this.childNodes.find(c => c.nodeType === 1) || null; }
	get lastElementChild() { return [ ...this.childNodes ].reverse().find(c => c.nodeType === 1) || null; }
	appendChild(n) {
		if (n.nodeType === 11) {
			for (const c of [ ...n.childNodes ])
				this.appendChild(c);
			return n;
		}
		if (n.parentNode)
			n.parentNode.removeChild(n);
		n.parentNode = this;
		this.childNodes.push(n);
		return n;
	}
	removeChild(n) {
		this.childNodes = this.childNodes.filter(c => c !== n);
		n.parentNode = null;
		return n;
	}
	replaceChild(n, old) {
		const i = this.childNodes.indexOf(old);
		this.removeChild(old);
		if (n.parentNode)
			n.parentNode.removeChild(n);
		n.parentNode = this;
		this.childNodes.splice(i, 0, n);
		return old;
	}
	get textContent() { return this.childNodes.map(c => c.textContent).join(''); }
	get innerText() { return this.textContent; }
	*walk() {
		for (const c of this.childNodes) {
			yield c;
			yield* c.walk();
		}
	}
	querySelectorAll(selector) {
		return [ ...this.walk() ].filter(e => e.nodeType === 1 && e.matches(selector));
	}
	querySelector(selector) { return this.querySelectorAll(selector)[0] || null; }
}

class Text extends Node {
	constructor(data) { super(); this.nodeType = 3; this.data = String(data); }
	get textContent() { return this.data; }
}

class Fragment extends Node {
	constructor() { super(); this.nodeType = 11; }
}

class Element extends Node {
	constructor(tag, fromMarkup) {
		super();
		this.nodeType = 1;
		this.tagName = this.nodeName = String(tag).toUpperCase();
		this.attributes = {};
		this.listeners = {};
		this.style = {};
		this.value = '';
		this.fromMarkup = !!fromMarkup;
		const el = this;
		this.classList = {
			add(...c) { el.setAttribute('class', [ ...new Set((el.getAttribute('class') || '').split(' ').filter(Boolean).concat(c)) ].join(' ')); },
			contains(c) { return (el.getAttribute('class') || '').split(' ').includes(c); },
			remove(c) { el.setAttribute('class', (el.getAttribute('class') || '').split(' ').filter(x => x !== c).join(' ')); }
		};
	}
	get id() { return this.attributes.id || ''; }
	setAttribute(k, v) { this.attributes[k] = String(v); if (k === 'value') this.value = String(v); }
	getAttribute(k) { return (k in this.attributes) ? this.attributes[k] : null; }
	hasAttribute(k) { return k in this.attributes; }
	removeAttribute(k) { delete this.attributes[k]; }
	addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
	get innerHTML() { return this.childNodes.map(serialize).join(''); }
	set innerHTML(html) {
		innerHTMLWrites.push(String(html));
		while (this.firstChild)
			this.removeChild(this.firstChild);
		parseInto(this, String(html));
	}
	matches(selector) {
		return selector.split(',').some(sel => {
			sel = sel.trim();
			if (sel[0] === '#')
				return this.id === sel.slice(1);
			if (sel[0] === '.')
				return this.classList.contains(sel.slice(1));
			if (sel === '[data-idref]')
				return this.hasAttribute('data-idref');
			return this.tagName === sel.toUpperCase();
		});
	}
	cloneNode() { throw new Error('the stand-in does not clone'); }
}

const innerHTMLWrites = [];

function serialize(n) {
	if (n.nodeType === 3)
		return n.data.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
	const attrs = Object.entries(n.attributes).map(([ k, v ]) => ` ${k}="${v.replace(/"/g, '&quot;')}"`).join('');
	return `<${n.tagName.toLowerCase()}${attrs}>${n.childNodes.map(serialize).join('')}</${n.tagName.toLowerCase()}>`;
}

const ENTITY = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', raquo: '\u00bb' };

function decode(text) {
	return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e) =>
		e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : +e.slice(1))
			: (ENTITY[e.toLowerCase()] ?? whole));
}

/* markup to nodes, as an HTML parser would for these cases: start and end tags with
   attributes (quoted or not), void elements, text with character references */
function parseInto(parent, html) {
	const VOID = new Set([ 'br', 'img', 'input', 'hr', 'meta', 'link', 'source', 'area', 'base', 'col', 'embed', 'wbr' ]);
	const stack = [ parent ];
	const re = /<\/?([A-Za-z][A-Za-z0-9-]*)((?:\s+[^\s=>\/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?)*)\s*\/?>|<!--[\s\S]*?-->|[^<]+|</g;
	let m;
	while ((m = re.exec(html)) !== null) {
		const top = stack[stack.length - 1];
		if (m[1] && m[0][1] === '/') {
			const i = stack.map(e => e.tagName).lastIndexOf(m[1].toUpperCase());
			if (i > 0)
				stack.length = i;
		}
		else if (m[1]) {
			const el = new Element(m[1], true);
			for (const a of (m[2] || '').matchAll(/([^\s=>\/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?/g))
				el.attributes[a[1].toLowerCase()] = decode((a[2] || '').replace(/^["']|["']$/g, ''));
			top.appendChild(el);
			if (!VOID.has(m[1].toLowerCase()) && !m[0].endsWith('/>'))
				stack.push(el);
		}
		else if (m[0].startsWith('<!--'))
			continue;
		else
			top.appendChild(new Text(decode(m[0])));
	}
}

const body = new Element('body');

const document = {
	body,
	createElement: tag => new Element(tag),
	createTextNode: data => new Text(data),
	createDocumentFragment: () => new Fragment(),
	getElementById: id => body.querySelector('#' + id),
	querySelector: sel => body.querySelector(sel),
	querySelectorAll: sel => body.querySelectorAll(sel)
};

function isElem(e) {
	return e != null && typeof(e) == 'object' && 'nodeType' in e;
}

const dom = {
	elem: isElem,
	parse(html) {
		const div = new Element('div');
		div.innerHTML = html;
		return div.firstChild;
	},
	attr(elem, attrs) {
		for (const [ k, v ] of Object.entries(attrs || {})) {
			if (v == null)
				continue;
			if (typeof(v) == 'function')
				elem.addEventListener(k, v);
			else
				elem.setAttribute(k, (typeof(v) == 'object') ? JSON.stringify(v) : v);
		}
	},
	append(node, children) {
		if (!isElem(node))
			return null;
		if (Array.isArray(children)) {
			for (const c of children)
				node.appendChild(isElem(c) ? c : new Text(`${c}`));
			return node.lastChild;
		}
		if (typeof(children) == 'function')
			return this.append(node, children(node));
		if (isElem(children))
			return node.appendChild(children);
		if (children != null) {
			node.innerHTML = `${children}`;
			return node.lastChild;
		}
		return null;
	},
	content(node, children) {
		if (!isElem(node))
			return null;
		while (node.firstChild)
			node.removeChild(node.firstChild);
		return this.append(node, children);
	},
	create(html, attr, data) {
		if (!(attr instanceof Object) || Array.isArray(attr))
			data = attr, attr = null;
		let elem;
		if (Array.isArray(html)) {
			elem = new Fragment();
			for (const h of html)
				elem.appendChild(this.create(h));
		}
		else if (isElem(html))
			elem = html;
		else if (html.charCodeAt(0) === 60)
			elem = this.parse(html);
		else
			elem = new Element(html);
		this.attr(elem, attr);
		this.append(elem, data);
		return elem;
	}
};

function E(...args) {
	return dom.create(...args);
}

function cbi_update_table(table, rows, placeholder) {
	while (table.childNodes.length > 1)
		table.removeChild(table.lastChild);
	for (const row of rows) {
		const tr = table.appendChild(E('tr', { 'class': 'tr' }));
		for (const cell of row) {
			const shown = Array.isArray(cell) ? cell[1] : cell;
			tr.appendChild(E('td', { 'class': 'td' }, (shown != null) ? shown : ''));
		}
	}
	if (placeholder && rows.length === 0)
		table.appendChild(E('tr', { 'class': 'tr placeholder' })).appendChild(E('td', { 'class': 'td' }, placeholder));
}

/* rpc.declare: each call answers from `replies[method]` (a value, or a function of the
   arguments; an Error is a rejection), as LuCI's rpc does over ubus */
function makeRpc(replies, calls) {
	return {
		declare(spec) {
			return (...args) => {
				calls.push([ spec.method, args ]);
				const r = replies[spec.method];
				const value = (typeof(r) == 'function') ? r(...args) : r;
				return (value instanceof Error) ? Promise.reject(value) : Promise.resolve(value);
			};
		}
	};
}

/* form.js, as far as config.js uses it: Map, the section kinds and option kinds record what
   they are given; Map.render() renders nothing of LuCI's own (its widgets are LuCI's) */
function makeForm(sections, uci) {
	class Option {
		constructor(section, type, option, title, description) {
			Object.assign(this, { section, type, option, title, description, choices: [] });
		}
		value(k, v) { this.choices.push([ k, v ]); }
		cfgvalue(section_id) { return uci.get('ddns-edge', section_id, this.option); }
		super(method, args) { return undefined; }
	}
	class Section {
		constructor(map, type, name, title) {
			Object.assign(this, { map, type, name, title, options: {} });
			sections.push(this);
		}
		option(type, option, title, description) {
			return (this.options[option] = new Option(this, type, option, title, description));
		}
		getUIElement() { return null; }
		formvalue() { return null; }
	}
	const kinds = {};
	for (const kind of [ 'GridSection', 'NamedSection', 'TypedSection' ])
		kinds[kind] = class extends Section {};
	kinds.GridSection.prototype.renderSectionAdd = () => E('div', { 'class': 'cbi-section-create' });
	for (const kind of [ 'Flag', 'Value', 'ListValue', 'DynamicList', 'DummyValue' ])
		kinds[kind] = kind;
	kinds.Map = class {
		constructor(config, title, description) { Object.assign(this, { config, title, description }); this.data = { add() {}, set() {} }; }
		section(kind, ...args) { const s = new kind(this, ...args); return s; }
		render() { return Promise.resolve(E('div', { 'class': 'cbi-map' })); }
		save() { return Promise.resolve(); }
	};
	return kinds;
}

/* One view, loaded as LuCI loads it, with the stand-ins above. `opts`: replies (rpc),
   writer (hasViewPermission), uci (config -> section -> option -> value) */
function open(path, opts) {
	const calls = [];
	const polls = [];
	const sections = [];
	const uciData = opts.uci || {};
	const uci = {
		get: (c, s, o) => (uciData[s] || {})[o],
		sections: (c, type) => Object.entries(uciData).filter(([ , v ]) => v['.type'] === type).map(([ k, v ]) => Object.assign({ '.name': k }, v))
	};
	const modal = { node: null };
	const ui = {
		createHandlerFn: (ctx, fn, ...args) => (ev) => (typeof(fn) == 'string' ? ctx[fn] : fn).call(ctx, ev, ...args),
		showModal(title, children) {
			const dlg = E('div', { 'class': 'modal' });
			dom.content(dlg, dom.create('h4', {}, title));
			dom.append(dlg, children);
			body.appendChild(dlg);
			modal.node = dlg;
			return dlg;
		},
		hideModal() { if (modal.node && modal.node.parentNode) modal.node.parentNode.removeChild(modal.node); }
	};
	const L = {
		resolveDefault: (p, d) => Promise.resolve(p).catch(() => d),
		hasViewPermission: () => !!opts.writer,
		env: {}
	};
	const view = { extend: props => function() { Object.assign(this, props); } };
	const form = makeForm(sections, uci);
	const validate = loadView(require('path').join(__dirname, '..', '..', 'openwrt', 'luci-app-ddns-edge', 'htdocs',
		'luci-static', 'resources', 'ddns-edge', 'validate.js'));
	Object.assign(global, { E, _: s => s, cbi_update_table, document, window: global });
	const v = loadView(path, {
		view, poll: { add: (fn) => polls.push(fn) }, rpc: makeRpc(opts.replies || {}, calls), ui, dom, uci, form,
		'tools.widgets': { DeviceSelect: 'DeviceSelect', NetworkSelect: 'NetworkSelect' }, 'ddns-edge.validate': validate
	}, { window: global, document, L });
	return { view: v, calls, polls, sections, uci, modal };
}

/* Nothing from markup: every element made by parsing markup, and every on* attribute */
function fromMarkup() {
	return [ ...body.walk() ].filter(e => e.nodeType === 1 && (e.fromMarkup || Object.keys(e.attributes).some(a => /^on/i.test(a))))
		.map(serialize);
}

function reset() {
	while (body.firstChild)
		body.removeChild(body.firstChild);
	innerHTMLWrites.length = 0;
}

module.exports = { open, body, E, dom, fromMarkup, innerHTMLWrites, reset, Element, Text };
