using Microsoft.Data.Sqlite;

namespace Tessera.Sqlite.Tests;

/// <summary>
/// A fresh temporary directory for database files, deleted with everything in it on dispose, together with every store
/// <see cref="NewStore"/> opened in it.
/// </summary>
internal sealed class TestDatabaseDirectory : IDisposable
{
    private readonly List<SqliteSessionStore> _stores = [];
    private int _files;

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tessera-sqlite-tests", Guid.NewGuid().ToString("N"));

    /// <summary>A path for a new database file that does not exist yet (nor does its directory).</summary>
    public string NewDatabasePath() => System.IO.Path.Combine(Path, $"db{Interlocked.Increment(ref _files)}", "sessions.db");

    /// <summary>A store on a new database file in this directory, on the given clock; disposed with the directory.</summary>
    public SqliteSessionStore NewStore(TimeProvider clock)
    {
        var store = new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = $"Data Source={NewDatabasePath()}" }, clock);
        lock (_stores)
        {
            _stores.Add(store);
        }
        return store;
    }

    /// <summary>An unpooled connection for looking inside a store's file behind its back.</summary>
    public static SqliteConnection OpenRaw(string databasePath)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    public static object? Scalar(string databasePath, string sql)
    {
        using var connection = OpenRaw(databasePath);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    public void Dispose()
    {
        lock (_stores)
        {
            foreach (var store in _stores)
            {
                store.Dispose();
            }
            _stores.Clear();
        }
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
            // A file still open elsewhere (only on Windows); the temp directory is cleaned by the OS eventually.
        }
    }
}
