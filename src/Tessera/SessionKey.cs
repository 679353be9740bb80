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

    /// <summary>
    /// The principal an authentication handler signed in (claims, identities, authentication properties), as compact
    /// JSON the ASP.NET Core package writes and reads; the core only keeps it and counts it against the size limit.
    /// </summary>
    public const string PrincipalKey = ReservedPrefix + PrincipalName;

    /// <summary><see cref="PrincipalKey"/> after the reserved prefix, for <c>TesseraSession.TryGetReservedJson</c>.</summary>
    public const string PrincipalName = "principal";

    /// <summary>
    /// When the signed-in subject's sign-in ends, in Unix milliseconds, when it ends before the absolute deadline (an
    /// authentication's <c>ExpiresUtc</c>): the committer never lets the idle deadline pass it.
    /// </summary>
    public const string SignInEndsKey = "tessera:ends";
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
        // Every store keeps keys as text (a JSON object's names in PostgreSQL's jsonb, a Redis hash field, SQLite JSON):
        // a control character or half a surrogate pair is not text every one of them can keep, so refuse it here,
        // the same for every store, rather than fail at commit in one of them.
        for (var i = 0; i < key.Length; i++)
        {
            var c = key[i];
            if (char.IsControl(c))
            {
                throw new ArgumentException($"A session key must not contain control characters (found U+{(int)c:X4} at position {i}).", paramName);
            }
            if (char.IsSurrogate(c))
            {
                if (char.IsHighSurrogate(c) && i + 1 < key.Length && char.IsLowSurrogate(key[i + 1]))
                {
                    i++;
                    continue;
                }
                throw new ArgumentException($"A session key must be valid UTF-16 text (an unpaired surrogate at position {i}).", paramName);
            }
        }
    }

    /// <summary>
    /// Refuses a JSON value no store can keep as it is: one with an escaped NUL (<c>\u0000</c>) in a string, which
    /// PostgreSQL's jsonb rejects. (System.Text.Json already replaces unpaired surrogates, so every serialized value is
    /// otherwise valid UTF-8 JSON.)
    /// </summary>
    public static void ValidateValue(string json, string paramName = "value")
    {
        var i = json.IndexOf('\\', StringComparison.Ordinal);
        while (i >= 0 && i + 1 < json.Length)
        {
            if (json[i + 1] == 'u' && i + 6 <= json.Length && string.CompareOrdinal(json, i + 2, "0000", 0, 4) == 0)
            {
                throw new ArgumentException("A session value must not contain the NUL character (U+0000): PostgreSQL cannot store it, so no store accepts it.", paramName);
            }
            // Skip the escape (\uXXXX, or a two-character one such as an escaped backslash) before looking again.
            var next = i + (json[i + 1] == 'u' ? 6 : 2);
            i = next < json.Length ? json.IndexOf('\\', next) : -1;
        }
    }

    /// <summary>The size one entry counts against <see cref="TesseraOptions.MaxDataBytes"/>: its key and JSON value in UTF-8.</summary>
    public static long EntryBytes(string key, string json) => (long)System.Text.Encoding.UTF8.GetByteCount(key) + System.Text.Encoding.UTF8.GetByteCount(json);
}
