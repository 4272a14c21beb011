// The Palisade dashboard: one dependency-free script, embedded in the
// `palisade` binary and served at /dashboard.
//
// It signs in with an API key (kept in sessionStorage only, never in a
// cookie or localStorage), then follows the server live: it reads the
// server-sent events of /api/events and refreshes the flags or breakers
// panel as soon as one of them changes. EventSource cannot send the
// Authorization header, so the stream is read with fetch() and parsed
// here. Polling every POLL_MS keeps the other panels (and, whenever the
// stream is down, every panel) current; the header says which is in use,
// "live" or "polling". Every failed API call is shown in words in the
// #error banner; nothing is swallowed.
"use strict";

/// The polling interval: 2 s, or `?poll=<ms>` (at least 500) for a page
/// that should lean on the event stream alone.
const POLL_MS = Math.max(500, Number(new URLSearchParams(location.search).get("poll")) || 2000);
/// Reconnecting to the event stream waits this long, doubling up to
/// STREAM_RETRY_MAX_MS after each failure.
const STREAM_RETRY_MS = 1000;
const STREAM_RETRY_MAX_MS = 30000;
const HISTORY = 90; // traffic samples kept for the chart (3 minutes at 2 s)
const KEY_STORAGE = "palisade.apiKey";

const $ = (selector) => document.querySelector(selector);

/// An API error, in words a person can act on.
class ApiError extends Error {}

/// Calls the API with the signed-in key. Answers the parsed JSON (or null
/// for an empty body); throws an ApiError carrying the problem's title and
/// detail when the server refuses.
async function api(method, path, body) {
  const headers = { authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE)}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(`${method} ${path}: the server cannot be reached (${e.message})`);
  }
  const text = await response.text();
  if (!response.ok) {
    let words = `${response.status} ${response.statusText}`;
    try {
      const problem = JSON.parse(text);
      words = [problem.title, problem.detail].filter(Boolean).join(": ") || words;
    } catch (_) { /* not problem+json: keep the status line */ }
    if (response.status === 401) signOut();
    throw new ApiError(`${method} ${path} failed — ${words}`);
  }
  return text ? JSON.parse(text) : null;
}

/// Shows an error in the banner (and keeps it until the next success).
function showError(error) {
  const banner = $("#error");
  banner.textContent = error instanceof Error ? error.message : String(error);
  banner.hidden = false;
}

function clearError() {
  $("#error").hidden = true;
}

/// Runs an action from a button, showing its error and refreshing after.
async function act(button, action) {
  button.disabled = true;
  try {
    await action();
    clearError();
    await refresh();
  } catch (e) {
    showError(e);
  } finally {
    button.disabled = false;
  }
}

/// A list answer, whether the API wraps it (`{data: […]}`, `{items: […]}`)
/// or not.
function list(answer, name) {
  if (Array.isArray(answer)) return answer;
  if (answer && Array.isArray(answer[name])) return answer[name];
  if (answer && Array.isArray(answer.data)) return answer.data;
  if (answer && Array.isArray(answer.items)) return answer.items;
  return [];
}

function cell(row, content, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? "–";
  row.append(td);
  return td;
}

