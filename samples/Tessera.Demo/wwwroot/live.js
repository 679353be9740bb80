// The live page's connection to /hubs/session: a small client of SignalR's JSON hub protocol over one WebSocket, written
// here so the demo needs no npm package (the protocol is documented: a handshake, then JSON records each ended by the
// 0x1e record separator). It shows who is signed in, and says why the moment the server closes the connection because
// the session ended.
"use strict";

const RS = "\u001e";
const MESSAGE = { invocation: 1, ping: 6, close: 7 };
const PING_EVERY_MS = 15000; // the server drops a client silent for 30 s
const REASONS = {
  user: "You were signed out on another device.",
  sign_out: "You signed out (in another tab or window).",
  operator: "An operator signed this session out.",
  limit: "Signed out: this account is signed in on too many devices.",
  leak: "Signed out: this session's refresh token was used twice, which may mean it was stolen.",
  principal_rejected: "Signed out: your account changed (a new password, say).",
  expired: "Your session expired.",
  revoked: "This session was signed out.",
};

const status = document.getElementById("live-status");
const user = document.getElementById("live-user");

function show(text, ended) {
  status.textContent = text;
  status.classList.toggle("ended", ended === true);
}

function connect() {
  const url = new URL("/hubs/session", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(url);
  let buffer = "";
  let handshaken = false;
  let ended = false;
  let pinger;

  const send = (message) => socket.send(JSON.stringify(message) + RS);

  const handle = (message) => {
    if (message.type === MESSAGE.invocation && message.target === "user") {
      const name = message.arguments[0];
      user.textContent = name ? `Signed in as ${name}.` : "Not signed in.";
      show("Connected: this page hears the moment your session ends.");
    } else if (message.type === MESSAGE.invocation && message.target === "tessera:session-ended") {
      ended = true;
      user.textContent = "Not signed in.";
      show(REASONS[message.arguments[0]] || REASONS.revoked, true);
    } else if (message.type === MESSAGE.close && !ended) {
      show(message.error ? `Disconnected: ${message.error}` : "Disconnected.");
    }
  };

  socket.onopen = () => {
    socket.send(JSON.stringify({ protocol: "json", version: 1 }) + RS);
    pinger = setInterval(() => send({ type: MESSAGE.ping }), PING_EVERY_MS);
  };
  socket.onmessage = (event) => {
    buffer += event.data;
    let end;
    while ((end = buffer.indexOf(RS)) >= 0) {
      const record = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (!handshaken) {
        handshaken = true; // the handshake answer: {} or {"error": "..."}
        if (record.error) {
          show(`Could not connect: ${record.error}`);
        }
        continue;
      }
      handle(record);
    }
  };
  socket.onclose = () => {
    clearInterval(pinger);
    if (!ended && status.textContent.startsWith("Connect")) {
      show("Disconnected.");
    }
  };
}

connect();
