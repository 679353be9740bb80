using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>The failure contract over the SQLite store behind the fault injector, one fresh file per test.</summary>
public sealed class SqliteStoreFailureConformanceTests : StoreFailureConformanceTests
{
    private readonly TestDatabaseDirectory _directory = new();

    protected override ISessionStore CreateStore() =>
        new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = $"Data Source={_directory.NewDatabasePath()}" }, Clock);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
