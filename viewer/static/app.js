// DAISEE dashboard: public aggregates and forecast for everyone; after a Sign-In with Ethereum, the
// caller's layer: a member's own money and purchases, the PMO's members and purchases, the grid
// operator's meters. Plain JS, no build step; Chart.js is vendored.
"use strict";

const state = { token: sessionStorage.getItem("daisee.token"), me: null, meterId: null, charts: {}, txOffset: 0 };
const BUCKET = 900;
const PAGE = 20;
const STALE_S = 60; // the node has not answered the indexer for this long: the badge says so

// ---------------------------------------------------------------- helpers

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const reply = await fetch(path, { ...options, headers });
  if (reply.status === 401 && state.token && !path.startsWith("/api/auth/verify")) forget();
  if (!reply.ok) {
    let detail = `${reply.status}`;
    try { const body = await reply.json(); detail = typeof body.detail === "string" ? body.detail : body.detail.map((d) => d.msg).join("; "); } catch { /* not JSON */ }
    const error = new Error(detail);
    error.status = reply.status;
    throw error;
  }
  return reply.status === 204 ? null : reply.json();
}

const kwh = (wh) => wh == null ? "–" : (Number(wh) / 1000).toLocaleString(undefined, { maximumFractionDigits: 2 });
const tokens = (base) => (Number(BigInt(base || "0") / 10n ** 12n) / 1e6).toLocaleString(undefined, { maximumFractionDigits: 4 });
const short = (address) => `${address.slice(0, 6)}…${address.slice(-4)}`;
const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
const stamp = (seconds) => seconds ? new Date(seconds * 1000).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) : "–";
const day = (seconds) => new Date(seconds * 1000).toLocaleDateString([], { timeZone: "UTC", month: "short", day: "numeric" });
const duration = (s) => s == null ? "–" : s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
const stepLabel = (s) => s % 3600 === 0 ? `${s / 3600} h` : `${s / 60} min`;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// Rows into a table's body; each cell labelled by its column (narrow screens show rows as cards).
function fillTable(id, rows) {
  const labels = [...document.querySelectorAll(`#${id} thead th`)].map((th) => th.textContent);
  for (const row of rows) [...row.children].forEach((td, i) => td.setAttribute("data-label", labels[i] || ""));
  document.querySelector(`#${id} tbody`).replaceChildren(...rows);
}
const td = (value, cls = "") => el("td", cls ? { class: cls } : {}, value ?? "–");

// ---------------------------------------------------------------- totals and status badge

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

async function loadStatus() {
  const live = document.getElementById("live");
  try {
    const s = await api("/api/status");
    const silent = s.node_seen_at == null ? null : s.server_time - s.node_seen_at;
    const stale = silent == null || silent > STALE_S;
    live.textContent = s.head_block == null ? "waiting for the node"
      : stale ? `node silent ${duration(silent)} · block ${s.head_block} · lag ${s.lag_blocks}`
      : `block ${s.head_block} · lag ${s.lag_blocks}`;
    live.classList.toggle("on", !stale);
    live.classList.toggle("stale", stale);
  } catch { live.textContent = "viewer unreachable"; live.classList.remove("on"); live.classList.add("stale"); }
}

// ---------------------------------------------------------------- charts (real time axis, gaps shown)

function timeAxis() {
  return {
    type: "linear", grid: { display: false },
    ticks: { maxTicksLimit: 8, callback: (v) => { const d = new Date(v); return d.getHours() === 0 && d.getMinutes() === 0 ? d.toLocaleDateString([], { month: "short", day: "numeric" }) : clock(v / 1000); } },
  };
}

