namespace Tessera;

/// <summary>
/// An approximate bound on a shared store's live anonymous sessions, for a store where counting them exactly on every
/// create would cost too much (a scan, or a hot counter row every instance writes). The count is sampled at most once
/// per <see cref="SampleInterval"/>, by one caller at a time while the others go on with the last sample; between two
/// samples the instance adds the anonymous sessions it created itself.
/// </summary>
/// <remarks>
/// One instance alone never goes past the bound by more than the creations that raced its own check. Several instances
/// together may go past it by what the others created within one sample interval: the bound is a flood guard, not a
/// quota. Until the first sample is in, every create has room (a store that cannot count yet must not refuse anybody).
/// </remarks>
public sealed class AnonymousSessionBudget
{
    private readonly Func<long, CancellationToken, ValueTask<long>> _count;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private long _sample = -1;
    private long _createdSinceSample;
    private long _sampledAt = long.MinValue;
    private bool _sampling;

    /// <summary>Creates a budget.</summary>
    /// <param name="maxSessions">The most live anonymous sessions; at least 1.</param>
    /// <param name="sampleInterval">How old a sample may grow before the next create takes a new one; positive.</param>
    /// <param name="count">
    /// Counts the store's live anonymous sessions, given the bound: it may stop counting at the bound (a count at or
    /// above it refuses alike) and should, so that a sample costs no more than the bound whatever a flood left behind.
    /// </param>
    /// <param name="timeProvider">The clock that ages samples; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxSessions"/> is below 1, or <paramref name="sampleInterval"/> is not positive.</exception>
    public AnonymousSessionBudget(long maxSessions, TimeSpan sampleInterval, Func<long, CancellationToken, ValueTask<long>> count, TimeProvider? timeProvider = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSessions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(sampleInterval, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(count);
        MaxSessions = maxSessions;
        SampleInterval = sampleInterval;
        _count = count;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The most live anonymous sessions, as given.</summary>
    public long MaxSessions { get; }

    /// <summary>How old a sample may grow before the next create takes a new one, as given.</summary>
    public TimeSpan SampleInterval { get; }

    /// <summary>
    /// The estimate a create is checked against: the last sample plus the anonymous sessions created here since, or
    /// <see langword="null"/> before the first sample.
    /// </summary>
    public long? Estimate
    {
        get
        {
            lock (_gate)
            {
                return _sample < 0 ? null : _sample + _createdSinceSample;
            }
        }
    }

    /// <summary>
    /// Whether one more anonymous session fits, taking a new sample first when the last one is older than
    /// <see cref="SampleInterval"/> and no other caller is taking one.
    /// </summary>
    /// <param name="cancellationToken">Cancels a sample.</param>
    /// <returns><see langword="true"/> when the estimate is below <see cref="MaxSessions"/> (or there is no sample yet).</returns>
    /// <exception cref="Exception">Whatever the count throws: the store failed, and the create would fail too.</exception>
    public async ValueTask<bool> HasRoomAsync(CancellationToken cancellationToken = default)
    {
        var now = _time.GetTimestamp();
        bool sample;
        long createdBefore = 0;
        lock (_gate)
        {
            sample = !_sampling && (_sample < 0 || _time.GetElapsedTime(_sampledAt, now) >= SampleInterval);
            if (sample)
            {
                _sampling = true;
                createdBefore = _createdSinceSample;
            }
        }
        if (sample)
        {
            try
            {
                var counted = await _count(MaxSessions, cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    _sample = Math.Max(0, counted);
                    _sampledAt = now;
                    // Creations made while the count ran may be in its snapshot or not; counting them again errs
                    // towards refusing, never towards the flood. A failed count keeps the old sample and its creations.
                    _createdSinceSample -= createdBefore;
                }
            }
            finally
            {
                lock (_gate)
                {
                    _sampling = false;
                }
            }
        }
        lock (_gate)
        {
            return _sample < 0 || _sample + _createdSinceSample < MaxSessions;
        }
    }

    /// <summary>Records an anonymous session this instance created, so the estimate grows before the next sample.</summary>
    public void Created()
    {
        lock (_gate)
        {
            _createdSinceSample++;
        }
    }
}
