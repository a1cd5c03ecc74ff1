// The cockpit page's one script, served as /page.js (see page.ts). Plain browser JavaScript, no
// build step; not named page.js, which Node would load for `require("./page")`. It keeps the
// bearer token in sessionStorage (gone when the tab closes), talks only to the cockpit's REST
// API, and writes every value with textContent, never as HTML.
/* global document, location, history, sessionStorage, fetch, AbortController, TextDecoder */
"use strict";

(function () {
  const KEY = "g8os-cockpit-token";
  const FINAL = ["succeeded", "failed", "cancelled"];
  const $ = (id) => document.getElementById(id);
  let me = null;
  let following = null; // { id, abort }
  let timer = null;
  // Bumped on every login and logout: an answer that arrives for an earlier login is dropped.
  let session = 0;

  // The login callback sends the browser back with the token in the fragment; keep it, drop it
  // from the address bar and the history.
  if (location.hash.startsWith("#token=")) {
    sessionStorage.setItem(KEY, decodeURIComponent(location.hash.slice("#token=".length)));
    history.replaceState(null, "", location.pathname);
  }

  function token() {
    return sessionStorage.getItem(KEY);
  }

  async function api(method, path) {
    const res = await fetch(path, {
      method,
      headers: { Authorization: "Bearer " + token(), Accept: "application/json" },
    });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) {
      sessionStorage.removeItem(KEY);
      showLogin((body.error && body.error.message) || "the login was refused");
      throw new Error("logged out");
    }
    if (!res.ok)
      throw new Error((body.error && body.error.message) || method + " " + path + ": HTTP " + res.status);
    return body;
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function fill(tbody, rows, render) {
    tbody.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement("tr");
      render(tr, r);
      tbody.appendChild(tr);
    }
  }

  function changes(c) {
    const parts = Object.entries(c || {})
      .filter(([op, n]) => op !== "same" && n > 0)
      .map(([op, n]) => op + " " + n);
    return parts.length ? parts.join(", ") : "";
  }

  function showLogin(message) {
    stop();
    session++;
    me = null;
    for (const id of ["stacks", "nodes", "apps", "runs"]) $(id).replaceChildren();
    $("build").textContent = "";
    $("log").textContent = "";
    $("log-section").hidden = true;
    delete document.body.dataset.role;
    $("main").hidden = true;
    $("logout").hidden = true;
    $("who").textContent = "not logged in";
    $("login").hidden = false;
    $("login-error").textContent = message || "";
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    if (following) following.abort.abort();
    following = null;
  }

  function renderStatus(s) {
    fill($("stacks"), s.stacks || [], (tr, st) => {
      tr.dataset.stack = st.name;
      cell(tr, st.name);
      cell(
        tr,
        st.current ? st.current.kind + " " + st.current.state : "idle",
        st.current ? "state-" + st.current.state : "",
      );
      cell(tr, st.queued);
      cell(
        tr,
        st.lastRun ? st.lastRun.kind + " " + st.lastRun.state + " " + (st.lastRun.finishedAt || "") : "none",
        st.lastRun ? "state-" + st.lastRun.state : "",
      );
    });
    const env = s.environment || {};
    fill($("nodes"), env.nodes || [], (tr, n) => {
      tr.dataset.node = n.name;
      cell(tr, n.name);
      cell(tr, n.kind);
      cell(tr, n.address);
      cell(tr, n.state, "state-" + n.state);
      cell(tr, n.lastSeen || "");
      cell(tr, n.detail || "");
    });
    const b = env.build;
    $("build").textContent = b
      ? "last build: run " +
        (b.runId || "(not run by the cockpit)") +
        ", state of " +
        (b.at || "?") +
        (b.templates || [])
          .map((t) => "; templates " + t.branch + ": " + t.rootCid + " (commit " + t.commit + ")")
          .join("")
      : s.environment
        ? "no build outputs yet"
        : "environment checks are not configured (status: in the cockpit config)";
    $("problems").textContent = (env.problems || []).join("\n");
    fill($("apps"), (b && b.apps) || [], (tr, a) => {
      cell(tr, a.name);
      cell(tr, a.buildId);
      cell(
        tr,
        a.tests,
        "state-" + (a.tests === "passed" ? "succeeded" : a.tests === "failed" ? "failed" : ""),
      );
    });
  }

  function renderRuns(runs) {
    fill($("runs"), runs, (tr, r) => {
      tr.dataset.id = r.id;
      cell(tr, r.id);
      cell(tr, r.kind);
      cell(tr, r.stack);
      cell(tr, r.state, "state-" + r.state);
      cell(tr, changes(r.changes));
      cell(tr, r.requestedBy.user + " (" + r.requestedBy.origin + ")");
      const td = cell(tr, "");
      const button = (label, action, onClick) => {
        const b = document.createElement("button");
        b.textContent = label;
        b.dataset.action = action;
        b.dataset.id = r.id;
        b.addEventListener("click", onClick);
        td.appendChild(b);
      };
      button("log", "log", () => follow(r.id));
      if (me && me.role === "operator") {
        if (r.state === "awaiting-approval") button("approve", "approve", () => act(r.id, "approve"));
        if (!FINAL.includes(r.state)) button("cancel", "cancel", () => act(r.id, "cancel"));
      }
    });
  }

  async function act(id, action) {
    try {
      await api("POST", "/api/runs/" + encodeURIComponent(id) + "/" + action);
      $("error").textContent = "";
    } catch (err) {
      $("error").textContent = err.message;
    }
    await refresh();
  }

  // The log as server-sent events, read with fetch (EventSource cannot send the bearer token).
  async function follow(id) {
    if (following) following.abort.abort();
    const abort = new AbortController();
    following = { id, abort };
    $("log-section").hidden = false;
    $("log-run").textContent = id;
    $("log-state").textContent = "(live)";
    const pre = $("log");
    pre.textContent = "";
    try {
      const res = await fetch("/api/runs/" + encodeURIComponent(id) + "/log", {
        headers: { Authorization: "Bearer " + token() },
        signal: abort.signal,
      });
      if (!res.ok) throw new Error("log: HTTP " + res.status);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith(":")) continue;
          let event = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (event === "log") pre.textContent += data.join("\n");
          else if (event === "end") {
            const run = JSON.parse(data.join("\n"));
            $("log-state").textContent = "(" + run.state + ")";
            refresh();
          }
          pre.scrollTop = pre.scrollHeight;
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) $("error").textContent = err.message;
    }
  }

  async function refresh() {
    const mine = session;
    try {
      const [status, runs] = await Promise.all([api("GET", "/api/status"), api("GET", "/api/runs?limit=20")]);
      if (mine !== session) return;
      renderStatus(status);
      renderRuns(runs.runs);
      document.body.dataset.loaded = String(Date.now());
    } catch (err) {
      if (err.message !== "logged out") $("error").textContent = err.message;
    }
  }

  async function startPage() {
    if (!token()) return showLogin("");
    const mine = ++session;
    try {
      const who = await api("GET", "/api/me");
      if (mine !== session) return;
      me = who;
    } catch (err) {
      if (err.message !== "logged out") showLogin(err.message);
      return;
    }
    $("login").hidden = true;
    $("main").hidden = false;
    $("logout").hidden = false;
    $("who").textContent = me.user + " (" + me.role + ")";
    document.body.dataset.role = me.role;
    await refresh();
    timer = setInterval(refresh, 5000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const t = $("token-input").value.trim();
      if (!t) return;
      sessionStorage.setItem(KEY, t);
      $("token-input").value = "";
      startPage();
    });
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      showLogin("logged out");
    });
    startPage();
  });
})();
