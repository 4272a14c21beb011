// Browser tests of the dashboard, in headless Chromium driven by
// playwright-core, against a real `palisade` binary on 127.0.0.1 with its
// own SQLite file. `.ci/run` builds the binary and runs `npm ci && npm test`
// here; PALISADE_BIN names the binary (default: the cargo target dir's debug
// build), CHROMIUM the browser (default Debian's /usr/bin/chromium) and
// DASHBOARD_ARTIFACTS where screenshots go.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const TARGET = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, ".cache/palisade/target");
const BIN = process.env.PALISADE_BIN ?? join(TARGET, "debug/palisade");
const ARTIFACTS = process.env.DASHBOARD_ARTIFACTS ?? join(TARGET, "dashboard-artifacts");
const ADMIN = `pal_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("hex")}`;

let server;
let base;
let browser;
let dataDir;
let seededMessage;

/// A free port on 127.0.0.1, from the kernel.
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.on("error", reject);
  });
}

async function call(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/// Waits (bounded) until `check` holds.
async function eventually(check, what) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/// The server's environment: ours, without the host's Palisade settings.
function serverEnv() {
  const env = { ...process.env, PALISADE_ADMIN_TOKEN: ADMIN, DATABASE_URL: `sqlite://${join(dataDir, "palisade.db")}` };
  delete env.REDIS_URL;
  delete env.PALISADE_ADDR;
  delete env.PALISADE_PORT;
  return env;
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "palisade-dashboard-"));
  mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ["serve", "--port", String(port), "--webhook-allow-net", "127.0.0.0/8"], {
    env: serverEnv(),
    stdio: ["ignore", "inherit", "inherit"],
  });
  await eventually(async () => {
    try { return (await fetch(`${base}/health/live`)).ok; } catch (_) { return false; }
  }, "the server to start");

  // Seed: a flag gating /demo/flagged, an endpoint with a delivery, traffic.
  await call("PUT", "/api/flags/demo-flagged", { kind: "boolean", enabled: false });
  await call("POST", "/api/webhooks/event-types", { name: "order.created" });
  const created = await call("POST", "/api/webhooks/endpoints", { url: `${base}/health/live`, description: "seeded" });
  assert.ok(created.id);
  seededMessage = (await call("POST", "/api/webhooks/messages", { event_type: "order.created", payload: { id: 1 } })).id;
  await fetch(`${base}/demo/upstream`);

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/// A signed-in page, failing the test on any console error or page error.
/// `query` is added to the dashboard's address (e.g. `?poll=600000`);
/// `prepare` runs on the page before it loads (e.g. to block a route).
async function signedIn(t, viewport = { width: 1280, height: 800 }, query = "", prepare = async () => {}) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(e.message));
  t.after(() => page.close());
  await prepare(page);
  await page.goto(`${base}/dashboard${query}`);
  await page.getByLabel("API key").fill(ADMIN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("tr[data-flag='demo-flagged']").waitFor();
  return { page, errors };
}

test("the page loads and shows every panel without console errors", async (t) => {
  const { page, errors } = await signedIn(t);
  await page.locator("tr[data-breaker]").first().waitFor();
  await page.locator("tr[data-endpoint]").first().waitFor();
  await page.waitForFunction(() => document.querySelector("#rate").textContent !== "–");
  await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
  assert.equal(await page.locator("#error").isVisible(), false, await page.locator("#error").textContent());
  assert.deepEqual(errors, []);
});

test("toggling a flag in the page changes the gated route's answer", async (t) => {
  const { page } = await signedIn(t);
  assert.equal((await fetch(`${base}/demo/flagged`)).status, 404);
  await page.getByRole("switch", { name: "demo-flagged on" }).check();
  await eventually(async () => (await fetch(`${base}/demo/flagged`)).status === 200, "the gated route to turn on");
  await page.getByRole("switch", { name: "demo-flagged on" }).uncheck();
  await eventually(async () => (await fetch(`${base}/demo/flagged`)).status === 404, "the gated route to turn off");
});

test("forcing a breaker open turns its row red and its route answers 503", async (t) => {
  const { page } = await signedIn(t);
  const row = page.locator("tr[data-breaker='demo-upstream']");
  await row.getByRole("button", { name: "Force demo-upstream open" }).click();
  await eventually(async () => (await row.getAttribute("class")) === "open", "the row to show open");
  // Retried: a live event may re-render the table (a detached row has no
  // computed style) between the class check and this read.
  const red = async () => (await row.evaluate((el) => getComputedStyle(el).backgroundColor)) === "rgb(255, 235, 233)";
  await eventually(red, "the row's red background, rgb(255, 235, 233)");
  const answer = await fetch(`${base}/demo/upstream`);
  assert.equal(answer.status, 503);
  assert.ok(answer.headers.get("retry-after"));
  await row.getByRole("button", { name: "Close demo-upstream" }).click();
  await eventually(async () => (await row.getAttribute("class")) === "closed", "the row to show closed");
});

test("a failed API call is shown in words", async (t) => {
  const { page } = await signedIn(t);
  await page.getByLabel("Message id").fill("msg_does_not_exist");
  await page.getByRole("button", { name: "Show attempts" }).click();
  const banner = page.getByRole("alert");
  await banner.waitFor();
  assert.match(await banner.textContent(), /GET \/api\/webhooks\/messages\/msg_does_not_exist failed — .+/);
});

