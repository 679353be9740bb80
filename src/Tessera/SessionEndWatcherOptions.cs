namespace Tessera;

/// <summary>The defaults of <see cref="SessionEndWatcherOptions"/>.</summary>
public static class SessionEndWatcherDefaults
{
    /// <summary>
    /// How often every watched session is read again from the store: 30 seconds. The bound on how long a connection
    /// outlives its session when the "session ended" message is lost.
    /// </summary>
    public static readonly TimeSpan RevalidationInterval = TimeSpan.FromSeconds(30);

    /// <summary>How long the host's start waits for the invalidation channel's first subscription: 10 seconds.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);
}

/// <summary>Options of <see cref="SessionEndWatcher"/>.</summary>
public sealed class SessionEndWatcherOptions
{
    /// <summary>
    /// How often every watched session is re-read from the store, so a lost invalidation message delays a connection's
    /// close by at most this long and never cancels it. Default <see cref="SessionEndWatcherDefaults.RevalidationInterval"/>
    /// (30 seconds); more than zero. Each interval costs one store read per watched session. Measured on the injected
    /// <see cref="TimeProvider"/>.
    /// </summary>
    public TimeSpan RevalidationInterval { get; set; } = SessionEndWatcherDefaults.RevalidationInterval;

    /// <summary>
    /// How long the host's start waits for the invalidation channel (Redis, PostgreSQL) to subscribe. Default
    /// <see cref="SessionEndWatcherDefaults.StartTimeout"/> (10 seconds); more than zero. If it is not up by then the host
    /// starts anyway, the channel keeps trying, and the re-validation interval bounds every close meanwhile.
    /// </summary>
    public TimeSpan StartTimeout { get; set; } = SessionEndWatcherDefaults.StartTimeout;

    /// <summary>Checks the values.</summary>
    /// <returns>The problems, empty when valid.</returns>
    internal IEnumerable<string> Problems()
    {
        if (RevalidationInterval <= TimeSpan.Zero)
        {
            yield return "SessionEndWatcher:RevalidationInterval must be more than zero.";
        }
        if (StartTimeout <= TimeSpan.Zero)
        {
            yield return "SessionEndWatcher:StartTimeout must be more than zero.";
        }
    }
}
