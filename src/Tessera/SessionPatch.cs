namespace Tessera;

/// <summary>
/// The changes one request made to a session, applied by a store as a unit: clear (when asked), then remove, then set.
/// Keys the request did not touch are left as they are, so two requests changing different keys both survive.
/// </summary>
public sealed class SessionPatch
{
    /// <summary>Whether every key stored before the patch is removed first. Default <see langword="false"/>.</summary>
    public bool ClearData { get; init; }

    /// <summary>Keys to set, with their JSON texts. Empty by default; disjoint from <see cref="Removed"/>.</summary>
    public IReadOnlyDictionary<string, string> Set { get; init; } = SessionRecord.EmptyData;

    /// <summary>Keys to remove. Removing a key that does not exist is a no-op. Empty by default.</summary>
    public IReadOnlyCollection<string> Removed { get; init; } = [];

    /// <summary>Whether <see cref="Subject"/> replaces the stored subject. Default <see langword="false"/>.</summary>
    public bool SubjectChanged { get; init; }

    /// <summary>The new subject when <see cref="SubjectChanged"/> is set; <see langword="null"/> signs the session out.</summary>
    public string? Subject { get; init; }

    /// <summary>
    /// A new credential hash replacing the current one (regeneration), or <see langword="null"/> to keep it.
    /// Once applied, the old credential no longer finds the session.
    /// </summary>
    public byte[]? NewCredentialHash { get; init; }

    /// <summary>A new last-seen time, or <see langword="null"/> to keep it.</summary>
    public DateTimeOffset? LastSeenAt { get; init; }

    /// <summary>A new idle deadline, or <see langword="null"/> to keep it.</summary>
    public DateTimeOffset? IdleExpiresAt { get; init; }

    /// <summary>Whether the patch changes the session's data.</summary>
    public bool ChangesData => ClearData || Set.Count > 0 || Removed.Count > 0;
}
