using System.Globalization;
using System.Security.Cryptography;
using Npgsql;

namespace Tessera.HttpBench;

/// <summary>One wrk run of one route of one variant in one round.</summary>
/// <param name="Statements">What PostgreSQL ran per request, for the variants on PostgreSQL (null elsewhere, and in older results).</param>
/// <param name="Closing">
/// True for the /healthz run that closes a variant's turn in a round (the other one opens it); false for every other run,
/// and for every run of results measured before /healthz ran twice.
/// </param>
internal sealed record Measurement(Variant Variant, Route Route, int Round, WrkResult Result, CpuShare Cpu, StatementShare? Statements = null, bool Closing = false);

/// <summary>A variant whose server (or, for Compas, whose in-process driver) is up.</summary>
/// <param name="Database">The variant's own PostgreSQL database, when it has one.</param>
internal sealed record RunningVariant(Variant Variant, ServerProcess? Server, IReadOnlyList<int> StoreRoots, CompasRefresh? Compas = null, string? Database = null)
{
    public int Pid => Server?.Pid ?? Compas!.Pid;

    public string Where => Server?.BaseAddress.ToString() ?? "node";

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
        if (Compas is not null)
        {
            await Compas.DisposeAsync();
        }
    }
}

/// <summary>
/// The whole benchmark: start every variant's server once, warm each route up, then run the rounds. In a round every
/// variant runs each of its routes once, between two runs of /healthz (one first, one last: the routes' ratios are to
/// their mean, so the machine's speed moving during the turn moves the baseline with it), and the variants take turns
/// (the starting variant moves by one each round), so a slow minute on a shared machine lands on all of them rather than
/// on one.
/// </summary>
internal sealed class Bench(BenchOptions options, TextWriter console)
{
    // Below this many busy cores (of the whole machine, between runs) the machine counts as quiet.
    private const double QuietCores = 0.3;

    private PgStatements? _statements;

