namespace Tessera.Testing;

/// <summary>
/// The size bounds a suite asks of a store it creates through <see cref="StoreKit.CreateStore"/>. A kit honours the
/// ones its store supports (<see cref="StoreKit.SupportsCapacityBound"/>, <see cref="StoreKit.AnonymousBound"/>) and
/// ignores the others.
/// </summary>
public sealed record StoreShape
{
    /// <summary>The store's own defaults: no bound asked for.</summary>
    public static StoreShape Default { get; } = new();

    /// <summary>The most sessions of any kind; 0 (the default) means the store's default, or unbounded.</summary>
    public int MaxSessions { get; init; }

    /// <summary>What the store does at <see cref="MaxSessions"/>. Default <see cref="StoreCapacityPolicy.EvictLeastRecentlyUsed"/>.</summary>
    public StoreCapacityPolicy CapacityPolicy { get; init; } = StoreCapacityPolicy.EvictLeastRecentlyUsed;

    /// <summary>
    /// The most anonymous sessions; <see langword="null"/> (the default) means: as many as <see cref="MaxSessions"/> when
    /// that is set (the total bound alone is under test), otherwise the store's default.
    /// </summary>
    public int? MaxAnonymousSessions { get; init; }

    /// <summary>
    /// The anonymous bound a kit gives its store: <see cref="MaxAnonymousSessions"/> when set, otherwise
    /// <see cref="MaxSessions"/> when that is set (anonymous records may fill the whole total bound), otherwise
    /// <see langword="null"/> for the store's default.
    /// </summary>
    public int? EffectiveMaxAnonymousSessions => MaxAnonymousSessions ?? (MaxSessions > 0 ? MaxSessions : null);
}
