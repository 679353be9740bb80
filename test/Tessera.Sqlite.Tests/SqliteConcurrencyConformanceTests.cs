using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>Parallel refreshes and parallel sign-ins under a session limit on SQLite: every store gets its own fresh database file.</summary>
public sealed class SqliteConcurrencyConformanceTests : ConcurrencyConformanceTests
{
    private readonly TestDatabaseDirectory _directory = new();
    private readonly List<SqliteSessionStore> _stores = [];

    protected override ISessionStore CreateStore()
    {
        var store = new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = $"Data Source={_directory.NewDatabasePath()}" }, Clock);
        lock (_stores)
        {
            _stores.Add(store);
        }
        return store;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
        _directory.Dispose();
    }
}
