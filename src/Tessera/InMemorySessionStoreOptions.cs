namespace Tessera;

/// <summary>Options of <see cref="InMemorySessionStore"/>.</summary>
public sealed class InMemorySessionStoreOptions
{
    /// <summary>
    /// The most sessions held at once (live, expired-but-not-yet-collected and revoked alike). Default
    /// <see cref="TesseraDefaults.MemoryStoreMaxSessions"/> (100,000); at least 1.
    /// </summary>
    public int MaxSessions { get; set; } = TesseraDefaults.MemoryStoreMaxSessions;

    /// <summary>
    /// The most anonymous sessions (records without a subject, in any state) held at once. Default
    /// <see langword="null"/>: half of <see cref="MaxSessions"/> (50,000 at the default bound), so anonymous visitors can
    /// never take the room signed-in users need. At least 1; a value above <see cref="MaxSessions"/> leaves anonymous
    /// sessions bounded by <see cref="MaxSessions"/> alone. Whatever it is, a signed-in session is never evicted to make
    /// room for an anonymous one.
    /// </summary>
    public int? MaxAnonymousSessions { get; set; }

    /// <summary>
    /// What happens when a new session would exceed <see cref="MaxSessions"/>, or a new anonymous one
    /// <see cref="MaxAnonymousSessions"/>. Default <see cref="StoreCapacityPolicy.EvictLeastRecentlyUsed"/>.
    /// </summary>
    public StoreCapacityPolicy CapacityPolicy { get; set; } = StoreCapacityPolicy.EvictLeastRecentlyUsed;

    /// <summary>The anonymous bound in force: <see cref="MaxAnonymousSessions"/>, or half of <see cref="MaxSessions"/> when unset.</summary>
    internal int EffectiveMaxAnonymousSessions =>
        Math.Min(MaxSessions, MaxAnonymousSessions ?? Math.Max(1, MaxSessions / TesseraDefaults.AnonymousShareDivisor));
}
