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

    /// <summary>
    /// The record as this patch leaves it, for a store that keeps whole records (the in-memory and cookie stores, or a
    /// custom one): the data copied, cleared if asked, removed keys removed, then set keys set; the subject, credential
    /// hash, last-seen time and idle deadline replaced where the patch gives them. The record passed in is not changed.
    /// Whether the session is live, and whether a new credential hash is free, are the store's to check first.
    /// </summary>
    /// <param name="record">The stored record.</param>
    /// <returns>A new record.</returns>
    public SessionRecord ApplyTo(SessionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var data = ClearData
            ? new Dictionary<string, string>(StringComparer.Ordinal)
            : new Dictionary<string, string>(record.Data, StringComparer.Ordinal);
        foreach (var key in Removed)
        {
            data.Remove(key);
        }
        foreach (var (key, json) in Set)
        {
            data[key] = json;
        }
        return record with
        {
            Data = data,
            Subject = SubjectChanged ? Subject : record.Subject,
            CredentialHash = NewCredentialHash ?? record.CredentialHash,
            LastSeenAt = LastSeenAt ?? record.LastSeenAt,
            IdleExpiresAt = IdleExpiresAt ?? record.IdleExpiresAt,
        };
    }
}
