namespace Tessera;

/// <summary>
/// A watched session ended (<see cref="SessionEndWatcher"/>): revoked for a known <see cref="Reason"/>, past its idle or
/// absolute deadline (<see cref="Expired"/>), or gone for a reason this instance could not learn (a revocation seen only
/// by re-reading the store: a lost message, or another process such as the <c>tessera</c> tool revoked it).
/// </summary>
/// <param name="SessionId">The session id (never a credential).</param>
/// <param name="Reason">Why it was revoked, or <see langword="null"/> when it expired or the reason is unknown.</param>
/// <param name="Expired">Whether it ended because its idle or absolute deadline passed.</param>
public sealed record SessionEnded(string SessionId, SessionRevocationReason? Reason, bool Expired)
{
    /// <summary>
    /// A stable code a client can show or translate: the revocation reason's tag (<c>sign_out</c>, <c>user</c>,
    /// <c>operator</c>, <c>limit</c>, <c>leak</c>, <c>principal_rejected</c>, as in the metrics), <c>expired</c>, or
    /// <c>revoked</c> when the reason is unknown.
    /// </summary>
    public string Code => Expired ? "expired" : Reason?.TagValue() ?? "revoked";
}

/// <summary>The text form of "this session ended, and why" on an invalidation channel: the id, a space, the reason's tag.</summary>
internal static class SessionEnds
{
    public static string Message(string sessionId, SessionRevocationReason reason) => $"{sessionId} {reason.TagValue()}";

    public static bool TryParse(string? message, out string sessionId, out SessionRevocationReason reason)
    {
        sessionId = "";
        reason = default;
        var space = message is null ? -1 : message.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0)
        {
            return false;
        }
        var tag = message.AsSpan(space + 1);
        foreach (var candidate in Enum.GetValues<SessionRevocationReason>())
        {
            if (tag.SequenceEqual(candidate.TagValue()))
            {
                sessionId = message![..space];
                reason = candidate;
                return true;
            }
        }
        return false;
    }
}
