namespace Tessera.Sqlite;

/// <summary>
/// Every statement <see cref="SqliteSessionStore"/> runs, in one place (the schema and its migrations are in
/// <see cref="SqliteSchema"/>). Values always travel as parameters; the texts are constants.
/// </summary>
internal static class SqliteStatements
{
    // The session columns every load reads, in the order ReadRecords expects (after s.pk).
    public const string SelectSession = """
        SELECT s.pk, s.id, s.credential_hash, s.subject, s.created_at, s.last_seen_at, s.idle_expires_at,
               s.absolute_expires_at, s.revoked_at, s.user_agent, s.ip_address, s.label, d.key, d.value
        FROM tessera_sessions AS s
        LEFT JOIN tessera_session_data AS d ON d.session_pk = s.pk
        """;

    private const string LiveSession = "s.revoked_at IS NULL AND s.expires_at > $now";

    public const string LoadById = SelectSession + " WHERE s.id = $id AND " + LiveSession;

    public const string LoadByHash = SelectSession + " WHERE s.credential_hash = $hash AND " + LiveSession;

    public const string ListBySubject = SelectSession + " WHERE s.subject = $subject AND " + LiveSession + " ORDER BY s.created_at, s.pk";

    // The two counters a create is checked against, then whether the id or the credential hash is taken.
    public const string CreateCheck = """
        SELECT (SELECT value FROM tessera_counters WHERE name = 'sessions'),
               (SELECT value FROM tessera_counters WHERE name = 'anonymous'),
               EXISTS (SELECT 1 FROM tessera_sessions WHERE id = $id)
               OR EXISTS (SELECT 1 FROM tessera_sessions WHERE credential_hash = $hash)
        """;

    public const string InsertSession = """
        INSERT INTO tessera_sessions (id, credential_hash, subject, created_at, last_seen_at, idle_expires_at,
                                      absolute_expires_at, expires_at, revoked_at, user_agent, ip_address, label)
        VALUES ($id, $hash, $subject, $created_at, $last_seen_at, $idle_expires_at,
                $absolute_expires_at, min($idle_expires_at, $absolute_expires_at), $revoked_at, $user_agent, $ip_address, $label)
        RETURNING pk
        """;

    // The update doubles as the liveness check: no row comes back for a missing, revoked or expired session.
    public const string ApplySession = """
        UPDATE tessera_sessions SET
            subject = CASE WHEN $subject_changed THEN $subject ELSE subject END,
            credential_hash = coalesce($new_hash, credential_hash),
            last_seen_at = coalesce($last_seen_at, last_seen_at),
            idle_expires_at = coalesce($idle_expires_at, idle_expires_at),
            expires_at = min(coalesce($idle_expires_at, idle_expires_at), absolute_expires_at)
        WHERE id = $id AND revoked_at IS NULL AND expires_at > $now
        RETURNING pk
        """;

    // A patch of data alone (a write between touches) leaves the session row as it is: the check is a read, so no
    // index of the row is rewritten (SQLite rewrites the entries of every index on a column an UPDATE sets).
    public const string FindLiveSession = "SELECT s.pk FROM tessera_sessions AS s WHERE s.id = $id AND " + LiveSession;

    // A patch of one key and nothing else (the common write: a counter, a cart) in one statement, so that it needs no
    // savepoint in a group commit: the key is written only when the session is live, and no row changed means it is not.
    public const string UpsertKeyOfLiveSession =
        "INSERT INTO tessera_session_data (session_pk, key, value) " +
        "SELECT s.pk, $key, $value FROM tessera_sessions AS s WHERE s.id = $id AND " + LiveSession + " " +
        "ON CONFLICT (session_pk, key) DO UPDATE SET value = excluded.value";

    public const string ClearData = "DELETE FROM tessera_session_data WHERE session_pk = $pk";

    public const string RemoveKey = "DELETE FROM tessera_session_data WHERE session_pk = $pk AND key = $key";

