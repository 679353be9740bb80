// Tessera's token client for single-page apps: a fetch wrapper that sends the access token, refreshes the pair ahead of
// expiry and after a 401 invalid_token, one refresh at a time across every tab of the origin (Web Locks), with the
// rotated pair shared by all of them (in IndexedDB). The same chores as Tessera.Client's TesseraTokenHandler for .NET; see
// docs/token-clients.md. Plain ES module, no dependencies, no build step.
//
//   import { TesseraTokenClient } from "/js/tessera-tokens.js";
//   const client = new TesseraTokenClient({ refreshEndpoint: "https://api.example.com/api/refresh" });
//   client.addEventListener("sessionended", (e) => showSignIn(e.detail.reason));
//   await client.ready; // the stored pair has been read: signedIn says whether this origin is signed in
//   await client.signIn(await fetch("https://api.example.com/api/login", { method: "POST", ... }));
//   const me = await (await client.fetch("https://api.example.com/api/me")).json();
//
// No token ever reaches the console: warnings name a reason or a status code, never a token.

/** Defaults of the constructor's options (the same as Tessera.Client's TesseraTokenClientDefaults). */
export const defaults = Object.freeze({
  /** Refresh this many milliseconds before the access token expires. */
  refreshMargin: 30_000,
  /** How long one refresh call may take, in milliseconds; a timeout is a transient failure. */
  refreshTimeout: 30_000,
  /**
   * Where the pair lives: "indexeddb" (shared by the origin's tabs; this page's memory where IndexedDB is not
   * available) or "memory" (this page only).
   */
  storage: "indexeddb",
});

// The IndexedDB database and object store of every client of the origin; one record per storageKey.
const databaseName = "tessera.tokens";
const pairStore = "pairs";
// How long opening the database may take before the client gives up on it and keeps the pair in memory.
const openTimeout = 10_000;

// The server's reason words (TokenFailure.ToReason) and what the app is told.
const endReasons = Object.freeze({
  refresh_token_reused: "refreshTokenReused",
  revoked_token: "revoked",
  expired_token: "expired",
  invalid_session: "sessionGone",
});

/**
 * The refresh state of one signed-in client, shared by every tab of the origin that uses the same refresh endpoint
 * (with the default "indexeddb" storage). Events: "sessionended" (the server ended the session: detail {reason,
 * serverReason, status, endedAt}; raised in every tab) and "change" (a sign-in, sign-out, rotation or end, in this tab
 * or another; detail {signedIn}).
 */
export class TesseraTokenClient extends EventTarget {
  #refreshEndpoint;
  #apiOrigin;
  #refreshMargin;
  #refreshTimeout;
  #store; // { kind, load(), save(pair), clear() }, all asynchronous
  #held = null; // the pair last read from or written to the store, for the synchronous getters
  #ready;
  #lockName;
  #channel = null;
  #inFlight = null; // { from: refresh token, promise } of this tab's refresh, so its own parallel requests share it
  #ended = null;

