// qemu_net dashboard: polls /api/state, draws the network as inline SVG, starts runs with POST /api/run.
// Plain JavaScript, no dependencies, nothing loaded from the internet.
"use strict";

const POLL_MS = 1000;
const SVG_NS = "http://www.w3.org/2000/svg";
const W = 1000, H = 520;
let built = "";  // the topology the SVG was drawn for

function el(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtNs(ns) {
  if (ns === undefined || ns === null) return "–";
  if (ns < 1e3) return ns + " ns";
  if (ns < 1e6) return (ns / 1e3).toFixed(1) + " µs";
  if (ns < 1e9) return (ns / 1e6).toFixed(3) + " ms";
  return (ns / 1e9).toFixed(3) + " s";
}

function fmt(x, digits) {
  if (x === undefined || x === null) return "–";
  if (typeof x === "number") return digits === undefined ? String(x) : x.toFixed(digits);
  return String(x);
}

function pos(layout, name) {
  const p = layout[name] || [0.5, 0.5];
  return [p[0] * W, p[1] * H];
}

function buildGraph(state) {
  const svg = document.getElementById("graph");
  svg.replaceChildren();
  const links = el("g", {id: "graph-links"});
  const nodes = el("g", {id: "graph-nodes"});
  const lay = state.layout;
  for (const c of state.classical_links) {
    const [a, b] = c.nodes.map(n => pos(lay, n));
    links.append(el("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1], class: "link link-classical",
      id: "link-" + c.id, "data-link": c.id, "data-kind": "classical"}));
  }
  for (const l of state.links) {
    const [a, b] = l.nodes.map(n => pos(lay, n));
    const g = el("g", {class: "link", id: "link-" + l.id, "data-link": l.id, "data-kind": "quantum"});
    g.append(el("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1], class: "link-quantum"}));
    g.append(el("text", {x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 - 10, class: "link-label"}, ""));
    g.append(el("title", {}, l.id + ": " + l.model.length_km + " km"));
    links.append(g);
  }
  const r = Math.max(16, Math.min(34, 260 / Math.sqrt(state.nodes.length + 1)));
  for (const n of state.nodes) {
    const [x, y] = pos(lay, n.name);
    const g = el("g", {class: "node", id: "node-" + n.name, "data-node": n.name});
    g.append(el("circle", {cx: x, cy: y, r: r}));
    g.append(el("text", {x: x, y: y + 5}, n.name));
    g.append(el("text", {x: x, y: y + r + 16, class: "sub"}, ""));
    g.append(el("title", {}, n.name + " at " + n.address));
    nodes.append(g);
  }
  svg.append(links, nodes);
  for (const id of ["run-src", "run-dst"]) {
    const sel = document.getElementById(id);
    sel.replaceChildren(...state.nodes.map(n => new Option(n.name, n.name)));
  }
  const names = state.nodes.map(n => n.name);
  document.getElementById("run-dst").value = names[names.length - 1];
  built = JSON.stringify(names) + JSON.stringify(state.links.map(l => l.id));
}

function updateGraph(state) {
  for (const n of state.nodes) {
    const g = document.getElementById("node-" + n.name);
    if (!g) continue;
    g.classList.toggle("down", n.status !== "up");
    g.classList.toggle("busy", (n.qubits_in_use || 0) > 0);
    g.querySelector("text.sub").textContent =
      n.status === "up" ? `${n.qubits_in_use}/${n.memory_qubits} · ${fmtNs(n.virtual_time_ns)}` : "down";
  }
  for (const l of state.links) {
    const g = document.getElementById("link-" + l.id);
    if (!g) continue;
    const epr = l.epr_pairs === null ? "–" : l.epr_pairs;
    const bits = l.keys && l.keys.stored_bits !== undefined ? l.keys.stored_bits : "–";
    g.querySelector("text").textContent = `EPR ${epr} · key ${bits}`;
  }
}

function row(cells, attrs) {
  const tr = document.createElement("tr");
  for (const [k, v] of Object.entries(attrs || {})) tr.setAttribute(k, v);
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.append(c); else td.textContent = c;
    tr.append(td);
  }
  return tr;
}

function updateTables(state) {
  document.querySelector("#nodes tbody").replaceChildren(...state.nodes.map(n => {
    const m = n.metrics;
    return row([n.name, n.address, n.status === "up" ? "up" : "down: " + (n.error || ""),
      fmt(n.qubits_in_use), fmt(n.memory_qubits), fmt(n.groups_held), fmtNs(n.virtual_time_ns),
      m ? `${m.rpcs_total} (${m.rpc_errors})` : "no metrics"], {"data-node-row": n.name});
  }));
  document.querySelector("#links tbody").replaceChildren(...state.links.map(l => {
    const last = l.keys && l.keys.last_session;
    const rate = l.keys && l.keys.pool_rate_bits_per_s;
    return row([l.id, l.model.length_km + " km", l.epr_pairs === null ? "no metrics" : l.epr_pairs,
      l.epr_attempts === null || l.epr_attempts === undefined ? "–" : l.epr_attempts,
      l.delivered_fidelity === null || l.delivered_fidelity === undefined ? "–" : fmt(l.delivered_fidelity, 4),
      fmt(l.model.expected_fidelity, 4), fmt(l.model.herald_probability, 4),
      l.keys.error ? "error" : fmt(l.keys.stored_bits),
      rate === null || rate === undefined ? "–" : fmt(rate, 0) + " bits/s",
      last ? fmt(last.key_rate_per_virtual_s, 0) + " bits/virtual s" : "–"], {"data-link-row": l.id});
  }));
  updateRuns(state.runs);
}

function summary(run) {
  if (run.state === "running") return "…";
  if (run.state === "failed") return run.error || "failed";
  const r = run.result || {};
  if (run.kind === "qkd") return `final ${r.final_bits} bits, QBER ${fmt(r.qber, 4)}`;
  const fig = r.figure || "value";
  return `${fig} ${fmt(r.value, 4)} ± ${fmt(r.stderr, 4)} (${r.shots} shots)`;
}

function updateRuns(runs) {
  document.querySelector("#runs tbody").replaceChildren(...runs.map(run => {
    const state = document.createElement("span");
    state.className = "state-" + run.state;
    state.textContent = run.state;
    const res = document.createElement("span");
    res.className = "run-result";
    res.textContent = summary(run);
    return row([run.id, run.kind.replace("_", " "), `${run.params.src} → ${run.params.dst}`, state, res,
      fmt(run.wall_time_s)], {"data-run-id": run.id, "data-run-state": run.state, "data-run-kind": run.kind});
  }));
}

async function poll() {
  const ctl = new AbortController();
  // The server bounds each snapshot by its probes' deadlines (two reads per node, `--probe-timeout-s`
  // each); the page waits longer than that so a slow but live network is still shown.
  const timer = setTimeout(() => ctl.abort(), 65000);
  try {
    const resp = await fetch("/api/state", {signal: ctl.signal, cache: "no-store"});
    const state = await resp.json();
    document.getElementById("network-name").textContent = state.network;
    const key = JSON.stringify(state.nodes.map(n => n.name)) + JSON.stringify(state.links.map(l => l.id));
    if (key !== built) buildGraph(state);
    updateGraph(state);
    updateTables(state);
    const up = state.nodes.filter(n => n.status === "up").length;
    document.getElementById("updated").textContent =
      `${up}/${state.nodes.length} nodes up · updated ${new Date(state.time * 1000).toLocaleTimeString()}`;
    document.body.dataset.ready = "1";
  } catch (err) {
    document.getElementById("updated").textContent = "dashboard server unreachable: " + err;
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_MS);
  }
}

function onKind() {
  const qkd = document.getElementById("run-kind").value === "qkd";
  document.getElementById("shots-label").hidden = qkd;
  document.getElementById("pulses-label").hidden = !qkd;
}

async function startRun(ev) {
  ev.preventDefault();
  const kind = document.getElementById("run-kind").value;
  const params = {src: document.getElementById("run-src").value, dst: document.getElementById("run-dst").value};
  if (kind === "qkd") params.pulses = Number(document.getElementById("run-pulses").value);
  else params.shots = Number(document.getElementById("run-shots").value);
  const msg = document.getElementById("run-message");
  msg.textContent = "starting…";
  try {
    const resp = await fetch("/api/run", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({kind, params})});
    const body = await resp.json();
    msg.textContent = resp.ok ? `started ${body.id}` : `refused: ${body.error}`;
    msg.dataset.lastRun = resp.ok ? body.id : "";
  } catch (err) {
    msg.textContent = "could not start: " + err;
  }
}

document.getElementById("run-kind").addEventListener("change", onKind);
document.getElementById("run-form").addEventListener("submit", startRun);
poll();
