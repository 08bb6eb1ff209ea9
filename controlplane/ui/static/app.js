// The dspyfleet dashboard: Fleet (nodes, live, filters, node detail with drain/undrain), Pools
// (request plots from the rollups, routing, scaling), Cost (spend, budgets, capacity,
// recommendations), Alerts & healing, and Operations (commands, deployments, maintenance,
// backups). Plain DOM, uPlot for the plots.
"use strict";

const state = {
  session: null,
  nodes: new Map(), // id -> row, kept live by the event stream
  history: new Map(), // id -> {t: [], cpu: [], mem: []} from live reports, for the node plot
  filter: { pool: "", state: "", label: "", text: "" },
  poolRange: "1h",
  costRange: "1d",
  costBy: "pool",
  opsFilter: { node: "", state: "", kind: "" },
  refresh: null, // the pool page's refetch timer
};

// Plots by name, for the page's own redraws and for tests that count their points.
window.dashboardPlots = {};

const historyPoints = 360;

// el builds an element: el("td", {class: "x"}, "text", child).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

async function api(path, opts) {
  const resp = await fetch("/ui/api/" + path, Object.assign({ credentials: "same-origin" }, opts));
  if (resp.status === 401) {
    location.href = "/ui/login";
    throw new Error("not logged in");
  }
  const body = await resp.json().catch(() => ({ error: resp.statusText }));
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

function post(path) {
  return api(path, { method: "POST", headers: { "X-CSRF-Token": state.session.csrf } });
}

// destroyPlots removes the page's plots.
function destroyPlots() {
  for (const name of Object.keys(window.dashboardPlots)) {
    window.dashboardPlots[name].destroy();
    delete window.dashboardPlots[name];
  }
}

function notice(msg, kind) {
  const n = document.getElementById("notice");
  n.textContent = msg;
  n.className = "notice " + (kind || "");
  n.hidden = !msg;
}

const pct = (v) => (v === undefined || v === null ? "–" : v.toFixed(1) + " %");
const num = (v, d) => (v === undefined || v === null ? "–" : Number(v).toFixed(d === undefined ? 1 : d));

function ago(t) {
  if (!t) return "never";
  const s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
  if (s < 60) return Math.round(s) + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  if (s < 86400) return Math.round(s / 3600) + "h ago";
  return Math.round(s / 86400) + "d ago";
}

// ---- live updates ----

function remember(row) {
  if (row.removed) {
    state.nodes.delete(row.id);
    state.history.delete(row.id);
    return;
  }
  state.nodes.set(row.id, row);
  if (!row.reportTime) return;
  let h = state.history.get(row.id);
  if (!h) {
    h = { t: [], cpu: [], mem: [] };
    state.history.set(row.id, h);
  }
  const t = Date.parse(row.reportTime) / 1000;
  if (h.t.length && h.t[h.t.length - 1] >= t) return;
  h.t.push(t);
  h.cpu.push(row.cpu);
  h.mem.push(row.memory);
  if (h.t.length > historyPoints) {
    h.t.shift();
    h.cpu.shift();
    h.mem.shift();
  }
}

let redrawQueued = false;
function queueRedraw() {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    const r = route();
    if (r.page === "fleet") renderFleetTable();
    if (r.page === "node") updateNode(r.arg);
  });
}

function connectEvents() {
  const live = document.getElementById("live");
  const es = new EventSource("/ui/api/events");
  es.addEventListener("nodes", (ev) => {
    for (const row of JSON.parse(ev.data)) remember(row);
    queueRedraw();
  });
  es.addEventListener("synced", () => {
    live.textContent = "live";
    live.className = "live on";
  });
  es.onerror = () => {
    live.textContent = "reconnecting";
    live.className = "live off";
  };
}

// ---- routing between pages ----

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  const page = parts[0] || "fleet";
  const arg = parts.slice(1).map(decodeURIComponent).join("/");
  if (page === "fleet" && arg) return { page: "node", arg };
  return { page, arg };
}

function show() {
  const r = route();
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.page === (r.page === "node" ? "fleet" : r.page));
  }
  clearInterval(state.refresh);
  destroyPlots();
  notice("");
  const main = document.getElementById("main");
  main.replaceChildren();
  if (r.page === "node") return showNode(main, r.arg);
  if (r.page === "pools") return showPools(main, r.arg);
  if (r.page === "alerts") return showAlerts(main);
  if (r.page === "cost") return showCost(main);
  if (r.page === "operations") return showOperations(main, r.arg);
  return showFleet(main);
}

// ---- Fleet ----

const states = ["ready", "draining", "drained", "unhealthy", "disconnected", "down"];

function showFleet(main) {
  const pools = [...new Set([...state.nodes.values()].map((n) => n.pool))].sort();
  const f = state.filter;
  const onFilter = (key) => (ev) => {
    f[key] = ev.target.value;
    renderFleetTable();
  };
  main.append(
    el("h1", {}, "Fleet"),
    el("div", { class: "filters" },
      el("label", {}, "Pool ", el("select", { id: "filter-pool", onchange: onFilter("pool") },
        el("option", { value: "" }, "all"),
        pools.map((p) => el("option", { value: p, selected: p === f.pool }, p)))),
      el("label", {}, "State ", el("select", { id: "filter-state", onchange: onFilter("state") },
        el("option", { value: "" }, "all"),
        states.map((s) => el("option", { value: s, selected: s === f.state }, s)))),
      el("label", {}, "Label ", el("input", { id: "filter-label", placeholder: "zone=a", value: f.label, oninput: onFilter("label") })),
      el("label", {}, "Search ", el("input", { id: "filter-text", placeholder: "node id", value: f.text, oninput: onFilter("text") })),
    ),
    el("div", { id: "fleet-summary", class: "summary" }),
    el("table", { id: "nodes" },
      el("thead", {}, el("tr", {}, ["Node", "State", "Pool", "CPU", "Memory", "Disk", "In flight", "Req/s", "Version", "Last seen"].map((h) => el("th", {}, h)))),
      el("tbody", {})),
  );
  renderFleetTable();
}