    public const string UpsertKey = """
        INSERT INTO tessera_session_data (session_pk, key, value) VALUES ($pk, $key, $value)
        ON CONFLICT (session_pk, key) DO UPDATE SET value = excluded.value
        """;

    public const string Touch = """
        UPDATE tessera_sessions
        SET last_seen_at = $last_seen_at, idle_expires_at = $idle_expires_at, expires_at = min($idle_expires_at, absolute_expires_at)
        WHERE id = $id AND revoked_at IS NULL AND expires_at > $now
        """;

    public const string Revoke = "UPDATE tessera_sessions SET revoked_at = $revoked_at, credential_hash = NULL WHERE id = $id AND revoked_at IS NULL";

    public const string Delete = "DELETE FROM tessera_sessions WHERE id = $id";

    public const string DeleteExpired = """
        DELETE FROM tessera_sessions WHERE pk IN (
            SELECT pk FROM tessera_sessions WHERE expires_at <= $now ORDER BY expires_at LIMIT $limit)
        """;

    public const string DeleteRevoked = """
        DELETE FROM tessera_sessions WHERE pk IN (
            SELECT pk FROM tessera_sessions WHERE revoked_at <= $before ORDER BY revoked_at LIMIT $limit)
        """;

    public const string CountLive = "SELECT count(*) FROM tessera_sessions WHERE expires_at > $now AND revoked_at IS NULL";

    public const string CountRecords = "SELECT value FROM tessera_counters WHERE name = 'sessions'";

    public const string CountRows = """
        SELECT (SELECT value FROM tessera_counters WHERE name = 'sessions'),
               (SELECT value FROM tessera_counters WHERE name = 'anonymous')
        """;

    public const string EvictAnonymous = EvictHead + "subject IS NULL" + EvictTail;

    public const string EvictSignedIn = EvictHead + "subject IS NOT NULL" + EvictTail;

    private const string EvictHead = """
        DELETE FROM tessera_sessions WHERE pk IN (
            SELECT pk FROM tessera_sessions WHERE 
        """;

    private const string EvictTail = " ORDER BY last_seen_at, pk LIMIT $limit)";

    public const string TrimOldestCreated = TrimHead + """
        created_at ASC, id ASC LIMIT -1 OFFSET $keep)
        RETURNING id
        """;

    public const string TrimMostRecentlySeen = TrimHead + """
        last_seen_at DESC, created_at DESC, id DESC LIMIT -1 OFFSET $keep)
        RETURNING id
        """;

    public const string TrimNewcomerOnly = """
        UPDATE tessera_sessions SET revoked_at = $revoked_at, credential_hash = NULL
        WHERE id = $must AND subject = $subject AND revoked_at IS NULL AND expires_at > $now
          AND (SELECT count(*) FROM tessera_sessions WHERE subject = $subject AND revoked_at IS NULL AND expires_at > $now) > $keep
        RETURNING id
        """;

    private const string TrimHead = """
        UPDATE tessera_sessions SET revoked_at = $revoked_at, credential_hash = NULL
        WHERE revoked_at IS NULL AND pk IN (
            SELECT pk FROM tessera_sessions
            WHERE subject = $subject AND revoked_at IS NULL AND expires_at > $now
            ORDER BY (id IS $must) DESC, 
        """;

    // The session columns first, in ReadRecords' order, then the token's (from column TokenColumn on). The session comes
    // whatever its state: the caller tells a revoked or expired session from a live one.
    public const string LoadToken = """
        SELECT s.pk, s.id, s.credential_hash, s.subject, s.created_at, s.last_seen_at, s.idle_expires_at,
               s.absolute_expires_at, s.revoked_at, s.user_agent, s.ip_address, s.label, d.key, d.value,
               t.id, t.kind, t.paired_token_id, t.created_at, t.expires_at, t.revoked_at, t.successor_id
        FROM tessera_tokens AS t
        JOIN tessera_sessions AS s ON s.pk = t.session_pk
        LEFT JOIN tessera_session_data AS d ON d.session_pk = s.pk
        WHERE t.id = $id
        """;