  /**
   * @param {object} options
   * @param {string|URL} options.refreshEndpoint Absolute http(s) address of POST {prefix}/refresh (required). The
   *   access token is sent only to requests for this address's origin; requests elsewhere go out untouched.
   * @param {number} [options.refreshMargin] Milliseconds before expiry to refresh; default 30 000, 0 to 3 600 000.
   * @param {number} [options.refreshTimeout] Milliseconds one refresh call may take; default 30 000, above 0, at most 300 000.
   * @param {"indexeddb"|"memory"} [options.storage] Where the pair lives; default "indexeddb", which falls back to
   *   "memory" (with a console warning) where IndexedDB cannot be used. See docs/token-clients.md.
   * @param {string} [options.storageKey] The pair's IndexedDB key, the lock's and the channel's name; default
   *   "tessera.tokens:" + the refresh endpoint, so pairs of two APIs never mix.
   */
  constructor(options) {
    super();
    const { refreshEndpoint, refreshMargin = defaults.refreshMargin, refreshTimeout = defaults.refreshTimeout, storage = defaults.storage } = options ?? {};
    const problems = [];
    let endpoint = null;
    try {
      endpoint = new URL(refreshEndpoint);
      if (endpoint.protocol !== "https:" && endpoint.protocol !== "http:") {
        problems.push("refreshEndpoint must be an http or https address");
      }
    } catch {
      problems.push("refreshEndpoint must be an absolute address, such as https://api.example.com/api/refresh");
    }
    if (!Number.isFinite(refreshMargin) || refreshMargin < 0 || refreshMargin > 3_600_000) {
      problems.push("refreshMargin must be 0 to 3 600 000 milliseconds");
    }
    if (!Number.isFinite(refreshTimeout) || refreshTimeout <= 0 || refreshTimeout > 300_000) {
      problems.push("refreshTimeout must be above 0 and at most 300 000 milliseconds");
    }
    if (storage !== "indexeddb" && storage !== "memory") {
      problems.push('storage must be "indexeddb" or "memory"');
    }
    if (problems.length > 0) {
      throw new TypeError(`TesseraTokenClient: ${problems.join("; ")}.`);
    }
    this.#refreshEndpoint = endpoint.href;
    this.#apiOrigin = endpoint.origin;
    this.#refreshMargin = refreshMargin;
    this.#refreshTimeout = refreshTimeout;
    const key = options.storageKey ?? `tessera.tokens:${endpoint.href}`;
    this.#lockName = key;
    if (storage === "indexeddb") {
      this.#store = indexedDbStore(key);
      this.#channel = new BroadcastChannel(key);
      this.#channel.onmessage = (e) => this.#heardFromAnotherTab(e.data);
      // A tab that missed the channel (frozen in the background, back from the back-forward cache) catches up.
      globalThis.document?.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible") {
          this.#catchUp();
        }
      });
    } else {
      this.#useMemory(null);
    }
    this.#ready = this.#load().then(() => undefined);
  }

  /**
   * Resolves (never rejects) once the stored pair has been read, or IndexedDB found unusable; until then `signedIn` is
   * false and `accessTokenExpiresAt` null. `fetch` does not need it: it reads the stored pair itself.
   * @returns {Promise<void>}
   */
  get ready() {
    return this.#ready;
  }

  /**
   * Where the pair is kept now: "indexeddb" (shared by the origin's tabs), or "memory" (this page only: asked for, or
   * IndexedDB could not be used, which the console says once).
   */
  get storage() {
    return this.#store.kind;
  }

  /** Whether a pair is held (this tab or another signed in, and the server has not ended the session). */
  get signedIn() {
    return this.#held !== null;
  }

  /** What ended the session ({reason, serverReason, status, endedAt}), until the next sign-in; null otherwise. */
  get ended() {
    return this.#ended;
  }

  /** When the held access token expires (a Date), or null without a pair or without a known expiry. */
  get accessTokenExpiresAt() {
    const pair = this.#held;
    return pair?.accessExpiresAt ? new Date(pair.accessExpiresAt) : null;
  }

  /**
   * Takes a sign-in response (Tessera's {"accessToken","refreshToken","accessTokenExpiresAt",...}; an OAuth-style
   * expires_in is understood too), keeps the pair for every tab and clears `ended`. Throws an Error for a failed or
   * unreadable response, without quoting the body.
   * @param {Response} response
   */
  async signIn(response) {
    if (!response.ok) {
      throw new Error(`Sign-in failed: HTTP ${response.status}.`);
    }
    const pair = readPair(await response.json().catch(() => null), Date.now());
    if (pair === null) {
      throw new Error("Sign-in answered without a readable token pair.");
    }
    await this.#adopt(pair);
  }

  /**
   * Keeps a pair the app already has: {accessToken, refreshToken, accessTokenExpiresAt?, refreshTokenExpiresAt?}.
   * Resolves once the pair is stored; rejects with a TypeError for a pair without both tokens.
   * @param {object} pair
   */
  async signInWithPair(pair) {
    const read = readPair(pair, Date.now());
    if (read === null) {
      throw new TypeError("signInWithPair needs accessToken and refreshToken strings.");
    }
    await this.#adopt(read);
  }

  /**
   * Forgets the pair in every tab, without a "sessionended" event. It does not end the session on the server: send
   * POST {prefix}/logout through `fetch` first.
   */
  async signOut() {
    await this.#locked(() => this.#clear());
    this.#ended = null;
    this.#tell({ type: "change" });
  }

  /**
   * fetch() with the access token: the same arguments and result. For the refresh endpoint's origin only, and only
   * when the request carries no Authorization header of its own: refreshes first when the token expires within
   * refreshMargin; after a 401 whose WWW-Authenticate says error="invalid_token", refreshes and sends the request
   * once more. A request whose body cannot be sent twice (a Request object with a body, or a ReadableStream body) is
   * sent once: after its 401 the pair is still refreshed, the 401 is returned, and the next call carries the new token.
   * Without a pair the request goes out without a token.
   * @param {RequestInfo|URL} input
   * @param {RequestInit} [init]
   * @returns {Promise<Response>}
   */
  async fetch(input, init = undefined) {
    const url = new URL(input instanceof Request ? input.url : input, location.href);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (url.origin !== this.#apiOrigin || headers.has("Authorization")) {
      return fetch(input, init);
    }
    let pair = await this.#load();
    if (pair !== null && pair.accessExpiresAt !== null && pair.accessExpiresAt - Date.now() <= this.#refreshMargin) {
      pair = await this.#refresh(pair);
    }
    const response = await this.#send(input, init, headers, pair);
    if (pair === null || response.status !== 401 || !invalidTokenChallenge(response.headers.get("WWW-Authenticate"))) {
      return response;
    }
    const fresh = await this.#refresh(pair);
    const resendable = canSendTwice(input, init);
    if (fresh === null || fresh.accessToken === pair.accessToken || !resendable) {
      if (fresh !== null && !resendable) {
        console.debug("Tessera: a request got 401 invalid_token and was not sent again: its body cannot be sent twice.");
      }
      return response;
    }
    return this.#send(input, init, headers, fresh);
  }

  #send(input, init, headers, pair) {
    const sent = new Headers(headers);
    if (pair !== null) {
      sent.set("Authorization", `Bearer ${pair.accessToken}`);
    }
    return fetch(input, { ...init, headers: sent });
  }

  // One refresh of `seen` for this tab's requests; across tabs, the lock lets one refresh at a time.
  #refresh(seen) {
    if (this.#inFlight?.from === seen.refreshToken) {
      return this.#inFlight.promise;
    }
    const promise = this.#locked(() => this.#refreshLocked(seen)).finally(() => {
      if (this.#inFlight?.promise === promise) {
        this.#inFlight = null;
      }
    });
    this.#inFlight = { from: seen.refreshToken, promise };
    return promise;
  }

  async #refreshLocked(seen) {
    // Read again under the lock: another tab (or an earlier request here) may have rotated, signed out or seen the end
    // while this one waited. Presenting `seen` again would then be a reuse. A new transaction, after the lock: it sees
    // every pair another tab committed before it let the lock go.
    const current = await this.#load();
    if (current === null || current.refreshToken !== seen.refreshToken) {
      return current;
    }
    let response;
    let body;
    try {
      response = await fetch(this.#refreshEndpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refreshToken: current.refreshToken }),
        credentials: "omit",
        cache: "no-store",
        signal: AbortSignal.timeout(this.#refreshTimeout),
      });
      body = await response.json().catch(() => null);
    } catch (e) {
      console.warn(`Tessera: the token refresh failed (${e?.name === "TimeoutError" ? "timeout" : "no answer"}); the current pair is kept.`);
      return current;
    }
    if (response.ok) {
      const pair = readPair(body, Date.now());
      if (pair === null) {
        console.warn("Tessera: the refresh endpoint answered 200 without a readable pair; the current pair is kept.");
        return current;
      }
      // Committed before the lock is let go, so the next tab to hold it reads this pair, not the one just rotated away.
      await this.#save(pair);
      this.#tell({ type: "change" });
      return pair;
    }
    if (response.status === 401 || response.status === 400) {
      const serverReason = (typeof body?.reason === "string" ? body.reason : null) ?? challengeDescription(response.headers.get("WWW-Authenticate"));
      await this.#clear();
      const ended = { reason: endReasons[serverReason] ?? "rejected", serverReason, status: response.status, endedAt: new Date(Date.now()) };
      console.warn(`Tessera: the server ended the session (${ended.reason}).`);
      this.#tell({ type: "ended", ended });
      return null;
    }
    console.warn(`Tessera: the token refresh failed with HTTP ${response.status}; the current pair is kept.`);
    return current;
  }

  async #adopt(pair) {
    await this.#locked(() => this.#save(pair)); // not in the middle of another tab's rotation of the previous pair
    this.#ended = null;
    this.#tell({ type: "change" });
  }

  async #load() {
    this.#held = await this.#use((store) => store.load());
    return this.#held;
  }

  async #save(pair) {
    await this.#use((store) => store.save(pair));
    this.#held = pair;
  }

  async #clear() {
    await this.#use((store) => store.clear());
    this.#held = null;
  }

  // Runs `operation` on the store. When IndexedDB fails (not available here: a private mode, an opaque origin, some
  // embedded browsers; or a write refused), the client goes on with this page's memory, keeping the pair it holds,
  // says so once, and runs the operation there.
  async #use(operation) {
    try {
      return await operation(this.#store);
    } catch (e) {
      if (this.#store.kind !== "indexeddb") {
        throw e;
      }
      console.warn(`Tessera: IndexedDB cannot be used here (${e?.name ?? "error"}); the token pair is kept in this page's memory only: other tabs do not share it, and a reload forgets it.`);
      this.#useMemory(this.#held);
      return operation(this.#store);
    }
  }

  #useMemory(held) {
    this.#store = memoryStore(held);
    this.#lockName = `${this.#lockName}:${crypto.randomUUID()}`; // this page's own: memory is not shared, nor is its lock
    this.#channel?.close();
    this.#channel = null;
  }

  // Reads the stored pair again after the page missed the channel, and tells the page when it changed.
  async #catchUp() {
    const before = this.#held?.refreshToken ?? null;
    await this.#load();
    if ((this.#held?.refreshToken ?? null) !== before) {
      this.#heard({ type: "change" });
    }
  }

  // Runs `action` holding the lock every tab of the origin takes to refresh or sign out. Without Web Locks (a page not
  // served over https or from localhost) it runs at once: one refresh per tab, no longer one per origin.
  #locked(action) {
    return navigator.locks ? navigator.locks.request(this.#lockName, action) : action();
  }

  // Acts on a message here, and sends it to the other tabs (a BroadcastChannel does not echo to its sender).
  #tell(message) {
    this.#heard(message);
    this.#channel?.postMessage(message);
  }

  // Another tab stored or cleared the pair (committed before it posted): read it before acting on the message.
  async #heardFromAnotherTab(message) {
    await this.#load();
    this.#heard(message);
  }

  #heard(message) {
    if (message?.type === "ended") {
      const ended = { ...message.ended, endedAt: new Date(message.ended.endedAt) };
      this.#ended = ended;
      this.dispatchEvent(new CustomEvent("change", { detail: { signedIn: false } }));
      this.dispatchEvent(new CustomEvent("sessionended", { detail: ended }));
    } else if (message?.type === "change") {
      if (this.signedIn) {
        this.#ended = null;
      }
      this.dispatchEvent(new CustomEvent("change", { detail: { signedIn: this.signedIn } }));
    }
  }
}

