using System.Text.Json;

namespace Tessera.Tokens;

/// <summary>
/// The data a token client hands in whole (<see cref="SessionTokenService.CreateAsync"/>,
/// <see cref="SessionTokenService.UpdateAsync"/>): each value must be a JSON text, changes are found by comparing JSON,
/// and the whole counts against <see cref="TesseraOptions.MaxDataBytes"/> as a cookie session's data does.
/// </summary>
internal static class TokenSessionData
{
    // TesseraOptions.MaxDataBytes for a token session's whole data, as TesseraSession counts it; data that does not grow
    // passes even above a lowered limit.
    public static void CheckSize(IReadOnlyDictionary<string, string> data, long grownFrom, int? maxBytes)
    {
        if (maxBytes is not { } limit)
        {
            return;
        }
        var size = data.Sum(e => SessionKeys.EntryBytes(e.Key, e.Value));
        if (size > limit && size > grownFrom)
        {
            throw new SessionDataTooLargeException(data.Keys.Order(StringComparer.Ordinal).First(), size, limit);
        }
    }

    public static string ValidJson(string json, string paramName)
    {
        ArgumentNullException.ThrowIfNull(json, paramName);
        try
        {
            using var _ = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            throw new ArgumentException("Every session value must be a JSON text.", paramName);
        }
        SessionKeys.ValidateValue(json, paramName);
        return json;
    }

    public static bool SameJson(string a, string b)
    {
        if (string.Equals(a, b, StringComparison.Ordinal))
        {
            return true;
        }
        using var left = JsonDocument.Parse(a);
        using var right = JsonDocument.Parse(b);
        return JsonElement.DeepEquals(left.RootElement, right.RootElement);
    }
}
