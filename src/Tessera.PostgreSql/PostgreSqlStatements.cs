namespace Tessera.PostgreSql;

/// <summary>
/// Every statement <see cref="PostgreSqlSessionStore"/> runs, in one place (the tables and migrations are in
/// <see cref="PostgreSqlSchema"/> and the package's <c>Migrations</c> folder). The texts are written for schema
/// <c>public</c> and Compas's names, and rewritten once per store for its schema, tables and naming style; values
/// always travel as parameters.
/// </summary>
internal sealed class PostgreSqlStatements
{
    // The session columns every read returns, in the order ReadSession expects.
    public const string SessionColumns = """
        COALESCE(s."tesseraTextId", s."id"::text), s."tesseraCredentialHash", s."tesseraSubject", s."data", s."createdAt",
        COALESCE(s."tesseraLastSeenAt", s."updatedAt"), s."tesseraIdleExpiresAt", s."tesseraAbsoluteExpiresAt", s."revokedAt",
        s."tesseraUserAgent", s."tesseraIpAddress", s."tesseraLabel"
        """;

    public const int SessionColumnCount = 12;

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

    public const int TokenColumnCount = 9;

    // After TokenColumns and SessionColumns: the successor refresh token n and its access token na (nulls when there is
    // none), each as id, is-refresh, paired id, created, expires, revoked, successor id.
    private const string SuccessorColumns = """
        COALESCE(n."tesseraTextId", n."id"::text), n."refreshToken" IS NULL, COALESCE(na."tesseraTextId", na."id"::text),
        n."createdAt", n."expiresAt", n."revokedAt",
        (SELECT COALESCE(x."tesseraTextId", x."id"::text) FROM "public"."sessionStoreToken" x WHERE x."id" = n."tesseraSuccessor"),
        COALESCE(na."tesseraTextId", na."id"::text), na."refreshToken" IS NULL, COALESCE(n."tesseraTextId", n."id"::text),
        na."createdAt", na."expiresAt", na."revokedAt", NULL::text
        """;

    public const int SuccessorColumnCount = 7;

    private const string TokenInsertColumns = """("id", "tesseraTextId", "session", "expiresAt", "refreshToken", "revokedAt", "createdAt", "tesseraIssued")""";

    private const string InsertPairValues = """
        (VALUES ($3::uuid, $4::text, $1::uuid, $5::timestamptz, NULL::uuid, NULL::timestamptz, $6::timestamptz, true),
                ($7::uuid, $8::text, $1::uuid, $9::timestamptz, $3::uuid, NULL::timestamptz, $10::timestamptz, true))
        """;

    // The parts of a rotation after the old refresh token's update (the CTE "old", with "id" and "session"): its access
    // token revoked, the session's long-expired rotated tokens pruned ($12), and (after the new pair) the session touched.
    // The prune names the session by its parameter ($1, which "old" matched): joined on old."session" only, a generic
    // plan may scan the prune index outside the join, on "expiresAt" alone, reading every session's rotated tokens.
    private const string RevokeOldAccessAndPrune = """
            ), old_access AS (
              UPDATE "public"."sessionStoreToken" a SET "revokedAt" = $2
              FROM old WHERE a."refreshToken" = old."id" AND a."revokedAt" IS NULL
              RETURNING 1
            ), pruned AS (
              DELETE FROM "public"."sessionStoreToken" p
              WHERE p."session" = $1 AND p."revokedAt" IS NOT NULL AND p."expiresAt" < $12 AND EXISTS (SELECT FROM old)
              RETURNING 1
        """;

    private const string TouchRotatedSession = """
            ), touched AS (
              UPDATE "public"."sessionStore" s SET "tesseraLastSeenAt" = $2,
                "tesseraIdleExpiresAt" = GREATEST(s."tesseraIdleExpiresAt", LEAST($5, s."tesseraAbsoluteExpiresAt"))
              FROM old WHERE s."id" = old."session"
              RETURNING 1
            )
        """;

    private readonly PostgreSqlSchema _schema;

