using System.Buffers.Text;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Tessera.Client;

/// <summary>Reads what a Tessera token endpoint sends: a pair, a refusal's reason, a JWT's <c>exp</c>.</summary>
internal static class TokenResponses
{
    /// <summary>Larger token responses are refused unread (a Tessera pair is well under 2 KiB).</summary>
    public const int MaxResponseBytes = 64 * 1024;

    /// <summary>
    /// The pair in <c>{"accessToken","refreshToken","accessTokenExpiresAt","refreshTokenExpiresAt"}</c> (Tessera's
    /// shape), with <c>expires_in</c> (seconds from now) as a fallback for the access token's expiry, then its JWT
    /// <c>exp</c>. Null when the body is not such an object. Messages never quote the body (it holds tokens).
    /// </summary>
    public static TesseraTokenPair? ReadPair(ReadOnlySpan<byte> json, DateTimeOffset now)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || String(root, "accessToken") is not { Length: > 0 } access
                || String(root, "refreshToken") is not { Length: > 0 } refresh)
            {
                return null;
            }
            var accessExpiresAt = Time(root, "accessTokenExpiresAt")
                ?? (root.TryGetProperty("expires_in", out var seconds) && seconds.TryGetDouble(out var value) && value is > 0 and < 31_536_000 ? now.AddSeconds(value) : (DateTimeOffset?)null)
                ?? JwtExpiry(access);
            return new TesseraTokenPair(access, refresh, accessExpiresAt, Time(root, "refreshTokenExpiresAt"));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The <c>reason</c> of a problem body (Tessera's refusals carry one), or null.</summary>
    public static string? ReadProblemReason(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object ? String(document.RootElement, "reason") : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether <paramref name="headers"/> hold a <c>Bearer</c> challenge with <c>error="invalid_token"</c> (RFC 6750 §3),
    /// and its <c>error_description</c> (Tessera puts the reason there).
    /// </summary>
    public static bool IsInvalidTokenChallenge(HttpHeaderValueCollection<AuthenticationHeaderValue> headers, out string? description)
    {
        foreach (var challenge in headers)
        {
            if (!string.Equals(challenge.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase) || challenge.Parameter is null)
            {
                continue;
            }
            var parameters = ChallengeParameters(challenge.Parameter);
            if (parameters.TryGetValue("error", out var error) && error == "invalid_token")
            {
                description = parameters.GetValueOrDefault("error_description");
                return true;
            }
        }
        description = null;
        return false;
    }

    /// <summary>The <c>exp</c> claim of a compact JWS, read without verifying it (the client holds no key); null when absent or unreadable.</summary>
    public static DateTimeOffset? JwtExpiry(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || parts[1].Length > 8192)
        {
            return null;
        }
        try
        {
            var payload = Base64Url.DecodeFromChars(parts[1]);
            var reader = new Utf8JsonReader(payload);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("exp", out var exp)
                && exp.TryGetInt64(out var seconds)
                && seconds is > 0 and < 253402300800
                    ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                    : null;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static DateTimeOffset? Time(JsonElement element, string name) =>
        String(element, name) is { } text && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;

    /// <summary>Splits <c>a="x", b=y</c> (RFC 9110 auth-params: tokens or quoted strings with backslash escapes).</summary>
    private static Dictionary<string, string> ChallengeParameters(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i])))
            {
                i++;
            }
            var nameStart = i;
            while (i < text.Length && text[i] != '=' && text[i] != ',')
            {
                i++;
            }
            var name = text[nameStart..i].Trim();
            if (i >= text.Length || text[i] != '=')
            {
                continue;
            }
            i++;
            var value = new System.Text.StringBuilder();
            if (i < text.Length && text[i] == '"')
            {
                for (i++; i < text.Length && text[i] != '"'; i++)
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }
                    value.Append(text[i]);
                }
                i++;
            }
            else
            {
                for (; i < text.Length && text[i] != ','; i++)
                {
                    value.Append(text[i]);
                }
            }
            if (name.Length > 0)
            {
                result.TryAdd(name, value.ToString().Trim());
            }
        }
        return result;
    }
}
