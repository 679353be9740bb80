using Tessera.NearCache;
using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// How the suites get PostgreSQL stores: migrated stores in a fresh schema each, in the database the kits share
/// (<see cref="PostgresDatabase.Shared"/>). Unbounded by design (PostgreSQL sizes with the cleanup service, not a session
/// cap), with an approximate anonymous bound, sampled every count interval, that refuses past it; shared stores (one
/// schema) and LISTEN/NOTIFY for the near cache suite.
/// </summary>
public class PostgreSqlStoreKit : StoreKit
{
    private string? _sharedSchema;

    public override bool SupportsCapacityBound => false;

    public override AnonymousBoundBehavior? AnonymousBound => AnonymousBoundBehavior.Refuses;

    public override TimeSpan AnonymousCountInterval => PostgreSqlSessionStoreDefaults.AnonymousCountInterval;

    public override ISessionInvalidationChannel CreateChannel(ISessionStore store) => new PostgreSqlSessionInvalidationChannel((PostgreSqlSessionStore)store);

    /// <summary>The database the kit's stores live in: <see cref="PostgresDatabase.Shared"/>.</summary>
    protected virtual PostgresDatabase Database => PostgresDatabase.Shared;

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape) =>
        Database.CreateStoreAsync(clock, options =>
        {
            if (shape.MaxAnonymousSessions is { } anonymous)
            {
                options.MaxAnonymousSessions = anonymous;
            }
        }).GetAwaiter().GetResult();

    protected override ISessionStore CreateShared(TimeProvider clock)
    {
        var database = Database;
        var schema = _sharedSchema ??= database.NewSchema();
        return database.CreateStoreAsync(clock, options => options.Schema = schema).GetAwaiter().GetResult();
    }
}

/// <summary>
/// PostgreSQL stores behind a started near cache on the store's LISTEN/NOTIFY channel; shared stores too (each instance
/// its own near cache, as apps with <c>UseNearCache()</c> run), their channel the store's own beside the near cache's.
/// </summary>
public sealed class PostgreSqlNearCacheStoreKit : PostgreSqlStoreKit
{
    public override ISessionInvalidationChannel CreateChannel(ISessionStore store) => base.CreateChannel(((NearCacheSessionStore)store).Inner);

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape) => NearCached((PostgreSqlSessionStore)base.Create(clock, shape), clock);

    protected override ISessionStore CreateShared(TimeProvider clock) => NearCached((PostgreSqlSessionStore)base.CreateShared(clock), clock);

    private static NearCacheSessionStore NearCached(PostgreSqlSessionStore store, TimeProvider clock) =>
        StartNearCache(store, new PostgreSqlSessionInvalidationChannel(store), clock);
}

/// <summary>
/// PostgreSQL stores on a multiplexing data source the application built (Npgsql's mode for many short statements from
/// many requests): no explicit preparation, and the near cache listening on a connection of its own.
/// </summary>
public sealed class PostgreSqlMultiplexingStoreKit : PostgreSqlStoreKit
{
    protected override PostgresDatabase Database => PostgresDatabase.SharedMultiplexing;
}

public sealed class PostgreSqlSessionStoreConformanceTests : SessionStoreConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlHttpConformanceTests : ServerSideSessionHttpConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlConnectionLifetimeConformanceTests : ConnectionLifetimeAcrossInstancesConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlTicketStoreConformanceTests : TicketStoreConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlDataProtectionKeysConformanceTests : DataProtectionKeysConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlTokenSessionConformanceTests : TokenSessionConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlTokenHttpConformanceTests : TokenHttpConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlSignInHttpConformanceTests : SignInHttpConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlTelemetryConformanceTests : SessionTelemetryConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlSessionLimitConformanceTests : SessionLimitConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlSessionDataConformanceTests : SessionDataConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlTabScopeConformanceTests : TabScopeConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlConcurrencyConformanceTests : ConcurrencyConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlHostileInputConformanceTests : HostileInputConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlHygieneConformanceTests : HygieneConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlStoreFailureConformanceTests : StoreFailureConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlAnonymousBoundConformanceTests : AnonymousBoundConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlCookieStoreRollbackConformanceTests : CookieStoreRollbackConformanceTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlNearCacheConformanceTests : NearCacheConformanceTests<PostgreSqlStoreKit>;

public sealed class PostgreSqlNearCacheSessionStoreConformanceTests : SessionStoreConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheHttpConformanceTests : ServerSideSessionHttpConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheTicketStoreConformanceTests : TicketStoreConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheTokenSessionConformanceTests : TokenSessionConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheTokenHttpConformanceTests : TokenHttpConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheTelemetryConformanceTests : SessionTelemetryConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheSessionLimitConformanceTests : SessionLimitConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheTabScopeConformanceTests : TabScopeConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheConcurrencyConformanceTests : ConcurrencyConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheHostileInputConformanceTests : HostileInputConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheHygieneConformanceTests : HygieneConformanceTests<PostgreSqlNearCacheStoreKit>;
public sealed class PostgreSqlNearCacheConnectionLifetimeConformanceTests : ConnectionLifetimeAcrossInstancesConformanceTests<PostgreSqlNearCacheStoreKit>;

/// <summary>External logins (OpenID Connect against a real provider) into PostgreSQL Tessera sessions.</summary>
public sealed class PostgreSqlOpenIdConnectSignInTests : Tessera.Testing.OpenIdConnect.OpenIdConnectSignInTests<PostgreSqlStoreKit>;

public sealed class PostgreSqlMultiplexingSessionStoreConformanceTests : SessionStoreConformanceTests<PostgreSqlMultiplexingStoreKit>;
public sealed class PostgreSqlMultiplexingHttpConformanceTests : ServerSideSessionHttpConformanceTests<PostgreSqlMultiplexingStoreKit>;
public sealed class PostgreSqlMultiplexingTokenSessionConformanceTests : TokenSessionConformanceTests<PostgreSqlMultiplexingStoreKit>;
public sealed class PostgreSqlMultiplexingSessionLimitConformanceTests : SessionLimitConformanceTests<PostgreSqlMultiplexingStoreKit>;
public sealed class PostgreSqlMultiplexingConcurrencyConformanceTests : ConcurrencyConformanceTests<PostgreSqlMultiplexingStoreKit>;
public sealed class PostgreSqlMultiplexingNearCacheConformanceTests : NearCacheConformanceTests<PostgreSqlMultiplexingStoreKit>;

/// <summary>ASP.NET Core Identity's security stamp (real Identity on EF Core SQLite) on PostgreSQL Tessera sessions, with and without the near cache.</summary>
public sealed class PostgreSqlIdentitySecurityStampTests : Tessera.Testing.Identity.IdentitySecurityStampTests<PostgreSqlStoreKit>;
public sealed class PostgreSqlNearCacheIdentitySecurityStampTests : Tessera.Testing.Identity.IdentitySecurityStampTests<PostgreSqlNearCacheStoreKit>;
