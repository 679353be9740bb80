using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>What a session may hold, on PostgreSQL (jsonb keeps keys and values; NUL is refused before it gets there).</summary>
public sealed class PostgreSqlSessionDataConformanceTests(PostgresDatabase database) : SessionDataConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}
