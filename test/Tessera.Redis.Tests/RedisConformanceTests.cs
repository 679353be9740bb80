using Tessera.NearCache;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>
/// How the suites get Redis stores: on the run's shared Redis (<see cref="RedisFixture.SharedAsync"/>), a fresh key
/// prefix per store, every key of the test deleted when it ends. Unbounded by design (Redis is sized with maxmemory,
/// its eviction policy and the cleanup service), with an exact anonymous bound that refuses past it; shared stores (one
/// prefix) and pub/sub for the near cache suite.
/// </summary>
public class RedisStoreKit : StoreKit
{
    private RedisTestStores? _stores;
    private string? _sharedPrefix;

    public override bool SupportsCapacityBound => false;

    public override AnonymousBoundBehavior? AnonymousBound => AnonymousBoundBehavior.Refuses;

    public override ISessionInvalidationChannel CreateChannel(ISessionStore store) => new RedisSessionInvalidationChannel((RedisSessionStore)store);

    // Made on first use, so a test that creates no store (most rows of the hostile-input table) makes no prefix to sweep.
    protected RedisTestStores Stores(TimeProvider clock) => _stores ??= new RedisTestStores(RedisFixture.SharedAsync().GetAwaiter().GetResult(), clock);

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape)
    {
        var stores = Stores(clock);
        return stores.Create(stores.NewPrefix(), options =>
        {
            if (shape.MaxAnonymousSessions is { } anonymous)
            {
                options.MaxAnonymousSessions = anonymous;
            }
        });
    }

    protected override ISessionStore CreateShared(TimeProvider clock)
    {
        var stores = Stores(clock);
        return stores.Create(_sharedPrefix ??= stores.NewPrefix());
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        if (_stores is not null)
        {
            await _stores.DisposeAsync();
        }
    }
}

/// <summary>
/// Redis stores behind a started near cache on the store's pub/sub channel; shared stores too (each instance its own
/// near cache, as apps with <c>UseNearCache()</c> run), their channel the store's own beside the near cache's.
/// </summary>
public sealed class RedisNearCacheStoreKit : RedisStoreKit
{
    public override ISessionInvalidationChannel CreateChannel(ISessionStore store) => base.CreateChannel(((NearCacheSessionStore)store).Inner);

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape) => Stores(clock).CreateNearCached();

    protected override ISessionStore CreateShared(TimeProvider clock)
    {
        var store = (RedisSessionStore)base.CreateShared(clock);
        return StartNearCache(store, new RedisSessionInvalidationChannel(store), clock);
    }
}

[Collection(RedisCollection.Name)] public sealed class RedisSessionStoreConformanceTests : SessionStoreConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisHttpConformanceTests : ServerSideSessionHttpConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisConnectionLifetimeConformanceTests : ConnectionLifetimeAcrossInstancesConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisTicketStoreConformanceTests : TicketStoreConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisDataProtectionKeysConformanceTests : DataProtectionKeysConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisTokenSessionConformanceTests : TokenSessionConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisTokenHttpConformanceTests : TokenHttpConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisSignInHttpConformanceTests : SignInHttpConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisTelemetryConformanceTests : SessionTelemetryConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisSessionLimitConformanceTests : SessionLimitConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisSessionDataConformanceTests : SessionDataConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisTabScopeConformanceTests : TabScopeConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisConcurrencyConformanceTests : ConcurrencyConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisHostileInputConformanceTests : HostileInputConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisHygieneConformanceTests : HygieneConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisStoreFailureConformanceTests : StoreFailureConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisAnonymousBoundConformanceTests : AnonymousBoundConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisCookieStoreRollbackConformanceTests : CookieStoreRollbackConformanceTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheConformanceTests : NearCacheConformanceTests<RedisStoreKit>;

[Collection(RedisCollection.Name)] public sealed class RedisNearCacheSessionStoreConformanceTests : SessionStoreConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheHttpConformanceTests : ServerSideSessionHttpConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheTicketStoreConformanceTests : TicketStoreConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheTokenSessionConformanceTests : TokenSessionConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheTokenHttpConformanceTests : TokenHttpConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheTelemetryConformanceTests : SessionTelemetryConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheSessionLimitConformanceTests : SessionLimitConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheTabScopeConformanceTests : TabScopeConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheConcurrencyConformanceTests : ConcurrencyConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheHostileInputConformanceTests : HostileInputConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheHygieneConformanceTests : HygieneConformanceTests<RedisNearCacheStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheConnectionLifetimeConformanceTests : ConnectionLifetimeAcrossInstancesConformanceTests<RedisNearCacheStoreKit>;

/// <summary>External logins (OpenID Connect against a real provider) into Redis Tessera sessions.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisOpenIdConnectSignInTests : Tessera.Testing.OpenIdConnect.OpenIdConnectSignInTests<RedisStoreKit>;

/// <summary>ASP.NET Core Identity's security stamp (real Identity on EF Core SQLite) on Redis Tessera sessions, with and without the near cache.</summary>
[Collection(RedisCollection.Name)] public sealed class RedisIdentitySecurityStampTests : Tessera.Testing.Identity.IdentitySecurityStampTests<RedisStoreKit>;
[Collection(RedisCollection.Name)] public sealed class RedisNearCacheIdentitySecurityStampTests : Tessera.Testing.Identity.IdentitySecurityStampTests<RedisNearCacheStoreKit>;
