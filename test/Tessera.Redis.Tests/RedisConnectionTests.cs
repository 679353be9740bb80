using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Tessera.NearCache;
using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.Redis.Tests;

/// <summary>
/// How the store gets its connection (its own, a configuration, the app's multiplexer), replica acknowledgements, and
/// the near cache's subscription surviving a lost connection: all against real redis-servers.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisConnectionTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly string _prefix = "tessera-test-" + Guid.NewGuid().ToString("N");

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await RedisTestStores.DeleteKeysAsync(await RedisTestStores.ConnectionAsync(redis), _prefix);

    [Fact]
    public async Task AStoreOverTheAppsMultiplexerUsesItAndNeverDisposesIt()
    {
        await using var app = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var store = new RedisSessionStore(app, new RedisSessionStoreOptions { KeyPrefix = _prefix }, _clock);
        var record = StoreConfigurationHost.NewRecord(_clock);
        Assert.True(await store.CreateAsync(record));
        Assert.Same(app, await store.GetConnectionAsync());

        await store.DisposeAsync();

        Assert.True(app.IsConnected);
        Assert.True(await app.GetDatabase().KeyExistsAsync(store.Base(SessionRoute.Of(record.Id)) + ":s:" + record.Id));
    }

    [Fact]
    public void AStoreNeedsAMultiplexerWhenItIsGivenOne()
    {
        Assert.Equal("connection", Assert.Throws<ArgumentNullException>(() => new RedisSessionStore((IConnectionMultiplexer)null!)).ParamName);
    }

    [Fact]
    public async Task UseRedisStoreWithNoConnectionSettingsTakesTheMultiplexerRegisteredByTheApp()
    {
        await using var app = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        using var host = StoreConfigurationHost.Build(
            new() { ["Tessera:Redis:KeyPrefix"] = _prefix },
            _clock,
            tessera =>
            {
                tessera.Services.AddSingleton<IConnectionMultiplexer>(app);
                tessera.UseRedisStore();
            });
        await host.StartAsync();

        var store = host.Services.GetRequiredService<RedisSessionStore>();
        Assert.Same(app, await store.GetConnectionAsync());
        Assert.True(await store.CreateAsync(StoreConfigurationHost.NewRecord(_clock)));
        await host.StopAsync();
        host.Dispose();
        Assert.True(app.IsConnected); // the container disposed the store, not the app's multiplexer
    }

    [Fact]
    public async Task AConfigurationObjectIsUsedAsGivenAndTheStoresOwnMultiplexerIsAnnounced()
    {
        var configuration = ConfigurationOptions.Parse(redis.Endpoint);
        configuration.ClientName = "tessera-" + Guid.NewGuid().ToString("N")[..8];
        var announced = new List<IConnectionMultiplexer>();
        var store = new RedisSessionStore(new RedisSessionStoreOptions { Configuration = configuration, KeyPrefix = _prefix }, _clock);
        store.ConnectionOpened += announced.Add;

        Assert.True(await store.CreateAsync(StoreConfigurationHost.NewRecord(_clock)));

        var own = await store.GetConnectionAsync();
        Assert.Same(own, Assert.Single(announced));
        Assert.Equal(configuration.ClientName, own.ClientName);
        await store.DisposeAsync();
        Assert.False(own.IsConnected); // its own: closed with the store
    }

    [Fact]
    public async Task WithOneReplicaAcknowledgementAWriteIsOnTheReplicaWhenTheStoreReturns()
    {
        await using var primary = await RedisServer.StartAsync();
        await using var replica = await RedisServer.StartAsync("--replicaof", "127.0.0.1", primary.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var replicaConnection = await ConnectionMultiplexer.ConnectAsync(replica.Endpoint + ",allowAdmin=true");
        await WaitUntilAsync(async () => ((string?)await replicaConnection.GetDatabase().ExecuteAsync("INFO", "replication"))!.Contains("master_link_status:up", StringComparison.Ordinal));
        using var logs = new LogCollector();
        await using var store = new RedisSessionStore(
            new RedisSessionStoreOptions { ConnectionString = primary.Endpoint, KeyPrefix = _prefix, ReplicaAcknowledgements = 1 }, _clock, logs.Logger);

        for (var i = 0; i < 20; i++)
        {
            var record = StoreConfigurationHost.NewRecord(_clock);
            Assert.True(await store.CreateAsync(record));
            // WAIT returned: the replica has the session already, read straight from it.
            Assert.True(await replicaConnection.GetDatabase().KeyExistsAsync(store.Base(SessionRoute.Of(record.Id)) + ":s:" + record.Id, CommandFlags.PreferReplica));
        }
        Assert.DoesNotContain(logs.Records, r => r.Id.Id == 4104);
    }

    [Fact]
    public async Task AWriteThatNoReplicaAcknowledgesInTimeStandsAndIsLogged()
    {
        using var logs = new LogCollector();
        await using var store = new RedisSessionStore(
            new RedisSessionStoreOptions { ConnectionString = redis.Endpoint, KeyPrefix = _prefix, ReplicaAcknowledgements = 1, ReplicaAcknowledgementTimeout = TimeSpan.FromMilliseconds(20) },
            _clock, logs.Logger);
        var record = StoreConfigurationHost.NewRecord(_clock);

        Assert.True(await store.CreateAsync(record));

        Assert.NotNull(await store.LoadAsync(record.Id));
        var behind = Assert.Single(logs.Records, r => r.Id.Id == 4104);
        Assert.Equal(LogLevel.Warning, behind.Level);
    }

    [Fact]
    public void ReplicaAcknowledgementsOverTheAppsMultiplexerNeedAConfigurationForTheirOwnConnection()
    {
        using var app = ConnectionMultiplexer.Connect(redis.Endpoint);
        var failure = Assert.Throws<ArgumentException>(() => new RedisSessionStore(app, new RedisSessionStoreOptions { ReplicaAcknowledgements = 1 }));
        Assert.Contains("ConnectionString is required", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheNearCacheStopsServingAndFlushesWhenItsSubscriptionConnectionIsLostAndRestored()
    {
        await using var server = await RedisServer.StartAsync();
        await using var store = new RedisSessionStore(new RedisSessionStoreOptions { ConnectionString = server.Endpoint + ",allowAdmin=true", KeyPrefix = _prefix }, _clock);
        var listener = new RecordingListener();
        await using var channel = new RedisSessionInvalidationChannel(store);
        await channel.StartAsync(listener);
        Assert.Equal([true], listener.States);
        await channel.PublishAsync("before");
        await WaitUntilAsync(() => Task.FromResult(listener.Invalidated.Contains("before")));

        // The server drops every pub/sub client, as a network cut or a failover would.
        var connection = await store.GetConnectionAsync();
        await connection.GetServer(connection.GetEndPoints()[0]).ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub");

        await WaitUntilAsync(() => Task.FromResult(listener.States.Count >= 3));
        Assert.Equal([true, false, true], listener.States); // not listening (serve nothing), then listening again (flush first)
        await channel.PublishAsync("after");
        await WaitUntilAsync(() => Task.FromResult(listener.Invalidated.Contains("after")));
    }

    [Fact]
    public async Task ASubjectIndexEntryWhoseSessionNeverAppearedIsRemovedOnlyAfterTheGrace()
    {
        var connection = await RedisTestStores.ConnectionAsync(redis);
        var store = new RedisSessionStore(connection, new RedisSessionStoreOptions { KeyPrefix = _prefix }, _clock);
        var live = StoreConfigurationHost.NewRecord(_clock) with { Subject = "erin" };
        Assert.True(await store.CreateAsync(live));
        // What a sign-in that died between its two steps leaves: the index entry without its session.
        RedisKey index = _prefix + ":u:{erin}";
        await connection.GetDatabase().SortedSetAddAsync(index, "never-created", _clock.GetUtcNow().ToUnixTimeMilliseconds());

        Assert.Single(await store.ListBySubjectAsync("erin"));
        Assert.Equal(2, await connection.GetDatabase().SortedSetLengthAsync(index)); // within the grace: maybe a sign-in in flight

        _clock.Advance(RedisSessionStore.OrphanGrace + TimeSpan.FromSeconds(1));
        Assert.Single(await store.ListBySubjectAsync("erin"));
        Assert.Equal(1, await connection.GetDatabase().SortedSetLengthAsync(index));
    }

    [Fact]
    public async Task ATrimWaitsForTheSubjectsLockAndTrimsOnceItIsReleased()
    {
        var connection = await RedisTestStores.ConnectionAsync(redis);
        var store = new RedisSessionStore(connection, new RedisSessionStoreOptions { KeyPrefix = _prefix }, _clock);
        var older = StoreConfigurationHost.NewRecord(_clock) with { Subject = "frank" };
        Assert.True(await store.CreateAsync(older));
        _clock.Advance(TimeSpan.FromSeconds(1));
        var newer = StoreConfigurationHost.NewRecord(_clock) with { Subject = "frank" };
        Assert.True(await store.CreateAsync(newer));
        // Another trim of frank holds the lock (with no expiry here, so only its release lets the trim go on).
        RedisKey lockKey = _prefix + ":u:{frank}:lock";
        Assert.True(await connection.GetDatabase().StringSetAsync(lockKey, "another-trim", when: When.NotExists));

        var trim = store.TrimSubjectAsync("frank", 1, SessionLimitOrder.OldestCreated, null, _clock.GetUtcNow()).AsTask();
        await Task.WhenAny(trim, Task.Delay(TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken));
        Assert.False(trim.IsCompleted);
        Assert.Equal(2, (await store.ListBySubjectAsync("frank")).Count);

        Assert.True(await connection.GetDatabase().KeyDeleteAsync(lockKey));
        // OldestCreated keeps the oldest: the newer one goes.
        Assert.Equal([newer.Id], await trim);
        Assert.Equal([older.Id], (await store.ListBySubjectAsync("frank")).Select(r => r.Id));
        Assert.False(await connection.GetDatabase().KeyExistsAsync(lockKey)); // released by the trim that took it
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within 30 seconds.");
            await Task.Delay(20);
        }
    }

    /// <summary>What the channel told its listener, in order.</summary>
    private sealed class RecordingListener : ISessionInvalidationListener
    {
        private readonly Lock _gate = new();
        private readonly List<bool> _states = [];
        private readonly HashSet<string> _invalidated = [];

        public List<bool> States { get { lock (_gate) { return [.. _states]; } } }

        public HashSet<string> Invalidated { get { lock (_gate) { return [.. _invalidated]; } } }

        public void OnInvalidated(string sessionId) { lock (_gate) { _invalidated.Add(sessionId); } }

        public void OnInvalidatedAll() { }

        public void OnListening(bool listening) { lock (_gate) { _states.Add(listening); } }
    }

    /// <summary>A logger whose records the test reads.</summary>
    private sealed class LogCollector : IDisposable
    {
        private readonly FakeLogger _logger = new();

        public ILogger Logger => _logger;

        public IReadOnlyList<FakeLogRecord> Records => _logger.Collector.GetSnapshot();

        public void Dispose() { }
    }
}