function makeCharts() {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#66756d";
  const common = (unit) => ({
    responsive: true, maintainAspectRatio: false, animation: { duration: 300 }, parsing: false, spanGaps: false,
    interaction: { mode: "nearest", axis: "x", intersect: false },
    scales: { x: timeAxis(), y: { beginAtZero: true, grid: { color: "#eef1ee" }, title: { display: true, text: unit } } },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } },
               tooltip: { callbacks: { title: (items) => items.length ? stamp(items[0].parsed.x / 1000) : "" } } },
  });
  // points drawn small: a reading between two gaps is a lone point, and must still show
  const line = (label, color, fill = false) => ({ label, data: [], borderColor: color, backgroundColor: color + "33", fill, pointRadius: 1.5, pointHoverRadius: 4, borderWidth: 2, stepped: "before" });
  state.charts.energy = new Chart(document.getElementById("energyChart"), {
    type: "line", data: { datasets: [line("Produced", "#f2a900", true), line("Consumed", "#2f6fdf", true)] }, options: common("Wh per 15 min"),
  });
  const soc = common("%");
  soc.scales.y = { min: 0, max: 100, grid: { color: "#eef1ee" }, title: { display: true, text: "%" } };
  state.charts.soc = new Chart(document.getElementById("socChart"), {
    type: "line", data: { datasets: [line("State of charge", "#1f9d63", true)] }, options: soc,
  });
  const band = (label, color) => ({ label, data: [], borderColor: "transparent", backgroundColor: color + "33", pointRadius: 0, fill: false });
  state.charts.forecast = new Chart(document.getElementById("forecastChart"), {
    type: "line",
    data: { datasets: [
      { ...band("PV p10", "#f2a900"), fill: false }, { ...band("PV p10–p90", "#f2a900"), fill: "-1" }, line("PV forecast", "#f2a900"),
      { ...band("Load p10", "#2f6fdf"), fill: false }, { ...band("Load p10–p90", "#2f6fdf"), fill: "-1" }, line("Load forecast", "#2f6fdf"),
    ] },
    options: { ...common("kWh per slot"), plugins: { ...common("").plugins, legend: { position: "bottom", labels: { boxWidth: 12, filter: (item) => !item.text.endsWith("p10") } } } },
  });
}

// Round ticks on the time axis (15 min to a week apart, at most ~8), the range aligned on them.
const TICK_STEPS = [900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400].map((s) => s * 1000);
function fitTimeAxis(chart, xs) {
  const x = chart.options.scales.x;
  if (!xs.length) { delete x.min; delete x.max; return; }
  const min = Math.min(...xs), max = Math.max(...xs);
  const step = TICK_STEPS.find((s) => (max - min) / s <= 8) || TICK_STEPS[TICK_STEPS.length - 1];
  x.min = Math.floor(min / step) * step;
  x.max = Math.max(x.min + step, Math.ceil(max / step) * step);
  x.ticks.stepSize = step;
}

// Points with a null wherever a bucket had no reading, so that a gap shows as a gap.
function withGaps(points, field, bucket, scale = 1) {
  const out = [];
  for (let i = 0; i < points.length; i++) {
    if (i && points[i].t - points[i - 1].t > bucket) out.push({ x: (points[i - 1].t + bucket) * 1000, y: null });
    out.push({ x: points[i].t * 1000, y: points[i][field] * scale });
  }
  return out;
}

async function loadSeries() {
  const path = state.meterId ? `/api/meters/${state.meterId}/series` : "/api/series";
  const points = await api(`${path}?bucket=${BUCKET}`);
  const { energy, soc } = state.charts;
  energy.data.datasets[0].data = withGaps(points, "produced_wh", BUCKET);
  energy.data.datasets[1].data = withGaps(points, "consumed_wh", BUCKET);
  soc.data.datasets[0].data = withGaps(points, "soc_permille", BUCKET, 0.1);
  const xs = points.map((p) => p.t * 1000);
  fitTimeAxis(energy, xs);
  fitTimeAxis(soc, xs);
  energy.update();
  soc.update();
  for (const id of ["energyChart", "socChart"]) document.getElementById(id).dataset.points = String(points.length);
  document.getElementById("scope").textContent = `${state.meterId ? `meter #${state.meterId}` : "community"}, Wh per ${stepLabel(BUCKET)}`;
}

// ---------------------------------------------------------------- forecast (public)

