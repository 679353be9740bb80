using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Tessera.Cli;

/// <summary>
/// The command tree and the commands. Everything writes to the given writers (tests capture them), tables through
/// Spectre.Console, JSON with fixed camelCase field names for scripts.
/// </summary>
internal static class TesseraCli
{
    public const string StoreVariable = "TESSERA_STORE";
    private const int GcBatchSize = 1000;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Runs the tool; returns its exit code (see <see cref="ExitCodes"/>).</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <param name="environment">Reads an environment variable (for <see cref="StoreVariable"/>).</param>
    /// <param name="interactive">Whether output is a terminal (colors, progress bars).</param>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, Func<string, string?> environment, bool interactive = false)
    {
        var storeOption = new Option<string?>("--store", "-s")
        {
            Description = $"The store URL: sqlite:PATH, postgres://user:password@host:5432/db[?schema=S], redis://[:password@]host:6379[/db][?prefix=P] (rediss:// over TLS), or redis: followed by a StackExchange.Redis configuration string (redis:host1:6379,host2:6379,ssl=true,password=...[,prefix=P]). Default: ${StoreVariable}.",
            Recursive = true,
        };
        var prefixOption = new Option<string?>("--prefix")
        {
            Description = "Redis only: the key prefix of the store (default tessera; overrides prefix= of the URL or configuration string).",
            Recursive = true,
        };
        var caOption = new Option<string?>("--tls-ca")
        {
            Description = "Redis over TLS only: trust the CA certificate in this file (PEM or DER) for the server's certificate, besides the system's trusted roots.",
            Recursive = true,
        };
        var jsonOption = new Option<bool>("--json")
        {
            Description = "Print JSON for scripts instead of tables.",
            Recursive = true,
        };

        var root = new RootCommand("tessera: inspect and manage Tessera sessions in SQLite, PostgreSQL or Redis.\n\n" + ExitCodes.Help);
        root.Add(storeOption);
        root.Add(prefixOption);
        root.Add(caOption);
        root.Add(jsonOption);

        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!interactive)
        {
            console.Profile.Width = 200;
        }

