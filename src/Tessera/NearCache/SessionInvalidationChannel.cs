namespace Tessera.NearCache;

/// <summary>
/// The part every <see cref="ISessionInvalidationChannel"/> over a network connection shares: one listener, a
/// background loop that (re)subscribes with backoff from 100 ms to 5 s, the listening state reported on every change,
/// and messages that are a session id or <see cref="Everything"/>. A subclass says how to listen once and how to publish.
/// </summary>
public abstract class SessionInvalidationChannel : ISessionInvalidationChannel
{
    /// <summary>The message that stands for "every session": <c>*</c> (session ids are UUIDs, so it cannot collide).</summary>
    protected const string Everything = "*";

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstSubscription = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private int _disposed;

    /// <summary>Creates the channel.</summary>
    /// <param name="timeProvider">Times the retries (network time, not session expiry); <see langword="null"/> means <see cref="TimeProvider.System"/>.</param>
    protected SessionInvalidationChannel(TimeProvider? timeProvider = null) => Time = timeProvider ?? TimeProvider.System;

    /// <summary>The clock of retries and heartbeats.</summary>
    protected TimeProvider Time { get; }

    /// <inheritdoc />
    public Task StartAsync(ISessionInvalidationListener listener, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.CompareExchange(ref _loop, Task.CompletedTask, null) is not null)
        {
            throw new InvalidOperationException("This invalidation channel already has a listener.");
        }
        _loop = Task.Run(() => RunAsync(listener));
        return _firstSubscription.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public abstract ValueTask PublishAsync(string? sessionId, CancellationToken cancellationToken = default);

    /// <summary>Stops listening. Idempotent.</summary>
    /// <returns>A task that completes when the background loop has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _firstSubscription.TrySetCanceled();
        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Connects, subscribes, calls <paramref name="subscribed"/> once messages are being received, hands each message to
    /// <see cref="Deliver"/>, and returns or throws when the connection is lost. Called again after a backoff delay.
    /// </summary>
    /// <param name="listener">Where messages go.</param>
    /// <param name="subscribed">Call once the subscription is in place.</param>
    /// <param name="cancellationToken">Signals disposal.</param>
    /// <returns>A task that ends with the connection.</returns>
    protected abstract Task ListenOnceAsync(ISessionInvalidationListener listener, Action subscribed, CancellationToken cancellationToken);

    /// <summary>Reports a failed or lost subscription (to a log); the channel retries after <paramref name="retryDelay"/>.</summary>
    /// <param name="exception">What went wrong.</param>
    /// <param name="retryDelay">When the next attempt starts.</param>
    protected abstract void OnListenFailed(Exception exception, TimeSpan retryDelay);

    /// <summary>
    /// Hands one received message to the listener: <see cref="Everything"/>, a session id, or a session id with why it
    /// ended (<see cref="SessionEnds.Message"/>); empty messages are ignored.
    /// </summary>
    /// <param name="listener">The listener.</param>
    /// <param name="message">The message text.</param>
    protected static void Deliver(ISessionInvalidationListener listener, string? message)
    {
        ArgumentNullException.ThrowIfNull(listener);
        if (message == Everything)
        {
            listener.OnInvalidatedAll();
        }
        else if (SessionEnds.TryParse(message, out var sessionId, out var reason))
        {
            listener.OnEnded(sessionId, reason);
        }
        else if (!string.IsNullOrEmpty(message))
        {
            listener.OnInvalidated(message);
        }
    }

    private async Task RunAsync(ISessionInvalidationListener listener)
    {
        var stopping = _stopping.Token;
        var delay = FirstRetryDelay;
        while (!stopping.IsCancellationRequested)
        {
            var listening = false;
            try
            {
                await ListenOnceAsync(listener, () =>
                {
                    if (!listening)
                    {
                        listening = true;
                        delay = FirstRetryDelay;
                        listener.OnListening(true);
                        _firstSubscription.TrySetResult();
                    }
                }, stopping).ConfigureAwait(false);
                if (!stopping.IsCancellationRequested)
                {
                    OnListenFailed(new IOException("The subscription ended."), delay);
                }
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                OnListenFailed(e, delay);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                // Disposed.
            }
            if (listening)
            {
                listener.OnListening(false);
            }
            try
            {
                await Task.Delay(delay, Time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LastRetryDelay.Ticks));
        }
    }
}
