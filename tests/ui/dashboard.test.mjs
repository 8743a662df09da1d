// Headless Chromium test of the Switchyard dashboard, as a user sees it.
//
// Needs a running gateway:
//   SWITCHYARD_URL                 base URL of the gateway, e.g. http://127.0.0.1:7450
//   SWITCHYARD_ADMIN_TOKEN         its admin token
//   SWITCHYARD_EXPECT_REQUESTS     (optional) the number the "today's requests" card must show
//   SWITCHYARD_EXPECT_MODEL        (optional) a requested model that must appear in the recent requests table
//   SWITCHYARD_EXPECT_UNPRICED_MODEL (optional) a requested model whose row must show cost "unknown"
//   CHROMIUM                       (optional) browser binary, default /usr/bin/chromium
//   SWITCHYARD_UI_SCREENSHOT       (optional) where to save the screenshot, default /tmp/dashboard.png
//
// The recent requests must include at least one request whose price is unknown (cost_usd null), since the
// test checks that such a row shows "unknown" and never $0.
//
// Run: (cd tests/ui && npm ci) && node --test tests/ui/
// Playwright never downloads a browser here: it drives Debian's chromium through executablePath.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = "1";
const { chromium } = await import("playwright-core");

const BASE = (process.env.SWITCHYARD_URL || "").replace(/\/+$/, "");
const TOKEN = process.env.SWITCHYARD_ADMIN_TOKEN || "";
const EXPECT_REQUESTS = process.env.SWITCHYARD_EXPECT_REQUESTS;
const EXPECT_MODEL = process.env.SWITCHYARD_EXPECT_MODEL;
const EXPECT_UNPRICED_MODEL = process.env.SWITCHYARD_EXPECT_UNPRICED_MODEL;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SCREENSHOT = process.env.SWITCHYARD_UI_SCREENSHOT || "/tmp/dashboard.png";
const TEST_TIMEOUT = 60_000;
// The page refreshes every 5 s and the gateway writes its request log in batches: allow a few rounds.
const SETTLE_MS = 20_000;

let browser;
let main; // { context, page, pageErrors, foreignRequests }

// ----------------------------------------------------------------------------------------------------------
// Helpers

async function adminApi(method, path) {
  const res = await fetch(BASE + path, { method, headers: { Authorization: `Bearer ${TOKEN}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Polls `fn` until it returns a truthy value, or fails with the last value and `what`. */
async function waitUntil(what, fn, timeoutMs = SETTLE_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await fn();
      lastError = undefined;
      if (last) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}` + (lastError ? `: ${lastError.message}` : ""));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function openPage({ colorScheme = "light", url } = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, colorScheme });
  const page = await context.newPage();
  const pageErrors = [];
  const foreignRequests = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/401|Unauthorized/i.test(m.text())) pageErrors.push("console: " + m.text());
  });
  page.on("request", (r) => {
    if (!r.url().startsWith(BASE + "/") && !r.url().startsWith("data:")) foreignRequests.push(r.url());
  });
  if (url) await page.goto(url);
  return { context, page, pageErrors, foreignRequests };
}

const digits = (s) => Number(String(s).replace(/[^0-9]/g, ""));
const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);
const text = async (locator) => ((await locator.textContent()) || "").trim();

/** The recent requests table as the user sees it: one object per row. */
async function requestRows(page) {
  return page.$$eval('[data-testid="requests-table"] tbody tr', (trs) =>
    trs.map((tr) => {
      const cell = (f) => (tr.querySelector(`[data-field="${f}"]`)?.textContent || "").trim();
      return {
        id: tr.dataset.requestId,
        time: cell("time"),
        key: cell("key"),
        model: (tr.querySelector('[data-testid="request-model"]')?.textContent || "").trim(),
        provider: cell("provider"),
        status: (tr.querySelector('[data-field="status"] .badge')?.textContent || "").trim(),
        statusDetail: cell("status"),
        tokensIn: cell("tokens-in"),
        tokensOut: cell("tokens-out"),
        cost: cell("cost"),
        latency: cell("latency"),
        ttft: cell("ttft"),
      };
    })
  );
}

// ----------------------------------------------------------------------------------------------------------

before(async () => {
  assert.ok(BASE, "set SWITCHYARD_URL to the gateway's base URL (e.g. http://127.0.0.1:7450)");
  assert.ok(TOKEN, "set SWITCHYARD_ADMIN_TOKEN to the gateway's admin token");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  if (main) {
    try {
      await main.page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`# screenshot: ${SCREENSHOT}`);
    } catch (e) {
      console.log(`# screenshot failed: ${e.message}`);
    }
  }
  await browser?.close();
});

