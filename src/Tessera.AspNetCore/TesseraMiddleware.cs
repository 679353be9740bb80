using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Tessera.AspNetCore;

/// <summary>
/// Puts a lazy session on every request: reads the credential text (no verification, no store call), commits the
/// session before the response starts, and writes or clears the credential. A request that never uses its session
/// costs no store call; one that throws commits nothing.
/// </summary>
public sealed class TesseraMiddleware
{
    private static readonly Func<object, Task> CommitOnStarting = state => ((TesseraSessionFeature)state).CommitAsync();

    private readonly RequestDelegate _next;
    private readonly SessionManager _manager;
    private readonly ISessionTransport _transport;

    /// <summary>Creates the middleware.</summary>
    /// <param name="next">The rest of the pipeline.</param>
    /// <param name="manager">Loads and commits sessions.</param>
    /// <param name="transport">Carries the credential.</param>
    public TesseraMiddleware(RequestDelegate next, SessionManager manager, ISessionTransport transport)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(transport);
        _next = next;
        _manager = manager;
        _transport = transport;
    }

    /// <summary>Handles one request.</summary>
    /// <param name="context">The request.</param>
    /// <returns>A task that completes with the request.</returns>
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.GetEndpoint()?.Metadata.GetMetadata<IDisableTesseraSessionMetadata>() is not null)
        {
            await _next(context);
            return;
        }
        var session = new HttpSession(_manager, _transport.ReadCredential(context), context);
        var feature = new TesseraSessionFeature(context, session, _transport);
        context.Features.Set<ITesseraSessionFeature>(feature);
        context.Features.Set<ISessionFeature>(new AspNetSessionFeature(new TesseraAspNetSession(session, feature)));
        // Commit happens before the first byte of the response: on OnStarting for streamed responses, or right after
        // the pipeline for the rest, so the Set-Cookie header is never too late.
        context.Response.OnStarting(CommitOnStarting, feature);
        try
        {
            await _next(context);
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

    private sealed class AspNetSessionFeature(ISession session) : ISessionFeature
    {
        public ISession Session { get; set; } = session;
    }
}
