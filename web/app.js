/*
 * app.js — fills in the keten audit dashboard from the read-only JSON API
 * of `keten serve` (/api/whoami, balance, reconcile, report, disputes,
 * disputes/ID, log).  Vanilla JavaScript, no framework, nothing from
 * elsewhere.  Every text from the ledger goes into the page through
 * textContent, never as HTML; the chart is built as SVG elements.
 * Amounts are cents and shown the Dutch way: € 1.234,56.
 */
'use strict';

const SVG = 'http://www.w3.org/2000/svg';

/* Formatting ----------------------------------------------------------- */

function euro(cents) {
	if (typeof cents !== 'number' || !isFinite(cents)) return '';
	const neg = cents < 0;
	const m = Math.abs(Math.round(cents));
	const euros = Math.floor(m / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '.');
	const rest = String(m % 100).padStart(2, '0');
	return (neg ? '-' : '') + '€ ' + euros + ',' + rest;
}

function short(hex) {
	return hex ? hex.slice(0, 8) : '';
}

function day(ms) {
	if (!ms) return '';
	return new Date(ms).toISOString().slice(0, 10);
}

/* DOM helpers ---------------------------------------------------------- */

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === 'class') e.className = v;
		else if (k === 'text') e.textContent = v;
		else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, v === true ? '' : v);
	}
	for (const kid of kids) {
		if (kid === undefined || kid === null || kid === false) continue;
		e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
	}
	return e;
}

function svg(tag, attrs, ...kids) {
	const e = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
	for (const kid of kids) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
	return e;
}

function td(text, cls) {
	return el('td', {class: cls}, text);
}

function money(cents) {
	return el('td', {class: 'num' + (cents < 0 ? ' neg' : '')}, euro(cents));
}

function fill(tableId, rows, emptyText, cols) {
	const body = document.querySelector('#' + tableId + ' tbody');
	body.replaceChildren();
	if (!rows.length) {
		body.append(el('tr', {class: 'empty'}, el('td', {colspan: cols}, emptyText)));
		return;
	}
	for (const r of rows) body.append(r);
}

function card(label, value, cls) {
	return el('div', {class: 'card' + (cls ? ' ' + cls : '')},
		el('div', {class: 'card-value'}, value), el('div', {class: 'card-label'}, label));
}

function party(name, key) {
	return name || short(key) || '—';
}

function setStatus(text, isError) {
	const s = document.getElementById('status');
	s.textContent = text || '';
	s.className = 'status' + (isError ? ' error' : '');
}

async function api(path) {
	const r = await fetch('/api/' + path, {headers: {'Accept': 'application/json'}});
	let body;
	try {
		body = await r.json();
	} catch (e) {
		throw new Error(path + ': not JSON (HTTP ' + r.status + ')');
	}
	if (!r.ok) throw new Error(body && body.error ? body.error : path + ': HTTP ' + r.status);
	return body;
}

function query(params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
	const s = q.toString();
	return s ? '?' + s : '';
}

/* Tabs ----------------------------------------------------------------- */

const tabs = ['balances', 'reconcile', 'disputes', 'monitor', 'entries'];

function showTab(name, focus) {
	if (!tabs.includes(name)) name = 'balances';
	for (const t of tabs) {
		const on = t === name;
		const b = document.getElementById('tab-' + t);
		b.setAttribute('aria-selected', on ? 'true' : 'false');
		b.tabIndex = on ? 0 : -1;
		document.getElementById(t).hidden = !on;
		if (on && focus) b.focus();
	}
}

function initTabs() {
	const list = document.querySelector('[role=tablist]');
	for (const t of tabs) {
		document.getElementById('tab-' + t).addEventListener('click', () => {
			history.replaceState(null, '', '#' + t);
			showTab(t);
		});
	}
	list.addEventListener('keydown', (ev) => {
		const cur = tabs.findIndex((t) => document.getElementById('tab-' + t).getAttribute('aria-selected') === 'true');
		let next = -1;
		if (ev.key === 'ArrowRight') next = (cur + 1) % tabs.length;
		else if (ev.key === 'ArrowLeft') next = (cur + tabs.length - 1) % tabs.length;
		else if (ev.key === 'Home') next = 0;
		else if (ev.key === 'End') next = tabs.length - 1;
		if (next < 0) return;
		ev.preventDefault();
		history.replaceState(null, '', '#' + tabs[next]);
		showTab(tabs[next], true);
	});
}

/* Sections ------------------------------------------------------------- */

async function loadWhoami() {
	const w = await api('whoami');
	document.getElementById('who-name').textContent = w.name || '(unnamed home)';
	document.getElementById('who-role').textContent = w.role || '';
	const extra = [];
	if (w.municipality) extra.push('municipality ' + w.municipality);
	if (w.agb) extra.push('AGB ' + w.agb);
	extra.push(w.entries + ' entries');
	document.getElementById('who-extra').textContent = extra.join(' · ');
	const key = document.getElementById('who-key');
	key.textContent = short(w.key) + '…';
	key.title = w.key;
	document.title = 'keten · ' + (w.name || 'audit dashboard');
	return w;
}

