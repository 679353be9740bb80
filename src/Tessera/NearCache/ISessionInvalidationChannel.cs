namespace Tessera.NearCache;

/// <summary>
/// Carries "this session changed" messages between the application instances that share one store, so each instance's
/// <see cref="NearCacheSessionStore"/> can drop its local copy. Redis implements it with pub/sub, PostgreSQL with
/// <c>LISTEN</c>/<c>NOTIFY</c>; their store packages register one when the store is chosen.
/// </summary>
/// <remarks>
/// Delivery is at most once: a message can be lost (a dropped connection, a failed publish). The near cache copes by
/// treating every cached entry as stale after <see cref="NearCacheOptions.MaxStaleness"/>, by bypassing itself while
/// <see cref="ISessionInvalidationListener.OnListening"/> reports <see langword="false"/>, and by dropping everything it
/// holds when listening starts again. A message carries a session id (never a credential) or "everything"; a message
/// that announces a session's end carries the id, a space and why it ended (<see cref="SessionEnds.Message"/>), which a
/// listener hears through <see cref="ISessionInvalidationListener.OnEnded"/>.
/// </remarks>
public interface ISessionInvalidationChannel : IAsyncDisposable
{
    /// <summary>
    /// Starts delivering messages to <paramref name="listener"/> (the messages of every instance, this one's included)
    /// and keeps doing so, reconnecting after failures, until disposed. Returns once listening has started for the first
    /// time.
    /// </summary>
    /// <param name="listener">Receives the messages and the listening state; called from the channel's own thread.</param>
    /// <param name="cancellationToken">Gives up waiting for the first subscription; the channel keeps trying in the background.</param>
    /// <returns>A task that completes when the first subscription is in place.</returns>
    /// <exception cref="InvalidOperationException">A listener was already started on this channel.</exception>
    Task StartAsync(ISessionInvalidationListener listener, CancellationToken cancellationToken = default);

    /// <summary>Tells every instance (this one included) that a session changed.</summary>
    /// <param name="sessionId">The session id, or <see langword="null"/> for "every session" (after a store is cleared).</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <returns>A task that completes when the message was handed to the server.</returns>
    /// <exception cref="Exception">The server could not be reached; the caller logs it and relies on the staleness bound.</exception>
    ValueTask PublishAsync(string? sessionId, CancellationToken cancellationToken = default);
}

/// <summary>What an <see cref="ISessionInvalidationChannel"/> calls back.</summary>
public interface ISessionInvalidationListener
{
    /// <summary>A session changed somewhere: any local copy of it is stale.</summary>
    /// <param name="sessionId">The session id.</param>
    void OnInvalidated(string sessionId);

    /// <summary>
    /// A session ended somewhere, and why (published by <see cref="SessionEndWatcher"/>). By default this is treated as
    /// <see cref="OnInvalidated"/>: a near cache only needs to drop its copy.
    /// </summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="reason">Why it ended.</param>
    void OnEnded(string sessionId, SessionRevocationReason reason) => OnInvalidated(sessionId);

    /// <summary>Every local copy is stale (the store was cleared, or messages may have been lost).</summary>
    void OnInvalidatedAll();

    /// <summary>
    /// The subscription came up (<see langword="true"/>) or went down (<see langword="false"/>). While it is down,
    /// messages are being lost: a near cache serves nothing from memory until it is up again.
    /// </summary>
    /// <param name="listening">Whether messages are being received.</param>
    void OnListening(bool listening);
}

/// <summary>
/// Creates a new, unstarted <see cref="ISessionInvalidationChannel"/> on the store's connection. A channel takes one
/// listener, so each listener (the near cache, <see cref="SessionEndWatcher"/>) gets its own; the Redis and PostgreSQL
/// store packages register one. Stores in one process (memory, SQLite) register none.
/// </summary>
/// <returns>A channel the caller owns and disposes.</returns>
public delegate ISessionInvalidationChannel SessionInvalidationChannelFactory();

/// <summary>Announcing that a session ended on an <see cref="ISessionInvalidationChannel"/>.</summary>
public static class SessionInvalidationChannelExtensions
{
    /// <summary>
    /// Tells every instance listening on <paramref name="channel"/> that a session ended, and why: near caches drop their
    /// copy and <see cref="SessionEndWatcher"/> closes its connections, telling them <paramref name="reason"/>. An app
    /// does this itself for every revocation it makes; a tool that revokes in the store directly (the <c>tessera</c>
    /// CLI) calls it so that live connections close at once instead of at their next re-validation.
    /// </summary>
    /// <param name="channel">The store's channel (it need not be started to publish).</param>
    /// <param name="sessionId">The session id (never a credential).</param>
    /// <param name="reason">Why it ended; <see cref="SessionEnded.Code"/> shows its tag.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <returns>A task that completes when the message was handed to the server.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> or <paramref name="sessionId"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="sessionId"/> is empty or contains a space.</exception>
    public static ValueTask PublishEndedAsync(this ISessionInvalidationChannel channel, string sessionId, SessionRevocationReason reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        if (sessionId.Contains(' ', StringComparison.Ordinal))
        {
            throw new ArgumentException("A session id never contains a space.", nameof(sessionId));
        }
        return channel.PublishAsync(SessionEnds.Message(sessionId, reason), cancellationToken);
    }
}
