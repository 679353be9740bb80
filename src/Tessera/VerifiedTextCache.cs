using System.Collections.Concurrent;

namespace Tessera;

/// <summary>
/// What checking a signed credential's text gave, remembered by that exact text, for credentials a client presents on
/// every request (the session cookie's token, an access token): the same text again skips the signature check. Only
/// texts that passed it are remembered, each with the key set (<see cref="SigningKeyRing.Keys"/>) that verified it, and an
/// entry counts only while the ring still holds that very set: replacing the keys makes every text be checked again.
/// Bounded: when full it is emptied and starts over. A size of 0 remembers nothing. Thread-safe.
/// </summary>
/// <typeparam name="T">What the check gave (the claims, the store hash).</typeparam>
/// <param name="size">How many texts at most; 0 turns the cache off.</param>
internal sealed class VerifiedTextCache<T>(int size)
{
    /// <summary>How many characters at the end of a text are hashed: a signed credential's text ends in its MAC.</summary>
    internal const int HashedTail = 32;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(TailComparer.Instance);
    private int _count;

    /// <summary>Whether the cache remembers anything at all (a size above 0).</summary>
    public bool Enabled => size > 0;

    /// <summary>How many texts are remembered now.</summary>
    public int Count => _entries.Count;

    /// <summary>What <paramref name="text"/> gave when the current key set <paramref name="ring"/> verified it.</summary>
    public bool TryGet(string text, IReadOnlyList<SigningKey> ring, out T value)
    {
        if (size > 0 && _entries.TryGetValue(text, out var entry) && ReferenceEquals(entry.Ring, ring))
        {
            value = entry.Value;
            return true;
        }
        value = default!;
        return false;
    }

    /// <summary>Remembers what <paramref name="text"/> gave, verified by <paramref name="ring"/> (read once, before the check).</summary>
    public void Remember(string text, IReadOnlyList<SigningKey> ring, T value)
    {
        if (size <= 0)
        {
            return;
        }
        if (Interlocked.Increment(ref _count) > size)
        {
            _entries.Clear();
            Volatile.Write(ref _count, 1);
        }
        _entries[text] = new Entry(ring, value);
    }

    private sealed record Entry(IReadOnlyList<SigningKey> Ring, T Value);

    // Hashed with the process's random seed (Marvin), never the non-randomized hash a Dictionary of strings starts with:
    // where a remembered text sits is unknowable, so no presented text can be aimed at it and timed against it. Only the
    // last HashedTail characters are hashed: they are the credential's MAC, and only verified texts are remembered, so
    // the texts that fill the table end in MACs no one without the key chooses. Those spread the table as well as the
    // whole text would, at a fixed cost whatever its length (hashing all of a 300-character access token was a tenth of
    // an authenticated request's own time). Equality still compares every character.
    private sealed class TailComparer : IEqualityComparer<string>
    {
        public static readonly TailComparer Instance = new();

        public bool Equals(string? x, string? y) => string.Equals(x, y, StringComparison.Ordinal);

        public int GetHashCode(string obj) => string.GetHashCode(obj.AsSpan(Math.Max(0, obj.Length - HashedTail)));
    }
}
