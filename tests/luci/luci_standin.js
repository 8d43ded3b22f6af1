'use strict';
/*
 * A stand-in for the two things of LuCI's luci.js that ddns-edge/validate.js uses, so that
 * Node.js loads the file as it ships (no LuCI, no browser). Written for these tests; no
 * LuCI code is copied here. What it stands in for, and how closely:
 *
 * - L.require('ddns-edge.validate'): LuCI fetches the file, reads its 'require NAME'
 *   directives, compiles the source as the body of a function whose parameters are
 *   window, document, L and the required modules (here only 'baseclass'), calls it, and
 *   instantiates the class it returns. loadView() below does the same steps.
 * - baseclass.extend(properties): a class whose prototype carries the properties.
 * - String.prototype.format: LuCI's printf. validate.js uses %s and %d only; anything
 *   else throws here, so that a new directive cannot pass unnoticed with other semantics.
 *   %s is String(value) (null and undefined give ''), %d the integer part (as LuCI's
 *   ~~value does for numbers), %% a percent sign.
 *
 * - %h: LuCI's HTML escape (& " ' < > as numeric character references), for the views.
 *
 * Usage: node luci_standin.js FILE < calls.json, where calls.json is a list of JavaScript
 * expressions over `v` (the loaded module); prints the list of their values as JSON.
 * view_standin.js requires it for loadView and the rest.
 */

const fs = require('fs');
const vm = require('vm');

String.prototype.format = function(...args) {
	let i = 0;
	return this.replace(/%(.)/g, (whole, directive) => {
		if (directive === '%')
			return '%';
		if (i >= args.length)
			throw new RangeError('format: not enough arguments for ' + JSON.stringify(String(this)));
		const value = args[i++];
		if (directive === 's')
			return (value == null) ? '' : String(value);
		if (directive === 'd')
			return String(~~value);
		if (directive === 'h')
			return String(value ?? '').replace(/[&"'<>]/g, c => '&#' + c.charCodeAt(0) + ';');
		throw new TypeError('format: the stand-in has no %' + directive);
	});
};

const baseclass = {
	extend(properties) {
		const cls = function() {};
		Object.assign(cls.prototype, properties);
		return cls;
	}
};

/* `modules`: name -> what 'require name' gives (the module names LuCI resolves, e.g.
   'ddns-edge.validate' or 'tools.widgets as widgets', whose variable is the alias) */
function loadView(path, modules, globals) {
	const source = fs.readFileSync(path, 'utf8');
	const requires = [];
	for (const m of source.matchAll(/^[ \t]*'require[ \t]+([A-Za-z0-9_.-]+)(?:[ \t]+as[ \t]+([A-Za-z0-9_]+))?'[ \t]*;/gm))
		requires.push([ m[1], m[2] || m[1] ]);
	const known = Object.assign({ baseclass: baseclass }, modules || {});
	const g = globals || {};
	const params = [ 'window', 'document', 'L' ].concat(requires.map(r => r[1]));
	const args = [ g.window, g.document, g.L ].concat(requires.map(([ name ]) => {
		if (!(name in known))
			throw new Error('the stand-in cannot provide required module ' + name);
		return known[name];
	}));
	const factory = vm.runInThisContext('(function(' + params.join(', ') + ') {' + source + '\n})', { filename: path });
	const cls = factory.apply(factory, args);
	if (typeof cls !== 'function')
		throw new TypeError(path + ' does not return a class');
	return new cls();
}

module.exports = { baseclass, loadView };

if (require.main === module) {
	const v = loadView(process.argv[2]);
	const calls = JSON.parse(fs.readFileSync(0, 'utf8'));
	const results = calls.map(expr => {
		const value = vm.runInThisContext('(function(v) { return (' + expr + '); })', { filename: 'call' })(v);
		return (value === true) ? true : (typeof value === 'string' ? value : { unexpected: String(value) });
	});
	process.stdout.write(JSON.stringify(results));
}
