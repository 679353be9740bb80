using Microsoft.AspNetCore.SignalR;
using Tessera.AspNetCore.CookieStore;

namespace Tessera.AspNetCore;

/// <summary>
/// Gives each hub invocation its own view of the caller's session, like an HTTP request: opened from the credential of
/// the connection's request (the session cookie, or the access token a connection ticket stood for), loaded before the
/// method runs, committed per key after it returns (a touch when one is due), and nothing committed when it throws.
/// </summary>
/// <remarks>
/// A hub invocation has no HTTP response, so nothing can carry a new credential: signing in, regenerating and starting
/// a session throw <see cref="InvalidOperationException"/>, and with the encrypted cookie store, whose session travels
/// in the cookie, every write does (reads work, and hub activity does not extend such a session's idle deadline).
/// </remarks>
internal sealed class TesseraHubSessionFilter(RequestSessionOpener opener, SessionManager manager) : IHubFilter
{
    internal const string NoResponseMessage =
        "A hub invocation has no HTTP response to carry a new session cookie, so a hub method cannot sign in, regenerate the credential or start a session; do that in an HTTP request (a hub method can read and change an existing session's data, and destroy it).";

    /// <summary>Also what the cookie store itself says when asked to write after the response started (behind a wrapper, say).</summary>
    internal const string CookieStoreMessage =
        "This session is kept in the client's cookies (the encrypted cookie store), and a hub invocation (or any code after the response started) has no HTTP response to carry a changed cookie: the session can be read here but not changed. Change it in an HTTP request instead.";

    private readonly bool _stateTravelsInCookie = manager.Store is CookieSessionStore;

    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        ArgumentNullException.ThrowIfNull(invocationContext);
        ArgumentNullException.ThrowIfNull(next);
        var request = invocationContext.Context.GetHttpContext();
        if (request is null || RequestSessionOpener.IsDisabled(request))
        {
            return await next(invocationContext).ConfigureAwait(false);
        }
        var cancellationToken = invocationContext.Context.ConnectionAborted;
        var session = opener.OpenView(request);
        session.NoCredentialResponse = _stateTravelsInCookie ? CookieStoreMessage : NoResponseMessage;
        session.StateTravelsInCredential = _stateTravelsInCookie;
        await session.LoadAsync(cancellationToken).ConfigureAwait(false);
        // Flows into the hub method (and whatever it awaits) only: an async method's change to an AsyncLocal is undone
        // for its caller when it returns, so parallel invocations of one connection each see their own view.
        HubInvocationSession.Current = new HubInvocationSession(invocationContext.Context, session);
        var result = await next(invocationContext).ConfigureAwait(false);
        if (!_stateTravelsInCookie)
        {
            await session.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        return result;
    }
}

/// <summary>The session of the hub invocation running on this asynchronous flow.</summary>
internal sealed record HubInvocationSession(HubCallerContext Caller, HttpSession Session)
{
    private static readonly AsyncLocal<HubInvocationSession?> Slot = new();

    public static HubInvocationSession? Current
    {
        get => Slot.Value;
        set => Slot.Value = value;
    }
}
