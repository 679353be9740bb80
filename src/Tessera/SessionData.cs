using System.Diagnostics.CodeAnalysis;

namespace Tessera;

/// <summary>
/// One request's data bag: the stored data as loaded, and this request's changes tracked per key (a JSON text set, or
/// <see langword="null"/> for a key removed), which become the commit's patch. Keys and values are already validated
/// JSON texts here; reading them as types is <see cref="TesseraSession"/>'s job. Reserved keys (flash, tabs) are keys
/// like any other.
/// </summary>
/// <remarks>
/// Also keeps the size of the visible data (keys and JSON values in UTF-8, flash values included) against
/// <see cref="TesseraOptions.MaxDataBytes"/>, counted once from the stored data on the first write and then per change,
/// so the limit costs nothing for a request that writes nothing. A change that would grow the data past the limit is
/// refused before it is made; shrinking is always allowed, even above a lowered limit.
/// <para>
/// A struct held in a field of <see cref="TesseraSession"/>, so a request's session costs no extra object; only that
/// field is ever changed, copies (the commit's) are only read.
/// </para>
/// </remarks>
internal struct SessionData(IReadOnlyDictionary<string, string>? stored, int? maxBytes)
{
    private Dictionary<string, string?>? _changes;
    private bool _cleared;
    private long _bytes = -1;

    /// <summary>Whether the commit must write data: a key set or removed, or everything cleared.</summary>
    public bool HasChanges => _changes is { Count: > 0 } || _cleared;

    /// <summary>Whether the stored data is dropped at commit.</summary>
    public bool Cleared => _cleared;

    /// <summary>Whether this request set or removed <paramref name="key"/>.</summary>
    public bool IsChanged(string key) => _changes is not null && _changes.ContainsKey(key);

    /// <summary>The value stored before this request, unless this request cleared the data.</summary>
    public bool TryGetStored(string key, [NotNullWhen(true)] out string? json)
    {
        json = null;
        return !_cleared && stored is not null && stored.TryGetValue(key, out json);
    }

    /// <summary>The value as this request sees it: its own change, else the stored one.</summary>
    public bool TryGetJson(string key, [NotNullWhen(true)] out string? json)
    {
        if (_changes is not null && _changes.TryGetValue(key, out var changed))
        {
            json = changed;
            return json is not null;
        }
        return TryGetStored(key, out json);
    }

    /// <summary>Every key as this request sees it, reserved ones included.</summary>
    public HashSet<string> Keys()
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        if (!_cleared && stored is not null)
        {
            keys.UnionWith(stored.Keys);
        }
        if (_changes is not null)
        {
            foreach (var (key, value) in _changes)
            {
                if (value is null)
                {
                    keys.Remove(key);
                }
                else
                {
                    keys.Add(key);
                }
            }
        }
        return keys;
    }

    /// <summary>Sets a key; writing back what is stored is not a change.</summary>
    /// <exception cref="SessionDataTooLargeException">The data would grow past the limit; nothing changed.</exception>
    public void Set(string key, string json)
    {
        TrackSize(key, json);
        if (TryGetStored(key, out var current) && string.Equals(current, json, StringComparison.Ordinal))
        {
            // Writing back what is stored is not a change: nothing to commit for this key.
            _changes?.Remove(key);
            return;
        }
        (_changes ??= new(StringComparer.Ordinal))[key] = json;
    }

    /// <summary>Removes a key; removing one that is not stored only drops this request's change.</summary>
    public void Remove(string key)
    {
        TrackSize(key, null);
        if (TryGetStored(key, out _))
        {
            (_changes ??= new(StringComparer.Ordinal))[key] = null;
        }
        else
        {
            _changes?.Remove(key);
        }
    }

    /// <summary>Removes every key; a clear of nothing stored only drops this request's changes.</summary>
    public void Clear()
    {
        if (stored is null || stored.Count == 0)
        {
            _changes?.Clear();
            _bytes = 0;
            return;
        }
        _cleared = true;
        (_changes ??= new(StringComparer.Ordinal)).Clear();
        _bytes = 0;
    }

    /// <summary>Whether this request set any value: a new session is created only for something to keep.</summary>
    public bool HasDataToKeep()
    {
        if (_changes is null)
        {
            return false;
        }
        foreach (var value in _changes.Values)
        {
            if (value is not null)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The data of a session created from this request: its values set.</summary>
    public Dictionary<string, string> NewData()
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        if (_changes is not null)
        {
            foreach (var (key, value) in _changes)
            {
                if (value is not null)
                {
                    data[key] = value;
                }
            }
        }
        return data;
    }

    /// <summary>This request's changes as a patch's keys set and keys removed.</summary>
    public (IReadOnlyDictionary<string, string> Set, IReadOnlyCollection<string> Removed) Changes()
    {
        Dictionary<string, string>? set = null;
        List<string>? removed = null;
        if (_changes is not null)
        {
            foreach (var (key, value) in _changes)
            {
                if (value is null)
                {
                    (removed ??= []).Add(key);
                }
                else
                {
                    (set ??= new(StringComparer.Ordinal))[key] = value;
                }
            }
        }
        return (set ?? SessionRecord.EmptyData, (IReadOnlyCollection<string>?)removed ?? []);
    }

    private void TrackSize(string key, string? json)
    {
        if (maxBytes is not { } limit)
        {
            return;
        }
        if (_bytes < 0)
        {
            _bytes = VisibleBytes();
        }
        var before = TryGetJson(key, out var old) ? SessionKeys.EntryBytes(key, old) : 0;
        var after = json is null ? 0 : SessionKeys.EntryBytes(key, json);
        var next = _bytes - before + after;
        if (after > before && next > limit)
        {
            throw new SessionDataTooLargeException(key, next, limit);
        }
        _bytes = next;
    }

    private long VisibleBytes()
    {
        long total = 0;
        if (!_cleared && stored is not null)
        {
            foreach (var (key, value) in stored)
            {
                if (_changes is null || !_changes.ContainsKey(key))
                {
                    total += SessionKeys.EntryBytes(key, value);
                }
            }
        }
        if (_changes is not null)
        {
            foreach (var (key, value) in _changes)
            {
                if (value is not null)
                {
                    total += SessionKeys.EntryBytes(key, value);
                }
            }
        }
        return total;
    }
}
