using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace Tessera.PostgreSql;

/// <summary>
/// A store on PostgreSQL, shared by every app instance that points at the same database. Its tables are Compas's
/// <c>sessionStore</c> and <c>sessionStoreToken</c> plus Tessera's additive columns, so a Compas service can share them.
/// </summary>
/// <remarks>
/// <para>
/// Every operation is one statement on a pooled connection of the <see cref="NpgsqlDataSource"/>: a read finds the
/// session and checks its credential and expiry in one prepared statement; a patch is applied in SQL with jsonb
/// operators (<c>(data - removed) || set</c>), never read-modify-write, so concurrent requests changing different keys
/// all survive; a refresh-token rotation is one statement whose conditional update lets exactly one of concurrent
/// rotations win. Expiry decisions use the store's <see cref="TimeProvider"/>, never the database's clock.
/// </para>
/// <para>
/// Nothing is created until <see cref="EnsureSchemaAsync"/> runs (or the SQL files of the package's <c>Migrations</c>
/// folder are applied by hand). Session and token ids that are canonical lower-case UUIDs (the ones Tessera and Compas
/// make) are stored as they are; any other id string is stored under a UUID derived from it (SHA-256) and kept in a
/// text column, so the store accepts every id the contract allows. The store is unbounded: size it with the cleanup
/// service (<see cref="ISessionStoreCleanup"/> deletes in bounded batches).
/// </para>
/// <para>
/// Data the store writes sets Compas's <c>checksum</c> to <c>tessera</c>, a value no crc32 takes, so a later Compas
/// <c>sessionStoreUpdate</c> always writes instead of skipping on a stale checksum.
/// </para>
/// <para>
/// The file is split by capability: sessions here; <c>.Cleanup.cs</c>, <c>.SubjectLimit.cs</c> (per-user listing and
/// limits), <c>.Tokens.cs</c>, <c>.Migrations.cs</c>, <c>.Administration.cs</c>, <c>.Connections.cs</c> (retries on a
/// fresh connection) and <c>.Records.cs</c> (rows to records, records to parameters); the SQL is in
/// <see cref="PostgreSqlStatements"/>.
/// </para>
/// </remarks>
public sealed partial class PostgreSqlSessionStore : ISessionStore, IDisposable, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly PostgreSqlSessionStoreOptions _options;
    private readonly PostgreSqlSchema _schema;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _commandTimeout;
    private readonly int _shutdownRuns;
    private readonly bool _multiplexing;
    private readonly NpgsqlDataSource? _listenDataSource;
    private readonly PostgreSqlStatements _sql;
    private readonly AnonymousSessionBudget? _anonymous;
    private int _disposed;

    /// <summary>Creates a store over a data source the caller owns (the store never disposes it).</summary>
    /// <param name="dataSource">The Npgsql data source (pooling, credentials, TLS, multiplexing come from it).</param>
    /// <param name="options">Names, timeouts and the user query; validated here. <see cref="PostgreSqlSessionStoreOptions.ConnectionString"/> is ignored.</param>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">The logger; <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public PostgreSqlSessionStore(NpgsqlDataSource dataSource, PostgreSqlSessionStoreOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(dataSource ?? throw new ArgumentNullException(nameof(dataSource)), ownsDataSource: false, options ?? new PostgreSqlSessionStoreOptions(), timeProvider, logger)
    {
    }

    /// <summary>Creates a store that builds (and disposes) its own data source from <see cref="PostgreSqlSessionStoreOptions.ConnectionString"/>.</summary>
    /// <param name="options">The connection string, names, timeouts and user query; validated here.</param>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">The logger; <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentException">The connection string is missing or an option is invalid.</exception>
    public PostgreSqlSessionStore(PostgreSqlSessionStoreOptions options, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(CreateDataSource(options), ownsDataSource: true, options, timeProvider, logger)
    {
    }

    private PostgreSqlSessionStore(NpgsqlDataSource dataSource, bool ownsDataSource, PostgreSqlSessionStoreOptions options, TimeProvider? timeProvider, ILogger? logger)
    {
        options.Validate();
        _options = options.Clone();
        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _schema = new PostgreSqlSchema(_options);
        _commandTimeout = (int)Math.Ceiling(_options.CommandTimeout.TotalSeconds);
        _shutdownRuns = ShutdownRuns(dataSource.ConnectionString);
        _multiplexing = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).Multiplexing;
        _listenDataSource = ListenDataSource(_options, _multiplexing, ownsDataSource);
        _sql = new PostgreSqlStatements(_schema, _options.UserQuery);
        _credentialReads = CoalesceCredentialReads();
        _accessTokenReads = CoalesceAccessTokenReads();
        if (_options.MaxAnonymousSessions is { } maxAnonymous)
        {
            _anonymous = new AnonymousSessionBudget(maxAnonymous, _options.AnonymousCountInterval, CountAnonymousAsync, _time);
        }
    }

    /// <summary>
    /// The data source the store runs on. One the store built from a connection string has Tessera's connection
    /// defaults wherever the string names no value of its own: <c>No Reset On Close</c> (the store changes no connection
    /// state, so Npgsql's reset statements would only cost server time), <c>Maximum Pool Size</c>
    /// <see cref="PostgreSqlSessionStoreDefaults.MaxPoolSize"/>, with <c>Multiplexing</c>, <c>Max Auto Prepare</c>
    /// <see cref="PostgreSqlSessionStoreDefaults.MaxAutoPrepare"/>, and, unless the string's <c>Options</c> set
    /// <c>plan_cache_mode</c>, <c>SET plan_cache_mode = force_generic_plan</c> on each new connection (every statement
    /// of the store is prepared and indexed whatever its parameters, so planning it again per execution only costs server
    /// CPU). A data source the application gave is used as it is.
    /// </summary>
    public NpgsqlDataSource DataSource => _dataSource;

    /// <summary>
    /// Where the near cache's <c>LISTEN</c> connection comes from: the store's data source, or, when that one multiplexes,
    /// a non-multiplexing one (see <see cref="PostgreSqlSessionStoreOptions.ListenConnectionString"/>); <see langword="null"/>
    /// when the store multiplexes on a data source the application built and no listen connection string was given.
    /// </summary>
    internal NpgsqlDataSource? ListenSource => _multiplexing ? _listenDataSource : _dataSource;

    /// <summary>Whether the store's data source multiplexes (no explicit preparation, no <c>LISTEN</c> on it).</summary>
    internal bool Multiplexing => _multiplexing;

    /// <summary>The sessions table's name (unqualified), which names the near cache's notification channel.</summary>
    internal string SessionsTableName => _options.EffectiveSessionsTable;

    /// <summary>The command timeout in whole seconds, for the near cache's statements.</summary>
    internal int CommandTimeoutSeconds => _commandTimeout;

    /// <summary>The quoted, schema-qualified sessions table, for the application's own queries and joins.</summary>
    public string SessionsTable => PostgreSqlSchema.Quote(_schema.Schema) + "." + PostgreSqlSchema.Quote(_schema.SessionsTable);

    /// <summary>The quoted, schema-qualified tokens table.</summary>
    public string TokensTable => PostgreSqlSchema.Quote(_schema.Schema) + "." + PostgreSqlSchema.Quote(_schema.TokensTable);

    /// <inheritdoc />
    public async ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(record.Id, nameof(record));
        ArgumentNullException.ThrowIfNull(record.CredentialHash, nameof(record));
        var anonymous = record.Subject is null ? _anonymous : null;
        if (anonymous is not null && !await anonymous.HasRoomAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new SessionStoreFullException($"The PostgreSQL session store holds about its maximum of {anonymous.MaxSessions} live anonymous sessions.");
        }
        var (key, text) = MapId(record.Id);
        var command = await CommandAsync(_sql.Create, idempotent: false, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Uuid(key));
        command.Parameters.Add(Text(text));
        command.Parameters.Add(Jsonb(DataJson(record.Data)));
        command.Parameters.Add(Time(record.CreatedAt));
        command.Parameters.Add(Text(record.Subject));
        command.Parameters.Add(Bytes(record.CredentialHash));
        command.Parameters.Add(Time(record.LastSeenAt));
        command.Parameters.Add(Time(record.IdleExpiresAt));
        command.Parameters.Add(Time(record.AbsoluteExpiresAt));
        command.Parameters.Add(Text(record.Metadata.UserAgent));
        command.Parameters.Add(Text(record.Metadata.IpAddress));
        command.Parameters.Add(Text(record.Metadata.Label));
        if (await command.ExecuteAsync(cancellationToken).ConfigureAwait(false) != 1)
        {
            return false;
        }
        anonymous?.Created();
        return true;
    }

    private async ValueTask<long> CountAnonymousAsync(long bound, CancellationToken cancellationToken)
    {
        var command = await CommandAsync(_sql.CountAnonymous, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = bound });
        return (long)(await command.ScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return (await LoadOneAsync(_sql.LoadById, Uuid(MapId(id).Key), withUser: false, cancellationToken).ConfigureAwait(false))?.Session;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Reads that arrive together share one statement (<c>= ANY($1)</c>) on one connection; each read still ends at its
    /// own <paramref name="cancellationToken"/>, and a failed statement fails each read it carried.
    /// </remarks>
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return _credentialReads.ReadAsync(credentialHash.ToArray(), cancellationToken);
    }

    /// <summary>
    /// Loads a live session by the SHA-256 of its credential together with its user, in one statement, through
    /// <see cref="PostgreSqlSessionStoreOptions.UserQuery"/>.
    /// </summary>
    /// <param name="credentialHash">The 32-byte hash.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The session and its user (the user <see langword="null"/> when the join found none), or <see langword="null"/> when no live session holds that credential.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="PostgreSqlSessionStoreOptions.UserQuery"/> is configured.</exception>
    public ValueTask<SessionWithUser?> LoadWithUserAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default) =>
        LoadOneAsync(_sql.LoadByHashWithUser ?? throw NoUserQuery(), Bytes(credentialHash.ToArray()), withUser: true, cancellationToken);

    /// <summary>Loads a live session by id together with its user, in one statement (see <see cref="LoadWithUserAsync(ReadOnlyMemory{byte}, CancellationToken)"/>).</summary>
    /// <param name="id">The session id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The session and its user, or <see langword="null"/> when the session is missing, expired or revoked.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="PostgreSqlSessionStoreOptions.UserQuery"/> is configured.</exception>
    public ValueTask<SessionWithUser?> LoadWithUserAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return LoadOneAsync(_sql.LoadByIdWithUser ?? throw NoUserQuery(), Uuid(MapId(id).Key), withUser: true, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Writes that arrive together (this and <see cref="TouchAsync"/>) share one batch: one round trip and one
    /// transaction, so one commit. A batch that fails runs each of its writes again alone, so a write's outcome is the one
    /// it would have had alone: a new credential hash another live session holds answers <see langword="false"/> for this
    /// write only. Writes to one session keep their order. <paramref name="cancellationToken"/> ends the wait: cancelled
    /// before the call, nothing is written; cancelled after, the queued write still runs with its batch (bounded by
    /// <see cref="PostgreSqlSessionStoreOptions.CommandTimeout"/>). Under Npgsql's multiplexing each write goes straight
    /// to Npgsql, which batches by itself.
    /// </remarks>
    public async ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        var key = MapId(id).Key;
        NpgsqlParameter[] parameters =
        [
            Uuid(key),
            Time(Now()),
            Bool(patch.ChangesData),
            Bool(patch.ClearData),
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = patch.Removed.ToArray() },
            Jsonb(DataJson(patch.Set)),
            Bool(patch.SubjectChanged),
            Text(patch.Subject),
            Bytes(patch.NewCredentialHash),
            Time(patch.LastSeenAt),
            Time(patch.IdleExpiresAt),
        ];
        try
        {
            return await WriteAsync(_sql.Apply, key, parameters, cancellationToken).ConfigureAwait(false) == 1;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            Log.CredentialCollision(_logger, SessionIdReference.Of(id));
            return false;
        }
    }

    /// <inheritdoc />
    /// <remarks>Coalesced with the other writes on their way, as <see cref="ApplyAsync"/> is, with the same outcomes.</remarks>
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var key = MapId(id).Key;
        return await WriteAsync(_sql.Touch, key, [Uuid(key), Time(Now()), Time(lastSeenAt), Time(idleExpiresAt)], cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var command = await CommandAsync(_sql.Revoke, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Uuid(MapId(id).Key));
        command.Parameters.Add(Time(revokedAt));
        return await command.ExecuteAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var command = await CommandAsync(_sql.Delete, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Uuid(MapId(id).Key));
        return await command.ExecuteAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>
    /// Disposes the data sources the store created (its own, and a listen data source); a data source passed in is left
    /// to its owner.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _listenDataSource?.Dispose();
            if (_ownsDataSource)
            {
                _dataSource.Dispose();
            }
        }
    }

    /// <summary>
    /// Disposes the data sources the store created (its own, and a listen data source); a data source passed in is left
    /// to its owner.
    /// </summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            if (_listenDataSource is { } listen)
            {
                await listen.DisposeAsync().ConfigureAwait(false);
            }
            if (_ownsDataSource)
            {
                await _dataSource.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The id as stored: a canonical lower-case UUID is its own key; any other string maps to a UUID derived from its
    /// SHA-256 (version 8, "custom") and is kept as text beside it.
    /// </summary>
    internal static (Guid Key, string? Text) MapId(string id)
    {
        if (id.Length == 36 && Guid.TryParseExact(id, "D", out var guid) && string.Equals(guid.ToString("D"), id, StringComparison.Ordinal))
        {
            return (guid, null);
        }
        var length = Encoding.UTF8.GetMaxByteCount(id.Length) + 8;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            "tessera\0"u8.CopyTo(buffer);
            var written = 8 + Encoding.UTF8.GetBytes(id, buffer.AsSpan(8));
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(buffer.AsSpan(0, written), hash);
            hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
            hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
            return (new Guid(hash[..16], bigEndian: true), id);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask<SessionWithUser?> LoadOneAsync(string sql, NpgsqlParameter key, bool withUser, CancellationToken cancellationToken)
    {
        var command = await CommandAsync(sql, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(key);
        command.Parameters.Add(Time(Now()));
        var reader = await command.ReaderAsync(System.Data.CommandBehavior.SingleRow, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        var session = ReadSession(reader, 0);
        JsonElement? user = null;
        if (withUser && !reader.IsDBNull(PostgreSqlStatements.SessionColumnCount))
        {
            using var document = JsonDocument.Parse(reader.GetString(PostgreSqlStatements.SessionColumnCount));
            user = document.RootElement.ValueKind == JsonValueKind.Null ? null : document.RootElement.Clone();
        }
        return new SessionWithUser(session, user);
    }

    private DateTimeOffset Now() => _time.GetUtcNow();

    private static InvalidOperationException NoUserQuery() =>
        new("No user query is configured: set PostgreSqlSessionStoreOptions.UserQuery to read sessions with their users.");

    private static NpgsqlDataSource CreateDataSource(PostgreSqlSessionStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new ArgumentException("The PostgreSQL session store needs a connection string or an NpgsqlDataSource.", nameof(options));
        }
        options.Validate();
        try
        {
            var connectionString = WithStoreDefaults(options.ConnectionString);
            var builder = new NpgsqlDataSourceBuilder(connectionString);
            if (!NamesPlanCacheMode(connectionString))
            {
                builder.UsePhysicalConnectionInitializer(
                    static connection =>
                    {
                        using var command = ForceGenericPlansCommand(connection);
                        command.ExecuteNonQuery();
                    },
                    static async connection =>
                    {
                        var command = ForceGenericPlansCommand(connection);
                        await using (command.ConfigureAwait(false))
                        {
                            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
                        }
                    });
            }
            return builder.Build();
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException("The PostgreSQL session store's connection string could not be parsed: " + e.Message, nameof(options), e);
        }
    }

    /// <summary>
    /// The connection string with the store's defaults for what it does not name itself (see <see cref="DataSource"/>).
    /// Npgsql's builder keeps only the keywords the string named, under their canonical names, whichever synonym it used.
    /// </summary>
    internal static string WithStoreDefaults(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var named = builder.Keys.Cast<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (!named.Contains("No Reset On Close"))
        {
            builder.NoResetOnClose = true;
        }
        if (!named.Contains("Maximum Pool Size"))
        {
            builder.MaxPoolSize = PostgreSqlSessionStoreDefaults.MaxPoolSize;
        }
        if (builder.Multiplexing && !named.Contains("Max Auto Prepare"))
        {
            builder.MaxAutoPrepare = PostgreSqlSessionStoreDefaults.MaxAutoPrepare;
        }
        return builder.ConnectionString;
    }

    /// <summary>
    /// Whether the connection string's <c>Options</c> set <c>plan_cache_mode</c> itself (then the store leaves it).
    /// </summary>
    internal static bool NamesPlanCacheMode(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString).Options?.Contains("plan_cache_mode", StringComparison.OrdinalIgnoreCase) == true;

    // Every statement of the store is prepared and finds its rows through an index whatever its parameters, so one
    // generic plan serves it; left to choose, PostgreSQL may plan a statement with several CTEs (the token rotation)
    // again on every execution, which cost the server a fifth of its CPU per refresh (docs/benchmarks.md).
    private static NpgsqlCommand ForceGenericPlansCommand(NpgsqlConnection connection) =>
        new("SET plan_cache_mode = force_generic_plan", connection);

    // LISTEN needs a connection of its own, which multiplexing never hands out: a multiplexing store listens on a data
    // source of its own, from the listen connection string or, when the store built its data source, the same string.
    private static NpgsqlDataSource? ListenDataSource(PostgreSqlSessionStoreOptions options, bool multiplexing, bool ownsDataSource)
    {
        var connectionString = options.ListenConnectionString ?? (ownsDataSource ? options.ConnectionString : null);
        if (!multiplexing || connectionString is null)
        {
            return null;
        }
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Multiplexing = false, MaxPoolSize = 2 };
        return NpgsqlDataSource.Create(builder.ConnectionString);
    }
}