    public async Task<IReadOnlyList<Measurement>> RunAsync(IList<string> skipped, CancellationToken cancellationToken)
    {
        var scratch = Directory.CreateTempSubdirectory("tessera-http-bench-");
        var running = new List<RunningVariant>();
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };
        var signIn = new SignIn(http);
        var wrk = new WrkRunner(options.Wrk, options.Threads, options.Connections, scratch.FullName);
        var measurements = new List<Measurement>();
        if (options.Postgres is not null)
        {
            _statements = new PgStatements(options.Postgres);
            if (!await _statements.EnableAsync(cancellationToken))
            {
                console.WriteLine("pg_stat_statements is not preloaded: statements per request are not counted");
            }
        }
        try
        {
            foreach (var variant in options.Variants)
            {
                try
                {
                    if (await StartAsync(variant, scratch.FullName, cancellationToken) is { } started)
                    {
                        running.Add(started);
                        console.WriteLine($"started {variant.Label} on {started.Where} (pid {started.Pid})");
                    }
                    else
                    {
                        skipped.Add($"{variant.Label}: {SkipReason(variant)}");
                    }
                }
                catch (Exception e) when (e is InvalidOperationException or NpgsqlException)
                {
                    skipped.Add($"{variant.Label}: did not start ({FirstLine(e.Message)})");
                    console.WriteLine($"could not start {variant.Label}: {e.Message}");
                }
            }

            var round = 0;
            if (options.Warmup > 0)
            {
                console.WriteLine($"warm-up: {options.Warmup} s per route, not measured");
                await RoundAsync(running, round, options.Warmup, signIn, wrk, _ => { }, cancellationToken);
            }
            for (round = 1; round <= options.Rounds; round++)
            {
                var order = running.Skip((round - 1) % Math.Max(1, running.Count)).Concat(running.Take((round - 1) % Math.Max(1, running.Count))).ToList();
                await RoundAsync(order, round, options.Duration, signIn, wrk, measurements.Add, cancellationToken);
            }
            return measurements;
        }
        finally
        {
            foreach (var variant in running)
            {
                await variant.DisposeAsync();
            }
            scratch.Delete(recursive: true);
        }
    }

    private async Task RoundAsync(IReadOnlyList<RunningVariant> variants, int round, int seconds, SignIn signIn, WrkRunner wrk, Action<Measurement> record, CancellationToken cancellationToken)
    {
        // One session (and one token chain) per connection at least; twice that, so consecutive requests of one
        // connection rarely land on the same session.
        var poolSize = 2 * options.Connections;
        foreach (var running in variants)
        {
            var (variant, server, storeRoots, compas, database) = running;
            if (compas is not null)
            {
                await WaitForQuietAsync(cancellationToken);
                await ResetStatementsAsync(database, cancellationToken);
                var start = CpuSnapshot.Take(compas.Pid, storeRoots);
                var refreshed = await compas.RunAsync(seconds, cancellationToken);
                var used = CpuSnapshot.Between(start, CpuSnapshot.Take(compas.Pid, storeRoots), 0);
                Show(variant, Route.CompasRefresh, refreshed, used, await ReadStatementsAsync(database, refreshed, cancellationToken));
                continue;
            }
            var prefix = $"bench-{round}-";
            var cookies = await signIn.CookiesAsync(server!.BaseAddress, prefix + "c", poolSize, cancellationToken);
            var bearers = variant.Routes.Contains(Route.ApiMe)
                ? (await signIn.TokensAsync(server.BaseAddress, prefix + "t", poolSize, cancellationToken)).Select(p => "Authorization: Bearer " + p.Access).ToList()
                : [];
            // Measured rounds close the turn with /healthz again; the warm-up does not need it.
            IReadOnlyList<Route> turn = round > 0 && variant.Routes.Contains(Route.Health) ? [.. variant.Routes, Route.Health] : variant.Routes;
            for (var i = 0; i < turn.Count; i++)
            {
                var route = turn[i];
                var closing = i > 0 && route == Route.Health;
                IEnumerable<string> credentials = route.Credential switch
                {
                    Credential.Cookie => cookies,
                    Credential.Bearer => bearers,
                    // Chains are used up by the run, so they are made right before it.
                    _ => (await signIn.TokensAsync(server.BaseAddress, prefix + "r", poolSize, cancellationToken)).Select(p => p.Refresh),
                };
                await WaitForQuietAsync(cancellationToken);
                _ = server.TakeNewLog();
                await ResetStatementsAsync(database, cancellationToken);
                var before = CpuSnapshot.Take(server.Pid, storeRoots);
                var (result, wrkTicks) = await wrk.RunAsync(new Uri(server.BaseAddress, route.Path.TrimStart('/')), route.Method,
                    route.Credential == Credential.RefreshChain, credentials, seconds, cancellationToken);
                var cpu = CpuSnapshot.Between(before, CpuSnapshot.Take(server.Pid, storeRoots), wrkTicks);
                Show(variant, route, result, cpu, await ReadStatementsAsync(database, result, cancellationToken), closing);
                if (result.Failures > 0 && server.TakeNewLog() is { Length: > 0 } log)
                {
                    // The server logs warnings and errors only: what it said while requests failed says why.
                    var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                    console.WriteLine($"  {variant.Label} logged {lines.Length} line(s) during the run; the first ones:");
                    foreach (var line in lines.Take(12))
                    {
                        console.WriteLine($"  | {line}");
                    }
                }
            }
        }

        void Show(Variant variant, Route route, WrkResult result, CpuShare cpu, StatementShare? statements, bool closing = false)
        {
            record(new Measurement(variant, route, round, result, cpu, statements, closing));
            var when = round == 0 ? "warm-up" : $"round {round}/{options.Rounds}";
            var failures = result.Failures > 0 ? $"  FAILED REQUESTS: {result.Non2xx} non-2xx, {result.SocketErrors} socket errors" : "";
            var postgres = statements is null ? "" : string.Create(CultureInfo.InvariantCulture,
                $"; PostgreSQL ran {statements.PerRequest:0.00} statements ({statements.ExecutionMicrosecondsPerRequest:0} µs) per request");
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{when,-11} {variant.Label,-26} {(closing ? route.Id + " again" : route.Id),-18} {result.RequestsPerSecond,9:N0} req/s  p99 {Report.Milliseconds(result.P99Ms),9}  cores: machine {cpu.Machine:0.00}, server {cpu.Server:0.00}, store {cpu.Store:0.00}, wrk {cpu.Wrk:0.00}, other {cpu.Rest:0.00} (irq {cpu.Interrupts:0.00}, within the others){postgres}{failures}"));
        }
    }

    private Task ResetStatementsAsync(string? database, CancellationToken cancellationToken) =>
        database is not null && _statements is not null ? _statements.ResetAsync(cancellationToken) : Task.CompletedTask;

    private async Task<StatementShare?> ReadStatementsAsync(string? database, WrkResult result, CancellationToken cancellationToken) =>
        database is not null && _statements is not null ? await _statements.ReadAsync(database, result.Requests, cancellationToken) : null;

    /// <summary>
    /// On a shared machine, waits (at most <see cref="BenchOptions.QuietWait"/> seconds) until the machine is nearly idle
    /// before a run, so a burst of someone else's build does not land inside it. Our idle servers use next to nothing.
    /// </summary>
    private async Task WaitForQuietAsync(CancellationToken cancellationToken)
    {
        if (options.QuietWait == 0)
        {
            return;
        }
        var waited = System.Diagnostics.Stopwatch.StartNew();
        (double Cores, string Busiest) busy;
        while ((busy = await CpuSnapshot.MachineBusyAsync(TimeSpan.FromMilliseconds(500), cancellationToken)).Cores > QuietCores
            && waited.Elapsed.TotalSeconds < options.QuietWait)
        {
        }
        if (waited.Elapsed.TotalSeconds >= 1.5)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  (waited {waited.Elapsed.TotalSeconds:0} s for the machine to go quiet; {busy.Cores:0.00} cores busy when the run started, most by {busy.Busiest})"));
        }
    }

    private async Task<RunningVariant?> StartAsync(Variant variant, string scratch, CancellationToken cancellationToken)
    {
        List<string> arguments =
        [
            "--urls", "http://127.0.0.1:0",
            "--environment", "Production",
            // Quiet, like a production app under load; the lifetime line says where it listens.
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
        ];
        List<int> storeRoots = [];
        if (variant.IsCompas)
        {
            if (options.Postgres is null || options.CompasDirectory is null || options.CompasMigration is null)
            {
                return null;
            }
            var url = PostgresUrl(await CreateDatabaseAsync(variant.Id, cancellationToken));
            storeRoots.AddRange(options.PostgresPid is { } postmaster ? [postmaster] : []);
            var driver = await CompasRefresh.StartAsync(options.CompasDirectory, options.CompasMigration, url, options.Connections, cancellationToken);
            return new RunningVariant(variant, null, storeRoots, driver, DatabaseName(variant.Id));
        }
        if (variant.IsAddSession)
        {
            return new RunningVariant(variant, await ServerProcess.StartAsync(options.AddSessionDll, arguments, TimeSpan.FromSeconds(60)), storeRoots);
        }

        var data = Directory.CreateDirectory(Path.Combine(scratch, variant.Id)).FullName;
        arguments.AddRange(
        [
            $"--Tessera:Store={variant.Store}",
            // A key of its own: Production refuses to start without one (Development would make and save one).
            $"--Tessera:Keys:0={Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))}",
            $"--Demo:DataDirectory={data}",
            // Every request of the load comes from one address: the demo's per-client limit on session routes is off.
            "--Demo:SessionRateLimit=0",
        ]);
        if (variant.NearCache)
        {
            arguments.Add("--Tessera:NearCache:Enabled=true");
        }
        if (variant.NeedsPostgres)
        {
            if (options.Postgres is null)
            {
                return null;
            }
            // A database per variant, so the near-cache variant's invalidations never reach the other.
            var connectionString = await CreateDatabaseAsync(variant.Id, cancellationToken);
            arguments.Add($"--ConnectionStrings:Postgres={(variant.Multiplexing ? connectionString + ";Multiplexing=true" : connectionString)}");
            storeRoots.AddRange(options.PostgresPid is { } pid ? [pid] : []);
        }
        if (variant.NeedsRedis)
        {
            if (options.Redis is null)
            {
                return null;
            }
            arguments.Add($"--ConnectionStrings:Redis={options.Redis}");
            arguments.Add($"--Tessera:Redis:KeyPrefix=bench-{variant.Id}");
            storeRoots.AddRange(options.RedisPid is { } pid ? [pid] : []);
        }
        var server = await ServerProcess.StartAsync(options.DemoDll, arguments, TimeSpan.FromSeconds(60));
        return new RunningVariant(variant, server, storeRoots, Database: variant.NeedsPostgres ? DatabaseName(variant.Id) : null);
    }

    private static string DatabaseName(string variantId) => "bench_" + variantId.Replace('-', '_');

    private async Task<string> CreateDatabaseAsync(string variantId, CancellationToken cancellationToken)
    {
        var name = DatabaseName(variantId);
        await using (var connection = new NpgsqlConnection(options.Postgres))
        {
            await connection.OpenAsync(cancellationToken);
            foreach (var sql in new[] { $"DROP DATABASE IF EXISTS {name} WITH (FORCE)", $"CREATE DATABASE {name}" })
            {
                await using var command = new NpgsqlCommand(sql, connection);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        return new NpgsqlConnectionStringBuilder(options.Postgres) { Database = name }.ConnectionString;
    }

    // postgres.js (Compas's client) takes a URL.
    private static string PostgresUrl(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var user = Uri.EscapeDataString(builder.Username ?? "postgres");
        var password = builder.Password is { Length: > 0 } secret ? ":" + Uri.EscapeDataString(secret) : "";
        return $"postgres://{user}{password}@{builder.Host}:{builder.Port}/{Uri.EscapeDataString(builder.Database ?? "postgres")}";
    }

    private string SkipReason(Variant variant) =>
        variant.IsCompas && options.Postgres is not null ? "no Compas driver given (--compas DIR --compas-migration FILE; bench/http.sh installs it with npm)" :
        variant.NeedsPostgres ? "no PostgreSQL given (--postgres)" : variant.NeedsRedis ? "no Redis given (--redis)" : "not started";

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