function matches(n) {
  const f = state.filter;
  if (f.pool && n.pool !== f.pool) return false;
  if (f.state && n.state !== f.state) return false;
  if (f.text && !n.id.includes(f.text)) return false;
  if (f.label) {
    for (const term of f.label.split(",").map((s) => s.trim()).filter(Boolean)) {
      const [k, v] = term.split("=");
      const have = (n.labels || {})[k];
      if (have === undefined || (v !== undefined && have !== v)) return false;
    }
  }
  return true;
}

function renderFleetTable() {
  const body = document.querySelector("#nodes tbody");
  if (!body) return;
  const rows = [...state.nodes.values()].filter(matches).sort((a, b) => a.pool.localeCompare(b.pool) || a.id.localeCompare(b.id));
  body.replaceChildren(...rows.map((n) => el("tr", { "data-node": n.id, class: "clickable", onclick: () => (location.hash = "#/fleet/" + encodeURIComponent(n.id)) },
    el("td", {}, el("a", { href: "#/fleet/" + encodeURIComponent(n.id) }, n.id)),
    el("td", {}, el("span", { class: "state " + n.state, title: n.stateReason }, n.state)),
    el("td", {}, n.pool),
    el("td", { class: "n" }, pct(n.cpu)),
    el("td", { class: "n" }, pct(n.memory)),
    el("td", { class: "n" }, pct(n.disk)),
    el("td", { class: "n" }, n.inFlight),
    el("td", { class: "n" }, num(n.rps, 2)),
    el("td", {}, n.version),
    el("td", {}, ago(n.lastSeen)),
  )));
  const all = [...state.nodes.values()];
  const ready = all.filter((n) => n.state === "ready").length;
  document.getElementById("fleet-summary").textContent =
    `${rows.length} shown of ${all.length} nodes · ${ready} ready`;
}

// ---- Node detail ----

async function showNode(main, id) {
  main.append(el("p", {}, el("a", { href: "#/fleet" }, "← Fleet")), el("h1", {}, id), el("div", { id: "node-detail" }, "loading…"));
  let d;
  try {
    d = await api("nodes/" + encodeURIComponent(id));
  } catch (e) {
    notice(e.message, "error");
    return;
  }
  remember(d.summary);
  const n = d.node;
  const detail = document.getElementById("node-detail");
  if (!detail) return;
  const actions = el("div", { class: "actions" });
  if (state.session.canWrite) {
    actions.append(
      el("button", { id: "drain", onclick: () => act(id, "drain") }, "Drain"),
      el("button", { id: "undrain", onclick: () => act(id, "undrain") }, "Undrain"),
    );
  } else {
    actions.append(el("span", { class: "hint", id: "read-only" }, "Read-only token: no actions."));
  }
  detail.replaceChildren(
    el("dl", { class: "facts", id: "node-facts" }),
    actions,
    el("h2", {}, "CPU and memory (live, since this page opened)"),
    el("div", { id: "plot-host", class: "plot" }),
    el("h2", {}, "Recent commands"),
    commandsTable(d.commands),
    el("h2", {}, "Labels"),
    el("p", {}, Object.entries(n.labels || {}).map(([k, v]) => el("span", { class: "label" }, k + "=" + v))),
  );
  updateNode(id);
  const h = state.history.get(id) || { t: [], cpu: [], mem: [] };
  window.dashboardPlots.host = new uPlot(plotOpts("", 260, [
    { label: "CPU %", stroke: "#2563eb", value: (u, v) => num(v) },
    { label: "Memory %", stroke: "#d97706", value: (u, v) => num(v) },
  ], { y: { range: [0, 100] } }), [h.t, h.cpu, h.mem], document.getElementById("plot-host"));
}

function updateNode(id) {
  const n = state.nodes.get(id);
  const facts = document.getElementById("node-facts");
  if (!n || !facts) return;
  const fact = (k, v) => [el("dt", {}, k), el("dd", {}, v)];
  facts.replaceChildren(...[
    fact("State", el("span", { class: "state " + n.state, id: "node-state" }, n.state)),
    fact("Why", n.stateReason || "–"),
    fact("Pool", n.pool),
    fact("Address", n.address || "–"),
    fact("CPU", pct(n.cpu)),
    fact("Memory", pct(n.memory)),
    fact("Disk (fullest)", pct(n.disk)),
    fact("In flight", n.inFlight),
    fact("Requests/s", num(n.rps, 2)),
    fact("Version", n.version || "–"),
    fact("Last seen", ago(n.lastSeen)),
    fact("Drain requested", n.drainRequested ? "yes" : "no"),
  ].flat());
  const p = window.dashboardPlots.host;
  const h = state.history.get(id);
  if (p && h) p.setData([h.t, h.cpu, h.mem]);
}

