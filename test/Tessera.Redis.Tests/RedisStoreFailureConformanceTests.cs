using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>The failure contract on Redis behind the fault injector (real outages are in bench/outage.sh).</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisStoreFailureConformanceTests : StoreFailureConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisStoreFailureConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}
