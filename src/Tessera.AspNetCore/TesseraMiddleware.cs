using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Tessera.Tokens;

namespace Tessera.AspNetCore;

/// <summary>
/// Puts a lazy session on every request: reads the credential text (no verification, no store call) from the first
/// transport that finds one (a bearer token before a cookie), commits the session before the response starts, and has
/// that transport write or clear the credential. A request that never uses its session costs no store call; one that
/// throws commits nothing.
/// </summary>
public sealed class TesseraMiddleware
{
    private static readonly Func<object, Task> CommitOnStarting = state => ((TesseraSessionFeature)state).CommitAsync();

    private readonly RequestDelegate _next;
    private readonly TesseraRequestSessions _sessions;

    /// <summary>Creates the middleware.</summary>
    /// <param name="next">The rest of the pipeline.</param>
    /// <param name="manager">Loads and commits sessions.</param>
    /// <param name="transports">The registered transports (the cookie, and the bearer token when enabled).</param>
    public TesseraMiddleware(RequestDelegate next, SessionManager manager, IEnumerable<ISessionTransport> transports)
    {
        ArgumentNullException.ThrowIfNull(next);
        _next = next;
        _sessions = new TesseraRequestSessions(manager, transports);
    }

    /// <summary>Handles one request.</summary>
    /// <param name="context">The request.</param>
    /// <returns>A task that completes with the request.</returns>
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (TesseraRequestSessions.IsDisabled(context))
        {
            await _next(context);
            return;
        }
        var feature = _sessions.GetOrOpen(context);
        // Commit happens before the first byte of the response: on OnStarting for streamed responses, or right after
        // the pipeline for the rest, so the Set-Cookie header is never too late.
        context.Response.OnStarting(CommitOnStarting, feature);
        try
        {
            await _next(context);
        }
        catch (SessionUnavailableException) when (!context.Response.HasStarted)
        {
            // A handler wrote to a bearer request's session without checking the token: the client's fault, not a 500.
            feature.Abandoned = true;
            var session = feature.Session;
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.Append(HeaderNames.WWWAuthenticate, BearerChallenge.Header(
                session.HasPresentedCredential ? (session.TokenFailure == TokenFailure.None ? TokenFailure.InvalidToken : session.TokenFailure).ToReason() : null));
            return;
        }
        catch
        {
            feature.Abandoned = true;
            throw;
        }
        if (!context.Response.HasStarted)
        {
            await feature.CommitAsync(context.RequestAborted);
        }
    }
}
