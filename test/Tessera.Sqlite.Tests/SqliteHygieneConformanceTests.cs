using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>Cookie and header hygiene over SQLite: every store gets its own fresh database file.</summary>
public sealed class SqliteHygieneConformanceTests : HygieneConformanceTests
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
