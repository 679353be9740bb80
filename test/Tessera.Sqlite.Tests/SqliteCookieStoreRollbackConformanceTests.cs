using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>The cookie store's refusal of replayed older cookies, with a SQLite store (one fresh file per test) as its revocation store.</summary>
public sealed class SqliteCookieStoreRollbackConformanceTests : CookieStoreRollbackConformanceTests
{
    private readonly TestDatabaseDirectory _directory = new();

    protected override ISessionStore CreateRevocationStore() =>
        new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = $"Data Source={_directory.NewDatabasePath()}" }, Clock);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync(); // stops the servers and disposes the revocation store
        _directory.Dispose();
    }
}
