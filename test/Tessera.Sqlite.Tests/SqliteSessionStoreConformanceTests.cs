using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>The store conformance suite on SQLite: every store gets its own fresh database file.</summary>
public sealed class SqliteSessionStoreConformanceTests : SessionStoreConformanceTests, IDisposable
{
    private readonly TestDatabaseDirectory _directory = new();
    private readonly List<SqliteSessionStore> _stores = [];

    protected override ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed)
    {
        var store = new SqliteSessionStore(
            new SqliteSessionStoreOptions
            {
                ConnectionString = $"Data Source={_directory.NewDatabasePath()}",
                MaxSessions = maxSessions > 0 ? maxSessions : SqliteSessionStoreDefaults.MaxSessions,
                // Anonymous records may fill the whole bound: the total bound is under test here, the anonymous one in
                // SqliteAnonymousBoundConformanceTests.
                MaxAnonymousSessions = maxSessions > 0 ? maxSessions : null,
                CapacityPolicy = policy,
            },
            Clock);
        lock (_stores)
        {
            _stores.Add(store);
        }
        return store;
    }

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }
        _directory.Dispose();
    }
}
