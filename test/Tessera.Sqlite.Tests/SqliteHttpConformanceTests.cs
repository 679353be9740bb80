using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>The HTTP conformance suite (real Kestrel, real client) over the SQLite store, one fresh file per test.</summary>
public sealed class SqliteHttpConformanceTests : ServerSideSessionHttpConformanceTests
{
    private readonly TestDatabaseDirectory _directory = new();

    protected override ISessionStore CreateStore() =>
        new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = $"Data Source={_directory.NewDatabasePath()}" }, Clock);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync(); // stops the servers and disposes the store
        _directory.Dispose();
    }
}
