using Microsoft.AspNetCore.Http;

namespace Tessera.AspNetCore;

/// <summary>
/// How a credential travels between client and server: the cookie is one implementation; a bearer-token transport is
/// another. The middleware asks it for the presented credential and tells it what a commit decided.
/// </summary>
public interface ISessionTransport
{
    /// <summary>Reads the credential the client presented, cheaply and without verifying it.</summary>
    /// <param name="context">The request.</param>
    /// <returns>The credential text, or <see langword="null"/> when the client sent none.</returns>
    string? ReadCredential(HttpContext context);

    /// <summary>Applies a commit's outcome to the response (issue or clear the credential). Called before the response starts.</summary>
    /// <param name="context">The request.</param>
    /// <param name="result">What the commit decided.</param>
    void WriteCredential(HttpContext context, SessionCommitResult result);
}
