using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Tessera.Tokens;

namespace Tessera.AspNetCore;

/// <summary>
/// Puts a lazy session on every request: reads the credential text (no verification, no store call) from the first
/// transport that finds one (a bearer token before a cookie), commits the session before the response starts, and has
/// that transport write or clear the credential. A request that never uses its session costs no store call; one that
/// throws commits nothing.
/// </summary>
/// <remarks>
/// The failure contract (docs/failure-contract.md): a store that fails or times out while a session is loaded leaves
/// the request without a session (<see cref="TesseraSession.IsStoreUnavailable"/>); a commit that fails, or any
/// <see cref="SessionStoreUnavailableException"/> or <see cref="SessionStoreFullException"/> the application lets escape
/// before its response started, is answered with 503, <c>Retry-After</c> (<see cref="TesseraOptions.StoreRetryAfter"/>)
/// and a problem body, and the client's credential is left as it was; a write beyond
/// <see cref="TesseraOptions.MaxDataBytes"/> that escapes is answered with 413. To make this hold for responses with a
/// body, what a handler writes while its session has uncommitted changes is held until the commit has succeeded.
/// Before any of this, the request-origin guard (<see cref="TesseraRequestOriginOptions"/>) answers a cross-origin
/// unsafe request that carries the session cookie with 403, without opening its session.
/// </remarks>
public sealed class TesseraMiddleware
{
    private static readonly Func<object, Task> CommitOnStarting = state => ((TesseraSessionFeature)state).CommitAsync();

    private readonly RequestDelegate _next;
    private readonly RequestSessionOpener _opener;
    private readonly RequestOriginGuard _originGuard;
    // SignalR connection tickets, registered by AddSignalR().AddTesseraSessions() (an internal type, so not a constructor
    // parameter of this public middleware): looked up once, on the first request.
    private HubConnectionTickets? _tickets;
    private bool _ticketsLookedUp;
    private readonly string _retryAfter;
    private readonly ILogger _logger;