function badge(text, kind) {
  const span = document.createElement("span");
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

/// Re-rendering a table replaces its controls, and a keyboard user's focus
/// must not go with them (every poll and live event re-renders). Call before
/// emptying `body`; the function it returns focuses the new control with the
/// same label (labels name their row: "Force demo-upstream open").
function keepFocus(body) {
  const focused = document.activeElement;
  const label = focused && body.contains(focused) ? focused.getAttribute("aria-label") : null;
  return () => {
    if (!label) return;
    const again = [...body.querySelectorAll("[aria-label]")].find((el) => el.getAttribute("aria-label") === label);
    again?.focus();
  };
}

function button(label, onClick, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (title) b.setAttribute("aria-label", title);
  b.addEventListener("click", () => act(b, onClick));
  return b;
}

/// A percentage the API gives (0–100), or a dash when there is none yet.
function percent(value) {
  return typeof value === "number" && Number.isFinite(value) ? `${value.toFixed(1)}%` : "–";
}

function when(value) {
  if (value === undefined || value === null) return "–";
  const date = typeof value === "number" ? new Date(value) : new Date(String(value));
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

// ---- breakers ----------------------------------------------------------

/// A breaker's last transition, "closed → open, <time>", or a dash when it
/// never moved.
function transition(last) {
  if (!last) return "–";
  const name = (state) => String(state).replace("_", " ");
  return `${name(last.from)} → ${name(last.to)}, ${when(last.at)}`;
}

function renderBreakers(answer) {
  const body = $("#breakers tbody");
  const restoreFocus = keepFocus(body);
  body.replaceChildren();
  for (const breaker of list(answer, "breakers")) {
    const state = String(breaker.state ?? "unknown").toLowerCase();
    // A breaker forced open rejects like an open one: the same colour.
    const colour = { forced_open: "open", disabled: "metrics_only" }[state] ?? state;
    const row = document.createElement("tr");
    row.dataset.breaker = breaker.name;
    row.className = colour;
    cell(row, breaker.name);
    cell(row, badge(state.replace("_", " "), colour));
    cell(row, breaker.calls ? percent(breaker.failure_rate) : "–");
    cell(row, transition(breaker.last_transition));
    const actions = cell(row, "");
    const path = `/api/breakers/${encodeURIComponent(breaker.name)}`;
    actions.append(
      button("Force open", () => api("POST", `${path}/force-open`), `Force ${breaker.name} open`),
      " ",
      button("Close", () => api("POST", `${path}/close`), `Close ${breaker.name}`),
      " ",
      button("Reset", () => api("POST", `${path}/reset`), `Reset ${breaker.name}`),
    );
    body.append(row);
  }
  restoreFocus();
}

// ---- webhook endpoints ------------------------------------------------------

/// A small stacked bar chart of the last hour's attempts, one bar per
/// five-minute slice: succeeded, HTTP error, no answer. Its label says the
/// same in words for screen readers.
function attemptChart(slices) {
  const [w, h, gap] = [96, 24, 1];
  // Parsed from markup: the HTML parser puts it in the SVG namespace, whose
  // children are then made in the same one.
  const template = document.createElement("template");
  template.innerHTML = "<svg></svg>";
  const svg = template.content.firstElementChild;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("class", "attempts");
  svg.setAttribute("role", "img");
  const sum = (key) => slices.reduce((n, s) => n + (s[key] ?? 0), 0);
  const words = `last hour: ${sum("succeeded")} succeeded, ${sum("http_error")} HTTP errors, ${sum("transport_error")} without an answer`;
  svg.setAttribute("aria-label", words);
  const title = document.createElementNS(svg.namespaceURI, "title");
  title.textContent = words;
  svg.append(title);
  const total = (s) => (s.succeeded ?? 0) + (s.http_error ?? 0) + (s.transport_error ?? 0);
  const max = Math.max(1, ...slices.map(total));
  const width = w / Math.max(1, slices.length);
  slices.forEach((slice, i) => {
    let top = h;
    for (const kind of ["succeeded", "http_error", "transport_error"]) {
      const n = slice[kind] ?? 0;
      if (!n) continue;
      const height = Math.max(1, (n / max) * h);
      top -= height;
      const rect = document.createElementNS(svg.namespaceURI, "rect");
      rect.setAttribute("class", kind);
      rect.setAttribute("x", (i * width).toFixed(1));
      rect.setAttribute("y", top.toFixed(1));
      rect.setAttribute("width", Math.max(1, width - gap).toFixed(1));
      rect.setAttribute("height", height.toFixed(1));
      svg.append(rect);
    }
  });
  return svg;
}

/// A count the API gives, or a dash.
function count(value) {
  return typeof value === "number" ? String(value) : "–";
}

function renderEndpoints(answer) {
  const body = $("#endpoints tbody");
  const restoreFocus = keepFocus(body);
  body.replaceChildren();
  for (const endpoint of list(answer, "endpoints")) {
    const stats = endpoint.stats ?? {};
    const enabled = endpoint.enabled ?? !endpoint.disabled;
    const row = document.createElement("tr");
    row.dataset.endpoint = endpoint.id;
    cell(row, endpoint.url, "url");
    cell(row, badge(enabled ? "enabled" : "disabled", enabled ? "on" : "off"));
    cell(row, percent(stats.success_rate), "success");
    cell(row, count(stats.pending), "pending");
    cell(row, count(stats.dead), "dead");
    cell(row, Array.isArray(stats.attempts_last_hour) ? attemptChart(stats.attempts_last_hour) : "–");
    const path = `/api/webhooks/endpoints/${encodeURIComponent(endpoint.id)}`;
    const actions = cell(row, "");
    actions.append(
      messagesButton(endpoint),
      " ",
      button("Replay dead", () => api("POST", `${path}/replay`, {}), `Replay the dead deliveries of ${endpoint.url}`),
    );
    body.append(row);
  }
  restoreFocus();
}

/// Opens the endpoint's recent messages below the table. Not through
/// `act`: reading refreshes nothing.
function messagesButton(endpoint) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = "Messages";
  b.setAttribute("aria-label", `Show the messages of ${endpoint.url}`);
  b.addEventListener("click", () => showEndpointMessages(endpoint).then(clearError, showError));
  return b;
}

/// The endpoint's newest messages, each a button that shows its attempts.
async function showEndpointMessages(endpoint) {
  const page = await api("GET", `/api/webhooks/messages?endpoint_id=${encodeURIComponent(endpoint.id)}&limit=20`);
  const box = $("#endpoint-messages");
  box.replaceChildren();
  const title = document.createElement("h3");
  title.textContent = `Messages to ${endpoint.url}`;
  box.append(title);
  const messages = list(page, "items");
  if (!messages.length) {
    const none = document.createElement("p");
    none.className = "muted";
    none.textContent = "No messages yet.";
    box.append(none);
    return;
  }
  const table = document.createElement("table");
  table.innerHTML = "<thead><tr><th scope=col>Message</th><th scope=col>Event type</th><th scope=col>Published</th><th scope=col>Delivery</th><th scope=col>Attempts</th></tr></thead>";
  const tbody = document.createElement("tbody");
  for (const message of messages) {
    const row = document.createElement("tr");
    row.dataset.message = message.id;
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = message.id;
    open.setAttribute("aria-label", `Show the attempts of ${message.id}`);
    open.addEventListener("click", () => showMessage(message.id).then(clearError, showError));
    cell(row, open);
    cell(row, message.event_type);
    cell(row, when(message.created_at));
    cell(row, String(message.delivery?.state ?? "–").replace("_", " "));
    cell(row, count(message.delivery?.attempts));
    tbody.append(row);
  }
  table.append(tbody);
  box.append(table);
}

async function showMessage(id) {
  const message = await api("GET", `/api/webhooks/messages/${encodeURIComponent(id)}`);
  const box = $("#message");
  box.replaceChildren();
  const title = document.createElement("p");
  title.textContent = `${message.event_type ?? "message"} ${message.id ?? id}`;
  box.append(title);
  const table = document.createElement("table");
  table.innerHTML = "<thead><tr><th scope=col>Endpoint</th><th scope=col>Attempt</th><th scope=col>Outcome</th><th scope=col>Status</th><th scope=col>At</th><th scope=col>Duration</th><th scope=col>Error</th></tr></thead>";
  const tbody = document.createElement("tbody");
  const attempts = list(message.attempts, "attempts");
  attempts.forEach((attempt, i) => {
    const row = document.createElement("tr");
    row.className = "attempt";
    cell(row, attempt.endpoint_id);
    cell(row, String(i + 1));
    cell(row, attempt.error ? `failed: ${attempt.error}` : (attempt.status >= 200 && attempt.status < 300 ? "succeeded" : "failed"));
    cell(row, String(attempt.status ?? "–"));
    cell(row, when(attempt.at));
    cell(row, typeof attempt.latency_ms === "number" ? `${attempt.latency_ms} ms` : "–");
    cell(row, attempt.error ?? (attempt.response_excerpt || "–"));
    tbody.append(row);
  });
  table.append(tbody);
  box.append(table);
  const replay = button("Replay message", () => api("POST", `/api/webhooks/messages/${encodeURIComponent(id)}/replay`, {}));
  box.append(replay);
}

// ---- flags ------------------------------------------------------------

function renderFlags(answer, changes) {
  const body = $("#flags tbody");
  const restoreFocus = keepFocus(body);
  body.replaceChildren();
  for (const flag of list(answer, "flags")) {
    const row = document.createElement("tr");
    row.dataset.flag = flag.key;
    cell(row, flag.key);
    cell(row, flag.kind);
    const toggle = document.createElement("input");
    toggle.type = "checkbox";
    toggle.setAttribute("role", "switch");
    toggle.checked = Boolean(flag.enabled);
    toggle.setAttribute("aria-label", `${flag.key} on`);
    toggle.addEventListener("change", () =>
      act(toggle, () => api("PATCH", `/api/flags/${encodeURIComponent(flag.key)}`, { enabled: toggle.checked })));
    cell(row, toggle);
    cell(row, typeof flag.rollout === "number" ? `${flag.rollout}%` : "–");
    const change = changes.get(flag.key);
    cell(row, change ? `${change.action} by ${change.actor}, ${when(change.at)}` : "–", "wrap");
    body.append(row);
  }
  restoreFocus();
}

/// The newest audit entry of each target.
function latestChanges(answer) {
  const changes = new Map();
  for (const entry of list(answer, "entries")) {
    if (!changes.has(entry.target)) changes.set(entry.target, entry);
  }
  return changes;
}

// ---- traffic, from the Prometheus text of /metrics ---------------------------------

const traffic = { previous: null, samples: [] };

/// Sums the request-duration histogram over every label set: the total
/// count and the cumulative count per `le` bucket bound.
function histogram(text) {
  const buckets = new Map();
  let count = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("http_server_request_duration_seconds_bucket{")) {
      const le = /le="([^"]+)"/.exec(line);
      const value = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (le) buckets.set(le[1], (buckets.get(le[1]) ?? 0) + value);
    } else if (line.startsWith("http_server_request_duration_seconds_count")) {
      count += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return { at: performance.now(), count, buckets };
}

