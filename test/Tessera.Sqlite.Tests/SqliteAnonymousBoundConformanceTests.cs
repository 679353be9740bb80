using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>The anonymous-flood suite on SQLite: an exact bound kept by triggers, least recently seen anonymous rows evicted.</summary>
public sealed class SqliteAnonymousBoundConformanceTests : AnonymousBoundConformanceTests
{
    private readonly TestDatabaseDirectory _directory = new();

    protected override AnonymousBoundBehavior Behavior => AnonymousBoundBehavior.EvictsLeastRecentlyUsed;

    protected override bool HasTotalBound => true;

    protected override ISessionStore CreateStore(int maxAnonymousSessions, int? maxSessions = null) =>
        new SqliteSessionStore(
            new SqliteSessionStoreOptions
            {
                ConnectionString = $"Data Source={_directory.NewDatabasePath()}",
                MaxSessions = maxSessions ?? 100 * maxAnonymousSessions,
                MaxAnonymousSessions = maxAnonymousSessions,
            },
            Clock);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
