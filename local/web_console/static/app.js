"use strict";
// The DOFS local console: reads the console server's JSON and draws it. No libraries.

const SVG = "http://www.w3.org/2000/svg";
const STATUSES = ["RECEIVED", "PENDING_FULFILLMENT", "FULFILLED", "FULFILLMENT_FAILED", "REJECTED"];
const FINAL = new Set(["FULFILLED", "FULFILLMENT_FAILED", "REJECTED"]);
const REFRESH_MS = 2000;
const SAMPLE_ORDER = {
  customer_id: "cust_123",
  items: [{ product_id: "prod_001", quantity: 2, price: 29.99 }],
  total_amount: 59.98,
  shipping_address: { street: "123 Main St", city: "Anytown", state: "CA", zip: "12345" },
};
let shownOrder = null;

function $(id) { return document.getElementById(id); }

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(`${path}: ${body.message || response.status}`);
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function when(iso) { return iso ? iso.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, "") : "–"; }

// -- pipeline ------------------------------------------------------------------------------

function drawPipeline(snapshot) {
  const svg = $("pipeline");
  svg.replaceChildren(arrowMarker());
  const place = { api: [10, 20], workflow: [250, 20], queue: [490, 20], fulfillment: [730, 20], dlq: [490, 120], failed: [730, 120] };
  const edges = [["api", "workflow"], ["workflow", "queue"], ["queue", "fulfillment"], ["queue", "dlq"], ["dlq", "failed"]];
  for (const [from, to] of edges) {
    const [x1, y1] = place[from], [x2, y2] = place[to];
    const d = y1 === y2 ? `M${x1 + 220},${y1 + 35} L${x2 - 4},${y2 + 35}` : x1 === x2 ? `M${x1 + 110},${y1 + 70} L${x2 + 110},${y2 - 4}` : `M${x1 + 220},${y1 + 35} L${x2 - 4},${y2 + 35}`;
    svg.append(el("svg:path", { class: "edge", d }));
  }
  for (const stage of snapshot.pipeline) {
    const [x, y] = place[stage.stage];
    const count = el("svg:text", { class: "count", x: x + 12, y: y + 48, id: `stage-${stage.stage}` }, String(stage.count));
    svg.append(el("svg:g", { class: `node ${stage.stage}` },
      el("svg:rect", { x, y, width: 220, height: 70 }),
      el("svg:text", { class: "label", x: x + 12, y: y + 18 }, stage.label),
      count,
      el("svg:text", { class: "note", x: x + 12, y: y + 64 }, stage.note)));
  }
  const chips = $("status-counts");
  chips.replaceChildren(...STATUSES.map((status) =>
    el("span", { class: `chip status-${status}` }, status, el("b", { id: `count-${status}` }, String(snapshot.statuses[status])))));
  chips.append(el("span", { class: "chip" }, "total", el("b", { id: "count-total" }, String(Object.values(snapshot.statuses).reduce((a, b) => a + b, 0)))));
}