    public PostgreSqlStatements(PostgreSqlSchema schema, PostgreSqlUserQuery? userQuery)
    {
        _schema = schema;
        string R(string sql) => schema.Rewrite(sql);

        var from = """ FROM "public"."sessionStore" s """;
        LoadById = R("SELECT " + SessionColumns + from + """WHERE s."id" = $1 AND """ + Live);
        // Many credentials at once (the store coalesces concurrent reads; see PostgreSqlSessionStore.CredentialReads.cs).
        LoadByHashes = R("SELECT " + SessionColumns + from + """WHERE s."tesseraCredentialHash" = ANY($1) AND """ + Live);
        if (userQuery is { } user)
        {
            // The application's fragments are its own SQL: appended after the rewrite, never rewritten.
            LoadByIdWithUser = R("SELECT " + SessionColumns + ", ") + "(" + user.Select + ")::text" + R(from) + " " + user.Join + " " + R("""WHERE s."id" = $1 AND """ + Live);
            LoadByHashWithUser = R("SELECT " + SessionColumns + ", ") + "(" + user.Select + ")::text" + R(from) + " " + user.Join + " " + R("""WHERE s."tesseraCredentialHash" = $1 AND """ + Live);
        }
        // ON CONFLICT DO NOTHING without a target: a taken id and a taken credential hash (a unique index) both refuse.
        Create = R("""
            INSERT INTO "public"."sessionStore" ("id", "tesseraTextId", "checksum", "data", "createdAt", "updatedAt", "tesseraSubject",
              "tesseraCredentialHash", "tesseraLastSeenAt", "tesseraIdleExpiresAt", "tesseraAbsoluteExpiresAt",
              "tesseraUserAgent", "tesseraIpAddress", "tesseraLabel")
            VALUES ($1, $2, 'tessera', $3, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT DO NOTHING
            """);
        // Compas may have stored non-object data; a patch starts from an empty object then.
        Apply = R("""
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
        Touch = R("""
            UPDATE "public"."sessionStore" s SET "tesseraLastSeenAt" = $3, "tesseraIdleExpiresAt" = $4
            WHERE s."id" = $1 AND 
            """ + Live);
        // The credential hash goes with the revocation, so it no longer blocks a new session (as in the memory store).
        Revoke = R("""
            UPDATE "public"."sessionStore" s SET "revokedAt" = $2, "tesseraCredentialHash" = NULL
            WHERE s."id" = $1 AND s."revokedAt" IS NULL
            """);
        Delete = R("""DELETE FROM "public"."sessionStore" s WHERE s."id" = $1""");
        // Bounded batches; SKIP LOCKED lets several instances clean up at once without waiting on each other's rows. The
        // ORDER BY keeps the generic plan (the store's connections force one) on the index, and = ANY(ARRAY(...)) deletes
        // by primary key: a plan that cannot see $1 and $2 would otherwise expect a third of the table to match, scan it
        // for the first $2 rows, and join the batch to the table by a scan of it as well.
        DeleteExpired = R("""
            DELETE FROM "public"."sessionStore" s WHERE s."id" = ANY(ARRAY(
              SELECT x."id" FROM "public"."sessionStore" x WHERE x."tesseraExpiresAt" <= $1
              ORDER BY x."tesseraExpiresAt" LIMIT $2 FOR UPDATE SKIP LOCKED))
            """);
        DeleteRevoked = R("""
            DELETE FROM "public"."sessionStore" s WHERE s."id" = ANY(ARRAY(
              SELECT x."id" FROM "public"."sessionStore" x WHERE x."revokedAt" <= $1
              ORDER BY x."revokedAt" LIMIT $2 FOR UPDATE SKIP LOCKED))
            """);
        Count = R("""SELECT count(*) FROM "public"."sessionStore" s WHERE """ + LiveAtFirst);
        // Stops at the bound ($2): a sample reads at most that many entries of the partial index of migration 3.
        CountAnonymous = R("""
            SELECT count(*) FROM (SELECT 1 FROM "public"."sessionStore" s
              WHERE s."tesseraSubject" IS NULL AND s."tesseraCredentialHash" IS NOT NULL AND s."revokedAt" IS NULL
                AND s."tesseraExpiresAt" > $1
              LIMIT $2) n
            """);
        ListBySubject = R("SELECT " + SessionColumns + from + """WHERE s."tesseraSubject" = $1 AND """ + Live + """ ORDER BY s."createdAt", s."id" """);
        // One statement, so one transaction. Every live session of the subject is row-locked first, in id order (so
        // concurrent trims take their locks in the same order and cannot deadlock), then ranked: a trim that waited
        // for another sees the rows as that one left them, so already revoked rows drop out and at most $3 stay live.
        TrimSubject = R("""
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
        TrimNewcomer = R("""
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
        CreateTokens = R("""
            INSERT INTO "public"."sessionStoreToken" 
            """ + TokenInsertColumns + """
             SELECT v.* FROM 
            """ + InsertPairValues + """
             AS v WHERE EXISTS (SELECT 1 FROM "public"."sessionStore" s WHERE s."id" = $1 AND 
            """ + Live + ")");
        // Access-token reads, coalesced: every token of the batch in one statement.
        LoadTokens = R("SELECT " + TokenColumns + ", " + SessionColumns + """
             FROM "public"."sessionStoreToken" t LEFT JOIN "public"."sessionStore" s ON s."id" = t."session" WHERE t."id" = ANY($1)
            """);
        // One statement, so one snapshot: the token, its session, and the successor pair as they were at one moment.
        LoadRefreshToken = R("SELECT " + TokenColumns + ", " + SessionColumns + ", " + SuccessorColumns + """
             FROM "public"."sessionStoreToken" t LEFT JOIN "public"."sessionStore" s ON s."id" = t."session"
             LEFT JOIN "public"."sessionStoreToken" n ON n."id" = t."tesseraSuccessor"
             LEFT JOIN LATERAL (SELECT a.* FROM "public"."sessionStoreToken" a WHERE a."refreshToken" = n."id" ORDER BY a."createdAt" LIMIT 1) na ON true
             WHERE t."id" = $1
            """);
        // One statement, so one transaction: the conditional UPDATE of the old refresh token is the gate (of concurrent
        // rotations, the ones that wait for its row lock re-check "revokedAt" and find it set); everything else hangs off
        // its RETURNING. The last SELECT reads the statement's snapshot to tell why nothing happened.
        Rotate = R("""
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
            """ + RevokeOldAccessAndPrune + """
            ), fresh AS (
              INSERT INTO "public"."sessionStoreToken" 
            """ + TokenInsertColumns + """
             SELECT v.* FROM 
            """ + InsertPairValues + """
             AS v, old
              RETURNING 1
            """ + TouchRotatedSession + """
            SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM cur), COALESCE((SELECT bool_or(is_refresh) FROM cur), false),
                   COALESCE((SELECT bool_or(revoked) FROM cur), false), COALESCE((SELECT bool_or(live) FROM cur), false)
            """);
        // Rotate's statement for a token that is checked here instead of read first: the refresh token must exist,
        // be a refresh token of session $1, be unrevoked, unexpired ($13 is now minus the clock skew), and its session
        // live. The new pair's expiries are capped at the session's absolute deadline; the capped ones come back, and no
        // row at all when nothing was rotated.
        TryRotate = R("""
            WITH cur AS (
              SELECT t."id", t."session", s."tesseraAbsoluteExpiresAt" AS absolute
              FROM "public"."sessionStoreToken" t JOIN "public"."sessionStore" s ON s."id" = t."session"
              WHERE t."id" = $11 AND t."session" = $1 AND t."refreshToken" IS NULL AND t."revokedAt" IS NULL
                AND t."expiresAt" > $13 AND 
            """ + Live + """

            ), old AS (
              UPDATE "public"."sessionStoreToken" t SET "revokedAt" = $2, "tesseraSuccessor" = $3
              FROM cur WHERE t."id" = cur."id" AND t."revokedAt" IS NULL
              RETURNING t."id", t."session", cur.absolute
            """ + RevokeOldAccessAndPrune + """
            ), fresh AS (
              INSERT INTO "public"."sessionStoreToken" 
            """ + TokenInsertColumns + """
             SELECT v.column1, v.column2, v.column3, LEAST(v.column4, old.absolute), v.column5, v.column6, v.column7, v.column8
              FROM 
            """ + InsertPairValues + """
             AS v, old
              RETURNING 1
            """ + TouchRotatedSession + """
            SELECT LEAST($9::timestamptz, old.absolute), LEAST($5::timestamptz, old.absolute) FROM old
            """);
        Statistics = R("""
            SELECT count(*) FILTER (WHERE s."revokedAt" IS NULL AND s."tesseraExpiresAt" > $1),
                   count(*) FILTER (WHERE s."revokedAt" IS NULL AND s."tesseraExpiresAt" <= $1),
                   count(*) FILTER (WHERE s."revokedAt" IS NOT NULL),
                   pg_total_relation_size($2::regclass) + pg_total_relation_size($3::regclass)
            FROM "public"."sessionStore" s
            """);
        Clear = R("""DELETE FROM "public"."sessionStore" """);
    }

    public string LoadById { get; }

    public string LoadByHashes { get; }

    public string? LoadByIdWithUser { get; }

    public string? LoadByHashWithUser { get; }

    public string Create { get; }

    public string Apply { get; }

    public string Touch { get; }

    public string Revoke { get; }

    public string Delete { get; }

    public string DeleteExpired { get; }

    public string DeleteRevoked { get; }

    public string Count { get; }

    public string CountAnonymous { get; }

    public string ListBySubject { get; }

    public string TrimSubject { get; }

    public string TrimNewcomer { get; }

    public string CreateTokens { get; }

    public string LoadTokens { get; }

    public string LoadRefreshToken { get; }

    public string Rotate { get; }

    public string TryRotate { get; }

    public string Statistics { get; }

    public string Clear { get; }

    // The id as the store shows it, compared byte-wise ("C" collation) so the order does not depend on the locale.
    private const string ShownId = """COALESCE(s."tesseraTextId", s."id"::text)""";

    /// <summary>
    /// A page of sessions after the cursor ($1) in shown-id order; $2 is now, $3 the limit, $4 the subject (or null).
    /// Rewritten per call (a regex over a short text): operators' listings are rare.
    /// </summary>
    public string ListSessions(SessionState? state, bool bySubject)
    {
        var filter = state switch
        {
            SessionState.Live => """ AND s."revokedAt" IS NULL AND s."tesseraExpiresAt" > $2""",
            SessionState.Expired => """ AND s."revokedAt" IS NULL AND s."tesseraExpiresAt" <= $2""",
            SessionState.Revoked => """ AND s."revokedAt" IS NOT NULL""",
            _ => " AND $2::timestamptz IS NOT NULL",
        };
        filter += bySubject ? """ AND s."tesseraSubject" = $4""" : " AND $4::text IS NULL";
        var collated = _schema.Rewrite(ShownId) + " COLLATE \"C\"";
        return _schema.Rewrite("SELECT " + SessionColumns + """ FROM "public"."sessionStore" s WHERE """)
            + collated + " > $1" + _schema.Rewrite(filter) + " ORDER BY " + collated + " LIMIT $3";
    }
}
