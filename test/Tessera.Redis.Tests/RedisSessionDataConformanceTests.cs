using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>What a session may hold, on Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionDataConformanceTests : SessionDataConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisSessionDataConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}