/// The latency (seconds) under which `q` of the interval's requests fell,
/// interpolated inside the bucket as Prometheus' histogram_quantile does.
function quantile(q, now, before) {
  const bounds = [...now.buckets.keys()].filter((b) => b !== "+Inf").map(Number).sort((a, b) => a - b);
  const delta = (le) => (now.buckets.get(String(le)) ?? 0) - (before.buckets.get(String(le)) ?? 0);
  const total = now.count - before.count;
  if (total <= 0) return null;
  let lower = 0;
  let below = 0;
  for (const bound of bounds) {
    const cumulative = delta(bound);
    if (cumulative >= q * total) {
      const inBucket = cumulative - below;
      return inBucket > 0 ? lower + (bound - lower) * ((q * total - below) / inBucket) : bound;
    }
    lower = bound;
    below = cumulative;
  }
  return bounds.length ? bounds[bounds.length - 1] : null;
}

function ms(seconds) {
  return seconds === null ? "–" : `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 0)} ms`;
}

function renderTraffic(text) {
  const now = histogram(text);
  const before = traffic.previous;
  traffic.previous = now;
  if (!before) return;
  const seconds = (now.at - before.at) / 1000;
  const sample = {
    rate: Math.max(0, now.count - before.count) / seconds,
    p50: quantile(0.5, now, before),
    p95: quantile(0.95, now, before),
    p99: quantile(0.99, now, before),
  };
  traffic.samples.push(sample);
  if (traffic.samples.length > HISTORY) traffic.samples.shift();
  $("#rate").textContent = sample.rate.toFixed(1);
  $("#p50").textContent = ms(sample.p50);
  $("#p95").textContent = ms(sample.p95);
  $("#p99").textContent = ms(sample.p99);
  drawChart();
}

