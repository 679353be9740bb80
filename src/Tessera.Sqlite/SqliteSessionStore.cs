using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Tokens;

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
/// Token sessions (<see cref="ISessionTokenStore"/>) keep one row per token in <c>tessera_tokens</c>, deleted with
/// their session; a rotation is one transaction whose conditional update lets exactly one of concurrent rotations win.
/// </para>
/// <para>
/// Every operation opens a connection from Microsoft.Data.Sqlite's pool and returns it at once, so the store is safe to
/// share as a singleton. Writers of this store wait for each other on an asynchronous gate before taking SQLite's
/// write lock: SQLite has one writer at a time anyway, and waiting on the gate does not block a thread-pool thread the
/// way SQLite's busy handler does. Writers in other processes (or other store instances) still meet SQLite's busy
/// timeout. Disposing the store closes its idle pooled connections.
/// </para>
/// </remarks>
public sealed partial class SqliteSessionStore : ISessionStore, ISessionStoreCleanup, ISessionStoreCounter, ISubjectSessionIndex, ISubjectSessionLimiter, ISessionTokenStore, IDisposable, IAsyncDisposable
{
    // The session columns every load reads, in the order ReadRecords expects (after s.pk).
    private const string SelectSession = """
        SELECT s.pk, s.id, s.credential_hash, s.subject, s.created_at, s.last_seen_at, s.idle_expires_at,
               s.absolute_expires_at, s.revoked_at, s.user_agent, s.ip_address, s.label, d.key, d.value
        FROM tessera_sessions AS s
        LEFT JOIN tessera_session_data AS d ON d.session_pk = s.pk
        """;

    private const string LiveSession = "s.revoked_at IS NULL AND s.expires_at > $now";

    private const string LoadById = SelectSession + " WHERE s.id = $id AND " + LiveSession;

    private const string LoadByHash = SelectSession + " WHERE s.credential_hash = $hash AND " + LiveSession;

    private const string ListBySubject = SelectSession + " WHERE s.subject = $subject AND " + LiveSession + " ORDER BY s.created_at, s.pk";

    // The session columns first, in ReadRecords' order, then the token's (from column TokenColumn on). The session comes
    // whatever its state: the caller tells a revoked or expired session from a live one.
    private const string LoadToken = """
        SELECT s.pk, s.id, s.credential_hash, s.subject, s.created_at, s.last_seen_at, s.idle_expires_at,
               s.absolute_expires_at, s.revoked_at, s.user_agent, s.ip_address, s.label, d.key, d.value,
               t.id, t.kind, t.paired_token_id, t.created_at, t.expires_at, t.revoked_at, t.successor_id
        FROM tessera_tokens AS t
        JOIN tessera_sessions AS s ON s.pk = t.session_pk
        LEFT JOIN tessera_session_data AS d ON d.session_pk = s.pk
        WHERE t.id = $id
        """;

    private const int TokenColumn = 14;

    // LoadToken's columns, then the successor's and its access token's (null when there is none): one statement, so
    // the four records come from one snapshot.
    private const string LoadRefreshToken = """
        SELECT s.pk, s.id, s.credential_hash, s.subject, s.created_at, s.last_seen_at, s.idle_expires_at,
               s.absolute_expires_at, s.revoked_at, s.user_agent, s.ip_address, s.label, d.key, d.value,
               t.id, t.kind, t.paired_token_id, t.created_at, t.expires_at, t.revoked_at, t.successor_id,
               n.id, n.kind, n.paired_token_id, n.created_at, n.expires_at, n.revoked_at, n.successor_id,
               a.id, a.kind, a.paired_token_id, a.created_at, a.expires_at, a.revoked_at, a.successor_id
        FROM tessera_tokens AS t
        JOIN tessera_sessions AS s ON s.pk = t.session_pk
        LEFT JOIN tessera_tokens AS n ON n.id = t.successor_id
        LEFT JOIN tessera_tokens AS a ON a.id = n.paired_token_id
        LEFT JOIN tessera_session_data AS d ON d.session_pk = s.pk
        WHERE t.id = $id
        """;

    private const int TokenColumnCount = 7;

