// DAISEE dashboard: public aggregates for everyone; after a wallet sign-in, the member's own
// detail (or every member's, for an operator). Plain JS, no build step; Chart.js is vendored.
"use strict";

const state = { token: sessionStorage.getItem("daisee.token"), me: null, meterId: null, charts: {} };
const BUCKET = 300;

// ---------------------------------------------------------------- helpers

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const reply = await fetch(path, { ...options, headers });
  if (reply.status === 401 && state.token) signOut();
  if (!reply.ok) throw new Error(`${path}: ${reply.status}`);
  return reply.json();
}

const kwh = (wh) => (Number(wh) / 1000).toLocaleString(undefined, { maximumFractionDigits: 2 });
const tokens = (base) => (Number(BigInt(base || "0") / 10n ** 12n) / 1e6).toLocaleString(undefined, { maximumFractionDigits: 4 });
const short = (address) => `${address.slice(0, 6)}…${address.slice(-4)}`;
const time = (seconds) => seconds ? new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// ---------------------------------------------------------------- totals

async function loadTotals() {
  const totals = await api("/api/totals");
  for (const node of document.querySelectorAll("[data-total]")) {
    const value = totals[node.dataset.total];
    const unit = node.dataset.unit;
    node.textContent = value == null ? "–" : unit === "kWh" ? kwh(value) : unit === "token" ? tokens(value) : Number(value).toLocaleString();
    if (unit && node.classList.contains("value")) node.append(el("small", {}, unit === "kWh" ? " kWh" : " tokens"));
  }
  return totals;
}

// ---------------------------------------------------------------- charts

function makeCharts() {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#66756d";
  const common = {
    responsive: true, maintainAspectRatio: false, animation: { duration: 300 },
    interaction: { mode: "index", intersect: false },
    scales: { x: { grid: { display: false }, ticks: { maxTicksLimit: 8 } }, y: { beginAtZero: true, grid: { color: "#eef1ee" } } },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
  };
  state.charts.energy = new Chart(document.getElementById("energyChart"), {
    type: "bar",
    data: { labels: [], datasets: [
      { label: "Produced (Wh)", data: [], backgroundColor: "#f2a900", borderRadius: 4 },
      { label: "Consumed (Wh)", data: [], backgroundColor: "#2f6fdf", borderRadius: 4 },
    ] },
    options: common,
  });
  state.charts.soc = new Chart(document.getElementById("socChart"), {
    type: "line",
    data: { labels: [], datasets: [
      { label: "State of charge (%)", data: [], borderColor: "#1f9d63", backgroundColor: "rgba(31,157,99,.12)", fill: true, tension: .3, pointRadius: 2 },
    ] },
    options: { ...common, scales: { ...common.scales, y: { min: 0, max: 100, grid: { color: "#eef1ee" } } } },
  });
}

async function loadSeries() {
  const path = state.meterId ? `/api/meters/${state.meterId}/series` : "/api/series";
  const points = await api(`${path}?bucket=${BUCKET}`);
  const labels = points.map((p) => time(p.t));
  const { energy, soc } = state.charts;
  energy.data.labels = labels;
  energy.data.datasets[0].data = points.map((p) => p.produced_wh);
  energy.data.datasets[1].data = points.map((p) => p.consumed_wh);
  soc.data.labels = labels;
  soc.data.datasets[0].data = points.map((p) => p.soc_permille / 10);
  energy.update();
  soc.update();
  for (const canvas of document.querySelectorAll("canvas")) canvas.dataset.points = String(points.length);
  document.getElementById("scope").textContent = `${state.meterId ? `meter #${state.meterId}` : "community"}, Wh per 5 min`;
}

// ---------------------------------------------------------------- live feed

function feedItem(item, fresh) {
  const settled = item.kind === "PurchaseSettled";
  const text = settled ? `Purchase #${item.purchase_id} settled: ${item.delivered_wh} of ${item.wh} Wh delivered`
                       : `Purchase #${item.purchase_id}: ${item.wh} Wh on channel ${item.channel}`;
  return el("li", { class: fresh ? "fresh" : "", "data-purchase-id": item.purchase_id, "data-kind": item.kind },
    el("span", { class: `badge ${settled ? "settled" : "buy"}` }, settled ? "settled" : "bought"),
    el("span", {}, text),
    el("span", { class: "when" }, item.at ? time(item.at) : `block ${item.block}`));
}

function showFeed(items, fresh = false) {
  const list = document.getElementById("feed");
  for (const item of items) list.prepend(feedItem(item, fresh));
  while (list.children.length > 50) list.lastElementChild.remove();
  document.getElementById("feedEmpty").hidden = list.children.length > 0;
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { loadTotals(); loadTables(); loadSeries(); }, 400);
}