async function loadForecast() {
  const empty = document.getElementById("forecastEmpty");
  let f;
  try { f = await api("/api/forecast"); } catch (e) {
    empty.hidden = false;
    empty.textContent = e.status === 404 ? `No forecast yet: ${e.message}` : `Forecast unavailable: ${e.message}`;
    return;
  }
  empty.hidden = true;
  const x = (slot) => Date.parse(slot.start);
  const series = (field) => f.slots.map((s) => ({ x: x(s), y: s[field] }));
  const sets = state.charts.forecast.data.datasets;
  ["pv_p10", "pv_p90", "pv_kwh", "load_p10", "load_p90", "load_kwh"].forEach((field, i) => { sets[i].data = series(field); });
  state.charts.forecast.options.scales.y.title.text = `kWh per ${stepLabel(f.step_s)}`;
  fitTimeAxis(state.charts.forecast, f.slots.flatMap((s) => [Date.parse(s.start), Date.parse(s.end)]));
  state.charts.forecast.update();
  document.getElementById("forecastChart").dataset.slots = String(f.slots.length);
  const skill = (v) => v == null ? "n/a" : v.toFixed(2);
  document.getElementById("forecastHint").textContent = `${f.day} (${f.timezone}), ${f.method}, skill PV ${skill(f.skill.pv)} · load ${skill(f.skill.load)}`;
  const hours = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone: f.timezone });
  document.getElementById("cheapHours").replaceChildren(...(f.cheap_local_hours.length ? f.cheap_local_hours.map((h) => el("li", {},
    el("span", { class: "badge settled" }, `${Math.round(h.local_share * 100)} % local`), el("span", {}, `${hours(h.start)} – ${hours(h.end)}`), el("span"))) : [el("li", {}, "none tomorrow")]));
}

// ---------------------------------------------------------------- live feed

function feedItem(item, fresh) {
  const settled = item.kind === "PurchaseSettled";
  const text = settled ? `Purchase #${item.purchase_id} settled: ${item.delivered_wh} of ${item.wh} Wh delivered`
                       : `Purchase #${item.purchase_id}: ${item.wh} Wh`;
  return el("li", { class: fresh ? "fresh" : "", "data-purchase-id": item.purchase_id, "data-kind": item.kind },
    el("span", { class: `badge ${settled ? "settled" : "buy"}` }, settled ? "settled" : "bought"),
    el("span", {}, text),
    el("span", { class: "when" }, item.at ? clock(item.at) : `block ${item.block}`));
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
  refreshTimer = setTimeout(() => { loadTotals(); loadTables(); loadSeries(); loadLayer(); }, 400);
}

function connectLive() {
  const source = new EventSource("/api/stream");
  source.addEventListener("purchase", (event) => { showFeed([JSON.parse(event.data)], true); refreshSoon(); });
}

// ---------------------------------------------------------------- tables

async function loadTables() {
  const offset = state.txOffset;
  let page;
  if (!state.me) {
    page = await api(`/api/public/purchases?limit=${PAGE}&offset=${offset}`);
    fillTable("transactions", page.items.map((p) => el("tr", {},
      td(p.purchase_id), el("td", {}, el("span", { class: `badge ${p.status}` }, p.status)), td("member", "addr"), td("member", "addr"),
      td(p.wh, "num"), td(p.delivered_wh, "num"), td("–", "num"), td(p.block_number))));
    const totals = await api("/api/totals");
    fillTable("usage", [usageRow("Community", totals.consumed_wh, totals.bought_wh, totals.delivered_wh, totals.local_wh, totals.complement_wh)]);
  } else {
    page = await api(`/api/purchases?limit=${PAGE}&offset=${offset}`);
    fillTable("transactions", page.items.map((p) => el("tr", {},
      td(p.purchase_id), el("td", {}, el("span", { class: `badge ${p.status}` }, p.status)),
      el("td", { class: "addr", title: p.buyer }, short(p.buyer)), el("td", { class: "addr", title: p.seller }, short(p.seller)),
      td(p.wh, "num"), td(p.delivered_wh, "num"), td(tokens(p.amount), "num"), td(p.block_number))));
    const usage = await api("/api/usage");
    fillTable("usage", usage.map((u) => usageRow(`#${u.meter_id} ${short(u.owner)}`, u.consumed_wh, u.purchased_wh, u.delivered_wh, u.local_wh, u.complement_wh)));
  }
  const last = Math.min(page.total, offset + page.items.length);
  document.getElementById("txPage").textContent = page.total ? `${offset + 1}–${last} of ${page.total}` : "none yet";
  document.getElementById("txPrev").disabled = offset === 0;
  document.getElementById("txNext").disabled = last >= page.total;
}