test("a narrow window keeps every control reachable", async (t) => {
  const { page } = await signedIn(t, { width: 390, height: 844 });
  const toggle = page.getByRole("switch", { name: "demo-flagged on" });
  // The page re-renders the table once more as the event stream opens; a
  // focus() that lands on the row being replaced focuses a detached node,
  // which no page could keep. So focus until the live toggle has it.
  await eventually(async () => {
    await toggle.focus();
    return toggle.evaluate((el) => el === document.activeElement);
  }, "the toggle to take the keyboard focus");
  // A change re-renders the flags table; the keyboard focus stays on the
  // (new) toggle rather than falling back to the page.
  const row = await page.$("tr[data-flag='demo-flagged']");
  const before = await toggle.isChecked();
  await call("PATCH", "/api/flags/demo-flagged", { enabled: !before });
  await eventually(async () => !(await row.evaluate((el) => el.isConnected)), "the flags table to re-render");
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "demo-flagged on");
  await call("PATCH", "/api/flags/demo-flagged", { enabled: before });
  // The page itself never scrolls sideways: wide tables scroll in their
  // own box, so every panel and control fits the window.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the window`);
  const box = await page.getByRole("button", { name: "Sign out" }).boundingBox();
  assert.ok(box && box.x + box.width <= 390, "the header's controls stay in view");
  await page.screenshot({ path: join(ARTIFACTS, "dashboard-narrow.png"), fullPage: true });
});

test("a flag changed through the API shows at once over the event stream", async (t) => {
  // Polling every 10 minutes: only the stream can bring the change in time.
  const { page, errors } = await signedIn(t, undefined, "?poll=600000");
  const indicator = page.locator("#live");
  await eventually(async () => (await indicator.getAttribute("data-mode")) === "live", "the stream to open");
  assert.match(await indicator.textContent(), /^live/);
  const toggle = page.getByRole("switch", { name: "demo-flagged on" });
  const before = await toggle.isChecked();
  await call("PATCH", "/api/flags/demo-flagged", { enabled: !before });
  await eventually(async () => (await toggle.isChecked()) === !before, "the flag's new value in the page");
  await call("PATCH", "/api/flags/demo-flagged", { enabled: before });
  await eventually(async () => (await toggle.isChecked()) === before, "the flag's old value in the page");
  assert.deepEqual(errors, []);
});

test("a breaker forced open through the API shows at once with its last transition", async (t) => {
  const { page } = await signedIn(t, undefined, "?poll=600000");
  await eventually(async () => (await page.locator("#live").getAttribute("data-mode")) === "live", "the stream to open");
  const row = page.locator("tr[data-breaker='demo-upstream']");
  await call("POST", "/api/breakers/demo-upstream/force-open", {});
  await eventually(async () => (await row.getAttribute("class")) === "open", "the row to show open");
  assert.match(await row.locator("td").nth(3).textContent(), /→ forced open, /);
  await call("POST", "/api/breakers/demo-upstream/close", {});
  await eventually(async () => (await row.getAttribute("class")) === "closed", "the row to show closed");
});

test("with the event stream blocked the page polls and says so", async (t) => {
  const { page, errors } = await signedIn(t, undefined, "?poll=500", (p) => p.route("**/api/events", (route) => route.abort()));
  const indicator = page.locator("#live");
  await eventually(async () => /^polling/.test(await indicator.textContent()), "the polling indicator");
  assert.equal(await indicator.getAttribute("data-mode"), "polling");
  // Changes still arrive, by polling.
  const toggle = page.getByRole("switch", { name: "demo-flagged on" });
  const before = await toggle.isChecked();
  await call("PATCH", "/api/flags/demo-flagged", { enabled: !before });
  await eventually(async () => (await toggle.isChecked()) === !before, "the flag's new value by polling");
  await call("PATCH", "/api/flags/demo-flagged", { enabled: before });
  assert.equal(await indicator.getAttribute("data-mode"), "polling");
  // An aborted request is logged by the browser as a failed resource.
  assert.deepEqual(errors.filter((e) => !/ERR_FAILED|Failed to load resource/.test(e)), []);
});

test("an endpoint shows its counts and last hour, and opens its messages and their attempts", async (t) => {
  // The seeded delivery has been attempted (the receiver answers a POST
  // with an error status, so it waits for a retry).
  await eventually(async () => (await call("GET", `/api/webhooks/messages/${seededMessage}`)).attempts.length > 0, "the first attempt");
  const { page, errors } = await signedIn(t);
  const row = page.locator("tr[data-endpoint]").first();
  await row.waitFor();
  await eventually(async () => /^\d+$/.test(await row.locator("td.pending").textContent()), "a numeric pending count");
  assert.match(await row.locator("td.dead").textContent(), /^\d+$/);
  assert.match(await row.locator("td.success").textContent(), /^\d+\.\d%$/);
  const chart = row.getByRole("img");
  await eventually(async () => (await chart.locator("rect").count()) > 0, "a bar in the chart");
  assert.match(await chart.getAttribute("aria-label"), /^last hour: \d+ succeeded, [1-9]\d* HTTP errors, \d+ without an answer$/);

  // Keyboard: the Messages button takes focus and opens the list.
  const open = row.getByRole("button", { name: /^Show the messages of / });
  await open.focus();
  await page.keyboard.press("Enter");
  const message = page.getByRole("button", { name: `Show the attempts of ${seededMessage}` });
  await message.waitFor();
  await message.click();
  const attempt = page.locator("#message tr.attempt").first();
  await attempt.waitFor();
  const cells = await attempt.locator("td").allTextContents();
  assert.match(cells[3], /^[45]\d\d$/, `status in ${cells}`);
  assert.match(cells[5], /^\d+ ms$/, `duration in ${cells}`);
  assert.equal(await page.locator("#error").isVisible(), false, await page.locator("#error").textContent());
  assert.deepEqual(errors, []);
});
