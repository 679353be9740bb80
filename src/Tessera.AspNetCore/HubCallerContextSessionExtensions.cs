using Microsoft.AspNetCore.SignalR;

namespace Tessera.AspNetCore;

/// <summary>Access to the caller's session from a SignalR hub method.</summary>
public static class HubCallerContextSessionExtensions
{
    /// <summary>
    /// The caller's session for this hub invocation: the same <see cref="HttpSession"/> an HTTP request gets, already
    /// loaded (fresh for this invocation: a change an HTTP request committed a moment ago is there), and committed per
    /// key when the method returns, so a hub and an HTTP request changing different keys both keep their changes.
    /// A cookie connection reads the cookie's session, a token connection the access token's (an invalid or expired one
    /// reads as no session, as over HTTP). Signing in, regenerating and starting a session throw
    /// <see cref="InvalidOperationException"/> (no response can carry the new cookie), and so does every write with the
    /// encrypted cookie store.
    /// </summary>
    /// <param name="context">The hub's <c>Context</c>.</param>
    /// <returns>The loaded session.</returns>
    /// <exception cref="InvalidOperationException">
    /// Called outside a hub method of this connection (in <c>OnConnectedAsync</c>, say), or without
    /// <c>AddSignalR().AddTesseraSessions()</c>.
    /// </exception>
    public static HttpSession GetTesseraSession(this HubCallerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (HubInvocationSession.Current is { } current && ReferenceEquals(current.Caller, context))
        {
            return current.Session;
        }
        throw new InvalidOperationException("No Tessera session for this hub call: call services.AddSignalR().AddTesseraSessions(), and use the session inside a hub method (not in OnConnectedAsync or OnDisconnectedAsync).");
    }
}
