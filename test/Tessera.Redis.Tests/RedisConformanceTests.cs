using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>The store conformance suite on Redis: a fresh key prefix per store, deleted after each test.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionStoreConformanceTests : SessionStoreConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisSessionStoreConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    // Unbounded by design: Redis is sized with maxmemory and its eviction policy, and the cleanup service.
    protected override bool SupportsCapacityBound => false;

    protected override ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed) => _stores.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}

/// <summary>The HTTP conformance suite (real Kestrel, real client) on Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisHttpConformanceTests : ServerSideSessionHttpConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisHttpConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}

/// <summary>The token-session suite on Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTokenSessionConformanceTests : TokenSessionConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisTokenSessionConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}

/// <summary>The token HTTP suite on Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTokenHttpConformanceTests : TokenHttpConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisTokenHttpConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}

/// <summary>Events, metrics and the health check on Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTelemetryConformanceTests : SessionTelemetryConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisTelemetryConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}

/// <summary>The per-subject session limit on Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionLimitConformanceTests : SessionLimitConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisSessionLimitConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}

/// <summary>The anonymous-flood suite on Redis: an exact bound (a sorted set of live anonymous sessions), refusing past it.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisAnonymousBoundConformanceTests : AnonymousBoundConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisAnonymousBoundConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override AnonymousBoundBehavior Behavior => AnonymousBoundBehavior.Refuses;

    protected override ISessionStore CreateStore(int maxAnonymousSessions, int? maxSessions = null) =>
        _stores.Create(_stores.NewPrefix(), o => o.MaxAnonymousSessions = maxAnonymousSessions);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}
