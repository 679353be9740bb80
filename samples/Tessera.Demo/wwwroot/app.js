// The page keeps no state of its own: every action calls the JSON API, and the session cookie (HttpOnly, so
// invisible to this script) carries the session.
"use strict";

const $ = (id) => document.getElementById(id);

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok && response.status !== 401) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || problem.title || `${method} ${path}: ${response.status}`);
  }
  return response;
}

function fill(list, items, empty) {
  list.replaceChildren(...(items.length ? items : [empty]).map((text) => {
    const li = document.createElement("li");
    li.textContent = text; // textContent, never innerHTML: the items are user input
    return li;
  }));
}

async function refresh() {
  const me = await call("GET", "/me");
  const user = me.status === 200 ? (await me.json()).user : null;
  $("who").textContent = user ? `Signed in as ${user}.` : "Not signed in.";
  $("login").hidden = !!user;
  $("logout").hidden = !user;
  const cart = await (await call("GET", "/cart")).json();
  fill($("cart"), cart.items, "(empty)");
}

function on(id, event, action) {
  $(id).addEventListener(event, async (e) => {
    e.preventDefault();
    $("error").textContent = "";
    try {
      await action(e);
      await refresh();
    } catch (err) {
      $("error").textContent = err.message;
    }
  });
}

on("login", "submit", async (e) => {
  await call("POST", "/login", { user: e.target.user.value });
  e.target.reset();
});
on("logout", "click", async () => {
  await call("POST", "/logout");
  $("flashes").replaceChildren();
});
on("add", "submit", async (e) => {
  await call("POST", "/cart", { item: e.target.item.value });
  e.target.reset();
});
on("flash", "submit", async (e) => {
  await call("POST", "/flash", { message: e.target.message.value });
  e.target.reset();
  fill($("flashes"), [], "(set; read it once with “Read flash”)");
});
on("read-flash", "click", async () => {
  const flash = await (await call("GET", "/flash")).json();
  fill($("flashes"), flash.messages, "(no flash waiting)");
});

refresh().catch((err) => { $("error").textContent = err.message; });
