using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>
/// A Sentinel failover under load: the primary is killed (SIGKILL, a crash) while stores write sessions and a real
/// Kestrel app on such a store serves session writes; Sentinel promotes the replica. The stores must recover by
/// themselves (no reconnect call), the app must answer no 5xx once its writes go through again, and the acknowledged
/// writes the promotion lost are counted, with and without <c>WAIT</c> (<see cref="RedisSessionStoreOptions.ReplicaAcknowledgements"/>),
/// and printed to the test output for docs/reliability.md. Redis does not make failover lossless, so the only loss
/// asserted is the guaranteed one: with one replica acknowledgement asked, a write the replica acknowledged before the
/// primary died is never lost. Each run starts a Sentinel set of its own.
/// </summary>
[Collection(RedisTopologyCollections.Failover)]
public sealed class RedisFailoverTests(ITestOutputHelper output)
{
    /// <summary>How long the stores may take to write again after the kill (Sentinel needs about 1 s to call the primary down, then promotes).</summary>
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(60);

    private const int WriterLanes = 4;
    private const int HttpClients = 4;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task AfterTheSentinelPrimaryIsKilledTheStoreRecoversByItselfAndTheLostAcknowledgedWritesAreCounted(int replicaAcknowledgements)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var servers = await RedisTopologyServers.StartAsync(RedisTopologyKind.Sentinel);
        var clock = new FakeTimeProvider(TestClock.Start);
        var prefix = "tessera-test-" + Guid.NewGuid().ToString("N");
        RedisSessionStore NewStore(FakeLogger? logger = null) => new(
            new RedisSessionStoreOptions
            {
                KeyPrefix = prefix,
                Configuration = RedisTopology.Options(servers.ConfigurationString + ",abortConnect=false", null),
                ReplicaAcknowledgements = replicaAcknowledgements,
                ReplicaAcknowledgementTimeout = TimeSpan.FromSeconds(1),
            },
            clock,
            logger);

        // Writers: lanes that each create sessions one after the other on a store (an app instance) of their own, so a
        // "replicas behind" warning from that store belongs to the write it interrupted.
        var writers = Enumerable.Range(0, WriterLanes).Select(_ => new WriterLane(NewStore)).ToArray();
        // The app: a real Kestrel server on yet another store, driven by real HTTP clients.
        var appStore = NewStore();
        await using var app = await TesseraTestServer.StartAsync(appStore, clock, [SigningKeyRing.GenerateBase64Key()]);
        var requests = new ConcurrentQueue<(long StartedAt, long EndedAt, int Status)>();
        using var stop = new CancellationTokenSource();
        var load = writers.Select(lane => lane.RunAsync(clock, stop.Token))
            .Concat(Enumerable.Range(0, HttpClients).Select(_ => DriveAppAsync(app, requests, stop.Token)))
            .ToArray();
        // The kill takes a moment (a script finds the pid and signals it): writes that return meanwhile may or may not
        // have reached the old primary before it died, so they are counted apart.
        long killingAt, killedAt, promotedAt, storesRecoveredAt, appRecoveredAt;
        try
        {
            await WaitUntilAsync(() => writers.All(w => w.Writes.Count >= 50) && requests.Count(r => r.Status == 200) >= 40, TimeSpan.FromSeconds(60), "the load before the kill");

            killingAt = Stopwatch.GetTimestamp();
            await servers.HaltAsync("primary", "KILL");
            killedAt = Stopwatch.GetTimestamp();
            await WaitUntilAsync(async () => (await RedisTopology.SentinelPrimaryAsync(servers.ConfigurationString))?.ToString() == servers.ReplicaAddress, RecoveryBound, "Sentinel to promote the replica");
            promotedAt = Stopwatch.GetTimestamp();

            // Recovery by itself: every writer's store writes again, and so does the app.
            await WaitUntilAsync(() => writers.All(w => w.Writes.Any(write => write.CompletedAt > killedAt)), RecoveryBound, "the stores to write again after the promotion");
            storesRecoveredAt = writers.Max(w => w.Writes.Where(write => write.CompletedAt > killedAt).Min(write => write.CompletedAt));
            await WaitUntilAsync(() => requests.Any(r => r.StartedAt > killedAt && r.Status == 200), RecoveryBound, "the app to answer writes again");
            appRecoveredAt = requests.Where(r => r.StartedAt > killedAt && r.Status == 200).Min(r => r.StartedAt);
            // Keep the load on a while after the recovery, to see that it holds.
            var afterRecovery = requests.Count;
            await WaitUntilAsync(() => requests.Count >= afterRecovery + 40, TimeSpan.FromSeconds(60), "more requests after the recovery");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(load);
            foreach (var lane in writers)
            {
                await lane.DisposeAsync();
            }
        }