        Command StoreCommand(string name, string description, Func<Context, CancellationToken, Task<int>> run)
        {
            var command = new Command(name, description);
            command.SetAction(async (parse, ct) =>
            {
                var json = parse.GetValue(jsonOption);
                var text = parse.GetValue(storeOption) ?? environment(StoreVariable);
                if (string.IsNullOrWhiteSpace(text))
                {
                    await error.WriteLineAsync($"No store: pass --store URL or set {StoreVariable} (sqlite:PATH, postgres://..., redis://..., rediss://... or redis:CONFIGURATION).").ConfigureAwait(false);
                    return ExitCodes.Usage;
                }
                StoreUrl url;
                try
                {
                    url = StoreUrl.Parse(text, parse.GetValue(prefixOption), parse.GetValue(caOption));
                }
                catch (FormatException e)
                {
                    await error.WriteLineAsync("Bad store URL: " + e.Message).ConfigureAwait(false);
                    return ExitCodes.Usage;
                }
                try
                {
                    var store = await OpenedStore.OpenAsync(url, ct).ConfigureAwait(false);
                    await using var storeScope = store.ConfigureAwait(false);
                    return await run(new Context(parse, store, url, console, output, error, json, interactive), ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Driver messages never carry the password, but scrub anyway: this line may end up in a CI log.
                    await error.WriteLineAsync(url.Scrub($"Store error ({url.Display}): {e.GetType().Name}: {e.Message}")).ConfigureAwait(false);
                    return ExitCodes.StoreError;
                }
            });
            root.Add(command);
            return command;
        }

        StoreCommand("migrate", "Create or upgrade the store's schema (SQLite: on open; PostgreSQL: EnsureSchemaAsync; Redis: nothing to do).", async (c, ct) =>
        {
            var done = await c.Store.Migrate(ct).ConfigureAwait(false);
            c.Print(new JsonObject { ["store"] = c.Url.Display, ["message"] = done }, () => c.Console.WriteLine(done));
            return ExitCodes.Ok;
        });

        StoreCommand("stats", "Count live, expired and revoked sessions and report the store's size.", async (c, ct) =>
        {
            var stats = await c.Store.Admin.GetStatisticsAsync(ct).ConfigureAwait(false);
            c.Print(
                new JsonObject
                {
                    ["store"] = c.Url.Display,
                    ["live"] = stats.Live,
                    ["expired"] = stats.Expired,
                    ["revoked"] = stats.Revoked,
                    ["total"] = stats.Total,
                    ["sizeBytes"] = stats.SizeBytes,
                    ["sizeDescription"] = stats.SizeDescription,
                },
                () =>
                {
                    var table = new Table().AddColumn("Sessions").AddColumn(new TableColumn("Count").RightAligned());
                    table.AddRow("live", N(stats.Live));
                    table.AddRow("expired (not yet collected)", N(stats.Expired));
                    table.AddRow("revoked", N(stats.Revoked));
                    table.AddRow("total", N(stats.Total));
                    c.Console.WriteLine(c.Url.Display);
                    c.Console.Write(table);
                    c.Console.WriteLine($"size: {(stats.SizeBytes is { } b ? Bytes(b) : "unknown")} ({stats.SizeDescription})");
                });
            return ExitCodes.Ok;
        });

        var userOption = new Option<string?>("--user", "-u") { Description = "Only the sessions of this subject (user id)." };
        var stateOption = new Option<string>("--state")
        {
            Description = "Only sessions in this state: all, live, expired or revoked.",
            DefaultValueFactory = _ => "all",
        };
        stateOption.AcceptOnlyFromAmong("all", "live", "expired", "revoked");
        var limitOption = new Option<int>("--limit", "-n")
        {
            Description = "The most sessions to print (0: all).",
            DefaultValueFactory = _ => 100,
        };
        var list = StoreCommand("list", "List sessions (newest state first is not guaranteed: the store's own stable order).", async (c, ct) =>
        {
            var limit = c.Parse.GetValue(limitOption);
            if (limit < 0)
            {
                await c.Error.WriteLineAsync("--limit must be 0 (all) or more.").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            var query = new SessionQuery
            {
                Subject = c.Parse.GetValue(userOption),
                State = ParseState(c.Parse.GetValue(stateOption)!),
                PageSize = limit is > 0 and < SessionQuery.MaxPageSize ? limit : SessionQuery.MaxPageSize,
            };
            var sessions = new List<SessionRecord>();
            var truncated = false;
            do
            {
                var page = await c.Store.Admin.ListSessionsAsync(query, ct).ConfigureAwait(false);
                sessions.AddRange(page.Sessions);
                query = query with { Cursor = page.NextCursor };
                if (limit > 0 && sessions.Count >= limit)
                {
                    truncated = sessions.Count > limit || page.NextCursor is not null;
                    sessions.RemoveRange(limit, sessions.Count - limit);
                    break;
                }
            }
            while (query.Cursor is not null);
            var now = DateTimeOffset.UtcNow;
            c.Print(
                new JsonObject
                {
                    ["store"] = c.Url.Display,
                    ["count"] = sessions.Count,
                    ["truncated"] = truncated,
                    ["sessions"] = new JsonArray([.. sessions.Select(s => (JsonNode)Summary(s, now))]),
                },
                () =>
                {
                    var table = new Table().AddColumns("Id", "User", "State", "Created", "Last seen", "Expires", "IP", "User agent");
                    foreach (var s in sessions)
                    {
                        table.AddRow(
                            Cell(s.Id), Cell(s.Subject ?? "(anonymous)"), StateName(s, now), Time(s.CreatedAt), Time(s.LastSeenAt),
                            Time(s.ExpiresAt), Cell(s.Metadata.IpAddress), Cell(s.Metadata.UserAgent, 40));
                    }
                    c.Console.Write(table);
                    c.Console.WriteLine($"{sessions.Count} session(s){(truncated ? $" (first {limit}; --limit 0 for all)" : "")}");
                });
            return ExitCodes.Ok;
        });
        list.Add(userOption);
        list.Add(stateOption);
        list.Add(limitOption);

        var idArgument = new Argument<string>("id") { Description = "The session id." };
        var show = StoreCommand("show", "Show one session: times, state, metadata and data (a credential hash only as a short prefix).", async (c, ct) =>
        {
            var id = c.Parse.GetValue(idArgument)!;
            var record = await FindAsync(c.Store, id, ct).ConfigureAwait(false);
            if (record is null)
            {
                await c.Error.WriteLineAsync($"No session with id '{TerminalText.Printable(id)}'.").ConfigureAwait(false);
                return ExitCodes.NotFound;
            }
            var now = DateTimeOffset.UtcNow;
            var json = Summary(record, now);
            json["idleExpiresAt"] = Iso(record.IdleExpiresAt);
            json["absoluteExpiresAt"] = Iso(record.AbsoluteExpiresAt);
            json["label"] = record.Metadata.Label;
            var data = new JsonObject();
            foreach (var (key, value) in record.Data.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                data[key] = ParseJson(value);
            }
            json["data"] = data;
            c.Print(json, () =>
            {
                var table = new Table().AddColumn("Field").AddColumn("Value");
                foreach (var (key, node) in json)
                {
                    if (key != "data")
                    {
                        table.AddRow(Cell(key), Cell(node?.ToString() ?? "-"));
                    }
                }
                c.Console.Write(table);
                if (record.Data.Count > 0)
                {
                    var dataTable = new Table().AddColumn("Data key").AddColumn("JSON value");
                    foreach (var (key, value) in record.Data.OrderBy(p => p.Key, StringComparer.Ordinal))
                    {
                        dataTable.AddRow(Cell(key), Cell(value, 100));
                    }
                    c.Console.Write(dataTable);
                }
            });
            return ExitCodes.Ok;
        });
        show.Add(idArgument);

        var revokeId = new Argument<string?>("id") { Description = "The session to revoke.", Arity = ArgumentArity.ZeroOrOne };
        var revokeUser = new Option<string?>("--user", "-u") { Description = "Revoke every live session of this subject (user id) instead." };
        var revoke = StoreCommand("revoke", "Revoke one session by id, or every live session of a user with --user.", async (c, ct) =>
        {
            var id = c.Parse.GetValue(revokeId);
            var user = c.Parse.GetValue(revokeUser);
            if ((id is null) == (user is null))
            {
                await c.Error.WriteLineAsync("Give either a session id or --user USER (not both).").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            var now = DateTimeOffset.UtcNow;
            if (id is not null)
            {
                if (!await c.Store.Store.RevokeAsync(id, now, ct).ConfigureAwait(false))
                {
                    await c.Error.WriteLineAsync($"No session with id '{TerminalText.Printable(id)}' to revoke (unknown or already revoked).").ConfigureAwait(false);
                    return ExitCodes.NotFound;
                }
                await AnnounceAsync(c, [id], ct).ConfigureAwait(false);
                c.Print(new JsonObject { ["revoked"] = 1, ["ids"] = new JsonArray(id) }, () => c.Console.WriteLine($"Revoked session {TerminalText.Printable(id)}."));
                return ExitCodes.Ok;
            }
            var ids = new List<string>();
            var query = new SessionQuery { Subject = user, State = SessionState.Live, PageSize = SessionQuery.MaxPageSize };
            do
            {
                var page = await c.Store.Admin.ListSessionsAsync(query, ct).ConfigureAwait(false);
                ids.AddRange(page.Sessions.Select(s => s.Id));
                query = query with { Cursor = page.NextCursor };
            }
            while (query.Cursor is not null);
            var revoked = new JsonArray();
            var ended = new List<string>();
            foreach (var sessionId in ids)
            {
                if (await c.Store.Store.RevokeAsync(sessionId, now, ct).ConfigureAwait(false))
                {
                    revoked.Add(sessionId);
                    ended.Add(sessionId);
                }
            }
            await AnnounceAsync(c, ended, ct).ConfigureAwait(false);
            c.Print(new JsonObject { ["revoked"] = revoked.Count, ["ids"] = revoked }, () => c.Console.WriteLine($"Revoked {revoked.Count} session(s) of user {TerminalText.Printable(user)}."));
            return ExitCodes.Ok;
        });
        revoke.Add(revokeId);
        revoke.Add(revokeUser);

        var dryRun = new Option<bool>("--dry-run") { Description = "Only count what would be deleted." };
        var gc = StoreCommand("gc", "Delete expired sessions (revoked ones too once expired), in batches.", async (c, ct) =>
        {
            var pending = await CountCollectableAsync(c.Store.Admin, ct).ConfigureAwait(false);
            if (c.Parse.GetValue(dryRun))
            {
                c.Print(new JsonObject { ["dryRun"] = true, ["expired"] = pending }, () => c.Console.WriteLine($"{N(pending)} expired session(s) would be deleted."));
                return ExitCodes.Ok;
            }
            var cleanup = (ISessionStoreCleanup)c.Store.Store;
            long deleted = 0;
            async Task RunAsync(Action<long>? progress)
            {
                while (true)
                {
                    var batch = await cleanup.DeleteExpiredAsync(GcBatchSize, ct).ConfigureAwait(false);
                    deleted += batch;
                    progress?.Invoke(deleted);
                    if (batch < GcBatchSize)
                    {
                        return;
                    }
                }
            }
            if (c.Interactive && !c.Json && pending > GcBatchSize)
            {
                await c.Console.Progress().StartAsync(async progress =>
                {
                    var task = progress.AddTask("Deleting expired sessions", maxValue: pending);
                    await RunAsync(n => task.Value = Math.Min(n, pending)).ConfigureAwait(false);
                }).ConfigureAwait(false);
            }
            else
            {
                await RunAsync(null).ConfigureAwait(false);
            }
            c.Print(new JsonObject { ["dryRun"] = false, ["deleted"] = deleted }, () => c.Console.WriteLine($"Deleted {N(deleted)} expired session(s)."));
            return ExitCodes.Ok;
        });
        gc.Add(dryRun);

        var force = new Option<bool>("--force") { Description = "Really delete every session (everyone is signed out)." };
        var clear = StoreCommand("clear", "Delete every session of the store (its own tables or key prefix only). Needs --force.", async (c, ct) =>
        {
            if (!c.Parse.GetValue(force))
            {
                await c.Error.WriteLineAsync($"Refusing to delete every session in {c.Url.Display} without --force (everyone would be signed out).").ConfigureAwait(false);
                return ExitCodes.Refused;
            }
            var deleted = await c.Store.Admin.ClearAsync(ct).ConfigureAwait(false);
            await AnnounceAsync(c, null, ct).ConfigureAwait(false);
            c.Print(new JsonObject { ["deleted"] = deleted }, () => c.Console.WriteLine($"Deleted {N(deleted)} session(s)."));
            return ExitCodes.Ok;
        });
        clear.Add(force);

        var keys = new Command("keys", "Signing keys for token sessions.");
        var generate = new Command("generate", "Print a new random signing key (base64, 32 bytes) for Tessera's token options.");
        generate.SetAction(parse =>
        {
            var key = SigningKeyRing.GenerateBase64Key();
            if (parse.GetValue(jsonOption))
            {
                output.WriteLine(new JsonObject { ["key"] = key }.ToJsonString(Indented));
            }
            else
            {
                output.WriteLine(key);
            }
            return ExitCodes.Ok;
        });
        keys.Add(generate);
        root.Add(keys);

        // No POSIX bundling: an argument such as a session id may start with a dash, and with bundling "-h..." or "-?..."
        // would read as a bundle holding the help option, print help and exit 0 instead of finding that session. The
        // tool's single-letter options (-s, -u, -n) all take a value, so bundling gave them nothing.
        var parsed = root.Parse(args, new ParserConfiguration { EnablePosixBundling = false });
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }).ConfigureAwait(false);
    }

