// The single-page app of spa.html: signs in on the token API, shows /api/me, and says so when the session ends. All
// the token chores (attach, refresh, share with the other tabs, hear the end) are the module's.
import { TesseraTokenClient } from "/js/tessera-tokens.js";

const $ = (id) => document.getElementById(id);

// The API's origin: ?api=... when the page is served from another origin than the API, else this page's own. A real
// app has it in its build configuration; the demo page takes it from the address so one file serves both set-ups.
function apiOrigin() {
  const named = new URLSearchParams(location.search).get("api");
  if (named) {
    const url = new URL(named);
    if (url.protocol === "http:" || url.protocol === "https:") {
      return url.origin;
    }
  }
  return location.origin;
}

const api = apiOrigin();
const client = new TesseraTokenClient({ refreshEndpoint: `${api}/api/refresh` });

function showEnded(detail) {
  const why = {
    refreshTokenReused: "a refresh token was used twice, so the server revoked the session on every device",
    revoked: "signed out here or elsewhere, or revoked",
    expired: "it expired",
    sessionGone: "the server no longer has it",
  }[detail.reason] ?? "the server refused the refresh token";
  $("ended").textContent = `Session ended: ${detail.reason} (${why}). Sign in again.`;
}

// The view from what the client holds; calls /api/me when there is a pair.
async function show() {
  $("api").textContent = api;
  $("storage").textContent = client.storage === "memory"
    ? "Tokens are kept in this page's memory only (IndexedDB cannot be used here): other tabs sign in on their own, and a reload signs out."
    : "";
  const signedIn = client.signedIn;
  $("login").hidden = signedIn;
  $("call-me").hidden = !signedIn;
  $("logout").hidden = !signedIn;
  if (!signedIn) {
    $("spa-state").textContent = "Not signed in.";
    $("expiry").textContent = "";
    return;
  }
  const response = await client.fetch(`${api}/api/me`);
  if (response.ok) {
    const me = await response.json();
    $("spa-state").textContent = `Signed in as ${me.user}.`;
    $("ended").textContent = "";
  } else {
    $("spa-state").textContent = client.signedIn ? `GET /api/me answered ${response.status}.` : "Not signed in.";
  }
  const expires = client.accessTokenExpiresAt;
  $("expiry").textContent = expires ? `Access token valid until ${expires.toLocaleTimeString()}.` : "";
}

async function act(action) {
  $("error").textContent = "";
  try {
    await action();
    await show();
  } catch (err) {
    $("error").textContent = err.message;
  }
}

client.addEventListener("sessionended", (e) => {
  showEnded(e.detail);
  act(async () => {});
});
// Another tab signed in or out: show it here too (a rotation changes nothing on the page).
client.addEventListener("change", (e) => {
  if (e.detail.signedIn === $("login").hidden) {
    return;
  }
  act(async () => {});
});

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  act(async () => {
    const login = await fetch(`${api}/api/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: e.target.user.value }),
    });
    await client.signIn(login);
    e.target.reset();
  });
});
$("call-me").addEventListener("click", () => act(async () => {}));
$("logout").addEventListener("click", () => act(async () => {
  await client.fetch(`${api}/api/logout`, { method: "POST" }); // ends the session on the server, for every tab
  await client.signOut();
}));

act(() => client.ready); // the first view, once the stored pair has been read
