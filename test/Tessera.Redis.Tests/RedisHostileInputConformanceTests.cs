using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>
/// The hostile-input suite (malformed and mutated cookies and tokens) on Redis. Only the tests that send requests
/// create a store (the table's rows share one run), so the key prefix is made, and swept, only when used.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisHostileInputConformanceTests(RedisFixture redis) : HostileInputConformanceTests
{
    private RedisTestStores? _stores;

    protected override ISessionStore CreateStore() => (_stores ??= new RedisTestStores(redis, Clock)).Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_stores is not null)
        {
            await _stores.DisposeAsync();
        }
    }
}

/// <summary>The hostile-input suite on Redis behind the near cache.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisNearCacheHostileInputConformanceTests(RedisFixture redis) : HostileInputConformanceTests
{
    private RedisTestStores? _stores;

    protected override ISessionStore CreateStore() => (_stores ??= new RedisTestStores(redis, Clock)).CreateNearCached();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_stores is not null)
        {
            await _stores.DisposeAsync();
        }
    }
}