    private static async Task<SessionRecord?> FindAsync(OpenedStore store, string id, CancellationToken ct)
    {
        if (await store.Store.LoadAsync(id, ct).ConfigureAwait(false) is { } live)
        {
            return live;
        }
        // Expired and revoked sessions are not loadable; find them by walking those states (usually few).
        foreach (var state in new[] { SessionState.Revoked, SessionState.Expired })
        {
            var query = new SessionQuery { State = state, PageSize = SessionQuery.MaxPageSize };
            do
            {
                var page = await store.Admin.ListSessionsAsync(query, ct).ConfigureAwait(false);
                if (page.Sessions.FirstOrDefault(s => string.Equals(s.Id, id, StringComparison.Ordinal)) is { } found)
                {
                    return found;
                }
                query = query with { Cursor = page.NextCursor };
            }
            while (query.Cursor is not null);
        }
        return null;
    }

    // Expired sessions plus revoked ones already past their expiry: exactly what DeleteExpiredAsync removes.
    private static async Task<long> CountCollectableAsync(ISessionStoreAdministration admin, CancellationToken ct)
    {
        var stats = await admin.GetStatisticsAsync(ct).ConfigureAwait(false);
        var count = stats.Expired;
        var now = DateTimeOffset.UtcNow;
        var query = new SessionQuery { State = SessionState.Revoked, PageSize = SessionQuery.MaxPageSize };
        do
        {
            var page = await admin.ListSessionsAsync(query, ct).ConfigureAwait(false);
            count += page.Sessions.Count(s => s.ExpiresAt <= now);
            query = query with { Cursor = page.NextCursor };
        }
        while (query.Cursor is not null);
        return count;
    }

