using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using Tessera.Tokens;

namespace Tessera.PostgreSql;

/// <summary>A session read together with its user row (see <see cref="PostgreSqlSessionStoreOptions.UserQuery"/>).</summary>
/// <param name="Session">The live session.</param>
/// <param name="User">The user as JSON, or <see langword="null"/> when the join found none.</param>
public sealed record SessionWithUser(SessionRecord Session, JsonElement? User);

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
/// </remarks>
public sealed partial class PostgreSqlSessionStore : ISessionStore, ISessionStoreCleanup, ISessionStoreCounter, ISubjectSessionIndex, ISubjectSessionLimiter, ISessionTokenStore, IDisposable, IAsyncDisposable
{
    // The session columns every read returns, in the order ReadSession expects.
    private const string SessionColumns = """
        COALESCE(s."tesseraTextId", s."id"::text), s."tesseraCredentialHash", s."tesseraSubject", s."data", s."createdAt",
        COALESCE(s."tesseraLastSeenAt", s."updatedAt"), s."tesseraIdleExpiresAt", s."tesseraAbsoluteExpiresAt", s."revokedAt",
        s."tesseraUserAgent", s."tesseraIpAddress", s."tesseraLabel"
        """;

    private const int SessionColumnCount = 12;

    private const string Live = """s."revokedAt" IS NULL AND s."tesseraExpiresAt" > $2""";

    private const string LiveAtFirst = """s."revokedAt" IS NULL AND s."tesseraExpiresAt" > $1""";

    // The token's columns, then its session's (LEFT JOIN: the session comes whatever its state). A refresh token has no
    // "refreshToken"; its access token is the row pointing at it.
    private const string TokenColumns = """
        COALESCE(t."tesseraTextId", t."id"::text), COALESCE(s."tesseraTextId", t."session"::text), t."refreshToken" IS NULL,
        CASE WHEN t."refreshToken" IS NULL
             THEN (SELECT COALESCE(a."tesseraTextId", a."id"::text) FROM "public"."sessionStoreToken" a WHERE a."refreshToken" = t."id" ORDER BY a."createdAt" LIMIT 1)
             ELSE (SELECT COALESCE(r."tesseraTextId", r."id"::text) FROM "public"."sessionStoreToken" r WHERE r."id" = t."refreshToken") END,
        t."createdAt", t."expiresAt", t."revokedAt",
        (SELECT COALESCE(n."tesseraTextId", n."id"::text) FROM "public"."sessionStoreToken" n WHERE n."id" = t."tesseraSuccessor"),
        s."id" IS NOT NULL
        """;

    private const int TokenColumnCount = 9;

    // After TokenColumns and SessionColumns: the successor refresh token n and its access token na (nulls when there is
    // none), each as id, is-refresh, paired id, created, expires, revoked, successor id.
    private const string SuccessorColumns = """
        COALESCE(n."tesseraTextId", n."id"::text), n."refreshToken" IS NULL, COALESCE(na."tesseraTextId", na."id"::text),
        n."createdAt", n."expiresAt", n."revokedAt",
        (SELECT COALESCE(x."tesseraTextId", x."id"::text) FROM "public"."sessionStoreToken" x WHERE x."id" = n."tesseraSuccessor"),
        COALESCE(na."tesseraTextId", na."id"::text), na."refreshToken" IS NULL, COALESCE(n."tesseraTextId", n."id"::text),
        na."createdAt", na."expiresAt", na."revokedAt", NULL::text
        """;

    private const int SuccessorColumnCount = 7;

    private const string TokenInsertColumns = """("id", "tesseraTextId", "session", "expiresAt", "refreshToken", "revokedAt", "createdAt", "tesseraIssued")""";