// purchased: Wh bought; delivered: Wh the settlements measured; local / complement: the collective
// allocation of the period, when the PMO has run it (else "–")
function usageRow(label, consumed, purchased, delivered, local, complement) {
  const share = consumed ? Math.min(100, (100 * delivered) / consumed) : 0;
  const bar = el("div", { class: "bar", title: `${share.toFixed(0)} %` }, el("span"));
  bar.firstChild.style.width = `${share}%`;
  return el("tr", {}, td(label, "addr"), td(kwh(consumed), "num"), td(kwh(purchased), "num"), td(kwh(delivered), "num"),
    td(kwh(local), "num"), td(kwh(complement), "num"), el("td", {}, bar));
}

// ---------------------------------------------------------------- layers

async function loadLayer() {
  const layer = state.me ? state.me.layer : null;
  document.getElementById("memberPanel").hidden = !state.me || layer === "grid";
  document.getElementById("operatorPanel").hidden = layer !== "operator";
  document.getElementById("gridPanel").hidden = layer !== "grid";
  document.getElementById("collectivePanel").hidden = layer !== "grid" && layer !== "operator";
  document.getElementById("csv").hidden = !state.me;
  if (!state.me) return;
  if (layer !== "grid") {
    const [summary, daily] = await Promise.all([api(`/api/members/${state.me.address}/summary`), api("/api/me/daily")]);
    const card = (title, value, sub) => el("article", { class: "card" }, el("h2", {}, title), el("p", { class: "value" }, value), el("p", { class: "sub" }, sub));
    document.getElementById("money").replaceChildren(
      card("Balance", tokens(summary.exchange_balance), `${tokens(summary.token_balance)} in the wallet`),
      card("Spent", tokens(summary.spent), `${summary.purchases} purchases`),
      card("Earned", tokens(summary.earned), `${summary.sales} sales`),
      card("Refunded", tokens(summary.refunded), "undelivered energy"),
      card("Fees", tokens(summary.fees), "to the community"));
    fillTable("daily", daily.slice().reverse().map((d) => el("tr", {}, td(day(d.day)), td(tokens(d.spent), "num"), td(tokens(d.paid), "num"),
      td(tokens(d.refunded), "num"), td(tokens(d.fees), "num"), td(tokens(d.earned), "num"), td(d.bought_wh, "num"), td(d.sold_wh, "num"))));
    await loadStatement();
    await loadFlows();
  }
  if (layer === "grid" || layer === "operator") await loadConformity();
  if (layer === "operator") {
    const [members, open, skips, relays] = await Promise.all([api("/api/operator/members"), api("/api/operator/purchases/open?limit=20"),
      api("/api/operator/skips?limit=20"), api("/api/operator/relays")]);
    fillTable("relays", relays.length ? relays.map((r) => el("tr", {}, td(r.name), td(r.readable ? `${r.behind_blocks ?? "–"} blocks` : r.error, "num"),
      td(r.readable ? `${duration(r.silent_s)} ago` : "–", "num"), td(r.readable ? `${r.on_seller} of ${r.members}` : "–", "num"))) : [el("tr", {}, td("no relay state files configured (relay_states)"))]);
    fillTable("health", members.map((m) => el("tr", {}, td(`#${m.meter_id}`), el("td", { class: "addr", title: m.owner }, short(m.owner)),
      td(stamp(m.last_seen)), td(duration(m.silent_s), "num"), td(kwh(m.consumed_wh), "num"), td(kwh(m.local_wh), "num"), td(kwh(m.complement_wh), "num"))));
    fillTable("openPurchases", open.items.map((p) => el("tr", {}, td(p.purchase_id), el("td", { class: "addr", title: p.buyer }, short(p.buyer)), td(p.wh, "num"), td(duration(p.age_s), "num"))));
    fillTable("skips", skips.items.map((s) => el("tr", {}, td(s.block_number), el("td", { class: "addr", title: s.buyer }, short(s.buyer)), td(s.reason_text))));
  }
  if (layer === "grid") {
    const meters = await api("/api/grid/meters");
    const kinds = { 1: "producer", 2: "consumer", 3: "prosumer" };
    fillTable("gridMeters", meters.map((m) => el("tr", {}, td(`#${m.meter_id}`), td(kinds[m.kind] || m.kind), td(m.active ? "yes" : "no"),
      td(stamp(m.last_seen)), td(kwh(m.produced_wh), "num"), td(kwh(m.consumed_wh), "num"), td(kwh(m.local_wh), "num"), td(kwh(m.complement_wh), "num"))));
  }
}