    public const int TokenColumn = 14;

    // LoadToken's columns, then the successor's and its access token's (null when there is none): one statement, so
    // the four records come from one snapshot.
    public const string LoadRefreshToken = """
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

    public const int TokenColumnCount = 7;

    public const string InsertToken = """
        INSERT INTO tessera_tokens (id, session_pk, kind, paired_token_id, created_at, expires_at, revoked_at, successor_id)
        VALUES ($id, $session_pk, $kind, $paired_token_id, $created_at, $expires_at, $revoked_at, $successor_id)
        """;

    public const string CreateTokensCheck = """
        SELECT s.pk, EXISTS (SELECT 1 FROM tessera_tokens WHERE id IN ($access_id, $refresh_id))
        FROM tessera_sessions AS s
        WHERE s.id = $session_id AND s.revoked_at IS NULL AND s.expires_at > $now
        """;

    public const string RotateRead = """
        SELECT t.kind, t.revoked_at IS NOT NULL, t.paired_token_id, s.pk, s.id,
               s.revoked_at IS NULL AND s.expires_at > $now,
               EXISTS (SELECT 1 FROM tessera_tokens WHERE id IN ($access_id, $refresh_id))
        FROM tessera_tokens AS t
        JOIN tessera_sessions AS s ON s.pk = t.session_pk
        WHERE t.id = $id
        """;

    // The conditional update that lets exactly one of concurrent rotations win.
    public const string RotateRevokeRefresh = """
        UPDATE tessera_tokens SET revoked_at = $now, successor_id = $successor_id WHERE id = $id AND revoked_at IS NULL
        """;

    public const string RotateRevokeAccess = """
        UPDATE tessera_tokens SET revoked_at = $now WHERE id = $id AND revoked_at IS NULL
        """;

    // Rotated tokens of this session that expired long enough ago can never be presented again: dropped, so a session
    // refreshed for days keeps only its recent pairs (TesseraDefaults.ExpiredTokenRetention).
    public const string RotatePrune = """
        DELETE FROM tessera_tokens WHERE session_pk = $pk AND revoked_at IS NOT NULL AND expires_at < $cutoff AND id <> $id
        """;

    // SET expressions read the row as it was, so expires_at is computed from the old idle deadline like
    // idle_expires_at is, and the CHECK (expires_at = min(idle, absolute)) holds.
    public const string RotateExtendSession = """
        UPDATE tessera_sessions SET
            last_seen_at = $now,
            idle_expires_at = max(idle_expires_at, min($refresh_expires_at, absolute_expires_at)),
            expires_at = min(max(idle_expires_at, min($refresh_expires_at, absolute_expires_at)), absolute_expires_at)
        WHERE pk = $pk
        """;

    // Administration: a page of sessions in id order (the filter is one of the constants below, never input).
    public const string ListSessionsHead = SelectSession + """
         WHERE s.pk IN (SELECT pk FROM tessera_sessions WHERE id > $after
        """;

    public const string ListSessionsTail = " ORDER BY id LIMIT $limit) ORDER BY s.id";

    public const string FilterLive = " AND revoked_at IS NULL AND expires_at > $now";

    public const string FilterExpired = " AND revoked_at IS NULL AND expires_at <= $now";

    public const string FilterRevoked = " AND revoked_at IS NOT NULL";

    public const string FilterSubject = " AND subject = $subject";

    public const string Statistics = """
        SELECT count(*) FILTER (WHERE revoked_at IS NULL AND expires_at > $now),
               count(*) FILTER (WHERE revoked_at IS NULL AND expires_at <= $now),
               count(*) FILTER (WHERE revoked_at IS NOT NULL)
        FROM tessera_sessions
        """;

    public const string Clear = "DELETE FROM tessera_sessions";

    public const string EnableWal = "PRAGMA journal_mode = WAL";
}
