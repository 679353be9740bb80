using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>The store conformance suite on PostgreSQL: a fresh database per class, a fresh schema per store.</summary>
public sealed class PostgreSqlSessionStoreConformanceTests(PostgresDatabase database) : SessionStoreConformanceTests, IClassFixture<PostgresDatabase>
{
    // Unbounded by design: PostgreSQL sizes with the cleanup service, not with a session cap.
    protected override bool SupportsCapacityBound => false;

    protected override ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed) =>
        database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>The HTTP conformance suite (real Kestrel, real client) on PostgreSQL.</summary>
public sealed class PostgreSqlHttpConformanceTests(PostgresDatabase database) : ServerSideSessionHttpConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>The token-session suite on PostgreSQL.</summary>
public sealed class PostgreSqlTokenSessionConformanceTests(PostgresDatabase database) : TokenSessionConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>The token HTTP suite on PostgreSQL.</summary>
public sealed class PostgreSqlTokenHttpConformanceTests(PostgresDatabase database) : TokenHttpConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>Events, metrics and the health check on PostgreSQL.</summary>
public sealed class PostgreSqlTelemetryConformanceTests(PostgresDatabase database) : SessionTelemetryConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>The per-subject session limit on PostgreSQL.</summary>
public sealed class PostgreSqlSessionLimitConformanceTests(PostgresDatabase database) : SessionLimitConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>The anonymous-flood suite on PostgreSQL: an approximate bound, sampled every count interval, refusing past it.</summary>
public sealed class PostgreSqlAnonymousBoundConformanceTests(PostgresDatabase database) : AnonymousBoundConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override AnonymousBoundBehavior Behavior => AnonymousBoundBehavior.Refuses;

    protected override TimeSpan CountInterval => PostgreSqlSessionStoreDefaults.AnonymousCountInterval;

    protected override ISessionStore CreateStore(int maxAnonymousSessions, int? maxSessions = null) =>
        database.CreateStoreAsync(Clock, o => o.MaxAnonymousSessions = maxAnonymousSessions).GetAwaiter().GetResult();
}
