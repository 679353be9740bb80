using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>What a session may hold, on SQLite: every store gets its own fresh database file.</summary>
public sealed class SqliteSessionDataConformanceTests : SessionDataConformanceTests, IDisposable
{
    private readonly TestDatabaseDirectory _directory = new();

    protected override ISessionStore CreateStore() => _directory.NewStore(Clock);

    public void Dispose() => _directory.Dispose();
}