function connectLive() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/stream");
  source.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  source.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  source.addEventListener("purchase", (event) => { showFeed([JSON.parse(event.data)], true); refreshSoon(); });
}

// ---------------------------------------------------------------- tables

function fillTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows);
}

async function loadTables() {
  if (!state.me) {
    const [feed, totals] = [await api("/api/feed?limit=20"), await api("/api/totals")];
    fillTable("transactions", feed.filter((i) => i.kind === "BuyEnergy").reverse().map((p) => el("tr", {},
      el("td", {}, p.purchase_id), el("td", {}, el("span", { class: `badge ${p.status}` }, p.status)),
      el("td", { class: "addr" }, "member"), el("td", { class: "addr" }, "member"),
      el("td", { class: "num" }, p.wh), el("td", { class: "num" }, p.delivered_wh ?? "–"), el("td", { class: "num" }, "–"),
      el("td", {}, p.block))));
    fillTable("usage", [usageRow("Community", totals.consumed_wh, totals.delivered_wh, totals.local_wh, totals.complement_wh)]);
    return;
  }
  const page = await api("/api/purchases?limit=25");
  fillTable("transactions", page.items.map((p) => el("tr", {},
    el("td", {}, p.purchase_id), el("td", {}, el("span", { class: `badge ${p.status}` }, p.status)),
    el("td", { class: "addr", title: p.buyer }, short(p.buyer)), el("td", { class: "addr", title: p.seller }, short(p.seller)),
    el("td", { class: "num" }, p.wh), el("td", { class: "num" }, p.delivered_wh ?? "–"),
    el("td", { class: "num" }, tokens(p.amount)), el("td", {}, p.block_number))));
  const usage = await api("/api/usage");
  fillTable("usage", usage.map((u) => usageRow(`#${u.meter_id} ${short(u.owner)}`, u.consumed_wh, u.delivered_wh,
    u.local_wh, u.complement_wh)));
}

// local / complement: the collective allocation of the period, when the PMO has run it (else "–")
function usageRow(label, consumed, purchased, local, complement) {
  const share = consumed ? Math.min(100, (100 * purchased) / consumed) : 0;
  const allocated = (wh) => el("td", { class: "num" }, wh === null || wh === undefined ? "–" : kwh(wh));
  return el("tr", {}, el("td", { class: "addr" }, label), el("td", { class: "num" }, kwh(consumed)),
    el("td", { class: "num" }, kwh(purchased)), allocated(local), allocated(complement),
    el("td", {}, el("div", { class: "bar", title: `${share.toFixed(0)} %` }, Object.assign(el("span"), { style: `width:${share}%` }))));
}

// ---------------------------------------------------------------- sign-in (EIP-191 challenge)

async function signIn() {
  const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
  const challenge = await api(`/api/auth/challenge?address=${address}`);
  const signature = await window.ethereum.request({ method: "personal_sign", params: [challenge.message, address] });
  const session = await api("/api/auth/verify", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ address, signature }),
  });
  state.token = session.token;
  sessionStorage.setItem("daisee.token", session.token);
  await restoreSession();
}

function signOut() {
  state.token = null; state.me = null; state.meterId = null;
  sessionStorage.removeItem("daisee.token");
  showSession();
  refreshSoon();
}

async function restoreSession() {
  if (state.token) {
    try {
      state.me = await api("/api/auth/me");
      const meters = await api("/api/meters");
      const own = meters.find((m) => m.owner === state.me.address);
      state.meterId = own ? own.meter_id : null;
    } catch { signOut(); }
  }
  showSession();
  refreshSoon();
}

function showSession() {
  const who = document.getElementById("who");
  who.hidden = !state.me;
  if (state.me) who.replaceChildren(short(state.me.address), ...(state.me.operator ? [el("span", { class: "role" }, "operator")] : []));
  document.getElementById("signin").hidden = Boolean(state.me) || !window.ethereum;
  document.getElementById("signout").hidden = !state.me;
  document.getElementById("txHint").textContent = state.me ? (state.me.operator ? "all members" : "yours") : "sign in to see who and how much";
  document.getElementById("usageHint").textContent = state.me ? (state.me.operator ? "per member" : "yours") : "community";
}

// ---------------------------------------------------------------- start

async function start() {
  makeCharts();
  document.getElementById("signin").addEventListener("click", () => signIn().catch((e) => alert(`Sign-in failed: ${e.message}`)));
  document.getElementById("signout").addEventListener("click", signOut);
  showFeed(await api("/api/feed?limit=30"));
  await Promise.all([loadTotals(), loadSeries(), restoreSession()]);
  connectLive();
  setInterval(() => { loadTotals(); loadSeries(); }, 15000);
}

start();
