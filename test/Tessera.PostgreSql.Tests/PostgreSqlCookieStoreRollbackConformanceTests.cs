using Tessera.Testing;

namespace Tessera.PostgreSql.Tests;

/// <summary>The cookie store's refusal of replayed older cookies, with PostgreSQL as its revocation store.</summary>
public sealed class PostgreSqlCookieStoreRollbackConformanceTests(PostgresDatabase database) : CookieStoreRollbackConformanceTests, IClassFixture<PostgresDatabase>
{
    protected override ISessionStore CreateRevocationStore() => database.CreateStoreAsync(Clock).GetAwaiter().GetResult();
}