async function loadBalance() {
	const asOf = document.getElementById('balance-asof').value;
	const rows = await api('balance' + query({as_of: asOf}));
	let owedToMe = 0, owedByMe = 0;
	fill('balance-table', rows.map((r) => {
		if (r.net_cents > 0) owedToMe += r.net_cents; else owedByMe -= r.net_cents;
		return el('tr', {},
			el('th', {scope: 'row'}, party(r.name, r.party), el('span', {class: 'key'}, ' ' + short(r.party))),
			td(r.role === 'payee' ? 'payee (is owed)' : 'payer (owes)'),
			money(r.claimed_cents), money(r.paid_cents), money(r.received_cents), money(r.clawback_cents),
			money(r.outstanding_cents));
	}), 'No claims or payments with any counterparty yet.', 7);
	document.getElementById('balance-cards').replaceChildren(
		card('counterparties', String(new Set(rows.map((r) => r.party)).size)),
		card('owed to this home', euro(owedToMe), 'good'),
		card('owed by this home', euro(owedByMe), owedByMe ? 'warn' : ''));
}

function evidenceList(ev) {
	const ul = el('ul', {class: 'ids'});
	for (const e of ev) ul.append(el('li', {}, el('span', {class: 'etype'}, e.type), ' ', el('code', {title: e.id}, short(e.id))));
	return ul;
}

async function loadReconcile() {
	const params = {
		with: document.getElementById('reconcile-with').value.trim(),
		as_of: document.getElementById('reconcile-asof').value,
	};
	const r = await api('reconcile' + query(params));
	document.getElementById('reconcile-asof-note').textContent =
		'As of ' + r.as_of + ': every soft-rule finding names a stable kind, the amount at stake and the entries that prove it.';
	let outstanding = 0, overdue = 0;
	for (const p of r.pairs) { outstanding += p.outstanding_cents; overdue += p.overdue_cents; }
	document.getElementById('reconcile-cards').replaceChildren(
		card('findings', String(r.findings.length), r.findings.length ? 'warn' : 'good'),
		card('agreements', String(r.lines.length)),
		card('outstanding', euro(outstanding)),
		card('overdue', euro(overdue), overdue ? 'bad' : ''));
	fill('findings-table', r.findings.map((f) => el('tr', {},
		el('th', {scope: 'row'}, el('span', {class: 'kind', title: f.meaning || ''}, f.kind),
			f.meaning ? el('div', {class: 'meaning'}, f.meaning) : null),
		money(f.amount_cents),
		td(f.payer_name || f.payee_name ? party(f.payer_name, f.payer) + ' → ' + party(f.payee_name, f.payee) : '—'),
		el('td', {}, evidenceList(f.evidence)),
		td(f.detail, 'detail'))), 'No findings: everything asserted adds up.', 5);
	fill('lines-table', r.lines.map((l) => el('tr', {},
		el('th', {scope: 'row'}, party(l.payer_name, l.payer) + ' → ' + party(l.payee_name, l.payee)),
		td(l.what + (l.kind === 'subcontract' ? ' (subcontract)' : '')),
		td(l.start + ' – ' + (l.end || 'open')),
		money(l.agreed_cents), money(l.claimed_cents), money(l.paid_cents), money(l.received_cents),
		money(l.outstanding_cents), money(l.overdue_cents))), 'No agreements seen by this home.', 9);
}

async function loadDisputes() {
	const list = await api('disputes');
	list.sort((a, b) => b.opened_ms - a.opened_ms);
	fill('disputes-table', list.map((d) => {
		const open = el('button', {type: 'button', class: 'link', 'aria-controls': 'dispute-detail',
			onclick: () => { history.replaceState(null, '', '#disputes/' + d.id); showDispute(d.id); }}, d.text || short(d.id));
		return el('tr', {class: d.status},
			td(d.opened),
			el('td', {}, el('span', {class: 'pill ' + d.status}, d.status)),
			td(party(d.opener_name, d.opener)),
			d.amount_cents ? money(d.amount_cents) : td('', 'num'),
			el('td', {}, open),
			td(String(d.responses), 'num'));
	}), 'No disputes.', 6);
}

