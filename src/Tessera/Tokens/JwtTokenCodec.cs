using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Tessera.Tokens;

/// <summary>What <see cref="JwtTokenCodec.Validate"/> found in a token whose signature and claims check out.</summary>
/// <param name="Failure">Why the token is not acceptable, or <see cref="TokenFailure.None"/>.</param>
/// <param name="TokenId">The token id (<c>jti</c>, or Compas's token row id) when valid.</param>
/// <param name="SessionId">The session id claim (<c>sid</c>) when the profile carries one; <see langword="null"/> otherwise.</param>
public readonly record struct TokenValidation(TokenFailure Failure, string? TokenId, string? SessionId);

/// <summary>
/// Mints and validates compact JWS tokens: HS256 only, keys from the <see cref="SigningKeyRing"/> (<c>kid</c> names
/// the signing key), a size cap before parsing, a strict header (any <c>alg</c> but HS256, <c>none</c> included, is
/// rejected before the signature is computed), and <c>exp</c>/<c>iat</c>/<c>nbf</c> checked with a small clock skew.
/// </summary>
/// <remarks>
/// Thread-safe. Never throws for bad input; the token text never appears in an exception or log line. Up to
/// <see cref="TesseraTokenOptions.VerifiedTokenCacheSize"/> access tokens that passed the signature and claims checks
/// are remembered by their exact text with the claims they carry, so the same token presented again is checked only
/// for its times and kind (and is verified in full again once the key ring has been replaced).
/// </remarks>
public sealed class JwtTokenCodec
{
    private const string Algorithm = "HS256";
    private const string CompasAccessClaim = "compasSessionAccessToken";
    private const string CompasRefreshClaim = "compasSessionRefreshToken";

    private readonly SigningKeyRing _keys;
    private readonly TesseraTokenOptions _options;
    private readonly VerifiedTextCache<TokenClaims> _verified;

