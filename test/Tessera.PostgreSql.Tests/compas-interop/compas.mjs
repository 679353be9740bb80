// Drives the real @compas/store session store from the command line for Tessera.PostgreSql's interop tests: sessions
// and tokens made by one side must be accepted by the other on the same database and signing key.
//
//   node compas.mjs migrate    --pg URL                      (the release notes' tables + Compas's job table)
//   node compas.mjs create     --pg URL --key KEY [--data JSON] [--access 300] [--refresh 86400]
//   node compas.mjs get        --pg URL --key KEY --token=ACCESS_TOKEN
//   node compas.mjs update     --pg URL --key KEY --token=ACCESS_TOKEN --data JSON
//   node compas.mjs refresh    --pg URL --key KEY --token=REFRESH_TOKEN
//   node compas.mjs invalidate --pg URL --key KEY --token=ACCESS_TOKEN
//
// Prints one JSON line on stdout: {"value": ...} on success, {"error": {"key", "status"}} with exit code 1 on failure.
// Compas's own log lines go to stderr. Needs `npm install` in a copy of this folder (Node 20).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loggerSetGlobalDestination, newEvent, newLogger } from "@compas/stdlib";
import {
  newPostgresConnection,
  sessionStoreCreate,
  sessionStoreGet,
  sessionStoreInvalidate,
  sessionStoreRefreshTokens,
  sessionStoreUpdate,
} from "@compas/store";

const [command, ...rest] = process.argv.slice(2);
const { values: opts } = parseArgs({
  args: rest,
  options: {
    pg: { type: "string" },
    key: { type: "string" },
    token: { type: "string" },
    data: { type: "string" },
    access: { type: "string", default: "300" },
    refresh: { type: "string", default: "86400" },
  },
});

const url = new URL(opts.pg);
const sql = await newPostgresConnection({
  host: url.hostname,
  port: Number(url.port || 5432),
  user: decodeURIComponent(url.username || "postgres"),
  password: decodeURIComponent(url.password || ""),
  database: url.pathname.slice(1),
  max: 2,
  ssl: false,
  onnotice: () => {},
});
const settings = {
  accessTokenMaxAgeInSeconds: Number(opts.access),
  refreshTokenMaxAgeInSeconds: Number(opts.refresh),
  signingKey: opts.key,
};
loggerSetGlobalDestination({ write: (line) => process.stderr.write(line) });
const event = newEvent(newLogger());

function print(result) {
  if (result?.error) {
    console.log(JSON.stringify({ error: { key: result.error.key, status: result.error.status } }));
    process.exitCode = 1;
  } else {
    console.log(JSON.stringify({ value: result?.value ?? null }));
  }
}

try {
  switch (command) {
    case "migrate":
      await sql.unsafe(readFileSync(new URL("./seed-migration.sql", import.meta.url), "utf8"));
      print({ value: "migrated" });
      break;
    case "create":
      print(await sessionStoreCreate(event, sql, settings, JSON.parse(opts.data ?? "{}")));
      break;
    case "get":
      print(await sessionStoreGet(event, sql, settings, opts.token));
      break;
    case "update": {
      const got = await sessionStoreGet(event, sql, settings, opts.token);
      if (got.error) { print(got); break; }
      got.value.session.data = JSON.parse(opts.data ?? "{}");
      print(await sessionStoreUpdate(event, sql, got.value.session));
      break;
    }
    case "refresh":
      print(await sessionStoreRefreshTokens(event, sql, settings, opts.token));
      break;
    case "invalidate": {
      const got = await sessionStoreGet(event, sql, settings, opts.token);
      if (got.error) { print(got); break; }
      print(await sessionStoreInvalidate(event, sql, got.value.session));
      break;
    }
    default:
      console.log(JSON.stringify({ error: { key: "usage", status: 400 } }));
      process.exitCode = 2;
  }
} catch (e) {
  console.log(JSON.stringify({ error: { key: "exception", status: 500, message: String(e?.message ?? e) } }));
  process.exitCode = 1;
} finally {
  await sql.end({ timeout: 1 });
}
