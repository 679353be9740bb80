using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>Parallel refreshes and parallel sign-ins under a session limit on SQLite: every store gets its own fresh database file.</summary>
public sealed class SqliteConcurrencyConformanceTests : ConcurrencyConformanceTests
{
    private readonly TestDatabaseDirectory _directory = new();

    protected override ISessionStore CreateStore() => _directory.NewStore(Clock);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