    private static JsonObject Summary(SessionRecord s, DateTimeOffset now) => new()
    {
        ["id"] = s.Id,
        ["subject"] = s.Subject,
        ["state"] = StateName(s, now),
        ["createdAt"] = Iso(s.CreatedAt),
        ["lastSeenAt"] = Iso(s.LastSeenAt),
        ["expiresAt"] = Iso(s.ExpiresAt),
        ["revokedAt"] = s.RevokedAt is { } r ? Iso(r) : null,
        ["userAgent"] = s.Metadata.UserAgent,
        ["ipAddress"] = s.Metadata.IpAddress,
        // Never the whole hash: a prefix is enough to tell sessions apart and useless as a credential lookup.
        ["credentialHashPrefix"] = s.CredentialHash.Length == 0 ? null : Convert.ToHexStringLower(s.CredentialHash.AsSpan(0, Math.Min(4, s.CredentialHash.Length))),
    };

    private static SessionState? ParseState(string text) => text switch
    {
        "live" => SessionState.Live,
        "expired" => SessionState.Expired,
        "revoked" => SessionState.Revoked,
        _ => null,
    };

    private static string StateName(SessionRecord s, DateTimeOffset now) => SessionQuery.StateOf(s, now) switch
    {
        SessionState.Live => "live",
        SessionState.Expired => "expired",
        _ => "revoked",
    };

