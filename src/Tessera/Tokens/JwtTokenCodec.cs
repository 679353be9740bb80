using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

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
/// <remarks>Thread-safe. Never throws for bad input; the token text never appears in an exception or log line.</remarks>
public sealed class JwtTokenCodec
{
    private const string Algorithm = "HS256";
    private const string CompasAccessClaim = "compasSessionAccessToken";
    private const string CompasRefreshClaim = "compasSessionRefreshToken";

    private readonly SigningKeyRing _keys;
    private readonly TesseraTokenOptions _options;

    /// <summary>Creates a codec.</summary>
    /// <param name="keys">The key ring: the first key signs, every key verifies.</param>
    /// <param name="options">Profile, size cap and clock skew.</param>
    public JwtTokenCodec(SigningKeyRing keys, TesseraTokenOptions options)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options);
        _keys = keys;
        _options = options;
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
        HMACSHA256.HashData(key.Material, Encoding.ASCII.GetBytes(signingInput), mac);
        return string.Concat(signingInput, ".", Base64UrlText.Encode(mac));
    }

    /// <summary>Validates a token's form, signature, type and times. The store is not consulted.</summary>
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
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        var secondDot = firstDot < 0 ? -1 : token.IndexOf('.', firstDot + 1);
        if (secondDot < 0 || token.IndexOf('.', secondDot + 1) >= 0)
        {
            return Invalid;
        }
        if (!Base64UrlText.TryDecode(token.AsSpan(0, firstDot), out var headerBytes)
            || !TryReadHeader(headerBytes, out var keyId))
        {
            return Invalid;
        }
        var candidates = keyId is null ? _keys.Keys : _keys.Find(keyId) is { } named ? [named] : [];
        if (candidates.Count == 0 || (keyId is null && _options.Profile == TokenProfile.Tessera))
        {
            return Invalid;
        }
        Span<byte> presented = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (!Base64UrlText.TryDecodeExact(token.AsSpan(secondDot + 1), presented))
        {
            return Invalid;
        }
        var signingInput = Encoding.ASCII.GetBytes(token, 0, secondDot);
        Span<byte> expectedMac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        var matched = false;
        foreach (var key in candidates)
        {
            HMACSHA256.HashData(key.Material, signingInput, expectedMac);
            matched |= CryptographicOperations.FixedTimeEquals(expectedMac, presented);
        }
        if (!matched || !Base64UrlText.TryDecode(token.AsSpan(firstDot + 1, secondDot - firstDot - 1), out var payloadBytes))
        {
            return Invalid;
        }
        return ReadPayload(payloadBytes, expected, now);
    }

    private static readonly TokenValidation Invalid = new(TokenFailure.InvalidToken, null, null);

    // The header must be exactly a JSON object of alg (HS256), and optionally typ (JWT) and kid: no duplicates, no
    // other members (a "crit", "jku" or "jwk" is never honoured, so it is refused).
    private static bool TryReadHeader(byte[] json, out string? keyId)
    {
        keyId = null;
        string? alg = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 2 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                if (!seen.Add(name) || !reader.Read() || reader.TokenType != JsonTokenType.String)
                {
                    return false;
                }
                var value = reader.GetString();
                switch (name)
                {
                    case "alg":
                        alg = value;
                        break;
                    case "typ" when value == "JWT":
                        break;
                    case "kid":
                        keyId = value;
                        break;
                    default:
                        return false;
                }
            }
            return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && string.Equals(alg, Algorithm, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // GetString throws InvalidOperationException for invalid UTF-8 or an escaped lone surrogate: this runs
            // before the signature check, so anyone can send such a header.
            return false;
        }
    }

    private TokenValidation ReadPayload(byte[] json, TokenKind expected, DateTimeOffset now)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException)
        {
            return Invalid;
        }
        using (document)
        {
            try
            {
                return ReadClaims(document.RootElement, expected, now);
            }
            catch (InvalidOperationException)
            {
                // A string claim with invalid UTF-8 or an escaped lone surrogate cannot be read.
                return Invalid;
            }
        }
    }

    private TokenValidation ReadClaims(JsonElement root, TokenKind expected, DateTimeOffset now)
    {
        if (root.ValueKind != JsonValueKind.Object || HasDuplicateMembers(root))
        {
            return Invalid;
        }
        string? tokenId;
        string? sessionId = null;
        TokenKind kind;
        if (_options.Profile == TokenProfile.Compas)
        {
            var access = String(root, CompasAccessClaim);
            var refresh = String(root, CompasRefreshClaim);
            if ((access is null) == (refresh is null))
            {
                return Invalid;
            }
            kind = access is not null ? TokenKind.Access : TokenKind.Refresh;
            tokenId = access ?? refresh;
        }
        else
        {
            tokenId = String(root, "jti");
            sessionId = String(root, "sid");
            var use = String(root, "token_use");
            if (tokenId is null || sessionId is null || use is not ("access" or "refresh"))
            {
                return Invalid;
            }
            kind = use == "access" ? TokenKind.Access : TokenKind.Refresh;
        }
        if (!Guid.TryParseExact(tokenId, "D", out _) || (sessionId is not null && !Guid.TryParseExact(sessionId, "D", out _)))
        {
            return Invalid;
        }
        var skew = (long)_options.ClockSkew.TotalSeconds;
        var seconds = now.ToUnixTimeSeconds();
        if (!Seconds(root, "exp", required: true, out var exp)
            || !Seconds(root, "iat", required: _options.Profile == TokenProfile.Tessera, out var iat)
            || !Seconds(root, "nbf", required: false, out var nbf)
            || (iat is { } issued && issued > seconds + skew)
            || (nbf is { } notBefore && notBefore > seconds + skew))
        {
            return Invalid;
        }
        if (kind != expected)
        {
            return new(TokenFailure.WrongTokenType, null, null);
        }
        if (seconds >= exp!.Value + skew)
        {
            return new(TokenFailure.ExpiredToken, null, null);
        }
        return new(TokenFailure.None, tokenId, sessionId);
    }

    private static bool HasDuplicateMembers(JsonElement root)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!names.Add(property.Name))
            {
                return true;
            }
        }
        return false;
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    // A NumericDate: an integer count of seconds. Fractions, strings and absurd values are refused.
    private static bool Seconds(JsonElement root, string name, bool required, out long? value)
    {
        value = null;
        if (!root.TryGetProperty(name, out var element))
        {
            return !required;
        }
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var seconds) || seconds is < 0 or > 253402300799)
        {
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
