namespace Tessera;

/// <summary>
/// A typed session key, so a cart is read as the type it was written as: declare once
/// (<c>static readonly SessionKey&lt;List&lt;string&gt;&gt; Cart = new("cart");</c>) and use everywhere.
/// </summary>
/// <typeparam name="T">The value's type; serialized with the configured JSON options.</typeparam>
public sealed class SessionKey<T>
{
    /// <summary>Creates a key.</summary>
    /// <param name="name">The key's name: not empty, at most 256 characters, not starting with the reserved <c>tessera:</c> prefix.</param>
    /// <exception cref="ArgumentException">The name is not allowed.</exception>
    public SessionKey(string name)
    {
        SessionKeys.Validate(name);
        Name = name;
    }

    /// <summary>The key's name as stored.</summary>
    public string Name { get; }

    /// <summary>Returns the key's name.</summary>
    /// <returns>The name.</returns>
    public override string ToString() => Name;
}

internal static class SessionKeys
{
    public const string ReservedPrefix = "tessera:";
    public const string FlashPrefix = "tessera:flash:";
    public const int MaxKeyLength = 256;

    public static void Validate(string key, string paramName = "key")
    {
        ArgumentNullException.ThrowIfNull(key, paramName);
        if (key.Length == 0 || key.Length > MaxKeyLength)
        {
            throw new ArgumentException($"A session key must be 1 to {MaxKeyLength} characters long.", paramName);
        }
        if (key.StartsWith(ReservedPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Session keys starting with '{ReservedPrefix}' are reserved for Tessera.", paramName);
        }
    }
}