    private static JsonNode? ParseJson(string json)
    {
        try
        {
            return JsonNode.Parse(json);
        }
        catch (JsonException)
        {
            return JsonValue.Create(json);
        }
    }

    private static string Iso(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.00} GiB"),
    } + $" ({N(bytes)} bytes)";

    // The apps sharing the store learn of a revoke (or a clear) at once: their near caches drop the sessions and their
    // connection lifetimes close live connections, told "operator". If the message cannot be sent, they learn it within
    // their own bounds (the near cache's staleness, the watcher's re-validation), which the warning says.
    private static async Task AnnounceAsync(Context c, IReadOnlyCollection<string>? ids, CancellationToken ct)
    {
        if (ids is { Count: 0 } || await c.Store.AnnounceEndedAsync(ids, SessionRevocationReason.Operator, ct).ConfigureAwait(false) is not { } failed)
        {
            return;
        }
        await c.Error.WriteLineAsync(
            $"Warning: the change is made, but the apps sharing the store could not be told at once ({failed.GetType().Name}); their near caches "
            + "drop the sessions within NearCache:MaxStaleness and their live connections close at the next re-validation (30 seconds by default).").ConfigureAwait(false);
    }

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    /// <summary>A table cell of stored text: control characters made visible first, then shortened, then markup-escaped.</summary>
    private static string Cell(string? text, int max = int.MaxValue) => Markup.Escape(Shorten(TerminalText.Printable(text) ?? "", max));

    private sealed record Context(ParseResult Parse, OpenedStore Store, StoreUrl Url, IAnsiConsole Console, TextWriter Output, TextWriter Error, bool Json, bool Interactive)
    {
        public void Print(JsonObject json, Action table)
        {
            if (Json)
            {
                Output.WriteLine(json.ToJsonString(Indented));
            }
            else
            {
                table();
            }
        }
    }
}
