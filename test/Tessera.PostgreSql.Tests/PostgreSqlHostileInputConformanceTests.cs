using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>The hostile-input suite (malformed and mutated cookies and tokens) on PostgreSQL.</summary>
public sealed class PostgreSqlHostileInputConformanceTests(PostgresDatabase database) : HostileInputConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>The hostile-input suite on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheHostileInputConformanceTests : HostileInputConformanceTests, IClassFixture<PostgresDatabase>
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheHostileInputConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override ISessionStore CreateStore() => _caches.Create();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _caches.DisposeAsync();
    }
}
