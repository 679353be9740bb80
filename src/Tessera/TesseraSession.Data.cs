using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Tessera;

// The data bag as an application sees it: typed values read and written as JSON, flash values, and the keys. The bag
// itself (stored data, per-key changes, size accounting) is SessionData; tabs are in TesseraSession.Tabs.cs.
public partial class TesseraSession
{
    /// <summary>The data keys currently visible (flash values excluded), in no particular order.</summary>
    public IReadOnlyCollection<string> Keys
    {
        get
        {
            var keys = StoredKeys();
            keys.RemoveWhere(k => k.StartsWith(SessionKeys.ReservedPrefix, StringComparison.Ordinal));
            return keys;
        }
    }

    /// <summary>Whether a visible key exists.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when the key has a value.</returns>
    public bool ContainsKey(string key)
    {
        SessionKeys.Validate(key);
        return TryGetJson(key, out _);
    }

    /// <summary>
    /// Reads a value. A missing key gives <see langword="default"/>; so does a value that no longer deserializes as
    /// <typeparamref name="T"/> (say, after an app upgrade), which also logs a warning naming the key, never the value.
    /// </summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The key.</param>
    /// <returns>The value or <see langword="default"/>.</returns>
    public T? Get<T>(string key)
    {
        SessionKeys.Validate(key);
        return TryRead<T>(key, out var value) ? value : default;
    }

    /// <summary>Reads a value through a typed key; see <see cref="Get{T}(string)"/>.</summary>
    /// <typeparam name="T">The key's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <returns>The value or <see langword="default"/>.</returns>
    public T? Get<T>(SessionKey<T> key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return TryRead<T>(key.Name, out var value) ? value : default;
    }

    /// <summary>Reads a value, telling a missing or unreadable value apart from a stored default.</summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value when found and readable.</param>
    /// <returns><see langword="true"/> when the key exists and deserializes as <typeparamref name="T"/>.</returns>
    public bool TryGet<T>(string key, [MaybeNullWhen(false)] out T value)
    {
        SessionKeys.Validate(key);
        return TryRead(key, out value);
    }

    /// <summary>Sets a value; committed with the other changes of this request. Setting <see langword="null"/> stores JSON null.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key: 1 to 256 characters, not starting with <c>tessera:</c>.</param>
    /// <param name="value">The value, serialized now with the configured JSON options.</param>
    /// <exception cref="InvalidOperationException">The session was already committed.</exception>
    /// <exception cref="ArgumentException">
    /// The key is empty, longer than 256 characters, reserved, or holds a control character or an unpaired surrogate;
    /// or the value's JSON holds a NUL character (no store can keep those).
    /// </exception>
    /// <exception cref="SessionDataTooLargeException">The session's data would exceed <see cref="TesseraOptions.MaxDataBytes"/>; the value is not set.</exception>
    /// <exception cref="SessionStoreUnavailableException">The store failed when this session was loaded (<see cref="IsStoreUnavailable"/>).</exception>
    public void Set<T>(string key, T value)
    {
        SessionKeys.Validate(key);
        SetJson(key, Serialize(value));
    }

    /// <summary>Sets a value through a typed key; see <see cref="Set{T}(string, T)"/>.</summary>
    /// <typeparam name="T">The key's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void Set<T>(SessionKey<T> key, T value)
    {
        ArgumentNullException.ThrowIfNull(key);
        SetJson(key.Name, Serialize(value));
    }

    /// <summary>Removes a key; removing a missing key is a no-op that writes nothing.</summary>
    /// <param name="key">The key.</param>
    public void Remove(string key)
    {
        SessionKeys.Validate(key);
        RemoveKey(key);
    }

    /// <summary>Removes a typed key; see <see cref="Remove(string)"/>.</summary>
    /// <typeparam name="T">The key's type.</typeparam>
    /// <param name="key">The key.</param>
    public void Remove<T>(SessionKey<T> key)
    {
        ArgumentNullException.ThrowIfNull(key);
        RemoveKey(key.Name);
    }

    /// <summary>Removes every key, flash values included. The subject and the credential stay.</summary>
    public void Clear()
    {
        EnsureWritable();
        _data.Clear();
    }

    /// <summary>
    /// Sets a flash value: readable once, by a later request (reading it removes it); not visible to the request that set it.
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The flash key.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="SessionDataTooLargeException">The session's data would exceed <see cref="TesseraOptions.MaxDataBytes"/>; the value is not set.</exception>
    public void SetFlash<T>(string key, T value)
    {
        SessionKeys.Validate(key);
        SetJson(SessionKeys.FlashPrefix + key, Serialize(value));
    }

    /// <summary>Reads and removes a flash value set by an earlier request.</summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The flash key.</param>
    /// <returns>The value, or <see langword="default"/> when none is waiting (or it was already read).</returns>
    public T? GetFlash<T>(string key)
    {
        SessionKeys.Validate(key);
        EnsureLoaded();
        var stored = SessionKeys.FlashPrefix + key;
        if (!_data.TryGetStored(stored, out var json))
        {
            return default;
        }
        // Tracked apart from the bag: once the flash is set again during this request, the bag holds the new value
        // and can no longer tell that the earlier one was already read.
        if (_flashesRead is not null && _flashesRead.Contains(stored))
        {
            return default; // already read during this request
        }
        var changedHere = _data.IsChanged(stored);
        var value = Deserialize<T>(stored, json, out _);
        if (!changedHere)
        {
            RemoveKey(stored); // a flash set again during this request stays for the next one
        }
        (_flashesRead ??= new(StringComparer.Ordinal)).Add(stored);
        return value;
    }

    /// <summary>Reads a flash value without consuming it: an earlier request's, or one set during this request.</summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The flash key.</param>
    /// <returns>The value, or <see langword="default"/>.</returns>
    public T? PeekFlash<T>(string key)
    {
        SessionKeys.Validate(key);
        return TryRead<T>(SessionKeys.FlashPrefix + key, out var value) ? value : default;
    }

    private bool TryRead<T>(string key, [MaybeNullWhen(false)] out T value)
    {
        if (!TryGetJson(key, out var json))
        {
            value = default;
            return false;
        }
        value = Deserialize<T>(key, json, out var ok)!;
        return ok;
    }

    private T? Deserialize<T>(string key, string json, out bool ok)
    {
        try
        {
            ok = true;
            return JsonSerializer.Deserialize<T>(json, _manager.Options.JsonSerializerOptions);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            Log.ValueUnreadable(_manager.Logger, key, Log.Ref(_record?.Id), typeof(T).Name, e);
            ok = false;
            return default;
        }
    }

    // Every key the session holds as this request sees it, reserved ones (flash, tabs) included.
    private HashSet<string> StoredKeys()
    {
        EnsureLoaded();
        return _data.Keys();
    }

    private bool TryGetJson(string key, [NotNullWhen(true)] out string? json)
    {
        EnsureLoaded();
        return _data.TryGetJson(key, out json);
    }

    private void SetJson(string key, string json)
    {
        EnsureWritable();
        _data.Set(key, json);
    }

    private void RemoveKey(string key)
    {
        EnsureWritable();
        _data.Remove(key);
    }

    private string Serialize<T>(T value)
    {
        var json = JsonSerializer.Serialize(value, _manager.Options.JsonSerializerOptions);
        SessionKeys.ValidateValue(json, nameof(value));
        return json;
    }
}