// Where the member's energy came from and went over the chosen range (/api/me/flows documents each figure).
const FLOWS = [["produced_wh", "Produced", "my PV production"], ["own_use_wh", "Own PV used at home", "production consumed behind my meter"],
  ["exported_wh", "Exported", "production not used at home"], ["sold_wh", "Sold to neighbours", "delivered in my settled sales"],
  ["consumed_wh", "Consumed", "my consumption"], ["from_network_wh", "From the network", "consumption my PV did not cover"],
  ["bought_wh", "Bought from neighbours", "delivered in my settled purchases"], ["local_wh", "Collective: local share", "allocated by the community's key"],
  ["complement_wh", "Collective: grid complement", "delivered by my supplier"]];

async function loadFlows() {
  const span = Number(document.getElementById("flowRange").value);
  const flows = await api(`/api/me/flows?span=${span}`);  // up to the latest reading: the chain's clock
  const rows = FLOWS.map(([key, label, note]) => el("tr", { "data-flow": key }, td(label), td(kwh(flows[key]), "num"), td(note)));
  const soc = flows.soc_change_permille;
  rows.push(el("tr", { "data-flow": "soc_change_permille" }, td("Battery"), td(soc == null ? "–" : `${soc > 0 ? "+" : ""}${soc / 10} %`, "num"), td("state of charge change")));
  fillTable("flows", rows);
}

async function loadConformity() {
  const empty = document.getElementById("conformityEmpty");
  try {
    const report = await api("/api/collective/conformity");
    const flagged = report.days.filter((d) => d.flags.length || d.status !== "OK");
    const codes = (flags) => Object.entries(flags.reduce((n, f) => ({ ...n, [f.code]: (n[f.code] || 0) + 1 }), {})).map(([c, k]) => `${c} ×${k}`).join(", ");
    fillTable("conformityDays", flagged.map((d) => el("tr", {}, td(d.meter), td(d.day), td(d.status), td(`${d.present} / ${d.expected}`, "num"), td(codes(d.flags)))));
    empty.hidden = flagged.length > 0;
    empty.textContent = `${report.days.length} meter-days, all OK`;
  } catch (error) {
    fillTable("conformityDays", []);
    empty.hidden = false;
    empty.textContent = error.message;
  }
}

async function downloadKeys(event) {
  event.preventDefault();
  const reply = await fetch("/api/collective/keys.csv", { headers: { Authorization: `Bearer ${state.token}` } });
  if (!reply.ok) { document.getElementById("conformityEmpty").textContent = `key file: ${reply.status}`; return; }
  const link = el("a", { href: URL.createObjectURL(await reply.blob()), download: "keys.csv" });
  link.click();
  URL.revokeObjectURL(link.href);
}

// The statement's Merkle proof, checked here with the vendored ethers (OpenZeppelin StandardMerkleTree:
// leaf = keccak256(keccak256(abi.encode(entry))), each pair hashed in sorted order) up to the root.
const STATEMENT_TYPES = ["bytes32", "address", "bytes32", "uint256", "uint256", "bytes32"];
// Then the computed root is compared with the statement root the indexer read from the ledger's
// PeriodCommitted event for that period and version (/api/periods): the reference file alone could
// carry any root.
async function verifyStatement() {
  const out = document.getElementById("proofResult");
  let r, periods;
  try { [r, periods] = await Promise.all([api("/api/me/reference"), api("/api/periods")]); } catch (e) { out.dataset.ok = ""; out.textContent = e.message; return; }
  const started = performance.now();
  const e = r.entry;
  const encoded = ethers.AbiCoder.defaultAbiCoder().encode(STATEMENT_TYPES, [e.salt, e.account, e.member_id, e.debit, e.credit, e.statement]);
  const leaf = ethers.keccak256(ethers.keccak256(encoded));
  let node = leaf;
  for (const sibling of r.proof) node = ethers.keccak256(ethers.concat(BigInt(node) < BigInt(sibling) ? [node, sibling] : [sibling, node]));
  const ms = performance.now() - started;
  const onChain = periods.find((p) => p.period === r.period && p.version === r.version);
  let failure = null;
  if (leaf !== r.leaf.toLowerCase()) failure = "the entry does not hash to its leaf";
  else if (node !== r.statement_root.toLowerCase()) failure = "the proof does not lead to the reference's root";
  else if (!onChain) failure = `period ${r.period} version ${r.version} is not committed on chain (not indexed yet)`;
  else if (node !== onChain.statement_root) failure = `the computed root ${short(node)} is not the root ${short(onChain.statement_root)} committed on chain for period ${r.period} v${r.version}`;
  out.dataset.ok = String(!failure);
  out.dataset.ms = ms.toFixed(2);
  out.textContent = failure ? `Does NOT verify: ${failure}.`
    : `Verified in this browser in ${ms.toFixed(1)} ms: your period ${r.period} (v${r.version}) statement is in root ${short(node)}, the root committed on chain in block ${onChain.block_number}${onChain.superseded ? " (superseded by a later version)" : ""}.`;
}

