using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using Tessera.AspNetCore;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>
/// Sessions sharded over the three masters of the cluster, read back through either of two app instances (two stores,
/// two multiplexers), and the subject's limit and revoke-all holding when instances race on it.
/// </summary>
[Collection(RedisTopologyCollections.Cluster)]
public sealed partial class RedisClusterTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly string _prefix = "tessera-test-" + Guid.NewGuid().ToString("N");
    private readonly string _key = SigningKeyRing.GenerateBase64Key();
    private readonly List<IAsyncDisposable> _owned = [];
    private RedisTopology _topology = null!;

    public async ValueTask InitializeAsync() => _topology = await RedisTopology.SharedAsync(RedisTopologyKind.Cluster);

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
        await _topology.DeleteKeysAsync(_prefix);
    }

    [Fact]
    public async Task TheKeysOfAThousandSessionsSpreadOverAllThreeMastersAndEachReadsBackThroughEitherInstance()
    {
        var instances = new[] { Instance(), Instance() };
        var records = Enumerable.Range(0, 1000).Select(i => RedisTlsTests.NewRecord(_clock, subject: i % 4 == 0 ? $"user-{i % 40}" : null)).ToArray();
        await Parallel.ForEachAsync(records.Select((record, i) => (record, i)), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (item, cancellationToken) =>
            Assert.True(await instances[item.i % 2].CreateAsync(item.record, cancellationToken)));

        var keys = await RedisTopology.KeysByPrimaryAsync(await _topology.ConnectionAsync(), _prefix);
        Assert.Equal(3, keys.Count);
        // The sessions themselves spread, not only the indexes: a key that names a session's id belongs to that session.
        var ids = records.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var sessionsByMaster = keys.ToDictionary(
            master => master.Key,
            master => master.Value.SelectMany(key => SessionId().Matches((string)key!).Select(m => m.Value)).Where(ids.Contains).ToHashSet(StringComparer.Ordinal));
        Assert.All(sessionsByMaster, master => Assert.True(master.Value.Count > 0, $"master {master.Key} holds no session's keys"));
        Assert.Equal(records.Length, sessionsByMaster.Values.SelectMany(s => s).Distinct(StringComparer.Ordinal).Count());
        // ...and each session lives on one master.
        Assert.Equal(records.Length, sessionsByMaster.Values.Sum(s => s.Count));

        var missing = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(records, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (record, cancellationToken) =>
        {
            foreach (var instance in instances)
            {
                var loaded = await ((IRoutedSessionStore)instance).LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id), cancellationToken);
                if (loaded?.Id != record.Id || loaded.Subject != record.Subject)
                {
                    missing.Add(record.Id);
                }
            }
        });
        Assert.Empty(missing);
        // Concurrent lookups wait together, but on a cluster each runs alone: one script may touch one slot only.
        Assert.All(instances, instance => Assert.Equal(0, instance.CombinedLookups));
    }

    [Fact]
    public async Task FiftyParallelSignInsOfOneSubjectAcrossTwoInstancesNeverLeaveMoreThanThreeLiveSessions()
    {
        const int limit = 3;
        var servers = new[] { await StartServerAsync(limit), await StartServerAsync(limit) };

        // Every client opens its connection first, then all are released at once.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clients = Enumerable.Range(0, 50).Select(i => servers[i % 2].CreateClient()).ToArray();
        try
        {
            await Task.WhenAll(clients.Select(client => client.GetStringAsync("/plain")));
            var signIns = clients.Select(async client =>
            {
                await start.Task;
                Assert.Equal("ok", await client.PostAsync("/signin/alice"));
            }).ToArray();
            start.SetResult();
            await Task.WhenAll(signIns);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }

        var live = await LiveSessionsAsync("alice");
        Assert.InRange(live.Count, 1, limit);
        // Both instances see the same sessions.
        foreach (var server in servers)
        {
            Assert.Equal(live.Order(StringComparer.Ordinal), (await server.Manager.Subjects.ListAsync("alice")).Select(s => s.Id).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task ARevokeAllRacingSignInsLeavesNoLiveSessionThatSignedInBeforeItStarted()
    {
        var servers = new[] { await StartServerAsync(limit: null), await StartServerAsync(limit: null) };
        var signedIn = new ConcurrentQueue<(string Id, long Order)>();
        long order = 0;
        long revokeStartedAt = long.MaxValue;
        long revokeEndedAt = long.MaxValue;
        using var stop = new CancellationTokenSource();
        var signingIn = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = servers[i % 2].CreateClient();
                var beganBeforeTheRevokeEnded = Interlocked.Read(ref revokeEndedAt) == long.MaxValue;
                Assert.Equal("ok", await client.PostAsync("/signin/bob"));
                // The next request finds the session by its cookie (on the session's slot), on the same instance, unless
                // the revoke-all, started meanwhile, already revoked it (then the sign-in is not one of those counted).
                var id = await client.GetStringAsync("/id");
                if (id == "(new)")
                {
                    Assert.True(beganBeforeTheRevokeEnded && Interlocked.Read(ref revokeStartedAt) != long.MaxValue, "a sign-in made after the revoke-all ended lost its session");
                    continue;
                }
                // The order in which sign-ins returned, on the same counter the revoke-all takes its start from.
                signedIn.Enqueue((id, Interlocked.Increment(ref order)));
            }
        })).ToArray();

        // Let sign-ins pile up on both instances, then revoke all of bob's sessions from one of them while they go on.
        await WhileSigningInAsync(() => signedIn.Count >= 40);
        Interlocked.Exchange(ref revokeStartedAt, Interlocked.Increment(ref order));
        var revoked = await servers[0].Manager.Subjects.RevokeAllAsync("bob", TestContext.Current.CancellationToken);
        Interlocked.Exchange(ref revokeEndedAt, Interlocked.Increment(ref order));
        // Sign-ins keep racing a little after the revoke-all returned, then stop.
        var after = signedIn.Count;
        await WhileSigningInAsync(() => signedIn.Count >= after + 10);
        await stop.CancelAsync();
        await Task.WhenAll(signingIn);

        var before = signedIn.Where(s => s.Order < revokeStartedAt).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        Assert.True(revoked > 0);
        var live = await LiveSessionsAsync("bob");
        Assert.DoesNotContain(live, before.Contains);
        // And the sign-ins after it were not held back: some of them are live.
        Assert.NotEmpty(live);

        // Waits (a minute at most) for the sign-ins to reach a point; a sign-in that failed ends the wait with its failure.
        async Task WhileSigningInAsync(Func<bool> reached)
        {
            var deadline = DateTime.UtcNow.AddMinutes(1);
            while (!reached())
            {
                if (signingIn.FirstOrDefault(t => t.IsFaulted) is { } failed)
                {
                    await stop.CancelAsync();
                    await failed;
                }
                Assert.True(DateTime.UtcNow < deadline, $"the sign-ins stalled at {signedIn.Count}");
                await Task.Delay(10, TestContext.Current.CancellationToken);
            }
        }
    }

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex SessionId();

    /// <summary>A store over a multiplexer of its own: one app instance.</summary>
    private RedisSessionStore Instance()
    {
        var store = new RedisSessionStore(new RedisSessionStoreOptions { KeyPrefix = _prefix, Configuration = _topology.Options() }, _clock);
        _owned.Add(store);
        return store;
    }

    private async Task<TesseraTestServer> StartServerAsync(int? limit)
    {
        var server = await TesseraTestServer.StartAsync(Instance(), _clock, [_key], configure: options =>
        {
            if (limit is { } max)
            {
                options.MaxSessionsPerSubject = max;
                options.SessionLimitPolicy = SessionLimitPolicy.RevokeLeastRecentlyUsed;
            }
        });
        _owned.Add(server);
        return server;
    }

    /// <summary>
    /// The subject's live sessions, read by a third instance that took part in nothing: every session the subject index
    /// names and every session of the subject a listing of all sessions finds (so one missing from the index still
    /// counts), each loaded by id.
    /// </summary>
    private async Task<List<string>> LiveSessionsAsync(string subject)
    {
        var store = Instance();
        var cancellationToken = TestContext.Current.CancellationToken;
        var ids = (await store.ListBySubjectAsync(subject, cancellationToken)).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        string? cursor = null;
        do
        {
            var page = await store.ListSessionsAsync(new SessionQuery { Subject = subject, Cursor = cursor, PageSize = SessionQuery.MaxPageSize }, cancellationToken);
            ids.UnionWith(page.Sessions.Select(s => s.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        var live = new List<string>();
        foreach (var id in ids)
        {
            if (await store.LoadAsync(id, cancellationToken) is { } loaded && loaded.IsActiveAt(_clock.GetUtcNow()))
            {
                live.Add(loaded.Id);
            }
        }
        return live;
    }
}
