using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Tessera;

/// <summary>
/// Deletes expired sessions in bounded batches, every <see cref="TesseraOptions.CleanupInterval"/>, on the injected
/// clock. Does nothing for a store without <see cref="ISessionStoreCleanup"/> (for example one that expires keys itself).
/// </summary>
/// <remarks>A failing run is logged and retried at the next interval; it never stops the host.</remarks>
public sealed class SessionCleanupService : BackgroundService
{
    private readonly ISessionStore _store;
    // Read on first use, not in the constructor: the host builds hosted services before it reports option
    // validation failures, and a constructor that throws buries the clear message under a DI stack trace.
    private readonly IOptions<TesseraOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly InstrumentedStore _calls;

    /// <summary>Creates the service.</summary>
    /// <param name="store">The store to clean.</param>
    /// <param name="options">Interval and batch size.</param>
    /// <param name="timeProvider">The clock the interval runs on.</param>
    /// <param name="logger">The logger; <see langword="null"/> logs nothing.</param>
    /// <param name="metrics">The instruments to record into; <see langword="null"/> uses ones on a static <c>Tessera</c> meter.</param>
    public SessionCleanupService(ISessionStore store, IOptions<TesseraOptions> options, TimeProvider timeProvider, ILogger<SessionCleanupService>? logger = null, TesseraMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _store = store;
        _options = options;
        _time = timeProvider;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _calls = new InstrumentedStore(store, metrics ?? TesseraMetrics.Shared);
    }

    /// <summary>
    /// Deletes every expired session now, and with <see cref="TesseraOptions.RevokedRetention"/> set every session
    /// revoked longer ago than that, one batch per store call, until a batch comes back short. Each batch that deleted
    /// expired sessions raises <see cref="TesseraSessionEvents.OnExpired"/> and adds to <c>tessera.sessions.expired</c>.
    /// The batches run back to back; the background loop instead pauses <see cref="TesseraOptions.CleanupBatchPause"/>
    /// between them.
    /// </summary>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <returns>How many sessions were deleted; 0 when the store cannot clean up.</returns>
    public Task<int> RunOnceAsync(CancellationToken cancellationToken = default) => RunAsync(TimeSpan.Zero, cancellationToken);

    /// <summary>
    /// Runs the cleanup exactly as the background loop does: like <see cref="RunOnceAsync(CancellationToken)"/>, but
    /// after every full batch it waits <paramref name="pauseBetweenBatches"/> on the service's <see cref="TimeProvider"/>,
    /// or as long as that batch took when that is longer. The loop passes <see cref="TesseraOptions.CleanupBatchPause"/>.
    /// </summary>
    /// <param name="pauseBetweenBatches">The least pause; <see cref="TimeSpan.Zero"/> runs the batches back to back.</param>
    /// <param name="cancellationToken">Stops between batches and during a pause.</param>
    /// <returns>How many sessions were deleted; 0 when the store cannot clean up.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pauseBetweenBatches"/> is negative.</exception>
    public Task<int> RunOnceAsync(TimeSpan pauseBetweenBatches, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pauseBetweenBatches, TimeSpan.Zero);
        return RunAsync(pauseBetweenBatches, cancellationToken);
    }

    private async Task<int> RunAsync(TimeSpan pause, CancellationToken cancellationToken)
    {
        if (_store is not ISessionStoreCleanup cleanup)
        {
            return 0;
        }
        var options = _options.Value;
        var revokedBefore = options.RevokedRetention is { } retention ? _time.GetUtcNow() - retention : (DateTimeOffset?)null;
        var total = await DeleteInBatchesAsync(_calls, cleanup, revokedBefore, options.CleanupBatchSize, pause, _time, options.Events, _logger, cancellationToken).ConfigureAwait(false);
        if (total > 0)
        {
            Log.CleanupDeleted(_logger, total);
        }
        return total;
    }

    internal static async Task<int> DeleteInBatchesAsync(
        InstrumentedStore calls,
        ISessionStoreCleanup cleanup,
        DateTimeOffset? revokedBefore,
        int batchSize,
        TimeSpan pause,
        TimeProvider time,
        TesseraSessionEvents events,
        ILogger logger,
        CancellationToken cancellationToken)
    {
        var total = 0;
        int deleted;
        do
        {
            var started = time.GetTimestamp();
            deleted = await calls.DeleteExpiredAsync(cleanup, batchSize, cancellationToken).ConfigureAwait(false);
            total += deleted;
            if (deleted > 0)
            {
                // Reported per batch, not per run: a run that fails half-way still reports what it deleted.
                calls.Metrics.Expired(deleted);
                await SessionEventDispatch.RaiseAsync(events.OnExpired, new SessionsExpiredEvent(deleted, time.GetUtcNow()), logger).ConfigureAwait(false);
            }
            await PauseAfterFullBatchAsync(deleted, batchSize, pause, time, started, cancellationToken).ConfigureAwait(false);
        }
        while (deleted >= batchSize);
        if (revokedBefore is { } cutoff)
        {
            do
            {
                var started = time.GetTimestamp();
                deleted = await calls.DeleteRevokedAsync(cleanup, cutoff, batchSize, cancellationToken).ConfigureAwait(false);
                total += deleted;
                await PauseAfterFullBatchAsync(deleted, batchSize, pause, time, started, cancellationToken).ConfigureAwait(false);
            }
            while (deleted >= batchSize);
        }
        return total;
    }

    // Another batch follows only after a full one: that is when requests get the store to themselves for a moment. The
    // pause is at least as long as the batch took, so cleanup never has more than half of the store's (or, for an
    // embedded store, the process's) time, however slow a batch is.
    private static Task PauseAfterFullBatchAsync(int deleted, int batchSize, TimeSpan pause, TimeProvider time, long started, CancellationToken cancellationToken)
    {
        if (deleted < batchSize || pause <= TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }
        var took = time.GetElapsedTime(started);
        return Task.Delay(took > pause ? took : pause, time, cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Value.CleanupEnabled || _store is not ISessionStoreCleanup)
        {
            return;
        }
        using var timer = new PeriodicTimer(_options.Value.CleanupInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await RunAsync(_options.Value.CleanupBatchPause, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.CleanupFailed(_logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
