using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.AspNetCore.DataProtectionKeys;

/// <summary>
/// The stored key ring: every generated key with its dates in the clear (so an instance that cannot read a key can still
/// say which one) and its material protected by the application's Data Protection.
/// </summary>
internal sealed record KeyRingDocument(int Format, List<GeneratedKey> Keys)
{
    public const int CurrentFormat = 1;

    public static KeyRingDocument Parse(string? text)
    {
        if (text is null)
        {
            return new KeyRingDocument(CurrentFormat, []);
        }
        KeyRingDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(text, KeyRingJsonContext.Default.KeyRingDocument);
        }
        catch (JsonException)
        {
            document = null;
        }
        if (document is not { Format: CurrentFormat, Keys: not null })
        {
            throw new InvalidOperationException("Tessera's stored key ring is not a key ring document this version understands.");
        }
        return document;
    }

    public string Serialize() => JsonSerializer.Serialize(this, KeyRingJsonContext.Default.KeyRingDocument);
}

/// <summary>One generated key: it signs from <paramref name="ActivatesAt"/> until <paramref name="ExpiresAt"/>.</summary>
/// <param name="Id">The key's public id (<see cref="SigningKey.Id"/>, the JWT <c>kid</c>).</param>
/// <param name="CreatedAt">When it was generated.</param>
/// <param name="ActivatesAt">When it starts signing.</param>
/// <param name="ExpiresAt">When it stops signing; it verifies for the retention after that.</param>
/// <param name="Material">The key, protected by Data Protection, in base64.</param>
internal sealed record GeneratedKey(string Id, DateTimeOffset CreatedAt, DateTimeOffset ActivatesAt, DateTimeOffset ExpiresAt, string Material);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(KeyRingDocument))]
[JsonSerializable(typeof(StoredKeyRing))]
internal sealed partial class KeyRingJsonContext : JsonSerializerContext;
