// Switchyard dashboard. Plain JS, no build step, no external resources.
// Talks only to the gateway's admin HTTP API on the same origin (see the design notes, "The UI uses the
// admin HTTP API and nothing else"). Every piece of data is put into the page with textContent, never innerHTML.
"use strict";

(() => {
  const TOKEN_STORAGE_KEY = "switchyard.adminToken";
  const REFRESH_MS = 5000;
  const REQUEST_LIMIT = 20;

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------------------------------------------------
  // Admin token: arrives as #token=... in the URL, kept in sessionStorage, removed from the address bar.

  let memoryToken = null; // fallback when sessionStorage is unavailable

  function loadToken() {
    try {
      return sessionStorage.getItem(TOKEN_STORAGE_KEY) || memoryToken;
    } catch {
      return memoryToken;
    }
  }

  function saveToken(value) {
    memoryToken = value;
    try {
      if (value) sessionStorage.setItem(TOKEN_STORAGE_KEY, value);
      else sessionStorage.removeItem(TOKEN_STORAGE_KEY);
    } catch {
      /* storage disabled: keep it in memory only */
    }
  }

  /** Moves a token from the URL fragment into storage. Returns true if the fragment carried one. */
  function takeTokenFromHash() {
    const fragment = location.hash.replace(/^#/, "");
    if (!fragment) return false;
    const params = new URLSearchParams(fragment);
    if (!params.has("token")) return false;
    const value = (params.get("token") || "").trim();
    params.delete("token");
    const rest = params.toString();
    history.replaceState(history.state, "", location.pathname + location.search + (rest ? "#" + rest : ""));
    if (value) saveToken(value);
    return value !== "";
  }

  // ---------------------------------------------------------------------------------------------------------
  // API access.

  class ApiError extends Error {
    constructor(status, message, type) {
      super(message);
      this.status = status;
      this.type = type || null;
    }
  }

  let generation = 0; // bumped whenever the token changes, so late answers for an old token are ignored

  async function errorMessageOf(res) {
    let text = "";
    try {
      text = await res.text();
    } catch {
      /* ignore */
    }
    try {
      const body = JSON.parse(text);
      if (body && body.error && typeof body.error.message === "string" && body.error.message) {
        return { message: body.error.message, type: body.error.type || null };
      }
    } catch {
      /* not JSON */
    }
    const plain = text.trim().slice(0, 300);
    return { message: plain || `HTTP ${res.status} ${res.statusText}`.trim(), type: null };
  }

  async function api(method, path, body) {
    const token = loadToken();
    const myGeneration = generation;
    const headers = { Accept: "application/json", Authorization: "Bearer " + token };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "Cannot reach the gateway (" + (e && e.message ? e.message : "network error") + ").", "network");
    }
    if (myGeneration !== generation) throw new ApiError(-1, "stale", "stale");
    if (res.status === 401) {
      const { message, type } = await errorMessageOf(res);
      if (myGeneration === generation) onUnauthorized(message);
      throw new ApiError(401, message, type || "unauthorized");
    }
    if (!res.ok) {
      const { message, type } = await errorMessageOf(res);
      throw new ApiError(res.status, message, type);
    }
    if (res.status === 204) return null;
    const text = await res.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(res.status, "The gateway sent an answer that is not JSON.", "bad_response");
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Formatting.

  const intFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

  function num(v) {
    return typeof v === "number" && Number.isFinite(v) ? v : 0;
  }

  function formatInt(v) {
    return v === null || v === undefined ? "—" : intFormat.format(v);
  }

  function formatCompact(v) {
    return v < 1000 ? intFormat.format(v) : compactFormat.format(v);
  }

  /** USD: 4 decimals under $1, cents above. null means the price is unknown, never $0. */
  function formatUsd(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return "unknown";
    const abs = Math.abs(v);
    const digits = abs < 1 ? 4 : 2;
    return (
      (v < 0 ? "-$" : "$") +
      abs.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits })
    );
  }

  function formatMs(v) {
    return v === null || v === undefined || !Number.isFinite(v) ? "—" : intFormat.format(Math.round(v));
  }

  function formatUptime(seconds) {
    let s = Math.max(0, Math.floor(num(seconds)));
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  function sameLocalDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function formatTime(ms) {
    if (ms === null || ms === undefined) return "—";
    const d = new Date(ms);
    if (Number.isNaN(d.getTime())) return "—";
    return sameLocalDay(d, new Date()) ? d.toLocaleTimeString() : d.toLocaleString();
  }

  function formatDate(ms) {
    if (ms === null || ms === undefined) return "—";
    const d = new Date(ms);
    return Number.isNaN(d.getTime()) ? "—" : d.toLocaleString();
  }

  function plural(n, one, many) {
    return `${formatInt(n)} ${n === 1 ? one : many}`;
  }

  // ---------------------------------------------------------------------------------------------------------
  // DOM helpers (textContent only).

  function el(tag, options, ...children) {
    const node = document.createElement(tag);
    const o = options || {};
    if (o.text !== undefined && o.text !== null) node.textContent = String(o.text);
    if (o.className) node.className = o.className;
    if (o.title) node.title = String(o.title);
    if (o.attrs) for (const [k, v] of Object.entries(o.attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    if (o.data) for (const [k, v] of Object.entries(o.data)) if (v !== null && v !== undefined) node.dataset[k] = String(v);
    for (const c of children) if (c) node.append(c);
    return node;
  }

  function td(field, text, options) {
    const o = Object.assign({}, options || {});
    o.text = text;
    o.data = Object.assign({ field }, o.data || {});
    return el("td", o);
  }

  function showMessage(node, message) {
    node.textContent = message || "";
    node.hidden = !message;
  }

  function setButtonFeedback(button, text) {
    const original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = text;
    clearTimeout(button._feedbackTimer);
    button._feedbackTimer = setTimeout(() => {
      button.textContent = original;
    }, 1500);
  }

  async function copyText(text, button) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch {
      ok = false;
    }
    if (!ok) {
      const area = el("textarea", { className: "visually-hidden", attrs: { readonly: "", "aria-hidden": "true" } });
      area.value = text;
      document.body.append(area);
      area.select();
      try {
        ok = document.execCommand("copy");
      } catch {
        ok = false;
      }
      area.remove();
    }
    setButtonFeedback(button, ok ? "Copied" : "Copy failed");
  }

  // Tables are re-rendered only when their data changed, so a refresh does not steal focus or selection.
  const lastRendered = new Map();
  function changed(name, data) {
    const json = JSON.stringify(data);
    if (lastRendered.get(name) === json) return false;
    lastRendered.set(name, json);
    return true;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Rendering.

  let currentBaseUrl = "";

  function setState(kind, text) {
    const node = $("status-state");
    node.className = "state state-" + kind;
    node.textContent = text;
    $("gateway-status").dataset.state = kind;
  }

  function renderStatus(s) {
    setState("running", "Running");
    $("status-version").textContent = s.version || "?";
    $("status-version-item").hidden = false;
    currentBaseUrl = s.base_url || "";
    $("status-base-url").textContent = currentBaseUrl || "—";
    $("copy-base-url").hidden = !currentBaseUrl;
    $("status-base-url-item").hidden = false;
    $("status-uptime").textContent = formatUptime(s.uptime_s);
    $("status-uptime-item").hidden = false;

    const t = s.today || {};
    const requests = num(t.requests);
    const errors = num(t.errors);
    $("today-requests").textContent = formatInt(requests);
    $("today-errors").textContent = formatInt(errors);
    $("today-errors").closest(".card").classList.toggle("card-bad", errors > 0);

    $("today-spend").textContent = formatUsd(t.cost_usd === undefined ? 0 : t.cost_usd);
    const unpriced = num(t.unpriced_requests);
    showMessage(
      $("today-unpriced"),
      unpriced > 0 ? `plus ${plural(unpriced, "request", "requests")} with unknown price` : ""
    );

    const cacheRead = num(t.cache_read_tokens);
    const cacheWrite = num(t.cache_write_tokens);
    const inputAll = num(t.input_tokens) + cacheRead + cacheWrite;
    const output = num(t.output_tokens);
    const tokens = $("today-tokens");
    tokens.textContent = `${formatCompact(inputAll)} in · ${formatCompact(output)} out`;
    tokens.title = `${formatInt(inputAll)} input tokens, ${formatInt(output)} output tokens`;
    $("today-tokens-detail").textContent =
      cacheRead || cacheWrite
        ? `of input: ${formatCompact(cacheRead)} cache read, ${formatCompact(cacheWrite)} cache write`
        : "no prompt caching";

    const dropped = num(s.log_dropped);
    showMessage(
      $("log-dropped"),
      dropped > 0
        ? `${plural(dropped, "request log entry was", "request log entries were")} dropped because the log writer fell behind; the totals above miss them.`
        : ""
    );

    renderProviders(Array.isArray(s.providers) ? s.providers : []);
  }

  const KEY_STATUS = {
    ok: { text: "set", className: "badge badge-ok" },
    missing: { text: "missing", className: "badge badge-bad" },
    "not-needed": { text: "not needed", className: "badge badge-muted" },
  };

  function renderProviders(providers) {
    if (!changed("providers", providers)) return;
    const body = $("providers-table").tBodies[0];
    const rows = providers.map((p) => {
      const ks = KEY_STATUS[p.key] || { text: String(p.key || "?"), className: "badge badge-muted" };
      const keyCell = td("key", null);
      keyCell.append(el("span", { text: ks.text, className: ks.className }));
      if (p.key === "missing" && p.key_error) keyCell.append(el("div", { text: p.key_error, className: "sub error-text" }));
      const kindCell = td("kind", null);
      kindCell.append(el("span", { text: p.kind || "—" }));
      if (p.wire_format && p.wire_format !== p.kind) kindCell.append(el("div", { text: p.wire_format, className: "sub muted" }));
      const urlCell = td("base-url", null);
      urlCell.append(el("code", { text: p.base_url || "—" }));
      return el(
        "tr",
        { data: { provider: p.name, keyStatus: p.key } },
        el("th", { text: p.name, attrs: { scope: "row" }, data: { field: "name" } }),
        kindCell,
        urlCell,
        keyCell
      );
    });
    body.replaceChildren(...rows);
    $("providers-empty").hidden = providers.length > 0;
  }

  function renderRequests(requests) {
    if (!changed("requests", requests)) return;
    const body = $("requests-table").tBodies[0];
    const rows = requests.map((r) => {
      const status = r.status;
      const ok = typeof status === "number" && status >= 200 && status < 400;
      const inputAll =
        num(r.input_tokens) + num(r.cache_read_tokens) + num(r.cache_write_5m_tokens) + num(r.cache_write_1h_tokens);

      const timeCell = td("time", formatTime(r.ts_ms), {
        title: r.ts_ms ? new Date(r.ts_ms).toString() : null,
      });

      const modelCell = td("model", null);
      modelCell.append(el("span", { text: r.requested_model || "—", className: "model-name", data: { testid: "request-model" } }));
      if (r.upstream_model && r.upstream_model !== r.requested_model) {
        modelCell.append(el("div", { text: "as " + r.upstream_model, className: "sub muted" }));
      }

      const statusCell = td("status", null);
      statusCell.append(
        el("span", {
          text: status === null || status === undefined ? "—" : status,
          className: "badge " + (ok ? "badge-ok" : "badge-bad"),
        })
      );
      if (!ok && (r.error_kind || r.error_message)) {
        const msg = [r.error_kind, r.error_message].filter(Boolean).join(": ");
        statusCell.append(el("div", { text: msg.length > 120 ? msg.slice(0, 117) + "…" : msg, title: msg, className: "sub error-text" }));
      }

      const inTitle = [
        `${formatInt(num(r.input_tokens))} uncached`,
        `${formatInt(num(r.cache_read_tokens))} cache read`,
        `${formatInt(num(r.cache_write_5m_tokens) + num(r.cache_write_1h_tokens))} cache write`,
      ].join(", ");
      const outTitle = num(r.reasoning_tokens) ? `${formatInt(num(r.reasoning_tokens))} of them reasoning` : null;
      const costUnknown = r.cost_usd === null || r.cost_usd === undefined;

      return el(
        "tr",
        { className: ok ? "" : "row-error", data: { requestId: r.request_id, costUnknown: costUnknown ? "true" : "false" } },
        timeCell,
        td("key", r.key_name || "—"),
        modelCell,
        td("provider", r.provider || "—"),
        statusCell,
        td("tokens-in", formatInt(inputAll), { className: "num", title: inTitle }),
        td("tokens-out", formatInt(num(r.output_tokens)), { className: "num", title: outTitle }),
        td("cost", formatUsd(r.cost_usd), {
          className: "num" + (costUnknown ? " muted" : ""),
          title: costUnknown ? "No price is known for this model" : null,
        }),
        td("latency", formatMs(r.latency_ms), { className: "num" }),
        td("ttft", formatMs(r.ttft_ms), { className: "num" })
      );
    });
    body.replaceChildren(...rows);
    $("requests-empty").hidden = requests.length > 0;
  }

  function renderKeys(keys) {
    if (!changed("keys", keys)) return;
    const body = $("keys-table").tBodies[0];
    // Active keys first, then revoked ones, newest first within each group.
    const sorted = keys.slice().sort((a, b) => {
      const ra = a.revoked_ms ? 1 : 0;
      const rb = b.revoked_ms ? 1 : 0;
      return ra - rb || num(b.created_ms) - num(a.created_ms);
    });
    const rows = sorted.map((k) => {
      const revoked = k.revoked_ms !== null && k.revoked_ms !== undefined;
      const stateCell = td("state", null);
      stateCell.append(el("span", { text: revoked ? "revoked" : "active", className: "badge " + (revoked ? "badge-muted" : "badge-ok") }));
      if (revoked) stateCell.append(el("span", { text: " " + formatDate(k.revoked_ms), className: "muted" }));
      const actions = td("actions", null, { className: "actions" });
      if (!revoked) {
        const button = el("button", {
          text: "Revoke",
          className: "danger small",
          attrs: { type: "button", "aria-label": `Revoke key ${k.name}` },
          data: { testid: "revoke-key" },
        });
        button.addEventListener("click", () => revokeKey(k.name, button));
        actions.append(button);
      }
      const prefixCell = td("prefix", null);
      prefixCell.append(el("code", { text: (k.prefix || "") + "…" }));
      return el(
        "tr",
        { className: revoked ? "row-revoked" : "", data: { keyName: k.name, state: revoked ? "revoked" : "active" } },
        el("th", { text: k.name, attrs: { scope: "row" }, data: { field: "name" } }),
        prefixCell,
        td("created", formatDate(k.created_ms)),
        stateCell,
        actions
      );
    });
    body.replaceChildren(...rows);
    $("keys-empty").hidden = keys.length > 0;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Loading and refreshing.

  let refreshTimer = null;
  let running = false;

  function handleLoadError(e) {
    if (e.status === 401 || e.status === -1) return; // token form shown already / stale answer
    if (e.status === 0) {
      setState("down", "Unreachable");
      showMessage($("global-error"), "Cannot reach the gateway. Is it running? Retrying every 5 seconds.");
    } else {
      showMessage($("global-error"), e.message);
    }
  }

  async function loadStatus() {
    const s = await api("GET", "/api/status");
    renderStatus(s || {});
  }

  async function loadRequests() {
    const r = await api("GET", `/api/requests?limit=${REQUEST_LIMIT}`);
    renderRequests(r && Array.isArray(r.requests) ? r.requests : []);
  }

  async function loadKeys() {
    const r = await api("GET", "/api/keys");
    renderKeys(r && Array.isArray(r.keys) ? r.keys : []);
  }

  async function refresh(includeKeys) {
    const jobs = [loadStatus(), loadRequests()];
    if (includeKeys) jobs.push(loadKeys());
    const results = await Promise.allSettled(jobs);
    const failures = results.filter((r) => r.status === "rejected").map((r) => r.reason);
    if (failures.length === 0) {
      showMessage($("global-error"), "");
    } else {
      // A network failure is the most useful thing to say; otherwise the first error.
      handleLoadError(failures.find((e) => e.status === 0) || failures[0]);
    }
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    if (!running) return;
    refreshTimer = setTimeout(async () => {
      if (!running) return;
      if (document.hidden) {
        scheduleRefresh();
        return;
      }
      await refresh(true);
      scheduleRefresh();
    }, REFRESH_MS);
  }

  function start() {
    generation++;
    running = true;
    lastRendered.clear();
    $("token-panel").hidden = true;
    $("dashboard").hidden = false;
    setState("unknown", "Connecting…");
    refresh(true).then(() => scheduleRefresh());
  }

  function stop() {
    running = false;
    clearTimeout(refreshTimer);
    generation++;
  }

  function showTokenForm(error) {
    stop();
    $("dashboard").hidden = true;
    for (const id of ["status-version-item", "status-base-url-item", "status-uptime-item"]) $(id).hidden = true;
    setState("locked", "Admin token needed");
    $("token-panel").hidden = false;
    showMessage($("token-error"), error || "");
    const input = $("token-input");
    input.value = "";
    input.focus();
  }

  function onUnauthorized(message) {
    saveToken(null);
    showTokenForm(
      "The gateway did not accept this admin token" + (message ? ` (${message})` : "") + ". Enter the current one."
    );
  }

  // ---------------------------------------------------------------------------------------------------------
  // Keys: create and revoke.

  async function createKey(event) {
    event.preventDefault();
    const input = $("new-key-name");
    const name = input.value.trim();
    showMessage($("keys-error"), "");
    if (!name) {
      showMessage($("keys-error"), "Give the key a name, for example the client that will use it.");
      input.focus();
      return;
    }
    const submit = $("new-key-form").querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const created = await api("POST", "/api/keys", { name });
      if (!created || typeof created.key !== "string") throw new ApiError(500, "The gateway did not return the new key.");
      $("new-key-name-shown").textContent = created.name || name;
      $("new-key-secret").textContent = created.key;
      $("new-key-box").hidden = false;
      input.value = "";
      await loadKeys().catch(handleKeysError);
      loadStatus().catch(() => {});
    } catch (e) {
      handleKeysError(e);
    } finally {
      submit.disabled = false;
    }
  }

  async function revokeKey(name, button) {
    showMessage($("keys-error"), "");
    const ok = window.confirm(
      `Revoke the gateway key "${name}"?\n\nClients using it will be refused from then on. This cannot be undone.`
    );
    if (!ok) return;
    button.disabled = true;
    try {
      await api("DELETE", "/api/keys/" + encodeURIComponent(name));
      await loadKeys();
      loadStatus().catch(() => {});
    } catch (e) {
      button.disabled = false;
      handleKeysError(e);
    }
  }

  function handleKeysError(e) {
    if (e.status === 401 || e.status === -1) return;
    showMessage($("keys-error"), e.message);
  }

  function hideNewKey() {
    $("new-key-secret").textContent = "";
    $("new-key-name-shown").textContent = "";
    $("new-key-box").hidden = true;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Wiring.

  function init() {
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("token-input").value.trim();
      if (!value) return;
      saveToken(value);
      $("token-input").value = "";
      start();
    });
    $("new-key-form").addEventListener("submit", createKey);
    $("copy-base-url").addEventListener("click", (e) => copyText(currentBaseUrl, e.currentTarget));
    $("copy-new-key").addEventListener("click", (e) => copyText($("new-key-secret").textContent, e.currentTarget));
    $("dismiss-new-key").addEventListener("click", hideNewKey);
    window.addEventListener("hashchange", () => {
      if (takeTokenFromHash()) start();
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && running) refresh(true).then(() => scheduleRefresh());
    });

    takeTokenFromHash();
    if (loadToken()) start();
    else showTokenForm("");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
