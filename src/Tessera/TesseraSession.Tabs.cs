using System.Security.Cryptography;
using System.Text.Json;

namespace Tessera;

// Per-tab scopes. A tab is two kinds of reserved keys in the session's own data, so every store keeps tabs without
// knowing about them, and tab data is change-tracked, committed and counted against MaxDataBytes like any other key:
//   tessera:tabs:<id>       the tab's mark, [issued, last used] in Unix milliseconds: the session issued <id>
//   tessera:tab:<id>:<key>  one value of the tab's data
// Two requests in two tabs write different keys, so both survive, as two requests writing two session keys do.
public partial class TesseraSession
{
    private const string TabMarkPrefix = SessionKeys.ReservedPrefix + "tabs:";
    private const string TabDataPrefix = SessionKeys.ReservedPrefix + "tab:";

    /// <summary>The length of a tab id: 16 random bytes in base64url, 22 characters.</summary>
    private const int TabIdLength = 22;

    /// <summary>
    /// Issues a new tab id for this session: 128 random bits in base64url (22 characters, safe in a header, a URL path
    /// or a query string), recorded in the session at commit. The page keeps it (say, in <c>sessionStorage</c>, which
    /// is per tab) and sends it back with each request; <see cref="FindTab"/> then opens the tab's scope.
    /// </summary>
    /// <remarks>
    /// A session keeps at most <see cref="TesseraTabOptions.MaxTabsPerSession"/> tabs (default 10): issuing one more
    /// first closes the least recently used, and its data goes with it. "Used" is recorded by <see cref="FindTab"/> at
    /// most once per <see cref="TesseraOptions.TouchInterval"/>, so tabs used within the same interval are ordered by
    /// when they were issued. Two requests issuing tabs at the same time may leave the session one tab over the bound
    /// each until the next issue trims it. Issuing also drops data left behind by a tab that was closed while another
    /// request was writing to it. Tabs live in the session: <see cref="Clear"/>, a sign-in as another subject and
    /// <see cref="Destroy"/> drop them all; <see cref="Regenerate"/> and a sign-in from anonymous keep them.
    /// </remarks>
    /// <returns>The tab id. Not a credential: without the session's own credential it opens nothing.</returns>
    /// <exception cref="InvalidOperationException">The session was already committed.</exception>
    /// <exception cref="SessionDataTooLargeException">
    /// The tab's mark (about 60 bytes) would take the data over <see cref="TesseraOptions.MaxDataBytes"/>; tabs closed to
    /// make room stay closed.
    /// </exception>
    /// <exception cref="SessionStoreUnavailableException">The store failed when this session was loaded.</exception>
    public string IssueTab()
    {
        EnsureWritable();
        var tabs = ReadTabs(out var orphans);
        foreach (var key in orphans)
        {
            RemoveKey(key);
        }
        var room = _manager.Options.Tabs.MaxTabsPerSession - 1;
        foreach (var tab in tabs.Take(Math.Max(0, tabs.Count - room)))
        {
            DropTab(tab.Id);
        }
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        var id = Base64UrlText.Encode(bytes);
        var now = _manager.Now().ToUnixTimeMilliseconds();
        SetJson(TabMarkPrefix + id, TabMark(now, now));
        return id;
    }

    /// <summary>
    /// Opens the scope of a tab this session issued, or returns <see langword="null"/> for any other id: absent, empty,
    /// malformed, guessed, issued by another session, closed, or evicted. Never throws for a bad id, so a request's
    /// header or query value can be passed as it is; the page answers <see langword="null"/> by asking for a new tab.
    /// Records the tab as used (a write at commit) when it was last recorded <see cref="TesseraOptions.TouchInterval"/>
    /// or longer ago, and not after the session is committed.
    /// </summary>
    /// <param name="tabId">The id the request carried, or <see langword="null"/>.</param>
    /// <returns>The tab's scope, or <see langword="null"/> when this session did not issue <paramref name="tabId"/>.</returns>
    public TabScope? FindTab(string? tabId)
    {
        if (!IsWellFormedTabId(tabId) || !TryGetJson(TabMarkPrefix + tabId, out var mark))
        {
            return null;
        }
        var (issued, used) = ParseTabMark(mark);
        var now = _manager.Now().ToUnixTimeMilliseconds();
        if (_committed is null && _loadFailure is null && now - used >= (long)_manager.Options.TouchInterval.TotalMilliseconds)
        {
            SetJson(TabMarkPrefix + tabId, TabMark(issued, now));
        }
        return new TabScope(this, tabId!);
    }

    /// <summary>
    /// Closes a tab: its id is no longer honoured and its data is removed, at commit. Returns <see langword="false"/>
    /// (and changes nothing) for an id this session does not hold.
    /// </summary>
    /// <param name="tabId">The tab id, or <see langword="null"/>.</param>
    /// <returns>Whether the tab existed.</returns>
    /// <exception cref="InvalidOperationException">The session was already committed.</exception>
    /// <exception cref="SessionStoreUnavailableException">The store failed when this session was loaded.</exception>
    public bool CloseTab(string? tabId)
    {
        if (!IsWellFormedTabId(tabId) || !TryGetJson(TabMarkPrefix + tabId, out _))
        {
            return false;
        }
        EnsureWritable();
        DropTab(tabId!);
        return true;
    }

