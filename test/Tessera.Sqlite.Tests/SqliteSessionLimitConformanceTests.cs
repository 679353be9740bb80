using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>The per-subject session limit on SQLite: every store gets its own fresh database file.</summary>
public sealed class SqliteSessionLimitConformanceTests : SessionLimitConformanceTests, IDisposable
{
    private readonly TestDatabaseDirectory _directory = new();

    protected override ISessionStore CreateStore() => _directory.NewStore(Clock);

    public void Dispose() => _directory.Dispose();
}