function commandsTable(cmds) {
  if (!cmds.length) return el("p", { class: "hint", id: "commands" }, "No commands yet.");
  return el("table", { id: "commands" },
    el("thead", {}, el("tr", {}, ["Created", "Kind", "State", "Detail", "Reason"].map((h) => el("th", {}, h)))),
    el("tbody", {}, cmds.map((c) => el("tr", { "data-command": c.id },
      el("td", {}, c.created ? new Date(c.created).toLocaleString() : "–"),
      el("td", {}, c.kind), el("td", {}, el("span", { class: "cmd " + c.state }, c.state)),
      el("td", {}, c.detail), el("td", {}, c.reason)))));
}

async function act(id, what) {
  try {
    const c = await post("nodes/" + encodeURIComponent(id) + "/" + what);
    notice(`${what} queued as command ${c.id}`, "ok");
  } catch (e) {
    notice(`${what} refused: ${e.message}`, "error");
    return;
  }
  const d = await api("nodes/" + encodeURIComponent(id));
  const t = document.getElementById("commands");
  if (t) t.replaceWith(commandsTable(d.commands));
}

// ---- Pools ----

function plotOpts(title, height, series, scales) {
  const main = document.getElementById("main");
  return {
    title, height, width: Math.max(320, Math.min(main.clientWidth - 16, 1100)),
    scales: Object.assign({ x: { time: true } }, scales || {}),
    series: [{}].concat(series.map((s) => Object.assign({ width: 2, spanGaps: false, points: { show: true, size: 4 } }, s))),
    axes: [{}, { size: 60 }],
  };
}

async function showPools(main, pool) {
  const pools = [...new Set([...state.nodes.values()].map((n) => n.pool))].sort();
  if (!pool) pool = pools.includes("default") ? "default" : pools[0] || "default";
  main.append(
    el("h1", {}, "Pools"),
    el("div", { class: "tabs" }, pools.map((p) => el("a", { href: "#/pools/" + encodeURIComponent(p), class: p === pool ? "active" : null, "data-pool": p }, p))),
    el("div", { class: "filters" }, "Range ", ["1h", "1d", "1w"].map((r) =>
      el("button", { class: r === state.poolRange ? "active" : null, "data-range": r, onclick: () => { state.poolRange = r; show(); } }, r))),
    el("div", { id: "pool-view" }, "loading…"),
  );
  let v;
  try {
    v = await api("pools/" + encodeURIComponent(pool) + "?range=" + state.poolRange);
  } catch (e) {
    notice(e.message, "error");
    return;
  }
  const view = document.getElementById("pool-view");
  if (!view) return;
  renderPool(view, v);
  // The rollups grow by the minute: refetch and redraw while the page stays open.
  const shown = location.hash;
  state.refresh = setInterval(async () => {
    if (location.hash !== shown) return;
    try {
      const next = await api("pools/" + encodeURIComponent(pool) + "?range=" + state.poolRange);
      destroyPlots();
      renderPool(view, next);
    } catch (e) {
      notice(e.message, "error");
    }
  }, poolRefreshMs);
}

const poolRefreshMs = 15000;

function renderPool(view, v) {
  const s = v.series;
  view.replaceChildren(
    el("section", { class: "grid" },
      el("div", { id: "plot-rps", class: "plot" }), el("div", { id: "plot-errors", class: "plot" }),
      el("div", { id: "plot-latency", class: "plot" }), el("div", { id: "plot-tokens", class: "plot" }),
      el("div", { id: "plot-cache", class: "plot" })),
    el("h2", {}, "Scaling"), scalingView(v),
    el("h2", {}, "Routing"), routingView(v.routing),
  );
  const mk = (name, title, series, data, scales) => {
    const box = document.getElementById("plot-" + name);
    const o = plotOpts(title, 220, series, scales);
    o.width = Math.max(280, box.clientWidth - 12);
    window.dashboardPlots[name] = new uPlot(o, data, box);
  };
  // The forecast continues the request rate past now.
  const t = s.t.slice(), rps = s.rps.slice(), fc = s.t.map(() => null);
  if (state.poolRange === "1h") {
    (v.forecastT || []).forEach((ft, i) => {
      if (ft > t[t.length - 1]) {
        t.push(ft);
        rps.push(null);
        fc.push(v.forecast[i]);
      } else {
        fc[t.indexOf(ft)] = v.forecast[i];
      }
    });
  }
  mk("rps", "Requests/s (forecast dashed)", [
    { label: "req/s", stroke: "#2563eb", value: (u, x) => num(x, 2) },
    { label: "forecast", stroke: "#9333ea", dash: [6, 4], value: (u, x) => num(x, 2) },
  ], [t, rps, fc]);
  mk("errors", "Error rate %", [{ label: "errors %", stroke: "#dc2626", value: (u, x) => num(x, 2) }],
    [s.t, s.errorRate.map((x) => (x === null ? null : x * 100))]);
  mk("latency", "Latency ms", [
    { label: "p50", stroke: "#16a34a", value: (u, x) => num(x, 0) },
    { label: "p95", stroke: "#d97706", value: (u, x) => num(x, 0) },
    { label: "p99", stroke: "#dc2626", value: (u, x) => num(x, 0) },
  ], [s.t, s.p50, s.p95, s.p99]);
  mk("tokens", "Tokens/s", [{ label: "tokens/s", stroke: "#0891b2", value: (u, x) => num(x, 1) }], [s.t, s.tokensPerSec]);
  mk("cache", "Cache hit ratio %", [{ label: "hits %", stroke: "#65a30d", value: (u, x) => num(x, 1) }],
    [s.t, s.cacheHit.map((x) => (x === null ? null : x * 100))], { y: { range: [0, 100] } });
}

