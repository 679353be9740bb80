namespace Tessera;

/// <summary>One of a subject's sessions as "your devices" shows it: times and metadata, never data or credentials.</summary>
/// <param name="Id">The session id: safe to show and to revoke by, never a credential.</param>
/// <param name="IsCurrent">Whether this is the session of the request that listed them (the id passed as current).</param>
/// <param name="CreatedAt">When the session was created (signed-in sessions are created or regenerated at sign-in).</param>
/// <param name="LastSeenAt">When it was last used, at the touch interval's precision (one minute by default).</param>
/// <param name="ExpiresAt">When it expires unless used again: the earlier of its idle and absolute deadlines.</param>
/// <param name="UserAgent">The User-Agent recorded at creation, or <see langword="null"/>.</param>
/// <param name="IpAddress">The IP address recorded at creation (possibly truncated, see <see cref="SessionMetadataOptions"/>), or <see langword="null"/>.</param>
/// <param name="Label">The application's label, or <see langword="null"/>.</param>
public sealed record SubjectSessionInfo(
    string Id,
    bool IsCurrent,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastSeenAt,
    DateTimeOffset ExpiresAt,
    string? UserAgent,
    string? IpAddress,
    string? Label)
{
    internal static SubjectSessionInfo From(SessionRecord record, bool isCurrent) => new(
        record.Id,
        isCurrent,
        record.CreatedAt,
        record.LastSeenAt,
        record.ExpiresAt,
        record.Metadata.UserAgent,
        record.Metadata.IpAddress,
        record.Metadata.Label);
}
