using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>Parallel refreshes and parallel sign-ins under a session limit on Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisConcurrencyConformanceTests : ConcurrencyConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisConcurrencyConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}

/// <summary>Parallel refreshes and parallel sign-ins under a session limit on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheConcurrencyConformanceTests : ConcurrencyConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisNearCacheConcurrencyConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.CreateNearCached();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}