test("the token in the URL fragment opens the dashboard and leaves the address bar", { timeout: TEST_TIMEOUT }, async () => {
  main = await openPage({ url: `${BASE}/ui/#token=${encodeURIComponent(TOKEN)}` });
  const { page } = main;

  await page.locator('[data-testid="gateway-status"][data-state="running"]').waitFor({ timeout: SETTLE_MS });
  assert.ok(!page.url().includes("token"), `the token must be removed from the address bar, url is ${page.url()}`);
  assert.equal(await page.evaluate(() => location.hash), "");
  assert.equal(await page.title(), "Switchyard");
  assert.equal(await text(page.getByRole("heading", { level: 1 })), "Switchyard");
  assert.equal(await byTestId(page, "token-panel").isVisible(), false);

  const status = await adminApi("GET", "/api/status");
  assert.match(await text(byTestId(page, "status-state")), /running/i);
  assert.equal(await text(byTestId(page, "status-base-url")), status.base_url);
  assert.ok(status.base_url, "the gateway reports a base URL");
  assert.equal(new URL(status.base_url).port, new URL(BASE).port, "the base URL shown is this gateway's");
  assert.equal(await text(byTestId(page, "status-version")), status.version);
  assert.notEqual(await text(byTestId(page, "status-uptime")), "");
  assert.ok(await byTestId(page, "copy-base-url").isVisible(), "base URL has a copy button");

  // A reload keeps working: the token is in sessionStorage now, not in the URL.
  await page.reload();
  await page.locator('[data-testid="gateway-status"][data-state="running"]').waitFor({ timeout: SETTLE_MS });
  assert.ok(!page.url().includes("token"));
});

test("today's cards show the gateway's numbers", { timeout: TEST_TIMEOUT }, async () => {
  const { page } = main;
  const requestsCard = byTestId(page, "today-requests");

  if (EXPECT_REQUESTS !== undefined && EXPECT_REQUESTS !== "") {
    const want = Number(EXPECT_REQUESTS);
    await waitUntil(`today's requests card to show ${want}`, async () => {
      const shown = await text(requestsCard);
      return digits(shown) === want ? shown : false;
    });
  }
  // Whatever the count, the card agrees with the API (allowing a refresh or two to catch up).
  await waitUntil("today's cards to match /api/status", async () => {
    const status = await adminApi("GET", "/api/status");
    const t = status.today;
    const requests = digits(await text(requestsCard));
    const errors = digits(await text(byTestId(page, "today-errors")));
    if (requests !== t.requests || errors !== t.errors) throw new Error(`page shows ${requests}/${errors}, API ${t.requests}/${t.errors}`);
    const spend = await text(byTestId(page, "today-spend"));
    if (t.cost_usd < 1) assert.match(spend, /^\$0\.\d{4}$/, "spend under $1 has 4 decimals");
    else assert.match(spend, /^\$[\d,]+\.\d{2}$/);
    assert.ok(Math.abs(Number(spend.replace(/[$,]/g, "")) - t.cost_usd) < 0.01, `spend ${spend} vs ${t.cost_usd}`);
    const unpriced = byTestId(page, "today-unpriced");
    if (t.unpriced_requests > 0) {
      assert.ok(await unpriced.isVisible(), "unpriced requests are noted");
      assert.equal(digits(await text(unpriced)), t.unpriced_requests);
      assert.match(await text(unpriced), /unknown price/);
    } else {
      assert.equal(await unpriced.isVisible(), false);
    }
    assert.match(await text(byTestId(page, "today-tokens")), /in .* out/);
    return true;
  });
});

test("the providers table lists every provider with its key status", { timeout: TEST_TIMEOUT }, async () => {
  const { page } = main;
  const status = await adminApi("GET", "/api/status");
  const table = byTestId(page, "providers-table");
  const headers = await table.locator("thead th").allTextContents();
  assert.deepEqual(headers.map((h) => h.trim()), ["Name", "Kind", "Base URL", "Key"]);
  for (const p of status.providers) {
    const row = table.locator(`tbody tr[data-provider="${p.name}"]`);
    assert.equal(await row.count(), 1, `a row for provider ${p.name}`);
    assert.equal(await text(row.locator('[data-field="name"]')), p.name);
    assert.equal(await text(row.locator('[data-field="base-url"]')), p.base_url);
    const key = await text(row.locator('[data-field="key"] .badge'));
    assert.equal(key, { ok: "set", missing: "missing", "not-needed": "not needed" }[p.key] ?? p.key);
  }
  assert.equal(await table.locator("tbody tr").count(), status.providers.length);
});

