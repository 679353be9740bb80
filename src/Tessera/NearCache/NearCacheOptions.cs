namespace Tessera.NearCache;

/// <summary>Options of <see cref="NearCacheSessionStore"/>.</summary>
public sealed class NearCacheOptions
{
    /// <summary>The longest <see cref="MaxStaleness"/> accepted: 5 minutes.</summary>
    public static readonly TimeSpan MaxAllowedStaleness = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a cached session may be served without asking the store: the safety net for a lost invalidation
    /// message. Default 5 seconds. While the invalidation channel works, a change made on another instance reaches this
    /// one within the channel's delivery time (milliseconds on a local network); if a message is lost, a revoked session
    /// may still be served here for at most this long. Must be more than zero and at most
    /// <see cref="MaxAllowedStaleness"/>. Measured on the store's <see cref="TimeProvider"/>.
    /// </summary>
    public TimeSpan MaxStaleness { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The most sessions kept in memory. Default 100,000. When full, a new entry replaces an arbitrary old one (about a
    /// tenth of the entries are dropped at once, so the bound costs nothing per read). At least 1.
    /// </summary>
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>
    /// How long <see cref="NearCacheSessionStore.StartAsync"/> waits for the first subscription when the host starts.
    /// Default 10 seconds. If the channel is not up by then, start-up continues and the cache stays bypassed (every read
    /// goes to the store) until the channel connects. Must be more than zero.
    /// </summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Checks the values; called by the store's constructor.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        if (MaxStaleness <= TimeSpan.Zero || MaxStaleness > MaxAllowedStaleness)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxStaleness), MaxStaleness, $"NearCache:MaxStaleness must be more than zero and at most {MaxAllowedStaleness}.");
        }
        if (MaxEntries < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxEntries), MaxEntries, "NearCache:MaxEntries must be at least 1.");
        }
        if (StartTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(StartTimeout), StartTimeout, "NearCache:StartTimeout must be more than zero.");
        }
    }
}