    /// <summary>The ids of the session's tabs, the most recently used first; empty for a new session.</summary>
    public IReadOnlyList<string> TabIds
    {
        get
        {
            var tabs = ReadTabs(out _);
            tabs.Reverse();
            return tabs.ConvertAll(t => t.Id);
        }
    }

    /// <summary>Whether the tab is still open in this request (not closed or evicted).</summary>
    internal bool IsTabOpen(string tabId) => TryGetJson(TabMarkPrefix + tabId, out _);

    /// <summary>The stored key of a tab's value.</summary>
    internal static string TabDataKey(string tabId, string key) => string.Concat(TabDataPrefix, tabId, ":", key);

    /// <summary>Reads a tab's value; a value that no longer deserializes logs its key (never the tab id) and reads as missing.</summary>
    internal bool TryReadTab<T>(string tabId, string key, out T? value)
    {
        if (!TryGetJson(TabDataKey(tabId, key), out var json))
        {
            value = default;
            return false;
        }
        value = Deserialize<T>(key, json, out var ok);
        return ok;
    }

    /// <summary>Sets a tab's value, counted against the data limit under the tab key's name, never the tab id.</summary>
    internal void SetTabValue<T>(string tabId, string key, T value)
    {
        EnsureWritable();
        ThrowIfTabClosed(tabId);
        var json = Serialize(value);
        try
        {
            SetJson(TabDataKey(tabId, key), json);
        }
        catch (SessionDataTooLargeException e)
        {
            throw new SessionDataTooLargeException("tab:" + key, e.Size, e.Limit);
        }
    }

    /// <summary>Removes a tab's value.</summary>
    internal void RemoveTabValue(string tabId, string key)
    {
        EnsureWritable();
        ThrowIfTabClosed(tabId);
        RemoveKey(TabDataKey(tabId, key));
    }

    /// <summary>Whether a tab holds a value under a key.</summary>
    internal bool HasTabValue(string tabId, string key) => TryGetJson(TabDataKey(tabId, key), out _);

    /// <summary>Removes every value of a tab, keeping the tab open.</summary>
    internal void ClearTab(string tabId)
    {
        EnsureWritable();
        ThrowIfTabClosed(tabId);
        foreach (var key in TabKeys(tabId, stored: true))
        {
            RemoveKey(key);
        }
    }

    /// <summary>The tab's keys (as the application named them), or, with <paramref name="stored"/>, their stored names.</summary>
    internal List<string> TabKeys(string tabId, bool stored = false)
    {
        var prefix = TabDataKey(tabId, string.Empty);
        var keys = new List<string>();
        foreach (var key in StoredKeys())
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                keys.Add(stored ? key : key[prefix.Length..]);
            }
        }
        return keys;
    }

    private void ThrowIfTabClosed(string tabId)
    {
        if (!IsTabOpen(tabId))
        {
            throw new InvalidOperationException("This tab was closed or evicted during this request: ask the session for a new tab (IssueTab).");
        }
    }

    private void DropTab(string tabId)
    {
        ClearTab(tabId);
        RemoveKey(TabMarkPrefix + tabId);
    }

    /// <summary>
    /// The session's tabs, least recently used first (ties: issued first, then by id), and the stored keys of data whose
    /// tab has no mark (left by a write that raced the tab's closing).
    /// </summary>
    private List<(string Id, long Issued, long Used)> ReadTabs(out List<string> orphans)
    {
        var keys = StoredKeys();
        var tabs = new List<(string Id, long Issued, long Used)>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (key.StartsWith(TabMarkPrefix, StringComparison.Ordinal) && TryGetJson(key, out var mark))
            {
                var id = key[TabMarkPrefix.Length..];
                var (issued, used) = ParseTabMark(mark);
                tabs.Add((id, issued, used));
                ids.Add(id);
            }
        }
        orphans = [];
        foreach (var key in keys)
        {
            if (key.StartsWith(TabDataPrefix, StringComparison.Ordinal)
                && (key.Length <= TabDataPrefix.Length + TabIdLength || !ids.Contains(key.Substring(TabDataPrefix.Length, TabIdLength))))
            {
                orphans.Add(key);
            }
        }
        tabs.Sort((a, b) => a.Used != b.Used ? a.Used.CompareTo(b.Used)
            : a.Issued != b.Issued ? a.Issued.CompareTo(b.Issued)
            : string.CompareOrdinal(a.Id, b.Id));
        return tabs;
    }

    private static string TabMark(long issued, long used) => $"[{issued},{used}]";

    // A mark that does not parse (written by hand, say) reads as issued and used at 0: the first to be evicted.
    private static (long Issued, long Used) ParseTabMark(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<long[]>(json) is [var issued, var used] ? (issued, used) : (0, 0);
        }
        catch (JsonException)
        {
            return (0, 0);
        }
    }

    private static bool IsWellFormedTabId(string? tabId)
    {
        if (tabId is null || tabId.Length != TabIdLength)
        {
            return false;
        }
        foreach (var c in tabId)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
            {
                return false;
            }
        }
        return true;
    }
}
