using System.Globalization;

namespace Tessera.AspNetCore.CookieStore;

/// <summary>
/// The write versions of one cookie session, as its revocation-list entry records them, and the rule that refuses a
/// replayed older cookie set: every cookie write seals a new version, and once a write starting from version
/// <c>b</c> is committed, every cookie set at or below <c>b</c> is replaced; a replaced set still loads for the grace
/// window after it was first replaced (requests that were already in flight with it), then never again.
/// </summary>
/// <remarks>
/// <para>
/// Each fact is its own data key of the entry, named by its number, so that concurrent writes, which the store applies
/// as per-key patches, never overwrite each other's facts and every maximum only grows (no compare-and-swap needed):
/// <c>v.&lt;n&gt;</c>, a version issued; <c>r.&lt;b&gt;</c>, the Unix milliseconds at which a write starting from
/// <c>b</c> first replaced it; <c>d.&lt;x&gt;</c>, every version up to <c>x</c> is past its grace window. A write
/// removes only keys below a maximum it sets or keeps, so no maximum can shrink.
/// </para>
/// <para>
/// A new version is one above everything the entry knows (read at the write, not at the request's load), so a slow
/// request that commits after quicker ones still hands out the newest version: a browser keeping the
/// <c>Set-Cookie</c> that arrives last keeps a version that no committed write has replaced, whichever request it came
/// from.
/// </para>
/// </remarks>
internal sealed class CookieVersionLedger
{
    /// <summary>Grace entries kept at most: beyond this many writes within one grace window, the oldest end early.</summary>
    public const int MaxReplaced = 16;

    private const string IssuedPrefix = "v.";
    private const string ReplacedPrefix = "r.";
    private const string DeadPrefix = "d.";
    private const string Marker = "0";

    private readonly List<(long Version, string Key)> _issued = [];
    private readonly List<(long Version, long At, string Key)> _replaced = [];
    private readonly List<(long Version, string Key)> _dead = [];

    private CookieVersionLedger()
    {
    }

    /// <summary>The ledger in an entry's data; an absent entry (<see langword="null"/>) is an empty ledger.</summary>
    public static CookieVersionLedger Read(IReadOnlyDictionary<string, string>? data)
    {
        var ledger = new CookieVersionLedger();
        if (data is null)
        {
            return ledger;
        }
        foreach (var (key, json) in data)
        {
            if (TryNumber(key, IssuedPrefix, out var issued))
            {
                ledger._issued.Add((issued, key));
            }
            else if (TryNumber(key, ReplacedPrefix, out var replaced))
            {
                // An unreadable time counts as replaced long ago: a damaged entry errs on refusing.
                ledger._replaced.Add((replaced, long.TryParse(json, NumberStyles.None, CultureInfo.InvariantCulture, out var at) ? at : 0, key));
            }
            else if (TryNumber(key, DeadPrefix, out var dead))
            {
                ledger._dead.Add((dead, key));
            }
        }
        return ledger;
    }

    /// <summary>
    /// Whether a cookie set sealed with <paramref name="version"/> may load at <paramref name="now"/>: it was never
    /// replaced, or was first replaced less than <paramref name="grace"/> ago.
    /// </summary>
    public bool Allows(long version, DateTimeOffset now, TimeSpan grace)
    {
        if (version <= DeadUpTo)
        {
            return false;
        }
        var replacedAt = long.MaxValue;
        foreach (var (replaced, at, _) in _replaced)
        {
            if (replaced >= version)
            {
                replacedAt = Math.Min(replacedAt, at);
            }
        }
        return replacedAt == long.MaxValue || now.ToUnixTimeMilliseconds() < replacedAt + (long)grace.TotalMilliseconds;
    }

    /// <summary>
    /// Plans a write that starts from <paramref name="baseVersion"/> (<see langword="null"/> for a new session): the
    /// version it seals, and the keys to set and remove in the entry.
    /// </summary>
    public (long Version, Dictionary<string, string> Set, List<string> Removed) PlanWrite(long? baseVersion, DateTimeOffset now, TimeSpan grace)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        var latest = Math.Max(baseVersion ?? 0, DeadUpTo);
        foreach (var (issued, _) in _issued)
        {
            latest = Math.Max(latest, issued);
        }
        foreach (var (replaced, _, _) in _replaced)
        {
            latest = Math.Max(latest, replaced);
        }
        var version = latest + 1;
        var set = new Dictionary<string, string>(StringComparer.Ordinal) { [Key(IssuedPrefix, version)] = Marker };
        var removed = new List<string>();
        removed.AddRange(_issued.Select(i => i.Key));

        var dead = DeadUpTo;
        var live = _replaced.Where(r => r.At + (long)grace.TotalMilliseconds > nowMs).OrderByDescending(r => r.Version).ToList();
        // A replacement keeps the earliest time: a sibling write that replaced the same version first started its grace.
        if (baseVersion is { } from && from > dead && !_replaced.Any(r => r.Version == from))
        {
            set[Key(ReplacedPrefix, from)] = nowMs.ToString(CultureInfo.InvariantCulture);
            live.Insert(0, (from, nowMs, string.Empty));
            live.Sort((a, b) => b.Version.CompareTo(a.Version));
        }
        foreach (var (replaced, _, _) in _replaced.Except(live).Concat(live.Skip(MaxReplaced)))
        {
            dead = Math.Max(dead, replaced);
        }
        foreach (var (replaced, _, key) in _replaced)
        {
            if (replaced <= dead)
            {
                removed.Add(key);
            }
        }
        if (dead > DeadUpTo)
        {
            set[Key(DeadPrefix, dead)] = Marker;
            removed.AddRange(_dead.Select(d => d.Key));
        }
        else if (_dead.Count > 1)
        {
            removed.AddRange(_dead.Where(d => d.Version < dead).Select(d => d.Key));
        }
        removed.RemoveAll(set.ContainsKey);
        return (version, set, removed);
    }

    private long DeadUpTo => _dead.Count == 0 ? -1 : _dead.Max(d => d.Version);

    private static string Key(string prefix, long version) => prefix + version.ToString(CultureInfo.InvariantCulture);

    private static bool TryNumber(string key, string prefix, out long number)
    {
        number = 0;
        return key.StartsWith(prefix, StringComparison.Ordinal)
            && long.TryParse(key.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out number);
    }
}