function scalingView(v) {
  if (!v.scaling) return el("p", { class: "hint", id: "scaling" }, v.scalingError || "No scaling status.");
  const d = v.scaling.decision || {};
  const fc = v.scaling.forecast || {};
  const act = v.scaling.actuation;
  const fact = (k, x) => [el("dt", {}, k), el("dd", {}, x === undefined || x === "" ? "–" : x)];
  return el("div", { id: "scaling" },
    el("dl", { class: "facts" },
      fact("Current → desired", `${d.current || 0} → ${d.desired || 0}`),
      fact("Ready", d.ready || 0),
      fact("Recommended", d.recommended || 0),
      fact("Reason", d.reason),
      fact("Limit", d.limit),
      fact("Decided", d.time ? new Date(d.time).toLocaleString() : undefined),
      fact("Forecast", fc.status + (fc.mape !== undefined ? ` (MAPE ${(fc.mape * 100).toFixed(1)} %)` : "")),
      fact("Actuation", act ? `${act.actuator}: ${act.state}` : undefined)),
    (d.proposals || []).length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Signal", "Observed", "Target", "Nodes", "Note"].map((h) => el("th", {}, h)))),
      el("tbody", {}, d.proposals.map((p) => el("tr", {}, el("td", {}, p.source), el("td", { class: "n" }, num(p.observed, 2)),
        el("td", { class: "n" }, num(p.target, 2)), el("td", { class: "n" }, p.nodes || 0), el("td", {}, p.note || ""))))) : null);
}

function routingView(r) {
  const nodes = r.nodes || [];
  return el("div", { id: "routing" },
    el("p", {}, `Strategy ${(r.strategy || "").replace("STRATEGY_", "").toLowerCase()} · ${r.healthy || 0} healthy of ${r.counted || 0}` +
      (r.panic ? ` · PANIC: ${r.panicReason}` : "")),
    el("table", {},
      el("thead", {}, el("tr", {}, ["Node", "State", "In routing", "Weight", "Effective", "In flight", "Ejected", "Latency", "Errors", "Why"].map((h) => el("th", {}, h)))),
      el("tbody", {}, nodes.map((n) => el("tr", { "data-routing-node": n.nodeId },
        el("td", {}, n.nodeId), el("td", {}, n.state), el("td", {}, n.eligible ? "yes" : "no"),
        el("td", { class: "n" }, num(n.weight, 2)), el("td", { class: "n" }, num(n.effectiveWeight, 2)),
        el("td", { class: "n" }, n.inFlight || 0),
        el("td", {}, n.ejected ? `yes (×${n.ejections}, until ${new Date(n.ejectedUntil).toLocaleTimeString()})` : "no"),
        el("td", { class: "n" }, n.latency ? (parseFloat(n.latency) * 1000).toFixed(0) + " ms" : "–"), el("td", { class: "n" }, pct((n.errorRate || 0) * 100)),
        el("td", {}, n.reason || ""))))));
}

// ---- Alerts & healing ----

const when = (t) => (t ? new Date(t).toLocaleString() : "–");
const enumName = (v, prefix) => String(v || "").replace(prefix, "").toLowerCase();