/// Rate on its own scale, the three quantiles on a shared latency scale.
function drawChart() {
  const svg = $("#traffic-chart");
  const [w, h] = [600, 120];
  const line = (values, colour) => {
    const max = Math.max(1e-9, ...values.filter((v) => v !== null));
    const step = w / (HISTORY - 1);
    const points = values
      .map((v, i) => (v === null ? null : `${(i * step).toFixed(1)},${(h - 4 - (v / max) * (h - 8)).toFixed(1)}`))
      .filter(Boolean)
      .join(" ");
    return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points}"/>`;
  };
  const s = traffic.samples;
  const latencyMax = Math.max(1e-9, ...s.flatMap((x) => [x.p50, x.p95, x.p99]).filter((v) => v !== null));
  const scaled = (key) => s.map((x) => (x[key] === null ? null : x[key] / latencyMax));
  svg.innerHTML =
    line(s.map((x) => x.rate), "#0969da") +
    line(scaled("p50"), "#1a7f37") + line(scaled("p95"), "#9a6700") + line(scaled("p99"), "#cf222e");
}

// ---- following the server ------------------------------------------------------

let timer = null;
/// The event stream's controller while one is open or being opened.
let stream = null;
let streamRetry = null;

/// Reads each panel; every panel fails on its own, so one failing API call
/// shows its error and leaves the others up to date.
const PANELS = {
  breakers: () => api("GET", "/api/breakers").then(renderBreakers),
  // One call: the list carries every endpoint's statistics.
  endpoints: () => api("GET", "/api/webhooks/endpoints").then(renderEndpoints),
  flags: () =>
    Promise.all([api("GET", "/api/flags"), api("GET", "/api/audit?limit=100").catch(() => [])])
      .then(([flags, audit]) => renderFlags(flags, latestChanges(audit))),
  traffic: () =>
    fetch("/metrics").then((r) => {
      if (!r.ok) throw new ApiError(`GET /metrics failed — ${r.status} ${r.statusText}`);
      return r.text();
    }).then(renderTraffic),
};

