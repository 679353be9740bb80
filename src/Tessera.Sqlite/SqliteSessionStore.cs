using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tessera.Sqlite;

/// <summary>
/// A durable embedded store in one SQLite file: sessions survive restarts, and several processes on one machine may
/// share the file. WAL mode (readers never wait for the writer), <c>synchronous=NORMAL</c> (a power cut may lose the
/// last commits, never corrupt the file), a busy timeout (writers queue instead of failing) and foreign keys on.
/// Bounded: see <see cref="SqliteSessionStoreOptions.MaxSessions"/>.
/// </summary>
/// <remarks>
/// <para>
/// The schema is created and migrated on first use (thread-safe and safe across processes); a database written by a
/// newer version of this package is refused with an <see cref="InvalidOperationException"/> rather than misread.
/// </para>
/// <para>
/// Patches are applied per key in SQL inside one <c>BEGIN IMMEDIATE</c> transaction, so two requests that change
/// different keys of one session both survive. At the bound, expired sessions are deleted first; then, under
/// <see cref="StoreCapacityPolicy.EvictLeastRecentlyUsed"/>, the least recently seen 1% of the bound (at least one) is
/// evicted; under <see cref="StoreCapacityPolicy.Reject"/>, <see cref="CreateAsync"/> throws
/// <see cref="SessionStoreFullException"/> and changes nothing.
/// </para>
/// <para>
/// Token sessions (<see cref="Tokens.ISessionTokenStore"/>) keep one row per token in <c>tessera_tokens</c>, deleted with
/// their session; a rotation is one transaction whose conditional update lets exactly one of concurrent rotations win.
/// </para>
/// <para>
/// Reads run on pooled reader connections and writes on one write connection kept open, each with its statements
/// compiled once; the store is safe to share as a singleton. SQLite has one writer at a time, so this store's writes commit in groups: the writes that
/// arrive while a transaction runs share the next one, each in a savepoint of its own, so a write that fails is rolled
/// back alone and never fails the others, and each caller hears of its write only once it is committed (group commit;
/// durability as above). Waiting for a turn does not block a thread-pool thread the way SQLite's busy handler does;
/// writers in other processes (or other store instances) still meet SQLite's busy timeout. Disposing the store closes
/// its idle pooled connections.
/// </para>
/// <para>
/// The file is split by capability: sessions here; <c>.Capacity.cs</c> (the bound), <c>.Cleanup.cs</c>,
/// <c>.SubjectLimit.cs</c> (per-user listing and limits), <c>.Tokens.cs</c>, <c>.Migrations.cs</c>,
/// <c>.Administration.cs</c> and <c>.Connections.cs</c> (the write path and the readers); the SQL is in
/// <see cref="SqliteStatements"/>.
/// </para>
/// </remarks>
public sealed partial class SqliteSessionStore : ISessionStore, IDisposable, IAsyncDisposable
{
    private static readonly (string, SqliteType)[] ByIdParameters = [("$id", SqliteType.Text), ("$now", SqliteType.Integer)];
    private static readonly (string, SqliteType)[] ByHashParameters = [("$hash", SqliteType.Blob), ("$now", SqliteType.Integer)];
    private static readonly (string, SqliteType)[] TokenParameters = [("$id", SqliteType.Text)];

    private readonly SqliteSessionStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _connectionString;
    private readonly string _databasePath;
    private readonly string _connectionPragmas;
    private readonly SqliteReaderPool _readers;
    private readonly SqliteGroupCommit _writes;
    private readonly Lock _schemaGate = new();
    private Task? _schemaTask;
    private volatile bool _schemaReady;
    private volatile bool _disposed;

