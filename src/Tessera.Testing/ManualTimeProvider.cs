using Microsoft.Extensions.Time.Testing;

namespace Tessera.Testing;

/// <summary>
/// Kept for one release so existing tests still compile: a <see cref="FakeTimeProvider"/> (the fake clock .NET ships in
/// Microsoft.Extensions.TimeProvider.Testing) that starts at <see cref="TestClock.Start"/> unless told otherwise.
/// Use <c>new FakeTimeProvider(TestClock.Start)</c> instead.
/// </summary>
[Obsolete("Use Microsoft.Extensions.Time.Testing.FakeTimeProvider (new FakeTimeProvider(TestClock.Start)); ManualTimeProvider will be removed in the next release.")]
public sealed class ManualTimeProvider : FakeTimeProvider
{
    /// <summary>Creates a clock.</summary>
    /// <param name="start">The start time; default <see cref="TestClock.Start"/> (2026-01-01T00:00:00Z).</param>
    public ManualTimeProvider(DateTimeOffset? start = null)
        : base(start ?? TestClock.Start)
    {
    }
}
