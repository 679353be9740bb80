using Microsoft.Data.Sqlite;
using Tessera.Tokens;

namespace Tessera.Sqlite;

// Token sessions: access and refresh tokens, one row each in tessera_tokens, and the refresh-token rotation.
public sealed partial class SqliteSessionStore : ISessionTokenStore
{
    /// <inheritdoc />
    /// <remarks>
    /// One <c>BEGIN IMMEDIATE</c> transaction: the session must be live and neither token id taken; otherwise nothing is
    /// written.
    /// </remarks>
    public ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(refresh);
        if (!string.Equals(access.SessionId, refresh.SessionId, StringComparison.Ordinal) || string.Equals(access.Id, refresh.Id, StringComparison.Ordinal))
        {
            return ValueTask.FromResult(false);
        }
        return WriteAsync((access, refresh), static async (store, writer, pair, cancellationToken) =>
        {
            var (access, refresh) = pair;
            long pk;
            var check = writer.Command(SqliteStatements.CreateTokensCheck);
            {
                check.Parameters.AddWithValue("$session_id", access.SessionId);
                check.Parameters.AddWithValue("$access_id", access.Id);
                check.Parameters.AddWithValue("$refresh_id", refresh.Id);
                check.Parameters.AddWithValue("$now", store.Now());
                var reader = await check.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using var readerScope = reader.ConfigureAwait(false);
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || reader.GetBoolean(1))
                {
                    return false;
                }
                pk = reader.GetInt64(0);
            }
            await InsertTokensAsync(writer, pk, access, refresh, cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>One statement: the token, its session (whatever its state) and the session's data.</remarks>
    public async ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        TokenRecord? token = null;
        var records = await ReadAsync(SqliteStatements.LoadToken, TokenParameters, tokenId, null, reader => token = ReadToken(reader, SqliteStatements.TokenColumn), cancellationToken).ConfigureAwait(false);
        return token is null ? null : new TokenLookup(token, records[0]);
    }

    /// <inheritdoc />
    /// <remarks>One statement: the token, its successor pair, its session (whatever its state) and the session's data.</remarks>
    public async ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        TokenLookup? found = null;
        var records = await ReadAsync(SqliteStatements.LoadRefreshToken, TokenParameters, tokenId, null, reader => found = new TokenLookup(ReadToken(reader, SqliteStatements.TokenColumn), null)
        {
            Successor = ReadOptionalToken(reader, SqliteStatements.TokenColumn + SqliteStatements.TokenColumnCount),
            SuccessorAccess = ReadOptionalToken(reader, SqliteStatements.TokenColumn + (2 * SqliteStatements.TokenColumnCount)),
        }, cancellationToken).ConfigureAwait(false);
        return found is null ? null : found with { Session = records[0] };
    }

    /// <inheritdoc />
    /// <remarks>
    /// One <c>BEGIN IMMEDIATE</c> transaction. The old refresh token is revoked by a conditional
    /// <c>UPDATE ... WHERE revoked_at IS NULL</c>, so of concurrent rotations (in this process or another) exactly one
    /// wins; the session's idle deadline moves to the new refresh token's expiry (capped by the absolute deadline) only
    /// when that is later.
    /// </remarks>
    public ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        return WriteAsync((refreshTokenId, newAccess, newRefresh, now), static async (store, writer, rotation, cancellationToken) =>
        {
            var (refreshTokenId, newAccess, newRefresh, now) = rotation;
            long pk;
            string pairedTokenId;
            var read = writer.Command(SqliteStatements.RotateRead);
            {
                read.Parameters.AddWithValue("$id", refreshTokenId);
                read.Parameters.AddWithValue("$now", store.Now());
                read.Parameters.AddWithValue("$access_id", newAccess.Id);
                read.Parameters.AddWithValue("$refresh_id", newRefresh.Id);
                var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using var readerScope = reader.ConfigureAwait(false);
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || reader.GetString(0) != KindText(TokenKind.Refresh))
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
            var revoke = writer.Command(SqliteStatements.RotateRevokeRefresh);
            revoke.Parameters.AddWithValue("$id", refreshTokenId);
            revoke.Parameters.AddWithValue("$now", Ms(now));
            revoke.Parameters.AddWithValue("$successor_id", newRefresh.Id);
            if (await revoke.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
            {
                return TokenRotationOutcome.AlreadyRevoked; // another writer won between the read and here
            }
            var revokeAccess = writer.Command(SqliteStatements.RotateRevokeAccess);
            revokeAccess.Parameters.AddWithValue("$id", pairedTokenId);
            revokeAccess.Parameters.AddWithValue("$now", Ms(now));
            await revokeAccess.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            var prune = writer.Command(SqliteStatements.RotatePrune);
            prune.Parameters.AddWithValue("$pk", pk);
            prune.Parameters.AddWithValue("$cutoff", Ms(now - TesseraDefaults.ExpiredTokenRetention));
            prune.Parameters.AddWithValue("$id", refreshTokenId);
            await prune.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await InsertTokensAsync(writer, pk, newAccess, newRefresh, cancellationToken).ConfigureAwait(false);
            var extend = writer.Command(SqliteStatements.RotateExtendSession);
            extend.Parameters.AddWithValue("$pk", pk);
            extend.Parameters.AddWithValue("$now", Ms(now));
            extend.Parameters.AddWithValue("$refresh_expires_at", Ms(newRefresh.ExpiresAt));
            await extend.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return TokenRotationOutcome.Rotated;
        }, cancellationToken);
    }

    private static async ValueTask InsertTokensAsync(SqliteWriter writer, long sessionPk, TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken)
    {
        var insert = writer.Command(SqliteStatements.InsertToken);
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
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
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

}
