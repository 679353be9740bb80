using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>Parallel refreshes and parallel sign-ins under a session limit on PostgreSQL.</summary>
public sealed class PostgreSqlConcurrencyConformanceTests(PostgresDatabase database) : ConcurrencyConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>Parallel refreshes and parallel sign-ins under a session limit on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheConcurrencyConformanceTests : ConcurrencyConformanceTests, IClassFixture<PostgresDatabase>
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheConcurrencyConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override ISessionStore CreateStore() => _caches.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _caches.DisposeAsync();
    }
}
