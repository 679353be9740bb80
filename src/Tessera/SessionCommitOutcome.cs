namespace Tessera;

/// <summary>
/// Everything a commit decided that a transport may show the client: the credential change, the deadlines the commit
/// wrote to the store, and whether the request ended its own session. The ASP.NET Core middleware hands it to the
/// request's transport after every commit, so a transport needs nothing but this and the response.
/// </summary>
/// <param name="Result">What to do with the client's credential.</param>
/// <param name="IdleExpiresAt">
/// The idle deadline the commit wrote (it created, changed or touched the session), or <see langword="null"/> when it
/// wrote none. Set together with <paramref name="AbsoluteExpiresAt"/>.
/// </param>
/// <param name="AbsoluteExpiresAt">The session's absolute deadline when the commit wrote its deadlines; <see langword="null"/> otherwise.</param>
/// <param name="SignedOut">
/// Whether the credential is cleared because the request destroyed (signed out) its own session, as opposed to the
/// session having been revoked or expired while the request ran, or the session limit refusing a sign-in. Always
/// <see langword="false"/> unless <see cref="SessionCommitResult.Change"/> is <see cref="CredentialChange.Clear"/>.
/// </param>
public readonly record struct SessionCommitOutcome(SessionCommitResult Result, DateTimeOffset? IdleExpiresAt, DateTimeOffset? AbsoluteExpiresAt, bool SignedOut)
{
    /// <summary>
    /// Whether the credential should outlive the browser session, as this session's sign-in asked (ASP.NET Core's
    /// <c>AuthenticationProperties.IsPersistent</c>); <see langword="null"/> (the default) leaves it to the transport's
    /// own setting, such as <c>TesseraCookieOptions.Persistent</c>.
    /// </summary>
    public bool? Persistent { get; init; }

    /// <summary>
    /// The outcome of a commit result alone, for a caller outside the middleware: an issued credential's deadlines are
    /// taken as its absolute one (which the idle deadline never passes), and a clear is not taken for a sign-out.
    /// </summary>
    /// <param name="result">The commit result.</param>
    /// <returns>The outcome.</returns>
    public static SessionCommitOutcome From(SessionCommitResult result) =>
        new(result, result.AbsoluteExpiresAt, result.AbsoluteExpiresAt, SignedOut: false);
}
