/**
 * The observer's page: one HTML document with its style and script inline, served as-is (no build
 * step, no library). It reads `/api/events` (Server-Sent Events) and posts actions to `/api/...`.
 */
export const page = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>airssys-wasm observer</title>
<style>
:root {
  --bg: #0f1419; --panel: #161c24; --panel2: #1c2430; --line: #273142; --text: #d7dde6; --dim: #8a96a8;
  --green: #3fb950; --yellow: #d29922; --red: #f85149; --blue: #58a6ff; --purple: #bc8cff; --orange: #f0883e;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: center; gap: 16px; padding: 10px 18px; background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
header h1 { font-size: 15px; margin: 0; font-weight: 600; letter-spacing: .2px; }
header h1 span { color: var(--blue); }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11px; font-weight: 600; background: var(--panel2); color: var(--dim); border: 1px solid var(--line); white-space: nowrap; }
.pill.ok, .s-running, .s-Running, .s-Serving, .s-verified { color: var(--green); border-color: #2a5f35; background: #12261a; }
.pill.warn, .s-starting, .s-Starting, .s-restarting, .s-Standby, .s-Stopping, .s-stopping { color: var(--yellow); border-color: #5f4b1e; background: #261f0f; }
.pill.bad, .s-failed, .s-Crashed, .s-escalated, .s-broken { color: var(--red); border-color: #6e2a28; background: #2a1314; }
.s-stopped, .s-Stopped, .s-Retired, .s-Idle, .s-unavailable { color: var(--dim); }
.spacer { flex: 1; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--dim); display: inline-block; margin-right: 6px; }
.dot.live { background: var(--green); box-shadow: 0 0 6px var(--green); }
.dot.down { background: var(--red); }
main { display: grid; grid-template-columns: 320px 1fr 400px; gap: 14px; padding: 14px 18px; align-items: start; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; margin-bottom: 14px; }
section > h2 { margin: 0; padding: 8px 12px; font-size: 12px; text-transform: uppercase; letter-spacing: .8px; color: var(--dim); border-bottom: 1px solid var(--line); display: flex; gap: 8px; align-items: center; }
section > h2 .count { margin-left: auto; }
.body { padding: 10px 12px; }
.tiles { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; grid-column: 1 / -1; }
.tile { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.tile b { display: block; font-size: 22px; font-weight: 600; }
.tile small { color: var(--dim); text-transform: uppercase; font-size: 10px; letter-spacing: .8px; }
.tree ul { list-style: none; margin: 0; padding-left: 16px; border-left: 1px dashed var(--line); }
.tree > ul { padding-left: 0; border-left: none; }
.tree li { margin: 4px 0; }
.node { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; padding: 3px 6px; border-radius: 5px; }
.node:hover { background: var(--panel2); }
.node .id { font-weight: 600; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.node .meta { color: var(--dim); font-size: 11px; }
.sup > .node .id { color: var(--purple); }
.actors { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 12px; padding: 12px; }
.actor { background: var(--panel2); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.actor.crashed { border-color: #6e2a28; }
.actor .top { display: flex; align-items: center; gap: 8px; }
.actor .top .id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-weight: 600; }
.actor .top .btns { margin-left: auto; display: flex; gap: 4px; }
.kv { display: grid; grid-template-columns: repeat(4, 1fr); gap: 6px; margin: 8px 0; }
.kv div { background: var(--panel); border-radius: 5px; padding: 4px 6px; }
.kv small { display: block; color: var(--dim); font-size: 10px; text-transform: uppercase; letter-spacing: .5px; }
.kv span { font-weight: 600; font-variant-numeric: tabular-nums; }
.bar { height: 6px; background: var(--panel); border-radius: 3px; overflow: hidden; margin-top: 3px; }
.bar i { display: block; height: 100%; background: var(--blue); }
.gauges { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; font-size: 11px; color: var(--dim); }
.err { color: var(--red); font-family: ui-monospace, monospace; font-size: 11px; margin-top: 6px; word-break: break-word; }
canvas { width: 100%; height: 56px; display: block; margin-top: 8px; background: var(--panel); border-radius: 5px; }
.legend { font-size: 10px; color: var(--dim); display: flex; gap: 10px; margin-top: 3px; }
.legend i { display: inline-block; width: 10px; height: 3px; vertical-align: middle; margin-right: 4px; }
button { background: var(--panel); color: var(--text); border: 1px solid var(--line); border-radius: 5px; padding: 2px 8px; font-size: 11px; cursor: pointer; }
button:hover { border-color: var(--blue); color: var(--blue); }
button.danger:hover { border-color: var(--red); color: var(--red); }
.feed { list-style: none; margin: 0; padding: 0; max-height: 420px; overflow: auto; font-size: 12px; }
.feed li { padding: 6px 12px; border-bottom: 1px solid var(--line); }
.feed li.new { animation: flash 1.5s ease-out; }
@keyframes flash { from { background: #2d3a4f; } to { background: transparent; } }
.feed .when { color: var(--dim); font-variant-numeric: tabular-nums; margin-right: 6px; }
.feed code { font-family: ui-monospace, monospace; font-size: 11px; color: var(--dim); }
.feed li.denied { background: #2a1314; border-left: 3px solid var(--red); }
.feed li.denied .decision { color: var(--red); font-weight: 700; }
.feed .granted { color: var(--green); }
.feed .target { font-family: ui-monospace, monospace; font-weight: 600; }
.empty { color: var(--dim); padding: 10px 12px; font-style: italic; }
table { width: 100%; border-collapse: collapse; font-size: 12px; }
td, th { padding: 5px 12px; white-space: nowrap; border-bottom: 1px solid var(--line); text-align: left; }
th { color: var(--dim); font-weight: 500; font-size: 11px; }
.chain { display: flex; gap: 8px; align-items: center; padding: 8px 12px; border-bottom: 1px solid var(--line); font-size: 12px; }
.chain code { color: var(--dim); }
@media (max-width: 1200px) { main { grid-template-columns: 1fr; } .tiles { grid-template-columns: repeat(2, 1fr); } }
</style>
</head>
<body>
<header>
  <h1><span>airssys-wasm</span> observer</h1>
  <span id="conn"><span class="dot"></span>connecting…</span>
  <span class="spacer"></span>
  <span id="mode" class="pill">read-only</span>
  <span id="clock" class="pill"></span>
</header>
<main>
  <div class="tiles" data-testid="tiles">
    <div class="tile"><small>Actors</small><b id="t-actors">–</b></div>
    <div class="tile"><small>Messages / s</small><b id="t-rate">–</b></div>
    <div class="tile"><small>Restarts</small><b id="t-restarts">–</b></div>
    <div class="tile"><small>Dead letters</small><b id="t-letters">–</b></div>
    <div class="tile"><small>Audit chain</small><b id="t-chain">–</b></div>
  </div>
  <div>
    <section><h2>Supervision tree</h2><div class="body tree" id="tree" data-testid="tree"><div class="empty">no supervisors</div></div></section>
    <section><h2>Deployments</h2><div id="deployments" data-testid="deployments"><div class="empty">none</div></div></section>
  </div>
  <div>
    <section><h2>Actors <span class="count pill" id="actor-count">0</span></h2><div class="actors" id="actors" data-testid="actors"></div></section>
  </div>
  <div>
    <section><h2>Dead letters <span class="count pill" id="letter-count">0</span></h2><ul class="feed" id="letters" data-testid="dead-letters"></ul></section>
    <section><h2>Audit <span class="count pill" id="audit-count">0</span></h2><div class="chain" id="chain" data-testid="chain"></div><ul class="feed" id="audit" data-testid="audit"></ul></section>
  </div>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const query = token ? "?token=" + encodeURIComponent(token) : "";
const authHeaders = token ? { authorization: "Bearer " + token } : {};
const maxFeed = 200, maxHistory = 120;
let state = null, history = {}, letters = [], audit = [];
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]);
const time = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
const bytes = (n) => n >= 1048576 ? (n / 1048576).toFixed(1) + " MiB" : n >= 1024 ? (n / 1024).toFixed(0) + " KiB" : n + " B";
const num = (n) => n >= 1e9 ? (n / 1e9).toFixed(2) + "G" : n >= 1e6 ? (n / 1e6).toFixed(2) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k" : String(Math.round(n * 10) / 10);
const pill = (text) => '<span class="pill s-' + esc(text) + '">' + esc(text) + "</span>";

function renderTree() {
  const sups = state.supervisors;
  if (sups.length === 0) { $("tree").innerHTML = '<div class="empty">no supervisors</div>'; return; }
  const child = (c) => {
    const d = c.details || {};
    const restarts = c.ownRestarts + c.groupRestarts;
    const meta = [c.restartType, "restarts " + c.ownRestarts + (c.groupRestarts ? " (+" + c.groupRestarts + " with its group)" : "")];
    if (d.incarnations !== undefined) meta.push("incarnation " + d.incarnations);
    if (d.mailboxDepth !== undefined) meta.push("mailbox " + d.mailboxDepth);
    const exit = c.lastExit ? ' <span class="meta" title="' + esc(c.lastExit.message || "") + '">last exit ' + esc(c.lastExit.reason) + "</span>" : "";
    const nested = c.supervisor ? "<ul>" + supervisor(c.supervisor) + "</ul>" : "";
    return '<li data-child="' + esc(c.id) + '" data-state="' + esc(c.state) + '" data-restarts="' + restarts + '"><div class="node">' +
      pill(c.state) + ' <span class="id">' + esc(c.id) + '</span> <span class="meta">' + esc(meta.join(" · ")) + "</span>" + exit + "</div>" + nested + "</li>";
  };
  const supervisor = (s) => '<li class="sup" data-supervisor="' + esc(s.id) + '"><div class="node">' + pill(s.status) +
    ' <span class="id">' + esc(s.id) + '</span> <span class="meta">' + (s.node ? "on " + esc(s.node) + " · " : "") + esc(s.strategy) + " · " + s.intensity.maxRestarts + " in " +
    (s.intensity.periodMillis / 1000) + " s</span></div><ul>" + s.children.map(child).join("") + "</ul></li>";
  $("tree").innerHTML = "<ul>" + sups.map(supervisor).join("") + "</ul>";
}

function renderDeployments() {
  const ds = state.deployments;
  if (ds.length === 0) { $("deployments").innerHTML = '<div class="empty">none</div>'; return; }
  let html = "<table><tr><th>name</th><th>version</th><th>status</th><th>handled</th><th></th></tr>";
  for (const d of ds) for (const v of d.versions) {
    const btn = state.actionsEnabled && v.status !== "Retired"
      ? '<button class="danger" data-act="/api/deployments/' + encodeURIComponent(d.name) + "/" + encodeURIComponent(v.version) + '/drain">drain</button>' : "";
    html += '<tr data-version="' + esc(v.id) + '"><td class="target">' + esc(d.name) + "</td><td>" + esc(v.version) + "</td><td>" + pill(v.status) +
      (v.status === "Serving" ? ' <span class="meta">◀ traffic</span>' : "") + "</td><td>" + v.handled + "</td><td>" + btn + "</td></tr>";
  }
  $("deployments").innerHTML = html + "</table>";
}

function gauge(label, used, cap, unit) {
  if (used === undefined) return "<div>" + label + ": –</div>";
  const pct = cap ? Math.min(100, (used / cap) * 100) : 0;
  const text = unit === "bytes" ? bytes(used) + (cap ? " / " + bytes(cap) : "") : num(used) + (cap ? " / " + num(cap) : "");
  return "<div>" + label + ": " + text + '<div class="bar"><i style="width:' + pct.toFixed(1) + '%"></i></div></div>';
}

function renderActors() {
  const actors = state.actors;
  $("actor-count").textContent = actors.length;
  const html = actors.map((a) => {
    const btns = state.actionsEnabled
      ? '<span class="btns"><button data-act="/api/actors/' + encodeURIComponent(a.id) + '/restart">restart</button><button class="danger" data-act="/api/actors/' +
        encodeURIComponent(a.id) + '/stop">stop</button></span>' : "";
    return '<div class="actor' + (a.status === "Crashed" ? " crashed" : "") + '" data-actor="' + esc(a.id) + '" data-restarts="' + a.restarts + '">' +
      '<div class="top">' + pill(a.status) + '<span class="id">' + esc(a.id) + "</span>" + btns + "</div>" +
      '<div class="kv"><div><small>mailbox</small><span>' + a.mailboxDepth + "</span></div><div><small>handled/s</small><span>" + num(a.handledPerSecond) +
      "</span></div><div><small>latency</small><span>" + (a.latencyMicros === undefined ? "–" : num(a.latencyMicros) + " µs") +
      "</span></div><div><small>restarts</small><span>" + a.restarts + "</span></div></div>" +
      '<div class="gauges">' + gauge("memory", a.memoryBytes, a.memoryCapBytes, "bytes") + gauge("fuel (last call)", a.fuelUsed, a.fuelPerCall, "units") + "</div>" +
      (a.lastError ? '<div class="err">last error: ' + esc(a.lastError) + "</div>" : "") +
      '<canvas data-chart="' + esc(a.id) + '"></canvas><div class="legend"><span><i style="background:var(--blue)"></i>handled/s</span><span><i style="background:var(--red)"></i>restart</span><span><i style="background:var(--yellow)"></i>mailbox</span><span style="margin-left:auto">' +
      a.handled + " handled · " + a.traps + " traps</span></div></div>";
  }).join("");
  $("actors").innerHTML = html || '<div class="empty">no actors</div>';
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) chart(canvas, history[canvas.dataset.chart] || []);
}

function chart(canvas, points) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * ratio; canvas.height = h * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.strokeStyle = "#273142"; g.lineWidth = 1;
  for (let i = 1; i < 4; i++) { g.beginPath(); g.moveTo(0, (h * i) / 4); g.lineTo(w, (h * i) / 4); g.stroke(); }
  if (points.length < 2) { g.fillStyle = "#8a96a8"; g.font = "11px system-ui"; g.fillText("collecting…", 8, h / 2 + 4); return; }
  const n = maxHistory, step = w / (n - 1), x0 = w - (points.length - 1) * step;
  const line = (values, color, fill) => {
    const max = Math.max(1, ...values);
    g.beginPath();
    values.forEach((v, i) => { const x = x0 + i * step, y = h - 4 - (v / max) * (h - 10); i === 0 ? g.moveTo(x, y) : g.lineTo(x, y); });
    g.strokeStyle = color; g.lineWidth = 1.5; g.stroke();
    if (fill) { g.lineTo(x0 + (values.length - 1) * step, h); g.lineTo(x0, h); g.closePath(); g.fillStyle = fill; g.fill(); }
  };
  line(points.map((p) => p.depth), "#d29922");
  line(points.map((p) => p.rate), "#58a6ff", "rgba(88,166,255,0.15)");
  g.fillStyle = "#f85149";
  for (let i = 1; i < points.length; i++) if (points[i].restarts > points[i - 1].restarts) g.fillRect(x0 + i * step - 1.5, 0, 3, h);
}

function renderLetters(fresh) {
  $("letter-count").textContent = state ? state.deadLetters.total : letters.length;
  const html = letters.slice().reverse().map((l, i) =>
    '<li class="' + (i < fresh ? "new" : "") + '" data-reason="' + esc(l.reason) + '"><span class="when">' + time(l.at) + '</span><span class="target">' + esc(l.target) +
    "</span> " + pill(l.reason) + '<div><code>' + esc(l.preview) + "</code></div><div class=\"meta\">" + esc(l.error) + "</div></li>").join("");
  $("letters").innerHTML = html || '<div class="empty">none yet</div>';
}

function renderAudit(fresh) {
  $("audit-count").textContent = audit.length ? "#" + audit[audit.length - 1].sequence : "0";
  const html = audit.slice().reverse().map((e, i) => {
    const what = e.kind === "capability"
      ? esc(e.capability) + " <code>" + esc(e.resource) + '</code> <span class="decision ' + esc(e.decision) + '">' + esc(e.decision) + "</span>"
      : '<span class="decision">' + esc(e.action) + "</span>";
    return '<li class="' + (e.decision === "denied" ? "denied " : "") + (i < fresh ? "new" : "") + '" data-sequence="' + e.sequence + '"><span class="when">#' + e.sequence + " " + time(e.time) +
      '</span><span class="target">' + esc(e.component) + "</span> " + what + (e.detail ? '<div class="meta">' + esc(e.detail) + "</div>" : "") + "</li>";
  }).join("");
  $("audit").innerHTML = html || '<div class="empty">no events</div>';
}

function renderChain() {
  const v = state.audit;
  const head = v.head ? " head #" + v.head.sequence + " <code>" + esc(v.head.hash.slice(0, 16)) + "…</code>" : "";
  $("chain").innerHTML = pill(v.state) + " <span>" + v.events + " events" + (v.source ? " (" + esc(v.source) + ")" : "") + head + "</span>" + (v.message ? ' <span class="meta">' + esc(v.message) + "</span>" : "");
  $("chain").dataset.state = v.state;
  $("t-chain").innerHTML = v.state === "verified" ? '<span style="color:var(--green)">✓ verified</span>' : v.state === "broken" ? '<span style="color:var(--red)">✗ broken</span>' : '<span style="color:var(--dim)">n/a</span>';
}

function render() {
  if (!state) return;
  $("mode").textContent = state.actionsEnabled ? "actions enabled" : "read-only";
  $("mode").className = "pill " + (state.actionsEnabled ? "warn" : "");
  $("clock").textContent = time(state.at);
  $("t-actors").textContent = state.actors.length;
  $("t-rate").textContent = num(state.actors.reduce((s, a) => s + a.handledPerSecond, 0));
  $("t-restarts").textContent = state.actors.reduce((s, a) => s + a.restarts, 0);
  $("t-letters").textContent = state.deadLetters.total;
  renderTree(); renderDeployments(); renderActors(); renderChain();
  $("letter-count").textContent = state.deadLetters.total;
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("button[data-act]");
  if (!target) return;
  target.disabled = true;
  fetch(target.dataset.act, { method: "POST", headers: authHeaders }).then((r) => r.json()).then((body) => {
    if (body.error) alert(body.error);
  }).finally(() => { target.disabled = false; });
});

function connect() {
  const source = new EventSource("/api/events" + query);
  source.onopen = () => { $("conn").innerHTML = '<span class="dot live"></span>live'; };
  source.onerror = () => { $("conn").innerHTML = '<span class="dot down"></span>reconnecting…'; };
  source.addEventListener("snapshot", (e) => { state = JSON.parse(e.data); render(); });
  source.addEventListener("history", (e) => {
    const update = JSON.parse(e.data);
    for (const id in update) {
      const series = (history[id] = update[id].length > 1 ? update[id] : (history[id] || []).concat(update[id]));
      if (series.length > maxHistory) series.splice(0, series.length - maxHistory);
    }
    for (const canvas of document.querySelectorAll("canvas[data-chart]")) chart(canvas, history[canvas.dataset.chart] || []);
  });
  source.addEventListener("dead-letters", (e) => { letters = JSON.parse(e.data); renderLetters(0); });
  source.addEventListener("dead-letter", (e) => { letters.push(JSON.parse(e.data)); if (letters.length > maxFeed) letters.shift(); renderLetters(1); });
  source.addEventListener("audit-events", (e) => { audit = JSON.parse(e.data); renderAudit(0); });
  source.addEventListener("audit", (e) => { audit.push(JSON.parse(e.data)); if (audit.length > maxFeed) audit.shift(); renderAudit(1); });
}
connect();
</script>
</body>
</html>
`
