namespace Tessera.Client;

/// <summary>Why the server ended a token client's session: the refresh endpoint's reason, as a type.</summary>
public enum TesseraSessionEndReason
{
    /// <summary>
    /// <c>refresh_token_reused</c>: this client presented a refresh token that had already been rotated (a copy was
    /// used elsewhere, or the client lost a rotated pair): the server revoked the whole session, on every device.
    /// </summary>
    RefreshTokenReused,

    /// <summary>
    /// <c>revoked_token</c>: the session was revoked (signed out here or on another device, revoked by an operator, or
    /// ended by leak detection after another holder reused a token).
    /// </summary>
    Revoked,

    /// <summary><c>expired_token</c>: the refresh token expired (the session idled out or reached its lifetime).</summary>
    Expired,

    /// <summary><c>invalid_session</c>: the session no longer exists on the server (deleted, or expired and cleaned up).</summary>
    SessionGone,

    /// <summary>
    /// Any other refusal: a 401 with another reason (<c>invalid_token</c>, <c>wrong_token_type</c>, none) or a 400 from
    /// the refresh endpoint. The refresh token cannot be used again, whatever the cause.
    /// </summary>
    Rejected,
}

/// <summary>What <see cref="TesseraTokenSession.SessionEnded"/> reports. Carries no token.</summary>
public sealed class TesseraSessionEndedEventArgs : EventArgs
{
    /// <summary>Creates the event's arguments.</summary>
    /// <param name="reason">Why the session ended.</param>
    /// <param name="serverReason">The server's reason as sent (<c>refresh_token_reused</c>, ...), or <see langword="null"/> when it sent none.</param>
    /// <param name="statusCode">The refresh endpoint's HTTP status (401 or 400).</param>
    /// <param name="endedAt">When the client learned it, on its clock.</param>
    public TesseraSessionEndedEventArgs(TesseraSessionEndReason reason, string? serverReason, int statusCode, DateTimeOffset endedAt)
    {
        Reason = reason;
        ServerReason = serverReason;
        StatusCode = statusCode;
        EndedAt = endedAt;
    }

    /// <summary>Why the session ended.</summary>
    public TesseraSessionEndReason Reason { get; }

    /// <summary>The server's reason word as sent, or <see langword="null"/> when the response named none.</summary>
    public string? ServerReason { get; }

    /// <summary>The refresh endpoint's HTTP status code (401, or 400 for a request it could not read).</summary>
    public int StatusCode { get; }

    /// <summary>When the client learned that the session ended, on its <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset EndedAt { get; }
}