// Whether the request's body survives its first send. Strings, Blobs, buffers, FormData and URLSearchParams given in
// init are read again by fetch. A ReadableStream is read once; so is a Request's own body (a stream inside the Request:
// cloning it would keep the whole body in memory with no bound, the page's memory for a retry it may never need).
function canSendTwice(input, init) {
  if (init?.body !== undefined && init.body !== null) {
    return !(init.body instanceof ReadableStream);
  }
  return !(input instanceof Request && input.body !== null);
}

// The pair in IndexedDB, one record (both tokens or neither) under `key`. IndexedDB lives in the browser's own process,
// so a transaction started after another tab's transaction completed sees its write, whichever renderer each tab runs
// in (localStorage does not promise that: a write reaches other renderers' copies later, and a tab could read the old
// pair after the lock). Every operation is a transaction of its own; save and clear resolve once it has committed.
function indexedDbStore(key) {
  let opening = null;
  const open = () =>
    (opening ??= new Promise((resolve, reject) => {
      const request = indexedDB.open(databaseName, 1); // throws where IndexedDB is missing or refused (opaque origin)
      const timer = setTimeout(() => reject(new DOMException("IndexedDB did not open in time.", "TimeoutError")), openTimeout);
      request.onupgradeneeded = () => request.result.createObjectStore(pairStore);
      request.onsuccess = () => {
        clearTimeout(timer);
        const db = request.result;
        // Closed by the browser (site data cleared) or for a later version of the database: the next operation opens it again.
        db.onclose = () => (opening = null);
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      request.onerror = () => {
        clearTimeout(timer);
        reject(request.error);
      };
    }));
  const run = async (mode, operation) => {
    const db = await open();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(pairStore, mode);
      const request = operation(transaction.objectStore(pairStore));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onabort = () => reject(transaction.error ?? new DOMException("The transaction was aborted.", "AbortError"));
    });
  };
  return {
    kind: "indexeddb",
    load: async () => readStored(await run("readonly", (pairs) => pairs.get(key))),
    save: async (pair) => {
      await run("readwrite", (pairs) => pairs.put(pair, key));
    },
    clear: async () => {
      await run("readwrite", (pairs) => pairs.delete(key));
    },
  };
}

