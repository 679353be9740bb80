using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Tessera;

/// <summary>
/// Session data as the memory store keeps it: read-only, so one instance is shared by the stored session and every
/// record handed out, and small. Up to <see cref="MaxLinear"/> entries live in one array searched linearly (a one-key
/// session's data costs 64 bytes instead of a dictionary's 216); larger data is a private ordinal dictionary.
/// </summary>
/// <remarks>
/// Keys compare ordinally, like every store's. Nothing outside this class can reach the array or the dictionary, so
/// a caller cannot change a stored session through a record it was given (a shared mutable dictionary could be cast back).
/// </remarks>
internal sealed class CompactSessionData : IReadOnlyDictionary<string, string>
{
    /// <summary>The most entries kept in the linear array; above it lookups go through a dictionary.</summary>
    internal const int MaxLinear = 8;

    // A KeyValuePair<string, string>[] of at most MaxLinear entries, or a Dictionary<string, string> of more: one field,
    // not two, because every stored session with data pays for this object.
    private readonly object _entries;

    private CompactSessionData(KeyValuePair<string, string>[] pairs) => _entries = pairs;

    private CompactSessionData(Dictionary<string, string> map) => _entries = map;

    /// <summary>
    /// Data the store can keep: <paramref name="source"/> itself when it is already compact (it is immutable),
    /// <see cref="SessionRecord.EmptyData"/> when empty, otherwise a compact copy.
    /// </summary>
    /// <exception cref="ArgumentException">The source enumerates one key twice (only a broken dictionary does).</exception>
    public static IReadOnlyDictionary<string, string> From(IReadOnlyDictionary<string, string> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source is CompactSessionData)
        {
            return source;
        }
        var count = source.Count;
        if (count == 0)
        {
            return SessionRecord.EmptyData;
        }
        if (count > MaxLinear)
        {
            return Compact(new Dictionary<string, string>(source, StringComparer.Ordinal));
        }
        var pairs = new KeyValuePair<string, string>[count];
        var n = 0;
        foreach (var pair in source)
        {
            ArgumentNullException.ThrowIfNull(pair.Key, "key");
            if (n == pairs.Length || IndexOf(pairs.AsSpan(0, n), pair.Key) >= 0)
            {
                throw new ArgumentException("The session data enumerated a key twice or more entries than its Count.", nameof(source));
            }
            pairs[n++] = pair;
        }
        return n == 0 ? SessionRecord.EmptyData : new CompactSessionData(n == pairs.Length ? pairs : pairs[..n]);
    }

    /// <summary>
    /// The data after <paramref name="patch"/>: clear (when asked), then remove, then set. <paramref name="current"/>
    /// itself when the patch does not change data. <paramref name="current"/> is never modified.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Apply(IReadOnlyDictionary<string, string> current, SessionPatch patch)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(patch);
        if (!patch.ChangesData)
        {
            return current;
        }
        var start = patch.ClearData ? SessionRecord.EmptyData : current;
        var set = patch.Set;
        if (start.Count + set.Count <= MaxLinear)
        {
            return ApplyLinear(start, patch);
        }
        var map = Copy(start, set.Count);
        foreach (var key in patch.Removed)
        {
            map.Remove(key);
        }
        foreach (var (key, value) in set)
        {
            map[key] = value;
        }
        return Compact(map);
    }

    /// <inheritdoc />
    public int Count => _entries is KeyValuePair<string, string>[] pairs ? pairs.Length : Map.Count;

    /// <inheritdoc />
    public IEnumerable<string> Keys => _entries is KeyValuePair<string, string>[] pairs ? pairs.Select(p => p.Key) : Map.Keys;

    /// <inheritdoc />
    public IEnumerable<string> Values => _entries is KeyValuePair<string, string>[] pairs ? pairs.Select(p => p.Value) : Map.Values;

    /// <inheritdoc />
    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The session data has no key '{key}'.");

    /// <inheritdoc />
    public bool ContainsKey(string key) => TryGetValue(key, out _);

    /// <inheritdoc />
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_entries is KeyValuePair<string, string>[] pairs)
        {
            var index = IndexOf(pairs, key);
            value = index >= 0 ? pairs[index].Value : null;
            return index >= 0;
        }
        return Map.TryGetValue(key, out value);
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() =>
        _entries is KeyValuePair<string, string>[] pairs ? ((IEnumerable<KeyValuePair<string, string>>)pairs).GetEnumerator() : Map.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private Dictionary<string, string> Map => (Dictionary<string, string>)_entries;

    // At most MaxLinear entries are in play, so they are worked on in a buffer on the stack and copied once, exactly sized.
    private static IReadOnlyDictionary<string, string> ApplyLinear(IReadOnlyDictionary<string, string> start, SessionPatch patch)
    {
        var buffer = default(LinearBuffer);
        Span<KeyValuePair<string, string>> pairs = buffer;
        var n = 0;
        foreach (var pair in start)
        {
            pairs[n++] = pair;
        }
        foreach (var key in patch.Removed)
        {
            var index = IndexOf(pairs[..n], key);
            if (index >= 0)
            {
                pairs[(index + 1)..n].CopyTo(pairs[index..]);
                n--;
            }
        }
        foreach (var pair in patch.Set)
        {
            ArgumentNullException.ThrowIfNull(pair.Key, "key");
            var index = IndexOf(pairs[..n], pair.Key);
            pairs[index >= 0 ? index : n++] = pair;
        }
        return n == 0 ? SessionRecord.EmptyData : new CompactSessionData(pairs[..n].ToArray());
    }

    // Sized once: copying an IReadOnlyDictionary entry by entry would grow the table three or four times on the way.
    private static Dictionary<string, string> Copy(IReadOnlyDictionary<string, string> source, int room)
    {
        if (source is CompactSessionData { _entries: Dictionary<string, string> own })
        {
            return new Dictionary<string, string>(own, StringComparer.Ordinal);
        }
        var map = new Dictionary<string, string>(source.Count + room, StringComparer.Ordinal);
        foreach (var (key, value) in source)
        {
            map[key] = value;
        }
        return map;
    }

    private static IReadOnlyDictionary<string, string> Compact(Dictionary<string, string> map) => map.Count switch
    {
        0 => SessionRecord.EmptyData,
        <= MaxLinear => new CompactSessionData([.. map]),
        _ => new CompactSessionData(map),
    };

    private static int IndexOf(ReadOnlySpan<KeyValuePair<string, string>> pairs, string key)
    {
        for (var i = 0; i < pairs.Length; i++)
        {
            if (string.Equals(pairs[i].Key, key, StringComparison.Ordinal))
            {
                return i;
            }
        }
        return -1;
    }

    [InlineArray(MaxLinear)]
    private struct LinearBuffer
    {
        private KeyValuePair<string, string> _first;
    }
}