    /// <summary>Creates the middleware.</summary>
    /// <param name="next">The rest of the pipeline.</param>
    /// <param name="manager">Loads and commits sessions.</param>
    /// <param name="transports">The registered transports (the cookie, and the bearer token when enabled).</param>
    /// <param name="logger">Logs answered store failures and refused cross-origin requests; <see langword="null"/> logs nothing.</param>
    /// <param name="requestOrigin">
    /// The request-origin guard's options; <see langword="null"/> uses the defaults (on, same-site refused, nothing
    /// trusted).
    /// </param>
    public TesseraMiddleware(RequestDelegate next, SessionManager manager, IEnumerable<ISessionTransport> transports, ILogger<TesseraMiddleware>? logger = null, IOptions<TesseraRequestOriginOptions>? requestOrigin = null)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(manager);
        _next = next;
        _opener = new RequestSessionOpener(manager, transports);
        _retryAfter = TesseraProblem.RetryAfter(manager.Options);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _originGuard = new RequestOriginGuard(requestOrigin?.Value ?? new TesseraRequestOriginOptions(), _opener, manager.Metrics, _logger);
    }

    /// <summary>Handles one request.</summary>
    /// <param name="context">The request.</param>
    /// <returns>A task that completes with the request.</returns>
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (RequestSessionOpener.IsDisabled(context))
        {
            try
            {
                await _next(context).ConfigureAwait(false);
            }
            catch (Exception e) when (IsAnswered(e) && !context.Response.HasStarted)
            {
                await AnswerAsync(context, e).ConfigureAwait(false);
            }
            return;
        }
        if (!_ticketsLookedUp)
        {
            _tickets = context.RequestServices?.GetService(typeof(HubConnectionTickets)) as HubConnectionTickets;
            _ticketsLookedUp = true;
        }
        // A hub request's connection ticket becomes the access token it stands for (or a 401) before anything reads the
        // request's credential.
        if (_tickets is not null && await _tickets.RefuseAsync(context).ConfigureAwait(false))
        {
            return;
        }
        // Before the session is opened: a refused request reads nothing from the store and writes nothing to it.
        if (await _originGuard.RefuseAsync(context).ConfigureAwait(false))
        {
            return;
        }
        var feature = _opener.GetOrOpen(context);
        var body = context.Features[typeof(IHttpResponseBodyFeature)] as IHttpResponseBodyFeature;
        var gate = body is null ? null : new SessionCommitGate(body, feature, context);
        if (gate is not null)
        {
            context.Features[typeof(IHttpResponseBodyFeature)] = gate;
        }
        // The commit happens in one place, TesseraSessionFeature.CommitAsync: it commits the session once
        // (TesseraSession -> SessionCommitter -> the store) and hands the outcome to the request's transport, which sets
        // or clears the credential. It must run before the first byte of the response, so three moments call it and the
        // first one wins:
        // - the commit gate (SessionCommitGate), standing in for the response body: while the session has changes, what
        //   the handler writes is held there and its first flush commits first, so a failed commit is still answered
        //   with a 503 instead of a response that already claimed success;
        // - OnStarting, for a session whose changes came after writing began, or that only needs a touch;
        // - right after the pipeline, for a response that has not started at all.
        context.Response.OnStarting(CommitOnStarting, feature);
        try
        {
            await (_tickets is null ? _next(context) : _tickets.NegotiateAsync(context, feature.Session, _next)).ConfigureAwait(false);
            if (!context.Response.HasStarted)
            {
                await feature.CommitAsync(context.RequestAborted).ConfigureAwait(false);
            }
            if (gate is not null)
            {
                await gate.OpenAsync(context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (SessionUnavailableException) when (!context.Response.HasStarted)
        {
            // A handler wrote to a bearer request's session without checking the token: the client's fault, not a 500.
            Abandon(feature, gate);
            var session = feature.Session;
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.Append(HeaderNames.WWWAuthenticate, BearerChallenge.Header(
                session.HasPresentedCredential ? (session.TokenFailure == TokenFailure.None ? TokenFailure.InvalidToken : session.TokenFailure).ToReason() : null));
        }
        catch (Exception e) when (IsAnswered(e) && !context.Response.HasStarted)
        {
            Abandon(feature, gate);
            await AnswerAsync(context, e).ConfigureAwait(false);
        }
        catch
        {
            Abandon(feature, gate);
            throw;
        }
        finally
        {
            if (gate is not null)
            {
                context.Features[typeof(IHttpResponseBodyFeature)] = body;
            }
        }
    }

    private static bool IsAnswered(Exception e) =>
        e is SessionStoreUnavailableException or SessionStoreFullException or SessionDataTooLargeException;

    private static void Abandon(TesseraSessionFeature feature, SessionCommitGate? gate)
    {
        feature.Abandoned = true;
        gate?.Discard();
    }

    // The answer replaces whatever the handler had prepared, Set-Cookie included: the client keeps the credential it
    // has, which still points at the session as it was before this request.
    private async Task AnswerAsync(HttpContext context, Exception e)
    {
        var response = context.Response;
        response.Clear();
        response.Headers[HeaderNames.CacheControl] = "no-store";
        if (e is SessionDataTooLargeException)
        {
            await TesseraProblem.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "The session's data would exceed its size limit.", "session_data_too_large").ConfigureAwait(false);
            return;
        }
        var operation = e is SessionStoreUnavailableException unavailable ? unavailable.Operation : "create";
        Log.CommitFailed(_logger, operation, Tessera.Log.ErrorType(e));
        response.Headers[HeaderNames.RetryAfter] = _retryAfter;
        await TesseraProblem.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "The session store is unavailable; try again later.", e is SessionStoreFullException ? "session_store_full" : "session_store_unavailable").ConfigureAwait(false);
    }
}
