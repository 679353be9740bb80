// Compas 0.5.5's token refresh, driven in process for bench/http.sh (bench/Tessera.HttpBench/CompasRefresh.cs).
//
//   node refresh.mjs --pg URL --migration SQL_FILE [--concurrency 50] [--pool 10]
//
// Applies the migration (Compas's session tables) to the database URL names, prints "ready", then serves one command
// per stdin line: "run SECONDS" makes CONCURRENCY workers, each with a session of its own from sessionStoreCreate, and
// has every worker refresh its token pair back to back (sessionStoreRefreshTokens, each call with the refresh token
// the last one returned, as a client would) for SECONDS; then prints one JSON line:
//   {"requests": N, "failures": N, "seconds": S, "latencyMs": {"50": ms, "75": ms, "90": ms, "99": ms}}
// No HTTP: this is the library call alone, so it is the conservative comparison with Tessera's POST /api/refresh.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { loggerSetGlobalDestination, newEvent, newLogger } from "@compas/stdlib";
import { newPostgresConnection, sessionStoreCreate, sessionStoreRefreshTokens } from "@compas/store";

const { values: opts } = parseArgs({
  options: {
    pg: { type: "string" },
    migration: { type: "string" },
    concurrency: { type: "string", default: "50" },
    pool: { type: "string", default: "10" },
  },
});
const concurrency = Number(opts.concurrency);
const url = new URL(opts.pg);
const sql = await newPostgresConnection({
  host: url.hostname,
  port: Number(url.port || 5432),
  user: decodeURIComponent(url.username || "postgres"),
  password: decodeURIComponent(url.password || ""),
  database: url.pathname.slice(1),
  max: Number(opts.pool),
  ssl: false,
  onnotice: () => {},
});
const settings = { accessTokenMaxAgeInSeconds: 300, refreshTokenMaxAgeInSeconds: 86400, signingKey: "bench-signing-key-of-sufficient-length" };
// Compas logs every call at info level; the bench keeps only its errors.
loggerSetGlobalDestination({ write: () => {} });
const logger = newLogger();
// One event per call, as a Compas server makes one per request: an event keeps every sub-event started from it
// (span.children), so one event shared by the whole run grew with each call and slowed every later call down (the
// driver used one until 2026-12-06, and Compas's rate fell round after round: 254, 143, then 96 refreshes/s).
const callEvent = () => newEvent(logger);

await sql.unsafe(readFileSync(opts.migration, "utf8"));
console.log("ready");

async function run(seconds) {
  const tokens = [];
  for (let i = 0; i < concurrency; i++) {
    const created = await sessionStoreCreate(callEvent(), sql, settings, {});
    if (created.error) throw new Error(`sessionStoreCreate failed: ${created.error.key}`);
    tokens.push(created.value.refreshToken);
  }
  const latencies = [];
  let failures = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(tokens.map(async (first) => {
    let token = first;
    while (performance.now() < end) {
      const began = performance.now();
      const refreshed = await sessionStoreRefreshTokens(callEvent(), sql, settings, token);
      latencies.push(performance.now() - began);
      if (refreshed.error) {
        failures++;
        const created = await sessionStoreCreate(callEvent(), sql, settings, {});
        token = created.value.refreshToken;
      } else {
        token = refreshed.value.refreshToken;
      }
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p / 100))];
  return { requests: latencies.length, failures, seconds: elapsed, latencyMs: { 50: at(50), 75: at(75), 90: at(90), 99: at(99) } };
}

for await (const line of createInterface({ input: process.stdin })) {
  const [command, value] = line.trim().split(/\s+/);
  if (command === "run") {
    try {
      console.log(JSON.stringify(await run(Number(value))));
    } catch (e) {
      console.log(JSON.stringify({ error: String(e?.message ?? e) }));
    }
  } else if (command === "exit") {
    break;
  }
}
await sql.end({ timeout: 1 });
