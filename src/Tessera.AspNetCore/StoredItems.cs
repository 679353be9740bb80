using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Tessera.AspNetCore;

// AuthenticationProperties.Items of a principal read from its session: the request reads the items its parse keeps
// (shared by every request of the session, never changed) until something writes, and from the first write on it has a
// dictionary of its own, made from them. What a request asks of its properties (IssuedUtc, ExpiresUtc, IsPersistent:
// TryGetValue) then costs no dictionary, where copying the items for every request cost three objects and a hash of
// every key. Behaves as Dictionary<string, string?> with the ordinal comparer made from the stored items does.
internal sealed class StoredItems(KeyValuePair<string, string?>[] stored) : IDictionary<string, string?>, IReadOnlyDictionary<string, string?>
{
    private Dictionary<string, string?>? _own;

    // Anything that writes, enumerates or hands out a view that must follow writes (Keys, Values) works on the request's
    // own copy, so those behave exactly as the dictionary's (a write during an enumeration fails it, say).
    private Dictionary<string, string?> Own => _own ??= new Dictionary<string, string?>(stored, StringComparer.Ordinal);

    public int Count => _own?.Count ?? stored.Length;

    public bool IsReadOnly => false;

    public ICollection<string> Keys => Own.Keys;

    public ICollection<string?> Values => Own.Values;

    IEnumerable<string> IReadOnlyDictionary<string, string?>.Keys => Own.Keys;

    IEnumerable<string?> IReadOnlyDictionary<string, string?>.Values => Own.Values;

    public string? this[string key]
    {
        get => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The given key '{key}' was not present in the dictionary.");
        set => Own[key] = value;
    }

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_own is { } own)
        {
            return own.TryGetValue(key, out value);
        }
        foreach (var (storedKey, storedValue) in stored)
        {
            if (string.Equals(storedKey, key, StringComparison.Ordinal))
            {
                value = storedValue;
                return true;
            }
        }
        value = null;
        return false;
    }

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public void Add(string key, string? value) => Own.Add(key, value);

    public bool Remove(string key) => Own.Remove(key);

    public void Clear()
    {
        if (_own is { } own)
        {
            own.Clear();
        }
        else
        {
            _own = new Dictionary<string, string?>(StringComparer.Ordinal);
        }
    }

    void ICollection<KeyValuePair<string, string?>>.Add(KeyValuePair<string, string?> item) =>
        ((ICollection<KeyValuePair<string, string?>>)Own).Add(item);

    bool ICollection<KeyValuePair<string, string?>>.Contains(KeyValuePair<string, string?> item) =>
        TryGetValue(item.Key, out var value) && EqualityComparer<string?>.Default.Equals(value, item.Value);

    void ICollection<KeyValuePair<string, string?>>.CopyTo(KeyValuePair<string, string?>[] array, int arrayIndex) =>
        ((ICollection<KeyValuePair<string, string?>>)Own).CopyTo(array, arrayIndex);

    bool ICollection<KeyValuePair<string, string?>>.Remove(KeyValuePair<string, string?> item) =>
        ((ICollection<KeyValuePair<string, string?>>)Own).Remove(item);

    public IEnumerator<KeyValuePair<string, string?>> GetEnumerator() => Own.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