function memoryStore(pair) {
  let held = pair;
  return {
    kind: "memory",
    load: async () => held,
    save: async (saved) => {
      held = saved;
    },
    clear: async () => {
      held = null;
    },
  };
}

function readStored(value) {
  return typeof value?.accessToken === "string" && typeof value.refreshToken === "string"
    ? { accessToken: value.accessToken, refreshToken: value.refreshToken, accessExpiresAt: Number.isFinite(value.accessExpiresAt) ? value.accessExpiresAt : null }
    : null;
}

// A token response as the pair this module keeps. The access token's expiry: accessTokenExpiresAt, else expires_in
// from when the response arrived, else the JWT's exp (read without a key: the client cannot and need not check it).
function readPair(body, receivedAt) {
  const accessToken = body?.accessToken ?? body?.access_token;
  const refreshToken = body?.refreshToken ?? body?.refresh_token;
  if (typeof accessToken !== "string" || typeof refreshToken !== "string" || accessToken === "" || refreshToken === "") {
    return null;
  }
  let expiresAt = Date.parse(body.accessTokenExpiresAt);
  if (!Number.isFinite(expiresAt) && Number.isFinite(body.expires_in)) {
    expiresAt = receivedAt + body.expires_in * 1000;
  }
  if (!Number.isFinite(expiresAt)) {
    expiresAt = jwtExpiry(accessToken);
  }
  return { accessToken, refreshToken, accessExpiresAt: Number.isFinite(expiresAt) ? expiresAt : null };
}

function jwtExpiry(token) {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1].length > 8192) {
    return null;
  }
  try {
    const exp = JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"))).exp;
    return Number.isInteger(exp) && exp > 0 ? exp * 1000 : null;
  } catch {
    return null;
  }
}

// The parameters of the Bearer challenge in a WWW-Authenticate value (RFC 6750 §3), or null without one. Cross-origin,
// the API must expose the header (Access-Control-Expose-Headers: WWW-Authenticate), or the page cannot read it.
function bearerChallenge(header) {
  const match = /(?:^|,)\s*Bearer\s+((?:[\w-]+=(?:"[^"]*"|[^\s,]*)\s*,?\s*)*)/i.exec(header ?? "");
  if (match === null) {
    return null;
  }
  const parameters = {};
  for (const [, name, quoted, bare] of match[1].matchAll(/([\w-]+)=(?:"([^"]*)"|([^\s,]*))/g)) {
    parameters[name.toLowerCase()] = quoted ?? bare;
  }
  return parameters;
}

function invalidTokenChallenge(header) {
  return bearerChallenge(header)?.error === "invalid_token";
}

function challengeDescription(header) {
  return bearerChallenge(header)?.error_description ?? null;
}
