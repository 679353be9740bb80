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

    /// <summary>
    /// How long a re-read that finds a session revoked, with no word yet of why, waits for the instance that revoked it
    /// to say: 2 seconds.
    /// </summary>
    public static readonly TimeSpan EndedMessageWait = TimeSpan.FromSeconds(2);
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

    /// <summary>
    /// How long a store re-read (the first one of a watch, a deadline's, a re-validation's) that finds a session revoked
    /// by another instance waits for that instance's "session ended" message, which carries the reason, before it closes
    /// the connections anyway with the reason unknown (<c>revoked</c>). Another instance writes the revocation before it
    /// announces it, so a re-read can see the write first. Default <see cref="SessionEndWatcherDefaults.EndedMessageWait"/>
    /// (2 seconds); zero or more; zero closes at once. Only while the invalidation channel is subscribed (otherwise no
    /// message can come); a revocation made in this process, an expiry, and a message that arrives are never delayed.
    /// Measured on the injected <see cref="TimeProvider"/>.
    /// </summary>
    public TimeSpan EndedMessageWait { get; set; } = SessionEndWatcherDefaults.EndedMessageWait;

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
        if (EndedMessageWait < TimeSpan.Zero)
        {
            yield return "SessionEndWatcher:EndedMessageWait must be zero or more.";
        }
    }
}
