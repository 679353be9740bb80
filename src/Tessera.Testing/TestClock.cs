namespace Tessera.Testing;

/// <summary>Where the suites' clocks start, so that tests are repeatable.</summary>
public static class TestClock
{
    /// <summary>
    /// The instant every suite's <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider"/> starts at:
    /// 2026-01-01T00:00:00Z, a fixed instant (the fake clock's own default, 2000-01-01, is older than some of Tessera's
    /// date checks expect of a live clock).
    /// </summary>
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
}
