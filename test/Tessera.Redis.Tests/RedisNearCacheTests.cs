using Tessera.NearCache;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>The near cache suite on Redis: two instances over one key prefix, invalidated through real pub/sub.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheConformanceTests : NearCacheConformanceTests
{
    private readonly RedisTestStores _stores;
    private readonly string _prefix;

    public RedisNearCacheConformanceTests(RedisFixture redis)
    {
        _stores = new RedisTestStores(redis, Clock);
        _prefix = _stores.NewPrefix();
    }

    protected override ISessionStore CreateSharedStore() => _stores.Create(_prefix);

    protected override ISessionInvalidationChannel CreateChannel(ISessionStore store) =>
        new RedisSessionInvalidationChannel((RedisSessionStore)store);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}

/// <summary>The store conformance suite on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheSessionStoreConformanceTests : SessionStoreConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisNearCacheSessionStoreConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override bool SupportsCapacityBound => false;

    protected override ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed) => _stores.CreateNearCached();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}

/// <summary>The HTTP conformance suite on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheHttpConformanceTests : ServerSideSessionHttpConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisNearCacheHttpConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.CreateNearCached();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}

/// <summary>The token-session suite on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheTokenSessionConformanceTests : TokenSessionConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisNearCacheTokenSessionConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.CreateNearCached();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}

/// <summary>The token HTTP suite on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheTokenHttpConformanceTests : TokenHttpConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisNearCacheTokenHttpConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.CreateNearCached();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}

/// <summary>Events, metrics and the health check on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheTelemetryConformanceTests : SessionTelemetryConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisNearCacheTelemetryConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.CreateNearCached();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}

/// <summary>The per-subject session limit on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheSessionLimitConformanceTests : SessionLimitConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisNearCacheSessionLimitConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.CreateNearCached();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}
