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

// No shared xunit collection: each suite is a collection of its own and runs beside the others, as on PostgreSQL. Every
// store a kit makes writes under a fresh key prefix of the shared server, so the suites cannot see each other's keys;
// the tests that read the server's own counters start a server of their own (SubjectListingCostTests).
public sealed class RedisSessionStoreConformanceTests : SessionStoreConformanceTests<RedisStoreKit>;
public sealed class RedisHttpConformanceTests : ServerSideSessionHttpConformanceTests<RedisStoreKit>;
public sealed class RedisConnectionLifetimeConformanceTests : ConnectionLifetimeAcrossInstancesConformanceTests<RedisStoreKit>;
public sealed class RedisTicketStoreConformanceTests : TicketStoreConformanceTests<RedisStoreKit>;
public sealed class RedisDataProtectionKeysConformanceTests : DataProtectionKeysConformanceTests<RedisStoreKit>;
public sealed class RedisTokenSessionConformanceTests : TokenSessionConformanceTests<RedisStoreKit>;
public sealed class RedisTokenHttpConformanceTests : TokenHttpConformanceTests<RedisStoreKit>;
public sealed class RedisSignInHttpConformanceTests : SignInHttpConformanceTests<RedisStoreKit>;
public sealed class RedisTelemetryConformanceTests : SessionTelemetryConformanceTests<RedisStoreKit>;
public sealed class RedisSessionLimitConformanceTests : SessionLimitConformanceTests<RedisStoreKit>;
public sealed class RedisSessionDataConformanceTests : SessionDataConformanceTests<RedisStoreKit>;
public sealed class RedisTabScopeConformanceTests : TabScopeConformanceTests<RedisStoreKit>;
public sealed class RedisConcurrencyConformanceTests : ConcurrencyConformanceTests<RedisStoreKit>;
public sealed class RedisHostileInputConformanceTests : HostileInputConformanceTests<RedisStoreKit>;
public sealed class RedisHygieneConformanceTests : HygieneConformanceTests<RedisStoreKit>;
public sealed class RedisStoreFailureConformanceTests : StoreFailureConformanceTests<RedisStoreKit>;
public sealed class RedisAnonymousBoundConformanceTests : AnonymousBoundConformanceTests<RedisStoreKit>;
public sealed class RedisCookieStoreRollbackConformanceTests : CookieStoreRollbackConformanceTests<RedisStoreKit>;
public sealed class RedisNearCacheConformanceTests : NearCacheConformanceTests<RedisStoreKit>;

public sealed class RedisNearCacheSessionStoreConformanceTests : SessionStoreConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheHttpConformanceTests : ServerSideSessionHttpConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheTicketStoreConformanceTests : TicketStoreConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheTokenSessionConformanceTests : TokenSessionConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheTokenHttpConformanceTests : TokenHttpConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheTelemetryConformanceTests : SessionTelemetryConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheSessionLimitConformanceTests : SessionLimitConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheTabScopeConformanceTests : TabScopeConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheConcurrencyConformanceTests : ConcurrencyConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheHostileInputConformanceTests : HostileInputConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheHygieneConformanceTests : HygieneConformanceTests<RedisNearCacheStoreKit>;
public sealed class RedisNearCacheConnectionLifetimeConformanceTests : ConnectionLifetimeAcrossInstancesConformanceTests<RedisNearCacheStoreKit>;

/// <summary>External logins (OpenID Connect against a real provider) into Redis Tessera sessions.</summary>
public sealed class RedisOpenIdConnectSignInTests : Tessera.Testing.OpenIdConnect.OpenIdConnectSignInTests<RedisStoreKit>;

/// <summary>ASP.NET Core Identity's security stamp (real Identity on EF Core SQLite) on Redis Tessera sessions, with and without the near cache.</summary>
public sealed class RedisIdentitySecurityStampTests : Tessera.Testing.Identity.IdentitySecurityStampTests<RedisStoreKit>;
public sealed class RedisNearCacheIdentitySecurityStampTests : Tessera.Testing.Identity.IdentitySecurityStampTests<RedisNearCacheStoreKit>;
