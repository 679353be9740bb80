using System.Collections.Concurrent;
using Tessera.NearCache;

namespace Tessera.Testing;

/// <summary>
/// Wraps a real <see cref="ISessionInvalidationChannel"/> so a test can wait for a message to arrive, lose messages on
/// purpose and fake the subscription going down: fault injection around a real channel, never a replacement for one.
/// </summary>
public sealed class ObservedInvalidationChannel : ISessionInvalidationChannel
{
    private readonly ISessionInvalidationChannel _inner;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _received = new();
    private Relay? _relay;

    /// <summary>Wraps a channel.</summary>
    /// <param name="inner">The real channel; disposed with this one.</param>
    public ObservedInvalidationChannel(ISessionInvalidationChannel inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
    }

    /// <summary>
    /// While <see langword="true"/>, incoming messages are dropped before the listener sees them (a lost notification).
    /// They are still recorded in <see cref="Received"/> and still complete <see cref="WaitForAsync"/>. Default <see langword="false"/>.
    /// </summary>
    public bool DropIncoming { get; set; }

    /// <summary>Every session id received (<c>*</c> for "everything"), in arrival order, dropped or not.</summary>
    public IReadOnlyCollection<string> Received => [.. _received];

    /// <inheritdoc />
    public Task StartAsync(ISessionInvalidationListener listener, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(listener);
        _relay = new Relay(this, listener);
        return _inner.StartAsync(_relay, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask PublishAsync(string? sessionId, CancellationToken cancellationToken = default) =>
        _inner.PublishAsync(sessionId, cancellationToken);

    /// <summary>
    /// Completes when a message for <paramref name="sessionId"/> (or <c>*</c>) has arrived, including one that arrived
    /// before the call. Fails with <see cref="TimeoutException"/> after <paramref name="timeout"/> of real time: a guard
    /// against a hung test, not a speed assertion.
    /// </summary>
    /// <param name="sessionId">The session id, or <c>*</c> for "everything".</param>
    /// <param name="timeout">How long to wait; default 10 seconds.</param>
    /// <returns>A task that completes when the message is in.</returns>
    public Task WaitForAsync(string sessionId, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        return Waiter(sessionId).Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(10));
    }

    /// <summary>Tells the listener the subscription went down, as a dropped connection would.</summary>
    public void SimulateDisconnect() => Listener.OnListening(false);

    /// <summary>Tells the listener the subscription is back.</summary>
    public void SimulateReconnect() => Listener.OnListening(true);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    private ISessionInvalidationListener Listener =>
        _relay?.Listener ?? throw new InvalidOperationException("The channel has not been started.");

    private TaskCompletionSource Waiter(string sessionId) =>
        _waiters.GetOrAdd(sessionId, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private void Arrived(string sessionId)
    {
        _received.Enqueue(sessionId);
        Waiter(sessionId).TrySetResult();
    }

    private sealed class Relay(ObservedInvalidationChannel owner, ISessionInvalidationListener listener) : ISessionInvalidationListener
    {
        public ISessionInvalidationListener Listener { get; } = listener;

        public void OnInvalidated(string sessionId)
        {
            if (!owner.DropIncoming)
            {
                Listener.OnInvalidated(sessionId);
            }
            owner.Arrived(sessionId);
        }

        public void OnEnded(string sessionId, SessionRevocationReason reason)
        {
            if (!owner.DropIncoming)
            {
                Listener.OnEnded(sessionId, reason);
            }
            owner.Arrived(sessionId);
        }

        public void OnInvalidatedAll()
        {
            if (!owner.DropIncoming)
            {
                Listener.OnInvalidatedAll();
            }
            owner.Arrived("*");
        }

        public void OnListening(bool listening) => Listener.OnListening(listening);
    }
}