    /// <summary>Creates a codec.</summary>
    /// <param name="keys">The key ring: the first key signs, every key verifies.</param>
    /// <param name="options">Profile, size cap and clock skew.</param>
    public JwtTokenCodec(SigningKeyRing keys, TesseraTokenOptions options)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options);
        _keys = keys;
        _options = options;
        _verified = new VerifiedTextCache<TokenClaims>(options.VerifiedTokenCacheSize);
    }

    /// <summary>
    /// Mints the JWT for a token record. The result depends only on the record and the signing key, so minting the same
    /// record again gives the same text (how a refresh retry in the grace window receives the same pair).
    /// </summary>
    /// <param name="token">The token.</param>
    /// <returns>The compact JWS.</returns>
    public string Mint(TokenRecord token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var key = _keys.Current;
        var compas = _options.Profile == TokenProfile.Compas;
        var header = Json(writer =>
        {
            writer.WriteString("alg", Algorithm);
            if (!compas)
            {
                writer.WriteString("kid", key.Id);
            }
            writer.WriteString("typ", "JWT");
        });
        var payload = Json(writer =>
        {
            if (compas)
            {
                writer.WriteNumber("exp", token.ExpiresAt.ToUnixTimeSeconds());
                writer.WriteString(token.Kind == TokenKind.Access ? CompasAccessClaim : CompasRefreshClaim, token.Id);
                return;
            }
            writer.WriteString("jti", token.Id);
            writer.WriteString("sid", token.SessionId);
            writer.WriteString("token_use", token.Kind == TokenKind.Access ? "access" : "refresh");
            writer.WriteNumber("iat", token.CreatedAt.ToUnixTimeSeconds());
            writer.WriteNumber("exp", token.ExpiresAt.ToUnixTimeSeconds());
        });
        var signingInput = string.Concat(Base64UrlText.Encode(header), ".", Base64UrlText.Encode(payload));
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        key.Mac(Encoding.ASCII.GetBytes(signingInput), mac);
        return string.Concat(signingInput, ".", Base64UrlText.Encode(mac));
    }

    /// <summary>
    /// Validates a token's form, signature, type and times. The store is not consulted. An access token whose exact text
    /// was verified before under the same key ring is not verified again: only its times and kind are checked.
    /// </summary>
    /// <param name="token">The token text as presented; <see langword="null"/> reads as empty.</param>
    /// <param name="expected">The kind the caller needs.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The token id and session id, or a failure.</returns>
    public TokenValidation Validate(string? token, TokenKind expected, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(token) || token.Length > _options.MaxTokenLength)
        {
            return Invalid;
        }
        if (_verified.TryGet(token, _keys.Keys, out var verified))
        {
            return Check(verified, expected, now);
        }
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        var secondDot = firstDot < 0 ? -1 : token.IndexOf('.', firstDot + 1);
        if (secondDot < 0 || token.IndexOf('.', secondDot + 1) >= 0)
        {
            return Invalid;
        }
        // One pooled buffer holds, in turn, the decoded header, the signing input and the decoded payload: every segment
        // decodes to fewer bytes than the token has characters.
        var buffer = ArrayPool<byte>.Shared.Rent(token.Length);
        try
        {
            var ring = _keys.Keys;
            if (!VerifySegments(token, firstDot, secondDot, buffer, ring, out var claims))
            {
                return Invalid;
            }
            // Only access tokens: they are presented on every request, a refresh token once.
            if (claims.Kind == TokenKind.Access)
            {
                _verified.Remember(token, ring, claims);
            }
            return Check(claims, expected, now);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static readonly TokenValidation Invalid = new(TokenFailure.InvalidToken, null, null);

    private bool VerifySegments(string token, int firstDot, int secondDot, byte[] buffer, IReadOnlyList<SigningKey> ring, out TokenClaims claims)
    {
        claims = default;
        if (!Base64UrlText.TryDecode(token.AsSpan(0, firstDot), buffer, out var headerLength)
            || !TryReadHeader(buffer.AsSpan(0, headerLength), out var keyId))
        {
            return false;
        }
        var candidates = keyId is null ? ring : SigningKeyRing.Find(ring, keyId) is { } named ? [named] : [];
        if (candidates.Count == 0 || (keyId is null && _options.Profile == TokenProfile.Tessera))
        {
            return false;
        }
        Span<byte> presented = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (!Base64UrlText.TryDecodeExact(token.AsSpan(secondDot + 1), presented))
        {
            return false;
        }
        var signingInput = buffer.AsSpan(0, Encoding.ASCII.GetBytes(token.AsSpan(0, secondDot), buffer));
        Span<byte> expectedMac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        var matched = false;
        foreach (var key in candidates)
        {
            key.Mac(signingInput, expectedMac);
            matched |= CryptographicOperations.FixedTimeEquals(expectedMac, presented);
        }
        // Utf8JsonReader checks UTF-8 only in the strings it is asked to read, so a claim this codec skips could carry
        // bytes that are not UTF-8: such a payload is not JSON (RFC 8259 §8.1) and is refused whole.
        if (!matched
            || !Base64UrlText.TryDecode(token.AsSpan(firstDot + 1, secondDot - firstDot - 1), buffer, out var payloadLength)
            || !Utf8.IsValid(buffer.AsSpan(0, payloadLength)))
        {
            return false;
        }
        try
        {
            return ReadPayload(buffer.AsSpan(0, payloadLength), out claims);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not JSON, trailing bytes, too deep, or a string claim with invalid UTF-8 or an escaped lone surrogate.
            return false;
        }
    }

    // The header must be exactly a JSON object of alg (HS256), and optionally typ (JWT) and kid: no duplicates, no
    // other members (a "crit", "jku" or "jwk" is never honoured, so it is refused).
    private static bool TryReadHeader(ReadOnlySpan<byte> json, out string? keyId)
    {
        keyId = null;
        var seen = 0;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 2 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var member = reader.ValueTextEquals("alg"u8) ? 1 : reader.ValueTextEquals("typ"u8) ? 2 : reader.ValueTextEquals("kid"u8) ? 4 : 0;
                if (member == 0 || (seen & member) != 0 || !reader.Read() || reader.TokenType != JsonTokenType.String)
                {
                    return false;
                }
                seen |= member;
                switch (member)
                {
                    case 1 when !reader.ValueTextEquals("HS256"u8):
                    case 2 when !reader.ValueTextEquals("JWT"u8):
                        return false;
                    case 4:
                        keyId = reader.GetString();
                        break;
                    default:
                        break;
                }
            }
            return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && (seen & 1) != 0;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // GetString throws InvalidOperationException for invalid UTF-8 or an escaped lone surrogate: this runs
            // before the signature check, so anyone can send such a header.
            return false;
        }
    }

    /// <summary>The claims this codec reads; any other member is allowed (and ignored) once.</summary>
    private enum Claim
    {
        Other,
        TokenId,
        SessionId,
        Use,
        Expires,
        IssuedAt,
        NotBefore,
        CompasAccess,
        CompasRefresh,
    }

    // One pass of Utf8JsonReader over the payload: every top-level member name must be unique (compared unescaped),
    // the claims below are read, anything else is skipped. Throws JsonException for malformed JSON or trailing data.
    private bool ReadPayload(ReadOnlySpan<byte> json, out TokenClaims claims)
    {
        claims = default;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 4 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }
        // Names seen so far, unescaped, end to end; a payload of this codec's tokens has fewer than ten short names.
        Span<byte> names = stackalloc byte[512];
        Span<int> ends = stackalloc int[32];
        var count = 0;
        string? tokenId = null, sessionId = null, use = null, compasAccess = null, compasRefresh = null;
        long? exp = null, iat = null, nbf = null;
        var badTime = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var start = count == 0 ? 0 : ends[count - 1];
            // Unescaping never lengthens a name, so room for the raw bytes is room enough.
            if (count == ends.Length || reader.ValueSpan.Length > names.Length - start)
            {
                return false; // more or longer names than any token of ours carries
            }
            var length = reader.CopyString(names[start..]);
            var name = names.Slice(start, length);
            for (var i = 0; i < count; i++)
            {
                if (names[(i == 0 ? 0 : ends[i - 1])..ends[i]].SequenceEqual(name))
                {
                    return false; // a duplicate member: which one counts is ambiguous, so neither does
                }
            }
            ends[count++] = start + length;
            var claim = ClaimOf(name);
            reader.Read();
            switch (claim)
            {
                case Claim.TokenId:
                    tokenId = StringValue(ref reader);
                    break;
                case Claim.SessionId:
                    sessionId = StringValue(ref reader);
                    break;
                case Claim.Use:
                    use = reader.TokenType != JsonTokenType.String ? null : reader.ValueTextEquals("access"u8) ? "access" : reader.ValueTextEquals("refresh"u8) ? "refresh" : null;
                    break;
                case Claim.CompasAccess:
                    compasAccess = StringValue(ref reader);
                    break;
                case Claim.CompasRefresh:
                    compasRefresh = StringValue(ref reader);
                    break;
                case Claim.Expires:
                    badTime |= !Seconds(ref reader, out exp);
                    break;
                case Claim.IssuedAt:
                    badTime |= !Seconds(ref reader, out iat);
                    break;
                case Claim.NotBefore:
                    badTime |= !Seconds(ref reader, out nbf);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            return false;
        }
        TokenKind kind;
        if (_options.Profile == TokenProfile.Compas)
        {
            if ((compasAccess is null) == (compasRefresh is null))
            {
                return false;
            }
            kind = compasAccess is not null ? TokenKind.Access : TokenKind.Refresh;
            tokenId = compasAccess ?? compasRefresh;
            sessionId = null;
        }
        else
        {
            if (tokenId is null || sessionId is null || use is null)
            {
                return false;
            }
            kind = use == "access" ? TokenKind.Access : TokenKind.Refresh;
        }
        if (!Guid.TryParseExact(tokenId, "D", out _)
            || (sessionId is not null && !Guid.TryParseExact(sessionId, "D", out _))
            || badTime
            || exp is null
            || (iat is null && _options.Profile == TokenProfile.Tessera))
        {
            return false;
        }
        claims = new(kind, tokenId, sessionId, exp.Value, iat, nbf);
        return true;
    }

    // What depends on the time and on the caller, for claims read now or remembered from an earlier request.
    private TokenValidation Check(in TokenClaims claims, TokenKind expected, DateTimeOffset now)
    {
        var skew = (long)_options.ClockSkew.TotalSeconds;
        var seconds = now.ToUnixTimeSeconds();
        if ((claims.IssuedAt is { } issued && issued > seconds + skew) || (claims.NotBefore is { } notBefore && notBefore > seconds + skew))
        {
            return Invalid;
        }
        if (claims.Kind != expected)
        {
            return new(TokenFailure.WrongTokenType, null, null);
        }
        if (seconds >= claims.Expires + skew)
        {
            return new(TokenFailure.ExpiredToken, null, null);
        }
        return new(TokenFailure.None, claims.TokenId, claims.SessionId);
    }

    /// <summary>How many verified access tokens are remembered now (for tests).</summary>
    internal int RememberedTokenCount => _verified.Count;

    // A token's claims as its payload states them: they hold whatever the time, until the ring that verified them changes.
    private readonly record struct TokenClaims(TokenKind Kind, string TokenId, string? SessionId, long Expires, long? IssuedAt, long? NotBefore);

    private static Claim ClaimOf(ReadOnlySpan<byte> name) => name switch
    {
        _ when name.SequenceEqual("jti"u8) => Claim.TokenId,
        _ when name.SequenceEqual("sid"u8) => Claim.SessionId,
        _ when name.SequenceEqual("token_use"u8) => Claim.Use,
        _ when name.SequenceEqual("exp"u8) => Claim.Expires,
        _ when name.SequenceEqual("iat"u8) => Claim.IssuedAt,
        _ when name.SequenceEqual("nbf"u8) => Claim.NotBefore,
        _ when name.SequenceEqual("compasSessionAccessToken"u8) => Claim.CompasAccess,
        _ when name.SequenceEqual("compasSessionRefreshToken"u8) => Claim.CompasRefresh,
        _ => Claim.Other,
    };

    // A string claim's value, or null when the value is not a string (then skipped, so an object or array is passed over).
    private static string? StringValue(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return reader.GetString();
        }
        reader.Skip();
        return null;
    }

    // A NumericDate: an integer count of seconds. Fractions, strings and absurd values are refused.
    private static bool Seconds(ref Utf8JsonReader reader, out long? value)
    {
        value = null;
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var seconds) || seconds is < 0 or > 253402300799)
        {
            reader.Skip();
            return false;
        }
        value = seconds;
        return true;
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
