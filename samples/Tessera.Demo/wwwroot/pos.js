// One sale per tab: this tab's id is kept in sessionStorage (one per tab, kept across reloads) and sent with every call
// in the X-Tessera-Tab header. The session cookie (HttpOnly) is shared by all tabs of the browser; the server keeps each
// tab's cart apart inside that one session.
"use strict";

const $ = (id) => document.getElementById(id);
const TAB_KEY = "tessera-demo-pos-tab";

async function call(method, path, body) {
  const init = { method, headers: {} };
  const tab = sessionStorage.getItem(TAB_KEY);
  if (tab) {
    init.headers["X-Tessera-Tab"] = tab;
  }
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

async function json(response, what) {
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || problem.title || `${what}: ${response.status}`);
  }
  return response.json();
}

// The tab's cart; a tab without an id, or whose id the session no longer holds (a new session, an evicted tab), asks for
// a new one first.
async function cart() {
  if (sessionStorage.getItem(TAB_KEY)) {
    const response = await call("GET", "/pos/cart");
    if (response.status !== 404) {
      return json(response, "cart");
    }
  }
  const issued = await json(await fetch("/pos/tabs", { method: "POST" }), "new tab");
  sessionStorage.setItem(TAB_KEY, issued.tab);
  return json(await call("GET", "/pos/cart"), "cart");
}

function fill(list, items, empty) {
  list.replaceChildren(...(items.length ? items : [empty]).map((text) => {
    const li = document.createElement("li");
    li.textContent = text; // textContent, never innerHTML: the items are user input
    return li;
  }));
}

// The public indicator cookie: "<idle expiry>.<absolute expiry>" in Unix seconds, or absent without a session.
function sessionState() {
  const cookie = document.cookie.split("; ").find((c) => /^(__Host-)?tessera\.state=/.test(c));
  if (!cookie) {
    return "No tessera.state cookie: no session yet, or the demo runs without the public indicator (start it with --Tessera:Cookie:PublicIndicator=true).";
  }
  const [idle, absolute] = cookie.split("=")[1].split(".").map((s) => new Date(Number(s) * 1000));
  if (idle <= new Date()) {
    return "The session has expired.";
  }
  const time = (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return `Session ends at ${time(idle)} unless used again, at ${time(absolute)} at the latest.`;
}

async function refresh() {
  const current = await cart();
  $("tab-id").textContent = sessionStorage.getItem(TAB_KEY);
  fill($("cart"), current.items, "(empty)");
  $("session-state").textContent = sessionState();
}

// Runs a user action, then shows the tab's sale again; a failure is shown instead of thrown.
async function act(action) {
  $("error").textContent = "";
  try {
    await action();
    await refresh();
  } catch (err) {
    $("error").textContent = err.message;
  }
}

$("add").addEventListener("submit", (e) => {
  e.preventDefault();
  act(async () => {
    await json(await call("POST", "/pos/cart", { item: e.target.item.value }), "add");
    e.target.reset();
  });
});
$("checkout").addEventListener("click", () => act(async () => {
  const done = await json(await call("POST", "/pos/checkout"), "checkout");
  fill($("sold"), done.sold.map((item) => `sold: ${item}`), "(nothing to check out)");
}));

act(async () => {}); // the first view: no action, only the sale
