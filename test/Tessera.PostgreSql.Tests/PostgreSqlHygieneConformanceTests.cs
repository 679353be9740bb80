using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>Cookie and header hygiene on PostgreSQL.</summary>
public sealed class PostgreSqlHygieneConformanceTests(PostgresDatabase database) : HygieneConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>Cookie and header hygiene on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheHygieneConformanceTests : HygieneConformanceTests, IClassFixture<PostgresDatabase>
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheHygieneConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override ISessionStore CreateStore() => _caches.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _caches.DisposeAsync();
    }
}