// ---------------------------------------------------------------- periods, governance, statement

const PROPOSAL_STATES = { closed: "closed: more for than against" };
async function loadChainPanels() {
  const [periods, proposals, rules] = await Promise.all([api("/api/periods"), api("/api/governance/proposals"), api("/api/rules")]);
  fillTable("periods", periods.map((p) => el("tr", p.superseded ? { class: "superseded" } : {}, td(p.period), td(p.superseded ? `v${p.version} (superseded)` : `v${p.version}`),
    el("td", { class: "addr", title: p.statement_root }, short(p.statement_root)), td(p.rules_version),
    td(tokens(p.settlement_total), "num"), td(tokens(p.collected), "num"), td(tokens(p.paid), "num"))));
  document.getElementById("periodsEmpty").hidden = periods.length > 0;
  fillTable("proposals", proposals.map((p) => el("tr", {}, el("td", { title: `#${p.proposal_id} by ${p.proposer}` }, p.description.split("\n")[0]),
    el("td", {}, el("span", { class: `badge ${p.state}`, title: PROPOSAL_STATES[p.state] || p.state }, p.state)),
    td(p.votes_for, "num"), td(p.votes_against, "num"), td(p.votes_abstain, "num"))));
  document.getElementById("proposalsEmpty").hidden = proposals.length > 0;
  const last = rules[rules.length - 1];
  document.getElementById("rulesHint").textContent = last ? `Rules v${last.version}, in force from period ${last.effective_period} (${rules.length} versions).` : "";
}

async function loadStatement() {
  const hint = document.getElementById("statementHint");
  try {
    const s = await api("/api/me/statement");
    hint.textContent = `period ${s.period}, v${s.version}`;
    fillTable("statementLines", (s.lines || []).map((l) => el("tr", {}, td(l.label), td(`${l.quantity ?? "–"} ${l.unit ?? ""}`, "num"),
      td(l.unit_price, "num"), td(l.amount, "num"), td(l.payee))));
    const due = Object.entries(s.due || {}).map(([who, amount]) => `${amount} € to ${who}`).join(", ");
    const totals = Object.entries(s.totals || {}).map(([who, t]) => `${who}: ${t.ttc} € TTC`).join(", ");
    document.getElementById("statementTotals").textContent = [totals && `Totals ${totals}`, due && `due now ${due}`].filter(Boolean).join(" · ");
  } catch (e) {
    hint.textContent = e.status === 404 ? "none yet" : e.message;
    fillTable("statementLines", []);
    document.getElementById("statementTotals").textContent = "";
  }
  const votes = await api("/api/me/votes");
  fillTable("myVotes", votes.length ? votes.map((v) => el("tr", {}, el("td", { title: `#${v.proposal_id}` }, (v.description || v.proposal_id).split("\n")[0]),
    td(v.support), td(v.reason || "–"), td(v.block_number))) : [el("tr", {}, td("no vote yet"))]);
}

async function download(path, name) {
  const reply = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!reply.ok) return false;
  const link = el("a", { href: URL.createObjectURL(await reply.blob()), download: name });
  link.click();
  URL.revokeObjectURL(link.href);
  return true;
}

async function downloadCsv(event) {
  event.preventDefault();
  await download("/api/me/export.csv", `daisee-${state.me.address}.csv`);
}

async function downloadStatement(kind) {
  const hint = document.getElementById("statementHint");
  if (!(await download(`/api/me/statement/${kind}`, `statement.${kind}`))) hint.textContent = `no committed ${kind.toUpperCase()} statement yet`;
}

// ---------------------------------------------------------------- sign-in (EIP-4361)

function signinError(message) { document.getElementById("signinError").textContent = message || ""; }

