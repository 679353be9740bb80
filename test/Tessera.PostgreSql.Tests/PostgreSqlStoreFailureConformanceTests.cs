using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>The failure contract on PostgreSQL behind the fault injector (real outages are in bench/outage.sh).</summary>
public sealed class PostgreSqlStoreFailureConformanceTests(PostgresDatabase database) : StoreFailureConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}
