using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tessera.Testing;

/// <summary>
/// Builds hostile credentials for the hostile-input suite: JWTs signed any way (or not at all), and re-encodings, bit
/// flips and splices of valid cookies and tokens. Everything here works on the text a client holds; nothing reaches
/// into Tessera's internals, so the suite tests the formats as documented.
/// </summary>
internal static class HostileCredentials
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// <summary>Unpadded base64url of bytes.</summary>
    public static string B64(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);

    /// <summary>Unpadded base64url of the UTF-8 of a text (a JWT segment from its JSON).</summary>
    public static string B64(string text) => B64(Encoding.UTF8.GetBytes(text));

    /// <summary>The bytes of one unpadded base64url segment.</summary>
    public static byte[] Bytes(string segment) => Base64Url.DecodeFromChars(segment);

    /// <summary>Segment <paramref name="index"/> of a dotted credential.</summary>
    public static string Segment(string credential, int index) => credential.Split('.')[index];

    /// <summary>The credential with segment <paramref name="index"/> replaced.</summary>
    public static string WithSegment(string credential, int index, string value)
    {
        var parts = credential.Split('.');
        parts[index] = value;
        return string.Join('.', parts);
    }

    /// <summary>Signs <c>header.payload</c> (segments already encoded) with an HMAC, or not at all for <c>none</c>.</summary>
    /// <param name="header">The encoded header segment.</param>
    /// <param name="payload">The encoded payload segment.</param>
    /// <param name="key">The HMAC key (ignored for <c>none</c>).</param>
    /// <param name="algorithm"><c>HS256</c>, <c>HS384</c>, <c>HS512</c> or <c>none</c> (an empty signature).</param>
    public static string SignSegments(string header, string payload, byte[] key, string algorithm = "HS256")
    {
        var input = header + "." + payload;
        var data = Encoding.ASCII.GetBytes(input);
        var signature = algorithm switch
        {
            "HS256" => HMACSHA256.HashData(key, data),
            "HS384" => HMACSHA384.HashData(key, data),
            "HS512" => HMACSHA512.HashData(key, data),
            "none" => [],
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
        };
        return input + "." + B64(signature);
    }

    /// <summary>A JWT from header and payload JSON texts, signed with an HMAC (see <see cref="SignSegments"/>).</summary>
    public static string Jwt(string headerJson, string payloadJson, byte[] key, string algorithm = "HS256") =>
        SignSegments(B64(headerJson), B64(payloadJson), key, algorithm);

    /// <summary>A JWT signed RS256 with a fresh RSA key; with <paramref name="embedKey"/> the header carries that key as a <c>jwk</c>.</summary>
    public static string RsaJwt(string kid, string payloadJson, bool embedKey)
    {
        using var rsa = RSA.Create(1024);
        var parameters = rsa.ExportParameters(false);
        var jwk = $$"""{"kty":"RSA","n":"{{B64(parameters.Modulus)}}","e":"{{B64(parameters.Exponent)}}"}""";
        var header = embedKey
            ? $$"""{"alg":"RS256","kid":"{{kid}}","typ":"JWT","jwk":{{jwk}}}"""
            : $$"""{"alg":"RS256","kid":"{{kid}}","typ":"JWT"}""";
        var input = B64(header) + "." + B64(payloadJson);
        return input + "." + B64(rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    /// <summary>A JWT signed ES256 with a fresh P-256 key.</summary>
    public static string EcdsaJwt(string kid, string payloadJson)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var input = B64($$"""{"alg":"ES256","kid":"{{kid}}","typ":"JWT"}""") + "." + B64(payloadJson);
        return input + "." + B64(ecdsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
    }

    /// <summary>The JSON of a Tessera token payload; <see langword="null"/> leaves a claim out.</summary>
    public static string Claims(string? jti, string? sid, string? use, long? iat, long? exp, string extra = "")
    {
        var members = new List<string>();
        if (jti is not null)
        {
            members.Add($"\"jti\":{JsonSerializer.Serialize(jti)}");
        }
        if (sid is not null)
        {
            members.Add($"\"sid\":{JsonSerializer.Serialize(sid)}");
        }
        if (use is not null)
        {
            members.Add($"\"token_use\":{JsonSerializer.Serialize(use)}");
        }
        if (iat is { } issued)
        {
            members.Add($"\"iat\":{issued.ToString(CultureInfo.InvariantCulture)}");
        }
        if (exp is { } expires)
        {
            members.Add($"\"exp\":{expires.ToString(CultureInfo.InvariantCulture)}");
        }
        if (extra.Length > 0)
        {
            members.Add(extra);
        }
        return "{" + string.Join(',', members) + "}";
    }

    /// <summary>The claims of a token as a JSON document (the payload segment decoded; no signature check).</summary>
    public static JsonElement ReadClaims(string token) =>
        JsonDocument.Parse(Bytes(Segment(token, 1))).RootElement.Clone();

    /// <summary>The text with bit <paramref name="bit"/> of the character at <paramref name="index"/> flipped.</summary>
    public static string FlipBit(string text, int index, int bit)
    {
        var chars = text.ToCharArray();
        chars[index] = (char)(chars[index] ^ (1 << bit));
        return new string(chars);
    }

    /// <summary>
    /// The segment with its last character moved <paramref name="by"/> places along the base64url alphabet: when the
    /// last character carries unused bits, a small move only sets those bits (a non-canonical spelling of the same
    /// bytes, which lax decoders accept).
    /// </summary>
    public static string BumpLastChar(string segment, int by)
    {
        var value = Alphabet.IndexOf(segment[^1], StringComparison.Ordinal);
        return segment[..^1] + Alphabet[(value + by) % 64];
    }

    /// <summary>The same bytes in standard base64 (<c>+</c>, <c>/</c>), segment by segment, padded or not.</summary>
    public static string StandardBase64(string credential, bool padded) =>
        string.Join('.', credential.Split('.').Select(segment =>
        {
            var text = Convert.ToBase64String(Bytes(segment));
            return padded ? text : text.TrimEnd('=');
        }));

    /// <summary>Every segment padded with <c>=</c> to a multiple of four characters.</summary>
    public static string Padded(string credential) =>
        string.Join('.', credential.Split('.').Select(segment => segment.PadRight(segment.Length + ((4 - (segment.Length % 4)) % 4), '=')));

    /// <summary>The same bytes in lower-case hex, segment by segment.</summary>
    public static string Hex(string credential) =>
        string.Join('.', credential.Split('.').Select(segment => Convert.ToHexStringLower(Bytes(segment))));

    /// <summary>The raw bytes of each segment percent-encoded (<c>%XX</c>), so the text is not base64 at all.</summary>
    public static string PercentBytes(string credential) =>
        string.Join('.', credential.Split('.').Select(segment => string.Concat(Bytes(segment).Select(b => $"%{b:X2}"))));

    /// <summary>Every character of the text percent-encoded (<c>%XX</c>).</summary>
    public static string PercentText(string text) => string.Concat(text.Select(c => $"%{(int)c:X2}"));

    /// <summary>Upper and lower case swapped.</summary>
    public static string SwapCase(string text) =>
        string.Concat(text.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)));

    /// <summary>The character at <paramref name="index"/> replaced by <paramref name="replacement"/>.</summary>
    public static string Replace(string text, int index, string replacement) => text[..index] + replacement + text[(index + 1)..];

    /// <summary><paramref name="insertion"/> inserted before the character at <paramref name="index"/>.</summary>
    public static string Insert(string text, int index, string insertion) => text[..index] + insertion + text[index..];

    /// <summary>Whether a credential uses the characters where base64url and standard base64 differ.</summary>
    public static bool HasUrlOnlyCharacters(string credential) => credential.AsSpan().IndexOfAny('-', '_') >= 0;
}
