using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>Per-tab scopes on SQLite: every store gets its own fresh database file.</summary>
public sealed class SqliteTabScopeConformanceTests : TabScopeConformanceTests, IDisposable
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

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }
        _directory.Dispose();
    }
}
