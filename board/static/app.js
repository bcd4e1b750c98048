// Presence board: shows one tenant's users and follows their presence over the
// gateway's WebSocket (contract: hello with token, subscribe tenant:true, then
// presence frames). Plain browser JavaScript, no build step, no dependency.
//
// Choices (docs/board.md explains them):
// - The token lives in memory only; it is read from a form or from the URL
//   fragment (#token=…), never from the query string, and removed from the
//   address bar at once.
// - Users who go offline stay as offline tiles (they can be hidden with the
//   "Offline" filter): a tile that vanishes tells nothing.
// - A presence frame whose version is not above the one shown is ignored.
// - Reconnects follow the close-code table of the contract (§6), with
//   exponential backoff and jitter.
"use strict";

(function () {
  const STATUSES = ["online", "away", "busy", "dnd", "offline"];
  const STATUS_LABEL = { online: "Online", away: "Away", busy: "Busy", dnd: "Do not disturb", offline: "Offline" };
  const STATUS_ORDER = { online: 0, busy: 1, dnd: 2, away: 3, offline: 4 };
  const PHONE_LABEL = {
    unknown: "state unknown", unregistered: "not registered", idle: "idle",
    ringing: "ringing", in_call: "in a call", held: "call on hold",
  };
  const TIMED_PHONE = new Set(["ringing", "in_call", "held"]);

  // Reconnect policy per close code (contract §6). Codes not in the table
  // (1006 network loss, 1011, 1012, 1013, …) are retried with backoff.
  const CLOSE_RULE = {
    1000: "stop", 1001: "now", 1003: "stop", 1008: "backoff", 1009: "stop",
    4400: "stop", 4401: "token", 4403: "stop", 4408: "backoff", 4429: "backoff", 4500: "backoff",
  };
  const CLOSE_NAME = {
    1000: "normal close", 1001: "server going away", 1003: "binary frame refused",
    1005: "no close code", 1006: "connection lost", 1008: "policy (slow consumer)",
    1009: "frame too large", 1011: "server error", 4400: "protocol violation",
    4401: "token refused", 4403: "forbidden", 4408: "hello timeout",
    4429: "too many requests or connections", 4500: "internal error",
  };
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 30000;
  const JITTER_NOW_MS = 1000; // spread of "reconnect at once" (1001)
  const STABLE_MS = 10000; // a connection live this long resets the backoff
  // One collator for every sort: localeCompare with options builds one per call.
  const userCollator = new Intl.Collator(undefined, { numeric: true });
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  const $ = (id) => document.getElementById(id);
  const el = {
    conn: $("conn"), connText: $("conn-text"), retry: $("conn-retry"), tokenToggle: $("token-toggle"),
    who: $("who"), tokenPanel: $("token-panel"), tokenForm: $("token-form"), tokenInput: $("token-input"),
    tokenWarn: $("token-warn"), search: $("search"), sort: $("sort"), tiles: $("tiles"),
    empty: $("empty"), summary: $("summary"), notice: $("notice"), template: $("tile-template"),
  };

  /** All mutable state of the page, in one place. */
  const state = {
    token: "",
    session: newSessionID(),
    socket: null, // the current WebSocket, or null
    connects: 0, // connect() calls: an answer for an older attempt is dropped
    nextID: 1,
    helloID: 0,
    subscribeID: 0,
    attempt: 0, // reconnects since the last stable connection
    retryAt: 0, // when the scheduled reconnect fires (ms since epoch), 0: none
    retryTimer: 0,
    liveSince: 0,
    expires: 0, // token exp (Unix s) from welcome / expiring
    expiring: false,
    bye: "", // reason of the last bye frame
    connState: "idle",
    closedText: "",
    users: new Map(), // user id -> { p: PRESENCE, li: HTMLElement, assumedOffline: bool }
    layoutTimer: 0,
  };

  // ---- token intake -------------------------------------------------------

  /** newSessionID returns a session id valid for the contract (^[A-Za-z0-9_-]{1,128}$).
   *  crypto.getRandomValues works in insecure contexts too (randomUUID does not). */
  function newSessionID() {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return "board-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  /** takeTokenFromLocation reads #token=… and refuses ?token=…, then removes
   *  both from the address bar (and so from history and bookmarks). */
  function takeTokenFromLocation() {
    const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    const query = new URLSearchParams(location.search);
    const fromHash = (hash.get("token") || "").trim();
    let warn = "";
    if (query.has("token")) {
      query.delete("token");
      warn = "A token in the query string was ignored: query strings are written to server and proxy logs, " +
        "so treat that token as leaked. Use #token=… or the form instead.";
    }
    if (fromHash || warn) {
      hash.delete("token");
      const q = query.toString();
      const h = hash.toString();
      history.replaceState(null, "", location.pathname + (q ? "?" + q : "") + (h ? "#" + h : ""));
    }
    showWarn(warn);
    return fromHash;
  }

  function showWarn(text) {
    el.tokenWarn.textContent = text;
    el.tokenWarn.hidden = !text;
    if (text) showTokenPanel(true);
  }

  function showTokenPanel(show) {
    el.tokenPanel.hidden = !show;
    el.tokenToggle.setAttribute("aria-expanded", String(show));
    el.tokenToggle.textContent = show ? "Hide token form" : "Change token";
    el.tokenToggle.hidden = !state.token && show;
    if (show && !state.token) el.tokenInput.focus();
  }

  function useToken(token) {
    state.token = token;
    state.attempt = 0;
    showTokenPanel(false);
    restart();
  }

  // ---- connection ---------------------------------------------------------

  function wsURL() {
    return (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/v1/ws";
  }

  /** restart drops the current socket (if any) and connects at once. */
  function restart() {
    cancelRetry();
    dropSocket();
    connect();
  }

  function dropSocket() {
    const ws = state.socket;
    state.socket = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "board reconnects");
  }

  function connect() {
    if (!state.token) {
      setConn("idle", "Not connected: enter a token");
      return;
    }
    state.connects++;
    state.retryAt = 0;
    state.bye = "";
    state.expiring = false;
    state.liveSince = 0;
    setConn(state.attempt ? "reconnecting" : "connecting", state.attempt ? "Reconnecting…" : "Connecting…");
    let ws;
    try {
      ws = new WebSocket(wsURL());
    } catch (err) {
      closed("cannot open the WebSocket: " + err.message, true);
      return;
    }
    state.socket = ws;
    let opened = false;
    ws.onopen = () => {
      if (ws !== state.socket) return;
      opened = true;
      state.helloID = state.nextID++;
      send(ws, {
        type: "hello", id: state.helloID, token: state.token, session: state.session,
        window: "main", device: "web", client: "pgw-board/1",
        watch: true, // a viewer: never makes the token's user present
      });
    };
    ws.onmessage = (ev) => {
      if (ws !== state.socket) return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (err) {
        notice("The gateway sent a frame that is not JSON; it was ignored.");
        return;
      }
      onFrame(ws, frame);
    };
    ws.onclose = (ev) => {
      if (ws !== state.socket) return; // a socket we dropped on purpose
      state.socket = null;
      if (opened) {
        onClose(ev.code, ev.reason);
        return;
      }
      // Refused before it opened: the browser hides the HTTP answer (the
      // page sees 1006), so ask the gateway why (POST /v1/ws answers what
      // the upgrade got). A restart meanwhile makes the answer moot.
      const gen = state.connects;
      whyRefused().then((why) => {
        if (gen === state.connects && !state.socket) onClose(ev.code, ev.reason, why);
      });
    };
  }

  /** whyRefused asks POST /v1/ws what an upgrade from this page gets: null
   *  when it would pass (or the answer is not a problem: an older gateway, a
   *  proxy), else {status, code, detail}; status 0 when nothing answers. */
  async function whyRefused() {
    try {
      const r = await fetch(location.origin + "/v1/ws", { method: "POST", cache: "no-store", credentials: "omit" });
      if (!(r.headers.get("content-type") || "").startsWith("application/problem+json")) return null;
      const p = await r.json();
      return { status: r.status, code: String(p.code || ""), detail: String(p.detail || "HTTP " + r.status) };
    } catch (err) {
      return { status: 0, code: "unreachable", detail: "the gateway does not answer at " + location.origin };
    }
  }

  function send(ws, frame) {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function onFrame(ws, f) {
    switch (f && f.type) {
      case "welcome":
        state.expires = Number(f.expires) || 0;
        el.who.textContent = "Tenant " + f.tenant + " · viewing as " + f.user +
          (state.expires ? " · token valid until " + new Date(state.expires * 1000).toLocaleString() : "");
        el.who.hidden = false;
        state.subscribeID = state.nextID++;
        send(ws, { type: "subscribe", id: state.subscribeID, tenant: true });
        return;
      case "ok":
        if (f.id === state.subscribeID) {
          resync(Array.isArray(f.presence) ? f.presence : []);
          state.liveSince = Date.now();
          setConn("live", "Live");
        }
        return;
      case "presence":
        apply(f, false);
        scheduleLayout();
        return;
      case "error":
        onError(ws, f);
        return;
      case "bye":
        state.bye = String(f.reason || "");
        return;
      case "expiring":
        state.expires = Number(f.expires) || state.expires;
        state.expiring = true;
        renderConn();
        return;
      default:
        // call frames, and anything newer than this page: not for the board.
        return;
    }
  }

  function onError(ws, f) {
    const p = f.error || {};
    const text = (p.code || "error") + (p.detail ? ": " + p.detail : "");
    if (f.id !== undefined && f.id === state.subscribeID) {
      // The token is fine but may not watch the tenant (e.g. a bridge token).
      closed("subscribe refused: " + text, false);
      state.socket = null;
      ws.close(1000, "subscribe refused");
      return;
    }
    if (f.id !== undefined && f.id === state.helloID) {
      state.bye = text; // the close (4401 …) follows and shows it
      return;
    }
    notice("The gateway answered: " + text);
  }

  function onClose(code, reason, refused) {
    const why = reason || state.bye || CLOSE_NAME[code] || "closed";
    let label = "code " + code + ", " + why;
    let rule = CLOSE_RULE[code] || "backoff";
    if (refused && refused.status === 403) {
      // Retrying cannot help until the gateway's settings change.
      label = "the gateway refuses this page's origin " + location.origin + " (" + refused.detail +
        "). Open the board at the gateway's public URL (PGW_PUBLIC_URL), or add this origin to PGW_ALLOWED_ORIGINS";
      rule = "stop-retryable";
    } else if (refused) {
      label = "code " + code + ", " + (refused.status ? refused.code + ": " : "") + refused.detail;
    }
    if (state.liveSince && Date.now() - state.liveSince >= STABLE_MS) state.attempt = 0;
    state.liveSince = 0;
    markAllUnknown();
    switch (rule) {
      case "stop":
        closed(label, false);
        return;
      case "stop-retryable":
        closed(label, true);
        return;
      case "token":
        closed(label + ". Enter a new token to reconnect.", false);
        state.token = "";
        showTokenPanel(true);
        return;
      case "now":
        scheduleRetry(Math.random() * JITTER_NOW_MS, label);
        return;
      default: {
        const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** state.attempt);
        scheduleRetry(ceiling / 2 + Math.random() * ceiling / 2, label); // "equal jitter"
      }
    }
  }

  function scheduleRetry(delayMs, label) {
    cancelRetry();
    state.attempt++;
    state.closedText = label;
    state.retryAt = Date.now() + delayMs;
    state.retryTimer = setTimeout(connect, delayMs);
    setConn("reconnecting", "");
  }

  function cancelRetry() {
    if (state.retryTimer) clearTimeout(state.retryTimer);
    state.retryTimer = 0;
    state.retryAt = 0;
  }

  function closed(text, retryable) {
    cancelRetry();
    state.closedText = text;
    setConn("closed", "Closed: " + text);
    el.retry.hidden = !(retryable && state.token);
  }

  /** markAllUnknown keeps the tiles when the connection drops (they are the
   *  last known truth) but says so: the summary tells they are not live. */
  function markAllUnknown() {
    el.summary.dataset.stale = "true";
    renderSummary();
  }

  function setConn(s, text) {
    state.connState = s;
    el.conn.dataset.state = s;
    if (text) el.connText.textContent = text;
    el.retry.hidden = !(s === "reconnecting" || (s === "closed" && state.token));
    if (s === "live") {
      el.summary.dataset.stale = "false";
      state.closedText = "";
    }
    renderConn();
  }

  /** renderConn refreshes the texts that count down (retry, expiry). */
  function renderConn() {
    if (state.connState === "reconnecting" && state.retryAt) {
      const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      el.connText.textContent = "Reconnecting in " + s + " s (attempt " + state.attempt + "; " + state.closedText + ")";
    } else if (state.connState === "live") {
      let t = "Live";
      if (state.expiring && state.expires) {
        const s = Math.max(0, Math.round(state.expires - Date.now() / 1000));
        t += " · token expires in " + s + " s: enter a new one";
      }
      el.connText.textContent = t;
    }
  }

  // ---- presence -----------------------------------------------------------

  /** apply shows p unless its version is not above the one shown. */
  function apply(p, fromResync) {
    if (!p || typeof p.user !== "string" || !p.user) return;
    const version = Number(p.version);
    let u = state.users.get(p.user);
    if (u && Number.isFinite(version) && version <= Number(u.p.version)) return;
    if (!STATUSES.includes(p.status)) p.status = "offline";
    if (!u) {
      u = { p: p, li: el.template.content.firstElementChild.cloneNode(true), assumedOffline: false };
      u.li.dataset.user = p.user;
      state.users.set(p.user, u);
      el.tiles.appendChild(u.li);
    } else if (!fromResync) {
      flash(u.li);
    }
    u.p = p;
    u.assumedOffline = false;
    renderTile(u);
  }

  /** resync takes the subscribe reply: every user who is not offline. A user
   *  shown as present but missing from it went offline while we were away. */
  function resync(list) {
    const seen = new Set();
    for (const p of list) {
      if (p && typeof p.user === "string") seen.add(p.user);
      apply(p, true);
    }
    for (const [id, u] of state.users) {
      if (seen.has(id) || u.p.status === "offline") continue;
      u.p = Object.assign({}, u.p, { status: "offline", note: "", manual: false, sessions: 0, devices: [], phone: undefined, since: "" });
      u.assumedOffline = true;
      renderTile(u);
    }
    scheduleLayout();
  }

  /** flash outlines a changed tile for a second. The Web Animations API
   *  restarts it without forcing a layout of the whole grid per frame. */
  function flash(li) {
    if (reducedMotion.matches || typeof li.animate !== "function") return;
    li.firstElementChild.animate(
      [{ boxShadow: "0 0 0 3px #0b5cad" }, { boxShadow: "0 0 0 3px transparent" }],
      { duration: 1200, easing: "ease-out" });
  }

  function renderTile(u) {
    const p = u.p;
    const li = u.li;
    const q = (sel) => li.querySelector(sel);
    li.dataset.status = p.status;
    q(".user").textContent = p.user;
    q(".badge .dot").dataset.shape = p.status;
    q(".status-text").textContent = STATUS_LABEL[p.status];
    q(".manual").hidden = !(p.manual && p.status !== "offline");

    const note = q(".note");
    note.textContent = p.note || "";
    note.hidden = !p.note;

    const n = Number(p.sessions) || 0;
    const devices = Array.isArray(p.devices) ? p.devices : [];
    q(".sessions").textContent = n === 0 ? "none" :
      n + (n === 1 ? " session" : " sessions") + (devices.length ? " · " + devices.join(", ") : "");

    const phone = p.phone;
    q(".phone-row").hidden = !phone;
    if (phone) {
      const dd = q(".phone");
      dd.dataset.phone = phone.state;
      q(".phone-text").textContent = "ext " + phone.ext + ", " + (PHONE_LABEL[phone.state] || phone.state);
      const call = phone.call;
      const timer = q(".call-timer");
      const timed = TIMED_PHONE.has(phone.state) && call && call.since;
      timer.hidden = !timed;
      timer.dataset.since = timed ? call.since : "";
      if (timed) timer.setAttribute("datetime", call.since);
      let peer = "";
      if (call && TIMED_PHONE.has(phone.state) && call.peer) {
        peer = (call.direction === "outbound" ? " · to " : call.direction === "inbound" ? " · from " : " · with ") + call.peer;
      }
      q(".call-peer").textContent = peer;
    }

    const since = q(".since");
    since.dataset.since = p.since || "";
    if (p.since) {
      since.setAttribute("datetime", p.since);
      since.title = new Date(p.since).toLocaleString();
    } else {
      since.removeAttribute("datetime");
      since.title = "";
    }
    renderTimes(li);
  }

  /** renderTimes refreshes the live texts of one tile: call timer and age. */
  function renderTimes(li) {
    const now = Date.now();
    const timer = li.querySelector(".call-timer");
    if (!timer.hidden && timer.dataset.since) {
      timer.textContent = clock(now - Date.parse(timer.dataset.since));
    }
    const since = li.querySelector(".since");
    const u = state.users.get(li.dataset.user);
    if (since.dataset.since) {
      since.textContent = age(now - Date.parse(since.dataset.since));
    } else {
      since.textContent = u && u.assumedOffline ? "while the board was disconnected" : "unknown";
    }
  }

  function clock(ms) {
    const t = Math.max(0, Math.floor(ms / 1000)) || 0;
    const h = Math.floor(t / 3600);
    const m = Math.floor((t % 3600) / 60);
    const s = t % 60;
    const two = (x) => String(x).padStart(2, "0");
    return (h ? h + ":" + two(m) : String(m)) + ":" + two(s);
  }

  function age(ms) {
    const s = Math.max(0, Math.floor(ms / 1000)) || 0;
    if (s < 5) return "just now";
    if (s < 60) return s + " s ago";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min ago";
    const h = Math.floor(m / 60);
    if (h < 48) return h + " h " + (m % 60) + " min ago";
    return Math.floor(h / 24) + " days ago";
  }

  // ---- filters, order, counts --------------------------------------------

  function scheduleLayout() {
    if (!state.layoutTimer) state.layoutTimer = setTimeout(layout, 30); // one layout per burst of frames
  }

  function layout() {
    state.layoutTimer = 0;
    const wanted = new Set(Array.from(document.querySelectorAll('input[name="status"]:checked'), (i) => i.value));
    const needle = el.search.value.trim().toLowerCase();
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    let shown = 0;
    const list = Array.from(state.users.values());
    list.sort(comparator(el.sort.value));
    let at = el.tiles.firstElementChild;
    for (const u of list) {
      counts[u.p.status]++;
      const match = wanted.has(u.p.status) && (!needle ||
        u.p.user.toLowerCase().includes(needle) || String(u.p.note || "").toLowerCase().includes(needle));
      if (u.li.hidden === match) {
        u.li.hidden = !match;
        if (match) renderTimes(u.li);
      }
      if (match) shown++;
      // Move only the tiles that are out of order: a big tenant's grid is not
      // rebuilt for every frame.
      if (at === u.li) at = at.nextElementSibling;
      else el.tiles.insertBefore(u.li, at);
    }
    for (const s of STATUSES) document.querySelector('[data-count="' + s + '"]').textContent = String(counts[s]);
    el.empty.hidden = !(state.users.size && shown === 0);
    el.summary.dataset.shown = String(shown);
    renderSummary();
  }

  function renderSummary() {
    const total = state.users.size;
    const shown = Number(el.summary.dataset.shown || 0);
    let text = total ? "Showing " + shown + " of " + total + (total === 1 ? " user." : " users.") : "No users yet.";
    if (el.summary.dataset.stale === "true" && total) text += " Not live: showing the last known state.";
    el.summary.textContent = text;
  }

  function comparator(order) {
    const byUser = (a, b) => userCollator.compare(a.p.user, b.p.user);
    if (order === "status") return (a, b) => STATUS_ORDER[a.p.status] - STATUS_ORDER[b.p.status] || byUser(a, b);
    if (order === "since") return (a, b) => (Date.parse(b.p.since) || 0) - (Date.parse(a.p.since) || 0) || byUser(a, b);
    return byUser;
  }

  function notice(text) {
    el.notice.textContent = text;
    el.notice.hidden = !text;
  }

  // ---- wiring -------------------------------------------------------------

  el.tokenForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = el.tokenInput.value.trim();
    el.tokenInput.value = "";
    if (t) {
      showWarn("");
      useToken(t);
    }
  });
  el.tokenToggle.addEventListener("click", () => showTokenPanel(el.tokenPanel.hidden));
  el.retry.addEventListener("click", () => {
    state.attempt = 0;
    restart();
  });
  el.search.addEventListener("input", scheduleLayout);
  el.sort.addEventListener("change", scheduleLayout);
  for (const box of document.querySelectorAll('input[name="status"]')) box.addEventListener("change", scheduleLayout);
  window.addEventListener("hashchange", () => {
    const t = takeTokenFromLocation();
    if (t) useToken(t);
  });
  // One ticker for every live text (call timers, ages, countdowns).
  setInterval(() => {
    for (const u of state.users.values()) {
      if (!u.li.hidden) renderTimes(u.li);
    }
    renderConn();
  }, 1000);

  const initial = takeTokenFromLocation();
  if (initial) {
    useToken(initial);
  } else {
    showTokenPanel(true);
    setConn("idle", "Not connected: enter a token");
  }
})();
