namespace Tessera;

/// <summary>
/// The core's clock: the injected <see cref="TimeProvider"/>, read at the millisecond precision stores keep, so a time
/// the core compares with a stored one means the same after a round trip through any store.
/// </summary>
internal sealed class SessionClock(TimeProvider time)
{
    /// <summary>The clock underneath (<see cref="TimeProvider.System"/> in production, a fake one in tests).</summary>
    public TimeProvider Time { get; } = time;

    /// <summary>The current time, truncated to whole milliseconds.</summary>
    public DateTimeOffset Now()
    {
        var now = Time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }
}
