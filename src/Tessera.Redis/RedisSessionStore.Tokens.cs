using System.Globalization;
using System.Text;
using System.Text.Json;
using Tessera.Redis.Resp;
using Tessera.Tokens;

namespace Tessera.Redis;

// Token sessions: access and refresh tokens (JSON values next to their session), and the refresh-token rotation.
public sealed partial class RedisSessionStore : ISessionTokenStore
{
    /// <inheritdoc />
    public async ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(refresh);
        if (!string.Equals(access.SessionId, refresh.SessionId, StringComparison.Ordinal) || string.Equals(access.Id, refresh.Id, StringComparison.Ordinal))
        {
            return false;
        }
        var args = Args(5);
        args.Add(access.SessionId);
        args.Add(access.Id);
        args.Add(EncodeToken(access));
        args.Add(refresh.Id);
        args.Add(EncodeToken(refresh));
        return (await EvalAsync(RedisScripts.CreateTokens, SessionKey(access.SessionId), args, cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }

    /// <inheritdoc />
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LoadTokenAsync(RedisScripts.LoadToken, tokenId, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One script: the token, its session and its successor pair, read at one moment.</remarks>
    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LoadTokenAsync(RedisScripts.LoadRefreshToken, tokenId, cancellationToken);

    // Both scripts answer {session id, token JSON, HGETALL of the session}; LoadRefreshToken adds the successor's id and
    // JSON and its access token's id and JSON (nulls when missing).
    private async ValueTask<TokenLookup?> LoadTokenAsync(RedisScript script, string tokenId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        var args = Args(1);
        args.Add(tokenId);
        var reply = await ReadAsync(c => Eval(c, script, $"{_prefix}:k:{tokenId}", args, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (reply.IsNull)
        {
            return null;
        }
        var parts = reply.AsArray()!;
        var sessionId = parts[0].AsString()!;
        return new TokenLookup(DecodeToken(tokenId, sessionId, parts[1].AsString()!), ParseSession(sessionId, parts[2]))
        {
            Successor = parts.Count < 7 || parts[4].IsNull ? null : DecodeToken(parts[3].AsString()!, sessionId, parts[4].AsString()!),
            SuccessorAccess = parts.Count < 7 || parts[6].IsNull ? null : DecodeToken(parts[5].AsString()!, sessionId, parts[6].AsString()!),
        };
    }

    /// <inheritdoc />
    public async ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        var args = Args(10);
        args.Add(refreshTokenId);
        args.Add(newAccess.SessionId);
        args.Add(newRefresh.SessionId);
        args.Add(newAccess.Id);
        args.Add(EncodeToken(newAccess));
        args.Add(newRefresh.Id);
        args.Add(EncodeToken(newRefresh));
        args.Add(Ms(now));
        args.Add(Ms(newRefresh.ExpiresAt));
        args.Add(Ms(now - TesseraDefaults.ExpiredTokenRetention));
        RedisValue result;
        try
        {
            result = await EvalAsync(RedisScripts.Rotate, $"{_prefix}:k:{refreshTokenId}", args, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.Contains("tessera: a new token id collided", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("A new token id collided with a stored one.", e);
        }
        return result.AsInt64() switch
        {
            0 => TokenRotationOutcome.Rotated,
            1 => TokenRotationOutcome.AlreadyRevoked,
            2 => TokenRotationOutcome.NotFound,
            _ => TokenRotationOutcome.SessionNotLive,
        };
    }
    // Tokens are kept as JSON so the rotation script can change them with cjson; times are strings so no precision is lost in Lua.
    private static string EncodeToken(TokenRecord token)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("k", token.Kind == TokenKind.Refresh ? 1 : 0);
            writer.WriteString("p", token.PairedTokenId);
            writer.WriteString("c", Ms(token.CreatedAt));
            writer.WriteString("e", Ms(token.ExpiresAt));
            if (token.RevokedAt is { } revoked)
            {
                writer.WriteString("r", Ms(revoked));
            }
            if (token.SuccessorId is { } successor)
            {
                writer.WriteString("s", successor);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static TokenRecord DecodeToken(string id, string sessionId, string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new TokenRecord
        {
            Id = id,
            SessionId = sessionId,
            Kind = root.GetProperty("k").GetInt32() == 1 ? TokenKind.Refresh : TokenKind.Access,
            PairedTokenId = root.GetProperty("p").GetString()!,
            CreatedAt = Time(ParseMs(root.GetProperty("c"))),
            ExpiresAt = Time(ParseMs(root.GetProperty("e"))),
            RevokedAt = root.TryGetProperty("r", out var r) ? Time(ParseMs(r)) : null,
            SuccessorId = root.TryGetProperty("s", out var s) ? s.GetString() : null,
        };
    }

    private static long ParseMs(JsonElement element) => element.ValueKind == JsonValueKind.Number
        ? element.GetInt64()
        : long.Parse(element.GetString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
}