/// The panels the event stream keeps current while it is up.
const STREAMED = new Set(["breakers", "flags"]);

/// Reads the named panels (all by default).
async function refresh(names = Object.keys(PANELS)) {
  const failures = (await Promise.allSettled(names.map((name) => PANELS[name]())))
    .filter((r) => r.status === "rejected");
  if (failures.length) showError(failures[0].reason);
  showMode();
}

/// What the polling timer reads: everything while the stream is down, the
/// panels it does not cover while it is up.
function poll() {
  const live = $("#live").dataset.mode === "live";
  return refresh(Object.keys(PANELS).filter((name) => !(live && STREAMED.has(name))));
}

/// The header's indicator: "live" (events arrive as they happen) or
/// "polling" (every POLL_MS), and when the page was last updated.
function showMode(mode = $("#live").dataset.mode ?? "polling") {
  const indicator = $("#live");
  indicator.dataset.mode = mode;
  const how = mode === "live" ? "live" : `polling every ${POLL_MS / 1000} s`;
  indicator.textContent = `${how} · updated ${new Date().toLocaleTimeString()}`;
}

/// Splits server-sent-event text into complete frames; answers the frames
/// (`{event, data}`) and the unfinished rest.
function frames(text) {
  const parts = text.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = parts.pop();
  const parsed = parts.map((frame) => {
    let event = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith(":")) continue; // a keep-alive comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return { event, data: data.join("\n") };
  }).filter((frame) => frame.data !== "");
  return { parsed, rest };
}

/// Refreshes the panel an event is about; a `lagged` event (events were
/// dropped) rereads everything.
function onEvent(frame) {
  if (frame.event === "flag") return refresh(["flags"]);
  if (frame.event === "breaker") return refresh(["breakers"]);
  if (frame.event === "lagged") return refresh();
  return undefined; // `stats`: the endpoints panel is polled
}

/// Follows /api/events until it ends or fails, then falls back to polling
/// and tries again after a growing delay.
async function follow(delay = STREAM_RETRY_MS) {
  const controller = new AbortController();
  stream = controller;
  let opened = false;
  try {
    if (!window.ReadableStream || !window.TextDecoder) throw new Error("streams are not supported");
    const response = await fetch("/api/events", {
      headers: { authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE)}`, accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (response.status === 401) { signOut(); return; }
    if (!response.ok || !response.body) throw new Error(`GET /api/events: ${response.status}`);
    opened = true;
    showMode("live");
    // What changed while the stream was down.
    refresh([...STREAMED]);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const { parsed, rest } = frames(buffer + decoder.decode(value, { stream: true }));
      buffer = rest;
      parsed.forEach(onEvent);
    }
  } catch (_) {
    // The stream is optional: polling covers for it, and the indicator says so.
  }
  if (stream !== controller) return; // signed out meanwhile
  stream = null;
  showMode("polling");
  const next = opened ? STREAM_RETRY_MS : Math.min(delay * 2, STREAM_RETRY_MAX_MS);
  streamRetry = setTimeout(() => follow(next), opened ? STREAM_RETRY_MS : delay);
}

function start() {
  $("#sign-in").hidden = true;
  $("#panels").hidden = false;
  $("#sign-out").hidden = false;
  showMode("polling");
  refresh();
  timer = setInterval(poll, POLL_MS);
  follow();
}

function signOut() {
  sessionStorage.removeItem(KEY_STORAGE);
  clearInterval(timer);
  clearTimeout(streamRetry);
  const open = stream;
  stream = null;
  open?.abort();
  $("#panels").hidden = true;
  $("#sign-out").hidden = true;
  $("#sign-in").hidden = false;
  $("#live").textContent = "not signed in";
  delete $("#live").dataset.mode;
}

document.addEventListener("DOMContentLoaded", () => {
  $("#sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("#key").value.trim());
    $("#key").value = "";
    start();
  });
  $("#sign-out").addEventListener("click", signOut);
  $("#message-lookup").addEventListener("submit", (event) => {
    event.preventDefault();
    showMessage($("#message-id").value.trim()).then(clearError, showError);
  });
  if (sessionStorage.getItem(KEY_STORAGE)) start();
});
