using System.Globalization;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;
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
        if (!SameBucket(access.SessionId, access.Id) || !SameBucket(access.SessionId, refresh.Id))
        {
            return false; // a token id that does not carry its session's route could never be found again
        }
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var args = Args(access.SessionId, 5);
        args.Add(access.SessionId);
        args.Add(access.Id);
        args.Add(EncodeToken(access));
        args.Add(refresh.Id);
        args.Add(EncodeToken(refresh));
        return (long)await WriteAsync(db, RedisScripts.CreateTokens, SessionKey(access.SessionId), args).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LoadTokenAsync(RedisScripts.LoadToken, tokenId, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One script: the token, its session and its successor pair, read at one moment.</remarks>
    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LoadTokenAsync(RedisScripts.LoadRefreshToken, tokenId, cancellationToken);

    // LoadToken answers the session id, the token JSON and the session hash packed in one string; LoadRefreshToken answers
    // {session id, token JSON, HGETALL of the session, the successor's id and JSON, its access token's id and JSON}
    // (nulls when missing).
    private async ValueTask<TokenLookup?> LoadTokenAsync(string script, string tokenId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        var args = Args(tokenId, 1);
        args.Add(tokenId);
        RedisKey key = TokenKey(tokenId);
        RedisValue[] values = [.. args];
        // An access token's lookup may share one script with the others waiting (LoadTokens) and answers packed; a
        // refresh token's reads more and answers an array.
        var accessLookup = script == RedisScripts.LoadToken;
        RedisValue[]? combined = accessLookup ? [values[0], tokenId] : null;
        var reply = await ReadAsync(static (db, s) => s.Batcher.EvaluateAsync(db, s.Script, s.Key, s.Values, s.Combined is null ? null : RedisScripts.LoadTokens, s.Combined), (Batcher: _batcher, Script: script, Key: key, Values: values, Combined: combined), cancellationToken).ConfigureAwait(false);
        if (reply.IsNull)
        {
            return null;
        }
        if (accessLookup)
        {
            return ParseTokenLookup(tokenId, reply);
        }
        var parts = (RedisResult[])reply!;
        var sessionId = (string)parts[0]!;
        return new TokenLookup(DecodeToken(tokenId, sessionId, (string)parts[1]!), ParseSession(sessionId, parts[2]))
        {
            Successor = parts.Length < 7 || Missing(parts[4]) ? null : DecodeToken((string)parts[3]!, sessionId, (string)parts[4]!),
            SuccessorAccess = parts.Length < 7 || Missing(parts[6]) ? null : DecodeToken((string)parts[5]!, sessionId, (string)parts[6]!),
        };
    }

    // LoadToken's packed answer: the session id, the token JSON, then the session hash.
    private static TokenLookup ParseTokenLookup(string tokenId, RedisResult reply)
    {
        var packed = new RedisPackedReply(Bytes(reply).Span);
        var sessionId = Text(packed.Read());
        var token = DecodeToken(tokenId, sessionId, Text(packed.Read()));
        return new TokenLookup(token, ParseSession(sessionId, ref packed));
    }

    /// <inheritdoc />
    public async ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var args = Args(refreshTokenId, 11);
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
        // New ids off the session's route could never be found again: the script refuses them once it knows the session.
        args.Add(SameBucket(refreshTokenId, newAccess.Id) && SameBucket(refreshTokenId, newRefresh.Id) ? "1" : "0");
        RedisResult[] result;
        try
        {
            result = (RedisResult[])(await WriteAsync(db, RedisScripts.Rotate, TokenKey(refreshTokenId), args).ConfigureAwait(false))!;
        }
        catch (RedisServerException e) when (e.Message.Contains("tessera: a new token id collided", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("A new token id collided with a stored one.", e);
        }
        catch (RedisServerException e) when (e.Message.Contains("tessera: new token ids off the route", StringComparison.Ordinal))
        {
            throw new ArgumentException("New token ids must carry their session's route (make them with SessionRoute.NewTokenId).", nameof(newAccess), e);
        }
        if ((long)result[0] == 0 && (long)result[1] == 1 && _options.MaxAnonymousSessions is not null && !Missing(result[2]) && ((string)result[2]!).Length > 0)
        {
            await db.SortedSetUpdateAsync(_anonymousKey, newRefresh.SessionId, (long)result[2], SortedSetWhen.Exists).ConfigureAwait(false);
        }
        return (long)result[0] switch
        {
            0 => TokenRotationOutcome.Rotated,
            1 => TokenRotationOutcome.AlreadyRevoked,
            2 => TokenRotationOutcome.NotFound,
            _ => TokenRotationOutcome.SessionNotLive,
        };
    }
    private RedisKey TokenKey(string tokenId) => Base(tokenId) + ":k:" + tokenId;

    /// <summary>Whether a token id lands in the bucket of <paramref name="id"/> (a session id or another token id).</summary>
    private bool SameBucket(string id, string tokenId) => ReferenceEquals(Base(id), Base(tokenId));

    /// <summary>A script's <c>false</c>: Lua's false becomes a null reply.</summary>
    private static bool Missing(RedisResult result) => result.IsNull;

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