async function finishSignIn(message, signature) {
  const session = await api("/api/auth/verify", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ message, signature }),
  });
  state.token = session.token;
  sessionStorage.setItem("daisee.token", session.token);
  document.getElementById("signinDialog").close();
  await restoreSession();
}

async function walletSignIn() {
  const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
  const challenge = await api(`/api/auth/challenge?address=${address}`);
  const signature = await window.ethereum.request({ method: "personal_sign", params: [challenge.message, address] });
  await finishSignIn(challenge.message, signature);
}

async function getMessage() {
  const address = document.getElementById("pasteAddress").value.trim();
  const challenge = await api(`/api/auth/challenge?address=${encodeURIComponent(address)}`);
  document.getElementById("pasteMessage").value = challenge.message;
}

function openSignIn() {
  const wallet = Boolean(window.ethereum);
  document.getElementById("walletSignin").hidden = !wallet;
  document.getElementById("walletNote").textContent = wallet ? "A wallet is available in this browser."
    : "No wallet extension in this browser: sign the message elsewhere and paste the signature.";
  signinError("");
  document.getElementById("signinDialog").showModal();
}

async function signOut() {
  try { await api("/api/auth/logout", { method: "POST" }); } catch { /* already ended on the server */ }
  forget();
}

function forget() {
  state.token = null; state.me = null; state.meterId = null; state.txOffset = 0;
  sessionStorage.removeItem("daisee.token");
  showSession();
  refreshSoon();
}

async function restoreSession() {
  if (state.token) {
    try {
      state.me = await api("/api/auth/me");
      if (state.me.layer !== "grid") {
        const meters = await api("/api/meters");
        const own = meters.find((m) => m.owner === state.me.address);
        state.meterId = own ? own.meter_id : null;
      }
    } catch { forget(); }
  }
  state.txOffset = 0;
  showSession();
  refreshSoon();
}

function showSession() {
  const who = document.getElementById("who");
  who.hidden = !state.me;
  document.body.dataset.layer = state.me ? state.me.layer : "public";
  if (state.me) who.replaceChildren(short(state.me.address), ...(state.me.layer !== "member" ? [el("span", { class: "role" }, state.me.layer === "grid" ? "grid operator" : "operator")] : []));
  document.getElementById("signin").hidden = Boolean(state.me);
  document.getElementById("signout").hidden = !state.me;
  document.getElementById("txHint").textContent = state.me ? (state.me.operator ? "all members" : "yours") : "pseudonymised: sign in to see yours";
  document.getElementById("usageHint").textContent = state.me ? (state.me.operator ? "per member" : "yours") : "community";
}

// ---------------------------------------------------------------- start

async function start() {
  makeCharts();
  const guard = (fn) => () => fn().catch((e) => signinError(`Sign-in failed: ${e.message}`));
  document.getElementById("signin").addEventListener("click", openSignIn);
  document.getElementById("walletSignin").addEventListener("click", guard(walletSignIn));
  document.getElementById("getMessage").addEventListener("click", guard(getMessage));
  document.getElementById("pasteSignin").addEventListener("click", guard(() => finishSignIn(
    document.getElementById("pasteMessage").value, document.getElementById("pasteSignature").value.trim())));
  document.getElementById("signout").addEventListener("click", signOut);
  document.getElementById("csv").addEventListener("click", downloadCsv);
  document.getElementById("keysCsv").addEventListener("click", downloadKeys);
  document.getElementById("flowRange").addEventListener("change", () => loadFlows());
  document.getElementById("verifyProof").addEventListener("click", () => verifyStatement());
  document.getElementById("statementHtml").addEventListener("click", () => downloadStatement("html"));
  document.getElementById("statementPdf").addEventListener("click", () => downloadStatement("pdf"));
  document.getElementById("txPrev").addEventListener("click", () => { state.txOffset = Math.max(0, state.txOffset - PAGE); loadTables(); });
  document.getElementById("txNext").addEventListener("click", () => { state.txOffset += PAGE; loadTables(); });
  showFeed(await api("/api/feed?limit=30"));
  await Promise.all([loadTotals(), loadSeries(), loadStatus(), loadForecast(), loadChainPanels(), restoreSession()]);
  connectLive();
  setInterval(() => { loadTotals(); loadSeries(); loadStatus(); loadChainPanels(); }, 15000);
  setInterval(loadStatus, 5000);
}

start();