    private const string InsertToken = """
        INSERT INTO tessera_tokens (id, session_pk, kind, paired_token_id, created_at, expires_at, revoked_at, successor_id)
        VALUES ($id, $session_pk, $kind, $paired_token_id, $created_at, $expires_at, $revoked_at, $successor_id)
        """;

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
    private readonly SemaphoreSlim _writeGate = new(1, 1);
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
    }

    /// <summary>The schema version this code writes; a database recording a higher one is refused.</summary>
    public static int SchemaVersion => SqliteSchema.CurrentVersion;

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => _databasePath;

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

    /// <inheritdoc />
    public async ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(record.Id, nameof(record));
        ArgumentNullException.ThrowIfNull(record.CredentialHash, nameof(record));
        await InitializeAsync(cancellationToken);
        await EnterWriteAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = connection.BeginTransaction(deferred: false);
            var now = Now();
            var counts = default(RowCounts);
            await using (var check = Command(connection, transaction, """
                SELECT (SELECT value FROM tessera_counters WHERE name = 'sessions'),
                       (SELECT value FROM tessera_counters WHERE name = 'anonymous'),
                       EXISTS (SELECT 1 FROM tessera_sessions WHERE id = $id)
                       OR EXISTS (SELECT 1 FROM tessera_sessions WHERE credential_hash = $hash)
                """))
            {
                check.Parameters.AddWithValue("$id", record.Id);
                check.Parameters.AddWithValue("$hash", record.CredentialHash);
                await using var reader = await check.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                counts = new RowCounts(reader.GetInt64(0), reader.GetInt64(1));
                if (reader.GetBoolean(2))
                {
                    return false; // disposing the transaction rolls it back; nothing was written
                }
            }
            var anonymous = record.Subject is null;
            if (IsFull(counts, anonymous))
            {
                await MakeRoomAsync(connection, transaction, anonymous, now, cancellationToken);
            }
            long pk;
            await using (var insert = Command(connection, transaction, """
                INSERT INTO tessera_sessions (id, credential_hash, subject, created_at, last_seen_at, idle_expires_at,
                                              absolute_expires_at, expires_at, revoked_at, user_agent, ip_address, label)
                VALUES ($id, $hash, $subject, $created_at, $last_seen_at, $idle_expires_at,
                        $absolute_expires_at, min($idle_expires_at, $absolute_expires_at), $revoked_at, $user_agent, $ip_address, $label)
                RETURNING pk
                """))
            {
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
                pk = (long)(await insert.ExecuteScalarAsync(cancellationToken))!;
            }
            await UpsertAsync(connection, transaction, pk, record.Data, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var records = await ReadAsync(LoadById, ByIdParameters, id, Now(), null, cancellationToken);
        return records.Count == 0 ? null : records[0];
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        var records = await ReadAsync(LoadByHash, ByHashParameters, credentialHash.ToArray(), Now(), null, cancellationToken);
        return records.Count == 0 ? null : records[0];
    }

    /// <inheritdoc />
    /// <remarks>
    /// One <c>BEGIN IMMEDIATE</c> transaction: the session row is updated only if live (the update doubles as the
    /// check), then clear, removals and sets run key by key in SQL, never as a rewrite of the whole data. A new
    /// credential hash that another session already holds makes the patch fail as a whole (<see langword="false"/>).
    /// </remarks>
    public async ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        await InitializeAsync(cancellationToken);
        await EnterWriteAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = connection.BeginTransaction(deferred: false);
            long pk;
            await using (var update = Command(connection, transaction, """
                UPDATE tessera_sessions SET
                    subject = CASE WHEN $subject_changed THEN $subject ELSE subject END,
                    credential_hash = coalesce($new_hash, credential_hash),
                    last_seen_at = coalesce($last_seen_at, last_seen_at),
                    idle_expires_at = coalesce($idle_expires_at, idle_expires_at),
                    expires_at = min(coalesce($idle_expires_at, idle_expires_at), absolute_expires_at)
                WHERE id = $id AND revoked_at IS NULL AND expires_at > $now
                RETURNING pk
                """))
            {
                update.Parameters.AddWithValue("$id", id);
                update.Parameters.AddWithValue("$now", Now());
                update.Parameters.AddWithValue("$subject_changed", patch.SubjectChanged);
                update.Parameters.AddWithValue("$subject", (object?)patch.Subject ?? DBNull.Value);
                update.Parameters.AddWithValue("$new_hash", (object?)patch.NewCredentialHash ?? DBNull.Value);
                update.Parameters.AddWithValue("$last_seen_at", patch.LastSeenAt is { } seen ? Ms(seen) : DBNull.Value);
                update.Parameters.AddWithValue("$idle_expires_at", patch.IdleExpiresAt is { } idle ? Ms(idle) : DBNull.Value);
                object? result;
                try
                {
                    result = await update.ExecuteScalarAsync(cancellationToken);
                }
                catch (SqliteException e) when (e.SqliteErrorCode == 19 /* SQLITE_CONSTRAINT: the new hash is taken */)
                {
                    Log.CredentialCollision(_logger, Log.Ref(id));
                    return false;
                }
                if (result is not long found)
                {
                    return false;
                }
                pk = found;
            }
            if (patch.ClearData)
            {
                await using var clear = Command(connection, transaction, "DELETE FROM tessera_session_data WHERE session_pk = $pk");
                clear.Parameters.AddWithValue("$pk", pk);
                await clear.ExecuteNonQueryAsync(cancellationToken);
            }
            else if (patch.Removed.Count > 0)
            {
                await using var remove = Command(connection, transaction, "DELETE FROM tessera_session_data WHERE session_pk = $pk AND key = $key");
                remove.Parameters.AddWithValue("$pk", pk);
                var keyParameter = remove.Parameters.Add("$key", SqliteType.Text);
                foreach (var key in patch.Removed)
                {
                    keyParameter.Value = key;
                    await remove.ExecuteNonQueryAsync(cancellationToken);
                }
            }
            await UpsertAsync(connection, transaction, pk, patch.Set, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return await WriteAsync("""
            UPDATE tessera_sessions
            SET last_seen_at = $last_seen_at, idle_expires_at = $idle_expires_at, expires_at = min($idle_expires_at, absolute_expires_at)
            WHERE id = $id AND revoked_at IS NULL AND expires_at > $now
            """,
            command =>
            {
                command.Parameters.AddWithValue("$id", id);
                command.Parameters.AddWithValue("$now", Now());
                command.Parameters.AddWithValue("$last_seen_at", Ms(lastSeenAt));
                command.Parameters.AddWithValue("$idle_expires_at", Ms(idleExpiresAt));
            },
            cancellationToken) == 1;
    }

    /// <inheritdoc />
    /// <remarks>The credential hash is erased with the revocation, so the dead credential cannot be matched again.</remarks>
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return await WriteAsync(
            "UPDATE tessera_sessions SET revoked_at = $revoked_at, credential_hash = NULL WHERE id = $id AND revoked_at IS NULL",
            command =>
            {
                command.Parameters.AddWithValue("$id", id);
                command.Parameters.AddWithValue("$revoked_at", Ms(revokedAt));
            },
            cancellationToken) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return await WriteAsync(
            "DELETE FROM tessera_sessions WHERE id = $id",
            command => command.Parameters.AddWithValue("$id", id),
            cancellationToken) == 1;
    }

    /// <inheritdoc />
    /// <remarks>One short statement over the expiry index, so other writers wait at most one batch.</remarks>
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return WriteAsync(
            """
            DELETE FROM tessera_sessions WHERE pk IN (
                SELECT pk FROM tessera_sessions WHERE expires_at <= $now ORDER BY expires_at LIMIT $limit)
            """,
            command =>
            {
                command.Parameters.AddWithValue("$now", Now());
                command.Parameters.AddWithValue("$limit", batchSize);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return WriteAsync(
            """
            DELETE FROM tessera_sessions WHERE pk IN (
                SELECT pk FROM tessera_sessions WHERE revoked_at <= $before ORDER BY revoked_at LIMIT $limit)
            """,
            command =>
            {
                command.Parameters.AddWithValue("$before", revokedBefore.ToUnixTimeMilliseconds());
                command.Parameters.AddWithValue("$limit", batchSize);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Reads the expiry index only; it is linear in the number of live sessions, meant for statistics.</remarks>
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        await InitializeAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT count(*) FROM tessera_sessions WHERE expires_at > $now AND revoked_at IS NULL");
        command.Parameters.AddWithValue("$now", Now());
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        await InitializeAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, ListBySubject);
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$now", Now());
        return await ReadRecordsAsync(command, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>One <c>UPDATE ... RETURNING</c> statement (so one write transaction) ranks, revokes and reports.</remarks>
    public async ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        await InitializeAsync(cancellationToken);
        await EnterWriteAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = connection.BeginTransaction(deferred: false);
            var revoked = new List<string>();
            await using (var command = Command(connection, transaction, order switch
            {
                SessionLimitOrder.OldestCreated => TrimOldestCreated,
                SessionLimitOrder.NewcomerOnly => TrimNewcomerOnly,
                _ => TrimMostRecentlySeen,
            }))
            {
                command.Parameters.AddWithValue("$subject", subject);
                command.Parameters.AddWithValue("$now", Now());
                command.Parameters.AddWithValue("$keep", keep);
                command.Parameters.AddWithValue("$must", (object?)mustKeepId ?? DBNull.Value);
                command.Parameters.AddWithValue("$revoked_at", Ms(revokedAt));
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    revoked.Add(reader.GetString(0));
                }
            }
            await transaction.CommitAsync(cancellationToken);
            return revoked;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private const string TrimHead = """
        UPDATE tessera_sessions SET revoked_at = $revoked_at, credential_hash = NULL
        WHERE revoked_at IS NULL AND pk IN (
            SELECT pk FROM tessera_sessions
            WHERE subject = $subject AND revoked_at IS NULL AND expires_at > $now
            ORDER BY (id IS $must) DESC, 
        """;

    private const string TrimOldestCreated = TrimHead + """
        created_at ASC, id ASC LIMIT -1 OFFSET $keep)
        RETURNING id
        """;

    private const string TrimMostRecentlySeen = TrimHead + """
        last_seen_at DESC, created_at DESC, id DESC LIMIT -1 OFFSET $keep)
        RETURNING id
        """;

    private const string TrimNewcomerOnly = """
        UPDATE tessera_sessions SET revoked_at = $revoked_at, credential_hash = NULL
        WHERE id = $must AND subject = $subject AND revoked_at IS NULL AND expires_at > $now
          AND (SELECT count(*) FROM tessera_sessions WHERE subject = $subject AND revoked_at IS NULL AND expires_at > $now) > $keep
        RETURNING id
        """;

    /// <inheritdoc />
    /// <remarks>
    /// One <c>BEGIN IMMEDIATE</c> transaction: the session must be live and neither token id taken; otherwise nothing is
    /// written.
    /// </remarks>
    public async ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(refresh);
        if (!string.Equals(access.SessionId, refresh.SessionId, StringComparison.Ordinal) || string.Equals(access.Id, refresh.Id, StringComparison.Ordinal))
        {
            return false;
        }
        await InitializeAsync(cancellationToken);
        await EnterWriteAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = connection.BeginTransaction(deferred: false);
            long pk;
            await using (var check = Command(connection, transaction, """
                SELECT s.pk, EXISTS (SELECT 1 FROM tessera_tokens WHERE id IN ($access_id, $refresh_id))
                FROM tessera_sessions AS s
                WHERE s.id = $session_id AND s.revoked_at IS NULL AND s.expires_at > $now
                """))
            {
                check.Parameters.AddWithValue("$session_id", access.SessionId);
                check.Parameters.AddWithValue("$access_id", access.Id);
                check.Parameters.AddWithValue("$refresh_id", refresh.Id);
                check.Parameters.AddWithValue("$now", Now());
                await using var reader = await check.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken) || reader.GetBoolean(1))
                {
                    return false;
                }
                pk = reader.GetInt64(0);
            }
            await InsertTokensAsync(connection, transaction, pk, access, refresh, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    /// <remarks>One statement: the token, its session (whatever its state) and the session's data.</remarks>
    public async ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        TokenRecord? token = null;
        var records = await ReadAsync(LoadToken, TokenParameters, tokenId, null, reader => token = ReadToken(reader, TokenColumn), cancellationToken);
        return token is null ? null : new TokenLookup(token, records[0]);
    }

    /// <inheritdoc />
    /// <remarks>One statement: the token, its successor pair, its session (whatever its state) and the session's data.</remarks>
    public async ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        TokenLookup? found = null;
        var records = await ReadAsync(LoadRefreshToken, TokenParameters, tokenId, null, reader => found = new TokenLookup(ReadToken(reader, TokenColumn), null)
        {
            Successor = ReadOptionalToken(reader, TokenColumn + TokenColumnCount),
            SuccessorAccess = ReadOptionalToken(reader, TokenColumn + (2 * TokenColumnCount)),
        }, cancellationToken);
        return found is null ? null : found with { Session = records[0] };
    }

    /// <inheritdoc />
    /// <remarks>
    /// One <c>BEGIN IMMEDIATE</c> transaction. The old refresh token is revoked by a conditional
    /// <c>UPDATE ... WHERE revoked_at IS NULL</c>, so of concurrent rotations (in this process or another) exactly one
    /// wins; the session's idle deadline moves to the new refresh token's expiry (capped by the absolute deadline) only
    /// when that is later.
    /// </remarks>
    public async ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        await InitializeAsync(cancellationToken);
        await EnterWriteAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = connection.BeginTransaction(deferred: false);
            long pk;
            string pairedTokenId;
            await using (var read = Command(connection, transaction, """
                SELECT t.kind, t.revoked_at IS NOT NULL, t.paired_token_id, s.pk, s.id,
                       s.revoked_at IS NULL AND s.expires_at > $now,
                       EXISTS (SELECT 1 FROM tessera_tokens WHERE id IN ($access_id, $refresh_id))
                FROM tessera_tokens AS t
                JOIN tessera_sessions AS s ON s.pk = t.session_pk
                WHERE t.id = $id
                """))
            {
                read.Parameters.AddWithValue("$id", refreshTokenId);
                read.Parameters.AddWithValue("$now", Now());
                read.Parameters.AddWithValue("$access_id", newAccess.Id);
                read.Parameters.AddWithValue("$refresh_id", newRefresh.Id);
                await using var reader = await read.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken) || reader.GetString(0) != KindText(TokenKind.Refresh))
                {
                    return TokenRotationOutcome.NotFound;
                }
                if (reader.GetBoolean(1))
                {
                    return TokenRotationOutcome.AlreadyRevoked;
                }
                var sessionId = reader.GetString(4);
                if (!reader.GetBoolean(5)
                    || !string.Equals(newAccess.SessionId, sessionId, StringComparison.Ordinal)
                    || !string.Equals(newRefresh.SessionId, sessionId, StringComparison.Ordinal))
                {
                    return TokenRotationOutcome.SessionNotLive;
                }
                if (reader.GetBoolean(6) || string.Equals(newAccess.Id, newRefresh.Id, StringComparison.Ordinal))
                {
                    throw new InvalidOperationException("A new token id collided with a stored one.");
                }
                pairedTokenId = reader.GetString(2);
                pk = reader.GetInt64(3);
            }
            await using (var revoke = Command(connection, transaction, """
                UPDATE tessera_tokens SET revoked_at = $now, successor_id = $successor_id WHERE id = $id AND revoked_at IS NULL
                """))
            {
                revoke.Parameters.AddWithValue("$id", refreshTokenId);
                revoke.Parameters.AddWithValue("$now", Ms(now));
                revoke.Parameters.AddWithValue("$successor_id", newRefresh.Id);
                if (await revoke.ExecuteNonQueryAsync(cancellationToken) != 1)
                {
                    return TokenRotationOutcome.AlreadyRevoked; // another writer won between the read and here
                }
            }
            await using (var revokeAccess = Command(connection, transaction, """
                UPDATE tessera_tokens SET revoked_at = $now WHERE id = $id AND revoked_at IS NULL
                """))
            {
                revokeAccess.Parameters.AddWithValue("$id", pairedTokenId);
                revokeAccess.Parameters.AddWithValue("$now", Ms(now));
                await revokeAccess.ExecuteNonQueryAsync(cancellationToken);
            }
            // Rotated tokens of this session that expired long enough ago can never be presented again: drop them, so a
            // session refreshed for days keeps only its recent pairs (TesseraDefaults.ExpiredTokenRetention).
            await using (var prune = Command(connection, transaction, """
                DELETE FROM tessera_tokens WHERE session_pk = $pk AND revoked_at IS NOT NULL AND expires_at < $cutoff AND id <> $id
                """))
            {
                prune.Parameters.AddWithValue("$pk", pk);
                prune.Parameters.AddWithValue("$cutoff", Ms(now - TesseraDefaults.ExpiredTokenRetention));
                prune.Parameters.AddWithValue("$id", refreshTokenId);
                await prune.ExecuteNonQueryAsync(cancellationToken);
            }
            await InsertTokensAsync(connection, transaction, pk, newAccess, newRefresh, cancellationToken);
            // SET expressions read the row as it was, so expires_at is computed from the old idle deadline like
            // idle_expires_at is, and the CHECK (expires_at = min(idle, absolute)) holds.
            await using (var extend = Command(connection, transaction, """
                UPDATE tessera_sessions SET
                    last_seen_at = $now,
                    idle_expires_at = max(idle_expires_at, min($refresh_expires_at, absolute_expires_at)),
                    expires_at = min(max(idle_expires_at, min($refresh_expires_at, absolute_expires_at)), absolute_expires_at)
                WHERE pk = $pk
                """))
            {
                extend.Parameters.AddWithValue("$pk", pk);
                extend.Parameters.AddWithValue("$now", Ms(now));
                extend.Parameters.AddWithValue("$refresh_expires_at", Ms(newRefresh.ExpiresAt));
                await extend.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
            return TokenRotationOutcome.Rotated;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>
    /// How many records the database holds, including expired ones not yet collected and revoked ones: the number the
    /// bound is checked against, read from the counter the triggers keep (no table scan).
    /// </summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The record count.</returns>
    public async ValueTask<long> CountRecordsAsync(CancellationToken cancellationToken = default)
    {
        await InitializeAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT value FROM tessera_counters WHERE name = 'sessions'");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Closes this store's idle pooled connections (which lets SQLite checkpoint and remove the WAL file).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _readers.Dispose();
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    /// <summary>Closes this store's idle pooled connections; see <see cref="Dispose"/>.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task MigrateAsync()
    {
        var directory = Path.GetDirectoryName(_databasePath);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        await using var connection = await OpenAsync(CancellationToken.None);
        // Persistent in the file; needs no transaction, and is a no-op when the file is already in WAL mode.
        await using (var wal = Command(connection, null, "PRAGMA journal_mode = WAL"))
        {
            var mode = (string?)await wal.ExecuteScalarAsync();
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                Log.WalUnavailable(_logger, mode ?? "unknown");
            }
        }
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var create = Command(connection, transaction, SqliteSchema.CreateMigrationsTable))
        {
            await create.ExecuteNonQueryAsync();
        }
        int version;
        await using (var read = Command(connection, transaction, SqliteSchema.ReadVersion))
        {
            version = Convert.ToInt32(await read.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        }
        if (version > SqliteSchema.CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The session database '{_databasePath}' has Tessera schema version {version}, newer than version {SqliteSchema.CurrentVersion} that this Tessera.Sqlite understands. " +
                "It was written by a newer Tessera; upgrade this application's Tessera.Sqlite package (or point it at another file).");
        }
        for (var next = version + 1; next <= SqliteSchema.CurrentVersion; next++)
        {
            await using (var migrate = Command(connection, transaction, SqliteSchema.Migrations[next - 1]))
            {
                await migrate.ExecuteNonQueryAsync();
            }
            await using var record = Command(connection, transaction, SqliteSchema.RecordVersion);
            record.Parameters.AddWithValue("$version", next);
            record.Parameters.AddWithValue("$applied_at", _time.GetUtcNow().ToUnixTimeMilliseconds());
            await record.ExecuteNonQueryAsync();
        }
        await transaction.CommitAsync();
        if (version < SqliteSchema.CurrentVersion)
        {
            Log.SchemaMigrated(_logger, version, SqliteSchema.CurrentVersion);
        }
        _schemaReady = true;
    }

    // The two counters a create is checked against: every row, and the rows without a subject.
    private readonly record struct RowCounts(long All, long Anonymous);

    private bool IsFull(RowCounts counts, bool anonymous) =>
        counts.All >= _options.MaxSessions || (anonymous && counts.Anonymous >= _options.EffectiveMaxAnonymousSessions);

    // Inside the create's transaction: a rollback (Reject, a failure) undoes everything done here too. Expired rows go
    // first; then, when evicting, the least recently seen anonymous rows, and signed-in rows only for a signed-in
    // newcomer: an anonymous flood never signs anybody out.
    private async ValueTask MakeRoomAsync(SqliteConnection connection, SqliteTransaction transaction, bool anonymous, long now, CancellationToken cancellationToken)
    {
        var batch = Math.Max(1, _options.MaxSessions / 100);
        await using (var expired = Command(connection, transaction, """
            DELETE FROM tessera_sessions WHERE pk IN (
                SELECT pk FROM tessera_sessions WHERE expires_at <= $now ORDER BY expires_at LIMIT $limit)
            """))
        {
            expired.Parameters.AddWithValue("$now", now);
            // Enough to make room; the cleanup service takes the rest, so one create never deletes without limit.
            expired.Parameters.AddWithValue("$limit", Math.Max(batch, TesseraDefaults.CleanupBatchSize));
            var deleted = await expired.ExecuteNonQueryAsync(cancellationToken);
            if (deleted > 0)
            {
                Log.ExpiredDeletedAtBound(_logger, deleted);
            }
        }
        var counts = await CountRowsAsync(connection, transaction, cancellationToken);
        if (!IsFull(counts, anonymous))
        {
            return;
        }
        var anonymousBound = anonymous && counts.All < _options.MaxSessions;
        var bound = anonymousBound ? _options.EffectiveMaxAnonymousSessions : _options.MaxSessions;
        if (_options.CapacityPolicy == StoreCapacityPolicy.Reject)
        {
            // Debug, not Warning: under a flood this fires per request; the exception already reaches the application.
            Log.Rejected(_logger, bound, anonymousBound ? "anonymous " : "");
            throw new SessionStoreFullException($"The SQLite session store holds its maximum of {bound} {(anonymousBound ? "anonymous " : "")}sessions.");
        }
        // More than one batch only when a bound was lowered below what the file already holds.
        var over = anonymousBound ? counts.Anonymous - bound : counts.All - bound;
        var evict = Math.Max(Math.Max(1, bound / 100), over + 1);
        var evicted = await EvictAsync(connection, transaction, "subject IS NULL", evict, cancellationToken);
        if (counts.All - evicted >= _options.MaxSessions)
        {
            if (anonymous)
            {
                Log.Rejected(_logger, _options.MaxSessions, "signed-in ");
                throw new SessionStoreFullException($"The SQLite session store holds its maximum of {_options.MaxSessions} sessions, and signed-in sessions are not evicted for an anonymous one.");
            }
            evicted += await EvictAsync(connection, transaction, "subject IS NOT NULL", counts.All - evicted - _options.MaxSessions + 1, cancellationToken);
        }
        Log.Evicted(_logger, bound, evicted);
    }

    private static async ValueTask<RowCounts> CountRowsAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        await using var count = Command(connection, transaction, """
            SELECT (SELECT value FROM tessera_counters WHERE name = 'sessions'),
                   (SELECT value FROM tessera_counters WHERE name = 'anonymous')
            """);
        await using var reader = await count.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new RowCounts(reader.GetInt64(0), reader.GetInt64(1));
    }

    // The least recently seen rows that match the condition (a constant of this class, never input).
    private static async ValueTask<int> EvictAsync(SqliteConnection connection, SqliteTransaction transaction, string condition, long limit, CancellationToken cancellationToken)
    {
        await using var lru = Command(connection, transaction, $"""
            DELETE FROM tessera_sessions WHERE pk IN (
                SELECT pk FROM tessera_sessions WHERE {condition} ORDER BY last_seen_at, pk LIMIT $limit)
            """);
        lru.Parameters.AddWithValue("$limit", limit);
        return await lru.ExecuteNonQueryAsync(cancellationToken);
    }

    private async ValueTask<int> WriteAsync(string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        await InitializeAsync(cancellationToken);
        await EnterWriteAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var command = Command(connection, null, sql);
            bind(command);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async ValueTask EnterWriteAsync(CancellationToken cancellationToken)
    {
        if (!await _writeGate.WaitAsync(_options.CommandTimeout, cancellationToken))
        {
            throw new TimeoutException($"The SQLite session store waited more than {_options.CommandTimeout} for its other writers.");
        }
    }

    private async ValueTask<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var pragmas = Command(connection, null, _connectionPragmas);
            await pragmas.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // every text is a constant of this class; values always travel as parameters
        command.CommandText = sql;
#pragma warning restore CA2100
        return command;
    }

    // One prepared statement reused per key: the patch is applied in SQL, never as a read-modify-write of the data.
    private static async ValueTask UpsertAsync(SqliteConnection connection, SqliteTransaction transaction, long pk, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken)
    {
        if (values.Count == 0)
        {
            return;
        }
        await using var command = Command(connection, transaction, """
            INSERT INTO tessera_session_data (session_pk, key, value) VALUES ($pk, $key, $value)
            ON CONFLICT (session_pk, key) DO UPDATE SET value = excluded.value
            """);
        command.Parameters.AddWithValue("$pk", pk);
        var key = command.Parameters.Add("$key", SqliteType.Text);
        var value = command.Parameters.Add("$value", SqliteType.Text);
        foreach (var (k, v) in values)
        {
            key.Value = k;
            value.Value = v;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    // A per-request read on a pooled reader with the statement prepared once: the first parameter is the key, the
    // second (when the statement has one) the store's now.
    private async ValueTask<List<SessionRecord>> ReadAsync(string sql, (string Name, SqliteType Type)[] parameters, object key, long? now, Action<SqliteDataReader>? firstRow, CancellationToken cancellationToken)
    {
        await InitializeAsync(cancellationToken);
        var reader = await _readers.RentAsync(cancellationToken);
        var healthy = false;
        try
        {
            var command = reader.Command(sql, parameters);
            command.Parameters[0].Value = key;
            if (now is { } value)
            {
                command.Parameters[1].Value = value;
            }
            var records = await ReadRecordsAsync(command, cancellationToken, firstRow);
            healthy = true;
            return records;
        }
        finally
        {
            _readers.Return(reader, healthy);
        }
    }

    // Rows come ordered by session (one statement, one consistent snapshot); each session's data rows follow it.
    // firstRow, when given, reads the extra columns of the first row (a token load's token columns).
    private static async ValueTask<List<SessionRecord>> ReadRecordsAsync(SqliteCommand command, CancellationToken cancellationToken, Action<SqliteDataReader>? firstRow = null)
    {
        var records = new List<SessionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        long currentPk = 0;
        SessionRecord? current = null;
        Dictionary<string, string>? data = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            if (current is null)
            {
                firstRow?.Invoke(reader);
            }
            var pk = reader.GetInt64(0);
            if (current is null || pk != currentPk)
            {
                if (current is not null)
                {
                    records.Add(current);
                }
                currentPk = pk;
                data = new Dictionary<string, string>(StringComparer.Ordinal);
                current = new SessionRecord
                {
                    Id = reader.GetString(1),
                    CredentialHash = reader.IsDBNull(2) ? [] : (byte[])reader.GetValue(2),
                    Subject = reader.IsDBNull(3) ? null : reader.GetString(3),
                    CreatedAt = FromMs(reader.GetInt64(4)),
                    LastSeenAt = FromMs(reader.GetInt64(5)),
                    IdleExpiresAt = FromMs(reader.GetInt64(6)),
                    AbsoluteExpiresAt = FromMs(reader.GetInt64(7)),
                    RevokedAt = reader.IsDBNull(8) ? null : FromMs(reader.GetInt64(8)),
                    Metadata = new SessionMetadata(
                        reader.IsDBNull(9) ? null : reader.GetString(9),
                        reader.IsDBNull(10) ? null : reader.GetString(10),
                        reader.IsDBNull(11) ? null : reader.GetString(11)),
                    Data = data,
                };
            }
            if (!reader.IsDBNull(12))
            {
                data![reader.GetString(12)] = reader.GetString(13);
            }
        }
        if (current is not null)
        {
            records.Add(current);
        }
        return records;
    }

    private static async ValueTask InsertTokensAsync(SqliteConnection connection, SqliteTransaction transaction, long sessionPk, TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken)
    {
        await using var insert = Command(connection, transaction, InsertToken);
        insert.Parameters.AddWithValue("$session_pk", sessionPk);
        var id = insert.Parameters.Add("$id", SqliteType.Text);
        var kind = insert.Parameters.Add("$kind", SqliteType.Text);
        var paired = insert.Parameters.Add("$paired_token_id", SqliteType.Text);
        var created = insert.Parameters.Add("$created_at", SqliteType.Integer);
        var expires = insert.Parameters.Add("$expires_at", SqliteType.Integer);
        var revoked = insert.Parameters.Add("$revoked_at", SqliteType.Integer);
        var successor = insert.Parameters.Add("$successor_id", SqliteType.Text);
        foreach (var token in new[] { access, refresh })
        {
            id.Value = token.Id;
            kind.Value = KindText(token.Kind);
            paired.Value = token.PairedTokenId;
            created.Value = Ms(token.CreatedAt);
            expires.Value = Ms(token.ExpiresAt);
            revoked.Value = token.RevokedAt is { } at ? Ms(at) : DBNull.Value;
            successor.Value = (object?)token.SuccessorId ?? DBNull.Value;
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static TokenRecord ReadToken(SqliteDataReader reader, int column) => new()
    {
        Id = reader.GetString(column),
        SessionId = reader.GetString(1),
        Kind = reader.GetString(column + 1) == KindText(TokenKind.Refresh) ? TokenKind.Refresh : TokenKind.Access,
        PairedTokenId = reader.GetString(column + 2),
        CreatedAt = FromMs(reader.GetInt64(column + 3)),
        ExpiresAt = FromMs(reader.GetInt64(column + 4)),
        RevokedAt = reader.IsDBNull(column + 5) ? null : FromMs(reader.GetInt64(column + 5)),
        SuccessorId = reader.IsDBNull(column + 6) ? null : reader.GetString(column + 6),
    };

    private static TokenRecord? ReadOptionalToken(SqliteDataReader reader, int column) =>
        reader.IsDBNull(column) ? null : ReadToken(reader, column);

    private static string KindText(TokenKind kind) => kind == TokenKind.Refresh ? "refresh" : "access";

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static long Ms(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long value) => DateTimeOffset.FromUnixTimeMilliseconds(value);

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