function fieldsList(fields) {
	if (!fields || typeof fields !== 'object') return el('p', {class: 'withheld'}, 'body withheld from this node');
	const dl = el('dl', {class: 'fields'});
	for (const [k, v] of Object.entries(fields)) {
		let text;
		if (/_cents$/.test(k) && typeof v === 'number') text = euro(v);
		else if (Array.isArray(v)) text = v.map((x) => (typeof x === 'string' && x.length === 64 ? short(x) : JSON.stringify(x))).join(', ');
		else if (typeof v === 'string' && v.length === 64 && /^[0-9a-f]+$/.test(v)) text = short(v);
		else text = typeof v === 'object' ? JSON.stringify(v) : String(v);
		dl.append(el('dt', {}, k), el('dd', {}, text));
	}
	return dl;
}

function sig(ok) {
	return el('span', {class: 'sig ' + (ok ? 'ok' : 'bad')}, ok ? '✔ signature verified' : '✘ signature does NOT verify');
}

async function showDispute(id) {
	const box = document.getElementById('dispute-detail');
	box.hidden = false;
	box.replaceChildren(el('p', {}, 'loading…'));
	let d;
	try {
		d = await api('disputes/' + encodeURIComponent(id));
	} catch (e) {
		box.replaceChildren(el('p', {class: 'error'}, e.message));
		return;
	}
	const ev = el('table', {class: 'evidence'},
		el('caption', {}, 'Evidence: the disputed entries'),
		el('thead', {}, el('tr', {},
			el('th', {scope: 'col'}, 'Entry'), el('th', {scope: 'col'}, 'Type'), el('th', {scope: 'col'}, 'Author'),
			el('th', {scope: 'col'}, 'Status'), el('th', {scope: 'col'}, 'Signature'), el('th', {scope: 'col'}, 'Fields'))),
		el('tbody', {}, ...d.evidence.map((e) => el('tr', {},
			el('th', {scope: 'row'}, el('code', {title: e.id}, short(e.id))),
			td(e.type || '?'), td(party(e.author_name, e.author)),
			td((e.status || '') + (e.rule ? ': ' + e.rule : '')),
			el('td', {}, e.status === 'missing' ? 'not held here' : sig(e.signature_ok)),
			el('td', {}, fieldsList(e.fields))))));
	const resp = el('ol', {class: 'responses'});
	for (const r of d.responses) {
		resp.append(el('li', {},
			el('div', {class: 'meta'}, day(r.timestamp_ms), ' · ', party(r.author_name, r.author), ' · ', sig(r.signature_ok)),
			el('blockquote', {}, r.text || '(body withheld)')));
	}
	let ruling;
	if (d.ruling) {
		const adj = el('ul', {class: 'adjustments'});
		for (const a of d.ruling.adjustments) {
			adj.append(el('li', {}, party(a.debtor_name, a.debtor), ' owes ', party(a.creditor_name, a.creditor), ' ',
				el('strong', {}, euro(a.amount_cents))));
		}
		ruling = el('div', {class: 'ruling'},
			el('div', {class: 'meta'}, day(d.ruling.timestamp_ms), ' · ', party(d.ruling.ruler_name, d.ruling.ruler), ' · ',
				sig(d.ruling.signature_ok)),
			el('blockquote', {}, d.ruling.decision || '(body withheld)'), adj);
	} else {
		ruling = el('p', {class: 'pending'}, 'Not ruled yet.');
	}
	box.replaceChildren(
		el('h3', {}, 'Dispute ', el('code', {title: d.id}, short(d.id)), ' ', el('span', {class: 'pill ' + d.status}, d.status)),
		el('p', {class: 'meta'}, 'Opened ' + d.opened + ' by ' + party(d.opener_name, d.opener) +
			(d.amount_cents ? ' over ' + euro(d.amount_cents) : '') + ' · ', sig(d.signature_ok)),
		el('blockquote', {class: 'reason'}, d.text),
		ev,
		el('h4', {}, 'Responses'), d.responses.length ? resp : el('p', {class: 'pending'}, 'No responses.'),
		el('h4', {}, 'Ruling'), ruling);
}

