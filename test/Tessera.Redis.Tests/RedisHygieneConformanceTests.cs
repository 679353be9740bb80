using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>Cookie and header hygiene on Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisHygieneConformanceTests : HygieneConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisHygieneConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}

/// <summary>Cookie and header hygiene on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheHygieneConformanceTests : HygieneConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisNearCacheHygieneConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.CreateNearCached();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}