function arrowMarker() {
  return el("svg:defs", {}, el("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    el("svg:path", { d: "M0,0 L10,5 L0,10 z", fill: "#98a2b3" })));
}

// -- workflow graph -------------------------------------------------------------------------

function drawWorkflow(graph) {
  const svg = $("workflow");
  const W = 170, H = 54, GX = 50, GY = 22;
  const columns = Math.max(...graph.states.map((s) => s.column)) + 1;
  const rows = Math.max(...graph.states.map((s) => s.row)) + 1;
  svg.setAttribute("viewBox", `0 0 ${columns * (W + GX)} ${rows * (H + GY) + 10}`);
  svg.replaceChildren(arrowMarker());
  const at = {};
  for (const s of graph.states) at[s.name] = [10 + s.column * (W + GX), 10 + s.row * (H + GY)];
  for (const s of graph.states) {
    for (const edge of s.edges) {
      if (!at[edge.to]) continue;
      const [x1, y1] = at[s.name], [x2, y2] = at[edge.to];
      const d = x2 > x1 ? `M${x1 + W},${y1 + H / 2} C${x1 + W + GX / 2},${y1 + H / 2} ${x2 - GX / 2},${y2 + H / 2} ${x2 - 3},${y2 + H / 2}`
        : `M${x1 + W / 2},${y1 + H} C${x1 + W / 2},${y1 + H + 30} ${x2 + W / 2},${y2 - 30} ${x2 + W / 2},${y2 - 3}`;
      svg.append(el("svg:path", { class: `edge ${edge.kind}`, d }));
    }
  }
  for (const s of graph.states) {
    const [x, y] = at[s.name];
    const counts = s.passed === null ? "not recorded" : `at ${s.at} · passed ${s.passed}`;
    svg.append(el("svg:g", { class: `state ${s.type}`, "data-state": s.name, "data-at": String(s.at), "data-passed": String(s.passed) },
      el("svg:title", {}, `${s.name} (${s.type}): ${counts}`),
      el("svg:rect", { x, y, width: W, height: H }),
      el("svg:text", { x: x + 8, y: y + 18, "font-weight": 600, "font-size": 12 }, s.name.length > 24 ? s.name.slice(0, 23) + "…" : s.name),
      el("svg:text", { x: x + 8, y: y + 32, class: "note" }, s.type),
      el("svg:text", { x: x + 8, y: y + 47, "font-size": 12 }, counts)));
  }
}

// -- charts -----------------------------------------------------------------------------------

function drawChart(svg, series, unit) {
  const W = 460, H = 170, L = 40, B = 20, T = 8;
  const values = series.flatMap((s) => s.values.filter((v) => v !== null));
  const top = Math.max(1e-9, ...values) * 1.1 || 1;
  const n = series[0].values.length;
  const x = (i) => L + (i * (W - L - 6)) / Math.max(1, n - 1);
  const y = (v) => H - B - ((H - B - T) * v) / top;
  svg.replaceChildren(
    el("svg:line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }),
    el("svg:line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
    el("svg:text", { class: "axis-label", x: 2, y: T + 8 }, `${top.toFixed(top < 10 ? 2 : 0)} ${unit}`),
    el("svg:text", { class: "axis-label", x: 2, y: H - B }, "0"),
    el("svg:text", { class: "axis-label", x: L, y: H - 4 }, "−10 min"),
    el("svg:text", { class: "axis-label", x: W - 30, y: H - 4 }, "now"));
  for (const s of series) {
    let d = "";
    s.values.forEach((v, i) => { if (v !== null) d += `${d && s.values[i - 1] !== null ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)} `; });
    svg.append(el("svg:path", { d: d || "M0,0", fill: "none", stroke: s.color, "stroke-width": 2 }));
    s.values.forEach((v, i) => {
      const alone = v !== null && (i === 0 || s.values[i - 1] === null) && (i === n - 1 || s.values[i + 1] === null);
      if (alone) svg.append(el("svg:circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.5, fill: s.color }));
    });
  }
}

function drawCharts(charts) {
  const num = (values) => values.map((v) => (v === null ? null : Number(v)));
  drawChart($("throughput-chart"), [
    { values: num(charts.accepted_per_second), color: "#2e5aac" },
    { values: num(charts.finished_per_second), color: "#12805c" }], "/s");
  drawChart($("latency-chart"), [
    { values: num(charts.p50_seconds), color: "#2e5aac" },
    { values: num(charts.p99_seconds), color: "#c4320a" }], "s");
  $("chart-window").textContent = `(last 10 minutes, ${charts.bucket_seconds} s buckets)`;
  const p50 = charts.window_p50_seconds, p99 = charts.window_p99_seconds;
  $("latency-window").textContent = p50 === null ? "" : `— over the window p50 ${Number(p50).toFixed(2)} s, p99 ${Number(p99).toFixed(2)} s`;
}

// -- orders -----------------------------------------------------------------------------------

async function refreshOrders() {
  const status = $("status-filter").value;
  const list = await api(`/api/orders?status=${encodeURIComponent(status)}`);
  $("orders-total").textContent = `${list.total} order(s)${status ? ` ${status}` : ""}; the newest ${list.orders.length} shown`;
  $("orders-table").tBodies[0].replaceChildren(...list.orders.map((o) => {
    const row = el("tr", { "data-order-id": o.order_id },
      el("td", { class: "id" }, o.order_id), el("td", { class: `status-${o.status}` }, o.status),
      el("td", {}, when(o.created_at)), el("td", {}, when(o.final_at)), el("td", {}, String(o.fulfillment_attempts)));
    row.addEventListener("click", () => showOrder(o.order_id));
    return row;
  }));
}

async function showOrder(orderId) {
  shownOrder = orderId;
  const box = $("order-detail");
  let order;
  try {
    order = await api(`/api/orders/${encodeURIComponent(orderId)}`);
  } catch (error) {
    box.replaceChildren(el("p", { id: "order-missing" }, error.message));
    return null;
  }
  const events = order.timeline.map((e) => el("li", { "data-status": e.status, "data-at": e.at || "" },
    el("b", { class: `status-${e.status}` }, e.status), ` ${when(e.at)} — ${e.what}`,
    ...(e.reasons.length ? [el("br"), el("small", { class: "reasons" }, e.reasons.join("; "))] : [])));
  box.replaceChildren(
    el("p", {}, el("span", { class: "id", id: "order-id" }, order.order_id), " is ", el("b", { id: "order-status", class: `status-${order.status}` }, order.status)),
    el("p", {}, `fulfillment attempts: `, el("b", { id: "order-attempts" }, String(order.fulfillment_attempts)),
      order.redrive_count ? ` · redriven ${order.redrive_count} time(s)` : "",
      order.last_fulfillment_error ? ` · last error: ${order.last_fulfillment_error}` : ""),
    ...(order.failure_reasons.length ? [el("p", { id: "order-failure" }, `failure (${order.failure_stage}): ${order.failure_reasons.join("; ")}`)] : []),
    el("ol", { class: "timeline", id: "timeline" }, ...events));
  return order;
}

// -- failures -------------------------------------------------------------------------------

async function refreshFailures() {
  const failures = await api("/api/failures");
  $("failed-total").textContent = `(${failures.failed_total})`;
  $("failed-table").tBodies[0].replaceChildren(...failures.failed_orders.map((f) => {
    // A rejection is final for good: only fulfillment and workflow failures can be redriven.
    const button = f.stage === "validation" ? "" : el("button", { class: "redrive-one", "data-order-id": f.order_id }, "redrive");
    if (button) button.addEventListener("click", (event) => { event.stopPropagation(); redrive([f.order_id], false); });
    const row = el("tr", { "data-order-id": f.order_id }, el("td", { class: "id" }, f.order_id), el("td", {}, f.stage),
      el("td", {}, (f.reasons || []).join("; ")), el("td", {}, when(f.recorded_at)), el("td", {}, button));
    row.addEventListener("click", () => showOrder(f.order_id));
    return row;
  }));
  $("dlq-table").tBodies[0].replaceChildren(...failures.dlq.map((m) =>
    el("tr", {}, el("td", { class: "id" }, m.message_id), el("td", { class: "id" }, m.body), el("td", {}, when(m.sent_at)))));
}

async function redrive(orderIds, dlq) {
  const out = $("redrive-result");
  out.textContent = "redriving…";
  try {
    const report = await post("/api/redrive", { order_ids: orderIds, dlq });
    out.textContent = report.lines.join("\n");
    out.dataset.redriven = String(report.redriven.length);
  } catch (error) {
    out.textContent = error.message;
  }
  await refresh();
}

// -- try it -----------------------------------------------------------------------------------

async function tryOrder(event) {
  event.preventDefault();
  const out = $("try-result");
  out.textContent = "posting…";
  let answer;
  try {
    answer = await post("/api/orders", { body: $("try-body").value, idempotency_key: $("try-key").value });
  } catch (error) {
    out.textContent = error.message;
    return;
  }
  out.textContent = `HTTP ${answer.status}\n${JSON.stringify(answer.body, null, 2)}`;
  const orderId = answer.body && answer.body.order_id;
  if (answer.status !== 202 || !orderId) return;
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    const order = await showOrder(orderId);
    if (order && FINAL.has(order.status)) {
      out.textContent += `\nfinal: ${order.status}`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  out.textContent += "\nstill in flight after 2 minutes (see its timeline)";
}

// -- refresh ----------------------------------------------------------------------------------

let refreshing = false;

async function refresh() {
  if (refreshing) return; // a slow stack: never pile refreshes up
  refreshing = true;
  try {
    const snapshot = await api("/api/snapshot");
    $("stack-info").textContent = `workflow ${snapshot.workflow_type}`;
    drawPipeline(snapshot);
    drawWorkflow(snapshot.workflow);
    drawCharts(snapshot.charts);
    await Promise.all([refreshOrders(), refreshFailures()]);
    if (shownOrder) await showOrder(shownOrder);
    $("refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
    $("problem").textContent = "";
    document.body.dataset.loaded = snapshot.generated_at;
  } catch (error) {
    $("problem").textContent = `cannot read the stack: ${error.message}`;
  } finally {
    refreshing = false;
  }
}

function start() {
  for (const status of STATUSES) $("status-filter").append(el("option", { value: status }, status));
  $("try-body").value = JSON.stringify(SAMPLE_ORDER, null, 2);
  $("status-filter").addEventListener("change", () => refreshOrders());
  $("order-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("order-lookup").value.trim();
    if (id) showOrder(id);
  });
  $("redrive-all").addEventListener("click", () => redrive(null, true));
  $("try-form").addEventListener("submit", tryOrder);
  refresh();
  setInterval(() => { if ($("auto-refresh").checked) refresh(); }, REFRESH_MS);
}

start();
