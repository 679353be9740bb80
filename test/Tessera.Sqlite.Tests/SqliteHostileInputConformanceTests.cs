using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>The hostile-input suite (malformed and mutated cookies and tokens) over SQLite.</summary>
public sealed class SqliteHostileInputConformanceTests : HostileInputConformanceTests
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
