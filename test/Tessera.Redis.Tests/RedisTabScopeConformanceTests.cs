using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>Per-tab scopes on Redis (the tab keys are fields of the session's hash like any other key).</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTabScopeConformanceTests : TabScopeConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisTabScopeConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}

/// <summary>Per-tab scopes on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheTabScopeConformanceTests : TabScopeConformanceTests, IAsyncLifetime
{
    private readonly RedisTestStores _stores;

    public RedisNearCacheTabScopeConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateStore() => _stores.CreateNearCached();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _stores.DisposeAsync();
}
