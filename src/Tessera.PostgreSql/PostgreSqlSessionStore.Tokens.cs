using Npgsql;
using Tessera.Tokens;

namespace Tessera.PostgreSql;

// Token sessions: access and refresh tokens in Compas's token table, and the refresh-token rotation.
public sealed partial class PostgreSqlSessionStore : ISessionTokenStore
{
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
        var command = await CommandAsync(_sql.CreateTokens, idempotent: false, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        AddPair(command, access.SessionId, Now(), access, refresh);
        try
        {
            return await command.ExecuteAsync(cancellationToken).ConfigureAwait(false) == 2;
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation)
        {
            return false; // a taken token id, or the session was deleted meanwhile: nothing was written
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Reads that arrive together share one statement (<c>= ANY($1)</c>) on one connection, as credential reads do; each
    /// read still ends at its own <paramref name="cancellationToken"/>, and a failed statement fails each read it carried.
    /// </remarks>
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return _accessTokenReads.ReadAsync(MapId(tokenId).Key, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>One statement (one snapshot): the token, its session, and its successor pair.</remarks>
    public async ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        var command = await CommandAsync(_sql.LoadRefreshToken, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Uuid(MapId(tokenId).Key));
        var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        var lookup = ReadTokenLookup(reader);
        var successorColumn = PostgreSqlStatements.TokenColumnCount + PostgreSqlStatements.SessionColumnCount;
        return lookup with
        {
            Successor = ReadSuccessor(reader, successorColumn, lookup.Token.SessionId),
            SuccessorAccess = ReadSuccessor(reader, successorColumn + PostgreSqlStatements.SuccessorColumnCount, lookup.Token.SessionId),
        };
    }

    // The token and its session (null when the session row is gone), from a row that starts with the token's columns.
    private static TokenLookup ReadTokenLookup(NpgsqlDataReader reader)
    {
        var token = ReadToken(reader, 0, 2, reader.GetString(1));
        var session = reader.GetBoolean(8) ? ReadSession(reader, PostgreSqlStatements.TokenColumnCount) : null;
        return new TokenLookup(token, session);
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
        var command = await CommandAsync(_sql.Rotate, idempotent: false, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        AddPair(command, newAccess.SessionId, now, newAccess, newRefresh);
        command.Parameters.Add(Uuid(MapId(refreshTokenId).Key));
        command.Parameters.Add(Time(now - TesseraDefaults.ExpiredTokenRetention)); // $12: rotated tokens expired before this go
        var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
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

    /// <inheritdoc />
    /// <remarks>Always <see langword="true"/>: a refresh is one statement.</remarks>
    public bool CanTryRotate => true;

    /// <inheritdoc />
    /// <remarks>One statement: the checks, the rotation, the cap at the session's absolute deadline and the session's touch.</remarks>
    public async ValueTask<RotatedTokenExpiries?> TryRotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, TimeSpan clockSkew, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        if (!string.Equals(newAccess.SessionId, newRefresh.SessionId, StringComparison.Ordinal))
        {
            return null;
        }
        var command = await CommandAsync(_sql.TryRotate, idempotent: false, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        AddPair(command, newAccess.SessionId, now, newAccess, newRefresh);
        command.Parameters.Add(Uuid(MapId(refreshTokenId).Key));
        command.Parameters.Add(Time(now - TesseraDefaults.ExpiredTokenRetention)); // $12: rotated tokens expired before this go
        command.Parameters.Add(Time(now - clockSkew));                              // $13: the token must expire after this
        var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new RotatedTokenExpiries(ReadTime(reader, 0), ReadTime(reader, 1))
            : null;
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
}
