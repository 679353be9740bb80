using Microsoft.AspNetCore.Http;

namespace Tessera.AspNetCore;

/// <summary>The request feature through which the middleware hands out the request's session.</summary>
public interface ITesseraSessionFeature
{
    /// <summary>The request's session (not loaded until first used).</summary>
    HttpSession Session { get; }

    /// <summary>
    /// Commits the session now and writes the credential to the response; the middleware calls it before the
    /// response starts. Later calls do nothing.
    /// </summary>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <returns>A task that completes when committed.</returns>
    Task CommitAsync(CancellationToken cancellationToken = default);
}

internal sealed class TesseraSessionFeature(HttpContext context, HttpSession session, ISessionTransport transport) : ITesseraSessionFeature
{
    private bool _written;

    public HttpSession Session { get; } = session;

    public bool Abandoned { get; set; }

    /// <summary>Whether the session has changes that must reach the store before the response may start.</summary>
    public bool MustCommitBeforeResponse => !_written && !Abandoned && Session.IsLoaded && Session.HasChanges;

    public async Task CommitAsync(CancellationToken cancellationToken = default)
    {
        if (_written || Abandoned)
        {
            return;
        }
        _written = true;
        var result = await Session.CommitAsync(cancellationToken);
        if (result.Change != CredentialChange.None && !context.Response.HasStarted)
        {
            transport.WriteCredential(context, result);
        }
        else if (transport is CookieSessionTransport cookie && !context.Response.HasStarted)
        {
            cookie.RefreshIndicator(context, Session);
        }
    }
}

/// <summary>Access to the request's session from an <see cref="HttpContext"/>.</summary>
public static class HttpContextSessionExtensions
{
    /// <summary>The request's session, not yet loaded (first use loads it).</summary>
    /// <param name="context">The request.</param>
    /// <returns>The session.</returns>
    /// <exception cref="InvalidOperationException">Sessions are disabled for this endpoint, or <c>UseTessera()</c> is not in the pipeline.</exception>
    public static HttpSession GetTesseraSession(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var feature = context.Features.Get<ITesseraSessionFeature>();
        if (feature is not null)
        {
            return feature.Session;
        }
        if (context.GetEndpoint()?.Metadata.GetMetadata<IDisableTesseraSessionMetadata>() is not null)
        {
            throw new InvalidOperationException("Sessions are disabled for this endpoint.");
        }
        throw new InvalidOperationException("No Tessera session: add services.AddTessera() and app.UseTessera() (after UseRouting when endpoints disable sessions).");
    }

    /// <summary>The request's session, loaded (one store read at most).</summary>
    /// <param name="context">The request.</param>
    /// <returns>The loaded session.</returns>
    /// <exception cref="InvalidOperationException">As <see cref="GetTesseraSession"/>.</exception>
    public static async ValueTask<HttpSession> GetTesseraSessionAsync(this HttpContext context)
    {
        var session = context.GetTesseraSession();
        await session.LoadAsync(context.RequestAborted);
        return session;
    }
}