    /// <summary>Creates a store. Nothing touches the database until the first operation.</summary>
    /// <param name="options">The database and bounds; validated here (see <see cref="SqliteSessionStoreOptions.Validate"/>).</param>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">The logger; <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public SqliteSessionStore(SqliteSessionStoreOptions options, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = new SqliteSessionStoreOptions
        {
            ConnectionString = options.ConnectionString,
            MaxSessions = options.MaxSessions,
            MaxAnonymousSessions = options.MaxAnonymousSessions,
            CapacityPolicy = options.CapacityPolicy,
            CommandTimeout = options.CommandTimeout,
        };
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        var builder = new SqliteConnectionStringBuilder(options.ConnectionString)
        {
            ForeignKeys = true,
            DefaultTimeout = (int)Math.Ceiling(options.CommandTimeout.TotalSeconds),
        };
        _connectionString = builder.ToString();
        _databasePath = ResolvePath(builder.DataSource);
        // Both are per connection and not kept by the pool's reset, so every open sets them (microseconds, in process).
        _connectionPragmas = $"PRAGMA busy_timeout = {(long)options.CommandTimeout.TotalMilliseconds}; PRAGMA synchronous = NORMAL;";
        _readers = new SqliteReaderPool(_connectionString, _connectionPragmas);
        _writes = new SqliteGroupCommit(OpenAsync, options.CommandTimeout);
    }

    /// <summary>The write transactions begun so far (tests observe group commit with it).</summary>
    internal long WriteTransactions => _writes.Transactions;

    /// <summary>The statements the write path compiled so far (tests check that a write reuses them).</summary>
    internal long WriteStatementsCompiled => _writes.StatementsCompiled;

    /// <summary>The writes waiting for their transaction.</summary>
    internal int QueuedWrites => _writes.Queued;

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => _databasePath;

    /// <inheritdoc />
    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(record.Id, nameof(record));
        ArgumentNullException.ThrowIfNull(record.CredentialHash, nameof(record));
        return WriteAsync(record, static async (store, writer, record, cancellationToken) =>
        {
            var now = store.Now();
            RowCounts counts;
            var check = writer.Command(SqliteStatements.CreateCheck);
            {
                check.Parameters.AddWithValue("$id", record.Id);
                check.Parameters.AddWithValue("$hash", record.CredentialHash);
                var reader = await check.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using var readerScope = reader.ConfigureAwait(false);
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                counts = new RowCounts(reader.GetInt64(0), reader.GetInt64(1));
                if (reader.GetBoolean(2))
                {
                    return false; // nothing was written
                }
            }
            var anonymous = record.Subject is null;
            if (store.IsFull(counts, anonymous))
            {
                await store.MakeRoomAsync(writer, anonymous, now, cancellationToken).ConfigureAwait(false);
            }
            long pk;
            var insert = writer.Command(SqliteStatements.InsertSession);
            insert.Parameters.AddWithValue("$id", record.Id);
            insert.Parameters.AddWithValue("$hash", record.CredentialHash);
            insert.Parameters.AddWithValue("$subject", (object?)record.Subject ?? DBNull.Value);
            insert.Parameters.AddWithValue("$created_at", Ms(record.CreatedAt));
            insert.Parameters.AddWithValue("$last_seen_at", Ms(record.LastSeenAt));
            insert.Parameters.AddWithValue("$idle_expires_at", Ms(record.IdleExpiresAt));
            insert.Parameters.AddWithValue("$absolute_expires_at", Ms(record.AbsoluteExpiresAt));
            insert.Parameters.AddWithValue("$revoked_at", record.RevokedAt is { } revoked ? Ms(revoked) : DBNull.Value);
            insert.Parameters.AddWithValue("$user_agent", (object?)record.Metadata?.UserAgent ?? DBNull.Value);
            insert.Parameters.AddWithValue("$ip_address", (object?)record.Metadata?.IpAddress ?? DBNull.Value);
            insert.Parameters.AddWithValue("$label", (object?)record.Metadata?.Label ?? DBNull.Value);
            pk = (long)(await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            await UpsertAsync(writer, pk, record.Data, cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var records = await ReadAsync(SqliteStatements.LoadById, ByIdParameters, id, Now(), null, cancellationToken).ConfigureAwait(false);
        return records.Count == 0 ? null : records[0];
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        var records = await ReadAsync(SqliteStatements.LoadByHash, ByHashParameters, credentialHash.ToArray(), Now(), null, cancellationToken).ConfigureAwait(false);
        return records.Count == 0 ? null : records[0];
    }

    /// <inheritdoc />
    /// <remarks>
    /// One <c>BEGIN IMMEDIATE</c> transaction: the session row is updated only if live (the update doubles as the
    /// check; a patch of data alone only reads the row, so none of its indexes is rewritten), then clear, removals and
    /// sets run key by key in SQL, never as a rewrite of the whole data. A new
    /// credential hash that another session already holds makes the patch fail as a whole (<see langword="false"/>).
    /// </remarks>
    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        if (patch is { Set.Count: 1, Removed.Count: 0, ClearData: false, SubjectChanged: false, NewCredentialHash: null, LastSeenAt: null, IdleExpiresAt: null })
        {
            // One statement, so no savepoint in a group commit; no row changed means the session is not live.
            return WriteAsync((id, entry: patch.Set.First()), static async (store, writer, state, cancellationToken) =>
            {
                var upsert = writer.Command(SqliteStatements.UpsertKeyOfLiveSession);
                upsert.Parameters.AddWithValue("$id", state.id);
                upsert.Parameters.AddWithValue("$now", store.Now());
                upsert.Parameters.AddWithValue("$key", state.entry.Key);
                upsert.Parameters.AddWithValue("$value", state.entry.Value);
                return await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
            }, cancellationToken, oneStatement: true);
        }
        return WriteAsync((id, patch), static async (store, writer, state, cancellationToken) =>
        {
            var (id, patch) = state;
            long pk;
            var changesRow = patch.SubjectChanged || patch.NewCredentialHash is not null || patch.LastSeenAt is not null || patch.IdleExpiresAt is not null;
            var update = writer.Command(changesRow ? SqliteStatements.ApplySession : SqliteStatements.FindLiveSession);
            {
                update.Parameters.AddWithValue("$id", id);
                update.Parameters.AddWithValue("$now", store.Now());
                if (changesRow)
                {
                    update.Parameters.AddWithValue("$subject_changed", patch.SubjectChanged);
                    update.Parameters.AddWithValue("$subject", (object?)patch.Subject ?? DBNull.Value);
                    update.Parameters.AddWithValue("$new_hash", (object?)patch.NewCredentialHash ?? DBNull.Value);
                    update.Parameters.AddWithValue("$last_seen_at", patch.LastSeenAt is { } seen ? Ms(seen) : DBNull.Value);
                    update.Parameters.AddWithValue("$idle_expires_at", patch.IdleExpiresAt is { } idle ? Ms(idle) : DBNull.Value);
                }
                object? result;
                try
                {
                    result = await update.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (SqliteException e) when (e.SqliteErrorCode == 19 /* SQLITE_CONSTRAINT: the new hash is taken */)
                {
                    Log.CredentialCollision(store._logger, SessionIdReference.Of(id));
                    return false; // the failed statement wrote nothing
                }
                if (result is not long found)
                {
                    return false;
                }
                pk = found;
            }
            if (patch.ClearData)
            {
                var clear = writer.Command(SqliteStatements.ClearData);
                clear.Parameters.AddWithValue("$pk", pk);
                await clear.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            else if (patch.Removed.Count > 0)
            {
                var remove = writer.Command(SqliteStatements.RemoveKey);
                remove.Parameters.AddWithValue("$pk", pk);
                var keyParameter = remove.Parameters.Add("$key", SqliteType.Text);
                foreach (var key in patch.Removed)
                {
                    keyParameter.Value = key;
                    await remove.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            await UpsertAsync(writer, pk, patch.Set, cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return await WriteAsync(SqliteStatements.Touch, (id, lastSeenAt, idleExpiresAt), static (store, command, state) =>
        {
            command.Parameters.AddWithValue("$id", state.id);
            command.Parameters.AddWithValue("$now", store.Now());
            command.Parameters.AddWithValue("$last_seen_at", Ms(state.lastSeenAt));
            command.Parameters.AddWithValue("$idle_expires_at", Ms(state.idleExpiresAt));
        }, cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    /// <remarks>The credential hash is erased with the revocation, so the dead credential cannot be matched again.</remarks>
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return await WriteAsync(SqliteStatements.Revoke, (id, revokedAt), static (_, command, state) =>
        {
            command.Parameters.AddWithValue("$id", state.id);
            command.Parameters.AddWithValue("$revoked_at", Ms(state.revokedAt));
        }, cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return await WriteAsync(SqliteStatements.Delete, id, static (_, command, id) => command.Parameters.AddWithValue("$id", id), cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>
    /// Closes this store's reader connections, its write connection (at once, or when the transaction running on it
    /// ends) and its idle pooled connections, which lets SQLite checkpoint and remove the WAL file. Calling it again does
    /// nothing; an operation on the store afterwards throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _readers.Dispose();
        _writes.Dispose();
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    /// <summary>Closes this store's connections; see <see cref="Dispose"/>.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    // Where Microsoft.Data.Sqlite will put the file, so its directory can be created first.
    private static string ResolvePath(string dataSource)
    {
        const string DataDirectory = "|DataDirectory|";
        if (dataSource.StartsWith(DataDirectory, StringComparison.OrdinalIgnoreCase))
        {
            var root = AppContext.GetData("DataDirectory") as string ?? AppContext.BaseDirectory;
            return Path.GetFullPath(Path.Combine(root, dataSource[DataDirectory.Length..].TrimStart('/', '\\')));
        }
        if (dataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            if (Uri.TryCreate(dataSource, UriKind.Absolute, out var uri) && uri.IsFile && !string.IsNullOrEmpty(uri.LocalPath))
            {
                return uri.LocalPath;
            }
            var relative = dataSource["file:".Length..];
            var query = relative.IndexOf('?', StringComparison.Ordinal);
            return Path.GetFullPath(Uri.UnescapeDataString(query < 0 ? relative : relative[..query]));
        }
        return Path.GetFullPath(dataSource);
    }
}
