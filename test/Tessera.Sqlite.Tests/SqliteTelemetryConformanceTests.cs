using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>Events, metrics and the health check over SQLite: every store gets its own fresh database file.</summary>
public sealed class SqliteTelemetryConformanceTests : SessionTelemetryConformanceTests, IDisposable
{
    private readonly TestDatabaseDirectory _directory = new();

    protected override ISessionStore CreateStore() => _directory.NewStore(Clock);

    public void Dispose() => _directory.Dispose();
}
