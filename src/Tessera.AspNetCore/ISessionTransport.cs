using Microsoft.AspNetCore.Http;

namespace Tessera.AspNetCore;

/// <summary>
/// How a credential travels between client and server: <see cref="CookieSessionTransport"/> and
/// <see cref="BearerSessionTransport"/> are the two implementations. The middleware asks each registered transport for
/// the presented credential (transports of <see cref="SessionCredentialKind.AccessToken"/> first), opens the session
/// with the first one that finds a credential (the cookie transport when none does), and tells that transport what the
/// commit decided through <see cref="WriteCommit"/>.
/// </summary>
/// <remarks>
/// A transport is a strategy: everything it may show the client arrives as arguments (the response and the
/// <see cref="SessionCommitOutcome"/>), so a new transport implements this interface and touches no other.
/// </remarks>
public interface ISessionTransport
{
    /// <summary>
    /// What kind of credential this transport carries; it decides how the session is opened. Default
    /// <see cref="SessionCredentialKind.Cookie"/>.
    /// </summary>
    SessionCredentialKind CredentialKind => SessionCredentialKind.Cookie;

    /// <summary>Reads the credential the client presented, cheaply and without verifying it.</summary>
    /// <param name="context">The request.</param>
    /// <returns>The credential text, or <see langword="null"/> when the client sent none.</returns>
    string? ReadCredential(HttpContext context);

    /// <summary>Applies a commit's outcome to the response (issue or clear the credential). Called before the response starts.</summary>
    /// <param name="context">The request.</param>
    /// <param name="result">What the commit decided.</param>
    void WriteCredential(HttpContext context, SessionCommitResult result);

    /// <summary>
    /// Applies everything a commit decided to the response: the credential change, the deadlines the commit wrote and
    /// whether the request signed out. The middleware calls it after every commit of a request this transport carries,
    /// before the response starts, also when the credential did not change (a touch may have moved the deadlines). The
    /// default writes the credential through <see cref="WriteCredential"/> when it changed and ignores the rest.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="commit">What the commit decided.</param>
    void WriteCommit(HttpContext context, SessionCommitOutcome commit)
    {
        if (commit.Result.Change != CredentialChange.None)
        {
            WriteCredential(context, commit.Result);
        }
    }
}
