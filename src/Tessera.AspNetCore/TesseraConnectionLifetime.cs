using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Tessera.AspNetCore;

/// <summary>
/// Closes long-lived connections when their session ends: <see cref="AddTesseraConnectionLifetime"/> for SignalR hubs,
/// <see cref="WatchTesseraSessionAsync"/> for plain WebSocket endpoints.
/// </summary>
public static class TesseraConnectionLifetime
{
    /// <summary>
    /// The client method a hub connection receives just before the server closes it because its session ended:
    /// <c>tessera:session-ended</c>, with one string argument, the <see cref="SessionEnded.Code"/> (<c>sign_out</c>,
    /// <c>user</c>, <c>operator</c>, <c>limit</c>, <c>leak</c>, <c>principal_rejected</c>, <c>expired</c> or <c>revoked</c>).
    /// </summary>
    public const string SessionEndedMethod = "tessera:session-ended";

    /// <summary>How long the notice may take to send before the connection is aborted anyway.</summary>
    internal static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Watches the session of every hub connection (the cookie or access token of its negotiate and connect requests)
    /// and closes the connection when the session ends, anywhere, for any reason: the client gets
    /// <see cref="SessionEndedMethod"/> with the reason, then the connection is aborted. Adds
    /// <see cref="SessionEndWatcher"/>. Safe to call twice. To also close a token connection when its access token
    /// expires, map the hub with <c>options.CloseOnAuthenticationExpiration = true</c> and authenticate with Tessera's
    /// scheme: the bearer ticket expires with the token.
    /// </summary>
    /// <param name="builder">The SignalR builder (<c>services.AddSignalR()</c>).</param>
    /// <param name="configure">Adjusts the re-validation interval (the bound when a message is lost; default 30 seconds).</param>
    /// <returns>The builder.</returns>
    public static ISignalRServerBuilder AddTesseraConnectionLifetime(this ISignalRServerBuilder builder, Action<SessionEndWatcherOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddTesseraSessionEndWatcher(configure);
        if (!builder.Services.Any(d => d.ServiceType == typeof(TesseraHubLifetimeFilter)))
        {
            builder.Services.TryAddSingleton<TesseraHubLifetimeFilter>();
            builder.Services.Configure<HubOptions>(options => options.AddFilter<TesseraHubLifetimeFilter>());
        }
        return builder;
    }

    /// <summary>
    /// Watches the session behind this request (typically a WebSocket that <c>AcceptWebSocketAsync</c> accepted):
    /// the returned watch's <see cref="TesseraSessionWatch.Ended"/> is cancelled when the session ends anywhere, and
    /// <see cref="TesseraSessionWatch.Reason"/> says why. Needs <c>AddTesseraSessionEndWatcher()</c> (or
    /// <see cref="AddTesseraConnectionLifetime"/>) and <c>UseTessera()</c>.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="cancellationToken">Cancels loading the session.</param>
    /// <returns>The watch (dispose it when the socket closes), or <see langword="null"/> when the request has no stored session (anonymous, or the store could not be read).</returns>
    /// <exception cref="InvalidOperationException">The watcher is not registered.</exception>
    public static async ValueTask<TesseraSessionWatch?> WatchTesseraSessionAsync(this HttpContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var watcher = context.RequestServices.GetService<SessionEndWatcher>()
            ?? throw new InvalidOperationException("No SessionEndWatcher: call services.AddTesseraSessionEndWatcher().");
        var found = await FindSessionAsync(context, cancellationToken).ConfigureAwait(false);
        return found.SessionId is { } sessionId ? new TesseraSessionWatch(watcher, sessionId, found.ExpiresAt) : null;
    }

    /// <summary>
    /// The id of the stored session a connection's request carries, or none; <c>Ended</c> when the request presented a
    /// credential whose session is gone (revoked, expired), as opposed to none at all or a store that could not say.
    /// </summary>
    internal static async ValueTask<(string? SessionId, DateTimeOffset? ExpiresAt, bool Ended)> FindSessionAsync(HttpContext? context, CancellationToken cancellationToken)
    {
        if (context?.Features.Get<ITesseraSessionFeature>()?.Session is not { } session)
        {
            return (null, null, false);
        }
        await session.LoadAsync(cancellationToken).ConfigureAwait(false);
        return session.IsNew
            ? (null, null, session.HasPresentedCredential && !session.IsStoreUnavailable)
            : (session.Id, session.ExpiresAt, false);
    }
}

/// <summary>
/// The session behind a long-lived request, watched: <see cref="Ended"/> is cancelled when it ends. Dispose it when the
/// connection closes (it stops the watch; disposing twice is a no-op).
/// </summary>
public sealed class TesseraSessionWatch : IDisposable
{
    private readonly CancellationTokenSource _ended = new();
    private readonly IDisposable _watch;
    private SessionEnded? _reason;
    private int _disposed;

    internal TesseraSessionWatch(SessionEndWatcher watcher, string sessionId, DateTimeOffset? expiresAt)
    {
        SessionId = sessionId;
        _watch = watcher.Watch(sessionId, ended =>
        {
            Volatile.Write(ref _reason, ended);
            if (Volatile.Read(ref _disposed) == 0)
            {
                try
                {
                    _ended.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // Disposed meanwhile: nobody is listening.
                }
            }
        }, expiresAt);
    }

    /// <summary>The watched session's id (never a credential).</summary>
    public string SessionId { get; }

    /// <summary>Cancelled when the session ends; pass it to the socket's receive and send calls, or register a close on it.</summary>
    public CancellationToken Ended => _ended.Token;

    /// <summary>Why the session ended, or <see langword="null"/> while it has not (read it once <see cref="Ended"/> fired).</summary>
    public SessionEnded? Reason => Volatile.Read(ref _reason);

    /// <summary>Stops watching.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _watch.Dispose();
        _ended.Dispose();
    }
}
