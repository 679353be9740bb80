using Microsoft.AspNetCore.Http;

namespace Tessera.AspNetCore;

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
        // The indexer, not Features.Get<T>(): a plain virtual call rather than a generic virtual one, on every request.
        if (context.Features[typeof(ITesseraSessionFeature)] is ITesseraSessionFeature feature)
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
        await session.LoadAsync(context.RequestAborted).ConfigureAwait(false);
        return session;
    }
}