async function showAlerts(main) {
  main.append(el("h1", {}, "Alerts & healing"), el("div", { id: "alerts-view" }, "loading…"));
  let v;
  try {
    v = await api("alerts");
  } catch (e) {
    notice(e.message, "error");
    return;
  }
  const view = document.getElementById("alerts-view");
  if (!view) return;
  const canWrite = state.session.canWrite;
  const alerts = v.alerts.alerts || [];
  const silences = v.silences.silences || [];
  const events = v.events.events || [];
  view.replaceChildren(
    canWrite ? el("div", { class: "filters", id: "silence-form" },
      el("label", {}, "Silence for ", el("select", { id: "silence-duration" }, ["1h", "4h", "24h"].map((d) => el("option", { value: d, selected: d === "4h" }, d)))),
      el("label", {}, "Author ", el("input", { id: "silence-author", placeholder: "your name", value: "dashboard" })),
      el("label", {}, "Comment ", el("input", { id: "silence-comment", placeholder: "why" }))) : null,
    el("h2", {}, `Firing and pending (${alerts.length})`),
    alerts.length ? el("table", { id: "alerts" },
      el("thead", {}, el("tr", {}, ["State", "Severity", "Rule", "Target", "Since", "Summary", "Notified", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, alerts.map((a) => el("tr", { "data-alert": a.rule + " " + a.target },
        el("td", {}, el("span", { class: "alert " + enumName(a.state, "ALERT_STATE_") }, enumName(a.state, "ALERT_STATE_"))),
        el("td", {}, enumName(a.severity, "ALERT_SEVERITY_")),
        el("td", {}, a.rule), el("td", {}, a.target), el("td", {}, when(a.activeSince)),
        el("td", {}, (a.annotations || {}).summary || ""),
        el("td", {}, a.lastSuppressed ? "silenced " + ago(a.lastSuppressed) : when(a.lastNotified)),
        el("td", {}, canWrite ? el("button", { class: "silence", onclick: () => silence(a) }, "Silence") : null))))) :
      el("p", { class: "hint", id: "alerts" }, "Nothing firing or pending."),
    el("h2", {}, `Silences (${silences.length})`),
    silences.length ? el("table", { id: "silences" },
      el("thead", {}, el("tr", {}, ["Matchers", "From", "Until", "Author", "Comment", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, silences.map((x) => el("tr", { "data-silence": x.id },
        el("td", {}, (x.matchers || []).map((m) => el("span", { class: "label" }, m.name + (m.negate ? "!" : "") + (m.regex ? "=~" : "=") + m.value))),
        el("td", {}, when(x.start)), el("td", {}, when(x.end)), el("td", {}, x.author), el("td", {}, x.comment),
        el("td", {}, canWrite ? el("button", { class: "expire", onclick: () => expire(x.id) }, "Expire") : null))))) :
      el("p", { class: "hint", id: "silences" }, "No silences."),
    el("h2", {}, "Alert and healing events"),
    events.length ? el("table", { id: "alert-events" },
      el("thead", {}, el("tr", {}, ["Time", "Kind", "Rule", "Target", "What and why", "Command"].map((h) => el("th", {}, h)))),
      el("tbody", {}, events.map((e) => el("tr", {},
        el("td", {}, when(e.time)), el("td", {}, e.kind), el("td", {}, e.rule), el("td", {}, e.target),
        el("td", { class: "wrap" }, e.message), el("td", {}, e.commandId || ""))))) :
      el("p", { class: "hint" }, "No events yet."),
  );
}

async function silence(a) {
  const matchers = [{ name: "alertname", value: a.rule }];
  if (a.node) matchers.push({ name: "node", value: a.node });
  const body = {
    matchers,
    duration: document.getElementById("silence-duration").value,
    author: document.getElementById("silence-author").value,
    comment: document.getElementById("silence-comment").value || "silenced from the dashboard",
  };
  try {
    await api("silences", { method: "POST", headers: { "X-CSRF-Token": state.session.csrf, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch (e) {
    notice("silence refused: " + e.message, "error");
    return;
  }
  show();
  notice(`silenced ${a.rule} on ${a.target} for ${body.duration}`, "ok");
}

async function expire(id) {
  try {
    await api("silences/" + encodeURIComponent(id), { method: "DELETE", headers: { "X-CSRF-Token": state.session.csrf } });
  } catch (e) {
    notice("expire refused: " + e.message, "error");
    return;
  }
  show();
  notice("silence expired", "ok");
}


// ---- Cost ----

const palette = ["#2563eb", "#d97706", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#65a30d", "#db2777"];
const usd = (v) => (v === undefined || v === null ? "–" : "$" + Number(v).toFixed(Number(v) >= 100 ? 0 : 2));
// plottedSeries is how many groups the spend plot draws; the rest are summed as "other".
const plottedSeries = 7;

async function showCost(main) {
  const choice = (key, values) => values.map((x) =>
    el("button", { class: x === state[key] ? "active" : null, ["data-" + key]: x, onclick: () => { state[key] = x; show(); } }, x));
  main.append(
    el("h1", {}, "Cost"),
    el("div", { class: "filters" }, "Range ", choice("costRange", ["1d", "1w", "30d"]), " By ", choice("costBy", ["pool", "model", "program"])),
    el("div", { id: "cost-view" }, "loading…"),
  );
  const load = async () => {
    const v = await api("cost?range=" + state.costRange + "&by=" + state.costBy);
    const view = document.getElementById("cost-view");
    if (!view) return;
    destroyPlots();
    renderCost(view, v);
  };
  try {
    await load();
  } catch (e) {
    notice(e.message, "error");
    return;
  }
  const shown = location.hash;
  state.refresh = setInterval(() => {
    if (location.hash === shown) load().catch((e) => notice(e.message, "error"));
  }, costRefreshMs);
}

const costRefreshMs = 30000;

function renderCost(view, v) {
  const budgets = v.budgets || [];
  const capacity = v.capacity.lines || [];
  const recs = v.recommendations.recommendations || [];
  const events = v.budgetEvents.events || [];
  const spent = (v.total.usd || []).reduce((a, b) => a + b, 0);
  const stepName = v.step >= 3600 ? v.step / 3600 + "h" : v.step + "s";
  view.replaceChildren(
    el("p", { class: "summary", id: "cost-summary" }, `${usd(spent)} over the last ${v.range}` + (v.total.unknown ? " (a lower bound: some hosts or tokens have no price)" : "")),
    el("div", { id: "plot-spend", class: "plot" }),
    el("h2", {}, `Budgets (${budgets.length})`),
    budgets.length ? el("div", { class: "grid", id: "budgets" }, budgets.map(budgetCard)) : el("p", { class: "hint", id: "budgets" }, "No budgets: fleetctl cost budgets set."),
    events.length ? el("h2", {}, "Budget events") : null,
    events.length ? el("table", { id: "budget-events" },
      el("thead", {}, el("tr", {}, ["Time", "Budget", "Kind", "Threshold", "Spend", "Limit", "Forecast"].map((h) => el("th", {}, h)))),
      el("tbody", {}, events.map((e) => el("tr", {}, el("td", {}, when(e.time)), el("td", {}, e.budget), el("td", {}, e.kind),
        el("td", { class: "n" }, e.kind === "threshold" ? num(e.threshold * 100, 0) + " %" : "–"), el("td", { class: "n" }, usd(e.spendUsd)),
        el("td", { class: "n" }, usd(e.limitUsd)), el("td", { class: "n" }, usd(e.forecastUsd)))))) : null,
    el("h2", {}, "Host capacity and reservations"),
    capacityTable(capacity),
    el("h2", {}, `Open recommendations (${recs.length}) · ${usd(v.recommendations.monthlySavingsUsd)} a month`),
    recs.length ? el("table", { id: "recommendations" },
      el("thead", {}, el("tr", {}, ["Kind", "Subject", "Pool", "Summary", "Savings/month"].map((h) => el("th", {}, h)))),
      el("tbody", {}, recs.map((r) => el("tr", { "data-rec": r.id }, el("td", {}, r.kind), el("td", {}, r.subject), el("td", {}, r.pool),
        el("td", { class: "wrap", title: (r.evidence || []).join("\n") }, r.summary), el("td", { class: "n" }, usd(r.monthlySavingsUsd)))))) :
      el("p", { class: "hint", id: "recommendations" }, "No open recommendations."),
  );
  // The largest groups each get a line; the rest add up to "other".
  const series = v.series.slice(0, plottedSeries);
  const rest = v.series.slice(plottedSeries);
  if (rest.length) series.push({ name: "other", usd: v.t.map((_, i) => rest.reduce((a, x) => a + x.usd[i], 0)) });
  const box = document.getElementById("plot-spend");
  const o = plotOpts(`Spend per ${stepName} by ${v.by} (USD)`, 260, [
    { label: "total", stroke: "#111827", width: 1, dash: [2, 3], value: (u, x) => usd(x) },
  ].concat(series.map((x, i) => ({ label: x.name, stroke: palette[i % palette.length], value: (u, y) => usd(y) }))));
  window.dashboardPlots.spend = new uPlot(o, [v.t, v.total.usd].concat(series.map((x) => x.usd)), box);
  budgets.forEach((b, i) => {
    const p = b.plot;
    const pbox = document.getElementById("plot-budget-" + i);
    if (!pbox || !p.t) return;
    const bo = plotOpts(b.status.budget.name, 200, [
      { label: "spend", stroke: "#2563eb", value: (u, x) => usd(x) },
      { label: "forecast", stroke: "#9333ea", dash: [6, 4], value: (u, x) => usd(x) },
      { label: "limit", stroke: "#dc2626", width: 1, points: { show: false }, value: (u, x) => usd(x) },
    ], { y: { range: (u, lo, hi) => [0, Math.max(hi, b.status.budget.limitUsd) * 1.1] } });
    bo.width = Math.max(280, pbox.clientWidth - 12);
    window.dashboardPlots["budget-" + b.status.budget.name] = new uPlot(bo, [p.t, p.spend, p.forecast, p.limit], pbox);
  });
}

function budgetScope(b) {
  if (b.program) return "program " + b.program;
  const cap = b.capacityType && b.capacityType !== "CAPACITY_TYPE_UNSPECIFIED" ? " (" + enumName(b.capacityType, "CAPACITY_TYPE_") + " hosts)" : "";
  return (b.pool ? "pool " + b.pool : "fleet") + cap;
}

function budgetCard(b, i) {
  const s = b.status;
  const over = s.forecastUsd > s.budget.limitUsd;
  return el("div", { class: "budget", "data-budget": s.budget.name },
    el("h3", {}, s.budget.name, " ", el("span", { class: "hint" }, `${budgetScope(s.budget)} · ${enumName(s.budget.period, "BUDGET_PERIOD_")}${s.budget.hard ? " · hard" : ""}`)),
    el("p", { class: "budget-figures" },
      el("b", {}, usd(s.spendUsd)), ` of ${usd(s.budget.limitUsd)} (${num((s.used || 0) * 100, 0)} %) · forecast `,
      el("span", { class: over ? "over" : null }, usd(s.forecastUsd)), ` by ${when(s.periodEnd)} · ${usd(s.runRateUsdPerHour)}/h` + (s.unknown ? " · lower bound" : "")),
    b.plotError ? el("p", { class: "hint" }, b.plotError) : el("div", { id: "plot-budget-" + i, class: "plot" }));
}

function capacityTable(lines) {
  if (!lines.length) return el("p", { class: "hint", id: "capacity" }, "No host cost in this range.");
  const total = lines.reduce((a, l) => a + (l.hostUsd || 0), 0);
  return el("table", { id: "capacity" },
    el("thead", {}, el("tr", {}, ["Capacity type", "Host hours", "Host cost", "Share", "Unpriced hours"].map((h) => el("th", {}, h)))),
    el("tbody", {}, lines.map((l) => el("tr", { "data-capacity": l.name }, el("td", {}, l.name), el("td", { class: "n" }, num(l.hostHours, l.hostHours < 1 ? 3 : 1)),
      el("td", { class: "n" }, usd(l.hostUsd)), el("td", { class: "n" }, total > 0 ? pct((100 * l.hostUsd) / total) : "–"),
      el("td", { class: "n" }, num(l.unpricedHostHours, l.unpricedHostHours < 1 ? 3 : 1))))));
}

// ---- Operations ----

const commandStates = ["held", "pending", "sent", "accepted", "running", "succeeded", "failed", "expired", "cancelled"];
const commandKinds = ["drain", "undrain", "restart", "cleanup", "backup", "deploy", "scale", "custom"];

async function showOperations(main, commandID) {
  const f = state.opsFilter;
  const nodes = [...state.nodes.keys()].sort();
  const onFilter = (key) => (ev) => {
    f[key] = ev.target.value;
    loadCommands();
  };
  main.append(
    el("h1", {}, "Operations"),
    el("h2", {}, "Commands"),
    el("div", { class: "filters" },
      el("label", {}, "Node ", el("select", { id: "ops-node", onchange: onFilter("node") }, el("option", { value: "" }, "all"),
        nodes.map((n) => el("option", { value: n, selected: n === f.node }, n)))),
      el("label", {}, "State ", el("select", { id: "ops-state", onchange: onFilter("state") }, el("option", { value: "" }, "all"),
        commandStates.map((x) => el("option", { value: x, selected: x === f.state }, x)))),
      el("label", {}, "Kind ", el("select", { id: "ops-kind", onchange: onFilter("kind") }, el("option", { value: "" }, "all"),
        commandKinds.map((x) => el("option", { value: x, selected: x === f.kind }, x))))),
    el("div", { id: "ops-commands" }, "loading…"),
    el("div", { id: "command-detail" }),
    el("div", { id: "ops-view" }, "loading…"),
  );
  await loadCommands();
  if (commandID) showCommand(commandID);
  await loadOperations();
}

async function loadCommands() {
  const f = state.opsFilter;
  const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v)).toString();
  let rows;
  try {
    rows = await api("commands" + (q ? "?" + q : ""));
  } catch (e) {
    notice(e.message, "error");
    return;
  }
  const box = document.getElementById("ops-commands");
  if (!box) return;
  const canWrite = state.session.canWrite;
  box.replaceChildren(rows.length ? el("table", { id: "op-commands" },
    el("thead", {}, el("tr", {}, ["Created", "Node", "Kind", "State", "Detail", "Reason", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((c) => el("tr", { "data-command": c.id, class: "clickable", onclick: () => (location.hash = "#/operations/" + encodeURIComponent(c.id)) },
      el("td", {}, when(c.created)), el("td", {}, c.node), el("td", {}, c.kind),
      el("td", {}, el("span", { class: "cmd " + c.state }, c.state)), el("td", { class: "wrap" }, c.detail), el("td", { class: "wrap" }, c.reason),
      el("td", {}, canWrite && (c.state === "pending" || c.state === "held") ? el("button", { class: "cancel", onclick: (ev) => { ev.stopPropagation(); cancelCommand(c.id); } }, "Cancel") : null))))) :
    el("p", { class: "hint", id: "op-commands" }, "No commands match."));
}

async function showCommand(id) {
  let c;
  try {
    c = await api("commands/" + encodeURIComponent(id));
  } catch (e) {
    notice(e.message, "error");
    return;
  }
  const box = document.getElementById("command-detail");
  if (!box) return;
  const cmd = c.command || {};
  const kv = (m) => Object.entries(m || {}).map(([k, v]) => el("span", { class: "label" }, k + "=" + v));
  box.replaceChildren(
    el("h2", {}, "Command " + id),
    el("dl", { class: "facts", id: "command-facts" },
      [["Node", c.nodeId], ["Kind", enumName(cmd.kind, "COMMAND_KIND_")], ["State", enumName(c.state, "COMMAND_STATE_")], ["Detail", c.detail || "–"],
        ["Requested by", cmd.requestedBy || "–"], ["Reason", cmd.reason || "–"], ["Deadline", when(cmd.deadline)],
        ["Parameters", kv(cmd.params)], ["Outcome", kv(c.fields)]].map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]).flat()),
    el("table", { id: "command-history" },
      el("thead", {}, el("tr", {}, ["Time", "State", "Detail"].map((h) => el("th", {}, h)))),
      el("tbody", {}, (c.history || []).map((h) => el("tr", {}, el("td", {}, when(h.time)), el("td", {}, enumName(h.state, "COMMAND_STATE_")), el("td", { class: "wrap" }, h.detail || ""))))));
}

async function cancelCommand(id) {
  try {
    await post("commands/" + encodeURIComponent(id) + "/cancel");
  } catch (e) {
    notice("cancel refused: " + e.message, "error");
    return;
  }
  notice(`command ${id} cancelled`, "ok");
  await loadCommands();
}

async function loadOperations() {
  let v;
  try {
    v = await api("operations");
  } catch (e) {
    notice(e.message, "error");
    return;
  }
  const view = document.getElementById("ops-view");
  if (!view) return;
  const deps = v.deployments.deployments || [];
  const wins = v.maintenance.windows || [];
  const backups = v.backups.backups || [];
  const agentBackups = v.backups.agentBackups || [];
  view.replaceChildren(
    el("h2", {}, `Deployments (${deps.length})`),
    deps.length ? el("div", { id: "deployments" }, deps.map(deploymentView)) : el("p", { class: "hint", id: "deployments" }, "No deployments: fleetctl deploy start."),
    el("h2", {}, `Maintenance windows (${wins.length})`),
    wins.length ? el("table", { id: "maintenance" },
      el("thead", {}, el("tr", {}, ["Window", "Pool", "State", "Phase", "Tasks", "Opens", "Closes", "Runs", "Nodes"].map((h) => el("th", {}, h)))),
      el("tbody", {}, wins.map((m) => el("tr", { "data-maintenance": m.id },
        el("td", {}, m.id), el("td", {}, m.spec.pool), el("td", {}, el("span", { class: "op " + enumName(m.state, "MAINTENANCE_STATE_") }, enumName(m.state, "MAINTENANCE_STATE_"))),
        el("td", { class: "wrap" }, m.phase || m.reason || ""), el("td", {}, (m.spec.tasks || []).map((x) => enumName(x.kind, "MAINTENANCE_TASK_KIND_")).join(", ")),
        el("td", {}, m.spec.cron ? `${when(m.opens)} (${m.spec.cron})` : when(m.opens)), el("td", {}, when(m.closes)), el("td", { class: "n" }, m.runs || 0),
        el("td", {}, progress(m.nodes))))) ) : el("p", { class: "hint", id: "maintenance" }, "No maintenance windows."),
    el("h2", {}, `Control-plane backups (${backups.length})`),
    backups.length ? el("table", { id: "backups" },
      el("thead", {}, el("tr", {}, ["Created", "Name", "Size", "Reason", "Nodes", "Commands", "sha256"].map((h) => el("th", {}, h)))),
      el("tbody", {}, backups.map((b) => el("tr", { "data-backup": b.name }, el("td", {}, when(b.created)), el("td", {}, b.name),
        el("td", { class: "n" }, num((b.sizeBytes || 0) / 1024, 0) + " KiB"), el("td", {}, b.reason), el("td", { class: "n" }, b.nodes || 0),
        el("td", { class: "n" }, b.commands || 0), el("td", { class: "mono" }, (b.sha256 || "").slice(0, 12)))))) :
      el("p", { class: "hint", id: "backups" }, "No backups yet: fleetctl backup create."),
    el("h2", {}, `Agent backups (${agentBackups.length})`),
    agentBackups.length ? el("table", { id: "agent-backups" },
      el("thead", {}, el("tr", {}, ["Finished", "Node", "Archive", "Command", "sha256"].map((h) => el("th", {}, h)))),
      el("tbody", {}, agentBackups.map((b) => el("tr", {}, el("td", {}, when(b.finished)), el("td", {}, b.nodeId), el("td", {}, b.archive),
        el("td", {}, b.commandId), el("td", { class: "mono" }, (b.sha256 || "").slice(0, 12)))))) :
      el("p", { class: "hint", id: "agent-backups" }, "No agent backups."),
  );
}

// progress summarizes per-node phases, e.g. "2 done · 1 draining of 3".
function progress(nodes) {
  nodes = nodes || [];
  if (!nodes.length) return "–";
  const by = {};
  for (const n of nodes) by[n.phase] = (by[n.phase] || 0) + 1;
  return Object.entries(by).map(([p, n]) => `${n} ${p}`).join(" · ") + ` of ${nodes.length}`;
}

function deploymentView(d) {
  const st = enumName(d.state, "DEPLOYMENT_STATE_");
  const live = st === "running" || st === "paused";
  const actions = state.session.canWrite && live ? el("span", { class: "actions" },
    st === "running" ? el("button", { class: "pause", onclick: () => deploymentAction(d.id, "pause") }, "Pause") :
      el("button", { class: "resume", onclick: () => deploymentAction(d.id, "resume") }, "Resume"),
    el("button", { class: "abort", onclick: () => deploymentAction(d.id, "abort") }, "Abort")) : null;
  return el("div", { class: "deployment", "data-deployment": d.id },
    el("h3", {}, `${d.id} · ${d.spec.pool} → ${d.spec.version} · ${enumName(d.spec.strategy, "DEPLOYMENT_STRATEGY_")} `,
      el("span", { class: "op " + st }, st), " ", actions),
    el("p", { class: "hint" }, [d.phase, d.reason, "by " + (d.requestedBy || "–"), "since " + when(d.created)].filter(Boolean).join(" · ")),
    el("table", {},
      el("thead", {}, el("tr", {}, ["Node", "Role", "Phase", "Detail", "Command", "Updated"].map((h) => el("th", {}, h)))),
      el("tbody", {}, (d.nodes || []).map((n) => el("tr", { "data-deploy-node": n.nodeId }, el("td", {}, n.nodeId), el("td", {}, n.role),
        el("td", {}, el("span", { class: "op " + n.phase }, n.phase)), el("td", { class: "wrap" }, n.detail || ""),
        el("td", {}, n.commandId ? el("a", { href: "#/operations/" + encodeURIComponent(n.commandId) }, n.commandId) : ""), el("td", {}, when(n.updated)))))));
}

async function deploymentAction(id, action) {
  try {
    await post("deployments/" + encodeURIComponent(id) + "/" + action);
  } catch (e) {
    notice(`${action} refused: ${e.message}`, "error");
    return;
  }
  notice(`deployment ${id}: ${action} done`, "ok");
  await loadOperations();
}

// ---- start ----

async function start() {
  try {
    state.session = await api("session");
  } catch (e) {
    notice(e.message, "error");
    return;
  }
  const role = document.getElementById("role");
  role.textContent = state.session.role + (state.session.canWrite ? "" : " (read-only)");
  if (!state.session.authenticates) document.getElementById("logout").hidden = true;
  try {
    for (const row of await api("nodes")) remember(row);
  } catch (e) {
    notice(e.message, "error");
  }
  connectEvents();
  window.addEventListener("hashchange", show);
  show();
}

document.addEventListener("DOMContentLoaded", start);
