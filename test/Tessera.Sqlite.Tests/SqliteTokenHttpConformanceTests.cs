using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>The token HTTP conformance suite (bearer transport, authentication, token endpoints) over SQLite.</summary>
public sealed class SqliteTokenHttpConformanceTests : TokenHttpConformanceTests
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
