using Microsoft.Extensions.Time.Testing;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;
using Tessera.Sqlite;
using Tessera.Testing;

namespace Tessera.Benchmarks;

/// <summary>
/// The <c>cleanup-under-load</c> mode: per store, a million expired sessions plus live ones, then read latency from
/// concurrent readers without cleanup and while the cleanup service deletes the expired sessions in bounded batches.
/// Target: p99 during cleanup at most twice p99 without it.
/// </summary>
public static class CleanupUnderLoad
{
    /// <summary>The target: p99 read latency during cleanup over p99 without it.</summary>
    public const double TargetRatio = 2.0;

    private static readonly TimeSpan ExpiredLifetime = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan LiveLifetime = TimeSpan.FromDays(1);

    /// <summary>Runs the mode.</summary>
    /// <param name="args">
    /// <c>--sessions N</c> expired sessions (default 1,000,000), <c>--live N</c> (10,000), <c>--seconds N</c> of reading
    /// without cleanup (10), <c>--readers N</c> (4), <c>--batch N</c> cleanup batch size (1,000, the default
    /// <see cref="TesseraOptions.CleanupBatchSize"/>), <c>--insert-seconds N</c> the most time spent inserting expired
    /// sessions into one store (300), <c>--stores a,b</c> (every available one), <c>--unpaced</c> (readers do not pause
    /// 1 ms between reads), <c>--pause-ms N</c> (the least pause between batches; default the background loop's
    /// <c>CleanupBatchPause</c>, 10 ms), <c>--back-to-back</c> (no pause: <c>RunOnceAsync()</c>, as <c>tessera gc</c> runs).
    /// </param>
    /// <returns>0 when every store met the target, 1 otherwise.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        var settings = new Settings(
            Expired: Arguments.Int(args, "--sessions", 1_000_000),
            Live: Arguments.Int(args, "--live", 10_000),
            Seconds: Arguments.Int(args, "--seconds", 10),
            Readers: Arguments.Int(args, "--readers", 4),
            Batch: Arguments.Int(args, "--batch", TesseraDefaults.CleanupBatchSize),
            InsertSeconds: Arguments.Int(args, "--insert-seconds", 300),
            Paced: !Arguments.Flag(args, "--unpaced"),
            PauseMs: Arguments.Flag(args, "--back-to-back") ? 0 : Arguments.Int(args, "--pause-ms", (int)TesseraDefaults.CleanupBatchPause.TotalMilliseconds));
        var stores = Arguments.Value(args, "--stores")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            ?? BenchStores.Available();

        Console.WriteLine($"cleanup-under-load: {settings.Expired:N0} expired + {settings.Live:N0} live sessions per store; {settings.Readers} readers"
            + $" ({(settings.Paced ? "each pausing 1 ms (Task.Delay) between reads" : "unpaced, back to back")}); cleanup batches of {settings.Batch:N0}.");
        Console.WriteLine();
        Console.WriteLine("Method:");
        Console.WriteLine("  1. Insert the sessions to expire (1-minute lifetime, one data key each), then the live ones (1-day lifetime),");
        Console.WriteLine("     on a manual clock; then move the clock 2 minutes on: the first group is expired, the live ones are not.");
        Console.WriteLine("  2. Readers call LoadByCredentialAsync on random live sessions (1 s warm-up not recorded), timing each call");
        Console.WriteLine($"     with Stopwatch, for {settings.Seconds} s without cleanup.");
        Console.WriteLine(settings.PauseMs == 0
            ? "  3. The same readers again while SessionCleanupService.RunOnceAsync() deletes the expired sessions (DeleteExpiredAsync\n     in batches, back to back, until a short batch, as `tessera gc` does), stopped when cleanup finishes."
            : $"  3. The same readers again while SessionCleanupService.RunOnceAsync(pause) deletes the expired sessions as the background\n     loop does: batches with a pause of at least {settings.PauseMs} ms after each full one, or as long as the batch took when\n     longer (the pause runs on the real clock), stopped when cleanup finishes.");
        Console.WriteLine($"  4. p99 ratio = p99 during cleanup / p99 without; target <= {TargetRatio:0.#}.");
        if (BenchStores.LeftOutNotice() is { Length: > 0 } notice)
        {
            Console.WriteLine($"  {notice}");
        }
        Console.WriteLine();

        var results = new List<Result>();
        foreach (var name in stores)
        {
            results.Add(await RunStoreAsync(name, settings));
            Console.WriteLine();
        }

        Console.WriteLine("| store | expired sessions | live | p50 / p99 without cleanup | p50 / p99 during cleanup | p99 ratio | cleanup time | deleted/s |");
        Console.WriteLine("| --- | ---: | ---: | --- | --- | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Store} | {r.Expired:N0} | {r.Live:N0} | {Micros(r.Before.P50)} / {Micros(r.Before.P99)} | {Micros(r.During.P50)} / {Micros(r.During.P99)} | {r.Ratio:0.00} | {r.CleanupTime.TotalSeconds:0.0} s | {r.Deleted / r.CleanupTime.TotalSeconds:N0} |"));
        }
        return results.All(r => r.Ratio <= TargetRatio && r.Remaining == 0 && r.Misses == 0) ? 0 : 1;
    }

    private static async Task<Result> RunStoreAsync(string name, Settings settings)
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        await using var bench = await BenchStores.CreateAsync(name, clock);
        var store = bench.Store;
        var now = clock.GetUtcNow();

        var insertWatch = Stopwatch.StartNew();
        using var insertDeadline = new CancellationTokenSource(TimeSpan.FromSeconds(settings.InsertSeconds));
        var (expired, how) = await InsertExpiredAsync(bench, settings.Expired, now, insertDeadline.Token);
        var expiredTime = insertWatch.Elapsed;
        var sessions = new SessionRecord[settings.Live];
        await Parallel.ForAsync(0, settings.Live, Parallelism(name), async (i, cancellationToken) =>
        {
            sessions[i] = BenchSessions.Record(BenchSessions.RandomHash(), now, LiveLifetime, $"user{i}", Data(i));
            if (!await store.CreateAsync(sessions[i], cancellationToken))
            {
                throw new InvalidOperationException("The store refused a live session.");
            }
        });
        Console.WriteLine($"{name}: inserted {expired:N0} expired sessions in {expiredTime.TotalSeconds:N1} s ({how})"
            + $"{(expired < settings.Expired ? $"; STOPPED at {expired:N0} of {settings.Expired:N0}: the --insert-seconds limit ({settings.InsertSeconds} s) made that the largest practical number here" : "")},"
            + $" then {settings.Live:N0} live ones ({insertWatch.Elapsed.TotalSeconds - expiredTime.TotalSeconds:N1} s, CreateAsync).");
        clock.Advance(TimeSpan.FromMinutes(2));

        using (var warmUp = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            await ReadAsync(store, sessions, settings, warmUp.Token);
        }
        Latencies before;
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(settings.Seconds)))
        {
            before = await ReadAsync(store, sessions, settings, stop.Token);
        }
        Console.WriteLine($"  reads without cleanup: {before}");

        var options = BenchSessions.Options();
        options.CleanupBatchSize = settings.Batch;
        // The service's clock only times its pauses (expiry is decided by the store's manual clock), so it is the real one.
        var cleanup = new SessionCleanupService(store, Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System);
        Latencies during;
        using var batches = new BatchDurations();
        var cleanupWatch = Stopwatch.StartNew();
        int deleted;
        using (var stop = new CancellationTokenSource())
        {
            var reading = ReadAsync(store, sessions, settings, stop.Token);
            try
            {
                deleted = await Task.Run(() => cleanup.RunOnceAsync(TimeSpan.FromMilliseconds(settings.PauseMs)));
            }
            finally
            {
                cleanupWatch.Stop();
                await stop.CancelAsync();
            }
            during = await reading;
        }
        Console.WriteLine($"  reads during cleanup:  {during}");
        Console.WriteLine($"  cleanup batches (tessera.store.operation.duration, delete_expired): {batches}");

        var remaining = store is ISessionStoreCleanup cleanupStore ? await cleanupStore.DeleteExpiredAsync(1) : -1;
        var live = store is ISessionStoreCounter counter ? await counter.CountAsync() : -1;
        var ratio = (double)during.P99 / before.P99;
        Console.WriteLine($"  cleanup: deleted {deleted:N0} in {cleanupWatch.Elapsed.TotalSeconds:N1} s ({deleted / cleanupWatch.Elapsed.TotalSeconds:N0}/s, batches of {settings.Batch:N0});"
            + $" afterwards {live:N0} live sessions, {(remaining == 0 ? "no expired one left" : $"{remaining} expired still found")}.");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  p99 ratio: {ratio:0.00} (target <= {TargetRatio:0.#}): {(ratio <= TargetRatio ? "OK" : "OVER TARGET")}"));
        return new Result(name, expired, settings.Live, before, during, ratio, cleanupWatch.Elapsed, deleted, remaining, before.Misses + during.Misses);
    }

    /// <summary>Inserts sessions that expire a minute from <paramref name="now"/>, as fast as the store allows, until done or the deadline.</summary>
    private static async Task<(int Inserted, string How)> InsertExpiredAsync(BenchStore bench, int count, DateTimeOffset now, CancellationToken deadline)
    {
        switch (bench.Name)
        {
            case "sqlite":
                return (await SqliteBulkInsertAsync((SqliteSessionStore)bench.Store, count, now, deadline),
                    "bulk: INSERT ... SELECT over a recursive CTE into the store's tables, 100,000 rows per transaction");
            case "postgres":
                return (await PostgresBulkInsertAsync(bench, count, now, deadline),
                    "bulk: INSERT ... SELECT FROM generate_series into the store's table, 100,000 rows per statement");
            default:
                var inserted = 0;
                try
                {
                    await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = bench.Name == "memory" ? 1 : 64, CancellationToken = deadline }, async (i, cancellationToken) =>
                    {
                        if (await bench.Store.CreateAsync(BenchSessions.Record(BenchSessions.RandomHash(), now, ExpiredLifetime, data: Data(i)), CancellationToken.None))
                        {
                            Interlocked.Increment(ref inserted);
                        }
                    });
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                }
                return (inserted, bench.Name == "memory" ? "CreateAsync, one at a time" : "CreateAsync, 64 in flight on one pipelined connection");
        }
    }

    private static async Task<int> SqliteBulkInsertAsync(SqliteSessionStore store, int count, DateTimeOffset now, CancellationToken deadline)
    {
        const int Chunk = 100_000;
        await using var connection = new SqliteConnection($"Data Source={store.DatabasePath};Foreign Keys=True");
        await connection.OpenAsync();
        var created = now.ToUnixTimeMilliseconds();
        var expires = (now + ExpiredLifetime).ToUnixTimeMilliseconds();
        var inserted = 0;
        while (inserted < count && !deadline.IsCancellationRequested)
        {
            var to = Math.Min(count, inserted + Chunk);
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
            await using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = """
                    WITH RECURSIVE n(i) AS (SELECT $from UNION ALL SELECT i + 1 FROM n WHERE i < $to)
                    INSERT INTO tessera_sessions (id, credential_hash, subject, created_at, last_seen_at, idle_expires_at, absolute_expires_at, expires_at)
                    SELECT 'expired-' || i, randomblob(32), NULL, $created, $created, $expires, $expires, $expires FROM n;
                    INSERT INTO tessera_session_data (session_pk, key, value)
                    SELECT pk, 'cart', '[{"sku":"SKU-' || pk || '","quantity":1}]' FROM tessera_sessions WHERE pk > $last_pk;
                    """;
                command.Parameters.AddWithValue("$from", inserted + 1);
                command.Parameters.AddWithValue("$to", to);
                command.Parameters.AddWithValue("$created", created);
                command.Parameters.AddWithValue("$expires", expires);
                await using (var last = connection.CreateCommand())
                {
                    last.Transaction = transaction;
                    last.CommandText = "SELECT coalesce(max(pk), 0) FROM tessera_sessions";
                    command.Parameters.AddWithValue("$last_pk", (long)(await last.ExecuteScalarAsync())!);
                }
                await command.ExecuteNonQueryAsync();
            }
            await transaction.CommitAsync();
            inserted = to;
        }
        return inserted;
    }

    private static async Task<int> PostgresBulkInsertAsync(BenchStore bench, int count, DateTimeOffset now, CancellationToken deadline)
    {
        const int Chunk = 100_000;
        var connectionString = Environment.GetEnvironmentVariable(BenchStores.PostgresVariable)!;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var inserted = 0;
        while (inserted < count && !deadline.IsCancellationRequested)
        {
            var to = Math.Min(count, inserted + Chunk);
            await using var command = new NpgsqlCommand($"""
                INSERT INTO "{bench.Namespace}"."sessionStore" ("id", "checksum", "data", "createdAt", "updatedAt", "tesseraCredentialHash",
                  "tesseraLastSeenAt", "tesseraIdleExpiresAt", "tesseraAbsoluteExpiresAt")
                SELECT gen_random_uuid(), 'tessera', jsonb_build_object('cart', jsonb_build_array(jsonb_build_object('sku', 'SKU-' || g, 'quantity', 1))),
                       $1, $1, sha256(int8send(g)), $1, $2, $2
                FROM generate_series($3::bigint, $4::bigint) AS g
                """, connection);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now + ExpiredLifetime });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = inserted + 1 });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = to });
            command.CommandTimeout = 600;
            await command.ExecuteNonQueryAsync(CancellationToken.None);
            inserted = to;
        }
        // Fresh statistics, as autovacuum would gather them on a table that grew this much.
        await using (var analyze = new NpgsqlCommand($"""ANALYZE "{bench.Namespace}"."sessionStore" """, connection))
        {
            await analyze.ExecuteNonQueryAsync();
        }
        return inserted;
    }

    private static async Task<Latencies> ReadAsync(ISessionStore store, SessionRecord[] live, Settings settings, CancellationToken stop)
    {
        var gcBefore = GC.GetTotalPauseDuration();
        var watch = Stopwatch.StartNew();
        var readers = Enumerable.Range(0, settings.Readers).Select(r => Task.Run(async () =>
        {
            var random = new Random(r);
            var samples = new List<long>(1 << 16);
            var misses = 0;
            while (!stop.IsCancellationRequested)
            {
                var session = live[random.Next(live.Length)];
                var start = Stopwatch.GetTimestamp();
                var record = await BenchStores.LoadByCredentialAsync(store, session);
                samples.Add(Stopwatch.GetTimestamp() - start);
                if (record is null)
                {
                    misses++;
                }
                if (settings.Paced)
                {
                    await Task.Delay(1);
                }
            }
            return (samples, misses);
        })).ToArray();
        var results = await Task.WhenAll(readers);
        var all = results.SelectMany(r => r.samples).ToArray();
        Array.Sort(all);
        return new Latencies(all.Length, all.Length / watch.Elapsed.TotalSeconds, Percentile(all, 0.50), Percentile(all, 0.99), all.Length == 0 ? 0 : all[^1],
            results.Sum(r => r.misses), GC.GetTotalPauseDuration() - gcBefore);
    }

    private static long Percentile(long[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static ParallelOptions Parallelism(string store) => new() { MaxDegreeOfParallelism = store == "memory" ? 1 : 16 };

    private static Dictionary<string, string> Data(int i) => new(1, StringComparer.Ordinal)
    {
        ["cart"] = string.Create(CultureInfo.InvariantCulture, $$"""[{"sku":"SKU-{{i}}","quantity":1}]"""),
    };

    private static string Micros(long ticks) => string.Create(CultureInfo.InvariantCulture, $"{ticks * 1_000_000.0 / Stopwatch.Frequency:N0} µs");

    private sealed record Settings(int Expired, int Live, int Seconds, int Readers, int Batch, int InsertSeconds, bool Paced, int PauseMs);

    private sealed record Latencies(int Count, double PerSecond, long P50, long P99, long Max, int Misses, TimeSpan GcPauses)
    {
        public override string ToString() =>
            $"{Count:N0} reads ({PerSecond:N0}/s), p50 {Micros(P50)}, p99 {Micros(P99)}, max {Micros(Max)}; GC pauses {GcPauses.TotalMilliseconds:N0} ms in all"
            + (Misses > 0 ? $"; {Misses:N0} MISSED (found no session)" : "");
    }

    /// <summary>
    /// The duration of each cleanup batch, from Tessera's own store-latency histogram (the cleanup service calls the
    /// store through it): for the memory store, how long each batch holds the lock readers wait on.
    /// </summary>
    private sealed class BatchDurations : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<double> _seconds = [];

        public BatchDurations()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == TesseraMetrics.MeterName && instrument.Name == TesseraMetrics.StoreOperationDuration)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "operation" && Equals(tag.Value, "delete_expired"))
                    {
                        lock (_seconds)
                        {
                            _seconds.Add(value);
                        }
                    }
                }
            });
            _listener.Start();
        }

        public override string ToString()
        {
            lock (_seconds)
            {
                if (_seconds.Count == 0)
                {
                    return "none recorded";
                }
                var sorted = _seconds.Order().ToArray();
                return string.Create(CultureInfo.InvariantCulture,
                    $"{sorted.Length:N0}, p50 {sorted[sorted.Length / 2] * 1000:N1} ms, p99 {sorted[Math.Max(0, (int)Math.Ceiling(sorted.Length * 0.99) - 1)] * 1000:N1} ms, max {sorted[^1] * 1000:N1} ms");
            }
        }

        public void Dispose() => _listener.Dispose();
    }

    private sealed record Result(string Store, int Expired, int Live, Latencies Before, Latencies During, double Ratio, TimeSpan CleanupTime, int Deleted, int Remaining, int Misses);
}
