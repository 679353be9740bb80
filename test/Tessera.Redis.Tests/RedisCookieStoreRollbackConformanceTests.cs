using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>The cookie store's refusal of replayed older cookies, with Redis as its revocation store.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisCookieStoreRollbackConformanceTests : CookieStoreRollbackConformanceTests
{
    private readonly RedisTestStores _stores;

    public RedisCookieStoreRollbackConformanceTests(RedisFixture redis) => _stores = new RedisTestStores(redis, Clock);

    protected override ISessionStore CreateRevocationStore() => _stores.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}
