namespace Tessera;

/// <summary>
/// A session as a store keeps it: an opaque record the store persists and returns without interpreting its data.
/// </summary>
/// <remarks>
/// Times are UTC and carry millisecond precision; stores round-trip them exactly at that precision.
/// <see cref="Data"/> maps keys to JSON texts. A store returns each value as the same JSON value it was given; it may
/// normalize the text (PostgreSQL's <c>jsonb</c> drops whitespace and reorders object members) but never changes the value.
/// </remarks>
public sealed record SessionRecord
{
    /// <summary>The stable session id: random, safe to list and to revoke by, never accepted as a credential.</summary>
    public required string Id { get; init; }

    /// <summary>SHA-256 of the current cookie token (32 bytes). The raw token is never stored.</summary>
    public required byte[] CredentialHash { get; init; }

    /// <summary>The signed-in subject (user id), or <see langword="null"/> for an anonymous session.</summary>
    public string? Subject { get; init; }

    /// <summary>The session data: keys to JSON texts. Empty, never <see langword="null"/>.</summary>
    public IReadOnlyDictionary<string, string> Data { get; init; } = EmptyData;

    /// <summary>When the session was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the session was last seen; updated at most once per touch interval.</summary>
    public required DateTimeOffset LastSeenAt { get; init; }

    /// <summary>The sliding idle deadline; never later than <see cref="AbsoluteExpiresAt"/>.</summary>
    public required DateTimeOffset IdleExpiresAt { get; init; }

    /// <summary>The absolute deadline, fixed at creation; nothing extends it.</summary>
    public required DateTimeOffset AbsoluteExpiresAt { get; init; }

    /// <summary>When the session was revoked, or <see langword="null"/> while it is not.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>What the session was created from (user agent, IP address, label). Never <see langword="null"/>.</summary>
    public SessionMetadata Metadata { get; init; } = SessionMetadata.Empty;

    /// <summary>The one expiry a store enforces: the earlier of the idle and the absolute deadline.</summary>
    public DateTimeOffset ExpiresAt => IdleExpiresAt < AbsoluteExpiresAt ? IdleExpiresAt : AbsoluteExpiresAt;

    /// <summary>
    /// Whether the session may be used at <paramref name="now"/>: not revoked and <paramref name="now"/> strictly
    /// before <see cref="ExpiresAt"/>.
    /// </summary>
    /// <param name="now">The current time.</param>
    /// <returns><see langword="true"/> when the session is live.</returns>
    public bool IsActiveAt(DateTimeOffset now) => RevokedAt is null && now < ExpiresAt;

    internal static readonly IReadOnlyDictionary<string, string> EmptyData =
        new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>Where a session came from, recorded at creation. Every field is optional.</summary>
/// <param name="UserAgent">The client's User-Agent, truncated to 512 characters; <see langword="null"/> when absent.</param>
/// <param name="IpAddress">The client's IP address as text; <see langword="null"/> when unknown.</param>
/// <param name="Label">A label the application chose (for example a device name); <see langword="null"/> by default.</param>
public sealed record SessionMetadata(string? UserAgent = null, string? IpAddress = null, string? Label = null)
{
    /// <summary>Metadata with every field <see langword="null"/>.</summary>
    public static SessionMetadata Empty { get; } = new();
}
