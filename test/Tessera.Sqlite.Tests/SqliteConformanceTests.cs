using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>
/// How the suites get SQLite stores: a fresh database file for every store, in a temporary directory deleted (with
/// every store it made) when the test ends. The store bounds its sessions, all and anonymous ones, and evicts the least
/// recently used at its bound.
/// </summary>
public sealed class SqliteStoreKit : StoreKit
{
    private readonly TestDatabaseDirectory _directory = new();

    public override AnonymousBoundBehavior? AnonymousBound => AnonymousBoundBehavior.EvictsLeastRecentlyUsed;

    public override bool HasTotalBound => true;

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape) =>
        new SqliteSessionStore(
            new SqliteSessionStoreOptions
            {
                ConnectionString = $"Data Source={_directory.NewDatabasePath()}",
                MaxSessions = shape.MaxSessions > 0 ? shape.MaxSessions : SqliteSessionStoreDefaults.MaxSessions,
                MaxAnonymousSessions = shape.EffectiveMaxAnonymousSessions,
                CapacityPolicy = shape.CapacityPolicy,
            },
            clock);

    protected override ValueTask DisposeCoreAsync()
    {
        _directory.Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed class SqliteSessionStoreConformanceTests : SessionStoreConformanceTests<SqliteStoreKit>;
public sealed class SqliteHttpConformanceTests : ServerSideSessionHttpConformanceTests<SqliteStoreKit>;
public sealed class SqliteConnectionLifetimeConformanceTests : ConnectionLifetimeConformanceTests<SqliteStoreKit>;
public sealed class SqliteTicketStoreConformanceTests : TicketStoreConformanceTests<SqliteStoreKit>;
public sealed class SqliteDataProtectionKeysConformanceTests : DataProtectionKeysConformanceTests<SqliteStoreKit>;
public sealed class SqliteTokenSessionConformanceTests : TokenSessionConformanceTests<SqliteStoreKit>;
public sealed class SqliteTokenHttpConformanceTests : TokenHttpConformanceTests<SqliteStoreKit>;
public sealed class SqliteSignInHttpConformanceTests : SignInHttpConformanceTests<SqliteStoreKit>;
public sealed class SqliteSessionDataConformanceTests : SessionDataConformanceTests<SqliteStoreKit>;
public sealed class SqliteSessionLimitConformanceTests : SessionLimitConformanceTests<SqliteStoreKit>;
public sealed class SqliteTabScopeConformanceTests : TabScopeConformanceTests<SqliteStoreKit>;
public sealed class SqliteTelemetryConformanceTests : SessionTelemetryConformanceTests<SqliteStoreKit>;
public sealed class SqliteConcurrencyConformanceTests : ConcurrencyConformanceTests<SqliteStoreKit>;
public sealed class SqliteHostileInputConformanceTests : HostileInputConformanceTests<SqliteStoreKit>;
public sealed class SqliteHygieneConformanceTests : HygieneConformanceTests<SqliteStoreKit>;
public sealed class SqliteStoreFailureConformanceTests : StoreFailureConformanceTests<SqliteStoreKit>;
public sealed class SqliteAnonymousBoundConformanceTests : AnonymousBoundConformanceTests<SqliteStoreKit>;

/// <summary>The cookie store's refusal of replayed older cookies, with a SQLite store as its revocation store.</summary>
public sealed class SqliteCookieStoreRollbackConformanceTests : CookieStoreRollbackConformanceTests<SqliteStoreKit>;

/// <summary>External logins (OpenID Connect against a real provider) into SQLite Tessera sessions.</summary>
public sealed class SqliteOpenIdConnectSignInTests : Tessera.Testing.OpenIdConnect.OpenIdConnectSignInTests<SqliteStoreKit>;

/// <summary>ASP.NET Core Identity's security stamp (real Identity on EF Core SQLite) on SQLite Tessera sessions.</summary>
public sealed class SqliteIdentitySecurityStampTests : Tessera.Testing.Identity.IdentitySecurityStampTests<SqliteStoreKit>;