    private const string InsertPairValues = """
        (VALUES ($3::uuid, $4::text, $1::uuid, $5::timestamptz, NULL::uuid, NULL::timestamptz, $6::timestamptz, true),
                ($7::uuid, $8::text, $1::uuid, $9::timestamptz, $3::uuid, NULL::timestamptz, $10::timestamptz, true))
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly PostgreSqlSessionStoreOptions _options;
    private readonly PostgreSqlSchema _schema;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _commandTimeout;
    private readonly string _loadById;
    private readonly string _loadByHash;
    private readonly string? _loadByIdWithUser;
    private readonly string? _loadByHashWithUser;
    private readonly string _create;
    private readonly string _apply;
    private readonly string _touch;
    private readonly string _revoke;
    private readonly string _delete;
    private readonly string _deleteExpired;
    private readonly string _deleteRevoked;
    private readonly string _count;
    private readonly string _countAnonymous;
    private readonly AnonymousSessionBudget? _anonymous;
    private readonly string _listBySubject;
    private readonly string _trimSubject;
    private readonly string _trimNewcomer;
    private readonly string _createTokens;
    private readonly string _loadToken;
    private readonly string _loadRefreshToken;
    private readonly string _rotate;
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
        string R(string sql) => _schema.Rewrite(sql);

        var from = """ FROM "public"."sessionStore" s """;
        _loadById = R("SELECT " + SessionColumns + from + """WHERE s."id" = $1 AND """ + Live);
        _loadByHash = R("SELECT " + SessionColumns + from + """WHERE s."tesseraCredentialHash" = $1 AND """ + Live);
        if (_options.UserQuery is { } user)
        {
            // The application's fragments are its own SQL: appended after the rewrite, never rewritten.
            _loadByIdWithUser = R("SELECT " + SessionColumns + ", ") + "(" + user.Select + ")::text" + R(from) + " " + user.Join + " " + R("""WHERE s."id" = $1 AND """ + Live);
            _loadByHashWithUser = R("SELECT " + SessionColumns + ", ") + "(" + user.Select + ")::text" + R(from) + " " + user.Join + " " + R("""WHERE s."tesseraCredentialHash" = $1 AND """ + Live);
        }
        // ON CONFLICT DO NOTHING without a target: a taken id and a taken credential hash (a unique index) both refuse.
        _create = R("""
            INSERT INTO "public"."sessionStore" ("id", "tesseraTextId", "checksum", "data", "createdAt", "updatedAt", "tesseraSubject",
              "tesseraCredentialHash", "tesseraLastSeenAt", "tesseraIdleExpiresAt", "tesseraAbsoluteExpiresAt",
              "tesseraUserAgent", "tesseraIpAddress", "tesseraLabel")
            VALUES ($1, $2, 'tessera', $3, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT DO NOTHING
            """);
        // Compas may have stored non-object data; a patch starts from an empty object then.
        _apply = R("""
            UPDATE "public"."sessionStore" s SET
              "data" = CASE WHEN $3 THEN (CASE WHEN $4 OR jsonb_typeof(s."data") <> 'object' THEN '{}'::jsonb ELSE s."data" END - $5::text[]) || $6::jsonb
                            ELSE s."data" END,
              "checksum" = CASE WHEN $3 THEN 'tessera' ELSE s."checksum" END,
              "updatedAt" = CASE WHEN $3 THEN $2 ELSE s."updatedAt" END,
              "tesseraSubject" = CASE WHEN $7 THEN $8 ELSE s."tesseraSubject" END,
              "tesseraCredentialHash" = COALESCE($9, s."tesseraCredentialHash"),
              "tesseraLastSeenAt" = COALESCE($10, s."tesseraLastSeenAt"),
              "tesseraIdleExpiresAt" = COALESCE($11, s."tesseraIdleExpiresAt")
            WHERE s."id" = $1 AND 
            """ + Live);
        _touch = R("""
            UPDATE "public"."sessionStore" s SET "tesseraLastSeenAt" = $3, "tesseraIdleExpiresAt" = $4
            WHERE s."id" = $1 AND 
            """ + Live);
        // The credential hash goes with the revocation, so it no longer blocks a new session (as in the memory store).
        _revoke = R("""
            UPDATE "public"."sessionStore" s SET "revokedAt" = $2, "tesseraCredentialHash" = NULL
            WHERE s."id" = $1 AND s."revokedAt" IS NULL
            """);
        _delete = R("""DELETE FROM "public"."sessionStore" s WHERE s."id" = $1""");
        // Bounded batches; SKIP LOCKED lets several instances clean up at once without waiting on each other's rows.
        _deleteExpired = R("""
            DELETE FROM "public"."sessionStore" s WHERE s."id" IN
              (SELECT x."id" FROM "public"."sessionStore" x WHERE x."tesseraExpiresAt" <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
            """);
        _deleteRevoked = R("""
            DELETE FROM "public"."sessionStore" s WHERE s."id" IN
              (SELECT x."id" FROM "public"."sessionStore" x WHERE x."revokedAt" <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
            """);
        _count = R("""SELECT count(*) FROM "public"."sessionStore" s WHERE """ + LiveAtFirst);
        // Stops at the bound ($2): a sample reads at most that many entries of the partial index of migration 3.
        _countAnonymous = R("""
            SELECT count(*) FROM (SELECT 1 FROM "public"."sessionStore" s
              WHERE s."tesseraSubject" IS NULL AND s."tesseraCredentialHash" IS NOT NULL AND s."revokedAt" IS NULL
                AND s."tesseraExpiresAt" > $1
              LIMIT $2) n
            """);
        if (_options.MaxAnonymousSessions is { } maxAnonymous)
        {
            _anonymous = new AnonymousSessionBudget(maxAnonymous, _options.AnonymousCountInterval, CountAnonymousAsync, _time);
        }
        _listBySubject = R("SELECT " + SessionColumns + from + """WHERE s."tesseraSubject" = $1 AND """ + Live + """ ORDER BY s."createdAt", s."id" """);
        // One statement, so one transaction. Every live session of the subject is row-locked first, in id order (so
        // concurrent trims take their locks in the same order and cannot deadlock), then ranked: a trim that waited
        // for another sees the rows as that one left them, so already revoked rows drop out and at most $3 stay live.
        _trimSubject = R("""
            WITH l AS (
              SELECT x."id", x."createdAt", COALESCE(x."tesseraLastSeenAt", x."updatedAt") AS seen,
                     COALESCE(x."tesseraTextId", x."id"::text) AS tid
              FROM "public"."sessionStore" x
              WHERE x."tesseraSubject" = $1 AND x."revokedAt" IS NULL AND x."tesseraExpiresAt" > $2
              ORDER BY x."id"
              FOR UPDATE),
            v AS (
              SELECT l."id" FROM l
              ORDER BY CASE WHEN l."id" = $5::uuid THEN 0 ELSE 1 END,
                       CASE WHEN $4 THEN l."createdAt" END ASC,
                       CASE WHEN $4 THEN l.tid END COLLATE "C" ASC,
                       CASE WHEN NOT $4 THEN l.seen END DESC,
                       CASE WHEN NOT $4 THEN l."createdAt" END DESC,
                       CASE WHEN NOT $4 THEN l.tid END COLLATE "C" DESC
              OFFSET $3)
            UPDATE "public"."sessionStore" s SET "revokedAt" = $6, "tesseraCredentialHash" = NULL
            FROM v WHERE s."id" = v."id" AND s."revokedAt" IS NULL
            RETURNING COALESCE(s."tesseraTextId", s."id"::text)
            """);
        // The same locks as above; then only the newcomer ($4) is revoked, and only when the subject has more than $3
        // live sessions. Concurrent refusals serialize on the subject's rows, so exactly $3 of racing sign-ins survive.
        _trimNewcomer = R("""
            WITH l AS (
              SELECT x."id" FROM "public"."sessionStore" x
              WHERE x."tesseraSubject" = $1 AND x."revokedAt" IS NULL AND x."tesseraExpiresAt" > $2
              ORDER BY x."id"
              FOR UPDATE)
            UPDATE "public"."sessionStore" s SET "revokedAt" = $5, "tesseraCredentialHash" = NULL
            WHERE s."id" = $4::uuid AND s."revokedAt" IS NULL
              AND s."id" IN (SELECT l."id" FROM l)
              AND (SELECT count(*) FROM l) > $3
            RETURNING COALESCE(s."tesseraTextId", s."id"::text)
            """);
        _createTokens = R("""
            INSERT INTO "public"."sessionStoreToken" 
            """ + TokenInsertColumns + """
             SELECT v.* FROM 
            """ + InsertPairValues + """
             AS v WHERE EXISTS (SELECT 1 FROM "public"."sessionStore" s WHERE s."id" = $1 AND 
            """ + Live + ")");
        _loadToken = R("SELECT " + TokenColumns + ", " + SessionColumns + """
             FROM "public"."sessionStoreToken" t LEFT JOIN "public"."sessionStore" s ON s."id" = t."session" WHERE t."id" = $1
            """);
        // One statement, so one snapshot: the token, its session, and the successor pair as they were at one moment.
        _loadRefreshToken = R("SELECT " + TokenColumns + ", " + SessionColumns + ", " + SuccessorColumns + """
             FROM "public"."sessionStoreToken" t LEFT JOIN "public"."sessionStore" s ON s."id" = t."session"
             LEFT JOIN "public"."sessionStoreToken" n ON n."id" = t."tesseraSuccessor"
             LEFT JOIN LATERAL (SELECT a.* FROM "public"."sessionStoreToken" a WHERE a."refreshToken" = n."id" ORDER BY a."createdAt" LIMIT 1) na ON true
             WHERE t."id" = $1
            """);
        // One statement, so one transaction: the conditional UPDATE of the old refresh token is the gate (of concurrent
        // rotations, the ones that wait for its row lock re-check "revokedAt" and find it set); everything else hangs off
        // its RETURNING. The last SELECT reads the statement's snapshot to tell why nothing happened.
        _rotate = R("""
            WITH cur AS (
              SELECT t."id", t."session", t."refreshToken" IS NULL AS is_refresh, t."revokedAt" IS NOT NULL AS revoked,
                     (s."id" IS NOT NULL AND t."session" = $1 AND 
            """ + Live + """
            ) AS live
              FROM "public"."sessionStoreToken" t LEFT JOIN "public"."sessionStore" s ON s."id" = t."session"
              WHERE t."id" = $11
            ), old AS (
              UPDATE "public"."sessionStoreToken" t SET "revokedAt" = $2, "tesseraSuccessor" = $3
              FROM cur WHERE t."id" = cur."id" AND cur.is_refresh AND cur.live AND t."revokedAt" IS NULL
              RETURNING t."id", t."session"
            ), old_access AS (
              UPDATE "public"."sessionStoreToken" a SET "revokedAt" = $2
              FROM old WHERE a."refreshToken" = old."id" AND a."revokedAt" IS NULL
              RETURNING 1
            ), pruned AS (
              DELETE FROM "public"."sessionStoreToken" p
              USING old WHERE p."session" = old."session" AND p."revokedAt" IS NOT NULL AND p."expiresAt" < $12
              RETURNING 1
            ), fresh AS (
              INSERT INTO "public"."sessionStoreToken" 
            """ + TokenInsertColumns + """
             SELECT v.* FROM 
            """ + InsertPairValues + """
             AS v, old
              RETURNING 1
            ), touched AS (
              UPDATE "public"."sessionStore" s SET "tesseraLastSeenAt" = $2,
                "tesseraIdleExpiresAt" = GREATEST(s."tesseraIdleExpiresAt", LEAST($5, s."tesseraAbsoluteExpiresAt"))
              FROM old WHERE s."id" = old."session"
              RETURNING 1
            )
            SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM cur), COALESCE((SELECT bool_or(is_refresh) FROM cur), false),
                   COALESCE((SELECT bool_or(revoked) FROM cur), false), COALESCE((SELECT bool_or(live) FROM cur), false)
            """);
    }

    /// <summary>The schema version this code writes (the number of the last file in <see cref="Migrations"/>).</summary>
    public static int SchemaVersion => PostgreSqlSchema.LatestVersion;

    /// <summary>The migrations as shipped (schema <c>public</c>, Compas naming), in order; also in the package's <c>Migrations</c> folder.</summary>
    public static IReadOnlyList<PostgreSqlMigration> Migrations => PostgreSqlSchema.Migrations;

    /// <summary>Whether the host applies the migrations at start-up (<see cref="PostgreSqlSessionStoreOptions.ApplyMigrationsAtStartup"/>).</summary>
    public bool ApplyMigrationsAtStartup => _options.ApplyMigrationsAtStartup;

    /// <summary>The data source the store runs on.</summary>
    public NpgsqlDataSource DataSource => _dataSource;

    /// <summary>The sessions table's name (unqualified), which names the near cache's notification channel.</summary>
    internal string SessionsTableName => _options.EffectiveSessionsTable;

    /// <summary>The command timeout in whole seconds, for the near cache's statements.</summary>
    internal int CommandTimeoutSeconds => _commandTimeout;

    /// <summary>The quoted, schema-qualified sessions table, for the application's own queries and joins.</summary>
    public string SessionsTable => PostgreSqlSchema.Quote(_schema.Schema) + "." + PostgreSqlSchema.Quote(_schema.SessionsTable);

    /// <summary>The quoted, schema-qualified tokens table.</summary>
    public string TokensTable => PostgreSqlSchema.Quote(_schema.Schema) + "." + PostgreSqlSchema.Quote(_schema.TokensTable);

    /// <summary>
    /// Returns the migrations' SQL for this store's schema, table names and naming style, in order, for teams that run
    /// their own migration tool.
    /// </summary>
    /// <returns>Pairs of file name and SQL.</returns>
    public IReadOnlyList<PostgreSqlMigration> RenderMigrations() =>
        PostgreSqlSchema.Migrations.Select(m => m with { Sql = _schema.Rewrite(m.Sql) }).ToList();

    /// <summary>
    /// Creates the schema and tables, or upgrades existing ones (Compas's included) in place, applying each missing
    /// migration once. Idempotent and safe to call from several instances at once: the migrations run in one
    /// transaction under an advisory lock, and are recorded in their own table.
    /// </summary>
    /// <param name="cancellationToken">Cancels the migration (nothing is half-applied).</param>
    /// <returns>A task that completes when the schema is current.</returns>
    /// <exception cref="InvalidOperationException">The tables were migrated by a newer version of this package.</exception>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var (from, to) = await _schema.MigrateAsync(_dataSource, PostgreSqlSessionStoreDefaults.MigrationTimeout, _logger, cancellationToken);
        Log.SchemaReady(_logger, to, from);
    }

    /// <inheritdoc />
    public async ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(record.Id, nameof(record));
        ArgumentNullException.ThrowIfNull(record.CredentialHash, nameof(record));
        var anonymous = record.Subject is null ? _anonymous : null;
        if (anonymous is not null && !await anonymous.HasRoomAsync(cancellationToken))
        {
            throw new SessionStoreFullException($"The PostgreSQL session store holds about its maximum of {anonymous.MaxSessions} live anonymous sessions.");
        }
        var (key, text) = MapId(record.Id);
        await using var command = await CommandAsync(_create, idempotent: false, cancellationToken);
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
        if (await command.ExecuteAsync(cancellationToken) != 1)
        {
            return false;
        }
        anonymous?.Created();
        return true;
    }

    private async ValueTask<long> CountAnonymousAsync(long bound, CancellationToken cancellationToken)
    {
        await using var command = await CommandAsync(_countAnonymous, idempotent: true, cancellationToken);
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = bound });
        return (long)(await command.ScalarAsync(cancellationToken))!;
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return (await LoadOneAsync(_loadById, Uuid(MapId(id).Key), withUser: false, cancellationToken))?.Session;
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default) =>
        (await LoadOneAsync(_loadByHash, Bytes(credentialHash.ToArray()), withUser: false, cancellationToken))?.Session;

    /// <summary>
    /// Loads a live session by the SHA-256 of its credential together with its user, in one statement, through
    /// <see cref="PostgreSqlSessionStoreOptions.UserQuery"/>.
    /// </summary>
    /// <param name="credentialHash">The 32-byte hash.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The session and its user (the user <see langword="null"/> when the join found none), or <see langword="null"/> when no live session holds that credential.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="PostgreSqlSessionStoreOptions.UserQuery"/> is configured.</exception>
    public ValueTask<SessionWithUser?> LoadWithUserAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default) =>
        LoadOneAsync(_loadByHashWithUser ?? throw NoUserQuery(), Bytes(credentialHash.ToArray()), withUser: true, cancellationToken);

    /// <summary>Loads a live session by id together with its user, in one statement (see <see cref="LoadWithUserAsync(ReadOnlyMemory{byte}, CancellationToken)"/>).</summary>
    /// <param name="id">The session id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The session and its user, or <see langword="null"/> when the session is missing, expired or revoked.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="PostgreSqlSessionStoreOptions.UserQuery"/> is configured.</exception>
    public ValueTask<SessionWithUser?> LoadWithUserAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return LoadOneAsync(_loadByIdWithUser ?? throw NoUserQuery(), Uuid(MapId(id).Key), withUser: true, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        await using var command = await CommandAsync(_apply, idempotent: true, cancellationToken);
        command.Parameters.Add(Uuid(MapId(id).Key));
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(Bool(patch.ChangesData));
        command.Parameters.Add(Bool(patch.ClearData));
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = patch.Removed.ToArray() });
        command.Parameters.Add(Jsonb(DataJson(patch.Set)));
        command.Parameters.Add(Bool(patch.SubjectChanged));
        command.Parameters.Add(Text(patch.Subject));
        command.Parameters.Add(Bytes(patch.NewCredentialHash));
        command.Parameters.Add(Time(patch.LastSeenAt));
        command.Parameters.Add(Time(patch.IdleExpiresAt));
        try
        {
            return await command.ExecuteAsync(cancellationToken) == 1;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            Log.CredentialCollision(_logger, Log.Ref(id));
            return false;
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var command = await CommandAsync(_touch, idempotent: true, cancellationToken);
        command.Parameters.Add(Uuid(MapId(id).Key));
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(Time(lastSeenAt));
        command.Parameters.Add(Time(idleExpiresAt));
        return await command.ExecuteAsync(cancellationToken) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var command = await CommandAsync(_revoke, idempotent: true, cancellationToken);
        command.Parameters.Add(Uuid(MapId(id).Key));
        command.Parameters.Add(Time(revokedAt));
        return await command.ExecuteAsync(cancellationToken) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var command = await CommandAsync(_delete, idempotent: true, cancellationToken);
        command.Parameters.Add(Uuid(MapId(id).Key));
        return await command.ExecuteAsync(cancellationToken) == 1;
    }

    /// <inheritdoc />
    /// <remarks>Sessions Compas created have no deadline of their own ('infinity'): Compas's cleanup removes them.</remarks>
    public async ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        await using var command = await CommandAsync(_deleteExpired, idempotent: true, cancellationToken);
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
        var deleted = await command.ExecuteAsync(cancellationToken);
        Log.CleanupBatch(_logger, deleted);
        return deleted;
    }

    /// <inheritdoc />
    public async ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        await using var command = await CommandAsync(_deleteRevoked, idempotent: true, cancellationToken);
        command.Parameters.Add(Time(revokedBefore));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
        var deleted = await command.ExecuteAsync(cancellationToken);
        Log.CleanupBatch(_logger, deleted);
        return deleted;
    }

    /// <inheritdoc />
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        await using var command = await CommandAsync(_count, idempotent: true, cancellationToken);
        command.Parameters.Add(Time(Now()));
        var result = await command.ScalarAsync(cancellationToken);
        return (long)result!;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        await using var command = await CommandAsync(_listBySubject, idempotent: true, cancellationToken);
        command.Parameters.Add(Text(subject));
        command.Parameters.Add(Time(Now()));
        await using var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken);
        var list = new List<SessionRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(ReadSession(reader, 0));
        }
        return list;
    }

    /// <inheritdoc />
    /// <remarks>
    /// One statement that row-locks the subject's live sessions (in id order, so concurrent trims cannot deadlock), ranks
    /// them and revokes those beyond <paramref name="keep"/>.
    /// </remarks>
    public async ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        var newcomerOnly = order == SessionLimitOrder.NewcomerOnly;
        if (newcomerOnly && mustKeepId is null)
        {
            return [];
        }
        await using var command = await CommandAsync(newcomerOnly ? _trimNewcomer : _trimSubject, idempotent: false, cancellationToken);
        command.Parameters.Add(Text(subject));
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint, TypedValue = keep });
        if (!newcomerOnly)
        {
            command.Parameters.Add(Bool(order == SessionLimitOrder.OldestCreated));
        }
        command.Parameters.Add(mustKeepId is null
            ? new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = DBNull.Value }
            : Uuid(MapId(mustKeepId).Key));
        command.Parameters.Add(Time(revokedAt));
        await using var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken);
        var revoked = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            revoked.Add(reader.GetString(0));
        }
        return revoked;
    }

    /// <inheritdoc />
    public async ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(refresh);
        if (!string.Equals(access.SessionId, refresh.SessionId, StringComparison.Ordinal) || string.Equals(access.Id, refresh.Id, StringComparison.Ordinal)
            || access.Kind != TokenKind.Access || refresh.Kind != TokenKind.Refresh)
        {
            return false;
        }
        await using var command = await CommandAsync(_createTokens, idempotent: false, cancellationToken);
        AddPair(command, access.SessionId, Now(), access, refresh);
        try
        {
            return await command.ExecuteAsync(cancellationToken) == 2;
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation)
        {
            return false; // a taken token id, or the session was deleted meanwhile: nothing was written
        }
    }

    /// <inheritdoc />
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LoadTokenAsync(_loadToken, tokenId, withSuccessor: false, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One statement (one snapshot): the token, its session, and its successor pair.</remarks>
    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LoadTokenAsync(_loadRefreshToken, tokenId, withSuccessor: true, cancellationToken);

    private async ValueTask<TokenLookup?> LoadTokenAsync(string sql, string tokenId, bool withSuccessor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        await using var command = await CommandAsync(sql, idempotent: true, cancellationToken);
        command.Parameters.Add(Uuid(MapId(tokenId).Key));
        await using var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        var token = ReadToken(reader, 0, 2, reader.GetString(1));
        var session = reader.GetBoolean(8) ? ReadSession(reader, TokenColumnCount) : null;
        if (!withSuccessor)
        {
            return new TokenLookup(token, session);
        }
        var successorColumn = TokenColumnCount + SessionColumnCount;
        return new TokenLookup(token, session)
        {
            Successor = ReadSuccessor(reader, successorColumn, token.SessionId),
            SuccessorAccess = ReadSuccessor(reader, successorColumn + SuccessorColumnCount, token.SessionId),
        };
    }

    private static TokenRecord? ReadSuccessor(NpgsqlDataReader reader, int column, string sessionId) =>
        reader.IsDBNull(column) ? null : ReadToken(reader, column, column + 1, sessionId);

    // The id at idColumn; from `column` on: is-refresh, paired id, created, expires, revoked, successor id.
    private static TokenRecord ReadToken(NpgsqlDataReader reader, int idColumn, int column, string sessionId) => new()
    {
        Id = reader.GetString(idColumn),
        SessionId = sessionId,
        Kind = reader.GetBoolean(column) ? TokenKind.Refresh : TokenKind.Access,
        // A refresh token Compas wrote without its access token (never seen) still reads; its pair is empty.
        PairedTokenId = reader.IsDBNull(column + 1) ? string.Empty : reader.GetString(column + 1),
        CreatedAt = ReadTime(reader, column + 2),
        ExpiresAt = ReadTime(reader, column + 3),
        RevokedAt = reader.IsDBNull(column + 4) ? null : ReadTime(reader, column + 4),
        SuccessorId = reader.IsDBNull(column + 5) ? null : reader.GetString(column + 5),
    };

    /// <inheritdoc />
    public async ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        if (!string.Equals(newAccess.SessionId, newRefresh.SessionId, StringComparison.Ordinal))
        {
            return TokenRotationOutcome.SessionNotLive;
        }
        await using var command = await CommandAsync(_rotate, idempotent: false, cancellationToken);
        AddPair(command, newAccess.SessionId, now, newAccess, newRefresh);
        command.Parameters.Add(Uuid(MapId(refreshTokenId).Key));
        command.Parameters.Add(Time(now - TesseraDefaults.ExpiredTokenRetention)); // $12: rotated tokens expired before this go
        await using var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var rotated = reader.GetInt64(0);
        var found = reader.GetInt64(1);
        var isRefresh = reader.GetBoolean(2);
        var revoked = reader.GetBoolean(3);
        var live = reader.GetBoolean(4);
        return rotated == 1 ? TokenRotationOutcome.Rotated
            : found == 0 || !isRefresh ? TokenRotationOutcome.NotFound
            : revoked ? TokenRotationOutcome.AlreadyRevoked
            : !live ? TokenRotationOutcome.SessionNotLive
            // Unrevoked in the statement's snapshot, yet the update found it revoked: a concurrent rotation won.
            : TokenRotationOutcome.AlreadyRevoked;
    }

    /// <summary>Disposes the data source when the store created it; a data source passed in is left to its owner.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _ownsDataSource)
        {
            _dataSource.Dispose();
        }
    }

    /// <summary>Disposes the data source when the store created it; a data source passed in is left to its owner.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _ownsDataSource)
        {
            await _dataSource.DisposeAsync();
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

    private static void AddPair(Lease command, string sessionId, DateTimeOffset now, TokenRecord access, TokenRecord refresh)
    {
        var (refreshKey, refreshText) = MapId(refresh.Id);
        var (accessKey, accessText) = MapId(access.Id);
        command.Parameters.Add(Uuid(MapId(sessionId).Key));   // $1 session
        command.Parameters.Add(Time(now));                     // $2 now
        command.Parameters.Add(Uuid(refreshKey));              // $3
        command.Parameters.Add(Text(refreshText));             // $4
        command.Parameters.Add(Time(refresh.ExpiresAt));       // $5
        command.Parameters.Add(Time(refresh.CreatedAt));       // $6
        command.Parameters.Add(Uuid(accessKey));               // $7
        command.Parameters.Add(Text(accessText));              // $8
        command.Parameters.Add(Time(access.ExpiresAt));        // $9
        command.Parameters.Add(Time(access.CreatedAt));        // $10
    }

    private async ValueTask<SessionWithUser?> LoadOneAsync(string sql, NpgsqlParameter key, bool withUser, CancellationToken cancellationToken)
    {
        await using var command = await CommandAsync(sql, idempotent: true, cancellationToken);
        command.Parameters.Add(key);
        command.Parameters.Add(Time(Now()));
        await using var reader = await command.ReaderAsync(System.Data.CommandBehavior.SingleRow, cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        var session = ReadSession(reader, 0);
        JsonElement? user = null;
        if (withUser && !reader.IsDBNull(SessionColumnCount))
        {
            using var document = JsonDocument.Parse(reader.GetString(SessionColumnCount));
            user = document.RootElement.ValueKind == JsonValueKind.Null ? null : document.RootElement.Clone();
        }
        return new SessionWithUser(session, user);
    }

    private static SessionRecord ReadSession(NpgsqlDataReader reader, int first)
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var document = JsonDocument.Parse(reader.GetString(first + 3)))
        {
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    data[property.Name] = property.Value.GetRawText();
                }
            }
        }
        return new SessionRecord
        {
            Id = reader.GetString(first),
            // A session Compas created has no cookie credential; it is only ever reached through its tokens.
            CredentialHash = reader.IsDBNull(first + 1) ? [] : reader.GetFieldValue<byte[]>(first + 1),
            Subject = reader.IsDBNull(first + 2) ? null : reader.GetString(first + 2),
            Data = data,
            CreatedAt = ReadTime(reader, first + 4),
            LastSeenAt = ReadTime(reader, first + 5),
            IdleExpiresAt = ReadTime(reader, first + 6),
            AbsoluteExpiresAt = ReadTime(reader, first + 7),
            RevokedAt = reader.IsDBNull(first + 8) ? null : ReadTime(reader, first + 8),
            Metadata = new SessionMetadata(
                reader.IsDBNull(first + 9) ? null : reader.GetString(first + 9),
                reader.IsDBNull(first + 10) ? null : reader.GetString(first + 10),
                reader.IsDBNull(first + 11) ? null : reader.GetString(first + 11)),
        };
    }

    // 'infinity' (a Compas session's own deadline) reads as DateTime.MaxValue and is kept as DateTimeOffset.MaxValue.
    private static DateTimeOffset ReadTime(NpgsqlDataReader reader, int ordinal)
    {
        var value = reader.GetFieldValue<DateTime>(ordinal);
        return value == DateTime.MaxValue ? DateTimeOffset.MaxValue
            : value == DateTime.MinValue ? DateTimeOffset.MinValue
            : new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }

    private static NpgsqlParameter Time(DateTimeOffset? value) => new()
    {
        NpgsqlDbType = NpgsqlDbType.TimestampTz,
        Value = value switch
        {
            null => DBNull.Value,
            { } v when v == DateTimeOffset.MaxValue => DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc),
            { } v => v.UtcDateTime,
        },
    };

    private static NpgsqlParameter Uuid(Guid value) => new NpgsqlParameter<Guid> { NpgsqlDbType = NpgsqlDbType.Uuid, TypedValue = value };

    private static NpgsqlParameter Text(string? value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };

    private static NpgsqlParameter Bool(bool value) => new NpgsqlParameter<bool> { NpgsqlDbType = NpgsqlDbType.Boolean, TypedValue = value };

    private static NpgsqlParameter Bytes(byte[]? value) => new() { NpgsqlDbType = NpgsqlDbType.Bytea, Value = (object?)value ?? DBNull.Value };

    private static NpgsqlParameter Jsonb(string json) => new() { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = json };

    // The values are JSON texts already; they are written as they are (jsonb parses, and may reformat, them).
    private static string DataJson(IReadOnlyDictionary<string, string> data)
    {
        if (data.Count == 0)
        {
            return "{}";
        }
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, json) in data)
            {
                writer.WritePropertyName(key);
                writer.WriteRawValue(json);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
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
            return NpgsqlDataSource.Create(options.ConnectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException("The PostgreSQL session store's connection string could not be parsed: " + e.Message, nameof(options), e);
        }
    }
}
