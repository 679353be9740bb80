namespace Tessera.Sqlite;

// The schema: created and migrated once per store on first use (see SqliteSchema for the tables and migrations).
public sealed partial class SqliteSessionStore
{
    /// <summary>The schema version this code writes; a database recording a higher one is refused.</summary>
    public static int SchemaVersion => SqliteSchema.CurrentVersion;

    /// <summary>
    /// Creates the database file, its directory and the schema now instead of at the first operation, so a broken
    /// path or a too-new schema fails at start-up. Calling it again (or concurrently) is harmless.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting; the initialization itself runs to its end for other callers.</param>
    /// <returns>A task that completes when the schema is ready.</returns>
    /// <exception cref="InvalidOperationException">The database's schema is newer than this code.</exception>
    public Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_schemaReady)
        {
            return Task.CompletedTask;
        }
        Task task;
        lock (_schemaGate)
        {
            // A failed attempt (database busy past the timeout, disk full) is retried by the next caller.
            if (_schemaTask is null || _schemaTask.IsFaulted || _schemaTask.IsCanceled)
            {
                // Not bound to the first caller's token: everyone waiting shares this one initialization.
                _schemaTask = Task.Run(MigrateAsync, CancellationToken.None);
            }
            task = _schemaTask;
        }
        return task.WaitAsync(cancellationToken);
    }

    private async Task MigrateAsync()
    {
        var directory = Path.GetDirectoryName(_databasePath);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        var connection = await OpenAsync(CancellationToken.None).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        // Persistent in the file; needs no transaction, and is a no-op when the file is already in WAL mode.
        var wal = Command(connection, null, SqliteStatements.EnableWal);
        await using (wal.ConfigureAwait(false))
        {
            var mode = (string?)await wal.ExecuteScalarAsync().ConfigureAwait(false);
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                Log.WalUnavailable(_logger, mode ?? "unknown");
            }
        }
        var transaction = connection.BeginTransaction(deferred: false);
        await using var transactionScope = transaction.ConfigureAwait(false);
        var create = Command(connection, transaction, SqliteSchema.CreateMigrationsTable);
        await using (create.ConfigureAwait(false))
        {
            await create.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        int version;
        var read = Command(connection, transaction, SqliteSchema.ReadVersion);
        await using (read.ConfigureAwait(false))
        {
            version = Convert.ToInt32(await read.ExecuteScalarAsync().ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }
        if (version > SqliteSchema.CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The session database '{_databasePath}' has Tessera schema version {version}, newer than version {SqliteSchema.CurrentVersion} that this Tessera.Sqlite understands. " +
                "It was written by a newer Tessera; upgrade this application's Tessera.Sqlite package (or point it at another file).");
        }
        for (var next = version + 1; next <= SqliteSchema.CurrentVersion; next++)
        {
            var migrate = Command(connection, transaction, SqliteSchema.Migrations[next - 1]);
            await using (migrate.ConfigureAwait(false))
            {
                await migrate.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
            var record = Command(connection, transaction, SqliteSchema.RecordVersion);
            await using var recordScope = record.ConfigureAwait(false);
            record.Parameters.AddWithValue("$version", next);
            record.Parameters.AddWithValue("$applied_at", _time.GetUtcNow().ToUnixTimeMilliseconds());
            await record.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        await transaction.CommitAsync().ConfigureAwait(false);
        if (version < SqliteSchema.CurrentVersion)
        {
            Log.SchemaMigrated(_logger, version, SqliteSchema.CurrentVersion);
        }
        _schemaReady = true;
    }
}
