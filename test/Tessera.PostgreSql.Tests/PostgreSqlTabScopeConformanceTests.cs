using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>Per-tab scopes on PostgreSQL (the tab keys live in the jsonb data column like any other key).</summary>
public sealed class PostgreSqlTabScopeConformanceTests(PostgresDatabase database) : TabScopeConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}

/// <summary>Per-tab scopes on PostgreSQL behind the near cache.</summary>
public sealed class PostgreSqlNearCacheTabScopeConformanceTests : TabScopeConformanceTests, IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private readonly PostgresNearCaches _caches;

    public PostgreSqlNearCacheTabScopeConformanceTests(PostgresDatabase database) => _caches = new PostgresNearCaches(database, Clock);

    protected override ISessionStore CreateStore() => _caches.Create();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _caches.DisposeAsync();
}