test("recent requests show what the gateway logged, unknown prices as 'unknown'", { timeout: TEST_TIMEOUT }, async () => {
  const { page } = main;
  const table = byTestId(page, "requests-table");
  const headers = (await table.locator("thead th").allTextContents()).map((h) => h.trim());
  for (const h of ["Time", "Key", "Model", "Provider", "Status", "Tokens in", "Tokens out", "Cost", "Latency ms", "TTFT ms"]) {
    assert.ok(headers.includes(h), `requests table has a "${h}" column header`);
  }

  // Wait until the table shows the same rows as the API, newest first.
  let api;
  const rows = await waitUntil("the requests table to match /api/requests", async () => {
    api = (await adminApi("GET", "/api/requests?limit=20")).requests;
    const shown = await requestRows(page);
    const same = shown.length === api.length && shown.every((r, i) => r.id === api[i].request_id);
    if (!same) return false;
    if (EXPECT_MODEL && !shown.some((r) => r.model === EXPECT_MODEL)) return false;
    return shown;
  });
  assert.ok(rows.length > 0, "there are recent requests");
  if (EXPECT_MODEL) assert.ok(rows.some((r) => r.model === EXPECT_MODEL), `a row with model ${EXPECT_MODEL}`);

  for (const [i, row] of rows.entries()) {
    const r = api[i];
    assert.notEqual(row.time, "", "time is shown");
    assert.notEqual(row.time, "—");
    assert.equal(row.model, r.requested_model ?? "—");
    assert.equal(digits(row.status), r.status);
    assert.equal(digits(row.tokensOut), r.output_tokens);
    const inAll = r.input_tokens + r.cache_read_tokens + r.cache_write_5m_tokens + r.cache_write_1h_tokens;
    assert.equal(digits(row.tokensIn), inAll);
    if (r.cost_usd === null) {
      assert.equal(row.cost, "unknown", `request ${r.request_id} has no price: shows "unknown", not $0`);
    } else {
      assert.match(row.cost, /^\$[\d,]+\.\d+$/, `request ${r.request_id} cost`);
      assert.ok(Math.abs(Number(row.cost.replace(/[$,]/g, "")) - r.cost_usd) < 0.0001);
    }
    if (r.latency_ms !== null) assert.equal(digits(row.latency), Math.round(r.latency_ms));
    if (r.ttft_ms !== null) assert.equal(digits(row.ttft), Math.round(r.ttft_ms));
  }

  const unknownRows = rows.filter((r) => r.cost === "unknown");
  assert.ok(
    unknownRows.length > 0,
    "the recent requests should include one whose price is unknown (the test runner must make such a request)"
  );
  if (EXPECT_UNPRICED_MODEL) {
    assert.ok(unknownRows.some((r) => r.model === EXPECT_UNPRICED_MODEL), `a row for ${EXPECT_UNPRICED_MODEL} shows "unknown"`);
  }
});

