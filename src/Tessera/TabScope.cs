using System.Diagnostics.CodeAnalysis;

namespace Tessera;

/// <summary>
/// The data of one browser tab inside a session, from <see cref="TesseraSession.FindTab"/>: the same reads and writes
/// as the session's own, over keys that belong to this tab alone, so two tabs of one browser keep two carts. Writes are
/// change-tracked and committed with the rest of the session, per key, and count against
/// <see cref="TesseraOptions.MaxDataBytes"/> (the stored name of a tab key adds about 36 bytes to the key).
/// </summary>
/// <remarks>
/// A view, valid for the request that opened it: it holds nothing itself. Keys follow the session's rules (1 to 256
/// characters, no control characters, not starting with <c>tessera:</c>); a tab key and a session key of the same name
/// are two different values. When the tab is closed or evicted later in the same request, reads find nothing and writes
/// throw <see cref="InvalidOperationException"/>.
/// </remarks>
public sealed class TabScope
{
    private readonly TesseraSession _session;

    internal TabScope(TesseraSession session, string id)
    {
        _session = session;
        Id = id;
    }

    /// <summary>The tab id (22 base64url characters), as issued by <see cref="TesseraSession.IssueTab"/>.</summary>
    public string Id { get; }

    /// <summary>Whether the tab is still open: <see langword="false"/> once closed or evicted during this request.</summary>
    public bool IsOpen => _session.IsTabOpen(Id);

    /// <summary>The tab's keys, in no particular order; empty for a closed tab.</summary>
    public IReadOnlyCollection<string> Keys => _session.TabKeys(Id);

    /// <summary>Whether the tab holds a value under a key.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when the key has a value.</returns>
    /// <exception cref="ArgumentException">The key is not allowed (see the remarks).</exception>
    public bool ContainsKey(string key)
    {
        SessionKeys.Validate(key);
        return _session.HasTabValue(Id, key);
    }

    /// <summary>
    /// Reads a value: <see langword="default"/> when missing, or when it no longer deserializes as
    /// <typeparamref name="T"/> (logged with the key's name, never the value or the tab id).
    /// </summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The key.</param>
    /// <returns>The value or <see langword="default"/>.</returns>
    /// <exception cref="ArgumentException">The key is not allowed.</exception>
    public T? Get<T>(string key)
    {
        SessionKeys.Validate(key);
        return _session.TryReadTab<T>(Id, key, out var value) ? value : default;
    }

    /// <summary>Reads a value through a typed key; see <see cref="Get{T}(string)"/>.</summary>
    /// <typeparam name="T">The key's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <returns>The value or <see langword="default"/>.</returns>
    public T? Get<T>(SessionKey<T> key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _session.TryReadTab<T>(Id, key.Name, out var value) ? value : default;
    }

    /// <summary>Reads a value, telling a missing or unreadable value apart from a stored default.</summary>
    /// <typeparam name="T">The type to read as.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value when found and readable.</param>
    /// <returns><see langword="true"/> when the key exists and deserializes as <typeparamref name="T"/>.</returns>
    /// <exception cref="ArgumentException">The key is not allowed.</exception>
    public bool TryGet<T>(string key, [MaybeNullWhen(false)] out T value)
    {
        SessionKeys.Validate(key);
        return _session.TryReadTab(Id, key, out value);
    }

    /// <summary>Sets a value in this tab; committed with the session's other changes.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value, serialized now with the configured JSON options.</param>
    /// <exception cref="ArgumentException">The key is not allowed, or the value's JSON holds a NUL character.</exception>
    /// <exception cref="InvalidOperationException">The session was already committed, or the tab was closed or evicted during this request.</exception>
    /// <exception cref="SessionDataTooLargeException">The session's data would exceed <see cref="TesseraOptions.MaxDataBytes"/>; the value is not set.</exception>
    /// <exception cref="SessionStoreUnavailableException">The store failed when the session was loaded.</exception>
    public void Set<T>(string key, T value)
    {
        SessionKeys.Validate(key);
        _session.SetTabValue(Id, key, value);
    }

    /// <summary>Sets a value through a typed key; see <see cref="Set{T}(string, T)"/>.</summary>
    /// <typeparam name="T">The key's type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void Set<T>(SessionKey<T> key, T value)
    {
        ArgumentNullException.ThrowIfNull(key);
        _session.SetTabValue(Id, key.Name, value);
    }

    /// <summary>Removes a value from this tab; removing a missing key does nothing.</summary>
    /// <param name="key">The key.</param>
    /// <exception cref="ArgumentException">The key is not allowed.</exception>
    /// <exception cref="InvalidOperationException">The session was already committed, or the tab was closed or evicted during this request.</exception>
    public void Remove(string key)
    {
        SessionKeys.Validate(key);
        _session.RemoveTabValue(Id, key);
    }

    /// <summary>Removes a typed key's value from this tab; see <see cref="Remove(string)"/>.</summary>
    /// <typeparam name="T">The key's type.</typeparam>
    /// <param name="key">The key.</param>
    public void Remove<T>(SessionKey<T> key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _session.RemoveTabValue(Id, key.Name);
    }

    /// <summary>Removes every value of this tab; the tab stays open, and the session's own data and other tabs stay.</summary>
    /// <exception cref="InvalidOperationException">The session was already committed, or the tab was closed or evicted during this request.</exception>
    public void Clear() => _session.ClearTab(Id);

    /// <summary>Describes the scope without its id.</summary>
    /// <returns>A description.</returns>
    public override string ToString() => "TabScope";
}
