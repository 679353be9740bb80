using Tessera.NearCache;
using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>Near-cached stores on a test class's database, each in a fresh schema; their channels stop at disposal.</summary>
public sealed class PostgresNearCaches(PostgresDatabase database, TimeProvider clock) : IAsyncDisposable
{
    private readonly List<NearCacheSessionStore> _caches = [];

    public NearCacheSessionStore Create()
    {
        var store = database.CreateStoreAsync(clock).GetAwaiter().GetResult();
        var cache = NearCacheConformanceTests.StartNearCache(store, new PostgreSqlSessionInvalidationChannel(store), clock);
        lock (_caches)
        {
            _caches.Add(cache);
        }
        return cache;
    }

    public async ValueTask DisposeAsync()
    {
        NearCacheSessionStore[] caches;
        lock (_caches)
        {
            caches = [.. _caches];
        }
        foreach (var cache in caches)
        {
            await cache.DisposeAsync();
        }
    }
}

/// <summary>The near cache suite on PostgreSQL: two instances over one schema, invalidated through real LISTEN/NOTIFY.</summary>
public sealed class PostgreSqlNearCacheConformanceTests(PostgresDatabase database) : NearCacheConformanceTests, IClassFixture<PostgresDatabase>
{
    private readonly string _schema = database.NewSchema();

    protected override ISessionStore CreateSharedStore() =>
        database.CreateStoreAsync(Clock, options => options.Schema = _schema).GetAwaiter().GetResult();

    protected override ISessionInvalidationChannel CreateChannel(ISessionStore store) =>
        new PostgreSqlSessionInvalidationChannel((PostgreSqlSessionStore)store);
}

/// <summary>The store conformance suite on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheSessionStoreConformanceTests : SessionStoreConformanceTests, IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheSessionStoreConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override bool SupportsCapacityBound => false;

    protected override ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed) => _caches.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _caches.DisposeAsync();
}

/// <summary>The HTTP conformance suite on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheHttpConformanceTests : ServerSideSessionHttpConformanceTests, IClassFixture<PostgresDatabase>
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheHttpConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override ISessionStore CreateStore() => _caches.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _caches.DisposeAsync();
    }
}

/// <summary>The token-session suite on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheTokenSessionConformanceTests : TokenSessionConformanceTests, IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheTokenSessionConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override ISessionStore CreateStore() => _caches.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _caches.DisposeAsync();
}

/// <summary>The token HTTP suite on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheTokenHttpConformanceTests : TokenHttpConformanceTests, IClassFixture<PostgresDatabase>
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheTokenHttpConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override ISessionStore CreateStore() => _caches.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _caches.DisposeAsync();
    }
}

/// <summary>Events, metrics and the health check on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheTelemetryConformanceTests : SessionTelemetryConformanceTests, IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheTelemetryConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override ISessionStore CreateStore() => _caches.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _caches.DisposeAsync();
}

/// <summary>The per-subject session limit on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheSessionLimitConformanceTests : SessionLimitConformanceTests, IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheSessionLimitConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override ISessionStore CreateStore() => _caches.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _caches.DisposeAsync();
}