test("creating a key shows its secret once, and revoking it marks it revoked", { timeout: TEST_TIMEOUT }, async () => {
  const { page } = main;
  const name = `ui-test-${Date.now().toString(36)}`;

  await page.getByLabel("New key name").fill(name);
  await page.getByRole("button", { name: "Create key" }).click();

  const secretBox = byTestId(page, "new-key-secret");
  await secretBox.waitFor({ state: "visible", timeout: SETTLE_MS });
  const secret = await text(secretBox);
  assert.match(secret, /^sy-\S{16,}$/, "the new key's secret is shown");
  assert.match(await text(byTestId(page, "new-key-box")), /won't be shown again/);
  assert.ok(await byTestId(page, "copy-new-key").isVisible(), "the secret has a copy button");

  const row = byTestId(page, "keys-table").locator(`tbody tr[data-key-name="${name}"]`);
  await row.first().waitFor({ timeout: SETTLE_MS });
  assert.equal(await row.count(), 1);
  assert.equal(await row.getAttribute("data-state"), "active");
  const listed = (await adminApi("GET", "/api/keys")).keys.find((k) => k.name === name && k.revoked_ms === null);
  assert.ok(listed, "the API lists the new key");
  assert.ok(secret.startsWith(listed.prefix), "the secret starts with the key's prefix");
  assert.ok((await text(row.locator('[data-field="prefix"]'))).startsWith(listed.prefix), "the prefix is shown");
  assert.ok(!(await text(byTestId(page, "keys-table"))).includes(secret), "the full secret is not in the keys table");

  // Dismissing the confirmation changes nothing.
  page.once("dialog", (d) => d.dismiss());
  await row.getByRole("button", { name: `Revoke key ${name}` }).click();
  await page.waitForTimeout(500);
  assert.equal(await row.getAttribute("data-state"), "active");

  // Accepting it revokes the key.
  let dialogMessage = "";
  page.once("dialog", (d) => {
    dialogMessage = d.message();
    assert.equal(d.type(), "confirm");
    d.accept();
  });
  await row.getByRole("button", { name: `Revoke key ${name}` }).click();
  await waitUntil("the key to show as revoked", async () => (await row.getAttribute("data-state")) === "revoked");
  assert.match(dialogMessage, new RegExp(name));
  assert.match(await text(row.locator('[data-field="state"]')), /revoked/);
  assert.equal(await row.getByRole("button", { name: /Revoke/ }).count(), 0, "a revoked key has no revoke button");
  const after = (await adminApi("GET", "/api/keys")).keys.filter((k) => k.name === name);
  assert.ok(after.length >= 1 && after.every((k) => k.revoked_ms !== null), "the API has the key revoked");

  await page.getByRole("button", { name: "Done" }).click();
  assert.equal(await secretBox.isVisible(), false, "the secret goes away when dismissed");
});

test("without a token the page asks for one, and accepts the right one", { timeout: TEST_TIMEOUT }, async () => {
  const p = await openPage({ url: `${BASE}/ui/` });
  try {
    const form = byTestId(p.page, "token-panel");
    await form.waitFor({ state: "visible" });
    assert.equal(await byTestId(p.page, "dashboard").isVisible(), false);
    const explanation = await text(form);
    assert.match(explanation, /admin-token/);
    assert.match(explanation, /switchyard dashboard/);
    assert.equal(await byTestId(p.page, "token-error").isVisible(), false, "no error before a token was tried");

    await p.page.getByLabel("Admin token", { exact: true }).fill(TOKEN);
    await p.page.getByRole("button", { name: "Open dashboard" }).click();
    await p.page.locator('[data-testid="gateway-status"][data-state="running"]').waitFor({ timeout: SETTLE_MS });
    assert.equal(await form.isVisible(), false);
    assert.ok(await byTestId(p.page, "dashboard").isVisible());
    assert.deepEqual(p.pageErrors, []);
  } finally {
    await p.context.close();
  }
});

test("a wrong token shows the token form with an error", { timeout: TEST_TIMEOUT }, async () => {
  const p = await openPage({ url: `${BASE}/ui/#token=not-the-admin-token` });
  try {
    const error = byTestId(p.page, "token-error");
    await error.waitFor({ state: "visible", timeout: SETTLE_MS });
    assert.ok(await byTestId(p.page, "token-panel").isVisible());
    assert.equal(await byTestId(p.page, "dashboard").isVisible(), false);
    assert.match(await text(error), /admin token/i);
    assert.ok(!p.page.url().includes("not-the-admin-token"), "the wrong token is removed from the address bar");
    const stored = await p.page.evaluate(() => Object.values(sessionStorage));
    assert.ok(!stored.includes("not-the-admin-token"), "a refused token is not kept");
  } finally {
    await p.context.close();
  }
});

test("the page loads nothing from elsewhere and raises no script errors", { timeout: TEST_TIMEOUT }, async () => {
  assert.deepEqual(main.foreignRequests, [], "every request goes to the gateway itself");
  assert.deepEqual(main.pageErrors, []);
});

test("dark mode renders", { timeout: TEST_TIMEOUT }, async () => {
  const p = await openPage({ colorScheme: "dark", url: `${BASE}/ui/#token=${encodeURIComponent(TOKEN)}` });
  try {
    await p.page.locator('[data-testid="gateway-status"][data-state="running"]').waitFor({ timeout: SETTLE_MS });
    const [bg, fg] = await p.page.evaluate(() => {
      const s = getComputedStyle(document.documentElement);
      return [s.backgroundColor, s.color];
    });
    const lum = (c) => {
      const [r, g, b] = c.match(/\d+/g).map(Number);
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    assert.ok(lum(bg) < 80 && lum(fg) > 170, `dark background with light text (bg ${bg}, text ${fg})`);
    await p.page.screenshot({ path: SCREENSHOT.replace(/(\.png)?$/, "-dark.png"), fullPage: true });
  } finally {
    await p.context.close();
  }
});
