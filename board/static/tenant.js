// tenant.js is the board's tenant page: a company's specifics (summary,
// integration, contacts, caveats, Markdown notes rendered by markdown.js
// without ever parsing HTML), its effective policy and its change history,
// read from GET /v1/tenants/{tenant}[/history]. Operators edit the
// specifics here; the PUT carries the ETag of the policy shown, so a change
// made meanwhile by someone else is never overwritten (412: reload).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.hash.slice(1));
  const tenant = params.get('tenant') || '';
  const token = params.get('token') || '';
  // The token leaves the address bar (and the history) at once.
  history.replaceState(null, '', location.pathname + (tenant ? '#tenant=' + encodeURIComponent(tenant) : ''));

  let policy = {};
  let etag = '';

  function showError(msg) {
    const e = $('error');
    e.textContent = msg;
    e.hidden = !msg;
  }

  function roles() {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const claims = JSON.parse(atob(part));
      return Array.isArray(claims.roles) ? claims.roles : [];
    } catch (e) {
      return [];
    }
  }

  async function api(method, path, body, ifMatch) {
    const headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (ifMatch) headers['If-Match'] = ifMatch;
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try {
      data = await r.json();
    } catch (e) {
      data = null;
    }
    return { status: r.status, etag: r.headers.get('ETag') || '', data };
  }

  function problemText(r) {
    const d = r.data || {};
    const fields = (d.errors || []).map((e) => e.field + ': ' + e.reason).join('; ');
    return (d.title || 'HTTP ' + r.status) + (d.detail ? ': ' + d.detail : '') + (fields && fields !== d.detail ? ' (' + fields + ')' : '');
  }

  function fillList(el, items) {
    el.replaceChildren();
    for (const s of items || []) {
      const li = document.createElement('li');
      li.textContent = s;
      el.appendChild(li);
    }
  }

  function renderPolicy() {
    const s = policy.specifics || {};
    $('summary').textContent = s.summary || '—';
    $('integration').textContent = s.integration || '—';
    fillList($('contacts'), s.contacts);
    fillList($('caveats'), s.caveats);
    $('notes').replaceChildren(window.pgwMarkdown.render(s.notes || ''));
    $('policy').textContent = JSON.stringify(policy, null, 2);
    $('etag').textContent = etag;
  }

  function renderHistory(changes) {
    const ol = $('history');
    ol.replaceChildren();
    for (const c of changes || []) {
      const li = document.createElement('li');
      const head = document.createElement('p');
      head.className = 'change-head';
      head.textContent = c.when + ' — ' + c.who;
      li.appendChild(head);
      const ul = document.createElement('ul');
      for (const f of c.fields || []) {
        const item = document.createElement('li');
        const from = f.from === undefined ? '(unset)' : JSON.stringify(f.from);
        const to = f.to === undefined ? '(removed)' : JSON.stringify(f.to);
        item.textContent = f.field + ': ' + from + ' → ' + to;
        ul.appendChild(item);
      }
      li.appendChild(ul);
      ol.appendChild(li);
    }
    if (!ol.children.length) {
      const li = document.createElement('li');
      li.textContent = 'No change recorded.';
      ol.appendChild(li);
    }
  }

  async function load() {
    const path = '/v1/tenants/' + encodeURIComponent(tenant);
    const r = await api('GET', path);
    if (r.status !== 200) {
      showError(problemText(r));
      return;
    }
    policy = r.data || {};
    etag = r.etag;
    renderPolicy();
    const h = await api('GET', path + '/history');
    if (h.status === 200) renderHistory(h.data.changes);
    else showError(problemText(h));
  }

  function lines(v) {
    return v.split('\n').map((s) => s.trim()).filter((s) => s !== '');
  }

  function openForm() {
    const s = policy.specifics || {};
    $('f-summary').value = s.summary || '';
    $('f-integration').value = s.integration || '';
    $('f-contacts').value = (s.contacts || []).join('\n');
    $('f-caveats').value = (s.caveats || []).join('\n');
    $('f-notes').value = s.notes || '';
    $('save-status').textContent = '';
    $('edit-form').hidden = false;
    $('edit').hidden = true;
  }

  async function save(ev) {
    ev.preventDefault();
    const s = {
      summary: $('f-summary').value.trim(),
      integration: $('f-integration').value.trim(),
      contacts: lines($('f-contacts').value),
      caveats: lines($('f-caveats').value),
      notes: $('f-notes').value,
    };
    for (const k of Object.keys(s)) {
      if (s[k] === '' || (Array.isArray(s[k]) && s[k].length === 0)) delete s[k];
    }
    const next = Object.assign({}, policy);
    if (Object.keys(s).length) next.specifics = s;
    else delete next.specifics;
    const r = await api('PUT', '/v1/tenants/' + encodeURIComponent(tenant), next, etag);
    if (r.status === 412) {
      $('save-status').textContent = 'Someone changed this policy since you opened it: reload the page, then edit again.';
      return;
    }
    if (r.status !== 200) {
      $('save-status').textContent = problemText(r);
      return;
    }
    policy = r.data || {};
    etag = r.etag;
    renderPolicy();
    $('edit-form').hidden = true;
    $('edit').hidden = false;
    $('save-status').textContent = 'Saved.';
    const h = await api('GET', '/v1/tenants/' + encodeURIComponent(tenant) + '/history');
    if (h.status === 200) renderHistory(h.data.changes);
  }

  function start() {
    $('tenant-name').textContent = tenant;
    if (!tenant || !token) {
      showError('Open this page as /board/tenant.html#tenant=<tenant>&token=<token>.');
      return;
    }
    // Editing needs role operator; the server enforces it either way.
    $('edit').hidden = !roles().includes('operator');
    $('edit').addEventListener('click', openForm);
    $('cancel').addEventListener('click', () => {
      $('edit-form').hidden = true;
      $('edit').hidden = !roles().includes('operator');
    });
    $('edit-form').addEventListener('submit', save);
    load().catch((e) => showError(String(e)));
  }

  start();
})();