function drawChart(rows, by) {
	const box = document.getElementById('chart');
	const series = [
		{key: 'allocated_cents', label: 'allocated', cls: 'bar-a'},
		{key: 'paid_cents', label: 'paid to lead providers', cls: 'bar-b'},
		{key: 'subcontract_paid_cents', label: 'paid to subcontractors', cls: 'bar-c'},
	];
	if (!rows.length) {
		box.replaceChildren(el('p', {class: 'pending'}, 'Nothing to chart yet.'));
		document.getElementById('chart-caption').textContent = '';
		return;
	}
	const W = 760, H = 280, L = 96, R = 12, T = 16, B = 56;
	const max = Math.max(1, ...rows.flatMap((r) => series.map((s) => r[s.key] || 0)));
	const step = niceStep(max / 4);
	const top = Math.ceil(max / step) * step;
	const band = (W - L - R) / rows.length;
	const bw = Math.max(4, Math.min(40, (band - 10) / series.length));
	const y = (v) => T + (H - T - B) * (1 - v / top);
	const title = 'Costs allocated and paid by ' + by;
	const g = svg('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title', class: 'bars'});
	g.append(svg('title', {id: 'chart-title'}, title));
	for (let v = 0; v <= top + 0.5; v += step) {
		g.append(svg('line', {x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid'}));
		g.append(svg('text', {x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end'}, euro(v).replace(/,00$/, '')));
	}
	rows.forEach((r, i) => {
		const x0 = L + i * band + (band - bw * series.length) / 2;
		series.forEach((s, j) => {
			const v = r[s.key] || 0;
			const rect = svg('rect', {x: x0 + j * bw, y: y(v), width: bw - 2, height: Math.max(0, y(0) - y(v)), class: s.cls});
			rect.append(svg('title', {}, `${r.label}: ${s.label} ${euro(v)}`));
			g.append(rect);
		});
		const lab = r.label.length > 14 ? r.label.slice(0, 13) + '…' : r.label;
		g.append(svg('text', {x: L + i * band + band / 2, y: H - B + 18, class: 'axis', 'text-anchor': 'middle'}, lab));
	});
	series.forEach((s, j) => {
		const lx = L + j * 190;
		g.append(svg('rect', {x: lx, y: H - 18, width: 12, height: 12, class: s.cls}));
		g.append(svg('text', {x: lx + 18, y: H - 8, class: 'legend'}, s.label));
	});
	box.replaceChildren(g);
	document.getElementById('chart-caption').textContent = title + ' (the table below holds the same figures).';
}

function niceStep(x) {
	const p = Math.pow(10, Math.floor(Math.log10(Math.max(x, 1))));
	for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
	return 10 * p;
}

// Goals of the closed arrangements: achieved / partly / not achieved.
function outcomes(o) {
	return o ? o.achieved + ' / ' + o.partial + ' / ' + o.not_achieved : '—';
}

async function loadReport() {
	const by = document.getElementById('report-by').value;
	const rep = await api('report' + query({by}));
	drawChart(rep.rows, rep.by);
	const rows = rep.rows.concat(rep.total ? [Object.assign({}, rep.total, {label: 'total', total: true})] : []);
	fill('report-table', rows.map((r) => el('tr', {class: r.total ? 'total' : ''},
		el('th', {scope: 'row'}, r.label),
		td(String(r.allocations), 'num'), td(String(r.clients), 'num'),
		money(r.allocated_cents), money(r.paid_cents), money(r.subcontracted_cents), money(r.subcontract_paid_cents),
		td(r.maatwerk ? r.maatwerk + ' · ' + euro(r.maatwerk_cents) : '0', 'num'),
		r.clients ? money(r.cost_per_client_cents) : td('—', 'num'),
		td(outcomes(r.outcomes), 'num'),
		td(String(r.early_stops), 'num'), td(String(r.dropouts), 'num'), td(String(r.rijgen), 'num'),
		td(r.payments ? r.delay_median_days + ' / ' + r.delay_p90_days : '—', 'num'))), 'No allocations held here.', 14);
}

async function loadEntries() {
	const list = await api('log?limit=50');
	fill('entries-table', list.map((e) => {
		const f = e.fields || {};
		const amount = typeof f.amount_cents === 'number' ? f.amount_cents : null;
		return el('tr', {class: e.status},
			td(e.date), td(e.type), td(party(e.author_name, e.author)),
			td(e.status + (e.rule ? ': ' + e.rule : '')),
			amount === null ? td('', 'num') : money(amount),
			el('td', {}, el('code', {title: e.id}, short(e.id))));
	}), 'No entries.', 6);
}

/* Start ---------------------------------------------------------------- */

async function guarded(name, fn) {
	try {
		await fn();
		return true;
	} catch (e) {
		setStatus(name + ': ' + e.message, true);
		return false;
	}
}

function onSubmit(formId, fn, name) {
	document.getElementById(formId).addEventListener('submit', (ev) => {
		ev.preventDefault();
		guarded(name, fn);
	});
}

async function main() {
	initTabs();
	const hash = location.hash.slice(1);
	const [tab, disputeId] = hash.split('/');
	showTab(tab || 'balances');
	onSubmit('balance-form', loadBalance, 'balances');
	onSubmit('reconcile-form', loadReconcile, 'findings');
	document.getElementById('report-by').addEventListener('change', () => guarded('monitor', loadReport));
	const results = await Promise.all([
		guarded('whoami', loadWhoami), guarded('balances', loadBalance), guarded('findings', loadReconcile),
		guarded('disputes', loadDisputes), guarded('monitor', loadReport), guarded('entries', loadEntries),
	]);
	if (results.every(Boolean)) setStatus('');
	if (tab === 'disputes' && disputeId) await showDispute(disputeId);
	document.body.dataset.ready = 'yes';
}

document.addEventListener('DOMContentLoaded', main);