        // Which acknowledged writes the new primary has.
        var writes = writers.SelectMany(w => w.Writes).ToList();
        var lost = new ConcurrentBag<Write>();
        await using (var reader = NewStore())
        {
            await Parallel.ForEachAsync(writes, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (write, ct) =>
            {
                if (await reader.LoadAsync(write.Id, ct) is null)
                {
                    lost.Add(write);
                }
            });
        }
        var beforeKill = writes.Where(w => w.CompletedAt < killingAt).ToList();
        var duringKill = writes.Count(w => w.CompletedAt >= killingAt && w.CompletedAt <= killedAt);
        var afterKill = writes.Count(w => w.CompletedAt > killedAt);
        var replicaAcknowledged = beforeKill.Where(w => replicaAcknowledgements > 0 && !w.ReplicasBehind).ToList();
        var lostBeforeKill = lost.Count(w => w.CompletedAt < killingAt);
        var lostDuringKill = lost.Count(w => w.CompletedAt >= killingAt && w.CompletedAt <= killedAt);
        var lostAfterKill = lost.Count(w => w.CompletedAt > killedAt);
        var lostReplicaAcknowledged = lost.Count(w => w.CompletedAt < killingAt && replicaAcknowledgements > 0 && !w.ReplicasBehind);
        var failures = requests.Where(r => r.Status is 0 or >= 500).ToList();
        output.WriteLine(
            $"Sentinel failover, ReplicaAcknowledgements={replicaAcknowledgements}: {lostBeforeKill} of {beforeKill.Count} writes acknowledged before the primary was killed were lost " +
            $"({lostReplicaAcknowledged} of the {replicaAcknowledged.Count} the replica acknowledged), {lostDuringKill} of {duringKill} acknowledged while the kill was under way, {lostAfterKill} of {afterKill} after it. " +
            $"The kill took {Seconds(killingAt, killedAt):F1} s; promotion seen {Seconds(killedAt, promotedAt):F1} s after it; every store writing again after {Seconds(killedAt, storesRecoveredAt):F1} s, the app after {Seconds(killedAt, appRecoveredAt):F1} s; " +
            $"{failures.Count} of {requests.Count} requests answered 5xx or not at all, {failures.Count(r => r.StartedAt > appRecoveredAt)} of them after the app wrote again.");

        // The app worked before the kill (otherwise the rest says nothing about the failover).
        Assert.DoesNotContain(failures, r => r.EndedAt < killingAt);
        var late = failures.Where(r => r.StartedAt > appRecoveredAt).ToList();
        if (late.Count > 0)
        {
            // What the app met: when (seconds after the kill) and the distinct errors it logged.
            output.WriteLine("5xx after the app wrote again, at (s after the kill): " + string.Join(", ", late.Take(40).Select(r => Seconds(killedAt, r.StartedAt).ToString("F2", System.Globalization.CultureInfo.InvariantCulture))));
            foreach (var error in app.Logs.GetSnapshot().Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning)
                .Select(e => $"{e.Id.Name}: {e.Message} {e.Exception?.GetType().Name}: {e.Exception?.Message}").Distinct(StringComparer.Ordinal).Take(10))
            {
                output.WriteLine("app log: " + (error.Length > 400 ? error[..400] : error));
            }
        }
        Assert.Empty(late);
        // Nothing acknowledged after the primary died is lost: those writes went to the promoted replica (the old
        // primary never comes back to take writes).
        Assert.Equal(0, lostAfterKill);
        if (replicaAcknowledgements > 0)
        {
            // The guarantee WAIT gives: a write the replica acknowledged is on the replica Sentinel promoted.
            Assert.NotEmpty(replicaAcknowledged);
            Assert.Equal(0, lostReplicaAcknowledged);
        }
    }

    private static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;

    private static async Task DriveAppAsync(TesseraTestServer app, ConcurrentQueue<(long StartedAt, long EndedAt, int Status)> requests, CancellationToken stop)
    {
        var n = 0;
        while (!stop.IsCancellationRequested)
        {
            // A new client signs in (a session is created), then writes to its session a few times (patches).
            using var client = app.CreateClient();
            for (var i = 0; i < 5 && !stop.IsCancellationRequested; i++, n++)
            {
                var startedAt = Stopwatch.GetTimestamp();
                int status;
                try
                {
                    using var response = await client.SendAsync(HttpMethod.Post, i == 0 ? "/signin/failover-user" : $"/set/n/{n}");
                    status = (int)response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    status = 0; // the app did not answer at all: counted with the 5xx
                }
                requests.Enqueue((startedAt, Stopwatch.GetTimestamp(), status));
                if (status != 200)
                {
                    await Task.Delay(20, CancellationToken.None);
                }
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan bound, string what) =>
        await WaitUntilAsync(() => Task.FromResult(condition()), bound, what);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan bound, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(bound.TotalSeconds * Stopwatch.Frequency);
        while (!await condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"Waited {bound.TotalSeconds:F0} s for {what}.");
            }
            await Task.Delay(50, CancellationToken.None);
        }
    }

    /// <summary>An acknowledged session write: its session, when it returned, and whether the store warned during it that replicas lagged.</summary>
    private sealed record Write(string Id, long CompletedAt, bool ReplicasBehind);

    /// <summary>One writer: creates sessions one after the other on a store of its own, keeping every acknowledged one.</summary>
    private sealed class WriterLane : IAsyncDisposable
    {
        private readonly FakeLogger _logger = new();
        private readonly RedisSessionStore _store;

        public WriterLane(Func<FakeLogger?, RedisSessionStore> newStore) => _store = newStore(_logger);

        public ConcurrentQueue<Write> Writes { get; } = new();

        public async Task RunAsync(TimeProvider clock, CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                var record = RedisTlsTests.NewRecord(clock);
                var warningsBefore = ReplicasBehindCount();
                try
                {
                    if (await _store.CreateAsync(record, CancellationToken.None))
                    {
                        Writes.Enqueue(new Write(record.Id, Stopwatch.GetTimestamp(), ReplicasBehindCount() != warningsBefore));
                    }
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // The primary is gone: not acknowledged, so not counted. Try again shortly, as an app's next request would.
                    await Task.Delay(20, CancellationToken.None);
                }
            }
        }

        public ValueTask DisposeAsync() => _store.DisposeAsync();

        private int ReplicasBehindCount() => _logger.Collector.GetSnapshot().Count(r => r.Id.Name == "ReplicasBehind");
    }
}
